/**
 * AS unit tests: header parsing, URL building, JSON wire shapes, every client call (actors
 * included) and the App router (hosted actors included) against the scripted ABI mock
 * of `tests/run-unit.mjs` (which records each request).
 *
 * @packageDocumentation
 */

import {
  ErrorCode,
  Header,
  HttpError,
  Method,
  RequestBuilder,
  Response,
  bytesToString,
  encodeHeaderLines,
  equalsIgnoreCase,
  parseHeaderLines,
  stringToBytes,
} from "../assembly/http";
import { UrlBuilder, encodeComponent, encodePath, encodeQuery, QueryParam } from "../assembly/url";
import {
  BulkPublishEntry,
  Concurrency,
  ConversationMessage,
  ConversationRequest,
  ConversationTool,
  FailurePolicy,
  JobRequest,
  ToolCall,
  parseConversationResponse,
  parseJob,
  Consistency,
  DaprClient,
  DaprError,
  DaprErrorKind,
  InvokeOptions,
  PublishOptions,
  SaveStateItem,
  StateOptions,
  StateOperation,
  UnlockStatus,
  metadataFromHeaders,
  parseBulkItem,
  resolveEndpoint,
  ActorReminderRequest,
  ActorTimerRequest,
  isActorError,
  actorErrorStatus,
} from "../assembly/dapr";
import {
  ActorContext,
  ActorReminderEvent,
  ActorSettings,
  ActorStateManager,
  ActorTimerEvent,
  ActorType,
  actorError,
} from "../assembly/actors";
import { canonicalJson, jsonEquals, isValidJson, member, memberString, parseObject, jsonString } from "../assembly/json";
import { encodeBase64 } from "../assembly/base64";
import { ok, err } from "../assembly/result";
import { aroundEachTest, check, fail, finish, test } from "./harness";
import { getEnv, nowMillis, sleepMillis } from "../assembly/wasi";
import { subscription_clock } from "bindings/wasi_snapshot_preview1";
import {
  App,
  AppRequest,
  AppResponse,
  BindingEvent,
  BulkMessage,
  BulkSubscribeOptions,
  ConfigurationUpdate,
  JobEvent,
  SubscribeOptions,
  bulkStatusesJson,
  decodeBulkMessage,
  TopicEvent,
  TopicResult,
  decodeBase64,
  decodeCloudEvent,
  decodeConfigurationUpdate,
  parseQuery,
  requestFromCgi,
  toCgi,
  topicResultJson,
} from "../assembly/app";

// ----- the scripted mock (tests/run-unit.mjs) ---------------------------------------

// @ts-ignore: decorator
@external("test_mock", "enqueue")
declare function mock_enqueue(status: u32, h: usize, hl: usize, b: usize, bl: usize): void;
// @ts-ignore: decorator
@external("test_mock", "enqueue_error")
declare function mock_enqueue_error(code: u32): void;
// @ts-ignore: decorator
@external("test_mock", "last_request")
declare function mock_last_request(buf: usize, len: usize): u32;
// @ts-ignore: decorator
@external("test_mock", "request_count")
declare function mock_request_count(): u32;
// @ts-ignore: decorator
@external("test_mock", "open_handles")
declare function mock_open_handles(): u32;
// @ts-ignore: decorator
@external("test_mock", "reset")
declare function mock_reset(): void;

function answer(status: u32, headers: string = "", body: string = ""): void {
  const h = String.UTF8.encode(headers);
  const b = String.UTF8.encode(body);
  mock_enqueue(status, changetype<usize>(h), h.byteLength, changetype<usize>(b), b.byteLength);
}

class Sent {
  constructor(
    public method: string,
    public url: string,
    public headers: string,
    public body: string,
  ) {}
}

function last(): Sent {
  let buf = new ArrayBuffer(4096);
  let n = mock_last_request(changetype<usize>(buf), buf.byteLength);
  if (<i32>n > buf.byteLength) {
    buf = new ArrayBuffer(<i32>n);
    n = mock_last_request(changetype<usize>(buf), buf.byteLength);
  }
  const obj = parseObject(String.UTF8.decodeUnsafe(changetype<usize>(buf), n));
  if (obj == null) return new Sent("", "", "", "");
  return new Sent(
    orEmpty(memberString(obj, "method")),
    orEmpty(memberString(obj, "url")),
    orEmpty(memberString(obj, "headers")),
    orEmpty(memberString(obj, "body")),
  );
}

function orEmpty(s: string | null): string {
  return s != null ? s : "";
}

// ----- the test runner (tests/harness.ts), with the mock reset around each test -------

aroundEachTest(mock_reset, (): string | null => {
  const open = mock_open_handles();
  return open != 0 ? open.toString() + " response handle(s) left open" : null;
});

function eq(actual: string, expected: string, what: string): void {
  if (actual != expected) fail(what + "\n      expected: " + expected + "\n      actual:   " + actual);
}

function eqInt(actual: i64, expected: i64, what: string): void {
  eq(actual.toString(), expected.toString(), what);
}

function isNull<T>(v: T): bool {
  return changetype<usize>(v) == 0;
}

// ----- Result ----------------------------------------------------------------------

test("result: ok, err, valueOr", (): void => {
  const a = ok<string, HttpError>("v");
  check(a.isOk && !a.isErr && a.valueOr("x") == "v", "ok");
  const b = err<string, HttpError>(new HttpError(7, "denied"));
  check(b.isErr && isNull(b.value) && b.valueOr("x") == "x", "err");
  check(ok<string, HttpError>(null).valueOr("d") == "d", "ok(null)");
});

// ----- header parsing -----------------------------------------------------------

/** Every header as `[name][value]`, in order: count, names and values in one string. */
function listed(hs: Header[]): string {
  let out = "";
  for (let i = 0; i < hs.length; i++) out += "[" + hs[i].name + "][" + hs[i].value + "]";
  return out;
}

test("headers: name:value lines, split on the first colon", (): void => {
  const hs = parseHeaderLines("Content-Type:application/json\nLocation:http://h:80/a?b=c:d\n");
  eq(listed(hs), "[Content-Type][application/json][Location][http://h:80/a?b=c:d]", "value with colons");
});

test("headers: repeated names stay repeated, in order", (): void => {
  const hs = parseHeaderLines("Set-Cookie:a=1\nX:1\nSet-Cookie:b=2\n");
  eq(listed(hs), "[Set-Cookie][a=1][X][1][Set-Cookie][b=2]", "both cookies, in order");
});

test("headers: bad lines are skipped (no colon, empty name, blank), CR and spaces trimmed", (): void => {
  const hs = parseHeaderLines("no-colon-here\n:orphan\n\nEtag: \"1\" \r\nEmpty:\n");
  eq(listed(hs), '[Etag]["1"][Empty][]', "value trimmed, empty value kept");
  eqInt(parseHeaderLines("").length, 0, "empty block");
});

test("headers: encode is the inverse of parse", (): void => {
  const block = encodeHeaderLines([new Header("a", "1"), new Header("b", "x:y")]);
  eq(block, "a:1\nb:x:y\n", "block");
  const back = parseHeaderLines(block);
  eq(back[1].value, "x:y", "round trip");
});

test("headers: case-insensitive names and Metadata.* headers", (): void => {
  check(equalsIgnoreCase("ETag", "etag"), "ETag == etag");
  check(!equalsIgnoreCase("ETag", "etags"), "length differs");
  const md = metadataFromHeaders([
    new Header("Metadata.ttlexpiretime", "2030"),
    new Header("metadata.other", "x"),
    new Header("Etag", "1"),
  ]);
  eqInt(md.size, 2, "two metadata entries");
  eq(md.get("ttlexpiretime"), "2030", "ttl");
});

// ----- URLs ---------------------------------------------------------------------

test("url: components encode everything but unreserved characters", (): void => {
  eq(encodeComponent("AZaz09-._~"), "AZaz09-._~", "unreserved untouched");
  eq(encodeComponent("a b/c?d#e%f&g=h+i"), "a%20b%2Fc%3Fd%23e%25f%26g%3Dh%2Bi", "reserved");
  eq(encodeComponent("é😀"), "%C3%A9%F0%9F%98%80", "UTF-8 bytes");
  eq(encodeComponent("a||b"), "a%7C%7Cb", "pipes");
  eq(encodeComponent(""), "", "empty");
});

test("url: multi-segment paths keep their slashes", (): void => {
  eq(encodePath("orders/eu west"), "orders/eu%20west", "topic");
  eq(encodePath("/api/v1/items?x"), "api/v1/items%3Fx", "leading slash dropped");
  eq(encodePath("a/"), "a/", "trailing slash kept");
});

test("url: builder joins base, segments and query", (): void => {
  const u = new UrlBuilder("http://127.0.0.1:3500/")
    .raw("v1.0/state")
    .segment("my store")
    .segment("k/1")
    .query("consistency", "strong")
    .query("metadata.a b", "c&d")
    .build();
  eq(u, "http://127.0.0.1:3500/v1.0/state/my%20store/k%2F1?consistency=strong&metadata.a%20b=c%26d", "url");
  eq(encodeQuery([new QueryParam("key", "a"), new QueryParam("key", "b")]), "key=a&key=b", "repeated keys");
});

test("endpoint: DAPR_HTTP_ENDPOINT, then DAPR_HTTP_PORT, then 127.0.0.1:3500", (): void => {
  eq(resolveEndpoint("http://dapr:3501/", "1"), "http://dapr:3501", "endpoint wins, slash trimmed");
  eq(resolveEndpoint(null, "3600"), "http://127.0.0.1:3600", "port");
  eq(resolveEndpoint("", "3600"), "http://127.0.0.1:3600", "empty endpoint ignored");
  eq(resolveEndpoint(null, null), "http://127.0.0.1:3500", "default");
  eq(resolveEndpoint(null, " "), "http://127.0.0.1:3500", "blank port ignored");
  eq(new DaprClient().endpoint, "http://127.0.0.1:3999", "from the env (runner sets DAPR_HTTP_PORT=3999)");
  eq(new DaprClient("http://x:1").endpoint, "http://x:1", "explicit");
});

// ----- JSON shapes ---------------------------------------------------------------

test("json: a string state value is sent as a JSON string", (): void => {
  eq(SaveStateItem.ofString("weapon", "Death Star").toJson(), '{"key":"weapon","value":"Death Star"}', "item");
  eq(SaveStateItem.ofString("q", 'say "hi"\n').toJson(), '{"key":"q","value":"say \\"hi\\"\\n"}', "escaped");
});

test("json: object value, etag, metadata and options", (): void => {
  const it = SaveStateItem.ofJson("planets", '{"name":"Tatooine","test":123}')
    .withEtag("e-1")
    .withMetadata("ttlInSeconds", "60")
    .withOptions(new StateOptions(Concurrency.FirstWrite, Consistency.Strong));
  eq(
    it.toJson(),
    '{"key":"planets","value":{"name":"Tatooine","test":123},"etag":"e-1","metadata":{"ttlInSeconds":"60"},"options":{"concurrency":"first-write","consistency":"strong"}}',
    "item",
  );
  eq(new StateOptions(null, Consistency.Eventual).toJson(), '{"consistency":"eventual"}', "partial options");
});

test("json: transaction operations", (): void => {
  eq(
    StateOperation.upsert(SaveStateItem.ofJson("a", "1")).toJson(),
    '{"operation":"upsert","request":{"key":"a","value":1}}',
    "upsert",
  );
  eq(
    StateOperation.remove("b", "7").toJson(),
    '{"operation":"delete","request":{"key":"b","etag":"7"}}',
    "delete has no value",
  );
});

test("json: bulk publish entries and base64", (): void => {
  eq(BulkPublishEntry.text("1", "hi").toJson(), '{"entryId":"1","event":"hi","contentType":"text/plain"}', "text");
  eq(
    BulkPublishEntry.bytes("2", stringToBytes("hello")).toJson(),
    '{"entryId":"2","event":"aGVsbG8=","contentType":"application/octet-stream"}',
    "bytes",
  );
  eq(encodeBase64(stringToBytes("")), "", "b64 empty");
  eq(encodeBase64(stringToBytes("f")), "Zg==", "b64 1");
  eq(encodeBase64(stringToBytes("fo")), "Zm8=", "b64 2");
  eq(encodeBase64(stringToBytes("foobar")), "Zm9vYmFy", "b64 6");
});

test("json: validation and equality", (): void => {
  check(isValidJson('"Death Star"'), "string");
  check(isValidJson(' {"a":[1,2]} '), "object");
  check(!isValidJson("Death Star"), "bare words");
  check(!isValidJson(""), "empty");
  check(!isValidJson('{"a":'), "truncated");
  check(jsonEquals('{"name":"Tatooine","test":123}', '{ "name": "Tatooine", "test": 123 }'), "whitespace");
  check(!jsonEquals('{"name":"Tatooine","test":123}', '{"name":"Tatooine","test":124}'), "differs");
  check(jsonEquals('{"b":[1,2.0,"x"],"a":null}', '{"a":null,"b":[1.0,2,"\\u0078"]}'), "order, numbers, escapes");
  check(!jsonEquals('[1,2]', '[2,1]'), "array order matters");
  eq(canonicalJson(' { "z" : 1e2 , "a" : [ true ] } ')!, '{"a":[true],"z":100.0}', "canonical");
  check(canonicalJson("nope") == null, "canonical of invalid");
  check(parseObject("[1]") == null, "array is not an object");
  check(parseObject("invalid api token") == null, "text is not an object");
});

test("json: bulk items keep data verbatim; missing and failed keys", (): void => {
  const a = parseBulkItem('{"key":"p","data":{"name":"Tatooine","test":1.0e2},"etag":"3","metadata":{"m":"v"}}')!;
  eq(a.key, "p", "key");
  eq(a.value!, '{"name":"Tatooine","test":1.0e2}', "data verbatim");
  eq(a.etag!, "3", "etag");
  eq(a.metadata.get("m"), "v", "metadata");
  const b = parseBulkItem('{"key":"gone"}')!;
  check(!b.found && isNull(b.value) && isNull(b.etag), "missing key");
  const c = parseBulkItem('{"key":"x","error":"boom"}')!;
  eq(c.error!, "boom", "error");
  check(parseBulkItem("nope") == null, "not an object");
});

