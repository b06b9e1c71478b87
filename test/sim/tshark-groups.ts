/**
 * tshark's per-interface check (test/helpers/tshark.ts, `perInterface: true`) for several
 * captures at once, with fewer tshark processes.
 *
 * Why: the per-interface mode starts two tshark processes per interface (≈1–2 s each on a
 * loaded 2-core machine); a three-node run has ten captured interfaces, so three modes
 * would take over a minute. The reason for checking interfaces one by one is that tshark
 * keys TCP analysis on addresses and ports only, so the same connection seen on two
 * interfaces (before and after a hop) looks like retransmissions. Interfaces whose
 * conversations (unordered address/port pairs, including the connection an ICMP error
 * quotes) are disjoint cannot disturb each other's analysis, so they are checked together
 * in one file: every interface is still analysed exactly as if it were alone, with
 * checksum validation and TCP analysis on. A tunnelled frame (IPIP, VXLAN) belongs to its
 * inner conversation as well as its outer one, since tshark dissects both.
 */
import { PcapngWriter, readCapture } from '../../src/capture/index.js';
import { formatIPv4 } from '../../src/util/ipv4.js';
import { formatIPv6Bytes } from '../../src/util/ipv6.js';
import { newIpv6FiveTuple, Parse6Status, parseIpv6FiveTuple } from '../../src/wire/five-tuple6.js';
import { newFiveTuple, ParseStatus, parseFiveTuple } from '../../src/wire/index.js';
import { checkCaptureWithTshark } from '../helpers/tshark.js';

export interface CaptureRun {
  /** Prefixed to interface names in the group files (e.g. the mode). */
  readonly label: string;
  readonly pcap: Uint8Array;
}

export interface GroupedTsharkResult {
  readonly ok: boolean;
  /** tshark's problems, each naming the run and interface it was found on. */
  readonly problems: string[];
  /** Frames tshark read per `label iface`, to show every interface was checked. */
  readonly framesChecked: Map<string, number>;
  /** tshark invocations = 2 × groups. */
  readonly groups: number;
}

interface Part {
  readonly name: string;
  readonly description: string | undefined;
  readonly snaplen: number;
  readonly linktype: number;
  readonly packets: { timestampNs: bigint; data: Uint8Array; origlen: number; comment?: string }[];
  readonly keys: Set<string>;
}

function endpoint(addr: number, port: number): string {
  return `${formatIPv4(addr)}:${port}`;
}

function conversation(proto: number, a: string, b: string): string {
  return a < b ? `${proto}|${a}|${b}` : `${proto}|${b}|${a}`;
}

/** The conversations a frame belongs to, as tshark's TCP/UDP analysis would key them. */
function conversationKeys(data: Uint8Array, into: Set<string>): void {
  const ft = newFiveTuple();
  if (parseFiveTuple(data, ft) !== ParseStatus.OK) {
    if (!conversationKeys6(data, into)) into.add('unparsed');
    return;
  }
  into.add(conversation(ft.proto, endpoint(ft.saddr, ft.sport), endpoint(ft.daddr, ft.dport)));
  // Overlay traffic: tshark dissects the packet inside an IPIP or VXLAN wrapper and runs its
  // TCP analysis on that inner conversation too, so it is one of the frame's conversations.
  if (ft.proto === 4 || (ft.proto === 17 && ft.dport === 4789)) {
    const innerIp = ft.proto === 4 ? ft.l4Offset : ft.l4Offset + 8 + 8 + 14;
    const inner = new Uint8Array(14 + (ft.ipOffset + ft.ipTotalLength - innerIp));
    inner[12] = 0x08;
    inner.set(data.subarray(innerIp, ft.ipOffset + ft.ipTotalLength), 14);
    conversationKeys(inner, into);
  }
  if (ft.proto === 1 && ft.icmpType === 3) {
    const inner = ft.l4Offset + 8;
    const ihl = (data[inner] & 0x0f) * 4;
    const u32 = (o: number) =>
      ((data[o] << 24) | (data[o + 1] << 16) | (data[o + 2] << 8) | data[o + 3]) >>> 0;
    const u16 = (o: number) => (data[o] << 8) | data[o + 1];
    into.add(
      conversation(
        data[inner + 9],
        endpoint(u32(inner + 12), u16(inner + ihl)),
        endpoint(u32(inner + 16), u16(inner + ihl + 2)),
      ),
    );
  }
}

