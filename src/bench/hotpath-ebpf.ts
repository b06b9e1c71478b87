/**
 * The eBPF-like mode as a hot-path datapath: the node's compiled LB maps and the tc program's
 * batch entry point `EbpfDatapath.hotpath` (parse, CT_SERVICE lookup, on a miss service lookup
 * + backend choice + CT insert, DNAT with incremental checksums).
 */
import type { ProxyModel } from '../proxy/common/model.js';
import { compileEbpf, DEFAULT_MAP_SIZES, EbpfDatapath, type LbAlgorithmName } from '../proxy/ebpf/index.js';
import { Rng } from '../util/rng.js';
import type { HotpathDatapath, HotpathPrepareOptions } from './hotpath-datapath.js';

export class EbpfHotpath implements HotpathDatapath {
  readonly mode: string;
  private datapath: EbpfDatapath | null = null;

  constructor(private readonly algorithm: LbAlgorithmName = 'random') {
    this.mode = algorithm === 'random' ? 'ebpf' : `ebpf-${algorithm}`;
  }

  prepare(model: ProxyModel, options: HotpathPrepareOptions): void {
    // The CT map must hold every flow (one CT_SERVICE entry each), or the LRU would evict
    // flows between passes and the benchmark would measure misses instead of the hot path.
    const mapSizes = {
      ...DEFAULT_MAP_SIZES,
      ctTcpMax: Math.max(DEFAULT_MAP_SIZES.ctTcpMax, options.expectedFlows),
    };
    const lb = compileEbpf(model, options.nodeName, { algorithm: this.algorithm, mapSizes });
    this.datapath = new EbpfDatapath(lb, { rng: new Rng(options.seed) });
  }

  processBatch(
    input: Uint8Array,
    output: Uint8Array,
    frameSize: number,
    count: number,
    nowSec: number,
  ): number {
    return this.datapath!.hotpath(input, output, frameSize, count, nowSec);
  }

  flowEntries(): number {
    return this.datapath?.lb.maps.ctTcp.count ?? 0;
  }
}
