//! `DaprClient`: Dapr's sidecar HTTP API (state, pub/sub, invoke, bindings, secrets,
//! configuration, lock, metadata, health) over the outbound HTTP import.
//!
//! ```ts
//! const dapr = new DaprClient();            // DAPR_HTTP_ENDPOINT / DAPR_HTTP_PORT
//! const e = dapr.saveStateString("statestore", "weapon", "Death Star");
//! if (e) console.log(e.toString());
//! const got = dapr.getState("statestore", "weapon");
//! if (got.error == null && got.value != null) console.log(got.value!.value); // "Death Star"
//! ```
//!
//! Every call answers a `Result<T, DaprError>` (or `DaprError | null` when there is no
//! value). State values are JSON text: `saveState(s, k, '{"a":1}')` stores the object,
//! `saveStateString(s, k, "x")` stores the JSON string `"x"`.

import {
  Header,
  HttpError,
  Method,
  RequestBuilder,
  bytesToString,
  equalsIgnoreCase,
  stringToBytes,
} from "./http";
import { Result, ok, err } from "./result";
import { QueryParam, UrlBuilder } from "./url";
import {
  JsonObjectWriter,
  decodeString,
  isValidJson,
  jsonArray,
  jsonString,
  member,
  memberString,
  memberStringMap,
  parseArray,
  parseObject,
  stringMapOf,
} from "./json";
import { encodeBase64 } from "./base64";
import { getEnv, nowMillis, sleepMillis } from "./wasi";

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

// ---------------------------------------------------------------------------------
// Errors

/** What kind of failure a `DaprError` is. */
export namespace DaprErrorKind {
  /** The HTTP call itself failed (denied by the allowlist, sidecar down, ...): see `httpError`. */
  export const Transport: i32 = 1;
  /** The sidecar answered with an error status: see `status`, `errorCode`, `message`. */
  export const Api: i32 = 2;
  /** The SDK refused the arguments before sending anything. */
  export const InvalidArgument: i32 = 3;
  /** The sidecar answered success with a body the SDK cannot read. */
  export const InvalidResponse: i32 = 4;
}

/** A failed Dapr call. */
export class DaprError {
  constructor(
    /** One of `DaprErrorKind`. */
    public readonly kind: i32,
    /** The HTTP status from the sidecar (`Api`, `InvalidResponse`), else 0. */
    public readonly status: u16,
    /** Dapr's `errorCode` (e.g. `ERR_STATE_SAVE`), or `null` if the body had none. */
    public readonly errorCode: string | null,
    /** Dapr's `message`, or a description of what failed. */
    public readonly message: string,
    /** The transport error (`Transport` only). */
    public readonly httpError: HttpError | null = null,
    /** The raw response body (`Api`, `InvalidResponse`). */
    public readonly body: string = "",
  ) {}

  /** A transport failure. */
  static transport(e: HttpError): DaprError {
    return new DaprError(DaprErrorKind.Transport, 0, null, e.message, e);
  }

  /** A refused argument. */
  static invalidArgument(message: string): DaprError {
    return new DaprError(DaprErrorKind.InvalidArgument, 0, null, message);
  }

  /** A success status with an unreadable body. */
  static invalidResponse(status: u16, message: string, body: string): DaprError {
    return new DaprError(DaprErrorKind.InvalidResponse, status, null, message, null, body);
  }

  /**
   * An error answer from the sidecar. A JSON body `{"errorCode","message",...}` gives
   * `errorCode` and `message` (other fields are ignored); any other body (e.g. the
   * 401 `text/plain` "invalid api token") becomes the message as is.
   */
  static fromResponse(status: u16, body: string, what: string): DaprError {
    let code: string | null = null;
    let message: string | null = null;
    const obj = parseObject(body);
    if (obj != null) {
      code = memberString(obj, "errorCode");
      message = memberString(obj, "message");
    }
    if (message == null) {
      const t = body.trim();
      message = t.length > 0 ? t : "HTTP " + status.toString() + " from " + what;
    }
    return new DaprError(DaprErrorKind.Api, status, code, message!, null, body);
  }

  /**
   * `true` for an ETag conflict: a 409 on save/delete, or a failed transaction whose
   * message mentions the etag (daprd answers 500 `ERR_STATE_TRANSACTION` there).
   */
  isEtagMismatch(): bool {
    if (this.kind != DaprErrorKind.Api) return false;
    const code = this.errorCode;
    if (this.status == 409) {
      return code == null || code == "ERR_STATE_SAVE" || code == "ERR_STATE_DELETE";
    }
    if (code != null && code == "ERR_STATE_TRANSACTION") {
      return this.message.toLowerCase().includes("etag");
    }
    return false;
  }

  /** `true` when the host's allowlist refused the sidecar address. */
  isDenied(): bool {
    const h = this.httpError;
    return h != null && h.isDenied();
  }

  /** `true` when the sidecar could not be reached at all. */
  isTransport(): bool {
    return this.kind == DaprErrorKind.Transport;
  }

  toString(): string {
    if (this.kind == DaprErrorKind.Api) {
      const code = this.errorCode;
      return (
        "dapr error " +
        this.status.toString() +
        (code != null ? " " + code : "") +
        ": " +
        this.message
      );
    }
    return this.message;
  }
}

/** Shorthand for the answer of a Dapr call. */
export type DaprResult<T> = Result<T, DaprError>;

// ---------------------------------------------------------------------------------
// State types

/** `options.concurrency` values. */
export namespace Concurrency {
  export const FirstWrite = "first-write";
  export const LastWrite = "last-write";
}

/** `options.consistency` values (also the `consistency` query parameter). */
export namespace Consistency {
  export const Strong = "strong";
  export const Eventual = "eventual";
}

