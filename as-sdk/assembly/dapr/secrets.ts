/**
 * Secrets: read one secret, or every secret of a store.
 *
 * @packageDocumentation
 */

import { Method } from "../http";
import { ok, err } from "../result";
import { parseObject, stringMapOf } from "../json";
import { DaprError, DaprResult } from "./error";
import { requireName, requireNames2 } from "./client";
import { BindingsClient } from "./bindings";

/**
 * The secret calls of `DaprClient` (see there).
 */
export class SecretsClient extends BindingsClient {

  /**
   * `GET /v1.0/secrets/{store}/{key}`: the secret's key/value pairs (empty on 204).
   *
   * @param store - the secret store name
   * @param key - the secret name
   * @param metadata - sent as `metadata.<k>=<v>` query parameters
   * @returns the secret's key/value pairs
   */
  getSecret(
    store: string,
    key: string,
    metadata: Map<string, string> | null = null,
  ): DaprResult<Map<string, string>> {
    const bad = requireNames2("secret store", store, "secret name", key);
    if (bad) return err<Map<string, string>, DaprError>(bad);
    const u = this.url().raw("v1.0/secrets").segment(store).segment(key);
    u.queryMap("metadata.", metadata);
    const r = this.callForJson(Method.GET, u.build());
    if (r.error) return err<Map<string, string>, DaprError>(r.error!);
    const a = r.value!;
    if (a.status == 204) return ok<Map<string, string>, DaprError>(new Map<string, string>());
    if (a.obj == null) {
      return err<Map<string, string>, DaprError>(a.invalid("secret answer is not a JSON object"));
    }
    return ok<Map<string, string>, DaprError>(stringMapOf(a.text));
  }

  /**
   * `GET /v1.0/secrets/{store}/bulk`: secret name → its key/value pairs.
   *
   * @param store - the secret store name
   * @param metadata - sent as `metadata.<k>=<v>` query parameters
   * @returns secret name → key/value pairs
   */
  getBulkSecret(
    store: string,
    metadata: Map<string, string> | null = null,
  ): DaprResult<Map<string, Map<string, string>>> {
    const bad = requireName("secret store", store);
    if (bad) return err<Map<string, Map<string, string>>, DaprError>(bad);
    const u = this.url().raw("v1.0/secrets").segment(store).raw("bulk");
    u.queryMap("metadata.", metadata);
    const r = this.callForJson(Method.GET, u.build());
    if (r.error) return err<Map<string, Map<string, string>>, DaprError>(r.error!);
    const a = r.value!;
    const out = new Map<string, Map<string, string>>();
    if (a.status == 204) return ok<Map<string, Map<string, string>>, DaprError>(out);
    const obj = a.obj;
    if (obj == null) {
      return err<Map<string, Map<string, string>>, DaprError>(
        a.invalid("bulk secret answer is not a JSON object"),
      );
    }
    const names = obj.keys();
    for (let i = 0; i < names.length; i++) {
      out.set(names[i], stringMapOf(obj.get(names[i]).toString()));
    }
    return ok<Map<string, Map<string, string>>, DaprError>(out);
  }

}
