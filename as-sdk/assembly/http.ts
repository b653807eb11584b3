/**
 * A safe outbound HTTP client over the `wasi_experimental_http` import.
 *
 * ```ts
 * const res = new RequestBuilder("http://127.0.0.1:3500/v1.0/healthz").send();
 * if (res.error) { console.log(res.error!.toString()); return; }
 * const r = res.value!;
 * console.log(r.status.toString());
 * r.close();
 * ```
 *
 * Errors are values (`HttpError`, with the host's ABI code and a readable message):
 * a URL the allowlist denies is `ErrorCode.DestinationNotAllowed`, never an abort.
 *
 * @packageDocumentation
 */

import * as raw from "./raw";
import { Result, ok, err } from "./result";

/** The error codes of the `wasi_experimental_http` ABI, plus a few guest-side ones. */
export enum ErrorCode {
  /** The call succeeded. */
  Success = 0,
  /** The response handle is unknown to the host (or already closed). */
  InvalidHandle = 1,
  /** The module exports no memory named `memory`. */
  MemoryNotFound = 2,
  /** A pointer/length pair is outside the module's memory. */
  MemoryAccess = 3,
  /** The destination buffer is too small (the SDK retries with a larger one). */
  BufferTooSmall = 4,
  /** The response has no header of that name. */
  HeaderNotFound = 5,
  /** A string is not valid UTF-8. */
  Utf8 = 6,
  /** The host's allowlist does not allow this destination. */
  DestinationNotAllowed = 7,
  /** The method is not a valid HTTP method. */
  InvalidMethod = 8,
  /** The header block is malformed. */
  InvalidEncoding = 9,
  /** The URL does not parse. */
  InvalidUrl = 10,
  /** The request failed (connection refused, timeout, body too large, ...). */
  RequestError = 11,
  /** The host failed for a reason of its own. */
  RuntimeError = 12,
  /** Too many responses are open at once: close some. */
  TooManySessions = 13,

  /** Guest-side: a header name or value would break the `name:value\n` encoding. Not sent. */
  InvalidHeader = 100,
  /** Guest-side: the response (or a header block) exceeds the SDK's size cap. */
  TooLarge = 101,
  /** Guest-side: the response was already closed by `close()`. */
  Closed = 102,
}

/** A short English description of an error code. */
export function errorCodeMessage(code: u32): string {
  switch (code) {
    case 0: return "success";
    case 1: return "invalid handle";
    case 2: return "memory not found";
    case 3: return "memory access error";
    case 4: return "buffer too small";
    case 5: return "header not found";
    case 6: return "invalid UTF-8";
    case 7: return "destination not allowed";
    case 8: return "invalid method";
    case 9: return "invalid encoding";
    case 10: return "invalid URL";
    case 11: return "request error";
    case 12: return "runtime error";
    case 13: return "too many sessions";
    case 100: return "invalid header";
    case 101: return "too large";
    case 102: return "response closed";
    default: return "unknown error";
  }
}

/** An HTTP failure: the ABI code and a message naming what was attempted. */
export class HttpError {
  constructor(
    /** The ABI error code (see `ErrorCode`). */
    public readonly code: u32,
    /** What failed, e.g. `destination not allowed (code 7): GET http://example.com/`. */
    public readonly message: string,
  ) {}

  /** An error for `code`, with `context` (what was being done) appended. */
  static fromCode(code: u32, context: string): HttpError {
    return new HttpError(
      code,
      errorCodeMessage(code) + " (code " + code.toString() + "): " + context,
    );
  }

  /** `true` when the host's allowlist refused the destination. */
  isDenied(): bool {
    return this.code == ErrorCode.DestinationNotAllowed;
  }

  /** The message (see `message`). */
  toString(): string {
    return this.message;
  }
}

/**
 * HTTP method names, spelled as they go on the wire. String constants grouped like an
 * enum (`Method.GET`); any other method string may be passed where a method is taken.
 */
export namespace Method {
  /** `GET`. */
  export const GET = "GET";
  /** `HEAD`. */
  export const HEAD = "HEAD";
  /** `POST`. */
  export const POST = "POST";
  /** `PUT`. */
  export const PUT = "PUT";
  /** `DELETE`. */
  export const DELETE = "DELETE";
  /** `PATCH`. */
  export const PATCH = "PATCH";
  /** `OPTIONS`. */
  export const OPTIONS = "OPTIONS";
  /** `TRACE`. */
  export const TRACE = "TRACE";
  /** `CONNECT`. */
  export const CONNECT = "CONNECT";
}

