// DaprClient (HTTP) against `wasi-dapr sidecar`: state, pub/sub, bindings, secrets, lock,
// configuration, metadata, health, jobs and conversation, each answer checked against
// the wire reference (`dapr-http-api.md`).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import dapr from "@dapr/dapr";
import ActorClientHTTP from "@dapr/dapr/actors/client/ActorClient/ActorClientHTTP.js";
import { eventually, raw, rejected, sdkError, sdkLogger, startSidecar } from "./harness.js";

const { ActorId, CommunicationProtocolEnum, DaprClient, StateConcurrencyEnum } = dapr;
const T = { timeout: 10_000 };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let sidecar;
let client;
/** The SDK's HTTP transport, for the calls it has no method for. */
let http;

before(async () => {
  sidecar = await startSidecar({ appId: "jssdk" });
  client = new DaprClient({
    daprHost: "127.0.0.1",
    daprPort: String(sidecar.port),
    communicationProtocol: CommunicationProtocolEnum.HTTP,
    logger: sdkLogger(),
  });
  await client.start();
  http = client.daprClient;
});

after(async () => {
  await client?.stop();
  await sidecar?.stop();
});

describe("state", () => {
  test("save then get: JSON values round-trip, a string keeps its quotes on the wire", T, async () => {
    const saved = await client.state.save("statestore", [
      { key: "obj", value: { n: 1, tags: ["a"] } },
      { key: "str", value: "Death Star" },
      { key: "num", value: 42 },
    ]);
    assert.deepEqual(saved, {});
    assert.deepEqual(await client.state.get("statestore", "obj"), { n: 1, tags: ["a"] });
    assert.equal(await client.state.get("statestore", "str"), "Death Star");
    assert.equal(await client.state.get("statestore", "num"), 42);
    const wire = await raw(sidecar.url, "/v1.0/state/statestore/str");
    assert.equal(wire.status, 200);
    assert.equal(wire.text, '"Death Star"');
    assert.match(wire.headers.get("content-type"), /^application\/json/);
    assert.match(wire.headers.get("etag"), UUID);
  });

  test("get of a missing key: 204 with no body, the SDK returns an empty string", T, async () => {
    assert.equal(await client.state.get("statestore", "never-saved"), "");
    const wire = await raw(sidecar.url, "/v1.0/state/statestore/never-saved");
    assert.equal(wire.status, 204);
    assert.equal(wire.text, "");
  });

  test("etags: a wrong etag is 409 ERR_STATE_SAVE, the right one saves", T, async () => {
    await client.state.save("statestore", [{ key: "e", value: "v1" }]);
    const etag = (await raw(sidecar.url, "/v1.0/state/statestore/e")).headers.get("etag");
    const bad = await client.state.save("statestore", [{ key: "e", value: "v2", etag: "not-it" }]);
    assert.ok(bad.error, "a wrong etag must fail");
    const err = sdkError(bad.error);
    assert.equal(err.status, 409);
    assert.equal(err.body.errorCode, "ERR_STATE_SAVE");
    assert.deepEqual(await client.state.save("statestore", [{ key: "e", value: "v2", etag }]), {});
    assert.equal(await client.state.get("statestore", "e"), "v2");
    const next = (await raw(sidecar.url, "/v1.0/state/statestore/e")).headers.get("etag");
    assert.notEqual(next, etag, "every write makes a new etag");
  });

  test("first-write without an etag on an existing key is a mismatch (409)", T, async () => {
    await client.state.save("statestore", [{ key: "fw", value: 1 }]);
    const res = await client.state.save("statestore", [
      { key: "fw", value: 2, options: { concurrency: StateConcurrencyEnum.CONCURRENCY_FIRST_WRITE } },
    ]);
    assert.ok(res.error);
    const err = sdkError(res.error);
    assert.equal(err.status, 409);
    assert.equal(err.body.errorCode, "ERR_STATE_SAVE");
    assert.equal(await client.state.get("statestore", "fw"), 1);
  });

  test("delete with If-Match: wrong etag 409 ERR_STATE_DELETE, right etag deletes", T, async () => {
    await client.state.save("statestore", [{ key: "d", value: "x" }]);
    const etag = (await raw(sidecar.url, "/v1.0/state/statestore/d")).headers.get("etag");
    const bad = await client.state.delete("statestore", "d", { etag: "wrong" });
    const err = sdkError(bad.error);
    assert.equal(err.status, 409);
    assert.equal(err.body.errorCode, "ERR_STATE_DELETE");
    assert.deepEqual(await client.state.delete("statestore", "d", { etag }), {});
    assert.equal(await client.state.get("statestore", "d"), "");
  });

  test("getBulk: key order kept, a missing key is {key} only, data is the stored JSON", T, async () => {
    await client.state.save("statestore", [
      { key: "b1", value: { a: 1 } },
      { key: "b2", value: "two" },
    ]);
    const got = await client.state.getBulk("statestore", ["b2", "nope", "b1"]);
    assert.equal(got.length, 3);
    assert.deepEqual(
      got.map((e) => e.key),
      ["b2", "nope", "b1"],
    );
    assert.equal(got[0].data, "two");
    assert.match(got[0].etag, UUID);
    assert.deepEqual(got[1], { key: "nope" });
    assert.deepEqual(got[2].data, { a: 1 });
  });

  test("metadata ttlInSeconds: Metadata.ttlexpiretime header and bulk metadata.ttlExpireTime", T, async () => {
    await client.state.save("statestore", [{ key: "ttl", value: 1, metadata: { ttlInSeconds: "60" } }]);
    const wire = await raw(sidecar.url, "/v1.0/state/statestore/ttl");
    const exp = wire.headers.get("metadata.ttlexpiretime");
    assert.ok(exp, "a key with a TTL answers its expiry");
    const ms = Date.parse(exp) - Date.now();
    assert.ok(ms > 50_000 && ms <= 61_000, `expiry ${exp} is about 60 s away`);
    const [entry] = await client.state.getBulk("statestore", ["ttl"]);
    assert.equal(entry.metadata.ttlExpireTime, exp);
    // Save-level metadata goes on the query string (metadata.ttlInSeconds) and expires the key.
    await client.state.save("statestore", [{ key: "ttl2", value: 2 }], { metadata: { ttlInSeconds: "1" } });
    assert.equal(await client.state.get("statestore", "ttl2"), 2);
    assert.ok(await eventually(async () => (await client.state.get("statestore", "ttl2")) === "", 4_000));
  });

  test("transaction: upsert and delete together; the SDK's metadata:null is accepted", T, async () => {
    await client.state.save("statestore", [{ key: "tx-old", value: "old" }]);
    await client.state.transaction("statestore", [
      { operation: "upsert", request: { key: "tx-new", value: { made: true } } },
      { operation: "delete", request: { key: "tx-old" } },
    ]);
    assert.deepEqual(await client.state.get("statestore", "tx-new"), { made: true });
    assert.equal(await client.state.get("statestore", "tx-old"), "");
  });

  test("transaction: etag mismatch is 500 ERR_STATE_TRANSACTION and nothing is applied", T, async () => {
    const e = await rejected(() =>
      client.state.transaction("statestore", [
        { operation: "upsert", request: { key: "tx-a", value: 1 } },
        { operation: "upsert", request: { key: "tx-new", value: 2, etag: "stale" } },
      ]),
    );
    assert.equal(e.status, 500);
    assert.equal(e.body.errorCode, "ERR_STATE_TRANSACTION");
    assert.equal(await client.state.get("statestore", "tx-a"), "");
  });

  test("transaction: an unknown operation is 400 ERR_NOT_SUPPORTED_STATE_OPERATION", T, async () => {
    const e = await rejected(() =>
      client.state.transaction("statestore", [{ operation: "merge", request: { key: "k", value: 1 } }]),
    );
    assert.equal(e.status, 400);
    assert.equal(e.body.errorCode, "ERR_NOT_SUPPORTED_STATE_OPERATION");
  });

  test("query (alpha1): filter, sort, page limit and token; no match gives empty results", T, async () => {
    await client.state.save("statestore", [
      { key: "p1", value: { person: { org: "Dev", id: 3 } } },
      { key: "p2", value: { person: { org: "Ops", id: 1 } } },
      { key: "p3", value: { person: { org: "Dev", id: 2 } } },
      { key: "p4", value: { person: { org: "Dev", id: 1 } } },
    ]);
    const page1 = await client.state.query("statestore", {
      filter: { EQ: { "person.org": "Dev" } },
      sort: [{ key: "person.id", order: "ASC" }],
      page: { limit: 2 },
    });
    assert.deepEqual(
      page1.results.map((r) => r.key),
      ["p4", "p3"],
    );
    assert.deepEqual(page1.results[0].data, { person: { org: "Dev", id: 1 } });
    assert.match(page1.results[0].etag, UUID);
    assert.equal(typeof page1.token, "string");
    const page2 = await client.state.query("statestore", {
      filter: { EQ: { "person.org": "Dev" } },
      sort: [{ key: "person.id", order: "ASC" }],
      page: { limit: 2, token: page1.token },
    });
    assert.deepEqual(
      page2.results.map((r) => r.key),
      ["p1"],
    );
    const none = await client.state.query("statestore", { filter: { EQ: { "person.org": "HR" } } });
    assert.deepEqual(none, { results: [] });
  });

  test("unknown store is 400 ERR_STATE_STORE_NOT_FOUND; a key with || is 400 ERR_MALFORMED_REQUEST", T, async () => {
    const e = await rejected(() => client.state.get("nostore", "k"));
    assert.equal(e.status, 400);
    assert.equal(e.body.errorCode, "ERR_STATE_STORE_NOT_FOUND");
    assert.equal(e.body.message, "state store nostore is not found");
    const k = await rejected(() => client.state.get("statestore", "a||b"));
    assert.equal(k.status, 400);
    assert.equal(k.body.errorCode, "ERR_MALFORMED_REQUEST");
  });
});

