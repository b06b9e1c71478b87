/**
 * The plain typed-array JS yardstick: bench/c/hotpath-ref.c written line for line in
 * JavaScript, so one run can show what V8 itself makes of the eBPF hot path's work, apart from
 * anything dpsim's structure adds. Same per-frame work as the C and as
 * `EbpfDatapath.hotpath`: parse, CT_SERVICE lookup in a table laid out like BpfInlineHashMap
 * (8-word slots, a control byte per slot, homes on even slots, linear probing, fastHash4 of
 * the four key words), on a miss service check + random backend + insert, CT refresh (lifetime,
 * SEEN_NON_SYN, packet count), backend array with a present word, DNAT with RFC 1624
 * checksums. Byte loads and stores only (as the C), no classes or maps on the path.
 * Not a model of any proxy: a baseline, like naive-js-map, and not run by the simulation.
 */
import { fastHash4 } from '../maps/flow-hash.js';
import type { ProxyModel } from '../proxy/common/model.js';
import { DEFAULT_MAP_SIZES } from '../proxy/ebpf/index.js';
import { parseIPv4 } from '../util/ipv4.js';
import { Rng } from '../util/rng.js';
import type { HotpathDatapath, HotpathPrepareOptions } from './hotpath-datapath.js';

const ETH_HLEN = 14;
const TCP = 6;
const K3_TCP_SERVICE = TCP | (4 << 8); // proto | TUPLE_SERVICE << 8, as CT_SERVICE keys
const SEEN_NON_SYN = 0x0001; // CtEntryFlag values (src/proxy/ebpf/layouts.ts)
const CLOSING = 0x0006;
const SERVICE_LIFETIME = 8000;
const SYN_TIMEOUT = 60;
const TCP_SYN = 0x02;
const SLOT_WORDS = 8;
const SEED = 0x2f6b1d35;
const TWO_POW_M32 = 2 ** -32;

export class PlainTypedArrayHotpath implements HotpathDatapath {
  readonly mode = 'plain-js';
  private slots = new Int32Array(0);
  private ctrl = new Uint8Array(0);
  private nBuckets = 0;
  private nSlots = 0;
  private count = 0;
  private svcAddr = 0;
  private svcPort = 0;
  private nBackends = 0;
  /** Backend id i (1..n): words 3i, 3i+1, 3i+2 = addr, port, present. */
  private backends = new Int32Array(0);
  private rng = new Rng(1);

  prepare(model: ProxyModel, options: HotpathPrepareOptions): void {
    const sp = model.servicePorts.find((p) => p.protocol === 'TCP');
    if (sp === undefined) throw new Error('plain-js hot path: the model has no TCP service port');
    const ready = sp.endpoints.filter((e) => e.ready);
    this.svcAddr = parseIPv4(sp.clusterIP) | 0;
    this.svcPort = sp.port;
    this.nBackends = ready.length;
    this.backends = new Int32Array(3 * (ready.length + 1));
    ready.forEach((e, i) => {
      this.backends[3 * (i + 1)] = parseIPv4(e.ip) | 0;
      this.backends[3 * (i + 1) + 1] = e.port;
      this.backends[3 * (i + 1) + 2] = 1;
    });
    // The same capacity as the eBPF CT map the ebpf mode walks (hotpath-ebpf.ts).
    const entries = Math.max(DEFAULT_MAP_SIZES.ctTcpMax, options.expectedFlows);
    const minSlots = Math.max(entries + 1, entries + Math.floor(entries / 4));
    this.nBuckets = Math.floor((minSlots + 1) / 2);
    this.nSlots = this.nBuckets * 2;
    this.slots = new Int32Array(this.nSlots * SLOT_WORDS);
    this.ctrl = new Uint8Array(this.nSlots);
    this.count = 0;
    this.rng = new Rng(options.seed);
  }

