/**
 * Actors, the client half (`/v1.0/actors/{type}/{id}/…`): invoke an actor method, read
 * an actor's state and write it in one transaction, create, read and delete reminders,
 * create and delete timers. The hosting half (daprd calling the app) is `App.actor`.
 *
 * @packageDocumentation
 */

import { Header, Method } from "../http";
import { ok, err } from "../result";
import { JsonObjectWriter, isValidJson, jsonArray, member, memberString, parseObject } from "../json";
import { UrlBuilder } from "../url";
import { DaprError, DaprErrorKind, DaprResult } from "./error";
import { InvokeResponse, requireName, requireNames2 } from "./client";
import { StateOperation } from "./state";
import { InvokeOptions } from "./invoke";
import { ConversationClient } from "./conversation";

/** The header daprd uses to let a call re-enter an actor whose turn is in flight. */
export const REENTRANCY_ID_HEADER = "Dapr-Reentrancy-Id";

/** The header an actor's answer carries when it is an actor error for the caller. */
export const ACTOR_ERROR_HEADER = "X-DaprErrorResponseHeader";

/**
 * The status an actor served by a wasi-dapr SDK chose for an actor error. daprd passes
 * an actor error on only from a 200 answer, so the chosen status travels in this header
 * (the Rust SDK uses the same one).
 */
export const ACTOR_ERROR_STATUS_HEADER = "X-Wasi-Dapr-Actor-Status";

/**
 * A reminder to create (`POST /v1.0/actors/{type}/{id}/reminders/{name}`). Nothing is set
 * by default; daprd needs a `dueTime` or a `period`.
 *
 * - `dueTime`, `ttl`: RFC 3339, a Go duration (`1s`) or an ISO 8601 duration (`PT1S`);
 * - `period`: a Go duration or ISO 8601, with repeats `R5/PT1S` (five times);
 * - `data`: any JSON value, sent back as is (raw JSON, not base64) when it fires;
 * - `overwrite`: daprd's default is `true` (replace a reminder of the same name).
 */
export class ActorReminderRequest {
  /** `dueTime`, or `null`. */
  dueTime: string | null = null;
  /** `period`, or `null`. */
  period: string | null = null;
  /** `ttl`, or `null`. */
  ttl: string | null = null;
  /** `data` as JSON text, or `null`. */
  data: string | null = null;
  /** `overwrite`: -1 = not sent (daprd's default, true), 0 = false, 1 = true. */
  overwrite: i8 = -1;

  /** Sets `dueTime`, e.g. `1s`. */
  withDueTime(dueTime: string): ActorReminderRequest {
    this.dueTime = dueTime;
    return this;
  }

  /** Sets `period`, e.g. `1s`, `PT1S`, `R3/PT1S`. */
  withPeriod(period: string): ActorReminderRequest {
    this.period = period;
    return this;
  }

  /** Sets `ttl`. */
  withTtl(ttl: string): ActorReminderRequest {
    this.ttl = ttl;
    return this;
  }

  /** Sets `data`, JSON text (`'{"ratePercent":10}'`, `'"x"'`, `'1'`). */
  withData(json: string): ActorReminderRequest {
    this.data = json;
    return this;
  }

  /** Sets `overwrite` (`false`: daprd answers 409 for an existing name). */
  withOverwrite(overwrite: bool): ActorReminderRequest {
    this.overwrite = overwrite ? 1 : 0;
    return this;
  }

  /** `{"dueTime","period","ttl","data","overwrite"}`, each only when set. */
  toJson(): string {
    const w = new JsonObjectWriter()
      .optString("dueTime", this.dueTime)
      .optString("period", this.period)
      .optString("ttl", this.ttl);
    const d = this.data;
    if (d != null) w.raw("data", d.trim());
    if (this.overwrite >= 0) w.bool("overwrite", this.overwrite == 1);
    return w.build();
  }
}

