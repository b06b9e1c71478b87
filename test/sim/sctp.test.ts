/**
 * SCTP end to end: an association through each kube-proxy mode's SCTP rules (kube-proxy's
 * `-p sctp -m sctp` chains, nft `meta l4proto sctp`, IPVS SCTP virtual services), the pod
 * answering on the Service's targetPort, conntrack's SCTP entries, and the capture judged by
 * tshark (SCTP dissected, CRC32c verified).
 */
import { describe, expect, it } from 'vitest';
import { readCapture } from '../../src/capture/index.js';
import { sctpStackOf } from '../../src/sim/sctp-servers.js';
import type { Simulation } from '../../src/sim/simulation.js';
import { parseIPv4 } from '../../src/util/ipv4.js';
import { buildSctpFrame } from '../../src/wire/build.js';
import { decodeSctpPacket, fillSctpChecksum } from '../../src/wire/sctp.js';
import { buildSmall, NETFILTER_MODES, NODE_IPS } from './harness.js';
import { SCTP_YAML } from './scenarios.js';

const MESSAGE = new TextEncoder().encode('CER');

function podNameIn(reply: Uint8Array): string {
  const text = new TextDecoder().decode(reply);
  expect(text.startsWith('Hello World!\n')).toBe(true);
  return text.split('\n')[1];
}

