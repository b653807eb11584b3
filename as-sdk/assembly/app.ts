/**
 * The inbound side for `wasi-dapr serve`: an `App` router for pub/sub subscriptions
 * (one message or a bulk batch per request), invoked methods, input bindings,
 * configuration updates, scheduled jobs and hosted actors (`actors.ts`), over one CGI
 * request.
 *
 * `wasi-dapr serve` runs the module once per request (WAGI/CGI: the request in the
 * environment and on stdin, the response on stdout). A served module registers its
 * handlers at the top level and calls `run()`:
 *
 * ```ts
 * function onOrder(e: TopicEvent): TopicResult {
 *   logLine("order " + e.text());
 *   return TopicResult.Success;
 * }
 * new App().subscribe("pubsub", "orders", "/orders", onOrder).run();
 * ```
 *
 * Handlers must not write to stdout (`console.log` goes there, and so does the shim's
 * `console.error`): stdout is the HTTP response. Log with `logLine`, which writes to
 * stderr; the host logs each stderr line as `guest: ...`.
 *
 * @packageDocumentation
 */

import { Header, equalsIgnoreCase, findHeader, isValidHeaderName, isValidHeaderValue, bytesToString, stringToBytes } from "./http";
import {
  JSON,
  jsonString,
  parseObject,
  parseArray,
  member,
  memberString,
  memberStringMap,
  decodeString,
  JsonObjectWriter,
  jsonArray,
} from "./json";
import { ConfigurationItem, configurationItems } from "./dapr";
import { QueryParam } from "./url";
import { Result, ok, err } from "./result";
import { environment } from "./wasi";
import { ActorRuntime, ActorSettings, ActorType } from "./actors";

// ----- WASI stdio ---------------------------------------------------------------------

// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_read")
declare function fd_read(fd: u32, iovs: usize, iovs_len: usize, nread: usize): u16;

// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_write")
declare function fd_write(fd: u32, iovs: usize, iovs_len: usize, nwritten: usize): u16;

// One iovec (pointer, length) and the byte count the call answers.
const IOV: usize = memory.data(16);

/** Reads stdin until end of file (or a read error, which ends it). Never aborts. */
export function readStdin(): Uint8Array {
  let buf = new Uint8Array(16 * 1024);
  let len = 0;
  while (true) {
    if (len == buf.length) {
      const bigger = new Uint8Array(buf.length * 2);
      bigger.set(buf);
      buf = bigger;
    }
    store<u32>(IOV, <u32>(buf.dataStart + <usize>len));
    store<u32>(IOV + 4, <u32>(buf.length - len));
    if (fd_read(0, IOV, 1, IOV + 8) != 0) break;
    const n = <i32>load<u32>(IOV + 8);
    if (n == 0) break;
    len += n;
  }
  return buf.subarray(0, len);
}

/** Writes all of `bytes` to file descriptor `fd` (short writes are continued). */
function writeAll(fd: u32, bytes: Uint8Array): bool {
  let at = 0;
  while (at < bytes.length) {
    store<u32>(IOV, <u32>(bytes.dataStart + <usize>at));
    store<u32>(IOV + 4, <u32>(bytes.length - at));
    if (fd_write(fd, IOV, 1, IOV + 8) != 0) return false;
    const n = <i32>load<u32>(IOV + 8);
    if (n <= 0) return false;
    at += n;
  }
  return true;
}

/**
 * Writes one line to stderr. Under `wasi-dapr serve` the host logs it as `guest: ...`;
 * this is the way to log from a handler (stdout is the HTTP response).
 */
export function logLine(message: string): void {
  writeAll(2, stringToBytes(message + "\n"));
}

// ----- requests and responses ------------------------------------------------------------

/** An inbound request's W3C trace context ({@link AppRequest.traceContext}). */
export class TraceContext {
  constructor(
    /** The `traceparent` header (`00-<trace id>-<parent id>-<flags>`). */
    public readonly traceparent: string,
    /** The `tracestate` header, or `null` if not sent. */
    public readonly tracestate: string | null,
  ) {}

  /** The 32-hex-digit trace id of a version-00-shaped `traceparent`, or `""`. */
  get traceId(): string {
    const parts = this.traceparent.split("-");
    return parts.length >= 2 && parts[1].length == 32 ? parts[1] : "";
  }
}

/** One inbound HTTP request, as `wasi-dapr serve` hands it to the module. */
export class AppRequest {
  constructor(
    /** The method, e.g. `POST`. */
    public readonly method: string,
    /** The percent-decoded path, always starting with `/`. */
    public readonly path: string,
    /** The raw query string without `?` (`""` if none). */
    public readonly query: string,
    /** Headers with lower-case names (`content-type`, `x-my-header`); repeats joined by `, `. */
    public readonly headers: Header[],
    /** The request body. */
    public readonly body: Uint8Array,
  ) {}

  /** Header `name` (case-insensitive), or `null` if absent. */
  header(name: string): string | null {
    return findHeader(this.headers, name);
  }

  /**
   * The request's W3C trace context (`traceparent`, `tracestate` as sent), or `null`
   * without a `traceparent`. Under `wasi-dapr serve` the host already adds a valid one to
   * the module's sidecar requests; this is for logging it or passing it on.
   */
  traceContext(): TraceContext | null {
    const parent = this.header("traceparent");
    if (parent == null) return null;
    return new TraceContext(parent, this.header("tracestate"));
  }

  /** The `Content-Type` header, or `""`. */
  get contentType(): string {
    const ct = this.header("content-type");
    return ct != null ? ct : "";
  }

  /** The body as UTF-8 text. */
  text(): string {
    return bytesToString(this.body);
  }

