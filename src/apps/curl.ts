/**
 * A curl-like HTTP/1.1 client (`curl http://IP:PORT/`) on a simulated host, driven only
 * by simulated events: start it, run the pump, read `result` (or pass `onDone`).
 *
 * Faithful to curl 7.88.1 (Debian 12) on Linux:
 * - request `GET <path> HTTP/1.1`, `Host: <host>[:<port>]` (the port only when not 80),
 *   `User-Agent: curl/7.88.1`, `Accept: *\/*`;
 * - the response is read to its Content-Length (or to EOF without one), then the
 *   connection is closed (curl exits: active close, FIN);
 * - error texts as curl prints them (lib/connect.c, lib/multi.c, lib/transfer.c,
 *   lib/cf-socket.c, lib/http.c, lib/strerror.c of tag curl-7_88_1):
 *     refused (RST, ICMP port unreachable, any fatal ICMP):
 *       `curl: (7) Failed to connect to H port P after N ms: Couldn't connect to server`
 *     the kernel gave up on the SYN (ETIMEDOUT after tcp_syn_retries):
 *       `curl: (28) Failed to connect to H port P after N ms: Couldn't connect to server`
 *     --connect-timeout reached (also the default 300 s connect timeout):
 *       `curl: (28) Failed to connect to H port P after N ms: Timeout was reached`
 *     --max-time reached while connecting:
 *       `curl: (28) Connection timed out after N milliseconds`
 *     --max-time reached during the transfer:
 *       `curl: (28) Operation timed out after N milliseconds with X out of Y bytes received`
 *       (`with X bytes received` before the size is known)
 *     reset after connect: `curl: (56) Recv failure: Connection reset by peer`
 *     closed before any response byte: `curl: (52) Empty reply from server`
 *     closed mid-body: `curl: (18) transfer closed with N bytes remaining to read`
 *   N is the simulated time since the start, in whole ms (curl's Curl_timediff). Real
 *   curl wakes a little after a timer expires and typically prints 3001 where the
 *   simulation, whose timers are exact, prints 3000.
 * - URLs as curl takes them: the scheme is optional (`192.168.100.100:31244` means
 *   `http://192.168.100.100:31244/`), a fragment is not sent, `[v6]:port` parses (and is
 *   refused: the simulated clusters are IPv4 only).
 * - `-v`: the transcript curl writes on stderr (`*   Trying …`, `> GET / HTTP/1.1`,
 *   `< HTTP/1.1 200 OK`, `* Connection #0 to host … left intact`), request and response
 *   header lines with their CRLF, as curl's debug callback passes them on.
 * - `-X`, `-H` (curl's rules: a custom Host replaces the built-in one in place, a custom
 *   User-Agent or Accept replaces the built-in one at the end, `Name:` removes, `Name;`
 *   sends an empty value) and `-I` (HEAD; the body a Content-Length announces is not
 *   awaited — with `-X HEAD` it is, and curl times out, as the real one does).
 */
import { formatIPv4, isIPv4, parseIPv4 } from '../util/ipv4.js';
import {
  ByteAccumulator,
  connectionHas,
  contentLength,
  encodeUtf8,
  findHeaderEnd,
  type HttpHeaders,
  headerValue,
  latin1,
  parseResponseHead,
  type ResponseHead,
  utf8,
} from './http1.js';
import type { TcpConnection } from './tcp-connection.js';
import type { TcpStack } from './tcp-stack.js';
import type { TcpSocketError, TimerHandle } from './transport.js';

export const CURL_USER_AGENT = 'curl/7.88.1';
/** lib/connect.h DEFAULT_CONNECT_TIMEOUT. */
export const CURL_DEFAULT_CONNECT_TIMEOUT_MS = 300_000;

/** curl exit codes dpsim produces (CURLcode values). */
export const CurlCode = {
  UNSUPPORTED_PROTOCOL: 1,
  URL_MALFORMAT: 3,
  COULDNT_RESOLVE_HOST: 6,
  COULDNT_CONNECT: 7,
  WEIRD_SERVER_REPLY: 8,
  PARTIAL_FILE: 18,
  OPERATION_TIMEDOUT: 28,
  GOT_NOTHING: 52,
  RECV_ERROR: 56,
} as const;

