import { expect, it } from 'vitest';
import { PcapngWriter, PcapWriter } from '../../src/capture/index.js';
import { checkCaptureWithTshark, describeWithTshark, type TsharkCheckResult } from '../helpers/tshark.js';
import { goodSyn, hex, tcpConversation } from './frames.js';

const MS = 1_000_000;
const TCP_CHECKSUM_AT = 14 + 20 + 16;
const IP_CHECKSUM_AT = 14 + 10;
const BACKEND = { client: { ip: '10.244.1.1', port: 61000 }, pod: { ip: '10.244.1.2', port: 8080 } };

function pcapOf(frames: Uint8Array[], snaplen?: number): Buffer {
  const writer = new PcapWriter({ snaplen });
  for (const [i, frame] of frames.entries())
    writer.writePacket(1_700_000_000_000_000_000n + BigInt(i * MS), frame);
  return writer.toBuffer();
}

function checks(result: TsharkCheckResult): string[] {
  return result.problems.map((p) => p.check);
}

describeWithTshark('tshark validates what the capture writers produce', () => {
  it('src/wire builds the known-good SYN 192.168.100.1:40000 -> 192.168.100.100:30532', () => {
    // Fixture bytes whose IPv4 (0xf118) and TCP (0x53ce) checksums tshark 4.0.17 reports as
    // Good (checked with an independent one's-complement sum before src/wire existed).
    expect(hex(goodSyn())).toBe(
      '020000000002020000000001080045000028000140004006f118c0a86401c0a864649c407744000003e8' +
        '000000005002faf053ce0000',
    );
  });

  it('a pcap of a complete TCP conversation passes every check', async () => {
    const result = await checkCaptureWithTshark(pcapOf(tcpConversation()));
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.frames).toBe(8);
  });

  it('a pcapng whose second interface is declared after packets passes, with both interface names', async () => {
    const writer = new PcapngWriter();
    const client = writer.addInterface({ name: 'node1/eth0', description: 'client side, pre-DNAT' });
    for (const [i, f] of tcpConversation().entries()) {
      writer.writePacket(client, BigInt(i * MS), f, i === 0 ? 'SYN' : undefined);
    }
    const pod = writer.addInterface({ name: 'pod-a/eth0', snaplen: 65535 });
    for (const [i, f] of tcpConversation(BACKEND.client, BACKEND.pod).entries()) {
      writer.writePacket(pod, 20 * MS + i * MS, f);
    }
    const result = await checkCaptureWithTshark(writer.toBuffer());
    expect(result.problems).toEqual([]);
    expect(result.interfaces).toEqual([
      { id: 0, name: 'node1/eth0', frames: 8 },
      { id: 1, name: 'pod-a/eth0', frames: 8 },
    ]);
  });

  it('a corrupted IPv4 checksum and a corrupted TCP checksum are each reported by their own check on their own frame', async () => {
    const frames = tcpConversation();
    frames[1][IP_CHECKSUM_AT] ^= 0x01;
    frames[3][TCP_CHECKSUM_AT] ^= 0x5a;
    const result = await checkCaptureWithTshark(pcapOf(frames));
    expect(result.ok).toBe(false);
    expect(result.problems.map((p) => [p.check, p.frames])).toEqual([
      ['ip-checksum', [2]],
      ['tcp-checksum', [4]],
    ]);
  });

  it('records cut by a 40-byte snaplen fail the short check, which the allow-list can tolerate', async () => {
    const file = pcapOf(tcpConversation(), 40);
    const result = await checkCaptureWithTshark(file);
    expect(checks(result)).toContain('short');
    expect(result.problems.find((p) => p.check === 'short')!.frames).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const allowed = await checkCaptureWithTshark(file, { allow: ['_ws.short'] });
    expect(checks(allowed)).not.toContain('short');
  });

  it('a garbage file and a cut-short capture fail the readable check', async () => {
    const [garbage, cut] = await Promise.all([
      checkCaptureWithTshark(Buffer.from('this is not a capture file, just text\n'.repeat(4))),
      checkCaptureWithTshark(pcapOf(tcpConversation()).subarray(0, -10)),
    ]);
    expect(checks(garbage)).toEqual(['readable']);
    expect(garbage.problems[0].detail).toMatch(/isn't a capture file in a format TShark understands/);
    expect(checks(cut)).toEqual(['readable']);
    expect(cut.problems[0].detail).toMatch(/cut short in the middle of a packet/);
  });

  it('one flow on two interfaces is flagged as retransmissions file-wide; per interface only the real error remains, with its original frame number', async () => {
    const writer = new PcapngWriter();
    const a = writer.addInterface({ name: 'node1/eth0' });
    const b = writer.addInterface({ name: 'node1/veth-pod-a' });
    const copy = tcpConversation();
    copy[2][TCP_CHECKSUM_AT] ^= 0xff;
    tcpConversation().forEach((f, i) => {
      writer.writePacket(a, 2 * i * MS, f);
      writer.writePacket(b, (2 * i + 1) * MS, copy[i]);
    });
    const file = writer.toBuffer();
    const [whole, perInterface] = await Promise.all([
      checkCaptureWithTshark(file),
      checkCaptureWithTshark(file, { perInterface: true }),
    ]);
    expect(whole.problems.map((p) => p.field)).toContain('tcp.analysis.retransmission');
    expect(perInterface.frames).toBe(16);
    expect(perInterface.problems).toHaveLength(1);
    expect(perInterface.problems[0]).toMatchObject({ check: 'tcp-checksum', interfaceId: 1, frames: [6] });
    expect(perInterface.problems[0].detail).toMatch(/^interface 1 \(node1\/veth-pod-a\)/);
  });
});
