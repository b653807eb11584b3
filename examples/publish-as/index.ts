/**
 * publish-as: publishing to Dapr pub/sub from AssemblyScript: JSON, text, bytes,
 * a raw payload with a TTL, and a complete CloudEvent.
 *
 * @packageDocumentation
 */

import { DaprClient, PublishOptions, getEnv, stringToBytes } from "../../as-sdk/assembly/index";

function main(): i32 {
  const envPubsub = getEnv("PUBSUB_NAME");
  const pubsub = envPubsub != null && envPubsub.length > 0 ? envPubsub : "pubsub";
  const topic = "orders";
  const dapr = new DaprClient();
  console.log("sidecar: " + dapr.endpoint + ", pubsub: " + pubsub + ", topic: " + topic);

  const ready = dapr.waitForSidecar(10_000);
  if (ready != null) {
    console.log("sidecar not ready: " + ready.toString());
    return 1;
  }

  // JSON: daprd wraps it in a CloudEvent whose `data` is the object.
  let e = dapr.publishJson(pubsub, topic, '{"orderId":1,"item":"lightsaber"}');
  if (e != null) return fail("json", e.toString());
  console.log("published JSON order 1");

  // Text: `data` is the string.
  e = dapr.publishText(pubsub, topic, "order 2: blaster");
  if (e != null) return fail("text", e.toString());
  console.log("published text order 2");

  // Bytes: the CloudEvent carries them as `data_base64`.
  e = dapr.publishBytes(pubsub, topic, stringToBytes("order 3"));
  if (e != null) return fail("bytes", e.toString());
  console.log("published 7 bytes");

  // Metadata: no CloudEvent envelope, and a TTL (metadata.rawPayload, metadata.ttlInSeconds).
  const raw = new PublishOptions().rawPayload().ttlInSeconds(60);
  e = dapr.publishJson(pubsub, topic, '{"orderId":4}', raw);
  if (e != null) return fail("raw", e.toString());
  console.log("published raw order 4 with a 60 s TTL");

  // A complete CloudEvent, sent as application/cloudevents+json.
  e = dapr.publishCloudEvent(
    pubsub,
    topic,
    '{"specversion":"1.0","id":"order-5","source":"publish-as","type":"com.example.order","datacontenttype":"application/json","data":{"orderId":5}}',
  );
  if (e != null) return fail("cloudevent", e.toString());
  console.log("published CloudEvent order-5");

  // Errors are values: an unknown pub/sub is a typed Dapr error.
  e = dapr.publishText("no-such-pubsub", topic, "lost");
  if (e == null) return fail("unknown pubsub", "was accepted");
  console.log("unknown pubsub: " + e.status.toString() + " " + (e.errorCode != null ? e.errorCode! : "(no code)"));
  return 0;
}

function fail(what: string, why: string): i32 {
  console.log("publishing " + what + " failed: " + why);
  return 1;
}

process.exit(main());
