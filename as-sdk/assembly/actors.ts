/**
 * Actors, the hosting half: actor types registered on the `App` (`App.actor`), the
 * `GET /dapr/config` answer that tells daprd which types this app hosts, and the turn
 * daprd runs on the app for a method call, a reminder, a timer or a deactivation, with
 * a per-turn state manager that commits every write in one transaction at the end.
 * The client half (invoke, state, reminders, timers) is `DaprClient` (`dapr/actors.ts`).
 *
 * ```ts
 * function deposit(ctx: ActorContext): AppResponse {
 *   const cur = ctx.state.get("balance");          // read through the sidecar, once a turn
 *   if (cur.error != null) return AppResponse.text(500, cur.error!.toString());
 *   ctx.state.set("balance", "100");                // buffered; committed after a 2xx
 *   return AppResponse.json(200, '{"balance":100}');
 * }
 * new App().actor(new ActorType("BankAccount").method("deposit", deposit)).run();
 * ```
 *
 * @packageDocumentation
 */

import { Header, Method, bytesToString, equalsIgnoreCase } from "./http";
import { JSON, JsonObjectWriter, isValidJson, jsonArray, jsonString, member, memberString, parseObject } from "./json";
import {
  ACTOR_ERROR_HEADER,
  ACTOR_ERROR_STATUS_HEADER,
  ActorReminder,
  ActorReminderRequest,
  ActorTimerRequest,
  DaprClient,
  DaprError,
  DaprResult,
  InvokeOptions,
  InvokeResponse,
  REENTRANCY_ID_HEADER,
  SaveStateItem,
  StateOperation,
} from "./dapr";
import { ok, err } from "./result";
import { AppRequest, AppResponse, logLine } from "./app";

// ----- settings ------------------------------------------------------------------------------

/**
 * App-wide actor settings, sent in `GET /dapr/config`. Defaults (all sent explicitly, so
 * every daprd version reads the same thing): `actorIdleTimeout` `1h` (daprd's default
 * is 60m), `drainOngoingCallTimeout` `2s` (daprd 1.17+'s default; ≤1.16 used 60s),
 * `drainRebalancedActors` `true`, reentrancy disabled with `maxStackDepth` 32.
 */
export class ActorSettings {
  /** `actorIdleTimeout`: an actor idle this long is deactivated (`DELETE /actors/{type}/{id}`). */
  idleTimeout: string = "1h";
  /** `drainOngoingCallTimeout`: how long a rebalance waits for calls in flight. */
  drainOngoingCallTimeout: string = "2s";
  /** `drainRebalancedActors`: wait for calls in flight before moving an actor. */
  drainRebalancedActors: bool = true;
  /** `reentrancy.enabled`. */
  reentrancy: bool = false;
  /** `reentrancy.maxStackDepth`. */
  maxStackDepth: i32 = 32;

  /** Sets `actorIdleTimeout` (a Go duration, e.g. `30m`). */
  withIdleTimeout(timeout: string): ActorSettings {
    this.idleTimeout = timeout;
    return this;
  }

  /** Sets `drainOngoingCallTimeout`. */
  withDrainOngoingCallTimeout(timeout: string): ActorSettings {
    this.drainOngoingCallTimeout = timeout;
    return this;
  }

  /** Sets `drainRebalancedActors`. */
  withDrainRebalancedActors(drain: bool): ActorSettings {
    this.drainRebalancedActors = drain;
    return this;
  }

  /** Enables (or disables) reentrancy for every type, with a maximum depth. */
  withReentrancy(enabled: bool = true, maxStackDepth: i32 = 32): ActorSettings {
    this.reentrancy = enabled;
    this.maxStackDepth = maxStackDepth;
    return this;
  }
}

function reentrancyJson(enabled: bool, maxStackDepth: i32): string {
  return new JsonObjectWriter().bool("enabled", enabled).int("maxStackDepth", maxStackDepth).build();
}

// ----- events and handlers ---------------------------------------------------------------------

