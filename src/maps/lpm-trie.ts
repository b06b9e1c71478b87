/**
 * BPF_MAP_TYPE_LPM_TRIE for IPv4: stores (prefix, prefixLength) → value and answers
 * longest-prefix-match lookups for a full address.
 *
 * Same shape as the kernel's trie (kernel/bpf/lpm_trie.c): a path-compressed binary trie
 * whose nodes carry a prefix and length; "intermediate" nodes exist only to branch and do
 * not count against `maxEntries`. With n stored prefixes there are at most 2n − 1 nodes,
 * so node storage is preallocated for 2 × maxEntries. Nodes live in typed arrays
 * (prefix, length, two children, flags) and values are fixed-width words per node.
 * Addresses are host-order u32 (10.0.0.1 = 0x0a000001); bit 0 of the walk is the MSB.
 */
import { EINVAL, ENOENT, ENOSPC, requirePositiveInt } from './errno.js';

const NONE = -1;
const INTERMEDIATE = 1;

function maskOf(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

/** Bit `index` (0 = most significant) of a host-order address. */
function bitAt(addr: number, index: number): number {
  return (addr >>> (31 - index)) & 1;
}

/** Length of the common leading bits of a and b, capped at `limit`. */
function commonPrefixLength(a: number, b: number, limit: number): number {
  const diff = (a ^ b) >>> 0;
  const same = diff === 0 ? 32 : Math.clz32(diff);
  return Math.min(same, limit);
}

export class BpfLpmTrie {
  readonly valueWords: number;
  readonly maxEntries: number;
  /** Values per node, `valueWords` each; read at `valueOffset(node)` for a node from `lookup`. */
  readonly values: Uint32Array;
  /** Stored (non-intermediate) prefixes. */
  count = 0;

  private readonly prefix: Uint32Array;
  private readonly length: Uint8Array;
  private readonly flags: Uint8Array;
  private readonly child0: Int32Array;
  private readonly child1: Int32Array;
  private readonly freeStack: Int32Array;
  private freeTop: number;
  private root = NONE;

  constructor(options: { valueWords: number; maxEntries: number }) {
    this.valueWords = requirePositiveInt('valueWords', options.valueWords, 1 << 16);
    this.maxEntries = requirePositiveInt('maxEntries', options.maxEntries, 1 << 22);
    const nodes = this.maxEntries * 2;
    this.values = new Uint32Array(nodes * this.valueWords);
    this.prefix = new Uint32Array(nodes);
    this.length = new Uint8Array(nodes);
    this.flags = new Uint8Array(nodes);
    this.child0 = new Int32Array(nodes).fill(NONE);
    this.child1 = new Int32Array(nodes).fill(NONE);
    this.freeStack = new Int32Array(nodes);
    for (let i = 0; i < nodes; i++) this.freeStack[i] = nodes - 1 - i;
    this.freeTop = nodes;
  }

  get byteLength(): number {
    return (
      this.values.byteLength +
      this.prefix.byteLength +
      this.length.byteLength +
      this.flags.byteLength +
      this.child0.byteLength +
      this.child1.byteLength +
      this.freeStack.byteLength
    );
  }

  valueOffset(node: number): number {
    return node * this.valueWords;
  }

  /** Node holding the longest stored prefix containing `addr`, or −1. */
  lookup(addr: number): number {
    const a = addr >>> 0;
    let found = NONE;
    let node = this.root;
    while (node !== NONE) {
      const len = this.length[node];
      if (commonPrefixLength(this.prefix[node], a, len) < len) break;
      if (this.flags[node] !== INTERMEDIATE) found = node;
      if (len === 32) break;
      node = bitAt(a, len) === 0 ? this.child0[node] : this.child1[node];
    }
    return found;
  }

  /** The stored prefix length of a node returned by `lookup`. */
  prefixLengthOf(node: number): number {
    return this.length[node];
  }

  /** The stored network address of a node returned by `lookup`. */
  prefixOf(node: number): number {
    return this.prefix[node];
  }

  /**
   * Inserts or replaces `prefix/length` and returns its node index (write the value at
   * `valueOffset(node)`; a new node's value is zeroed), or −EINVAL (length > 32) or
   * −ENOSPC (maxEntries prefixes already stored; the kernel's LPM trie says ENOSPC, not E2BIG). Host bits of `prefix` are ignored.
   */
  insert(prefix: number, length: number): number {
    if (!(length >= 0 && length <= 32 && Number.isInteger(length))) return -EINVAL;
    const key = (prefix & maskOf(length)) >>> 0;
    let parent = NONE;
    let side = 0;
    let node = this.root;
    let matched = 0;
    while (node !== NONE) {
      const len = this.length[node];
      matched = commonPrefixLength(this.prefix[node], key, Math.min(len, length));
      if (len !== matched || len === length || len === 32) break;
      parent = node;
      side = bitAt(key, len);
      node = side === 0 ? this.child0[node] : this.child1[node];
    }
    const exact = node !== NONE && this.length[node] === length && matched === length;
    if (exact && this.flags[node] !== INTERMEDIATE) return node;
    if (this.count === this.maxEntries) return -ENOSPC;
    if (exact) {
      // An intermediate node with exactly this prefix becomes a real entry.
      this.flags[node] = 0;
      this.prefix[node] = key;
      this.values.fill(0, node * this.valueWords, (node + 1) * this.valueWords);
      this.count++;
      return node;
    }
    const fresh = this.allocate(key, length, 0);
    this.count++;
    if (node === NONE) {
      this.link(parent, side, fresh);
    } else if (matched === length) {
      // The new prefix is an ancestor of `node`.
      this.setChild(fresh, bitAt(this.prefix[node], length), node);
      this.link(parent, side, fresh);
    } else {
      // They diverge after `matched` bits: branch with an intermediate node.
      const branch = this.allocate((key & maskOf(matched)) >>> 0, matched, INTERMEDIATE);
      if (bitAt(key, matched) === 1) {
        this.child1[branch] = fresh;
        this.child0[branch] = node;
      } else {
        this.child0[branch] = fresh;
        this.child1[branch] = node;
      }
      this.link(parent, side, branch);
    }
    return fresh;
  }

  /** Inserts and copies `valueWords` words of `value`: 0 or a negative errno. */
  update(prefix: number, length: number, value: Uint32Array, valueOff = 0): number {
    const node = this.insert(prefix, length);
    if (node < 0) return node;
    const v = node * this.valueWords;
    for (let i = 0; i < this.valueWords; i++) this.values[v + i] = value[valueOff + i];
    return 0;
  }

  /** Removes exactly `prefix/length`: 0, −ENOENT when not stored, −EINVAL for a bad length. */
  delete(prefix: number, length: number): number {
    if (!(length >= 0 && length <= 32 && Number.isInteger(length))) return -EINVAL;
    const key = (prefix & maskOf(length)) >>> 0;
    let grandParent = NONE;
    let grandSide = 0;
    let parent = NONE;
    let side = 0;
    let node = this.root;
    while (node !== NONE) {
      const len = this.length[node];
      const matched = commonPrefixLength(this.prefix[node], key, Math.min(len, length));
      if (len !== matched || len === length) break;
      grandParent = parent;
      grandSide = side;
      parent = node;
      side = bitAt(key, len);
      node = side === 0 ? this.child0[node] : this.child1[node];
    }
    if (node === NONE || this.length[node] !== length || this.prefix[node] !== key) return -ENOENT;
    if (this.flags[node] === INTERMEDIATE) return -ENOENT;
    this.count--;
    const c0 = this.child0[node];
    const c1 = this.child1[node];
    if (c0 !== NONE && c1 !== NONE) {
      // Still needed to branch: demote it.
      this.flags[node] = INTERMEDIATE;
      return 0;
    }
    if (c0 === NONE && c1 === NONE && parent !== NONE && this.flags[parent] === INTERMEDIATE) {
      // Removing a leaf under an intermediate node leaves that node with one child: splice it out.
      const sibling = side === 0 ? this.child1[parent] : this.child0[parent];
      this.link(grandParent, grandSide, sibling);
      this.release(parent);
      this.release(node);
      return 0;
    }
    this.link(parent, side, c0 !== NONE ? c0 : c1);
    this.release(node);
    return 0;
  }

  /** Calls `fn(prefix, length, node)` for every stored prefix (pre-order; control plane). */
  forEach(fn: (prefix: number, length: number, node: number) => void): void {
    const walk = (node: number): void => {
      if (node === NONE) return;
      if (this.flags[node] !== INTERMEDIATE) fn(this.prefix[node], this.length[node], node);
      walk(this.child0[node]);
      walk(this.child1[node]);
    };
    walk(this.root);
  }

  private allocate(prefix: number, length: number, flags: number): number {
    const n = this.freeStack[--this.freeTop];
    this.prefix[n] = prefix;
    this.length[n] = length;
    this.flags[n] = flags;
    this.child0[n] = NONE;
    this.child1[n] = NONE;
    this.values.fill(0, n * this.valueWords, (n + 1) * this.valueWords);
    return n;
  }

  private release(node: number): void {
    this.freeStack[this.freeTop++] = node;
  }

  private setChild(parent: number, side: number, child: number): void {
    if (side === 0) this.child0[parent] = child;
    else this.child1[parent] = child;
  }

  private link(parent: number, side: number, child: number): void {
    if (parent === NONE) this.root = child;
    else this.setChild(parent, side, child);
  }
}