describe("pub/sub (publisher side)", () => {
  test("publish: 204, the SDK answers {}", T, async () => {
    assert.deepEqual(await client.pubsub.publish("pubsub", "orders", { id: 1 }), {});
    assert.deepEqual(await client.pubsub.publish("pubsub", "a/b/c", "text"), {});
  });

  test("publish errors: unknown pubsub 404 ERR_PUBSUB_NOT_FOUND, forbidden topic 403", T, async () => {
    const unknown = await client.pubsub.publish("nopubsub", "t", { id: 1 });
    const u = sdkError(unknown.error);
    assert.equal(u.status, 404);
    assert.equal(u.body.errorCode, "ERR_PUBSUB_NOT_FOUND");
    const forbidden = await client.pubsub.publish("restricted", "other", { id: 1 });
    const f = sdkError(forbidden.error);
    assert.equal(f.status, 403);
    assert.equal(f.body.errorCode, "ERR_PUBSUB_FORBIDDEN");
    assert.deepEqual(await client.pubsub.publish("restricted", "allowed", { id: 1 }), {});
  });

  test("publishBulk (SDK sends entryID, v1.0-alpha1): every entry published", T, async () => {
    const res = await client.pubsub.publishBulk("pubsub", "bulk-nobody", [
      { id: 1 },
      "plain text",
      { entryID: "mine", event: { id: 3 }, contentType: "application/json" },
    ]);
    assert.deepEqual(res, { failedMessages: [] });
  });

  test("bulk publish on the stable /v1.0 path (1.17+): 204", T, async () => {
    const res = await http.execute("/publish/bulk/pubsub/bulk-nobody", {
      method: "POST",
      body: [{ entryId: "1", event: { a: 1 }, contentType: "application/json" }],
    });
    assert.equal(res, "");
  });

  test("bulk publish errors: a missing entryId and a mismatched event are 400 ERR_PUBSUB_EVENTS_SER", T, async () => {
    const missing = await rejected(() =>
      http.executeWithApiVersion("v1.0-alpha1", "/publish/bulk/pubsub/t", {
        method: "POST",
        body: [{ event: { a: 1 }, contentType: "application/json" }],
      }),
    );
    assert.equal(missing.status, 400);
    assert.equal(missing.body.errorCode, "ERR_PUBSUB_EVENTS_SER");
    assert.match(missing.body.message, /entryId is duplicated or not present for entry/);
    const mismatch = await rejected(() =>
      http.executeWithApiVersion("v1.0-alpha1", "/publish/bulk/pubsub/t", {
        method: "POST",
        body: [{ entryId: "1", event: { a: 1 }, contentType: "text/plain" }],
      }),
    );
    assert.equal(mismatch.status, 400);
    assert.equal(mismatch.body.errorCode, "ERR_PUBSUB_EVENTS_SER");
    assert.match(mismatch.body.message, /mismatch between contentType and event/);
  });

  test("publishBulk to a forbidden topic: 403, the SDK reports every message failed", T, async () => {
    const res = await client.pubsub.publishBulk("restricted", "other", [{ id: 1 }, { id: 2 }]);
    assert.equal(res.failedMessages.length, 2);
    const err = sdkError(res.failedMessages[0].error);
    assert.equal(err.status, 403);
    assert.equal(err.body.errorCode, "ERR_PUBSUB_FORBIDDEN");
  });
});

