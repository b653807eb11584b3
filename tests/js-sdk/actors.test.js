// Actors on both sides of `wasi-dapr sidecar`: the SDK's DaprServer hosts an AbstractActor
// (state manager, reminders, timers, idle deactivation) and the SDK's actor client calls it,
// each answer and each call on the app checked against the wire reference (`dapr-http-api.md`).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import dapr from "@dapr/dapr";
import ActorClientHTTP from "@dapr/dapr/actors/client/ActorClient/ActorClientHTTP.js";
// The SDK's own duration type for reminders and timers (a dependency of @dapr/dapr).
import { Temporal } from "@js-temporal/polyfill";
import { component, eventually, freePort, raw, rejected, sdkLogger, startSidecar } from "./harness.js";

const { AbstractActor, ActorId, ActorProxyBuilder, CommunicationProtocolEnum, DaprClient, DaprServer } = dapr;
const T = { timeout: 15_000 };
const APP_ID = "jssdk-actors";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** A redis-server on PATH (CI installs one): the actor store is then `state.redis`. */
const HAVE_REDIS = spawnSync("redis-server", ["--version"]).status === 0;
const seconds = (n) => Temporal.Duration.from({ seconds: n });

/** What the JS actors saw, by actor id. */
const seen = {
  activated: [],
  deactivated: [],
  /** `{ id, enter, leave }` of each `slow` call. */
  turns: [],
  inFlight: new Map(),
  maxInFlight: new Map(),
  reminders: [],
  ticks: [],
  /** What the sidecar sent the app, before the SDK's handlers took it apart. */
  wire: [],
};

class CounterActor extends AbstractActor {
  async onActivate() {
    seen.activated.push(this.getActorId().getId());
  }

  async onDeactivate() {
    seen.deactivated.push(this.getActorId().getId());
  }

  async increment(by) {
    const sm = this.getStateManager();
    const [has, count] = await sm.tryGetState("count");
    const next = (has ? count : 0) + by;
    await sm.setState("count", next);
    // saveState runs after each method too (onActorMethodPostInternal); called here as the
    // state manager's own API.
    await sm.saveState();
    return { count: next };
  }

  async get() {
    const [has, count] = await this.getStateManager().tryGetState("count");
    return { count: has ? count : 0 };
  }

  async profile(p) {
    await this.getStateManager().setState("profile", p);
    return { ok: true };
  }

  async slow(ms) {
    const id = this.getActorId().getId();
    const n = (seen.inFlight.get(id) ?? 0) + 1;
    seen.inFlight.set(id, n);
    seen.maxInFlight.set(id, Math.max(n, seen.maxInFlight.get(id) ?? 0));
    const enter = Date.now();
    await sleep(ms);
    const leave = Date.now();
    seen.inFlight.set(id, seen.inFlight.get(id) - 1);
    seen.turns.push({ id, enter, leave });
    return { enter, leave };
  }

  async fail(message) {
    throw new Error(message);
  }

  async receiveReminder(data) {
    seen.reminders.push({ id: this.getActorId().getId(), data, at: Date.now() });
  }

  async onTick(data) {
    seen.ticks.push({ id: this.getActorId().getId(), data, at: Date.now() });
  }
}

let sidecar;
let server;
let client;
let actors;
let appPort;
let builder;
/** `{ port, cli(...args), stop() }` when HAVE_REDIS. */
let redis;

/** A private redis-server on a free port, no persistence; resolves once it answers PING. */
async function startRedis() {
  const port = await freePort();
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: "ignore",
  });
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  const cli = (...args) => {
    const r = spawnSync("redis-cli", ["-p", String(port), "--raw", ...args], { encoding: "utf8", timeout: 5_000 });
    return r.status === 0 ? r.stdout.replace(/\n$/, "") : undefined;
  };
  const up = await eventually(() => cli("PING") === "PONG", 5_000);
  assert.ok(up, "redis-server did not answer PING");
  const stop = async () => {
    child.kill("SIGTERM");
    await new Promise((ok) => (child.exitCode !== null ? ok() : child.once("exit", ok)));
    process.removeListener("exit", killOnExit);
  };
  return { port, cli, stop };
}