/** IPv6 frames: the conversation, and for an ICMPv6 error the one its quote belongs to. False when not IPv6. */
function conversationKeys6(data: Uint8Array, into: Set<string>): boolean {
  const ft = newIpv6FiveTuple();
  if (parseIpv6FiveTuple(data, ft) !== Parse6Status.OK) return false;
  const text = (at: number) => formatIPv6Bytes(data, at);
  into.add(conversation(ft.proto, `[${text(ft.saddrAt)}]:${ft.sport}`, `[${text(ft.daddrAt)}]:${ft.dport}`));
  if (ft.proto === 58 && ft.icmpType < 128) {
    const inner = ft.l4Offset + 8;
    const u16 = (o: number) => (data[o] << 8) | data[o + 1];
    into.add(
      conversation(
        data[inner + 6],
        `[${text(inner + 8)}]:${u16(inner + 40)}`,
        `[${text(inner + 24)}]:${u16(inner + 42)}`,
      ),
    );
  }
  return true;
}

function partsOf(run: CaptureRun): Part[] {
  const file = readCapture(run.pcap);
  const parts = file.interfaces.map(
    (i): Part => ({
      name: `${run.label} ${i.name ?? `if${i.id}`}`,
      description: i.description,
      snaplen: i.snaplen,
      linktype: i.linktype,
      packets: [],
      keys: new Set(),
    }),
  );
  for (const p of file.packets) {
    const part = parts[p.interfaceId];
    part.packets.push({
      timestampNs: p.timestampNs,
      data: p.data,
      origlen: p.origlen,
      ...(p.comment !== undefined ? { comment: p.comment } : {}),
    });
    conversationKeys(p.data, part.keys);
  }
  return parts.filter((p) => p.packets.length > 0);
}

function disjoint(a: Set<string>, b: Set<string>): boolean {
  for (const k of a) if (b.has(k)) return false;
  return true;
}

/** Checks every captured interface of every run, each as if it were alone (see the file comment). */
export async function checkInterfacesWithTshark(
  runs: readonly CaptureRun[],
  decodeAs: readonly string[],
): Promise<GroupedTsharkResult> {
  const parts = runs.flatMap(partsOf).sort((a, b) => b.packets.length - a.packets.length);
  const groups: { parts: Part[]; keys: Set<string> }[] = [];
  for (const part of parts) {
    let group = groups.find((g) => disjoint(g.keys, part.keys));
    if (group === undefined) {
      group = { parts: [], keys: new Set() };
      groups.push(group);
    }
    group.parts.push(part);
    for (const k of part.keys) group.keys.add(k);
  }
  const results = await Promise.all(
    groups.map(async (group) => {
      const writer = new PcapngWriter();
      // Frame order: by time, each interface's own order kept (a conversation lives on one interface here).
      const order: { part: number; packet: Part['packets'][number] }[] = [];
      group.parts.forEach((part, i) => {
        writer.addInterface({
          name: part.name,
          ...(part.description !== undefined ? { description: part.description } : {}),
          snaplen: part.snaplen,
          linktype: part.linktype,
        });
        for (const packet of part.packets) order.push({ part: i, packet });
      });
      order.sort((x, y) =>
        x.packet.timestampNs < y.packet.timestampNs
          ? -1
          : x.packet.timestampNs > y.packet.timestampNs
            ? 1
            : 0,
      );
      for (const { part, packet } of order)
        writer.writePacket(part, packet.timestampNs, packet.data, packet.comment, packet.origlen);
      const result = await checkCaptureWithTshark(writer.toBuffer(), { decodeAs: [...decodeAs] });
      const problems = result.problems.map((p) => {
        const where = [...new Set(p.frames.map((n) => group.parts[order[n - 1]?.part ?? 0]?.name))].join(
          ', ',
        );
        return `${p.check}${where ? ` on ${where}` : ''}: ${p.detail}`;
      });
      return { result, problems, group };
    }),
  );
  const framesChecked = new Map<string, number>();
  for (const { result, group } of results)
    for (const s of result.interfaces) framesChecked.set(group.parts[s.id]?.name ?? s.name, s.frames);
  return {
    ok: results.every((r) => r.result.ok),
    problems: results.flatMap((r) => r.problems),
    framesChecked,
    groups: groups.length,
  };
}
