import { describe, expect, it } from 'vitest';
import {
  ConntrackTable,
  connOf,
  formatConntrackList,
  ICMP_ECHO,
  ICMP_ECHOREPLY,
  icmpTypeCode,
  NS_PER_SECOND,
} from '../../src/conntrack/index.js';
import { parseIPv4 } from '../../src/util/ipv4.js';
import { Rng } from '../../src/util/rng.js';
import { IpProtocol } from '../../src/wire/ip-protocol.js';
import { TcpFlag } from '../../src/wire/tcp.js';

const S = NS_PER_SECOND;
const CLIENT = parseIPv4('192.168.100.1');
const NODE = parseIPv4('192.168.100.100');
const POD = parseIPv4('10.233.64.5');

describe('formatConntrackList (conntrack -L, conntrack-tools 1.4.7)', () => {
  it('prints an ASSURED NodePort entry with DNAT and SNAT exactly as conntrack -L does', () => {
    const ct = new ConntrackTable({ max: 8, rng: new Rng(1) });
    const syn = ct.track(CLIENT, NODE, 40000, 30532, IpProtocol.TCP, TcpFlag.SYN, 0);
    ct.setDnat(connOf(syn), POD, 8080);
    expect(ct.setSnat(connOf(syn), NODE, 51234, 51234, 0)).toBe(51234);
    ct.confirm(syn, 0);
    ct.confirm(ct.track(POD, NODE, 8080, 51234, IpProtocol.TCP, TcpFlag.SYN | TcpFlag.ACK, 0), 0);
    ct.confirm(ct.track(CLIENT, NODE, 40000, 30532, IpProtocol.TCP, TcpFlag.ACK, 0), 0);
    const { stdout, stderr } = formatConntrackList(ct, S / 2);
    expect(stdout).toBe(
      'tcp      6 431999 ESTABLISHED src=192.168.100.1 dst=192.168.100.100 sport=40000 dport=30532 ' +
        'src=10.233.64.5 dst=192.168.100.100 sport=8080 dport=51234 [ASSURED] mark=0 use=1\n',
    );
    expect(stderr).toBe('conntrack v1.4.7 (conntrack-tools): 1 flow entries have been shown.\n');
  });

  // Lines below were printed by the real conntrack v1.4.7 on Linux 6.18 for the same traffic.
  it('prints UNREPLIED, replied-but-unassured, ICMP and in-flight (use=2) entries like the real tool', () => {
    const ct = new ConntrackTable({ max: 8, rng: new Rng(1) });
    ct.confirm(ct.track(CLIENT, NODE, 41260, 9, IpProtocol.UDP, 0, 0), 0);

    const udp = ct.track(CLIENT, NODE, 40002, 30533, IpProtocol.UDP, 0, 0);
    ct.setDnat(connOf(udp), POD, 8081);
    ct.setSnat(connOf(udp), parseIPv4('10.233.64.1'), 0, 0, 0);
    ct.confirm(udp, 0);
    ct.confirm(ct.track(POD, parseIPv4('10.233.64.1'), 8081, 40002, IpProtocol.UDP, 0, 0), 0);

    const ping = ct.track(CLIENT, POD, 4660, icmpTypeCode(ICMP_ECHO, 0), IpProtocol.ICMP, 0, S);
    ct.setSnat(connOf(ping), parseIPv4('10.233.64.1'), 0, 0, 0);
    ct.confirm(ping, S);
    ct.confirm(
      ct.track(POD, parseIPv4('10.233.64.1'), 4660, icmpTypeCode(ICMP_ECHOREPLY, 0), IpProtocol.ICMP, 0, S),
      S,
    );

    const syn = ct.track(CLIENT, NODE, 49442, 30599, IpProtocol.TCP, TcpFlag.SYN, S);
    ct.setDnat(connOf(syn), parseIPv4('10.233.64.99'), 8080);
    ct.setSnat(connOf(syn), parseIPv4('10.233.64.1'), 0, 0, 0);
    ct.confirm(syn, S);
    const retransmit = ct.track(CLIENT, NODE, 49442, 30599, IpProtocol.TCP, TcpFlag.SYN, S); // still in flight

    const { stdout, stderr } = formatConntrackList(ct, 1.5 * S);
    expect(stdout.split('\n')).toEqual([
      'udp      17 28 src=192.168.100.1 dst=192.168.100.100 sport=41260 dport=9 [UNREPLIED] src=192.168.100.100 dst=192.168.100.1 sport=9 dport=41260 mark=0 use=1',
      'udp      17 28 src=192.168.100.1 dst=192.168.100.100 sport=40002 dport=30533 src=10.233.64.5 dst=10.233.64.1 sport=8081 dport=40002 mark=0 use=1',
      'icmp     1 29 src=192.168.100.1 dst=10.233.64.5 type=8 code=0 id=4660 src=10.233.64.5 dst=10.233.64.1 type=0 code=0 id=4660 mark=0 use=1',
      'tcp      6 119 SYN_SENT src=192.168.100.1 dst=192.168.100.100 sport=49442 dport=30599 [UNREPLIED] src=10.233.64.99 dst=10.233.64.1 sport=8080 dport=49442 mark=0 use=2',
      '',
    ]);
    expect(stderr).toBe('conntrack v1.4.7 (conntrack-tools): 4 flow entries have been shown.\n');
    ct.release(retransmit);
    expect(formatConntrackList(ct, 1.5 * S).stdout).toContain('dport=49442 mark=0 use=1');
    expect(formatConntrackList(ct, 200 * S).stderr).toBe(
      'conntrack v1.4.7 (conntrack-tools): 0 flow entries have been shown.\n',
    );
  });
});
