//! Test guest that runs every `wasi-dapr-sdk` client method and prints `key=value` lines.
//!
//! Usage: `sdk-exercise CASE...` (no case: all of them). Each case prints one or more
//! `case.detail=value` lines; a failed call prints its error in a stable form
//! (`dapr:<status>:<errorCode>`, `http:<abi code>`, `unauthorized`, ...), so the host's
//! integration tests can assert on exact values. The exit code is 0 unless a case name
//! is unknown. Names come from the environment (defaults in brackets): `STATE_STORE`
//! [statestore], `PUBSUB_NAME` [pubsub], `TOPIC` [orders], `SECRET_STORE`
//! [secretstore], `SECRET_KEY` [secret], `CONFIG_STORE` [configstore], `CONFIG_KEY`
//! [config], `LOCK_STORE` [lockstore], `BINDING_NAME` [binding], `INVOKE_APP_ID`
//! [target], `INVOKE_METHOD` [echo], `CONVERSATION_NAME` [echo], `HTTP_URL` (for the
//! `http` case).

use std::process::ExitCode;
use std::time::Duration;

use serde_json::json;
use wasi_dapr_sdk::dapr::{
    BindingRequest, BulkPublishEntry, Client, Concurrency, ConversationRequest, Error, Event,
    FailurePolicy, InvokeRequest, JobRequest, Message, PublishOptions, SaveStateItem,
    StateOperation, StateOptions, Tool,
};
use wasi_dapr_sdk::http;

const CASES: &[&str] = &[
    "health",
    "metadata",
    "state",
    "state_json",
    "state_errors",
    "query",
    "publish",
    "bulk_publish",
    "jobs",
    "conversation",
    "invoke",
    "binding",
    "secret",
    "configuration",
    "lock",
    "http",
    "wait",
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cases: Vec<&str> = if args.is_empty() {
        CASES.to_vec()
    } else {
        args.iter().map(String::as_str).collect()
    };
    let client = Client::new();
    println!("address={}", client.address());
    for case in cases {
        let result = match case {
            "health" => health(&client),
            "metadata" => metadata(&client),
            "state" => state(&client),
            "state_json" => state_json(&client),
            "state_errors" => state_errors(&client),
            "query" => query(&client),
            "publish" => publish(&client),
            "bulk_publish" => bulk_publish(&client),
            "jobs" => jobs(&client),
            "conversation" => conversation(&client),
            "invoke" => invoke(&client),
            "binding" => binding(&client),
            "secret" => secret(&client),
            "configuration" => configuration(&client),
            "lock" => lock(&client),
            "http" => raw_http(),
            "wait" => wait(&client),
            other => {
                println!("unknown case {other:?}; cases: {}", CASES.join(" "));
                return ExitCode::FAILURE;
            }
        };
        if let Err(error) = result {
            println!("{case}={}", describe(&error));
        }
    }
    ExitCode::SUCCESS
}

/// A stable, assertable description of an error.
fn describe(error: &Error) -> String {
    match error {
        Error::Http(e) => match e.code() {
            Some(code) => format!("http:{code}"),
            None => format!("http:{e}"),
        },
        Error::Dapr {
            status, error_code, ..
        } => format!("dapr:{status}:{error_code}"),
        Error::Unauthorized { message } => format!("unauthorized:{message}"),
        Error::UnexpectedStatus { status, .. } => format!("status:{status}"),
        Error::SidecarNotReady { last, .. } => format!("not-ready:{}", describe(last)),
        Error::BulkPublishFailed {
            status, error_code, ..
        } => format!(
            "bulk-failed:{status}:{error_code}:{}",
            error.failed_entry_ids().join(",")
        ),
        other => format!("error:{other}"),
    }
}

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn health(client: &Client) -> Result<(), Error> {
    client.healthz()?;
    client.healthz_outbound()?;
    println!("health=ok");
    Ok(())
}

