/**
 * State management: get, save, bulk get, delete, transactions and queries (alpha).
 *
 * State values are JSON text: `saveState(s, k, '{"a":1}')` stores the object,
 * `saveStateString(s, k, "x")` stores the JSON string `"x"`.
 *
 * @packageDocumentation
 */

import { Method } from "../http";
import { ok, err } from "../result";
import {
  JsonObjectWriter,
  decodeString,
  isValidJson,
  jsonArray,
  jsonString,
  member,
  memberArray,
  memberString,
  memberStringMap,
  parseArray,
  parseObject,
} from "../json";
import { DaprError, DaprResult } from "./error";
import { SidecarClient, metadataFromHeaders, requireName, requireNames2 } from "./client";

/**
 * `options.concurrency` values: how a write with an ETag is checked. String constants
 * (they go on the wire as they are), grouped like an enum: `Concurrency.FirstWrite`.
 */
export namespace Concurrency {
  /** `first-write`: the write must carry the current ETag. */
  export const FirstWrite = "first-write";
  /** `last-write`: the last write wins (the store's default). */
  export const LastWrite = "last-write";
}

/**
 * `options.consistency` values (also the `consistency` query parameter of a read).
 * String constants grouped like an enum: `Consistency.Strong`.
 */
export namespace Consistency {
  /** `strong`: wait for every replica. */
  export const Strong = "strong";
  /** `eventual`: answer from any replica (the store's default). */
  export const Eventual = "eventual";
}

/** Concurrency and consistency of a state write; `null` fields are not sent. */
export class StateOptions {
  constructor(
    /** One of `Concurrency`, or `null`. */
    public concurrency: string | null = null,
    /** One of `Consistency`, or `null`. */
    public consistency: string | null = null,
  ) {}

  /** `{"concurrency":..,"consistency":..}` with only the set fields. */
  toJson(): string {
    return new JsonObjectWriter()
      .optString("concurrency", this.concurrency)
      .optString("consistency", this.consistency)
      .build();
  }
}

/** One state entry to save (or to upsert/delete in a transaction). */
export class SaveStateItem {
  /** The ETag the write must match, or `null`. */
  etag: string | null = null;
  /** Per-item component metadata, or `null`. */
  metadata: Map<string, string> | null = null;
  /** Concurrency/consistency, or `null`. */
  options: StateOptions | null = null;

  constructor(
    /** The key. */
    public key: string,
    /** The value as JSON text (`"\"Death Star\""`, `'{"a":1}'`, `"42"`). */
    public value: string,
  ) {}

  /** An item whose value is the given JSON text. */
  static ofJson(key: string, valueJson: string): SaveStateItem {
    return new SaveStateItem(key, valueJson);
  }

  /** An item whose value is the JSON string `value`. */
  static ofString(key: string, value: string): SaveStateItem {
    return new SaveStateItem(key, jsonString(value));
  }

  /** Sets the ETag. */
  withEtag(etag: string | null): SaveStateItem {
    this.etag = etag;
    return this;
  }

  /** Adds one metadata entry. */
  withMetadata(key: string, value: string): SaveStateItem {
    let m = this.metadata;
    if (m == null) {
      m = new Map<string, string>();
      this.metadata = m;
    }
    m.set(key, value);
    return this;
  }

  /** Sets the options. */
  withOptions(options: StateOptions | null): SaveStateItem {
    this.options = options;
    return this;
  }

  /** The wire object `{key, value, etag?, metadata?, options?}`. */
  toJson(includeValue: bool = true): string {
    const w = new JsonObjectWriter().string("key", this.key);
    if (includeValue) w.raw("value", this.value);
    w.optString("etag", this.etag).optStringMap("metadata", this.metadata);
    const o = this.options;
    if (o != null) w.raw("options", o.toJson());
    return w.build();
  }
}

