/**
 * Publish and subscribe, the outbound half: publish one event (JSON, text, bytes or a
 * whole CloudEvent) or many at once (bulk publish, stable since Dapr 1.17). The inbound
 * half is `App.subscribe` / `App.subscribeBulk`.
 *
 * @packageDocumentation
 */

import { Method, stringToBytes } from "../http";
import { ok, err } from "../result";
import { JsonObjectWriter, isValidJson, jsonArray, jsonString, memberArray, memberString, parseObject } from "../json";
import { encodeBase64 } from "../base64";
import { DaprError, DaprResult } from "./error";
import { requireNames2 } from "./client";
import { StateClient } from "./state";

/**
 * Options of a publish: metadata sent as `metadata.<k>=<v>` query parameters.
 * Default: no metadata.
 */
export class PublishOptions {
  /** `metadata.<k>` query parameters, in insertion order. */
  metadata: Map<string, string> = new Map<string, string>();

  /** Adds `metadata.<key>=<value>`. */
  with(key: string, value: string): PublishOptions {
    this.metadata.set(key, value);
    return this;
  }

  /** `metadata.rawPayload=true|false`: publish the body without a CloudEvent envelope. */
  rawPayload(raw: bool = true): PublishOptions {
    return this.with("rawPayload", raw ? "true" : "false");
  }

  /** `metadata.ttlInSeconds=N`. */
  ttlInSeconds(seconds: i32): PublishOptions {
    return this.with("ttlInSeconds", seconds.toString());
  }

  /** `metadata.cloudevent.<field>=<value>` (id, source, type, subject). */
  cloudEvent(field: string, value: string): PublishOptions {
    return this.with("cloudevent." + field, value);
  }
}

/** One entry of a bulk publish: `{"entryId","event","contentType","metadata"?}`. */
export class BulkPublishEntry {
  /** Per-entry metadata, or `null`. */
  metadata: Map<string, string> | null = null;

  constructor(
    /** Unique id of the entry within the call. */
    public readonly entryId: string,
    /** The event as JSON text (a string for text, base64 string for bytes). */
    public readonly eventJson: string,
    /** The content type of the event. */
    public readonly contentType: string,
  ) {}

  /** A JSON event (`application/json`). */
  static json(entryId: string, json: string): BulkPublishEntry {
    return new BulkPublishEntry(entryId, json, "application/json");
  }

  /** A text event (`text/plain`). */
  static text(entryId: string, text: string): BulkPublishEntry {
    return new BulkPublishEntry(entryId, jsonString(text), "text/plain");
  }

  /** A binary event (`application/octet-stream`, base64 on the wire). */
  static bytes(entryId: string, data: Uint8Array): BulkPublishEntry {
    return new BulkPublishEntry(entryId, jsonString(encodeBase64(data)), "application/octet-stream");
  }

  /** A whole CloudEvent (`application/cloudevents+json`), JSON text. */
  static cloudEvent(entryId: string, json: string): BulkPublishEntry {
    return new BulkPublishEntry(entryId, json, "application/cloudevents+json");
  }

  /**
   * Adds entry metadata `key` = `value` (e.g. `ttlInSeconds`). daprd merges the call's
   * `metadata.*` query parameters only into entries that have a `metadata` object.
   */
  with(key: string, value: string): BulkPublishEntry {
    let m = this.metadata;
    if (m == null) {
      m = new Map<string, string>();
      this.metadata = m;
    }
    m.set(key, value);
    return this;
  }

  /** `{"entryId","event","contentType","metadata"?}`. */
  toJson(): string {
    return new JsonObjectWriter()
      .string("entryId", this.entryId)
      .raw("event", this.eventJson)
      .string("contentType", this.contentType)
      .optStringMap("metadata", this.metadata)
      .build();
  }
}

/** One failed entry of a bulk publish. */
export class FailedEntry {
  constructor(
    /** The `entryId` of the entry that was not published. */
    public readonly entryId: string,
    /** Why, as the sidecar said it (`"failed"` if it did not: daprd omits a nil error). */
    public readonly error: string,
    /** The HTTP status of the answer that listed it (500 from daprd). */
    public readonly status: u16 = 500,
  ) {}
}

/**
 * The publish calls of `DaprClient` (see there).
 */
export class PubSubClient extends StateClient {

  /**
   * `POST /v1.0/publish/{pubsub}/{topic}` with `body` and `contentType` (which decides
   * how daprd wraps it in a CloudEvent). `topic` may contain `/`.
   *
   * @param pubsub - the pub/sub component name
   * @param topic - the topic
   * @param body - the event bytes
   * @param contentType - the event's content type
   * @param options - `metadata.<k>` query parameters, or `null`
   * @returns `null` once the sidecar accepted the event, else the error
   */
  publish(
    pubsub: string,
    topic: string,
    body: Uint8Array,
    contentType: string,
    options: PublishOptions | null = null,
  ): DaprError | null {
    const bad = requireNames2("pubsub", pubsub, "topic", topic);
    if (bad) return bad;
    const u = this.url().raw("v1.0/publish").segment(pubsub).path(topic);
    if (options != null) u.queryMap("metadata.", options.metadata);
    return this.call(Method.POST, u.build(), body, contentType).error;
  }

