//! protojson decoding of `ConversationRequestAlpha2`: lowerCamel or proto (snake_case) keys, case-sensitive, unknown keys dropped, wrong types refused.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// A decoded `ConversationRequestAlpha2`: the fields the sidecar uses (the others are
/// only checked: `temperature`, `metadata`, `parameters`, `responseFormat`, ...).
#[derive(Debug, Default, Clone)]
pub(crate) struct ConverseRequest {
    pub context_id: Option<String>,
    pub scrub_pii: bool,
    pub inputs: Vec<Input>,
    pub tools: Vec<Tool>,
    pub tool_choice: Option<String>,
}

/// `ConversationInputAlpha2`.
#[derive(Debug, Default, Clone)]
pub(crate) struct Input {
    pub messages: Vec<Message>,
    pub scrub_pii: bool,
}

/// `ConversationMessage`: which of the `message_types` oneof is set.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Message {
    /// `{}`: no message type (daprd answers invalid params).
    Unset,
    Developer(Vec<String>),
    System(Vec<String>),
    User(Vec<String>),
    Assistant {
        content: Vec<String>,
        tool_calls: Vec<ToolCall>,
    },
    Tool {
        tool_id: String,
        name: String,
        content: Vec<String>,
    },
}

/// `ConversationToolCalls`: `function` is `None` when the oneof is not set.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ToolCall {
    pub id: String,
    pub function: Option<(String, String)>,
}

/// `ConversationTools`: `function` is `None` when the oneof is not set.
#[derive(Debug, Clone)]
pub(crate) struct Tool {
    pub function: Option<ToolFunction>,
}

/// `ConversationToolsFunction`.
#[derive(Debug, Clone)]
pub(crate) struct ToolFunction {
    pub name: String,
    pub parameters: Option<Map<String, Value>>,
}

/// One protojson object: fields found by json name or proto name, never both.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    what: &'static str,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn bad(what: &str, field: &str, expected: &str, got: &Value) -> String {
    format!(
        "proto: invalid value for {expected} field {what}.{field}: {} {got}",
        type_name(got)
    )
}

impl<'a> Obj<'a> {
    fn new(v: &'a Value, what: &'static str, field: &str) -> Result<Obj<'a>, String> {
        match v {
            Value::Object(map) => Ok(Obj { map, what }),
            other => Err(bad(what, field, "message", other)),
        }
    }

    /// The value under the json name or the proto name; `null` counts as unset.
    fn get(&self, json: &str, proto: &str) -> Result<Option<(&'a Value, &'static str)>, String> {
        let a = self.map.get(json).filter(|v| !v.is_null());
        let b = if json == proto {
            None
        } else {
            self.map.get(proto).filter(|v| !v.is_null())
        };
        match (a, b) {
            (Some(_), Some(_)) => Err(format!("proto: duplicate field {proto} in {}", self.what)),
            (Some(v), None) | (None, Some(v)) => Ok(Some((v, self.what))),
            (None, None) => Ok(None),
        }
    }

    fn string(&self, json: &str, proto: &str) -> Result<Option<String>, String> {
        match self.get(json, proto)? {
            None => Ok(None),
            Some((Value::String(s), _)) => Ok(Some(s.clone())),
            Some((v, what)) => Err(bad(what, json, "string", v)),
        }
    }

    fn bool(&self, json: &str, proto: &str) -> Result<bool, String> {
        match self.get(json, proto)? {
            None => Ok(false),
            Some((Value::Bool(b), _)) => Ok(*b),
            Some((v, what)) => Err(bad(what, json, "bool", v)),
        }
    }

    /// A `double`: a number, or a string holding one (`"0.5"`, `"NaN"`, `"Infinity"`).
    fn double(&self, json: &str, proto: &str) -> Result<Option<f64>, String> {
        match self.get(json, proto)? {
            None => Ok(None),
            Some((Value::Number(n), _)) => Ok(n.as_f64()),
            Some((Value::String(s), what)) => match s.as_str() {
                "NaN" => Ok(Some(f64::NAN)),
                "Infinity" => Ok(Some(f64::INFINITY)),
                "-Infinity" => Ok(Some(f64::NEG_INFINITY)),
                t if !t.is_empty() && t.trim() == t => t
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(Some)
                    .ok_or_else(|| bad(what, json, "double", &Value::String(s.clone()))),
                _ => Err(bad(what, json, "double", &Value::String(s.clone()))),
            },
            Some((v, what)) => Err(bad(what, json, "double", v)),
        }
    }

    fn list(&self, json: &str, proto: &str) -> Result<&'a [Value], String> {
        match self.get(json, proto)? {
            None => Ok(&[]),
            Some((Value::Array(items), _)) => Ok(items),
            Some((v, what)) => Err(bad(what, json, "repeated", v)),
        }
    }

    /// A `google.protobuf.Struct`: any JSON object.
    fn structure(&self, json: &str, proto: &str) -> Result<Option<&'a Map<String, Value>>, String> {
        match self.get(json, proto)? {
            None => Ok(None),
            Some((Value::Object(m), _)) => Ok(Some(m)),
            Some((v, what)) => Err(bad(what, json, "google.protobuf.Struct", v)),
        }
    }

    fn string_map(&self, json: &str, proto: &str) -> Result<BTreeMap<String, String>, String> {
        match self.get(json, proto)? {
            None => Ok(BTreeMap::new()),
            Some((Value::Object(m), what)) => m
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    other => Err(bad(what, json, "map<string, string>", other)),
                })
                .collect(),
            Some((v, what)) => Err(bad(what, json, "map", v)),
        }
    }

    /// A `map<string, google.protobuf.Any>`: each value an object with a string `@type`.
    fn any_map(&self, json: &str, proto: &str) -> Result<(), String> {
        let Some((v, what)) = self.get(json, proto)? else {
            return Ok(());
        };
        let Value::Object(m) = v else {
            return Err(bad(what, json, "map", v));
        };
        for any in m.values() {
            match any.get("@type") {
                Some(Value::String(_)) => {}
                _ => return Err(bad(what, json, "google.protobuf.Any", any)),
            }
        }
        Ok(())
    }

    /// A `google.protobuf.Duration`: a string like `"300s"`, `"1.5s"`, `"-2s"`.
    fn duration(&self, json: &str, proto: &str) -> Result<(), String> {
        let Some((v, what)) = self.get(json, proto)? else {
            return Ok(());
        };
        let ok = v
            .as_str()
            .and_then(|s| s.strip_suffix('s'))
            .is_some_and(|n| {
                let n = n.strip_prefix('-').unwrap_or(n);
                let (secs, frac) = n.split_once('.').unwrap_or((n, ""));
                !secs.is_empty()
                    && secs.len() <= 12
                    && secs.bytes().all(|b| b.is_ascii_digit())
                    && frac.len() <= 9
                    && frac.bytes().all(|b| b.is_ascii_digit())
                    && !(n.contains('.') && frac.is_empty())
            });
        if ok {
            Ok(())
        } else {
            Err(bad(what, json, "google.protobuf.Duration", v))
        }
    }
}

