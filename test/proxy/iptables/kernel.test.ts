/**
 * The strongest faithfulness check: the real kernel and iptables 1.8.9 (nf_tables) accept
 * dpsim's iptables-save rendering, print it back identically, and end up with the same
 * tables when driven the way kube-proxy drives them (bootstrap commands, then
 * `iptables-restore --noflush` of the restore input). Each case uses a throw-away
 * network namespace, deleted whatever happens.
 */
import { describe, expect, it } from 'vitest';
import type { ProxyModel } from '../../../src/proxy/common/model.js';
import { compileIptables, renderIptablesSave } from '../../../src/proxy/iptables/index.js';
import {
  bootstrapScript,
  missingIptablesPrerequisite,
  saveBody,
  withNamespace,
} from '../../helpers/iptables-netns.js';
import { everyTypeModel, originModel } from './helpers.js';

const missing = missingIptablesPrerequisite();
if (missing !== null && !process.env.CI) {
  console.warn(`SKIPPED real-kernel iptables tests: ${missing}`);
}

const body = saveBody;

const scenarios: [string, () => ProxyModel, string][] = [
  ['the origin NodePort service', originModel, 'node-1'],
  ['every Service type', everyTypeModel, 'test-node'],
];

describe.skipIf(missing !== null && !process.env.CI)(
  `real kernel: iptables-restore / iptables-save 1.8.9 in a network namespace${missing ? ` (${missing})` : ''}`,
  () => {
    it.each(scenarios)(
      'accepts and round-trips the iptables-save rendering for %s',
      (_name, makeModel, node) => {
        const text = renderIptablesSave(compileIptables(makeModel(), node).ruleset);
        withNamespace(missing, (exec) => {
          exec(['iptables-restore', '--test'], text);
          exec(['iptables-restore'], text);
          expect(body(exec(['iptables-save']))).toBe(body(text));
          expect(body(exec(['iptables-save', '-c']))).toBe(body(text).replace(/^-A /gm, '[0:0] -A '));
        });
      },
    );

    it.each(scenarios)(
      'reaches the same tables for %s when driven like kube-proxy (bootstrap commands, then restore --noflush)',
      (_name, makeModel, node) => {
        const out = compileIptables(makeModel(), node);
        withNamespace(missing, (exec) => {
          // One shell for all commands: spawning ip netns exec per command is slow.
          exec(['sh', '-e'], bootstrapScript(out.bootstrapCommands));
          exec(['iptables-restore', '--noflush', '--counters'], out.restoreInput);
          expect(body(exec(['iptables-save']))).toBe(body(renderIptablesSave(out.ruleset)));
        });
      },
    );
  },
);
