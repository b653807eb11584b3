// DaprServer (HTTP) as the app behind `wasi-dapr sidecar`: subscriptions (plain, routing
// rules, RETRY/DROP, rawPayload, bulk), invoked methods, an input binding and a job
// handler, each delivery checked against the wire reference (`dapr-http-api.md`).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import dapr from "@dapr/dapr";
import clientUtil from "@dapr/dapr/utils/Client.util.js";
import {
  component,
  eventually,
  freePort,
  raw,
  rejected,
  sdkLogger,
  standardResources,
  startSidecar,
} from "./harness.js";

const { CommunicationProtocolEnum, DaprClient, DaprPubSubStatusEnum, DaprServer, HttpMethod } = dapr;
const T = { timeout: 15_000 };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const APP_ID = "jssdk-app";

let sidecar;
let server;
let client;
let appPort;
const seen = {
  orders: [],
  text: [],
  special: [],
  plain: [],
  flaky: [],
  dropped: [],
  dead: [],
  raw: [],
  rawStr: [],
  rawStrDead: [],
  bulk: [],
  bulkEnvelopes: [],
  bulkFed: [],
  invoked: [],
  ticks: [],
  jobs: [],
  slow: 0,
};
/** Holds the "slow" topic's handler until released, so its delivery queue fills up. */
let releaseSlow;
const slowGate = new Promise((ok) => (releaseSlow = ok));

before(async () => {
  appPort = await freePort();
  sidecar = await startSidecar({
    appId: APP_ID,
    appPort,
    resources: (dir) => ({
      ...standardResources(dir),
      "tick.yaml": component("tick", "bindings.cron", { schedule: "@every 250ms" }),
    }),
  });
  const clientOptions = { daprHost: "127.0.0.1", daprPort: String(sidecar.port), logger: sdkLogger() };
  server = new DaprServer({
    serverHost: "127.0.0.1",
    serverPort: String(appPort),
    communicationProtocol: CommunicationProtocolEnum.HTTP,
    clientOptions,
    logger: sdkLogger(),
  });
  const app = server.daprServer.getServer();
  // Sees the bulk envelope as daprd sends it, before the SDK's handler takes it apart.
  app.use((req, _res, next) => {
    if (req.method === "POST" && req.path.startsWith("/pubsub--bulk-")) {
      seen.bulkEnvelopes.push({ path: req.path, contentType: req.headers["content-type"], headers: req.headers, body: req.body });
    }
    next();
  });
  const record = (list) => async (data, headers) => {
    list.push({ data, headers });
  };
  await server.pubsub.subscribe("pubsub", "orders", record(seen.orders));
  await server.pubsub.subscribe("pubsub", "text", record(seen.text));
  await server.pubsub.subscribeWithOptions("pubsub", "routed", {
    route: { rules: [{ match: 'event.type == "special"', path: "special" }], default: "plain" },
  });
  server.pubsub.subscribeToRoute("pubsub", "routed", "special", record(seen.special));
  server.pubsub.subscribeToRoute("pubsub", "routed", "plain", record(seen.plain));
  await server.pubsub.subscribe("pubsub", "flaky", async (data) => {
    seen.flaky.push(data);
    return seen.flaky.length === 1 ? DaprPubSubStatusEnum.RETRY : DaprPubSubStatusEnum.SUCCESS;
  });
  await server.pubsub.subscribeWithOptions("pubsub", "dropme", {
    deadLetterTopic: "dead",
    callback: async (data) => {
      seen.dropped.push(data);
      return DaprPubSubStatusEnum.DROP;
    },
  });
  await server.pubsub.subscribe("pubsub", "dead", record(seen.dead));
  // The SDK JSON-encodes subscription metadata values: a boolean gives "true".
  await server.pubsub.subscribeWithOptions("pubsub", "raw", {
    metadata: { rawPayload: true },
    callback: record(seen.raw),
  });
  // ...and a string gives "\"true\"", which is no boolean.
  await server.pubsub.subscribeWithOptions("pubsub", "raw-str", {
    metadata: { rawPayload: "true" },
    deadLetterTopic: "raw-str-dead",
    callback: record(seen.rawStr),
  });
  await server.pubsub.subscribe("pubsub", "raw-str-dead", record(seen.rawStrDead));
  await server.pubsub.subscribeBulk("pubsub", "bulk-orders", record(seen.bulk), {
    maxMessagesCount: 3,
    maxAwaitDurationMs: 500,
  });
  await server.pubsub.subscribe("pubsub", "bulk-fed", record(seen.bulkFed));
  await server.pubsub.subscribe("pubsub", "slow", async () => {
    seen.slow += 1;
    await slowGate;
  });
  await server.invoker.listen(
    "hello",
    async (req) => {
      seen.invoked.push(req);
      return { greeting: `hello ${JSON.parse(req.body).name}` };
    },
    { method: HttpMethod.POST },
  );
  await server.invoker.listen("echo-get", async (req) => {
    seen.invoked.push(req);
    return { query: req.query };
  });
  await server.invoker.listen(
    "note",
    async (req) => ({ body: req.body, contentType: req.metadata.contentType, custom: req.headers["x-custom"] }),
    { method: HttpMethod.PUT },
  );
  await server.invoker.listen("note", async (req) => ({ deleted: req.query }), { method: HttpMethod.DELETE });
  await server.invoker.listen(
    "bin",
    async (req) => ({ bytes: JSON.parse(req.body).data, contentType: req.metadata.contentType }),
    { method: HttpMethod.POST },
  );
  // An app answer that is not 2xx, with its own header (the SDK's listen always answers 200).
  app.get("/teapot", (_req, res) => res.status(418).set("x-app", "kettle").json({ short: "stout" }));
  await server.binding.receive("tick", async (body) => {
    seen.ticks.push(body);
  });
  // The SDK has no jobs handler; daprd triggers `POST /job/{name}` on the app.
  app.post("/job/:name", (req, res) => {
    seen.jobs.push({ name: req.params.name, contentType: req.headers["content-type"], body: req.body });
    res.status(200).end();
  });
  await server.start();
  client = new DaprClient({
    ...clientOptions,
    communicationProtocol: CommunicationProtocolEnum.HTTP,
  });
  // Ready once the sidecar has read the app's GET /dapr/subscribe.
  const ready = await eventually(async () => (await raw(sidecar.url, "/v1.0/healthz")).status === 204, 10_000);
  assert.ok(ready, `sidecar never became ready:\n${sidecar.logs()}`);
});

