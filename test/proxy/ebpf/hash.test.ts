import { describe, expect, it } from 'vitest';
import {
  ciliumMaglevHashV4,
  jhash2words,
  jhashBytes,
  murmur3x64x128,
  rawBe16,
  rawBe32,
} from '../../../src/proxy/ebpf/hash.js';

const text = (s: string) => new TextEncoder().encode(s);

describe('jhash (lookup3 as in Linux)', () => {
  it('matches the published lookup3 vectors', () => {
    expect(jhashBytes(new Uint8Array(0), 0)).toBe(0xdeadbeef);
    expect(jhashBytes(text('Four score and seven years ago'), 0)).toBe(0x17770551);
    expect(jhashBytes(text('Four score and seven years ago'), 1)).toBe(0xcd628161);
  });

  it("reproduces Cilium's IPv4 Maglev hash for 10.0.0.1:40000 → :80/TCP with the default seed (slot 10725 of 16381)", () => {
    const h = ciliumMaglevHashV4(0x0a000001, 40000, 80, 6, 0x71dcda46);
    expect(h).toBe(0xd3b0bd27);
    expect(h % 16381).toBe(10725);
  });

  it("reproduces Katran's jhash_2words for 192.168.1.1:31337 → :80 (ring position 48717)", () => {
    const ports = ((rawBe16(80) << 16) | rawBe16(31337)) >>> 0;
    const h = jhash2words(rawBe32(0xc0a80101), ports, 33554944);
    expect(h).toBe(0xc7e68632);
    expect(h % 65537).toBe(48717);
  });

  it('reads raw network-order fields as little-endian words', () => {
    expect(rawBe32(0x0a000001)).toBe(0x0100000a);
    expect(rawBe16(80)).toBe(0x5000);
  });
});

describe('MurmurHash3_x64_128', () => {
  it('matches the smhasher reference for short and block-sized inputs', () => {
    expect(murmur3x64x128(text('hello'), 0)).toEqual([0xcbd8a7b341bd9b02n, 0x5b1e906a48ae1d19n]);
    expect(murmur3x64x128(text('The quick brown fox jumps over the lazy dog'), 0)).toEqual([
      0xe34bbc7bbc071b6cn,
      0x7a433ca9c49a9347n,
    ]);
  });

  it('changes with the seed', () => {
    expect(murmur3x64x128(text('hello'), 1)).not.toEqual(murmur3x64x128(text('hello'), 0));
  });
});