fn metadata(client: &Client) -> Result<(), Error> {
    client.set_metadata("exercise", "yes")?;
    let md = client.get_metadata()?;
    let mut names: Vec<_> = md.components.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    println!("metadata.id={}", md.id);
    println!("metadata.components={}", names.join(","));
    println!(
        "metadata.extended.exercise={}",
        md.extended.get("exercise").map_or("(none)", String::as_str)
    );
    Ok(())
}

fn state(client: &Client) -> Result<(), Error> {
    let store = env("STATE_STORE", "statestore");
    let key = "exercise/weapon #1";
    client.save_state(&store, key, "Death Star")?;
    let entry = client.get_state(&store, key)?;
    println!(
        "state.get={}",
        entry.as_ref().map_or("(none)".into(), |e| text(&e.value))
    );
    let etag = entry.and_then(|e| e.etag).unwrap_or_default();
    println!("state.etag_present={}", !etag.is_empty());

    let options = StateOptions::default()
        .etag(etag.clone())
        .concurrency(Concurrency::FirstWrite);
    client.save_state_with(&store, key, "Death Star II", &options)?;
    let stale = client.save_state_with(&store, key, "Starkiller", &options);
    println!(
        "state.stale_save={}",
        match &stale {
            Ok(()) => "ok".to_owned(),
            Err(e) if e.is_etag_mismatch() => format!("etag-mismatch:{}", describe(e)),
            Err(e) => describe(e),
        }
    );
    let stale_delete = client.delete_state_with(&store, key, &StateOptions::default().etag(etag));
    println!(
        "state.stale_delete={}",
        match &stale_delete {
            Ok(()) => "ok".to_owned(),
            Err(e) if e.is_etag_mismatch() => format!("etag-mismatch:{}", describe(e)),
            Err(e) => describe(e),
        }
    );

    client.save_bulk_state(
        &store,
        &[
            SaveStateItem::new("exercise-a", json!({"n": 1})),
            SaveStateItem::new("exercise-b", 2).metadata("ttlInSeconds", "600"),
        ],
    )?;
    let bulk = client.get_bulk_state(&store, &["exercise-a", "exercise-b", "exercise-none"])?;
    let shown: Vec<String> = bulk
        .iter()
        .map(|i| {
            format!(
                "{}:{}",
                i.key,
                i.data.as_ref().map_or("(none)".into(), |d| d.to_string())
            )
        })
        .collect();
    println!("state.bulk={}", shown.join(","));

    client.transact_state(
        &store,
        &[
            StateOperation::upsert("exercise-c", "c"),
            StateOperation::delete("exercise-a"),
        ],
    )?;
    let c = client.get_state(&store, "exercise-c")?;
    let a = client.get_state(&store, "exercise-a")?;
    println!(
        "state.transaction=c:{},a:{}",
        c.map_or("(none)".into(), |e| text(&e.value)),
        a.map_or("(none)".into(), |e| text(&e.value))
    );

    for k in [key, "exercise-b", "exercise-c"] {
        client.delete_state(&store, k)?;
    }
    println!(
        "state.after_delete={}",
        client
            .get_state(&store, key)?
            .map_or("(none)".into(), |e| text(&e.value))
    );
    Ok(())
}

fn state_json(client: &Client) -> Result<(), Error> {
    let store = env("STATE_STORE", "statestore");
    let planet = json!({"name": "Tatooine", "test": 123});
    client.save_state_json(&store, "exercise-planet", &planet)?;
    let back: Option<serde_json::Value> = client.get_state_json(&store, "exercise-planet")?;
    println!("state_json.equal={}", back.as_ref() == Some(&planet));
    client.delete_state(&store, "exercise-planet")?;
    let gone: Option<serde_json::Value> = client.get_state_json(&store, "exercise-planet")?;
    println!("state_json.after_delete={}", gone.is_none());
    Ok(())
}

