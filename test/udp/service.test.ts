/**
 * UDP end to end through each proxy mode: datagrams as real bytes from a pod's socket to a
 * UDP Service, DNATed to a pod whose UDP echo answers with its name, the reply un-NATed so
 * the socket sees the Service address; the ICMP port unreachable of a Service without
 * endpoints (kube-proxy's REJECT) and of a pod port nobody bound, as ECONNREFUSED on a
 * connected socket; the checksum rules (0 = none, a bad one dropped).
 */
import { describe, expect, it } from 'vitest';
import { formatConntrackList } from '../../src/conntrack/index.js';
import { parseIPv4 } from '../../src/util/ipv4.js';
import { icmpChecksum, verifyIpv4HeaderChecksum, writeUdpFrame } from '../../src/wire/index.js';
import { buildSmall, capturedFrames, MODES, podIP } from '../sim/harness.js';
import { clusterIPOf, RecordingSocket } from './helpers.js';
import { UDP_YAML } from './scenarios.js';

const DNSECHO = /^dnsecho-[a-z0-9]+-[a-z0-9]{5}\n$/;

describe('UDP through a Service', () => {
  for (const mode of MODES) {
    it(`${mode}: a pod's datagrams to the ClusterIP are answered by a dnsecho pod, seen from the Service address; one source port sticks to one backend, many ports reach all three`, () => {
      const sim = buildSmall({ manifests: UDP_YAML, mode, seed: 1 });
      const vip = clusterIPOf(sim, 'udp-echo');
      const fixed = new RecordingSocket(sim, 'pod/udp-client');
      for (let i = 0; i < 5; i++) {
        fixed.sendTo(vip, 53);
        sim.advance(5);
      }
      expect(fixed.replies).toHaveLength(5);
      for (const r of fixed.replies) {
        expect(r.from).toBe(`${vip}:53`);
        expect(r.text).toMatch(DNSECHO);
      }
      expect(new Set(fixed.replies.map((r) => r.text)).size).toBe(1);
      const seen = new Set<string>();
      for (let i = 0; i < 40; i++) {
        const s = new RecordingSocket(sim, 'pod/udp-client');
        s.sendTo(vip, 53);
        sim.advance(5);
        expect(s.replies).toHaveLength(1);
        seen.add(s.replies[0].text);
      }
      expect(seen.size).toBe(3);
      expect(sim.network.drops.totalDropped).toBe(0);
    });

    it(`${mode}: the external client reaches the UDP NodePort on every node and is answered from the node's address`, () => {
      const sim = buildSmall({ manifests: UDP_YAML, mode, seed: 2 });
      for (const node of ['192.168.100.100', '192.168.100.101', '192.168.100.102']) {
        const s = new RecordingSocket(sim, 'client');
        s.sendTo(node, 30053);
        sim.advance(5);
        expect(s.replies.map((r) => r.from)).toEqual([`${node}:30053`]);
        expect(s.replies[0].text).toMatch(DNSECHO);
      }
    });
  }

  for (const mode of ['iptables', 'nftables', 'ipvs'] as const) {
    it(`${mode}: a UDP Service without endpoints is REJECTed with ICMP port unreachable (type 3 code 3) quoting the datagram; a connected socket gets ECONNREFUSED, an unconnected one nothing`, () => {
      const sim = buildSmall({ manifests: UDP_YAML, mode, seed: 1 });
      const vip = clusterIPOf(sim, 'udp-empty');
      const connected = new RecordingSocket(sim, 'pod/udp-client');
      connected.socket.connect(parseIPv4(vip), 53);
      const before = capturedFrames(sim).length;
      connected.socket.send(new TextEncoder().encode('q'));
      sim.advance(5);
      expect(connected.errors).toEqual(['ECONNREFUSED']);
      expect(connected.replies).toEqual([]);
      const icmp = capturedFrames(sim)
        .slice(before)
        .filter((f) => f.proto === 1 && f.iface === 'udp-client/eth0');
      expect(icmp).toHaveLength(1);
      expect(icmp[0].icmpType).toBe(3);
      expect(icmp[0].icmpCode).toBe(3);
      expect(icmp[0].dst).toBe(podIP(sim, 'udp-client'));
      expect(icmp[0].quoted).toEqual({
        src: podIP(sim, 'udp-client'),
        dst: vip,
        sport: connected.socket.localPort,
        dport: 53,
      });
      // The kernel quotes the whole offending datagram up to 576 bytes: IP header + 8 + 1 payload byte.
      expect(icmp[0].data.length).toBe(14 + 20 + 8 + 20 + 8 + 1);
      expect(sim.network.drops.toRecord()).toEqual({ NETFILTER_REJECT: 1 });

      const unconnected = new RecordingSocket(sim, 'pod/udp-client');
      unconnected.sendTo(vip, 53);
      sim.advance(5);
      expect(unconnected.errors).toEqual([]);
      expect(sim.network.drops.toRecord()).toEqual({ NETFILTER_REJECT: 2, ICMP_NO_SOCKET: 1 });
    });
  }

  it('a datagram to a pod port nobody bound gets ICMP port unreachable from the pod: ECONNREFUSED on the connected sender', () => {
    const sim = buildSmall({ manifests: UDP_YAML, mode: 'iptables', seed: 1 });
    const target = sim.cluster.pods().find((p) => p.metadata?.name?.startsWith('dnsecho'))!;
    const s = new RecordingSocket(sim, 'pod/udp-client');
    s.socket.connect(parseIPv4(target.status!.podIP!), 9999);
    s.socket.send(new Uint8Array([1]));
    sim.advance(5);
    expect(s.errors).toEqual(['ECONNREFUSED']);
    expect(sim.network.drops.toRecord()).toEqual({ NO_SOCKET: 1 });
  });

  for (const mode of ['iptables', 'nftables'] as const) {
    it(`${mode}: a backend's ICMP port unreachable is RELATED to the DNATed flow: the node translates outer source and quote back to the Service, so the connected sender gets ECONNREFUSED (and tshark-valid checksums stay valid)`, () => {
      const sim = buildSmall({ manifests: UDP_YAML, mode, seed: 1 });
      const vip = clusterIPOf(sim, 'udp-closed');
      const s = new RecordingSocket(sim, 'pod/udp-client');
      s.socket.connect(parseIPv4(vip), 53);
      const before = capturedFrames(sim).length;
      s.socket.send(new Uint8Array([1]));
      sim.advance(5);
      expect(s.errors).toEqual(['ECONNREFUSED']);
      const frames = capturedFrames(sim).slice(before);
      const atClient = frames.filter((f) => f.proto === 1 && f.iface === 'udp-client/eth0');
      expect(atClient).toHaveLength(1);
      expect(atClient[0].src).toBe(vip);
      expect(atClient[0].quoted).toEqual({
        src: podIP(sim, 'udp-client'),
        dst: vip,
        sport: s.socket.localPort,
        dport: 53,
      });
      const d = atClient[0].data;
      expect(icmpChecksum(d, 34, d.length - 34)).toBe((d[36] << 8) | d[37]);
      expect(verifyIpv4HeaderChecksum(d, 14)).toBe(true);
      expect(verifyIpv4HeaderChecksum(d, 42)).toBe(true);
      // At the backend the error still quotes the DNATed datagram.
      const atBackend = frames.filter((f) => f.proto === 1 && f.iface.startsWith('dnsecho'));
      expect(atBackend).toHaveLength(1);
      expect(atBackend[0].quoted?.dport).toBe(5999);
      expect(sim.network.drops.toRecord()).toEqual({ NO_SOCKET: 1 });
    });
  }

  it('iptables: conntrack -L lists the flow as conntrack-tools 1.4.7 prints UDP (udp 17, seconds left, DNATed reply tuple)', () => {
    const sim = buildSmall({ manifests: UDP_YAML, mode: 'iptables', seed: 1 });
    const vip = clusterIPOf(sim, 'udp-echo');
    const s = new RecordingSocket(sim, 'pod/udp-client', 40000);
    s.sendTo(vip, 53);
    sim.advance(5);
    const backend = sim.cluster.pods().find((p) => s.replies[0].text.startsWith(p.metadata!.name!))!
      .status!.podIP;
    const node1 = sim.proxies.get('node1')!.conntrack!;
    const { stdout } = formatConntrackList(node1, sim.network.nowNs);
    expect(stdout).toBe(
      `udp      17 29 src=${podIP(sim, 'udp-client')} dst=${vip} sport=40000 dport=53 src=${backend} dst=${podIP(sim, 'udp-client')} sport=5353 dport=40000 mark=0 use=1\n`,
    );
  });

  it('checksum 0 means "none": such a datagram crosses NAT with 0 kept on every interface and is delivered; a wrong non-zero checksum is dropped as UDP_CSUM', () => {
    const sim = buildSmall({ manifests: UDP_YAML, mode: 'iptables', seed: 1 });
    const vip = clusterIPOf(sim, 'udp-echo');
    const s = new RecordingSocket(sim, 'pod/udp-client');
    const before = capturedFrames(sim).length;
    s.socket.sendTo(parseIPv4(vip), 53, new TextEncoder().encode('q'), { noChecksum: true });
    sim.advance(5);
    expect(s.replies).toHaveLength(1);
    const requests = capturedFrames(sim)
      .slice(before)
      .filter((f) => f.proto === 17 && f.dport !== s.socket.localPort);
    expect(requests.length).toBeGreaterThanOrEqual(3);
    for (const f of requests) expect((f.data[14 + 20 + 6] << 8) | f.data[14 + 20 + 7]).toBe(0);

    // A datagram with a corrupted checksum, sent by the client pod straight to a dnsecho pod.
    const pod = sim.host('pod/udp-client');
    const target = sim.cluster.pods().find((p) => p.metadata?.name?.startsWith('dnsecho'))!.status!.podIP!;
    const pool = sim.network.pool;
    const slot = pool.acquire();
    const zero = new Uint8Array(6);
    const len = writeUdpFrame(pool.view(slot), 0, {
      srcMac: zero,
      dstMac: zero,
      src: parseIPv4(podIP(sim, 'udp-client')),
      dst: parseIPv4(target),
      sport: 40001,
      dport: 5353,
      payload: new Uint8Array([1, 2, 3]),
    });
    pool.lengths[slot] = len;
    pool.view(slot)[14 + 20 + 6] ^= 0x55;
    pod.output(slot);
    sim.advance(5);
    expect(sim.network.drops.toRecord()).toEqual({ UDP_CSUM: 1 });
  });
});
