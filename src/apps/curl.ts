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
 */
import { formatIPv4, isIPv4, parseIPv4 } from '../util/ipv4.js';
import {
  ByteAccumulator,
  contentLength,
  encodeUtf8,
  findHeaderEnd,
  type HttpHeaders,
  headerValue,
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
  /** `http://HOST[:PORT][/path]`. Either this or `host` (+ `port`, `path`). */
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
  /** Name resolution for non-IP hosts (the cluster's DNS); without it names fail with (6). */
  resolve?: (name: string) => number | undefined;
  /** Called once with the result, from inside the simulated event that finished it. */
  onDone?: (result: CurlResult) => void;
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
}

export type CurlResult = CurlSuccess | CurlFailure;

export interface CurlRun {
  readonly done: boolean;
  readonly result: CurlResult | undefined;
  /** The client's TCP connection (undefined if none was opened). */
  readonly connection: TcpConnection | undefined;
}

interface Target {
  host: string;
  addr: number;
  port: number;
  path: string;
}

type TargetParse = { ok: true; target: Target } | { ok: false; exitCode: number; message: string };

function resolveTarget(options: CurlOptions): TargetParse {
  let host: string;
  let port = 80;
  let path = '/';
  if (options.url !== undefined) {
    const match = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/:?#]+)(?::(\d*))?([/?#].*)?$/.exec(options.url);
    if (!match) {
      return {
        ok: false,
        exitCode: CurlCode.URL_MALFORMAT,
        message: 'URL using bad/illegal format or missing URL',
      };
    }
    const scheme = match[1].toLowerCase();
    if (scheme !== 'http') {
      return {
        ok: false,
        exitCode: CurlCode.UNSUPPORTED_PROTOCOL,
        message: `Protocol "${match[1]}" not supported or disabled in libcurl`,
      };
    }
    host = match[2];
    if (match[3] !== undefined && match[3] !== '') port = Number(match[3]);
    if (match[4] !== undefined) path = match[4].startsWith('/') ? match[4] : `/${match[4]}`;
  } else if (options.host !== undefined) {
    host = typeof options.host === 'number' ? formatIPv4(options.host) : options.host;
    port = options.port ?? 80;
    path = options.path ?? '/';
  } else {
    return { ok: false, exitCode: CurlCode.URL_MALFORMAT, message: 'no URL specified' };
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    return {
      ok: false,
      exitCode: CurlCode.URL_MALFORMAT,
      message: 'Port number was not a decimal number between 0 and 65535',
    };
  }
  let addr: number | undefined;
  if (isIPv4(host)) addr = parseIPv4(host);
  else addr = options.resolve?.(host);
  if (addr === undefined) {
    return { ok: false, exitCode: CurlCode.COULDNT_RESOLVE_HOST, message: `Could not resolve host: ${host}` };
  }
  return { ok: true, target: { host, addr, port, path } };
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

  const finish = (result: CurlResult): void => {
    if (run.done) return;
    run.done = true;
    run.result = result;
    for (const timer of timers) transport.clearTimer(timer);
    options.onDone?.(result);
  };
  const failNow = (exitCode: number, message: string): void =>
    finish({
      ok: false,
      exitCode,
      message: `curl: (${exitCode}) ${message}`,
      elapsedMs: elapsedMs(),
      localPort: run.connection?.localPort ?? 0,
    });

  const parsed = resolveTarget(options);
  if (!parsed.ok) {
    failNow(parsed.exitCode, parsed.message);
    return run;
  }
  const target = parsed.target;
  const localAddr = typeof options.localAddr === 'string' ? parseIPv4(options.localAddr) : options.localAddr;
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

  const succeed = (connection: TcpConnection): void => {
    const body = response.view().slice(headLength, headLength + (expectedBody ?? bodyReceived()));
    connection.close();
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
    });
  };

  const opened = stack.connect({
    localAddr,
    remoteAddr: target.addr,
    remotePort: target.port,
    events: {
      onConnected: (connection) => {
        connected = true;
        const hostHeader = target.port === 80 ? target.host : `${target.host}:${target.port}`;
        connection.send(
          encodeUtf8(
            `GET ${target.path} HTTP/1.1\r\n` +
              `Host: ${hostHeader}\r\n` +
              `User-Agent: ${CURL_USER_AGENT}\r\n` +
              'Accept: */*\r\n' +
              '\r\n',
          ),
        );
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
          expectedBody = length;
        }
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
      else connectFailed(CurlCode.OPERATION_TIMEDOUT, 'Timeout was reached');
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