fn texts(o: &Obj<'_>) -> Result<Vec<String>, String> {
    o.list("content", "content")?
        .iter()
        .map(|c| {
            let c = Obj::new(c, "ConversationMessageContent", "content")?;
            Ok(c.string("text", "text")?.unwrap_or_default())
        })
        .collect()
}

fn tool_call(v: &Value) -> Result<ToolCall, String> {
    let o = Obj::new(v, "ConversationToolCalls", "toolCalls")?;
    let function = match o.get("function", "function")? {
        None => None,
        Some((f, _)) => {
            let f = Obj::new(f, "ConversationToolCallsOfFunction", "function")?;
            Some((
                f.string("name", "name")?.unwrap_or_default(),
                f.string("arguments", "arguments")?.unwrap_or_default(),
            ))
        }
    };
    Ok(ToolCall {
        id: o.string("id", "id")?.unwrap_or_default(),
        function,
    })
}

fn message(v: &Value) -> Result<Message, String> {
    let o = Obj::new(v, "ConversationMessage", "messages")?;
    const KINDS: [(&str, &str); 5] = [
        ("ofDeveloper", "of_developer"),
        ("ofSystem", "of_system"),
        ("ofUser", "of_user"),
        ("ofAssistant", "of_assistant"),
        ("ofTool", "of_tool"),
    ];
    let mut found = Message::Unset;
    for (json, proto) in KINDS {
        let Some((inner, _)) = o.get(json, proto)? else {
            continue;
        };
        if found != Message::Unset {
            return Err(format!(
                "proto: error parsing {json:?}, oneof dapr.proto.runtime.v1.ConversationMessage.message_types is already set"
            ));
        }
        let m = Obj::new(inner, "ConversationMessage", json)?;
        let _ = m.string("name", "name")?;
        found = match json {
            "ofDeveloper" => Message::Developer(texts(&m)?),
            "ofSystem" => Message::System(texts(&m)?),
            "ofUser" => Message::User(texts(&m)?),
            "ofAssistant" => Message::Assistant {
                content: texts(&m)?,
                tool_calls: m
                    .list("toolCalls", "tool_calls")?
                    .iter()
                    .map(tool_call)
                    .collect::<Result<_, _>>()?,
            },
            _ => Message::Tool {
                tool_id: m.string("toolId", "tool_id")?.unwrap_or_default(),
                name: m.string("name", "name")?.unwrap_or_default(),
                content: texts(&m)?,
            },
        };
    }
    Ok(found)
}

fn tool(v: &Value) -> Result<Tool, String> {
    let o = Obj::new(v, "ConversationTools", "tools")?;
    let function = match o.get("function", "function")? {
        None => None,
        Some((f, _)) => {
            let f = Obj::new(f, "ConversationToolsFunction", "function")?;
            let _ = f.string("description", "description")?;
            Some(ToolFunction {
                name: f.string("name", "name")?.unwrap_or_default(),
                parameters: f.structure("parameters", "parameters")?.cloned(),
            })
        }
    };
    Ok(Tool { function })
}