  /** The query parameters, decoded (`%XX` and `+` as space), in order; repeats repeated. */
  queryParams(): QueryParam[] {
    return parseQuery(this.query);
  }

  /** The first value of query parameter `key`, or `null`. */
  queryParam(key: string): string | null {
    const ps = this.queryParams();
    for (let i = 0; i < ps.length; i++) if (ps[i].key == key) return ps[i].value;
    return null;
  }
}

/** The answer to one request: status, headers and body. */
export class AppResponse {
  /** Headers besides `Status`, in order. */
  headers: Header[] = [];

  constructor(
    /** The HTTP status (100..599; anything else is answered as 500). */
    public status: i32,
    /** The body. */
    public body: Uint8Array = new Uint8Array(0),
  ) {}

  /** `status` with a `text/plain; charset=utf-8` body. */
  static text(status: i32, text: string): AppResponse {
    return new AppResponse(status, stringToBytes(text)).header("Content-Type", "text/plain; charset=utf-8");
  }

  /** `status` with an `application/json` body (the caller's JSON text, sent as is). */
  static json(status: i32, json: string): AppResponse {
    return new AppResponse(status, stringToBytes(json)).header("Content-Type", "application/json");
  }

  /** `status` with a body of bytes and the given content type. */
  static bytes(status: i32, body: Uint8Array, contentType: string = "application/octet-stream"): AppResponse {
    return new AppResponse(status, body).header("Content-Type", contentType);
  }

  /** `status` with no body. */
  static empty(status: i32): AppResponse {
    return new AppResponse(status);
  }

  /** Adds a header (repeat the call for repeated headers). */
  header(name: string, value: string): AppResponse {
    this.headers.push(new Header(name, value));
    return this;
  }

  /** The first header `name` (case-insensitive), or `null`. */
  headerValue(name: string): string | null {
    return findHeader(this.headers, name);
  }

  /** The body as UTF-8 text. */
  bodyText(): string {
    return bytesToString(this.body);
  }
}

/**
 * The request of a CGI environment (`REQUEST_METHOD`, `PATH_INFO`, `QUERY_STRING`,
 * `CONTENT_TYPE`, `CONTENT_LENGTH`, `HTTP_*`) and body. Header names come back lower
 * case with `_` as `-` (`HTTP_PUBSUBNAME` → `pubsubname`). Missing values default to
 * `GET`, `/` and `""`.
 */
export function requestFromCgi(env: Map<string, string>, body: Uint8Array): AppRequest {
  const method = env.has("REQUEST_METHOD") ? env.get("REQUEST_METHOD") : "";
  let path = env.has("PATH_INFO") ? env.get("PATH_INFO") : "";
  if (!path.startsWith("/")) path = "/" + path;
  const query = env.has("QUERY_STRING") ? env.get("QUERY_STRING") : "";
  const headers = new Array<Header>();
  const names = env.keys();
  for (let i = 0; i < names.length; i++) {
    const k = names[i];
    if (k == "CONTENT_TYPE") headers.push(new Header("content-type", env.get(k)));
    else if (k == "CONTENT_LENGTH") headers.push(new Header("content-length", env.get(k)));
    else if (k.startsWith("HTTP_") && k.length > 5) {
      headers.push(new Header(k.substring(5).toLowerCase().replaceAll("_", "-"), env.get(k)));
    }
  }
  return new AppRequest(method.length > 0 ? method : "GET", path, query, headers, body);
}

/**
 * The CGI output for `res`: `Status`, the headers, a blank line, the body. A header with
 * a bad name or a CR/LF in its value is left out (and logged); a status outside
 * 100..599 becomes 500.
 */
export function toCgi(res: AppResponse): Uint8Array {
  let status = res.status;
  if (status < 100 || status > 599) {
    logLine("app: handler answered status " + status.toString() + "; sending 500");
    status = 500;
  }
  let head = "Status: " + status.toString() + "\n";
  for (let i = 0; i < res.headers.length; i++) {
    const h = res.headers[i];
    if (equalsIgnoreCase(h.name, "status")) {
      logLine("app: header \"Status\" left out of the response (set AppResponse.status instead)");
      continue;
    }
    if (!isValidHeaderName(h.name) || !isValidHeaderValue(h.value)) {
      logLine("app: header " + jsonString(h.name) + " left out of the response (bad name, or CR/LF in the value)");
      continue;
    }
    head += h.name + ": " + h.value + "\n";
  }
  head += "\n";
  const headBytes = stringToBytes(head);
  const out = new Uint8Array(headBytes.length + res.body.length);
  out.set(headBytes);
  out.set(res.body, headBytes.length);
  return out;
}

// ----- pub/sub ----------------------------------------------------------------------------

/** What a topic handler tells the sidecar about one message. */
export enum TopicResult {
  /** Processed: `{"status":"SUCCESS"}`. */
  Success = 0,
  /** Deliver it again later: `{"status":"RETRY"}`. */
  Retry = 1,
  /** Never deliver it again (to the dead-letter topic if one is set): `{"status":"DROP"}`. */
  Drop = 2,
}

/** The JSON answer for a `TopicResult`, e.g. `{"status":"SUCCESS"}`. */
export function topicResultJson(status: TopicResult): string {
  if (status == TopicResult.Retry) return '{"status":"RETRY"}';
  if (status == TopicResult.Drop) return '{"status":"DROP"}';
  return '{"status":"SUCCESS"}';
}

/**
 * One pub/sub message: the CloudEvent daprd delivered. String attributes absent from
 * the event are `""`. The payload is `data` (JSON, kept as its JSON text) or
 * `data_base64` (decoded to bytes, `isBinary`).
 */
