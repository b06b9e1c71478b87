/**
 * The IPVS connection table (ip_vs_conn_tab), as the kernel builds it: 2^12 = 4096 hash
 * buckets with chained entries, each entry one `ip_vs_conn` (client, virtual and real
 * addr:port, protocol, state, flags, timer). Persistence templates live in the same table
 * with client port 0 and the TEMPLATE flag.
 *
 * Storage is struct-of-arrays over typed arrays with an index free list (no objects per
 * connection); destinations are kept in a parallel array of references. What a chain walk
 * compares (addresses, ports, protocol, template bit and the chain link) is also packed into
 * one 32-byte record per entry, `keys`, so each step of a walk reads one cache line, as the
 * kernel's walk reads one ip_vs_conn, instead of one line in each of six columns. The bucket is
 * jhash_3words(caddr, cport, proto, rnd) — in the kernel `rnd` is random at boot, here it
 * comes from the seeded Rng — and both directions hash the *client* address and port
 * (ip_vs_conn_hashkey_param with `inverse` for replies), so one chain lookup serves both.
 * New entries go to the head of their chain (hlist_add_head_rcu), so `/proc/net/ip_vs_conn`
 * order — bucket by bucket, newest first — is reproduced.
 *
 * (src/maps had no generic hash map exported when this was written; this table does not
 * need one: the kernel structure itself is a chained table.)
 */

import { jhash3words } from '../../maps/jhash.js';
import type { Rng } from '../../util/rng.js';
import { bswap16, bswap32 } from './hash.js';
import { EXPIRE_LATER_S } from './proto-states.js';
import type { IpvsDest } from './service-table.js';

/** CONFIG_IP_VS_TAB_BITS default: ipvsadm prints it as "(size=4096)". */
export const CONN_TAB_BITS = 12;
export const CONN_TAB_SIZE = 1 << CONN_TAB_BITS;
const CONN_TAB_MASK = CONN_TAB_SIZE - 1;

/** IP_VS_CONN_F_* bits dpsim uses (kernel values). */
export const CONN_F_INACTIVE = 0x0100;
export const CONN_F_TEMPLATE = 0x1000;

const NONE = -1;
const KEY_WORDS = 8;
const K_NEXT = 0;
const K_CADDR = 1;
const K_VADDR = 2;
const K_DADDR = 3;
const K_CPORT_VPORT = 4;
const K_DPORT_PROTO = 5;

function portPair(hi: number, lo: number): number {
  return (hi << 16) | lo;
}

/** dport, protocol and the template bit in one word. */
function dportProto(dport: number, proto: number, template: boolean): number {
  return (dport << 16) | (proto << 1) | (template ? 1 : 0);
}
const NS_PER_S = 1e9;

export class IpvsConnTable {
  private capacity: number;
  private readonly heads = new Int32Array(CONN_TAB_SIZE).fill(NONE);
  /** KEY_WORDS per entry: next, caddr, vaddr, daddr, cport·vport, dport·proto·template. */
  private keys: Int32Array;
  /** 0 = free slot. */
  proto: Uint8Array;
  state: Uint8Array;
  flags: Uint32Array;
  caddr: Uint32Array;
  vaddr: Uint32Array;
  daddr: Uint32Array;
  cport: Uint16Array;
  vport: Uint16Array;
  dport: Uint16Array;
  /** Timer expiry in simulated ns. */
  expiresNs: Float64Array;
  /** Current timeout (seconds) the timer is re-armed with after each packet. */
  timeoutS: Float64Array;
  /** Controlling template's index, or -1. */
  control: Int32Array;
  /** How many connections this entry controls (templates only). */
  nControl: Int32Array;
  /** The bound destination (null once unbound). */
  dest: (IpvsDest | null)[];
  private freeHead = NONE;
  private used = 0;
  private live = 0;
  private readonly rnd: number;