/// Decodes a request body; an empty body is an empty request.
pub(crate) fn decode(body: &[u8]) -> Result<ConverseRequest, String> {
    if body.is_empty() {
        return Ok(ConverseRequest::default());
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("proto: syntax error: {e}"))?;
    let o = Obj::new(&v, "ConversationRequestAlpha2", "body")?;
    // Checked for their types only; the echo component does not use them.
    let _ = o.string("name", "name")?;
    let _ = o.double("temperature", "temperature")?;
    let _ = o.string_map("metadata", "metadata")?;
    o.any_map("parameters", "parameters")?;
    let _ = o.structure("responseFormat", "response_format")?;
    o.duration("promptCacheRetention", "prompt_cache_retention")?;
    let inputs = o
        .list("inputs", "inputs")?
        .iter()
        .map(|i| {
            let i = Obj::new(i, "ConversationInputAlpha2", "inputs")?;
            Ok(Input {
                messages: i
                    .list("messages", "messages")?
                    .iter()
                    .map(message)
                    .collect::<Result<_, String>>()?,
                scrub_pii: i.bool("scrubPii", "scrub_pii")?,
            })
        })
        .collect::<Result<_, String>>()?;
    Ok(ConverseRequest {
        context_id: o.string("contextId", "context_id")?,
        scrub_pii: o.bool("scrubPii", "scrub_pii")?,
        inputs,
        tools: o
            .list("tools", "tools")?
            .iter()
            .map(tool)
            .collect::<Result<_, _>>()?,
        tool_choice: o.string("toolChoice", "tool_choice")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_and_snake_keys_are_both_accepted() {
        let camel = decode(
            br#"{"contextId":"c","scrubPii":true,"toolChoice":"auto","temperature":"0.5",
                 "inputs":[{"scrubPii":true,"messages":[{"ofUser":{"content":[{"text":"hi"}]}},
                   {"ofTool":{"toolId":"1","name":"f","content":[{"text":"42"}]}}]}]}"#,
        )
        .expect("camel");
        let snake = decode(
            br#"{"context_id":"c","scrub_pii":true,"tool_choice":"auto","temperature":0.5,
                 "inputs":[{"scrub_pii":true,"messages":[{"of_user":{"content":[{"text":"hi"}]}},
                   {"of_tool":{"tool_id":"1","name":"f","content":[{"text":"42"}]}}]}]}"#,
        )
        .expect("snake");
        for r in [&camel, &snake] {
            assert_eq!(r.context_id.as_deref(), Some("c"));
            assert!(r.scrub_pii && r.inputs[0].scrub_pii);
            assert_eq!(r.tool_choice.as_deref(), Some("auto"));
            assert_eq!(r.inputs[0].messages[0], Message::User(vec!["hi".into()]));
            assert_eq!(
                r.inputs[0].messages[1],
                Message::Tool {
                    tool_id: "1".into(),
                    name: "f".into(),
                    content: vec!["42".into()]
                }
            );
        }
    }

    #[test]
    fn mis_cased_and_unknown_keys_are_dropped_and_null_is_unset() {
        let r = decode(
            br#"{"ContextId":"c","contextID":"d","scrubPII":true,"extra":{"x":1},"temperature":null,
                 "inputs":[{"messages":[{"OfUser":{"content":[{"text":"hi"}]}}]}]}"#,
        )
        .expect("decodes");
        assert_eq!(r.context_id, None);
        assert!(!r.scrub_pii);
        assert_eq!(r.inputs[0].messages[0], Message::Unset);
        assert!(decode(b"").expect("empty body").inputs.is_empty());
    }

    #[test]
    fn wrong_types_are_refused() {
        for bad in [
            &br#"{"contextId":1}"#[..],
            br#"{"scrubPii":"true"}"#,
            br#"{"temperature":"warm"}"#,
            br#"{"metadata":{"k":1}}"#,
            br#"{"inputs":{}}"#,
            br#"{"inputs":[null]}"#,
            br#"{"inputs":[{"messages":[{"ofUser":{"content":"hi"}}]}]}"#,
            br#"{"inputs":[{"messages":[{"ofUser":{},"ofSystem":{}}]}]}"#,
            br#"{"contextId":"a","context_id":"b"}"#,
            br#"{"tools":[{"function":{"parameters":[]}}]}"#,
            br#"{"parameters":{"p":{"value":1}}}"#,
            br#"{"promptCacheRetention":"300"}"#,
            br#"{"promptCacheRetention":"1.s"}"#,
            br#"[]"#,
            br#"{"#,
        ] {
            assert!(decode(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        decode(br#"{"promptCacheRetention":"1.5s","parameters":{"p":{"@type":"t"}}}"#)
            .expect("valid duration and Any");
    }
}
