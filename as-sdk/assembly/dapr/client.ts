/**
 * The sidecar connection every building block uses: the address, the API token, and
 * one request/answer round trip (`SidecarClient`), plus the small argument and answer
 * helpers shared by the building-block files.
 *
 * @packageDocumentation
 */

import { Header, RequestBuilder, bytesToString, equalsIgnoreCase, findHeader, stringToBytes } from "../http";
import { ok, err } from "../result";
import { UrlBuilder } from "../url";
import { getEnv } from "../wasi";
import { JSON, member, memberString, parseObject } from "../json";
import { DaprError, DaprResult } from "./error";

/** The sidecar address used when neither `DAPR_HTTP_ENDPOINT` nor `DAPR_HTTP_PORT` is set. */
export const DEFAULT_ENDPOINT = "http://127.0.0.1:3500";

/**
 * The sidecar base URL, in this order: `DAPR_HTTP_ENDPOINT` (trailing `/` removed), then
 * `http://127.0.0.1:$DAPR_HTTP_PORT`, then `http://127.0.0.1:3500`. Empty values are
 * ignored.
 */
export function resolveEndpoint(endpoint: string | null, port: string | null): string {
  if (endpoint != null) {
    let e = endpoint.trim();
    while (e.endsWith("/")) e = e.substring(0, e.length - 1);
    if (e.length > 0) return e;
  }
  if (port != null) {
    const p = port.trim();
    if (p.length > 0) return "http://127.0.0.1:" + p;
  }
  return DEFAULT_ENDPOINT;
}

/** The sidecar base URL from this module's environment (see `resolveEndpoint`). */
export function endpointFromEnv(): string {
  return resolveEndpoint(getEnv("DAPR_HTTP_ENDPOINT"), getEnv("DAPR_HTTP_PORT"));
}

/** A complete answer (status, headers, body) of the sidecar or an invoked app. */
export class InvokeResponse {
  constructor(
    /** The HTTP status. */
    public readonly status: u16,
    /** Every header, repeated names repeated. */
    public readonly headers: Header[],
    /** The body. */
    public readonly body: Uint8Array,
  ) {}

  /** The first value of header `name` (case-insensitive), or `null`. */
  header(name: string): string | null {
    return findHeader(this.headers, name);
  }

  /** The body as UTF-8 text. */
  text(): string {
    return bytesToString(this.body);
  }

  /** `true` for a 2xx status. */
  get isSuccess(): bool {
    return this.status >= 200 && this.status < 300;
  }
}

/** A 2xx answer of the sidecar: its status, its body text, and that text as a JSON object. */
export class JsonReply {
  constructor(
    /** The HTTP status. */
    public readonly status: u16,
    /** The body as UTF-8 text. */
    public readonly text: string,
    /** The body's members, or `null` when the body is not a JSON object (204 included). */
    public readonly obj: Map<string, JSON.Raw> | null,
  ) {}

  /** The raw JSON text of member `key`, or `null` (no such member, or no object). */
  member(key: string): string | null {
    const o = this.obj;
    return o != null ? member(o, key) : null;
  }

  /** Member `key` decoded as a JSON string, or `null` (absent, not a string, or no object). */
  stringMember(key: string): string | null {
    const o = this.obj;
    return o != null ? memberString(o, key) : null;
  }

  /** An `InvalidResponse` error with this answer's status and body. */
  invalid(message: string): DaprError {
    return DaprError.invalidResponse(this.status, message, this.text);
  }
}

/**
 * The sidecar connection: address, API token and the request helpers the building-block
 * layers build on. Use `DaprClient`, which has every building block.
 */
export class SidecarClient {
  /** The sidecar base URL, e.g. `http://127.0.0.1:3500`. */
  readonly endpoint: string;
  /** The API token sent on every call, or `null`. */
  apiToken: string | null;

  constructor(endpoint: string | null = null) {
    this.endpoint = endpoint != null ? resolveEndpoint(endpoint, null) : endpointFromEnv();
    const token = getEnv("DAPR_API_TOKEN");
    this.apiToken = token != null && token.length > 0 ? token : null;
  }

  /** A URL builder rooted at the sidecar. */
  url(): UrlBuilder {
    return new UrlBuilder(this.endpoint);
  }

