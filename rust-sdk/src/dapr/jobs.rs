//! Jobs (stable in Dapr 1.18): schedule, get and delete jobs that daprd triggers on the app.

use std::fmt;

use serde::de::{DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::encode;
use super::{Client, Error, error, from_object, to_json, to_value};
use crate::http::Request;

/// What daprd does when the app fails a job's trigger (any answer but 2xx or 404).
///
/// Without one, daprd stores its default: constant, every 1 s, 3 retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailurePolicy {
    /// Retry at a fixed interval: `{"constant":{"interval","maxRetries"}}`.
    Constant {
        /// The wait between attempts, a protobuf duration such as `1s` or `1.5s`.
        interval: Option<String>,
        /// How many retries after the first attempt; `None` retries forever.
        max_retries: Option<u32>,
    },
    /// Never retry: `{"drop":{}}`.
    Drop,
}

impl FailurePolicy {
    /// Retry every `interval` (e.g. `"3s"`), at most `max_retries` times.
    pub fn constant(interval: impl Into<String>, max_retries: u32) -> Self {
        FailurePolicy::Constant {
            interval: Some(interval.into()),
            max_retries: Some(max_retries),
        }
    }

    /// The protojson form daprd reads and answers.
    fn to_json(&self) -> Value {
        match self {
            FailurePolicy::Drop => json!({"drop": {}}),
            FailurePolicy::Constant {
                interval,
                max_retries,
            } => {
                let mut constant = Map::new();
                if let Some(interval) = interval {
                    constant.insert("interval".into(), json!(interval));
                }
                if let Some(max) = max_retries {
                    constant.insert("maxRetries".into(), json!(max));
                }
                json!({ "constant": constant })
            }
        }
    }

    /// Reads daprd's protojson (lowerCamel or snake_case keys); `None` for a shape this
    /// SDK does not know.
    fn from_json(value: &Value) -> Option<Self> {
        if value.get("drop").is_some() {
            return Some(FailurePolicy::Drop);
        }
        let constant = value.get("constant")?;
        let interval = constant
            .get("interval")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let max_retries = constant
            .get("maxRetries")
            .or_else(|| constant.get("max_retries"))
            .and_then(json_u64)
            .and_then(|n| u32::try_from(n).ok());
        Some(FailurePolicy::Constant {
            interval,
            max_retries,
        })
    }
}

impl fmt::Display for FailurePolicy {
    /// `drop`, `constant every 1s, 3 retries`, `constant every 1s, retried forever`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailurePolicy::Drop => f.write_str("drop"),
            FailurePolicy::Constant {
                interval,
                max_retries,
            } => {
                f.write_str("constant")?;
                if let Some(interval) = interval {
                    write!(f, " every {interval}")?;
                }
                match max_retries {
                    Some(n) => write!(f, ", {n} retries"),
                    None => f.write_str(", retried forever"),
                }
            }
        }
    }
}

/// A number that protojson may write as a JSON number or a JSON string.
fn json_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A job to schedule with [`Client::schedule_job`]; the job's name is in the URL.
///
/// Needs a `schedule` or a `due_time` (daprd answers `DAPR_SCHEDULER_SCHEDULE_EMPTY`
/// otherwise). Unset fields are not sent.
///
/// ```
/// use wasi_dapr_sdk::dapr::{FailurePolicy, JobRequest};
///
/// let job = JobRequest::new()
///     .schedule("@every 10s")
///     .repeats(3)
///     .data_json(&serde_json::json!({"task": "report"}))
///     .unwrap()
///     .failure_policy(FailurePolicy::Drop);
/// assert_eq!(job.repeats, Some(3));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobRequest {
    /// `schedule`: a 6-field cron with seconds first (`*/10 * * * * *`), or
    /// `@every 10s`, `@daily`, `@hourly`, ...
    pub schedule: Option<String>,
    /// `dueTime`: when it first triggers: RFC 3339, a duration from now (`10s`), or
    /// ISO 8601 (`PT10S`).
    pub due_time: Option<String>,
    /// `repeats`: how many times it triggers in all (more than 1 needs a `schedule`).
    pub repeats: Option<u32>,
    /// `ttl`: when it expires, in the forms of `due_time` (needs a `schedule`).
    pub ttl: Option<String>,
    /// `data`: any JSON, posted to the app as the body of each trigger. daprd may fail
    /// to trigger a job stored without data, so set it.
    pub data: Option<Value>,
    /// `overwrite`: replace an existing job of the same name (otherwise daprd answers
    /// 409 `DAPR_SCHEDULER_SCHEDULE_JOB`).
    pub overwrite: bool,
    /// `failurePolicy`; daprd's default is constant 1 s × 3.
    pub failure_policy: Option<FailurePolicy>,
}

