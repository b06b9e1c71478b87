/**
 * The IPv6 datapath as a user meets it on the command line: `dpsim curl` to `[addr]:port`
 * and with `-6`, `dpsim conntrack --family ipv6` and `dpsim trace` of an IPv6 URL, on the
 * origin scenario built dual-stack (fixtures/origin-dual-stack.yaml with --dual-stack), in every mode.
 */
import { describe, expect, it } from 'vitest';
import { dpsim } from './harness.js';

const DUAL = ['--dual-stack', '-f', 'fixtures/origin-dual-stack.yaml'];
const NODE2 = 'fd00:192:168:100::101';

describe('dpsim with IPv6 on a dual-stack cluster (iptables mode)', () => {
  it('curl -v http://[node IPv6]:NodePort/ answers with curl 7.88.1 IPv6 transcript lines', async () => {
    const r = await dpsim(['curl', '-v', ...DUAL, `http://[${NODE2}]:31244/`]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^Hello World!\nmyweb-rs-\w+\n$/);
    expect(r.stderr).toContain(`*   Trying [${NODE2}]:31244...\n`);
    expect(r.stderr).toContain(`* Connected to ${NODE2} (${NODE2}) port 31244 (#0)\n`);
    expect(r.stderr).toContain(`> Host: [${NODE2}]:31244\r\n`);
  });

  it('curl -6 with an IPv4 literal cannot resolve it: curl: (6), exit 6; -4 with -6 is a usage error', async () => {
    const r = await dpsim(['curl', '-6', ...DUAL, 'http://192.168.100.100:31244/']);
    expect(r.stderr).toBe('curl: (6) Could not resolve host: 192.168.100.100\n');
    expect(r.exitCode).toBe(6);
    const both = await dpsim(['curl', '-4', '-6', ...DUAL, `http://[${NODE2}]:31244/`]);
    expect(both.stderr).toBe('error: -4 and -6 exclude each other (run with --help for usage)\n');
    expect(both.exitCode).not.toBe(0);
  });

  it('conntrack --family ipv6 lists the IPv6 table in conntrack-tools format, after curls to the IPv6 NodePorts', async () => {
    const r = await dpsim(['conntrack', ...DUAL, '--family', 'ipv6', '-n', '1']);
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines)
      expect(l).toMatch(
        /^tcp {6}6 \d+ TIME_WAIT src=[0-9a-f:]+ dst=[0-9a-f:]+ sport=\d+ dport=\d+ src=[0-9a-f:]+ dst=[0-9a-f:]+ sport=\d+ dport=\d+ \[ASSURED\] mark=0 use=1$/,
      );
    expect(r.stdout).toContain('src=fd00:192:168:100::1 dst=fd00:192:168:100::100 ');
    expect(r.stderr).toBe(
      `conntrack v1.4.7 (conntrack-tools): ${lines.length} flow entries have been shown.\n`,
    );
    const bad = await dpsim(['conntrack', ...DUAL, '--family', 'inet6']);
    expect(bad.stderr).toBe(
      'error: --family: unknown family "inet6" (ipv4 or ipv6) (run with --help for usage)\n',
    );
  });

  it('trace of an IPv6 URL shows the ip6tables rules matched, the DNAT and SNAT in [addr]:port form, and the delivery', async () => {
    const r = await dpsim(['trace', ...DUAL, `http://[${NODE2}]:31244/`]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(
        `node2 +PREROUTING +ACCEPT .*DNAT \\[${NODE2}\\]:31244 → \\[fd85:ee78:d8a6:8607::1:\\w+\\]:8080`,
      ),
    );
    expect(r.stdout).toContain('-j DNAT --to-destination [fd85:ee78:d8a6:8607::1:');
    expect(r.stdout).toMatch(
      /node2 +POSTROUTING +ACCEPT .*SNAT \[fd00:192:168:100::1\]:\d+ → \[fd00:192:168:100::101\]:\d+/,
    );
    expect(r.stdout).toMatch(/myweb-rs-\w+ +deliver +tcp \[fd85:ee78:d8a6:8607::1:\w+\]:8080 from /);
  });
});

/** What `dpsim trace` shows of each mode's IPv6 translation at the NodePort's node. */
const TRACE_MARKS: Record<string, RegExp[]> = {
  nftables: [
    /ip6 kube-proxy\/services#2: ip6 daddr @nodeport-ips meta l4proto \. th dport vmap @service-nodeports/,
    /ip6 kube-proxy\/endpoint-\S+#2: meta l4proto tcp dnat to \[fd85:ee78:d8a6:8607::1:\w+\]:8080/,
    /node2 +POSTROUTING +ACCEPT .*SNAT \[fd00:192:168:100::1\]:\d+ → \[fd00:192:168:100::101\]:\d+/,
  ],
  ipvs: [
    /-m set --match-set KUBE-6-NODE-PORT-TCP dst -j KUBE-MARK-MASQ/,
    /ipvs\/ip_vs_in#\d+: TCP \[fd00:192:168:100::1\]:\d+ → \[fd00:192:168:100::101\]:31244 → \[fd85:ee78:d8a6:8607::1:\w+\]:8080/,
    /node2 +ipvs +→ \[fd85:ee78:d8a6:8607::1:\w+\]:8080/,
  ],
  ebpf: [
    /bpf\/cil_from_netdev#1: Frontend service lookup, addr=\[fd00:192:168:100::101\] key\.dport=31244/,
    /bpf\/cil_from_netdev#3: DNAT \[fd00:192:168:100::101\]:31244 -> \[fd85:ee78:d8a6:8607::1:\w+\]:8080/,
  ],
};

for (const mode of ['nftables', 'ipvs', 'ebpf'] as const) {
  describe(`dpsim with IPv6 on a dual-stack cluster (${mode} mode)`, () => {
    it("curl answers on every node's IPv6 NodePort, and trace shows the mode's IPv6 translation", async () => {
      for (const node of ['fd00:192:168:100::100', NODE2, 'fd00:192:168:100::102']) {
        const r = await dpsim(['curl', ...DUAL, '--mode', mode, `http://[${node}]:31244/`]);
        expect(r.exitCode, r.stderr).toBe(0);
        expect(r.stdout).toMatch(/^Hello World!\nmyweb-rs-\w+\n$/);
      }
      const t = await dpsim(['trace', ...DUAL, '--mode', mode, `http://[${NODE2}]:31244/`]);
      expect(t.exitCode).toBe(0);
      for (const mark of TRACE_MARKS[mode]) expect(t.stdout).toMatch(mark);
      expect(t.stdout).toMatch(/myweb-rs-\w+ +deliver +tcp \[fd85:ee78:d8a6:8607::1:\w+\]:8080 from /);
    });

    it("conntrack --family ipv6 lists the IPv6 flows (nf_conntrack's, or Cilium's CT maps in eBPF mode)", async () => {
      const r = await dpsim(['conntrack', ...DUAL, '--mode', mode, '--family', 'ipv6', '-n', '1']);
      expect(r.exitCode).toBe(0);
      if (mode === 'ebpf') {
        expect(r.stdout).toMatch(
          /^TCP OUT \[fd00:192:168:100::100\]:\d+ -> \[fd00:192:168:100::1\]:31244 service /m,
        );
        expect(r.stdout).not.toContain('10.233.');
      } else {
        expect(r.stdout).toContain('src=fd00:192:168:100::1 dst=fd00:192:168:100::100 ');
        expect(r.stderr).toMatch(
          /^conntrack v1\.4\.7 \(conntrack-tools\): \d+ flow entries have been shown\.\n$/,
        );
      }
    });
  });
}