export interface CurlOptions {
  /** `[http://]HOST[:PORT][/path]`, as curl takes it. Either this or `host` (+ `port`, `path`). */
  url?: string;
  /** IPv4 address (dotted or u32) or a name for `resolve`. */
  host?: string | number;
  /** Default 80. */
  port?: number;
  /** Default '/'. */
  path?: string;
  /** Source address of the client host (u32 or dotted). */
  localAddr: number | string;
  /** --connect-timeout, in ms. */
  connectTimeoutMs?: number;
  /** --max-time, in ms. */
  maxTimeMs?: number;
  /**
   * Name resolution for non-IP hosts (the cluster's DNS); without it names fail with (6). For an
   * IPv6 literal (or with ipFamily 6) it returns the host's IPv6 handle (transport.ts APP_IPV6_BASE).
   */
  resolve?: (name: string) => number | undefined;
  /** -4 / -6: only addresses of that family. */
  ipFamily?: 4 | 6;
  /** The text of the resolved address (IPv6: its canonical form), for -v; default: dotted IPv4. */
  addressText?: string;
  /** -X: the request method (default GET, or HEAD with `head`). */
  method?: string;
  /** -I: send HEAD and do not wait for a body. */
  head?: boolean;
  /** -H: extra request headers, as typed (`Name: value`, `Name:` to remove, `Name;` for empty). */
  headers?: readonly string[];
  /** Called once with the result, from inside the simulated event that finished it. */
  onDone?: (result: CurlResult) => void;
}

/** One line of curl's -v output: `*` information, `>` header sent, `<` header received, `{` body data. */
export interface CurlVerboseLine {
  kind: '*' | '>' | '<' | '{';
  /** Without the prefix; header lines keep their CRLF as curl prints them; '{' lines carry the byte count. */
  text: string;
}

export interface CurlSuccess {
  ok: true;
  status: number;
  reason: string;
  httpVersion: string;
  headers: HttpHeaders;
  body: Uint8Array;
  /** The body as UTF-8: what curl writes to stdout. */
  stdout: string;
  elapsedMs: number;
  localPort: number;
  /** The response head as received (status line, headers, blank line; CRLFs kept): what -i / -I print. */
  rawHead: string;
  /** What -v prints, in order. */
  verbose: CurlVerboseLine[];
}

export interface CurlFailure {
  ok: false;
  /** curl's exit code (CURLcode). */
  exitCode: number;
  /** The line curl prints on stderr, e.g. `curl: (7) Failed to connect to …`. */
  message: string;
  elapsedMs: number;
  /** 0 when no connection was attempted. */
  localPort: number;
  /** What -v prints before the `curl: (N)` line, in order. */
  verbose: CurlVerboseLine[];
}

export type CurlResult = CurlSuccess | CurlFailure;

export interface CurlRun {
  readonly done: boolean;
  readonly result: CurlResult | undefined;
  /** The client's TCP connection (undefined if none was opened). */
  readonly connection: TcpConnection | undefined;
}

/** A URL as curl splits it. */
export interface CurlUrl {
  /** The host as written (brackets removed for IPv6): what curl's messages name. */
  host: string;
  family: 4 | 6;
  port: number;
  /** Path and query as sent on the request line (no fragment). */
  path: string;
}

export type CurlUrlParse = { ok: true; url: CurlUrl } | { ok: false; exitCode: number; message: string };

const BAD_URL = {
  ok: false,
  exitCode: CurlCode.URL_MALFORMAT,
  message: 'URL using bad/illegal format or missing URL',
} as const;

/**
 * Splits a URL as curl 7.88 does: an optional `scheme://` (http when absent), a host
 * (`[v6]` in brackets), an optional `:port` (0-65535), then path, query and a fragment that
 * is not sent. Only http is simulated.
 */