impl JobRequest {
    /// An empty job; set at least [`schedule`](Self::schedule) or
    /// [`due_time`](Self::due_time).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `schedule`.
    pub fn schedule(mut self, schedule: impl Into<String>) -> Self {
        self.schedule = Some(schedule.into());
        self
    }

    /// Sets `dueTime`.
    pub fn due_time(mut self, due_time: impl Into<String>) -> Self {
        self.due_time = Some(due_time.into());
        self
    }

    /// Sets `repeats`.
    pub fn repeats(mut self, repeats: u32) -> Self {
        self.repeats = Some(repeats);
        self
    }

    /// Sets `ttl`.
    pub fn ttl(mut self, ttl: impl Into<String>) -> Self {
        self.ttl = Some(ttl.into());
        self
    }

    /// Sets `data` to a JSON value.
    pub fn data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    /// Sets `data` to `value` serialised as JSON.
    pub fn data_json<T: Serialize + ?Sized>(self, value: &T) -> Result<Self, Error> {
        Ok(self.data(to_value("job data", value)?))
    }

    /// Sets `overwrite`.
    pub fn overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = overwrite;
        self
    }

    /// Sets `failurePolicy`.
    pub fn failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.failure_policy = Some(policy);
        self
    }

    /// The protojson body (`JobHTTPRequest`): lowerCamel keys, unset fields left out.
    pub fn to_json(&self) -> Value {
        let mut body = Map::new();
        if let Some(schedule) = &self.schedule {
            body.insert("schedule".into(), json!(schedule));
        }
        if let Some(due_time) = &self.due_time {
            body.insert("dueTime".into(), json!(due_time));
        }
        if let Some(repeats) = self.repeats {
            body.insert("repeats".into(), json!(repeats));
        }
        if let Some(ttl) = &self.ttl {
            body.insert("ttl".into(), json!(ttl));
        }
        if let Some(data) = &self.data {
            body.insert("data".into(), data.clone());
        }
        if self.overwrite {
            body.insert("overwrite".into(), json!(true));
        }
        if let Some(policy) = &self.failure_policy {
            body.insert("failurePolicy".into(), policy.to_json());
        }
        Value::Object(body)
    }
}

/// A scheduled job as [`Client::get_job`] returns it (daprd's protojson `Job`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Job {
    /// The job's name.
    #[serde(default)]
    pub name: String,
    /// `schedule`, if set.
    #[serde(default)]
    pub schedule: Option<String>,
    /// `repeats`, if set.
    #[serde(default, deserialize_with = "optional_u32")]
    pub repeats: Option<u32>,
    /// `dueTime`, if set.
    #[serde(default, alias = "due_time")]
    pub due_time: Option<String>,
    /// `ttl`, if set.
    #[serde(default)]
    pub ttl: Option<String>,
    /// `data`, unwrapped from daprd's `{"@type":…,"value":…}` Any (a bare value is
    /// taken as is); `Null` when the job has none.
    #[serde(default, deserialize_with = "unwrap_any")]
    pub data: Value,
    /// `failurePolicy`, if daprd returned one it knows (it returns the default it
    /// stored, constant 1 s × 3, when none was given).
    #[serde(default, alias = "failure_policy", deserialize_with = "policy")]
    pub failure_policy: Option<FailurePolicy>,
}