/** Concurrency and consistency of a state write; `null` fields are not sent. */
export class StateOptions {
  constructor(
    public concurrency: string | null = null,
    public consistency: string | null = null,
  ) {}

  /** `{"concurrency":..,"consistency":..}` with only the set fields. */
  toJson(): string {
    return new JsonObjectWriter()
      .optString("concurrency", this.concurrency)
      .optString("consistency", this.consistency)
      .build();
  }
}

/** One state entry to save (or to upsert/delete in a transaction). */
export class StateItem {
  /** The ETag the write must match, or `null`. */
  etag: string | null = null;
  /** Per-item component metadata, or `null`. */
  metadata: Map<string, string> | null = null;
  /** Concurrency/consistency, or `null`. */
  options: StateOptions | null = null;

  constructor(
    /** The key. */
    public key: string,
    /** The value as JSON text (`"\"Death Star\""`, `'{"a":1}'`, `"42"`). */
    public value: string,
  ) {}

  /** An item whose value is the given JSON text. */
  static ofJson(key: string, valueJson: string): StateItem {
    return new StateItem(key, valueJson);
  }

  /** An item whose value is the JSON string `value`. */
  static ofString(key: string, value: string): StateItem {
    return new StateItem(key, jsonString(value));
  }

  /** Sets the ETag. */
  withEtag(etag: string | null): StateItem {
    this.etag = etag;
    return this;
  }

  /** Adds one metadata entry. */
  withMetadata(key: string, value: string): StateItem {
    let m = this.metadata;
    if (m == null) {
      m = new Map<string, string>();
      this.metadata = m;
    }
    m.set(key, value);
    return this;
  }

  /** Sets the options. */
  withOptions(options: StateOptions | null): StateItem {
    this.options = options;
    return this;
  }

  /** The wire object `{key, value, etag?, metadata?, options?}`. */
  toJson(includeValue: bool = true): string {
    const w = new JsonObjectWriter().string("key", this.key);
    if (includeValue) w.raw("value", this.value);
    w.optString("etag", this.etag).optStringMap("metadata", this.metadata);
    const o = this.options;
    if (o != null) w.raw("options", o.toJson());
    return w.build();
  }
}

/** A state entry read back. */
export class State {
  constructor(
    /** The key. */
    public readonly key: string,
    /** The stored JSON text, byte for byte (a string comes back with its quotes). */
    public readonly value: string,
    /** The ETag, or `null` if the store sent none. */
    public readonly etag: string | null,
    /** Metadata the sidecar returned (e.g. `ttlExpireTime`). */
    public readonly metadata: Map<string, string>,
  ) {}

  /** The value decoded as a JSON string, or `null` if it is not a JSON string. */
  valueString(): string | null {
    return decodeString(this.value);
  }
}

/** One answer of a bulk get. */
export class BulkStateItem {
  constructor(
    /** The key. */
    public readonly key: string,
    /** The stored JSON text, or `null` if the key does not exist (or failed). */
    public readonly value: string | null,
    /** The ETag, or `null`. */
    public readonly etag: string | null,
    /** Metadata the sidecar returned. */
    public readonly metadata: Map<string, string>,
    /** The per-key error message, or `null`. */
    public readonly error: string | null,
  ) {}

  /** `true` when the key exists. */
  get found(): bool {
    return this.value != null;
  }

  /** The value decoded as a JSON string, or `null`. */
  valueString(): string | null {
    return decodeString(this.value);
  }
}

/** One operation of a state transaction. */
export class TransactionOperation {
  constructor(
    /** `"upsert"` or `"delete"`. */
    public readonly operation: string,
    /** The entry (for `delete` only key, etag, metadata and options are sent). */
    public readonly request: StateItem,
  ) {}

  /** Upserts `item`. */
  static upsert(item: StateItem): TransactionOperation {
    return new TransactionOperation("upsert", item);
  }

  /** Deletes `key` (with an ETag to match, if given). */
  static remove(key: string, etag: string | null = null): TransactionOperation {
    return new TransactionOperation("delete", new StateItem(key, "null").withEtag(etag));
  }

  /** `{"operation":..,"request":{..}}`. */
  toJson(): string {
    return new JsonObjectWriter()
      .string("operation", this.operation)
      .raw("request", this.request.toJson(this.operation != "delete"))
      .build();
  }
}

/** The answer of a state query (alpha). */
export class QueryStateResponse {
  constructor(
    /** The matching entries (`value` = the `data` JSON text). */
    public readonly results: BulkStateItem[],
    /** The pagination token, or `null`. */
    public readonly token: string | null,
  ) {}
}

// ---------------------------------------------------------------------------------
// Pub/sub, invoke, bindings, configuration, lock, metadata types

/**
 * Options of a publish: metadata sent as `metadata.<k>=<v>` query parameters.
 * Default: no metadata.
 */
export class PublishOptions {
  /** `metadata.<k>` query parameters, in insertion order. */
  metadata: Map<string, string> = new Map<string, string>();

  /** Adds `metadata.<key>=<value>`. */
  with(key: string, value: string): PublishOptions {
    this.metadata.set(key, value);
    return this;
  }

  /** `metadata.rawPayload=true|false`: publish the body without a CloudEvent envelope. */
  rawPayload(raw: bool = true): PublishOptions {
    return this.with("rawPayload", raw ? "true" : "false");
  }

  /** `metadata.ttlInSeconds=N`. */
  ttlInSeconds(seconds: i32): PublishOptions {
    return this.with("ttlInSeconds", seconds.toString());
  }

  /** `metadata.cloudevent.<field>=<value>` (id, source, type, subject). */
  cloudEvent(field: string, value: string): PublishOptions {
    return this.with("cloudevent." + field, value);
  }
}