describe("bindings.localstorage (output)", () => {
  test("create decodes base64 data and answers the relative fileName; get returns the bytes", T, async () => {
    const created = await client.binding.send("files", "create", "aGk=", { fileName: "dir/b64.txt" });
    assert.deepEqual(created, { fileName: "dir/b64.txt" });
    assert.equal(await client.binding.send("files", "get", undefined, { fileName: "dir/b64.txt" }), "hi");
  });

  test("create with a JSON object stores its JSON text", T, async () => {
    await client.binding.send("files", "create", { x: 1 }, { fileName: "obj.json" });
    assert.deepEqual(await client.binding.send("files", "get", undefined, { fileName: "obj.json" }), { x: 1 });
  });

  test("create without fileName names the file with a UUID", T, async () => {
    const created = await client.binding.send("files", "create", { y: 2 });
    assert.match(created.fileName, UUID);
  });

  test("list answers absolute paths, fileName names a sub-directory", T, async () => {
    await client.binding.send("files", "create", "b25l", { fileName: "sub/one.txt" });
    await client.binding.send("files", "create", "dHdv", { fileName: "sub/two.txt" });
    const root = join(sidecar.dir, "files");
    const listed = await client.binding.send("files", "list", undefined, { fileName: "sub" });
    assert.deepEqual(listed, [join(root, "sub", "one.txt"), join(root, "sub", "two.txt")]);
    const all = await client.binding.send("files", "list");
    assert.ok(all.includes(join(root, "dir", "b64.txt")), JSON.stringify(all));
  });

  test("delete answers 204; get of a deleted file is 500 ERR_INVOKE_OUTPUT_BINDING", T, async () => {
    await client.binding.send("files", "create", "Ynll", { fileName: "gone.txt" });
    assert.equal(await client.binding.send("files", "delete", undefined, { fileName: "gone.txt" }), "");
    const e = await rejected(() => client.binding.send("files", "get", undefined, { fileName: "gone.txt" }));
    assert.equal(e.status, 500);
    assert.equal(e.body.errorCode, "ERR_INVOKE_OUTPUT_BINDING");
    assert.match(e.body.message, /^error invoking output binding files: /);
  });

  test("an unsupported operation and an unknown binding are 500 ERR_INVOKE_OUTPUT_BINDING", T, async () => {
    const op = await rejected(() => client.binding.send("files", "append", "eA=="));
    assert.equal(op.status, 500);
    assert.equal(op.body.errorCode, "ERR_INVOKE_OUTPUT_BINDING");
    assert.match(op.body.message, /does not support operation append/);
    const unknown = await rejected(() => client.binding.send("nobinding", "create", "eA=="));
    assert.equal(unknown.status, 500);
    assert.equal(unknown.body.errorCode, "ERR_INVOKE_OUTPUT_BINDING");
  });
});

