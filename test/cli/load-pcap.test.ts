/**
 * `dpsim load --pcap` writes a capture as clean as `dpsim run`'s: every interface checked by
 * tshark on its own (checksums validated, TCP analysis on) shows no warning — the requests
 * carry real HTTP payload, the pods' answers are acknowledged, and every flow ends with FINs.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { readCapture } from '../../src/capture/index.js';
import { describeWithTshark } from '../helpers/tshark.js';
import { checkInterfacesWithTshark } from '../sim/tshark-groups.js';
import { dpsim } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'dpsim-load-pcap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TCP_FLAGS_OFFSET = 14 + 20 + 13;

describeWithTshark('dpsim load --pcap', () => {
  for (const mode of ['iptables', 'ebpf'] as const) {
    it(`${mode}: HTTP requests and answers, FIN-closed flows, tshark-clean on every interface`, async () => {
      const pcap = join(dir, `${mode}.pcapng`);
      const r = await dpsim(['load', '--mode', mode, '--flows', '12', '--packets', '150', '--pcap', pcap]);
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toMatch(/^drops: none$/m);
      const bytes = new Uint8Array(readFileSync(pcap));
      const capture = readCapture(bytes);
      const text = (d: Uint8Array) => Buffer.from(d).toString('latin1');
      const client = capture.packets.filter((p) => capture.interfaces[p.interfaceId].name === 'client/eth0');
      expect(client.some((p) => text(p.data).includes('GET / HTTP/1.1\r\n'))).toBe(true);
      expect(client.some((p) => text(p.data).includes('HTTP/1.1 200 OK\r\n'))).toBe(true);
      // Both sides' FINs of the client's flows cross the client's interface.
      const fins = client.filter((p) => (p.data[TCP_FLAGS_OFFSET] & 0x01) !== 0);
      expect(fins.length).toBeGreaterThanOrEqual(2);

      const result = await checkInterfacesWithTshark(
        [{ label: mode, pcap: bytes }],
        ['tcp.port==31244,http', 'tcp.port==8080,http'],
      );
      expect(result.problems).toEqual([]);
      expect(result.ok).toBe(true);
      // Every interface that carried frames was checked (the CoreDNS pods' veths carry none here).
      expect(result.framesChecked.size).toBe(new Set(capture.packets.map((p) => p.interfaceId)).size);
    }, 120_000);
  }
});
