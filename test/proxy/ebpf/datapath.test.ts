import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TcAction } from '../../../src/proxy/common/datapath.js';
import { compileEbpf, type EbpfOptions } from '../../../src/proxy/ebpf/compile.js';
import { EbpfDatapath } from '../../../src/proxy/ebpf/datapath.js';
import { DropReason } from '../../../src/proxy/ebpf/drop.js';
import { ciliumMaglevHashV4 } from '../../../src/proxy/ebpf/hash.js';
import { SNAT_PORT_MAX, SNAT_PORT_MIN } from '../../../src/proxy/ebpf/nat.js';
import { parseIPv4 } from '../../../src/util/ipv4.js';
import { Rng } from '../../../src/util/rng.js';
import { icmpChecksum, verifyIpv4HeaderChecksum } from '../../../src/wire/index.js';
import {
  buildFrame,
  checksumsValid,
  ep,
  type FrameSpec,
  model,
  NODE_A,
  NODE_B,
  readFrame,
  replyTo,
  svcPort,
} from './fixtures.js';

const NOW = 1000;

const web = svcPort({
  name: 'web',
  clusterIP: '10.96.0.10',
  type: 'NodePort',
  nodePort: 30080,
  endpoints: [
    ep('10.244.0.5', 8080, 'node-a'),
    ep('10.244.1.6', 8080, 'node-b'),
    ep('10.244.1.9', 8080, 'node-b'),
  ],
});
const remoteOnly = svcPort({
  name: 'remote',
  clusterIP: '10.96.0.11',
  type: 'NodePort',
  nodePort: 30090,
  endpoints: [ep('10.244.1.6', 9090, 'node-b')],
});
const localPolicy = svcPort({
  name: 'local',
  clusterIP: '10.96.0.20',
  type: 'NodePort',
  nodePort: 30081,
  externalTrafficPolicy: 'Local',
  endpoints: [ep('10.244.1.7', 8080, 'node-b')],
});
const sticky = svcPort({
  name: 'sticky',
  clusterIP: '10.96.0.30',
  sessionAffinity: 'ClientIP',
  stickyMaxAgeSeconds: 100,
  endpoints: [
    ep('10.244.0.11', 80, 'node-a'),
    ep('10.244.0.12', 80, 'node-a'),
    ep('10.244.1.13', 80, 'node-b'),
  ],
});
const lbSvc = svcPort({
  name: 'lb',
  clusterIP: '10.96.0.40',
  type: 'LoadBalancer',
  port: 443,
  nodePort: 31443,
  loadBalancerIPs: ['203.0.113.10'],
  loadBalancerSourceRanges: ['198.51.100.0/24'],
  endpoints: [ep('10.244.0.21', 8443, 'node-a')],
});
const dns = svcPort({
  name: 'dns',
  clusterIP: '10.96.0.53',
  protocol: 'UDP',
  port: 53,
  endpoints: [ep('10.244.0.31', 5353, 'node-a'), ep('10.244.1.32', 5353, 'node-b')],
});
const empty = svcPort({ name: 'empty', clusterIP: '10.96.0.60', endpoints: [] });

const MODEL = model([web, remoteOnly, localPolicy, sticky, lbSvc, dns, empty]);

const SMALL_MAPS = { lbMapMax: 1024, ctTcpMax: 4096, ctAnyMax: 1024, natMax: 1024, sourceRangesMax: 16 };

function setup(
  node = 'node-a',
  options: EbpfOptions = {},
  seed = 1,
  noBackend: 'reject' | 'drop' = 'reject',
) {
  const lb = compileEbpf(MODEL, node, { mapSizes: SMALL_MAPS, ...options });
  return { lb, dp: new EbpfDatapath(lb, { rng: new Rng(seed), serviceNoBackendResponse: noBackend }) };
}

function fromPod(dp: EbpfDatapath, spec: FrameSpec, now = NOW) {
  const frame = buildFrame(spec);
  const verdict = dp.tcIngressPod(frame, 0, frame.length, now);
  return { frame, verdict };
}

function fromWire(dp: EbpfDatapath, spec: FrameSpec | Uint8Array, now = NOW) {
  const frame = spec instanceof Uint8Array ? spec : buildFrame(spec);
  const verdict = dp.tcIngressNode(frame, 0, frame.length, now);
  return { frame, verdict };
}