// ----- the HTTP client against the ABI mock --------------------------------------

test("http: request goes out exactly as built", (): void => {
  answer(200, "Content-Type:text/plain\n", "hello");
  const r = new RequestBuilder("http://127.0.0.1:3999/x")
    .method(Method.POST)
    .header("A", "1")
    .header("A", "2")
    .bodyText("héllo")
    .send();
  check(r.isOk, "sent");
  const s = last();
  eq(s.method, "POST", "method");
  eq(s.url, "http://127.0.0.1:3999/x", "url");
  eq(s.headers, "A:1\nA:2\n", "repeated header lines");
  eq(s.body, "héllo", "UTF-8 body");
  const res = r.value!;
  eqInt(res.status, 200, "status");
  eq(res.bodyText().value!, "hello", "body");
  check(res.close() == null, "close");
});

test("http: every method is spelled correctly", (): void => {
  const methods = [
    Method.GET, Method.HEAD, Method.POST, Method.PUT, Method.DELETE,
    Method.PATCH, Method.OPTIONS, Method.TRACE, Method.CONNECT,
  ];
  let seen = "";
  for (let i = 0; i < methods.length; i++) {
    answer(204);
    const r = new RequestBuilder("http://h/").method(methods[i]).send();
    if (r.isOk) r.value!.close();
    seen += last().method + " ";
  }
  eq(seen, "GET HEAD POST PUT DELETE PATCH OPTIONS TRACE CONNECT ", "methods on the wire");
});

test("http: a denied URL is an error value with code 7, not an abort", (): void => {
  mock_enqueue_error(ErrorCode.DestinationNotAllowed);
  const r = new RequestBuilder("http://evil.example/").send();
  check(r.isErr && isNull(r.value), "error");
  const e = r.error!;
  eqInt(e.code, 7, "code");
  check(e.isDenied(), "isDenied");
  check(e.message.includes("destination not allowed") && e.message.includes("http://evil.example/"), "message: " + e.message);
});

test("http: header injection is refused before sending", (): void => {
  const r = new RequestBuilder("http://h/").header("X", "a\nEvil:1").send();
  eqInt(r.error!.code, ErrorCode.InvalidHeader, "code");
  const r2 = new RequestBuilder("http://h/").header("Bad Name", "v").send();
  eqInt(r2.error!.code, ErrorCode.InvalidHeader, "bad name");
  eqInt(mock_request_count(), 0, "nothing sent");
});

test("http: header(), absent header, and buffer growth for long values", (): void => {
  const long = "x".repeat(5000);
  answer(200, "ETag:\"e1\"\nX-Long:" + long + "\n");
  const res = new RequestBuilder("http://h/").send().value!;
  eq(res.header("etag").value!, '"e1"', "case-insensitive");
  const missing = res.header("nope");
  check(missing.isOk && isNull(missing.value), "absent is null, not an error");
  eqInt(res.header("x-long").value!.length, 5000, "grown buffer");
  eqInt(res.headers().value!.length, 2, "headers() with a 5 KB block");
  res.close();
});

test("http: headers() returns every value, including repeated ones", (): void => {
  answer(200, "Set-Cookie:a=1\nSet-Cookie:b=2\nLink:<http://x:1/>; rel=next\n");
  const res = new RequestBuilder("http://h/").send().value!;
  const vals = res.headerValues("set-cookie").value!;
  eq(vals.join("|"), "a=1|b=2", "both values");
  eq(res.headers().value![2].value, "<http://x:1/>; rel=next", "colon in value");
  res.close();
});

test("http: chunked reads end with an empty chunk; bodyAll joins chunks", (): void => {
  answer(200, "", "0123456789abcdefghij"); // the mock hands out 7 bytes per read
  const res = new RequestBuilder("http://h/").send().value!;
  const first = res.read(4).value!;
  eq(bytesToString(first), "0123", "first chunk capped by max");
  const rest = res.bodyAll().value!;
  eq(bytesToString(rest), "456789abcdefghij", "rest");
  eqInt(res.read().value!.length, 0, "end");
  res.close();
});

test("http: body limit, close twice, use after close, unknown handle", (): void => {
  answer(200, "", "0123456789");
  const res = new RequestBuilder("http://h/").send().value!;
  eqInt(res.bodyAll(5).error!.code, ErrorCode.TooLarge, "limit");
  check(res.close() == null, "close");
  check(res.close() == null, "second close is a no-op");
  eqInt(res.read().error!.code, ErrorCode.Closed, "read after close");
  eqInt(res.header("a").error!.code, ErrorCode.Closed, "header after close");
  const bogus = new Response(200, 4242, "GET http://h/");
  eqInt(bogus.close()!.code, ErrorCode.InvalidHandle, "unknown handle");
  eqInt(new HttpError(13, "x").code, ErrorCode.TooManySessions, "code 13");
});

// ----- the Dapr client against the ABI mock ----------------------------------------

const dapr = new DaprClient("http://127.0.0.1:3500");

test("state get: value verbatim, ETag, metadata; key percent-encoded", (): void => {
  answer(200, "Content-Type:application/json\nEtag:abc-1\nMetadata.ttlexpiretime:2030\n", '"Death Star"');
  const m = new Map<string, string>();
  m.set("partitionKey", "p 1");
  const r = dapr.getState("statestore", "a/b c", Consistency.Strong, m);
  const s = last();
  eq(s.method, "GET", "method");
  eq(s.url, "http://127.0.0.1:3500/v1.0/state/statestore/a%2Fb%20c?consistency=strong&metadata.partitionKey=p%201", "url");
  const st = r.value!;
  eq(st.value, '"Death Star"', "stored JSON text");
  eq(st.valueString()!, "Death Star", "decoded");
  eq(st.etag!, "abc-1", "etag");
  eq(st.metadata.get("ttlexpiretime"), "2030", "metadata");
});

test("state get: 204 is a missing key (null), not an error", (): void => {
  answer(204);
  const r = dapr.getState("statestore", "nope");
  check(r.isOk && isNull(r.value), "null value");
});

test("state get: Dapr error JSON becomes a typed error; extra fields ignored", (): void => {
  answer(400, "Content-Type:application/json\n",
    '{"errorCode":"ERR_STATE_STORE_NOT_FOUND","message":"state store nope is not found","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"DAPR_STATE_NOT_FOUND"}]}');
  const e = dapr.getState("nope", "k").error!;
  eqInt(e.kind, DaprErrorKind.Api, "kind");
  eqInt(e.status, 400, "status");
  eq(e.errorCode!, "ERR_STATE_STORE_NOT_FOUND", "errorCode");
  eq(e.message, "state store nope is not found", "message");
  eq(e.toString(), "dapr error 400 ERR_STATE_STORE_NOT_FOUND: state store nope is not found", "toString");
  check(!e.isEtagMismatch(), "not an etag mismatch");
});

test("errors: 401 text/plain, transport failure, denied, empty names", (): void => {
  answer(401, "Content-Type:text/plain\n", "invalid api token");
  const e = dapr.healthz()!;
  eqInt(e.status, 401, "status");
  check(isNull(e.errorCode), "no errorCode");
  eq(e.message, "invalid api token", "message");
  mock_enqueue_error(ErrorCode.RequestError);
  const t = dapr.getState("s", "k").error!;
  eqInt(t.kind, DaprErrorKind.Transport, "transport");
  eqInt(t.httpError!.code, 11, "code 11");
  check(t.message.includes("http://127.0.0.1:3500/v1.0/state/s/k"), "message names the URL: " + t.message);
  mock_enqueue_error(ErrorCode.DestinationNotAllowed);
  check(dapr.healthz()!.isDenied(), "denied");
  eqInt(dapr.getState("", "k").error!.kind, DaprErrorKind.InvalidArgument, "empty store");
  eqInt(dapr.saveStateString("s", "", "v")!.kind, DaprErrorKind.InvalidArgument, "empty key");
  eqInt(mock_request_count(), 3, "invalid arguments send nothing");
});

test("state save: exact body, POST, JSON content type, success on 204", (): void => {
  answer(204);
  check(dapr.saveStateString("statestore", "weapon", "Death Star") == null, "saved");
  const s = last();
  eq(s.method, "POST", "method");
  eq(s.url, "http://127.0.0.1:3500/v1.0/state/statestore", "url");
  eq(s.headers, "Content-Type:application/json\n", "headers");
  eq(s.body, '[{"key":"weapon","value":"Death Star"}]', "body");
  answer(200);
  check(dapr.saveState("statestore", "n", "42") == null, "200 is success too");
});

test("state save: bulk, etag/options, invalid JSON refused, 409 is an etag mismatch", (): void => {
  answer(204);
  const items = [
    SaveStateItem.ofJson("planets", '{"name":"Tatooine","test":123}'),
    SaveStateItem.ofString("weapon", "Death Star").withEtag("9"),
  ];
  check(dapr.saveBulkState("statestore", items) == null, "saved");
  eq(last().body, '[{"key":"planets","value":{"name":"Tatooine","test":123}},{"key":"weapon","value":"Death Star","etag":"9"}]', "body");
  const bad = dapr.saveState("statestore", "k", "Death Star")!;
  eqInt(bad.kind, DaprErrorKind.InvalidArgument, "not JSON");
  answer(409, "", '{"errorCode":"ERR_STATE_SAVE","message":"failed saving state in state store statestore: possible etag mismatch"}');
  const e = dapr.saveState("statestore", "k", "1", "stale", new StateOptions(Concurrency.FirstWrite))!;
  check(e.isEtagMismatch(), "etag mismatch");
  eq(last().body, '[{"key":"k","value":1,"etag":"stale","options":{"concurrency":"first-write"}}]', "etag body");
});

test("state bulk get: request shape and answers in key order", (): void => {
  answer(200, "Content-Type:application/json\n",
    '[{"key":"weapon","data":"Death Star","etag":"1"},{"key":"planets","data":{"name":"Tatooine","test":123},"etag":"2"},{"key":"gone"}]');
  const r = dapr.getBulkState("statestore", ["weapon", "planets", "gone"], 2);
  const s = last();
  eq(s.url, "http://127.0.0.1:3500/v1.0/state/statestore/bulk", "url");
  eq(s.method, "POST", "method");
  eq(s.body, '{"keys":["weapon","planets","gone"],"parallelism":2}', "body");
  const items = r.value!;
  eqInt(items.length, 3, "count");
  eq(items[0].valueString()!, "Death Star", "weapon");
  eq(items[1].value!, '{"name":"Tatooine","test":123}', "planets");
  check(!items[2].found, "missing");
  answer(200, "", "not json");
  eqInt(dapr.getBulkState("statestore", ["a"]).error!.kind, DaprErrorKind.InvalidResponse, "bad answer");
  eq(last().body, '{"keys":["a"]}', "no parallelism when 0");
});

test("state delete: DELETE, If-Match, concurrency/consistency query", (): void => {
  answer(204);
  check(dapr.deleteState("statestore", "k 1", "etag-7", new StateOptions(Concurrency.FirstWrite, Consistency.Strong)) == null, "deleted");
  const s = last();
  eq(s.method, "DELETE", "method");
  eq(s.url, "http://127.0.0.1:3500/v1.0/state/statestore/k%201?concurrency=first-write&consistency=strong", "url");
  eq(s.headers, "If-Match:etag-7\n", "If-Match");
  answer(409, "", '{"errorCode":"ERR_STATE_DELETE","message":"possible etag mismatch"}');
  check(dapr.deleteState("statestore", "k", "x")!.isEtagMismatch(), "conflict");
});

test("state transaction: body shape; 500 ERR_STATE_TRANSACTION etag is a mismatch", (): void => {
  answer(204);
  const m = new Map<string, string>();
  m.set("partitionKey", "p");
  const ops = [
    StateOperation.upsert(SaveStateItem.ofString("a", "x").withEtag("1")),
    StateOperation.remove("b"),
  ];
  check(dapr.transactState("statestore", ops, m) == null, "ok");
  const s = last();
  eq(s.url, "http://127.0.0.1:3500/v1.0/state/statestore/transaction", "url");
  eq(s.body, '{"operations":[{"operation":"upsert","request":{"key":"a","value":"x","etag":"1"}},{"operation":"delete","request":{"key":"b"}}],"metadata":{"partitionKey":"p"}}', "body");
  answer(500, "", '{"errorCode":"ERR_STATE_TRANSACTION","message":"error while executing state transaction: possible etag mismatch. error from state store: ..."}');
  check(dapr.transactState("statestore", ops)!.isEtagMismatch(), "mismatch");
});

test("state query (alpha): request and results; 204 is empty", (): void => {
  answer(200, "", '{"results":[{"key":"a","data":{"x":1},"etag":"1"}],"token":"t2"}');
  const q = dapr.queryState("statestore", '{"filter":{"EQ":{"x":1}},"page":{"limit":10}}').value!;
  eq(last().url, "http://127.0.0.1:3500/v1.0-alpha1/state/statestore/query", "url");
  eq(last().body, '{"filter":{"EQ":{"x":1}},"page":{"limit":10}}', "body");
  eqInt(q.results.length, 1, "one");
  eq(q.results[0].value!, '{"x":1}', "data");
  eq(q.token!, "t2", "token");
  answer(204);
  eqInt(dapr.queryState("statestore", "{}").value!.results.length, 0, "none");
});

