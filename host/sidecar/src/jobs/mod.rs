//! Jobs: `POST|GET|DELETE /v1.0/jobs/{name}` (and `/v1.0-alpha1`), with daprd's kit-error answers (`details` with a `google.rpc.ErrorInfo`).

pub(crate) mod body;
pub(crate) mod schedule;
pub(crate) mod scheduler;
pub(crate) mod store;
pub(crate) mod timefmt;

use std::collections::BTreeMap;

use http::StatusCode;
use serde_json::{Map, Value, json};

use crate::api::{ApiError, ApiRequest, Resp, json_response, no_content};
use crate::ctx::Ctx;
use body::FailurePolicy;
use store::{AddError, Job};

/// The namespace daprd reports outside Kubernetes (`NAMESPACE` unset).
const NAMESPACE: &str = "default";

/// A dapr/kit error answer with `errorCode` = the ErrorInfo reason (every `DAPR_SCHEDULER_…`
/// code has no legacy tag) and one ErrorInfo detail.
fn kit_error(
    status: StatusCode,
    reason: &'static str,
    message: &str,
    metadata: &[(&str, &str)],
) -> Resp {
    let metadata: BTreeMap<String, String> = metadata
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
    ApiError::kit(status, reason, message, reason, &metadata, None).into_response()
}

fn meta(ctx: &Ctx) -> [(&str, &str); 2] {
    [("appID", ctx.app_id.as_str()), ("namespace", NAMESPACE)]
}

/// go-etcd-cron's name check: lower-cased, `_ : -` and spaces removed, every `||` segment
/// a DNS-1123 subdomain.
fn validate_name(name: &str) -> Result<(), String> {
    let cleaned: String = name
        .to_lowercase()
        .chars()
        .filter(|c| !matches!(c, '_' | ':' | '-' | ' '))
        .collect();
    for segment in cleaned.split("||") {
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        };
        if segment.is_empty() || segment.len() > 253 || !segment.split('.').all(label_ok) {
            return Err(format!(
                "job name is invalid {name:?}: a lowercase RFC 1123 subdomain must consist of lower case \
                 alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
            ));
        }
    }
    Ok(())
}

/// `POST …/jobs/{name}`.
pub(crate) async fn schedule(ctx: &Ctx, req: &ApiRequest, name: &str) -> Result<Resp, ApiError> {
    let body = body::decode(&req.body).map_err(ApiError::malformed)?;
    if body.name.as_deref().is_some_and(|n| !n.is_empty()) {
        return Ok(kit_error(
            StatusCode::BAD_REQUEST,
            "DAPR_SCHEDULER_JOB_NAME",
            "Set the job name in the url only",
            &[("appID", ctx.app_id.as_str())],
        ));
    }
    let name = name.trim();
    if name.is_empty() || name.contains('|') {
        return Ok(kit_error(
            StatusCode::BAD_REQUEST,
            "DAPR_SCHEDULER_JOB_NAME_EMPTY",
            "Name is empty",
            &meta(ctx),
        ));
    }
    if body.schedule.is_none() && body.due_time.is_none() {
        return Ok(kit_error(
            StatusCode::BAD_REQUEST,
            "DAPR_SCHEDULER_SCHEDULE_EMPTY",
            "Schedule is empty",
            &meta(ctx),
        ));
    }
    let fail = |status: StatusCode, reason: &str| {
        kit_error(
            status,
            "DAPR_SCHEDULER_SCHEDULE_JOB",
            &format!("failed to schedule job due to: {reason}"),
            &meta(ctx),
        )
    };
    if let Err(e) = validate_name(name) {
        return Ok(fail(StatusCode::INTERNAL_SERVER_ERROR, &e));
    }
    let overwrite = body.overwrite;
    let job = match Job::build(name.to_string(), body, timefmt::now()) {
        Ok(job) => job,
        Err(e) => return Ok(fail(StatusCode::INTERNAL_SERVER_ERROR, &e)),
    };
    match ctx.jobs.add(job, overwrite) {
        Ok(()) => Ok(no_content()),
        Err(AddError::Exists) => Ok(fail(
            StatusCode::CONFLICT,
            &format!("job already exists: {name}"),
        )),
        Err(AddError::Full(max)) => Ok(fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!(
                "the sidecar holds its maximum of {max} jobs (SidecarTuning::max_jobs); delete one first"
            ),
        )),
    }
}