/** One entry of a bulk publish (alpha). */
export class BulkPublishEntry {
  /** Per-entry metadata, or `null`. */
  metadata: Map<string, string> | null = null;

  constructor(
    /** Unique id of the entry within the call. */
    public readonly entryId: string,
    /** The event as JSON text (a string for text, base64 string for bytes). */
    public readonly eventJson: string,
    /** The content type of the event. */
    public readonly contentType: string,
  ) {}

  /** A JSON event (`application/json`). */
  static json(entryId: string, json: string): BulkPublishEntry {
    return new BulkPublishEntry(entryId, json, "application/json");
  }

  /** A text event (`text/plain`). */
  static text(entryId: string, text: string): BulkPublishEntry {
    return new BulkPublishEntry(entryId, jsonString(text), "text/plain");
  }

  /** A binary event (`application/octet-stream`, base64 on the wire). */
  static bytes(entryId: string, data: Uint8Array): BulkPublishEntry {
    return new BulkPublishEntry(entryId, jsonString(encodeBase64(data)), "application/octet-stream");
  }

  /** `{"entryId","event","contentType","metadata"?}`. */
  toJson(): string {
    return new JsonObjectWriter()
      .string("entryId", this.entryId)
      .raw("event", this.eventJson)
      .string("contentType", this.contentType)
      .optStringMap("metadata", this.metadata)
      .build();
  }
}

/** One failed entry of a bulk publish. */
export class BulkPublishFailure {
  constructor(
    public readonly entryId: string,
    public readonly error: string,
  ) {}
}

/**
 * Query, headers and body of a service invocation. Defaults: no query, no headers,
 * empty body, no `Content-Type`.
 */
export class InvokeOptions {
  query: QueryParam[] = new Array<QueryParam>();
  headers: Header[] = new Array<Header>();
  body: Uint8Array = new Uint8Array(0);
  contentType: string | null = null;

  /** Adds a query parameter (repeatable). */
  withQuery(key: string, value: string): InvokeOptions {
    this.query.push(new QueryParam(key, value));
    return this;
  }

  /** Adds a header (repeatable). */
  withHeader(name: string, value: string): InvokeOptions {
    this.headers.push(new Header(name, value));
    return this;
  }

  /** Sets the body bytes and their content type. */
  withBody(body: Uint8Array, contentType: string | null = null): InvokeOptions {
    this.body = body;
    this.contentType = contentType;
    return this;
  }

  /** Sets a UTF-8 text body (`text/plain; charset=utf-8` unless given). */
  withText(text: string, contentType: string = "text/plain; charset=utf-8"): InvokeOptions {
    return this.withBody(stringToBytes(text), contentType);
  }

  /** Sets a JSON body (`application/json`). */
  withJson(json: string): InvokeOptions {
    return this.withBody(stringToBytes(json), "application/json");
  }
}

/** A complete answer (status, headers, body) of the sidecar or an invoked app. */
export class Reply {
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
    for (let i = 0; i < this.headers.length; i++) {
      if (equalsIgnoreCase(this.headers[i].name, name)) return this.headers[i].value;
    }
    return null;
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

/** One configuration item. */
export class ConfigurationItem {
  constructor(
    public readonly value: string,
    public readonly version: string,
    public readonly metadata: Map<string, string>,
  ) {}
}

/** One component as listed by the metadata API. */
export class ComponentMetadata {
  constructor(
    public readonly name: string,
    public readonly type: string,
    public readonly version: string,
    public readonly capabilities: string[],
  ) {}
}

/** The sidecar's metadata (`GET /v1.0/metadata`). */
export class Metadata {
  constructor(
    /** The app id. */
    public readonly id: string,
    /** The runtime version, or "" if not reported. */
    public readonly runtimeVersion: string,
    /** Loaded components. */
    public readonly components: ComponentMetadata[],
    /** `extended` attributes. */
    public readonly extended: Map<string, string>,
    /** The whole JSON answer, for fields not modelled here. */
    public readonly json: string,
  ) {}
}

/** The answer of `tryLockAlpha1`. */
export class LockResponse {
  constructor(public readonly success: bool) {}
}

/** `unlockAlpha1` statuses. */
export namespace UnlockStatus {
  export const Success: i32 = 0;
  export const LockDoesNotExist: i32 = 1;
  export const LockBelongsToOthers: i32 = 2;
  export const InternalError: i32 = 3;
}

/** The answer of `unlockAlpha1`. */
export class UnlockResponse {
  constructor(public readonly status: i32) {}
}

// ---------------------------------------------------------------------------------
// The client

/**
 * A client for the Dapr sidecar. `new DaprClient()` resolves the address from the
 * environment (see `resolveEndpoint`); pass a base URL to override. If the guest's
 * environment has `DAPR_API_TOKEN`, it is sent as `dapr-api-token` (the wasi-dapr host
 * normally adds the token itself, outside the guest).
 */
export class DaprClient {
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
   * response. Any status is returned as a `Reply`; only transport failures are errors.
   */
  request(
    method: string,
    url: string,
    body: Uint8Array | null = null,
    contentType: string | null = null,
    headers: Header[] | null = null,
  ): DaprResult<Reply> {
    const req = new RequestBuilder(url).method(method);
    const token = this.apiToken;
    if (token != null) req.header("dapr-api-token", token);
    if (contentType != null) req.header("Content-Type", contentType);
    if (headers != null) {
      for (let i = 0; i < headers.length; i++) req.header(headers[i].name, headers[i].value);
    }
    if (body != null) req.body(body);
    const sent = req.send();
    if (sent.error) return err<Reply, DaprError>(DaprError.transport(sent.error!));
    const res = sent.value!;
    const hs = res.headers();
    if (hs.error) {
      res.close();
      return err<Reply, DaprError>(DaprError.transport(hs.error!));
    }
    const b = res.bodyAll();
    res.close();
    if (b.error) return err<Reply, DaprError>(DaprError.transport(b.error!));
    return ok<Reply, DaprError>(new Reply(res.status, hs.value!, b.value!));
  }