before(async () => {
  appPort = await freePort();
  if (HAVE_REDIS) redis = await startRedis();
  // The actor state store: daprd's Redis layout can be read back with redis-cli; without a
  // redis-server, the in-memory store (the layout test is then skipped).
  const actorStore = redis
    ? component("actorstore", "state.redis", { redisHost: `127.0.0.1:${redis.port}`, actorStateStore: "true" })
    : component("actorstore", "state.in-memory", { actorStateStore: "true" });
  // The sidecar asks the app for /dapr/subscribe (with backoff until it answers), then once
  // for /dapr/config; healthz is 204 after that.
  sidecar = await startSidecar({
    appId: APP_ID,
    appPort,
    resources: () => ({
      "actorstore.yaml": actorStore,
      "statestore.yaml": component("statestore", "state.in-memory"),
    }),
  });
  const clientOptions = {
    daprHost: "127.0.0.1",
    daprPort: String(sidecar.port),
    logger: sdkLogger(),
    // The SDK's typed runtime options, sent back as the /dapr/config answer.
    actor: { actorIdleTimeout: "1s", reentrancy: { enabled: false } },
  };
  server = new DaprServer({
    serverHost: "127.0.0.1",
    serverPort: String(appPort),
    communicationProtocol: CommunicationProtocolEnum.HTTP,
    clientOptions,
    logger: sdkLogger(),
  });
  server.daprServer.getServer().use((req, _res, next) => {
    if (req.path === "/dapr/config" || req.path.startsWith("/actors/")) {
      seen.wire.push({
        method: req.method,
        path: req.path,
        appId: req.headers["dapr-app-id"],
        contentType: req.headers["content-type"],
        body: req.body,
        at: Date.now(),
      });
    }
    next();
  });
  await server.actor.init();
  await server.actor.registerActor(CounterActor);
  await server.start();
  client = new DaprClient({ ...clientOptions, communicationProtocol: CommunicationProtocolEnum.HTTP });
  actors = new ActorClientHTTP.default(client.daprClient);
  builder = new ActorProxyBuilder(CounterActor, client);
  const ready = await eventually(async () => (await raw(sidecar.url, "/v1.0/healthz")).status === 204, 10_000);
  assert.ok(ready, `sidecar never became ready:\n${sidecar.logs()}`);
});

after(async () => {
  await sidecar?.stop();
  await server?.stop();
  await client?.stop();
  await redis?.stop();
});

const proxy = (id) => builder.build(new ActorId(id));

describe("hosting: the SDK's /dapr/config", () => {
  test("the sidecar asked GET /dapr/config with dapr-app-id and hosts the SDK's entities", T, async () => {
    const config = seen.wire.filter((w) => w.path === "/dapr/config");
    assert.equal(config.length, 1);
    assert.equal(config[0].method, "GET");
    assert.equal(config[0].appId, APP_ID);
    // What the SDK answers: its registered classes and the runtime options, spread.
    const answer = await raw(`http://127.0.0.1:${appPort}`, "/dapr/config");
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json, { entities: ["CounterActor"], actorIdleTimeout: "1s", reentrancy: { enabled: false } });
    await proxy("meta-1").get();
    const md = await client.metadata.get();
    assert.equal(md.actorRuntime.runtimeStatus, "RUNNING");
    assert.equal(md.actorRuntime.hostReady, true);
    const counter = md.actorRuntime.activeActors?.find((a) => a.type === "CounterActor");
    assert.ok(counter, `no CounterActor in ${JSON.stringify(md.actorRuntime)}`);
  });
});

