/**
 * Integration tests of the AS SDK through the real host (`wasi-dapr run`) against
 * `wasi-dapr sidecar` (or daprd). `tests/e2e.sh` runs it three ways, chosen by `CASE`:
 * - `sidecar` (default): every client method against a live sidecar, plus the error
 *   paths it can answer (unknown store, etag conflict, unknown pub/sub, ...);
 * - `down`: nothing listens at the sidecar address: every call is a transport error;
 * - `denied`: the allowlist does not allow the sidecar: every call is a denial (code 7);
 * - `dapr118`: the Dapr 1.18 calls against a live sidecar: jobs (schedule, get, delete,
 *   409 without overwrite, daprd's error codes), conversation alpha2 with the
 *   `conversation.echo` component `CONVERSATION` (default `echo`; tools, tool calls,
 *   usage, unknown component, missing inputs), stable bulk publish and its 400s.
 * Components: `STATE_STORE` (default `statestore`), `PUBSUB_NAME` (default `pubsub`);
 * `SECRET_STORE` + `SECRET_NAME`, `CONFIG_STORE`, `LOCK_STORE` enable those tests.
 *
 * @packageDocumentation
 */

import {
  Concurrency,
  Consistency,
  DaprClient,
  DaprError,
  DaprErrorKind,
  ErrorCode,
  InvokeOptions,
  Method,
  PublishOptions,
  SaveStateItem,
  StateOptions,
  StateOperation,
  BulkPublishEntry,
  ConversationMessage,
  ConversationRequest,
  ConversationTool,
  FailurePolicy,
  JobRequest,
  ToolCall,
  UnlockStatus,
  getEnv,
  jsonEquals,
  stringToBytes,
} from "../assembly/index";
import { check, finish, skip, test } from "./harness";

function envOr(name: string, fallback: string): string {
  const v = getEnv(name);
  return v != null && v.length > 0 ? v : fallback;
}

function str(e: DaprError | null): string {
  return e != null ? e.toString() : "null";
}

const dapr = new DaprClient();
const store = envOr("STATE_STORE", "statestore");
const pubsub = envOr("PUBSUB_NAME", "pubsub");
const mode = envOr("CASE", "sidecar");
const secretStore = envOr("SECRET_STORE", "");
const secretName = envOr("SECRET_NAME", "");
const configStore = envOr("CONFIG_STORE", "");
const lockStore = envOr("LOCK_STORE", "");
const conversation = envOr("CONVERSATION", "echo");
console.log("# CASE=" + mode + " sidecar=" + dapr.endpoint);

if (mode == "down") {
  test("sidecar down: calls are transport errors, not aborts", (): void => {
    const e = dapr.getState(store, "k").error;
    check(e != null && e.kind == DaprErrorKind.Transport, "getState: " + str(e));
    check(e != null && e.httpError != null && e.httpError!.code == ErrorCode.RequestError, "code 11: " + str(e));
    const s = dapr.saveStateString(store, "k", "v");
    check(s != null && s.isTransport(), "save: " + str(s));
    const p = dapr.publishText(pubsub, "t", "x");
    check(p != null && p.isTransport(), "publish: " + str(p));
  });
  test("sidecar down: waitForSidecar times out with a message", (): void => {
    const e = dapr.waitForSidecar(300, 50);
    check(e != null && e.message.includes("not ready within 300 ms"), "wait: " + str(e));
  });
} else if (mode == "denied") {
  test("denied by the allowlist: code 7 on every call, no retry loop", (): void => {
    const e = dapr.getState(store, "k").error;
    check(e != null && e.isDenied(), "getState: " + str(e));
    check(e != null && e.httpError!.code == ErrorCode.DestinationNotAllowed, "code 7");
    const s = dapr.saveStateString(store, "k", "v");
    check(s != null && s.isDenied(), "save: " + str(s));
    const w = dapr.waitForSidecar(60_000);
    check(w != null && w.isDenied(), "waitForSidecar fails at once: " + str(w));
  });
} else if (mode == "dapr118") {
  runDapr118Tests();
} else {
  runSidecarTests();
}

