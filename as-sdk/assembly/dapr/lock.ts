/**
 * Distributed lock (alpha API): try to acquire a lock, release it.
 *
 * @packageDocumentation
 */

import { Method } from "../http";
import { ok, err } from "../result";
import { JsonObjectWriter, member, parseObject } from "../json";
import { DaprError, DaprResult } from "./error";
import { isInteger, requireName } from "./client";
import { ConfigurationClient } from "./configuration";

/** The answer of `tryLockAlpha1`. */
export class LockResponse {
  constructor(public readonly success: bool) {}
}

/** `unlockAlpha1` statuses. */
export namespace UnlockStatus {
  export const Success: i32 = 0;
  export const LockDoesNotExist: i32 = 1;
  export const LockBelongsToOthers: i32 = 2;
  export const InternalError: i32 = 3;
}

/** The answer of `unlockAlpha1`. */
export class UnlockResponse {
  constructor(public readonly status: i32) {}
}

/**
 * The lock calls of `DaprClient` (see there).
 */
export class LockClient extends ConfigurationClient {

  /** `POST /v1.0-alpha1/lock/{store}` `{"resourceId","lockOwner","expiryInSeconds"}`. */
  tryLockAlpha1(
    store: string,
    resourceId: string,
    lockOwner: string,
    expiryInSeconds: i32,
  ): DaprResult<LockResponse> {
    const bad = requireName("lock store", store);
    if (bad) return err<LockResponse, DaprError>(bad);
    const body = new JsonObjectWriter()
      .string("resourceId", resourceId)
      .string("lockOwner", lockOwner)
      .int("expiryInSeconds", expiryInSeconds)
      .build();
    const u = this.url().raw("v1.0-alpha1/lock").segment(store).build();
    const r = this.callJson(Method.POST, u, body);
    if (r.error) return err<LockResponse, DaprError>(r.error!);
    const reply = r.value!;
    const text = reply.text();
    const obj = parseObject(text);
    const success = obj != null ? member(obj, "success") : null;
    if (success == null || (success != "true" && success != "false")) {
      return err<LockResponse, DaprError>(
        DaprError.invalidResponse(reply.status, "lock answered with no boolean success", text),
      );
    }
    return ok<LockResponse, DaprError>(new LockResponse(success == "true"));
  }

  /** `POST /v1.0-alpha1/unlock/{store}` `{"resourceId","lockOwner"}`: see `UnlockStatus`. */
  unlockAlpha1(store: string, resourceId: string, lockOwner: string): DaprResult<UnlockResponse> {
    const bad = requireName("lock store", store);
    if (bad) return err<UnlockResponse, DaprError>(bad);
    const body = new JsonObjectWriter()
      .string("resourceId", resourceId)
      .string("lockOwner", lockOwner)
      .build();
    const u = this.url().raw("v1.0-alpha1/unlock").segment(store).build();
    const r = this.callJson(Method.POST, u, body);
    if (r.error) return err<UnlockResponse, DaprError>(r.error!);
    const reply = r.value!;
    const text = reply.text();
    const obj = parseObject(text);
    const status = obj != null ? member(obj, "status") : null;
    if (status == null || !isInteger(status)) {
      return err<UnlockResponse, DaprError>(
        DaprError.invalidResponse(reply.status, "unlock answered with no numeric status", text),
      );
    }
    return ok<UnlockResponse, DaprError>(new UnlockResponse(I32.parseInt(status)));
  }

}
