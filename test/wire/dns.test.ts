import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DNS_CLASS_IN,
  DnsEncodeError,
  DnsFormatError,
  type DnsMessage,
  type DnsRecord,
  DnsType,
  decodeDnsMessage,
  emptyFlags,
  encodeDnsMessage,
  formatIPv6Bytes,
  optRecord,
  parseDnsType,
} from '../../src/wire/dns.js';

const label = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/);
const name = fc.array(label, { minLength: 0, maxLength: 5 }).map((ls) => ls.join('.'));
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });

const record: fc.Arbitrary<DnsRecord> = fc.oneof(
  fc.record({ name, ttl: u32, address: ipv4 }).map((r) => ({
    name: r.name,
    type: DnsType.A,
    class: DNS_CLASS_IN,
    ttl: r.ttl,
    data: { kind: 'A' as const, address: r.address },
  })),
  fc.record({ name, ttl: u32, bytes: fc.uint8Array({ minLength: 16, maxLength: 16 }) }).map((r) => ({
    name: r.name,
    type: DnsType.AAAA,
    class: DNS_CLASS_IN,
    ttl: r.ttl,
    data: { kind: 'AAAA' as const, address: formatIPv6Bytes(r.bytes) },
  })),
  fc.record({ name, ttl: u32, target: name, type: fc.constantFrom(DnsType.CNAME, DnsType.PTR) }).map((r) => ({
    name: r.name,
    type: r.type,
    class: DNS_CLASS_IN,
    ttl: r.ttl,
    data: { kind: 'name' as const, target: r.target },
  })),
  fc.record({ name, ttl: u32, p: u16, w: u16, port: u16, target: name }).map((r) => ({
    name: r.name,
    type: DnsType.SRV,
    class: DNS_CLASS_IN,
    ttl: r.ttl,
    data: { kind: 'SRV' as const, priority: r.p, weight: r.w, port: r.port, target: r.target },
  })),
  fc
    .record({ name, ttl: u32, m: name, r: name, n: fc.array(u32, { minLength: 5, maxLength: 5 }) })
    .map((x) => ({
      name: x.name,
      type: DnsType.SOA,
      class: DNS_CLASS_IN,
      ttl: x.ttl,
      data: {
        kind: 'SOA' as const,
        mname: x.m,
        rname: x.r,
        serial: x.n[0],
        refresh: x.n[1],
        retry: x.n[2],
        expire: x.n[3],
        minimum: x.n[4],
      },
    })),
);

const message: fc.Arbitrary<DnsMessage> = fc
  .record({
    id: u16,
    qr: fc.boolean(),
    rcode: fc.integer({ min: 0, max: 15 }),
    questions: fc.array(fc.record({ name, type: u16, class: fc.constant(DNS_CLASS_IN) }), { maxLength: 2 }),
    answers: fc.array(record, { maxLength: 6 }),
    authorities: fc.array(record, { maxLength: 2 }),
    additionals: fc.array(record, { maxLength: 3 }),
    opt: fc.option(fc.integer({ min: 512, max: 4096 })),
  })
  .map((m) => ({
    id: m.id,
    flags: { ...emptyFlags(), qr: m.qr, rd: true, rcode: m.rcode },
    questions: m.questions,
    answers: m.answers,
    authorities: m.authorities,
    additionals: m.opt === null ? m.additionals : [...m.additionals, optRecord(m.opt)],
  }));

