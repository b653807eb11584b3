//! Conversation (alpha2): `POST /v1.0-alpha2/conversation/{name}/converse`, daprd's checks and error table, PII scrubbing, and the protojson answer over the backends of `component.rs`.

pub(crate) mod component;
pub(crate) mod pii;
pub(crate) mod request;

use http::StatusCode;
use serde_json::{Map, Value, json};

use crate::api::{ApiError, ApiRequest, Resp, json_response};
use crate::ctx::Ctx;
use component::{LlmRequest, LlmResponse, LlmTool, LlmToolCall, Part};
use request::{ConverseRequest, Message};

/// `400 ERR_CONVERSATION_INVALID_PARMS`. daprd formats its message with one argument
/// too many, so Go appends `%!(EXTRA <type>=<value>)`.
fn invalid_params(name: &str, extra: Option<(&str, &str)>) -> ApiError {
    let mut message = format!("failed conversing with component {name}: invalid params");
    if let Some((ty, value)) = extra {
        message.push_str(&format!("%!(EXTRA {ty}={value})"));
    }
    ApiError::bad_request("ERR_CONVERSATION_INVALID_PARMS", message)
}

const CHOICE_REQUIRED: &str = "tool choice must be 'auto', 'none', 'required', or a specific tool name matching the tools available to be used";
const CHOICE_NOT_FOUND: &str = "tool choice selected was not found. Must be 'auto', 'none', 'required', or a specific tool name matching the tools available to be used";

/// Turns the request's inputs into the component's messages (scrubbing each text of an
/// input with `scrubPii`) and checks the tool choice, as daprd does before calling the
/// component.
fn to_llm_request(name: &str, req: ConverseRequest) -> Result<LlmRequest, ApiError> {
    let mut messages = Vec::new();
    for input in req.inputs {
        let clean = |t: String| {
            if input.scrub_pii { pii::scrub(&t) } else { t }
        };
        for message in input.messages {
            let parts = match message {
                Message::Unset => {
                    return Err(invalid_params(
                        name,
                        Some(("*errors.errorString", "message type cannot be nil")),
                    ));
                }
                Message::Developer(c) | Message::System(c) | Message::User(c) => {
                    c.into_iter().map(|t| Part::Text(clean(t))).collect()
                }
                Message::Assistant {
                    content,
                    tool_calls,
                } => {
                    let mut parts: Vec<Part> =
                        content.into_iter().map(|t| Part::Text(clean(t))).collect();
                    for call in tool_calls {
                        let Some((fname, arguments)) = call.function else {
                            return Err(invalid_params(
                                name,
                                Some(("*errors.errorString", "tool types cannot be nil")),
                            ));
                        };
                        parts.push(Part::ToolCall(LlmToolCall {
                            id: call.id,
                            name: fname,
                            arguments,
                        }));
                    }
                    parts
                }
                Message::Tool {
                    tool_id,
                    name: tool_name,
                    content,
                } => content
                    .into_iter()
                    .map(|t| Part::ToolResponse {
                        tool_id: tool_id.clone(),
                        name: tool_name.clone(),
                        content: clean(t),
                    })
                    .collect(),
            };
            messages.push(parts);
        }
    }
    let tools: Vec<LlmTool> = req
        .tools
        .iter()
        .filter_map(|t| t.function.as_ref())
        .map(|f| LlmTool {
            name: f.name.clone(),
            parameters: f.parameters.clone(),
        })
        .collect();
    let mut choice = req.tool_choice.unwrap_or_default();
    if choice.is_empty() && !req.tools.is_empty() {
        choice = "auto".into();
    }
    match choice.as_str() {
        "" | "auto" | "none" => {}
        "required" => {
            if req.tools.is_empty() {
                return Err(invalid_params(name, Some(("string", CHOICE_REQUIRED))));
            }
        }
        // A tool name is checked only when tools are given (as daprd does).
        named => {
            if !req.tools.is_empty() && !tools.iter().any(|t| t.name == named) {
                return Err(invalid_params(name, Some(("string", CHOICE_NOT_FOUND))));
            }
        }
    }
    Ok(LlmRequest { messages, tools })
}