test("publish: JSON/text/bytes/CloudEvent content types, metadata query, topic with /", (): void => {
  answer(204);
  const opts = new PublishOptions().rawPayload().ttlInSeconds(30).cloudEvent("type", "my.type");
  check(dapr.publishJson("pubsub", "orders/eu", '{"id":1}', opts) == null, "json");
  let s = last();
  eq(s.url, "http://127.0.0.1:3500/v1.0/publish/pubsub/orders/eu?metadata.rawPayload=true&metadata.ttlInSeconds=30&metadata.cloudevent.type=my.type", "url");
  eq(s.headers, "Content-Type:application/json\n", "json ct");
  eq(s.body, '{"id":1}', "json body");
  answer(204);
  check(dapr.publishText("pubsub", "t", "hello") == null, "text");
  eq(last().headers, "Content-Type:text/plain\n", "text ct");
  answer(204);
  check(dapr.publishBytes("pubsub", "t", stringToBytes("raw")) == null, "bytes");
  eq(last().headers, "Content-Type:application/octet-stream\n", "bytes ct");
  answer(204);
  check(dapr.publishCloudEvent("pubsub", "t", '{"specversion":"1.0","id":"1","source":"s","type":"t","data":{}}') == null, "ce");
  eq(last().headers, "Content-Type:application/cloudevents+json\n", "ce ct");
  eqInt(dapr.publishJson("pubsub", "t", "not json")!.kind, DaprErrorKind.InvalidArgument, "bad json");
  answer(404, "", '{"errorCode":"ERR_PUBSUB_NOT_FOUND","message":"pubsub nope not found"}');
  eq(dapr.publishText("nope", "t", "x")!.errorCode!, "ERR_PUBSUB_NOT_FOUND", "unknown pubsub");
});

test("publish bulk: body; partial failure lists the failed entries", (): void => {
  answer(204);
  const entries = [BulkPublishEntry.json("1", '{"a":1}'), BulkPublishEntry.text("2", "hi")];
  eqInt(dapr.bulkPublish("pubsub", "t", entries).value!.length, 0, "all published");
  eq(last().url, "http://127.0.0.1:3500/v1.0/publish/bulk/pubsub/t", "url");
  eq(last().body, '[{"entryId":"1","event":{"a":1},"contentType":"application/json"},{"entryId":"2","event":"hi","contentType":"text/plain"}]', "body");
  answer(500, "", '{"failedEntries":[{"entryId":"2","error":"boom"}],"errorCode":"ERR_PUBSUB_PUBLISH_MESSAGE"}');
  const f = dapr.bulkPublish("pubsub", "t", entries).value!;
  eq(f[0].entryId + ":" + f[0].error, "2:boom", "failure");
});

test("publish bulk (stable): /v1.0 path, every entry kind byte for byte, entry metadata, query metadata", (): void => {
  answer(204);
  const entries = [
    BulkPublishEntry.json("1", '{"a":1}').with("ttlInSeconds", "30"),
    BulkPublishEntry.text("2", 'say "hi"'),
    BulkPublishEntry.bytes("3", stringToBytes("hey")),
    BulkPublishEntry.cloudEvent("4", '{"specversion":"1.0","id":"c","source":"s","type":"t","data":null}'),
  ];
  const m = new Map<string, string>();
  m.set("rawPayload", "false");
  const r = dapr.bulkPublish("my pubsub", "orders/eu", entries, m);
  check(r.isOk && r.value!.length == 0, "204: nothing failed");
  const s = last();
  eq(s.method, "POST", "method");
  eq(s.url, "http://127.0.0.1:3500/v1.0/publish/bulk/my%20pubsub/orders/eu?metadata.rawPayload=false", "stable url");
  eq(s.headers, "Content-Type:application/json\n", "content type");
  eq(
    s.body,
    '[{"entryId":"1","event":{"a":1},"contentType":"application/json","metadata":{"ttlInSeconds":"30"}},' +
      '{"entryId":"2","event":"say \\"hi\\"","contentType":"text/plain"},' +
      '{"entryId":"3","event":"aGV5","contentType":"application/octet-stream"},' +
      '{"entryId":"4","event":{"specversion":"1.0","id":"c","source":"s","type":"t","data":null},"contentType":"application/cloudevents+json"}]',
    "body",
  );
  answer(204);
  check(dapr.bulkPublish("pubsub", "t", []).isOk, "an empty batch is sent");
  eq(last().body, "[]", "empty array");
});

test("publish bulk (stable): 500 failedEntries (error omitted) are the failures; other errors are DaprErrors", (): void => {
  const entries = [BulkPublishEntry.json("a", "1"), BulkPublishEntry.json("b", "2"), BulkPublishEntry.json("c", "3")];
  answer(500, "Content-Type:application/json\nMetadata.responseData:x\n",
    '{"failedEntries":[{"entryId":"a","error":"broker down"},{"entryId":"c"}],"errorCode":"ERR_PUBSUB_PUBLISH_MESSAGE"}');
  const f = dapr.bulkPublish("pubsub", "t", entries).value!;
  eqInt(f.length, 2, "two failed");
  eq(f[0].entryId + ":" + f[0].error + ":" + f[0].status.toString(), "a:broker down:500", "first");
  eq(f[1].entryId + ":" + f[1].error, "c:failed", "error omitted by daprd");
  answer(400, "",
    '{"errorCode":"ERR_PUBSUB_EVENTS_SER","message":"error marshaling events to bytes for topic t pubsub pubsub. error: entryId is duplicated or not present for entry",' +
      '"details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"DAPR_PUBSUB_EVENTS_SER","domain":"dapr.io","metadata":{}}]}');
  const e = dapr.bulkPublish("pubsub", "t", entries).error!;
  eqInt(e.status, 400, "status");
  eq(e.errorCode!, "ERR_PUBSUB_EVENTS_SER", "kit error code, details ignored");
  check(e.message.includes("entryId is duplicated"), "message: " + e.message);
  answer(403, "", '{"errorCode":"ERR_PUBSUB_FORBIDDEN","message":"topic t is not allowed for app id app","details":[]}');
  eq(dapr.bulkPublish("pubsub", "t", entries).error!.errorCode!, "ERR_PUBSUB_FORBIDDEN", "403 is an error, not failures");
  answer(500, "", '{"failedEntries":[],"errorCode":"ERR_PUBSUB_PUBLISH_MESSAGE"}');
  eq(dapr.bulkPublish("pubsub", "t", entries).error!.errorCode!, "ERR_PUBSUB_PUBLISH_MESSAGE", "500 without entries is an error");
  answer(500, "", "not json");
  eq(dapr.bulkPublish("pubsub", "t", entries).error!.message, "not json", "non-JSON 500 body");
  const before = mock_request_count();
  eqInt(dapr.bulkPublish("pubsub", "t", [BulkPublishEntry.json("x", "{bad")]).error!.kind, DaprErrorKind.InvalidArgument, "bad JSON refused");
  eqInt(dapr.bulkPublish("", "t", entries).error!.kind, DaprErrorKind.InvalidArgument, "empty pubsub refused");
  eqInt(mock_request_count(), before, "nothing sent for refused arguments");
});

test("jobs: schedule sends the protojson body byte for byte; 204", (): void => {
  answer(204);
  const job = new JobRequest()
    .withSchedule("@every 2s")
    .withDueTime("1s")
    .withRepeats(3)
    .withTtl("1h")
    .withData('{"task":"remind","n":1}')
    .withOverwrite()
    .withFailurePolicy(FailurePolicy.constant("3s", 5));
  check(dapr.scheduleJob("reminder 1", job) == null, "scheduled");
  const s = last();
  eq(s.method, "POST", "method");
  eq(s.url, "http://127.0.0.1:3500/v1.0/jobs/reminder%201", "url");
  eq(s.headers, "Content-Type:application/json\n", "content type");
  eq(
    s.body,
    '{"schedule":"@every 2s","dueTime":"1s","repeats":3,"ttl":"1h","data":{"task":"remind","n":1},"overwrite":true,' +
      '"failurePolicy":{"constant":{"interval":"3s","maxRetries":5}}}',
    "body",
  );
  answer(204);
  check(dapr.scheduleJob("once", new JobRequest().withDueTime("2026-01-01T00:00:00Z").withData('"hello"').withFailurePolicy(FailurePolicy.drop())) == null, "once");
  eq(last().body, '{"dueTime":"2026-01-01T00:00:00Z","data":"hello","failurePolicy":{"drop":{}}}', "minimal body, drop policy");
  eq(FailurePolicy.constant().toJson(), '{"constant":{}}', "constant without members");
  eq(FailurePolicy.constant(null, 0).toJson(), '{"constant":{"maxRetries":0}}', "zero retries is sent");
  eq(new JobRequest().toJson(), "{}", "nothing set: {}");
  eq(new JobRequest().withSchedule("@daily").withOverwrite(false).toJson(), '{"schedule":"@daily"}', "overwrite false left out");
});

test("jobs: schedule errors: daprd's codes surfaced; bad data and empty names refused before sending", (): void => {
  answer(409, "", '{"errorCode":"DAPR_SCHEDULER_SCHEDULE_JOB","message":"job already exists",' +
    '"details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"DAPR_SCHEDULER_SCHEDULE_JOB","domain":"dapr.io","metadata":{}}]}');
  const e = dapr.scheduleJob("j", new JobRequest().withDueTime("1s").withData("1"))!;
  eq(e.toString(), "dapr error 409 DAPR_SCHEDULER_SCHEDULE_JOB: job already exists", "409 exists");
  answer(400, "", '{"errorCode":"DAPR_SCHEDULER_SCHEDULE_EMPTY","message":"Schedule is empty","details":[]}');
  eq(dapr.scheduleJob("j", new JobRequest())!.errorCode!, "DAPR_SCHEDULER_SCHEDULE_EMPTY", "no schedule");
  eq(last().body, "{}", "sent as {}");
  const before = mock_request_count();
  eqInt(dapr.scheduleJob("j", new JobRequest().withDueTime("1s").withData("{nope"))!.kind, DaprErrorKind.InvalidArgument, "bad data");
  eqInt(dapr.scheduleJob("  ", new JobRequest().withDueTime("1s"))!.kind, DaprErrorKind.InvalidArgument, "blank name");
  eqInt(dapr.getJob("").error!.kind, DaprErrorKind.InvalidArgument, "get: empty name");
  eqInt(dapr.deleteJob("")!.kind, DaprErrorKind.InvalidArgument, "delete: empty name");
  eqInt(mock_request_count(), before, "nothing sent");
});

test("jobs: get unwraps the google.protobuf.Value Any, reads the failure policy; delete is 204", (): void => {
  answer(200, "Content-Type:application/json\n",
    '{"name":"reminder","schedule":"@every 2s","repeats":3,"dueTime":"1s","ttl":"1h",' +
      '"data":{"@type":"type.googleapis.com/google.protobuf.Value","value":{"task":"remind"}},' +
      '"failurePolicy":{"constant":{"interval":"1s","maxRetries":3}}}');
  const j = dapr.getJob("reminder").value!;
  eq(last().method + " " + last().url, "GET http://127.0.0.1:3500/v1.0/jobs/reminder", "request");
  eq(j.name + "|" + j.schedule! + "|" + j.repeats.toString() + "|" + j.dueTime! + "|" + j.ttl!, "reminder|@every 2s|3|1s|1h", "fields");
  eq(j.data!, '{"task":"remind"}', "data unwrapped");
  const p = j.failurePolicy!;
  eq(p.kind + " " + p.interval! + " " + p.maxRetries.toString(), "constant 1s 3", "policy");
  answer(200, "", '{"name":"b","due_time":"5s","data":123,"failure_policy":{"drop":{}}}');
  const b = dapr.getJob("b").value!;
  eq(b.dueTime! + " " + b.data! + " " + b.failurePolicy!.kind, "5s 123 drop", "snake_case, bare value");
  check(isNull(b.schedule) && isNull(b.ttl) && b.repeats == 0, "absent fields");
  answer(200, "", '{"name":"c","schedule":"@daily","data":{"@type":"type.googleapis.com/google.protobuf.Value","value":"hi"},"failurePolicy":{"constant":{"max_retries":"7"}}}');
  const c = dapr.getJob("c").value!;
  eq(c.data! + " " + c.failurePolicy!.maxRetries.toString(), '"hi" 7', "string value, snake_case retries as a string");
  check(isNull(c.failurePolicy!.interval), "no interval");
  answer(500, "", '{"errorCode":"DAPR_SCHEDULER_GET_JOB","message":"failed to get job due to: rpc error: code = Unknown desc = job not found: app||default||app||nope",' +
    '"details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"DAPR_SCHEDULER_GET_JOB","domain":"dapr.io","metadata":{}}]}');
  const nf = dapr.getJob("nope");
  check(nf.isOk && isNull(nf.value), "daprd's 500 DAPR_SCHEDULER_GET_JOB 'job not found' is null, not an error");
  answer(404, "", "");
  const nf404 = dapr.getJob("nope");
  check(nf404.isOk && isNull(nf404.value), "a 404 is null too");
  answer(500, "", '{"errorCode":"DAPR_SCHEDULER_GET_JOB","message":"failed to get job due to: rpc error: code = Unavailable desc = scheduler down"}');
  const down = dapr.getJob("j").error!;
  eq(down.status.toString() + " " + down.errorCode!, "500 DAPR_SCHEDULER_GET_JOB", "another GET failure is an error");
  answer(204);
  check(dapr.deleteJob("reminder") == null, "deleted");
  eq(last().method + " " + last().url, "DELETE http://127.0.0.1:3500/v1.0/jobs/reminder", "delete request");
  answer(500, "", '{"errorCode":"DAPR_SCHEDULER_DELETE_JOB","message":"failed to delete job"}');
  eq(dapr.deleteJob("x")!.errorCode!, "DAPR_SCHEDULER_DELETE_JOB", "delete error");
});

test("jobs: bad GET answers are InvalidResponse (parseJob rejects wrong types)", (): void => {
  answer(200, "", "not json");
  eqInt(dapr.getJob("j").error!.kind, DaprErrorKind.InvalidResponse, "not JSON");
  answer(200, "", '{"name":"j","repeats":-1}');
  eqInt(dapr.getJob("j").error!.kind, DaprErrorKind.InvalidResponse, "negative repeats");
  check(isNull(parseJob('{"schedule":5}')), "schedule not a string");
  check(isNull(parseJob('{"repeats":"x"}')), "repeats not an integer");
  check(isNull(parseJob('{"failurePolicy":{"other":{}}}')), "unknown policy");
  check(isNull(parseJob("[1]")), "an array");
  check(isNull(parseJob('{"data":{"@type":"type.googleapis.com/google.protobuf.Value","value":null}}')!.data), "null value is no data");
  eq(parseJob("{}")!.name, "", "empty object: empty job");
});