impl Job {
    /// Decodes daprd's `GET …/jobs/{name}` answer.
    pub fn parse(body: &[u8]) -> Result<Job, Error> {
        from_object("job", body)
    }

    /// The data decoded into `T`.
    pub fn data_json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_value(self.data.clone()).map_err(|source| Error::Decode {
            what: "job data",
            source,
        })
    }
}

fn optional_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let value = Value::deserialize(d)?;
    if value.is_null() {
        return Ok(None);
    }
    json_u64(&value)
        .and_then(|n| u32::try_from(n).ok())
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom(format!("expected a uint32, got {value}")))
}

/// `{"@type": "...", "value": V}` becomes `V`; anything else stays as it is.
fn unwrap_any<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    let value = Value::deserialize(d)?;
    Ok(match value {
        Value::Object(mut object)
            if object.contains_key("@type") && object.contains_key("value") =>
        {
            object.remove("value").unwrap_or(Value::Null)
        }
        other => other,
    })
}

fn policy<'de, D: Deserializer<'de>>(d: D) -> Result<Option<FailurePolicy>, D::Error> {
    Ok(FailurePolicy::from_json(&Value::deserialize(d)?))
}

impl Client {
    fn job_url(&self, name: &str) -> Result<String, Error> {
        Ok(self.url(&format!(
            "/v1.0/jobs/{}",
            encode::segment("job name", name)?
        )))
    }

    /// Schedules the job `name`: `POST /v1.0/jobs/{name}` with the job's protojson.
    ///
    /// daprd (1.18) triggers it with `POST /job/{name}` on the app, the data as the
    /// body; see [`App::on_job`](crate::app::App::on_job).
    pub fn schedule_job(&self, name: &str, job: &JobRequest) -> Result<(), Error> {
        let request = Request::post(self.job_url(name)?)
            .header("content-type", "application/json")
            .body(to_json("job", &job.to_json())?);
        self.call(request)?;
        Ok(())
    }

    /// Reads the job `name`; `None` when there is no such job.
    ///
    /// daprd answers a missing job with 500 `DAPR_SCHEDULER_GET_JOB` ("…job not
    /// found…"), never 404: that answer (and a 404) is `None`; other errors are errors.
    pub fn get_job(&self, name: &str) -> Result<Option<Job>, Error> {
        let reply = self.execute(Request::get(self.job_url(name)?))?;
        if reply.is_success() {
            return Job::parse(&reply.body).map(Some);
        }
        let err = error::from_response(reply.status, &reply.body);
        let missing = match &err {
            Error::Dapr {
                status: 404,
                error_code,
                ..
            } => error_code != "ERR_DIRECT_INVOKE",
            Error::Dapr {
                error_code,
                message,
                ..
            } => error_code == "DAPR_SCHEDULER_GET_JOB" && message.contains("not found"),
            _ => false,
        };
        if missing { Ok(None) } else { Err(err) }
    }