export class TopicEvent {
  /** `id`. */
  id: string = "";
  /** `source` (the publisher's app id). */
  source: string = "";
  /** `type`, e.g. `com.dapr.event.sent`. */
  type: string = "";
  /** `specversion`, e.g. `1.0`. */
  specversion: string = "";
  /** `datacontenttype`, e.g. `application/json`, `text/plain`. */
  datacontenttype: string = "";
  /** `subject`. */
  subject: string = "";
  /** `time` (RFC 3339). */
  time: string = "";
  /** `topic`. */
  topic: string = "";
  /** `pubsubname`. */
  pubsubname: string = "";
  /** `traceparent`. */
  traceparent: string = "";
  /** The raw JSON text of `data`, or `null` when the event has no `data` (or it is `null`). */
  data: string | null = null;
  /** `true` when the payload came as `data_base64`. */
  isBinary: bool = false;
  /** The payload bytes: decoded `data_base64`, a JSON string's UTF-8, or other JSON's text. */
  bytes: Uint8Array = new Uint8Array(0);
  /** The path the event was delivered to, e.g. `/orders`. */
  route: string = "";
  /** The whole CloudEvent JSON text, for extension attributes (see `attribute`). */
  json: string = "";

  /**
   * The payload as text: a JSON string `data` decoded, other JSON as its text, binary
   * data as UTF-8.
   */
  text(): string {
    return bytesToString(this.bytes);
  }

  /** `data` as a JSON object (members as raw JSON text), or `null` if it is not one. */
  dataObject(): Map<string, JSON.Raw> | null {
    const d = this.data;
    if (d != null) return parseObject(d);
    // A JSON payload published as bytes or with rawPayload: try the bytes.
    return parseObject(this.text());
  }

  /** Any attribute of the event as raw JSON text (extensions too), or `null`. */
  attribute(name: string): string | null {
    const obj = parseObject(this.json);
    if (obj == null) return null;
    return member(obj, name);
  }
}

/**
 * Decodes a delivered CloudEvent. Errors (answered with DROP by the router) when the
 * body is not a JSON object or `data_base64` is not valid base64.
 */
export function decodeCloudEvent(body: string, route: string = ""): Result<TopicEvent, string> {
  const obj = parseObject(body);
  if (obj == null) return err<TopicEvent, string>("the body is not a JSON object");
  const e = new TopicEvent();
  e.id = str(memberString(obj, "id"));
  e.source = str(memberString(obj, "source"));
  e.type = str(memberString(obj, "type"));
  e.specversion = str(memberString(obj, "specversion"));
  e.datacontenttype = str(memberString(obj, "datacontenttype"));
  e.subject = str(memberString(obj, "subject"));
  e.time = str(memberString(obj, "time"));
  e.topic = str(memberString(obj, "topic"));
  e.pubsubname = str(memberString(obj, "pubsubname"));
  e.traceparent = str(memberString(obj, "traceparent"));
  e.route = route;
  e.json = body;
  const b64 = member(obj, "data_base64");
  if (b64 != null && b64 != "null") {
    const s = memberString(obj, "data_base64");
    if (s == null) return err<TopicEvent, string>("data_base64 is not a string");
    const bytes = decodeBase64(s);
    if (bytes == null) return err<TopicEvent, string>("data_base64 is not valid base64");
    e.isBinary = true;
    e.bytes = bytes;
    return ok<TopicEvent, string>(e);
  }
  const data = member(obj, "data");
  if (data != null && data != "null") {
    e.data = data;
    const s = memberString(obj, "data");
    e.bytes = stringToBytes(s != null ? s : data);
  }
  return ok<TopicEvent, string>(e);
}

/** A topic handler: answers what the sidecar should do with the message. */
export type TopicHandler = (event: TopicEvent) => TopicResult;

/** One routing rule: events matching the CEL expression `match` go to `path`. */
export class Rule {
  constructor(
    /** A CEL expression over the event, e.g. `event.type == "order.v2"`. */
    public readonly match: string,
    /** The path such events are delivered to. */
    public readonly path: string,
    /** The handler for that path; `null` = the subscription's handler. */
    public readonly handler: TopicHandler | null,
  ) {}
}

/** Optional parts of a subscription: routing rules, dead-letter topic, metadata. */
export class SubscribeOptions {
  /** Routing rules, in order (the first match wins; the route is the default). */
  rules: Rule[] = [];
  /** The dead-letter topic, or `null`. */
  deadLetter: string | null = null;
  /** Subscription metadata, e.g. `rawPayload`. */
  meta: Map<string, string> = new Map<string, string>();

  /** Adds a routing rule; with a `handler`, that handler serves `path`. */
  rule(match: string, path: string, handler: TopicHandler | null = null): SubscribeOptions {
    this.rules.push(new Rule(match, path, handler));
    return this;
  }

  /** Dropped messages (DROP, or retries exhausted) go to `topic` on the same pub/sub. */
  deadLetterTopic(topic: string): SubscribeOptions {
    this.deadLetter = topic;
    return this;
  }

  /** Subscription metadata `key` = `value`. */
  metadata(key: string, value: string): SubscribeOptions {
    this.meta.set(key, value);
    return this;
  }

  /** `rawPayload=true`: messages arrive as an envelope whose `data_base64` is the published body. */
  rawPayload(): SubscribeOptions {
    return this.metadata("rawPayload", "true");
  }
}

/** A registered topic subscription. */
export class Subscription {
  constructor(
    /** The pub/sub component. */
    public readonly pubsub: string,
    /** The topic. */
    public readonly topic: string,
    /** The default route (a path, e.g. `/orders`). */
    public readonly route: string,
    /** The handler of the route (and of rules without their own). */
    public readonly handler: TopicHandler,
    /** Rules, dead-letter topic and metadata. */
    public readonly options: SubscribeOptions,
    /** Bulk delivery (`subscribeBulk`), or `null` for one message per request. */
    public readonly bulk: BulkSubscribeOptions | null = null,
  ) {}