test("conversation: converse sends the alpha2 request byte for byte", (): void => {
  answer(200, "", '{"outputs":[]}');
  const req = new ConversationRequest()
    .withContextId("c1")
    .withScrubPii()
    .withTemperature(0.2)
    .withMetadata("k", "v")
    .input([
      ConversationMessage.system("be brief"),
      ConversationMessage.user("hello", "u"),
      ConversationMessage.assistant("calling", [new ToolCall("0", "f", "a,b")]),
      ConversationMessage.tool("0", "f", "42"),
      ConversationMessage.developer("dev"),
    ], true)
    .tool(new ConversationTool("f", "adds", '{"type":"object","properties":{"a":{},"b":{}}}'))
    .withToolChoice("auto");
  check(dapr.converse("my llm", req).isOk, "ok");
  const s = last();
  eq(s.method + " " + s.url, "POST http://127.0.0.1:3500/v1.0-alpha2/conversation/my%20llm/converse", "request line");
  eq(s.headers, "Content-Type:application/json\n", "content type");
  eq(
    s.body,
    '{"contextId":"c1","scrubPii":true,"temperature":0.2,"metadata":{"k":"v"},"inputs":[{"messages":[' +
      '{"ofSystem":{"content":[{"text":"be brief"}]}},' +
      '{"ofUser":{"name":"u","content":[{"text":"hello"}]}},' +
      '{"ofAssistant":{"content":[{"text":"calling"}],"toolCalls":[{"id":"0","function":{"name":"f","arguments":"a,b"}}]}},' +
      '{"ofTool":{"toolId":"0","name":"f","content":[{"text":"42"}]}},' +
      '{"ofDeveloper":{"content":[{"text":"dev"}]}}],"scrubPii":true}],' +
      '"tools":[{"function":{"name":"f","description":"adds","parameters":{"type":"object","properties":{"a":{},"b":{}}}}}],"toolChoice":"auto"}',
    "body",
  );
  check(isValidJson(s.body), "valid JSON");
  answer(200, "", "{}");
  dapr.converse("echo", new ConversationRequest().input([ConversationMessage.user("hi")]));
  eq(last().body, '{"inputs":[{"messages":[{"ofUser":{"content":[{"text":"hi"}]}}]}]}', "minimal request");
  eq(ConversationMessage.assistant("").toJson(), '{"ofAssistant":{}}', "empty assistant message");
  eq(new ConversationTool("g").toJson(), '{"function":{"name":"g"}}', "tool without description or parameters");
});

test("conversation: the response: outputs, choices, tool calls, usage integers as JSON strings", (): void => {
  answer(200, "Content-Type:application/json\n",
    '{"contextId":"c1","outputs":[{"choices":[{"finishReason":"tool_calls","message":{"content":"be brief\\nhello",' +
      '"toolCalls":[{"id":"0","function":{"name":"f","arguments":"a,b"}}]}},{"finishReason":"stop","index":"1","message":{}}],' +
      '"model":"echo-1","usage":{"completionTokens":"3","promptTokens":"3","totalTokens":"6","promptTokensDetails":{}}}]}');
  const r = dapr.converse("echo", new ConversationRequest().input([ConversationMessage.user("hello")])).value!;
  eq(r.contextId!, "c1", "context id");
  eqInt(r.outputs.length, 1, "one output");
  const o = r.outputs[0];
  eq(o.model, "echo-1", "model");
  eqInt(o.choices.length, 2, "choices");
  const c = o.choices[0];
  eq(c.finishReason + "|" + c.index.toString() + "|" + c.content, "tool_calls|0|be brief\nhello", "first choice");
  eq(c.toolCalls[0].id + " " + c.toolCalls[0].name + " " + c.toolCalls[0].arguments, "0 f a,b", "tool call");
  eq(o.choices[1].index.toString() + " [" + o.choices[1].content + "] " + o.choices[1].toolCalls.length.toString(), "1 [] 0", "index as string, empty message");
  const u = o.usage!;
  eq(u.completionTokens.toString() + " " + u.promptTokens.toString() + " " + u.totalTokens.toString(), "3 3 6", "usage");
  eq(r.content(), "be brief\nhello", "content()");
  answer(200, "", '{"outputs":[{"choices":[{"finish_reason":"stop","message":{"content":"x"}}],"usage":{}}]}');
  const s = dapr.converse("echo", new ConversationRequest().input([ConversationMessage.user("x")])).value!;
  check(isNull(s.contextId), "no context id");
  eq(s.outputs[0].choices[0].finishReason + " " + s.outputs[0].model, "stop ", "snake_case, no model");
  eqInt(s.outputs[0].usage!.totalTokens, 0, "empty usage: zeros");
  answer(200, "", "{}");
  eq(dapr.converse("echo", new ConversationRequest()).value!.content(), "", "no outputs: empty content");
});

test("conversation: daprd's error codes; bad answers are InvalidResponse; bad arguments refused", (): void => {
  answer(400, "", '{"errorCode":"ERR_CONVERSATION_NOT_FOUND","message":"failed finding conversation component nope"}');
  const nf = dapr.converse("nope", new ConversationRequest().input([ConversationMessage.user("x")])).error!;
  eq(nf.toString(), "dapr error 400 ERR_CONVERSATION_NOT_FOUND: failed finding conversation component nope", "not found");
  answer(400, "", '{"errorCode":"ERR_CONVERSATION_MISSING_INPUTS","message":"failed conversing with component echo: missing inputs in request"}');
  eq(dapr.converse("echo", new ConversationRequest()).error!.errorCode!, "ERR_CONVERSATION_MISSING_INPUTS", "no inputs");
  eq(last().body, '{"inputs":[]}', "sent as is");
  answer(500, "", '{"errorCode":"ERR_CONVERSATION_INVOKE","message":"failed conversing with component echo: boom"}');
  eqInt(dapr.converse("echo", new ConversationRequest()).error!.status, 500, "invoke error");
  answer(200, "", '{"outputs":{}}');
  eqInt(dapr.converse("echo", new ConversationRequest()).error!.kind, DaprErrorKind.InvalidResponse, "outputs not an array");
  check(isNull(parseConversationResponse("nope")), "not JSON");
  check(isNull(parseConversationResponse('{"outputs":[{"usage":{"totalTokens":"many"}}]}')), "usage not an integer");
  check(isNull(parseConversationResponse('{"outputs":[{"choices":[{"finishReason":1}]}]}')), "finishReason not a string");
  check(isNull(parseConversationResponse('{"outputs":[{"choices":[{"message":{"toolCalls":[1]}}]}]}')), "tool call not an object");
  check(isNull(parseConversationResponse('{"contextId":7}')), "contextId not a string");
  const before = mock_request_count();
  eqInt(dapr.converse("", new ConversationRequest()).error!.kind, DaprErrorKind.InvalidArgument, "empty name");
  const badTool = new ConversationRequest().tool(new ConversationTool("f", null, "[1]"));
  eqInt(dapr.converse("echo", badTool).error!.kind, DaprErrorKind.InvalidArgument, "parameters not an object");
  eqInt(dapr.converse("echo", new ConversationRequest().withTemperature(Infinity)).error!.kind, DaprErrorKind.InvalidArgument, "infinite temperature");
  eqInt(mock_request_count(), before, "nothing sent");
});

test("invoke: any verb, encoded path, query, headers, body; app 4xx is a reply", (): void => {
  answer(201, "Content-Type:application/json\nX-App:1\n", '{"ok":true}');
  const o = new InvokeOptions().withQuery("q", "a b").withHeader("X-Trace", "t1").withJson('{"n":1}');
  const r = dapr.invokeMethod("order app", Method.PATCH, "api/v1/items 1", o).value!;
  const s = last();
  eq(s.method, "PATCH", "verb");
  eq(s.url, "http://127.0.0.1:3500/v1.0/invoke/order%20app/method/api/v1/items%201?q=a%20b", "url");
  eq(s.headers, "Content-Type:application/json\nX-Trace:t1\n", "headers");
  eq(s.body, '{"n":1}', "body");
  eqInt(r.status, 201, "status");
  eq(r.header("x-app")!, "1", "app header");
  eq(r.text(), '{"ok":true}', "app body");
  answer(404, "", "no such item");
  const nf = dapr.invokeMethod("app", Method.DELETE, "items/9");
  check(nf.isOk && nf.value!.status == 404, "app 404 is a reply");
  eq(last().method, "DELETE", "DELETE spelled right");
  answer(500, "", '{"errorCode":"ERR_DIRECT_INVOKE","message":"failed to invoke, id: nope, err: ..."}');
  eq(dapr.invokeMethod("nope", Method.GET, "x").error!.errorCode!, "ERR_DIRECT_INVOKE", "daprd's own error");
});

test("bindings: body shape and the component's answer", (): void => {
  answer(200, "", "created");
  const m = new Map<string, string>();
  m.set("key", "v");
  const r = dapr.invokeBinding("store-out", "create", '{"x":1}', m).value!;
  eq(last().url, "http://127.0.0.1:3500/v1.0/bindings/store-out", "url");
  eq(last().body, '{"data":{"x":1},"metadata":{"key":"v"},"operation":"create"}', "body");
  eq(r.text(), "created", "answer");
  answer(204);
  eqInt(dapr.invokeBinding("b", "delete").value!.body.length, 0, "204");
  eq(last().body, '{"operation":"delete"}', "default body");
  eqInt(dapr.invokeBinding("b", "create", "not json").error!.kind, DaprErrorKind.InvalidArgument, "bad data");
});

test("secrets: one and bulk; 204 empty; 401 unknown store", (): void => {
  answer(200, "", '{"user":"admin","pass":"s3cr:t"}');
  const one = dapr.getSecret("local secrets", "db").value!;
  eq(last().url, "http://127.0.0.1:3500/v1.0/secrets/local%20secrets/db", "url");
  eq(one.get("pass"), "s3cr:t", "value");
  answer(204);
  eqInt(dapr.getSecret("s", "empty").value!.size, 0, "empty");
  answer(200, "", '{"db":{"user":"admin"},"api":{"key":"k","other":"o"}}');
  const all = dapr.getBulkSecret("s").value!;
  eq(last().url, "http://127.0.0.1:3500/v1.0/secrets/s/bulk", "bulk url");
  eq(all.get("api").get("other"), "o", "bulk value");
  answer(401, "", '{"errorCode":"ERR_SECRET_STORE_NOT_FOUND","message":"failed getting secret store nope"}');
  eq(dapr.getSecret("nope", "x").error!.errorCode!, "ERR_SECRET_STORE_NOT_FOUND", "unknown store");
});

test("configuration: key query, items, subscribe/unsubscribe", (): void => {
  answer(200, "", '{"a":{"value":"1","version":"v1","metadata":{"m":"x"}},"b":{"value":"2","version":""}}');
  const c = dapr.getConfiguration("cfg", ["a", "b"]).value!;
  eq(last().url, "http://127.0.0.1:3500/v1.0/configuration/cfg?key=a&key=b", "url");
  eq(c.get("a").value + c.get("a").version + c.get("a").metadata.get("m"), "1v1x", "item a");
  eq(c.get("b").value, "2", "item b");
  answer(200, "", '{"id":"sub-1"}');
  eq(dapr.subscribeConfiguration("cfg", ["a"]).value!, "sub-1", "subscribe");
  eq(last().url, "http://127.0.0.1:3500/v1.0/configuration/cfg/subscribe?key=a", "subscribe url");
  answer(200, "", '{"ok":true}');
  check(dapr.unsubscribeConfiguration("cfg", "sub-1") == null, "unsubscribe");
  eq(last().url, "http://127.0.0.1:3500/v1.0/configuration/cfg/sub-1/unsubscribe", "unsubscribe url");
});

test("lock (alpha): lock and unlock shapes and answers", (): void => {
  answer(200, "", '{"success":true}');
  check(dapr.tryLock("lockstore", "res", "me", 10).value!.success, "locked");
  eq(last().url, "http://127.0.0.1:3500/v1.0-alpha1/lock/lockstore", "url");
  eq(last().body, '{"resourceId":"res","lockOwner":"me","expiryInSeconds":10}', "body");
  answer(200, "", '{"status":2}');
  eqInt(dapr.unlock("lockstore", "res", "you").value!.status, UnlockStatus.LockBelongsToOthers, "unlock");
  eq(last().body, '{"resourceId":"res","lockOwner":"you"}', "unlock body");
});

test("metadata, health, shutdown", (): void => {
  answer(200, "", '{"id":"app1","runtimeVersion":"1.14.0","components":[{"name":"statestore","type":"state.in-memory","version":"v1","capabilities":["ETAG","TRANSACTIONAL"]}],"extended":{"k":"v"}}');
  const md = dapr.getMetadata().value!;
  eq(md.id + " " + md.runtimeVersion, "app1 1.14.0", "id, version");
  eq(md.components[0].type + " " + md.components[0].capabilities.join(","), "state.in-memory ETAG,TRANSACTIONAL", "component");
  eq(md.extended.get("k"), "v", "extended");
  answer(204);
  check(dapr.setMetadata("k", "v 2") == null, "set");
  eq(last().method + " " + last().url + " " + last().body, "PUT http://127.0.0.1:3500/v1.0/metadata/k v 2", "set request");
  answer(204);
  check(dapr.healthz() == null, "healthy");
  answer(500, "", '{"errorCode":"ERR_HEALTH_NOT_READY","message":"dapr is not ready"}');
  eq(dapr.healthz()!.errorCode!, "ERR_HEALTH_NOT_READY", "not ready");
  answer(204);
  check(dapr.shutdown() == null, "shutdown");
  eq(last().method + " " + last().url, "POST http://127.0.0.1:3500/v1.0/shutdown", "shutdown request");
});

