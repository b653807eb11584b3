/**
 * bulk-subscriber-as subscriber: served by `wasi-dapr serve`, a bulk subscription to
 * `orders` on pubsub `pubsub` (batches of up to 10 messages, or what arrived within
 * 500 ms). Each batch is one request; the handler logs it and answers one status per
 * entry: an order marked `invalid` is dropped (to the dead-letter topic `orders-dead`),
 * every other succeeds.
 *
 * @packageDocumentation
 */

import {
  App,
  BulkMessage,
  BulkSubscribeOptions,
  SubscribeOptions,
  TopicEvent,
  TopicResult,
  logLine,
  member,
  memberString,
} from "../../as-sdk/assembly/index";

function onOrders(batch: BulkMessage): TopicResult[] {
  logLine("batch of " + batch.entries.length.toString() + " from " + batch.pubsubname + "/" + batch.topic);
  const results = new Array<TopicResult>();
  for (let i = 0; i < batch.entries.length; i++) {
    const entry = batch.entries[i];
    const order = entry.dataObject();
    if (order == null) {
      logLine("not an order (" + entry.contentType + "): " + entry.text() + " -> DROP");
      results.push(TopicResult.Drop);
      continue;
    }
    const id = member(order, "orderId");
    const item = memberString(order, "item");
    const what = "order " + (id != null ? id : "?") + ": " + (item != null ? item : "?");
    if (member(order, "invalid") == "true") {
      logLine(what + " -> DROP (invalid)");
      results.push(TopicResult.Drop);
    } else {
      logLine(what + " -> SUCCESS");
      results.push(TopicResult.Success);
    }
  }
  return results;
}

function onDeadLetter(event: TopicEvent): TopicResult {
  logLine("dead letter: " + event.text());
  return TopicResult.Success;
}

new App()
  .subscribeBulk(
    "pubsub",
    "orders",
    "/orders",
    onOrders,
    new BulkSubscribeOptions(10, 500),
    new SubscribeOptions().deadLetterTopic("orders-dead"),
  )
  .subscribe("pubsub", "orders-dead", "/orders-dead", onDeadLetter)
  .run();