  /**
   * This entry of the `GET /dapr/subscribe` answer: `pubsubname`, `topic`, then `route`
   * (or `routes: {rules, default}` when there are rules), `deadLetterTopic`, `metadata`,
   * and for a bulk subscription
   * `bulkSubscribe: {"enabled":true,"maxMessagesCount","maxAwaitDurationMs"}`.
   */
  toJson(): string {
    const w = new JsonObjectWriter().string("pubsubname", this.pubsub).string("topic", this.topic);
    const rules = this.options.rules;
    if (rules.length == 0) {
      w.string("route", this.route);
    } else {
      const items = new Array<string>();
      for (let i = 0; i < rules.length; i++) {
        items.push(new JsonObjectWriter().string("match", rules[i].match).string("path", rules[i].path).build());
      }
      w.raw("routes", new JsonObjectWriter().raw("rules", jsonArray(items)).string("default", this.route).build());
    }
    w.optString("deadLetterTopic", this.options.deadLetter);
    if (this.options.meta.size > 0) w.optStringMap("metadata", this.options.meta);
    const b = this.bulk;
    if (b != null) {
      w.raw(
        "bulkSubscribe",
        new JsonObjectWriter()
          .bool("enabled", true)
          .int("maxMessagesCount", b.maxMessagesCount)
          .int("maxAwaitDurationMs", b.maxAwaitDurationMs)
          .build(),
      );
    }
    return w.build();
  }
}

// ----- bulk subscribe ---------------------------------------------------------------------

/**
 * How daprd batches a bulk subscription: a batch is sent when it has
 * `maxMessagesCount` messages or `maxAwaitDurationMs` after its first one. Defaults are
 * daprd's: 100 and 1000.
 */
export class BulkSubscribeOptions {
  constructor(
    /** `maxMessagesCount` (daprd's default 100). */
    public maxMessagesCount: i32 = 100,
    /** `maxAwaitDurationMs` (daprd's default 1000). */
    public maxAwaitDurationMs: i32 = 1000,
  ) {}
}

/**
 * One entry of a bulk delivery. A CloudEvent entry (`event` a JSON object) has
 * `cloudEvent` decoded and `bytes` its payload; a `rawPayload` entry (`event` a base64
 * JSON string) has `isRaw` and `bytes` the decoded published bytes.
 */
export class BulkEntry {
  /** `entryId` (the status answered for this entry names it). */
  entryId: string = "";
  /** `contentType`, e.g. `application/cloudevents+json` (`""` if absent). */
  contentType: string = "";
  /** The raw JSON text of `event`. */
  event: string = "";
  /** The decoded CloudEvent, or `null` for a raw payload. */
  cloudEvent: TopicEvent | null = null;
  /** `true` when `event` was a base64 string (a `rawPayload` subscription). */
  isRaw: bool = false;
  /** The payload: the CloudEvent's (see `TopicEvent.bytes`) or the raw bytes. */
  bytes: Uint8Array = new Uint8Array(0);
  /** The broker's `metadata` of this message (empty when `null`). */
  metadata: Map<string, string> = new Map<string, string>();

  /** The payload as UTF-8 text (a CloudEvent's JSON string `data` decoded). */
  text(): string {
    return bytesToString(this.bytes);
  }

  /** The payload as a JSON object (members as raw JSON text), or `null` if it is not one. */
  dataObject(): Map<string, JSON.Raw> | null {
    const ce = this.cloudEvent;
    if (ce != null) return ce.dataObject();
    return parseObject(this.text());
  }
}

/**
 * One bulk delivery (daprd's `com.dapr.event.sent.bulk` envelope): the batch's `id`,
 * `topic`, `pubsubname`, `metadata`, and its well-formed `entries` in the order sent.
 */
export class BulkMessage {
  /** `id` of the batch. */
  id: string = "";
  /** `topic`. */
  topic: string = "";
  /** `pubsubname`. */
  pubsubname: string = "";
  /** `type`, `com.dapr.event.sent.bulk`. */
  type: string = "";
  /** `metadata` of the batch (e.g. `pubsubName`). */
  metadata: Map<string, string> = new Map<string, string>();
  /** The entries the handler gets (malformed ones are answered DROP before it runs). */
  entries: BulkEntry[] = [];
  /** Entry ids that were malformed (answered DROP without calling the handler). */
  dropped: string[] = [];
  /** The path the batch was delivered to. */
  route: string = "";
}

/**
 * Decodes daprd's bulk envelope. An entry without a string `entryId` is left out (it
 * cannot be answered); an entry whose `event` is neither a JSON object (a CloudEvent,
 * decoded like single delivery) nor a base64 string (a raw payload) goes to `dropped`.
 * An error when the body is not a JSON object with an `entries` array.
 */
