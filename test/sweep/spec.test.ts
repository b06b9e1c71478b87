import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cellsOfShard, expandCells, parseSweepSpec, SweepSpecError } from '../../src/sweep/spec.js';

const SPEC = `
name: tiny
modes: [iptables, ebpf]
services: [10, 20, 30]
seeds: [1, 2]
settings:
  - { name: ten, endpoints: 10 }
  - { name: three, endpoints: 3 }
connections: 100
shards: 5
`;

describe('sweep spec', () => {
  it('expands modes × services × seeds × settings, mode outermost, numbered in order', () => {
    const spec = parseSweepSpec(SPEC);
    const cells = expandCells(spec);
    expect(cells).toHaveLength(2 * 3 * 2 * 2);
    expect(cells.map((c) => c.index)).toEqual(cells.map((_, i) => i));
    expect(cells[0]).toEqual({
      index: 0,
      mode: 'iptables',
      services: 10,
      seed: 1,
      setting: { name: 'ten', endpoints: 10 },
    });
    expect(cells[1].setting.name).toBe('three');
    expect(cells[12].mode).toBe('ebpf');
    expect(spec).toMatchObject({ name: 'tiny', connections: 100, shards: 5, parallelism: 4 });
  });

  it('defaults: one seed, one setting of 10 endpoints, 2000 connections, one shard per cell', () => {
    const spec = parseSweepSpec('modes: [nftables]\nservices: [5, 6]\n');
    expect(spec).toMatchObject({ name: 'sweep', seeds: [1], connections: 2000, shards: 2, parallelism: 2 });
    expect(spec.settings).toEqual([{ name: 'default', endpoints: 10 }]);
  });

  it('property: for any shard count the shards partition the cells (every cell in exactly one shard)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 24 }), (shards) => {
        const spec = parseSweepSpec(`${SPEC.replace('shards: 5', '')}shards: ${shards}\n`);
        const seen = Array.from({ length: shards }, (_, i) => cellsOfShard(spec, i)).flat();
        expect(seen.map((c) => c.index).sort((a, b) => a - b)).toEqual(expandCells(spec).map((c) => c.index));
        const sizes = Array.from({ length: shards }, (_, i) => cellsOfShard(spec, i).length);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      }),
    );
  });

  it('the hash changes with the matrix and not with key order', () => {
    const a = parseSweepSpec(SPEC);
    const reordered = parseSweepSpec(
      'shards: 5\nconnections: 100\nseeds: [1, 2]\nservices: [10, 20, 30]\nmodes: [iptables, ebpf]\nname: tiny\nsettings: [{ endpoints: 10, name: ten }, { name: three, endpoints: 3 }]\n',
    );
    expect(reordered.hash).toBe(a.hash);
    expect(parseSweepSpec(SPEC.replace('seeds: [1, 2]', 'seeds: [1, 3]')).hash).not.toBe(a.hash);
  });

  it.each([
    ['modes: [pf]\nservices: [1]', /modes: unknown mode "pf" \(known: iptables, nftables, ipvs, ebpf\)/],
    ['modes: [ebpf]', /services must be a non-empty list/],
    ['modes: [ebpf]\nservices: [0]', /services must be whole numbers in 1\.\.100000, got 0/],
    ['modes: [ebpf]\nservices: [1]\nshards: 2', /shards must be whole numbers in 1\.\.1, got 2/],
    ['modes: [ebpf]\nservices: [1]\nflows: 2', /unknown key "flows"/],
    ['modes: [ebpf]\nservices: [1]\nname: Big_Name', /name must be a lowercase DNS label/],
    ['modes: [ebpf]\nservices: [1]\nsettings: [{ name: a }, { name: a }]', /name "a" appears twice/],
    [
      'modes: [ebpf]\nservices: [1]\nsettings: [{ name: a, maglev: true }]',
      /settings\[0\]: unknown key "maglev"/,
    ],
    ['- a\n- b', /expected a mapping/],
    ['modes: [ebpf\n', /not valid YAML/],
  ])('refuses %j with one clear line', (text, message) => {
    expect(() => parseSweepSpec(text, 'spec.yaml')).toThrow(SweepSpecError);
    expect(() => parseSweepSpec(text, 'spec.yaml')).toThrow(message);
  });

  it('refuses a shard index outside the spec', () => {
    const spec = parseSweepSpec(SPEC);
    expect(() => cellsOfShard(spec, 5)).toThrow(/shard index must be a whole number in 0\.\.4, got 5/);
  });
});
