/**
 * eBPF mode, a Service without backends: Cilium's `serviceNoBackendResponse: reject` (its
 * default) answers from the tc program (`tail_no_service_ipv4`) with an ICMP port unreachable
 * built in place — Service address as source, a 64-byte-capped sample of the datagram quoted
 * from the frame length, TOS copied, id 0, TTL 64 — sent back out of the interface the datagram
 * came in on, so a connected UDP socket gets ECONNREFUSED as in the kube-proxy modes;
 * `serviceNoBackendResponse: drop` drops it as DROP_NO_SERVICE.
 */
import { describe, expect, it } from 'vitest';
import { parseIPv4 } from '../../src/util/ipv4.js';
import { icmpChecksum, verifyIpv4HeaderChecksum } from '../../src/wire/index.js';
import { checkCaptureWithTshark, describeWithTshark } from '../helpers/tshark.js';
import { buildSmall, capturedFrames, podIP } from '../sim/harness.js';
import { clusterIPOf, RecordingSocket } from './helpers.js';
import { UDP_YAML } from './scenarios.js';

const VALUES_DOC = (response: string) =>
  `${UDP_YAML}---\napiVersion: dpsim/v1alpha1\nkind: CiliumValues\nserviceNoBackendResponse: ${response}\n`;

function sendConnected(manifests: string, payload: Uint8Array, seed = 1) {
  const sim = buildSmall({ manifests, mode: 'ebpf', seed });
  const vip = clusterIPOf(sim, 'udp-empty');
  const s = new RecordingSocket(sim, 'pod/udp-client');
  s.socket.connect(parseIPv4(vip), 53);
  const before = capturedFrames(sim).length;
  s.socket.send(payload);
  sim.advance(5);
  const icmp = capturedFrames(sim)
    .slice(before)
    .filter((f) => f.proto === 1);
  return { sim, vip, s, icmp };
}

describe('eBPF mode, a UDP Service without backends', () => {
  it('reject (the default): the tc program answers ICMP port unreachable (type 3 code 3) from the Service address, quoting min(frame length, 64) bytes zero-padded, with valid checksums; the connected socket gets ECONNREFUSED and nothing is dropped', () => {
    const { sim, vip, s, icmp } = sendConnected(UDP_YAML, new TextEncoder().encode('q'));
    expect(s.errors).toEqual(['ECONNREFUSED']);
    expect(s.replies).toEqual([]);
    // The error is built at the pod's veth and goes straight back: it appears on the veth
    // (host side) and on the pod's eth0, nowhere else.
    expect(icmp.map((f) => f.iface).filter((i) => i === 'udp-client/eth0')).toHaveLength(1);
    const f = icmp.find((x) => x.iface === 'udp-client/eth0')!;
    expect([f.icmpType, f.icmpCode, f.src, f.dst]).toEqual([3, 3, vip, podIP(sim, 'udp-client')]);
    expect(f.quoted).toEqual({
      src: podIP(sim, 'udp-client'),
      dst: vip,
      sport: s.socket.localPort,
      dport: 53,
    });
    const d = f.data;
    // 43-byte frame (14 + 20 + 8 + 1): Cilium's sample is 43 bytes from the IP header on,
    // i.e. the 29-byte datagram and 14 bytes of zeros.
    expect(d.length).toBe(14 + 20 + 8 + 43);
    expect([...d.subarray(42 + 29)]).toEqual(new Array(14).fill(0));
    expect(d[42 + 28]).toBe('q'.charCodeAt(0));
    expect(verifyIpv4HeaderChecksum(d, 14)).toBe(true);
    expect(verifyIpv4HeaderChecksum(d, 42)).toBe(true);
    expect(icmpChecksum(d, 34, d.length - 34)).toBe((d[36] << 8) | d[37]);
    expect([d[14 + 4], d[14 + 5], d[14 + 6], d[14 + 7], d[14 + 8]]).toEqual([0, 0, 0, 0, 64]);
    expect(sim.network.drops.toRecord()).toEqual({});
  });

  it('reject: a long datagram is quoted by its first 64 bytes only', () => {
    const { icmp } = sendConnected(UDP_YAML, new Uint8Array(200).fill(7));
    const f = icmp.find((x) => x.iface === 'udp-client/eth0')!;
    expect(f.data.length).toBe(14 + 20 + 8 + 64);
    expect((f.data[42 + 2] << 8) | f.data[42 + 3]).toBe(20 + 8 + 200);
  });

  it('reject: an unconnected socket gets no error, and the pod counts the ICMP as ICMP_NO_SOCKET', () => {
    const sim = buildSmall({ manifests: UDP_YAML, mode: 'ebpf', seed: 1 });
    const s = new RecordingSocket(sim, 'pod/udp-client');
    s.sendTo(clusterIPOf(sim, 'udp-empty'), 53);
    sim.advance(5);
    expect(s.errors).toEqual([]);
    expect(sim.network.drops.toRecord()).toEqual({ ICMP_NO_SOCKET: 1 });
  });

  it('serviceNoBackendResponse: drop (CiliumValues document): the datagram is dropped as DROP_NO_SERVICE, no ICMP, no error', () => {
    const { sim, s, icmp } = sendConnected(VALUES_DOC('drop'), new TextEncoder().encode('q'));
    expect(s.errors).toEqual([]);
    expect(icmp).toEqual([]);
    expect(sim.network.drops.toRecord()).toEqual({ TC_PROGRAM: 1, 'TC_PROGRAM:DROP_NO_SERVICE': 1 });
  });

  it('serviceNoBackendResponse: reject written out behaves as the default', () => {
    const { s, icmp } = sendConnected(VALUES_DOC('reject'), new TextEncoder().encode('q'));
    expect(s.errors).toEqual(['ECONNREFUSED']);
    expect(icmp.length).toBeGreaterThan(0);
  });
});

describeWithTshark('eBPF reject, seen by tshark', () => {
  it('the capture with the tail_no_service_ipv4 ICMP has no malformed frames and no bad IP/ICMP checksums', async () => {
    const { sim, icmp } = sendConnected(UDP_YAML, new TextEncoder().encode('hello'));
    expect(icmp.length).toBeGreaterThan(0);
    // The payload is not DNS: have tshark show port 53 as plain data.
    const result = await checkCaptureWithTshark(sim.capture!.toBuffer(), { decodeAs: ['udp.port==53,data'] });
    expect(result.problems).toEqual([]);
  });
});
