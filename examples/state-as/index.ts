/**
 * state-as: Dapr state from AssemblyScript: save, read with ETag, optimistic
 * concurrency, a transaction, bulk get, delete with If-Match.
 *
 * @packageDocumentation
 */

import {
  Concurrency,
  DaprClient,
  SaveStateItem,
  StateOptions,
  StateOperation,
  getEnv,
} from "../../as-sdk/assembly/index";

function main(): i32 {
  const envStore = getEnv("STATE_STORE");
  const store = envStore != null && envStore.length > 0 ? envStore : "statestore";
  const dapr = new DaprClient();
  console.log("sidecar: " + dapr.endpoint + ", store: " + store);

  // Wait until the sidecar answers (it may still be starting).
  const ready = dapr.waitForSidecar(10_000);
  if (ready != null) {
    console.log("sidecar not ready: " + ready.toString());
    return 1;
  }

  // 1. Save a string and an object. Values are JSON text.
  let e = dapr.saveStateString(store, "weapon", "Death Star");
  if (e != null) return fail("save weapon", e.toString());
  e = dapr.saveState(store, "planet", '{"name":"Tatooine","suns":2}');
  if (e != null) return fail("save planet", e.toString());
  console.log("saved weapon and planet");

  // 2. Read one back, with its ETag.
  const got = dapr.getState(store, "planet");
  if (got.error != null) return fail("get planet", got.error!.toString());
  const planet = got.value;
  if (planet == null) return fail("get planet", "missing");
  console.log("planet = " + planet.value + " (etag: " + (planet.etag != null ? "yes" : "no") + ")");

  // 3. Update with that ETag (first-write wins), then try again with the stale one.
  const first = new StateOptions(Concurrency.FirstWrite);
  e = dapr.saveState(store, "planet", '{"name":"Tatooine","suns":3}', planet.etag, first);
  if (e != null) return fail("update planet", e.toString());
  console.log("updated planet with its etag");
  e = dapr.saveState(store, "planet", '{"name":"Hoth"}', planet.etag, first);
  if (e == null) return fail("stale update", "was accepted");
  console.log("stale etag refused: " + (e.isEtagMismatch() ? "etag mismatch" : e.toString()));

  // 4. A transaction: upsert one key, delete another.
  e = dapr.transactState(store, [
    StateOperation.upsert(SaveStateItem.ofString("droid", "R2-D2")),
    StateOperation.remove("weapon"),
  ]);
  if (e != null) return fail("transaction", e.toString());
  console.log("transaction: upserted droid, deleted weapon");

  // 5. Bulk get: a deleted key comes back without a value.
  const bulk = dapr.getBulkState(store, ["planet", "droid", "weapon"]);
  if (bulk.error != null) return fail("bulk get", bulk.error!.toString());
  const items = bulk.value!;
  for (let i = 0; i < items.length; i++) {
    const v = items[i].value;
    console.log("  " + items[i].key + " = " + (v != null ? v : "(missing)"));
  }

  // 6. Delete with If-Match, then the key is gone (204 → null).
  const droid = dapr.getState(store, "droid");
  if (droid.error != null || droid.value == null) return fail("get droid", "missing");
  e = dapr.deleteState(store, "droid", droid.value!.etag);
  if (e != null) return fail("delete droid", e.toString());
  const gone = dapr.getState(store, "droid");
  console.log("after delete, droid is " + (gone.error == null && gone.value == null ? "gone" : "still there"));
  return 0;
}

function fail(step: string, why: string): i32 {
  console.log(step + " failed: " + why);
  return 1;
}

process.exit(main());
