//! Actors conformance (dapr-http-api.md § Actors): the app's `/dapr/config`, turn-based calls, the app's required 200, state in daprd's key layout (memory and Redis), deactivation, reminders, timers, reentrancy and the error table, against a mock actor app.

// Test code: a poisoned lock or a bad literal is a test failure.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use serde_json::{Value, json};
use wasi_dapr_sidecar::{Sidecar, SidecarOptions, SidecarTuning};

use wasi_dapr_test_support::client::{Answer, delete, get, post_json, send};
use wasi_dapr_test_support::mock::{MockServer, Recorded, Reply, ReplyFuture, reply};
use wasi_dapr_test_support::redis::RedisServer;
use wasi_dapr_test_support::resources;
use wasi_dapr_test_support::sidecar::fast_tuning;

const ACTOR_STORE: &str = "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: statestore\nspec:\n  type: state.in-memory\n  version: v1\n  metadata:\n  - name: ActorStateStore\n    value: \" True \"\n";
const PLAIN_STORE: &str = "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: statestore\nspec:\n  type: state.in-memory\n  version: v1\n";

/// What the mock app saw: per actor, how many calls ran at once now and at most.
#[derive(Default)]
struct Seen {
    running: HashMap<String, usize>,
    max_per_actor: usize,
    total_running: usize,
    max_total: usize,
}

type Behaviour = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;

/// A mock actor app: answers `/dapr/config` with `config`, every other call after
/// `hold` with `behave`, and records how calls overlap.
async fn actor_app(
    config: Value,
    hold: Duration,
    behave: Behaviour,
) -> (MockServer, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s = seen.clone();
    let config = Arc::new(config.to_string());
    let app = MockServer::start_async(move |r: Recorded| {
        let (s, config, behave) = (s.clone(), config.clone(), behave.clone());
        Box::pin(async move {
            if r.target() == "/dapr/config" {
                return reply(200, &config);
            }
            if r.target() == "/dapr/subscribe" {
                return reply(404, "");
            }
            let actor = r
                .uri
                .path()
                .split('/')
                .take(4)
                .collect::<Vec<_>>()
                .join("/");
            {
                let mut s = s.lock().unwrap();
                let n = s.running.entry(actor.clone()).or_default();
                *n += 1;
                let n = *n;
                s.max_per_actor = s.max_per_actor.max(n);
                s.total_running += 1;
                s.max_total = s.max_total.max(s.total_running);
            }
            tokio::time::sleep(hold).await;
            {
                let mut s = s.lock().unwrap();
                *s.running.entry(actor).or_default() -= 1;
                s.total_running -= 1;
            }
            behave(&r)
        }) as ReplyFuture
    })
    .await;
    (app, seen)
}

fn ok_behaviour() -> Behaviour {
    Arc::new(|_| reply(200, ""))
}

async fn start(
    app_port: u16,
    files: &[(&str, &str)],
    tuning: SidecarTuning,
) -> (Sidecar, tempfile::TempDir) {
    let dir = resources(files);
    let opts = SidecarOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        app_port: Some(app_port),
        resources_path: Some(dir.path().to_path_buf()),
        ..SidecarOptions::default()
    };
    let sc = Sidecar::start_with(opts, tuning)
        .await
        .expect("sidecar start");
    wait_ready(sc.local_addr()).await;
    (sc, dir)
}

