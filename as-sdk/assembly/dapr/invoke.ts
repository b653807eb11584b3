/**
 * Service invocation: call a method of another Dapr app through the sidecar.
 *
 * @packageDocumentation
 */

import { Header, stringToBytes } from "../http";
import { err } from "../result";
import { QueryParam } from "../url";
import { memberString, parseObject } from "../json";
import { DaprError, DaprResult } from "./error";
import { InvokeResponse, requireName } from "./client";
import { PubSubClient } from "./pubsub";

/**
 * Query, headers and body of a service invocation. Defaults: no query, no headers,
 * empty body, no `Content-Type`.
 */
export class InvokeOptions {
  /** Query parameters of the invoked URL, in order. */
  query: QueryParam[] = new Array<QueryParam>();
  /** Headers sent to the target app, in order. */
  headers: Header[] = new Array<Header>();
  /** The request body. */
  body: Uint8Array = new Uint8Array(0);
  /** The body's `Content-Type`, or `null` for none. */
  contentType: string | null = null;

  /** Adds a query parameter (repeatable). */
  withQuery(key: string, value: string): InvokeOptions {
    this.query.push(new QueryParam(key, value));
    return this;
  }

  /** Adds a header (repeatable). */
  withHeader(name: string, value: string): InvokeOptions {
    this.headers.push(new Header(name, value));
    return this;
  }

  /** Sets the body bytes and their content type. */
  withBody(body: Uint8Array, contentType: string | null = null): InvokeOptions {
    this.body = body;
    this.contentType = contentType;
    return this;
  }

  /** Sets a UTF-8 text body (`text/plain; charset=utf-8` unless given). */
  withText(text: string, contentType: string = "text/plain; charset=utf-8"): InvokeOptions {
    return this.withBody(stringToBytes(text), contentType);
  }

  /** Sets a JSON body (`application/json`). */
  withJson(json: string): InvokeOptions {
    return this.withBody(stringToBytes(json), "application/json");
  }
}

/**
 * The service-invocation call of `DaprClient` (see there).
 */
export class InvokeClient extends PubSubClient {

  /**
   * `{verb} /v1.0/invoke/{appId}/method/{path}?{query}`. The target app's answer is
   * returned whatever its status (4xx/5xx included); a `DaprError` means the call did
   * not reach the app (transport failure, or daprd's own `ERR_DIRECT_INVOKE`).
   *
   * @param appId - the target app's id
   * @param verb - the HTTP method, e.g. `Method.POST`
   * @param path - the method path, `/` kept
   * @param options - query, headers and body, or `null`
   * @returns the target app's answer, whatever its status
   */
  invokeMethod(
    appId: string,
    verb: string,
    path: string,
    options: InvokeOptions | null = null,
  ): DaprResult<InvokeResponse> {
    const bad = requireName("app id", appId);
    if (bad) return err<InvokeResponse, DaprError>(bad);
    const u = this.url().raw("v1.0/invoke").segment(appId).raw("method").path(path);
    let body: Uint8Array | null = null;
    let contentType: string | null = null;
    let headers: Header[] | null = null;
    if (options != null) {
      u.queryParams(options.query);
      body = options.body;
      contentType = options.contentType;
      headers = options.headers;
    }
    const r = this.request(verb, u.build(), body, contentType, headers);
    if (r.error) return r;
    const reply = r.value!;
    if (!reply.isSuccess) {
      const obj = parseObject(reply.text());
      if (obj != null) {
        const code = memberString(obj, "errorCode");
        if (code != null && code == "ERR_DIRECT_INVOKE") {
          return err<InvokeResponse, DaprError>(
            DaprError.fromResponse(reply.status, reply.text(), "invoke " + appId),
          );
        }
      }
    }
    return r;
  }

}
