/**
 * actor-as: a served app hosting the Dapr virtual actor type `BankAccount`. The balance,
 * in integer cents, is the actor state key `balance` (a JSON number); every method call,
 * reminder and timer is one turn, and the turn's writes are saved in one transaction
 * when it succeeds.
 *
 * - `deposit` `{"amount":N}` → 200 `{"balance":N}`;
 * - `withdraw` `{"amount":N}` → 200 `{"balance":N}`, or the actor error 409
 *   `{"error":"insufficient funds","balance":N}` (header `X-DaprErrorResponseHeader`);
 * - `balance` → 200 `{"balance":N}`;
 * - `add_interest` registers this actor's reminder `interest` (dueTime `1s`, period
 *   `R3/PT1S`, data `{"ratePercent":10}`) → 200 `{"reminder":"interest"}`;
 * - reminder `interest` adds floor(balance × ratePercent / 100) and logs
 *   `interest applied: 7000 -> 7700` to stderr (the host prints `guest: ...`).
 *
 * @packageDocumentation
 */

import {
  ActorContext,
  ActorReminderEvent,
  ActorReminderRequest,
  ActorType,
  App,
  AppResponse,
  actorError,
  logLine,
  member,
} from "../../as-sdk/assembly/index";

/** A non-negative JSON integer; -1 when `raw` is anything else (or too large). */
function cents(raw: string | null): i64 {
  if (raw == null) return -1;
  const t = raw.trim();
  if (t.length == 0 || t.length > 15) return -1;
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
  }
  return I64.parseInt(t);
}

/** The balance of this turn's actor (0 before the first deposit); -1 and `failure` set when unreadable. */
let failure: AppResponse | null = null;
function readBalance(ctx: ActorContext): i64 {
  failure = null;
  const got = ctx.state.get("balance");
  if (got.error != null) {
    failure = AppResponse.text(500, "reading the balance failed: " + got.error!.toString() + "\n");
    return -1;
  }
  if (got.value == null) return 0;
  const n = cents(got.value);
  if (n < 0) failure = AppResponse.text(500, "the stored balance is not a number of cents: " + got.value! + "\n");
  return n;
}

function balanceJson(n: i64): string {
  return '{"balance":' + n.toString() + "}";
}

/** The `amount` of the body, or -1 (and an actor error 400 in `failure`). */
function amount(ctx: ActorContext): i64 {
  failure = null;
  const obj = ctx.bodyObject();
  const n = obj != null ? cents(member(obj, "amount")) : -1;
  if (n <= 0) failure = actorError(400, '{"error":"amount must be a positive integer of cents"}');
  return n;
}

function deposit(ctx: ActorContext): AppResponse {
  const a = amount(ctx);
  if (a < 0) return failure!;
  const b = readBalance(ctx);
  if (b < 0) return failure!;
  ctx.state.set("balance", (b + a).toString());
  return AppResponse.json(200, balanceJson(b + a));
}

function withdraw(ctx: ActorContext): AppResponse {
  const a = amount(ctx);
  if (a < 0) return failure!;
  const b = readBalance(ctx);
  if (b < 0) return failure!;
  if (a > b) return actorError(409, '{"error":"insufficient funds","balance":' + b.toString() + "}");
  ctx.state.set("balance", (b - a).toString());
  return AppResponse.json(200, balanceJson(b - a));
}

function balance(ctx: ActorContext): AppResponse {
  const b = readBalance(ctx);
  if (b < 0) return failure!;
  return AppResponse.json(200, balanceJson(b));
}

function addInterest(ctx: ActorContext): AppResponse {
  const r = new ActorReminderRequest().withDueTime("1s").withPeriod("R3/PT1S").withData('{"ratePercent":10}');
  const e = ctx.registerReminder("interest", r);
  if (e != null) return AppResponse.text(500, "registering the interest reminder failed: " + e.toString() + "\n");
  return AppResponse.json(200, '{"reminder":"interest"}');
}

function onReminder(ctx: ActorContext, reminder: ActorReminderEvent): bool {
  if (reminder.name != "interest") {
    logLine("unknown reminder " + reminder.name + " of " + ctx.actorId + " (ignored)");
    return true;
  }
  const data = reminder.dataObject();
  const rate = data != null ? cents(member(data, "ratePercent")) : -1;
  if (rate < 0) {
    logLine("reminder interest: bad data " + (reminder.data != null ? reminder.data! : "null") + " (ignored)");
    return true;
  }
  const b = readBalance(ctx);
  if (b < 0) {
    logLine("reminder interest: " + failure!.bodyText().trim());
    return false;
  }
  const after = b + (b * rate) / 100;
  if (after != b && ctx.state.set("balance", after.toString()) != null) return false;
  logLine("interest applied: " + b.toString() + " -> " + after.toString());
  return true;
}

new App()
  .actor(
    new ActorType("BankAccount")
      .method("deposit", deposit)
      .method("withdraw", withdraw)
      .method("balance", balance)
      .method("add_interest", addInterest)
      .onReminder(onReminder),
  )
  .run();
