/**
 * A real node's `ipset list` as input (issue 12 item 6): its members replace the compiled
 * ipsets that kube-proxy's IPVS-mode iptables rules match on; dpsim's own listing fed back
 * prints the same and decides the same, over generated scenarios; an edited listing changes
 * the outcome; what it cannot read is an error naming the line.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IpsetParseError, parseIpsetList } from '../../../src/proxy/ipvs/parse-ipset.js';
import { buildSimulation } from '../../../src/sim/simulation.js';
import { dpsim } from '../../cli/harness.js';
import { genService, scenario } from '../../helpers/generated-scenarios.js';

/** The default scenario's `ipset list` on node1. */
function defaultListing(): string {
  return buildSimulation({ mode: 'ipvs', seed: 1 }).rules('node1', { part: 'ipset' });
}

/** The listing with one set's block replaced by `edit(block)`. */
function editSet(listing: string, name: string, edit: (block: string) => string): string {
  return listing
    .split('\n\n')
    .map((b) => (b.startsWith(`Name: ${name}\n`) ? edit(b) : b))
    .join('\n\n');
}

describe('ipset list as input', () => {
  it('round trip over generated scenarios: node1’s ipset list fed back lists the same sets and gives every curl the same exit code, backend and seen source address', () => {
    fc.assert(
      fc.property(
        fc.array(genService, { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 1, max: 1000 }),
        (svcs, seed) => {
          const manifests = scenario(svcs);
          const compiled = buildSimulation({ manifests, mode: 'ipvs', seed });
          const listing = compiled.rules('node1', { part: 'ipset' });
          const fed = buildSimulation({ manifests, mode: 'ipvs', seed, ipsetList: listing });
          // The listing is node1's (node2's rules reference other members): compare where it came from.
          expect(fed.rules('node1', { part: 'ipset' })).toBe(listing);
          const probes: { from: string; url: string }[] = [];
          for (const sp of compiled.model.servicePorts.filter((s) => s.name.startsWith('svc'))) {
            probes.push({ from: 'client', url: `http://${sp.clusterIP}:${sp.port}/` });
            if (sp.nodePort !== 0)
              probes.push({ from: 'client', url: `http://192.168.100.100:${sp.nodePort}/` });
            for (const ip of sp.loadBalancerIPs)
              probes.push({ from: 'client', url: `http://${ip}:${sp.port}/` });
            // A pod calling its own Service may land on itself: the hairpin KUBE-LOOP-BACK handles.
            const pod = sp.endpoints.find((e) => e.nodeName === 'node1')?.podName;
            if (pod !== undefined) probes.push({ from: pod, url: `http://${sp.clusterIP}:${sp.port}/` });
          }
          for (const { from, url } of probes) {
            for (let k = 0; k < 2; k++) {
              const a = compiled.curl({ from, url, connectTimeoutMs: 300 });
              const b = fed.curl({ from, url, connectTimeoutMs: 300 });
              expect([from, url, b.exitCode, b.servedBy]).toEqual([from, url, a.exitCode, a.servedBy]);
            }
          }
          expect(fed.conntrackList('node1')).toBe(compiled.conntrackList('node1'));
        },
      ),
      { numRuns: 8 },
    );
  });

  it('a listing with a member removed changes the outcome: without its KUBE-CLUSTER-IP entry the ClusterIP is refused, without its KUBE-NODE-PORT-TCP port the NodePort is not masqueraded', () => {
    const listing = defaultListing();
    const url = 'http://10.233.39.88:80/';
    const asIs = buildSimulation({ mode: 'ipvs', seed: 1, ipsetList: listing });
    expect(asIs.curl({ from: 'client', url }).exitCode).toBe(0);
    const noClusterIp = editSet(listing, 'KUBE-CLUSTER-IP', (b) => b.replace('\n10.233.39.88,tcp:80', ''));
    expect(noClusterIp).not.toBe(listing);
    const edited = buildSimulation({ mode: 'ipvs', seed: 1, ipsetList: noClusterIp });
    // KUBE-IPVS-FILTER's REJECT of new connections to kube-ipvs0 addresses now applies.
    expect(edited.curl({ from: 'client', url }).exitCode).toBe(7);
    expect(edited.rules('node1', { part: 'ipset' })).not.toContain('10.233.39.88,tcp:80');

    // As is, KUBE-NODE-PORT-TCP marks the NodePort's connections for masquerade: every backend
    // sees node1's address. Without the port, the backends see the client, and those on
    // node2 answer it directly, past node1's conntrack: the client never gets the SYN-ACK.
    const outcomes = (text: string) => {
      const sim = buildSimulation({ mode: 'ipvs', seed: 1, ipsetList: text });
      return Array.from({ length: 6 }, () => {
        const r = sim.curl({ from: 'client', url: 'http://192.168.100.100:31244/', connectTimeoutMs: 300 });
        return `${r.exitCode} ${r.servedBy?.peer.split(':')[0] ?? '-'}`;
      });
    };
    const noPort = editSet(listing, 'KUBE-NODE-PORT-TCP', (b) => b.replace('\n31244', ''));
    expect(noPort).not.toBe(listing);
    expect(new Set(outcomes(listing))).toEqual(new Set(['0 192.168.100.100']));
    expect(new Set(outcomes(noPort))).toEqual(new Set(['0 192.168.100.1', '28 -']));
  });

  it('reads past entry extensions (timeout, counters, comment) and reports sets kube-proxy does not keep and a wrong entry count', () => {
    const listing = `${editSet(defaultListing(), 'KUBE-CLUSTER-IP', (b) =>
      b.replace(
        '10.233.0.1,tcp:443',
        '10.233.0.1,tcp:443 timeout 0 packets 3 bytes 180 comment "default/kubernetes:https"',
      ),
    )}\nName: cali40all-ipam-pools\nType: hash:net\nRevision: 7\nHeader: family inet hashsize 1024 maxelem 1048576\nSize in memory: 504\nReferences: 1\nNumber of entries: 1\nMembers:\n10.233.64.0/18\n`;
    const parsed = parseIpsetList(listing);
    const plain = parseIpsetList(defaultListing()).table.get('KUBE-CLUSTER-IP').sortedEntries();
    expect(plain).toContain('10.233.0.1,tcp:443');
    expect(parsed.table.get('KUBE-CLUSTER-IP').sortedEntries()).toEqual(plain);
    expect(parsed.listed.has('KUBE-LOOP-BACK')).toBe(true);
    expect(parsed.warnings).toEqual(['1 set kube-proxy does not keep, not used: cali40all-ipam-pools']);
    const short = editSet(defaultListing(), 'KUBE-CLUSTER-IP', (b) => b.replace('\n10.233.0.1,tcp:443', ''));
    expect(parseIpsetList(short).warnings).toEqual([
      `set KUBE-CLUSTER-IP says "Number of entries: ${plain.length}" but lists ${plain.length - 1} member${plain.length === 2 ? '' : 's'}; using the members listed`,
    ]);
  });

  it('names the line of what it cannot read: a wrong type, a bad member, an IPv6 set, a port out of range, a terse listing, stray text', () => {
    const listing = defaultListing();
    const lineOf = (text: string, needle: string) =>
      text.split('\n').findIndex((l) => l.startsWith(needle)) + 1;
    const cases: [string, RegExp][] = [
      [
        listing.replace('Type: hash:ip,port,ip', 'Type: hash:ip'),
        /^ipset line 2: set KUBE-LOOP-BACK is of type hash:ip; kube-proxy creates it as hash:ip,port,ip$/,
      ],
      [
        listing.replace('10.233.39.88,tcp:80', '10.233.39.88,icmp:80'),
        new RegExp(
          `^ipset line ${lineOf(listing, '10.233.39.88,tcp:80')}: invalid member "10.233.39.88,icmp:80"`,
        ),
      ],
      [
        listing.replace('10.233.39.88,tcp:80', '10.233.39.300,tcp:80'),
        /invalid member "10\.233\.39\.300,tcp:80"/,
      ],
      [
        listing.replace('Header: family inet hashsize', 'Header: family inet6 hashsize'),
        /^ipset line 4: .* IPv6 set/,
      ],
      [
        listing.replace('range 0-65535', 'range 30000-32767').replace('\n31244\n', '\n8080\n'),
        /port 8080 is outside set KUBE-NODE-PORT-TCP's range 30000-32767/,
      ],
      [
        // `ipset list -terse`: headers only.
        listing.replace(/\nMembers:\n[\s\S]*?(?=\n\nName: |\n$)/g, ''),
        /^ipset line 1: set KUBE-LOOP-BACK has no "Members:" line \(is this `ipset list -terse`\?/,
      ],
      [`hello\n${listing}`, /^ipset line 1: expected "Name: SET", got "hello"$/],
      [listing.replace('References: 1', 'References: many'), /^ipset line 6: References: expected a number/],
      [
        listing.replace('10.233.0.1,tcp:443', '10.233.0.1,tcp:443 frobnicate'),
        /cannot read "frobnicate" after member/,
      ],
    ];
    for (const [text, message] of cases) {
      expect(() => parseIpsetList(text)).toThrow(IpsetParseError);
      expect(() => parseIpsetList(text)).toThrow(message);
    }
  });

  it('dpsim --ipset runs the listing, warns of a set the rules reference but the listing lacks, and refuses it outside IPVS mode', async () => {
    const fs = await import('node:fs');
    const dir = fs.mkdtempSync('/tmp/dpsim-ipset-');
    const listing = defaultListing();
    fs.writeFileSync(`${dir}/full.txt`, listing);
    const ok = await dpsim(['curl', '--mode', 'ipvs', '--ipset', `${dir}/full.txt`, '10.233.39.88:80']);
    expect([ok.exitCode, ok.stdout, ok.stderr]).toEqual([
      0,
      expect.stringMatching(/^Hello World!\nmyweb-rs-/),
      '',
    ]);
    const noClusterSet = listing
      .split('\n\n')
      .filter((b) => !b.startsWith('Name: KUBE-CLUSTER-IP\n'))
      .join('\n\n');
    fs.writeFileSync(`${dir}/partial.txt`, noClusterSet);
    const partial = await dpsim([
      'curl',
      '--mode',
      'ipvs',
      '--ipset',
      `${dir}/partial.txt`,
      '10.233.39.88:80',
    ]);
    expect([partial.exitCode, partial.stderr]).toEqual([
      7,
      `warning: ${dir}/partial.txt: kube-proxy's rules match on set KUBE-CLUSTER-IP, which the listing lacks; it is taken as empty\n` +
        "curl: (7) Failed to connect to 10.233.39.88 port 80 after 0 ms: Couldn't connect to server\n",
    ]);
    fs.writeFileSync(`${dir}/bad.txt`, listing.replace('Type: hash:ip,port,ip', 'Type: hash:ip'));
    const bad = await dpsim(['curl', '--mode', 'ipvs', '--ipset', `${dir}/bad.txt`, '10.233.39.88:80']);
    expect([bad.exitCode, bad.stderr]).toEqual([
      1,
      `error: ${dir}/bad.txt: ipset line 2: set KUBE-LOOP-BACK is of type hash:ip; kube-proxy creates it as hash:ip,port,ip\n`,
    ]);
    const wrong = await dpsim(['curl', '--ipset', `${dir}/full.txt`, '10.233.39.88:80']);
    expect([wrong.exitCode, wrong.stderr]).toEqual([
      1,
      'error: --ipset is a listing of IPVS mode: run it with --mode ipvs\n',
    ]);
  });
});