/** A reminder firing: `PUT /actors/{type}/{id}/method/remind/{name}`. */
export class ActorReminderEvent {
  constructor(
    /** The reminder name. */
    public readonly name: string,
    /** `data` as registered (raw JSON text), or `null` when the reminder has none. */
    public readonly data: string | null,
    /** `dueTime` (`""` through daprd's Scheduler). */
    public readonly dueTime: string,
    /** `period` (`""` through daprd's Scheduler). */
    public readonly period: string,
  ) {}

  /** `data` as a JSON object (members as raw JSON), or `null` if it is not one. */
  dataObject(): Map<string, JSON.Raw> | null {
    const d = this.data;
    return d != null ? parseObject(d) : null;
  }
}

/** A timer firing: `PUT /actors/{type}/{id}/method/timer/{name}`. */
export class ActorTimerEvent {
  constructor(
    /** The timer name. */
    public readonly name: string,
    /** `callback`: the timer callback this is delivered to. */
    public readonly callback: string,
    /** `data` as registered (raw JSON text), or `null`. */
    public readonly data: string | null,
    /** `dueTime` as registered. */
    public readonly dueTime: string,
    /** `period` as registered. */
    public readonly period: string,
  ) {}

  /** `data` as a JSON object (members as raw JSON), or `null` if it is not one. */
  dataObject(): Map<string, JSON.Raw> | null {
    const d = this.data;
    return d != null ? parseObject(d) : null;
  }
}

/**
 * An actor method. A 2xx answer is success: the turn's state writes are committed and the
 * answer goes back as exactly 200 (daprd treats any other status, 204 too, as a failure).
 * Any other status is a failure and nothing is committed: `actorError(409, json)` for an
 * error the caller should read (status and body passed on by daprd), a plain
 * `AppResponse.text(500, …)` for a failure (daprd answers the caller 500
 * `ERR_ACTOR_INVOKE_METHOD`).
 */
export type ActorMethodHandler = (ctx: ActorContext) => AppResponse;

/** A reminder handler: `true` = done (200, state committed), `false` = failed (500, daprd retries). */
export type ActorReminderHandler = (ctx: ActorContext, reminder: ActorReminderEvent) => bool;

/** A timer callback: `true` = done (200, state committed), `false` = failed (500, logged by daprd). */
export type ActorTimerHandler = (ctx: ActorContext, timer: ActorTimerEvent) => bool;

/**
 * A deactivation hook (`DELETE /actors/{type}/{id}`, after the idle timeout or a
 * rebalance). The actor is already gone from daprd's table, so state writes made here
 * are dropped (and logged); reads work.
 */
export type ActorDeactivateHandler = (ctx: ActorContext) => void;

/**
 * An actor error the caller reads (Dapr's actor-error protocol): answered **200** with
 * `X-DaprErrorResponseHeader: true`, `status` in `X-Wasi-Dapr-Actor-Status` and the
 * JSON body; daprd passes headers and body on to the caller instead of its own 500
 * (`isActorError` and `actorErrorStatus` read them there). Nothing the turn wrote is
 * saved.
 */
export function actorError(status: i32, json: string): AppResponse {
  return AppResponse.json(status, json).header(ACTOR_ERROR_HEADER, "true");
}

class ActorMethodRoute {
  constructor(
    public readonly name: string,
    public readonly handler: ActorMethodHandler,
  ) {}
}

class ActorTimerRoute {
  constructor(
    public readonly callback: string,
    public readonly handler: ActorTimerHandler,
  ) {}
}

/**
 * One hosted actor type: its methods, reminder handler, named timer callbacks, optional
 * deactivation hook and per-type overrides of the idle timeout and reentrancy (sent as
 * an `entitiesConfig` entry).
 */