describe("secrets", () => {
  test("get answers {key: value}; nested keys are flattened with the separator", T, async () => {
    assert.deepEqual(await client.secret.get("secretstore", "db-password"), { "db-password": "s3cret" });
    assert.deepEqual(await client.secret.get("secretstore", "api:user"), { "api:user": "ann" });
  });

  test("getBulk answers {name: {key: value}} for every secret", T, async () => {
    assert.deepEqual(await client.secret.getBulk("secretstore"), {
      "db-password": { "db-password": "s3cret" },
      "api:user": { "api:user": "ann" },
      "api:key": { "api:key": "k-123" },
    });
  });

  test("unknown store is 401 ERR_SECRET_STORE_NOT_FOUND; unknown key is 500 ERR_SECRET_GET", T, async () => {
    const store = await rejected(() => client.secret.get("nostore", "k"));
    assert.equal(store.status, 401);
    assert.equal(store.body.errorCode, "ERR_SECRET_STORE_NOT_FOUND");
    const key = await rejected(() => client.secret.get("secretstore", "nope"));
    assert.equal(key.status, 500);
    assert.equal(key.body.errorCode, "ERR_SECRET_GET");
  });
});

describe("distributed lock (alpha1)", () => {
  test("lock, contend, unlock: success booleans and unlock statuses 0/1/2", T, async () => {
    assert.deepEqual(await client.lock.lock("lockstore", "res-1", "owner-a", 30), { success: true });
    assert.deepEqual(await client.lock.lock("lockstore", "res-1", "owner-b", 30), { success: false });
    assert.deepEqual(await client.lock.unlock("lockstore", "res-1", "owner-b"), { status: 2 });
    assert.deepEqual(await client.lock.unlock("lockstore", "res-1", "owner-a"), { status: 0 });
    assert.deepEqual(await client.lock.unlock("lockstore", "res-1", "owner-a"), { status: 1 });
    const wire = await raw(sidecar.url, "/v1.0-alpha1/lock/lockstore", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ resourceId: "res-2", lockOwner: "o", expiryInSeconds: 5 }),
    });
    assert.equal(wire.text, '{"success":true}');
  });

  test("expiryInSeconds 0 is 400 ERR_MALFORMED_REQUEST; unknown store 400 ERR_LOCK_STORE_NOT_FOUND", T, async () => {
    const zero = await rejected(() => client.lock.lock("lockstore", "res-3", "o", 0));
    assert.equal(zero.status, 400);
    assert.equal(zero.body.errorCode, "ERR_MALFORMED_REQUEST");
    const store = await rejected(() => client.lock.lock("nolocks", "res-3", "o", 5));
    assert.equal(store.status, 400);
    assert.equal(store.body.errorCode, "ERR_LOCK_STORE_NOT_FOUND");
  });
});