describe("invocation through ActorProxyBuilder", () => {
  test("a method's result comes back; state persists between calls", T, async () => {
    const c = proxy("counter-1");
    assert.deepEqual(await c.increment(5), { count: 5 });
    assert.deepEqual(await c.increment(2), { count: 7 });
    assert.deepEqual(await c.get(), { count: 7 });
    // The app got daprd's call: PUT /actors/{type}/{id}/method/{method}, the proxy's
    // argument array as the body.
    const call = seen.wire.find((w) => w.path === "/actors/CounterActor/counter-1/method/increment");
    assert.equal(call.method, "PUT");
    assert.equal(call.contentType, "application/json");
    assert.deepEqual(call.body, [5]);
    // A raw GET: the app still gets PUT; its 200, body and Content-Type come back as is.
    const got = await raw(sidecar.url, "/v1.0/actors/CounterActor/counter-1/method/get?x=1");
    assert.equal(got.status, 200);
    assert.equal(got.headers.get("content-type"), "application/json; charset=utf-8");
    assert.deepEqual(got.json, { count: 7 });
    const viaGet = seen.wire.filter((w) => w.path === "/actors/CounterActor/counter-1/method/get").at(-1);
    assert.equal(viaGet.method, "PUT");
  });

  test("state written by the JS state manager is read on GET /v1.0/actors/…/state/{key}", T, async () => {
    await proxy("counter-2").increment(41);
    await proxy("counter-2").profile({ name: "ann", tags: ["a", "b"] });
    const count = await raw(sidecar.url, "/v1.0/actors/CounterActor/counter-2/state/count");
    assert.equal(count.status, 200);
    assert.equal(count.headers.get("content-type"), "application/json");
    assert.equal(count.text, "41");
    const profile = await raw(sidecar.url, "/v1.0/actors/CounterActor/counter-2/state/profile");
    assert.deepEqual(profile.json, { name: "ann", tags: ["a", "b"] });
    // The SDK's actor client reads the same value; a key never written is 204 ("" to the SDK).
    assert.equal(await actors.stateGet("CounterActor", new ActorId("counter-2"), "count"), 41);
    const missing = await raw(sidecar.url, "/v1.0/actors/CounterActor/counter-2/state/nothing");
    assert.equal(missing.status, 204);
    assert.equal(missing.text, "");
    // Another id's state is its own.
    assert.equal((await raw(sidecar.url, "/v1.0/actors/CounterActor/counter-3/state/count")).status, 204);
  });

  test("actor state lives under daprd's key <appId>||<type>||<id>||<key>", T, async () => {
    await proxy("layout-1").increment(3);
    await proxy("layout-1|x").increment(9);
    // The state API's own key prefix is <appId>||, and a key with "||" is refused (as
    // daprd), so the actor's stored key cannot be reached as a plain state key.
    const e = await rejected(() => client.state.get("actorstore", "CounterActor||layout-1||count"));
    assert.equal(e.status, 400);
    assert.match(e.body.message, /can't contain '\|\|'/);
    // An id that shares a prefix does not collide.
    assert.equal((await raw(sidecar.url, "/v1.0/actors/CounterActor/layout-1/state/count")).text, "3");
    assert.equal((await raw(sidecar.url, `/v1.0/actors/CounterActor/${encodeURIComponent("layout-1|x")}/state/count`)).text, "9");
  });

  test("on Redis: the hash daprd reads, <appId>||<type>||<id>||<key> with data and version", { ...T, skip: !HAVE_REDIS && "no redis-server on PATH" }, async () => {
    await proxy("layout-2").increment(4);
    await proxy("layout-2").profile({ name: "bo" });
    const keys = redis.cli("KEYS", "*layout-2*").split("\n").sort();
    assert.deepEqual(keys, [`${APP_ID}||CounterActor||layout-2||count`, `${APP_ID}||CounterActor||layout-2||profile`]);
    assert.equal(redis.cli("TYPE", `${APP_ID}||CounterActor||layout-2||count`), "hash");
    assert.equal(redis.cli("HGET", `${APP_ID}||CounterActor||layout-2||count`, "data"), "4");
    assert.deepEqual(JSON.parse(redis.cli("HGET", `${APP_ID}||CounterActor||layout-2||profile`, "data")), { name: "bo" });
    assert.match(redis.cli("HGET", `${APP_ID}||CounterActor||layout-2||count`, "version"), /^[1-9][0-9]*$/);
    // A value written on Redis by hand (as another daprd on the same Redis would) is what
    // the sidecar reads (the JS actor itself would answer from its state cache).
    redis.cli("HSET", `${APP_ID}||CounterActor||layout-2||count`, "data", "100");
    assert.equal((await raw(sidecar.url, "/v1.0/actors/CounterActor/layout-2/state/count")).text, "100");
  });
});

describe("turns", () => {
  test("calls to one actor id never overlap; two ids run in parallel", T, async () => {
    const ms = 300;
    const one = proxy("turn-a");
    const started = Date.now();
    const [a1, a2, a3, b1] = await Promise.all([one.slow(ms), one.slow(ms), one.slow(ms), proxy("turn-b").slow(ms)]);
    const elapsed = Date.now() - started;
    const same = [a1, a2, a3].sort((x, y) => x.enter - y.enter);
    for (let i = 1; i < same.length; i++) {
      assert.ok(same[i].enter >= same[i - 1].leave, `turn ${i} entered before ${i - 1} left: ${JSON.stringify(same)}`);
    }
    assert.equal(seen.maxInFlight.get("turn-a"), 1);
    assert.ok(elapsed >= 3 * ms - 20, `three turns of ${ms} ms took ${elapsed} ms`);
    // turn-b ran while turn-a's queue was being served.
    assert.ok(b1.enter < same[same.length - 1].enter && b1.leave > same[0].enter, `turn-b did not overlap turn-a: ${JSON.stringify({ same, b1 })}`);
    assert.equal(seen.maxInFlight.get("turn-b"), 1);
  });
});

describe("reminders and timers (the SDK's actor client)", () => {
  test("a reminder fires into receiveReminder; reminderGet answers period @every 1s", T, async () => {
    const id = new ActorId("rem-1");
    await proxy("rem-1").get(); // activate first (reminders do not need it; the test is shorter)
    await actors.registerActorReminder("CounterActor", id, "nudge", { dueTime: seconds(0), period: seconds(1), data: "ping" });
    const got = await actors.reminderGet("CounterActor", id, "nudge");
    assert.deepEqual(got, { actorID: "rem-1", actorType: "CounterActor", data: "ping", dueTime: "0s", period: "@every 1s" });
    assert.ok(await eventually(() => seen.reminders.filter((r) => r.id === "rem-1").length >= 2, 4_000), "the reminder did not fire twice");
    const fired = seen.reminders.filter((r) => r.id === "rem-1");
    assert.deepEqual(fired.map((r) => r.data).slice(0, 2), ["ping", "ping"]);
    // The wire: PUT …/method/remind/{name}, the Scheduler's empty dueTime and period.
    const tick = seen.wire.find((w) => w.path === "/actors/CounterActor/rem-1/method/remind/nudge");
    assert.equal(tick.method, "PUT");
    assert.deepEqual(tick.body, { data: "ping", dueTime: "", period: "" });
    // The statuses the SDK hides: create 204, delete 204 (also when missing).
    const created = await raw(sidecar.url, "/v1.0/actors/CounterActor/rem-1/reminders/later", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ dueTime: "1h" }),
    });
    assert.equal(created.status, 204);
    assert.equal((await raw(sidecar.url, "/v1.0/actors/CounterActor/rem-1/reminders/later", { method: "DELETE" })).status, 204);
    assert.equal((await raw(sidecar.url, "/v1.0/actors/CounterActor/rem-1/reminders/later", { method: "DELETE" })).status, 204);
    await actors.unregisterActorReminder("CounterActor", id, "nudge");
    const gone = await rejected(() => actors.reminderGet("CounterActor", id, "nudge"));
    assert.equal(gone.status, 404);
    assert.equal(gone.body.errorCode, "ERR_ACTOR_REMINDER_NOT_FOUND");
    const n = seen.reminders.filter((r) => r.id === "rem-1").length;
    await sleep(1_300);
    assert.equal(seen.reminders.filter((r) => r.id === "rem-1").length, n, "a deleted reminder fired");
  });

  test("reminder data that is a JSON object reaches the app raw (the SDK's handler stringifies it)", T, async () => {
    const id = new ActorId("rem-2");
    await actors.registerActorReminder("CounterActor", id, "once", { dueTime: seconds(0), data: { n: 1 } });
    assert.ok(await eventually(() => seen.wire.some((w) => w.path === "/actors/CounterActor/rem-2/method/remind/once"), 4_000));
    const tick = seen.wire.find((w) => w.path === "/actors/CounterActor/rem-2/method/remind/once");
    assert.deepEqual(tick.body, { data: { n: 1 }, dueTime: "", period: "" });
    await eventually(() => seen.reminders.some((r) => r.id === "rem-2"), 2_000);
    // SDK quirk (3.18.0): ActorReminderData.fromObject runs BufferSerializer.deserialize on
    // the already-parsed `data`, i.e. String({n:1}): the actor gets "[object Object]".
    assert.equal(seen.reminders.find((r) => r.id === "rem-2").data, "[object Object]");
    // A reminder with no period runs once and is gone.
    const gone = await rejected(() => actors.reminderGet("CounterActor", id, "once"));
    assert.equal(gone.status, 404);
  });

  test("a timer calls its callback with its data, then stops after unregister", T, async () => {
    const id = new ActorId("timer-1");
    // A turn first: the period (500 ms) is under the 1 s idle timeout, so the actor (and
    // with it the timer) stays active.
    await proxy("timer-1").get();
    await actors.registerActorTimer("CounterActor", id, "beat", {
      dueTime: seconds(0),
      period: Temporal.Duration.from({ milliseconds: 500 }),
      callback: "onTick",
      data: "tock",
    });
    assert.ok(await eventually(() => seen.ticks.filter((t) => t.id === "timer-1").length >= 3, 4_000), "the timer did not fire 3 times");
    const ticks = seen.ticks.filter((t) => t.id === "timer-1");
    assert.deepEqual(ticks.slice(0, 3).map((t) => t.data), ["tock", "tock", "tock"]);
    // The wire: PUT …/method/timer/{name} with the timer as registered (the SDK sent "0s"
    // and "0.5s" for the Temporal durations).
    const call = seen.wire.find((w) => w.path === "/actors/CounterActor/timer-1/method/timer/beat");
    assert.equal(call.method, "PUT");
    assert.deepEqual(call.body, { data: "tock", callback: "onTick", dueTime: "0s", period: "0.5s" });
    await actors.unregisterActorTimer("CounterActor", id, "beat");
    await sleep(200); // a tick already on its way
    const n = seen.ticks.filter((t) => t.id === "timer-1").length;
    await sleep(1_200);
    assert.equal(seen.ticks.filter((t) => t.id === "timer-1").length, n, "the timer fired after unregister");
  });
});