function runSidecarTests(): void {
  test("health: waitForSidecar, healthz, healthz/outbound", (): void => {
    check(dapr.waitForSidecar(10_000) == null, "ready");
    check(dapr.healthz() == null, "healthz: " + str(dapr.healthz()));
    check(dapr.healthzOutbound() == null, "outbound");
  });

  test("state: save on 204, get with etag, 204 is null, values verbatim", (): void => {
    check(dapr.saveStateString(store, "it-weapon", "Death Star") == null, "save string");
    check(dapr.saveState(store, "it/planet 1", '{"name":"Tatooine","test":123}') == null, "save object, key with / and space");
    const w = dapr.getState(store, "it-weapon");
    check(w.error == null && w.value != null, "get: " + str(w.error));
    if (w.value != null) {
      check(w.value!.value == '"Death Star"', "stored with quotes: " + w.value!.value);
      check(w.value!.etag != null && w.value!.etag!.length > 0, "etag present");
    }
    const p = dapr.getState(store, "it/planet 1", Consistency.Strong);
    check(p.value != null && jsonEquals(p.value!.value, '{"name":"Tatooine","test":123}'), "object round trip");
    const missing = dapr.getState(store, "it-never-saved");
    check(missing.error == null && missing.value == null, "missing key is null");
  });

  test("state: etag conflict on save and delete, first-write", (): void => {
    check(dapr.saveState(store, "it-etag", "1") == null, "save");
    const got = dapr.getState(store, "it-etag").value;
    check(got != null && got.etag != null, "etag");
    if (got == null) return;
    const etag = got.etag;
    check(dapr.saveState(store, "it-etag", "2", etag, new StateOptions(Concurrency.FirstWrite)) == null, "update with etag");
    const stale = dapr.saveState(store, "it-etag", "3", etag);
    check(stale != null && stale.isEtagMismatch(), "stale save is an etag mismatch: " + str(stale));
    const staleDel = dapr.deleteState(store, "it-etag", etag);
    check(staleDel != null && staleDel.isEtagMismatch(), "stale delete: " + str(staleDel));
    const now = dapr.getState(store, "it-etag").value;
    check(now != null && now.value == "2", "value is 2");
    if (now != null) check(dapr.deleteState(store, "it-etag", now.etag) == null, "delete with If-Match");
    const gone = dapr.getState(store, "it-etag");
    check(gone.error == null && gone.value == null, "gone");
  });

  test("state: bulk save, bulk get in key order, missing keys", (): void => {
    const e = dapr.saveBulkState(store, [
      SaveStateItem.ofString("it-b1", "one"),
      SaveStateItem.ofJson("it-b2", "[1,2,3]").withMetadata("ttlInSeconds", "600"),
    ]);
    check(e == null, "bulk save: " + str(e));
    const r = dapr.getBulkState(store, ["it-b2", "it-missing", "it-b1"], 2);
    check(r.error == null, "bulk get: " + str(r.error));
    if (r.error != null) return;
    const items = r.value!;
    check(items.length == 3, "three items");
    if (items.length != 3) return;
    check(items[0].key == "it-b2" && items[0].value != null && jsonEquals(items[0].value!, "[1,2,3]"), "b2");
    check(items[1].key == "it-missing" && !items[1].found, "missing");
    check(items[2].valueString() != null && items[2].valueString()! == "one", "b1");
  });

  test("state: transaction upsert + delete; etag mismatch inside a transaction", (): void => {
    check(dapr.saveStateString(store, "it-t2", "to delete") == null, "seed");
    const e = dapr.transactState(store, [
      StateOperation.upsert(SaveStateItem.ofString("it-t1", "upserted")),
      StateOperation.remove("it-t2"),
    ]);
    check(e == null, "transaction: " + str(e));
    const t1 = dapr.getState(store, "it-t1").value;
    check(t1 != null && t1.valueString() != null && t1.valueString()! == "upserted", "t1 upserted");
    const t2 = dapr.getState(store, "it-t2");
    check(t2.error == null && t2.value == null, "t2 deleted");
    const bad = dapr.transactState(store, [
      StateOperation.upsert(SaveStateItem.ofString("it-t1", "x").withEtag("not-the-etag")),
    ]);
    check(bad != null && bad.isEtagMismatch(), "mismatch: " + str(bad));
  });

  test("state: query (alpha) by a field", (): void => {
    check(dapr.saveState(store, "it-q1", '{"city":"Mos Eisley","n":1}') == null, "seed");
    const r = dapr.queryState(store, '{"filter":{"EQ":{"city":"Mos Eisley"}},"page":{"limit":10}}');
    check(r.error == null, "query: " + str(r.error));
    if (r.error != null) return;
    const res = r.value!.results;
    let found = false;
    for (let i = 0; i < res.length; i++) {
      if (res[i].key == "it-q1" && res[i].value != null && jsonEquals(res[i].value!, '{"city":"Mos Eisley","n":1}')) found = true;
    }
    check(found, "it-q1 among " + res.length.toString() + " results");
  });

  test("state: unknown store is ERR_STATE_STORE_NOT_FOUND (400)", (): void => {
    const e = dapr.getState("no-such-store", "k").error;
    check(e != null && e.status == 400, "status: " + str(e));
    check(e != null && e.errorCode != null && e.errorCode! == "ERR_STATE_STORE_NOT_FOUND", "code: " + str(e));
    const s = dapr.saveStateString("no-such-store", "k", "v");
    check(s != null && s.errorCode != null && s.errorCode! == "ERR_STATE_STORE_NOT_FOUND", "save: " + str(s));
  });

  test("publish: JSON, text, bytes, CloudEvent, metadata; unknown pubsub", (): void => {
    check(dapr.publishJson(pubsub, "it-orders", '{"id":1}') == null, "json: " + str(dapr.publishJson(pubsub, "it-orders", '{"id":1}')));
    check(dapr.publishText(pubsub, "it-orders", "two") == null, "text");
    check(dapr.publishBytes(pubsub, "it/orders", stringToBytes("three")) == null, "bytes, topic with /");
    check(dapr.publishJson(pubsub, "it-orders", '{"id":4}', new PublishOptions().rawPayload().ttlInSeconds(60)) == null, "raw + ttl");
    check(dapr.publishCloudEvent(pubsub, "it-orders", '{"specversion":"1.0","id":"5","source":"it","type":"t","data":{}}') == null, "cloudevent");
    const e = dapr.publishText("no-such-pubsub", "t", "x");
    check(e != null && e.errorCode != null && e.errorCode! == "ERR_PUBSUB_NOT_FOUND", "unknown: " + str(e));
  });

  test("publish bulk (stable path)", (): void => {
    const r = dapr.bulkPublish(pubsub, "it-bulk", [
      BulkPublishEntry.json("1", '{"a":1}'),
      BulkPublishEntry.text("2", "b"),
      BulkPublishEntry.bytes("3", stringToBytes("c")),
    ]);
    check(r.error == null && r.value!.length == 0, "published: " + str(r.error));
  });

  test("invoke: an unknown app id is daprd's ERR_DIRECT_INVOKE", (): void => {
    const r = dapr.invokeMethod("no-such-app", Method.POST, "orders/1", new InvokeOptions().withJson("{}"));
    check(r.error != null, "error");
    if (r.error != null) check(r.error!.status >= 400, "status " + r.error!.status.toString());
  });

  test("bindings: an unknown binding is a typed error", (): void => {
    const r = dapr.invokeBinding("no-such-binding", "create", '{"x":1}');
    check(r.error != null && r.error!.kind == DaprErrorKind.Api, "error: " + str(r.error));
  });

  test("metadata: get and set", (): void => {
    check(dapr.setMetadata("it-key", "it-value") == null, "set");
    const md = dapr.getMetadata();
    check(md.error == null, "get: " + str(md.error));
    if (md.error != null) return;
    const m = md.value!;
    check(m.extended.has("it-key") && m.extended.get("it-key") == "it-value", "extended: " + m.json);
    let found = false;
    for (let i = 0; i < m.components.length; i++) if (m.components[i].name == store) found = true;
    check(found, "state store listed: " + m.json);
  });

  if (secretStore.length > 0 && secretName.length > 0) {
    test("secrets: one, bulk, unknown store", (): void => {
      const one = dapr.getSecret(secretStore, secretName);
      check(one.error == null && one.value!.size > 0, "one: " + str(one.error));
      const all = dapr.getBulkSecret(secretStore);
      check(all.error == null && all.value!.has(secretName), "bulk: " + str(all.error));
      const e = dapr.getSecret("no-such-secrets", "x").error;
      check(e != null && e.status == 401, "unknown store is 401: " + str(e));
    });
  } else {
    skip("secrets", "SECRET_STORE/SECRET_NAME not set");
  }

  if (configStore.length > 0) {
    test("configuration: get, subscribe, unsubscribe", (): void => {
      const c = dapr.getConfiguration(configStore, []);
      check(c.error == null, "get: " + str(c.error));
      const id = dapr.subscribeConfiguration(configStore, ["k"]);
      check(id.error == null, "subscribe: " + str(id.error));
      if (id.error == null) check(dapr.unsubscribeConfiguration(configStore, id.value!) == null, "unsubscribe");
    });
  } else {
    test("configuration: unknown store is an error", (): void => {
      const e = dapr.getConfiguration("no-such-config", ["k"]).error;
      check(e != null && e.kind == DaprErrorKind.Api, "error: " + str(e));
    });
  }

  if (lockStore.length > 0) {
    test("lock (alpha): lock, refuse another owner, unlock", (): void => {
      const a = dapr.tryLock(lockStore, "it-res", "a", 10);
      check(a.error == null && a.value!.success, "a locks");
      const b = dapr.tryLock(lockStore, "it-res", "b", 10);
      check(b.error == null && !b.value!.success, "b refused");
      const u = dapr.unlock(lockStore, "it-res", "a");
      check(u.error == null && u.value!.status == UnlockStatus.Success, "unlock");
    });
  } else {
    skip("lock", "LOCK_STORE not set");
  }
}