export class ActorType {
  private methods: ActorMethodRoute[] = [];
  private timers: ActorTimerRoute[] = [];
  /** The reminder handler, or `null` (a reminder is then answered 404, logged). */
  reminderHandler: ActorReminderHandler | null = null;
  /** The deactivation hook, or `null`. */
  deactivateHandler: ActorDeactivateHandler | null = null;
  /** The idle-timeout override, or `null` (the app's). */
  idleTimeout: string | null = null;
  /** Reentrancy override: -1 = none (the app's), 0 = disabled, 1 = enabled. */
  reentrancy: i8 = -1;
  /** The `maxStackDepth` of the reentrancy override. */
  maxStackDepth: i32 = 32;

  constructor(
    /** The type name, e.g. `BankAccount`. */
    public readonly name: string,
  ) {}

  /** Serves method `name` (`PUT /actors/{type}/{id}/method/{name}`). */
  method(name: string, handler: ActorMethodHandler): ActorType {
    if (name.length == 0) {
      logLine("app: actor method ignored: the name must not be empty");
      return this;
    }
    this.methods.push(new ActorMethodRoute(name, handler));
    return this;
  }

  /** Handles every reminder of this type (the event names the reminder). */
  onReminder(handler: ActorReminderHandler): ActorType {
    this.reminderHandler = handler;
    return this;
  }

  /** Serves timer callback `callback` (the `callback` a timer was registered with). */
  timer(callback: string, handler: ActorTimerHandler): ActorType {
    this.timers.push(new ActorTimerRoute(callback, handler));
    return this;
  }

  /** Runs `handler` when daprd deactivates an actor of this type. */
  onDeactivate(handler: ActorDeactivateHandler): ActorType {
    this.deactivateHandler = handler;
    return this;
  }

  /** Overrides `actorIdleTimeout` for this type. */
  withIdleTimeout(timeout: string): ActorType {
    this.idleTimeout = timeout;
    return this;
  }

  /** Overrides reentrancy for this type. */
  withReentrancy(enabled: bool = true, maxStackDepth: i32 = 32): ActorType {
    this.reentrancy = enabled ? 1 : 0;
    this.maxStackDepth = maxStackDepth;
    return this;
  }

  /** `true` when this type overrides an app-wide setting. */
  get hasOverrides(): bool {
    return this.idleTimeout != null || this.reentrancy >= 0;
  }

  /** The handler of method `name`, or `null`. */
  methodHandler(name: string): ActorMethodHandler | null {
    for (let i = 0; i < this.methods.length; i++) if (this.methods[i].name == name) return this.methods[i].handler;
    return null;
  }

  /** The timer callback `callback`, or `null`. */
  timerHandler(callback: string): ActorTimerHandler | null {
    for (let i = 0; i < this.timers.length; i++) if (this.timers[i].callback == callback) return this.timers[i].handler;
    return null;
  }
}

// ----- the turn's state -----------------------------------------------------------------------

class StateSlot {
  constructor(
    /** The value as JSON text, `null` = absent. */
    public value: string | null,
    /** What the store holds: -1 unknown, 0 missing, 1 present. */
    public stored: i8,
    /** Changed in this turn. */
    public dirty: bool,
  ) {}
}

/**
 * An actor's state during one turn. `get` reads through the sidecar once per key and
 * caches the answer (a missing key too); `set` and `remove` are buffered, and visible to
 * later `get`s of the turn. At the end of a successful turn the router sends every
 * change in ONE transaction (`POST /v1.0/actors/{type}/{id}/state`); a failed turn
 * sends nothing. Values are JSON text, as in the state API.
 */
export class ActorStateManager {
  private slots: Map<string, StateSlot> = new Map<string, StateSlot>();
  private keys: string[] = [];
  private client: DaprClient | null = null;

  constructor(
    /** The actor type. */
    public readonly actorType: string,
    /** The actor id. */
    public readonly actorId: string,
    private readonly endpoint: string | null = null,
  ) {}

  /** The client the manager reads and commits through (created on first use). */
  dapr(): DaprClient {
    let c = this.client;
    if (c == null) {
      c = new DaprClient(this.endpoint);
      this.client = c;
    }
    return c;
  }