/** One header line. Repeated headers are repeated `Header`s. */
export class Header {
  constructor(
    /** The header name, as sent or received. */
    public readonly name: string,
    /** The header value. */
    public readonly value: string,
  ) {}
}

/**
 * Parses the ABI's header block: `name:value\n` lines. Each line is split on its FIRST
 * `:` (values may contain `:`), the value is trimmed of surrounding spaces/tabs, a
 * trailing `\r` is dropped, repeated names stay repeated, and lines without a `:` or
 * with an empty name are skipped.
 */
export function parseHeaderLines(block: string): Header[] {
  const out = new Array<Header>();
  const lines = block.split("\n");
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    if (line.endsWith("\r")) line = line.substring(0, line.length - 1);
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.substring(0, colon).trim();
    if (name.length == 0) continue;
    out.push(new Header(name, line.substring(colon + 1).trim()));
  }
  return out;
}

/** Encodes headers as the ABI's `name:value\n` block. */
export function encodeHeaderLines(headers: Header[]): string {
  let s = "";
  for (let i = 0; i < headers.length; i++) {
    s += headers[i].name + ":" + headers[i].value + "\n";
  }
  return s;
}

/** `true` if `name` can be sent as a header name (a non-empty HTTP token). */
export function isValidHeaderName(name: string): bool {
  if (name.length == 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const ok =
      (c >= 0x30 && c <= 0x39) ||
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x61 && c <= 0x7a) ||
      "!#$%&'*+-.^_`|~".indexOf(String.fromCharCode(c)) >= 0;
    if (!ok) return false;
  }
  return true;
}

/** `true` if `value` can be sent as a header value (no CR, LF or NUL). */
export function isValidHeaderValue(value: string): bool {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c == 0x0a || c == 0x0d || c == 0) return false;
  }
  return true;
}

/** ASCII-case-insensitive string equality (header names). */
export function equalsIgnoreCase(a: string, b: string): bool {
  if (a.length != b.length) return false;
  for (let i = 0; i < a.length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x >= 0x41 && x <= 0x5a) x += 0x20;
    if (y >= 0x41 && y <= 0x5a) y += 0x20;
    if (x != y) return false;
  }
  return true;
}

/**
 * The value of the first header called `name` (ASCII case-insensitive), or `null`.
 *
 * @param headers - the headers to search, in order
 * @param name - the header name to look for
 */
export function findHeader(headers: Header[], name: string): string | null {
  for (let i = 0; i < headers.length; i++) {
    if (equalsIgnoreCase(headers[i].name, name)) return headers[i].value;
  }
  return null;
}

// Scratch space for the ABI's out-parameters: status u16 @0, handle u32 @4, written u32 @8.
const OUT: usize = memory.data(16);

/** Largest header block the SDK asks the host for (1 MiB). */
export const MAX_HEADER_BYTES: i32 = 1 << 20;
/** Default cap of `Response.bodyAll()` (64 MiB); the host has its own cap too. */
export const DEFAULT_BODY_LIMIT: i32 = 64 << 20;

/**
 * Builds and sends one request. Defaults: method `GET`, no headers, empty body.
 * `send()` may be called more than once (each call is a new request).
 */
export class RequestBuilder {
  private _method: string = Method.GET;
  private _headers: Header[] = new Array<Header>();
  private _body: Uint8Array = new Uint8Array(0);

  constructor(
    /** The absolute URL, e.g. `http://127.0.0.1:3500/v1.0/healthz`. */
    public readonly url: string,
  ) {}

  /** Sets the method (use `Method.*`; the host refuses an invalid one with code 8). */
  method(method: string): RequestBuilder {
    this._method = method;
    return this;
  }

  /** Adds a header; calling it twice with one name sends the header twice. */
  header(name: string, value: string): RequestBuilder {
    this._headers.push(new Header(name, value));
    return this;
  }

  /** Sets the body bytes. */
  body(bytes: Uint8Array): RequestBuilder {
    this._body = bytes;
    return this;
  }

