/**
 * Configuration: read items of a configuration store, subscribe to their changes and
 * unsubscribe. (The updates themselves arrive through `App.onConfiguration`.)
 *
 * @packageDocumentation
 */

import { Method } from "../http";
import { ok, err } from "../result";
import { JSON, memberString, memberStringMap, parseObject } from "../json";
import { DaprError, DaprResult } from "./error";
import { orEmpty, requireName, requireNames2 } from "./client";
import { SecretsClient } from "./secrets";

/** One configuration item, as `getConfiguration` answers it and an update carries it. */
export class ConfigurationItem {
  constructor(
    /** The item's value (`""` if the store sent none). */
    public readonly value: string,
    /** The store's version of the item (`""` if none). */
    public readonly version: string,
    /** The item's metadata. */
    public readonly metadata: Map<string, string>,
  ) {}
}

/**
 * The items of a configuration answer or update, `{"<key>":{"value","version","metadata"}}`:
 * key → item. Members that are not objects are left out; a missing `value` or `version`
 * is `""`.
 */
export function configurationItems(obj: Map<string, JSON.Raw>): Map<string, ConfigurationItem> {
  const out = new Map<string, ConfigurationItem>();
  const names = obj.keys();
  for (let i = 0; i < names.length; i++) {
    const item = parseObject(obj.get(names[i]).toString());
    if (item == null) continue;
    out.set(
      names[i],
      new ConfigurationItem(
        orEmpty(memberString(item, "value")),
        orEmpty(memberString(item, "version")),
        memberStringMap(item, "metadata"),
      ),
    );
  }
  return out;
}

/**
 * The configuration calls of `DaprClient` (see there).
 */
export class ConfigurationClient extends SecretsClient {

  /**
   * `GET /v1.0/configuration/{store}?key=a&key=b` (all keys when `keys` is empty).
   *
   * @param store - the configuration store name
   * @param keys - the keys to read (empty: all)
   * @param metadata - sent as `metadata.<k>=<v>` query parameters
   * @returns key → item
   */
  getConfiguration(
    store: string,
    keys: string[],
    metadata: Map<string, string> | null = null,
  ): DaprResult<Map<string, ConfigurationItem>> {
    const bad = requireName("configuration store", store);
    if (bad) return err<Map<string, ConfigurationItem>, DaprError>(bad);
    const u = this.url().raw("v1.0/configuration").segment(store);
    for (let i = 0; i < keys.length; i++) u.query("key", keys[i]);
    u.queryMap("metadata.", metadata);
    const r = this.callForJson(Method.GET, u.build());
    if (r.error) return err<Map<string, ConfigurationItem>, DaprError>(r.error!);
    const a = r.value!;
    if (a.status == 204) {
      return ok<Map<string, ConfigurationItem>, DaprError>(new Map<string, ConfigurationItem>());
    }
    const obj = a.obj;
    if (obj == null) {
      return err<Map<string, ConfigurationItem>, DaprError>(
        a.invalid("configuration answer is not a JSON object"),
      );
    }
    return ok<Map<string, ConfigurationItem>, DaprError>(configurationItems(obj));
  }

  /**
   * `GET /v1.0/configuration/{store}/subscribe?key=..`: the subscription id.
   *
   * @param store - the configuration store name
   * @param keys - the keys to watch (empty: all)
   * @param metadata - sent as `metadata.<k>=<v>` query parameters
   * @returns the subscription id, for `unsubscribeConfiguration`
   */
  subscribeConfiguration(
    store: string,
    keys: string[],
    metadata: Map<string, string> | null = null,
  ): DaprResult<string> {
    const bad = requireName("configuration store", store);
    if (bad) return err<string, DaprError>(bad);
    const u = this.url().raw("v1.0/configuration").segment(store).raw("subscribe");
    for (let i = 0; i < keys.length; i++) u.query("key", keys[i]);
    u.queryMap("metadata.", metadata);
    const r = this.callForJson(Method.GET, u.build());
    if (r.error) return err<string, DaprError>(r.error!);
    const a = r.value!;
    const id = a.stringMember("id");
    if (id == null) return err<string, DaprError>(a.invalid("subscribe answered with no id"));
    return ok<string, DaprError>(id);
  }

  /**
   * `GET /v1.0/configuration/{store}/{id}/unsubscribe`.
   *
   * @param store - the configuration store name
   * @param id - the id `subscribeConfiguration` answered
   * @returns `null` on success, else the error
   */
  unsubscribeConfiguration(store: string, id: string): DaprError | null {
    const bad = requireNames2("configuration store", store, "subscription id", id);
    if (bad) return bad;
    const u = this.url().raw("v1.0/configuration").segment(store).segment(id).raw("unsubscribe");
    return this.call(Method.GET, u.build()).error;
  }

}
