"""A small Dapr HTTP client for Python WebAssembly components (componentize-py).

It talks to the Dapr sidecar with plain `wasi:http/outgoing-handler` requests, made
blocking: send the request, write the body, wait on the response's pollable, read the
body to its end. Only the calls the examples use are here (state: save, get, bulk
get, delete; health). Wire format: Dapr's HTTP API v1.0.

Sidecar address, in this order: `DAPR_HTTP_ENDPOINT` (a full `http://host:port`),
else `http://127.0.0.1:$DAPR_HTTP_PORT`, else `http://127.0.0.1:3500`. When
`DAPR_API_TOKEN` is set it is sent as the `dapr-api-token` header.
"""

import json
import os
import time
from dataclasses import dataclass
from typing import Any, List, Optional, Tuple
from urllib.parse import quote, urlsplit

from componentize_py_types import Err, Ok
from wit_world.imports import outgoing_handler, streams
from wit_world.imports import wasi_http_types as http

# wasi:io output streams accept at most 4096 bytes per blocking write.
_WRITE_CHUNK = 4096
_READ_CHUNK = 64 * 1024


class DaprError(Exception):
    """The sidecar answered with an error status (or could not be reached: status 0)."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"dapr error {status} {code}: {message}" if status else message)
        self.status = status
        self.code = code
        self.message = message

    def is_etag_mismatch(self) -> bool:
        """A write or delete refused because its ETag is stale (409)."""
        return self.status == 409


@dataclass
class Response:
    """One HTTP answer, read to its end."""

    status: int
    headers: List[Tuple[str, bytes]]
    body: bytes

    def header(self, name: str) -> Optional[str]:
        """The first value of a header, compared case-insensitively."""
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value.decode("latin-1")
        return None


@dataclass
class StateEntry:
    """A stored value (its JSON text, as bytes) and its ETag."""

    value: bytes
    etag: Optional[str]


_METHODS = {
    "GET": http.Method_Get(),
    "POST": http.Method_Post(),
    "PUT": http.Method_Put(),
    "DELETE": http.Method_Delete(),
}


def _describe(code) -> str:
    """`ConnectionRefused`, `DnsError(...)`: a wasi:http error-code case without its prefix."""
    name = type(code).__name__.removeprefix("ErrorCode_")
    value = getattr(code, "value", None)
    return f"{name}({value})" if value is not None else name


def send(method: str, url: str, headers: List[Tuple[str, str]], body: Optional[bytes]) -> Response:
    """Sends one request over wasi:http and blocks until the whole answer is read.

    Raises DaprError(0, ...) when the request cannot be made or gets no answer (the
    wasi:http error code is in the message, e.g. ConnectionRefused, or HttpRequestDenied
    when the host's allowlist refuses the destination).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DaprError(0, "", f"not an http(s) URL: {url!r}")
    fields = http.Fields.from_list([(k, v.encode("latin-1")) for k, v in headers])
    request = http.OutgoingRequest(fields)
    request.set_method(_METHODS[method])
    request.set_scheme(http.Scheme_Https() if parts.scheme == "https" else http.Scheme_Http())
    request.set_authority(parts.netloc)
    request.set_path_with_query(parts.path + ("?" + parts.query if parts.query else "") or "/")
    outgoing = request.body()
    try:
        future = outgoing_handler.handle(request, None)
    except Err as error:
        raise DaprError(0, "", f"request to {url} failed: {_describe(error.value)}") from None
    # The body stream is a child of the body: drop it (end of `with`) before finishing.
    with outgoing.write() as stream:
        data = body or b""
        for start in range(0, len(data), _WRITE_CHUNK):
            stream.blocking_write_and_flush(data[start : start + _WRITE_CHUNK])
    http.OutgoingBody.finish(outgoing, None)

    with future:
        with future.subscribe() as ready:
            ready.block()
        answer = future.get()
    if answer is None or isinstance(answer, Err):
        raise DaprError(0, "", f"request to {url} failed: no response")
    if isinstance(answer.value, Err):
        raise DaprError(0, "", f"request to {url} failed: {_describe(answer.value.value)}")
    with answer.value.value as response:
        status = response.status()
        with response.headers() as fields:
            entries = fields.entries()
        incoming = response.consume()
        chunks = []
        with incoming.stream() as stream:
            while True:
                try:
                    chunks.append(stream.blocking_read(_READ_CHUNK))
                except Err as error:
                    if isinstance(error.value, streams.StreamError_Closed):
                        break
                    raise DaprError(0, "", f"reading the answer from {url} failed") from None
        with http.IncomingBody.finish(incoming):
            pass
    return Response(status, entries, b"".join(chunks))


def endpoint_from_env() -> str:
    """The sidecar's base URL: DAPR_HTTP_ENDPOINT, DAPR_HTTP_PORT, or port 3500."""
    endpoint = os.environ.get("DAPR_HTTP_ENDPOINT", "").strip()
    if endpoint:
        return endpoint.rstrip("/")
    port = os.environ.get("DAPR_HTTP_PORT", "").strip() or "3500"
    return f"http://127.0.0.1:{port}"


def _segment(text: str) -> str:
    return quote(text, safe="")


class Client:
    """Dapr's HTTP API, one blocking call per method."""

    def __init__(self, endpoint: Optional[str] = None):
        self.endpoint = endpoint or endpoint_from_env()
        self.token = os.environ.get("DAPR_API_TOKEN") or None

    def call(self, method: str, path: str, body: Any = None, headers=()) -> Response:
        """Sends `body` (JSON-encoded unless bytes) to the sidecar; raises DaprError on a
        status of 400 or more, decoding Dapr's `{"errorCode","message"}` when present."""
        sent = [("content-type", "application/json")] if body is not None else []
        sent += list(headers)
        if self.token:
            sent.append(("dapr-api-token", self.token))
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body, separators=(",", ":")).encode()
        response = send(method, self.endpoint + path, sent, body)
        if response.status >= 400:
            code, message = "", response.body.decode("utf-8", "replace")
            try:
                decoded = json.loads(response.body)
                code = decoded.get("errorCode", "")
                message = decoded.get("message", message)
            except (ValueError, AttributeError):
                pass
            raise DaprError(response.status, code, message)
        return response

    def wait_for_sidecar(self, timeout_s: float = 10.0) -> None:
        """Polls `GET /v1.0/healthz/outbound` until it answers 2xx or the time is up."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.call("GET", "/v1.0/healthz/outbound")
                return
            except DaprError as error:
                if time.monotonic() >= deadline:
                    raise DaprError(0, "", f"no Dapr sidecar at {self.endpoint}: {error}") from None
            time.sleep(0.1)

    def save_state(self, store: str, items: List[dict]) -> None:
        """Saves `[{"key", "value", "etag"?, "options"?}, ...]` in one request."""
        self.call("POST", f"/v1.0/state/{_segment(store)}", items)

    def get_state(self, store: str, key: str) -> Optional[StateEntry]:
        """The stored JSON text and ETag of `key`, or None when it does not exist (204)."""
        response = self.call("GET", f"/v1.0/state/{_segment(store)}/{_segment(key)}")
        if response.status == 204:
            return None
        return StateEntry(response.body, response.header("etag"))

    def get_bulk_state(self, store: str, keys: List[str]) -> List[dict]:
        """One `{"key", "data"?, "etag"?}` per key, in key order; no `data` = missing."""
        response = self.call("POST", f"/v1.0/state/{_segment(store)}/bulk", {"keys": keys})
        return json.loads(response.body)

    def delete_state(self, store: str, key: str, etag: Optional[str] = None) -> None:
        """Deletes `key` (a missing key is not an error); with `etag`, only if it matches."""
        headers = [("if-match", etag)] if etag else []
        self.call("DELETE", f"/v1.0/state/{_segment(store)}/{_segment(key)}", headers=headers)