describe('SCTP associations through the Service dataplane', () => {
  for (const mode of NETFILTER_MODES) {
    it(`${mode}: a client association to the NodePort is answered by a Service pod, and conntrack tracks it to CLOSED`, () => {
      const sim = buildSmall({ manifests: SCTP_YAML, mode, seed: 3 });
      const pods = sim.model.servicePorts
        .find((sp) => sp.name === 'diameter')!
        .endpoints.map((e) => e.podName);
      expect(pods).toHaveLength(3);
      const seen = new Set<string>();
      for (let i = 0; i < 12; i++) {
        const r = sim.sctpRequest('client', parseIPv4(NODE_IPS[i % 3]), 30868, MESSAGE);
        expect(r.status).toBe('ok');
        seen.add(podNameIn(r.reply));
      }
      for (const p of seen) expect(pods).toContain(p);
      expect(seen.size).toBeGreaterThan(1);
      const lines = [0, 1, 2].map((n) => sim.conntrackList(`node${n + 1}`)).join('');
      const sctpLines = lines.split('\n').filter((l) => l.startsWith('sctp     132 '));
      expect(sctpLines.length).toBeGreaterThan(0);
      // Every association was shut down: conntrack saw SHUTDOWN COMPLETE (CLOSED, 10 s), and it
      // had been ESTABLISHED (ASSURED).
      for (const l of sctpLines)
        expect(l).toMatch(/^sctp {5}132 \d+ CLOSED src=.* \[ASSURED\] mark=0 use=1$/);
      expect(sim.network.drops.toRecord()).toEqual({});
    });

    it(`${mode}: a pod reaches the ClusterIP over SCTP`, () => {
      const sim = buildSmall({ manifests: SCTP_YAML, mode, seed: 5 });
      const sp = sim.model.servicePorts.find((s) => s.name === 'diameter')!;
      const from = `pod/${sp.endpoints[0].podName}`;
      const r = sim.sctpRequest(from, parseIPv4(sp.clusterIP), 3868, MESSAGE);
      expect(r.status).toBe('ok');
      expect(sp.endpoints.map((e) => e.podName)).toContain(podNameIn(r.reply));
    });
  }

  it('every SCTP frame of the capture carries a valid CRC32c after NAT (ports rewritten, CRC recomputed)', () => {
    const sim = buildSmall({ manifests: SCTP_YAML, mode: 'iptables', seed: 3 });
    sim.sctpRequest('client', parseIPv4(NODE_IPS[0]), 30868, MESSAGE);
    const frames = readCapture(sim.capture!.toBuffer()).packets.map((p) => p.data);
    let sctp = 0;
    for (const f of frames) {
      if (f[23] !== 132) continue;
      sctp++;
      const ihl = (f[14] & 0x0f) * 4;
      const total = (f[16] << 8) | f[17];
      const d = decodeSctpPacket(f, 14 + ihl, total - ihl);
      expect(d.ok).toBe(true);
    }
    expect(sctp).toBeGreaterThanOrEqual(7 * 3);
  });

  it('a port with no SCTP listener answers an INIT with an ABORT; the association fails at once', () => {
    const sim = buildSmall({ manifests: SCTP_YAML, mode: 'iptables', seed: 3 });
    const sp = sim.model.servicePorts.find((s) => s.name === 'diameter')!;
    const r = sim.sctpRequest('client', parseIPv4(sp.endpoints[0].ip), 9999, MESSAGE);
    expect(r.status).toBe('aborted');
  });

  for (const mode of ['iptables', 'nftables'] as const) {
    it(`${mode}: an SCTP Service without endpoints is REJECTed with ICMP port unreachable; the INIT never reaches a pod`, () => {
      const yaml = `${SCTP_YAML}
---
apiVersion: v1
kind: Service
metadata: { name: nobody }
spec:
  type: NodePort
  selector: { app: nothing-runs-this }
  ports: [{ protocol: SCTP, port: 3869, targetPort: 3869, nodePort: 30869 }]
`;
      const sim = buildSmall({ manifests: yaml, mode, seed: 3 });
      const r = sim.sctpRequest('client', parseIPv4(NODE_IPS[0]), 30869, MESSAGE, 2e9);
      // Linux SCTP does not abort on a port unreachable (no IP_RECVERR): the INIT times out.
      expect(r.status).toBe('timeout');
      const drops = sim.network.drops.toRecord();
      expect(drops.NETFILTER_REJECT).toBe(1);
      const frames = readCapture(sim.capture!.toBuffer());
      const icmp = frames.packets.filter(
        (p) => frames.interfaces[p.interfaceId].name === 'client/eth0' && p.data[23] === 1,
      );
      expect(icmp).toHaveLength(1);
      // Type 3 code 3, quoting the SCTP INIT.
      expect([icmp[0].data[34], icmp[0].data[35], icmp[0].data[34 + 8 + 9]]).toEqual([3, 3, 132]);
    });
  }

  describe('malformed SCTP reaching a host is a counted drop with its reason', () => {
    /** Sends `frame` from the client to its own address (loopback: straight to its SCTP endpoint). */
    function sendToSelf(sim: Simulation, mutate: (f: Uint8Array) => void): Record<string, number> {
      const client = sim.host('client');
      sctpStackOf(client);
      const self = client.interfaces[0].addr;
      const frame = buildSctpFrame({
        srcMac: new Uint8Array(6),
        dstMac: new Uint8Array(6),
        src: self,
        dst: self,
        sctp: { sport: 5000, dport: 5001, verificationTag: 0, chunks: [{ kind: 'cookie-ack', flags: 0 }] },
      });
      mutate(frame);
      const pool = sim.network.pool;
      const slot = pool.acquire();
      pool.view(slot).set(frame);
      pool.lengths[slot] = frame.length;
      client.output(slot);
      sim.settle();
      return sim.network.drops.toRecord();
    }

    it('a bad CRC32c: SCTP_CSUM', () => {
      const sim = buildSmall({ manifests: SCTP_YAML, mode: 'iptables', seed: 3 });
      expect(sendToSelf(sim, (f) => (f[f.length - 1] ^= 0x10))).toEqual({ SCTP_CSUM: 1 });
    });

    it('a zero chunk length under a valid CRC32c: SCTP_MALFORMED', () => {
      const sim = buildSmall({ manifests: SCTP_YAML, mode: 'iptables', seed: 3 });
      const drops = sendToSelf(sim, (f) => {
        f[14 + 20 + 12 + 3] = 0;
        fillSctpChecksum(f, 14 + 20, f.length - 14 - 20);
      });
      expect(drops).toEqual({ SCTP_MALFORMED: 1 });
    });
  });

  it('a host without an SCTP endpoint answers ICMP protocol unreachable (code 2) and counts NO_SOCKET', () => {
    const sim = buildSmall({ manifests: SCTP_YAML, mode: 'iptables', seed: 3 });
    // Node1's own address on a port no Service uses: the INIT is for the node itself.
    const r = sim.sctpRequest('client', parseIPv4(NODE_IPS[0]), 4000, MESSAGE, 1e9);
    expect(r.status).toBe('timeout');
    expect(sim.network.drops.toRecord()).toEqual({ NO_SOCKET: 1, ICMP_NO_SOCKET: 1 });
    const frames = readCapture(sim.capture!.toBuffer());
    const icmp = frames.packets.filter(
      (p) => frames.interfaces[p.interfaceId].name === 'client/eth0' && p.data[23] === 1,
    );
    expect([icmp[0].data[34], icmp[0].data[35]]).toEqual([3, 2]);
  });
});
