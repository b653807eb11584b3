// A small Dapr HTTP client for JavaScript WebAssembly components (componentize-js).
//
// Requests go through the engine's `fetch`, which componentize-js (StarlingMonkey)
// implements with `wasi:http/outgoing-handler`. Only the calls the examples use are
// here (state: save, get, bulk get, delete; health). Wire format: Dapr's HTTP API v1.0.
//
// Sidecar address, in this order: DAPR_HTTP_ENDPOINT (a full `http://host:port`), else
// `http://127.0.0.1:$DAPR_HTTP_PORT`, else `http://127.0.0.1:3500`. When DAPR_API_TOKEN
// is set it is sent as the `dapr-api-token` header. The variables come from
// `wasi:cli/environment` (there is no `process.env` in the engine).

import { getEnvironment } from 'wasi:cli/environment@0.2.12';

/** The sidecar answered with an error status (or could not be reached: status 0). */
export class DaprError extends Error {
  constructor(status, code, message) {
    super(status ? `dapr error ${status} ${code}: ${message}` : message);
    this.status = status;
    this.code = code;
    this.detail = message;
  }

  /** A write or delete refused because its ETag is stale (409). */
  isEtagMismatch() {
    return this.status === 409;
  }
}

/** The component's environment variables as an object. */
export function environment() {
  return Object.fromEntries(getEnvironment());
}

/** The sidecar's base URL: DAPR_HTTP_ENDPOINT, DAPR_HTTP_PORT, or port 3500. */
export function endpointFromEnv(env = environment()) {
  const endpoint = (env.DAPR_HTTP_ENDPOINT || '').trim();
  if (endpoint) return endpoint.replace(/\/+$/, '');
  const port = (env.DAPR_HTTP_PORT || '').trim() || '3500';
  return `http://127.0.0.1:${port}`;
}

const segment = (text) => encodeURIComponent(text);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Dapr's HTTP API, one awaited request per method. */
export class Client {
  constructor(endpoint) {
    const env = environment();
    this.endpoint = endpoint || endpointFromEnv(env);
    this.token = env.DAPR_API_TOKEN || null;
  }

  /**
   * Sends `body` (JSON-encoded unless it is a Uint8Array) to the sidecar and returns
   * `{status, headers, body}` with the body as bytes; throws DaprError on a status of
   * 400 or more, decoding Dapr's `{"errorCode","message"}` when present.
   */
  async call(method, path, body = undefined, headers = {}) {
    const sent = { ...headers };
    if (body !== undefined) {
      sent['content-type'] = 'application/json';
      if (!(body instanceof Uint8Array)) body = JSON.stringify(body);
    }
    if (this.token) sent['dapr-api-token'] = this.token;
    let response;
    try {
      response = await fetch(this.endpoint + path, { method, headers: sent, body });
    } catch (error) {
      throw new DaprError(0, '', `request to ${this.endpoint}${path} failed: ${error.message}`);
    }
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (response.status >= 400) {
      let code = '';
      let message = new TextDecoder().decode(bytes);
      try {
        const decoded = JSON.parse(message);
        code = decoded.errorCode || '';
        message = decoded.message || message;
      } catch {
        // not Dapr's JSON error shape: keep the text
      }
      throw new DaprError(response.status, code, message);
    }
    return { status: response.status, headers: response.headers, body: bytes };
  }

  /** Polls `GET /v1.0/healthz/outbound` until it answers 2xx or the time is up. */
  async waitForSidecar(timeoutMs = 10000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.call('GET', '/v1.0/healthz/outbound');
        return;
      } catch (error) {
        if (Date.now() >= deadline) {
          throw new DaprError(0, '', `no Dapr sidecar at ${this.endpoint}: ${error.message}`);
        }
      }
      await sleep(100);
    }
  }

  /** Saves `[{key, value, etag?, options?}, ...]` in one request. */
  async saveState(store, items) {
    await this.call('POST', `/v1.0/state/${segment(store)}`, items);
  }

  /** `{value, etag}` (value = the stored JSON text) of `key`, or null if missing (204). */
  async getState(store, key) {
    const response = await this.call('GET', `/v1.0/state/${segment(store)}/${segment(key)}`);
    if (response.status === 204) return null;
    return { value: new TextDecoder().decode(response.body), etag: response.headers.get('etag') };
  }

  /** One `{key, data?, etag?}` per key, in key order; no `data` = missing. */
  async getBulkState(store, keys) {
    const response = await this.call('POST', `/v1.0/state/${segment(store)}/bulk`, { keys });
    return JSON.parse(new TextDecoder().decode(response.body));
  }

  /** Deletes `key` (a missing key is not an error); with `etag`, only if it matches. */
  async deleteState(store, key, etag = null) {
    const headers = etag ? { 'if-match': etag } : {};
    await this.call('DELETE', `/v1.0/state/${segment(store)}/${segment(key)}`, undefined, headers);
  }
}