  /** `request()`, with any non-2xx status turned into a `DaprError` (Dapr's error JSON). */
  private call(
    method: string,
    url: string,
    body: Uint8Array | null = null,
    contentType: string | null = null,
    headers: Header[] | null = null,
  ): DaprResult<Reply> {
    const r = this.request(method, url, body, contentType, headers);
    if (r.error) return r;
    const reply = r.value!;
    if (!reply.isSuccess) {
      return err<Reply, DaprError>(
        DaprError.fromResponse(reply.status, reply.text(), method + " " + url),
      );
    }
    return r;
  }

  private callJson(method: string, url: string, json: string): DaprResult<Reply> {
    return this.call(method, url, stringToBytes(json), "application/json");
  }

  // ----- state ---------------------------------------------------------------------

  /**
   * `GET /v1.0/state/{store}/{key}`. `value` is `null` when the key does not exist
   * (204); otherwise the stored JSON text, its ETag and returned metadata.
   */
  getState(
    store: string,
    key: string,
    consistency: string | null = null,
    metadata: Map<string, string> | null = null,
  ): DaprResult<State> {
    const bad = requireNames2("store", store, "key", key);
    if (bad) return err<State, DaprError>(bad);
    const u = this.url().raw("v1.0/state").segment(store).segment(key);
    if (consistency != null) u.query("consistency", consistency);
    u.queryMap("metadata.", metadata);
    const r = this.call(Method.GET, u.build());
    if (r.error) return err<State, DaprError>(r.error!);
    const reply = r.value!;
    if (reply.status == 204) return ok<State, DaprError>(null);
    return ok<State, DaprError>(
      new State(key, reply.text(), reply.header("etag"), metadataFromHeaders(reply.headers)),
    );
  }

  /**
   * Saves one key. `valueJson` is JSON text (use `saveStateString` for a plain
   * string). Succeeds on 204 (and any 2xx).
   */
  saveState(
    store: string,
    key: string,
    valueJson: string,
    etag: string | null = null,
    options: StateOptions | null = null,
    metadata: Map<string, string> | null = null,
  ): DaprError | null {
    const item = new StateItem(key, valueJson).withEtag(etag).withOptions(options);
    item.metadata = metadata;
    return this.saveBulkState(store, [item]);
  }

  /** Saves one key whose value is the JSON string `value` (`"Death Star"`). */
  saveStateString(store: string, key: string, value: string): DaprError | null {
    return this.saveState(store, key, jsonString(value));
  }

  /** `POST /v1.0/state/{store}` with every item in one array. */
  saveBulkState(store: string, items: StateItem[]): DaprError | null {
    const bad = requireName("store", store);
    if (bad) return bad;
    const parts = new Array<string>();
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      if (it.key.length == 0) return DaprError.invalidArgument("state key must not be empty");
      if (!isValidJson(it.value)) {
        return DaprError.invalidArgument(
          "the value of key " + it.key + " is not valid JSON text: " + it.value,
        );
      }
      parts.push(it.toJson());
    }
    const u = this.url().raw("v1.0/state").segment(store).build();
    return this.callJson(Method.POST, u, jsonArray(parts)).error;
  }

  /**
   * `POST /v1.0/state/{store}/bulk`. Answers one item per key in key order; a missing
   * key has `value == null`. `parallelism` is sent only when > 0.
   */
  getBulkState(
    store: string,
    keys: string[],
    parallelism: i32 = 0,
    metadata: Map<string, string> | null = null,
  ): DaprResult<BulkStateItem[]> {
    const bad = requireName("store", store);
    if (bad) return err<BulkStateItem[], DaprError>(bad);
    const w = new JsonObjectWriter().stringArray("keys", keys);
    if (parallelism > 0) w.int("parallelism", parallelism);
    w.optStringMap("metadata", metadata);
    const u = this.url().raw("v1.0/state").segment(store).raw("bulk").build();
    const r = this.callJson(Method.POST, u, w.build());
    if (r.error) return err<BulkStateItem[], DaprError>(r.error!);
    const reply = r.value!;
    const text = reply.text();
    const arr = parseArray(text);
    if (arr == null) {
      return err<BulkStateItem[], DaprError>(
        DaprError.invalidResponse(reply.status, "bulk get answered with no JSON array", text),
      );
    }
    const out = new Array<BulkStateItem>();
    for (let i = 0; i < arr.length; i++) {
      const item = parseBulkItem(arr[i].toString());
      if (item == null) {
        return err<BulkStateItem[], DaprError>(
          DaprError.invalidResponse(reply.status, "bulk get item is not an object", text),
        );
      }
      out.push(item);
    }
    return ok<BulkStateItem[], DaprError>(out);
  }

  /**
   * `DELETE /v1.0/state/{store}/{key}`, with `If-Match: etag` when given, and
   * `concurrency`/`consistency` query parameters from `options`.
   */
  deleteState(
    store: string,
    key: string,
    etag: string | null = null,
    options: StateOptions | null = null,
    metadata: Map<string, string> | null = null,
  ): DaprError | null {
    const bad = requireNames2("store", store, "key", key);
    if (bad) return bad;
    const u = this.url().raw("v1.0/state").segment(store).segment(key);
    if (options != null) {
      const c = options.concurrency;
      if (c != null) u.query("concurrency", c);
      const s = options.consistency;
      if (s != null) u.query("consistency", s);
    }
    u.queryMap("metadata.", metadata);
    let headers: Header[] | null = null;
    if (etag != null) headers = [new Header("If-Match", etag)];
    return this.call(Method.DELETE, u.build(), null, null, headers).error;
  }

