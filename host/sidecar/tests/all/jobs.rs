//! Jobs conformance (dapr-http-api.md § Jobs): scheduling, triggers on a mock app, failure policies, GET shape, DELETE, and every error row.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use serde_json::{Value, json};
use wasi_dapr_sidecar::{Sidecar, SidecarOptions, SidecarTuning};

use wasi_dapr_test_support::client::{Answer, delete, get, post_json, send};
use wasi_dapr_test_support::mock::{MockServer, Recorded, reply};
use wasi_dapr_test_support::sidecar::{fast_tuning, sidecar};

/// The test app: `/job/fail*` answers 500, `/job/gone*` 404, every other path 200.
async fn app() -> MockServer {
    MockServer::start(|r: &Recorded| {
        let t = r.target();
        if t.starts_with("/job/fail") {
            reply(500, "boom")
        } else if t.starts_with("/job/gone") {
            reply(404, "")
        } else if t.starts_with("/job/slow") {
            reply(200, "").delay(Duration::from_millis(100))
        } else {
            reply(200, "")
        }
    })
    .await
}

async fn setup(token: Option<&str>) -> (MockServer, Sidecar) {
    let app = app().await;
    let port = app.addr.port();
    let token = token.map(str::to_string);
    let sc = sidecar(|o| {
        o.app_port = Some(port);
        o.app_api_token = token;
    })
    .await;
    (app, sc)
}

async fn schedule(addr: SocketAddr, name: &str, body: &str) -> Answer {
    post_json(addr, &format!("/v1.0/jobs/{name}"), body).await
}

/// Asserts a kit error: status, errorCode = the ErrorInfo reason, domain, metadata; returns
/// the message.
#[track_caller]
fn assert_kit_error(a: &Answer, status: u16, reason: &str) -> String {
    let message = a.assert_error(status, reason);
    let v = a.json();
    let details = v["details"].as_array().expect("details array");
    assert_eq!(details.len(), 1, "{v}");
    let info = &details[0];
    assert_eq!(
        info["@type"], "type.googleapis.com/google.rpc.ErrorInfo",
        "{v}"
    );
    assert_eq!(info["reason"], reason, "{v}");
    assert_eq!(info["domain"], "dapr.io", "{v}");
    assert_eq!(info["metadata"]["appID"], "app", "{v}");
    message
}

fn body_json(r: &Recorded) -> Value {
    serde_json::from_slice(&r.body).expect("trigger body is JSON")
}

#[tokio::test]
async fn every_second_with_two_repeats_triggers_twice_then_is_gone() {
    let (app, sc) = setup(Some("app-secret")).await;
    let addr = sc.local_addr();
    schedule(
        addr,
        "tick",
        r#"{"schedule":"@every 1s","repeats":2,"data":{"a":1}}"#,
    )
    .await
    .assert_no_content();
    let got = app.wait_for("/job/tick", 2).await;
    assert_eq!(got.len(), 2, "two triggers");
    for r in &got {
        assert_eq!(r.method, Method::POST);
        assert_eq!(r.target(), "/job/tick");
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("dapr-api-token"), Some("app-secret"));
        assert_eq!(body_json(r), json!({"a": 1}));
        let tp = r.header("traceparent").expect("traceparent");
        let parts: Vec<&str> = tp.split('-').collect();
        assert_eq!(parts.len(), 4, "{tp}");
        assert_eq!(
            (parts[0], parts[1].len(), parts[2].len()),
            ("00", 32, 16),
            "{tp}"
        );
    }
    assert_ne!(got[0].header("traceparent"), got[1].header("traceparent"));
    // The last repeat deletes the job: no third trigger, and GET no longer finds it.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(app.requests_to("/job/tick").len(), 2);
    let a = get(addr, "/v1.0/jobs/tick").await;
    let m = assert_kit_error(&a, 500, "DAPR_SCHEDULER_GET_JOB");
    assert!(m.starts_with("failed to get job due to: "), "{m}");
    assert!(m.contains("job not found"), "{m}");
    sc.shutdown().await;
}

