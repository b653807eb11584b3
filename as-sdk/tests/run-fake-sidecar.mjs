// Runs AS guests under node's WASI against a small in-process fake of the sidecar's
// state, publish, health and actor routes (answers as in shared/dapr-http-api.md), then
// checks what the fake recorded. A served module (examples/actor-as) is run once per
// request the way `wasi-dapr serve` does: the CGI environment, the body on stdin, the
// response read back from stdout. A quick check that needs no host binary; the real run is
// tests/e2e.sh (wasi-dapr run against wasi-dapr sidecar).
//
// usage: node tests/run-fake-sidecar.mjs   (after `npm run build`)

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createHttp, runCommand } from "./abi-mock.mjs";
import { fakeSidecar } from "./fake-sidecar.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
let passed = 0;
let failed = 0;
async function check(name, wasm, verify) {
  const fake = fakeSidecar();
  const http = createHttp(fake.handler);
  const code = await runCommand(path.join(root, wasm), http, { env: { DAPR_HTTP_PORT: "3500" } });
  const problems = verify(code, fake, http);
  if (http.open.size !== 0) problems.push(`${http.open.size} response handle(s) left open`);
  if (problems.length === 0) {
    passed++;
    console.log(`ok - ${name}`);
  } else {
    failed++;
    console.log(`not ok - ${name}\n    ${problems.join("\n    ")}`);
  }
}

await check("tests/dapr scenario against the fake sidecar", "tests/dapr/build/dapr_as.wasm", (code, fake) => {
  const p = [];
  if (code !== 0) p.push(`exit code ${code}`);
  const w = fake.state.get("statestore/weapon")?.data;
  const pl = fake.state.get("statestore/planets")?.data;
  if (w !== '"Death Star"') p.push(`weapon stored as ${w}`);
  if (pl !== '{"name":"Tatooine","test":123}') p.push(`planets stored as ${pl}`);
  return p;
});

await check("examples/state-as against the fake sidecar", "examples/build/state-as.wasm", (code, fake) => {
  const p = [];
  if (code !== 0) p.push(`exit code ${code}`);
  if (fake.state.get("statestore/planet")?.data !== '{"name":"Tatooine","suns":3}') p.push("planet not updated");
  if (fake.state.has("statestore/weapon") || fake.state.has("statestore/droid")) p.push("deletes not applied");
  return p;
});

await check("examples/publish-as against the fake sidecar", "examples/build/publish-as.wasm", (code, fake) => {
  const p = [];
  if (code !== 0) p.push(`exit code ${code}`);
  if (fake.published.length !== 5) p.push(`${fake.published.length} events published, expected 5`);
  else if (fake.published[3].query !== "?metadata.rawPayload=true&metadata.ttlInSeconds=60") p.push(`metadata ${fake.published[3].query}`);
  return p;
});

await check(
  "examples/bulk-subscriber-as publisher against the fake sidecar (one stable bulk publish)",
  "examples/build/bulk-subscriber-as-publisher.wasm",
  (code, fake, http) => {
    const p = [];
    if (code !== 0) p.push(`exit code ${code}`);
    const bulkCalls = http.requests.filter((r) => r.url.includes("/publish/bulk/"));
    if (bulkCalls.length !== 1) p.push(`${bulkCalls.length} bulk publish calls, expected 1`);
    else if (bulkCalls[0].url !== "http://127.0.0.1:3500/v1.0/publish/bulk/pubsub/orders") p.push(`url ${bulkCalls[0].url}`);
    const ids = fake.published.map((e) => `${e.api} ${e.topic} ${e.bulk?.entryId} ${e.bulk?.contentType}`);
    const want = [1, 2, 3, 4, 5].map((i) => `v1.0 orders order-${i} application/json`);
    if (JSON.stringify(ids) !== JSON.stringify(want)) p.push(`published ${JSON.stringify(ids)}`);
    return p;
  },
);

/**
 * One CGI request to a served module, against `fake`: answers `{status, headers, body,
 * stderr, requests}` (`requests`: what the module sent to the sidecar).
 */