/// A tool call as protojson writes `ConversationToolCalls` (`id` only when not empty).
fn tool_call_json(call: &LlmToolCall) -> Value {
    let mut function = Map::new();
    if !call.name.is_empty() {
        function.insert("name".into(), json!(call.name));
    }
    if !call.arguments.is_empty() {
        function.insert("arguments".into(), json!(call.arguments));
    }
    let mut o = json!({ "function": function });
    if !call.id.is_empty() {
        o["id"] = json!(call.id);
    }
    o
}

/// `ConversationResponseAlpha2` in protojson: zero values omitted, 64-bit integers as
/// strings; output content scrubbed when the request's `scrubPii` is set.
fn response_json(context_id: Option<&str>, scrub: bool, res: &LlmResponse) -> Value {
    let mut body = Map::new();
    if let Some(id) = context_id.filter(|id| !id.is_empty()) {
        body.insert("contextId".into(), json!(id));
    }
    let outputs: Vec<Value> = res
        .outputs
        .iter()
        .map(|o| {
            let choices: Vec<Value> = o
                .choices
                .iter()
                .map(|c| {
                    let mut message = Map::new();
                    if !c.content.is_empty() {
                        let content = if scrub {
                            pii::scrub(&c.content)
                        } else {
                            c.content.clone()
                        };
                        message.insert("content".into(), json!(content));
                    }
                    if !c.tool_calls.is_empty() {
                        let calls = c.tool_calls.iter().map(tool_call_json).collect();
                        message.insert("toolCalls".into(), Value::Array(calls));
                    }
                    let mut choice = Map::new();
                    if !c.finish_reason.is_empty() {
                        choice.insert("finishReason".into(), json!(c.finish_reason));
                    }
                    if c.index != 0 {
                        choice.insert("index".into(), json!(c.index.to_string()));
                    }
                    choice.insert("message".into(), Value::Object(message));
                    Value::Object(choice)
                })
                .collect();
            let mut out = Map::new();
            if !choices.is_empty() {
                out.insert("choices".into(), Value::Array(choices));
            }
            if !res.model.is_empty() {
                out.insert("model".into(), json!(res.model));
            }
            if let Some(u) = o.usage {
                let mut usage = Map::new();
                for (k, v) in [
                    ("completionTokens", u.completion),
                    ("promptTokens", u.prompt),
                    ("totalTokens", u.total),
                ] {
                    if v != 0 {
                        usage.insert(k.into(), json!(v.to_string()));
                    }
                }
                out.insert("usage".into(), Value::Object(usage));
            }
            Value::Object(out)
        })
        .collect();
    if !outputs.is_empty() {
        body.insert("outputs".into(), Value::Array(outputs));
    }
    Value::Object(body)
}

/// `POST /v1.0-alpha2/conversation/{name}/converse`.
pub(crate) async fn converse(ctx: &Ctx, req: &ApiRequest, name: &str) -> Result<Resp, ApiError> {
    let body = request::decode(&req.body).map_err(ApiError::malformed)?;
    let component = ctx.conversations.get(name).ok_or_else(|| {
        ApiError::bad_request(
            "ERR_CONVERSATION_NOT_FOUND",
            format!("failed finding conversation component {name}"),
        )
    })?;
    if body.inputs.is_empty() {
        return Err(ApiError::bad_request(
            "ERR_CONVERSATION_MISSING_INPUTS",
            format!("failed conversing with component {name}: missing inputs in request"),
        ));
    }
    let (context_id, scrub) = (body.context_id.clone(), body.scrub_pii);
    let llm = to_llm_request(name, body)?;
    let res = component.converse(&llm).map_err(|e| {
        ApiError::internal(
            "ERR_CONVERSATION_INVOKE",
            format!("failed conversing with component {name}: {e}"),
        )
    })?;
    Ok(json_response(
        StatusCode::OK,
        &response_json(context_id.as_deref(), scrub, &res),
    ))
}
