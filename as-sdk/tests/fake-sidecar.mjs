// A small in-process fake of the sidecar's state, publish, health and actor (state,
// reminders, timers) routes, answering as shared/dapr-http-api.md says daprd does. Used by run-fake-sidecar.mjs (through the
// ABI mock, no network) and by fake-sidecar-server.mjs (over real HTTP, for running
// guests through `wasi-dapr run` while the real `wasi-dapr sidecar` is not at hand).

import { randomUUID } from "node:crypto";

const dec = new TextDecoder();
const STORES = new Set(["statestore"]);
const PUBSUBS = new Set(["pubsub"]);

function daprError(status, errorCode, message) {
  return { status, headers: [["Content-Type", "application/json"]], body: JSON.stringify({ errorCode, message }) };
}

/** A fresh fake: `handler(req)` answers, `state` and `published` record. */
export function fakeSidecar({ host = "127.0.0.1:3500" } = {}) {
  const state = new Map(); // store/key -> { data: string, etag }
  const published = [];
  const extended = {};
  const write = (store, key, data, etag, concurrency) => {
    const id = `${store}/${key}`;
    const cur = state.get(id);
    if (etag != null && etag !== "" ? !cur || cur.etag !== etag : concurrency === "first-write" && cur) {
      return daprError(409, "ERR_STATE_SAVE", `failed saving state in state store ${store}: possible etag mismatch`);
    }
    state.set(id, { data, etag: randomUUID() });
    return null;
  };
  // Actors: state, reminders and timers by `type||id||name`, answered as daprd does.
  const actorState = new Map();
  const reminders = new Map();
  const timers = new Map();
  const actor = (method, [type, id, kind, ...rest], text) => {
    const key = `${type}||${id}||${rest.join("/")}`;
    if (kind === "state" && rest.length === 0 && (method === "POST" || method === "PUT")) {
      let ops;
      try {
        ops = JSON.parse(text);
      } catch {
        return daprError(400, "ERR_MALFORMED_REQUEST", "failed to decode the transaction");
      }
      if (!Array.isArray(ops)) return daprError(400, "ERR_MALFORMED_REQUEST", "the transaction is not an array");
      for (const op of ops) {
        const k = `${type}||${id}||${op.request?.key}`;
        if (!op.request?.key) return daprError(500, "ERR_ACTOR_STATE_TRANSACTION_SAVE", "missing key");
        if (op.operation === "upsert") actorState.set(k, JSON.stringify(op.request.value));
        else if (op.operation === "delete") actorState.delete(k);
        else return daprError(500, "ERR_ACTOR_STATE_TRANSACTION_SAVE", `operation type ${op.operation} not supported`);
      }
      return { status: 204 };
    }
    if (kind === "state" && method === "GET") {
      if (!actorState.has(key)) return { status: 204 };
      return { status: 200, headers: [["Content-Type", "application/json"]], body: actorState.get(key) };
    }
    const table = kind === "reminders" ? reminders : kind === "timers" ? timers : null;
    if (table && rest.length === 1) {
      if (method === "POST" || method === "PUT") {
        table.set(key, JSON.parse(text));
        return { status: 204 };
      }
      if (method === "DELETE") {
        table.delete(key);
        return { status: 204 };
      }
      if (method === "GET" && kind === "reminders") {
        const r = table.get(key);
        if (!r) return daprError(404, "ERR_ACTOR_REMINDER_NOT_FOUND", `actor reminder not found: ${rest[0]}`);
        return { status: 200, headers: [["Content-Type", "application/json"]], body: JSON.stringify({ actorID: id, actorType: type, ...r }) };
      }
    }
    return daprError(500, "ERR_ACTOR_INVOKE_METHOD", "the fake sidecar does not invoke actors");
  };
  const handler = ({ method, url, headers, body }) => {
    const u = new URL(url);
    if (host != null && u.host !== host) return { error: 11 };
    const parts = u.pathname.split("/").slice(1).map(decodeURIComponent);
    const text = dec.decode(body);
    const ifMatch = headers.split("\n").find((l) => l.toLowerCase().startsWith("if-match:"));
    if (parts[0] === "v1.0" && parts[1] === "healthz") return { status: 204 };
    // Bulk publish: the stable path (Dapr 1.17+) and the alpha one, the same handler.
    if ((parts[0] === "v1.0" || parts[0] === "v1.0-alpha1") && parts[1] === "publish" && parts[2] === "bulk") {
      if (!PUBSUBS.has(parts[3])) return daprError(404, "ERR_PUBSUB_NOT_FOUND", `pubsub ${parts[3]} not found`);
      for (const e of JSON.parse(text)) published.push({ topic: parts.slice(4).join("/"), bulk: e, api: parts[0] });
      return { status: 204 };
    }
    if (parts[0] === "v1.0" && parts[1] === "publish") {
      if (!PUBSUBS.has(parts[2])) return daprError(404, "ERR_PUBSUB_NOT_FOUND", `pubsub ${parts[2]} not found`);
      published.push({ topic: parts.slice(3).join("/"), contentType: headers, body: text, query: u.search });
      return { status: 204 };
    }
    if (parts[0] === "v1.0" && parts[1] === "metadata") {
      if (method === "PUT" && parts[2]) {
        extended[parts[2]] = text;
        return { status: 204 };
      }
      const components = [...STORES].map((name) => ({ name, type: "state.in-memory", version: "v1" }));
      return { status: 200, headers: [["Content-Type", "application/json"]], body: JSON.stringify({ id: "fake", components, extended }) };
    }
    if (parts[0] === "v1.0" && parts[1] === "actors") return actor(method, parts.slice(2), text);
    if (parts[0] !== "v1.0" || parts[1] !== "state") return daprError(404, "ERR_DIRECT_INVOKE", "no route");
    const store = parts[2];
    if (!STORES.has(store)) return daprError(400, "ERR_STATE_STORE_NOT_FOUND", `state store ${store} is not found`);
    const rest = parts.slice(3);
    if (method === "POST" && rest.length === 0) {
      for (const it of JSON.parse(text)) {
        const e = write(store, it.key, JSON.stringify(it.value), it.etag, it.options?.concurrency);
        if (e) return e;
      }
      return { status: 204 };
    }
    if (method === "POST" && rest[0] === "bulk") {
      const out = JSON.parse(text).keys.map((key) => {
        const cur = state.get(`${store}/${key}`);
        return cur ? { key, data: JSON.parse(cur.data), etag: cur.etag } : { key };
      });
      return { status: 200, headers: [["Content-Type", "application/json"]], body: JSON.stringify(out) };
    }
    if (method === "POST" && rest[0] === "transaction") {
      for (const op of JSON.parse(text).operations) {
        const r = op.request;
        if (op.operation === "upsert") {
          const e = write(store, r.key, JSON.stringify(r.value), r.etag);
          if (e) return daprError(500, "ERR_STATE_TRANSACTION", "possible etag mismatch");
        } else {
          state.delete(`${store}/${r.key}`);
        }
      }
      return { status: 204 };
    }
    const key = rest.join("/");
    const cur = state.get(`${store}/${key}`);
    if (method === "GET") {
      if (!cur) return { status: 204 };
      return { status: 200, headers: [["Content-Type", "application/json"], ["Etag", cur.etag]], body: cur.data };
    }
    if (method === "DELETE") {
      const etag = ifMatch ? ifMatch.slice(ifMatch.indexOf(":") + 1) : null;
      if (etag != null && (!cur || cur.etag !== etag)) return daprError(409, "ERR_STATE_DELETE", "possible etag mismatch");
      state.delete(`${store}/${key}`);
      return { status: 204 };
    }
    return daprError(405, "ERR_MALFORMED_REQUEST", "unsupported");
  };
  return { handler, state, published, actorState, reminders, timers };
}
