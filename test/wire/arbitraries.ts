/** fast-check arbitraries for wire-layer reprs and frame specs, shared by the wire tests. */
import fc from 'fast-check';
import type { IcmpEchoFrameSpec, TcpFrameSpec, UdpFrameSpec } from '../../src/wire/build.js';
import type { Ipv4Repr } from '../../src/wire/ipv4.js';
import { type TcpOption, tcpOptionsLength } from '../../src/wire/tcp.js';

export const u8 = fc.integer({ min: 0, max: 0xff });
export const u16 = fc.integer({ min: 0, max: 0xffff });
export const u32 = fc.integer({ min: 0, max: 0xffffffff });
export const mac = fc.uint8Array({ minLength: 6, maxLength: 6 });
export const payload = (maxLength = 64) => fc.uint8Array({ maxLength });

/** Raw IPv4 options: a multiple of 4 bytes, at most 40 (contents are opaque to this layer). */
export const ipOptions = fc
  .integer({ min: 0, max: 10 })
  .chain((words) => fc.uint8Array({ minLength: words * 4, maxLength: words * 4 }));

export const ipv4Repr = (protocol?: number): fc.Arbitrary<Ipv4Repr> =>
  fc.record({
    dscp: fc.integer({ min: 0, max: 63 }),
    ecn: fc.integer({ min: 0, max: 3 }),
    ident: u16,
    dontFragment: fc.boolean(),
    moreFragments: fc.constant(false),
    fragmentOffset: fc.constant(0),
    ttl: u8,
    protocol: protocol === undefined ? u8 : fc.constant(protocol),
    src: u32,
    dst: u32,
    options: ipOptions,
  });

/** Kinds this layer decodes specially, so an "unknown" option must avoid them. */
const KNOWN_KINDS = new Set([0, 1, 2, 3, 4, 5, 8]);

export const tcpOption: fc.Arbitrary<TcpOption> = fc.oneof(
  fc.constant<TcpOption>({ kind: 'nop' }),
  u16.map<TcpOption>((value) => ({ kind: 'mss', value })),
  fc.integer({ min: 0, max: 14 }).map<TcpOption>((shift) => ({ kind: 'windowScale', shift })),
  fc.constant<TcpOption>({ kind: 'sackPermitted' }),
  fc
    .array(fc.record({ left: u32, right: u32 }), { minLength: 1, maxLength: 3 })
    .map<TcpOption>((blocks) => ({ kind: 'sack', blocks })),
  fc
    .record({ tsval: u32, tsecr: u32 })
    .map<TcpOption>(({ tsval, tsecr }) => ({ kind: 'timestamp', tsval, tsecr })),
  fc
    .record({
      type: fc.integer({ min: 2, max: 255 }).filter((t) => !KNOWN_KINDS.has(t)),
      data: fc.uint8Array({ maxLength: 6 }),
    })
    .map<TcpOption>(({ type, data }) => ({ kind: 'unknown', type, data })),
);

/**
 * Option lists as real stacks send them: at most 40 bytes, padded with NOPs to a multiple
 * of 4 (so the writer adds no EOL padding), optionally ending with an explicit EOL run.
 */
export const tcpOptions: fc.Arbitrary<TcpOption[]> = fc
  .tuple(fc.array(tcpOption, { maxLength: 6 }), fc.boolean())
  .map(([options, endWithEol]) => {
    const list: TcpOption[] = [];
    for (const option of options) {
      if (tcpOptionsLength([...list, option]) > 36) break;
      list.push(option);
    }
    if (endWithEol) list.push({ kind: 'eol' });
    while (tcpOptionsLength(list) % 4 !== 0)
      list.splice(endWithEol ? list.length - 1 : list.length, 0, { kind: 'nop' });
    return list;
  });

const ipFields = {
  srcMac: mac,
  dstMac: mac,
  src: u32,
  dst: u32,
  ttl: u8,
  id: u16,
  dscp: fc.integer({ min: 0, max: 63 }),
  ecn: fc.integer({ min: 0, max: 3 }),
  dontFragment: fc.boolean(),
  ipOptions,
};

export const tcpFrameSpec: fc.Arbitrary<TcpFrameSpec> = fc.record({
  ...ipFields,
  sport: u16,
  dport: u16,
  seq: u32,
  ack: u32,
  flags: fc.integer({ min: 0, max: 0x1ff }),
  window: u16,
  urgent: u16,
  options: tcpOptions,
  payload: payload(),
});

export const udpFrameSpec: fc.Arbitrary<UdpFrameSpec> = fc.record({
  ...ipFields,
  // Keep clear of the VXLAN ports, which the decoder follows into an inner frame.
  sport: u16.filter((p) => p !== 4789 && p !== 8472),
  dport: u16.filter((p) => p !== 4789 && p !== 8472),
  payload: payload(),
  checksum: fc.boolean(),
});

export const icmpEchoFrameSpec: fc.Arbitrary<IcmpEchoFrameSpec> = fc.record({
  ...ipFields,
  reply: fc.boolean(),
  ident: u16,
  sequence: u16,
  payload: payload(),
});
