import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineCounter, parseAllDocuments, stringify } from 'yaml';
import { parseManifests } from '../../src/k8s/manifests.js';
import { originScenarioYaml } from '../../src/k8s/scenarios/origin.js';
import { parseDocumentsFast } from '../../src/k8s/yaml-fast-path.js';

/** What the `yaml` package makes of a text: each document's start line and value. */
function viaYamlPackage(text: string): { line: number; value: unknown }[] {
  const lineCounter = new LineCounter();
  return parseAllDocuments(text, { lineCounter }).map((d) => {
    expect(d.errors).toEqual([]);
    return { line: lineCounter.linePos(d.range[0]).line, value: d.toJS() };
  });
}

function fixtureTexts(): string[] {
  const root = fileURLToPath(new URL('../../fixtures', import.meta.url));
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.ya?ml$/.test(name)) out.push(readFileSync(path, 'utf8'));
    }
  };
  walk(root);
  return out;
}

describe('YAML fast path', () => {
  it('reads every fixture and the origin scenario as the yaml package does (values and document lines)', () => {
    const texts = [originScenarioYaml, ...fixtureTexts()];
    expect(texts.length).toBeGreaterThan(5);
    for (const text of texts) {
      const fast = parseDocumentsFast(text);
      if (fast !== undefined) expect(fast).toEqual(viaYamlPackage(text));
    }
    expect(parseDocumentsFast(originScenarioYaml)).toBeDefined();
  });

  it('counts documents and their start lines as the yaml package does: markers, comments, empty documents', () => {
    const cases = [
      'a: 1\n',
      '# c\n\na: 1\n---\nb: 2\n',
      '---\na: 1\n---\n',
      '---\n---\n',
      '\n\n---\n# x\n\nb: 1\n--- # c\nc: 1\n',
      '---\n',
      '',
      '# only a comment\n',
      'a: 1\n---',
      '# head\n---\nkind: Service\nmetadata:\n  name: x\n',
      'a: |\n  # not a comment\n  x\nb: >-\n  folded\n  text\n',
      'ports: [{port: 80, name: "h"}, {port: 0o17}]\nx: 0x1F\ny: 1_000\nz: 1.50\nw: +12\nv: -0\nu: .inf\nt: ~\ns: True\nr: yes\nq: 1e3\np: "012"\n',
      'a:\nb: null\nc: NULL\nd: ""\n',
    ];
    for (const text of cases) expect(parseDocumentsFast(text)).toEqual(viaYamlPackage(text));
  });

  it('leaves anchors, tags, directives, document ends, merge keys, tabs and CR line ends to the yaml package', () => {
    for (const text of [
      'a: &x 1\nb: *x\n',
      'a: !!str 1\n',
      '%YAML 1.2\n---\na: 1\n',
      'a: 1\n...\n',
      'a: {b: 1}\nc:\n  <<: {d: 2}\n',
      'a:\n\tb: 1\n',
      'a: 1\r\n',
      '? [a]\n: 1\n',
      '--- {a: 1}\n',
    ])
      expect(parseDocumentsFast(text)).toBeUndefined();
  });

  it('gives up (so the yaml package reports the error with its line) on text js-yaml rejects', () => {
    const bad = 'apiVersion: v1\nkind: Service\n---\nmetadata:\n  name: a\n  name: b\n';
    expect(parseDocumentsFast(bad)).toBeUndefined();
    const docs = parseManifests(bad, 'dup.yaml');
    expect(docs[1]?.error?.message).toMatch(
      /^error: error parsing dup\.yaml: document 2 \(line 6\): Map keys must be unique/,
    );
  });

  it('property: any JSON-like manifest the yaml package writes (block or flow) reads the same through the fast path', () => {
    const scalar = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.double({ noNaN: true }),
      fc.boolean(),
      fc.constant(null),
      fc.constantFrom('80', '0o17', '0x1F', '1_000', 'true', 'yes', '~', '1.50', '.inf', '-0', '+3', '1e3'),
    );
    const value = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: 'small' }, scalar, tie('arr'), tie('obj')),
      arr: fc.array(tie('v'), { maxLength: 4 }),
      obj: fc.dictionary(fc.string({ minLength: 1 }), tie('v'), { maxKeys: 4 }),
    })).obj;
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 4 }), fc.boolean(), (docs, flow) => {
        const text = docs.map((d) => stringify(d, flow ? { collectionStyle: 'flow' } : {})).join('---\n');
        const fast = parseDocumentsFast(text);
        if (fast !== undefined) expect(fast).toEqual(viaYamlPackage(text));
      }),
      { numRuns: 300 },
    );
  });
});
