/**
 * `dpsim rules --sync-log [--changes SPEC]`: a node's kube-proxy syncs, one after another,
 * through scripted changes — when, full or partial and why, which Services, how many rules,
 * and the exact iptables-restore input (iptables mode) or `nft -f` transactions (nftables
 * mode). Every line that is not restore input or a transaction starts with `#`, which
 * iptables-restore and nft skip.
 */
import type { NftablesSyncRecord } from '../proxy/nftables/sync.js';
import type { Simulation } from '../sim/simulation.js';
import { runSyncLog, type SyncLogEntry, SyncLogError, type TimedChange } from '../sim/sync-log.js';
import { ChurnSpecError, parseChurnSpec } from '../traffic/churn.js';
import { Rng } from '../util/rng.js';
import { CliError } from './common.js';

/** `KIND=N@MS,…`: the churn items `load --churn` takes, timed in milliseconds of simulated time. */
export function parseTimedChanges(spec: string): TimedChange[] {
  try {
    return parseChurnSpec(spec).map((e) => ({ ...e, atMs: e.atPacket }));
  } catch (e) {
    if (e instanceof ChurnSpecError)
      throw new CliError(`error: --changes: ${e.message.replace('@PACKET', '@MS')}`, 2);
    throw e;
  }
}

const seconds = (ns: number) => `${(ns / 1e9).toFixed(3)}s`;

const servicesText = (kind: 'full' | 'partial', written: readonly string[]) =>
  kind === 'full'
    ? `${written.length} Services`
    : `${written.length} changed Service${written.length === 1 ? '' : 's'}${
        written.length > 0 ? ` (${written.join(', ')})` : ''
      }`;

/** An nftables sync: the stale-chain clean-up transaction (when one runs), then the sync's own. */
function formatNftablesSync(atNs: number, s: NftablesSyncRecord): string {
  let out = '';
  if (s.cleanupTransaction !== '') {
    const n = s.cleanupTransaction.split('\n').length - 1;
    out +=
      `# ${seconds(atNs)} ${s.node}: delete ${n} stale chain${n === 1 ? '' : 's'} flushed over 1 s ago, ` +
      `a transaction of its own${s.cleanupError !== undefined ? ` FAILED: ${s.cleanupError}` : ''}\n`;
    out += s.cleanupTransaction;
  }
  const why = s.kind === 'full' ? `full sync (${s.fullReason})` : 'partial sync';
  const w = s.written;
  out +=
    `# ${seconds(atNs)} ${s.node}: ${why}${s.ok ? '' : ` FAILED: ${s.error}`}, ${servicesText(s.kind, s.servicesWritten)}; ` +
    `written: ${w.rules} rules, ${w.serviceChains} service chains, ${w.elementsAdded} elements added, ${w.elementsDeleted} deleted; ` +
    `total: ${s.total.chains} chains, ${s.total.rules} rules, ${s.total.elements} elements` +
    (s.staleChains.length > 0 ? `; stale chains flushed: ${s.staleChains.join(' ')}` : '') +
    (s.deletedSets.length > 0 ? `; affinity sets deleted: ${s.deletedSets.join(' ')}` : '') +
    '\n';
  return out + s.transaction;
}

export function formatSyncLog(entries: readonly SyncLogEntry[]): string {
  let out = '';
  for (const e of entries) {
    if (e.type === 'change') {
      const c = e.change;
      out += `# ${seconds(e.atNs)} change ${c.kind}=${c.count}${c.ok ? '' : ' (incomplete)'}: ${c.messages.join('; ')}\n`;
      continue;
    }
    if (e.type === 'nftables-sync') {
      out += formatNftablesSync(e.atNs, e.sync);
      continue;
    }
    const s = e.sync;
    const why = s.kind === 'full' ? `full sync (${s.fullReason})` : 'partial sync';
    const services =
      s.kind === 'full'
        ? `${s.servicesWritten.length} Services`
        : `${s.servicesWritten.length} changed Service${s.servicesWritten.length === 1 ? '' : 's'}${
            s.servicesWritten.length > 0 ? ` (${s.servicesWritten.join(', ')})` : ''
          }`;
    out +=
      `# ${seconds(e.atNs)} ${s.node}: ${why}${s.ok ? '' : ` FAILED: ${s.error}`}, ${services}; ` +
      `rules written: filter ${s.rulesWritten.filter}, nat ${s.rulesWritten.nat}; ` +
      `rules total: filter ${s.rulesTotal.filter}, nat ${s.rulesTotal.nat}` +
      (s.deletedChains.length > 0 ? `; deleted chains: ${s.deletedChains.join(' ')}` : '') +
      (s.largeClusterMode ? '; large-cluster mode' : '') +
      '\n';
    out += s.restoreInput;
  }
  return out;
}

/** The sync log of `node` through `changes`, as printed text. */
export function syncLogText(
  sim: Simulation,
  node: string,
  changes: readonly TimedChange[],
  seed: number,
): string {
  try {
    return formatSyncLog(runSyncLog(sim, node, changes, new Rng(seed)));
  } catch (e) {
    if (e instanceof SyncLogError) throw new CliError(`error: --sync-log: ${e.message}`);
    throw e;
  }
}