  constructor(rng: Rng, initialCapacity = 1024) {
    this.rnd = rng.nextU32();
    this.capacity = Math.max(16, initialCapacity);
    this.keys = new Int32Array(this.capacity * KEY_WORDS);
    this.proto = new Uint8Array(this.capacity);
    this.state = new Uint8Array(this.capacity);
    this.flags = new Uint32Array(this.capacity);
    this.caddr = new Uint32Array(this.capacity);
    this.vaddr = new Uint32Array(this.capacity);
    this.daddr = new Uint32Array(this.capacity);
    this.cport = new Uint16Array(this.capacity);
    this.vport = new Uint16Array(this.capacity);
    this.dport = new Uint16Array(this.capacity);
    this.expiresNs = new Float64Array(this.capacity);
    this.timeoutS = new Float64Array(this.capacity);
    this.control = new Int32Array(this.capacity);
    this.nControl = new Int32Array(this.capacity);
    this.dest = new Array<IpvsDest | null>(this.capacity).fill(null);
  }

  /** Number of live entries (connections + templates): the kernel's conn_count. */
  get count(): number {
    return this.live;
  }

  /** ip_vs_conn_hashkey: bucket of (proto, client addr, client port) with fields in network order. */
  bucketOf(proto: number, addr: number, port: number): number {
    return jhash3words(bswap32(addr), bswap16(port), proto, this.rnd) & CONN_TAB_MASK;
  }

  /** ip_vs_conn_in_get: a non-template entry for client → virtual. Returns -1 when absent. */
  findIn(proto: number, caddr: number, cport: number, vaddr: number, vport: number): number {
    const k = this.keys;
    const ports = portPair(cport, vport);
    const a = caddr | 0;
    const v = vaddr | 0;
    const p = proto << 1;
    for (let i = this.heads[this.bucketOf(proto, caddr, cport)]; i !== NONE; i = k[i * KEY_WORDS + K_NEXT]) {
      const at = i * KEY_WORDS;
      if (
        k[at + K_CADDR] === a &&
        k[at + K_VADDR] === v &&
        k[at + K_CPORT_VPORT] === ports &&
        (k[at + K_DPORT_PROTO] & 0xffff) === p
      )
        return i;
    }
    return NONE;
  }

  /** ip_vs_conn_out_get: a non-template entry for real server (saddr:sport) → client (daddr:dport). */
  findOut(proto: number, saddr: number, sport: number, daddr: number, dport: number): number {
    const k = this.keys;
    const real = saddr | 0;
    const client = daddr | 0;
    const dp = dportProto(sport, proto, false);
    for (let i = this.heads[this.bucketOf(proto, daddr, dport)]; i !== NONE; i = k[i * KEY_WORDS + K_NEXT]) {
      const at = i * KEY_WORDS;
      if (
        k[at + K_DADDR] === real &&
        k[at + K_CADDR] === client &&
        k[at + K_DPORT_PROTO] === dp &&
        k[at + K_CPORT_VPORT] >>> 16 === dport
      )
        return i;
    }
    return NONE;
  }

  /** ip_vs_ct_in_get: the persistence template for (proto, client net, virtual addr:port). */
  findTemplate(proto: number, caddr: number, vaddr: number, vport: number): number {
    const k = this.keys;
    const ports = portPair(0, vport);
    const a = caddr | 0;
    const v = vaddr | 0;
    const p = (proto << 1) | 1;
    for (let i = this.heads[this.bucketOf(proto, caddr, 0)]; i !== NONE; i = k[i * KEY_WORDS + K_NEXT]) {
      const at = i * KEY_WORDS;
      if (
        k[at + K_CADDR] === a &&
        k[at + K_CPORT_VPORT] === ports &&
        k[at + K_VADDR] === v &&
        (k[at + K_DPORT_PROTO] & 0xffff) === p
      )
        return i;
    }
    return NONE;
  }