export function decodeBulkMessage(body: string, route: string = ""): Result<BulkMessage, string> {
  const obj = parseObject(body);
  if (obj == null) return err<BulkMessage, string>("the body is not a JSON object");
  const entriesText = member(obj, "entries");
  const entries = entriesText != null ? parseArray(entriesText) : null;
  if (entries == null) return err<BulkMessage, string>("the body has no entries array");
  const m = new BulkMessage();
  m.id = str(memberString(obj, "id"));
  m.topic = str(memberString(obj, "topic"));
  m.pubsubname = str(memberString(obj, "pubsubname"));
  m.type = str(memberString(obj, "type"));
  m.metadata = memberStringMap(obj, "metadata");
  m.route = route;
  for (let i = 0; i < entries.length; i++) {
    const e = parseObject(entries[i].toString());
    if (e == null) {
      logLine("app: bulk entry " + i.toString() + " on " + route + " is not an object (left out)");
      continue;
    }
    const id = memberString(e, "entryId");
    if (id == null) {
      logLine("app: bulk entry " + i.toString() + " on " + route + " has no entryId (left out)");
      continue;
    }
    const entry = new BulkEntry();
    entry.entryId = id;
    entry.contentType = str(memberString(e, "contentType"));
    entry.metadata = memberStringMap(e, "metadata");
    const ev = member(e, "event");
    entry.event = ev != null ? ev : "";
    const problem = decodeBulkEvent(entry, route);
    if (problem != null) {
      logLine("app: dropping bulk entry " + id + " on " + route + ": " + problem + " (answered DROP)");
      m.dropped.push(id);
      continue;
    }
    m.entries.push(entry);
  }
  return ok<BulkMessage, string>(m);
}

function decodeBulkEvent(entry: BulkEntry, route: string): string | null {
  const ev = entry.event;
  if (ev.startsWith("{")) {
    const ce = decodeCloudEvent(ev, route);
    if (ce.error != null) return ce.error!;
    entry.cloudEvent = ce.value!;
    entry.bytes = ce.value!.bytes;
    return null;
  }
  const s = decodeString(ev);
  if (s == null) return "the event is neither a CloudEvent object nor a base64 string";
  const bytes = decodeBase64(s);
  if (bytes == null) return "the raw event is not valid base64";
  entry.isRaw = true;
  entry.bytes = bytes;
  return null;
}

/**
 * A bulk handler: one `TopicResult` per entry of `batch.entries`, in the same order.
 * A missing result is answered RETRY (and logged); extra results are ignored.
 */
export type BulkTopicHandler = (batch: BulkMessage) => TopicResult[];

/** `{"statuses":[{"entryId","status"}]}` for `ids` and their `results`. */
export function bulkStatusesJson(ids: string[], results: TopicResult[]): string {
  const items = new Array<string>();
  for (let i = 0; i < ids.length; i++) {
    const r = i < results.length ? results[i] : TopicResult.Retry;
    items.push(new JsonObjectWriter().string("entryId", ids[i]).string("status", topicResultName(r)).build());
  }
  return new JsonObjectWriter().raw("statuses", jsonArray(items)).build();
}

function topicResultName(r: TopicResult): string {
  if (r == TopicResult.Retry) return "RETRY";
  if (r == TopicResult.Drop) return "DROP";
  return "SUCCESS";
}

// ----- jobs -----------------------------------------------------------------------------------

/** A job firing: `POST /job/<name>` with the job's `data` JSON as the body. */
export class JobEvent {
  constructor(
    /** The job name (from the path, percent-decoded). */
    public readonly name: string,
    /** The body: the job's `data` as JSON text (e.g. `"hello"` with its quotes, `{"a":1}`). */
    public readonly data: string,
    /** The whole request. */
    public readonly request: AppRequest,
  ) {}

  /** `data` decoded when it is a JSON string, else `null`. */
  dataString(): string | null {
    return decodeString(this.data);
  }

  /** `data` as a JSON object (members as raw JSON text), or `null` if it is not one. */
  dataObject(): Map<string, JSON.Raw> | null {
    return parseObject(this.data);
  }
}

/** A job handler: `true` = done (200), `false` = failed (500: the job's failure policy retries it). */
export type JobHandler = (job: JobEvent) => bool;

// ----- bindings and configuration -----------------------------------------------------------

/** One input-binding event: `POST /<name>` with the component's bytes. */
export class BindingEvent {
  constructor(
    /** The binding name. */
    public readonly name: string,
    /** The event bytes. */
    public readonly data: Uint8Array,
    /** The whole request (headers carry the component's metadata). */
    public readonly request: AppRequest,
  ) {}

  /** The event as UTF-8 text. */
  text(): string {
    return bytesToString(this.data);
  }
}

/** An input-binding handler: `true` = handled (200), `false` = failed (500). */
export type BindingHandler = (event: BindingEvent) => bool;

/** A configuration update: `POST /configuration/<store>/<key>`. */
export class ConfigurationUpdate {
  constructor(
    /** The configuration store. */
    public readonly store: string,
    /** The key named in the path. */
    public readonly key: string,
    /** The subscription id (`id`). */
    public readonly id: string,
    /** The changed items (`items`). */
    public readonly items: Map<string, ConfigurationItem>,
  ) {}
}

/** Decodes `{"id":"…","items":{"key":{"value","version","metadata"}}}`; `null` if not an object. */
export function decodeConfigurationUpdate(store: string, key: string, body: string): ConfigurationUpdate | null {
  const obj = parseObject(body);
  if (obj == null) return null;
  const itemsText = member(obj, "items");
  const itemsObj = itemsText != null ? parseObject(itemsText) : null;
  const items = itemsObj != null ? configurationItems(itemsObj) : new Map<string, ConfigurationItem>();
  return new ConfigurationUpdate(store, key, str(memberString(obj, "id")), items);
}

/** A configuration-update handler: `true` = applied (200), `false` = failed (500). */
export type ConfigurationHandler = (update: ConfigurationUpdate) => bool;

/** An invoked-method handler. */
export type InvokeHandler = (req: AppRequest) => AppResponse;

class InvokeRoute {
  constructor(
    public readonly method: string,
    public readonly path: string,
    public readonly handler: InvokeHandler,
  ) {}

  matchesPath(path: string): bool {
    if (this.path.endsWith("*")) return path.startsWith(this.path.substring(0, this.path.length - 1));
    return path == this.path;
  }

  matchesMethod(method: string): bool {
    return this.method == "*" || equalsIgnoreCase(this.method, method);
  }
}

