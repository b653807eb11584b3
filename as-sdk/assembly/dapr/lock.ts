/**
 * Distributed lock (alpha API): try to acquire a lock, release it.
 *
 * @packageDocumentation
 */

import { Method } from "../http";
import { ok, err } from "../result";
import { JsonObjectWriter } from "../json";
import { DaprError, DaprResult } from "./error";
import { JsonReply, isInteger, requireName } from "./client";
import { ConfigurationClient } from "./configuration";

/** The answer of `tryLock`. */
export class LockResponse {
  constructor(public readonly success: bool) {}
}

/** The answer of `unlock`. */
export class UnlockResponse {
  constructor(
    /** One of `UnlockStatus`; a number this SDK does not know is kept as it came. */
    public readonly status: UnlockStatus,
  ) {}
}

/** The outcome of `unlock`, as the sidecar numbers it. */
export enum UnlockStatus {
  /** 0: the lock was released. */
  Success = 0,
  /** 1: there was no such lock. */
  LockDoesNotExist = 1,
  /** 2: the lock is held by another owner. */
  LockBelongsToOthers = 2,
  /** 3: the store failed. */
  InternalError = 3,
}

/**
 * The lock calls of `DaprClient` (see there).
 */
export class LockClient extends ConfigurationClient {

  /**
   * `POST /v1.0-alpha1/lock/{store}` `{"resourceId","lockOwner","expiryInSeconds"}`.
   *
   * @param store - the lock store name
   * @param resourceId - what to lock
   * @param lockOwner - who locks it
   * @param expiryInSeconds - when the lock expires by itself
   * @returns whether the lock was acquired
   */
  tryLock(
    store: string,
    resourceId: string,
    lockOwner: string,
    expiryInSeconds: i32,
  ): DaprResult<LockResponse> {
    const body = lockRequest(resourceId, lockOwner).int("expiryInSeconds", expiryInSeconds).build();
    const r = this.lockCall("v1.0-alpha1/lock", store, body);
    if (r.error) return err<LockResponse, DaprError>(r.error!);
    const a = r.value!;
    const success = a.member("success");
    if (success == null || (success != "true" && success != "false")) {
      return err<LockResponse, DaprError>(a.invalid("lock answered with no boolean success"));
    }
    return ok<LockResponse, DaprError>(new LockResponse(success == "true"));
  }

  /**
   * `POST /v1.0-alpha1/unlock/{store}` `{"resourceId","lockOwner"}`: see `UnlockStatus`.
   *
   * @param store - the lock store name
   * @param resourceId - what to unlock
   * @param lockOwner - who locked it
   * @returns the outcome, see `UnlockStatus`
   */
  unlock(store: string, resourceId: string, lockOwner: string): DaprResult<UnlockResponse> {
    const r = this.lockCall("v1.0-alpha1/unlock", store, lockRequest(resourceId, lockOwner).build());
    if (r.error) return err<UnlockResponse, DaprError>(r.error!);
    const a = r.value!;
    const status = a.member("status");
    if (status == null || !isInteger(status)) {
      return err<UnlockResponse, DaprError>(a.invalid("unlock answered with no numeric status"));
    }
    return ok<UnlockResponse, DaprError>(new UnlockResponse(<UnlockStatus>I32.parseInt(status)));
  }

  /** `POST {path}/{store}` with `body`, once `store` is known not to be empty. */
  private lockCall(path: string, store: string, body: string): DaprResult<JsonReply> {
    const bad = requireName("lock store", store);
    if (bad) return err<JsonReply, DaprError>(bad);
    return this.callForJson(Method.POST, this.url().raw(path).segment(store).build(), body);
  }
}

/** The members every lock request has: `{"resourceId","lockOwner"}`. */
function lockRequest(resourceId: string, lockOwner: string): JsonObjectWriter {
  return new JsonObjectWriter().string("resourceId", resourceId).string("lockOwner", lockOwner);
}
