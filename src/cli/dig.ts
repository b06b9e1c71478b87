/**
 * `dpsim dig NAME [TYPE] [-t TYPE] [-x ADDR] [@SERVER] [+short] [+tcp] [--from HOST]`: dig 9.18
 * run inside the simulated cluster (default: in the client; `--from pod/NAME` runs it in a pod,
 * whose resolv.conf names the kube-dns Service). Output and exit status are dig's: 0 for any
 * reply, 9 when no server answered.
 */
import type { Command } from 'commander';
import { isIPv4, parseIPv4 } from '../util/ipv4.js';
import { isIPv6Text, parseIPv6 } from '../util/ipv6.js';
import { DnsType, parseDnsType } from '../wire/dns.js';
import { addSimulationOptions, CliError, loadSimulation, type SimulationFlags } from './common.js';
import { type CliIo, processIo } from './io.js';

interface DigFlags extends SimulationFlags {
  from: string;
  type?: string;
  reverse?: string;
}

export function registerDig(program: Command, io: CliIo = processIo): Command {
  return addSimulationOptions(
    program
      .command('dig')
      .description("dig a name from the client, a node or a pod, with dig 9.18's output")
      .argument(
        '[args...]',
        'NAME, a record TYPE, @SERVER, +short, +tcp (+notcp, +noshort), as dig takes them',
      )
      .option('-t, --type <type>', 'record type (A, AAAA, SRV, PTR, CNAME, SOA, ANY, TYPEn)')
      .option('-x, --reverse <addr>', 'reverse lookup: the PTR of an IPv4 or IPv6 address')
      .option('--from <host>', 'where dig runs: client, a node name, or pod/NAME', 'client'),
  ).action(async (args: string[] = [], flags: DigFlags) => {
    let name: string | undefined;
    let type: number | undefined;
    let server: string | undefined;
    let short = false;
    let tcp = false;
    const echo: string[] = [];
    if (flags.reverse !== undefined) {
      if (isIPv4(flags.reverse)) name = `${flags.reverse.split('.').reverse().join('.')}.in-addr.arpa`;
      else if (isIPv6Text(flags.reverse)) {
        // dig's ip6.arpa form: the 32 nibbles of the address, least significant first.
        const hex = parseIPv6(flags.reverse).toString(16).padStart(32, '0');
        name = `${[...hex].reverse().join('.')}.ip6.arpa`;
      } else throw new CliError(`-x: "${flags.reverse}" is not an IPv4 or IPv6 address`);
      type = DnsType.PTR;
      echo.push('-x', flags.reverse);
    }
    if (flags.type !== undefined) {
      type = parseDnsType(flags.type);
      if (type === undefined) throw new CliError(`-t: unknown record type "${flags.type}"`);
      echo.push('-t', flags.type);
    }
    for (const a of args) {
      echo.push(a);
      if (a.startsWith('@')) {
        if (!isIPv4(a.slice(1))) throw new CliError(`@${a.slice(1)}: give the server as an IPv4 address`);
        server = a.slice(1);
      } else if (a.startsWith('+')) {
        const opt = a.slice(1).toLowerCase();
        if (opt === 'short') short = true;
        else if (opt === 'noshort') short = false;
        else if (opt === 'tcp' || opt === 'vc') tcp = true;
        else if (opt === 'notcp' || opt === 'novc') tcp = false;
        else throw new CliError(`dig option ${a} is not simulated (+short, +tcp, +notcp are)`);
      } else if (name === undefined && parseDnsType(a) === undefined) name = a;
      else if (type === undefined && parseDnsType(a) !== undefined) type = parseDnsType(a);
      else if (name === undefined) name = a;
      else throw new CliError(`unexpected argument "${a}" (one NAME and one TYPE)`);
    }
    if (name === undefined) throw new CliError('dig needs a NAME to look up');
    const sim = await loadSimulation(flags, {}, io);
    const host = sim.host(flags.from);
    const conf = sim.dns.resolvConf(flags.from);
    // No nameserver in resolv.conf: dig, like the resolver, asks the local host.
    const serverText = server ?? conf.nameservers[0] ?? '127.0.0.1';
    const result = sim.dns.dig(host, {
      name: name.endsWith('.') ? name.slice(0, -1) : name,
      type: type ?? DnsType.A,
      server: parseIPv4(serverText),
      serverGiven: server !== undefined,
      tcp,
      short,
      tries: 3,
      timeoutS: 5,
      argv: echo,
      epochMs: sim.cluster.now(),
    });
    io.stdout(result.stdout);
    io.setExitCode(result.exitCode);
  });
}