class BindingRoute {
  constructor(
    public readonly name: string,
    public readonly handler: BindingHandler,
  ) {}
}

class ConfigurationRoute {
  constructor(
    public readonly store: string,
    public readonly handler: ConfigurationHandler,
  ) {}
}

class TopicRoute {
  constructor(
    public readonly path: string,
    public readonly handler: TopicHandler,
  ) {}
}

class BulkRoute {
  constructor(
    public readonly path: string,
    public readonly handler: BulkTopicHandler,
  ) {}
}

class JobRoute {
  constructor(
    public readonly name: string,
    public readonly handler: JobHandler,
  ) {}
}

// ----- the router --------------------------------------------------------------------------

/**
 * The router of a served module. Register handlers, then `run()` (or `handle()` a
 * request yourself). Requests are matched in this order; the first match answers:
 *
 * 1. `GET /dapr/subscribe` → 200, the JSON array of the registered subscriptions;
 *    with at least one actor type (`actor()`): `GET /dapr/config` → 200, the actor
 *    configuration, and every path under `/actors/` → the actor routes (see
 *    `ActorRuntime.handle`); without actor types both fall through like any path;
 * 2. `POST` to a subscription's route or rule path → the CloudEvent to its handler,
 *    answered 200 `{"status":"SUCCESS"|"RETRY"|"DROP"}`; for a bulk subscription the
 *    envelope's entries to its handler, answered 200
 *    `{"statuses":[{"entryId","status"}]}`;
 * 3. `POST /configuration/<store>/<key>` for a registered store → the handler, 200;
 *    `POST /job/<name>` for a registered job → the handler, 200 or 500;
 * 4. `OPTIONS /<binding>` → 200 (daprd's probe), `POST /<binding>` → the handler;
 * 5. invoked-method handlers (method and path; `*` method = any, a path ending in `*`
 *    matches by prefix); a known path with another method → 405 with `Allow`;
 * 6. anything else → 404.
 *
 * A body that is not a CloudEvent (not a JSON object, or bad `data_base64`) is
 * answered DROP and logged: redelivering the same bytes could never succeed, and DROP
 * sends it to the dead-letter topic if one is set. A malformed configuration update
 * is answered 400 and logged, without calling the handler.
 */
export class App {
  private registered: Subscription[] = [];
  private topicRoutes: TopicRoute[] = [];
  private bulkRoutes: BulkRoute[] = [];
  private jobRoutes: JobRoute[] = [];
  private invokeRoutes: InvokeRoute[] = [];
  private bindingRoutes: BindingRoute[] = [];
  private configurationRoutes: ConfigurationRoute[] = [];
  private actors: ActorRuntime = new ActorRuntime();

  /**
   * Subscribes `handler` to `topic` on `pubsub`; daprd delivers to `route` (a path such
   * as `/orders`; a missing leading `/` is added). `options`: routing rules (their paths
   * are served too), dead-letter topic, metadata. An empty name is logged and ignored.
   */
  subscribe(
    pubsub: string,
    topic: string,
    route: string,
    handler: TopicHandler,
    options: SubscribeOptions | null = null,
  ): App {
    if (pubsub.length == 0 || topic.length == 0 || route.length == 0 || route == "/") {
      logLine("app: subscription ignored: pubsub, topic and route must not be empty");
      return this;
    }
    const opts = options != null ? options : new SubscribeOptions();
    const path = routePath(route);
    this.registered.push(new Subscription(pubsub, topic, path, handler, opts));
    this.topicRoutes.push(new TopicRoute(path, handler));
    for (let i = 0; i < opts.rules.length; i++) {
      const h = opts.rules[i].handler;
      this.topicRoutes.push(new TopicRoute(routePath(opts.rules[i].path), h != null ? h : handler));
    }
    return this;
  }

  /**
   * Subscribes a bulk `handler` to `topic` on `pubsub`: daprd delivers batches of up to
   * `bulk.maxMessagesCount` messages (default 100, flushed after
   * `bulk.maxAwaitDurationMs`, default 1000) to `route` as one request, and the handler
   * answers one `TopicResult` per entry. `options` as for `subscribe`, except that
   * every rule path is served by this handler (a rule's own handler is ignored, and
   * logged). An empty name is logged and ignored.
   */
  subscribeBulk(
    pubsub: string,
    topic: string,
    route: string,
    handler: BulkTopicHandler,
    bulk: BulkSubscribeOptions | null = null,
    options: SubscribeOptions | null = null,
  ): App {
    if (pubsub.length == 0 || topic.length == 0 || route.length == 0 || route == "/") {
      logLine("app: bulk subscription ignored: pubsub, topic and route must not be empty");
      return this;
    }
    const opts = options != null ? options : new SubscribeOptions();
    const b = bulk != null ? bulk : new BulkSubscribeOptions();
    const path = routePath(route);
    this.registered.push(new Subscription(pubsub, topic, path, noTopicHandler, opts, b));
    this.bulkRoutes.push(new BulkRoute(path, handler));
    for (let i = 0; i < opts.rules.length; i++) {
      if (opts.rules[i].handler != null) {
        logLine("app: the handler of rule " + jsonString(opts.rules[i].path) + " is ignored: a bulk subscription has one handler");
      }
      this.bulkRoutes.push(new BulkRoute(routePath(opts.rules[i].path), handler));
    }
    return this;
  }

  /**
   * Handles job `name` when the scheduler fires it (`POST /job/<name>`, the body is the
   * job's data). Schedule it with `DaprClient.scheduleJob`. An empty name is logged
   * and ignored.
   */
  onJob(name: string, handler: JobHandler): App {
    if (name.length == 0) {
      logLine("app: job handler ignored: the name must not be empty");
      return this;
    }
    this.jobRoutes.push(new JobRoute(name, handler));
    return this;
  }

