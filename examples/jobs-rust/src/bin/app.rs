//! Handles the jobs: the sidecar posts `POST /job/<name>` with the job's data each
//! time a job triggers. Served by `wasi-dapr serve` (a fresh instance per request).
//!
//! `Ok` answers 200, which the sidecar counts as done; an error answers 500 and the
//! job's failure policy decides whether it is triggered again.

use wasi_dapr_sdk::app::{App, HandlerResult, JobEvent};

wasi_dapr_sdk::app::export!(build_app);

fn build_app() -> App {
    let mut app = App::new();
    app.on_job("reminder", on_reminder);
    app.on_job("hello", on_hello);
    app
}

fn on_reminder(job: &JobEvent) -> HandlerResult {
    let data: serde_json::Value = job.json()?;
    let message = data["message"]
        .as_str()
        .ok_or("no message in the job data")?;
    eprintln!("job {}: {message}", job.name); // logged by the host as `guest: ...`
    Ok(())
}

fn on_hello(job: &JobEvent) -> HandlerResult {
    eprintln!("job {}: {}", job.name, job.text()?);
    Ok(())
}
