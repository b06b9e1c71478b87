/**
 * IPv6 captures judged by tshark, interface by interface, in every mode: curls from the client
 * to every node's IPv6 NodePort and from every pod to the IPv6 ClusterIP (forwarded, DNATed,
 * masqueraded or SNATed frames, hop limits decremented), and the ICMPv6 port unreachable for a
 * Service without endpoints (a REJECT, IPVS's, or Cilium's tail_no_service_ipv6). No malformed
 * frame, every TCP and ICMPv6 checksum over the IPv6 pseudo-header good, no TCP analysis warning.
 */
import { expect, it } from 'vitest';
import { describeWithTshark } from '../helpers/tshark.js';
import { buildSmall, capturedFrames, fixture, MODES } from './harness.js';
import { checkInterfacesWithTshark } from './tshark-groups.js';

describeWithTshark('IPv6 captures', () => {
  it.each(MODES)(
    '%s: pass tshark on every captured interface: TCP and ICMPv6 checksums verified, nothing malformed, no TCP analysis warning',
    async (mode) => {
      const sim = buildSmall({
        manifests: `${fixture('origin-dual-stack.yaml')}
---
apiVersion: v1
kind: Service
metadata: {name: empty}
spec: {ipFamilyPolicy: PreferDualStack, selector: {app: nothing}, ports: [{port: 82}]}
`,
        clusterOptions: { dualStack: true },
        mode,
      });
      const svc = (name: string) => sim.cluster.services().find((s) => s.metadata?.name === name)!.spec!;
      const np = svc('myweb-svc-np');
      const pods = [...sim.topology.pods.keys()]
        .map((k) => k.split('/')[1])
        .filter((n) => n.startsWith('myweb-rs-'));
      for (const node of sim.cluster.config.ipv6!.nodes.values())
        expect(
          sim.curl({ from: 'client', url: `http://[${node.ip}]:${np.ports![0].nodePort}/` }).exitCode,
        ).toBe(0);
      for (const pod of pods)
        expect(sim.curl({ from: `pod/${pod}`, url: `http://[${np.clusterIPs![1]}]/` }).exitCode).toBe(0);
      expect(
        sim.curl({ from: `pod/${pods[0]}`, url: `http://[${svc('empty').clusterIPs![1]}]:82/` }).exitCode,
      ).toBe(7);
      sim.advance(130_000);
      const result = await checkInterfacesWithTshark(
        [{ label: 'ipv6', pcap: sim.capture!.toBuffer() }],
        [`tcp.port==${np.ports![0].nodePort},http`],
      );
      expect(result.problems).toEqual([]);
      expect(result.ok).toBe(true);
      const frames = capturedFrames(sim);
      const perIface = new Map<string, number>();
      for (const f of frames) perIface.set(f.iface, (perIface.get(f.iface) ?? 0) + 1);
      for (const [iface, n] of perIface) expect(result.framesChecked.get(`ipv6 ${iface}`)).toBe(n);
      // The frames judged are IPv6 (ethertype 0x86dd), TCP and ICMPv6 among them.
      const raw = sim.capture!.toBuffer();
      expect(raw.length).toBeGreaterThan(0);
      const v6 = frames.filter((f) => f.src.includes(':'));
      expect(v6.length).toBeGreaterThan(100);
      expect(v6.some((f) => f.proto === 58)).toBe(true);
    },
  );
});
