// An in-process `wasi_experimental_http` for node's WASI: the ABI exactly as the
// wasi-dapr host documents it (error codes 0..13, `name:value\n` header blocks, code 4
// for a short buffer with the needed length in `written`, 0 bytes = end of body), with
// answers produced by a JS `handler({method, url, headers, body})` instead of the network.

import { readFileSync } from "node:fs";
import { WASI } from "node:wasi";

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

/** Parses a `name:value\n` block into [name, value] pairs (split on the first ':'). */
export function parseBlock(block) {
  return block
    .split("\n")
    .filter((l) => l.includes(":"))
    .map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1)]);
}

/**
 * Builds the import object. `handler(req)` answers `{status, headers: [[n, v]], body:
 * Uint8Array|string}` or `{error: code}`. `chunk` caps the bytes per body_read.
 */
export function createHttp(handler, { chunk = 7 } = {}) {
  let memory;
  const open = new Map();
  const requests = [];
  let nextHandle = 1;
  const view = () => new DataView(memory.buffer);
  const bytes = (p, n) => new Uint8Array(memory.buffer, p, n);
  const inBounds = (p, n) => p >= 0 && n >= 0 && p + n <= memory.buffer.byteLength;
  const str = (p, n) => dec.decode(bytes(p, n).slice());
  const writeOut = (buf, len, data, wp) => {
    view().setUint32(wp, data.length, true);
    if (data.length > len) return 4;
    bytes(buf, data.length).set(data);
    return 0;
  };
  const imports = {
    req(up, ul, mp, ml, hp, hl, bp, bl, sp, hdp) {
      if (![[up, ul], [mp, ml], [hp, hl], [bp, bl]].every(([p, n]) => inBounds(p, n))) return 3;
      let req;
      try {
        req = { url: str(up, ul), method: str(mp, ml), headers: str(hp, hl), body: bytes(bp, bl).slice() };
      } catch {
        return 6;
      }
      requests.push(req);
      const ans = handler(req);
      if (ans.error) return ans.error;
      const body = typeof ans.body === "string" ? enc.encode(ans.body) : (ans.body ?? new Uint8Array(0));
      const h = nextHandle++;
      open.set(h, { status: ans.status, headers: ans.headers ?? [], body, at: 0 });
      view().setUint16(sp, ans.status, true);
      view().setUint32(hdp, h, true);
      return 0;
    },
    close(h) {
      return open.delete(h) ? 0 : 1;
    },
    header_get(h, np, nl, buf, len, wp) {
      const r = open.get(h);
      if (!r) return 1;
      const name = str(np, nl).toLowerCase();
      const hit = r.headers.find(([n]) => n.toLowerCase() === name);
      if (!hit) return 5;
      return writeOut(buf, len, enc.encode(hit[1]), wp);
    },
    headers_get_all(h, buf, len, wp) {
      const r = open.get(h);
      if (!r) return 1;
      return writeOut(buf, len, enc.encode(r.headers.map(([n, v]) => `${n}:${v}\n`).join("")), wp);
    },
    body_read(h, buf, len, wp) {
      const r = open.get(h);
      if (!r) return 1;
      const n = Math.min(len, chunk, r.body.length - r.at);
      bytes(buf, n).set(r.body.subarray(r.at, r.at + n));
      r.at += n;
      view().setUint32(wp, n, true);
      return 0;
    },
  };
  return {
    imports,
    open,
    requests,
    setMemory(m) {
      memory = m;
    },
    memory: () => memory,
  };
}

/**
 * Instantiates and runs a WASI command; answers its exit code. `stdio` may give file
 * descriptors `{stdin, stdout, stderr}` (a served module's CGI request and response).
 */
export async function runCommand(wasmPath, http, { env = {}, args = [], extra = {}, stdio = {} } = {}) {
  const wasi = new WASI({ version: "preview1", args: [wasmPath, ...args], env, returnOnExit: true, ...stdio });
  const module = await WebAssembly.compile(readFileSync(wasmPath));
  const instance = await WebAssembly.instantiate(module, {
    wasi_snapshot_preview1: wasi.wasiImport,
    wasi_experimental_http: http.imports,
    ...extra,
  });
  http.setMemory(instance.exports.memory);
  return wasi.start(instance);
}