  /**
   * The value of `key` as JSON text, or `null` when it does not exist. The first read of
   * a key in a turn goes to the sidecar; later reads, and reads after `set`/`remove`,
   * answer from the turn's cache.
   */
  get(key: string): DaprResult<string> {
    if (this.slots.has(key)) {
      const s = this.slots.get(key);
      if (s.stored >= 0 || s.dirty) return ok<string, DaprError>(s.value);
    }
    const r = this.dapr().getActorState(this.actorType, this.actorId, key);
    if (r.error) return r;
    const v = r.value;
    this.slot(key, new StateSlot(v, v != null ? 1 : 0, false));
    return r;
  }

  /** `true` when `key` has a value (reads it like `get`). */
  contains(key: string): DaprResult<bool> {
    const r = this.get(key);
    if (r.error) return err<bool, DaprError>(r.error!);
    return ok<bool, DaprError>(r.value != null);
  }

  /**
   * Sets `key` to JSON text `json` (buffered until the end of the turn).
   *
   * @returns `null`, or an `InvalidArgument` error when `json` is not valid JSON or the key is empty
   */
  set(key: string, json: string): DaprError | null {
    if (key.length == 0) return DaprError.invalidArgument("state key must not be empty");
    if (!isValidJson(json)) return DaprError.invalidArgument("the value of key " + key + " is not valid JSON text: " + json);
    const stored: i8 = this.slots.has(key) ? this.slots.get(key).stored : -1;
    this.slot(key, new StateSlot(json.trim(), stored, true));
    return null;
  }

  /** Sets `key` to the JSON string `value`. */
  setString(key: string, value: string): DaprError | null {
    return this.set(key, jsonString(value));
  }

  /** Removes `key` (buffered). A key the turn read as missing is not sent. */
  remove(key: string): void {
    if (key.length == 0) return;
    const stored: i8 = this.slots.has(key) ? this.slots.get(key).stored : -1;
    this.slot(key, new StateSlot(null, stored, stored != 0));
  }

  /** `true` when the turn has writes to commit. */
  get hasChanges(): bool {
    for (let i = 0; i < this.keys.length; i++) if (this.slots.get(this.keys[i]).dirty) return true;
    return false;
  }

  /** The turn's writes as transaction operations, in the order the keys were first used. */
  operations(): StateOperation[] {
    const ops = new Array<StateOperation>();
    for (let i = 0; i < this.keys.length; i++) {
      const k = this.keys[i];
      const s = this.slots.get(k);
      if (!s.dirty) continue;
      const v = s.value;
      ops.push(v != null ? StateOperation.upsert(SaveStateItem.ofJson(k, v)) : StateOperation.remove(k));
    }
    return ops;
  }

  /**
   * Sends the turn's writes in one transaction (nothing when there are none) and marks
   * them saved. The router calls it after a successful handler.
   */
  commit(): DaprError | null {
    const ops = this.operations();
    if (ops.length == 0) return null;
    const e = this.dapr().transactActorState(this.actorType, this.actorId, ops);
    if (e != null) return e;
    for (let i = 0; i < this.keys.length; i++) {
      const s = this.slots.get(this.keys[i]);
      if (s.dirty) {
        s.dirty = false;
        s.stored = s.value != null ? 1 : 0;
      }
    }
    return null;
  }

  /** Drops the turn's writes (the cache of reads is kept). */
  discard(): void {
    for (let i = 0; i < this.keys.length; i++) {
      const k = this.keys[i];
      const s = this.slots.get(k);
      if (s.dirty) this.slots.set(k, new StateSlot(null, -1, false));
    }
  }

  private slot(key: string, s: StateSlot): void {
    if (!this.slots.has(key)) this.keys.push(key);
    this.slots.set(key, s);
  }
}

// ----- the turn's context ------------------------------------------------------------------------

/**
 * What a handler gets for one turn of one actor: who it is, the request, the turn's
 * state, and calls that act for this actor (its reminders and timers) or carry its
 * reentrancy id (`invokeActor`).
 */
export class ActorContext {
  /** The turn's state (committed at the end of a successful turn). */
  readonly state: ActorStateManager;
  /** The incoming `Dapr-Reentrancy-Id`, or `null` (reentrancy off, or not sent). */
  readonly reentrancyId: string | null;