test("waitForSidecar: retries until healthz/outbound answers; denied fails at once", (): void => {
  mock_enqueue_error(ErrorCode.RequestError);
  answer(500, "", '{"errorCode":"ERR_HEALTH_NOT_READY","message":"not ready"}');
  answer(204);
  check(dapr.waitForSidecar(5000, 1) == null, "ready on the third try");
  eqInt(mock_request_count(), 3, "three probes");
  eq(last().url, "http://127.0.0.1:3500/v1.0/healthz/outbound", "probe url");
  mock_reset();
  mock_enqueue_error(ErrorCode.DestinationNotAllowed);
  check(dapr.waitForSidecar(5000, 1)!.isDenied(), "denied");
  eqInt(mock_request_count(), 1, "no retry when denied");
  mock_reset();
  const e = dapr.waitForSidecar(20, 5)!; // nothing queued: the mock answers 599
  check(e.message.includes("not ready within 20 ms"), "timeout message: " + e.message);
});

test("api token from the guest env is sent when set", (): void => {
  const c = new DaprClient("http://127.0.0.1:3500");
  c.apiToken = "tok";
  answer(204);
  c.healthz();
  eq(last().headers, "dapr-api-token:tok\n", "header");
});

// ----- app: the inbound router (assembly/app.ts) ---------------------------------------

function appReq(method: string, path: string, body: string = "", query: string = ""): AppRequest {
  return new AppRequest(method, path, query, [new Header("content-type", "application/cloudevents+json")], stringToBytes(body));
}

test("app: traceContext reads traceparent and tracestate", (): void => {
  const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const r = new AppRequest("GET", "/", "", [new Header("traceparent", tp), new Header("tracestate", "congo=t61rcWkgMzE")], new Uint8Array(0));
  const t = r.traceContext();
  check(t != null, "present");
  eq(t!.traceparent, tp, "traceparent");
  check(t!.tracestate != null && t!.tracestate! == "congo=t61rcWkgMzE", "tracestate");
  eq(t!.traceId, "4bf92f3577b34da6a3ce929d0e0e4736", "trace id");
  const none = new AppRequest("GET", "/", "", [new Header("tracestate", "a=b")], new Uint8Array(0));
  check(none.traceContext() == null, "no traceparent");
});

let gotEvent: TopicEvent | null = null;
let gotEvents: i32 = 0;
function keepEvent(e: TopicEvent): TopicResult {
  gotEvent = e;
  gotEvents++;
  const d = e.dataObject();
  if (d != null && d.has("answer")) {
    const a = memberString(d, "answer");
    if (a == "retry") return TopicResult.Retry;
    if (a == "drop") return TopicResult.Drop;
  }
  return TopicResult.Success;
}
let v2Events: i32 = 0;
function onV2(e: TopicEvent): TopicResult {
  v2Events++;
  return TopicResult.Success;
}
let gotBinding: BindingEvent | null = null;
function onBinding(e: BindingEvent): bool {
  gotBinding = e;
  return e.text() != "fail";
}
let gotUpdate: ConfigurationUpdate | null = null;
function onConfig(u: ConfigurationUpdate): bool {
  gotUpdate = u;
  return u.id != "fail";
}
let gotInvoke: AppRequest | null = null;
function onEcho(req: AppRequest): AppResponse {
  gotInvoke = req;
  return AppResponse.text(201, "echo " + req.method + " " + req.path + " " + req.text()).header("X-Echo", "1");
}

function testApp(): App {
  return new App()
    .subscribe("pubsub", "orders", "orders", keepEvent)
    .subscribe(
      "pubsub",
      "events",
      "/events",
      keepEvent,
      new SubscribeOptions()
        .rule('event.type == "v2"', "/events/v2", onV2)
        .rule('event.type == "v3"', "events/v3")
        .deadLetterTopic("events-dead")
        .rawPayload(),
    )
    .onBinding("cron", onBinding)
    .onConfiguration("config", onConfig)
    .onInvoke("GET", "/echo", onEcho)
    .onInvoke("*", "/any/*", onEcho);
}

test("app: GET /dapr/subscribe answers the registered topics (route, routes, deadLetterTopic, metadata)", (): void => {
  const res = testApp().handle(appReq("GET", "/dapr/subscribe"));
  eqInt(res.status, 200, "status");
  eq(res.headerValue("content-type")!, "application/json", "content type");
  eq(
    res.bodyText(),
    '[{"pubsubname":"pubsub","topic":"orders","route":"/orders"},' +
      '{"pubsubname":"pubsub","topic":"events","routes":{"rules":[{"match":"event.type == \\"v2\\"","path":"/events/v2"},' +
      '{"match":"event.type == \\"v3\\"","path":"events/v3"}],"default":"/events"},' +
      '"deadLetterTopic":"events-dead","metadata":{"rawPayload":"true"}}]',
    "subscriptions",
  );
  check(isValidJson(res.bodyText()), "valid JSON");
  eq(new App().handle(appReq("GET", "/dapr/subscribe")).bodyText(), "[]", "no subscriptions: []");
  const bad = new App().subscribe("", "t", "/r", keepEvent).subscribe("p", "t", "/", keepEvent);
  eq(bad.subscriptionsJson(), "[]", "empty pubsub or route ignored");
});

test("app: a CloudEvent with JSON data is decoded and SUCCESS answered", (): void => {
  gotEvent = null;
  const ce =
    '{"specversion":"1.0","id":"ev-1","source":"pub","type":"com.dapr.event.sent","datacontenttype":"application/json",' +
    '"topic":"orders","pubsubname":"pubsub","time":"2024-01-01T00:00:00Z","traceparent":"00-abc-def-01","data":{"orderId":7,"item":"x"},"ext":"e"}';
  const res = testApp().handle(appReq("POST", "/orders", ce));
  eqInt(res.status, 200, "status");
  eq(res.bodyText(), '{"status":"SUCCESS"}', "answer");
  eq(res.headerValue("Content-Type")!, "application/json", "content type");
  check(gotEvent != null, "handler called");
  const e = gotEvent!;
  eq(e.id + "|" + e.source + "|" + e.type + "|" + e.specversion, "ev-1|pub|com.dapr.event.sent|1.0", "attributes");
  eq(e.topic + "|" + e.pubsubname + "|" + e.datacontenttype + "|" + e.route, "orders|pubsub|application/json|/orders", "topic, pubsub");
  eq(e.time + "|" + e.traceparent, "2024-01-01T00:00:00Z|00-abc-def-01", "time, traceparent");
  eq(e.data!, '{"orderId":7,"item":"x"}', "data as JSON text");
  eq(e.text(), '{"orderId":7,"item":"x"}', "text");
  check(!e.isBinary, "not binary");
  eq(member(e.dataObject()!, "orderId")!, "7", "dataObject");
  eq(e.attribute("ext")!, '"e"', "extension attribute");
  check(isNull(e.attribute("nope")), "absent attribute");
});

test("app: CloudEvent data: text, data_base64, absent, null", (): void => {
  const text = decodeCloudEvent('{"id":"1","datacontenttype":"text/plain","data":"order \\"2\\": blaster"}');
  check(text.isOk, "text ok");
  eq(text.value!.text(), 'order "2": blaster', "string data decoded");
  eq(text.value!.data!, '"order \\"2\\": blaster"', "data keeps its JSON text");
  check(isNull(text.value!.dataObject()), "a string is not an object");
  const bin = decodeCloudEvent('{"id":"2","datacontenttype":"application/octet-stream","data_base64":"AAEC/w=="}');
  check(bin.isOk && bin.value!.isBinary, "binary");
  const b = bin.value!.bytes;
  eq(b.length.toString() + ":" + b[0].toString() + "," + b[1].toString() + "," + b[2].toString() + "," + b[3].toString(), "4:0,1,2,255", "bytes");
  check(isNull(bin.value!.data), "no data");
  const raw = decodeCloudEvent('{"id":"3","data_base64":"eyJvcmRlcklkIjo0fQ=="}');
  eq(raw.value!.text(), '{"orderId":4}', "raw payload text");
  eq(member(raw.value!.dataObject()!, "orderId")!, "4", "raw payload as object");
  const none = decodeCloudEvent('{"id":"4"}');
  check(none.isOk && isNull(none.value!.data) && none.value!.bytes.length == 0 && none.value!.type == "", "no data, empty attributes");
  const nul = decodeCloudEvent('{"id":"5","data":null,"data_base64":null}');
  check(nul.isOk && isNull(nul.value!.data) && !nul.value!.isBinary, "null data");
  const num = decodeCloudEvent('{"data":42}');
  eq(num.value!.text(), "42", "number data");
});

test("app: malformed CloudEvents are errors, answered DROP without calling the handler", (): void => {
  check(decodeCloudEvent("not json").isErr, "not JSON");
  check(decodeCloudEvent("[1,2]").isErr, "an array");
  check(decodeCloudEvent("").isErr, "empty");
  check(decodeCloudEvent('{"data_base64":"@@@"}').isErr, "bad base64");
  check(decodeCloudEvent('{"data_base64":7}').isErr, "base64 not a string");
  eq(decodeCloudEvent('{"a":').error!, "the body is not a JSON object", "message");
  gotEvents = 0;
  const app = testApp();
  const res = app.handle(appReq("POST", "/orders", '{"id":"x","data":'));
  eqInt(res.status, 200, "status");
  eq(res.bodyText(), '{"status":"DROP"}', "DROP");
  eqInt(gotEvents, 0, "handler not called");
  eq(app.handle(appReq("POST", "/orders", '{"data_base64":"%%"}')).bodyText(), '{"status":"DROP"}', "bad base64 dropped");
});

test("app: handler results map to SUCCESS, RETRY, DROP", (): void => {
  const app = testApp();
  eq(app.handle(appReq("POST", "/orders", '{"data":{"answer":"ok"}}')).bodyText(), '{"status":"SUCCESS"}', "success");
  eq(app.handle(appReq("POST", "/orders", '{"data":{"answer":"retry"}}')).bodyText(), '{"status":"RETRY"}', "retry");
  eq(app.handle(appReq("POST", "/orders", '{"data":{"answer":"drop"}}')).bodyText(), '{"status":"DROP"}', "drop");
  eq(topicResultJson(TopicResult.Success) + topicResultJson(TopicResult.Retry) + topicResultJson(TopicResult.Drop),
    '{"status":"SUCCESS"}{"status":"RETRY"}{"status":"DROP"}', "topicResultJson");
});

test("app: rule paths reach their own handler, or the subscription's", (): void => {
  const app = testApp();
  v2Events = 0;
  gotEvents = 0;
  eq(app.handle(appReq("POST", "/events/v2", '{"type":"v2"}')).bodyText(), '{"status":"SUCCESS"}', "v2");
  eqInt(v2Events, 1, "v2 handler");
  app.handle(appReq("POST", "/events/v3", '{"type":"v3"}'));
  app.handle(appReq("POST", "/events", '{"type":"v1"}'));
  eqInt(gotEvents, 2, "v3 and default go to the subscription's handler");
  eqInt(v2Events, 1, "v2 handler not called again");
});

test("app: unknown routes are 404; a topic route answers POST only", (): void => {
  const app = testApp();
  const res = app.handle(appReq("POST", "/nope", "{}"));
  eqInt(res.status, 404, "unknown path");
  eq(res.bodyText(), "no handler for POST /nope\n", "404 body");
  eqInt(app.handle(appReq("GET", "/orders")).status, 404, "GET on a topic route");
  eqInt(app.handle(appReq("POST", "/dapr/subscribe")).status, 404, "POST /dapr/subscribe");
  eqInt(app.handle(appReq("OPTIONS", "/other")).status, 404, "OPTIONS for an unknown binding");
  eqInt(app.handle(appReq("POST", "/configuration/unknown/k", "{}")).status, 404, "unknown configuration store");
  eqInt(app.handle(appReq("POST", "/orders/")).status, 404, "trailing slash is another path");
});

test("app: input bindings: OPTIONS probe 200, POST delivers the bytes, false is 500", (): void => {
  const app = testApp();
  const probe = app.handle(appReq("OPTIONS", "/cron"));
  eqInt(probe.status, 200, "probe");
  eqInt(probe.body.length, 0, "empty probe body");
  gotBinding = null;
  const req = new AppRequest("POST", "/cron", "", [new Header("content-type", "application/json"), new Header("timestamp", "t1")], stringToBytes('{"tick":1}'));
  eqInt(app.handle(req).status, 200, "handled");
  check(gotBinding != null, "handler called");
  eq(gotBinding!.name + " " + gotBinding!.text() + " " + gotBinding!.request.header("Timestamp")!, 'cron {"tick":1} t1', "event");
  eqInt(app.handle(appReq("POST", "/cron", "fail")).status, 500, "handler failure");
  eqInt(app.handle(appReq("GET", "/cron")).status, 404, "GET is not a binding call");
});

test("app: configuration updates: exactly 200, decoded items; 400 for a bad body", (): void => {
  const app = testApp();
  gotUpdate = null;
  const res = app.handle(
    appReq("POST", "/configuration/config/feature", '{"id":"sub-1","items":{"feature":{"value":"on","version":"3","metadata":{"a":"b"}},"bad":7}}'),
  );
  eqInt(res.status, 200, "exactly 200");
  eqInt(res.body.length, 0, "no body");
  const u = gotUpdate!;
  eq(u.store + " " + u.key + " " + u.id, "config feature sub-1", "store, key, id");
  eqInt(u.items.size, 1, "one well-formed item");
  const item = u.items.get("feature");
  eq(item.value + " " + item.version + " " + item.metadata.get("a"), "on 3 b", "item");
  eqInt(app.handle(appReq("POST", "/configuration/config/k", '{"id":"fail","items":{}}')).status, 500, "handler failure");
  gotUpdate = null;
  eqInt(app.handle(appReq("POST", "/configuration/config/k", "nope")).status, 400, "bad body");
  check(gotUpdate == null, "handler not called for a bad body");
  const noItems = decodeConfigurationUpdate("s", "k", '{"id":"x","items":[1]}')!;
  eqInt(noItems.items.size, 0, "items not an object: empty");
});

