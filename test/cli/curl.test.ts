/**
 * `dpsim curl` as a curl 7.88.1 user types it: URLs without a scheme, the -v transcript, -i,
 * -I, -s/-S, -o, -H, -X, fractional timeouts, and curl's exit status with several requests.
 * The expected texts were taken from the real curl 7.88.1 (Debian 12) against a local server
 * answering as the pods do; only the Date header and the timings differ.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCurlUrl, requestHead } from '../../src/apps/curl.js';
import { dpsim } from './harness.js';

const NODE_PORT = '192.168.100.100:31244';
const DATE = /Date: [^\r]* GMT\r/;
const dir = mkdtempSync(join(tmpdir(), 'dpsim-curl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('dpsim curl: URLs as curl takes them', () => {
  it('host:port without a scheme, copied from dpsim run, answers from a pod', async () => {
    const r = await dpsim(['curl', NODE_PORT]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^Hello World!\nmyweb-rs-[a-z0-9]{5}\n$/);
    expect(r.stderr).toBe('');
  });

  it.each(['iptables', 'nftables', 'ipvs', 'ebpf'])(
    '%s mode: the NodePort line run prints works as is',
    async (mode) => {
      const r = await dpsim(['curl', '--mode', mode, NODE_PORT]);
      expect([r.stderr, r.exitCode]).toEqual(['', 0]);
      expect(r.stdout).toMatch(/^Hello World!\nmyweb-rs-[a-z0-9]{5}\n$/);
    },
  );

  it('parses what curl parses: default scheme and port, query, fragment dropped, [v6]:port', () => {
    expect(parseCurlUrl('10.0.0.1')).toEqual({
      ok: true,
      url: { host: '10.0.0.1', family: 4, port: 80, path: '/' },
    });
    expect(parseCurlUrl('10.0.0.1:8080?x=1')).toMatchObject({ url: { port: 8080, path: '/?x=1' } });
    expect(parseCurlUrl('http://10.0.0.1/a#frag')).toMatchObject({ url: { path: '/a' } });
    expect(parseCurlUrl('[fd00::1]:8080/p')).toEqual({
      ok: true,
      url: { host: 'fd00::1', family: 6, port: 8080, path: '/p' },
    });
    expect(parseCurlUrl('10.0.0.1:99999')).toMatchObject({ ok: false, exitCode: 3 });
    expect(parseCurlUrl('10.0.0.1:abc')).toMatchObject({ ok: false, exitCode: 3 });
    expect(parseCurlUrl('https://10.0.0.1')).toMatchObject({ ok: false, exitCode: 1 });
  });

  it('a port out of range is curl: (3), exit 3', async () => {
    const r = await dpsim(['curl', '192.168.100.100:99999']);
    expect(r.stderr).toBe('curl: (3) URL using bad/illegal format or missing URL\n');
    expect(r.exitCode).toBe(3);
  });

  it('an IPv6 URL on a single-stack cluster says so in one line, exit 1', async () => {
    const r = await dpsim(['curl', '[fd00::1]:80']);
    expect(r.stderr).toBe(
      'error: IPv6 not supported here: [fd00::1]:80 (the cluster is single-stack: use --dual-stack or a v4,v6 --service-cluster-ip-range)\n',
    );
    expect(r.exitCode).toBe(1);
  });
});

describe('dpsim curl -v: the transcript of curl 7.88.1', () => {
  it('success on a terminal: Trying, Connected, > request, < response, left intact', async () => {
    const r = await dpsim(['curl', '-v', NODE_PORT]);
    expect(r.exitCode).toBe(0);
    expect(r.stderr.replace(DATE, 'Date: X\r')).toBe(
      '*   Trying 192.168.100.100:31244...\n' +
        '* Connected to 192.168.100.100 (192.168.100.100) port 31244 (#0)\n' +
        '> GET / HTTP/1.1\r\n' +
        '> Host: 192.168.100.100:31244\r\n' +
        '> User-Agent: curl/7.88.1\r\n' +
        '> Accept: */*\r\n' +
        '> \r\n' +
        '< HTTP/1.1 200 OK\r\n' +
        '< Date: X\r\n' +
        '< Content-Length: 28\r\n' +
        '< Content-Type: text/plain; charset=utf-8\r\n' +
        '< \r\n' +
        '* Connection #0 to host 192.168.100.100 left intact\n',
    );
  });

  it('stdout not a terminal: curl adds `{ [28 bytes data]` after the headers', async () => {
    const r = await dpsim(['curl', '-v', NODE_PORT], { stdoutIsTTY: false });
    expect(r.stderr).toContain(
      '< \r\n{ [28 bytes data]\n* Connection #0 to host 192.168.100.100 left intact\n',
    );
  });

  it('refused: connect failed, Failed to connect, Closing connection, curl: (7), exit 7', async () => {
    const r = await dpsim(['curl', '-v', '192.168.100.100:31245']);
    expect(r.stderr).toBe(
      '*   Trying 192.168.100.100:31245...\n' +
        '* connect to 192.168.100.100 port 31245 failed: Connection refused\n' +
        "* Failed to connect to 192.168.100.100 port 31245 after 0 ms: Couldn't connect to server\n" +
        '* Closing connection 0\n' +
        "curl: (7) Failed to connect to 192.168.100.100 port 31245 after 0 ms: Couldn't connect to server\n",
    );
    expect(r.exitCode).toBe(7);
  });

  it('--connect-timeout 0.5 (a fraction) on a black hole: curl: (28) after 500 ms', async () => {
    const r = await dpsim(['curl', '-v', '--connect-timeout', '0.5', '10.233.0.99:80']);
    expect(r.stderr).toBe(
      '*   Trying 10.233.0.99:80...\n' +
        '* ipv4 connect timeout after 500ms, move on!\n' +
        '* Failed to connect to 10.233.0.99 port 80 after 500 ms: Timeout was reached\n' +
        '* Closing connection 0\n' +
        'curl: (28) Failed to connect to 10.233.0.99 port 80 after 500 ms: Timeout was reached\n',
    );
    expect(r.exitCode).toBe(28);
  });

  it('-m 0.7 while connecting: Connection timed out after 700 milliseconds', async () => {
    const r = await dpsim(['curl', '-m', '0.7', '10.233.0.99:80']);
    expect(r.stderr).toBe('curl: (28) Connection timed out after 700 milliseconds\n');
    expect(r.exitCode).toBe(28);
  });
});