  /** Publishes JSON text (`application/json`; the event's `data` is the JSON value). */
  publishJson(
    pubsub: string,
    topic: string,
    json: string,
    options: PublishOptions | null = null,
  ): DaprError | null {
    if (!isValidJson(json)) {
      return DaprError.invalidArgument("the event is not valid JSON text: " + json);
    }
    return this.publish(pubsub, topic, stringToBytes(json), "application/json", options);
  }

  /** Publishes text (`text/plain`; the event's `data` is the string). */
  publishText(
    pubsub: string,
    topic: string,
    text: string,
    options: PublishOptions | null = null,
  ): DaprError | null {
    return this.publish(pubsub, topic, stringToBytes(text), "text/plain", options);
  }

  /** Publishes bytes (`application/octet-stream`; the event carries `data_base64`). */
  publishBytes(
    pubsub: string,
    topic: string,
    bytes: Uint8Array,
    options: PublishOptions | null = null,
  ): DaprError | null {
    return this.publish(pubsub, topic, bytes, "application/octet-stream", options);
  }

  /** Publishes a complete CloudEvent (`application/cloudevents+json`). */
  publishCloudEvent(
    pubsub: string,
    topic: string,
    eventJson: string,
    options: PublishOptions | null = null,
  ): DaprError | null {
    if (!isValidJson(eventJson)) {
      return DaprError.invalidArgument("the CloudEvent is not valid JSON text: " + eventJson);
    }
    return this.publish(
      pubsub,
      topic,
      stringToBytes(eventJson),
      "application/cloudevents+json",
      options,
    );
  }

  /**
   * `POST /v1.0/publish/bulk/{pubsub}/{topic}` (the stable path of Dapr 1.17+; the
   * `/v1.0-alpha1` one is the same handler). Answers the failed entries (empty when all
   * were published: 204). A broker failure (500
   * `{"failedEntries":[{"entryId","error"}],"errorCode":"ERR_PUBSUB_PUBLISH_MESSAGE"}`)
   * is reported as its failures, not as an error; any other error answer (400
   * `ERR_PUBSUB_EVENTS_SER` for a bad entry, 403, 404 ...) is a `DaprError`.
   *
   * @param pubsub - the pub/sub component name
   * @param topic - the topic
   * @param entries - the events, each with a unique `entryId`
   * @param metadata - sent as `metadata.<k>=<v>` query parameters
   * @returns the entries that were not published (empty: all were)
   */
  bulkPublish(
    pubsub: string,
    topic: string,
    entries: BulkPublishEntry[],
    metadata: Map<string, string> | null = null,
  ): DaprResult<FailedEntry[]> {
    const bad = requireNames2("pubsub", pubsub, "topic", topic);
    if (bad) return err<FailedEntry[], DaprError>(bad);
    const parts = new Array<string>();
    for (let i = 0; i < entries.length; i++) {
      if (!isValidJson(entries[i].eventJson)) {
        return err<FailedEntry[], DaprError>(
          DaprError.invalidArgument("entry " + entries[i].entryId + " is not valid JSON text"),
        );
      }
      parts.push(entries[i].toJson());
    }
    const u = this.url().raw("v1.0/publish/bulk").segment(pubsub).path(topic);
    u.queryMap("metadata.", metadata);
    const r = this.request(Method.POST, u.build(), stringToBytes(jsonArray(parts)), "application/json");
    if (r.error) return err<FailedEntry[], DaprError>(r.error!);
    const reply = r.value!;
    const failures = new Array<FailedEntry>();
    if (reply.isSuccess) return ok<FailedEntry[], DaprError>(failures);
    const text = reply.text();
    const obj = parseObject(text);
    const arr = obj != null ? memberArray(obj, "failedEntries") : null;
    if (arr == null || arr.length == 0) {
      return err<FailedEntry[], DaprError>(
        DaprError.fromResponse(reply.status, text, "bulk publish"),
      );
    }
    for (let i = 0; i < arr.length; i++) {
      const f = parseObject(arr[i].toString());
      if (f == null) continue;
      const id = memberString(f, "entryId");
      const e = memberString(f, "error");
      failures.push(new FailedEntry(id != null ? id : "", e != null ? e : "failed", reply.status));
    }
    return ok<FailedEntry[], DaprError>(failures);
  }

}