  /**
   * ip_vs_conn_new + ip_vs_bind_dest: a new entry at its chain head, state 0, a 3 s timer,
   * counted as INACTIVE on its destination (templates count in persistConns instead).
   */
  create(
    proto: number,
    caddr: number,
    cport: number,
    vaddr: number,
    vport: number,
    daddr: number,
    dport: number,
    template: boolean,
    dest: IpvsDest,
    timeoutS: number,
    nowNs: number,
  ): number {
    const i = this.alloc();
    this.proto[i] = proto;
    this.state[i] = 0;
    this.caddr[i] = caddr;
    this.cport[i] = cport;
    this.vaddr[i] = vaddr;
    this.vport[i] = vport;
    this.daddr[i] = daddr;
    this.dport[i] = dport;
    this.control[i] = NONE;
    this.nControl[i] = 0;
    this.timeoutS[i] = timeoutS;
    this.expiresNs[i] = nowNs + timeoutS * NS_PER_S;
    this.dest[i] = dest;
    if (template) {
      this.flags[i] = CONN_F_TEMPLATE;
      dest.persistConns++;
    } else {
      this.flags[i] = CONN_F_INACTIVE;
      dest.inactConns++;
    }
    const at = i * KEY_WORDS;
    const k = this.keys;
    k[at + K_CADDR] = caddr;
    k[at + K_VADDR] = vaddr;
    k[at + K_DADDR] = daddr;
    k[at + K_CPORT_VPORT] = portPair(cport, vport);
    k[at + K_DPORT_PROTO] = dportProto(dport, proto, template);
    const b = this.bucketOf(proto, caddr, cport);
    k[at + K_NEXT] = this.heads[b];
    this.heads[b] = i;
    this.live++;
    return i;
  }

  /** ip_vs_control_add: `conn` is controlled by template `tpl`. */
  addControl(conn: number, tpl: number): void {
    this.control[conn] = tpl;
    this.nControl[tpl]++;
  }

  /** Re-arms the timer with the entry's current timeout (ip_vs_conn_put after a packet). */
  touch(i: number, nowNs: number): void {
    this.expiresNs[i] = nowNs + this.timeoutS[i] * NS_PER_S;
  }

  /**
   * Moves the connection to `state` with `timeoutS`, shifting its destination's counters
   * between active and inactive as set_tcp_state does when activity changes.
   */
  setState(i: number, state: number, active: boolean, timeoutS: number): void {
    const dest = this.dest[i];
    if (dest !== null && this.state[i] !== state) {
      const inactive = (this.flags[i] & CONN_F_INACTIVE) !== 0;
      if (!inactive && !active) {
        dest.activeConns--;
        dest.inactConns++;
        this.flags[i] |= CONN_F_INACTIVE;
      } else if (inactive && active) {
        dest.activeConns++;
        dest.inactConns--;
        this.flags[i] &= ~CONN_F_INACTIVE;
      }
    }
    this.state[i] = state;
    this.timeoutS[i] = timeoutS;
  }

  isLive(i: number): boolean {
    return i >= 0 && i < this.used && this.proto[i] !== 0;
  }

  isTemplate(i: number): boolean {
    return (this.flags[i] & CONN_F_TEMPLATE) !== 0;
  }

  /**
   * Invalidates a template whose destination is gone or quiesced (ip_vs_check_template):
   * its ports become 0xffff so no lookup matches it; it lingers until its timer fires.
   */
  invalidateTemplate(i: number): void {
    this.vport[i] = 0xffff;
    this.dport[i] = 0xffff;
    const at = i * KEY_WORDS;
    this.keys[at + K_CPORT_VPORT] = portPair(this.cport[i], 0xffff);
    this.keys[at + K_DPORT_PROTO] = dportProto(0xffff, this.proto[i], this.isTemplate(i));
  }

  /** Forces the timer to fire at `nowNs` (ip_vs_conn_expire_now). */
  expireNow(i: number, nowNs: number): void {
    if (this.expiresNs[i] > nowNs) this.expiresNs[i] = nowNs;
  }

