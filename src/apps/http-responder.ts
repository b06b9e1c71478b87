/**
 * The pod application: an HTTP/1.x server on one port that answers every request with
 * `200 OK` and a small text body naming the pod (the origin scenario's
 * `Hello World!\n<podName>\n`).
 *
 * It behaves like a typical keep-alive server (Go net/http's header order: Date,
 * Content-Length, Content-Type): HTTP/1.1 connections stay open until the client
 * closes, and the server closes its side as soon as it reads EOF; `Connection: close`
 * or an HTTP/1.0 request without keep-alive closes after the response. A malformed
 * request gets `400 Bad Request` and the connection is closed.
 */
import {
  ByteAccumulator,
  connectionHas,
  contentLength,
  encodeUtf8,
  findHeaderEnd,
  parseRequestHead,
  type RequestHead,
} from './http1.js';
import type { TcpConnection } from './tcp-connection.js';
import type { TcpListener, TcpStack } from './tcp-stack.js';

/** The origin scenario's body; `{podName}`, `{method}` and `{path}` are substituted. */
export const DEFAULT_BODY_TEMPLATE = 'Hello World!\n{podName}\n';

/** Requests with a header block larger than this are refused (Go's default is 1 MiB). */
const MAX_HEADER_BYTES = 64 * 1024;

export interface HttpResponderOptions {
  port: number;
  podName: string;
  /** Body template; default {@link DEFAULT_BODY_TEMPLATE}. */
  bodyTemplate?: string;
  /**
   * Wall-clock time (ms since the Unix epoch) at simulated time 0, for the Date header.
   * Default 0: the Date header shows the simulated clock as if it started in 1970.
   */
  clockEpochMs?: number;
  /** Called for every accepted connection (the simulator records who connected from where). */
  onAccept?: (connection: TcpConnection) => void;
  /**
   * Builds the reply instead of the body template (host daemons such as kube-proxy's health
   * servers); `clockMs` is the wall clock the Date header shows.
   */
  handler?: (request: RequestHead, clockMs: number) => HttpReply;
}

/**
 * A handler's reply. Its headers are the ones a Go handler sets itself: Go's net/http writes
 * them sorted by name, then its own Date and Content-Length.
 */
export interface HttpReply {
  readonly status: number;
  readonly headers: readonly (readonly [name: string, value: string])[];
  readonly body: string;
}