export function parseCurlUrl(text: string): CurlUrlParse {
  const schemeMatch = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(text);
  const scheme = schemeMatch === null ? 'http' : schemeMatch[1].toLowerCase();
  const rest = schemeMatch === null ? text : text.slice(schemeMatch[0].length);
  const m = /^(\[[0-9a-fA-F:.]*\]|[^/:?#[\]@\s]+)(?::([^/?#]*))?([/?#].*)?$/.exec(rest);
  if (m === null) {
    // curl reads `x:/y` as a URL whose scheme is "x" (and knows no such protocol).
    const colon = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(rest);
    if (schemeMatch === null && colon !== null)
      return {
        ok: false,
        exitCode: CurlCode.UNSUPPORTED_PROTOCOL,
        message: `Protocol "${colon[1]}" not supported or disabled in libcurl`,
      };
    return BAD_URL;
  }
  if (scheme !== 'http') {
    return {
      ok: false,
      exitCode: CurlCode.UNSUPPORTED_PROTOCOL,
      message: `Protocol "${schemeMatch?.[1] ?? scheme}" not supported or disabled in libcurl`,
    };
  }
  let port = 80;
  if (m[2] !== undefined && m[2] !== '') {
    if (!/^\d{1,5}$/.test(m[2]) || Number(m[2]) > 65535) return BAD_URL;
    port = Number(m[2]);
  }
  const bracketed = m[1].startsWith('[');
  const host = bracketed ? m[1].slice(1, -1) : m[1];
  if (bracketed && !host.includes(':')) return BAD_URL;
  let path = (m[3] ?? '').replace(/#.*$/s, '');
  if (!path.startsWith('/')) path = `/${path}`;
  return { ok: true, url: { host, family: bracketed ? 6 : 4, port, path } };
}

/**
 * The message for an IPv6 URL nothing can carry: `why` says what is missing (a single-stack
 * cluster has no IPv6 addresses; some modes do not run their IPv6 rules yet).
 */
export function ipv6NotSupported(url: CurlUrl, why: string): string {
  return `IPv6 not supported here: [${url.host}]:${url.port} (${why})`;
}

interface Target {
  host: string;
  addr: number;
  port: number;
  path: string;
  /** 6 for an IPv6 destination (addr is then the host's IPv6 handle). */
  family?: 4 | 6;
}

type TargetParse = { ok: true; target: Target } | { ok: false; exitCode: number; message: string };

function resolveTarget(options: CurlOptions): TargetParse {
  let host: string;
  let port: number;
  let path: string;
  if (options.url !== undefined) {
    const parsed = parseCurlUrl(options.url);
    if (!parsed.ok) return parsed;
    ({ host, port, path } = parsed.url);
    if (parsed.url.family === 6) {
      // An IPv6 literal: the host carries it only when its network has an IPv6 datapath (resolve).
      const addr = options.ipFamily === 4 ? undefined : options.resolve?.(host);
      if (addr === undefined && options.ipFamily !== 4)
        return {
          ok: false,
          exitCode: CurlCode.COULDNT_CONNECT,
          message: ipv6NotSupported(parsed.url, 'no IPv6 datapath on this host'),
        };
      if (addr === undefined)
        return {
          ok: false,
          exitCode: CurlCode.COULDNT_RESOLVE_HOST,
          message: `Could not resolve host: ${host}`,
        };
      return { ok: true, target: { host, addr, port, path, family: 6 } };
    }
  } else if (options.host !== undefined) {
    host = typeof options.host === 'number' ? formatIPv4(options.host) : options.host;
    port = options.port ?? 80;
    path = options.path ?? '/';
  } else {
    return { ok: false, exitCode: CurlCode.URL_MALFORMAT, message: 'no URL specified' };
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) return BAD_URL;
  let addr: number | undefined;
  // getaddrinfo(AF_INET6) finds no address in an IPv4 literal (curl -6 http://10.0.0.1/ fails to resolve).
  if (isIPv4(host)) addr = options.ipFamily === 6 ? undefined : parseIPv4(host);
  else addr = options.resolve?.(host);
  if (addr === undefined) {
    return { ok: false, exitCode: CurlCode.COULDNT_RESOLVE_HOST, message: `Could not resolve host: ${host}` };
  }
  return { ok: true, target: { host, addr, port, path, family: options.ipFamily === 6 ? 6 : 4 } };
}

/** The header block curl sends, with its -H rules (see the file comment). */
export function requestHead(method: string, target: Target, custom: readonly string[] = []): string {
  // An IPv6 literal goes in brackets, as in the URL (Host: [fd00::1]:31244).
  const host = target.family === 6 && target.host.includes(':') ? `[${target.host}]` : target.host;
  const hostValue = target.port === 80 ? host : `${host}:${target.port}`;
  const nameOf = (h: string): string => /^[^:;]*/.exec(h)![0].trim().toLowerCase();
  const customNames = new Set(custom.map(nameOf));
  const customHost = custom.find((h) => nameOf(h) === 'host');
  const lines = [`${method} ${target.path} HTTP/1.1`];
  if (customHost === undefined) lines.push(`Host: ${hostValue}`);
  else if (!/^[^:]*:\s*$/.test(customHost)) lines.push(customHost);
  if (!customNames.has('user-agent')) lines.push(`User-Agent: ${CURL_USER_AGENT}`);
  if (!customNames.has('accept')) lines.push('Accept: */*');
  for (const h of custom) {
    if (nameOf(h) === 'host') continue;
    const semicolon = /^([^:;]+);\s*$/.exec(h);
    if (semicolon !== null) lines.push(`${semicolon[1]}:`);
    else if (h.includes(':') && !/^[^:]*:\s*$/.test(h)) lines.push(h);
  }
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** Splits a header block into curl's -v lines (each keeps its CRLF). */
function headerLines(block: string): string[] {
  return block.split(/(?<=\r\n)/).filter((l) => l !== '');
}

/** curl's -v output as text; `{ [N bytes data]` lines appear only when stdout is not a terminal. */
export function formatCurlVerbose(lines: readonly CurlVerboseLine[], stdoutIsTTY: boolean): string {
  let out = '';
  for (const l of lines) {
    if (l.kind === '{') {
      if (!stdoutIsTTY) out += `{ [${l.text} bytes data]\n`;
    } else if (l.kind === '*') out += `* ${l.text}\n`;
    else out += `${l.kind} ${l.text}`;
  }
  return out;
}

/** Starts a request; the returned object fills in as the simulation runs. */
export function curl(stack: TcpStack, options: CurlOptions): CurlRun {
  const transport = stack.transport;
  const startNs = transport.nowNs();
  const elapsedMs = (): number => Math.floor((transport.nowNs() - startNs) / 1e6);
  const run: { done: boolean; result: CurlResult | undefined; connection: TcpConnection | undefined } = {
    done: false,
    result: undefined,
    connection: undefined,
  };
  const timers: TimerHandle[] = [];
  const verbose: CurlVerboseLine[] = [];
  const info = (text: string): void => {
    verbose.push({ kind: '*', text });
  };

  const finish = (result: CurlResult): void => {
    if (run.done) return;
    run.done = true;
    run.result = result;
    for (const timer of timers) transport.clearTimer(timer);
    options.onDone?.(result);
  };
  const failNow = (exitCode: number, message: string): void => {
    if (run.done) return;
    // failf() also writes the message to the -v log; then the connection is closed.
    info(message);
    info('Closing connection 0');
    finish({
      ok: false,
      exitCode,
      message: `curl: (${exitCode}) ${message}`,
      elapsedMs: elapsedMs(),
      localPort: run.connection?.localPort ?? 0,
      verbose,
    });
  };

  const parsed = resolveTarget(options);
  if (!parsed.ok) {
    if (parsed.exitCode === CurlCode.COULDNT_RESOLVE_HOST) failNow(parsed.exitCode, parsed.message);
    // A malformed URL is refused before any connection exists: nothing in the -v log.
    else
      finish({
        ok: false,
        exitCode: parsed.exitCode,
        message: `curl: (${parsed.exitCode}) ${parsed.message}`,
        elapsedMs: 0,
        localPort: 0,
        verbose,
      });
    return run;
  }
  const target = parsed.target;
  const localAddr = typeof options.localAddr === 'string' ? parseIPv4(options.localAddr) : options.localAddr;
  const method = options.method ?? (options.head ? 'HEAD' : 'GET');
  const connectFailed = (exitCode: number, why: string): void =>
    failNow(
      exitCode,
      `Failed to connect to ${target.host} port ${target.port} after ${elapsedMs()} ms: ${why}`,
    );

  let connected = false;
  const response = new ByteAccumulator();
  let head: ResponseHead | undefined;
  let headLength = 0;
  let expectedBody: number | undefined;

  const bodyReceived = (): number => (head ? response.length - headLength : 0);
  let rawHead = '';
  /** The server said it will close (or the body ran to EOF): curl does not keep the connection. */
  let closing = false;

  const succeed = (connection: TcpConnection): void => {
    const body = response.view().slice(headLength, headLength + (expectedBody ?? bodyReceived()));
    connection.close();
    info(closing ? 'Closing connection 0' : `Connection #0 to host ${target.host} left intact`);
    finish({
      ok: true,
      status: head!.status,
      reason: head!.reason,
      httpVersion: head!.version,
      headers: head!.headers,
      body,
      stdout: utf8(body),
      elapsedMs: elapsedMs(),
      localPort: connection.localPort,
      rawHead,
      verbose,
    });
  };

  // curl prints an IPv6 address in brackets ("Trying [fd00::1]:80...") and bare elsewhere.
  const addrText = options.addressText ?? formatIPv4(target.addr);
  info(`  Trying ${target.family === 6 ? `[${addrText}]` : addrText}:${target.port}...`);

  const opened = stack.connect({
    localAddr,
    remoteAddr: target.addr,
    remotePort: target.port,
    events: {
      onConnected: (connection) => {
        connected = true;
        info(`Connected to ${target.host} (${addrText}) port ${target.port} (#0)`);
        const request = requestHead(method, target, options.headers);
        for (const line of headerLines(request)) verbose.push({ kind: '>', text: line });
        connection.send(encodeUtf8(request));
      },
      onData: (connection, data) => {
        if (run.done) return;
        response.append(data);
        if (!head) {
          const bytes = response.view();
          const end = findHeaderEnd(bytes);
          if (end < 0) return;
          const parsedHead = parseResponseHead(bytes.subarray(0, end));
          if (!parsedHead.ok) {
            connection.close();
            failNow(CurlCode.WEIRD_SERVER_REPLY, 'Weird server reply');
            return;
          }
          head = parsedHead.value;
          headLength = end;
          rawHead = latin1(bytes.subarray(0, end));
          for (const line of headerLines(rawHead)) verbose.push({ kind: '<', text: line });
          if (connectionHas(head.headers, 'close')) closing = true;
          const length = contentLength(head.headers);
          if (length !== undefined && Number.isNaN(length)) {
            connection.close();
            failNow(CurlCode.WEIRD_SERVER_REPLY, 'Weird server reply');
            return;
          }
          if (headerValue(head.headers, 'transfer-encoding') !== undefined) {
            // Chunked bodies are not modelled; the pod responder never sends them.
            connection.close();
            failNow(CurlCode.WEIRD_SERVER_REPLY, 'Transfer-Encoding is not supported by dpsim curl');
            return;
          }
          // -I: a HEAD response has no body whatever its Content-Length says.
          expectedBody = options.head ? 0 : length;
          if (expectedBody === undefined) closing = true;
          const inFirst = response.length - headLength;
          if (inFirst > 0) verbose.push({ kind: '{', text: String(inFirst) });
        } else if (data.length > 0) verbose.push({ kind: '{', text: String(data.length) });
        if (expectedBody !== undefined && bodyReceived() >= expectedBody) succeed(connection);
      },
      onPeerClosed: (connection) => {
        if (run.done) return;
        if (!head) {
          connection.close();
          failNow(CurlCode.GOT_NOTHING, 'Empty reply from server');
        } else if (expectedBody === undefined) {
          succeed(connection);
        } else {
          connection.close();
          failNow(
            CurlCode.PARTIAL_FILE,
            `transfer closed with ${expectedBody - bodyReceived()} bytes remaining to read`,
          );
        }
      },
      onError: (_connection, error: TcpSocketError) => {
        if (run.done) return;
        if (!connected) {
          // lib/connect.c: the message names CURLE_COULDNT_CONNECT; an OS ETIMEDOUT
          // turns the exit code into 28 afterwards.
          info(`connect to ${addrText} port ${target.port} failed: ${error.message}`);
          connectFailed(
            error.errno === 'ETIMEDOUT' ? CurlCode.OPERATION_TIMEDOUT : CurlCode.COULDNT_CONNECT,
            "Couldn't connect to server",
          );
        } else {
          failNow(CurlCode.RECV_ERROR, `Recv failure: ${error.message}`);
        }
      },
    },
  });
  if (!opened.ok) {
    info(`connect to ${addrText} port ${target.port} failed: ${opened.error.message}`);
    connectFailed(CurlCode.COULDNT_CONNECT, "Couldn't connect to server");
    return run;
  }
  const connection = opened.connection;
  run.connection = connection;

  // Connect phase: the earlier of --connect-timeout and --max-time. At a tie curl's
  // max-time check (top of multi_runsingle) runs before the connect filter's own.
  const connectMs = options.connectTimeoutMs ?? CURL_DEFAULT_CONNECT_TIMEOUT_MS;
  const maxMs = options.maxTimeMs;
  const maxFirst = maxMs !== undefined && maxMs <= connectMs;
  timers.push(
    transport.setTimer((maxFirst ? maxMs : connectMs) * 1e6, () => {
      if (run.done || connected) return;
      connection.close();
      if (maxFirst)
        failNow(CurlCode.OPERATION_TIMEDOUT, `Connection timed out after ${elapsedMs()} milliseconds`);
      else {
        info(`ipv4 connect timeout after ${connectMs}ms, move on!`);
        connectFailed(CurlCode.OPERATION_TIMEDOUT, 'Timeout was reached');
      }
    }),
  );
  if (maxMs !== undefined) {
    timers.push(
      transport.setTimer(maxMs * 1e6, () => {
        if (run.done || !connected) return;
        connection.close();
        const received = bodyReceived();
        const detail =
          expectedBody !== undefined
            ? `${received} out of ${expectedBody} bytes received`
            : `${received} bytes received`;
        failNow(
          CurlCode.OPERATION_TIMEDOUT,
          `Operation timed out after ${elapsedMs()} milliseconds with ${detail}`,
        );
      }),
    );
  }
  return run;
}
