// Runs AS guests under node's WASI against a small in-process fake of the sidecar's
// state, publish and health routes (answers as in shared/dapr-http-api.md), then checks
// what the fake recorded. A quick check that needs no host binary; the real run is
// tests/e2e.sh (wasi-dapr run against wasi-dapr sidecar).
//
// usage: node tests/run-fake-sidecar.mjs   (after `npm run build`)

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

console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
