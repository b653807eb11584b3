"""state-python: the Dapr state walkthrough from a Python WebAssembly component.

Saves a key and reads it back, writes with a current and a stale ETag, saves two more
keys and reads four back in one bulk request, deletes, and reads the deleted key as
missing. The component exports `wasi:cli/run`: componentize-py calls `Run().run()`.
"""

import json
import os
import sys

from componentize_py_types import Err
from wit_world import exports

from dapr_client import Client, DaprError

NAME = "state-python"


def show(data):
    """A stored value's JSON text, or `(not found)`."""
    if data is None:
        return "(not found)"
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return json.dumps(data, separators=(",", ":"))


def walkthrough() -> None:
    store = os.environ.get("STATE_STORE") or "statestore"
    client = Client()
    client.wait_for_sidecar(10)

    # 1. Save and read back. The store keeps the JSON text, quotes included.
    client.save_state(store, [{"key": "weapon", "value": "Death Star"}])
    entry = client.get_state(store, "weapon")
    if entry is None:
        raise RuntimeError("weapon was saved but is missing")
    print(f"get weapon: {show(entry.value)}")

    # 2. Optimistic concurrency: a first-write with the current ETag succeeds and makes
    #    that ETag stale, so a second write with it is refused (409).
    if not entry.etag:
        raise RuntimeError("the store returned no ETag")
    first_write = {"concurrency": "first-write"}
    item = {"key": "weapon", "value": "Death Star II", "etag": entry.etag, "options": first_write}
    client.save_state(store, [item])
    print("save with current etag: ok")
    try:
        client.save_state(store, [dict(item, value="Starkiller Base")])
        raise RuntimeError("a write with a stale ETag succeeded")
    except DaprError as error:
        if not error.is_etag_mismatch():
            raise
        print("save with stale etag: etag mismatch")

    # 3. Bulk: two more keys in one save, four read back in one request (one never existed).
    client.save_state(
        store,
        [
            {"key": "planets", "value": {"name": "Tatooine", "test": 123}},
            {"key": "droid", "value": "R2-D2"},
        ],
    )
    for item in client.get_bulk_state(store, ["weapon", "planets", "droid", "missing"]):
        print(f"bulk {item['key']}: {show(item.get('data'))}")

    # 4. Delete, then the key reads as missing (204).
    for key in ["weapon", "planets", "droid"]:
        client.delete_state(store, key)
    after = client.get_state(store, "weapon")
    print(f"after delete: weapon {show(None if after is None else after.value)}")
    print(f"{NAME}: done")


class Run(exports.Run):
    """The `wasi:cli/run` export."""

    def run(self) -> None:
        try:
            walkthrough()
        except Exception as error:  # every failure ends the same way: a line and exit 1
            sys.stdout.flush()
            print(f"{NAME} failed: {error}", file=sys.stderr)
            sys.stderr.flush()
            raise Err(None)
