//! The `BankAccount` actor: a balance in integer cents in actor state key `balance`,
//! deposits, withdrawals refused with an actor error, and an `interest` reminder.
//!
//! The served app (`src/bin/app.rs`) is [`build_app`]; the logic is here so that it is
//! unit-tested natively.

use serde_json::{Value, json};
use wasi_dapr_sdk::app::{
    ActorContext, ActorError, ActorRequest, ActorResult, App, HandlerResult, ReminderEvent,
    Response,
};
use wasi_dapr_sdk::dapr::ReminderRequest;

/// The actor type.
pub const ACTOR_TYPE: &str = "BankAccount";
/// The state key of the balance, in cents.
const BALANCE: &str = "balance";
/// The reminder `add_interest` registers.
pub const INTEREST_REMINDER: &str = "interest";

/// The app: the `BankAccount` actor type and its handlers.
pub fn build_app() -> App {
    let mut app = App::new();
    app.actor(ACTOR_TYPE)
        .method("deposit", deposit)
        .method("withdraw", withdraw)
        .method("balance", balance)
        .method("add_interest", add_interest)
        .on_reminder(on_reminder);
    app
}

/// `balance * rate_percent / 100`, rounded down, added to `balance`.
pub fn with_interest(balance: i64, rate_percent: i64) -> i64 {
    balance + (balance * rate_percent).div_euclid(100)
}

/// The `amount` of a `{"amount":N}` body: a positive number of cents.
fn amount(request: &ActorRequest) -> Result<i64, ActorError> {
    let body: Value = request.json()?;
    match body["amount"].as_i64() {
        Some(n) if n > 0 => Ok(n),
        _ => Err(ActorError::json(
            400,
            &json!({"error": "expected {\"amount\": <positive cents>}"}),
        )),
    }
}

fn current(ctx: &mut ActorContext) -> Result<i64, wasi_dapr_sdk::dapr::Error> {
    Ok(ctx.state().get::<i64>(BALANCE)?.unwrap_or(0))
}

fn deposit(ctx: &mut ActorContext, request: &ActorRequest) -> ActorResult {
    let balance = current(ctx)? + amount(request)?;
    ctx.state().set(BALANCE, &balance)?;
    Ok(Response::json(&json!({"balance": balance})))
}

fn withdraw(ctx: &mut ActorContext, request: &ActorRequest) -> ActorResult {
    let (balance, amount) = (current(ctx)?, amount(request)?);
    if amount > balance {
        // Passed to the caller as is: its Client sees Error::Actor { status: 409, .. }.
        return Err(ActorError::json(
            409,
            &json!({"error": "insufficient funds", "balance": balance}),
        ));
    }
    ctx.state().set(BALANCE, &(balance - amount))?;
    Ok(Response::json(&json!({"balance": balance - amount})))
}

fn balance(ctx: &mut ActorContext, _request: &ActorRequest) -> ActorResult {
    Ok(Response::json(&json!({"balance": current(ctx)?})))
}

/// Registers the `interest` reminder for this actor: in 1 s, then every second, three
/// times in all; the body's `ratePercent` (default 10) is the reminder's data.
fn add_interest(ctx: &mut ActorContext, request: &ActorRequest) -> ActorResult {
    let rate = match request.body.is_empty() {
        true => 10,
        false => request.json::<Value>()?["ratePercent"]
            .as_i64()
            .unwrap_or(10),
    };
    let reminder = ReminderRequest::new()
        .due_time("1s")
        .period("R3/PT1S")
        .data(json!({"ratePercent": rate}));
    ctx.create_reminder(INTEREST_REMINDER, &reminder)?;
    Ok(Response::json(
        &json!({"reminder": INTEREST_REMINDER, "ratePercent": rate}),
    ))
}