const WEB_BACKENDS = ['10.244.0.5', '10.244.1.6', '10.244.1.9'];

describe('pod → ClusterIP (bpf_lxc per-packet LB)', () => {
  it('DNATs to a backend of the service with valid checksums and reverse-NATs the reply to the VIP', () => {
    const { dp } = setup();
    const { frame, verdict } = fromPod(dp, { src: '10.244.0.2', dst: '10.96.0.10', sport: 40000, dport: 80 });
    expect(verdict).toBe(TcAction.PASS);
    const out = readFrame(frame);
    expect(WEB_BACKENDS).toContain(out.dst);
    expect(out.dport).toBe(8080);
    expect(out.src).toBe('10.244.0.2');
    expect(checksumsValid(frame)).toBe(true);

    // The reply leaves the backend; on node-a it comes from the local veth or over eth0.
    const reply = replyTo(frame);
    const v = out.dst.startsWith('10.244.0.')
      ? dp.tcIngressPod(reply, 0, reply.length, NOW)
      : dp.tcIngressNode(reply, 0, reply.length, NOW);
    expect(v).toBe(TcAction.PASS);
    const back = readFrame(reply);
    expect([back.src, back.sport, back.dst, back.dport]).toEqual(['10.96.0.10', 80, '10.244.0.2', 40000]);
    expect(checksumsValid(reply)).toBe(true);
  });

  it('sends every packet of a flow to the same backend, whatever other flows interleave', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1 << 30 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 7 }), fc.constantFrom(0x02, 0x10, 0x18)), {
          minLength: 1,
          maxLength: 60,
        }),
        (seed, packets) => {
          const { dp } = setup('node-a', {}, seed);
          const first = new Map<number, string>();
          for (const [flow, flags] of packets) {
            const { frame, verdict } = fromPod(dp, {
              src: `10.244.0.${2 + (flow & 3)}`,
              dst: '10.96.0.10',
              sport: 40000 + flow,
              dport: 80,
              flags,
            });
            if (verdict !== TcAction.PASS || !checksumsValid(frame)) return false;
            const dst = readFrame(frame).dst;
            if (!first.has(flow)) first.set(flow, dst);
            else if (first.get(flow) !== dst) return false;
          }
          return true;
        },
      ),
      { numRuns: 60 },
    );
  });

  it('spreads new flows over all backends with random selection', () => {
    const { dp } = setup();
    const seen = new Set<string>();
    for (let i = 0; i < 60; i++)
      seen.add(
        readFrame(fromPod(dp, { src: '10.244.0.2', dst: '10.96.0.10', sport: 20000 + i, dport: 80 }).frame)
          .dst,
      );
    expect([...seen].sort()).toEqual(WEB_BACKENDS);
  });

  it('translates UDP and keeps a zero ("none") UDP checksum zero', () => {
    const { dp } = setup();
    const { frame } = fromPod(dp, {
      src: '10.244.0.2',
      dst: '10.96.0.53',
      sport: 5000,
      dport: 53,
      proto: 'UDP',
      payload: 12,
    });
    expect(readFrame(frame).dport).toBe(5353);
    expect(checksumsValid(frame)).toBe(true);
    const none = fromPod(dp, {
      src: '10.244.0.2',
      dst: '10.96.0.53',
      sport: 5001,
      dport: 53,
      proto: 'UDP',
      noUdpChecksum: true,
    }).frame;
    expect(readFrame(none).l4Checksum).toBe(0);
    expect(checksumsValid(none)).toBe(true);
  });

  it('answers a service without backends (reject, the default) by rewriting the frame into ICMP port unreachable from the VIP, sent back out (TX), quoting min(frame length, 64) bytes with valid checksums', () => {
    const { dp } = setup();
    const spec = { src: '10.244.0.2', dst: '10.96.0.60', sport: 40000, dport: 80 };
    const original = buildFrame(spec);
    const buf = new Uint8Array(2048);
    buf.set(original);
    expect(dp.tcIngressPod(buf, 0, original.length, NOW)).toBe(TcAction.TX);
    const sample = Math.min(original.length, 64);
    expect(dp.replyLength).toBe(14 + 20 + 8 + sample);
    const reply = buf.subarray(0, dp.replyLength);
    expect([...reply.subarray(0, 6)]).toEqual([...original.subarray(6, 12)]);
    expect([reply[23], reply[34], reply[35]]).toEqual([1, 3, 3]);
    expect(readFrame(reply)).toMatchObject({ src: '10.96.0.60', dst: '10.244.0.2' });
    expect([...reply.subarray(42, 42 + original.length - 14)]).toEqual([...original.subarray(14)]);
    expect(verifyIpv4HeaderChecksum(reply, 14)).toBe(true);
    expect(icmpChecksum(reply, 34, reply.length - 34)).toBe((reply[36] << 8) | reply[37]);
    expect(dp.counters.noServiceReplies).toBe(1);
    expect(dp.counters.drops[DropReason.NO_SERVICE]).toBe(0);
  });

  it('with no room for the ICMP error in the buffer, drops as DROP_INVALID instead', () => {
    const { dp } = setup();
    expect(fromPod(dp, { src: '10.244.0.2', dst: '10.96.0.60', sport: 40000, dport: 80 }).verdict).toBe(
      TcAction.DROP,
    );
    expect(dp.dropReason).toBe(DropReason.INVALID);
  });

  it('drops a service without backends as DROP_NO_SERVICE and counts it (serviceNoBackendResponse: drop)', () => {
    const { dp } = setup('node-a', {}, 1, 'drop');
    expect(fromPod(dp, { src: '10.244.0.2', dst: '10.96.0.60', sport: 40000, dport: 80 }).verdict).toBe(
      TcAction.DROP,
    );
    expect(dp.dropReason).toBe(DropReason.NO_SERVICE);
    expect(dp.counters.drops[DropReason.NO_SERVICE]).toBe(1);
  });

  it('leaves traffic that is not for a service untouched', () => {
    const { dp } = setup();
    const spec = { src: '10.244.0.2', dst: '10.244.1.6', sport: 40000, dport: 8080 };
    const { frame, verdict } = fromPod(dp, spec);
    expect(verdict).toBe(TcAction.PASS);
    expect(frame).toEqual(buildFrame(spec));
  });
});