/**
 * A timer to create (`POST /v1.0/actors/{type}/{id}/timers/{name}`): `callback` names the
 * hosted type's timer callback (`ActorType.timer`); times as for reminders. Timers live
 * in the sidecar's memory; `dueTime` `""`/unset = now, `period` unset = once.
 */
export class ActorTimerRequest {
  /** `dueTime`, or `null`. */
  dueTime: string | null = null;
  /** `period`, or `null`. */
  period: string | null = null;
  /** `ttl`, or `null`. */
  ttl: string | null = null;
  /** `data` as JSON text, or `null`. */
  data: string | null = null;

  constructor(
    /** `callback`: the timer callback the app runs when it fires. */
    public callback: string,
  ) {}

  /** Sets `dueTime`. */
  withDueTime(dueTime: string): ActorTimerRequest {
    this.dueTime = dueTime;
    return this;
  }

  /** Sets `period`. */
  withPeriod(period: string): ActorTimerRequest {
    this.period = period;
    return this;
  }

  /** Sets `ttl`. */
  withTtl(ttl: string): ActorTimerRequest {
    this.ttl = ttl;
    return this;
  }

  /** Sets `data`, JSON text. */
  withData(json: string): ActorTimerRequest {
    this.data = json;
    return this;
  }

  /** `{"dueTime","period","ttl","callback","data"}`, each only when set. */
  toJson(): string {
    const w = new JsonObjectWriter()
      .optString("dueTime", this.dueTime)
      .optString("period", this.period)
      .optString("ttl", this.ttl)
      .string("callback", this.callback);
    const d = this.data;
    if (d != null) w.raw("data", d.trim());
    return w.build();
  }
}

/**
 * A reminder as `getActorReminder` answers it (`{"actorID","actorType","data","dueTime",
 * "period","ttl"}`, each optional: absent = `null`). Through daprd's Scheduler `period`
 * comes back as the schedule (`@every 1s`), not as registered.
 */
export class ActorReminder {
  constructor(
    /** `actorType`, or `null`. */
    public readonly actorType: string | null,
    /** `actorID`, or `null`. */
    public readonly actorId: string | null,
    /** `data` as JSON text, or `null`. */
    public readonly data: string | null,
    /** `dueTime`, or `null`. */
    public readonly dueTime: string | null,
    /** `period`, or `null`. */
    public readonly period: string | null,
    /** `ttl`, or `null`. */
    public readonly ttl: string | null,
  ) {}
}

/** Reads a reminder answer; `null` when `text` is not a JSON object. */
export function parseActorReminder(text: string): ActorReminder | null {
  const obj = parseObject(text);
  if (obj == null) return null;
  let data = member(obj, "data");
  if (data != null && data == "null") data = null;
  return new ActorReminder(
    memberString(obj, "actorType"),
    memberString(obj, "actorID"),
    data,
    memberString(obj, "dueTime"),
    memberString(obj, "period"),
    memberString(obj, "ttl"),
  );
}

/**
 * `true` when an actor's answer is an actor error (`X-DaprErrorResponseHeader`, passed
 * back by daprd with the actor's headers and body), or not a success, as opposed to a
 * result.
 */
export function isActorError(res: InvokeResponse): bool {
  return !res.isSuccess || res.header(ACTOR_ERROR_HEADER) != null;
}

/**
 * The status of an actor error: the one the actor chose (`X-Wasi-Dapr-Actor-Status`,
 * sent by the wasi-dapr SDKs' `actorError`), else the HTTP status.
 */
export function actorErrorStatus(res: InvokeResponse): i32 {
  const chosen = res.header(ACTOR_ERROR_STATUS_HEADER);
  if (chosen != null) {
    const n = I32.parseInt(chosen!);
    if (n >= 100 && n <= 599) return n;
  }
  return res.status;
}

/**
 * The actor calls of `DaprClient` (see there).
 */
export class ActorsClient extends ConversationClient {