/** A state entry read back. */
export class StateEntry {
  constructor(
    /** The key. */
    public readonly key: string,
    /** The stored JSON text, byte for byte (a string comes back with its quotes). */
    public readonly value: string,
    /** The ETag, or `null` if the store sent none. */
    public readonly etag: string | null,
    /** Metadata the sidecar returned (e.g. `ttlExpireTime`). */
    public readonly metadata: Map<string, string>,
  ) {}

  /** The value decoded as a JSON string, or `null` if it is not a JSON string. */
  valueString(): string | null {
    return decodeString(this.value);
  }
}

/** One answer of a bulk get. */
export class BulkStateItem {
  constructor(
    /** The key. */
    public readonly key: string,
    /** The stored JSON text, or `null` if the key does not exist (or failed). */
    public readonly value: string | null,
    /** The ETag, or `null`. */
    public readonly etag: string | null,
    /** Metadata the sidecar returned. */
    public readonly metadata: Map<string, string>,
    /** The per-key error message, or `null`. */
    public readonly error: string | null,
  ) {}

  /** `true` when the key exists. */
  get found(): bool {
    return this.value != null;
  }

  /** The value decoded as a JSON string, or `null`. */
  valueString(): string | null {
    return decodeString(this.value);
  }
}

/** One operation of a state transaction. */
export class StateOperation {
  constructor(
    /** `"upsert"` or `"delete"`. */
    public readonly operation: string,
    /** The entry (for `delete` only key, etag, metadata and options are sent). */
    public readonly request: SaveStateItem,
  ) {}

  /** Upserts `item`. */
  static upsert(item: SaveStateItem): StateOperation {
    return new StateOperation("upsert", item);
  }

  /** Deletes `key` (with an ETag to match, if given). */
  static remove(key: string, etag: string | null = null): StateOperation {
    return new StateOperation("delete", new SaveStateItem(key, "null").withEtag(etag));
  }

  /** `{"operation":..,"request":{..}}`. */
  toJson(): string {
    return new JsonObjectWriter()
      .string("operation", this.operation)
      .raw("request", this.request.toJson(this.operation != "delete"))
      .build();
  }
}

/** The answer of a state query (alpha). */
export class QueryResponse {
  constructor(
    /** The matching entries (`value` = the `data` JSON text). */
    public readonly results: BulkStateItem[],
    /** The pagination token, or `null`. */
    public readonly token: string | null,
  ) {}
}

/**
 * The state calls of `DaprClient` (see there).
 */
export class StateClient extends SidecarClient {

  /**
   * `GET /v1.0/state/{store}/{key}`. `value` is `null` when the key does not exist
   * (204); otherwise the stored JSON text, its ETag and returned metadata.
   *
   * @param store - the state store name
   * @param key - the key
   * @param consistency - one of `Consistency`, or `null` for the store's default
   * @param metadata - sent as `metadata.<k>=<v>` query parameters
   * @returns the entry, or a `null` value when the key does not exist
   */
  getState(
    store: string,
    key: string,
    consistency: string | null = null,
    metadata: Map<string, string> | null = null,
  ): DaprResult<StateEntry> {
    const bad = requireNames2("store", store, "key", key);
    if (bad) return err<StateEntry, DaprError>(bad);
    const u = this.url().raw("v1.0/state").segment(store).segment(key);
    if (consistency != null) u.query("consistency", consistency);
    u.queryMap("metadata.", metadata);
    const r = this.call(Method.GET, u.build());
    if (r.error) return err<StateEntry, DaprError>(r.error!);
    const reply = r.value!;
    if (reply.status == 204) return ok<StateEntry, DaprError>(null);
    return ok<StateEntry, DaprError>(
      new StateEntry(key, reply.text(), reply.header("etag"), metadataFromHeaders(reply.headers)),
    );
  }

  /**
   * Saves one key. `valueJson` is JSON text (use `saveStateString` for a plain
   * string). Succeeds on 204 (and any 2xx).
   *
   * @param store - the state store name
   * @param key - the key
   * @param valueJson - the value as JSON text
   * @param etag - the ETag the write must match, or `null`
   * @param options - concurrency and consistency, or `null`
   * @param metadata - the item's metadata, or `null`
   * @returns `null` on success, else the error
   */
  saveState(
    store: string,
    key: string,
    valueJson: string,
    etag: string | null = null,
    options: StateOptions | null = null,
    metadata: Map<string, string> | null = null,
  ): DaprError | null {
    const item = new SaveStateItem(key, valueJson).withEtag(etag).withOptions(options);
    item.metadata = metadata;
    return this.saveBulkState(store, [item]);
  }

