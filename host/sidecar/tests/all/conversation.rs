//! Conversation (alpha2) against the wire reference: the `conversation.echo` component's answers, protojson keys, and daprd's error table.

use std::net::SocketAddr;

use bytes::Bytes;
use http::Method;
use serde_json::{Value, json};

use wasi_dapr_test_support::client::{post_json, send};
use wasi_dapr_test_support::resources;
use wasi_dapr_test_support::sidecar::sidecar;

const ECHO: &str =
    "kind: Component\nmetadata: {name: echo}\nspec: {type: conversation.echo, version: v1}\n";
const PATH: &str = "/v1.0-alpha2/conversation/echo/converse";

async fn converse(addr: SocketAddr, body: &Value) -> Value {
    let a = post_json(addr, PATH, &body.to_string()).await;
    assert_eq!(a.status.as_u16(), 200, "{}", a.text());
    assert_eq!(a.header("content-type"), Some("application/json"));
    a.json()
}

fn user(text: &str) -> Value {
    json!({"ofUser": {"content": [{"text": text}]}})
}

#[tokio::test]
async fn echo_answers_with_flattened_text_tool_calls_and_usage() {
    let dir = resources(&[("echo.yaml", ECHO)]);
    let sc = sidecar(|o| o.resources_path = Some(dir.path().to_path_buf())).await;
    let addr = sc.local_addr();

    // Plain text: one output, one choice, usage as JSON strings; no contextId sent, none echoed.
    let plain = json!({"inputs": [{"messages": [user("hello  wide world")]}]});
    assert_eq!(
        converse(addr, &plain).await,
        json!({"outputs": [{"choices": [{"finishReason": "stop", "message": {"content": "hello  wide world"}}],
                            "usage": {"completionTokens": "3", "promptTokens": "3", "totalTokens": "6"}}]})
    );

    // Every message of every input is flattened; tool messages are described; request
    // tools become tool calls (sorted property names), then the assistant's tool calls.
    let full = json!({
        "contextId": "c1", "temperature": 0.2, "metadata": {"k": "v"},
        "inputs": [
            {"messages": [
                {"ofSystem": {"content": [{"text": "be brief"}]}},
                {"ofDeveloper": {"content": [{"text": "dev"}]}},
                {"ofUser": {"name": "u", "content": [{"text": "hello"}, {"text": "again"}]}}]},
            {"messages": [
                {"ofAssistant": {"content": [{"text": "calling"}],
                                 "toolCalls": [{"id": "7", "function": {"name": "g", "arguments": "{}"}},
                                               {"function": {"name": "h"}}]}},
                {"ofTool": {"toolId": "0", "name": "f", "content": [{"text": "42"}]}}]}],
        "tools": [
            {"function": {"name": "f", "description": "d",
                          "parameters": {"type": "object", "properties": {"b": {}, "a": {}}}}},
            {"function": {"name": "plain"}}],
        "toolChoice": "f"
    });
    let content =
        "be brief\ndev\nhello\nagain\ncalling\nTool Response for tool ID '0' with name 'f': 42";
    assert_eq!(
        converse(addr, &full).await,
        json!({"contextId": "c1", "outputs": [{
            "choices": [{"finishReason": "tool_calls", "message": {
                "content": content,
                "toolCalls": [
                    {"id": "0", "function": {"name": "f", "arguments": "a,b"}},
                    {"id": "1", "function": {"name": "plain"}},
                    {"id": "7", "function": {"name": "g", "arguments": "{}"}},
                    {"function": {"name": "h"}}]}}],
            "usage": {"completionTokens": "16", "promptTokens": "16", "totalTokens": "32"}}]})
    );

    // No text at all: content omitted, usage {}; an input without messages is fine.
    for empty in [
        json!({"inputs": [{}]}),
        json!({"inputs": [{"messages": [{"ofUser": {}}]}]}),
        json!({"inputs": [{"messages": [{"ofUser": {"content": [{"text": ""}]}}]}], "contextId": ""}),
    ] {
        assert_eq!(
            converse(addr, &empty).await,
            json!({"outputs": [{"choices": [{"finishReason": "stop", "message": {}}], "usage": {}}]}),
            "{empty}"
        );
    }
    sc.shutdown().await;
}