fn state_errors(client: &Client) -> Result<(), Error> {
    let unknown = client.get_state("no-such-store", "k");
    println!(
        "state_errors.unknown_store={}",
        unknown.err().map_or("ok".into(), |e| describe(&e))
    );
    let bad_key = client.save_state(&env("STATE_STORE", "statestore"), "a||b", 1);
    println!(
        "state_errors.bad_key={}",
        bad_key.err().map_or("ok".into(), |e| describe(&e))
    );
    let empty = client.get_state("", "k");
    println!(
        "state_errors.empty_store={}",
        empty.err().map_or("ok".into(), |e| describe(&e))
    );
    Ok(())
}

fn query(client: &Client) -> Result<(), Error> {
    let store = env("STATE_STORE", "statestore");
    client.save_bulk_state(
        &store,
        &[
            SaveStateItem::new("exercise-q1", json!({"city": "Mos Eisley", "n": 1})),
            SaveStateItem::new("exercise-q2", json!({"city": "Anchorhead", "n": 2})),
        ],
    )?;
    let query = json!({"filter": {"EQ": {"city": "Mos Eisley"}}, "page": {"limit": 10}});
    let response = client.query_state(&store, &query);
    for key in ["exercise-q1", "exercise-q2"] {
        client.delete_state(&store, key)?;
    }
    let keys: Vec<_> = response?.results.into_iter().map(|r| r.key).collect();
    println!("query.keys={}", keys.join(","));
    Ok(())
}

fn publish(client: &Client) -> Result<(), Error> {
    let pubsub = env("PUBSUB_NAME", "pubsub");
    let topic = env("TOPIC", "orders");
    client.publish_event(&pubsub, &topic, &Event::json(&json!({"orderId": 1}))?)?;
    client.publish_event(&pubsub, &topic, &Event::text("two"))?;
    client.publish_event(&pubsub, &topic, &Event::bytes(vec![0u8, 255]))?;
    let cloud_event = json!({"id": "ce-1", "source": "sdk-exercise", "type": "test", "specversion": "1.0", "data": {"n": 4}});
    client.publish_event(&pubsub, &topic, &Event::cloud_event(&cloud_event)?)?;
    let options = PublishOptions::default()
        .raw_payload(true)
        .ttl_in_seconds(60);
    client.publish_event_with(&pubsub, &topic, &Event::text("raw"), &options)?;
    println!("publish=ok");
    let unknown = client.publish_event("no-such-pubsub", &topic, &Event::text("x"));
    println!(
        "publish.unknown_pubsub={}",
        unknown.err().map_or("ok".into(), |e| describe(&e))
    );
    Ok(())
}

fn bulk_publish(client: &Client) -> Result<(), Error> {
    let pubsub = env("PUBSUB_NAME", "pubsub");
    let topic = env("TOPIC", "orders");
    let entries = [
        BulkPublishEntry::json("1", &json!({"n": 1}))?,
        BulkPublishEntry::text("2", "two"),
        BulkPublishEntry::bytes("3", [0u8, 255]),
    ];
    client.bulk_publish(&pubsub, &topic, &entries)?;
    println!("bulk_publish=ok");
    let show = |r: Result<(), Error>| r.err().map_or("ok".into(), |e| describe(&e));
    let mut mismatch = BulkPublishEntry::text("4", "x");
    mismatch.event = json!(4);
    println!(
        "bulk_publish.mismatch={}",
        show(client.bulk_publish(&pubsub, &topic, &[mismatch]))
    );
    println!(
        "bulk_publish.unknown_pubsub={}",
        show(client.bulk_publish("no-such-pubsub", &topic, &entries))
    );
    let repeated = [
        BulkPublishEntry::text("5", "a"),
        BulkPublishEntry::text("5", "b"),
    ];
    println!(
        "bulk_publish.repeated={}",
        show(client.bulk_publish(&pubsub, &topic, &repeated))
    );
    Ok(())
}

fn policy(p: Option<&FailurePolicy>) -> String {
    match p {
        None => "(none)".into(),
        Some(FailurePolicy::Drop) => "drop".into(),
        Some(FailurePolicy::Constant {
            interval,
            max_retries,
        }) => format!(
            "constant:{}:{}",
            interval.as_deref().unwrap_or("-"),
            max_retries.map_or("-".into(), |n| n.to_string())
        ),
    }
}