describe("errors", () => {
  test("a method that throws is 500 ERR_ACTOR_INVOKE_METHOD; the actor still works after it", T, async () => {
    const c = proxy("err-1");
    assert.deepEqual(await c.increment(1), { count: 1 });
    const e = await rejected(() => c.fail("kaboom"));
    assert.equal(e.status, 500);
    assert.equal(e.body.errorCode, "ERR_ACTOR_INVOKE_METHOD");
    assert.match(e.body.message, /error from actor service/);
    // The SDK answers 500 with the thrown Error as JSON, which is "{}".
    assert.equal(e.body.message, "error invoke actor method: error from actor service: (500) {}");
    assert.deepEqual(await c.increment(1), { count: 2 });
  });

  test("a method the class does not have: 500 ERR_ACTOR_INVOKE_METHOD with the SDK's reason", T, async () => {
    const e = await rejected(() => actors.invoke("CounterActor", new ActorId("err-1"), "nope", { a: 1 }));
    assert.equal(e.status, 500);
    assert.equal(e.body.errorCode, "ERR_ACTOR_INVOKE_METHOD");
    assert.match(e.body.message, /^error invoke actor method: error from actor service: \(500\) /);
  });

  test("a type the app does not host: 500 'did not find address'", T, async () => {
    const e = await rejected(() => actors.invoke("NoSuchActor", new ActorId("x"), "get"));
    assert.equal(e.status, 500);
    assert.deepEqual(e.body, {
      errorCode: "ERR_ACTOR_INVOKE_METHOD",
      message: "error invoke actor method: failed to lookup actor: did not find address for actor 'NoSuchActor||x'",
    });
  });
});

describe("deactivation", () => {
  test("after actorIdleTimeout (1s) the sidecar DELETEs the actor: onDeactivate runs, state stays", T, async () => {
    const c = proxy("idle-1");
    assert.deepEqual(await c.increment(10), { count: 10 });
    assert.deepEqual(seen.activated.filter((id) => id === "idle-1"), ["idle-1"]);
    assert.ok(await eventually(() => seen.deactivated.includes("idle-1"), 5_000), "onDeactivate never ran");
    const del = seen.wire.find((w) => w.method === "DELETE" && w.path === "/actors/CounterActor/idle-1");
    assert.ok(del, "no DELETE /actors/CounterActor/idle-1");
    const lastCall = seen.wire.filter((w) => w.path.startsWith("/actors/CounterActor/idle-1/")).at(-1);
    assert.ok(del.at - lastCall.at >= 900, `deactivated ${del.at - lastCall.at} ms after the last call`);
    // The next call activates it again, with the state it saved.
    assert.deepEqual(await c.get(), { count: 10 });
    assert.deepEqual(seen.activated.filter((id) => id === "idle-1"), ["idle-1", "idle-1"]);
  });
});