    /// Deletes the job `name` (`DELETE /v1.0/jobs/{name}`; also fine when it does not
    /// exist).
    pub fn delete_job(&self, name: &str) -> Result<(), Error> {
        self.call(Request::delete(self.job_url(name)?))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dapr::testing::{Recorder, body_json};

    #[test]
    fn schedule_body_is_protojson_lower_camel() {
        let rec = Recorder::default();
        let job = JobRequest::new()
            .schedule("@every 1s")
            .due_time("10s")
            .repeats(3)
            .ttl("1h")
            .data_json(&json!({"task": "report"}))
            .unwrap()
            .overwrite(true)
            .failure_policy(FailurePolicy::constant("3s", 5));
        rec.client().schedule_job("daily report", &job).unwrap();
        let req = rec.single();
        assert_eq!(req.method, "POST");
        assert_eq!(req.url, "http://dapr:3500/v1.0/jobs/daily%20report");
        assert_eq!(req.headers.get("content-type"), Some("application/json"));
        assert_eq!(
            body_json(&req),
            json!({"schedule": "@every 1s", "dueTime": "10s", "repeats": 3, "ttl": "1h",
                   "data": {"task": "report"}, "overwrite": true,
                   "failurePolicy": {"constant": {"interval": "3s", "maxRetries": 5}}})
        );
    }

    #[test]
    fn unset_fields_are_left_out() {
        assert_eq!(
            JobRequest::new()
                .due_time("PT10S")
                .data(json!("hello"))
                .to_json(),
            json!({"dueTime": "PT10S", "data": "hello"})
        );
        assert_eq!(JobRequest::new().to_json(), json!({}));
        assert_eq!(
            JobRequest::new()
                .schedule("@daily")
                .failure_policy(FailurePolicy::Drop)
                .to_json(),
            json!({"schedule": "@daily", "failurePolicy": {"drop": {}}})
        );
        let forever = FailurePolicy::Constant {
            interval: Some("1s".into()),
            max_retries: None,
        };
        assert_eq!(
            JobRequest::new()
                .schedule("@hourly")
                .failure_policy(forever)
                .to_json(),
            json!({"schedule": "@hourly", "failurePolicy": {"constant": {"interval": "1s"}}})
        );
    }

    #[test]
    fn schedule_errors_are_dapr_errors() {
        let rec = Recorder::default();
        rec.reply(
            400,
            &[("content-type", "application/json")],
            r#"{"errorCode":"DAPR_SCHEDULER_SCHEDULE_EMPTY","message":"Schedule is empty","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"DAPR_SCHEDULER_SCHEDULE_EMPTY","domain":"dapr.io","metadata":{}}]}"#,
        );
        let err = rec
            .client()
            .schedule_job("j", &JobRequest::new())
            .unwrap_err();
        assert_eq!(err.status(), Some(400));
        assert_eq!(err.error_code(), Some("DAPR_SCHEDULER_SCHEDULE_EMPTY"));
        assert!(err.to_string().ends_with("Schedule is empty"), "{err}");
        rec.reply(
            409,
            &[],
            r#"{"errorCode":"DAPR_SCHEDULER_SCHEDULE_JOB","message":"failed to schedule job due to: exists"}"#,
        );
        let err = rec
            .client()
            .schedule_job("j", &JobRequest::new().schedule("@daily"))
            .unwrap_err();
        assert_eq!(err.status(), Some(409));
        assert!(matches!(
            rec.client().schedule_job("", &JobRequest::new()),
            Err(Error::InvalidArgument(_))
        ));
        assert_eq!(rec.requests().len(), 2);
    }

    #[test]
    fn get_unwraps_the_any_data() {
        let rec = Recorder::default();
        rec.reply(
            200,
            &[("content-type", "application/json")],
            r#"{"name":"report","schedule":"@every 1s","repeats":3,"dueTime":"10s","ttl":"1h",
               "data":{"@type":"type.googleapis.com/google.protobuf.Value","value":{"task":"report"}},
               "failurePolicy":{"constant":{"interval":"1s","maxRetries":3}},"extra":true}"#,
        );
        let job = rec.client().get_job("report").unwrap().unwrap();
        let req = rec.single();
        assert_eq!(req.method, "GET");
        assert_eq!(req.url, "http://dapr:3500/v1.0/jobs/report");
        assert_eq!(job.name, "report");
        assert_eq!(job.schedule.as_deref(), Some("@every 1s"));
        assert_eq!(job.repeats, Some(3));
        assert_eq!(job.due_time.as_deref(), Some("10s"));
        assert_eq!(job.ttl.as_deref(), Some("1h"));
        assert_eq!(job.data, json!({"task": "report"}));
        assert_eq!(job.failure_policy, Some(FailurePolicy::constant("1s", 3)));
        let task: Value = job.data_json().unwrap();
        assert_eq!(task["task"], "report");
    }