async fn wait_ready(addr: SocketAddr) {
    for _ in 0..200 {
        if get(addr, "/v1.0/healthz").await.status == 204 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("sidecar never ready");
}

async fn put(addr: SocketAddr, path: &str, body: &str) -> Answer {
    send(
        addr,
        Method::PUT,
        path,
        &[("content-type", "application/json")],
        Bytes::from(body.to_string()),
    )
    .await
}

fn config(types: &[&str]) -> Value {
    json!({ "entities": types })
}

#[tokio::test]
async fn the_apps_config_is_read_and_metadata_shows_the_running_runtime() {
    let (app, _) = actor_app(
        config(&["Counter", "Other"]),
        Duration::ZERO,
        ok_behaviour(),
    )
    .await;
    let (sc, _dir) = start(app.addr.port(), &[("s.yaml", ACTOR_STORE)], fast_tuning()).await;
    let addr = sc.local_addr();
    let cfg = app.requests_to("/dapr/config");
    assert_eq!(cfg.len(), 1, "asked once");
    assert_eq!(cfg[0].method, Method::GET);
    assert_eq!(cfg[0].header("dapr-app-id"), Some("app"));
    put(addr, "/v1.0/actors/Counter/1/method/add", "{}").await;
    put(addr, "/v1.0/actors/Counter/2/method/add", "{}").await;
    let meta = get(addr, "/v1.0/metadata").await.json();
    assert_eq!(
        meta["actorRuntime"],
        json!({"runtimeStatus":"RUNNING","activeActors":[{"type":"Counter","count":2},{"type":"Other"}],
               "hostReady":true,"placement":"placement: connected"})
    );
    assert_eq!(meta["actors"], meta["actorRuntime"]["activeActors"]);
    let store = meta["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "statestore")
        .unwrap()
        .clone();
    assert!(
        store["capabilities"]
            .as_array()
            .unwrap()
            .contains(&json!("ACTOR")),
        "{store}"
    );
    sc.shutdown().await;
}

#[tokio::test]
async fn turns_on_one_actor_never_overlap_while_two_actors_run_in_parallel() {
    let (app, seen) = actor_app(config(&["T"]), Duration::from_millis(60), ok_behaviour()).await;
    let (sc, _dir) = start(app.addr.port(), &[("s.yaml", ACTOR_STORE)], fast_tuning()).await;
    let addr = sc.local_addr();
    let calls = (0..4).map(|i| {
        let id = if i % 2 == 0 { "a" } else { "b" };
        async move { put(addr, &format!("/v1.0/actors/T/{id}/method/m"), "{}").await }
    });
    for a in futures_util::future::join_all(calls).await {
        assert_eq!(a.status, 200, "{}", a.text());
    }
    let (per_actor, total) = {
        let s = seen.lock().unwrap();
        (s.max_per_actor, s.max_total)
    };
    assert_eq!(per_actor, 1, "calls to one actor overlapped");
    assert_eq!(total, 2, "calls to two actors did not overlap");
    sc.shutdown().await;
}

#[tokio::test]
async fn the_app_must_answer_exactly_200_and_actor_errors_pass_through() {
    let behave: Behaviour = Arc::new(|r: &Recorded| {
        let path = r.uri.path();
        if path.ends_with("/empty") {
            reply(204, "")
        } else if path.ends_with("/missing") {
            reply(404, "no such method")
        } else if path.ends_with("/flagged") {
            reply(200, r#"{"error":"flagged"}"#).header("X-DaprErrorResponseHeader", "true")
        } else if path.ends_with("/refuse") {
            reply(409, r#"{"error":"insufficient funds"}"#)
                .header("X-DaprErrorResponseHeader", "true")
        } else {
            Reply::ok(r.body.clone())
                .header("content-type", "text/plain")
                .header("x-from-app", "yes")
        }
    });
    let (app, _) = actor_app(config(&["T"]), Duration::ZERO, behave).await;
    let (sc, _dir) = start(app.addr.port(), &[("s.yaml", ACTOR_STORE)], fast_tuning()).await;
    let addr = sc.local_addr();
    // Any verb reaches the app as PUT, with the body, query and the caller's headers.
    let a = send(
        addr,
        Method::POST,
        "/v1.0/actors/T/1/method/echo?x=1&y=%20",
        &[("content-type", "text/plain"), ("x-caller", "c")],
        Bytes::from_static(b"hi"),
    )
    .await;
    assert_eq!((a.status.as_u16(), a.text().as_str()), (200, "hi"));
    assert_eq!(a.header("x-from-app"), Some("yes"));
    let r = app.requests_to("/actors/T/1/method/echo").pop().unwrap();
    assert_eq!(r.method, Method::PUT);
    assert_eq!(r.target(), "/actors/T/1/method/echo?x=1&y=%20");
    assert_eq!(r.header("x-caller"), Some("c"));
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert!(r.header("traceparent").is_some());
    let a = get(addr, "/v1.0/actors/T/1/method/empty").await;
    let msg = a.assert_error(500, "ERR_ACTOR_INVOKE_METHOD");
    assert_eq!(
        msg,
        "error invoke actor method: error from actor service: (204) "
    );
    let msg = get(addr, "/v1.0/actors/T/1/method/missing")
        .await
        .assert_error(500, "ERR_ACTOR_INVOKE_METHOD");
    assert!(msg.ends_with("(404) no such method"), "{msg}");
    // daprd checks the status before the actor-error header: a non-200 is a 500 even
    // with the header; a 200 with it reaches the caller with the app's body and headers.
    let msg = put(addr, "/v1.0/actors/T/1/method/refuse", "{}")
        .await
        .assert_error(500, "ERR_ACTOR_INVOKE_METHOD");
    assert!(
        msg.ends_with(r#"(409) {"error":"insufficient funds"}"#),
        "{msg}"
    );
    let a = put(addr, "/v1.0/actors/T/1/method/flagged", "{}").await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("x-daprerrorresponseheader"), Some("true"));
    // A type the app does not host.
    let msg = put(addr, "/v1.0/actors/Nope/1/method/m", "")
        .await
        .assert_error(500, "ERR_ACTOR_INVOKE_METHOD");
    assert_eq!(
        msg,
        "error invoke actor method: failed to lookup actor: did not find address for actor 'Nope||1'"
    );
    // Names daprd refuses.
    for path in [
        "/v1.0/actors/T/%2E%2E/method/m",
        "/v1.0/actors/T/a%23b/method/m",
        "/v1.0/actors/T%3F/1/method/m",
    ] {
        put(addr, path, "")
            .await
            .assert_error(400, "ERR_BAD_REQUEST");
    }
    sc.shutdown().await;
}

/// The transaction and get state routes, in daprd's key layout on the store.
async fn state_walkthrough(sc: &Sidecar) {
    let addr = sc.local_addr();
    let tx = r#"[{"operation":"upsert","request":{"key":"balance","value":{"cents":7000}}},
                {"operation":"upsert","request":{"key":"gone","value":"x"}},
                {"Operation":"delete","Request":{"Key":"gone"}}]"#;
    // Not active yet: daprd refuses a transaction.
    let msg = post_json(addr, "/v1.0/actors/T/1/state", tx)
        .await
        .assert_error(400, "ERR_ACTOR_INSTANCE_MISSING");
    assert_eq!(msg, "actor instance is missing");
    put(addr, "/v1.0/actors/T/1/method/m", "{}").await;
    post_json(addr, "/v1.0/actors/T/1/state", tx)
        .await
        .assert_no_content();
    let a = get(addr, "/v1.0/actors/T/1/state/balance").await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("content-type"), Some("application/json"));
    assert_eq!(a.json(), json!({"cents":7000}));
    get(addr, "/v1.0/actors/T/1/state/gone")
        .await
        .assert_no_content();
    get(addr, "/v1.0/actors/T/2/state/balance")
        .await
        .assert_no_content();
    let keys: Vec<String> = sc
        .state_snapshot("statestore")
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, vec!["app||T||1||balance".to_string()]);
    // The error rows.
    post_json(addr, "/v1.0/actors/T/1/state", "{")
        .await
        .assert_error(400, "ERR_MALFORMED_REQUEST");
    post_json(addr, "/v1.0/actors/T/1/state", r#"{"operations":[]}"#)
        .await
        .assert_error(400, "ERR_MALFORMED_REQUEST");
    for bad in [
        r#"[{"operation":"Upsert","request":{"key":"k","value":1}}]"#,
        r#"[{"operation":"","request":{"key":"k"}}]"#,
        r#"[{"operation":"upsert","request":{"value":1}}]"#,
        r#"[{"operation":"upsert","request":{"key":"k","value":1,"metadata":{"ttlInSeconds":"5"}}}]"#,
    ] {
        post_json(addr, "/v1.0/actors/T/1/state", bad)
            .await
            .assert_error(500, "ERR_ACTOR_STATE_TRANSACTION_SAVE");
    }
}

#[tokio::test]
async fn state_is_kept_in_daprds_key_layout_and_needs_an_active_actor() {
    let (app, _) = actor_app(config(&["T"]), Duration::ZERO, ok_behaviour()).await;
    let (sc, _dir) = start(app.addr.port(), &[("s.yaml", ACTOR_STORE)], fast_tuning()).await;
    state_walkthrough(&sc).await;
    sc.shutdown().await;
}

#[tokio::test]
async fn state_on_redis_is_readable_where_daprd_reads_it() {
    let redis = RedisServer::start().await.expect("redis-server");
    let store = format!(
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: statestore\nspec:\n  type: state.redis\n  version: v1\n  metadata:\n  - name: redisHost\n    value: 127.0.0.1:{}\n  - name: actorStateStore\n    value: \"true\"\n",
        redis.port
    );
    let (app, _) = actor_app(config(&["T"]), Duration::ZERO, ok_behaviour()).await;
    let (sc, _dir) = start(app.addr.port(), &[("s.yaml", &store)], fast_tuning()).await;
    state_walkthrough(&sc).await;
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/", redis.port)).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    // daprd's Redis state store: a hash with the JSON value in `data` and a `version`.
    let (data, version): (String, String) = redis::cmd("HMGET")
        .arg("app||T||1||balance")
        .arg("data")
        .arg("version")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(data, r#"{"cents":7000}"#);
    assert_eq!(version, "1");
    sc.shutdown().await;
}

#[tokio::test]
async fn idle_actors_are_deactivated_and_come_back_with_their_state() {
    let cfg = json!({"entities":["T","Slow"],"actorIdleTimeout":"1s",
                     "entitiesConfig":[{"entities":["Slow"],"actorIdleTimeout":"1h"}]});
    let (app, _) = actor_app(cfg, Duration::ZERO, ok_behaviour()).await;
    let tuning = SidecarTuning {
        actor_scan_interval: Duration::from_millis(50),
        ..fast_tuning()
    };
    let (sc, _dir) = start(app.addr.port(), &[("s.yaml", ACTOR_STORE)], tuning).await;
    let addr = sc.local_addr();
    put(addr, "/v1.0/actors/T/1/method/m", "{}").await;
    put(addr, "/v1.0/actors/Slow/1/method/m", "{}").await;
    post_json(
        addr,
        "/v1.0/actors/T/1/state",
        r#"[{"operation":"upsert","request":{"key":"k","value":1}}]"#,
    )
    .await
    .assert_no_content();
    let deleted = app.wait_for("/actors/T/1", 2).await;
    let del: Vec<&Recorded> = deleted
        .iter()
        .filter(|r| r.method == Method::DELETE)
        .collect();
    assert_eq!(del.len(), 1, "one deactivation");
    assert_eq!(del[0].target(), "/actors/T/1");
    // The DELETE is recorded when it arrives; the actor is gone once the app answered it.
    let mut missing = post_json(addr, "/v1.0/actors/T/1/state", "[]").await;
    for _ in 0..100 {
        if missing.status == 400 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        missing = post_json(addr, "/v1.0/actors/T/1/state", "[]").await;
    }
    missing.assert_error(400, "ERR_ACTOR_INSTANCE_MISSING");
    assert_eq!(get(addr, "/v1.0/actors/T/1/state/k").await.json(), json!(1));
    assert!(
        app.requests()
            .iter()
            .all(|r| !(r.method == Method::DELETE && r.target().starts_with("/actors/Slow")))
    );
    // A new call activates it again.
    put(addr, "/v1.0/actors/T/1/method/m", "{}").await;
    post_json(addr, "/v1.0/actors/T/1/state", "[]")
        .await
        .assert_no_content();
    sc.shutdown().await;
}

#[tokio::test]
async fn reminders_fire_as_turns_and_stop_after_their_repeats() {
    let (app, _) = actor_app(config(&["T"]), Duration::ZERO, ok_behaviour()).await;
    let (sc, _dir) = start(app.addr.port(), &[("s.yaml", ACTOR_STORE)], fast_tuning()).await;
    let addr = sc.local_addr();
    post_json(
        addr,
        "/v1.0/actors/T/1/reminders/interest",
        r#"{"dueTime":"0s","period":"R2/PT1S","data":{"ratePercent": 10}}"#,
    )
    .await
    .assert_no_content();
    let r = get(addr, "/v1.0/actors/T/1/reminders/interest").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({"actorID":"1","actorType":"T","data":{"ratePercent":10},"dueTime":"0s","period":"@every 1s"})
    );
    let ticks = app.wait_for("/actors/T/1/method/remind/interest", 2).await;
    for t in &ticks {
        assert_eq!(t.method, Method::PUT);
        assert_eq!(
            t.body,
            Bytes::from_static(br#"{"data":{"ratePercent":10},"dueTime":"","period":""}"#)
        );
    }
    // Done after two: gone from the table.
    for _ in 0..100 {
        if get(addr, "/v1.0/actors/T/1/reminders/interest")
            .await
            .status
            == 404
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let msg = get(addr, "/v1.0/actors/T/1/reminders/interest")
        .await
        .assert_error(404, "ERR_ACTOR_REMINDER_NOT_FOUND");
    assert_eq!(msg, "actor reminder not found: interest");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        app.requests_to("/actors/T/1/method/remind/").len(),
        2,
        "no tick after the repeats"
    );
    sc.shutdown().await;
}

#[tokio::test]
async fn reminder_errors_match_daprd() {
    let (app, _) = actor_app(config(&["T"]), Duration::ZERO, ok_behaviour()).await;
    let (sc, _dir) = start(app.addr.port(), &[("s.yaml", ACTOR_STORE)], fast_tuning()).await;
    let addr = sc.local_addr();
    let path = "/v1.0/actors/T/1/reminders/r";
    post_json(addr, path, r#"{"dueTime":"1h"}"#)
        .await
        .assert_no_content();
    post_json(addr, path, r#"{"dueTime":"2h","overwrite":false}"#)
        .await
        .assert_error(409, "ERR_ACTOR_REMINDER_ALREADY_EXISTS");
    post_json(addr, path, r#"{"dueTime":"2h"}"#)
        .await
        .assert_no_content();
    assert_eq!(get(addr, path).await.json()["dueTime"], "2h");
    post_json(
        addr,
        "/v1.0/actors/Nope/1/reminders/r",
        r#"{"dueTime":"1s"}"#,
    )
    .await
    .assert_error(403, "ERR_ACTOR_REMINDER_NON_HOSTED");
    get(addr, "/v1.0/actors/Nope/1/reminders/r")
        .await
        .assert_error(403, "ERR_ACTOR_REMINDER_NON_HOSTED");
    post_json(addr, path, "{")
        .await
        .assert_error(400, "ERR_MALFORMED_REQUEST");
    for (body, why) in [
        (r#"{"period":"P1D"}"#, "unsupported period format"),
        (r#"{"period":"R0/PT1S"}"#, "zero repetitions"),
        (r#"{}"#, "either a due time or a schedule"),
        (r#"{"dueTime":"1s","ttl":"10s"}"#, "schedule to have a ttl"),
        (r#"{"dueTime":"whenever"}"#, "due time"),
    ] {
        let msg = post_json(addr, path, body)
            .await
            .assert_error(500, "ERR_ACTOR_REMINDER_CREATE");
        assert!(
            msg.starts_with("error creating actor reminder: ") && msg.contains(why),
            "{body}: {msg}"
        );
    }
    delete(addr, path, &[]).await.assert_no_content();
    delete(addr, path, &[]).await.assert_no_content();
    get(addr, path)
        .await
        .assert_error(404, "ERR_ACTOR_REMINDER_NOT_FOUND");
    post_json(
        addr,
        "/v1.0/actors/T/1/reminders/a%2Fb",
        r#"{"dueTime":"1s"}"#,
    )
    .await
    .assert_error(400, "ERR_BAD_REQUEST");
    sc.shutdown().await;
}

#[tokio::test]
async fn timers_tick_until_deleted_and_carry_what_they_were_created_with() {
    let (app, _) = actor_app(config(&["T"]), Duration::ZERO, ok_behaviour()).await;
    let (sc, _dir) = start(app.addr.port(), &[("s.yaml", ACTOR_STORE)], fast_tuning()).await;
    let addr = sc.local_addr();
    post_json(
        addr,
        "/v1.0/actors/T/1/timers/tick",
        r#"{"dueTime":"0s","period":"1s","callback":"onTick","data":"hello"}"#,
    )
    .await
    .assert_no_content();
    let ticks = app.wait_for("/actors/T/1/method/timer/tick", 2).await;
    assert_eq!(
        ticks[0].body,
        Bytes::from_static(br#"{"data":"hello","callback":"onTick","dueTime":"0s","period":"1s"}"#)
    );
    delete(addr, "/v1.0/actors/T/1/timers/tick", &[])
        .await
        .assert_no_content();
    let after = app.requests_to("/actors/T/1/method/timer/").len();
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(
        app.requests_to("/actors/T/1/method/timer/").len(),
        after,
        "a deleted timer ticked"
    );
    // Once, with an empty period; and the errors.
    post_json(addr, "/v1.0/actors/T/2/timers/once", r#"{"callback":"cb"}"#)
        .await
        .assert_no_content();
    let once = app.wait_for("/actors/T/2/method/timer/once", 1).await;
    assert_eq!(
        once[0].body,
        Bytes::from_static(br#"{"callback":"cb","dueTime":"","period":""}"#)
    );
    post_json(addr, "/v1.0/actors/Nope/1/timers/t", r#"{"period":"1s"}"#)
        .await
        .assert_error(500, "ERR_ACTOR_TIMER_CREATE");
    post_json(addr, "/v1.0/actors/T/1/timers/t", r#"{"period":"often"}"#)
        .await
        .assert_error(500, "ERR_ACTOR_TIMER_CREATE");
    post_json(addr, "/v1.0/actors/T/1/timers/t", "[")
        .await
        .assert_error(400, "ERR_MALFORMED_REQUEST");
    delete(addr, "/v1.0/actors/T/9/timers/none", &[])
        .await
        .assert_no_content();
    sc.shutdown().await;
}

/// Reentrancy: the app's `outer` calls back into the same actor with the id it was given.
#[tokio::test]
async fn reentrant_calls_enter_within_the_depth_and_are_refused_beyond_it() {
    let sidecar_addr: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
    let sa = sidecar_addr.clone();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let cfg = json!({"entities":["R"],"reentrancy":{"enabled":true,"maxStackDepth":2}}).to_string();
    let app = MockServer::start_async(move |r: Recorded| {
        let (sa, seen, cfg) = (sa.clone(), s2.clone(), cfg.clone());
        Box::pin(async move {
            let path = r.uri.path().to_string();
            if path == "/dapr/config" {
                return reply(200, &cfg);
            }
            if !path.starts_with("/actors/") {
                return reply(404, "");
            }
            let id = r.header("dapr-reentrancy-id").unwrap_or("").to_string();
            seen.lock().unwrap().push((path.clone(), id.clone()));
            // /actors/R/1/method/nest<N>: call nest<N-1> on the same actor, reentrantly.
            if let Some(n) = path
                .strip_prefix("/actors/R/1/method/nest")
                .and_then(|n| n.parse::<u32>().ok())
                && n > 0
            {
                let addr = sa.lock().unwrap().expect("sidecar addr");
                let inner = send(
                    addr,
                    Method::PUT,
                    &format!("/v1.0/actors/R/1/method/nest{}", n - 1),
                    &[("dapr-reentrancy-id", &id)],
                    Bytes::new(),
                )
                .await;
                return Reply::ok(inner.body.clone()).status(inner.status.as_u16());
            }
            reply(200, r#""bottom""#)
        }) as ReplyFuture
    })
    .await;
    let (sc, _dir) = start(app.addr.port(), &[("s.yaml", ACTOR_STORE)], fast_tuning()).await;
    *sidecar_addr.lock().unwrap() = Some(sc.local_addr());
    let addr = sc.local_addr();
    // Depth 2: the outer call and one nested call.
    let a = put(addr, "/v1.0/actors/R/1/method/nest1", "").await;
    assert_eq!((a.status.as_u16(), a.text().as_str()), (200, r#""bottom""#));
    let calls = seen.lock().unwrap().clone();
    assert_eq!(calls.len(), 2);
    assert!(!calls[0].1.is_empty(), "daprd adds a reentrancy id");
    assert_eq!(calls[0].1, calls[1].1, "the nested call keeps the id");
    // Depth 3 is refused: the innermost call answers ERR_ACTOR_STACK_DEPTH, passed up.
    let a = put(addr, "/v1.0/actors/R/1/method/nest2", "").await;
    let inner: Value = serde_json::from_slice(&a.body).unwrap_or(Value::Null);
    assert!(
        a.status == 500 && a.text().contains("ERR_ACTOR_STACK_DEPTH"),
        "{} {inner}",
        a.status
    );
    sc.shutdown().await;
}

#[tokio::test]
async fn without_an_actor_state_store_nothing_is_hosted() {
    let (app, _) = actor_app(config(&["T"]), Duration::ZERO, ok_behaviour()).await;
    let (sc, _dir) = start(app.addr.port(), &[("s.yaml", PLAIN_STORE)], fast_tuning()).await;
    let addr = sc.local_addr();
    put(addr, "/v1.0/actors/T/1/method/m", "")
        .await
        .assert_error(500, "ERR_ACTOR_INVOKE_METHOD");
    for (method, path) in [
        (Method::GET, "/v1.0/actors/T/1/state/k"),
        (Method::POST, "/v1.0/actors/T/1/state"),
        (Method::POST, "/v1.0/actors/T/1/reminders/r"),
        (Method::POST, "/v1.0/actors/T/1/timers/t"),
    ] {
        let body = if path.ends_with("/state") { "[]" } else { "{}" };
        let msg = send(addr, method, path, &[], Bytes::from(body))
            .await
            .assert_error(500, "ERR_ACTOR_RUNTIME_NOT_FOUND");
        assert!(msg.contains("actorStateStore"), "{msg}");
    }
    assert!(app.requests_to("/actors/").is_empty());
    sc.shutdown().await;
}

#[tokio::test]
async fn a_second_actor_state_store_fails_that_component() {
    let dir = resources(&[
        ("a.yaml", ACTOR_STORE),
        (
            "b.yaml",
            &ACTOR_STORE.replace("name: statestore", "name: second"),
        ),
    ]);
    let opts = SidecarOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        resources_path: Some(dir.path().to_path_buf()),
        ..SidecarOptions::default()
    };
    let err = Sidecar::start_with(opts, fast_tuning())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("detected duplicate actor state store"),
        "{err}"
    );
}

/// Without an app (no app port) no type is hosted; routes daprd does not have stay
/// service invocation.
#[tokio::test]
async fn without_an_app_no_type_is_hosted() {
    let sc = wasi_dapr_test_support::sidecar::sidecar(|_| {}).await;
    let addr = sc.local_addr();
    let meta = get(addr, "/v1.0/metadata").await.json();
    assert_eq!(
        meta["actorRuntime"],
        json!({"runtimeStatus":"RUNNING","hostReady":true,"placement":"placement: connected"})
    );
    for method in [Method::GET, Method::POST, Method::PUT, Method::DELETE] {
        send(
            addr,
            method,
            "/v1.0/actors/Counter/1/method/add",
            &[],
            Bytes::new(),
        )
        .await
        .assert_error(500, "ERR_ACTOR_INVOKE_METHOD");
    }
    for (method, path) in [
        (Method::GET, "/v1.0/actors/Counter/1/timers/t"),
        (Method::GET, "/v1.0/actors/Counter/1/state"),
        (Method::POST, "/v1.0/actors/Counter/1/method/a/b"),
        (Method::POST, "/v1.0-alpha1/actors/Counter/1/method/add"),
    ] {
        send(addr, method, path, &[], Bytes::new())
            .await
            .assert_error(404, "ERR_DIRECT_INVOKE");
    }
    sc.shutdown().await;
}
