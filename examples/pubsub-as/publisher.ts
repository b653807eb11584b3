/**
 * pubsub-as publisher: publishes five JSON orders to pubsub `pubsub`, topic `orders`,
 * for the subscriber served by `wasi-dapr serve` (subscriber.ts). Run with `wasi-dapr run`.
 *
 * @packageDocumentation
 */

import { DaprClient, getEnv, nowMillis, sleepMillis } from "../../as-sdk/assembly/index";

// Order 3 is marked invalid (the subscriber drops it), order 4 flaky (retried once).
const ORDERS: string[] = [
  '{"orderId":1,"item":"lightsaber","quantity":1}',
  '{"orderId":2,"item":"blaster","quantity":2}',
  '{"orderId":3,"item":"thermal detonator","quantity":1,"invalid":true}',
  '{"orderId":4,"item":"astromech droid","quantity":1,"flaky":true}',
  '{"orderId":5,"item":"x-wing","quantity":3}',
];

function main(): i32 {
  const envPubsub = getEnv("PUBSUB_NAME");
  const pubsub = envPubsub != null && envPubsub.length > 0 ? envPubsub : "pubsub";
  const topic = "orders";
  const dapr = new DaprClient();
  console.log("sidecar: " + dapr.endpoint + ", pubsub: " + pubsub + ", topic: " + topic);

  // /v1.0/healthz answers 204 once the sidecar has the app's subscriptions, so nothing
  // published below is lost for want of a subscriber.
  const deadline = nowMillis() + 15_000;
  let ready = dapr.healthz();
  while (ready != null && nowMillis() < deadline) {
    sleepMillis(200);
    ready = dapr.healthz();
  }
  if (ready != null) {
    console.log("sidecar not ready: " + ready.toString());
    return 1;
  }

  for (let i = 0; i < ORDERS.length; i++) {
    const e = dapr.publishJson(pubsub, topic, ORDERS[i]);
    if (e != null) {
      console.log("publishing " + ORDERS[i] + " failed: " + e.toString());
      return 1;
    }
    console.log("published " + ORDERS[i]);
  }
  return 0;
}

process.exit(main());
