// Runs tests/build/unit.wasm under node's WASI with the ABI mock of abi-mock.mjs,
// scripted by the tests through the `test_mock` import module (queue answers, read
// back the last request as JSON, count open handles).
//
// usage: node tests/run-unit.mjs [path/to/unit.wasm]

import path from "node:path";
import { fileURLToPath } from "node:url";
import { createHttp, parseBlock, runCommand } from "./abi-mock.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const wasmPath = process.argv[2] ?? path.join(here, "..", "..", "target", "as-sdk", "unit.wasm");
const dec = new TextDecoder();
const enc = new TextEncoder();

const queue = [];
// With nothing queued the mock answers 599 (the tests use it for "never ready").
const http = createHttp(() => queue.shift() ?? { status: 599, headers: [], body: "" });
const bytes = (p, n) => new Uint8Array(http.memory().buffer, p, n).slice();

const testMock = {
  enqueue(status, hp, hl, bp, bl) {
    queue.push({ status, headers: parseBlock(dec.decode(bytes(hp, hl))), body: bytes(bp, bl) });
  },
  enqueue_error(code) {
    queue.push({ error: code });
  },
  last_request(buf, len) {
    const r = http.requests[http.requests.length - 1];
    const json = enc.encode(
      JSON.stringify(r ? { method: r.method, url: r.url, headers: r.headers, body: dec.decode(r.body) } : {}),
    );
    if (json.length <= len) new Uint8Array(http.memory().buffer, buf, json.length).set(json);
    return json.length;
  },
  request_count: () => http.requests.length,
  open_handles: () => http.open.size,
  reset() {
    queue.length = 0;
    http.requests.length = 0;
  },
};

process.exitCode = await runCommand(wasmPath, http, {
  env: { DAPR_HTTP_PORT: "3999" },
  extra: { test_mock: testMock },
});
