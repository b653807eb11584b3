"""The app side of Dapr pub/sub for a Python `wasi:http/proxy` component (componentize-py).

The sidecar calls the app: `GET /dapr/subscribe` once at start (answered with the
subscription list), then one `POST <route>` per message with the CloudEvent as the
body (answered with `{"status": "SUCCESS" | "RETRY" | "DROP"}`). `App.handle` turns a
`wasi:http` incoming request into those two cases; everything else is a 404. Each
request runs in a fresh instance, so an `App` keeps no state between messages.
"""

import json
import sys
from typing import Callable, Dict, List

from componentize_py_types import Err, Ok
from wit_world.imports import streams
from wit_world.imports import types as http

_WRITE_CHUNK = 4096  # the most one blocking write on a wasi:io output stream takes
_READ_CHUNK = 64 * 1024
MAX_BODY = 4 * 1024 * 1024  # a CloudEvent larger than this is refused with 413

# A message handler gets the decoded CloudEvent and answers SUCCESS, RETRY or DROP.
Handler = Callable[[dict], str]


def log(line: str) -> None:
    """One line to stderr (the host's log), flushed at once."""
    print(line, file=sys.stderr, flush=True)


def _read_body(request: http.IncomingRequest) -> bytes:
    incoming = request.consume()
    chunks, size = [], 0
    with incoming.stream() as stream:
        while True:
            try:
                chunk = stream.blocking_read(_READ_CHUNK)
            except Err as error:
                if isinstance(error.value, streams.StreamError_Closed):
                    break
                raise OSError("reading the request body failed") from None
            size += len(chunk)
            if size > MAX_BODY:
                raise ValueError("request body too large")
            chunks.append(chunk)
    with http.IncomingBody.finish(incoming):
        pass
    return b"".join(chunks)


def respond(response_out: http.ResponseOutparam, status: int, body: bytes, content_type: str) -> None:
    """Sends the whole answer: status, one content-type header and the body."""
    fields = http.Fields.from_list([("content-type", content_type.encode())])
    response = http.OutgoingResponse(fields)
    response.set_status_code(status)
    outgoing = response.body()
    http.ResponseOutparam.set(response_out, Ok(response))
    with outgoing.write() as stream:
        for start in range(0, len(body), _WRITE_CHUNK):
            stream.blocking_write_and_flush(body[start : start + _WRITE_CHUNK])
    http.OutgoingBody.finish(outgoing, None)


def respond_json(response_out: http.ResponseOutparam, status: int, value) -> None:
    respond(response_out, status, json.dumps(value, separators=(",", ":")).encode(), "application/json")


class App:
    """Subscriptions and their handlers: `subscribe(pubsub, topic, route, handler)`."""

    def __init__(self) -> None:
        self.subscriptions: List[dict] = []
        self.routes: Dict[str, Handler] = {}

    def subscribe(self, pubsub: str, topic: str, route: str, handler: Handler) -> None:
        self.subscriptions.append({"pubsubname": pubsub, "topic": topic, "route": route})
        self.routes[route] = handler

    def handle(self, request: http.IncomingRequest, response_out: http.ResponseOutparam) -> None:
        """Answers one request from the sidecar (or anyone else: unknown paths get 404)."""
        path = (request.path_with_query() or "/").split("?", 1)[0]
        method = request.method()
        if isinstance(method, http.Method_Get) and path == "/dapr/subscribe":
            respond_json(response_out, 200, self.subscriptions)
            return
        handler = self.routes.get(path)
        if handler is None or not isinstance(method, http.Method_Post):
            respond(response_out, 404, b"not found\n", "text/plain")
            return
        try:
            event = json.loads(_read_body(request))
            if not isinstance(event, dict):
                raise ValueError("not a JSON object")
        except ValueError as error:
            # A body that is not a CloudEvent will not get better on redelivery.
            log(f"{path}: not a CloudEvent ({error}), DROP")
            respond_json(response_out, 200, {"status": "DROP"})
            return
        try:
            status = handler(event)
        except Exception as error:  # a failing handler asks for a redelivery
            log(f"{path}: handler failed ({error}), RETRY")
            status = "RETRY"
        respond_json(response_out, 200, {"status": status})
