//! Calls the `BankAccount` actor through the sidecar: deposits, withdrawals (one refused
//! with the actor's 409), the `interest` reminder, and the balance once it has fired.
//!
//! Run with `wasi-dapr run … actor-rust-client.wasm [actor_type] [actor_id]`
//! (default `BankAccount alice`).

use std::process::ExitCode;
use std::time::Duration;

use serde_json::{Value, json};
use wasi_dapr_sdk::dapr::{Client, Error};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let actor_type = args.next().unwrap_or_else(|| "BankAccount".to_owned());
    let actor_id = args.next().unwrap_or_else(|| "alice".to_owned());
    match walkthrough(&Client::new(), &actor_type, &actor_id) {
        Ok(()) => {
            println!("actor-rust-client: done");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("actor-rust-client: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Calls `method` with a JSON body and returns the `balance` of the answer.
fn call(client: &Client, t: &str, id: &str, method: &str, body: &Value) -> Result<i64, Error> {
    let answer: Value = client
        .invoke_actor(t, id, method, body.to_string())?
        .json()?;
    answer["balance"]
        .as_i64()
        .ok_or_else(|| Error::InvalidArgument(format!("no balance in {answer}")))
}

fn walkthrough(client: &Client, t: &str, id: &str) -> Result<(), Error> {
    client.wait_for_sidecar(Duration::from_secs(10))?;

    let balance = call(client, t, id, "deposit", &json!({"amount": 10000}))?;
    println!("deposit 10000 -> balance {balance}");
    let balance = call(client, t, id, "withdraw", &json!({"amount": 3000}))?;
    println!("withdraw 3000 -> balance {balance}");

    // The actor refuses with its own error, passed to us as is: Error::Actor.
    match call(client, t, id, "withdraw", &json!({"amount": 100000})) {
        Err(Error::Actor { status, body, .. }) => {
            let refusal: Value = serde_json::from_slice(&body).unwrap_or_default();
            println!(
                "withdraw 100000 -> refused ({status}): {}, balance {}",
                refusal["error"].as_str().unwrap_or("?"),
                refusal["balance"]
            );
        }
        Ok(balance) => println!("withdraw 100000 -> balance {balance} (not refused!)"),
        Err(other) => return Err(other),
    }

    client.invoke_actor(
        t,
        id,
        "add_interest",
        json!({"ratePercent": 10}).to_string(),
    )?;
    println!("add_interest -> reminder interest: 10% in 1s, then every second, 3 times");
    match client.get_actor_reminder(t, id, "interest")? {
        Some(reminder) => println!(
            "the sidecar has reminder interest: period {}",
            reminder.period.as_deref().unwrap_or("-")
        ),
        None => println!("the sidecar has no reminder interest"),
    }

    // The reminder fires at 1 s, 2 s and 3 s: 7000 -> 7700 -> 8470 -> 9317.
    std::thread::sleep(Duration::from_millis(4500));
    let balance = call(client, t, id, "balance", &json!({}))?;
    println!("after 3 reminders -> balance {balance}");

    client.delete_actor_reminder(t, id, "interest")?;
    println!("deleted reminder interest");
    Ok(())
}
