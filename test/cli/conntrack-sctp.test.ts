/** `dpsim conntrack -L` on a scenario with an SCTP NodePort lists the associations as conntrack-tools does. */
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { dpsim } from './harness.js';

const FIXTURE = join(import.meta.dirname, '../../fixtures/sctp-diameter.yaml');

it('dpsim conntrack -L lists SCTP entries, shut down (CLOSED) and ASSURED, after one association per node', async () => {
  const r = await dpsim(['conntrack', '-L', '-f', FIXTURE, '-n', '1']);
  expect(r.exitCode).toBe(0);
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  expect(lines.length).toBeGreaterThanOrEqual(1);
  for (const l of lines) {
    expect(l).toMatch(
      /^sctp {5}132 (9|10) CLOSED src=\S+ dst=\S+ sport=\d+ dport=\d+ src=\S+ dst=\S+ sport=3868 dport=\d+ \[ASSURED\] mark=0 use=1$/,
    );
  }
  // The client's association to node1's NodePort, DNATed to a pod on port 3868.
  expect(
    lines.some((l) => /src=192\.168\.100\.1 dst=192\.168\.100\.100 sport=\d+ dport=30868 /.test(l)),
  ).toBe(true);
  expect(r.stderr).toBe(
    `conntrack v1.4.7 (conntrack-tools): ${lines.length} flow entries have been shown.\n`,
  );
});
