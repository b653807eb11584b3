//! The conversation backends: `conversation.echo`, which answers with what it was sent (flattened text, tool calls, word-count usage), over the request daprd hands a component.

use serde_json::{Map, Value};

/// One part of a message, as daprd passes it to a component (langchaingo's parts).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Part {
    Text(String),
    /// An assistant's tool call.
    ToolCall(LlmToolCall),
    /// A tool message's answer.
    ToolResponse {
        tool_id: String,
        name: String,
        content: String,
    },
}

/// A tool call, in a request (from an assistant message) or an answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LlmToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// A tool the model may call.
#[derive(Debug, Clone)]
pub(crate) struct LlmTool {
    pub name: String,
    pub parameters: Option<Map<String, Value>>,
}

/// What daprd hands a conversation component, as far as echo reads it (the handler
/// checks `toolChoice`; `temperature` and `metadata` have no component to go to yet).
#[derive(Debug, Clone, Default)]
pub(crate) struct LlmRequest {
    /// Every message of every input, in order (roles do not matter to echo).
    pub messages: Vec<Vec<Part>>,
    pub tools: Vec<LlmTool>,
}

/// Token counts of one output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    pub completion: u64,
    pub prompt: u64,
    pub total: u64,
}

/// One choice of an output.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LlmChoice {
    pub finish_reason: String,
    pub index: i64,
    pub content: String,
    pub tool_calls: Vec<LlmToolCall>,
}

/// One output of a component.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LlmOutput {
    pub choices: Vec<LlmChoice>,
    pub usage: Option<Usage>,
}

/// A component's answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LlmResponse {
    pub model: String,
    pub outputs: Vec<LlmOutput>,
}

/// A conversation component.
#[derive(Debug)]
pub(crate) enum ConversationComponent {
    /// `conversation.echo`.
    Echo,
}

impl ConversationComponent {
    /// Answers a request. The echo component never fails.
    pub fn converse(&self, req: &LlmRequest) -> Result<LlmResponse, String> {
        match self {
            ConversationComponent::Echo => Ok(echo(req)),
        }
    }
}

/// The sorted property names of a JSON schema, comma separated.
fn property_names(parameters: Option<&Map<String, Value>>) -> String {
    let Some(Value::Object(props)) = parameters.and_then(|p| p.get("properties")) else {
        return String::new();
    };
    let mut names: Vec<&str> = props.keys().map(String::as_str).collect();
    names.sort_unstable();
    names.join(",")
}

fn echo(req: &LlmRequest) -> LlmResponse {
    let mut texts: Vec<String> = Vec::new();
    let mut assistant_calls = Vec::new();
    for part in req.messages.iter().flatten() {
        match part {
            Part::Text(t) => texts.push(t.clone()),
            Part::ToolResponse {
                tool_id,
                name,
                content,
            } => texts.push(format!(
                "Tool Response for tool ID '{tool_id}' with name '{name}': {content}"
            )),
            Part::ToolCall(call) => assistant_calls.push(call.clone()),
        }
    }
    let content = texts.join("\n");
    let mut tool_calls: Vec<LlmToolCall> = req
        .tools
        .iter()
        .enumerate()
        .map(|(i, tool)| LlmToolCall {
            id: i.to_string(),
            name: tool.name.clone(),
            arguments: property_names(tool.parameters.as_ref()),
        })
        .collect();
    tool_calls.extend(assistant_calls);
    let words = content.split_whitespace().count() as u64;
    let finish_reason = if tool_calls.is_empty() {
        "stop"
    } else {
        "tool_calls"
    };
    LlmResponse {
        model: String::new(),
        outputs: vec![LlmOutput {
            choices: vec![LlmChoice {
                finish_reason: finish_reason.into(),
                index: 0,
                content,
                tool_calls,
            }],
            usage: Some(Usage {
                completion: words,
                prompt: words,
                total: 2 * words,
            }),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn echo_flattens_and_lists_tool_calls() {
        let params = json!({"type": "object", "properties": {"b": {}, "a": {}}});
        let req = LlmRequest {
            messages: vec![
                vec![Part::Text("be brief".into())],
                vec![
                    Part::Text("hi there".into()),
                    Part::ToolCall(LlmToolCall {
                        id: "x".into(),
                        name: "g".into(),
                        arguments: "1".into(),
                    }),
                ],
                vec![Part::ToolResponse {
                    tool_id: "0".into(),
                    name: "f".into(),
                    content: "42".into(),
                }],
            ],
            tools: vec![LlmTool {
                name: "f".into(),
                parameters: params.as_object().cloned(),
            }],
        };
        let res = ConversationComponent::Echo.converse(&req).expect("echo");
        let choice = &res.outputs[0].choices[0];
        assert_eq!(
            choice.content,
            "be brief\nhi there\nTool Response for tool ID '0' with name 'f': 42"
        );
        assert_eq!(choice.finish_reason, "tool_calls");
        assert_eq!(choice.tool_calls[0].arguments, "a,b");
        assert_eq!(choice.tool_calls[0].id, "0");
        assert_eq!(choice.tool_calls[1].id, "x");
        let words = 14;
        assert_eq!(
            res.outputs[0].usage,
            Some(Usage {
                completion: words,
                prompt: words,
                total: 2 * words
            })
        );
    }

    #[test]
    fn echo_without_text_or_tools_stops_with_zero_usage() {
        let res = ConversationComponent::Echo
            .converse(&LlmRequest::default())
            .expect("echo");
        let choice = &res.outputs[0].choices[0];
        assert_eq!(
            (choice.content.as_str(), choice.finish_reason.as_str()),
            ("", "stop")
        );
        assert_eq!(res.outputs[0].usage, Some(Usage::default()));
        assert_eq!(property_names(None), "");
        let not_schema = json!({"properties": [1]});
        assert_eq!(property_names(not_schema.as_object()), "");
    }
}
