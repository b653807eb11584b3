//! Saves, reads, updates with ETags, bulk-reads, transacts and deletes Dapr state.

use std::error::Error;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::json;
use wasi_dapr_sdk::dapr::{Client, Concurrency, SaveStateItem, StateOperation, StateOptions};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("state-rust failed: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    // The store name is configurable; `statestore` is Dapr's conventional default.
    let store = std::env::var("STATE_STORE").unwrap_or_else(|_| "statestore".into());
    // Sidecar address: DAPR_HTTP_ENDPOINT, else DAPR_HTTP_PORT, else 127.0.0.1:3500.
    let client = Client::new();
    client.wait_for_sidecar(Duration::from_secs(10))?;

    // 1. Save and read back. The store keeps the JSON text, quotes included.
    client.save_state(&store, "weapon", "Death Star")?;
    let entry = client
        .get_state(&store, "weapon")?
        .ok_or("weapon was saved but is missing")?;
    println!("get weapon: {}", String::from_utf8_lossy(&entry.value));

    // 2. Optimistic concurrency: a write with the current ETag succeeds, and makes that
    //    ETag stale, so a second write with it is refused.
    let etag = entry.etag.ok_or("the store returned no ETag")?;
    let first_write = StateOptions::default()
        .etag(etag)
        .concurrency(Concurrency::FirstWrite);
    client.save_state_with(&store, "weapon", "Death Star II", &first_write)?;
    println!("save with current etag: ok");
    match client.save_state_with(&store, "weapon", "Starkiller Base", &first_write) {
        Err(error) if error.is_etag_mismatch() => println!("save with stale etag: etag mismatch"),
        Err(error) => return Err(error.into()),
        Ok(()) => return Err("a write with a stale ETag succeeded".into()),
    }

    // 3. Bulk: save two keys in one request, read four back (one never existed).
    client.save_bulk_state(
        &store,
        &[
            SaveStateItem::new("planets", json!({"name": "Tatooine", "test": 123})),
            SaveStateItem::new("droid", "R2-D2"),
        ],
    )?;
    for item in client.get_bulk_state(&store, &["weapon", "planets", "droid", "missing"])? {
        println!(
            "bulk {}: {}",
            item.key,
            show(item.data.map(|d| d.to_string()))
        );
    }

    // 4. A transaction: upsert one key and delete another, atomically.
    client.transact_state(
        &store,
        &[
            StateOperation::upsert("ship", "Millennium Falcon"),
            StateOperation::delete("droid"),
        ],
    )?;
    println!(
        "after transaction: ship {}, droid {}",
        show(read(&client, &store, "ship")?),
        show(read(&client, &store, "droid")?)
    );

    // 5. Delete, then the key reads as missing (204).
    for key in ["weapon", "planets", "ship"] {
        client.delete_state(&store, key)?;
    }
    println!(
        "after delete: weapon {}",
        show(read(&client, &store, "weapon")?)
    );
    println!("state-rust: done");
    Ok(())
}

/// The stored JSON text of `key`, if it exists.
fn read(client: &Client, store: &str, key: &str) -> Result<Option<String>, Box<dyn Error>> {
    Ok(client
        .get_state(store, key)?
        .map(|entry| String::from_utf8_lossy(&entry.value).into_owned()))
}

fn show(value: Option<String>) -> String {
    value.unwrap_or_else(|| "(not found)".into())
}