  /** `POST /v1.0/state/{store}/transaction` `{"operations":[..],"metadata"?:{..}}`. */
  executeStateTransaction(
    store: string,
    operations: TransactionOperation[],
    metadata: Map<string, string> | null = null,
  ): DaprError | null {
    const bad = requireName("store", store);
    if (bad) return bad;
    const ops = new Array<string>();
    for (let i = 0; i < operations.length; i++) {
      const op = operations[i];
      if (op.operation != "delete" && !isValidJson(op.request.value)) {
        return DaprError.invalidArgument(
          "the value of key " + op.request.key + " is not valid JSON text: " + op.request.value,
        );
      }
      ops.push(op.toJson());
    }
    const body = new JsonObjectWriter()
      .raw("operations", jsonArray(ops))
      .optStringMap("metadata", metadata)
      .build();
    const u = this.url().raw("v1.0/state").segment(store).raw("transaction").build();
    return this.callJson(Method.POST, u, body).error;
  }

  /**
   * `POST /v1.0-alpha1/state/{store}/query` with `queryJson` (`{"filter":..,"sort":..,
   * "page":..}`). A 204 is an empty result.
   */
  queryStateAlpha1(
    store: string,
    queryJson: string,
    metadata: Map<string, string> | null = null,
  ): DaprResult<QueryStateResponse> {
    const bad = requireName("store", store);
    if (bad) return err<QueryStateResponse, DaprError>(bad);
    if (!isValidJson(queryJson)) {
      return err<QueryStateResponse, DaprError>(
        DaprError.invalidArgument("the query is not valid JSON text: " + queryJson),
      );
    }
    const u = this.url().raw("v1.0-alpha1/state").segment(store).raw("query");
    u.queryMap("metadata.", metadata);
    const r = this.callJson(Method.POST, u.build(), queryJson);
    if (r.error) return err<QueryStateResponse, DaprError>(r.error!);
    const reply = r.value!;
    if (reply.status == 204) {
      return ok<QueryStateResponse, DaprError>(
        new QueryStateResponse(new Array<BulkStateItem>(), null),
      );
    }
    const text = reply.text();
    const obj = parseObject(text);
    if (obj == null) {
      return err<QueryStateResponse, DaprError>(
        DaprError.invalidResponse(reply.status, "query answered with no JSON object", text),
      );
    }
    const results = new Array<BulkStateItem>();
    const rawResults = member(obj, "results");
    if (rawResults != null) {
      const arr = parseArray(rawResults);
      if (arr != null) {
        for (let i = 0; i < arr.length; i++) {
          const item = parseBulkItem(arr[i].toString());
          if (item != null) results.push(item);
        }
      }
    }
    const token = memberString(obj, "token");
    return ok<QueryStateResponse, DaprError>(
      new QueryStateResponse(results, token != null && token.length > 0 ? token : null),
    );
  }

  // ----- pub/sub -------------------------------------------------------------------

  /**
   * `POST /v1.0/publish/{pubsub}/{topic}` with `body` and `contentType` (which decides
   * how daprd wraps it in a CloudEvent). `topic` may contain `/`.
   */
  publish(
    pubsub: string,
    topic: string,
    body: Uint8Array,
    contentType: string,
    options: PublishOptions | null = null,
  ): DaprError | null {
    const bad = requireNames2("pubsub", pubsub, "topic", topic);
    if (bad) return bad;
    const u = this.url().raw("v1.0/publish").segment(pubsub).path(topic);
    if (options != null) u.queryMap("metadata.", options.metadata);
    return this.call(Method.POST, u.build(), body, contentType).error;
  }

  /** Publishes JSON text (`application/json`; the event's `data` is the JSON value). */
  publishJson(
    pubsub: string,
    topic: string,
    json: string,
    options: PublishOptions | null = null,
  ): DaprError | null {
    if (!isValidJson(json)) {
      return DaprError.invalidArgument("the event is not valid JSON text: " + json);
    }
    return this.publish(pubsub, topic, stringToBytes(json), "application/json", options);
  }

  /** Publishes text (`text/plain`; the event's `data` is the string). */
  publishText(
    pubsub: string,
    topic: string,
    text: string,
    options: PublishOptions | null = null,
  ): DaprError | null {
    return this.publish(pubsub, topic, stringToBytes(text), "text/plain", options);
  }

  /** Publishes bytes (`application/octet-stream`; the event carries `data_base64`). */
  publishBytes(
    pubsub: string,
    topic: string,
    bytes: Uint8Array,
    options: PublishOptions | null = null,
  ): DaprError | null {
    return this.publish(pubsub, topic, bytes, "application/octet-stream", options);
  }

  /** Publishes a complete CloudEvent (`application/cloudevents+json`). */
  publishCloudEvent(
    pubsub: string,
    topic: string,
    eventJson: string,
    options: PublishOptions | null = null,
  ): DaprError | null {
    if (!isValidJson(eventJson)) {
      return DaprError.invalidArgument("the CloudEvent is not valid JSON text: " + eventJson);
    }
    return this.publish(
      pubsub,
      topic,
      stringToBytes(eventJson),
      "application/cloudevents+json",
      options,
    );
  }