describe("configuration (the SDK has no HTTP methods: raw calls through its transport)", () => {
  test("the SDK's HTTP configuration client refuses; GET ?key= answers {key: {value, version}}", T, async () => {
    await assert.rejects(() => client.configuration.get("configstore", ["greeting"]), /not supported|HTTP/i);
    const got = await http.execute("/configuration/configstore?key=greeting&key=missing");
    assert.deepEqual(Object.keys(got), ["greeting"]);
    assert.equal(got.greeting.value, "hello");
    assert.equal(typeof got.greeting.version, "string");
    const alpha = await http.executeWithApiVersion("v1.0-alpha1", "/configuration/configstore?key=color", {
      method: "GET",
    });
    assert.equal(alpha.color.value, "blue");
    assert.equal(await http.execute("/configuration/configstore?key=missing"), "");
  });

  test("subscribe answers {id}, unsubscribe {ok:true}; unknown store 400", T, async () => {
    const { id } = await http.execute("/configuration/configstore/subscribe?key=greeting");
    assert.match(id, /\S/);
    assert.deepEqual(await http.execute(`/configuration/configstore/${id}/unsubscribe`), { ok: true });
    const e = await rejected(() => http.execute("/configuration/nostore?key=a"));
    assert.equal(e.status, 400);
    assert.equal(e.body.errorCode, "ERR_CONFIGURATION_STORE_NOT_FOUND");
  });
});