  /**
   * Saves one key whose value is the JSON string `value` (`"Death Star"`).
   *
   * @param store - the state store name
   * @param key - the key
   * @param value - the string to store (sent as a JSON string)
   * @returns `null` on success, else the error
   */
  saveStateString(store: string, key: string, value: string): DaprError | null {
    return this.saveState(store, key, jsonString(value));
  }

  /**
   * `POST /v1.0/state/{store}` with every item in one array.
   *
   * @param store - the state store name
   * @param items - the entries to save
   * @returns `null` on success, else the error (also when an item's key is empty or its value is not JSON)
   */
  saveBulkState(store: string, items: SaveStateItem[]): DaprError | null {
    const bad = requireName("store", store);
    if (bad) return bad;
    const parts = new Array<string>();
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      if (it.key.length == 0) return DaprError.invalidArgument("state key must not be empty");
      if (!isValidJson(it.value)) {
        return DaprError.invalidArgument(
          "the value of key " + it.key + " is not valid JSON text: " + it.value,
        );
      }
      parts.push(it.toJson());
    }
    const u = this.url().raw("v1.0/state").segment(store).build();
    return this.callJson(Method.POST, u, jsonArray(parts)).error;
  }

  /**
   * `POST /v1.0/state/{store}/bulk`. Answers one item per key in key order; a missing
   * key has `value == null`. `parallelism` is sent only when it is positive.
   *
   * @param store - the state store name
   * @param keys - the keys to read
   * @param parallelism - how many keys the sidecar reads at once (0: its default)
   * @param metadata - the `metadata` object of the request, or `null`
   * @returns one item per key
   */
  getBulkState(
    store: string,
    keys: string[],
    parallelism: i32 = 0,
    metadata: Map<string, string> | null = null,
  ): DaprResult<BulkStateItem[]> {
    const bad = requireName("store", store);
    if (bad) return err<BulkStateItem[], DaprError>(bad);
    const w = new JsonObjectWriter().stringArray("keys", keys);
    if (parallelism > 0) w.int("parallelism", parallelism);
    w.optStringMap("metadata", metadata);
    const u = this.url().raw("v1.0/state").segment(store).raw("bulk").build();
    const r = this.callJson(Method.POST, u, w.build());
    if (r.error) return err<BulkStateItem[], DaprError>(r.error!);
    const reply = r.value!;
    const text = reply.text();
    const arr = parseArray(text);
    if (arr == null) {
      return err<BulkStateItem[], DaprError>(
        DaprError.invalidResponse(reply.status, "bulk get answered with no JSON array", text),
      );
    }
    const out = new Array<BulkStateItem>();
    for (let i = 0; i < arr.length; i++) {
      const item = parseBulkItem(arr[i].toString());
      if (item == null) {
        return err<BulkStateItem[], DaprError>(
          DaprError.invalidResponse(reply.status, "bulk get item is not an object", text),
        );
      }
      out.push(item);
    }
    return ok<BulkStateItem[], DaprError>(out);
  }

  /**
   * `DELETE /v1.0/state/{store}/{key}`, with `If-Match: etag` when given, and
   * `concurrency`/`consistency` query parameters from `options`.
   *
   * @param store - the state store name
   * @param key - the key
   * @param etag - sent as `If-Match`, or `null`
   * @param options - sent as `concurrency`/`consistency` query parameters, or `null`
   * @param metadata - sent as `metadata.<k>=<v>` query parameters
   * @returns `null` on success, else the error
   */
  deleteState(
    store: string,
    key: string,
    etag: string | null = null,
    options: StateOptions | null = null,
    metadata: Map<string, string> | null = null,
  ): DaprError | null {
    const bad = requireNames2("store", store, "key", key);
    if (bad) return bad;
    const u = this.url().raw("v1.0/state").segment(store).segment(key);
    if (options != null) {
      const c = options.concurrency;
      if (c != null) u.query("concurrency", c);
      const s = options.consistency;
      if (s != null) u.query("consistency", s);
    }
    u.queryMap("metadata.", metadata);
    return this.call(Method.DELETE, u.build(), null, null, etag).error;
  }

  /**
   * `POST /v1.0/state/{store}/transaction` `{"operations":[..],"metadata"?:{..}}`.
   *
   * @param store - the state store name
   * @param operations - upserts and deletes, applied together
   * @param metadata - the `metadata` object of the request, or `null`
   * @returns `null` on success, else the error
   */
  transactState(
    store: string,
    operations: StateOperation[],
    metadata: Map<string, string> | null = null,
  ): DaprError | null {
    const bad = requireName("store", store);
    if (bad) return bad;
    const ops = new Array<string>();
    for (let i = 0; i < operations.length; i++) {
      const op = operations[i];
      if (op.operation != "delete" && !isValidJson(op.request.value)) {
        return DaprError.invalidArgument(
          "the value of key " + op.request.key + " is not valid JSON text: " + op.request.value,
        );
      }
      ops.push(op.toJson());
    }
    const body = new JsonObjectWriter()
      .raw("operations", jsonArray(ops))
      .optStringMap("metadata", metadata)
      .build();
    const u = this.url().raw("v1.0/state").segment(store).raw("transaction").build();
    return this.callJson(Method.POST, u, body).error;
  }

  /**
   * `POST /v1.0-alpha1/state/{store}/query` with `queryJson`
   * (`{"filter":..,"sort":..,"page":..}`). A 204 is an empty result.
   *
   * @param store - the state store name
   * @param queryJson - the query as JSON text
   * @param metadata - sent as `metadata.<k>=<v>` query parameters
   * @returns the matching entries and the pagination token
   */
  queryState(
    store: string,
    queryJson: string,
    metadata: Map<string, string> | null = null,
  ): DaprResult<QueryResponse> {
    const bad = requireName("store", store);
    if (bad) return err<QueryResponse, DaprError>(bad);
    if (!isValidJson(queryJson)) {
      return err<QueryResponse, DaprError>(
        DaprError.invalidArgument("the query is not valid JSON text: " + queryJson),
      );
    }
    const u = this.url().raw("v1.0-alpha1/state").segment(store).raw("query");
    u.queryMap("metadata.", metadata);
    const r = this.callForJson(Method.POST, u.build(), queryJson);
    if (r.error) return err<QueryResponse, DaprError>(r.error!);
    const a = r.value!;
    if (a.status == 204) {
      return ok<QueryResponse, DaprError>(
        new QueryResponse(new Array<BulkStateItem>(), null),
      );
    }
    const obj = a.obj;
    if (obj == null) {
      return err<QueryResponse, DaprError>(a.invalid("query answered with no JSON object"));
    }
    const results = new Array<BulkStateItem>();
    const arr = memberArray(obj, "results");
    if (arr != null) {
      for (let i = 0; i < arr.length; i++) {
        const item = parseBulkItem(arr[i].toString());
        if (item != null) results.push(item);
      }
    }
    const token = memberString(obj, "token");
    return ok<QueryResponse, DaprError>(
      new QueryResponse(results, token != null && token.length > 0 ? token : null),
    );
  }
}

/** Parses one bulk-get / query item `{"key","data"?,"etag"?,"metadata"?,"error"?}`. */
export function parseBulkItem(text: string): BulkStateItem | null {
  const obj = parseObject(text);
  if (obj == null) return null;
  const key = memberString(obj, "key");
  return new BulkStateItem(
    key != null ? key : "",
    member(obj, "data"),
    memberString(obj, "etag"),
    memberStringMap(obj, "metadata"),
    memberString(obj, "error"),
  );
}
