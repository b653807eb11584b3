/**
 * pubsub-as subscriber: served by `wasi-dapr serve`, subscribes to `orders` on pubsub
 * `pubsub` and logs each order to stderr (the host prints it as `guest: ...`). An order
 * marked `invalid` is dropped (to the dead-letter topic `orders-dead`), one marked `flaky`
 * asks for a retry on its first delivery, every other order succeeds.
 *
 * @packageDocumentation
 */

import {
  App,
  DaprClient,
  SubscribeOptions,
  TopicEvent,
  TopicResult,
  logLine,
  member,
  memberString,
} from "../../as-sdk/assembly/index";

/** Every request runs a fresh instance, so the flaky order's first attempt is remembered in state. */
const STATE_STORE = "statestore";

function onOrder(event: TopicEvent): TopicResult {
  const order = event.dataObject();
  if (order == null) {
    logLine("not an order (" + event.datacontenttype + "): " + event.text() + " -> DROP");
    return TopicResult.Drop;
  }
  const id = member(order, "orderId");
  const item = memberString(order, "item");
  const quantity = member(order, "quantity");
  const what =
    "order " + (id != null ? id : "?") + ": " + (quantity != null ? quantity : "1") + " x " +
    (item != null ? item : "?") + " (" + event.pubsubname + "/" + event.topic + ", " + event.datacontenttype + ")";

  if (member(order, "invalid") == "true") {
    logLine(what + " -> DROP (invalid)");
    return TopicResult.Drop;
  }
  if (member(order, "flaky") == "true") {
    const dapr = new DaprClient();
    const key = "pubsub-as-attempted-" + event.id;
    const seen = dapr.getState(STATE_STORE, key);
    if (seen.error != null) {
      logLine(what + " -> RETRY (state store: " + seen.error!.toString() + ")");
      return TopicResult.Retry;
    }
    if (seen.value == null) {
      const e = dapr.saveState(STATE_STORE, key, "true");
      logLine(what + " -> RETRY (flaky, first attempt)" + (e != null ? "; saving state failed: " + e.toString() : ""));
      return TopicResult.Retry;
    }
    logLine(what + " -> SUCCESS (flaky, second attempt)");
    return TopicResult.Success;
  }
  logLine(what + " -> SUCCESS");
  return TopicResult.Success;
}

function onDeadLetter(event: TopicEvent): TopicResult {
  logLine("dead letter: " + event.text());
  return TopicResult.Success;
}

new App()
  .subscribe("pubsub", "orders", "/orders", onOrder, new SubscribeOptions().deadLetterTopic("orders-dead"))
  .subscribe("pubsub", "orders-dead", "/orders-dead", onDeadLetter)
  .run();
