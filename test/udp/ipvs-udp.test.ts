/**
 * IPVS mode's UDP virtual services: a datagram schedules a connection of IPVS's one UDP state
 * (ip_vs_proto_udp.c, IP_VS_UDP_S_NORMAL, printed "UDP" by ipvsadm -Lnc) that expires after the
 * node's UDP timeout — 300 s by default, KubeProxyConfiguration ipvs.udpTimeout when set — and
 * later datagrams of the flow refresh it and stay on its real server.
 */
import { describe, expect, it } from 'vitest';
import type { Simulation } from '../../src/sim/simulation.js';
import { buildSmall } from '../sim/harness.js';
import { clusterIPOf, RecordingSocket } from './helpers.js';
import { UDP_YAML } from './scenarios.js';

/** node1's `ipvsadm -Lnc` lines of the flow from the udp-client pod's port 40000. */
function connLines(sim: Simulation): string[] {
  const text = sim.proxies.get('node1')!.dump({ part: 'connections' });
  return text.split('\n').filter((l) => /:40000 /.test(l));
}

describe('IPVS UDP virtual services', () => {
  it('a datagram makes one UDP connection entry with the 5 min default timeout, refreshed by the next datagram, gone after it expires', () => {
    const sim = buildSmall({ manifests: UDP_YAML, mode: 'ipvs', seed: 1, capture: false });
    const vip = clusterIPOf(sim, 'udp-echo');
    const echo = new RecordingSocket(sim, 'pod/udp-client', 40000);
    echo.sendTo(vip, 53);
    sim.advance(1);
    expect(echo.replies).toHaveLength(1);
    const first = connLines(sim);
    expect(first).toHaveLength(1);
    expect(first[0]).toMatch(
      new RegExp(`^UDP 04:59  UDP         \\S+:40000 +${vip.replace(/\./g, '\\.')}:53 +\\S+:5353$`),
    );
    const backend = first[0].split(/\s+/)[5];

    sim.advance(200_000);
    expect(connLines(sim)[0]).toMatch(/^UDP 01:39 /);
    echo.sendTo(vip, 53);
    sim.advance(1);
    expect(echo.replies).toHaveLength(2);
    expect(echo.replies[1].text).toBe(echo.replies[0].text); // same real server
    const refreshed = connLines(sim);
    expect(refreshed[0]).toMatch(/^UDP 04:59 /);
    expect(refreshed[0].split(/\s+/)[5]).toBe(backend);

    sim.advance(301_000);
    expect(connLines(sim)).toEqual([]);
  });

  it('KubeProxyConfiguration ipvs.udpTimeout 45s is the UDP connection timeout', () => {
    const config = `${UDP_YAML}
---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: ipvs
ipvs: { udpTimeout: 45s }
`;
    const sim = buildSmall({ manifests: config, mode: 'ipvs', seed: 1, capture: false });
    const echo = new RecordingSocket(sim, 'pod/udp-client', 40000);
    echo.sendTo(clusterIPOf(sim, 'udp-echo'), 53);
    sim.advance(1);
    expect(connLines(sim)[0]).toMatch(/^UDP 00:44 {2}UDP /);
    sim.advance(46_000);
    expect(connLines(sim)).toEqual([]);
  });
});
