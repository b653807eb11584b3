//! Virtual actors hosted by served wasm apps, with the embedded sidecar in front as
//! daprd: the `actor-rust` and `actor-as` examples against their READMEs (the same Rust
//! client drives both), and the `Probe` actor of `tests/dapr/rust/src/bin/actor-host.rs`
//! for turn-based concurrency under `wasi-dapr serve`, a trap mid-turn, state across
//! deactivation, reentrancy, and the exact answers daprd requires of an actor host.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use http::Method;
use serde_json::{Value, json};
use wasi_dapr_sidecar::Sidecar;

use crate::app_rust::{LoggedServe, guest_lines, served_example};
use crate::serve::free_port;
use crate::support::guests;
use wasi_dapr_test_support::client::{Answer, get, send};
use wasi_dapr_test_support::sidecar::sidecar;

/// `module` served behind a sidecar (default components: the in-memory `statestore` is
/// the actor state store), once the sidecar knows the app's actor types.
async fn host(module: &str) -> (Sidecar, LoggedServe) {
    let sidecar_port = free_port();
    let served = LoggedServe::start(module, sidecar_port).await;
    let sc = sidecar(|o| {
        o.listen = ([127, 0, 0, 1], sidecar_port).into();
        o.app_port = Some(served.port);
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let meta = get(sc.local_addr(), "/v1.0/metadata").await.json();
        if meta["actorRuntime"]["runtimeStatus"] == "RUNNING" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "actor runtime not running: {meta}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (sc, served)
}

/// `PUT /v1.0/actors/Probe/{id}/method/{method}` with `body`.
async fn call(sc: &Sidecar, id: &str, method: &str, body: Value) -> Answer {
    send(
        sc.local_addr(),
        Method::PUT,
        &format!("/v1.0/actors/Probe/{id}/method/{method}"),
        &[("content-type", "application/json")],
        body.to_string(),
    )
    .await
}

/// The `count` of a `{"count":N}` answer, which must be a 200.
async fn count(sc: &Sidecar, id: &str, method: &str) -> i64 {
    let answer = call(sc, id, method, json!({})).await;
    assert_eq!(answer.status, 200, "{method} on {id}: {}", answer.text());
    answer.json()["count"].as_i64().expect("count")
}

/// The bank walkthrough of `actor-rust-client` against `app`, checked against the
/// `readme` example's expected output (its client output and three interest lines).
async fn example(app: &str, client: &str, readme: &str) {
    served_example(readme, app, client, &["BankAccount", "alice"], 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actor_rust_example_prints_its_readme_output() {
    example(
        guests::ACTOR_RUST_APP,
        guests::ACTOR_RUST_CLIENT,
        "actor-rust",
    )
    .await;
}

/// The same sources as components: the app a `wasi:http/proxy`, the client a command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actor_rust_example_as_components_prints_its_readme_output() {
    example(
        guests::COMPONENT_ACTOR_RUST_APP,
        guests::COMPONENT_ACTOR_RUST_CLIENT,
        "actor-rust",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actor_as_example_prints_its_readme_output() {
    example(guests::AS_ACTOR_AS, guests::ACTOR_RUST_CLIENT, "actor-as").await;
}

/// The `enter`/`leave` times (unix ms) the guest logged, per actor id.
fn turns(log: &str) -> BTreeMap<String, Vec<(u128, u128)>> {
    let mut open: BTreeMap<String, Vec<u128>> = BTreeMap::new();
    let mut done: BTreeMap<String, Vec<(u128, u128)>> = BTreeMap::new();
    for line in guest_lines(log) {
        let parts: Vec<&str> = line.split(' ').collect();
        let [what, id, at] = parts[..] else { continue };
        let Ok(at) = at.parse::<u128>() else { continue };
        match what {
            "enter" => open.entry(id.to_string()).or_default().push(at),
            "leave" => {
                let start = open
                    .get_mut(id)
                    .and_then(|v| (!v.is_empty()).then(|| v.remove(0)))
                    .unwrap_or_else(|| panic!("leave without enter for {id}:\n{log}"));
                done.entry(id.to_string()).or_default().push((start, at));
            }
            _ => {}
        }
    }
    done
}

fn overlap(a: (u128, u128), b: (u128, u128)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// Concurrent calls to one actor run one turn at a time (each guest instance logs when
/// it enters and leaves), while turns of two actors run at the same time in two
/// instances.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turns_of_one_actor_never_overlap_while_two_actors_do() {
    let (sc, served) = host(guests::ACTOR_HOST).await;
    let mut calls = Vec::new();
    for id in ["a", "a", "a", "b", "b"] {
        let sc = sc.local_addr();
        calls.push(tokio::spawn(async move {
            send(
                sc,
                Method::PUT,
                &format!("/v1.0/actors/Probe/{id}/method/hold"),
                &[],
                r#"{"ms":300}"#,
            )
            .await
        }));
    }
    for c in calls {
        let answer = c.await.expect("join");
        assert_eq!(answer.status, 200, "{}", answer.text());
    }
    let log = served.log();
    let turns = turns(&log);
    assert_eq!(turns["a"].len(), 3, "{log}");
    assert_eq!(turns["b"].len(), 2, "{log}");
    for (id, list) in &turns {
        for (i, x) in list.iter().enumerate() {
            for y in &list[i + 1..] {
                assert!(
                    !overlap(*x, *y),
                    "two turns of {id} overlapped: {x:?} {y:?}\n{log}"
                );
            }
        }
    }
    let crossed = turns["a"]
        .iter()
        .any(|x| turns["b"].iter().any(|y| overlap(*x, *y)));
    assert!(
        crossed,
        "no turn of a overlapped a turn of b: {turns:?}\n{log}"
    );
    sc.shutdown().await;
}

/// A turn that writes its state and then traps is a 500 for that call; nothing of it is
/// saved, and the next call to the same actor runs normally.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trap_mid_turn_commits_nothing_and_the_actor_stays_usable() {
    let (sc, served) = host(guests::ACTOR_HOST).await;
    assert_eq!(count(&sc, "t", "incr").await, 1);
    let trapped = call(&sc, "t", "trap", json!({})).await;
    let message = trapped.assert_error(500, "ERR_ACTOR_INVOKE_METHOD");
    assert!(
        message.starts_with("error invoke actor method: error from actor service: (500)"),
        "{message}"
    );
    let log = served.log();
    assert!(
        log.contains("trap t: count set to -1 in the turn, trapping now"),
        "the guest ran up to the trap:\n{log}"
    );
    let stored = get(sc.local_addr(), "/v1.0/actors/Probe/t/state/count").await;
    assert_eq!((stored.status.as_u16(), stored.text()), (200, "1".into()));
    assert_eq!(count(&sc, "t", "count").await, 1);
    assert_eq!(count(&sc, "t", "incr").await, 2);
    sc.shutdown().await;
}

/// After the type's idle timeout (2 s) the sidecar deactivates the actor (the guest's
/// deactivation hook runs and logs); its state is kept, and the next call re-activates
/// it with that state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_deactivation_and_reactivation() {
    let (sc, served) = host(guests::ACTOR_HOST).await;
    assert_eq!(count(&sc, "d", "incr").await, 1);
    assert_eq!(count(&sc, "d", "incr").await, 2);
    let meta = get(sc.local_addr(), "/v1.0/metadata").await.json();
    assert_eq!(
        meta["actorRuntime"]["activeActors"],
        json!([{"type": "Probe", "count": 1}]),
        "{meta}"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !served.log().contains("guest: deactivated d count=2") {
        assert!(
            Instant::now() < deadline,
            "not deactivated:\n{}",
            served.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let meta = get(sc.local_addr(), "/v1.0/metadata").await.json();
        if meta["actorRuntime"]["activeActors"] == json!([{"type": "Probe"}]) {
            break;
        }
        assert!(Instant::now() < deadline, "still active: {meta}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(count(&sc, "d", "incr").await, 3);
    sc.shutdown().await;
}

/// `recurse` calls itself on the same actor with the turn's reentrancy id: a chain of 4
/// turns (the type's maxStackDepth) runs; a fifth is refused with daprd's
/// `ERR_ACTOR_STACK_DEPTH`, which fails every turn of the chain, and the actor then
/// takes calls again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reentrancy_nests_up_to_the_depth_and_is_refused_beyond() {
    let (sc, served) = host(guests::ACTOR_HOST).await;
    let within = call(&sc, "r", "recurse", json!({"n": 3})).await;
    assert_eq!(within.status, 200, "{}\n{}", within.text(), served.log());
    assert_eq!(within.json(), json!({"depth": 4}));

    let beyond = call(&sc, "r", "recurse", json!({"n": 4})).await;
    let message = beyond.assert_error(500, "ERR_ACTOR_INVOKE_METHOD");
    assert!(
        message.contains("ERR_ACTOR_STACK_DEPTH"),
        "the refusal is passed up the chain: {message}"
    );
    assert_eq!(count(&sc, "r", "incr").await, 1);
    sc.shutdown().await;
}

/// The served module answers daprd's own requests (as `pkg/actors` sends them) with the
/// statuses daprd requires: exactly 200 for a method, a reminder tick, a timer tick with
/// an unknown callback aside, and a deactivation; `GET /dapr/config` names the types.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_module_answers_daprds_actor_requests() {
    let (sc, served) = host(guests::ACTOR_RUST_APP).await;
    let app: std::net::SocketAddr = ([127, 0, 0, 1], served.port).into();

    let config = get(app, "/dapr/config").await;
    assert_eq!(config.status, 200);
    assert_eq!(config.json()["entities"], json!(["BankAccount"]));

    // daprd's actor call: PUT, the caller's body, `dapr-app-id` among its headers. The
    // actor must be active on the sidecar for its state transaction, so the call goes
    // through the sidecar first.
    let first = send(
        sc.local_addr(),
        Method::PUT,
        "/v1.0/actors/BankAccount/w/method/deposit",
        &[],
        r#"{"amount":500}"#,
    )
    .await;
    assert_eq!(
        (first.status.as_u16(), first.json()),
        (200, json!({"balance": 500}))
    );
    let turn = send(
        app,
        Method::PUT,
        "/actors/BankAccount/w/method/withdraw",
        &[("content-type", "application/json"), ("dapr-app-id", "app")],
        r#"{"amount":200}"#,
    )
    .await;
    assert_eq!(turn.status, 200, "{}", turn.text());
    assert_eq!(turn.json(), json!({"balance": 300}));
    assert_eq!(turn.header("content-type"), Some("application/json"));

    let refused = send(
        app,
        Method::PUT,
        "/actors/BankAccount/w/method/withdraw",
        &[("dapr-app-id", "app")],
        r#"{"amount":100000}"#,
    )
    .await;
    assert_eq!(refused.status, 200, "an actor error is a 200 to daprd");
    assert_eq!(refused.header("x-daprerrorresponseheader"), Some("true"));
    assert_eq!(refused.header("x-wasi-dapr-actor-status"), Some("409"));
    assert_eq!(
        refused.json(),
        json!({"error": "insufficient funds", "balance": 300})
    );

    // A reminder tick as daprd sends it with Scheduler: dueTime and period are "".
    let tick = send(
        app,
        Method::PUT,
        "/actors/BankAccount/w/method/remind/interest",
        &[("content-type", "application/json")],
        r#"{"data":{"ratePercent":10},"dueTime":"","period":""}"#,
    )
    .await;
    assert_eq!(tick.status, 200, "{}", tick.text());
    let stored = get(sc.local_addr(), "/v1.0/actors/BankAccount/w/state/balance").await;
    assert_eq!(stored.text(), "330");

    let unknown = send(
        app,
        Method::PUT,
        "/actors/BankAccount/w/method/nope",
        &[],
        "",
    )
    .await;
    assert_eq!(unknown.status, 404);

    let gone = send(app, Method::DELETE, "/actors/BankAccount/w", &[], "").await;
    assert_eq!(gone.status, 200);
    sc.shutdown().await;
}
