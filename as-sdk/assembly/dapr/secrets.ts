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

  /** `GET /v1.0/secrets/{store}/{key}`: the secret's key/value pairs (empty on 204). */
  getSecret(
    store: string,
    key: string,
    metadata: Map<string, string> | null = null,
  ): DaprResult<Map<string, string>> {
    const bad = requireNames2("secret store", store, "secret name", key);
    if (bad) return err<Map<string, string>, DaprError>(bad);
    const u = this.url().raw("v1.0/secrets").segment(store).segment(key);
    u.queryMap("metadata.", metadata);
    const r = this.call(Method.GET, u.build());
    if (r.error) return err<Map<string, string>, DaprError>(r.error!);
    const reply = r.value!;
    if (reply.status == 204) return ok<Map<string, string>, DaprError>(new Map<string, string>());
    const text = reply.text();
    if (parseObject(text) == null) {
      return err<Map<string, string>, DaprError>(
        DaprError.invalidResponse(reply.status, "secret answer is not a JSON object", text),
      );
    }
    return ok<Map<string, string>, DaprError>(stringMapOf(text));
  }

  /** `GET /v1.0/secrets/{store}/bulk`: secret name → its key/value pairs. */
  getBulkSecret(
    store: string,
    metadata: Map<string, string> | null = null,
  ): DaprResult<Map<string, Map<string, string>>> {
    const bad = requireName("secret store", store);
    if (bad) return err<Map<string, Map<string, string>>, DaprError>(bad);
    const u = this.url().raw("v1.0/secrets").segment(store).raw("bulk");
    u.queryMap("metadata.", metadata);
    const r = this.call(Method.GET, u.build());
    if (r.error) return err<Map<string, Map<string, string>>, DaprError>(r.error!);
    const reply = r.value!;
    const out = new Map<string, Map<string, string>>();
    if (reply.status == 204) return ok<Map<string, Map<string, string>>, DaprError>(out);
    const text = reply.text();
    const obj = parseObject(text);
    if (obj == null) {
      return err<Map<string, Map<string, string>>, DaprError>(
        DaprError.invalidResponse(reply.status, "bulk secret answer is not a JSON object", text),
      );
    }
    const names = obj.keys();
    for (let i = 0; i < names.length; i++) {
      out.set(names[i], stringMapOf(obj.get(names[i]).toString()));
    }
    return ok<Map<string, Map<string, string>>, DaprError>(out);
  }

}