  /**
   * The timer fired (ip_vs_conn_expire): an entry that still controls others is re-armed
   * for 60 s; otherwise it is unlinked, its destination counters drop and its template (if
   * any) loses one controlled connection. Returns true when the entry was removed.
   */
  expire(i: number, nowNs: number): boolean {
    if (this.nControl[i] > 0) {
      this.timeoutS[i] = EXPIRE_LATER_S;
      this.expiresNs[i] = nowNs + EXPIRE_LATER_S * NS_PER_S;
      return false;
    }
    this.unlink(i);
    const ct = this.control[i];
    if (ct !== NONE) this.nControl[ct]--;
    const dest = this.dest[i];
    if (dest !== null) {
      if (this.flags[i] & CONN_F_TEMPLATE) dest.persistConns--;
      else if (this.flags[i] & CONN_F_INACTIVE) dest.inactConns--;
      else dest.activeConns--;
    }
    this.free(i);
    return true;
  }

  /** Runs every timer due at `nowNs`: connections first, then templates (they outlive them). */
  expireDue(nowNs: number): number {
    let removed = 0;
    for (let pass = 0; pass < 2; pass++) {
      const wantTemplate = pass === 1;
      for (let i = 0; i < this.used; i++) {
        if (this.proto[i] === 0 || this.isTemplate(i) !== wantTemplate) continue;
        if (this.expiresNs[i] <= nowNs && this.expire(i, nowNs)) removed++;
      }
    }
    return removed;
  }

  /** Entry indices in /proc/net/ip_vs_conn order (bucket by bucket, chain head first). */
  listOrder(): number[] {
    const out: number[] = [];
    for (let b = 0; b < CONN_TAB_SIZE; b++) {
      for (let i = this.heads[b]; i !== NONE; i = this.keys[i * KEY_WORDS + K_NEXT]) out.push(i);
    }
    return out;
  }

  private unlink(i: number): void {
    const b = this.bucketOf(this.proto[i], this.caddr[i], this.cport[i]);
    let prev = NONE;
    const k = this.keys;
    for (let j = this.heads[b]; j !== NONE; j = k[j * KEY_WORDS + K_NEXT]) {
      if (j === i) {
        if (prev === NONE) this.heads[b] = k[j * KEY_WORDS + K_NEXT];
        else k[prev * KEY_WORDS + K_NEXT] = k[j * KEY_WORDS + K_NEXT];
        return;
      }
      prev = j;
    }
  }

  private free(i: number): void {
    this.proto[i] = 0;
    this.dest[i] = null;
    this.keys[i * KEY_WORDS + K_NEXT] = this.freeHead;
    this.freeHead = i;
    this.live--;
  }

  private alloc(): number {
    if (this.freeHead !== NONE) {
      const i = this.freeHead;
      this.freeHead = this.keys[i * KEY_WORDS + K_NEXT];
      return i;
    }
    if (this.used === this.capacity) this.grow();
    return this.used++;
  }

  /** Doubles every column (amortised; the kernel's table has no fixed entry limit). */
  private grow(): void {
    const cap = this.capacity * 2;
    const g = <T extends Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array>(
      a: T,
      make: (n: number) => T,
    ): T => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    const keys = new Int32Array(cap * KEY_WORDS);
    keys.set(this.keys);
    this.keys = keys;
    this.proto = g(this.proto, (n) => new Uint8Array(n));
    this.state = g(this.state, (n) => new Uint8Array(n));
    this.flags = g(this.flags, (n) => new Uint32Array(n));
    this.caddr = g(this.caddr, (n) => new Uint32Array(n));
    this.vaddr = g(this.vaddr, (n) => new Uint32Array(n));
    this.daddr = g(this.daddr, (n) => new Uint32Array(n));
    this.cport = g(this.cport, (n) => new Uint16Array(n));
    this.vport = g(this.vport, (n) => new Uint16Array(n));
    this.dport = g(this.dport, (n) => new Uint16Array(n));
    this.expiresNs = g(this.expiresNs, (n) => new Float64Array(n));
    this.timeoutS = g(this.timeoutS, (n) => new Float64Array(n));
    this.control = g(this.control, (n) => new Int32Array(n));
    this.nControl = g(this.nControl, (n) => new Int32Array(n));
    for (let i = this.capacity; i < cap; i++) this.dest.push(null);
    this.capacity = cap;
  }
}