describe('DNS codec', () => {
  it('encodes a query for myweb-svc-np A as a resolver sends it (RFC 1035 layout, byte for byte)', () => {
    const bytes = encodeDnsMessage({
      id: 0x1234,
      flags: { ...emptyFlags(), rd: true },
      questions: [{ name: 'myweb-svc-np.default.svc.cluster.local', type: DnsType.A, class: DNS_CLASS_IN }],
      answers: [],
      authorities: [],
      additionals: [],
    });
    const expected = [
      0x12,
      0x34,
      0x01,
      0x00,
      0,
      1,
      0,
      0,
      0,
      0,
      0,
      0,
      12,
      ...Buffer.from('myweb-svc-np'),
      7,
      ...Buffer.from('default'),
      3,
      ...Buffer.from('svc'),
      7,
      ...Buffer.from('cluster'),
      5,
      ...Buffer.from('local'),
      0,
      0,
      1,
      0,
      1,
    ];
    expect([...bytes]).toEqual(expected);
  });

  it('property: decode(encode(m)) equals m for any message of A, AAAA, CNAME, PTR, SRV, SOA and OPT records', () => {
    fc.assert(
      fc.property(message, (m) => {
        expect(decodeDnsMessage(encodeDnsMessage(m))).toEqual(m);
      }),
    );
  });

  it('compresses a repeated name to a 2-byte pointer to its first occurrence', () => {
    const owner = 'myweb-svc-np.default.svc.cluster.local';
    const m: DnsMessage = {
      id: 1,
      flags: { ...emptyFlags(), qr: true },
      questions: [{ name: owner, type: DnsType.A, class: DNS_CLASS_IN }],
      answers: [
        {
          name: owner,
          type: DnsType.A,
          class: DNS_CLASS_IN,
          ttl: 5,
          data: { kind: 'A', address: '10.233.39.88' },
        },
      ],
      authorities: [],
      additionals: [],
    };
    const bytes = encodeDnsMessage(m);
    const qEnd = 12 + owner.length + 2 + 4;
    // The answer's owner name is a pointer (0xc00c) to offset 12, where the question's name starts.
    expect([bytes[qEnd], bytes[qEnd + 1]]).toEqual([0xc0, 0x0c]);
    expect(bytes.length).toBe(qEnd + 2 + 10 + 4);
  });

  it('rejects a compression pointer loop with a DnsFormatError, not a hang', () => {
    const bytes = new Uint8Array([0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
    expect(() => decodeDnsMessage(bytes)).toThrow(DnsFormatError);
    expect(() => decodeDnsMessage(bytes)).toThrow(/compression pointer/);
  });

  it('rejects two pointers pointing at each other', () => {
    // offset 12: pointer to 14; offset 14: pointer to 12 (the second is backwards, the first forwards).
    const bytes = new Uint8Array([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 14, 0xc0, 12, 0, 1, 0, 1]);
    expect(() => decodeDnsMessage(bytes)).toThrow(/does not point backwards/);
  });

  it('names the reason for a short header, truncated label, bad RDATA length and trailing bytes', () => {
    expect(() => decodeDnsMessage(new Uint8Array(5))).toThrow(
      'malformed DNS message: shorter than the 12-byte header at offset 0',
    );
    expect(() => decodeDnsMessage(new Uint8Array([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 5, 0x61]))).toThrow(
      /truncated label/,
    );
    const badA = new Uint8Array([
      0, 1, 0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 5, 0, 3, 1, 2, 3,
    ]);
    expect(() => decodeDnsMessage(badA)).toThrow(/A RDATA of 3 bytes/);
    const trailing = new Uint8Array([0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]);
    expect(() => decodeDnsMessage(trailing)).toThrow(/1 bytes after the last record/);
  });

  it('property: any byte string decodes or fails with DnsFormatError, never another exception', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeDnsMessage(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(DnsFormatError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('property: a truncated valid message fails with DnsFormatError at every cut', () => {
    fc.assert(
      fc.property(message, fc.nat(), (m, cut) => {
        const bytes = encodeDnsMessage(m);
        const at = cut % bytes.length;
        expect(() => decodeDnsMessage(bytes.subarray(0, at))).toThrow(DnsFormatError);
      }),
    );
  });

  it('escapes dots and unprintable bytes inside labels as dig does, and round-trips them', () => {
    const bytes = new Uint8Array([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 0x61, 0x2e, 0x07, 0, 0, 1, 0, 1]);
    const m = decodeDnsMessage(bytes);
    expect(m.questions[0].name).toBe('a\\.\\007');
    expect([...encodeDnsMessage(m)]).toEqual([...bytes]);
  });

  it('refuses to encode a label over 63 bytes or a name over 255', () => {
    const q = (n: string): DnsMessage => ({
      id: 1,
      flags: emptyFlags(),
      questions: [{ name: n, type: 1, class: 1 }],
      answers: [],
      authorities: [],
      additionals: [],
    });
    expect(() => encodeDnsMessage(q('a'.repeat(64)))).toThrow(DnsEncodeError);
    expect(() => encodeDnsMessage(q(Array(50).fill('abcdef').join('.')))).toThrow(/longer than 255/);
  });

  it('formats IPv6 as RFC 5952 and parses type names as dig does', () => {
    const b = new Uint8Array(16);
    b[0] = 0xfd;
    b[15] = 1;
    expect(formatIPv6Bytes(b)).toBe('fd00::1');
    expect(parseDnsType('aaaa')).toBe(28);
    expect(parseDnsType('TYPE65')).toBe(65);
    expect(parseDnsType('nope')).toBeUndefined();
  });
});