  /** Sets the body to `text` encoded as UTF-8. */
  bodyText(text: string): RequestBuilder {
    this._body = Uint8Array.wrap(String.UTF8.encode(text));
    return this;
  }

  /** The method that will be sent. */
  getMethod(): string {
    return this._method;
  }

  /** The headers that will be sent, in order. */
  getHeaders(): Header[] {
    return this._headers;
  }

  /** The body that will be sent. */
  getBody(): Uint8Array {
    return this._body;
  }

  /** The header block exactly as it will be passed to the host. */
  encodedHeaders(): string {
    return encodeHeaderLines(this._headers);
  }

  /** Sends the request. The returned `Response` must be `close()`d. */
  send(): Result<Response, HttpError> {
    const what = this._method + " " + this.url;
    for (let i = 0; i < this._headers.length; i++) {
      const h = this._headers[i];
      if (!isValidHeaderName(h.name) || !isValidHeaderValue(h.value)) {
        return err<Response, HttpError>(
          new HttpError(
            ErrorCode.InvalidHeader,
            "invalid header (code 100): name " +
              h.name +
              " or its value cannot be sent; request not sent: " +
              what,
          ),
        );
      }
    }
    const url = String.UTF8.encode(this.url);
    const method = String.UTF8.encode(this._method);
    const headers = String.UTF8.encode(encodeHeaderLines(this._headers));
    const body = this._body;
    store<u32>(OUT, 0);
    store<u32>(OUT + 4, 0);
    const code = raw.req(
      changetype<usize>(url),
      <usize>url.byteLength,
      changetype<usize>(method),
      <usize>method.byteLength,
      changetype<usize>(headers),
      <usize>headers.byteLength,
      body.dataStart,
      <usize>body.byteLength,
      OUT,
      OUT + 4,
    );
    if (code != ErrorCode.Success) {
      return err<Response, HttpError>(HttpError.fromCode(code, what));
    }
    return ok<Response, HttpError>(new Response(load<u16>(OUT), load<u32>(OUT + 4), what));
  }
}

/** A response: status now, headers and body on demand. Call `close()` when done. */
export class Response {
  private _closed: bool = false;

  constructor(
    /** The HTTP status code. */
    public readonly status: u16,
    /** The host's handle for this response. */
    public readonly handle: u32,
    /** `METHOD url` of the request, for error messages. */
    public readonly request: string = "",
  ) {}

  /** `true` once `close()` was called. */
  get closed(): bool {
    return this._closed;
  }

  private closedError<T>(): Result<T, HttpError> {
    return err<T, HttpError>(
      new HttpError(ErrorCode.Closed, "response closed (code 102): " + this.request),
    );
  }

  /**
   * The first value of header `name` (case-insensitive); `value` is `null` when the
   * response has no such header (that is not an error).
   */
  header(name: string): Result<string, HttpError> {
    if (this._closed) return this.closedError<string>();
    const nameBuf = String.UTF8.encode(name);
    let size: i32 = 1024;
    while (true) {
      const buf = new ArrayBuffer(size);
      store<u32>(OUT + 8, 0);
      const code = raw.header_get(
        this.handle,
        changetype<usize>(nameBuf),
        <usize>nameBuf.byteLength,
        changetype<usize>(buf),
        <usize>size,
        OUT + 8,
      );
      if (code == ErrorCode.Success) {
        const n = <i32>load<u32>(OUT + 8);
        return ok<string, HttpError>(String.UTF8.decodeUnsafe(changetype<usize>(buf), <usize>min(n, size)));
      }
      if (code == ErrorCode.HeaderNotFound) return ok<string, HttpError>(null);
      if (code == ErrorCode.BufferTooSmall && size < MAX_HEADER_BYTES) {
        size = nextSize(size, <i32>load<u32>(OUT + 8));
        continue;
      }
      return err<string, HttpError>(
        HttpError.fromCode(code, "reading header " + name + " of " + this.request),
      );
    }
  }