describe("metadata and health", () => {
  test("metadata.get: id, components, extended.daprRuntimeVersion", T, async () => {
    const md = await client.metadata.get();
    assert.equal(md.id, "jssdk");
    const byName = Object.fromEntries(md.components.map((c) => [c.name, c]));
    assert.equal(byName.statestore.type, "state.in-memory");
    assert.equal(byName.statestore.version, "v1");
    assert.equal(byName.pubsub.type, "pubsub.in-memory");
    assert.equal(byName.files.type, "bindings.localstorage");
    assert.equal(byName.secretstore.type, "secretstores.local.file");
    assert.equal(typeof md.extended.daprRuntimeVersion, "string");
  });

  test("metadata.get (1.18 shape): the embedded placement is connected, no app hosts actors", T, async () => {
    const md = await client.metadata.get();
    assert.deepEqual(md.actorRuntime, {
      runtimeStatus: "RUNNING",
      hostReady: true,
      placement: "placement: connected",
    });
  });

  test("metadata.set: PUT text/plain becomes extended[key]", T, async () => {
    assert.equal(await client.metadata.set("team", "conformance"), true);
    const md = await client.metadata.get();
    assert.equal(md.extended.team, "conformance");
    assert.equal(typeof md.extended.daprRuntimeVersion, "string");
  });

  test("health: the SDK's isHealthy is true; GET /healthz and /healthz/outbound are 204", T, async () => {
    assert.equal(await client.health.isHealthy(), true);
    assert.equal(await http.execute("/healthz"), "");
    assert.equal((await raw(sidecar.url, "/v1.0/healthz")).status, 204);
    assert.equal((await raw(sidecar.url, "/v1.0/healthz/outbound")).status, 204);
  });

  test("an unrouted path is service invocation: 404 ERR_DIRECT_INVOKE", T, async () => {
    const e = await rejected(() => http.execute("/no-such-api"));
    assert.equal(e.status, 404);
    assert.equal(e.body.errorCode, "ERR_DIRECT_INVOKE");
  });
});

describe("actors (no app hosts them; no actor state store)", () => {
  test("the SDK's HTTP actor client gets daprd's answers for a type hosted nowhere", T, async () => {
    const actors = new ActorClientHTTP.default(http);
    const id = new ActorId("counter-1");
    const invoke = await rejected(() => actors.invoke("Counter", id, "add", { by: 1 }));
    assert.equal(invoke.status, 500);
    assert.deepEqual(invoke.body, {
      errorCode: "ERR_ACTOR_INVOKE_METHOD",
      message: "error invoke actor method: failed to lookup actor: did not find address for actor 'Counter||counter-1'",
    });
    for (const call of [
      () => actors.stateGet("Counter", id, "count"),
      () => actors.stateTransaction("Counter", id, [{ operation: "upsert", request: { key: "count", value: 1 } }]),
      () => actors.registerActorReminder("Counter", id, "tick", { period: "10s", data: 1 }),
      () => actors.reminderGet("Counter", id, "tick"),
      () => actors.unregisterActorReminder("Counter", id, "tick"),
      () => actors.registerActorTimer("Counter", id, "t", { period: "10s", callback: "add", data: 1 }),
    ]) {
      const e = await rejected(call);
      assert.equal(e.status, 500);
      assert.equal(e.body.errorCode, "ERR_ACTOR_RUNTIME_NOT_FOUND");
      assert.match(e.body.message, /actorStateStore/);
    }
    // Deleting a timer is always 204.
    await actors.unregisterActorTimer("Counter", id, "t");
  });
});