test("app: invoked methods get method, path, query, headers, body; 405 lists Allow", (): void => {
  const app = testApp();
  gotInvoke = null;
  const req = new AppRequest("GET", "/echo", "a=1&b=x%20y+z&a=2&flag&=v&", [new Header("x-caller", "me")], stringToBytes("hi"));
  const res = app.handle(req);
  eqInt(res.status, 201, "status");
  eq(res.bodyText(), "echo GET /echo hi", "body");
  eq(res.headerValue("x-echo")!, "1", "header");
  const q = gotInvoke!.queryParams();
  eqInt(q.length, 5, "query params");
  eq(q[1].key + "=" + q[1].value, "b=x y z", "decoded");
  eq(gotInvoke!.queryParam("a")!, "1", "first a");
  eq(q[3].key + "=" + q[3].value, "flag=", "no value");
  check(isNull(gotInvoke!.queryParam("zz")), "absent");
  eq(gotInvoke!.header("X-Caller")!, "me", "header");
  const wrong = app.handle(appReq("DELETE", "/echo"));
  eqInt(wrong.status, 405, "wrong method");
  eq(wrong.headerValue("Allow")!, "GET", "Allow");
  eqInt(app.handle(appReq("PATCH", "/any/thing/deep")).status, 201, "prefix and any method");
  eqInt(app.handle(appReq("PATCH", "/anything")).status, 404, "prefix stops at the slash");
  eq(parseQuery("p=%E2%82%AC%2F%zz")[0].value, "€/%zz", "UTF-8 and a bad escape kept");
});

test("app: requestFromCgi reads the WAGI environment", (): void => {
  const env = new Map<string, string>();
  env.set("REQUEST_METHOD", "POST");
  env.set("PATH_INFO", "/orders");
  env.set("QUERY_STRING", "x=1");
  env.set("CONTENT_TYPE", "application/cloudevents+json");
  env.set("CONTENT_LENGTH", "2");
  env.set("HTTP_PUBSUBNAME", "pubsub");
  env.set("HTTP_X_MULTI_WORD", "a, b");
  env.set("DAPR_HTTP_PORT", "3500");
  const r = requestFromCgi(env, stringToBytes("{}"));
  eq(r.method + " " + r.path + "?" + r.query, "POST /orders?x=1", "request line");
  eq(r.contentType, "application/cloudevents+json", "content type");
  eq(r.header("pubsubName")!, "pubsub", "pubsubname header");
  eq(r.header("x-multi-word")!, "a, b", "underscores become dashes, joined values kept");
  eq(r.header("content-length")!, "2", "content length");
  eqInt(r.headers.length, 4, "only request headers");
  eq(r.text(), "{}", "body");
  const d = requestFromCgi(new Map<string, string>(), new Uint8Array(0));
  eq(d.method + " " + d.path + " [" + d.query + "]", "GET / []", "defaults");
  const env2 = new Map<string, string>();
  env2.set("PATH_INFO", "x");
  eq(requestFromCgi(env2, new Uint8Array(0)).path, "/x", "leading slash added");
});

test("app: toCgi writes Status, headers, a blank line, the body; bad headers left out", (): void => {
  const res = AppResponse.json(200, '{"status":"SUCCESS"}').header("X-A", "1").header("X-A", "2");
  eq(bytesToString(toCgi(res)), 'Status: 200\nContent-Type: application/json\nX-A: 1\nX-A: 2\n\n{"status":"SUCCESS"}', "cgi");
  const bad = AppResponse.empty(204).header("Bad Name", "x").header("X-Inject", "a\r\nSet-Cookie: x").header("Status", "500");
  eq(bytesToString(toCgi(bad)), "Status: 204\n\n", "bad headers dropped");
  eq(bytesToString(toCgi(AppResponse.empty(42))), "Status: 500\n\n", "bad status becomes 500");
  const bin = toCgi(AppResponse.bytes(200, Uint8Array.wrap(String.UTF8.encode("\x00\xff"))));
  check(bin.length > 2 && bin[bin.length - 1] == 0xbf, "bytes body kept");
});

test("app: decodeBase64: standard, URL-safe, unpadded; bad input is null", (): void => {
  eq(bytesToString(decodeBase64("aGVsbG8=")!), "hello", "padded");
  eq(bytesToString(decodeBase64("aGVsbG8")!), "hello", "unpadded");
  eq(bytesToString(decodeBase64("aGk=")!), "hi", "two bytes");
  eqInt(decodeBase64("")!.length, 0, "empty");
  eq(encodeBase64(decodeBase64("-_8=")!), "+/8=", "URL-safe alphabet");
  check(isNull(decodeBase64("a")), "length 1 mod 4");
  check(isNull(decodeBase64("aGk=x")), "data after padding");
  check(isNull(decodeBase64("aG k=")), "space");
  check(isNull(decodeBase64("aGVsbG8==")), "padding with a bad length");
});

// ----- app: bulk subscriptions and jobs --------------------------------------------------

let bulkBatches: i32 = 0;
let lastBatch: BulkMessage | null = null;
function onBulk(batch: BulkMessage): TopicResult[] {
  bulkBatches++;
  lastBatch = batch;
  const out = new Array<TopicResult>();
  for (let i = 0; i < batch.entries.length; i++) {
    const d = batch.entries[i].dataObject();
    const a = d != null ? memberString(d, "answer") : null;
    out.push(a == "retry" ? TopicResult.Retry : a == "drop" ? TopicResult.Drop : TopicResult.Success);
  }
  return out;
}
function onBulkShort(batch: BulkMessage): TopicResult[] {
  return [TopicResult.Success];
}
let gotJob: JobEvent | null = null;
function onJobEvent(j: JobEvent): bool {
  gotJob = j;
  return j.dataString() != "fail";
}

function bulkApp(): App {
  return new App()
    .subscribe("pubsub", "single", "/single", keepEvent)
    .subscribeBulk("pubsub", "orders", "/orders-bulk", onBulk, new BulkSubscribeOptions(10, 250),
      new SubscribeOptions().deadLetterTopic("orders-dead").rule('event.type == "v2"', "/orders-bulk/v2"))
    .subscribeBulk("pubsub", "raw", "raw-bulk", onBulk, null, new SubscribeOptions().rawPayload())
    .subscribeBulk("pubsub", "short", "/short", onBulkShort)
    .onJob("reminder", onJobEvent)
    .onJob("a b", onJobEvent);
}

function envelope(entries: string): string {
  return '{"entries":[' + entries + '],"id":"batch-1","metadata":{"pubsubName":"pubsub"},"pubsubname":"pubsub","topic":"orders","type":"com.dapr.event.sent.bulk"}';
}

function ceEntry(id: string, data: string): string {
  return '{"contentType":"application/cloudevents+json","entryId":"' + id + '","event":{"specversion":"1.0","id":"ce-' + id +
    '","source":"pub","type":"com.dapr.event.sent","datacontenttype":"application/json","topic":"orders","pubsubname":"pubsub","data":' +
    data + '},"metadata":null}';
}

test("app: subscribeBulk registers bulkSubscribe (enabled, counts, defaults) beside the other options", (): void => {
  const app = bulkApp();
  eq(
    app.subscriptionsJson(),
    '[{"pubsubname":"pubsub","topic":"single","route":"/single"},' +
      '{"pubsubname":"pubsub","topic":"orders","routes":{"rules":[{"match":"event.type == \\"v2\\"","path":"/orders-bulk/v2"}],"default":"/orders-bulk"},' +
      '"deadLetterTopic":"orders-dead","bulkSubscribe":{"enabled":true,"maxMessagesCount":10,"maxAwaitDurationMs":250}},' +
      '{"pubsubname":"pubsub","topic":"raw","route":"/raw-bulk","metadata":{"rawPayload":"true"},"bulkSubscribe":{"enabled":true,"maxMessagesCount":100,"maxAwaitDurationMs":1000}},' +
      '{"pubsubname":"pubsub","topic":"short","route":"/short","bulkSubscribe":{"enabled":true,"maxMessagesCount":100,"maxAwaitDurationMs":1000}}]',
    "subscriptions",
  );
  check(isValidJson(app.subscriptionsJson()), "valid JSON");
  eq(new App().subscribeBulk("", "t", "/r", onBulk).subscribeBulk("p", "t", "", onBulk).subscriptionsJson(), "[]", "empty names ignored");
  check(app.subscriptions[1].bulk != null && app.subscriptions[0].bulk == null, "bulk marks the subscription");
});

test("app: a bulk envelope is decoded and answered one status per entry, in order", (): void => {
  bulkBatches = 0;
  const body = envelope(ceEntry("e1", '{"orderId":1}') + "," + ceEntry("e2", '{"answer":"retry"}') + "," + ceEntry("e3", '{"answer":"drop"}'));
  const res = bulkApp().handle(appReq("POST", "/orders-bulk", body));
  eqInt(res.status, 200, "status");
  eq(res.headerValue("content-type")!, "application/json", "content type");
  eq(res.bodyText(), '{"statuses":[{"entryId":"e1","status":"SUCCESS"},{"entryId":"e2","status":"RETRY"},{"entryId":"e3","status":"DROP"}]}', "statuses");
  eqInt(bulkBatches, 1, "one handler call");
  const b = lastBatch!;
  eq(b.id + " " + b.topic + " " + b.pubsubname + " " + b.type + " " + b.metadata.get("pubsubName") + " " + b.route,
    "batch-1 orders pubsub com.dapr.event.sent.bulk pubsub /orders-bulk", "batch fields");
  eqInt(b.entries.length, 3, "entries");
  const e = b.entries[0];
  eq(e.entryId + " " + e.contentType + " " + e.text(), 'e1 application/cloudevents+json {"orderId":1}', "entry");
  check(!e.isRaw && e.cloudEvent != null && e.cloudEvent!.id == "ce-e1", "CloudEvent decoded");
  eqInt(e.metadata.size, 0, "null metadata: empty");
  check(e.event.startsWith('{"specversion"'), "raw event text kept");
  eq(bulkApp().handle(appReq("POST", "/orders-bulk/v2", envelope(ceEntry("r", "{}")))).bodyText(),
    '{"statuses":[{"entryId":"r","status":"SUCCESS"}]}', "rule path served by the bulk handler");
});

test("app: bulk raw payloads are base64-decoded; entry metadata read", (): void => {
  const body = envelope('{"entryId":"r1","event":"eyJvcmRlcklkIjoyfQ==","metadata":{"k":"v"},"contentType":"application/octet-stream"},' +
    '{"entryId":"r2","event":"AAH/","metadata":null}');
  eq(bulkApp().handle(appReq("POST", "/raw-bulk", body)).bodyText(),
    '{"statuses":[{"entryId":"r1","status":"SUCCESS"},{"entryId":"r2","status":"SUCCESS"}]}', "statuses");
  const b = lastBatch!;
  const r1 = b.entries[0];
  check(r1.isRaw && r1.cloudEvent == null, "raw");
  eq(r1.text() + " " + r1.contentType + " " + r1.metadata.get("k"), '{"orderId":2} application/octet-stream v', "decoded bytes");
  eq(member(r1.dataObject()!, "orderId")!, "2", "raw JSON as object");
  const r2 = b.entries[1];
  eq(r2.bytes.length.toString() + ":" + r2.bytes[2].toString() + " [" + r2.contentType + "]", "3:255 []", "binary bytes, no content type");
});

test("app: bad bulk input: malformed entries DROP without the handler, bad envelope 400, short answers RETRY", (): void => {
  bulkBatches = 0;
  const body = envelope(ceEntry("ok", "{}") + ',{"entryId":"bad64","event":"@@@"},{"entryId":"num","event":7},' +
    '{"entryId":"ce","event":{"data_base64":"%%"}},{"event":{}},"junk"');
  const res = bulkApp().handle(appReq("POST", "/orders-bulk", body));
  eq(res.bodyText(),
    '{"statuses":[{"entryId":"ok","status":"SUCCESS"},{"entryId":"bad64","status":"DROP"},{"entryId":"num","status":"DROP"},{"entryId":"ce","status":"DROP"}]}',
    "malformed entries dropped; entries without an id left out");
  eqInt(lastBatch!.entries.length, 1, "the handler saw the good entry only");
  bulkBatches = 0;
  eq(bulkApp().handle(appReq("POST", "/orders-bulk", envelope('{"entryId":"x","event":1}'))).bodyText(),
    '{"statuses":[{"entryId":"x","status":"DROP"}]}', "no good entry");
  eqInt(bulkBatches, 0, "handler not called without good entries");
  eq(bulkApp().handle(appReq("POST", "/orders-bulk", envelope(""))).bodyText(), '{"statuses":[]}', "empty batch");
  eqInt(bulkApp().handle(appReq("POST", "/orders-bulk", "nope")).status, 400, "not JSON");
  eqInt(bulkApp().handle(appReq("POST", "/orders-bulk", '{"entries":{}}')).status, 400, "entries not an array");
  eqInt(bulkApp().handle(appReq("POST", "/orders-bulk", "{}")).status, 400, "no entries");
  check(decodeBulkMessage("[]").isErr, "decode: an array");
  eq(bulkApp().handle(appReq("POST", "/short", envelope(ceEntry("a", "1") + "," + ceEntry("b", "2")))).bodyText(),
    '{"statuses":[{"entryId":"a","status":"SUCCESS"},{"entryId":"b","status":"RETRY"}]}', "missing results are RETRY");
  eq(bulkStatusesJson(["a"], [TopicResult.Drop, TopicResult.Success]), '{"statuses":[{"entryId":"a","status":"DROP"}]}', "extra results ignored");
  eqInt(bulkApp().handle(appReq("GET", "/orders-bulk")).status, 404, "GET on a bulk route");
});