describe('backend changes under established flows', () => {
  it('moves a flow whose backend was removed to a surviving backend, and keeps flows on surviving backends', () => {
    const lb = compileEbpf(MODEL, 'node-a', { mapSizes: SMALL_MAPS });
    const dp = new EbpfDatapath(lb, { rng: new Rng(3) });
    const flows = Array.from({ length: 30 }, (_, i) => ({
      src: '10.244.0.2',
      dst: '10.96.0.10',
      sport: 41000 + i,
      dport: 80,
    }));
    const before = flows.map((f) => readFrame(fromPod(dp, f).frame).dst);
    const removed = '10.244.1.9';
    expect(before).toContain(removed);
    lb.sync(
      model([
        { ...web, endpoints: web.endpoints.filter((e) => e.ip !== removed) },
        remoteOnly,
        localPolicy,
        sticky,
        lbSvc,
        dns,
        empty,
      ]),
    );
    flows.forEach((f, i) => {
      const now = readFrame(fromPod(dp, { ...f, flags: 0x10 }).frame).dst;
      if (before[i] === removed) expect(now).not.toBe(removed);
      else expect(now).toBe(before[i]);
    });
  });
});

describe('session affinity', () => {
  it('keeps a client on one backend within the timeout, across client ports', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1 << 30 }),
        fc.array(fc.integer({ min: 0, max: 99 }), { minLength: 2, maxLength: 20 }),
        (seed, offsets) => {
          const { dp } = setup('node-a', {}, seed);
          const backends = new Set<string>();
          let port = 30000;
          for (const t of [0, ...offsets].sort((a, b) => a - b)) {
            backends.add(
              readFrame(
                fromPod(dp, { src: '10.244.0.2', dst: '10.96.0.30', sport: port++, dport: 80 }, NOW + t)
                  .frame,
              ).dst,
            );
          }
          return backends.size === 1;
        },
      ),
      { numRuns: 40 },
    );
  });

  it('lets the client move once the affinity entry is older than the timeout', () => {
    // With 3 backends, 40 expired re-selections all landing on the first backend would be (1/3)^40.
    const { dp } = setup();
    const first = readFrame(
      fromPod(dp, { src: '10.244.0.2', dst: '10.96.0.30', sport: 30000, dport: 80 }).frame,
    ).dst;
    const later = new Set<string>();
    let now = NOW;
    for (let i = 1; i <= 40; i++) {
      now += 101;
      later.add(
        readFrame(
          fromPod(dp, { src: '10.244.0.2', dst: '10.96.0.30', sport: 30000 + i, dport: 80 }, now).frame,
        ).dst,
      );
    }
    expect(later.size).toBeGreaterThan(1);
    expect([...later].some((b) => b !== first)).toBe(true);
  });
});

