"""pubsub-python: a Python `wasi:http/proxy` component subscribed to Dapr pub/sub.

Served beside the sidecar (`--app-port`), it answers `GET /dapr/subscribe` with one
subscription, pub/sub `pubsub` topic `orders` (or the `PUBSUB_NAME` and `TOPIC`
variables) delivered to `POST /orders`, and logs one line per message to stderr.
"""

import json
import os

from wit_world import exports

from dapr_app import App, log


def on_order(event: dict) -> str:
    """Logs the order in a CloudEvent and accepts it."""
    data = event.get("data")
    if isinstance(data, dict) and "orderId" in data:
        line = f"order {data['orderId']}: {data.get('quantity')} x {data.get('item')}"
    else:
        line = f"message: {json.dumps(data, separators=(',', ':'))}"
    log(f"pubsub-python: {line} (topic {event.get('topic')}), SUCCESS")
    return "SUCCESS"


def app() -> App:
    subscriber = App()
    pubsub = os.environ.get("PUBSUB_NAME") or "pubsub"
    topic = os.environ.get("TOPIC") or "orders"
    subscriber.subscribe(pubsub, topic, "/orders", on_order)
    return subscriber


class IncomingHandler(exports.IncomingHandler):
    """The `wasi:http/incoming-handler` export: one call per request."""

    def handle(self, request, response_out) -> None:
        app().handle(request, response_out)
