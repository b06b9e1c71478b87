/**
 * A table's listing with its sets and chains in name order: the kernel lists objects in
 * creation order, so a table built by many incremental transactions lists the same objects
 * in another order than one full load of them. Elements and rules keep their own order
 * (nft sorts elements; rule order within a chain matters).
 */
import { renderTable } from '../../../src/proxy/nftables/render.js';
import type { NftTable } from '../../../src/proxy/nftables/table.js';

const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** `table` listed with sets and chains sorted by name, leaving out the chains in `without`. */
export function canonicalListing(table: NftTable, without: ReadonlySet<string> = new Set()): string {
  return renderTable({
    ...table,
    sets: [...table.sets].sort(byName),
    chains: table.chains.filter((c) => !without.has(c.name)).sort(byName),
  });
}