  /**
   * `POST /v1.0-alpha1/publish/bulk/{pubsub}/{topic}`. Answers the failed entries
   * (empty when all were published). A partial failure (500 with `failedEntries`) is
   * reported as its failures, not as an error.
   */
  publishBulkAlpha1(
    pubsub: string,
    topic: string,
    entries: BulkPublishEntry[],
    metadata: Map<string, string> | null = null,
  ): DaprResult<BulkPublishFailure[]> {
    const bad = requireNames2("pubsub", pubsub, "topic", topic);
    if (bad) return err<BulkPublishFailure[], DaprError>(bad);
    const parts = new Array<string>();
    for (let i = 0; i < entries.length; i++) {
      if (!isValidJson(entries[i].eventJson)) {
        return err<BulkPublishFailure[], DaprError>(
          DaprError.invalidArgument("entry " + entries[i].entryId + " is not valid JSON text"),
        );
      }
      parts.push(entries[i].toJson());
    }
    const u = this.url().raw("v1.0-alpha1/publish/bulk").segment(pubsub).path(topic);
    u.queryMap("metadata.", metadata);
    const r = this.request(Method.POST, u.build(), stringToBytes(jsonArray(parts)), "application/json");
    if (r.error) return err<BulkPublishFailure[], DaprError>(r.error!);
    const reply = r.value!;
    const failures = new Array<BulkPublishFailure>();
    if (reply.isSuccess) return ok<BulkPublishFailure[], DaprError>(failures);
    const text = reply.text();
    const obj = parseObject(text);
    const failed = obj != null ? member(obj, "failedEntries") : null;
    const arr = failed != null ? parseArray(failed) : null;
    if (arr == null || arr.length == 0) {
      return err<BulkPublishFailure[], DaprError>(
        DaprError.fromResponse(reply.status, text, "bulk publish"),
      );
    }
    for (let i = 0; i < arr.length; i++) {
      const f = parseObject(arr[i].toString());
      if (f == null) continue;
      const id = memberString(f, "entryId");
      const e = memberString(f, "error");
      failures.push(new BulkPublishFailure(id != null ? id : "", e != null ? e : "failed"));
    }
    return ok<BulkPublishFailure[], DaprError>(failures);
  }

  // ----- service invocation --------------------------------------------------------

  /**
   * `{verb} /v1.0/invoke/{appId}/method/{path}?{query}`. The target app's answer is
   * returned whatever its status (4xx/5xx included); a `DaprError` means the call did
   * not reach the app (transport failure, or daprd's own `ERR_DIRECT_INVOKE`).
   */
  invoke(
    appId: string,
    verb: string,
    path: string,
    options: InvokeOptions | null = null,
  ): DaprResult<Reply> {
    const bad = requireName("app id", appId);
    if (bad) return err<Reply, DaprError>(bad);
    const u = this.url().raw("v1.0/invoke").segment(appId).raw("method").path(path);
    let body: Uint8Array | null = null;
    let contentType: string | null = null;
    let headers: Header[] | null = null;
    if (options != null) {
      u.queryParams(options.query);
      body = options.body;
      contentType = options.contentType;
      headers = options.headers;
    }
    const r = this.request(verb, u.build(), body, contentType, headers);
    if (r.error) return r;
    const reply = r.value!;
    if (!reply.isSuccess) {
      const obj = parseObject(reply.text());
      if (obj != null) {
        const code = memberString(obj, "errorCode");
        if (code != null && code == "ERR_DIRECT_INVOKE") {
          return err<Reply, DaprError>(
            DaprError.fromResponse(reply.status, reply.text(), "invoke " + appId),
          );
        }
      }
    }
    return r;
  }

  // ----- bindings ------------------------------------------------------------------

  /**
   * `POST /v1.0/bindings/{name}` `{"data"?:..,"metadata"?:{..},"operation":..}`.
   * `dataJson` is JSON text; `data` and `metadata` are left out when `null`. Answers
   * the component's bytes (empty on 204) and headers (`Metadata.*`).
   */
  invokeBinding(
    name: string,
    operation: string,
    dataJson: string | null = null,
    metadata: Map<string, string> | null = null,
  ): DaprResult<Reply> {
    const bad = requireNames2("binding", name, "operation", operation);
    if (bad) return err<Reply, DaprError>(bad);
    const w = new JsonObjectWriter();
    if (dataJson != null) {
      if (!isValidJson(dataJson)) {
        return err<Reply, DaprError>(
          DaprError.invalidArgument("binding data is not valid JSON text: " + dataJson),
        );
      }
      w.raw("data", dataJson);
    }
    const body = w.optStringMap("metadata", metadata).string("operation", operation).build();
    const u = this.url().raw("v1.0/bindings").segment(name).build();
    return this.callJson(Method.POST, u, body);
  }

  // ----- secrets -------------------------------------------------------------------

  /** `GET /v1.0/secrets/{store}/{key}`: the secret's key/value pairs (empty on 204). */
  getSecret(
    store: string,
    key: string,
    metadata: Map<string, string> | null = null,
  ): DaprResult<Map<string, string>> {
    const bad = requireNames2("secret store", store, "secret name", key);
    if (bad) return err<Map<string, string>, DaprError>(bad);
    const u = this.url().raw("v1.0/secrets").segment(store).segment(key);
    u.queryMap("metadata.", metadata);
    const r = this.call(Method.GET, u.build());
    if (r.error) return err<Map<string, string>, DaprError>(r.error!);
    const reply = r.value!;
    if (reply.status == 204) return ok<Map<string, string>, DaprError>(new Map<string, string>());
    const text = reply.text();
    if (parseObject(text) == null) {
      return err<Map<string, string>, DaprError>(
        DaprError.invalidResponse(reply.status, "secret answer is not a JSON object", text),
      );
    }
    return ok<Map<string, string>, DaprError>(stringMapOf(text));
  }