after(async () => {
  releaseSlow();
  await sidecar?.stop();
  await server?.stop();
  await client?.stop();
});

describe("DaprServer subscriptions", () => {
  test("the sidecar lists the SDK's programmatic subscriptions in metadata", T, async () => {
    const md = await client.metadata.get();
    const byTopic = Object.fromEntries(md.subscriptions.map((s) => [s.topic, s]));
    for (const topic of ["orders", "routed", "flaky", "dropme", "dead", "raw", "bulk-orders"]) {
      assert.ok(byTopic[topic], `subscription ${topic} missing: ${JSON.stringify(md.subscriptions)}`);
      assert.equal(byTopic[topic].pubsubname, "pubsub");
    }
    assert.equal(byTopic.dropme.deadLetterTopic, "dead");
    assert.deepEqual(byTopic.raw.metadata, { rawPayload: "true" });
    assert.deepEqual(byTopic["raw-str"].metadata, { rawPayload: '"true"' });
  });

  test("metadata subscriptions (1.18 shape): type PROGRAMMATIC, deadLetterTopic always present", T, async () => {
    const md = await client.metadata.get();
    const orders = md.subscriptions.find((s) => s.topic === "orders");
    assert.equal(orders.type, "PROGRAMMATIC");
    assert.equal(orders.deadLetterTopic, "");
  });

  test("publish JSON: the handler gets the data; delivery is a CloudEvent with pubsubName", T, async () => {
    await client.pubsub.publish("pubsub", "orders", { orderId: 7 });
    assert.ok(await eventually(() => seen.orders.length >= 1));
    const [{ data, headers }] = seen.orders;
    assert.deepEqual(data, { orderId: 7 });
    assert.equal(headers["content-type"], "application/cloudevents+json");
    assert.equal(headers.pubsubname, "pubsub");
    assert.match(headers.traceparent ?? "", /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
  });

  test("publish a string: text/plain, the handler gets the string", T, async () => {
    await client.pubsub.publish("pubsub", "text", "just words");
    assert.ok(await eventually(() => seen.text.length >= 1));
    assert.equal(seen.text[0].data, "just words");
  });

  test("routing rules: metadata.cloudevent.type picks the rule's path, else the default", T, async () => {
    await client.pubsub.publish("pubsub", "routed", { n: 1 }, { metadata: { "cloudevent.type": "special" } });
    await client.pubsub.publish("pubsub", "routed", { n: 2 });
    assert.ok(await eventually(() => seen.special.length >= 1 && seen.plain.length >= 1));
    assert.deepEqual(
      seen.special.map((s) => s.data),
      [{ n: 1 }],
    );
    assert.deepEqual(
      seen.plain.map((s) => s.data),
      [{ n: 2 }],
    );
  });

  test("a handler answering RETRY gets the message again", T, async () => {
    await client.pubsub.publish("pubsub", "flaky", { try: 1 });
    assert.ok(await eventually(() => seen.flaky.length >= 2, 8_000), `deliveries: ${seen.flaky.length}`);
    assert.deepEqual(seen.flaky[1], { try: 1 });
  });

  test("a handler answering DROP sends the message to the dead-letter topic", T, async () => {
    await client.pubsub.publish("pubsub", "dropme", { bad: true });
    assert.ok(await eventually(() => seen.dead.length >= 1, 8_000));
    assert.equal(seen.dropped.length, 1, "DROP is not retried");
    assert.deepEqual(seen.dead[0].data, { bad: true });
  });

  test("rawPayload: published as is, delivered as data_base64 that the SDK decodes", T, async () => {
    await client.pubsub.publish("pubsub", "raw", { plain: "bytes" }, { metadata: { rawPayload: "true" } });
    assert.ok(await eventually(() => seen.raw.length >= 1));
    assert.deepEqual(seen.raw[0].data, { plain: "bytes" });
  });

  test("a rawPayload that is no boolean: daprd never delivers, the message goes to the dead-letter topic", T, async () => {
    await client.pubsub.publish("pubsub", "raw-str", { n: 1 });
    assert.ok(await eventually(() => seen.rawStrDead.length >= 1, 5_000), "nothing dead-lettered");
    assert.deepEqual(seen.rawStrDead[0].data, { n: 1 });
    assert.equal(seen.rawStr.length, 0, "delivered despite a rawPayload that is no boolean");
  });

  test("publishBulk: every entry reaches the subscriber", T, async () => {
    const res = await client.pubsub.publishBulk("pubsub", "bulk-fed", [{ i: 1 }, { i: 2 }, "three"]);
    assert.deepEqual(res, { failedMessages: [] });
    assert.ok(await eventually(() => seen.bulkFed.length >= 3));
    const got = seen.bulkFed.map((s) => JSON.stringify(s.data)).sort();
    assert.deepEqual(got, ['"three"', '{"i":1}', '{"i":2}']);
  });

  test("bulk publish partial failure: 500 failedEntries by entryId, which the SDK reads as entryID", T, async () => {
    // 4 deliveries held by the app + a 1024-message queue: the rest of 1100 cannot be queued.
    const entries = Array.from({ length: 1100 }, (_, i) => ({
      entryId: `e${i}`,
      event: { i },
      contentType: "application/json",
    }));
    const e = await rejected(() =>
      client.daprClient.executeWithApiVersion("v1.0-alpha1", "/publish/bulk/pubsub/slow", {
        method: "POST",
        body: entries,
      }),
    );
    releaseSlow();
    assert.equal(e.status, 500);
    assert.equal(e.body.errorCode, "ERR_PUBSUB_PUBLISH_MESSAGE");
    assert.ok(e.body.failedEntries.length >= 1100 - 1024 - 4, `${e.body.failedEntries.length} failed`);
    assert.ok(e.body.failedEntries.length < 1100);
    for (const f of e.body.failedEntries) {
      assert.match(f.entryId, /^e\d+$/);
      assert.equal(f.entryID, undefined);
      assert.equal(typeof f.error, "string");
    }
    // The SDK matches failedEntries[].entryID against its entries (Client.util
    // getBulkPublishResponse), so the same answer comes out as "nothing failed".
    const sdkEntries = entries.map(({ entryId, ...rest }) => ({ entryID: entryId, ...rest }));
    const sdk = clientUtil.getBulkPublishResponse({ entries: sdkEntries, response: e.body });
    assert.deepEqual(sdk.failedMessages, []);
  });

  test("subscribeBulk: the app's subscription carries bulkSubscribe", T, async () => {
    const subs = await (await fetch(`http://127.0.0.1:${appPort}/dapr/subscribe`)).json();
    const bulk = subs.find((s) => s.topic === "bulk-orders");
    assert.deepEqual(bulk.bulkSubscribe, { enabled: true, maxMessagesCount: 3, maxAwaitDurationMs: 500 });
  });

  test("subscribeBulk: messages arrive as one bulk envelope, each entry handed to the handler", T, async () => {
    for (const i of [1, 2, 3]) await client.pubsub.publish("pubsub", "bulk-orders", { i });
    assert.ok(await eventually(() => seen.bulk.length >= 3, 8_000), `bulk handler calls: ${seen.bulk.length}`);
    assert.deepEqual(
      seen.bulk.map((s) => s.data.i).sort(),
      [1, 2, 3],
    );
    const env = seen.bulkEnvelopes.find((e) => Array.isArray(e.body?.entries));
    assert.ok(env, `no bulk envelope seen: ${JSON.stringify(seen.bulkEnvelopes.map((e) => e.body))}`);
    assert.equal(env.contentType, "application/json");
    assert.equal(env.body.type, "com.dapr.event.sent.bulk");
    assert.equal(env.body.topic, "bulk-orders");
    assert.equal(env.body.pubsubname, "pubsub");
    assert.match(env.body.id, UUID);
    const [entry] = env.body.entries;
    assert.match(entry.entryId, UUID);
    assert.equal(entry.contentType, "application/cloudevents+json");
    assert.equal(entry.event.topic, "bulk-orders");
    assert.ok("metadata" in entry, "entry metadata has no omitempty");
  });
});

describe("DaprServer invoker", () => {
  test("client.invoker.invoke POST reaches server.invoker.listen; the answer comes back", T, async () => {
    const res = await client.invoker.invoke(APP_ID, "hello", HttpMethod.POST, { name: "ann" });
    assert.deepEqual(res, { greeting: "hello ann" });
    const req = seen.invoked.find((r) => r.body.includes("ann"));
    assert.equal(req.metadata.contentType, "application/json");
    assert.equal(req.headers["dapr-caller-app-id"], APP_ID);
    assert.equal(req.headers["dapr-callee-app-id"], APP_ID);
    assert.equal(req.headers["dapr-app-id"], undefined);
  });

  test("GET with a query string: path and query forwarded unchanged", T, async () => {
    const res = await client.invoker.invoke(APP_ID, "echo-get?x=1&y=a%20b", HttpMethod.GET);
    assert.deepEqual(res, { query: "/echo-get?x=1&y=a%20b" });
  });

  test("PUT with a text body and a caller header, then DELETE: verb, body, headers forwarded", T, async () => {
    const put = await client.invoker.invoke(APP_ID, "note", HttpMethod.PUT, "plain words", {
      headers: { "x-custom": "c1" },
    });
    assert.deepEqual(put, { body: '"plain words"', contentType: "text/plain", custom: "c1" });
    assert.deepEqual(await client.invoker.invoke(APP_ID, "note?id=3", HttpMethod.DELETE), { deleted: "/note?id=3" });
  });

  test("a binary body reaches the app byte for byte as application/octet-stream", T, async () => {
    const res = await client.invoker.invoke(APP_ID, "bin", HttpMethod.POST, Buffer.from([0, 1, 2, 255, 254]));
    assert.deepEqual(res, { bytes: [0, 1, 2, 255, 254], contentType: "application/octet-stream" });
  });

  test("the app's 418 with its header and body reaches the caller unchanged", T, async () => {
    const e = await rejected(() => client.invoker.invoke(APP_ID, "teapot", HttpMethod.GET));
    assert.equal(e.status, 418);
    assert.deepEqual(e.body, { short: "stout" });
    const wire = await raw(sidecar.url, `/v1.0/invoke/${APP_ID}/method/teapot`);
    assert.equal(wire.status, 418);
    assert.equal(wire.headers.get("x-app"), "kettle");
    assert.match(wire.headers.get("content-type"), /^application\/json/);
  });

  test("the app's own 404 comes back unchanged; an unknown app id is 500 ERR_DIRECT_INVOKE", T, async () => {
    const missing = await rejected(() => client.invoker.invoke(APP_ID, "no-such-method", HttpMethod.GET));
    assert.equal(missing.status, 404);
    const unknown = await rejected(() => client.invoker.invoke("other-app", "hello", HttpMethod.POST, {}));
    assert.equal(unknown.status, 500);
    assert.equal(unknown.body.errorCode, "ERR_DIRECT_INVOKE");
  });
});

describe("DaprServer input binding", () => {
  test("bindings.cron posts to server.binding.receive on its schedule", T, async () => {
    const start = seen.ticks.length;
    assert.ok(await eventually(() => seen.ticks.length >= start + 2, 5_000), `ticks: ${seen.ticks.length}`);
  });
});

describe("jobs trigger (the SDK has no job handler: an express route on the SDK's server)", () => {
  test("a job with dueTime is triggered as POST /job/{name} with its data as JSON", T, async () => {
    await client.daprClient.execute("/jobs/soon", { method: "POST", body: { dueTime: "1s", data: { n: 1 } } });
    assert.ok(await eventually(() => seen.jobs.some((j) => j.name === "soon"), 8_000), JSON.stringify(seen.jobs));
    const job = seen.jobs.find((j) => j.name === "soon");
    assert.match(job.contentType, /^application\/json/);
    assert.deepEqual(job.body, { n: 1 });
  });
});
