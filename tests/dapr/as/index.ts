/**
 * The end-to-end Dapr scenario, AssemblyScript guest: save, bulk-save, read back, compare.
 *
 * Saves `weapon` = "Death Star" (one save), bulk-saves `planets` =
 * {"name":"Tatooine","test":123}, reads both back one by one and in bulk, and prints
 * "Test successfully!" (exit 0) or every difference (exit 1). Store: `$STATE_STORE`,
 * default `statestore`; sidecar: `DAPR_HTTP_ENDPOINT` / `DAPR_HTTP_PORT`.
 *
 * @packageDocumentation
 */

import { DaprClient, SaveStateItem, getEnv, jsonEquals, jsonString } from "../../../as-sdk/assembly/index";

const WEAPON = "Death Star";
const PLANETS = '{"name":"Tatooine","test":123}';

function main(): i32 {
  const envStore = getEnv("STATE_STORE");
  const store = envStore != null && envStore.length > 0 ? envStore : "statestore";
  const dapr = new DaprClient();
  const problems = new Array<string>();

  const saved = dapr.saveStateString(store, "weapon", WEAPON);
  if (saved != null) problems.push("saving weapon failed: " + saved.toString());

  const bulk = dapr.saveBulkState(store, [SaveStateItem.ofJson("planets", PLANETS)]);
  if (bulk != null) problems.push("bulk-saving planets failed: " + bulk.toString());

  const weapon = dapr.getState(store, "weapon");
  if (weapon.error != null) {
    problems.push("reading weapon failed: " + weapon.error!.toString());
  } else if (weapon.value == null) {
    problems.push("weapon: expected " + jsonString(WEAPON) + ", got nothing (204)");
  } else {
    const got = weapon.value!.value;
    if (!jsonEquals(got, jsonString(WEAPON))) {
      problems.push("weapon: expected " + jsonString(WEAPON) + ", got " + got);
    }
  }

  const planets = dapr.getState(store, "planets");
  if (planets.error != null) {
    problems.push("reading planets failed: " + planets.error!.toString());
  } else if (planets.value == null) {
    problems.push("planets: expected " + PLANETS + ", got nothing (204)");
  } else {
    const got = planets.value!.value;
    if (!jsonEquals(got, PLANETS)) problems.push("planets: expected " + PLANETS + ", got " + got);
  }

  const both = dapr.getBulkState(store, ["weapon", "planets"]);
  if (both.error != null) {
    problems.push("bulk get failed: " + both.error!.toString());
  } else {
    const items = both.value!;
    const expected = [jsonString(WEAPON), PLANETS];
    const keys = ["weapon", "planets"];
    if (items.length != 2) {
      problems.push("bulk get: expected 2 items, got " + items.length.toString());
    } else {
      for (let i = 0; i < 2; i++) {
        const v = items[i].value;
        if (items[i].key != keys[i]) {
          problems.push("bulk get item " + i.toString() + ": expected key " + keys[i] + ", got " + items[i].key);
        } else if (v == null) {
          problems.push("bulk get " + keys[i] + ": expected " + expected[i] + ", got nothing");
        } else if (!jsonEquals(v, expected[i])) {
          problems.push("bulk get " + keys[i] + ": expected " + expected[i] + ", got " + v);
        }
      }
    }
  }

  if (problems.length > 0) {
    for (let i = 0; i < problems.length; i++) console.log("FAILED: " + problems[i]);
    return 1;
  }
  console.log("Test successfully!");
  return 0;
}

process.exit(main());