  /**
   * Serves an invoked method: `method` (`GET`, ..., or `*` for any) on `path` (a path
   * ending in `*` matches every path with that prefix).
   */
  onInvoke(method: string, path: string, handler: InvokeHandler): App {
    this.invokeRoutes.push(new InvokeRoute(method, routePath(path), handler));
    return this;
  }

  /** Serves input binding `name`: answers daprd's `OPTIONS /<name>` probe, handles `POST /<name>`. */
  onBinding(name: string, handler: BindingHandler): App {
    if (name.length == 0) {
      logLine("app: binding ignored: the name must not be empty");
      return this;
    }
    this.bindingRoutes.push(new BindingRoute(name, handler));
    return this;
  }

  /** Handles configuration updates of `store` (`POST /configuration/<store>/<key>`). */
  onConfiguration(store: string, handler: ConfigurationHandler): App {
    if (store.length == 0 || store.includes("/")) {
      logLine("app: configuration handler ignored: bad store name " + jsonString(store));
      return this;
    }
    this.configurationRoutes.push(new ConfigurationRoute(store, handler));
    return this;
  }

  /**
   * Hosts actor type `type` (its methods, reminders, timers, deactivation hook). The
   * first one turns on `GET /dapr/config` and the `/actors/…` routes. A type registered
   * twice by name replaces the first (logged).
   */
  actor(type: ActorType): App {
    if (type.name.length == 0 || type.name.includes("/")) {
      logLine("app: actor type ignored: bad name " + jsonString(type.name));
      return this;
    }
    this.actors.add(type);
    return this;
  }

  /** Sets the app-wide actor settings sent in `GET /dapr/config` (see `ActorSettings`). */
  actorSettings(settings: ActorSettings): App {
    this.actors.settings = settings;
    return this;
  }

  /**
   * The sidecar base URL the actor turns' clients use (state reads, the transaction,
   * nested calls); default `null`: from the environment, like `new DaprClient()`.
   */
  actorEndpoint(endpoint: string | null): App {
    this.actors.endpoint = endpoint;
    return this;
  }

  /** The hosted actor types. */
  get actorTypes(): ActorType[] {
    return this.actors.types;
  }

  /** The `GET /dapr/config` answer (meaningful once an actor type is registered). */
  actorConfigJson(): string {
    return this.actors.configJson();
  }

  /** The registered subscriptions. */
  get subscriptions(): Subscription[] {
    return this.registered;
  }

  /** The `GET /dapr/subscribe` answer: a JSON array, one entry per subscription. */
  subscriptionsJson(): string {
    const items = new Array<string>();
    for (let i = 0; i < this.registered.length; i++) items.push(this.registered[i].toJson());
    return jsonArray(items);
  }

  /** Answers one request (see the class comment for the order of matching). */
  handle(req: AppRequest): AppResponse {
    const m = req.method;
    const path = req.path;
    if (path == "/dapr/subscribe" && m == "GET") return AppResponse.json(200, this.subscriptionsJson());
    if (this.actors.types.length > 0) {
      if (path == "/dapr/config" && m == "GET") return AppResponse.json(200, this.actors.configJson());
      if (path.startsWith("/actors/")) return this.actors.handle(req);
    }

    if (m == "POST") {
      for (let i = 0; i < this.topicRoutes.length; i++) {
        if (this.topicRoutes[i].path == path) return this.deliver(this.topicRoutes[i], req);
      }
      for (let i = 0; i < this.bulkRoutes.length; i++) {
        if (this.bulkRoutes[i].path == path) return this.deliverBulk(this.bulkRoutes[i], req);
      }
      if (path.startsWith("/job/")) {
        const name = path.substring("/job/".length);
        for (let i = 0; i < this.jobRoutes.length; i++) {
          const j = this.jobRoutes[i];
          if (j.name == name) return AppResponse.empty(j.handler(new JobEvent(name, req.text(), req)) ? 200 : 500);
        }
      }
      if (path.startsWith("/configuration/")) {
        const rest = path.substring("/configuration/".length);
        const slash = rest.indexOf("/");
        const store = slash < 0 ? rest : rest.substring(0, slash);
        const key = slash < 0 ? "" : rest.substring(slash + 1);
        for (let i = 0; i < this.configurationRoutes.length; i++) {
          if (this.configurationRoutes[i].store == store) return this.configure(this.configurationRoutes[i], key, req);
        }
      }
    }

    if (m == "OPTIONS" || m == "POST") {
      for (let i = 0; i < this.bindingRoutes.length; i++) {
        const b = this.bindingRoutes[i];
        if (path != "/" + b.name) continue;
        if (m == "OPTIONS") return AppResponse.empty(200);
        const handled = b.handler(new BindingEvent(b.name, req.body, req));
        return AppResponse.empty(handled ? 200 : 500);
      }
    }

    let allow = "";
    for (let i = 0; i < this.invokeRoutes.length; i++) {
      const r = this.invokeRoutes[i];
      if (!r.matchesPath(path)) continue;
      if (r.matchesMethod(m)) return r.handler(req);
      if (!allow.split(", ").includes(r.method)) allow += (allow.length > 0 ? ", " : "") + r.method;
    }
    if (allow.length > 0) {
      return AppResponse.text(405, "method " + m + " not allowed on " + path + "\n").header("Allow", allow);
    }
    return AppResponse.text(404, "no handler for " + m + " " + path + "\n");
  }

