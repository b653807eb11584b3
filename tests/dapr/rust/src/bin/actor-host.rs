//! A `wasi-dapr serve` app hosting the actor type `Probe` for the host's `actors` tests,
//! built on `wasi_dapr_sdk::app`. Each call is one turn in a fresh instance; what a turn
//! did is written to stderr, which the host logs as `guest:` lines:
//!
//! - `hold` `{"ms":N}`: logs `enter <id> <unix ms>`, sleeps N ms (at most 5 s), logs
//!   `leave <id> <unix ms>`, answers `{"id"}`. The test reads the intervals to see
//!   whether two turns overlapped.
//! - `incr`: adds 1 to the state key `count`, answers `{"count":N}`.
//! - `count`: answers `{"count":N}` (0 before the first `incr`).
//! - `trap`: writes `count` = -1 to the turn's state, then traps (panics; a wasm32
//!   panic aborts the instance) before the turn can commit.
//! - `recurse` `{"n":N}`: N > 0 calls `recurse` `{"n":N-1}` on this same actor (a
//!   re-entrant call, carrying the turn's `Dapr-Reentrancy-Id`), answers
//!   `{"depth":N+1}` (the chain's length below and including this turn); a failed nested
//!   call fails this turn with its error.
//! - deactivation logs `deactivated <id> count=<N>`.
//!
//! `Probe` deactivates after `2s` idle and is re-entrant up to a stack depth of 4.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use wasi_dapr_sdk::app::{ActorContext, ActorRequest, ActorResult, App, Response};

fn build() -> App {
    let mut app = App::new();
    app.actor("Probe")
        .method("hold", hold)
        .method("incr", incr)
        .method("count", |ctx, _| {
            Ok(Response::json(&json!({"count": count(ctx)?})))
        })
        .method("trap", trap)
        .method("recurse", recurse)
        .on_deactivate(|ctx| {
            let n = count(ctx)?;
            eprintln!("deactivated {} count={n}", ctx.actor_id());
            Ok(())
        })
        .idle_timeout("2s")
        .reentrancy(4);
    app
}

wasi_dapr_sdk::app::export!(build);

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

fn body(request: &ActorRequest) -> Value {
    request.json().unwrap_or(Value::Null)
}

fn count(ctx: &mut ActorContext) -> Result<i64, wasi_dapr_sdk::dapr::Error> {
    Ok(ctx.state().get::<i64>("count")?.unwrap_or(0))
}

fn hold(ctx: &mut ActorContext, request: &ActorRequest) -> ActorResult {
    let ms = body(request)["ms"].as_u64().unwrap_or(200).min(5000);
    let id = ctx.actor_id().to_owned();
    eprintln!("enter {id} {}", now_ms());
    std::thread::sleep(Duration::from_millis(ms));
    eprintln!("leave {id} {}", now_ms());
    Ok(Response::json(&json!({ "id": id })))
}

fn incr(ctx: &mut ActorContext, _: &ActorRequest) -> ActorResult {
    let n = count(ctx)? + 1;
    ctx.state().set("count", &n)?;
    Ok(Response::json(&json!({ "count": n })))
}

fn trap(ctx: &mut ActorContext, _: &ActorRequest) -> ActorResult {
    ctx.state().set("count", &-1)?;
    eprintln!(
        "trap {}: count set to -1 in the turn, trapping now",
        ctx.actor_id()
    );
    panic!("the trap method traps on purpose");
}

fn recurse(ctx: &mut ActorContext, request: &ActorRequest) -> ActorResult {
    let n = body(request)["n"].as_u64().unwrap_or(0);
    if n == 0 {
        return Ok(Response::json(&json!({ "depth": 1 })));
    }
    let id = ctx.actor_id().to_owned();
    let below: Value = ctx
        .invoke_actor("Probe", &id, "recurse", json!({ "n": n - 1 }).to_string())?
        .json()?;
    let depth = below["depth"].as_u64().unwrap_or(0) + 1;
    Ok(Response::json(&json!({ "depth": depth })))
}
