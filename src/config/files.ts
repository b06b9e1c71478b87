/**
 * `--config FILE` (kube-proxy's flag: a file holding one KubeProxyConfiguration) and
 * `--cilium-values FILE` (a Helm values.yaml), read and parsed with one-line errors.
 */
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { type CiliumConfig, CiliumValuesError, parseCiliumValues } from './cilium-values.js';
import {
  KUBE_PROXY_CONFIG_KIND,
  type KubeProxyConfig,
  KubeProxyConfigError,
  parseKubeProxyConfiguration,
} from './kube-proxy-config.js';

export interface NodeConfigFiles {
  readonly kubeProxy?: KubeProxyConfig;
  readonly cilium?: CiliumConfig;
}

function readYaml(file: string, fail: (message: string) => Error): unknown[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw fail(`error: cannot read "${file}": ${(e as Error).message}`);
  }
  const docs = parseAllDocuments(text);
  const list = Array.isArray(docs) ? docs : [docs];
  const out: unknown[] = [];
  for (const d of list) {
    if (d.errors.length > 0) throw fail(`error: ${file}: ${d.errors[0].message.split('\n')[0]}`);
    const v = d.toJS();
    if (v !== null && v !== undefined) out.push(v);
  }
  return out;
}

export function readNodeConfigFile(
  configFile: string | undefined,
  ciliumValuesFile: string | undefined,
  fail: (message: string) => Error,
): NodeConfigFiles {
  let kubeProxy: KubeProxyConfig | undefined;
  let cilium: CiliumConfig | undefined;
  if (configFile !== undefined) {
    const docs = readYaml(configFile, fail);
    if (docs.length !== 1)
      throw fail(
        `error: ${configFile}: --config takes exactly one ${KUBE_PROXY_CONFIG_KIND} document, found ${docs.length}`,
      );
    try {
      kubeProxy = parseKubeProxyConfiguration(docs[0]);
    } catch (e) {
      if (e instanceof KubeProxyConfigError) throw fail(`error: ${configFile}: ${e.message}`);
      throw e;
    }
  }
  if (ciliumValuesFile !== undefined) {
    const docs = readYaml(ciliumValuesFile, fail);
    try {
      cilium = parseCiliumValues(docs[0] ?? {}, ciliumValuesFile);
    } catch (e) {
      if (e instanceof CiliumValuesError) throw fail(`error: ${e.message}`);
      throw e;
    }
  }
  return { ...(kubeProxy !== undefined ? { kubeProxy } : {}), ...(cilium !== undefined ? { cilium } : {}) };
}