test("app: onJob: POST /job/<name> gets the data JSON; true 200, false 500; others 404", (): void => {
  gotJob = null;
  const app = bulkApp();
  const res = app.handle(appReq("POST", "/job/reminder", '{"task":"remind"}'));
  eqInt(res.status, 200, "handled");
  eqInt(res.body.length, 0, "empty body");
  const j = gotJob!;
  eq(j.name + " " + j.data + " " + memberString(j.dataObject()!, "task")!, 'reminder {"task":"remind"} remind', "event");
  check(isNull(j.dataString()), "an object is not a string");
  eqInt(app.handle(appReq("POST", "/job/reminder", '"fail"')).status, 500, "false is 500 (the failure policy retries)");
  eq(gotJob!.dataString()!, "fail", "string data decoded");
  eqInt(app.handle(appReq("POST", "/job/a b", "123")).status, 200, "decoded name");
  eq(gotJob!.name + " " + gotJob!.data, "a b 123", "number data");
  eqInt(app.handle(appReq("POST", "/job/other", "1")).status, 404, "unknown job");
  eqInt(app.handle(appReq("GET", "/job/reminder")).status, 404, "GET");
  eqInt(app.handle(appReq("POST", "/job/", "1")).status, 404, "no name");
  eq(new App().onJob("", onJobEvent).handle(appReq("POST", "/job/", "1")).status.toString(), "404", "empty name ignored");
});

// ----- actors: the client (assembly/dapr/actors.ts) ---------------------------------------

test("actors: invoke: PUT by default, each segment encoded, query/headers/body; any verb", (): void => {
  answer(200, "Content-Type:application/json\nX-App:1\n", '{"balance":5}');
  const o = new InvokeOptions().withQuery("q", "a b").withHeader("X-Trace", "t1").withJson('{"amount":5}');
  const r = dapr.invokeActor("Bank Account", "alice/1", "de posit", o).value!;
  const s = last();
  eq(s.method, "PUT", "default verb");
  eq(s.url, "http://127.0.0.1:3500/v1.0/actors/Bank%20Account/alice%2F1/method/de%20posit?q=a%20b", "url");
  eq(s.headers, "Content-Type:application/json\nX-Trace:t1\n", "headers");
  eq(s.body, '{"amount":5}', "body");
  eqInt(r.status, 200, "status");
  eq(r.text() + " " + r.header("x-app")!, '{"balance":5} 1', "answer");
  check(!isActorError(r), "200 is not an actor error");
  answer(200);
  dapr.invokeActor("T", "i", "m", null, Method.POST);
  eq(last().method + " " + last().body + "|" + last().headers, "POST |", "POST, no body, no headers");
});

test("actors: invoke: an app's actor error is a reply; daprd's error JSON is a typed DaprError", (): void => {
  answer(200, "Content-Type:application/json\nX-Daprerrorresponseheader:true\nX-Wasi-Dapr-Actor-Status:409\n", '{"error":"insufficient funds","balance":7}');
  const r = dapr.invokeActor("BankAccount", "alice", "withdraw");
  check(r.isOk, "an actor error is not a DaprError");
  eqInt(r.value!.status, 200, "daprd passes an actor error on as a 200");
  eqInt(actorErrorStatus(r.value!), 409, "the actor's status");
  eq(r.value!.text(), '{"error":"insufficient funds","balance":7}', "the app's body");
  check(isActorError(r.value!), "isActorError");
  answer(200, "X-Daprerrorresponseheader:true\n", "no status header");
  const plain = dapr.invokeActor("BankAccount", "alice", "withdraw").value!;
  check(isActorError(plain), "the header alone makes an actor error");
  eqInt(actorErrorStatus(plain), 200, "without X-Wasi-Dapr-Actor-Status, the HTTP status");
  answer(500, "Content-Type:application/json\n",
    '{"errorCode":"ERR_ACTOR_INVOKE_METHOD","message":"error invoke actor method: error from actor service: (500) boom"}');
  const e = dapr.invokeActor("BankAccount", "alice", "boom").error!;
  eq(e.toString(), "dapr error 500 ERR_ACTOR_INVOKE_METHOD: error invoke actor method: error from actor service: (500) boom", "ERR_ACTOR_INVOKE_METHOD");
  answer(500, "", '{"errorCode":"ERR_ACTOR_STACK_DEPTH","message":"maximum stack depth exceeded"}');
  eq(dapr.invokeActor("A", "1", "loop").error!.errorCode!, "ERR_ACTOR_STACK_DEPTH", "stack depth");
  answer(400, "", '{"errorCode":"ERR_ACTOR_NO_PLACEMENT","message":"placement service is not configured"}');
  eqInt(dapr.invokeActor("A", "1", "m").error!.status, 400, "no placement");
  answer(500, "", "plain failure");
  eqInt(dapr.invokeActor("A", "1", "m").value!.status, 500, "a non-JSON error body is a reply");
  const before = mock_request_count();
  eqInt(dapr.invokeActor("", "1", "m").error!.kind, DaprErrorKind.InvalidArgument, "empty type");
  eqInt(dapr.invokeActor("A", "", "m").error!.kind, DaprErrorKind.InvalidArgument, "empty id");
  eqInt(dapr.invokeActor("A", "1", "").error!.kind, DaprErrorKind.InvalidArgument, "empty method");
  eqInt(mock_request_count(), before, "nothing sent");
});

test("actors: state get (200 verbatim, 204 null) and the bare-array transaction", (): void => {
  answer(200, "Content-Type:application/json\n", '{"n": 1}');
  eq(dapr.getActorState("BankAccount", "alice", "bal ance").value!, '{"n": 1}', "value verbatim");
  eq(last().method + " " + last().url, "GET http://127.0.0.1:3500/v1.0/actors/BankAccount/alice/state/bal%20ance", "get request");
  answer(204);
  const missing = dapr.getActorState("BankAccount", "alice", "nope");
  check(missing.isOk && isNull(missing.value), "204 is a missing key (null)");
  answer(500, "", '{"errorCode":"ERR_ACTOR_STATE_GET","message":"error getting actor state"}');
  eq(dapr.getActorState("A", "1", "k").error!.errorCode!, "ERR_ACTOR_STATE_GET", "get error");
  answer(204);
  check(dapr.transactActorState("BankAccount", "alice", [
    StateOperation.upsert(SaveStateItem.ofJson("k", '{"a":1}')),
    StateOperation.remove("old"),
  ]) == null, "transaction");
  const s = last();
  eq(s.method + " " + s.url, "POST http://127.0.0.1:3500/v1.0/actors/BankAccount/alice/state", "transaction request");
  eq(s.headers, "Content-Type:application/json\n", "content type");
  eq(s.body, '[{"operation":"upsert","request":{"key":"k","value":{"a":1}}},{"operation":"delete","request":{"key":"old"}}]', "bare array body");
  answer(400, "", '{"errorCode":"ERR_ACTOR_INSTANCE_MISSING","message":"actor instance is missing"}');
  eq(dapr.transactActorState("A", "1", [StateOperation.remove("k")])!.errorCode!, "ERR_ACTOR_INSTANCE_MISSING", "not active");
  const before = mock_request_count();
  eqInt(dapr.transactActorState("A", "1", [StateOperation.upsert(SaveStateItem.ofJson("k", "{bad"))])!.kind, DaprErrorKind.InvalidArgument, "bad JSON refused");
  eqInt(dapr.getActorState("A", "1", "").error!.kind, DaprErrorKind.InvalidArgument, "empty key refused");
  eqInt(mock_request_count(), before, "nothing sent");
});

test("actors: reminders: create (R5/PT1S, raw JSON data), get, get 404 is null, delete", (): void => {
  answer(204);
  const rem = new ActorReminderRequest().withDueTime("1s").withPeriod("R5/PT1S").withTtl("1h").withData('{"ratePercent":10}').withOverwrite(false);
  check(dapr.registerActorReminder("BankAccount", "alice", "interest", rem) == null, "created");
  const s = last();
  eq(s.method + " " + s.url, "POST http://127.0.0.1:3500/v1.0/actors/BankAccount/alice/reminders/interest", "request");
  eq(s.body, '{"dueTime":"1s","period":"R5/PT1S","ttl":"1h","data":{"ratePercent":10},"overwrite":false}', "body: data raw, not base64");
  eq(new ActorReminderRequest().withPeriod("1s").toJson(), '{"period":"1s"}', "unset members left out");
  eq(new ActorReminderRequest().withDueTime("PT1S").withData('"x"').withOverwrite(true).toJson(), '{"dueTime":"PT1S","data":"x","overwrite":true}', "string data");
  answer(409, "", '{"errorCode":"ERR_ACTOR_REMINDER_ALREADY_EXISTS","message":"reminder already exists"}');
  eq(dapr.registerActorReminder("A", "1", "r", rem)!.errorCode!, "ERR_ACTOR_REMINDER_ALREADY_EXISTS", "409");
  answer(200, "Content-Type:application/json\n",
    '{"actorID":"alice","actorType":"BankAccount","data":{"ratePercent":10},"dueTime":"1s","period":"@every 1s"}');
  const got = dapr.getActorReminder("BankAccount", "alice", "interest").value!;
  eq(last().method + " " + last().url, "GET http://127.0.0.1:3500/v1.0/actors/BankAccount/alice/reminders/interest", "get request");
  eq(got.actorType! + " " + got.actorId! + " " + got.data! + " " + got.dueTime! + " " + got.period!, 'BankAccount alice {"ratePercent":10} 1s @every 1s', "fields");
  check(isNull(got.ttl), "absent ttl");
  answer(404, "", '{"errorCode":"ERR_ACTOR_REMINDER_NOT_FOUND","message":"actor reminder not found: nope"}');
  const none = dapr.getActorReminder("BankAccount", "alice", "nope");
  check(none.isOk && isNull(none.value), "404 ERR_ACTOR_REMINDER_NOT_FOUND is null");
  answer(403, "", '{"errorCode":"ERR_ACTOR_REMINDER_NON_HOSTED","message":"no such type"}');
  eq(dapr.getActorReminder("X", "1", "r").error!.errorCode!, "ERR_ACTOR_REMINDER_NON_HOSTED", "403 stays an error");
  answer(200, "", "not json");
  eqInt(dapr.getActorReminder("A", "1", "r").error!.kind, DaprErrorKind.InvalidResponse, "bad answer");
  answer(204);
  check(dapr.unregisterActorReminder("BankAccount", "alice", "interest") == null, "deleted");
  eq(last().method + " " + last().url, "DELETE http://127.0.0.1:3500/v1.0/actors/BankAccount/alice/reminders/interest", "delete request");
  const before = mock_request_count();
  eqInt(dapr.registerActorReminder("A", "1", "r", new ActorReminderRequest().withData("{no"))!.kind, DaprErrorKind.InvalidArgument, "bad data");
  eqInt(dapr.registerActorReminder("A", "1", "", rem)!.kind, DaprErrorKind.InvalidArgument, "empty name");
  eqInt(mock_request_count(), before, "nothing sent");
});

test("actors: timers: create with callback and data, delete", (): void => {
  answer(204);
  const t = new ActorTimerRequest("tick").withDueTime("0s").withPeriod("2s").withData('{"n":1}');
  check(dapr.registerActorTimer("BankAccount", "alice", "t 1", t) == null, "created");
  eq(last().method + " " + last().url, "POST http://127.0.0.1:3500/v1.0/actors/BankAccount/alice/timers/t%201", "request");
  eq(last().body, '{"dueTime":"0s","period":"2s","callback":"tick","data":{"n":1}}', "body");
  eq(new ActorTimerRequest("cb").toJson(), '{"callback":"cb"}', "minimal");
  answer(500, "", '{"errorCode":"ERR_ACTOR_TIMER_CREATE","message":"error creating actor timer: bad period"}');
  eq(dapr.registerActorTimer("A", "1", "t", t)!.errorCode!, "ERR_ACTOR_TIMER_CREATE", "error");
  answer(204);
  check(dapr.unregisterActorTimer("BankAccount", "alice", "t 1") == null, "deleted");
  eq(last().method + " " + last().url, "DELETE http://127.0.0.1:3500/v1.0/actors/BankAccount/alice/timers/t%201", "delete request");
});

// ----- actors: hosting (assembly/actors.ts through App) -------------------------------------

let turnGets: string = "";
let turnBodies: string = "";
function acctDeposit(ctx: ActorContext): AppResponse {
  const a = ctx.state.get("balance");
  turnGets += last().method + " " + last().url + ";";
  const b = ctx.state.get("balance");
  if (a.error != null || b.error != null) return AppResponse.text(500, "read failed");
  const n = a.value != null ? I64.parseInt(a.value!) : 0;
  const obj = ctx.bodyObject();
  const add = obj != null ? I64.parseInt(member(obj, "amount")!) : 0;
  ctx.state.set("balance", (n + add).toString());
  ctx.state.setString("note", "hi");
  ctx.state.remove("old");
  check(ctx.state.get("note").value! == '"hi"', "a buffered write is read back in the turn");
  check(isNull(ctx.state.get("old").value), "a buffered remove is read back in the turn");
  return AppResponse.json(200, '{"balance":' + (n + add).toString() + "}");
}
function acctTouch(ctx: ActorContext): AppResponse {
  ctx.state.set("balance", "1");
  return AppResponse.empty(204);
}
function acctFail(ctx: ActorContext): AppResponse {
  ctx.state.set("balance", "999");
  return AppResponse.text(500, "handler failed");
}
function acctBroke(ctx: ActorContext): AppResponse {
  ctx.state.set("balance", "0");
  return actorError(409, '{"error":"insufficient funds","balance":0}');
}
function acctEmpty(ctx: ActorContext): AppResponse {
  turnBodies = ctx.actorType + "/" + ctx.actorId + "/" + ctx.name + ":" + ctx.text() + ":" + ctx.request.contentType;
  return AppResponse.empty(200);
}
function acctCallOther(ctx: ActorContext): AppResponse {
  const r = ctx.invokeActor("Other", "o1", "ping", new InvokeOptions().withHeader("X-A", "1").withText("hello"));
  if (r.error != null) return AppResponse.text(500, r.error!.toString());
  return AppResponse.text(200, "other said " + r.value!.text());
}
let reminded: string = "";
function acctRemind(ctx: ActorContext, r: ActorReminderEvent): bool {
  const d = r.dataObject();
  reminded = ctx.actorId + " " + r.name + " " + (r.data != null ? r.data! : "null") + " [" + r.dueTime + "|" + r.period + "] " +
    (d != null ? member(d, "ratePercent")! : "-");
  if (r.name == "fail") {
    ctx.state.set("balance", "5");
    return false;
  }
  return true;
}
let timed: string = "";
function acctTick(ctx: ActorContext, t: ActorTimerEvent): bool {
  timed = ctx.actorId + " " + t.name + " " + t.callback + " " + (t.data != null ? t.data! : "null") + " [" + t.dueTime + "|" + t.period + "]";
  ctx.state.set("ticks", "1");
  return true;
}
let deactivated: string = "";
function acctDeactivate(ctx: ActorContext): void {
  deactivated = ctx.actorType + "/" + ctx.actorId;
}