async function serveOnce(wasm, fake, method, pathInfo, body = "", headers = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "as-serve-"));
  const file = (n) => path.join(dir, n);
  fs.writeFileSync(file("in"), body);
  const stdio = { stdin: fs.openSync(file("in"), "r"), stdout: fs.openSync(file("out"), "w"), stderr: fs.openSync(file("err"), "w") };
  const env = { DAPR_HTTP_PORT: "3500", REQUEST_METHOD: method, PATH_INFO: pathInfo, QUERY_STRING: "" };
  if (body.length > 0) Object.assign(env, { CONTENT_TYPE: "application/json", CONTENT_LENGTH: String(Buffer.byteLength(body)) });
  for (const [n, v] of Object.entries(headers)) env[`HTTP_${n.toUpperCase().replaceAll("-", "_")}`] = v;
  const http = createHttp(fake.handler);
  const code = await runCommand(path.join(root, wasm), http, { env, stdio });
  for (const fd of Object.values(stdio)) fs.closeSync(fd);
  const out = fs.readFileSync(file("out"), "utf8");
  const stderr = fs.readFileSync(file("err"), "utf8");
  fs.rmSync(dir, { recursive: true });
  const [head, ...rest] = out.split("\n\n");
  const lines = head.split("\n");
  const status = Number(lines[0].replace(/^Status: /, ""));
  const hs = Object.fromEntries(lines.slice(1).map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
  return { code, status, headers: hs, body: rest.join("\n\n"), stderr, requests: http.requests, open: http.open.size };
}

// examples/actor-as: the BankAccount actor, one CGI request per daprd call.
{
  const wasm = "examples/build/actor-as.wasm";
  const fake = fakeSidecar();
  const p = [];
  const call = async (m, pathInfo, body = "", headers = {}) => {
    const r = await serveOnce(wasm, fake, m, pathInfo, body, headers);
    if (r.code !== 0) p.push(`${m} ${pathInfo}: exit code ${r.code}`);
    if (r.open !== 0) p.push(`${m} ${pathInfo}: ${r.open} response handle(s) left open`);
    return r;
  };
  const expect = (what, got, want) => {
    if (JSON.stringify(got) !== JSON.stringify(want)) p.push(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  };
  const base = "/actors/BankAccount/alice/method";
  const txs = (r) => r.requests.filter((q) => q.method === "POST" && q.url.endsWith("/v1.0/actors/BankAccount/alice/state"));
  const dec = new TextDecoder();

  let r = await call("GET", "/dapr/config");
  expect("config", [r.status, JSON.parse(r.body || "null")], [200, {
    entities: ["BankAccount"], actorIdleTimeout: "1h", drainOngoingCallTimeout: "2s", drainRebalancedActors: true,
    reentrancy: { enabled: false, maxStackDepth: 32 },
  }]);
  r = await call("PUT", `${base}/deposit`, '{"amount":7000}');
  expect("deposit", [r.status, r.body], [200, '{"balance":7000}']);
  expect("deposit: one bare-array transaction", txs(r).map((q) => dec.decode(q.body)), ['[{"operation":"upsert","request":{"key":"balance","value":7000}}]']);
  expect("deposit: GETs", r.requests.filter((q) => q.method === "GET").map((q) => q.url), ["http://127.0.0.1:3500/v1.0/actors/BankAccount/alice/state/balance"]);
  expect("stored balance", fake.actorState.get("BankAccount||alice||balance"), "7000");
  r = await call("PUT", `${base}/withdraw`, '{"amount":10000}');
  expect("withdraw too much", [r.status, r.headers["x-daprerrorresponseheader"], r.headers["x-wasi-dapr-actor-status"], JSON.parse(r.body || "null")], [200, "true", "409", { error: "insufficient funds", balance: 7000 }]);
  expect("withdraw too much: no transaction", txs(r).length, 0);
  r = await call("PUT", `${base}/balance`);
  expect("balance", [r.status, r.body], [200, '{"balance":7000}']);
  expect("balance: no transaction", txs(r).length, 0);
  r = await call("PUT", `${base}/add_interest`);
  expect("add_interest", r.status, 200);
  expect("reminder registered", fake.reminders.get("BankAccount||alice||interest"), { dueTime: "1s", period: "R3/PT1S", data: { ratePercent: 10 } });
  r = await call("PUT", `${base}/remind/interest`, '{"data":{"ratePercent":10},"dueTime":"","period":""}');
  expect("reminder fired", [r.status, r.stderr], [200, "interest applied: 7000 -> 7700\n"]);
  expect("balance after interest", fake.actorState.get("BankAccount||alice||balance"), "7700");
  r = await call("PUT", `${base}/withdraw`, '{"amount":700}');
  expect("withdraw", [r.status, r.body], [200, '{"balance":7000}']);
  r = await call("PUT", "/actors/BankAccount/bob/method/balance");
  expect("a new account is 0", r.body, '{"balance":0}');
  r = await call("PUT", `${base}/nope`);
  expect("unknown method", r.status, 404);
  r = await call("DELETE", "/actors/BankAccount/alice");
  expect("deactivate", r.status, 200);
  if (p.length === 0) {
    passed++;
    console.log("ok - examples/actor-as served (CGI) against the fake sidecar: config, deposit, actor error (200, status 409), reminder interest");
  } else {
    failed++;
    console.log(`not ok - examples/actor-as served (CGI) against the fake sidecar\n    ${p.join("\n    ")}`);
  }
}

console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