const REASON_PHRASES: Readonly<Record<number, string>> = {
  200: 'OK',
  404: 'Not Found',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** A handler's reply as Go's net/http puts it on the wire. */
export function encodeReply(reply: HttpReply, clockMs: number, method: string): Uint8Array {
  const body = encodeUtf8(reply.body);
  const sorted = [...reply.headers].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const head =
    `HTTP/1.1 ${reply.status} ${REASON_PHRASES[reply.status] ?? ''}\r\n` +
    sorted.map(([name, value]) => `${name}: ${value}\r\n`).join('') +
    `Date: ${httpDate(clockMs)}\r\n` +
    `Content-Length: ${body.length}\r\n` +
    '\r\n';
  const headBytes = encodeUtf8(head);
  const out = new Uint8Array(headBytes.length + (method === 'HEAD' ? 0 : body.length));
  out.set(headBytes);
  if (method !== 'HEAD') out.set(body, headBytes.length);
  return out;
}

export interface HttpResponderStats {
  connections: number;
  requests: number;
  badRequests: number;
}

export interface HttpResponder {
  readonly port: number;
  readonly stats: Readonly<HttpResponderStats>;
  /** Stops listening; open connections finish normally. */
  stop(): void;
}

/** RFC 7231 IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`. */
let lastDateSecond = Number.NaN;
let lastDateText = '';

export function httpDate(epochMs: number): string {
  // One-second resolution: a busy responder formats each second once, not once per answer.
  const second = Math.floor(epochMs / 1000);
  if (second !== lastDateSecond) {
    lastDateSecond = second;
    lastDateText = new Date(second * 1000).toUTCString();
  }
  return lastDateText;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function renderBody(template: string, podName: string, request?: RequestHead): string {
  return template
    .replaceAll('{podName}', podName)
    .replaceAll('{method}', request?.method ?? '')
    .replaceAll('{path}', request?.target ?? '');
}

export function startHttpResponder(stack: TcpStack, options: HttpResponderOptions): HttpResponder {
  const template = options.bodyTemplate ?? DEFAULT_BODY_TEMPLATE;
  const epochMs = options.clockEpochMs ?? 0;
  const stats: HttpResponderStats = { connections: 0, requests: 0, badRequests: 0 };
  const clockMs = (): number => epochMs + stack.transport.nowNs() / 1e6;

  let cachedSecond = Number.NaN;
  let cachedMethod = '';
  let cachedTarget = '';
  let cachedAnswer = new Uint8Array(0);
  const respond = (connection: TcpConnection, request: RequestHead): void => {
    if (options.handler !== undefined) {
      const now = clockMs();
      connection.send(encodeReply(options.handler(request, now), now, request.method));
      return;
    }
    // The answer changes only with the Date header's second and the request line: a busy pod
    // (a rollout's 1,000 connections a second) encodes it once per second, not per request
    // (send() copies what it is given, so handing out the same bytes is safe).
    const nowMs = clockMs();
    const second = Math.floor(nowMs / 1000);
    if (second === cachedSecond && request.method === cachedMethod && request.target === cachedTarget) {
      connection.send(cachedAnswer);
      return;
    }
    const body = encodeUtf8(renderBody(template, options.podName, request));
    const head =
      'HTTP/1.1 200 OK\r\n' +
      `Date: ${httpDate(nowMs)}\r\n` +
      `Content-Length: ${body.length}\r\n` +
      'Content-Type: text/plain; charset=utf-8\r\n' +
      '\r\n';
    const headBytes = encodeUtf8(head);
    const out = new Uint8Array(headBytes.length + (request.method === 'HEAD' ? 0 : body.length));
    out.set(headBytes);
    if (request.method !== 'HEAD') out.set(body, headBytes.length);
    cachedSecond = second;
    cachedMethod = request.method;
    cachedTarget = request.target;
    cachedAnswer = out;
    connection.send(out);
  };

  const badRequest = (connection: TcpConnection): void => {
    stats.badRequests++;
    const body = '400 Bad Request';
    connection.send(
      encodeUtf8(
        'HTTP/1.1 400 Bad Request\r\n' +
          'Content-Type: text/plain; charset=utf-8\r\n' +
          'Connection: close\r\n' +
          '\r\n' +
          body,
      ),
    );
    connection.close();
  };

  // Load generators send the same request head again and again: parse a byte-identical head
  // once (the parse is only read, never changed, by respond and the handlers).
  let lastHead = new Uint8Array(0);
  let lastParse: ReturnType<typeof parseRequestHead> | null = null;
  const parseHeadOnce = (head: Uint8Array): ReturnType<typeof parseRequestHead> => {
    if (lastParse !== null && sameBytes(head, lastHead)) return lastParse;
    lastParse = parseRequestHead(head);
    lastHead = head.slice();
    return lastParse;
  };

  const serve = (connection: TcpConnection): void => {
    stats.connections++;
    options.onAccept?.(connection);
    const input = new ByteAccumulator();
    let closing = false;
    connection.events = {
      onData: (conn, data) => {
        if (closing) return;
        input.append(data);
        // Answer every complete request (pipelining included), in order.
        for (;;) {
          const bytes = input.view();
          const headEnd = findHeaderEnd(bytes);
          if (headEnd < 0) {
            if (bytes.length > MAX_HEADER_BYTES) {
              closing = true;
              badRequest(conn);
            }
            return;
          }
          const parsed = parseHeadOnce(bytes.subarray(0, headEnd));
          const length = parsed.ok ? contentLength(parsed.value.headers) : Number.NaN;
          if (!parsed.ok || Number.isNaN(length)) {
            closing = true;
            badRequest(conn);
            return;
          }
          const bodyLength = length ?? 0;
          if (bytes.length < headEnd + bodyLength) return; // wait for the request body
          input.skip(headEnd + bodyLength);
          const request = parsed.value;
          stats.requests++;
          respond(conn, request);
          const keepAlive =
            request.version === 'HTTP/1.1'
              ? !connectionHas(request.headers, 'close')
              : connectionHas(request.headers, 'keep-alive');
          if (!keepAlive) {
            closing = true;
            conn.close();
            return;
          }
        }
      },
      onPeerClosed: (conn) => conn.close(),
      onError: (conn) => conn.close(),
    };
  };

  const listener: TcpListener = stack.listen({ port: options.port, onAccept: serve });
  return {
    port: options.port,
    stats,
    stop: () => listener.close(),
  };
}