/// The protojson `runtimev1pb.Job` of a stored job: unset fields omitted, `data` as an Any
/// holding a `google.protobuf.Value`.
fn job_json(job: &Job) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), json!(job.name));
    if let Some((s, _)) = &job.schedule {
        out.insert("schedule".into(), json!(s));
    }
    if let Some(r) = job.repeats {
        out.insert("repeats".into(), json!(r));
    }
    if let Some(d) = &job.due_time {
        out.insert("dueTime".into(), json!(d));
    }
    if let Some(t) = &job.ttl {
        out.insert("ttl".into(), json!(t));
    }
    if let Some(data) = &job.data {
        out.insert(
            "data".into(),
            json!({"@type": "type.googleapis.com/google.protobuf.Value", "value": data}),
        );
    }
    let policy = match job.failure_policy {
        FailurePolicy::Drop => json!({"drop": {}}),
        FailurePolicy::Empty => json!({}),
        FailurePolicy::Constant {
            interval,
            max_retries,
        } => {
            let mut c = Map::new();
            if let Some(i) = interval {
                c.insert("interval".into(), json!(timefmt::format_proto_duration(i)));
            }
            if let Some(n) = max_retries {
                c.insert("maxRetries".into(), json!(n));
            }
            json!({"constant": c})
        }
    };
    out.insert("failurePolicy".into(), policy);
    Value::Object(out)
}

/// `GET …/jobs/{name}`; a missing job is 500, never 404, as in daprd.
pub(crate) async fn get(ctx: &Ctx, name: &str) -> Result<Resp, ApiError> {
    let fail = |reason: String| {
        kit_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "DAPR_SCHEDULER_GET_JOB",
            &format!("failed to get job due to: {reason}"),
            &meta(ctx),
        )
    };
    if let Err(e) = validate_name(name) {
        return Ok(fail(e));
    }
    match ctx.jobs.get(name) {
        Some(job) => Ok(json_response(StatusCode::OK, &job_json(&job))),
        None => Ok(fail(format!("job not found: {name}"))),
    }
}

/// `DELETE …/jobs/{name}`: 204 whether or not the job existed.
pub(crate) async fn delete(ctx: &Ctx, name: &str) -> Result<Resp, ApiError> {
    if let Err(e) = validate_name(name) {
        return Ok(kit_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "DAPR_SCHEDULER_DELETE_JOB",
            &format!("failed to delete job due to: {e}"),
            &meta(ctx),
        ));
    }
    ctx.jobs.remove(name);
    Ok(no_content())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_names_as_go_etcd_cron_checks_them() {
        for ok in ["job", "My_Job", "a.b", "job-1", "x:y z", "a||b"] {
            assert!(validate_name(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "job!",
            "a..b",
            ".a",
            "a.",
            "ünïcode",
            "___",
            "a|b",
            &"a".repeat(254),
        ] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn get_shape_omits_unset_fields_and_wraps_data() {
        let body = body::decode(br#"{"dueTime":"5s","data":{"a":1}}"#).unwrap();
        let job = Job::build("j".into(), body, 0).unwrap();
        assert_eq!(
            job_json(&job),
            json!({
                "name": "j",
                "dueTime": "5s",
                "data": {"@type": "type.googleapis.com/google.protobuf.Value", "value": {"a": 1}},
                "failurePolicy": {"constant": {"interval": "1s", "maxRetries": 3}},
            })
        );
        let body = body::decode(br#"{"schedule":"@daily","repeats":"3","ttl":"1h","failurePolicy":{"constant":{"interval":"0.25s"}}}"#).unwrap();
        let job = Job::build("k".into(), body, 0).unwrap();
        assert_eq!(
            job_json(&job),
            json!({
                "name": "k",
                "schedule": "@daily",
                "repeats": 3,
                "ttl": "1h",
                "failurePolicy": {"constant": {"interval": "0.250s"}},
            })
        );
    }
}