function code(e: DaprError | null): string {
  return e != null && e.errorCode != null ? e.status.toString() + " " + e.errorCode! : "none (" + str(e) + ")";
}

function runDapr118Tests(): void {
  test("health: the sidecar is ready", (): void => {
    check(dapr.waitForSidecar(10_000) == null, "ready");
  });

  test("jobs: schedule, get (data unwrapped, default failure policy), 409 without overwrite, overwrite, delete", (): void => {
    dapr.deleteJob("it-job");
    const e = dapr.scheduleJob("it-job", new JobRequest().withDueTime("1h").withData('{"n":1,"s":"x"}'));
    check(e == null, "scheduled: " + str(e));
    const g = dapr.getJob("it-job");
    check(g.error == null && g.value != null, "get: " + str(g.error));
    if (g.error == null && g.value != null) {
      const j = g.value!;
      check(j.name == "it-job", "name: " + j.name);
      check(j.dueTime != null && j.dueTime! == "1h", "dueTime");
      check(j.data != null && jsonEquals(j.data!, '{"s":"x","n":1}'), "data: " + (j.data != null ? j.data! : "null"));
      const p = j.failurePolicy;
      check(p != null && p.kind == "constant" && p.maxRetries == 3 && p.interval != null && p.interval! == "1s",
        "daprd's default failure policy, constant 1s x 3");
    }
    check(code(dapr.scheduleJob("it-job", new JobRequest().withDueTime("2h").withData("2"))) == "409 DAPR_SCHEDULER_SCHEDULE_JOB", "exists, no overwrite");
    const o = dapr.scheduleJob("it-job", new JobRequest().withSchedule("@every 1h").withRepeats(2).withData('"two"')
      .withOverwrite().withFailurePolicy(FailurePolicy.drop()));
    check(o == null, "overwrite: " + str(o));
    const g2 = dapr.getJob("it-job");
    check(g2.error == null && g2.value != null && g2.value!.schedule != null && g2.value!.schedule! == "@every 1h" && g2.value!.repeats == 2, "overwritten: " + str(g2.error));
    check(g2.error == null && g2.value != null && g2.value!.data != null && g2.value!.data! == '"two"', "string data");
    check(g2.error == null && g2.value != null && g2.value!.failurePolicy != null && g2.value!.failurePolicy!.kind == "drop", "drop policy");
    check(dapr.deleteJob("it-job") == null, "delete");
    const gone = dapr.getJob("it-job");
    check(gone.error == null && gone.value == null, "gone: null (daprd's 500 DAPR_SCHEDULER_GET_JOB job not found): " + str(gone.error));
    check(dapr.deleteJob("it-job") == null, "delete a missing job: 204");
  });

  test("jobs: daprd's errors: schedule empty, bad cron", (): void => {
    check(code(dapr.scheduleJob("it-empty", new JobRequest().withData("1"))) == "400 DAPR_SCHEDULER_SCHEDULE_EMPTY", "no schedule, no due time");
    check(code(dapr.scheduleJob("it-bad", new JobRequest().withSchedule("* * *").withData("1"))) == "500 DAPR_SCHEDULER_SCHEDULE_JOB", "bad cron");
  });

  test("conversation: conversation.echo: content joined, a tool call per tool, usage, contextId", (): void => {
    const req = new ConversationRequest()
      .withContextId("it-ctx")
      .input([ConversationMessage.system("be brief"), ConversationMessage.user("hello world")])
      .tool(new ConversationTool("lookup", "finds things", '{"type":"object","properties":{"b":{},"a":{}}}'));
    const r = dapr.converse(conversation, req);
    check(r.error == null, "converse: " + str(r.error));
    if (r.error != null) return;
    const res = r.value!;
    check(res.contextId != null && res.contextId! == "it-ctx", "contextId echoed");
    check(res.outputs.length == 1 && res.outputs[0].choices.length == 1, "one output, one choice");
    if (res.outputs.length != 1 || res.outputs[0].choices.length != 1) return;
    const c = res.outputs[0].choices[0];
    check(c.content == "be brief\nhello world", "content: " + c.content);
    check(c.finishReason == "tool_calls", "finishReason: " + c.finishReason);
    check(c.toolCalls.length == 1 && c.toolCalls[0].id == "0" && c.toolCalls[0].name == "lookup" && c.toolCalls[0].arguments == "a,b", "tool call");
    const u = res.outputs[0].usage;
    check(u != null && u.completionTokens == 4 && u.promptTokens == 4 && u.totalTokens == 8, "usage 4/4/8");
  });

  test("conversation: assistant tool calls and tool answers; stop without tools", (): void => {
    const req = new ConversationRequest().input([
      ConversationMessage.user("add"),
      ConversationMessage.assistant("", [new ToolCall("7", "add", "1,2")]),
      ConversationMessage.tool("7", "add", "3"),
    ]);
    const r = dapr.converse(conversation, req);
    check(r.error == null, "converse: " + str(r.error));
    if (r.error != null || r.value!.outputs.length == 0 || r.value!.outputs[0].choices.length == 0) return;
    const c = r.value!.outputs[0].choices[0];
    check(c.content == "add\nTool Response for tool ID '7' with name 'add': 3", "content: " + c.content);
    check(c.toolCalls.length == 1 && c.toolCalls[0].id == "7" && c.finishReason == "tool_calls", "the assistant's tool call echoed");
    check(r.value!.contextId == null, "no contextId sent, none echoed");
    const plain = dapr.converse(conversation, new ConversationRequest().input([ConversationMessage.user("hi")]));
    check(plain.error == null && plain.value!.outputs[0].choices[0].finishReason == "stop", "stop: " + str(plain.error));
  });

  test("conversation: unknown component, missing inputs", (): void => {
    const one = new ConversationRequest().input([ConversationMessage.user("x")]);
    check(code(dapr.converse("it-no-such-llm", one).error) == "400 ERR_CONVERSATION_NOT_FOUND", "unknown component");
    check(code(dapr.converse(conversation, new ConversationRequest()).error) == "400 ERR_CONVERSATION_MISSING_INPUTS", "no inputs");
  });

  test("publish bulk (stable path): published; daprd's 400s and 404", (): void => {
    const good = dapr.bulkPublish(pubsub, "it-bulk-118", [
      BulkPublishEntry.json("1", '{"a":1}').with("ttlInSeconds", "60"),
      BulkPublishEntry.cloudEvent("2", '{"specversion":"1.0","id":"x","source":"it","type":"t","datacontenttype":"text/plain","data":"y"}'),
    ]);
    check(good.error == null && good.value!.length == 0, "published: " + str(good.error));
    const dup = dapr.bulkPublish(pubsub, "it-bulk-118", [BulkPublishEntry.json("1", "1"), BulkPublishEntry.json("1", "2")]);
    check(code(dup.error) == "400 ERR_PUBSUB_EVENTS_SER", "duplicate entryId");
    const mismatch = dapr.bulkPublish(pubsub, "it-bulk-118", [new BulkPublishEntry("1", '{"a":1}', "text/plain")]);
    check(code(mismatch.error) == "400 ERR_PUBSUB_EVENTS_SER", "contentType mismatch");
    const nf = dapr.bulkPublish("it-no-such-pubsub", "t", [BulkPublishEntry.json("1", "1")]);
    check(code(nf.error) == "404 ERR_PUBSUB_NOT_FOUND", "unknown pubsub");
  });
}

finish(true);