  constructor(
    /** The actor type. */
    public readonly actorType: string,
    /** The actor id. */
    public readonly actorId: string,
    /** The method, reminder or timer name (`""` for a deactivation). */
    public readonly name: string,
    /** The whole request daprd sent. */
    public readonly request: AppRequest,
    endpoint: string | null = null,
  ) {
    this.state = new ActorStateManager(actorType, actorId, endpoint);
    this.reentrancyId = request.header(REENTRANCY_ID_HEADER);
  }

  /** The sidecar client of this turn. */
  get dapr(): DaprClient {
    return this.state.dapr();
  }

  /** The request body. */
  get body(): Uint8Array {
    return this.request.body;
  }

  /** The request body as UTF-8 text. */
  text(): string {
    return bytesToString(this.request.body);
  }

  /** The request body as a JSON object (members as raw JSON), or `null`. */
  bodyObject(): Map<string, JSON.Raw> | null {
    return parseObject(this.text());
  }

  /**
   * `DaprClient.invokeActor`, with this turn's `Dapr-Reentrancy-Id` added (unless
   * `options` sets one), so a call back into this actor re-enters it instead of
   * waiting for this turn (when reentrancy is enabled).
   */
  invokeActor(
    actorType: string,
    actorId: string,
    method: string,
    options: InvokeOptions | null = null,
    verb: string = Method.PUT,
  ): DaprResult<InvokeResponse> {
    const rid = this.reentrancyId;
    let opts = options;
    if (rid != null) {
      const copy = new InvokeOptions();
      if (options != null) {
        for (let i = 0; i < options.query.length; i++) copy.query.push(options.query[i]);
        for (let i = 0; i < options.headers.length; i++) copy.headers.push(options.headers[i]);
        copy.body = options.body;
        copy.contentType = options.contentType;
      }
      let has = false;
      for (let i = 0; i < copy.headers.length; i++) if (equalsIgnoreCase(copy.headers[i].name, REENTRANCY_ID_HEADER)) has = true;
      if (!has) copy.headers.push(new Header(REENTRANCY_ID_HEADER, rid));
      opts = copy;
    }
    return this.dapr.invokeActor(actorType, actorId, method, opts, verb);
  }

  /** Creates reminder `name` of this actor. */
  registerReminder(name: string, reminder: ActorReminderRequest): DaprError | null {
    return this.dapr.registerActorReminder(this.actorType, this.actorId, name, reminder);
  }

  /** Reads reminder `name` of this actor (`null` when there is none). */
  getReminder(name: string): DaprResult<ActorReminder> {
    return this.dapr.getActorReminder(this.actorType, this.actorId, name);
  }

  /** Deletes reminder `name` of this actor. */
  unregisterReminder(name: string): DaprError | null {
    return this.dapr.unregisterActorReminder(this.actorType, this.actorId, name);
  }

  /** Creates timer `name` of this actor. */
  registerTimer(name: string, timer: ActorTimerRequest): DaprError | null {
    return this.dapr.registerActorTimer(this.actorType, this.actorId, name, timer);
  }

  /** Deletes timer `name` of this actor. */
  unregisterTimer(name: string): DaprError | null {
    return this.dapr.unregisterActorTimer(this.actorType, this.actorId, name);
  }
}

// ----- the router's actor part -----------------------------------------------------------------

function optMemberString(obj: Map<string, JSON.Raw>, key: string): string {
  const s = memberString(obj, key);
  return s != null ? s : "";
}

function rawData(obj: Map<string, JSON.Raw>): string | null {
  const d = member(obj, "data");
  if (d == null || d == "null") return null;
  return d;
}

/**
 * The actor types of an `App` and the routes daprd calls for them. Used by `App`; an
 * app without actor types never reaches it.
 */
export class ActorRuntime {
  /** The hosted types, in registration order. */
  types: ActorType[] = [];
  /** The app-wide settings. */
  settings: ActorSettings = new ActorSettings();
  /** The sidecar address of the turns' clients; `null` = from the environment. */
  endpoint: string | null = null;

