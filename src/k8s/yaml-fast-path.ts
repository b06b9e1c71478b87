/**
 * A fast path for reading plain multi-document manifests. The `yaml` package builds a full
 * document model (CST, nodes, source ranges) before it hands out values, which is what gives
 * dpsim its line-numbered error messages, but at 20k documents (the 100k-pod scale scenario) it
 * spends ~5 s doing so. js-yaml reads the same plain YAML about seven times faster.
 *
 * The fast path is taken only where both libraries must agree: block and flow collections of
 * plain and quoted scalars. Anything else — anchors and aliases, tags, directives, `...`
 * document ends, complex (`?`) keys, merge keys, tabs, CR line ends, a byte-order mark, content
 * on a `---` line — and any text js-yaml rejects returns undefined, and the caller reads the
 * source with the `yaml` package as before (so bad input keeps its exact error and line).
 * Plain scalars resolve with the `yaml` package's own YAML 1.2 core-schema patterns and
 * conversions (e.g. `1_000` stays a string, `0o14` is 12, `1.50` is 1.5), not js-yaml's.
 */
import jsyaml from 'js-yaml';

/** One document as the fast path read it: where it starts (1-based, as the `yaml` package counts) and its value. */
export interface FastDocument {
  readonly line: number;
  readonly value: unknown;
}

/** Characters or lines that take a source off the fast path (see the module comment). */
const OFF_FAST_PATH = [
  /(?:^|[\s[{,])[&*!](?!=)/m, // anchors, aliases, tags (`!=` inside a selector string is harmless)
  /^%/m, // directives
  /^\.\.\.(?:[ \t]|$)/m, // document end markers
  /(?:^|[\s[{,])\?(?:\s|$)/m, // complex mapping keys
  /<</, // merge keys
  /[\t\r\uFEFF]/, // tabs, CR line ends, byte-order mark
];

/** YAML 1.2 core schema, resolved exactly as the `yaml` package's core tags do. */
const CORE_AS_YAML_PACKAGE = jsyaml.FAILSAFE_SCHEMA.extend({
  implicit: [
    new jsyaml.Type('tag:yaml.org,2002:null', {
      kind: 'scalar',
      resolve: (s: string) => /^(?:~|[Nn]ull|NULL)?$/.test(s),
      construct: () => null,
    }),
    new jsyaml.Type('tag:yaml.org,2002:bool', {
      kind: 'scalar',
      resolve: (s: string) => /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/.test(s),
      construct: (s: string) => s[0] === 't' || s[0] === 'T',
    }),
    new jsyaml.Type('tag:yaml.org,2002:int', {
      kind: 'scalar',
      resolve: (s: string) => /^(?:0o[0-7]+|[-+]?[0-9]+|0x[0-9a-fA-F]+)$/.test(s),
      construct: (s: string) =>
        s.startsWith('0o')
          ? Number.parseInt(s.substring(2), 8)
          : s.startsWith('0x')
            ? Number.parseInt(s.substring(2), 16)
            : Number.parseInt(s, 10),
    }),
    new jsyaml.Type('tag:yaml.org,2002:float', {
      kind: 'scalar',
      resolve: (s: string) =>
        /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/.test(s) ||
        /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/.test(s) ||
        /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/.test(s),
      construct: (s: string) =>
        s.slice(-3).toLowerCase() === 'nan'
          ? Number.NaN
          : s.slice(-3).toLowerCase() === 'inf'
            ? s[0] === '-'
              ? Number.NEGATIVE_INFINITY
              : Number.POSITIVE_INFINITY
            : Number.parseFloat(s),
    }),
  ],
});

const MARKER = /^---(?=[ \t]|$)/;
const CONTENT_LINE = /^[ \t]*[^\s#]/;

/**
 * The documents of `text`, or undefined when the text is not for the fast path (then read it
 * with the `yaml` package). Document lines and the count of documents (empty ones included)
 * follow the `yaml` package: a document starts at its `---` line, or at the first content line
 * when it has no marker; comments and blank lines before the first marker make no document.
 */
export function parseDocumentsFast(text: string): FastDocument[] | undefined {
  for (const pattern of OFF_FAST_PATH) if (pattern.test(text)) return undefined;
  const lines = text.split('\n');
  const docs: FastDocument[] = [];
  let start = 0; // first line of the current document's body (0-based)
  let docLine = -1; // 1-based line where it starts, -1 before any marker or content
  const flush = (end: number): boolean => {
    const body = lines.slice(start, end);
    if (docLine === -1) {
      const first = body.findIndex((l) => CONTENT_LINE.test(l));
      if (first === -1) return true; // only comments and blank lines: no document
      docLine = start + first + 1;
    }
    let value: unknown;
    try {
      value = jsyaml.load(body.join('\n'), { schema: CORE_AS_YAML_PACKAGE });
    } catch {
      return false;
    }
    docs.push({ line: docLine, value: value === undefined ? null : value });
    return true;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!MARKER.test(line)) continue;
    // `--- value` (a document on its marker line) is left to the yaml package.
    if (CONTENT_LINE.test(line.slice(3))) return undefined;
    if (!flush(i)) return undefined;
    start = i + 1;
    docLine = i + 1;
  }
  if (!flush(lines.length)) return undefined;
  return docs;
}