fn on_reminder(ctx: &mut ActorContext, event: &ReminderEvent) -> HandlerResult {
    if event.name != INTEREST_REMINDER {
        eprintln!("ignoring reminder {}", event.name);
        return Ok(());
    }
    let rate = event
        .data
        .as_ref()
        .and_then(|d| d["ratePercent"].as_i64())
        .ok_or("the interest reminder has no ratePercent")?;
    let before = current(ctx)?;
    let after = with_interest(before, rate);
    ctx.state().set(BALANCE, &after)?;
    eprintln!("interest applied: {before} -> {after}"); // logged by the host as `guest: ...`
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use wasi_dapr_sdk::app::Request;
    use wasi_dapr_sdk::dapr::Client;
    use wasi_dapr_sdk::http::{self, Headers};

    use super::*;

    /// A stand-in for the sidecar's actor state and reminder routes, in memory.
    #[derive(Clone, Default)]
    struct FakeSidecar {
        state: Arc<Mutex<BTreeMap<String, Vec<u8>>>>,
        reminders: Arc<Mutex<Vec<(String, Value)>>>,
    }

    impl FakeSidecar {
        fn send(&self, req: &http::Request) -> Result<http::Response, http::Error> {
            let path = req
                .url
                .trim_start_matches("http://dapr:3500/v1.0/actors/BankAccount/");
            let (id, rest) = path.split_once('/').ok_or(http::Error::InvalidUrl)?;
            let mut state = self.state.lock().map_err(|_| http::Error::RuntimeError)?;
            let empty = |status| Ok(http::Response::new(status, Headers::new(), Vec::new()));
            match (req.method.as_str(), rest.split_once('/')) {
                ("GET", Some(("state", key))) => match state.get(&format!("{id}/{key}")) {
                    Some(v) => Ok(http::Response::new(200, Headers::new(), v.clone())),
                    None => empty(204),
                },
                ("POST", None) if rest == "state" => {
                    let ops: Vec<Value> =
                        serde_json::from_slice(&req.body).map_err(|_| http::Error::RuntimeError)?;
                    for op in ops {
                        let key = format!("{id}/{}", op["request"]["key"].as_str().unwrap_or(""));
                        match op["operation"].as_str() {
                            Some("upsert") => {
                                state.insert(key, op["request"]["value"].to_string().into_bytes());
                            }
                            _ => {
                                state.remove(&key);
                            }
                        }
                    }
                    empty(204)
                }
                ("POST", Some(("reminders", name))) => {
                    let body = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
                    self.reminders
                        .lock()
                        .map_err(|_| http::Error::RuntimeError)?
                        .push((format!("{id}/{name}"), body));
                    empty(204)
                }
                _ => empty(404),
            }
        }
    }

    fn app(sidecar: &FakeSidecar) -> App {
        let mut app = build_app();
        let s = sidecar.clone();
        let client = Client::from_lookup(|_| None)
            .with_address("http://dapr:3500")
            .with_transport(move |req: &http::Request| s.send(req));
        app.actor_client(client);
        app
    }

    fn put(app: &App, path: &str, body: &str) -> Response {
        app.handle(&Request::from_http("PUT", path, Headers::new(), body))
    }

    fn json_of(r: &Response) -> Value {
        serde_json::from_slice(&r.body).unwrap_or(Value::Null)
    }

    #[test]
    fn interest_is_rounded_down() {
        assert_eq!(with_interest(7000, 10), 7700);
        assert_eq!(with_interest(7700, 10), 8470);
        assert_eq!(with_interest(8470, 10), 9317);
        assert_eq!(with_interest(0, 10), 0);
    }

    #[test]
    fn the_client_walkthrough() {
        let sidecar = FakeSidecar::default();
        let app = app(&sidecar);
        let r = put(
            &app,
            "/actors/BankAccount/alice/method/deposit",
            r#"{"amount":10000}"#,
        );
        assert_eq!((r.status, json_of(&r)), (200, json!({"balance": 10000})));
        let r = put(
            &app,
            "/actors/BankAccount/alice/method/withdraw",
            r#"{"amount":3000}"#,
        );
        assert_eq!(json_of(&r), json!({"balance": 7000}));
        let r = put(
            &app,
            "/actors/BankAccount/alice/method/withdraw",
            r#"{"amount":100000}"#,
        );
        assert_eq!(r.status, 200);
        assert_eq!(r.headers.get("x-daprerrorresponseheader"), Some("true"));
        assert_eq!(r.headers.get("x-wasi-dapr-actor-status"), Some("409"));
        assert_eq!(
            json_of(&r),
            json!({"error": "insufficient funds", "balance": 7000})
        );
        let r = put(
            &app,
            "/actors/BankAccount/alice/method/add_interest",
            r#"{"ratePercent":10}"#,
        );
        assert_eq!(r.status, 200);
        let reminders = sidecar.reminders.lock().unwrap().clone();
        assert_eq!(
            reminders,
            [(
                "alice/interest".to_string(),
                json!({"dueTime": "1s", "period": "R3/PT1S", "data": {"ratePercent": 10}})
            )]
        );
        let tick = r#"{"data":{"ratePercent":10},"dueTime":"","period":""}"#;
        for _ in 0..3 {
            let r = put(
                &app,
                "/actors/BankAccount/alice/method/remind/interest",
                tick,
            );
            assert_eq!(r.status, 200);
        }
        let r = put(&app, "/actors/BankAccount/alice/method/balance", "");
        assert_eq!(json_of(&r), json!({"balance": 9317}));
        // Another account is separate.
        let r = put(&app, "/actors/BankAccount/bob/method/balance", "");
        assert_eq!(json_of(&r), json!({"balance": 0}));
    }

    #[test]
    fn bad_amounts_are_refused() {
        let sidecar = FakeSidecar::default();
        let app = app(&sidecar);
        for body in [r#"{"amount":-5}"#, r#"{"amount":"x"}"#, "{}"] {
            let r = put(&app, "/actors/BankAccount/alice/method/deposit", body);
            assert_eq!(
                r.headers.get("x-wasi-dapr-actor-status"),
                Some("400"),
                "{body}"
            );
        }
        let r = put(&app, "/actors/BankAccount/alice/method/deposit", "not json");
        assert_eq!(r.status, 500);
        assert!(sidecar.state.lock().unwrap().is_empty());
    }
}
