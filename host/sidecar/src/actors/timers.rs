//! Actor reminders and timers: `/v1.0/actors/{type}/{id}/reminders/{name}` (as daprd 1.15+ keeps them, as Scheduler jobs: `@every` schedule, repeats, default failure policy) and `/timers/{name}` (in memory, failures logged, removed with their actor).

use http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::runtime::ActorKey;
use super::{actor_store, check_name, check_open};
use crate::api::{ApiError, ApiRequest, Resp, json_response, no_content};
use crate::ctx::Ctx;
use crate::gojson::{self, Shape};
use crate::jobs::body::{FailurePolicy, JobBody};
use crate::jobs::store::{AddError, Job, Target};
use crate::jobs::timefmt::{
    format_go_duration, now, parse_go_duration, parse_iso_duration, parse_rfc3339,
};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    #[serde(default)]
    due_time: Option<String>,
    #[serde(default)]
    period: Option<String>,
    #[serde(default)]
    ttl: Option<String>,
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    callback: Option<String>,
    #[serde(default)]
    overwrite: Option<bool>,
}

/// The Go shape of a reminder or timer body (`CreateReminderRequest`/`CreateTimerRequest`).
const BODY: Shape = Shape::Struct(&[
    ("dueTime", Shape::Plain),
    ("period", Shape::Plain),
    ("ttl", Shape::Plain),
    ("data", Shape::Plain),
    ("callback", Shape::Plain),
    ("overwrite", Shape::Plain),
]);

fn decode(body: &[u8]) -> Result<Body, ApiError> {
    if body.is_empty() {
        return Ok(Body::default());
    }
    gojson::from_slice(body, &BODY).map_err(ApiError::malformed)
}

/// A `period` as an `@every` schedule and its repeats: a Go duration, or an ISO 8601
/// duration with optional `R<n>/` (no years, months or days, as the Scheduler refuses).
fn every(period: &str, allow_days: bool) -> Result<(String, Option<u32>), String> {
    let (nanos, repeats) = match parse_go_duration(period) {
        Ok(d) => (i128::from(d), None),
        Err(_) => {
            let iso = parse_iso_duration(period)?;
            if period.starts_with('R') && iso.repeats == 0 {
                return Err(format!("period {period} has zero repetitions"));
            }
            if iso.years != 0 || iso.months != 0 || (iso.days != 0 && !allow_days) {
                return Err(format!("unsupported period format: {period}"));
            }
            let nanos = iso.nanos + i128::from(iso.days) * 86_400 * 1_000_000_000;
            let repeats = (iso.repeats > 0).then(|| u32::try_from(iso.repeats).unwrap_or(u32::MAX));
            (nanos, repeats)
        }
    };
    if nanos <= 0 {
        return Err(format!("period {period} must be positive"));
    }
    let nanos = i64::try_from(nanos).map_err(|_| format!("period {period} is too long"))?;
    Ok((format!("@every {}", format_go_duration(nanos)), repeats))
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

/// `<type>||<id>||<name>`: the key of a reminder or timer in its table.
fn job_key(key: &ActorKey, name: &str) -> String {
    format!("{}||{name}", key.joined())
}

/// Checks the names and that the app hosts `actor_type` (403 for reminders otherwise).
async fn hosted_reminder_target(
    ctx: &Ctx,
    actor_type: &str,
    actor_id: &str,
    name: &str,
) -> Result<ActorKey, ApiError> {
    check_name("actor type", actor_type)?;
    check_name("actor id", actor_id)?;
    check_name("reminder name", name)?;
    check_open(ctx)?;
    actor_store(ctx)?;
    if ctx.actors.type_config(actor_type).await.is_none() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "ERR_ACTOR_REMINDER_NON_HOSTED",
            format!(
                "operation is not supported for actor type {actor_type}: it is not hosted by this app"
            ),
        ));
    }
    Ok(ActorKey::new(actor_type, actor_id))
}

