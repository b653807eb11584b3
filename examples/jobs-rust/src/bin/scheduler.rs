//! Schedules two jobs with the sidecar's Jobs API, reads one back, and exits.
//!
//! `reminder` triggers every second, three times in all, with a JSON payload;
//! `hello` triggers once, two seconds from now, and is never retried. The sidecar then
//! calls the served app (`jobs-rust-app`) with `POST /job/<name>` each time.

use std::process::ExitCode;

use serde_json::json;
use wasi_dapr_sdk::dapr::{Client, Error, FailurePolicy, JobRequest};

fn main() -> ExitCode {
    match schedule(&Client::new()) {
        Ok(()) => {
            println!("jobs-rust-scheduler: done");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("jobs-rust-scheduler: {error}");
            ExitCode::FAILURE
        }
    }
}

fn schedule(client: &Client) -> Result<(), Error> {
    // `overwrite`, so running the scheduler again replaces the jobs instead of a 409.
    let reminder = JobRequest::new()
        .schedule("@every 1s")
        .repeats(3)
        .data_json(&json!({"message": "water the plants"}))?
        .overwrite(true);
    client.schedule_job("reminder", &reminder)?;
    println!("scheduled job reminder: @every 1s, 3 times");

    let hello = JobRequest::new()
        .due_time("2s")
        .data(json!("hello"))
        .failure_policy(FailurePolicy::Drop)
        .overwrite(true);
    client.schedule_job("hello", &hello)?;
    println!("scheduled job hello: once, in 2s, never retried");

    match client.get_job("reminder")? {
        Some(job) => println!(
            "the sidecar has job {}: schedule {}, repeats {}, data {}, failure policy {}",
            job.name,
            job.schedule.as_deref().unwrap_or("-"),
            job.repeats.map_or("-".into(), |n| n.to_string()),
            job.data,
            job.failure_policy
                .map_or("(none)".into(), |p| p.to_string())
        ),
        None => println!("the sidecar has no job reminder"),
    }
    Ok(())
}