#[tokio::test]
async fn protojson_keys_camel_or_snake_and_mis_cased_keys_dropped() {
    let dir = resources(&[("echo.yaml", ECHO)]);
    let sc = sidecar(|o| o.resources_path = Some(dir.path().to_path_buf())).await;
    let addr = sc.local_addr();
    let snake = json!({
        "context_id": "s", "tool_choice": "auto",
        "inputs": [{"scrub_pii": false, "messages": [
            {"of_assistant": {"content": [{"text": "a"}], "tool_calls": [{"id": "1", "function": {"name": "g"}}]}},
            {"of_tool": {"tool_id": "9", "name": "t", "content": [{"text": "r"}]}}]}],
        "tools": [{"function": {"name": "f"}}]
    });
    let camel = json!({
        "contextId": "s", "toolChoice": "auto",
        "inputs": [{"scrubPii": false, "messages": [
            {"ofAssistant": {"content": [{"text": "a"}], "toolCalls": [{"id": "1", "function": {"name": "g"}}]}},
            {"ofTool": {"toolId": "9", "name": "t", "content": [{"text": "r"}]}}]}],
        "tools": [{"function": {"name": "f"}}]
    });
    let want = json!({"contextId": "s", "outputs": [{
        "choices": [{"finishReason": "tool_calls", "message": {
            "content": "a\nTool Response for tool ID '9' with name 't': r",
            "toolCalls": [{"id": "0", "function": {"name": "f"}}, {"id": "1", "function": {"name": "g"}}]}}],
        "usage": {"completionTokens": "11", "promptTokens": "11", "totalTokens": "22"}}]});
    assert_eq!(converse(addr, &snake).await, want);
    assert_eq!(converse(addr, &camel).await, want);

    // Mis-cased keys are dropped silently: `ContextId` is no contextId, `Tools` no tools,
    // `OfUser` leaves the message empty (invalid params), `Inputs` leaves no inputs.
    let dropped = json!({"ContextId": "x", "Tools": [{"function": {"name": "f"}}], "scrubPII": true,
                         "inputs": [{"messages": [user("mail a@b.example")]}]});
    assert_eq!(
        converse(addr, &dropped).await,
        json!({"outputs": [{"choices": [{"finishReason": "stop", "message": {"content": "mail a@b.example"}}],
                            "usage": {"completionTokens": "2", "promptTokens": "2", "totalTokens": "4"}}]})
    );
    let msg = post_json(
        addr,
        PATH,
        r#"{"inputs":[{"messages":[{"OfUser":{"content":[{"text":"x"}]}}]}]}"#,
    )
    .await
    .assert_error(400, "ERR_CONVERSATION_INVALID_PARMS");
    assert!(
        msg.ends_with("%!(EXTRA *errors.errorString=message type cannot be nil)"),
        "{msg}"
    );
    post_json(addr, PATH, r#"{"Inputs":[{"messages":[]}]}"#)
        .await
        .assert_error(400, "ERR_CONVERSATION_MISSING_INPUTS");
    sc.shutdown().await;
}

#[tokio::test]
async fn pii_is_scrubbed_per_input_and_in_the_output() {
    let dir = resources(&[("echo.yaml", ECHO)]);
    let sc = sidecar(|o| o.resources_path = Some(dir.path().to_path_buf())).await;
    let addr = sc.local_addr();
    let text = "write to jane@example.com from 10.0.0.1";
    let content = |v: Value| v["outputs"][0]["choices"][0]["message"]["content"].clone();
    let body = |input: bool, output: bool| json!({"scrubPii": output, "inputs": [{"scrubPii": input, "messages": [user(text)]}]});
    assert_eq!(content(converse(addr, &body(false, false)).await), text);
    let scrubbed = "write to <EMAIL_ADDRESS> from <IP>";
    assert_eq!(content(converse(addr, &body(true, false)).await), scrubbed);
    assert_eq!(content(converse(addr, &body(false, true)).await), scrubbed);
    // Usage counts the words the component saw (scrubbed input), before output scrubbing.
    let v = converse(addr, &body(false, true)).await;
    assert_eq!(v["outputs"][0]["usage"]["totalTokens"], "10");
    sc.shutdown().await;
}

#[tokio::test]
async fn error_table() {
    let dir = resources(&[("echo.yaml", ECHO)]);
    let sc = sidecar(|o| o.resources_path = Some(dir.path().to_path_buf())).await;
    let addr = sc.local_addr();
    let post = |path: &'static str, body: String| async move { post_json(addr, path, &body).await };

    // Bad JSON and wrong types: 400 ERR_MALFORMED_REQUEST (before the component lookup).
    for bad in [
        "{",
        "[]",
        r#"{"contextId":1}"#,
        r#"{"scrubPii":"yes"}"#,
        r#"{"inputs":{}}"#,
        r#"{"inputs":[{"messages":[{"ofUser":{"content":[{"text":5}]}}]}]}"#,
        r#"{"inputs":[{"messages":[{"ofUser":{},"ofSystem":{}}]}]}"#,
        r#"{"metadata":{"k":true}}"#,
    ] {
        let msg = post(PATH, bad.to_string())
            .await
            .assert_error(400, "ERR_MALFORMED_REQUEST");
        assert!(
            msg.starts_with("failed deserializing HTTP body: "),
            "{bad}: {msg}"
        );
        post("/v1.0-alpha2/conversation/nope/converse", bad.to_string())
            .await
            .assert_error(400, "ERR_MALFORMED_REQUEST");
    }

    // Unknown component.
    let one = json!({"inputs": [{"messages": [user("x")]}]}).to_string();
    let msg = post("/v1.0-alpha2/conversation/nope/converse", one.clone())
        .await
        .assert_error(400, "ERR_CONVERSATION_NOT_FOUND");
    assert_eq!(msg, "failed finding conversation component nope");

    // No inputs (also an empty body).
    for none in ["", "{}", r#"{"inputs":[]}"#, r#"{"inputs":null}"#] {
        let msg = post(PATH, none.to_string())
            .await
            .assert_error(400, "ERR_CONVERSATION_MISSING_INPUTS");
        assert_eq!(
            msg,
            "failed conversing with component echo: missing inputs in request"
        );
    }

    // Invalid params, with Go's %!(EXTRA …) suffix for the reason daprd passes.
    let base = "failed conversing with component echo: invalid params";
    let cases = [
        (
            json!({"inputs": [{"messages": [user("x"), {}]}]}),
            "%!(EXTRA *errors.errorString=message type cannot be nil)",
        ),
        (
            json!({"inputs": [{"messages": [{"ofAssistant": {"toolCalls": [{"id": "1"}]}}]}]}),
            "%!(EXTRA *errors.errorString=tool types cannot be nil)",
        ),
        (
            json!({"toolChoice": "required", "inputs": [{"messages": [user("x")]}]}),
            "%!(EXTRA string=tool choice must be 'auto', 'none', 'required', or a specific tool name matching the tools available to be used)",
        ),
        (
            json!({"toolChoice": "g", "tools": [{"function": {"name": "f"}}], "inputs": [{"messages": [user("x")]}]}),
            "%!(EXTRA string=tool choice selected was not found. Must be 'auto', 'none', 'required', or a specific tool name matching the tools available to be used)",
        ),
    ];
    for (body, suffix) in cases {
        let msg = post(PATH, body.to_string())
            .await
            .assert_error(400, "ERR_CONVERSATION_INVALID_PARMS");
        assert_eq!(msg, format!("{base}{suffix}"), "{body}");
    }
    // Valid tool choices: none, required with tools, a tool's name; a name without tools
    // is not checked (as daprd).
    for ok in [
        json!({"toolChoice": "none", "inputs": [{"messages": [user("x")]}]}),
        json!({"toolChoice": "required", "tools": [{"function": {"name": "f"}}], "inputs": [{"messages": [user("x")]}]}),
        json!({"toolChoice": "f", "tools": [{"function": {"name": "f"}}], "inputs": [{"messages": [user("x")]}]}),
        json!({"toolChoice": "anything", "inputs": [{"messages": [user("x")]}]}),
    ] {
        converse(addr, &ok).await;
    }

    // Only POST on the alpha2 path; other verbs and paths fall through to invocation.
    send(addr, Method::GET, PATH, &[], Bytes::new())
        .await
        .assert_error(404, "ERR_DIRECT_INVOKE");
    post("/v1.0/conversation/echo/converse", one.clone())
        .await
        .assert_error(404, "ERR_DIRECT_INVOKE");
    post("/v1.0-alpha2/state/statestore", "[]".into())
        .await
        .assert_error(404, "ERR_DIRECT_INVOKE");
    sc.shutdown().await;
}

#[tokio::test]
async fn echo_is_listed_in_metadata_and_missing_without_components() {
    let dir = resources(&[("echo.yaml", ECHO)]);
    let sc = sidecar(|o| o.resources_path = Some(dir.path().to_path_buf())).await;
    let m = wasi_dapr_test_support::client::get(sc.local_addr(), "/v1.0/metadata")
        .await
        .json();
    assert_eq!(
        m["components"],
        json!([{"name": "echo", "type": "conversation.echo", "version": "v1"}])
    );
    sc.shutdown().await;
    // The default components have no conversation component.
    let sc = sidecar(|_| {}).await;
    let one = json!({"inputs": [{"messages": [user("x")]}]}).to_string();
    post_json(sc.local_addr(), PATH, &one)
        .await
        .assert_error(400, "ERR_CONVERSATION_NOT_FOUND");
    sc.shutdown().await;
}
