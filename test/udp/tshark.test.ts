/**
 * The UDP captures judged by tshark, interface by interface, in every mode: echo requests and
 * replies through a ClusterIP and a NodePort, a datagram sent without checksum (0), the
 * REJECT's ICMP port unreachable and a backend's ICMP error un-NATed by the node (quote
 * included). No malformed frame, every UDP/ICMP/IP checksum good.
 */
import { expect, it } from 'vitest';
import { parseIPv4 } from '../../src/util/ipv4.js';
import { describeWithTshark } from '../helpers/tshark.js';
import { buildSmall, capturedFrames, MODES } from '../sim/harness.js';
import { checkInterfacesWithTshark } from '../sim/tshark-groups.js';
import { clusterIPOf, RecordingSocket } from './helpers.js';
import { UDP_YAML } from './scenarios.js';

describeWithTshark('UDP captures', () => {
  it('pass tshark on every captured interface of every mode: UDP, ICMP and IP checksums verified, nothing malformed', async () => {
    const runs = MODES.map((mode, i) => {
      const sim = buildSmall({ manifests: UDP_YAML, mode, seed: 40 + i });
      const echo = new RecordingSocket(sim, 'pod/udp-client');
      for (let k = 0; k < 3; k++) {
        echo.sendTo(clusterIPOf(sim, 'udp-echo'), 53, `query ${k}`);
        sim.advance(5);
      }
      echo.socket.sendTo(
        parseIPv4(clusterIPOf(sim, 'udp-echo')),
        53,
        new TextEncoder().encode('no checksum'),
        {
          noChecksum: true,
        },
      );
      sim.advance(5);
      const external = new RecordingSocket(sim, 'client');
      external.sendTo('192.168.100.101', 30053, 'via NodePort');
      sim.advance(5);
      expect(echo.replies).toHaveLength(4);
      expect(external.replies).toHaveLength(1);
      const refused = new RecordingSocket(sim, 'pod/udp-client');
      refused.socket.connect(parseIPv4(clusterIPOf(sim, 'udp-closed')), 53);
      refused.socket.send(new TextEncoder().encode('closed'));
      sim.advance(5);
      if (mode !== 'ebpf') {
        const empty = new RecordingSocket(sim, 'pod/udp-client');
        empty.socket.connect(parseIPv4(clusterIPOf(sim, 'udp-empty')), 53);
        empty.socket.send(new TextEncoder().encode('empty'));
        sim.advance(5);
        expect(empty.errors).toEqual(['ECONNREFUSED']);
      }
      return { label: mode, pcap: sim.capture!.toBuffer(), sim };
    });
    const result = await checkInterfacesWithTshark(runs, ['udp.port==53,data', 'udp.port==5353,data']);
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    for (const run of runs) {
      const perIface = new Map<string, number>();
      for (const f of capturedFrames(run.sim)) perIface.set(f.iface, (perIface.get(f.iface) ?? 0) + 1);
      for (const [iface, n] of perIface) expect(result.framesChecked.get(`${run.label} ${iface}`)).toBe(n);
      // UDP and ICMP frames are really there to be judged.
      const frames = capturedFrames(run.sim);
      expect(frames.filter((f) => f.proto === 17).length).toBeGreaterThan(20);
      expect(frames.filter((f) => f.proto === 1).length).toBeGreaterThan(0);
    }
  });
});