  /**
   * Sends one request and reads the whole answer (headers and body), closing the
   * response. Any status is returned as a `InvokeResponse`; only transport failures are errors.
   *
   * @param method - the HTTP method, e.g. `Method.POST`
   * @param url - the whole URL (see `url()`)
   * @param body - the body, or `null` for none
   * @param contentType - sent as `Content-Type` when given
   * @param headers - more headers, in order
   * @returns the answer whatever its status; an error only when the call did not complete
   */
  request(
    method: string,
    url: string,
    body: Uint8Array | null = null,
    contentType: string | null = null,
    headers: Header[] | null = null,
  ): DaprResult<InvokeResponse> {
    const req = new RequestBuilder(url).method(method);
    const token = this.apiToken;
    if (token != null) req.header("dapr-api-token", token);
    if (contentType != null) req.header("Content-Type", contentType);
    if (headers != null) {
      for (let i = 0; i < headers.length; i++) req.header(headers[i].name, headers[i].value);
    }
    if (body != null) req.body(body);
    const sent = req.send();
    if (sent.error) return err<InvokeResponse, DaprError>(DaprError.transport(sent.error!));
    const res = sent.value!;
    const hs = res.headers();
    if (hs.error) {
      res.close();
      return err<InvokeResponse, DaprError>(DaprError.transport(hs.error!));
    }
    const b = res.bodyAll();
    res.close();
    if (b.error) return err<InvokeResponse, DaprError>(DaprError.transport(b.error!));
    return ok<InvokeResponse, DaprError>(new InvokeResponse(res.status, hs.value!, b.value!));
  }

  /**
   * `request()` to the sidecar's own API, with any non-2xx status turned into a
   * `DaprError` (Dapr's error JSON). `ifMatch`, when given, is sent as `If-Match` (the
   * only header a sidecar call needs besides the content type).
   */
  protected call(
    method: string,
    url: string,
    body: Uint8Array | null = null,
    contentType: string | null = null,
    ifMatch: string | null = null,
  ): DaprResult<InvokeResponse> {
    const headers = ifMatch != null ? [new Header("If-Match", ifMatch)] : null;
    const r = this.request(method, url, body, contentType, headers);
    if (r.error) return r;
    const reply = r.value!;
    if (!reply.isSuccess) {
      return err<InvokeResponse, DaprError>(
        DaprError.fromResponse(reply.status, reply.text(), method + " " + url),
      );
    }
    return r;
  }

  /** `call()` with JSON text as an `application/json` body. */
  protected callJson(method: string, url: string, json: string): DaprResult<InvokeResponse> {
    return this.call(method, url, stringToBytes(json), "application/json");
  }

  /**
   * `call()`, or `callJson()` when `json` is given, answering the body text and the body
   * as a JSON object when it is one (see `JsonReply`).
   */
  protected callForJson(method: string, url: string, json: string | null = null): DaprResult<JsonReply> {
    const r = json != null ? this.callJson(method, url, json) : this.call(method, url);
    if (r.error) return err<JsonReply, DaprError>(r.error!);
    const reply = r.value!;
    const text = reply.text();
    return ok<JsonReply, DaprError>(new JsonReply(reply.status, text, parseObject(text)));
  }
}

/** Metadata from `Metadata.<k>` response headers (prefix matched case-insensitively). */
export function metadataFromHeaders(headers: Header[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < headers.length; i++) {
    const n = headers[i].name;
    if (n.length > 9 && equalsIgnoreCase(n.substring(0, 9), "metadata.")) {
      out.set(n.substring(9), headers[i].value);
    }
  }
  return out;
}

/** `s`, or `""` for `null`. */
export function orEmpty(s: string | null): string {
  return s != null ? s : "";
}

/** `true` when `s` is an optional `-` followed by one or more ASCII digits. */
export function isInteger(s: string): bool {
  if (s.length == 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!(c >= 0x30 && c <= 0x39) && !(i == 0 && c == 0x2d)) return false;
  }
  return true;
}

/** An `InvalidArgument` error when `value` is empty, else `null`. */
export function requireName(what: string, value: string): DaprError | null {
  if (value.length == 0) return DaprError.invalidArgument(what + " must not be empty");
  return null;
}

/** `requireName` for two names, the first failure wins. */
export function requireNames2(what1: string, v1: string, what2: string, v2: string): DaprError | null {
  const e = requireName(what1, v1);
  if (e) return e;
  return requireName(what2, v2);
}