/// `POST|PUT /v1.0/actors/{type}/{id}/reminders/{name}`.
pub(crate) async fn create_reminder(
    ctx: &Ctx,
    req: &ApiRequest,
    actor_type: &str,
    actor_id: &str,
    name: &str,
) -> Result<Resp, ApiError> {
    let body = decode(&req.body)?;
    let key = hosted_reminder_target(ctx, actor_type, actor_id, name).await?;
    let fail = |e: String| {
        ApiError::internal(
            "ERR_ACTOR_REMINDER_CREATE",
            format!("error creating actor reminder: {e}"),
        )
    };
    let (schedule, repeats) = match non_empty(body.period) {
        Some(p) => {
            let (s, r) = every(&p, false).map_err(fail)?;
            (Some(s), r)
        }
        None => (None, None),
    };
    let overwrite = body.overwrite.unwrap_or(true);
    let job_body = JobBody {
        schedule,
        repeats,
        due_time: non_empty(body.due_time),
        ttl: non_empty(body.ttl),
        data: body.data,
        overwrite,
        ..JobBody::default()
    };
    let mut job = Job::build(job_key(&key, name), job_body, now()).map_err(fail)?;
    job.target = Target::Reminder {
        actor_type: key.actor_type.clone(),
        actor_id: key.actor_id.clone(),
        reminder: name.to_string(),
    };
    match ctx.actors.reminders.add(job, overwrite) {
        Ok(()) => Ok(no_content()),
        Err(AddError::Exists) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "ERR_ACTOR_REMINDER_ALREADY_EXISTS",
            format!("actor reminder already exists: {name}"),
        )),
        Err(AddError::Full(max)) => Err(fail(format!(
            "the sidecar holds its maximum of {max} reminders"
        ))),
    }
}

/// `GET /v1.0/actors/{type}/{id}/reminders/{name}`: as the Scheduler keeps it (`period`
/// as its `@every` schedule, `ttl` only when it was a point in time).
pub(crate) async fn get_reminder(
    ctx: &Ctx,
    actor_type: &str,
    actor_id: &str,
    name: &str,
) -> Result<Resp, ApiError> {
    let key = hosted_reminder_target(ctx, actor_type, actor_id, name).await?;
    let Some(job) = ctx.actors.reminders.get(&job_key(&key, name)) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "ERR_ACTOR_REMINDER_NOT_FOUND",
            format!("actor reminder not found: {name}"),
        ));
    };
    let mut out = Map::new();
    out.insert("actorID".into(), json!(key.actor_id));
    out.insert("actorType".into(), json!(key.actor_type));
    if let Some(data) = &job.data {
        out.insert("data".into(), data.clone());
    }
    if let Some(due) = &job.due_time {
        out.insert("dueTime".into(), json!(due));
    }
    if let Some((schedule, _)) = &job.schedule {
        out.insert("period".into(), json!(schedule));
    }
    if let Some(ttl) = job.ttl.as_deref().filter(|t| parse_rfc3339(t).is_some()) {
        out.insert("ttl".into(), json!(ttl));
    }
    Ok(json_response(StatusCode::OK, &Value::Object(out)))
}

/// `DELETE /v1.0/actors/{type}/{id}/reminders/{name}`: 204, also when there is none.
pub(crate) async fn delete_reminder(
    ctx: &Ctx,
    actor_type: &str,
    actor_id: &str,
    name: &str,
) -> Result<Resp, ApiError> {
    let key = hosted_reminder_target(ctx, actor_type, actor_id, name).await?;
    ctx.actors.reminders.remove(&job_key(&key, name));
    Ok(no_content())
}