function actorApp(): App {
  return new App()
    .onInvoke("GET", "/hello", onEcho)
    .actorEndpoint("http://127.0.0.1:3500")
    .actor(
      new ActorType("BankAccount")
        .method("deposit", acctDeposit)
        .method("touch", acctTouch)
        .method("fail", acctFail)
        .method("broke", acctBroke)
        .method("empty", acctEmpty)
        .method("call", acctCallOther)
        .onReminder(acctRemind)
        .timer("tick", acctTick)
        .onDeactivate(acctDeactivate),
    )
    .actor(new ActorType("Counter").withIdleTimeout("30s").withReentrancy(true, 8));
}

function actorReq(method: string, path: string, body: string = "", headers: Header[] = []): AppRequest {
  const hs: Header[] = [new Header("content-type", "application/json")];
  for (let i = 0; i < headers.length; i++) hs.push(headers[i]);
  return new AppRequest(method, path, "", hs, stringToBytes(body));
}

test("actors app: GET /dapr/config: entities, app-wide settings, entitiesConfig only for overrides", (): void => {
  const res = actorApp().handle(actorReq("GET", "/dapr/config"));
  eqInt(res.status, 200, "status");
  eq(res.headerValue("content-type")!, "application/json", "content type");
  eq(res.bodyText(),
    '{"entities":["BankAccount","Counter"],"actorIdleTimeout":"1h","drainOngoingCallTimeout":"2s","drainRebalancedActors":true,' +
      '"reentrancy":{"enabled":false,"maxStackDepth":32},' +
      '"entitiesConfig":[{"entities":["Counter"],"actorIdleTimeout":"30s","drainOngoingCallTimeout":"2s","drainRebalancedActors":true,' +
      '"reentrancy":{"enabled":true,"maxStackDepth":8}}]}',
    "config");
  const plain = new App()
    .actor(new ActorType("T"))
    .actorSettings(new ActorSettings().withIdleTimeout("10m").withDrainOngoingCallTimeout("30s").withDrainRebalancedActors(false).withReentrancy(true, 4));
  eq(plain.actorConfigJson(),
    '{"entities":["T"],"actorIdleTimeout":"10m","drainOngoingCallTimeout":"30s","drainRebalancedActors":false,"reentrancy":{"enabled":true,"maxStackDepth":4}}',
    "no overrides: no entitiesConfig; settings sent");
  eq(new App().actor(new ActorType("T").withIdleTimeout("5s")).actorConfigJson(),
    '{"entities":["T"],"actorIdleTimeout":"1h","drainOngoingCallTimeout":"2s","drainRebalancedActors":true,"reentrancy":{"enabled":false,"maxStackDepth":32},' +
      '"entitiesConfig":[{"entities":["T"],"actorIdleTimeout":"5s","drainOngoingCallTimeout":"2s","drainRebalancedActors":true,"reentrancy":{"enabled":false,"maxStackDepth":32}}]}',
    "an idle-timeout override alone keeps the app's reentrancy");
  eqInt(new App().actor(new ActorType("")).actor(new ActorType("a/b")).actorTypes.length, 0, "bad type names ignored");
});

test("actors app: without actor types /dapr/config and /actors/ are unchanged (404)", (): void => {
  eqInt(testApp().handle(actorReq("GET", "/dapr/config")).status, 404, "no /dapr/config");
  eqInt(testApp().handle(actorReq("PUT", "/actors/BankAccount/alice/method/deposit", "{}")).status, 404, "no actor routes");
  const withRoute = new App().onInvoke("*", "/actors/*", onEcho);
  eqInt(withRoute.handle(actorReq("PUT", "/actors/T/i/method/m")).status, 201, "an invoke route under /actors/ still answers");
  eqInt(actorApp().handle(actorReq("GET", "/hello")).status, 201, "other routes still answer beside actors");
  eqInt(actorApp().handle(actorReq("GET", "/dapr/subscribe")).status, 200, "/dapr/subscribe beside actors");
});

test("actors app: a method answers exactly 200 (204 too), body kept; unknown type/method 404; verbs", (): void => {
  const app = actorApp();
  const res = app.handle(actorReq("PUT", "/actors/BankAccount/alice/method/empty", '{"x":1}'));
  eqInt(res.status, 200, "200");
  eqInt(res.body.length, 0, "empty body");
  eq(turnBodies, 'BankAccount/alice/empty:{"x":1}:application/json', "context: type, id, name, body, content type");
  eqInt(mock_request_count(), 0, "no writes: no transaction");
  answer(204);
  eqInt(app.handle(actorReq("PUT", "/actors/BankAccount/alice/method/touch")).status, 200, "a 204 answer becomes 200");
  eqInt(app.handle(actorReq("PUT", "/actors/BankAccount/alice/method/nope")).status, 404, "unknown method");
  eqInt(app.handle(actorReq("PUT", "/actors/Nope/alice/method/deposit")).status, 404, "unknown type");
  eqInt(app.handle(actorReq("PUT", "/actors/BankAccount")).status, 404, "no id");
  eqInt(app.handle(actorReq("PUT", "/actors/BankAccount/alice/state/x")).status, 404, "not a method path");
  const post = app.handle(actorReq("POST", "/actors/BankAccount/alice/method/empty"));
  eq(post.status.toString() + " " + post.headerValue("allow")!, "405 PUT", "daprd always PUTs a method");
  eqInt(mock_request_count(), 1, "one transaction in all (touch)");
});

test("actors app: state is read once per key per turn; every write in ONE bare-array transaction after the turn", (): void => {
  turnGets = "";
  answer(200, "Content-Type:application/json\n", "7000");
  answer(204);
  const res = actorApp().handle(actorReq("PUT", "/actors/BankAccount/alice/method/deposit", '{"amount":500}'));
  eqInt(res.status, 200, "status");
  eq(res.bodyText(), '{"balance":7500}', "body");
  eq(turnGets, "GET http://127.0.0.1:3500/v1.0/actors/BankAccount/alice/state/balance;", "read through the sidecar");
  eqInt(mock_request_count(), 2, "one GET (cached after), one transaction");
  const s = last();
  eq(s.method + " " + s.url, "POST http://127.0.0.1:3500/v1.0/actors/BankAccount/alice/state", "transaction");
  eq(s.body,
    '[{"operation":"upsert","request":{"key":"balance","value":7500}},{"operation":"upsert","request":{"key":"note","value":"hi"}},' +
      '{"operation":"delete","request":{"key":"old"}}]',
    "bare array, in first-use order");
});

test("actors app: a failed handler commits nothing; a failed commit is 500", (): void => {
  const app = actorApp();
  const res = app.handle(actorReq("PUT", "/actors/BankAccount/alice/method/fail"));
  eq(res.status.toString() + " " + res.bodyText(), "500 handler failed", "the handler's 500");
  eqInt(mock_request_count(), 0, "no transaction sent");
  answer(400, "", '{"errorCode":"ERR_ACTOR_INSTANCE_MISSING","message":"actor instance is missing"}');
  const bad = app.handle(actorReq("PUT", "/actors/BankAccount/alice/method/touch"));
  eqInt(bad.status, 500, "commit failure is 500");
  check(bad.bodyText().includes("ERR_ACTOR_INSTANCE_MISSING"), "says why: " + bad.bodyText());
  const st = new ActorStateManager("T", "i", "http://127.0.0.1:3500");
  check(st.set("k", "{bad") != null && st.set("", "1") != null, "bad JSON and empty keys refused");
  st.remove("gone");
  st.set("k", "1");
  st.discard();
  check(!st.hasChanges, "discard drops the writes");
  answer(204);
  check(st.get("missing").isOk, "read");
  st.remove("missing");
  check(!st.hasChanges, "removing a key read as missing is no change");
});

test("actors app: an actor error is a 200 with X-DaprErrorResponseHeader and its status in X-Wasi-Dapr-Actor-Status; nothing committed", (): void => {
  const res = actorApp().handle(actorReq("PUT", "/actors/BankAccount/alice/method/broke"));
  eqInt(res.status, 200, "status: daprd passes an actor error on from a 200 only");
  eq(res.headerValue("X-Wasi-Dapr-Actor-Status")!, "409", "the chosen status");
  eq(res.bodyText(), '{"error":"insufficient funds","balance":0}', "body");
  eq(res.headerValue("X-DaprErrorResponseHeader")!, "true", "header");
  eq(res.headerValue("content-type")!, "application/json", "content type");
  eqInt(mock_request_count(), 0, "no transaction");
  const cgi = bytesToString(toCgi(res));
  check(cgi.startsWith("Status: 200\n") && cgi.includes("X-DaprErrorResponseHeader: true\n") && cgi.includes("X-Wasi-Dapr-Actor-Status: 409\n"), "on the wire: " + cgi);
});

test("actors app: reminders and timers are routed and their bodies decoded; DELETE runs the hook, 200", (): void => {
  const app = actorApp();
  reminded = "";
  let res = app.handle(actorReq("PUT", "/actors/BankAccount/alice/method/remind/interest", '{"data":{"ratePercent":10},"dueTime":"","period":""}'));
  eqInt(res.status, 200, "reminder 200");
  eq(reminded, 'alice interest {"ratePercent":10} [|] 10', "reminder event");
  app.handle(actorReq("PUT", "/actors/BankAccount/alice/method/remind/r2", '{"dueTime":"1s","period":"@every 1s"}'));
  eq(reminded, "alice r2 null [1s|@every 1s] -", "no data: null");
  eqInt(app.handle(actorReq("PUT", "/actors/BankAccount/alice/method/remind/fail", '{"data":1}')).status, 500, "false is 500");
  eqInt(mock_request_count(), 0, "the failed reminder commits nothing");
  eqInt(app.handle(actorReq("PUT", "/actors/BankAccount/alice/method/remind/x", "not json")).status, 400, "bad reminder body");
  eqInt(app.handle(actorReq("PUT", "/actors/Counter/c/method/remind/x", "{}")).status, 404, "a type without a reminder handler");
  answer(204);
  res = app.handle(actorReq("PUT", "/actors/BankAccount/bob/method/timer/t1", '{"data":"go","callback":"tick","dueTime":"0s","period":"1s"}'));
  eqInt(res.status, 200, "timer 200");
  eq(timed, 'bob t1 tick "go" [0s|1s]', "timer event");
  eq(last().body, '[{"operation":"upsert","request":{"key":"ticks","value":1}}]', "the timer's write committed");
  eqInt(app.handle(actorReq("PUT", "/actors/BankAccount/bob/method/timer/t1", '{"callback":"nope"}')).status, 404, "unknown callback");
  deactivated = "";
  res = app.handle(actorReq("DELETE", "/actors/BankAccount/carol"));
  eqInt(res.status, 200, "deactivate 200");
  eq(deactivated, "BankAccount/carol", "hook ran");
  eqInt(app.handle(actorReq("DELETE", "/actors/Counter/c")).status, 200, "no hook: 200");
  eqInt(app.handle(actorReq("DELETE", "/actors/Nope/c")).status, 404, "unknown type");
  eqInt(app.handle(actorReq("GET", "/actors/Counter/c")).status, 405, "GET on an actor");
});

test("actors app: the incoming Dapr-Reentrancy-Id is copied onto the turn's nested actor call", (): void => {
  answer(200, "", "pong");
  const rid = [new Header("dapr-reentrancy-id", "r-123")];
  const res = actorApp().handle(actorReq("PUT", "/actors/BankAccount/alice/method/call", "", rid));
  eq(res.status.toString() + " " + res.bodyText(), "200 other said pong", "answer");
  const s = last();
  eq(s.method + " " + s.url, "PUT http://127.0.0.1:3500/v1.0/actors/Other/o1/method/ping", "nested call");
  eq(s.headers, "Content-Type:text/plain; charset=utf-8\nX-A:1\nDapr-Reentrancy-Id:r-123\n", "reentrancy id added after the caller's headers");
  eq(s.body, "hello", "body");
  answer(200, "", "pong");
  actorApp().handle(actorReq("PUT", "/actors/BankAccount/alice/method/call"));
  eq(last().headers, "Content-Type:text/plain; charset=utf-8\nX-A:1\n", "no incoming id: none sent");
});

// ----- WASI helpers ----------------------------------------------------------------

test("wasi: getEnv reads the environment through the shim's environ_* bindings", (): void => {
  eq(getEnv("DAPR_HTTP_PORT")!, "3999", "set by run-unit.mjs");
  check(getEnv("WASI_DAPR_NO_SUCH_VARIABLE") == null, "unset is null");
});

test("wasi: sleepMillis polls a relative monotonic-clock subscription", (): void => {
  // The preview-1 layout of a clock subscription, which the shim's class must have.
  eqInt(offsetof<subscription_clock>(), 48, "size");
  eqInt(offsetof<subscription_clock>("clock_id"), 16, "clock_id");
  eqInt(offsetof<subscription_clock>("timeout"), 24, "timeout");
  eqInt(offsetof<subscription_clock>("precision"), 32, "precision");
  eqInt(offsetof<subscription_clock>("flags"), 40, "flags");
  const t0 = nowMillis();
  sleepMillis(30);
  check(nowMillis() - t0 >= 25, "slept about 30 ms, not " + (nowMillis() - t0).toString());
  sleepMillis(0);
});

// Keep `jsonString` and `DaprError` referenced for the type checker.
check(jsonString("a") == '"a"' && DaprError.invalidArgument("x").kind == 3, "sanity");

finish();