#[tokio::test]
async fn due_time_in_the_past_fires_at_once_and_a_near_one_later() {
    let (app, sc) = setup(None).await;
    let addr = sc.local_addr();
    schedule(
        addr,
        "past",
        r#"{"dueTime":"2020-01-01T00:00:00Z","data":"hello"}"#,
    )
    .await
    .assert_no_content();
    schedule(addr, "soon", r#"{"due_time":"2s","data":123}"#)
        .await
        .assert_no_content();
    let past = app.wait_for("/job/past", 1).await;
    assert_eq!(past.len(), 1);
    // A string is sent as JSON, quotes included.
    assert_eq!(&past[0].body[..], br#""hello""#);
    assert!(
        app.requests_to("/job/soon").is_empty(),
        "a 2 s due time must not fire with the past one"
    );
    let soon = app.wait_for("/job/soon", 1).await;
    assert_eq!(soon.len(), 1);
    assert_eq!(body_json(&soon[0]), json!(123));
    // One-shot jobs are gone once fired.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_kit_error(
        &get(addr, "/v1.0/jobs/past").await,
        500,
        "DAPR_SCHEDULER_GET_JOB",
    );
    assert_kit_error(
        &get(addr, "/v1.0/jobs/soon").await,
        500,
        "DAPR_SCHEDULER_GET_JOB",
    );
    sc.shutdown().await;
}

#[tokio::test]
async fn default_failure_policy_makes_four_attempts_one_second_apart() {
    let (app, sc) = setup(None).await;
    let addr = sc.local_addr();
    schedule(addr, "fail-default", r#"{"dueTime":"0s","data":{"n":1}}"#)
        .await
        .assert_no_content();
    // GET while retrying still shows the stored default policy.
    let job = get(addr, "/v1.0/jobs/fail-default").await.json();
    assert_eq!(
        job["failurePolicy"],
        json!({"constant": {"interval": "1s", "maxRetries": 3}})
    );
    let got = app.wait_for("/job/fail-default", 4).await;
    assert_eq!(got.len(), 4);
    assert!(got.iter().all(|r| body_json(r) == json!({"n": 1})));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        app.requests_to("/job/fail-default").len(),
        4,
        "4 attempts in all"
    );
    assert_kit_error(
        &get(addr, "/v1.0/jobs/fail-default").await,
        500,
        "DAPR_SCHEDULER_GET_JOB",
    );
    sc.shutdown().await;
}

#[tokio::test]
async fn drop_policy_and_404_make_one_attempt_constant_retries_max() {
    let (app, sc) = setup(None).await;
    let addr = sc.local_addr();
    schedule(
        addr,
        "fail-drop",
        r#"{"dueTime":"0s","data":1,"failurePolicy":{"drop":{}}}"#,
    )
    .await
    .assert_no_content();
    schedule(addr, "gone", r#"{"dueTime":"0s","data":1}"#)
        .await
        .assert_no_content();
    schedule(
        addr,
        "fail-constant",
        r#"{"dueTime":"0s","data":1,"failure_policy":{"constant":{"interval":"0.2s","max_retries":2}}}"#,
    )
    .await
    .assert_no_content();
    assert_eq!(app.wait_for("/job/fail-constant", 3).await.len(), 3);
    assert_eq!(app.wait_for("/job/fail-drop", 1).await.len(), 1);
    assert_eq!(app.wait_for("/job/gone", 1).await.len(), 1);
    // Past the default's first retry (1 s): still one attempt each, three for constant.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(app.requests_to("/job/fail-drop").len(), 1, "drop: no retry");
    assert_eq!(
        app.requests_to("/job/gone").len(),
        1,
        "404: success, no retry"
    );
    assert_eq!(
        app.requests_to("/job/fail-constant").len(),
        3,
        "1 + 2 retries"
    );
    sc.shutdown().await;
}

#[tokio::test]
async fn overwrite_false_is_409_and_true_replaces() {
    let (_app, sc) = setup(None).await;
    let addr = sc.local_addr();
    schedule(addr, "dup", r#"{"dueTime":"1h","data":1}"#)
        .await
        .assert_no_content();
    let a = schedule(addr, "dup", r#"{"dueTime":"2h","data":2}"#).await;
    let m = assert_kit_error(&a, 409, "DAPR_SCHEDULER_SCHEDULE_JOB");
    assert!(m.starts_with("failed to schedule job due to: "), "{m}");
    assert_eq!(get(addr, "/v1.0/jobs/dup").await.json()["dueTime"], "1h");
    schedule(addr, "dup", r#"{"dueTime":"2h","data":2,"overwrite":true}"#)
        .await
        .assert_no_content();
    let job = get(addr, "/v1.0/jobs/dup").await.json();
    assert_eq!(job["dueTime"], "2h");
    assert_eq!(job["data"]["value"], 2);
    sc.shutdown().await;
}

#[tokio::test]
async fn get_answers_the_protojson_job_on_both_prefixes() {
    let (_app, sc) = setup(None).await;
    let addr = sc.local_addr();
    post_json(
        addr,
        "/v1.0-alpha1/jobs/shape",
        r#"{"schedule":"0 30 * * * MON-FRI","repeats":"5","due_time":"2099-01-01T00:00:00Z","ttl":"PT1H","data":{"k":[1,"x"]},"Extra":1}"#,
    )
    .await
    .assert_no_content();
    for prefix in ["/v1.0", "/v1.0-alpha1"] {
        let a = get(addr, &format!("{prefix}/jobs/shape")).await;
        assert_eq!(a.status, 200, "{}", a.text());
        assert_eq!(a.header("content-type"), Some("application/json"));
        assert_eq!(
            a.json(),
            json!({
                "name": "shape",
                "schedule": "0 30 * * * MON-FRI",
                "repeats": 5,
                "dueTime": "2099-01-01T00:00:00Z",
                "ttl": "PT1H",
                "data": {"@type": "type.googleapis.com/google.protobuf.Value", "value": {"k": [1, "x"]}},
                "failurePolicy": {"constant": {"interval": "1s", "maxRetries": 3}},
            })
        );
    }
    // Unset fields are omitted; drop and forever-constant policies are answered as stored.
    schedule(
        addr,
        "min",
        r#"{"dueTime":"1h","failurePolicy":{"drop":{}}}"#,
    )
    .await
    .assert_no_content();
    assert_eq!(
        get(addr, "/v1.0/jobs/min").await.json(),
        json!({"name": "min", "dueTime": "1h", "failurePolicy": {"drop": {}}})
    );
    schedule(
        addr,
        "forever",
        r#"{"schedule":"@daily","failurePolicy":{"constant":{"interval":"0.5s"}}}"#,
    )
    .await
    .assert_no_content();
    assert_eq!(
        get(addr, "/v1.0/jobs/forever").await.json()["failurePolicy"],
        json!({"constant": {"interval": "0.500s"}})
    );
    sc.shutdown().await;
}

#[tokio::test]
async fn delete_stops_triggers_and_is_204_when_missing() {
    let (app, sc) = setup(None).await;
    let addr = sc.local_addr();
    schedule(addr, "beat", r#"{"schedule":"@every 1s","data":0}"#)
        .await
        .assert_no_content();
    assert_eq!(app.wait_for("/job/beat", 1).await.len(), 1);
    delete(addr, "/v1.0/jobs/beat", &[])
        .await
        .assert_no_content();
    let after = app.requests_to("/job/beat").len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        app.requests_to("/job/beat").len(),
        after,
        "no trigger after DELETE"
    );
    assert_kit_error(
        &get(addr, "/v1.0/jobs/beat").await,
        500,
        "DAPR_SCHEDULER_GET_JOB",
    );
    delete(addr, "/v1.0/jobs/beat", &[])
        .await
        .assert_no_content();
    delete(addr, "/v1.0-alpha1/jobs/never", &[])
        .await
        .assert_no_content();
    // Shutdown stops the scheduler too.
    schedule(addr, "late", r#"{"schedule":"@every 1s","data":0}"#)
        .await
        .assert_no_content();
    sc.shutdown().await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert!(
        app.requests_to("/job/late").is_empty(),
        "no trigger after shutdown"
    );
}

#[tokio::test]
async fn every_error_row_of_the_table() {
    // No app port: jobs are accepted and kept, never triggered.
    let sc = sidecar(|_| {}).await;
    let addr = sc.local_addr();
    // Malformed bodies: APIError shape, no details.
    for bad in [
        r#"{"repeats":-1}"#,
        "[{}]",
        "{",
        r#"{"schedule":5}"#,
        r#"{"overwrite":"yes"}"#,
    ] {
        let a = schedule(addr, "j", bad).await;
        let m = a.assert_error(400, "ERR_MALFORMED_REQUEST");
        assert!(
            m.starts_with("failed deserializing HTTP body: "),
            "{bad}: {m}"
        );
        assert!(a.json().get("details").is_none(), "{bad}");
    }
    // A name in the body, even with a valid job.
    let a = schedule(addr, "j", r#"{"name":"j","dueTime":"1h"}"#).await;
    let m = assert_kit_error(&a, 400, "DAPR_SCHEDULER_JOB_NAME");
    assert_eq!(m, "Set the job name in the url only");
    // An empty body `name` is not a name.
    schedule(addr, "named-empty", r#"{"name":"","dueTime":"1h"}"#)
        .await
        .assert_no_content();
    // Blank after trimming, or with `|`.
    for name in ["%20", "%20%20", "a%7Cb"] {
        let a = schedule(addr, name, r#"{"dueTime":"1h"}"#).await;
        let m = assert_kit_error(&a, 400, "DAPR_SCHEDULER_JOB_NAME_EMPTY");
        assert_eq!(m, "Name is empty");
        assert_eq!(a.json()["details"][0]["metadata"]["namespace"], "default");
    }
    // Neither schedule nor dueTime; a mis-cased key is dropped, not an error.
    for body in [
        "",
        "{}",
        r#"{"data":1}"#,
        r#"{"DueTime":"1s","Schedule":"@daily"}"#,
    ] {
        let a = schedule(addr, "j", body).await;
        let m = assert_kit_error(&a, 400, "DAPR_SCHEDULER_SCHEDULE_EMPTY");
        assert_eq!(m, "Schedule is empty", "{body}");
    }
    // The scheduler's own refusals: 500 with its reason.
    for (body, reason) in [
        (r#"{"schedule":"* * * * *"}"#, "expected exactly 6 fields"),
        (r#"{"schedule":"@fortnightly"}"#, "unrecognized descriptor"),
        (r#"{"schedule":"61 * * * * *"}"#, "above maximum"),
        (r#"{"schedule":""}"#, "empty spec string"),
        (
            r#"{"dueTime":"1s","repeats":2}"#,
            "job must have a schedule to repeat",
        ),
        (
            r#"{"schedule":"@daily","repeats":0}"#,
            "defined repeats must be greater than 0",
        ),
        (
            r#"{"dueTime":"1s","ttl":"1m"}"#,
            "job must have a schedule to have a ttl",
        ),
        (
            r#"{"schedule":"@daily","dueTime":"1h","ttl":"2020-01-01T00:00:00Z"}"#,
            "ttl must be greater than due time",
        ),
        (
            r#"{"dueTime":"whenever"}"#,
            "due time format not recognized",
        ),
        (
            r#"{"schedule":"@daily","ttl":"forever"}"#,
            "ttl format not recognized",
        ),
    ] {
        let a = schedule(addr, "j", body).await;
        let m = assert_kit_error(&a, 500, "DAPR_SCHEDULER_SCHEDULE_JOB");
        assert!(
            m.starts_with("failed to schedule job due to: "),
            "{body}: {m}"
        );
        assert!(m.contains(reason), "{body}: {m}");
    }
    // A name go-etcd-cron refuses.
    let a = schedule(addr, "bad!name", r#"{"dueTime":"1h"}"#).await;
    let m = assert_kit_error(&a, 500, "DAPR_SCHEDULER_SCHEDULE_JOB");
    assert!(m.contains("job name is invalid"), "{m}");
    let a = delete(addr, "/v1.0/jobs/bad!name", &[]).await;
    assert_kit_error(&a, 500, "DAPR_SCHEDULER_DELETE_JOB");
    // Trimmed names: the job is stored under the trimmed name.
    schedule(addr, "%20padded%20", r#"{"dueTime":"1h"}"#)
        .await
        .assert_no_content();
    assert_eq!(
        get(addr, "/v1.0/jobs/padded").await.json()["name"],
        "padded"
    );
    // GET of a missing job is 500, never 404.
    let a = get(addr, "/v1.0/jobs/missing").await;
    assert_kit_error(&a, 500, "DAPR_SCHEDULER_GET_JOB");
    // Without an app port the job is kept.
    schedule(addr, "kept", r#"{"dueTime":"0s","data":1}"#)
        .await
        .assert_no_content();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(get(addr, "/v1.0/jobs/kept").await.status, 200);
    // Other verbs are not job routes (they fall to invocation).
    let a = send(addr, Method::PUT, "/v1.0/jobs/kept", &[], Bytes::from("{}")).await;
    a.assert_error(404, "ERR_DIRECT_INVOKE");
    sc.shutdown().await;
}

#[tokio::test]
async fn the_job_limit_is_a_500_but_overwrite_still_works() {
    let opts = SidecarOptions {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..SidecarOptions::default()
    };
    let tuning = SidecarTuning {
        max_jobs: 2,
        ..fast_tuning()
    };
    let sc = Sidecar::start_with(opts, tuning).await.expect("start");
    let addr = sc.local_addr();
    for name in ["a", "b"] {
        schedule(addr, name, r#"{"dueTime":"1h"}"#)
            .await
            .assert_no_content();
    }
    let a = schedule(addr, "c", r#"{"dueTime":"1h"}"#).await;
    let m = assert_kit_error(&a, 500, "DAPR_SCHEDULER_SCHEDULE_JOB");
    assert!(m.contains("maximum of 2 jobs"), "{m}");
    schedule(addr, "a", r#"{"dueTime":"2h","overwrite":true}"#)
        .await
        .assert_no_content();
    delete(addr, "/v1.0/jobs/b", &[]).await.assert_no_content();
    schedule(addr, "c", r#"{"dueTime":"1h"}"#)
        .await
        .assert_no_content();
    sc.shutdown().await;
}

#[tokio::test]
async fn trigger_path_escapes_the_job_name() {
    let (app, sc) = setup(None).await;
    let addr = sc.local_addr();
    schedule(addr, "my%20job", r#"{"dueTime":"0s","data":{}}"#)
        .await
        .assert_no_content();
    let got = app.wait_for("/job/my", 1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].target(), "/job/my%20job");
    assert_eq!(body_json(&got[0]), json!({}));
    sc.shutdown().await;
}

#[tokio::test]
async fn many_due_jobs_all_fire_through_the_bounded_trigger_pool() {
    let (app, sc) = setup(None).await;
    let addr = sc.local_addr();
    // 20 slow triggers due at once, 8 in flight at a time (the default).
    for i in 0..20 {
        schedule(
            addr,
            &format!("slow-{i}"),
            &format!(r#"{{"dueTime":"0s","data":{i}}}"#),
        )
        .await
        .assert_no_content();
    }
    let got = app.wait_for("/job/slow-", 20).await;
    assert_eq!(got.len(), 20);
    let mut seen: Vec<i64> = got.iter().filter_map(|r| body_json(r).as_i64()).collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..20).collect::<Vec<i64>>());
    sc.shutdown().await;
}