  /**
   * `{verb} /v1.0/actors/{type}/{id}/method/{method}?{query}` (type, id and method
   * each percent-encoded as one segment). daprd delivers it to the hosting app as
   * `PUT` whatever `verb` is.
   *
   * The actor's answer is returned: 200 with its body and headers, and also an **actor
   * error** (the app answered 200 with `X-DaprErrorResponseHeader`; daprd passes its
   * headers and body on): see `isActorError` and `actorErrorStatus`. daprd's own failures,
   * a non-2xx answer whose body is Dapr's error JSON (500 `ERR_ACTOR_INVOKE_METHOD`,
   * `ERR_ACTOR_STACK_DEPTH`, 400 `ERR_ACTOR_NO_PLACEMENT`, …), are `DaprError`s.
   *
   * To re-enter an actor that is calling this one (reentrancy), send the incoming
   * `Dapr-Reentrancy-Id` in `options` (`ActorContext.invokeActor` does it).
   *
   * @param actorType - the actor type, e.g. `BankAccount`
   * @param actorId - the actor id
   * @param method - the method name
   * @param options - query, headers, body and content type, or `null` (empty body)
   * @param verb - the HTTP method; default `PUT` (the verb daprd uses towards the app)
   * @returns the actor's answer (success or actor error), or the error
   */
  invokeActor(
    actorType: string,
    actorId: string,
    method: string,
    options: InvokeOptions | null = null,
    verb: string = Method.PUT,
  ): DaprResult<InvokeResponse> {
    const bad = this.checkActor(actorType, actorId, "method", method);
    if (bad) return err<InvokeResponse, DaprError>(bad);
    const u = this.actorUrl(actorType, actorId).raw("method").segment(method);
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
    if (!reply.isSuccess && reply.header(ACTOR_ERROR_HEADER) == null) {
      const obj = parseObject(reply.text());
      if (obj != null && memberString(obj, "errorCode") != null) {
        return err<InvokeResponse, DaprError>(
          DaprError.fromResponse(reply.status, reply.text(), "invoke actor " + actorType + "/" + actorId),
        );
      }
    }
    return r;
  }

  /**
   * `GET /v1.0/actors/{type}/{id}/state/{key}`: the stored JSON text, or `null` when the
   * key does not exist (204).
   *
   * @returns the value as JSON text, `null` if missing, or the error
   */
  getActorState(actorType: string, actorId: string, key: string): DaprResult<string> {
    const bad = this.checkActor(actorType, actorId, "state key", key);
    if (bad) return err<string, DaprError>(bad);
    const r = this.call(Method.GET, this.actorUrl(actorType, actorId).raw("state").segment(key).build());
    if (r.error) return err<string, DaprError>(r.error!);
    const reply = r.value!;
    if (reply.status == 204) return ok<string, DaprError>(null);
    return ok<string, DaprError>(reply.text());
  }

  /**
   * `POST /v1.0/actors/{type}/{id}/state` with the bare array
   * `[{"operation":"upsert","request":{"key","value"}},{"operation":"delete","request":{"key"}}]`;
   * 204. daprd answers 400 `ERR_ACTOR_INSTANCE_MISSING` unless the actor is active on
   * this app (write state from inside a turn). Build operations with
   * `StateOperation.upsert(SaveStateItem.ofJson(k, json))` and `StateOperation.remove(k)`.
   *
   * @returns `null` once applied, else the error (a value that is not JSON is refused before sending)
   */
  transactActorState(actorType: string, actorId: string, operations: StateOperation[]): DaprError | null {
    const bad = requireNames2("actor type", actorType, "actor id", actorId);
    if (bad) return bad;
    const ops = new Array<string>();
    for (let i = 0; i < operations.length; i++) {
      const op = operations[i];
      if (op.request.key.length == 0) return DaprError.invalidArgument("state key must not be empty");
      if (op.operation != "delete" && !isValidJson(op.request.value)) {
        return DaprError.invalidArgument(
          "the value of key " + op.request.key + " is not valid JSON text: " + op.request.value,
        );
      }
      ops.push(op.toJson());
    }
    return this.callJson(Method.POST, this.actorUrl(actorType, actorId).raw("state").build(), jsonArray(ops)).error;
  }

