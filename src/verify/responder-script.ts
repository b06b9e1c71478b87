/**
 * The program each pod namespace runs (`node -e RESPONDER_SCRIPT CONFIG_JSON`): a tiny TCP
 * server on each of the pod's ports that answers one HTTP/1.0 request with the pod's name
 * and the address it saw the connection come from (that is how masquerading is observed),
 * written `peer=IP:PORT` (IPv6: `peer=[IP]:PORT`).
 *
 * Its lifetime is bounded twice: it exits after `lifetimeMs`, and as soon as its stdin
 * closes (the harness holds the other end, so a harness killed with SIGKILL takes the
 * responders with it). Prints `ready` once every port listens.
 */

export interface ResponderConfig {
  readonly pod: string;
  readonly ports: readonly number[];
  /** UDP ports answered with the same body, once per datagram; sink ports are bound silently. */
  readonly udpPorts?: readonly number[];
  readonly udpSinkPorts?: readonly number[];
  readonly lifetimeMs: number;
  /** 6: bind IPv6 sockets (`::`, IPv6-only, so an IPv4 peer never shows as `::ffff:a.b.c.d`); default 4. */
  readonly family?: 4 | 6;
}

/** Body line the responder writes; parsed by parseResponderBody(). */
export const SERVED_BY_PREFIX = 'served-by ';

export const RESPONDER_SCRIPT = `
'use strict';
const net = require('node:net');
const dgram = require('node:dgram');
const cfg = JSON.parse(process.argv[1]);
let listening = 0;
const udpPorts = cfg.udpPorts || [];
const udpSinkPorts = cfg.udpSinkPorts || [];
const total = cfg.ports.length + udpPorts.length + udpSinkPorts.length;
const v6 = cfg.family === 6;
const any = v6 ? '::' : '0.0.0.0';
const hp = (a, p) => (a.includes(':') ? '[' + a + ']:' : a + ':') + p;
const bound = () => {
  listening += 1;
  if (listening === total) process.stdout.write('ready\\n');
};
for (const [port, sink] of [...udpPorts.map((p) => [p, false]), ...udpSinkPorts.map((p) => [p, true])]) {
  const sock = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6 });
  sock.on('error', (e) => {
    process.stderr.write('responder ' + cfg.pod + ' udp port ' + port + ': ' + e.message + '\\n');
    process.exit(3);
  });
  sock.on('message', (msg, rinfo) => {
    if (sink) return;
    sock.send('Hello World! ' + cfg.pod + '\\n${SERVED_BY_PREFIX}' + cfg.pod + ' peer=' + hp(rinfo.address, rinfo.port) +
      ' local=udp:' + port + '\\n', rinfo.port, rinfo.address);
  });
  sock.bind(port, any, bound);
}
for (const port of cfg.ports) {
  const server = net.createServer((sock) => {
    let buf = '';
    let answered = false;
    sock.setEncoding('latin1');
    sock.setTimeout(5000, () => sock.destroy());
    sock.on('error', () => {});
    sock.on('data', (chunk) => {
      buf += chunk;
      if (answered || !(buf.includes('\\r\\n\\r\\n') || buf.includes('\\n\\n'))) return;
      answered = true;
      const body = 'Hello World! ' + cfg.pod + '\\n${SERVED_BY_PREFIX}' + cfg.pod + ' peer=' + hp(sock.remoteAddress, sock.remotePort) +
        ' local=' + hp(sock.localAddress, sock.localPort) + '\\n';
      sock.end('HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\nContent-Length: ' + Buffer.byteLength(body) +
        '\\r\\nConnection: close\\r\\n\\r\\n' + body);
    });
  });
  server.on('error', (e) => {
    process.stderr.write('responder ' + cfg.pod + ' port ' + port + ': ' + e.message + '\\n');
    process.exit(3);
  });
  server.listen({ host: any, port, backlog: 1024, ipv6Only: v6 }, bound);
}
setTimeout(() => process.exit(0), cfg.lifetimeMs);
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
`;

export interface ServedBy {
  readonly pod: string;
  /** "ip:port" (IPv6: "[ip]:port") the pod saw as the connection's source. */
  readonly peer: string;
}

/** Reads the `served-by POD peer=IP:PORT` line out of a response; null when absent. */
export function parseResponderBody(text: string): ServedBy | null {
  const m = /served-by (\S+) peer=(\S+)/.exec(text);
  return m === null ? null : { pod: m[1], peer: m[2] };
}