fn jobs(client: &Client) -> Result<(), Error> {
    let show = |r: Result<(), Error>| r.err().map_or("ok".into(), |e| describe(&e));
    let job = JobRequest::new()
        .schedule("@every 1h")
        .repeats(2)
        .data_json(&json!({"task": "exercise"}))?
        .failure_policy(FailurePolicy::constant("2s", 4));
    client.schedule_job("exercise-job", &job)?;
    println!("jobs.schedule=ok");
    match client.get_job("exercise-job")? {
        None => println!("jobs.get=(none)"),
        Some(got) => {
            println!("jobs.get.name={}", got.name);
            println!(
                "jobs.get.schedule={}",
                got.schedule.as_deref().unwrap_or("(none)")
            );
            println!(
                "jobs.get.repeats={}",
                got.repeats.map_or("(none)".into(), |n| n.to_string())
            );
            println!("jobs.get.data={}", got.data);
            println!(
                "jobs.get.failure_policy={}",
                policy(got.failure_policy.as_ref())
            );
        }
    }
    println!(
        "jobs.duplicate={}",
        show(client.schedule_job("exercise-job", &job))
    );
    println!(
        "jobs.overwrite={}",
        show(client.schedule_job("exercise-job", &job.clone().overwrite(true)))
    );
    println!(
        "jobs.empty={}",
        show(client.schedule_job("exercise-empty", &JobRequest::new()))
    );
    let later = JobRequest::new().due_time("1h").data(json!("later"));
    client.schedule_job("exercise-default", &later)?;
    let default = client.get_job("exercise-default")?;
    println!(
        "jobs.default.failure_policy={}",
        policy(default.as_ref().and_then(|j| j.failure_policy.as_ref()))
    );
    println!(
        "jobs.default.data={}",
        default.map_or("(none)".into(), |j| j.data.to_string())
    );
    for name in ["exercise-job", "exercise-default"] {
        client.delete_job(name)?;
    }
    println!(
        "jobs.after_delete={}",
        client
            .get_job("exercise-job")?
            .map_or("(none)".into(), |j| j.name)
    );
    println!(
        "jobs.delete_missing={}",
        show(client.delete_job("exercise-job"))
    );
    Ok(())
}

fn conversation(client: &Client) -> Result<(), Error> {
    let name = env("CONVERSATION_NAME", "echo");
    let request = ConversationRequest::new()
        .context_id("ctx-1")
        .input([
            Message::system("be brief"),
            Message::user("hello wasm world"),
        ])
        .tool(
            Tool::function("get_weather")
                .description("the weather in a city")
                .parameters(json!({"type": "object", "properties": {"unit": {}, "city": {}}})),
        );
    let answer = client.converse(&name, &request)?;
    println!(
        "conversation.context_id={}",
        answer.context_id.as_deref().unwrap_or("(none)")
    );
    println!("conversation.outputs={}", answer.outputs.len());
    println!("conversation.text={:?}", answer.text().unwrap_or("(none)"));
    if let Some(output) = answer.outputs.first() {
        if let Some(choice) = output.choices.first() {
            println!("conversation.finish_reason={}", choice.finish_reason);
            let calls: Vec<String> = choice
                .message
                .tool_calls
                .iter()
                .map(|c| format!("{}:{}:{}", c.id, c.name, c.arguments))
                .collect();
            println!("conversation.tool_calls={}", calls.join(";"));
        }
        println!(
            "conversation.usage={}",
            output.usage.map_or("(none)".into(), |u| format!(
                "{}/{}/{}",
                u.completion_tokens, u.prompt_tokens, u.total_tokens
            ))
        );
    }
    let unknown = client.converse("no-such-llm", &request);
    println!(
        "conversation.unknown={}",
        unknown.err().map_or("ok".into(), |e| describe(&e))
    );
    let empty = client.converse(&name, &ConversationRequest::new());
    println!(
        "conversation.no_inputs={}",
        empty.err().map_or("ok".into(), |e| describe(&e))
    );
    Ok(())
}

