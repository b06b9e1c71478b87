/**
 * Reads `ipvsadm -Ln` from a real node back into virtual-server specs, so IPVS mode can run
 * the node's virtual servers (their schedulers, flags, persistence and real servers with
 * their weights) instead of the compiled ones. What a listing does not say — which Service
 * a virtual server belongs to, whether it is a ClusterIP, NodePort or LoadBalancer address,
 * the real servers' pods — is looked up in the cluster's model; a virtual server no Service
 * explains still runs, under its address.
 */
import type { ProxyModel, ServicePort } from '../common/model.js';
import type { IpvsRealServerSpec, IpvsVirtualServerSpec, VirtualServerKind } from './compile.js';
import { SVC_F_ONEPACKET, SVC_F_PERSISTENT, SVC_F_SCHED1, SVC_F_SCHED2, SVC_F_SCHED3 } from './ip-vs.js';
import { isSchedulerName } from './schedulers.js';

export class IpvsadmParseError extends Error {
  override name = 'IpvsadmParseError';
}

const SCHED_FLAGS: Readonly<Record<string, number>> = {
  'flag-1': SVC_F_SCHED1,
  'flag-2': SVC_F_SCHED2,
  'flag-3': SVC_F_SCHED3,
  'sh-fallback': SVC_F_SCHED1,
  'sh-port': SVC_F_SCHED2,
  'mh-fallback': SVC_F_SCHED1,
  'mh-port': SVC_F_SCHED2,
};

interface Located {
  readonly sp: ServicePort | undefined;
  readonly kind: VirtualServerKind;
}

/** Which Service and way in an address:port is, by the model (ClusterIP, LB VIP, externalIP, NodePort). */
function locate(model: ProxyModel, protocol: string, address: string, port: number): Located {
  const sps = model.servicePorts.filter((s) => s.protocol === protocol);
  const by = (kind: VirtualServerKind, f: (s: ServicePort) => boolean): Located | null => {
    const sp = sps.find(f);
    return sp === undefined ? null : { sp, kind };
  };
  return (
    by('ClusterIP', (s) => s.clusterIP === address && s.port === port) ??
    by('LoadBalancer', (s) => s.loadBalancerIPs.includes(address) && s.port === port) ??
    by('ExternalIP', (s) => s.externalIPs.includes(address) && s.port === port) ??
    by('NodePort', (s) => s.nodePort === port && s.nodePort !== 0) ?? { sp: undefined, kind: 'ClusterIP' }
  );
}

/** Parses `ipvsadm -Ln` (not `--stats`, not `-c`): the node's virtual servers, in listing order. */
export function parseIpvsadmList(text: string, model: ProxyModel): IpvsVirtualServerSpec[] {
  const out: {
    spec: Omit<IpvsVirtualServerSpec, 'realServers'>;
    real: IpvsRealServerSpec[];
    sp?: ServicePort;
  }[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const fail = (why: string): never => {
      throw new IpvsadmParseError(`ipvsadm line ${i + 1}: ${why}`);
    };
    const line = raw.trimEnd();
    if (/^Prot LocalAddress:Port\s+Conns/.test(line) || /^Prot LocalAddress:Port\s+CPS/.test(line))
      fail('this is `ipvsadm -Ln --stats` (or --rate); give the plain `ipvsadm -Ln` listing');
    if (line === '' || line.startsWith('IP Virtual Server version') || line.startsWith('Prot LocalAddress'))
      return;
    if (/^\s+-> RemoteAddress:Port/.test(line)) return;
    const d = /^\s+-> (\d+\.\d+\.\d+\.\d+):(\d+)\s+(\S+)\s+(\d+)\s+\d+\s+\d+\s*$/.exec(line);
    if (d !== null) {
      const cur = out[out.length - 1];
      if (cur === undefined) fail('a real server before any virtual server');
      if (d[3] !== 'Masq') fail(`forwarding method ${d[3]}: kube-proxy's virtual servers masquerade (Masq)`);
      const ip = d[1];
      const port = Number(d[2]);
      const podName = cur!.sp?.endpoints.find((e) => e.ip === ip && e.port === port)?.podName ?? '';
      cur!.real.push({ ip, port, weight: Number(d[4]), podName });
      return;
    }
    const s = /^(TCP|UDP|SCTP)\s+(\d+\.\d+\.\d+\.\d+):(\d+) (\S+)(.*)$/.exec(line);
    if (s === null) {
      fail(`cannot read "${line.trim()}"`);
      return;
    }
    const [, protocol, address, portText, scheduler, rest] = s;
    if (!isSchedulerName(scheduler)) fail(`unknown scheduler "${scheduler}"`);
    let flags = 0;
    let timeoutS = 0;
    const words = rest.trim() === '' ? [] : rest.trim().split(/\s+/);
    for (let w = 0; w < words.length; w++) {
      const word = words[w];
      if (word.startsWith('(') && word.endsWith(')')) {
        for (const f of word.slice(1, -1).split(',')) {
          if (SCHED_FLAGS[f] === undefined) fail(`unknown scheduler flag "${f}"`);
          flags |= SCHED_FLAGS[f];
        }
      } else if (word === 'persistent') {
        flags |= SVC_F_PERSISTENT;
        timeoutS = Number(words[++w]);
        if (!Number.isInteger(timeoutS)) fail('persistent needs a timeout in seconds');
      } else if (word === 'ops') flags |= SVC_F_ONEPACKET;
      else fail(`cannot read "${word}" after the scheduler`);
    }
    const port = Number(portText);
    const where = locate(model, protocol, address, port);
    out.push({
      spec: {
        kind: where.kind,
        servicePortName: where.sp?.servicePortName ?? `${address}:${port}`,
        protocol: protocol as 'TCP' | 'UDP' | 'SCTP',
        address,
        port,
        scheduler: scheduler as IpvsVirtualServerSpec['scheduler'],
        flags,
        timeoutS,
        // NodePort virtual servers sit on the node's own addresses; the others on kube-ipvs0.
        bound: where.kind !== 'NodePort',
        endpointSelection: 'cluster',
      },
      real: [],
      ...(where.sp !== undefined ? { sp: where.sp } : {}),
    });
  });
  // Real servers in kube-proxy's endpoint order (the listing sorts them), so the destinations
  // are added to the kernel list as kube-proxy adds them.
  return out.map(({ spec, real, sp }) => {
    const order = new Map(sp?.endpoints.map((e, k) => [`${e.ip}:${e.port}`, k]) ?? []);
    const rank = (r: IpvsRealServerSpec) => order.get(`${r.ip}:${r.port}`) ?? Number.MAX_SAFE_INTEGER;
    return { ...spec, realServers: [...real].sort((a, b) => rank(a) - rank(b)) };
  });
}
