/**
 * Issue 14 item 6: the same seed gives the same rollout — report, timeline and capture —
 * byte for byte, and another seed gives another one. Run through the CLI as a user would.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCapture } from '../../src/capture/reader.js';
import { dpsim } from '../cli/harness.js';

const dir = mkdtempSync(join(tmpdir(), 'dpsim-rollout-seed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SHORT = ['--image', 'hello-world-web:2.0', '--rps', '40', '--duration', '4', '--at', '1'];

async function rollout(seed: number, tag: string) {
  const pcap = join(dir, `${tag}.pcapng`);
  const svg = join(dir, `${tag}.svg`);
  const r = await dpsim([
    'rollout',
    ...SHORT,
    '--seed',
    String(seed),
    '--json',
    '--pcap',
    pcap,
    '--svg',
    svg,
  ]);
  expect(r.exitCode).toBe(0);
  return { json: r.stdout, stderr: r.stderr, pcap: readFileSync(pcap), svg: readFileSync(svg, 'utf8') };
}

describe('dpsim rollout determinism', () => {
  it('the same seed gives byte-identical report, timeline SVG and pcapng; another seed differs', async () => {
    const a = await rollout(7, 'a');
    const b = await rollout(7, 'b');
    expect(a.stderr).toMatch(/^capture: .*a\.pcapng \(\d+ frames\)\n$/);
    expect(b.json).toBe(a.json);
    expect(b.svg).toBe(a.svg);
    expect(b.pcap.length).toBeGreaterThan(10_000);
    expect(Buffer.compare(a.pcap, b.pcap)).toBe(0);

    const c = await rollout(8, 'c');
    expect(c.json).not.toBe(a.json);
    expect(Buffer.compare(a.pcap, c.pcap)).not.toBe(0);
  });

  it('the capture holds the run: every interface, pods created during the roll-out included, and every request', async () => {
    const { json, pcap } = await rollout(7, 'd');
    const capture = readCapture(new Uint8Array(pcap));
    const names = capture.interfaces.map((i) => i.name);
    expect(names).toContain('client/eth0');
    // The roll-out's new pods (created after the capture began) are captured from their creation.
    const report = JSON.parse(json);
    const started = (report.pods as { pod: string; event: string }[])
      .filter((p) => p.event === 'container started')
      .map((p) => p.pod.slice(p.pod.indexOf('/') + 1));
    expect(started.length).toBeGreaterThan(0);
    for (const pod of started) expect(names).toContain(`${pod}/eth0`);
    const client = names.indexOf('client/eth0');
    const fromNewPod = capture.packets.filter((p) => names[p.interfaceId] === `${started[0]}/eth0`);
    expect(fromNewPod.length).toBeGreaterThan(0);
    expect(capture.packets.some((p) => p.interfaceId === client)).toBe(true);
    // Each request is at least one SYN from the client: 160 requests, far more frames.
    expect(capture.packets.length).toBeGreaterThan(160 * 5);
  });
});
