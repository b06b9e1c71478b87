/**
 * A differential check of rule counters after retransmissions: the same unanswered
 * connections (every SYN lost behind the node, so the client retransmits it) sent through
 * dpsim and through the real kernel loaded with dpsim's rules, and the `[packets:bytes]`
 * counters of the entry node's rules compared. It shows whether the nat table runs once per
 * connection (the kernel's nf_nat_initialized) while filter rules see every packet.
 */
import type { ProxyModel } from '../proxy/common/model.js';
import { buildSimulation } from '../sim/simulation.js';
import { PrerequisiteError, RuleLoadError } from './errors.js';
import { cleanupStaleNamespaces } from './lifecycle.js';
import { NetnsTopology } from './netns.js';
import { missingKernelPrerequisites } from './prerequisites.js';
import { renderNodeRules } from './rules.js';

export interface RetransmitOptions {
  readonly manifests: string;
  /** Where the client connects (an address of `entryNode`), e.g. a NodePort. */
  readonly host: string;
  readonly port: number;
  readonly entryNode: string;
  /** Connections, opened one after the other. */
  readonly connections: number;
  /** How long each connection keeps retransmitting its SYN before the client gives up. */
  readonly connectTimeoutMs: number;
}

/** Rule (table, chain and text, counters stripped) → `[packets:bytes]`. */
export type RuleCounters = Map<string, string>;

export interface RetransmitResult {
  readonly kernel: RuleCounters;
  readonly dpsim: RuleCounters;
}

/** Reads `iptables-save -c` text into rule → counter. */
export function ruleCounters(saved: string): RuleCounters {
  const out: RuleCounters = new Map();
  let table = '';
  for (const line of saved.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1);
    const m = /^(\[\d+:\d+\]) (-A .*)$/.exec(line);
    if (m) out.set(`${table} ${m[2]}`, m[1]);
  }
  return out;
}

/** The client's connections: each opened, left retransmitting, abandoned after the timeout. */
const CONNECT_SCRIPT = `
'use strict';
const net = require('node:net');
const [host, port, count, timeoutMs] = JSON.parse(process.argv[1]);
(async () => {
  for (let i = 0; i < count; i++) {
    await new Promise((resolve) => {
      const s = net.connect({ host, port });
      const done = () => { s.destroy(); resolve(); };
      s.on('connect', done);
      s.on('error', done);
      setTimeout(done, timeoutMs);
    });
  }
})();
`;

function dpsimSide(o: RetransmitOptions): { model: ProxyModel; counters: RuleCounters } {
  const sim = buildSimulation({ manifests: o.manifests, mode: 'iptables', conntrackMax: 4096 });
  for (let i = 0; i < o.connections; i++) {
    sim.curl({ from: 'client', url: `http://${o.host}:${o.port}/`, connectTimeoutMs: o.connectTimeoutMs });
  }
  const proxy = sim.proxies.get(o.entryNode);
  if (proxy === undefined) throw new Error(`no node "${o.entryNode}" in the scenario`);
  return { model: sim.model, counters: ruleCounters(proxy.dump({ counters: true })) };
}

async function kernelSide(o: RetransmitOptions, model: ProxyModel): Promise<RuleCounters> {
  const missing = missingKernelPrerequisites(['iptables']);
  if (missing.length > 0) throw new PrerequisiteError(missing);
  cleanupStaleNamespaces();
  const topo = await NetnsTopology.create({
    clientIP: '192.168.100.1',
    nodes: model.nodes,
    pods: [],
    clientRoutes: [],
  });
  try {
    for (const node of model.nodes) {
      const r = await topo.exec(
        node.name,
        ['iptables-restore', '-w', '5'],
        renderNodeRules(model, node.name, 'iptables'),
      );
      if (r.code !== 0) throw new RuleLoadError(node.name, 'iptables-restore', r.stderr || `exit ${r.code}`);
    }
    // SYN retransmissions at 1 s, then 3 s (doubling), as dpsim's TCP client does
    // (tcp_syn_linear_timeouts = 0, Linux before 6.5). Newer kernels default to 4 linear 1 s
    // retries, which would leave a connect timeout only 0.5 s either side of a retransmission —
    // too little on a loaded machine. Older kernels have no such sysctl and already double.
    await topo.exec('client', ['sysctl', '-q', '-w', 'net.ipv4.tcp_syn_linear_timeouts=0']);
    const args = JSON.stringify([o.host, o.port, o.connections, o.connectTimeoutMs]);
    const r = await topo.exec(
      'client',
      [process.execPath, '-e', CONNECT_SCRIPT, args],
      '',
      o.connections * o.connectTimeoutMs + 10_000,
    );
    if (r.code !== 0) throw new Error(`client failed (exit ${r.code}): ${r.stderr.trim()}`);
    return ruleCounters((await topo.exec(o.entryNode, ['iptables-save', '-c'])).stdout);
  } finally {
    await topo.destroy();
  }
}

export async function runRetransmitDifferential(o: RetransmitOptions): Promise<RetransmitResult> {
  const { model, counters } = dpsimSide(o);
  return { dpsim: counters, kernel: await kernelSide(o, model) };
}