describe('dpsim curl output flags', () => {
  it('-i prints the response head (CRLF kept) before the body', async () => {
    const r = await dpsim(['curl', '-i', NODE_PORT]);
    expect(r.stdout.replace(DATE, 'Date: X\r')).toMatch(
      /^HTTP\/1\.1 200 OK\r\nDate: X\r\nContent-Length: 28\r\nContent-Type: text\/plain; charset=utf-8\r\n\r\nHello World!\nmyweb-rs-[a-z0-9]{5}\n$/,
    );
  });

  it('-I sends HEAD, prints only the head and does not wait for the announced body', async () => {
    const r = await dpsim(['curl', '-I', '-v', NODE_PORT]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.replace(DATE, 'Date: X\r')).toBe(
      'HTTP/1.1 200 OK\r\nDate: X\r\nContent-Length: 28\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n',
    );
    expect(r.stderr).toContain('> HEAD / HTTP/1.1\r\n');
  });

  it('-X HEAD warns as curl does and then waits for the body until -m', async () => {
    const r = await dpsim(['curl', '-X', 'HEAD', '-m', '1', NODE_PORT]);
    expect(r.stderr).toBe(
      'Warning: Setting custom HTTP method to HEAD with -X/--request may not work the \n' +
        'Warning: way you want. Consider using -I/--head instead.\n' +
        'curl: (28) Operation timed out after 1000 milliseconds with 0 out of 28 bytes received\n',
    );
    expect(r.exitCode).toBe(28);
  });

  it('-s hides the error line, -sS shows it; the exit status stays', async () => {
    const s = await dpsim(['curl', '-s', '192.168.100.100:31245']);
    expect([s.stderr, s.exitCode]).toEqual(['', 7]);
    const sS = await dpsim(['curl', '-sS', '192.168.100.100:31245']);
    expect(sS.stderr).toMatch(/^curl: \(7\) Failed to connect to 192\.168\.100\.100 port 31245 after 0 ms/);
  });

  it('-o FILE writes the body to the file; a missing directory is curl: (23)', async () => {
    const file = join(dir, 'body.txt');
    const r = await dpsim(['curl', '-o', file, NODE_PORT]);
    expect([r.stdout, r.exitCode]).toEqual(['', 0]);
    expect(readFileSync(file, 'utf8')).toMatch(/^Hello World!\nmyweb-rs-/);
    const bad = await dpsim(['curl', '-o', join(dir, 'no/such/dir/x'), NODE_PORT]);
    expect(bad.stderr).toBe(
      `Warning: Failed to open the file ${join(dir, 'no/such/dir/x')}: No such file or directory\n` +
        'curl: (23) Failure writing output to destination\n',
    );
    expect(bad.exitCode).toBe(23);
  });

  it('-X and -H shape the request as curl does (custom Host in place, Accept: removes, Name; empty)', async () => {
    const r = await dpsim([
      'curl',
      '-v',
      '-X',
      'POST',
      '-H',
      'X-A: b',
      '-H',
      'Accept:',
      '-H',
      'X-E;',
      `${NODE_PORT}/p?q=1`,
    ]);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain(
      '> POST /p?q=1 HTTP/1.1\r\n> Host: 192.168.100.100:31244\r\n> User-Agent: curl/7.88.1\r\n> X-A: b\r\n> X-E:\r\n> \r\n',
    );
    // The same -H set given to the real curl 7.88.1 produced this block.
    const target = { host: '127.0.0.1', addr: 0, port: 18080, path: '/' };
    expect(requestHead('GET', target, ['Host:foo', 'Accept:', 'X-E;', 'User-Agent:me'])).toBe(
      'GET / HTTP/1.1\r\nHost:foo\r\nX-E:\r\nUser-Agent:me\r\n\r\n',
    );
  });
});

describe('dpsim curl -n: exit status as curl gives it for repeated URLs', () => {
  it('-n 4 with every request refused exits 7, with four error lines and the summary', async () => {
    const r = await dpsim(['curl', '-n', '4', '192.168.100.100:31245']);
    expect(r.exitCode).toBe(7);
    expect(r.stderr.match(/^curl: \(7\) /gm)).toHaveLength(4);
    expect(r.stderr).toContain('4 requests: failed 4 (iptables mode, seed 1)\n');
  });

  it('several URLs: the last transfer decides (curl 7.88.1: `curl bad good` exits 0, `curl good bad` 7)', async () => {
    const badFirst = await dpsim(['curl', '192.168.100.100:31245', NODE_PORT]);
    expect(badFirst.exitCode).toBe(0);
    const goodFirst = await dpsim(['curl', NODE_PORT, '192.168.100.100:31245']);
    expect(goodFirst.exitCode).toBe(7);
  });
});