describe('NodePort / LoadBalancer from outside (bpf_host nodeport_lb4)', () => {
  it('DNATs to a remote backend, SNATs to the node IP with a port in 32768–65535, and reverse-translates the reply', () => {
    const { dp } = setup('node-a');
    const { frame, verdict } = fromWire(dp, {
      src: '198.51.100.7',
      dst: NODE_A.ip,
      sport: 5555,
      dport: 30090,
    });
    expect(verdict).toBe(TcAction.PASS);
    const out = readFrame(frame);
    expect(out.dst).toBe('10.244.1.6');
    expect(out.dport).toBe(9090);
    expect(out.src).toBe(NODE_A.ip);
    expect(out.sport).toBeGreaterThanOrEqual(SNAT_PORT_MIN);
    expect(out.sport).toBeLessThan(SNAT_PORT_MAX);
    expect(checksumsValid(frame)).toBe(true);

    const second = fromWire(dp, {
      src: '198.51.100.7',
      dst: NODE_A.ip,
      sport: 5555,
      dport: 30090,
      flags: 0x10,
    }).frame;
    expect(readFrame(second)).toMatchObject({ src: NODE_A.ip, sport: out.sport, dst: '10.244.1.6' });

    const reply = replyTo(frame);
    expect(dp.tcIngressNode(reply, 0, reply.length, NOW)).toBe(TcAction.TX);
    const back = readFrame(reply);
    expect([back.src, back.sport, back.dst, back.dport]).toEqual([NODE_A.ip, 30090, '198.51.100.7', 5555]);
    expect(checksumsValid(reply)).toBe(true);
  });

  it('keeps the client port as SNAT port when it already lies in the SNAT range', () => {
    const { dp } = setup('node-a');
    const out = readFrame(
      fromWire(dp, { src: '198.51.100.7', dst: NODE_A.ip, sport: 40001, dport: 30090 }).frame,
    );
    expect(out.sport).toBe(40001);
    // A second client with the same port collides and gets another one.
    const other = readFrame(
      fromWire(dp, { src: '198.51.100.8', dst: NODE_A.ip, sport: 40001, dport: 30090 }).frame,
    );
    expect(other.sport).not.toBe(40001);
  });

  it('does not SNAT when the backend is local, and reverse-NATs the reply from the pod', () => {
    const { dp } = setup('node-b');
    const { frame } = fromWire(dp, { src: '198.51.100.7', dst: NODE_B.ip, sport: 5555, dport: 30090 });
    expect(readFrame(frame)).toMatchObject({
      src: '198.51.100.7',
      sport: 5555,
      dst: '10.244.1.6',
      dport: 9090,
    });
    const reply = replyTo(frame);
    expect(dp.tcIngressPod(reply, 0, reply.length, NOW)).toBe(TcAction.PASS);
    expect(readFrame(reply)).toMatchObject({
      src: NODE_B.ip,
      sport: 30090,
      dst: '198.51.100.7',
      dport: 5555,
    });
    expect(checksumsValid(reply)).toBe(true);
  });

  it('with externalTrafficPolicy=Local drops (serviceNoBackendResponse: drop) on a node without local backends and preserves the client IP where there is one', () => {
    const a = setup('node-a', {}, 1, 'drop').dp;
    expect(fromWire(a, { src: '198.51.100.7', dst: NODE_A.ip, sport: 5555, dport: 30081 }).verdict).toBe(
      TcAction.DROP,
    );
    expect(a.dropReason).toBe(DropReason.NO_SERVICE);
    expect(a.counters.drops[DropReason.NO_SERVICE]).toBe(1);

    const b = setup('node-b').dp;
    const { frame, verdict } = fromWire(b, {
      src: '198.51.100.7',
      dst: NODE_B.ip,
      sport: 5555,
      dport: 30081,
    });
    expect(verdict).toBe(TcAction.PASS);
    expect(readFrame(frame)).toMatchObject({ src: '198.51.100.7', dst: '10.244.1.7', dport: 8080 });
  });

  it('lets in-cluster clients of an externalTrafficPolicy=Local NodePort use every backend (INT scope)', () => {
    const { dp } = setup('node-a');
    const { frame, verdict } = fromPod(dp, { src: '10.244.0.2', dst: NODE_A.ip, sport: 40000, dport: 30081 });
    expect(verdict).toBe(TcAction.PASS);
    expect(readFrame(frame).dst).toBe('10.244.1.7');
  });

  it('refuses a ClusterIP reached from outside as DROP_IS_CLUSTER_IP', () => {
    const { dp } = setup();
    expect(fromWire(dp, { src: '198.51.100.7', dst: '10.96.0.10', sport: 5555, dport: 80 }).verdict).toBe(
      TcAction.DROP,
    );
    expect(dp.dropReason).toBe(DropReason.IS_CLUSTER_IP);
  });

  it('admits LoadBalancer clients inside loadBalancerSourceRanges and drops the others as DROP_NOT_IN_SRC_RANGE', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (addr) => {
        const { dp } = setup('node-a');
        const src = `${addr >>> 24}.${(addr >>> 16) & 255}.${(addr >>> 8) & 255}.${addr & 255}`;
        const inside = (addr & 0xffffff00) >>> 0 === parseIPv4('198.51.100.0');
        const { verdict } = fromWire(dp, { src, dst: '203.0.113.10', sport: 5555, dport: 443 });
        return inside
          ? verdict === TcAction.PASS
          : verdict === TcAction.DROP && dp.dropReason === DropReason.NOT_IN_SRC_RANGE;
      }),
      { numRuns: 50 },
    );
    const { dp } = setup('node-a');
    expect(
      fromWire(dp, { src: '198.51.100.200', dst: '203.0.113.10', sport: 5555, dport: 443 }).verdict,
    ).toBe(TcAction.PASS);
  });
});

