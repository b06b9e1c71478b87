/**
 * A real node's `conntrack -L` as input (issue 12 item 6): entries pre-loaded into a node's
 * table list back the same and keep their NAT bindings; over generated scenarios, dpsim's own
 * listing fed back gives the same conntrack view and sends each tracked flow to the same backend.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConntrackRestoreError, parseConntrackList } from '../../src/conntrack/restore.js';
import { buildSimulation } from '../../src/sim/simulation.js';
import { dpsim } from '../cli/harness.js';
import { genService, scenario } from '../helpers/generated-scenarios.js';

const listing = (text: string) => text.split('\n').filter((l) => !l.startsWith('conntrack v'));

describe('conntrack -L as input', () => {
  it('round trip over generated scenarios: node1’s listing fed back lists the same and every tracked flow keeps its backend and SNAT port', () => {
    fc.assert(
      fc.property(
        fc.array(genService, { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.constantFrom('iptables' as const, 'nftables' as const, 'ipvs' as const),
        (svcs, seed, mode) => {
          const manifests = scenario(svcs);
          const a = buildSimulation({ manifests, mode, seed });
          for (const sp of a.model.servicePorts.filter((s) => s.name.startsWith('svc')))
            for (const url of [
              `http://${sp.clusterIP}:${sp.port}/`,
              ...(sp.nodePort ? [`http://192.168.100.100:${sp.nodePort}/`] : []),
            ])
              for (let k = 0; k < 2; k++) a.curl({ from: 'client', url, connectTimeoutMs: 300 });
          const text = a.conntrackList('node1');
          const b = buildSimulation({ manifests, mode, seed, conntrackDumps: new Map([['node1', text]]) });
          expect(listing(b.conntrackList('node1'))).toEqual(listing(text));
          const cta = a.proxies.get('node1')!.conntrack!;
          const ctb = b.proxies.get('node1')!.conntrack!;
          for (const e of parseConntrackList(text)) {
            const { saddr, daddr, sport, dport } = e.orig;
            const ra = cta.find(saddr, daddr, sport, dport, e.proto, a.network.nowNs);
            const rb = ctb.find(saddr, daddr, sport, dport, e.proto, b.network.nowNs);
            expect(rb).toBeGreaterThanOrEqual(0);
            expect([ctb.natDaddr(rb), ctb.natDport(rb), ctb.needsSrcRewrite(rb)]).toEqual([
              cta.natDaddr(ra),
              cta.natDport(ra),
              cta.needsSrcRewrite(ra),
            ]);
          }
        },
      ),
      { numRuns: 8 },
    );
  });

  it('reads DNAT and SNAT from the tuples, [UNREPLIED] and [ASSURED], and names what it cannot read', () => {
    const [e] = parseConntrackList(
      'tcp      6 86399 ESTABLISHED src=192.168.100.1 dst=192.168.100.100 sport=40000 dport=31244 src=10.233.65.2 dst=192.168.100.100 sport=8080 dport=40000 [ASSURED] mark=0 use=1\n',
    );
    expect(e).toMatchObject({ proto: 6, tcpState: 3, secondsLeft: 86399 });
    expect(e.status & 0x30).toBe(0x30); // DST_NAT and SRC_NAT
    const [u] = parseConntrackList(
      'tcp      6 118 SYN_SENT src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 [UNREPLIED] src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1 mark=0 use=1',
    );
    expect(u.status & 0x36).toBe(0); // no SEEN_REPLY, ASSURED or NAT
    expect(() => parseConntrackList('sctp     132 10 ESTABLISHED src=1.1.1.1')).toThrow(
      'conntrack line 1: protocol "sctp" is not read (tcp, udp, icmp)',
    );
    expect(() => parseConntrackList('tcp      6 10 BOGUS src=1.1.1.1 dst=1.1.1.2 sport=1 dport=2')).toThrow(
      ConntrackRestoreError,
    );
  });

  it('dpsim --conntrack node1=FILE pre-loads the table; a bad spec or eBPF mode is one error line', async () => {
    const fs = await import('node:fs');
    const dir = fs.mkdtempSync('/tmp/dpsim-ct-');
    const line =
      'tcp      6 86399 ESTABLISHED src=192.168.100.1 dst=192.168.100.100 sport=40000 dport=31244 src=10.233.65.2 dst=192.168.100.100 sport=8080 dport=40000 [ASSURED] mark=0 use=1\n';
    fs.writeFileSync(`${dir}/ct.txt`, line);
    const ok = await dpsim(['conntrack', '-L', '--node', 'node1', '--conntrack', `node1=${dir}/ct.txt`]);
    expect(ok.exitCode).toBe(0);
    expect(ok.stdout).toContain(
      'ESTABLISHED src=192.168.100.1 dst=192.168.100.100 sport=40000 dport=31244 src=10.233.65.2',
    );
    const bad = await dpsim(['rules', '--conntrack', `${dir}/ct.txt`]);
    expect([bad.exitCode, bad.stderr]).toEqual([
      1,
      `error: --conntrack takes NODE=FILE (e.g. node1=ct.txt), got "${dir}/ct.txt"\n`,
    ]);
    const ebpf = await dpsim(['rules', '--mode', 'ebpf', '--conntrack', `node1=${dir}/ct.txt`]);
    expect(ebpf.exitCode).not.toBe(0);
    expect(ebpf.stderr).toMatch(/ebpf mode keeps its connections in BPF maps, not nf_conntrack/);
  });
});