  /** Every header, in the host's order; repeated names appear once per value. */
  headers(): Result<Header[], HttpError> {
    if (this._closed) return this.closedError<Header[]>();
    let size: i32 = 4096;
    while (true) {
      const buf = new ArrayBuffer(size);
      store<u32>(OUT + 8, 0);
      const code = raw.headers_get_all(this.handle, changetype<usize>(buf), <usize>size, OUT + 8);
      if (code == ErrorCode.Success) {
        const n = <i32>load<u32>(OUT + 8);
        const text = String.UTF8.decodeUnsafe(changetype<usize>(buf), <usize>min(n, size));
        return ok<Header[], HttpError>(parseHeaderLines(text));
      }
      if (code == ErrorCode.BufferTooSmall && size < MAX_HEADER_BYTES) {
        size = nextSize(size, <i32>load<u32>(OUT + 8));
        continue;
      }
      return err<Header[], HttpError>(
        HttpError.fromCode(code, "reading headers of " + this.request),
      );
    }
  }

  /** Every value of header `name` (case-insensitive), in order; empty if absent. */
  headerValues(name: string): Result<string[], HttpError> {
    const all = this.headers();
    if (all.error) return err<string[], HttpError>(all.error!);
    const hs = all.value!;
    const out = new Array<string>();
    for (let i = 0; i < hs.length; i++) {
      if (equalsIgnoreCase(hs[i].name, name)) out.push(hs[i].value);
    }
    return ok<string[], HttpError>(out);
  }

  /**
   * Reads the next chunk of the body, at most `max` bytes. An empty chunk means the
   * body is finished.
   */
  read(max: i32 = 16384): Result<Uint8Array, HttpError> {
    if (this._closed) return this.closedError<Uint8Array>();
    if (max <= 0) max = 1;
    const buf = new Uint8Array(max);
    store<u32>(OUT + 8, 0);
    const code = raw.body_read(this.handle, buf.dataStart, <usize>max, OUT + 8);
    if (code != ErrorCode.Success) {
      return err<Uint8Array, HttpError>(
        HttpError.fromCode(code, "reading the body of " + this.request),
      );
    }
    const n = min(<i32>load<u32>(OUT + 8), max);
    return ok<Uint8Array, HttpError>(n == max ? buf : buf.slice(0, n));
  }

  /** Reads the rest of the body (up to `limit` bytes; more is `ErrorCode.TooLarge`). */
  bodyAll(limit: i32 = DEFAULT_BODY_LIMIT): Result<Uint8Array, HttpError> {
    const chunks = new Array<Uint8Array>();
    let total: i32 = 0;
    while (true) {
      const r = this.read(65536);
      if (r.error) return err<Uint8Array, HttpError>(r.error!);
      const chunk = r.value!;
      if (chunk.length == 0) break;
      total += chunk.length;
      if (total > limit) {
        return err<Uint8Array, HttpError>(
          new HttpError(
            ErrorCode.TooLarge,
            "too large (code 101): the body of " +
              this.request +
              " exceeds " +
              limit.toString() +
              " bytes",
          ),
        );
      }
      chunks.push(chunk);
    }
    if (chunks.length == 1) return ok<Uint8Array, HttpError>(chunks[0]);
    const out = new Uint8Array(total);
    let at: i32 = 0;
    for (let i = 0; i < chunks.length; i++) {
      out.set(chunks[i], at);
      at += chunks[i].length;
    }
    return ok<Uint8Array, HttpError>(out);
  }

  /** Reads the rest of the body as UTF-8 text. */
  bodyText(limit: i32 = DEFAULT_BODY_LIMIT): Result<string, HttpError> {
    const r = this.bodyAll(limit);
    if (r.error) return err<string, HttpError>(r.error!);
    return ok<string, HttpError>(bytesToString(r.value!));
  }

  /** Releases the host's handle. Safe to call twice (the second call does nothing). */
  close(): HttpError | null {
    if (this._closed) return null;
    this._closed = true;
    const code = raw.close(this.handle);
    if (code != ErrorCode.Success) return HttpError.fromCode(code, "closing " + this.request);
    return null;
  }
}

/** Decodes UTF-8 bytes to a string. */
export function bytesToString(bytes: Uint8Array): string {
  return String.UTF8.decodeUnsafe(bytes.dataStart, <usize>bytes.byteLength);
}

/** Encodes a string as UTF-8 bytes. */
export function stringToBytes(s: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(s));
}

function nextSize(current: i32, hinted: i32): i32 {
  let next = current * 2;
  if (hinted > next) next = hinted;
  if (next > MAX_HEADER_BYTES) next = MAX_HEADER_BYTES;
  return next;
}