  /** Adds (or replaces, by name) a hosted type. */
  add(t: ActorType): void {
    for (let i = 0; i < this.types.length; i++) {
      if (this.types[i].name == t.name) {
        logLine("app: actor type " + jsonString(t.name) + " registered twice; the last one is used");
        this.types[i] = t;
        return;
      }
    }
    this.types.push(t);
  }

  /** The type named `name`, or `null`. */
  find(name: string): ActorType | null {
    for (let i = 0; i < this.types.length; i++) if (this.types[i].name == name) return this.types[i];
    return null;
  }

  /**
   * The `GET /dapr/config` answer: `entities`, `actorIdleTimeout`,
   * `drainOngoingCallTimeout`, `drainRebalancedActors`, `reentrancy`, and
   * `entitiesConfig` with one entry per type that overrides something (each entry
   * complete: the type's overrides, the app's values for the rest).
   */
  configJson(): string {
    const s = this.settings;
    const names = new Array<string>();
    for (let i = 0; i < this.types.length; i++) names.push(this.types[i].name);
    const w = new JsonObjectWriter()
      .stringArray("entities", names)
      .string("actorIdleTimeout", s.idleTimeout)
      .string("drainOngoingCallTimeout", s.drainOngoingCallTimeout)
      .bool("drainRebalancedActors", s.drainRebalancedActors)
      .raw("reentrancy", reentrancyJson(s.reentrancy, s.maxStackDepth));
    const entries = new Array<string>();
    for (let i = 0; i < this.types.length; i++) {
      const t = this.types[i];
      if (!t.hasOverrides) continue;
      const idle = t.idleTimeout;
      const e = new JsonObjectWriter()
        .stringArray("entities", [t.name])
        .string("actorIdleTimeout", idle != null ? idle : s.idleTimeout)
        .string("drainOngoingCallTimeout", s.drainOngoingCallTimeout)
        .bool("drainRebalancedActors", s.drainRebalancedActors);
      if (t.reentrancy >= 0) e.raw("reentrancy", reentrancyJson(t.reentrancy == 1, t.maxStackDepth));
      else e.raw("reentrancy", reentrancyJson(s.reentrancy, s.maxStackDepth));
      entries.push(e.build());
    }
    if (entries.length > 0) w.raw("entitiesConfig", jsonArray(entries));
    return w.build();
  }

  /**
   * Answers a request under `/actors/`: `PUT /actors/{type}/{id}/method/{method}`,
   * `…/method/remind/{name}`, `…/method/timer/{name}`, `DELETE /actors/{type}/{id}`.
   */
  handle(req: AppRequest): AppResponse {
    const parts = req.path.substring("/actors/".length).split("/");
    const m = req.method;
    if (parts.length < 2 || parts[0].length == 0 || parts[1].length == 0) {
      return AppResponse.text(404, "no handler for " + m + " " + req.path + "\n");
    }
    const t = this.find(parts[0]);
    if (t == null) return AppResponse.text(404, "actor type " + parts[0] + " is not hosted here\n");
    const id = parts[1];
    if (parts.length == 2) {
      if (m != "DELETE") return AppResponse.text(405, "method " + m + " not allowed on " + req.path + "\n").header("Allow", "DELETE");
      return this.deactivate(t, id, req);
    }
    if (parts[2] != "method" || parts.length < 4) return AppResponse.text(404, "no handler for " + m + " " + req.path + "\n");
    if (m != "PUT") return AppResponse.text(405, "method " + m + " not allowed on " + req.path + "\n").header("Allow", "PUT");
    if (parts.length == 5 && parts[3] == "remind" && parts[4].length > 0) return this.remind(t, id, parts[4], req);
    if (parts.length == 5 && parts[3] == "timer" && parts[4].length > 0) return this.fireTimer(t, id, parts[4], req);
    const method = parts.slice(3).join("/");
    const h = t.methodHandler(method);
    if (h == null) return AppResponse.text(404, "actor type " + t.name + " has no method " + method + "\n");
    const ctx = new ActorContext(t.name, id, method, req, this.endpoint);
    const res = h(ctx);
    const actorErr = res.headerValue(ACTOR_ERROR_HEADER) != null;
    if (res.status < 200 || res.status > 299 || actorErr) {
      if (ctx.state.hasChanges) {
        logLine("app: actor " + t.name + "/" + id + " " + method + " answered " + res.status.toString() + "; its state changes are not saved");
      }
      if (actorErr) {
        // daprd reads the status first: only a 200 passes an actor error on.
        if (res.headerValue(ACTOR_ERROR_STATUS_HEADER) == null) res.header(ACTOR_ERROR_STATUS_HEADER, res.status.toString());
        res.status = 200;
      }
      return res;
    }
    const failed = this.commit(ctx);
    if (failed != null) return failed;
    res.status = 200;
    return res;
  }