describe('conntrack capacity', () => {
  it('with a full non-LRU CT map refuses new flows as DROP_CT_CREATE_FAILED and counts them; existing flows go on', () => {
    const sizes = { lbMapMax: 1024, ctTcpMax: 8, ctAnyMax: 8, natMax: 64, sourceRangesMax: 16 };
    const { dp } = setup('node-a', { mapSizes: sizes, ctMapKind: 'hash' });
    // Each flow takes a CT_SERVICE entry and a regular entry: 4 flows fill 8 entries.
    for (let i = 0; i < 4; i++) {
      expect(fromPod(dp, { src: '10.244.0.2', dst: '10.96.0.10', sport: 1000 + i, dport: 80 }).verdict).toBe(
        TcAction.PASS,
      );
    }
    expect(fromPod(dp, { src: '10.244.0.2', dst: '10.96.0.10', sport: 2000, dport: 80 }).verdict).toBe(
      TcAction.DROP,
    );
    expect(dp.dropReason).toBe(DropReason.CT_CREATE_FAILED);
    expect(dp.counters.drops[DropReason.CT_CREATE_FAILED]).toBe(1);
    expect(
      fromPod(dp, { src: '10.244.0.2', dst: '10.96.0.10', sport: 1000, dport: 80, flags: 0x10 }).verdict,
    ).toBe(TcAction.PASS);
  });

  it('with an LRU CT map evicts the oldest flows instead of dropping', () => {
    const sizes = { lbMapMax: 1024, ctTcpMax: 8, ctAnyMax: 8, natMax: 64, sourceRangesMax: 16 };
    const { lb, dp } = setup('node-a', { mapSizes: sizes });
    for (let i = 0; i < 10; i++)
      fromPod(dp, { src: '10.244.0.2', dst: '10.96.0.10', sport: 1000 + i, dport: 80 });
    expect(dp.counters.drops[DropReason.CT_CREATE_FAILED]).toBe(0);
    expect(lb.maps.ctTcp.evictions).toBeGreaterThan(0);
  });
});

