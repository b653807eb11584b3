//! The end-to-end Dapr scenario guest: save and bulk-save state, read it back, compare.

use std::process::ExitCode;
use std::time::Duration;

use serde_json::{Value, json};
use wasi_dapr_sdk::dapr::{Client, Error, SaveStateItem};

fn main() -> ExitCode {
    let store = std::env::var("STATE_STORE").unwrap_or_else(|_| "statestore".into());
    match run(&Client::new(), &store) {
        Ok(mismatches) if mismatches.is_empty() => {
            println!("dapr-rust: all checks passed (store {store})");
            ExitCode::SUCCESS
        }
        Ok(mismatches) => {
            for mismatch in &mismatches {
                println!("mismatch: {mismatch}");
            }
            println!(
                "dapr-rust: {} check(s) failed (store {store})",
                mismatches.len()
            );
            ExitCode::FAILURE
        }
        Err(error) => {
            println!("dapr-rust: error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the scenario; returns what differed from what was saved.
fn run(client: &Client, store: &str) -> Result<Vec<String>, Error> {
    client.wait_for_sidecar(Duration::from_secs(10))?;
    let planets = json!({"name": "Tatooine", "test": 123});

    client.save_state(store, "weapon", "Death Star")?;
    client.save_bulk_state(store, &[SaveStateItem::new("planets", planets.clone())])?;

    let mut mismatches = Vec::new();
    let mut check = |what: &str, expected: &str, got: Option<String>| {
        let got = got.unwrap_or_else(|| "(not found)".into());
        if got != expected {
            mismatches.push(format!("{what}: expected {expected}, got {got}"));
        }
    };

    // Single reads return the stored JSON text verbatim: the string keeps its quotes.
    let weapon = client.get_state(store, "weapon")?;
    check(
        "get weapon",
        r#""Death Star""#,
        weapon.map(|e| String::from_utf8_lossy(&e.value).into_owned()),
    );
    let planets_read = client.get_state(store, "planets")?;
    check(
        "get planets",
        &planets.to_string(),
        planets_read.map(|e| normalise(&e.value)),
    );

    // A bulk read returns both under `data`, in key order.
    let items = client.get_bulk_state(store, &["weapon", "planets"])?;
    let data = |key: &str| {
        items
            .iter()
            .find(|item| item.key == key)
            .and_then(|item| item.data.as_ref())
            .map(Value::to_string)
    };
    check("bulk weapon", r#""Death Star""#, data("weapon"));
    check("bulk planets", &planets.to_string(), data("planets"));
    Ok(mismatches)
}

/// Re-serialises JSON text so that key order and spacing do not matter; non-JSON is
/// shown as is.
fn normalise(bytes: &[u8]) -> String {
    serde_json::from_slice::<Value>(bytes)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| String::from_utf8_lossy(bytes).into_owned())
}