describe("jobs (the SDK has no jobs client: raw calls through its transport)", () => {
  test("schedule 204, get returns the job with the Any-wrapped data and the default failure policy", T, async () => {
    const body = { schedule: "@every 1h", data: { a: 1 } };
    assert.equal(await http.execute("/jobs/nightly", { method: "POST", body }), "");
    const job = await http.execute("/jobs/nightly");
    assert.equal(job.name, "nightly");
    assert.equal(job.schedule, "@every 1h");
    assert.deepEqual(job.data, { "@type": "type.googleapis.com/google.protobuf.Value", value: { a: 1 } });
    assert.deepEqual(job.failurePolicy, { constant: { interval: "1s", maxRetries: 3 } });
  });

  test("an existing job without overwrite is 409; with overwrite it is replaced", T, async () => {
    await http.execute("/jobs/twice", { method: "POST", body: { schedule: "@daily", data: 1 } });
    const e = await rejected(() => http.execute("/jobs/twice", { method: "POST", body: { schedule: "@hourly", data: 2 } }));
    assert.equal(e.status, 409);
    assert.equal(e.body.errorCode, "DAPR_SCHEDULER_SCHEDULE_JOB");
    await http.execute("/jobs/twice", { method: "POST", body: { schedule: "@hourly", data: 2, overwrite: true } });
    assert.equal((await http.execute("/jobs/twice")).schedule, "@hourly");
  });

  test("delete 204 (also when missing); get of a missing job is 500 DAPR_SCHEDULER_GET_JOB", T, async () => {
    await http.executeWithApiVersion("v1.0-alpha1", "/jobs/short", {
      method: "POST",
      body: { due_time: "1h", data: "x" },
    });
    assert.equal((await http.executeWithApiVersion("v1.0-alpha1", "/jobs/short", { method: "GET" })).dueTime, "1h");
    assert.equal(await http.execute("/jobs/short", { method: "DELETE" }), "");
    assert.equal(await http.execute("/jobs/short", { method: "DELETE" }), "");
    const e = await rejected(() => http.execute("/jobs/short"));
    assert.equal(e.status, 500);
    assert.equal(e.body.errorCode, "DAPR_SCHEDULER_GET_JOB");
  });

  test("no schedule nor dueTime is 400 DAPR_SCHEDULER_SCHEDULE_EMPTY; name in the body 400", T, async () => {
    const empty = await rejected(() => http.execute("/jobs/empty", { method: "POST", body: { data: 1 } }));
    assert.equal(empty.status, 400);
    assert.equal(empty.body.errorCode, "DAPR_SCHEDULER_SCHEDULE_EMPTY");
    const named = await rejected(() =>
      http.execute("/jobs/named", { method: "POST", body: { name: "named", schedule: "@daily" } }),
    );
    assert.equal(named.status, 400);
    assert.equal(named.body.errorCode, "DAPR_SCHEDULER_JOB_NAME");
  });
});

describe("conversation alpha2 (no SDK method: raw calls through its transport)", () => {
  const converse = (name, body) =>
    http.executeWithApiVersion("v1.0-alpha2", `/conversation/${name}/converse`, { method: "POST", body });

  test("conversation.echo echoes the text with usage as strings; contextId echoed", T, async () => {
    const res = await converse("echo", {
      contextId: "c1",
      inputs: [{ messages: [{ ofUser: { content: [{ text: "hello wasi world" }] } }] }],
    });
    assert.deepEqual(res, {
      contextId: "c1",
      outputs: [
        {
          choices: [{ finishReason: "stop", message: { content: "hello wasi world" } }],
          usage: { completionTokens: "3", promptTokens: "3", totalTokens: "6" },
        },
      ],
    });
  });

  test("tools become tool calls with sorted argument names; finishReason tool_calls", T, async () => {
    const res = await converse("echo", {
      inputs: [{ messages: [{ ofUser: { content: [{ text: "sum" }] } }] }],
      tools: [{ function: { name: "add", parameters: { type: "object", properties: { b: {}, a: {} } } } }],
    });
    const [choice] = res.outputs[0].choices;
    assert.equal(choice.finishReason, "tool_calls");
    assert.deepEqual(choice.message.toolCalls, [{ id: "0", function: { name: "add", arguments: "a,b" } }]);
  });

  test("unknown component 400 ERR_CONVERSATION_NOT_FOUND; no inputs 400 ERR_CONVERSATION_MISSING_INPUTS", T, async () => {
    const unknown = await rejected(() => converse("nollm", { inputs: [{ messages: [{ ofUser: { content: [{ text: "x" }] } }] }] }));
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.errorCode, "ERR_CONVERSATION_NOT_FOUND");
    const none = await rejected(() => converse("echo", {}));
    assert.equal(none.status, 400);
    assert.equal(none.body.errorCode, "ERR_CONVERSATION_MISSING_INPUTS");
  });
});