  processBatch(input: Uint8Array, output: Uint8Array, frameSize: number, count: number, now: number): number {
    const slots = this.slots;
    const ctrl = this.ctrl;
    const be = this.backends;
    const nSlots = this.nSlots;
    const nBuckets = this.nBuckets;
    const nBackends = this.nBackends;
    let translated = 0;
    for (let i = 0, f = 0; i < count; i++, f += frameSize) {
      const ip = f + ETH_HLEN;
      if (input[f + 12] !== 0x08 || input[f + 13] !== 0 || input[ip] !== 0x45 || input[ip + 9] !== TCP)
        continue;
      const l4 = ip + 20;
      const daddr = (input[ip + 16] << 24) | (input[ip + 17] << 16) | (input[ip + 18] << 8) | input[ip + 19];
      const saddr = (input[ip + 12] << 24) | (input[ip + 13] << 16) | (input[ip + 14] << 8) | input[ip + 15];
      const ports = (input[l4] << 24) | (input[l4 + 1] << 16) | (input[l4 + 2] << 8) | input[l4 + 3];
      const h = fastHash4(daddr, saddr, ports, K3_TCP_SERVICE, SEED);
      const tag = 0x80 | (h & 0x3f);
      const home = (((h >>> 0) * nBuckets * TWO_POW_M32) | 0) * 2;
      // CT lookup: slot or −1.
      let s = home;
      for (;;) {
        const c = ctrl[s];
        if (c === 0) {
          s = -1;
          break;
        }
        if (c === tag) {
          const b = s * SLOT_WORDS;
          if (
            slots[b] === daddr &&
            slots[b + 1] === saddr &&
            slots[b + 2] === ports &&
            slots[b + 3] === K3_TCP_SERVICE
          )
            break;
        }
        s = s + 1 === nSlots ? 0 : s + 1;
      }
      if (s < 0) {
        // Miss: service check, random backend, insert.
        if (daddr !== this.svcAddr || (ports & 0xffff) !== this.svcPort || this.count >= nSlots - 1) continue;
        s = home;
        while (ctrl[s] !== 0) s = s + 1 === nSlots ? 0 : s + 1;
        ctrl[s] = tag;
        const b = s * SLOT_WORDS;
        slots[b] = daddr;
        slots[b + 1] = saddr;
        slots[b + 2] = ports;
        slots[b + 3] = K3_TCP_SERVICE;
        slots[b + 4] = 0;
        slots[b + 5] = 1 << 16; // rev-NAT index 1
        slots[b + 6] = (this.rng.nextU32() % nBackends) + 1;
        slots[b + 7] = 0;
        this.count++;
      }
      const v = s * SLOT_WORDS + 4;
      // CT_SERVICE refresh: lifetime, SEEN_NON_SYN, packet count.
      const flags = slots[v + 1];
      if ((flags & (CLOSING | SEEN_NON_SYN)) === SEEN_NON_SYN) slots[v] = now + SERVICE_LIFETIME;
      else if ((flags & CLOSING) === CLOSING) slots[v] = now + 10;
      else if ((flags & SEEN_NON_SYN) === 0 && (input[l4 + 13] & TCP_SYN) === 0) {
        slots[v + 1] = flags | SEEN_NON_SYN;
        slots[v] = now + SERVICE_LIFETIME;
      } else slots[v] = now + ((flags & SEEN_NON_SYN) !== 0 ? SERVICE_LIFETIME : SYN_TIMEOUT);
      slots[v + 3] = (slots[v + 3] + 1) | 0;
      const id = slots[v + 2];
      if (id <= 0 || id > nBackends || be[3 * id + 2] === 0) continue;
      const baddr = be[3 * id];
      const bport = be[3 * id + 1];
      // DNAT with RFC 1624 incremental checksums.
      const dport = ports & 0xffff;
      output[ip + 16] = baddr >>> 24;
      output[ip + 17] = baddr >>> 16;
      output[ip + 18] = baddr >>> 8;
      output[ip + 19] = baddr;
      output[l4 + 2] = bport >>> 8;
      output[l4 + 3] = bport;
      const d = ((~daddr >>> 16) & 0xffff) + (~daddr & 0xffff) + (baddr >>> 16) + (baddr & 0xffff);
      const ipc = fold((~((input[ip + 10] << 8) | input[ip + 11]) & 0xffff) + d);
      output[ip + 10] = ipc >>> 8;
      output[ip + 11] = ipc;
      const l4c = fold((~((input[l4 + 16] << 8) | input[l4 + 17]) & 0xffff) + d + (~dport & 0xffff) + bport);
      output[l4 + 16] = l4c >>> 8;
      output[l4 + 17] = l4c;
      translated++;
    }
    return translated;
  }

  flowEntries(): number {
    return this.count;
  }
}

/** One's-complement fold of a sum of 16-bit words, complemented (0 stays 0, as the C). */
function fold(s: number): number {
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return s === 0 ? 0 : ~s & 0xffff;
}