describe('Maglev selection', () => {
  it('picks lut[jhash(client, ports, proto) % M] and the same backend on every node', () => {
    const a = setup('node-a', { algorithm: 'maglev', maglevTableSize: 251 });
    const b = setup('node-b', { algorithm: 'maglev', maglevTableSize: 251 }, 99);
    for (let i = 0; i < 30; i++) {
      const spec = { src: `198.51.100.${i}`, sport: 10000 + i * 7, dport: 30080 };
      const ta = fromWire(a.dp, { ...spec, dst: NODE_A.ip }).frame;
      const tb = fromWire(b.dp, { ...spec, dst: NODE_B.ip }).frame;
      expect(readFrame(ta).dst).toBe(readFrame(tb).dst);
      const fe = [...a.lb.frontends.values()].find((f) => f.plan.key === `${NODE_A.ip}:30080/TCP`)!;
      const h = ciliumMaglevHashV4(parseIPv4(spec.src), spec.sport, 30080, 6, a.lb.maglevSeeds.jhash0);
      expect(a.dp.backendId).toBe(a.lb.maps.maglevInner[fe.maglevInner]!.values[h % 251]);
    }
  });
});

describe('hotpath', () => {
  it('translates a batch like the full path: same backends for the same flows, valid checksums, replayable', () => {
    const { dp } = setup('node-a', { algorithm: 'maglev', maglevTableSize: 251 });
    const n = 200;
    const input = new Uint8Array(54 * n);
    for (let i = 0; i < n; i++) {
      input.set(
        buildFrame({
          src: `10.244.0.${2 + (i % 50)}`,
          dst: '10.96.0.10',
          sport: 1024 + i,
          dport: 80,
          flags: 0x10,
        }),
        i * 54,
      );
    }
    const output = input.slice();
    expect(dp.hotpath(input, output, 54, n, NOW)).toBe(n);
    const again = input.slice();
    expect(dp.hotpath(input, again, 54, n, NOW)).toBe(n);
    expect(again).toEqual(output);
    for (let i = 0; i < n; i++) {
      const f = output.subarray(i * 54, i * 54 + 54);
      expect(checksumsValid(f)).toBe(true);
      expect(WEB_BACKENDS).toContain(readFrame(f).dst);
    }
    // The full path finds the CT_SERVICE entries the hot path created.
    const fresh = input.slice(0, 54);
    dp.tcIngressPod(fresh, 0, 54, NOW);
    expect(readFrame(fresh).dst).toBe(readFrame(output.subarray(0, 54)).dst);
  });

  /** 54-byte frames: TCP to web, UDP (12-byte payload) to dns, and every 17th an ARP frame. */
  function mixedFrames(n: number, flows: number): Uint8Array {
    const input = new Uint8Array(54 * n);
    for (let i = 0; i < n; i++) {
      const flow = (i * 7) % flows;
      const udp = flow % 3 === 0;
      const frame = buildFrame({
        src: `10.244.0.${2 + (flow % 40)}`,
        dst: udp ? '10.96.0.53' : '10.96.0.10',
        sport: 2000 + flow,
        dport: udp ? 53 : 80,
        proto: udp ? 'UDP' : 'TCP',
        payload: udp ? 12 : 0,
        flags: 0x10,
      });
      if (i % 17 === 16) frame[13] = 0x06; // EtherType 0x0806: not IPv4, not for the LB
      input.set(frame, i * 54);
    }
    return input;
  }

  it('handles batches of mixed TCP, UDP and non-IP frames, and a flow repeated within a batch, like the full path', () => {
    const n = 700;
    const input = mixedFrames(n, 90);
    const { dp } = setup('node-a');
    const output = input.slice();
    const lbFrames = [...Array(n).keys()].filter((i) => i % 17 !== 16).length;
    expect(dp.hotpath(input, output, 54, n, NOW)).toBe(lbFrames);
    const { dp: full } = setup('node-a');
    const backendOf = new Map<string, string>();
    for (let i = 0; i < n; i++) {
      const out = output.subarray(i * 54, i * 54 + 54);
      if (i % 17 === 16) {
        expect(out).toEqual(input.subarray(i * 54, i * 54 + 54));
        continue;
      }
      expect(checksumsValid(out)).toBe(true);
      const f = readFrame(out);
      const key = `${f.src}:${f.sport}/${f.proto}`;
      if (f.proto === 6) expect(WEB_BACKENDS).toContain(f.dst);
      else expect(['10.244.0.31', '10.244.1.32']).toContain(f.dst);
      expect(backendOf.get(key) ?? f.dst).toBe(f.dst);
      backendOf.set(key, f.dst);
      // The full path with the same seed, packet by packet, picks the same backend.
      const alone = input.slice(i * 54, i * 54 + 54);
      full.tcIngressPod(alone, 0, 54, NOW);
      expect(readFrame(alone).dst).toBe(f.dst);
    }
  });

  it('takes the same decisions when the CT table is large enough for the prefetch walk as packet by packet', () => {
    // More than 8192 live TCP CT entries (HOT_PREFETCH_ENTRIES): later batches hash and touch
    // every frame's CT slot before handling the frames in order.
    const n = 9_200;
    const input = new Uint8Array(54 * n);
    for (let i = 0; i < n; i++) {
      const udp = i % 20 === 0;
      const frame = buildFrame({
        src: `10.244.${2 + (i >> 8)}.${i & 0xff}`,
        dst: udp ? '10.96.0.53' : '10.96.0.10',
        sport: 3000 + (i % 1000),
        dport: udp ? 53 : 80,
        proto: udp ? 'UDP' : 'TCP',
        payload: udp ? 12 : 0,
        flags: 0x10,
      });
      if (i % 31 === 30) frame[13] = 0x06; // ARP: not for the LB
      input.set(frame, i * 54);
    }
    const lbFrames = [...Array(n).keys()].filter((i) => i % 31 !== 30).length;
    const mapSizes = { ...SMALL_MAPS, ctTcpMax: 16_384, ctAnyMax: 2048 };
    const { lb, dp } = setup('node-a', { mapSizes });
    const first = input.slice();
    expect(dp.hotpath(input, first, 54, n, NOW)).toBe(lbFrames);
    expect(lb.maps.ctTcp.count).toBeGreaterThan(8192);
    // Every flow is established now: the whole pass runs with the prefetch walk.
    const second = input.slice();
    expect(dp.hotpath(input, second, 54, n, NOW)).toBe(lbFrames);
    // (Buffer.compare: a deep toEqual over half a megabyte of bytes takes seconds.)
    expect(Buffer.compare(second, first)).toBe(0);
    // Packet by packet through the full path (same seed: same random choices), every frame in
    // order so the random draws line up; the outputs of every third frame are compared.
    const { dp: full } = setup('node-a', { mapSizes });
    const one = new Uint8Array(54);
    for (let i = 0; i < n; i++) {
      if (i % 31 === 30) continue;
      one.set(input.subarray(i * 54, i * 54 + 54));
      full.tcIngressPod(one, 0, 54, NOW);
      if (i % 3 !== 0) continue;
      const out = first.subarray(i * 54, i * 54 + 54);
      expect(checksumsValid(out)).toBe(true);
      expect(readFrame(one).dst).toBe(readFrame(out).dst);
    }
    for (let i = 0; i < n; i++) {
      const out = first.subarray(i * 54, i * 54 + 54);
      if (i % 31 === 30) expect(Buffer.compare(out, input.subarray(i * 54, i * 54 + 54))).toBe(0);
    }
  });

  it('keeps translating correctly when CT evictions move entries in the middle of a batch', () => {
    const sizes = { lbMapMax: 1024, ctTcpMax: 8, ctAnyMax: 8, natMax: 64, sourceRangesMax: 16 };
    const { lb, dp } = setup('node-a', { mapSizes: sizes });
    const n = 400;
    const input = mixedFrames(n, 90);
    const output = input.slice();
    expect(dp.hotpath(input, output, 54, n, NOW)).toBe(
      [...Array(n).keys()].filter((i) => i % 17 !== 16).length,
    );
    expect(lb.maps.ctTcp.evictions).toBeGreaterThan(0);
    for (let i = 0; i < n; i++) {
      if (i % 17 === 16) continue;
      const out = output.subarray(i * 54, i * 54 + 54);
      expect(checksumsValid(out)).toBe(true);
      expect([...WEB_BACKENDS, '10.244.0.31', '10.244.1.32']).toContain(readFrame(out).dst);
    }
    expect(() => dp.hotpath(input, output.subarray(0, 54), 54, 2, NOW)).toThrow(RangeError);
  });
});