  /**
   * `POST /v1.0/actors/{type}/{id}/reminders/{name}`; 204. Only an app hosting the type
   * may create its reminders (else 403 `ERR_ACTOR_REMINDER_NON_HOSTED`); an existing name
   * with `overwrite` false is 409 `ERR_ACTOR_REMINDER_ALREADY_EXISTS`.
   *
   * @returns `null` once created, else the error
   */
  registerActorReminder(actorType: string, actorId: string, name: string, reminder: ActorReminderRequest): DaprError | null {
    const bad = this.checkActor(actorType, actorId, "reminder name", name);
    if (bad) return bad;
    const d = reminder.data;
    if (d != null && !isValidJson(d)) return DaprError.invalidArgument("the reminder data is not valid JSON text: " + d);
    return this.callJson(Method.POST, this.timerUrl(actorType, actorId, "reminders", name), reminder.toJson()).error;
  }

  /**
   * `GET /v1.0/actors/{type}/{id}/reminders/{name}`. A missing reminder (404
   * `ERR_ACTOR_REMINDER_NOT_FOUND`) answers `null`.
   *
   * @returns the reminder, `null` if there is none, or the error
   */
  getActorReminder(actorType: string, actorId: string, name: string): DaprResult<ActorReminder> {
    const bad = this.checkActor(actorType, actorId, "reminder name", name);
    if (bad) return err<ActorReminder, DaprError>(bad);
    const r = this.callForJson(Method.GET, this.timerUrl(actorType, actorId, "reminders", name));
    if (r.error) {
      const e = r.error!;
      if (e.kind == DaprErrorKind.Api && e.status == 404) return ok<ActorReminder, DaprError>(null);
      return err<ActorReminder, DaprError>(e);
    }
    const rem = parseActorReminder(r.value!.text);
    if (rem == null) return err<ActorReminder, DaprError>(r.value!.invalid("the reminder answer is not a JSON object"));
    return ok<ActorReminder, DaprError>(rem);
  }

  /** `DELETE /v1.0/actors/{type}/{id}/reminders/{name}`; 204, also when there was none. */
  unregisterActorReminder(actorType: string, actorId: string, name: string): DaprError | null {
    const bad = this.checkActor(actorType, actorId, "reminder name", name);
    if (bad) return bad;
    return this.call(Method.DELETE, this.timerUrl(actorType, actorId, "reminders", name)).error;
  }

  /**
   * `POST /v1.0/actors/{type}/{id}/timers/{name}`; 204. A timer of the same name is
   * replaced.
   *
   * @returns `null` once created, else the error
   */
  registerActorTimer(actorType: string, actorId: string, name: string, timer: ActorTimerRequest): DaprError | null {
    const bad = this.checkActor(actorType, actorId, "timer name", name);
    if (bad) return bad;
    const d = timer.data;
    if (d != null && !isValidJson(d)) return DaprError.invalidArgument("the timer data is not valid JSON text: " + d);
    return this.callJson(Method.POST, this.timerUrl(actorType, actorId, "timers", name), timer.toJson()).error;
  }

  /** `DELETE /v1.0/actors/{type}/{id}/timers/{name}`; 204 always. */
  unregisterActorTimer(actorType: string, actorId: string, name: string): DaprError | null {
    const bad = this.checkActor(actorType, actorId, "timer name", name);
    if (bad) return bad;
    return this.call(Method.DELETE, this.timerUrl(actorType, actorId, "timers", name)).error;
  }

  private checkActor(actorType: string, actorId: string, what: string, name: string): DaprError | null {
    const bad = requireNames2("actor type", actorType, "actor id", actorId);
    if (bad) return bad;
    return requireName(what, name);
  }

  private actorUrl(actorType: string, actorId: string): UrlBuilder {
    return this.url().raw("v1.0/actors").segment(actorType).segment(actorId);
  }

  private timerUrl(actorType: string, actorId: string, kind: string, name: string): string {
    return this.actorUrl(actorType, actorId).raw(kind).segment(name).build();
  }
}