    #[test]
    fn get_accepts_bare_data_snake_case_and_string_numbers() {
        let job = Job::parse(
            br#"{"name":"a","due_time":"5s","repeats":"2","data":123,"failure_policy":{"drop":{}}}"#,
        )
        .unwrap();
        assert_eq!(job.due_time.as_deref(), Some("5s"));
        assert_eq!(job.repeats, Some(2));
        assert_eq!(job.data, json!(123));
        assert_eq!(job.failure_policy, Some(FailurePolicy::Drop));
        let job = Job::parse(br#"{"name":"b","data":{"@type":"x","value":"hello"}}"#).unwrap();
        assert_eq!(job.data, json!("hello"));
        // An object without the wrapper's two keys is the data itself.
        let job = Job::parse(br#"{"name":"c","data":{"value":1}}"#).unwrap();
        assert_eq!(job.data, json!({"value": 1}));
        let job =
            Job::parse(br#"{"name":"d","failurePolicy":{"constant":{"max_retries":4}}}"#).unwrap();
        assert_eq!(job.data, Value::Null);
        assert_eq!(
            job.failure_policy,
            Some(FailurePolicy::Constant {
                interval: None,
                max_retries: Some(4)
            })
        );
        assert!(job.data_json::<u32>().is_err());
    }

    #[test]
    fn get_rejects_bad_answers() {
        for bad in [
            &b"not json"[..],
            b"[]",
            br#"{"repeats":-1}"#,
            br#"{"repeats":"x"}"#,
            br#"{"name":5}"#,
        ] {
            let err = Job::parse(bad).unwrap_err();
            assert!(matches!(err, Error::Decode { what: "job", .. }), "{err:?}");
        }
        let rec = Recorder::default();
        rec.reply(200, &[], "{");
        assert!(matches!(
            rec.client().get_job("x"),
            Err(Error::Decode { .. })
        ));
    }

    #[test]
    fn a_missing_job_is_none_other_errors_stay_errors() {
        let rec = Recorder::default();
        rec.reply(
            500,
            &[],
            r#"{"errorCode":"DAPR_SCHEDULER_GET_JOB","message":"failed to get job due to: rpc error: code = NotFound desc = job not found: app||default||app||x"}"#,
        );
        assert_eq!(rec.client().get_job("x").unwrap(), None);
        rec.reply(
            404,
            &[],
            r#"{"errorCode":"ERR_JOB_NOT_FOUND","message":"no"}"#,
        );
        assert_eq!(rec.client().get_job("x").unwrap(), None);
        rec.reply(
            500,
            &[],
            r#"{"errorCode":"DAPR_SCHEDULER_GET_JOB","message":"failed to get job due to: scheduler unavailable"}"#,
        );
        let err = rec.client().get_job("x").unwrap_err();
        assert_eq!(err.error_code(), Some("DAPR_SCHEDULER_GET_JOB"));
        rec.reply(
            404,
            &[],
            r#"{"errorCode":"ERR_DIRECT_INVOKE","message":"failed getting app id"}"#,
        );
        let err = rec.client().get_job("x").unwrap_err();
        assert_eq!(err.error_code(), Some("ERR_DIRECT_INVOKE"));
    }

    #[test]
    fn failure_policies_display() {
        assert_eq!(FailurePolicy::Drop.to_string(), "drop");
        assert_eq!(
            FailurePolicy::constant("1s", 3).to_string(),
            "constant every 1s, 3 retries"
        );
        let forever = FailurePolicy::Constant {
            interval: None,
            max_retries: None,
        };
        assert_eq!(forever.to_string(), "constant, retried forever");
    }

    #[test]
    fn delete() {
        let rec = Recorder::default();
        rec.client().delete_job("a/b").unwrap();
        let req = rec.single();
        assert_eq!(req.method, "DELETE");
        assert_eq!(req.url, "http://dapr:3500/v1.0/jobs/a%2Fb");
        rec.reply(
            500,
            &[],
            r#"{"errorCode":"DAPR_SCHEDULER_DELETE_JOB","message":"failed"}"#,
        );
        let err = rec.client().delete_job("a").unwrap_err();
        assert_eq!(err.error_code(), Some("DAPR_SCHEDULER_DELETE_JOB"));
    }
}