fn invoke(client: &Client) -> Result<(), Error> {
    let app_id = env("INVOKE_APP_ID", "target");
    let method = env("INVOKE_METHOD", "echo");
    let request = InvokeRequest::post()
        .query("q", "a b")
        .header("x-exercise", "1")
        .text("ping");
    let response = client.invoke_method(&app_id, &method, &request)?;
    println!("invoke.status={}", response.status);
    println!("invoke.body={}", text(&response.body));
    let unknown = client.invoke_method("no-such-app", "x", &InvokeRequest::get());
    println!(
        "invoke.unknown_app={}",
        unknown.err().map_or("ok".into(), |e| describe(&e))
    );
    Ok(())
}

fn binding(client: &Client) -> Result<(), Error> {
    let name = env("BINDING_NAME", "binding");
    let create = BindingRequest::new("create")
        .data("hello binding")
        .metadata("fileName", "exercise.txt");
    let created = client.invoke_binding(&name, &create)?;
    println!("binding.create={}", text(&created.data));
    let get = BindingRequest::new("get").metadata("fileName", "exercise.txt");
    let got = client.invoke_binding(&name, &get)?;
    println!("binding.get={}", text(&got.data));
    let unknown = client.invoke_binding("no-such-binding", &get);
    println!(
        "binding.unknown={}",
        unknown.err().map_or("ok".into(), |e| describe(&e))
    );
    Ok(())
}

fn secret(client: &Client) -> Result<(), Error> {
    let store = env("SECRET_STORE", "secretstore");
    let secret = client.get_secret(&store, &env("SECRET_KEY", "secret"))?;
    println!(
        "secret.get={}",
        serde_json::to_string(&secret).unwrap_or_default()
    );
    let all = client.get_bulk_secret(&store)?;
    println!(
        "secret.bulk_names={}",
        all.keys().cloned().collect::<Vec<_>>().join(",")
    );
    let unknown = client.get_secret("no-such-secretstore", "k");
    println!(
        "secret.unknown_store={}",
        unknown.err().map_or("ok".into(), |e| describe(&e))
    );
    Ok(())
}

fn configuration(client: &Client) -> Result<(), Error> {
    let store = env("CONFIG_STORE", "configstore");
    let key = env("CONFIG_KEY", "config");
    let items = client.get_configuration(&store, &[key.as_str()])?;
    println!(
        "configuration.value={}",
        items.get(&key).map_or("(none)", |i| i.value.as_str())
    );
    Ok(())
}

fn lock(client: &Client) -> Result<(), Error> {
    let store = env("LOCK_STORE", "lockstore");
    let first = client.try_lock(&store, "exercise-resource", "owner-a", 30)?;
    let second = client.try_lock(&store, "exercise-resource", "owner-b", 30)?;
    let foreign = client.unlock(&store, "exercise-resource", "owner-b")?;
    let own = client.unlock(&store, "exercise-resource", "owner-a")?;
    let missing = client.unlock(&store, "exercise-resource", "owner-a")?;
    println!("lock.first={first}");
    println!("lock.second={second}");
    println!("lock.unlock_foreign={foreign:?}");
    println!("lock.unlock_own={own:?}");
    println!("lock.unlock_missing={missing:?}");
    Ok(())
}

fn raw_http() -> Result<(), Error> {
    let Ok(url) = std::env::var("HTTP_URL") else {
        println!("http=skipped (no HTTP_URL)");
        return Ok(());
    };
    let response = http::Request::get(url).header("x-exercise", "1").send()?;
    println!("http.status={}", response.status());
    println!(
        "http.content_type={}",
        response.header("content-type").unwrap_or("(none)")
    );
    println!("http.body={}", response.text()?);
    Ok(())
}

fn wait(client: &Client) -> Result<(), Error> {
    client.wait_for_sidecar(Duration::from_secs(2))?;
    println!("wait=ok");
    Ok(())
}
