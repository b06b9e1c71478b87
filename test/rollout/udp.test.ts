/**
 * `dpsim rollout --proto udp`: each request is one datagram from its own socket (source ports
 * from a pool, so ports are reused within conntrack's 30 s) to a UDP Service whose pods echo
 * their name. Rolling the Deployment out shows the stale-conntrack window: without kube-proxy's
 * UDP clean-up a reused source port keeps the translation to a deleted pod; with the
 * reconciler the entries go at the next sync.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runRollout } from '../../src/rollout/engine.js';
import { parseVariant } from '../../src/rollout/variants.js';
import { dpsim } from '../cli/harness.js';

const udpEcho = [{ source: 'udp-echo.yaml', text: readFileSync('fixtures/udp-echo.yaml', 'utf8') }];

/** kube-proxy's UDP conntrack clean-up (conntrack.CleanStaleEntries) runs in both of its netfilter modes. */
const MODES = ['iptables', 'nftables'] as const;

const base = {
  manifests: udpEcho,
  deployment: 'dnsecho',
  proto: 'udp' as const,
  rps: 1000,
  durationS: 14,
  atS: 2,
  seed: 1,
};

describe('dpsim rollout --proto udp', () => {
  it('steady state: every query is answered by a pod of the Service, one per second bucket', () => {
    const r = runRollout({ ...base, transition: { kind: 'scale', replicas: 3 }, rps: 200, durationS: 4 });
    expect(r.proto).toBe('udp');
    expect(r.service).toBe('default/udp-echo');
    expect(r.totals).toEqual({ requests: 800, succeeded: 800, failed: 0, refused: 0, reset: 0, timedOut: 0 });
    expect(r.seconds.map((b) => b.ok)).toEqual([200, 200, 200, 200]);
  });

  it.each(MODES)(
    '%s mode, scale to zero: queries are refused (ICMP port unreachable from kube-proxy’s reject rule), attributed to the nodes’ empty rules',
    (mode) => {
      const r = runRollout({
        ...base,
        mode,
        transition: { kind: 'scale', replicas: 0 },
        rps: 50,
        durationS: 8,
      });
      expect(r.mode).toBe(mode);
      expect(r.totals.refused).toBeGreaterThan(200);
      const noEndpoints = r.reasons.filter((x) => /^no endpoints in node[123]'s rules$/.test(x.reason));
      expect(noEndpoints.map((x) => x.reason).sort()).toEqual([
        "no endpoints in node1's rules",
        "no endpoints in node2's rules",
        "no endpoints in node3's rules",
      ]);
      for (const x of noEndpoints) expect(x.refused).toBe(x.count);
      // Every second after the sync is all refusals.
      for (const b of r.seconds.filter((s) => s.second >= 4)) expect(b.refused).toBe(b.sent);
    },
  );

  it.each(MODES)(
    '%s mode: a roll-out drops queries on stale conntrack entries without the UDP clean-up, and far fewer with the reconciler',
    (mode) => {
      const fixed = runRollout({ ...base, mode, transition: { kind: 'image', image: 'udp-echo:2.0' } });
      const broken = runRollout({
        ...base,
        mode,
        transition: { kind: 'image', image: 'udp-echo:2.0' },
        variant: parseVariant('udpConntrackCleanup=none'),
      });
      const stale = (r: ReturnType<typeof runRollout>) =>
        r.reasons
          .filter((x) =>
            /^stale conntrack entry on node[123]: .* sent to dnsecho-[a-z0-9-]+, which was gone$/.test(
              x.reason,
            ),
          )
          .reduce((n, x) => n + x.count, 0);
      expect(stale(broken)).toBeGreaterThan(1000);
      expect(broken.totals.failed).toBeGreaterThan(5 * fixed.totals.failed);
      expect(stale(fixed)).toBeLessThan(stale(broken) / 20);
      // Without the clean-up the window lasts until the reused ports' entries time out or are
      // refreshed to nowhere: failures continue to the end of the run.
      expect(broken.seconds.at(-1)!.timeout).toBeGreaterThan(0);
      expect(fixed.seconds.at(-1)!.timeout).toBe(0);
    },
  );

  it('the CLI takes --proto udp and names the UDP Service; a TCP-only workload is a one-line error', async () => {
    const ok = await dpsim([
      'rollout',
      ...['-f', 'fixtures/udp-echo.yaml', '--deployment', 'dnsecho', '--proto', 'udp'],
      ...['--scale', '2', '--rps', '20', '--duration', '3', '--at', '1'],
    ]);
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toMatch(
      /^deployment\/dnsecho: scale to 2 at 1s; 3s of traffic at 20 UDP requests\/s to service\/udp-echo\n/,
    );
    const bad = await dpsim(['rollout', '--proto', 'udp', '--scale', '2', '--rps', '20', '--duration', '3']);
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stderr).toBe('error: no Service with a UDP port selects the pods of deployment "myweb"\n');
  });
});