  /** `GET /v1.0/secrets/{store}/bulk`: secret name → its key/value pairs. */
  getBulkSecret(
    store: string,
    metadata: Map<string, string> | null = null,
  ): DaprResult<Map<string, Map<string, string>>> {
    const bad = requireName("secret store", store);
    if (bad) return err<Map<string, Map<string, string>>, DaprError>(bad);
    const u = this.url().raw("v1.0/secrets").segment(store).raw("bulk");
    u.queryMap("metadata.", metadata);
    const r = this.call(Method.GET, u.build());
    if (r.error) return err<Map<string, Map<string, string>>, DaprError>(r.error!);
    const reply = r.value!;
    const out = new Map<string, Map<string, string>>();
    if (reply.status == 204) return ok<Map<string, Map<string, string>>, DaprError>(out);
    const text = reply.text();
    const obj = parseObject(text);
    if (obj == null) {
      return err<Map<string, Map<string, string>>, DaprError>(
        DaprError.invalidResponse(reply.status, "bulk secret answer is not a JSON object", text),
      );
    }
    const names = obj.keys();
    for (let i = 0; i < names.length; i++) {
      out.set(names[i], stringMapOf(obj.get(names[i]).toString()));
    }
    return ok<Map<string, Map<string, string>>, DaprError>(out);
  }

  // ----- configuration -------------------------------------------------------------

  /** `GET /v1.0/configuration/{store}?key=a&key=b` (all keys when `keys` is empty). */
  getConfiguration(
    store: string,
    keys: string[],
    metadata: Map<string, string> | null = null,
  ): DaprResult<Map<string, ConfigurationItem>> {
    const bad = requireName("configuration store", store);
    if (bad) return err<Map<string, ConfigurationItem>, DaprError>(bad);
    const u = this.url().raw("v1.0/configuration").segment(store);
    for (let i = 0; i < keys.length; i++) u.query("key", keys[i]);
    u.queryMap("metadata.", metadata);
    const r = this.call(Method.GET, u.build());
    if (r.error) return err<Map<string, ConfigurationItem>, DaprError>(r.error!);
    const reply = r.value!;
    const out = new Map<string, ConfigurationItem>();
    if (reply.status == 204) return ok<Map<string, ConfigurationItem>, DaprError>(out);
    const text = reply.text();
    const obj = parseObject(text);
    if (obj == null) {
      return err<Map<string, ConfigurationItem>, DaprError>(
        DaprError.invalidResponse(reply.status, "configuration answer is not a JSON object", text),
      );
    }
    const names = obj.keys();
    for (let i = 0; i < names.length; i++) {
      const item = parseObject(obj.get(names[i]).toString());
      if (item == null) continue;
      const value = memberString(item, "value");
      const version = memberString(item, "version");
      out.set(
        names[i],
        new ConfigurationItem(
          value != null ? value : "",
          version != null ? version : "",
          memberStringMap(item, "metadata"),
        ),
      );
    }
    return ok<Map<string, ConfigurationItem>, DaprError>(out);
  }

  /** `GET /v1.0/configuration/{store}/subscribe?key=..`: the subscription id. */
  subscribeConfiguration(
    store: string,
    keys: string[],
    metadata: Map<string, string> | null = null,
  ): DaprResult<string> {
    const bad = requireName("configuration store", store);
    if (bad) return err<string, DaprError>(bad);
    const u = this.url().raw("v1.0/configuration").segment(store).raw("subscribe");
    for (let i = 0; i < keys.length; i++) u.query("key", keys[i]);
    u.queryMap("metadata.", metadata);
    const r = this.call(Method.GET, u.build());
    if (r.error) return err<string, DaprError>(r.error!);
    const reply = r.value!;
    const text = reply.text();
    const obj = parseObject(text);
    const id = obj != null ? memberString(obj, "id") : null;
    if (id == null) {
      return err<string, DaprError>(
        DaprError.invalidResponse(reply.status, "subscribe answered with no id", text),
      );
    }
    return ok<string, DaprError>(id);
  }

  /** `GET /v1.0/configuration/{store}/{id}/unsubscribe`. */
  unsubscribeConfiguration(store: string, id: string): DaprError | null {
    const bad = requireNames2("configuration store", store, "subscription id", id);
    if (bad) return bad;
    const u = this.url().raw("v1.0/configuration").segment(store).segment(id).raw("unsubscribe");
    return this.call(Method.GET, u.build()).error;
  }

  // ----- distributed lock (alpha) --------------------------------------------------

  /** `POST /v1.0-alpha1/lock/{store}` `{"resourceId","lockOwner","expiryInSeconds"}`. */
  tryLockAlpha1(
    store: string,
    resourceId: string,
    lockOwner: string,
    expiryInSeconds: i32,
  ): DaprResult<LockResponse> {
    const bad = requireName("lock store", store);
    if (bad) return err<LockResponse, DaprError>(bad);
    const body = new JsonObjectWriter()
      .string("resourceId", resourceId)
      .string("lockOwner", lockOwner)
      .int("expiryInSeconds", expiryInSeconds)
      .build();
    const u = this.url().raw("v1.0-alpha1/lock").segment(store).build();
    const r = this.callJson(Method.POST, u, body);
    if (r.error) return err<LockResponse, DaprError>(r.error!);
    const reply = r.value!;
    const text = reply.text();
    const obj = parseObject(text);
    const success = obj != null ? member(obj, "success") : null;
    if (success == null || (success != "true" && success != "false")) {
      return err<LockResponse, DaprError>(
        DaprError.invalidResponse(reply.status, "lock answered with no boolean success", text),
      );
    }
    return ok<LockResponse, DaprError>(new LockResponse(success == "true"));
  }

