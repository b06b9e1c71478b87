/**
 * The small amount of HTTP/1.x both apps need: accumulating bytes from a stream,
 * finding the end of a header block, and parsing a request or status line plus headers.
 * Header blocks are decoded as latin1 (RFC 9110: field values are octets); bodies stay
 * bytes.
 */

const CR = 13;
const LF = 10;

/** Bytes received so far on a stream, consumed from the front. */
export class ByteAccumulator {
  private buf: Uint8Array = new Uint8Array(0);
  private start = 0;
  private end = 0;
  /** `buf` is the caller's array (see append), never written to. */
  private borrowed = false;

  get length(): number {
    return this.end - this.start;
  }

  /**
   * Adds received bytes. With nothing buffered, `data` itself is kept (no copy: a whole
   * request usually arrives in one segment), so the caller must not change it afterwards.
   */
  append(data: Uint8Array): void {
    if (this.end === this.start) {
      this.buf = data;
      this.start = 0;
      this.end = data.length;
      this.borrowed = true;
      return;
    }
    if (this.borrowed || this.end + data.length > this.buf.length) {
      const live = this.end - this.start;
      const size = Math.max(live + data.length, this.buf.length * 2, 256);
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(this.start, this.end));
      this.buf = next;
      this.start = 0;
      this.end = live;
      this.borrowed = false;
    }
    this.buf.set(data, this.end);
    this.end += data.length;
  }

  /** A view of the unconsumed bytes (valid until the next append). */
  view(): Uint8Array {
    return this.buf.subarray(this.start, this.end);
  }

  /** Removes the first `n` bytes. */
  skip(n: number): void {
    this.start += n;
  }

  /** Removes and returns (a copy of) the first `n` bytes. */
  take(n: number): Uint8Array {
    const out = this.buf.slice(this.start, this.start + n);
    this.start += n;
    return out;
  }
}

/** Index just past the blank line ending a header block (`\r\n\r\n`), or -1. */
export function findHeaderEnd(bytes: Uint8Array): number {
  for (let i = 3; i < bytes.length; i++) {
    if (bytes[i] === LF && bytes[i - 1] === CR && bytes[i - 2] === LF && bytes[i - 3] === CR) return i + 1;
  }
  return -1;
}

export function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

export function utf8(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

const UTF8 = new TextEncoder();

/** A fresh array of the UTF-8 bytes (one copy; Buffer.from would share Node's pool). */
export function encodeUtf8(text: string): Uint8Array {
  return UTF8.encode(text);
}

export type HttpHeaders = [name: string, value: string][];

export type HeadParse<T> = { ok: true; value: T } | { ok: false; reason: string };

export interface RequestHead {
  method: string;
  target: string;
  /** e.g. 'HTTP/1.1'. */
  version: string;
  headers: HttpHeaders;
}

export interface ResponseHead {
  version: string;
  status: number;
  reason: string;
  headers: HttpHeaders;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function parseHeaderLines(lines: string[]): HeadParse<HttpHeaders> {
  const headers: HttpHeaders = [];
  for (const line of lines) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) return { ok: false, reason: `header line without a name: ${JSON.stringify(line)}` };
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return { ok: false, reason: `invalid header name ${JSON.stringify(name)}` };
    headers.push([name, line.slice(colon + 1).trim()]);
  }
  return { ok: true, value: headers };
}

/** Parses `bytes` = a header block including its final blank line. */
export function parseRequestHead(bytes: Uint8Array): HeadParse<RequestHead> {
  const lines = latin1(bytes).split('\r\n');
  const parts = lines[0].split(' ');
  if (parts.length !== 3 || !TOKEN.test(parts[0]) || parts[1] === '' || !/^HTTP\/1\.[01]$/.test(parts[2])) {
    return { ok: false, reason: `malformed request line ${JSON.stringify(lines[0])}` };
  }
  const headers = parseHeaderLines(lines.slice(1));
  if (!headers.ok) return headers;
  return {
    ok: true,
    value: { method: parts[0], target: parts[1], version: parts[2], headers: headers.value },
  };
}

/** Parses `bytes` = a response header block including its final blank line. */
export function parseResponseHead(bytes: Uint8Array): HeadParse<ResponseHead> {
  const lines = latin1(bytes).split('\r\n');
  const match = /^(HTTP\/1\.[01]) (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (!match) return { ok: false, reason: `malformed status line ${JSON.stringify(lines[0])}` };
  const headers = parseHeaderLines(lines.slice(1));
  if (!headers.ok) return headers;
  return {
    ok: true,
    value: { version: match[1], status: Number(match[2]), reason: match[3] ?? '', headers: headers.value },
  };
}

/** The value of the first header called `name` (case-insensitive). */
export function headerValue(headers: HttpHeaders, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [n, v] of headers) if (n.toLowerCase() === lower) return v;
  return undefined;
}

/** Content-Length as a number: undefined when absent, NaN when not a valid length. */
export function contentLength(headers: HttpHeaders): number | undefined {
  const value = headerValue(headers, 'content-length');
  if (value === undefined) return undefined;
  return /^\d{1,15}$/.test(value) ? Number(value) : Number.NaN;
}

/** Whether a Connection header lists `token` (e.g. 'close', 'keep-alive'). */
export function connectionHas(headers: HttpHeaders, token: string): boolean {
  const value = headerValue(headers, 'connection');
  if (value === undefined) return false;
  return value
    .toLowerCase()
    .split(',')
    .some((part) => part.trim() === token);
}
