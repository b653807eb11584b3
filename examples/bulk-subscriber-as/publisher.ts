/**
 * bulk-subscriber-as publisher: run once by `wasi-dapr run`; waits for the sidecar,
 * then publishes five orders to `pubsub/orders` in ONE bulk publish call (the stable
 * `/v1.0/publish/bulk` API) and prints what it sent.
 *
 * @packageDocumentation
 */

import { BulkPublishEntry, DaprClient, getEnv } from "../../as-sdk/assembly/index";

const ORDERS = [
  '{"orderId":1,"item":"lightsaber"}',
  '{"orderId":2,"item":"blaster"}',
  '{"orderId":3,"item":"thermal detonator","invalid":true}',
  '{"orderId":4,"item":"astromech droid"}',
  '{"orderId":5,"item":"x-wing"}',
];

function main(): i32 {
  const dapr = new DaprClient();
  const env = getEnv("PUBSUB_NAME");
  const pubsub = env != null && env.length > 0 ? env : "pubsub";
  console.log("sidecar: " + dapr.endpoint + ", pubsub: " + pubsub + ", topic: orders");
  const ready = dapr.waitForSidecar(10_000);
  if (ready != null) {
    console.log("sidecar not ready: " + ready.toString());
    return 1;
  }
  const entries = new Array<BulkPublishEntry>();
  for (let i = 0; i < ORDERS.length; i++) entries.push(BulkPublishEntry.json("order-" + (i + 1).toString(), ORDERS[i]));
  const r = dapr.bulkPublish(pubsub, "orders", entries);
  if (r.error != null) {
    console.log("bulk publish failed: " + r.error!.toString());
    return 1;
  }
  const failed = r.value!;
  for (let i = 0; i < failed.length; i++) console.log("failed " + failed[i].entryId + ": " + failed[i].error);
  for (let i = 0; i < ORDERS.length; i++) console.log("published order-" + (i + 1).toString() + " " + ORDERS[i]);
  console.log(entries.length.toString() + " entries in one call, " + failed.length.toString() + " failed");
  return failed.length > 0 ? 1 : 0;
}

process.exit(main());
