/**
 * The baseline the typed-array datapaths are measured against: the same per-packet work
 * (parse, flow lookup, on a miss service lookup + random backend + flow insert, DNAT with
 * incremental checksums) written the way a first JS attempt would — flow and service tables
 * are `Map`s keyed by template strings, a flow's state is an object. It allocates per packet
 * (the key string) on purpose: that is the cost being shown. Not a model of any real proxy.
 */
import type { ProxyModel } from '../proxy/common/model.js';
import { parseIPv4 } from '../util/ipv4.js';
import { Rng } from '../util/rng.js';
import { checksumReplace16, checksumReplace32 } from '../wire/checksum.js';
import { IpProtocol } from '../wire/ip-protocol.js';
import type { HotpathDatapath, HotpathPrepareOptions } from './hotpath-datapath.js';

interface Backend {
  readonly addr: number;
  readonly port: number;
}

interface FlowState {
  readonly backend: Backend;
  lastSeen: number;
  packets: number;
}

export class NaiveMapHotpath implements HotpathDatapath {
  readonly mode = 'naive-js-map';
  private readonly services = new Map<string, Backend[]>();
  private readonly flows = new Map<string, FlowState>();
  private rng = new Rng(1);

  prepare(model: ProxyModel, options: HotpathPrepareOptions): void {
    this.services.clear();
    this.flows.clear();
    this.rng = new Rng(options.seed);
    for (const sp of model.servicePorts) {
      if (sp.protocol !== 'TCP') continue;
      const backends = sp.endpoints
        .filter((e) => e.ready)
        .map((e) => ({ addr: parseIPv4(e.ip), port: e.port }));
      this.services.set(`${parseIPv4(sp.clusterIP)}:${sp.port}:6`, backends);
    }
  }

  processBatch(
    input: Uint8Array,
    output: Uint8Array,
    frameSize: number,
    count: number,
    nowSec: number,
  ): number {
    let translated = 0;
    for (let i = 0, f = 0; i < count; i++, f += frameSize) {
      const ip = f + 14;
      if (((input[f + 12] << 8) | input[f + 13]) !== 0x0800 || input[ip + 9] !== IpProtocol.TCP) continue;
      const l4 = ip + 20;
      const saddr =
        ((input[ip + 12] << 24) | (input[ip + 13] << 16) | (input[ip + 14] << 8) | input[ip + 15]) >>> 0;
      const daddr =
        ((input[ip + 16] << 24) | (input[ip + 17] << 16) | (input[ip + 18] << 8) | input[ip + 19]) >>> 0;
      const sport = (input[l4] << 8) | input[l4 + 1];
      const dport = (input[l4 + 2] << 8) | input[l4 + 3];
      const key = `${saddr}:${sport}:${daddr}:${dport}:6`;
      let flow = this.flows.get(key);
      if (flow === undefined) {
        const backends = this.services.get(`${daddr}:${dport}:6`);
        if (backends === undefined || backends.length === 0) continue;
        flow = { backend: backends[this.rng.nextU32() % backends.length], lastSeen: nowSec, packets: 0 };
        this.flows.set(key, flow);
      }
      flow.lastSeen = nowSec;
      flow.packets++;
      const { addr, port } = flow.backend;
      output[ip + 16] = addr >>> 24;
      output[ip + 17] = addr >>> 16;
      output[ip + 18] = addr >>> 8;
      output[ip + 19] = addr;
      const ipc = checksumReplace32((input[ip + 10] << 8) | input[ip + 11], daddr, addr);
      output[ip + 10] = ipc >>> 8;
      output[ip + 11] = ipc;
      output[l4 + 2] = port >>> 8;
      output[l4 + 3] = port;
      const l4c = checksumReplace16(
        checksumReplace32((input[l4 + 16] << 8) | input[l4 + 17], daddr, addr),
        dport,
        port,
      );
      output[l4 + 16] = l4c >>> 8;
      output[l4 + 17] = l4c;
      translated++;
    }
    return translated;
  }

  flowEntries(): number {
    return this.flows.size;
  }
}
