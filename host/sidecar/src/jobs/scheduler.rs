//! The scheduler task: one timer over a job table's heap (jobs, actor reminders or actor timers), fires each due trigger at the app with bounded concurrency, reports each outcome back, stops on shutdown.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::Full;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::store::{Due, JobTable, Target, Trigger};
use super::timefmt::{now, until};
use crate::ctx::{Ctx, wait_for_shutdown};

/// The longest sleep between looks at the heap (a wall-clock jump is noticed this late).
const MAX_SLEEP: Duration = Duration::from_secs(30);

/// Bytes escaped in the `/job/{name}` path.
pub(crate) const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// Runs until shutdown over the table `table` picks out of the `Ctx`: sleeps until the
/// earliest due trigger (or a change of the table), then fires every due trigger, at most
/// `job_trigger_concurrency` at a time.
pub(crate) async fn run(ctx: Arc<Ctx>, table: fn(&Ctx) -> &JobTable) {
    let mut shutdown = ctx.shutdown_rx();
    let permits = Arc::new(Semaphore::new(ctx.tuning.job_trigger_concurrency.max(1)));
    let mut in_flight = JoinSet::new();
    loop {
        while in_flight.try_join_next().is_some() {}
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = wait_for_shutdown(&mut shutdown) => break,
        };
        match table(&ctx).take_due(now()) {
            Due::Fire(trigger) => {
                let ctx = ctx.clone();
                in_flight.spawn(async move {
                    let success = match &trigger.job.target {
                        Target::App => fire(&ctx, &trigger).await,
                        _ => crate::actors::fire(&ctx, &trigger.job).await,
                    };
                    table(&ctx).complete(&trigger, success, now());
                    drop(permit);
                });
            }
            Due::Wait(next) => {
                drop(permit);
                let sleep = next.map_or(MAX_SLEEP, |t| until(t, now()).min(MAX_SLEEP));
                tokio::select! {
                    () = tokio::time::sleep(sleep) => {}
                    () = table(&ctx).changed() => {}
                    () = wait_for_shutdown(&mut shutdown) => break,
                }
            }
        }
    }
    in_flight.abort_all();
}

/// One attempt of a trigger; whether it counts as delivered (2xx, or 404 as daprd does).
async fn fire(ctx: &Ctx, trigger: &Trigger) -> bool {
    let job = &trigger.job;
    let path = format!("/job/{}", utf8_percent_encode(&job.name, PATH));
    let id = uuid::Uuid::new_v4().simple().to_string();
    let span = &uuid::Uuid::new_v4().simple().to_string()[..16];
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(&path)
        .header(header::CONTENT_TYPE, "application/json")
        .header("traceparent", format!("00-{id}-{span}-01"));
    if let Some(token) = ctx.app_token_header() {
        builder = builder.header("dapr-api-token", token);
    }
    // A job without data is sent with an empty body (see the README).
    let body = job
        .data
        .as_ref()
        .map(|d| Bytes::from(serde_json::to_vec(d).unwrap_or_default()))
        .unwrap_or_default();
    let Ok(req) = builder.body(Full::new(body)) else {
        tracing::warn!(job = %job.name, "the job name makes no valid request path; trigger failed");
        return false;
    };
    match ctx.call_app(req).await {
        Ok(res) if res.status.is_success() => true,
        Ok(res) if res.status == StatusCode::NOT_FOUND => {
            tracing::warn!(job = %job.name, "the app answered 404 to a job trigger; not retried");
            true
        }
        Ok(res) => {
            tracing::warn!(job = %job.name, status = %res.status, "the app failed a job trigger");
            false
        }
        Err(e) => {
            tracing::warn!(job = %job.name, error = %e, "triggering a job failed");
            false
        }
    }
}