  private remind(t: ActorType, id: string, name: string, req: AppRequest): AppResponse {
    const h = t.reminderHandler;
    if (h == null) {
      logLine("app: reminder " + name + " of " + t.name + "/" + id + " has no handler (answered 404)");
      return AppResponse.text(404, "actor type " + t.name + " has no reminder handler\n");
    }
    const obj = parseObject(bytesToString(req.body));
    if (obj == null) {
      logLine("app: reminder " + name + " of " + t.name + "/" + id + ": the body is not a JSON object (answered 400)");
      return AppResponse.text(400, "reminder body is not a JSON object\n");
    }
    const ev = new ActorReminderEvent(name, rawData(obj), optMemberString(obj, "dueTime"), optMemberString(obj, "period"));
    const ctx = new ActorContext(t.name, id, name, req, this.endpoint);
    if (!h(ctx, ev)) return AppResponse.text(500, "reminder " + name + " failed\n");
    const failed = this.commit(ctx);
    return failed != null ? failed : AppResponse.empty(200);
  }

  private fireTimer(t: ActorType, id: string, name: string, req: AppRequest): AppResponse {
    const obj = parseObject(bytesToString(req.body));
    if (obj == null) {
      logLine("app: timer " + name + " of " + t.name + "/" + id + ": the body is not a JSON object (answered 400)");
      return AppResponse.text(400, "timer body is not a JSON object\n");
    }
    const callback = optMemberString(obj, "callback");
    const h = t.timerHandler(callback);
    if (h == null) {
      logLine("app: timer " + name + " of " + t.name + "/" + id + ": no callback " + jsonString(callback) + " (answered 404)");
      return AppResponse.text(404, "actor type " + t.name + " has no timer callback " + callback + "\n");
    }
    const ev = new ActorTimerEvent(name, callback, rawData(obj), optMemberString(obj, "dueTime"), optMemberString(obj, "period"));
    const ctx = new ActorContext(t.name, id, name, req, this.endpoint);
    if (!h(ctx, ev)) return AppResponse.text(500, "timer " + name + " failed\n");
    const failed = this.commit(ctx);
    return failed != null ? failed : AppResponse.empty(200);
  }

  private deactivate(t: ActorType, id: string, req: AppRequest): AppResponse {
    const h = t.deactivateHandler;
    if (h != null) {
      const ctx = new ActorContext(t.name, id, "", req, this.endpoint);
      h(ctx);
      if (ctx.state.hasChanges) logLine("app: actor " + t.name + "/" + id + " deactivated; state changes made on deactivation are dropped");
    }
    return AppResponse.empty(200);
  }

  /** Commits the turn's state; a 500 answer when that failed, else `null`. */
  private commit(ctx: ActorContext): AppResponse | null {
    const e = ctx.state.commit();
    if (e == null) return null;
    logLine("app: actor " + ctx.actorType + "/" + ctx.actorId + " " + ctx.name + ": saving its state failed: " + e.toString());
    return AppResponse.text(500, "saving the actor state failed: " + e.toString() + "\n");
  }
}
