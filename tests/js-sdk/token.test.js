// DAPR_API_TOKEN on both sides: the sidecar requires it, the SDK (client and server) reads
// it from the environment; APP_API_TOKEN on the sidecar's calls to the app. Checked
// against the wire reference's token rules.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import dapr from "@dapr/dapr";
import { eventually, freePort, raw, rejected, sdkLogger, startSidecar } from "./harness.js";

const { CommunicationProtocolEnum, DaprClient, DaprServer, HttpMethod } = dapr;
const T = { timeout: 10_000 };
const TOKEN = "jssdk-token-0123";
const APP_TOKEN = "jssdk-app-token-4567";
const APP_ID = "jssdk-token";

let sidecar;
let server;
let client;
let wrong;
const delivered = [];
const invoked = [];

before(async () => {
  const appPort = await freePort();
  sidecar = await startSidecar({ appId: APP_ID, appPort, apiToken: TOKEN, appApiToken: APP_TOKEN });
  // The SDK's documented source of the token: DAPR_API_TOKEN in the environment.
  process.env.DAPR_API_TOKEN = TOKEN;
  const clientOptions = { daprHost: "127.0.0.1", daprPort: String(sidecar.port), logger: sdkLogger() };
  server = new DaprServer({
    serverHost: "127.0.0.1",
    serverPort: String(appPort),
    communicationProtocol: CommunicationProtocolEnum.HTTP,
    clientOptions,
    logger: sdkLogger(),
  });
  await server.pubsub.subscribe("pubsub", "secured", async (data, headers) => {
    delivered.push({ data, headers });
  });
  await server.invoker.listen(
    "whoami",
    async (req) => {
      invoked.push(req);
      return { ok: true };
    },
    { method: HttpMethod.POST },
  );
  await server.start();
  client = new DaprClient({ ...clientOptions, communicationProtocol: CommunicationProtocolEnum.HTTP });
  wrong = new DaprClient({
    ...clientOptions,
    communicationProtocol: CommunicationProtocolEnum.HTTP,
    daprApiToken: "not-the-token",
  });
  // The SDK's readiness probe is GET /v1.0/metadata, which the token guards: with a wrong
  // token it would poll 60 × 500 ms before each first call. Skip that probe.
  wrong.daprClient.setIsInitialized(true);
  const ready = await eventually(async () => (await raw(sidecar.url, "/v1.0/healthz")).status === 204, 10_000);
  assert.ok(ready, `sidecar never became ready:\n${sidecar.logs()}`);
});

after(async () => {
  delete process.env.DAPR_API_TOKEN;
  await sidecar?.stop();
  await server?.stop();
  await client?.stop();
});

test("with the token from DAPR_API_TOKEN, state save and get work", T, async () => {
  assert.equal(client.options.daprApiToken, TOKEN);
  assert.deepEqual(await client.state.save("statestore", [{ key: "k", value: { v: 1 } }]), {});
  assert.deepEqual(await client.state.get("statestore", "k"), { v: 1 });
});

test("a wrong token is 401 text/plain 'invalid api token' (not JSON)", T, async () => {
  const e = await rejected(() => wrong.state.get("statestore", "k"));
  assert.equal(e.status, 401);
  assert.equal(e.body, "invalid api token");
  const wire = await raw(sidecar.url, "/v1.0/state/statestore/k", { headers: { "dapr-api-token": "nope" } });
  assert.equal(wire.status, 401);
  assert.match(wire.headers.get("content-type"), /^text\/plain/);
  assert.equal(wire.text, "invalid api token");
});

test("no token: every API is 401 except /healthz and /healthz/outbound", T, async () => {
  assert.equal((await raw(sidecar.url, "/v1.0/metadata")).status, 401);
  assert.equal((await raw(sidecar.url, "/v1.0/publish/pubsub/secured", { method: "POST", body: "x" })).status, 401);
  assert.equal((await raw(sidecar.url, "/v1.0/healthz")).status, 204);
  assert.equal((await raw(sidecar.url, "/v1.0/healthz/outbound")).status, 204);
});

test("the SDK's isHealthy asks /v1.0/metadata, so a wrong token reads as unhealthy", T, async () => {
  assert.equal(await client.health.isHealthy(), true);
  assert.equal(await wrong.health.isHealthy(), false);
});

test("publish with the token reaches the DaprServer subscriber, with APP_API_TOKEN", T, async () => {
  assert.deepEqual(await client.pubsub.publish("pubsub", "secured", { s: 1 }), {});
  assert.ok(await eventually(() => delivered.length >= 1));
  assert.deepEqual(delivered[0].data, { s: 1 });
  assert.equal(delivered[0].headers["dapr-api-token"], APP_TOKEN);
  const bad = await wrong.pubsub.publish("pubsub", "secured", { s: 2 });
  assert.equal(JSON.parse(bad.error.message).status, 401);
});

test("invocation with the token: the app gets APP_API_TOKEN, never the caller's token", T, async () => {
  assert.deepEqual(await client.invoker.invoke(APP_ID, "whoami", HttpMethod.POST, { a: 1 }), { ok: true });
  assert.equal(invoked.length, 1);
  assert.equal(invoked[0].headers["dapr-api-token"], APP_TOKEN);
  assert.equal(invoked[0].headers["dapr-caller-app-id"], APP_ID);
});