/// `POST|PUT /v1.0/actors/{type}/{id}/timers/{name}`: replaces a timer of that name.
pub(crate) async fn create_timer(
    ctx: &Ctx,
    req: &ApiRequest,
    actor_type: &str,
    actor_id: &str,
    name: &str,
) -> Result<Resp, ApiError> {
    let body = decode(&req.body)?;
    check_name("actor type", actor_type)?;
    check_name("actor id", actor_id)?;
    check_name("timer name", name)?;
    check_open(ctx)?;
    let fail = |e: String| {
        ApiError::internal(
            "ERR_ACTOR_TIMER_CREATE",
            format!("error creating actor timer: {e}"),
        )
    };
    actor_store(ctx)?;
    if ctx.actors.type_config(actor_type).await.is_none() {
        return Err(fail(format!(
            "actor type {actor_type} is not hosted by this app"
        )));
    }
    let key = ActorKey::new(actor_type, actor_id);
    let due_time = body.due_time.clone().unwrap_or_default();
    let period = body.period.clone().unwrap_or_default();
    let (schedule, repeats) = if period.is_empty() {
        (None, None)
    } else {
        let (s, r) = every(&period, true).map_err(fail)?;
        (Some(s), r)
    };
    let job_body = JobBody {
        schedule,
        repeats,
        // An empty due time is now.
        due_time: Some(non_empty(body.due_time).unwrap_or_else(|| "0s".into())),
        ttl: non_empty(body.ttl),
        data: body.data,
        overwrite: true,
        failure_policy: Some(FailurePolicy::Drop),
        ..JobBody::default()
    };
    let mut job = Job::build(job_key(&key, name), job_body, now()).map_err(fail)?;
    job.target = Target::Timer {
        actor_type: key.actor_type.clone(),
        actor_id: key.actor_id.clone(),
        timer: name.to_string(),
        callback: body.callback.unwrap_or_default(),
        due_time,
        period,
    };
    match ctx.actors.timers.add(job, true) {
        Ok(()) => Ok(no_content()),
        Err(AddError::Exists) => Ok(no_content()),
        Err(AddError::Full(max)) => Err(fail(format!(
            "the sidecar holds its maximum of {max} timers"
        ))),
    }
}

/// `DELETE /v1.0/actors/{type}/{id}/timers/{name}`: always 204.
pub(crate) async fn delete_timer(
    ctx: &Ctx,
    actor_type: &str,
    actor_id: &str,
    name: &str,
) -> Result<Resp, ApiError> {
    let key = ActorKey::new(actor_type, actor_id);
    ctx.actors.timers.remove(&job_key(&key, name));
    Ok(no_content())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_become_every_schedules_with_repeats() {
        assert_eq!(every("1s", false).unwrap(), ("@every 1s".into(), None));
        assert_eq!(every("PT1S", false).unwrap(), ("@every 1s".into(), None));
        assert_eq!(
            every("R5/PT1S", false).unwrap(),
            ("@every 1s".into(), Some(5))
        );
        assert_eq!(
            every("PT1M30S", false).unwrap(),
            ("@every 1m30s".into(), None)
        );
        assert_eq!(every("1h", false).unwrap(), ("@every 1h0m0s".into(), None));
        assert_eq!(every("P1D", true).unwrap(), ("@every 24h0m0s".into(), None));
    }

    #[test]
    fn bad_periods_are_refused_with_the_reason() {
        assert!(
            every("P1D", false)
                .unwrap_err()
                .contains("unsupported period format")
        );
        assert!(
            every("P1M", true)
                .unwrap_err()
                .contains("unsupported period format")
        );
        assert!(
            every("R0/PT1S", false)
                .unwrap_err()
                .contains("zero repetitions")
        );
        assert!(every("soon", false).is_err());
        assert!(every("0s", false).is_err());
    }

    #[test]
    fn bodies_decode_case_insensitively_with_raw_data() {
        let b =
            decode(br#"{"DueTime":"1s","PERIOD":"R2/PT1S","data":{"a":[1,2]},"overwrite":false}"#)
                .unwrap();
        assert_eq!(b.due_time.as_deref(), Some("1s"));
        assert_eq!(b.period.as_deref(), Some("R2/PT1S"));
        assert_eq!(b.data, Some(json!({"a":[1,2]})));
        assert_eq!(b.overwrite, Some(false));
        let e = decode(b"[1]").unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (400, "ERR_MALFORMED_REQUEST"));
    }
}