  private deliver(route: TopicRoute, req: AppRequest): AppResponse {
    const decoded = decodeCloudEvent(req.text(), route.path);
    if (decoded.error != null) {
      logLine("app: dropping a message on " + route.path + ": " + decoded.error! + " (answered DROP)");
      return AppResponse.json(200, topicResultJson(TopicResult.Drop));
    }
    const status = route.handler(decoded.value!);
    return AppResponse.json(200, topicResultJson(status));
  }

  private deliverBulk(route: BulkRoute, req: AppRequest): AppResponse {
    const decoded = decodeBulkMessage(req.text(), route.path);
    if (decoded.error != null) {
      logLine("app: bulk delivery on " + route.path + " not understood: " + decoded.error! + " (answered 400: every entry is retried)");
      return AppResponse.text(400, "not a bulk subscribe envelope: " + decoded.error! + "\n");
    }
    const batch = decoded.value!;
    let results: TopicResult[] = [];
    if (batch.entries.length > 0) results = route.handler(batch);
    if (results.length < batch.entries.length) {
      logLine(
        "app: the bulk handler of " + route.path + " answered " + results.length.toString() + " of " +
          batch.entries.length.toString() + " statuses; the rest are RETRY",
      );
    }
    const ids = new Array<string>();
    const all = new Array<TopicResult>();
    for (let i = 0; i < batch.entries.length; i++) {
      ids.push(batch.entries[i].entryId);
      all.push(i < results.length ? results[i] : TopicResult.Retry);
    }
    for (let i = 0; i < batch.dropped.length; i++) {
      ids.push(batch.dropped[i]);
      all.push(TopicResult.Drop);
    }
    return AppResponse.json(200, bulkStatusesJson(ids, all));
  }

  private configure(route: ConfigurationRoute, key: string, req: AppRequest): AppResponse {
    const update = decodeConfigurationUpdate(route.store, key, req.text());
    if (update == null) {
      logLine("app: configuration update for " + route.store + "/" + key + " is not a JSON object (answered 400)");
      return AppResponse.text(400, "configuration update is not a JSON object\n");
    }
    return AppResponse.empty(route.handler(update) ? 200 : 500);
  }

  /**
   * Serves the request of this instance: reads the CGI environment and stdin, answers
   * with `handle()`, writes the CGI response to stdout.
   */
  run(): void {
    const req = requestFromCgi(environment(), readStdin());
    const res = this.handle(req);
    if (!writeAll(1, toCgi(res))) logLine("app: writing the response to stdout failed");
  }
}

// ----- helpers ------------------------------------------------------------------------------

function str(s: string | null): string {
  return s != null ? s : "";
}

/** The topic handler a bulk subscription's `Subscription` carries (never called). */
function noTopicHandler(e: TopicEvent): TopicResult {
  return TopicResult.Retry;
}

/** `route` as a path: exactly one leading `/`. */
export function routePath(route: string): string {
  let r = route;
  while (r.startsWith("/")) r = r.substring(1);
  return "/" + r;
}

function hexValue(c: i32): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

/**
 * Decodes one query component: `%XX` (UTF-8 bytes) and `+` as a space. A `%` not
 * followed by two hex digits is kept as is.
 */
export function decodeQueryComponent(s: string): string {
  if (!s.includes("%") && !s.includes("+")) return s;
  const src = stringToBytes(s);
  const out = new Uint8Array(src.length);
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    const c = <i32>src[i];
    if (c == 0x2b /* + */) {
      out[n++] = 0x20;
    } else if (c == 0x25 /* % */ && i + 2 < src.length && hexValue(src[i + 1]) >= 0 && hexValue(src[i + 2]) >= 0) {
      out[n++] = <u8>((hexValue(src[i + 1]) << 4) | hexValue(src[i + 2]));
      i += 2;
    } else {
      out[n++] = <u8>c;
    }
  }
  return bytesToString(out.subarray(0, n));
}

/** Splits `a=1&b=x%20y&c` into decoded pairs (`c` has the value `""`); empty parts skipped. */
export function parseQuery(query: string): QueryParam[] {
  const out = new Array<QueryParam>();
  if (query.length == 0) return out;
  const parts = query.split("&");
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (p.length == 0) continue;
    const eq = p.indexOf("=");
    if (eq < 0) out.push(new QueryParam(decodeQueryComponent(p), ""));
    else out.push(new QueryParam(decodeQueryComponent(p.substring(0, eq)), decodeQueryComponent(p.substring(eq + 1))));
  }
  return out;
}

function base64Value(c: i32): i32 {
  if (c >= 0x41 && c <= 0x5a) return c - 0x41;
  if (c >= 0x61 && c <= 0x7a) return c - 0x61 + 26;
  if (c >= 0x30 && c <= 0x39) return c - 0x30 + 52;
  if (c == 0x2b /* + */ || c == 0x2d /* - */) return 62;
  if (c == 0x2f /* / */ || c == 0x5f /* _ */) return 63;
  return -1;
}

/**
 * Decodes base64 (standard or URL-safe alphabet, padding optional); `null` if `s` has
 * any other character, misplaced padding, or a length that cannot be base64.
 */
export function decodeBase64(s: string): Uint8Array | null {
  let end = s.length;
  if (end > 0 && s.charCodeAt(end - 1) == 0x3d /* = */) end--;
  if (end > 0 && s.charCodeAt(end - 1) == 0x3d) end--;
  if (s.length - end > 0 && s.length % 4 != 0) return null;
  if (end % 4 == 1) return null;
  const out = new Uint8Array((end * 3) >> 2);
  let acc: u32 = 0;
  let bits = 0;
  let n = 0;
  for (let i = 0; i < end; i++) {
    const v = base64Value(s.charCodeAt(i));
    if (v < 0) return null;
    acc = (acc << 6) | <u32>v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = <u8>((acc >> bits) & 0xff);
    }
  }
  return out.subarray(0, n);
}
