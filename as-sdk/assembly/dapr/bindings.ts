/**
 * Output bindings: invoke a binding component with an operation, data and metadata.
 * (Input bindings, the inbound half, are `App.onBinding`.)
 *
 * @packageDocumentation
 */

import { Method } from "../http";
import { err } from "../result";
import { JsonObjectWriter, isValidJson } from "../json";
import { DaprError, DaprResult } from "./error";
import { InvokeResponse, requireNames2 } from "./client";
import { InvokeClient } from "./invoke";

/**
 * The output-binding call of `DaprClient` (see there).
 */
export class BindingsClient extends InvokeClient {

  /**
   * `POST /v1.0/bindings/{name}` `{"data"?:..,"metadata"?:{..},"operation":..}`.
   * `dataJson` is JSON text; `data` and `metadata` are left out when `null`. Answers
   * the component's bytes (empty on 204) and headers (`Metadata.*`).
   *
   * @param name - the binding component name
   * @param operation - the operation, e.g. `create`
   * @param dataJson - the `data` as JSON text, or `null`
   * @param metadata - the `metadata` object, or `null`
   * @returns the component's answer
   */
  invokeBinding(
    name: string,
    operation: string,
    dataJson: string | null = null,
    metadata: Map<string, string> | null = null,
  ): DaprResult<InvokeResponse> {
    const bad = requireNames2("binding", name, "operation", operation);
    if (bad) return err<InvokeResponse, DaprError>(bad);
    const w = new JsonObjectWriter();
    if (dataJson != null) {
      if (!isValidJson(dataJson)) {
        return err<InvokeResponse, DaprError>(
          DaprError.invalidArgument("binding data is not valid JSON text: " + dataJson),
        );
      }
      w.raw("data", dataJson);
    }
    const body = w.optStringMap("metadata", metadata).string("operation", operation).build();
    const u = this.url().raw("v1.0/bindings").segment(name).build();
    return this.callJson(Method.POST, u, body);
  }

}