  /** `POST /v1.0-alpha1/unlock/{store}` `{"resourceId","lockOwner"}`: see `UnlockStatus`. */
  unlockAlpha1(store: string, resourceId: string, lockOwner: string): DaprResult<UnlockResponse> {
    const bad = requireName("lock store", store);
    if (bad) return err<UnlockResponse, DaprError>(bad);
    const body = new JsonObjectWriter()
      .string("resourceId", resourceId)
      .string("lockOwner", lockOwner)
      .build();
    const u = this.url().raw("v1.0-alpha1/unlock").segment(store).build();
    const r = this.callJson(Method.POST, u, body);
    if (r.error) return err<UnlockResponse, DaprError>(r.error!);
    const reply = r.value!;
    const text = reply.text();
    const obj = parseObject(text);
    const status = obj != null ? member(obj, "status") : null;
    if (status == null || !isInteger(status)) {
      return err<UnlockResponse, DaprError>(
        DaprError.invalidResponse(reply.status, "unlock answered with no numeric status", text),
      );
    }
    return ok<UnlockResponse, DaprError>(new UnlockResponse(I32.parseInt(status)));
  }

  // ----- metadata, health, shutdown ------------------------------------------------

  /** `GET /v1.0/metadata`. */
  getMetadata(): DaprResult<Metadata> {
    const r = this.call(Method.GET, this.url().raw("v1.0/metadata").build());
    if (r.error) return err<Metadata, DaprError>(r.error!);
    const reply = r.value!;
    const text = reply.text();
    const obj = parseObject(text);
    if (obj == null) {
      return err<Metadata, DaprError>(
        DaprError.invalidResponse(reply.status, "metadata answer is not a JSON object", text),
      );
    }
    const components = new Array<ComponentMetadata>();
    const rawComponents = member(obj, "components");
    const arr = rawComponents != null ? parseArray(rawComponents) : null;
    if (arr != null) {
      for (let i = 0; i < arr.length; i++) {
        const c = parseObject(arr[i].toString());
        if (c == null) continue;
        const caps = new Array<string>();
        const rawCaps = member(c, "capabilities");
        const capArr = rawCaps != null ? parseArray(rawCaps) : null;
        if (capArr != null) {
          for (let j = 0; j < capArr.length; j++) {
            const s = decodeString(capArr[j].toString());
            if (s != null) caps.push(s);
          }
        }
        components.push(
          new ComponentMetadata(
            orEmpty(memberString(c, "name")),
            orEmpty(memberString(c, "type")),
            orEmpty(memberString(c, "version")),
            caps,
          ),
        );
      }
    }
    return ok<Metadata, DaprError>(
      new Metadata(
        orEmpty(memberString(obj, "id")),
        orEmpty(memberString(obj, "runtimeVersion")),
        components,
        memberStringMap(obj, "extended"),
        text,
      ),
    );
  }

  /** `PUT /v1.0/metadata/{key}` with `value` as the body: sets `extended[key]`. */
  setMetadata(key: string, value: string): DaprError | null {
    const bad = requireName("metadata key", key);
    if (bad) return bad;
    const u = this.url().raw("v1.0/metadata").segment(key).build();
    return this.call(Method.PUT, u, stringToBytes(value), "text/plain").error;
  }

  /** `GET /v1.0/healthz`: `null` when the sidecar is healthy (204). */
  healthz(): DaprError | null {
    return this.call(Method.GET, this.url().raw("v1.0/healthz").build()).error;
  }

  /** `GET /v1.0/healthz/outbound`: `null` once the sidecar can serve the app's calls. */
  healthzOutbound(): DaprError | null {
    return this.call(Method.GET, this.url().raw("v1.0/healthz/outbound").build()).error;
  }

  /**
   * Polls `healthz/outbound` every `intervalMillis` until it answers 2xx or
   * `timeoutMillis` passes; answers the last error on timeout. A denied address
   * (allowlist) fails at once: waiting would not help.
   */
  waitForSidecar(timeoutMillis: i64 = 60_000, intervalMillis: i64 = 100): DaprError | null {
    const deadline = nowMillis() + timeoutMillis;
    while (true) {
      const e = this.healthzOutbound();
      if (e == null) return null;
      if (e.isDenied()) return e;
      if (nowMillis() >= deadline) {
        return new DaprError(
          e.kind,
          e.status,
          e.errorCode,
          "the sidecar at " +
            this.endpoint +
            " was not ready within " +
            timeoutMillis.toString() +
            " ms: " +
            e.message,
          e.httpError,
          e.body,
        );
      }
      sleepMillis(intervalMillis);
    }
  }

  /** `POST /v1.0/shutdown`: asks the sidecar to shut down. */
  shutdown(): DaprError | null {
    return this.call(Method.POST, this.url().raw("v1.0/shutdown").build()).error;
  }
}

// ---------------------------------------------------------------------------------
// Helpers (exported for the unit tests)

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

/** Parses one bulk-get / query item `{"key","data"?,"etag"?,"metadata"?,"error"?}`. */
export function parseBulkItem(text: string): BulkStateItem | null {
  const obj = parseObject(text);
  if (obj == null) return null;
  const key = memberString(obj, "key");
  return new BulkStateItem(
    key != null ? key : "",
    member(obj, "data"),
    memberString(obj, "etag"),
    memberStringMap(obj, "metadata"),
    memberString(obj, "error"),
  );
}

function orEmpty(s: string | null): string {
  return s != null ? s : "";
}

function isInteger(s: string): bool {
  if (s.length == 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!(c >= 0x30 && c <= 0x39) && !(i == 0 && c == 0x2d)) return false;
  }
  return true;
}

function requireName(what: string, value: string): DaprError | null {
  if (value.length == 0) return DaprError.invalidArgument(what + " must not be empty");
  return null;
}

function requireNames2(what1: string, v1: string, what2: string, v2: string): DaprError | null {
  const e = requireName(what1, v1);
  if (e) return e;
  return requireName(what2, v2);
}
