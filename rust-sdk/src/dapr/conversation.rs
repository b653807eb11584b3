//! Conversation (alpha2): one `converse` call to an LLM component, with messages, tools
//! and tool calls, as daprd's protojson `ConversationRequestAlpha2` / `…ResponseAlpha2`.

use serde::Deserialize;
use serde::de::Deserializer;
use serde_json::{Map, Value, json};

use super::encode;
use super::{Client, Error, Metadata, from_object, to_json};
use crate::http::Request;

/// Who speaks a [`Message`], and what it carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// `ofSystem`: instructions for the model.
    System {
        /// An optional participant name.
        name: Option<String>,
        /// The text parts.
        content: Vec<String>,
    },
    /// `ofUser`: what the user says.
    User {
        /// An optional participant name.
        name: Option<String>,
        /// The text parts.
        content: Vec<String>,
    },
    /// `ofAssistant`: an earlier answer of the model, with the tool calls it made.
    Assistant {
        /// An optional participant name.
        name: Option<String>,
        /// The text parts.
        content: Vec<String>,
        /// The tools it called.
        tool_calls: Vec<ToolCall>,
    },
    /// `ofTool`: a tool's result for the call `tool_id`.
    Tool {
        /// The id of the tool call this answers.
        tool_id: Option<String>,
        /// The tool's name.
        name: String,
        /// The text parts.
        content: Vec<String>,
    },
    /// `ofDeveloper`: developer instructions (newer models' system prompt).
    Developer {
        /// An optional participant name.
        name: Option<String>,
        /// The text parts.
        content: Vec<String>,
    },
}

impl Message {
    /// A system message with one text part.
    pub fn system(text: impl Into<String>) -> Self {
        Message::System {
            name: None,
            content: vec![text.into()],
        }
    }

    /// A user message with one text part.
    pub fn user(text: impl Into<String>) -> Self {
        Message::User {
            name: None,
            content: vec![text.into()],
        }
    }

    /// An assistant message with one text part and no tool calls.
    pub fn assistant(text: impl Into<String>) -> Self {
        Message::Assistant {
            name: None,
            content: vec![text.into()],
            tool_calls: Vec::new(),
        }
    }

    /// A tool result: the answer of tool `name` to the call `tool_id`.
    pub fn tool(
        tool_id: impl Into<String>,
        name: impl Into<String>,
        text: impl Into<String>,
    ) -> Self {
        Message::Tool {
            tool_id: Some(tool_id.into()),
            name: name.into(),
            content: vec![text.into()],
        }
    }

    /// A developer message with one text part.
    pub fn developer(text: impl Into<String>) -> Self {
        Message::Developer {
            name: None,
            content: vec![text.into()],
        }
    }

    /// Sets the participant name (for a tool message, the tool's name).
    pub fn with_name(mut self, new: impl Into<String>) -> Self {
        match &mut self {
            Message::System { name, .. }
            | Message::User { name, .. }
            | Message::Assistant { name, .. }
            | Message::Developer { name, .. } => *name = Some(new.into()),
            Message::Tool { name, .. } => *name = new.into(),
        }
        self
    }

    /// Adds a tool call (only an assistant message carries them; others are unchanged).
    pub fn with_tool_call(mut self, call: ToolCall) -> Self {
        if let Message::Assistant { tool_calls, .. } = &mut self {
            tool_calls.push(call);
        }
        self
    }

    /// The protojson form, e.g. `{"ofUser":{"name":"u","content":[{"text":"hello"}]}}`.
    pub fn to_json(&self) -> Value {
        fn parts(content: &[String]) -> Value {
            Value::Array(content.iter().map(|t| json!({ "text": t })).collect())
        }
        let mut inner = Map::new();
        let key = match self {
            Message::System { name, content }
            | Message::User { name, content }
            | Message::Developer { name, content } => {
                if let Some(name) = name {
                    inner.insert("name".into(), json!(name));
                }
                inner.insert("content".into(), parts(content));
                match self {
                    Message::System { .. } => "ofSystem",
                    Message::User { .. } => "ofUser",
                    _ => "ofDeveloper",
                }
            }
            Message::Assistant {
                name,
                content,
                tool_calls,
            } => {
                if let Some(name) = name {
                    inner.insert("name".into(), json!(name));
                }
                inner.insert("content".into(), parts(content));
                if !tool_calls.is_empty() {
                    let calls = tool_calls.iter().map(ToolCall::to_json).collect();
                    inner.insert("toolCalls".into(), Value::Array(calls));
                }
                "ofAssistant"
            }
            Message::Tool {
                tool_id,
                name,
                content,
            } => {
                if let Some(id) = tool_id {
                    inner.insert("toolId".into(), json!(id));
                }
                inner.insert("name".into(), json!(name));
                inner.insert("content".into(), parts(content));
                "ofTool"
            }
        };
        json!({ key: inner })
    }
}

/// A function call the model made (or made earlier, in an assistant message):
/// `{"id","function":{"name","arguments"}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolCall {
    /// The call's id, which a [`Message::Tool`] answer refers to.
    pub id: String,
    /// The function's name.
    pub name: String,
    /// The arguments, as the model wrote them (usually JSON text).
    pub arguments: String,
}

impl ToolCall {
    /// A call of `name` with `arguments`.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> Self {
        ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: arguments.into(),
        }
    }

    fn to_json(&self) -> Value {
        json!({"id": self.id, "function": {"name": self.name, "arguments": self.arguments}})
    }
}

impl<'de> Deserialize<'de> for ToolCall {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize, Default)]
        struct Function {
            #[serde(default)]
            name: String,
            #[serde(default)]
            arguments: String,
        }
        #[derive(Deserialize)]
        struct Wire {
            #[serde(default)]
            id: String,
            #[serde(default)]
            function: Option<Function>,
        }
        let wire = Wire::deserialize(d)?;
        let function = wire.function.unwrap_or_default();
        Ok(ToolCall {
            id: wire.id,
            name: function.name,
            arguments: function.arguments,
        })
    }
}

/// A function the model may call: `{"function":{"name","description","parameters"}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    /// The function's name.
    pub name: String,
    /// What it does, for the model.
    pub description: Option<String>,
    /// Its parameters as a JSON Schema object, e.g.
    /// `{"type":"object","properties":{"city":{"type":"string"}}}`.
    pub parameters: Option<Value>,
}

impl Tool {
    /// A function tool named `name`.
    pub fn function(name: impl Into<String>) -> Self {
        Tool {
            name: name.into(),
            description: None,
            parameters: None,
        }
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the parameters' JSON Schema.
    pub fn parameters(mut self, schema: Value) -> Self {
        self.parameters = Some(schema);
        self
    }

    fn to_json(&self) -> Value {
        let mut function = Map::new();
        function.insert("name".into(), json!(self.name));
        if let Some(description) = &self.description {
            function.insert("description".into(), json!(description));
        }
        if let Some(parameters) = &self.parameters {
            function.insert("parameters".into(), parameters.clone());
        }
        json!({ "function": function })
    }
}

/// Whether and which tool the model should call (`toolChoice`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    /// `auto`: the model decides (daprd's default when tools are given).
    Auto,
    /// `none`: no tool call.
    None,
    /// `required`: at least one tool call.
    Required,
    /// The name of the one tool to call.
    Tool(String),
}

impl ToolChoice {
    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            ToolChoice::Auto => "auto",
            ToolChoice::None => "none",
            ToolChoice::Required => "required",
            ToolChoice::Tool(name) => name,
        }
    }
}

/// One input of a conversation: its messages, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConversationInput {
    /// The messages.
    pub messages: Vec<Message>,
    /// `scrubPii`: scrub personal data from these messages before the model sees them.
    pub scrub_pii: Option<bool>,
}

impl ConversationInput {
    /// An input of `messages`.
    pub fn new(messages: impl IntoIterator<Item = Message>) -> Self {
        ConversationInput {
            messages: messages.into_iter().collect(),
            scrub_pii: None,
        }
    }

    /// Sets `scrubPii` for this input.
    pub fn scrub_pii(mut self, scrub: bool) -> Self {
        self.scrub_pii = Some(scrub);
        self
    }

    fn to_json(&self) -> Value {
        let mut input = Map::new();
        if let Some(scrub) = self.scrub_pii {
            input.insert("scrubPii".into(), json!(scrub));
        }
        let messages = self.messages.iter().map(Message::to_json).collect();
        input.insert("messages".into(), Value::Array(messages));
        Value::Object(input)
    }
}

/// A request for [`Client::converse`]. Unset fields are not sent.
///
/// ```
/// use wasi_dapr_sdk::dapr::{ConversationRequest, Message, Tool};
///
/// let request = ConversationRequest::new()
///     .input([Message::system("be brief"), Message::user("hello")])
///     .tool(Tool::function("get_weather").description("the weather in a city"))
///     .temperature(0.2);
/// assert_eq!(request.to_json()["inputs"][0]["messages"][1]["ofUser"]["content"][0]["text"], "hello");
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConversationRequest {
    /// `contextId`: continue an earlier conversation.
    pub context_id: Option<String>,
    /// `inputs` (at least one, or daprd answers `ERR_CONVERSATION_MISSING_INPUTS`).
    pub inputs: Vec<ConversationInput>,
    /// `tools` the model may call.
    pub tools: Vec<Tool>,
    /// `toolChoice`.
    pub tool_choice: Option<ToolChoice>,
    /// `temperature`.
    pub temperature: Option<f64>,
    /// `scrubPii`: scrub personal data from the model's output.
    pub scrub_pii: Option<bool>,
    /// `metadata`, passed to the component.
    pub metadata: Metadata,
    /// `responseFormat`: a JSON Schema for structured output, passed as is.
    pub response_format: Option<Value>,
    /// `promptCacheRetention`, a protobuf duration such as `300s`.
    pub prompt_cache_retention: Option<String>,
}

impl ConversationRequest {
    /// An empty request; add at least one [`input`](Self::input).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an input of `messages`.
    pub fn input(self, messages: impl IntoIterator<Item = Message>) -> Self {
        self.add_input(ConversationInput::new(messages))
    }

    /// Adds an input.
    pub fn add_input(mut self, input: ConversationInput) -> Self {
        self.inputs.push(input);
        self
    }

    /// Adds a tool.
    pub fn tool(mut self, tool: Tool) -> Self {
        self.tools.push(tool);
        self
    }

    /// Sets `toolChoice`.
    pub fn tool_choice(mut self, choice: ToolChoice) -> Self {
        self.tool_choice = Some(choice);
        self
    }

    /// Sets `contextId`.
    pub fn context_id(mut self, id: impl Into<String>) -> Self {
        self.context_id = Some(id.into());
        self
    }

    /// Sets `temperature`.
    pub fn temperature(mut self, temperature: f64) -> Self {
        self.temperature = Some(temperature);
        self
    }

    /// Sets the top-level `scrubPii`.
    pub fn scrub_pii(mut self, scrub: bool) -> Self {
        self.scrub_pii = Some(scrub);
        self
    }

    /// Adds a `metadata` entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// The protojson body (lowerCamel keys).
    pub fn to_json(&self) -> Value {
        let mut body = Map::new();
        if let Some(id) = &self.context_id {
            body.insert("contextId".into(), json!(id));
        }
        if let Some(scrub) = self.scrub_pii {
            body.insert("scrubPii".into(), json!(scrub));
        }
        if let Some(t) = self.temperature {
            body.insert("temperature".into(), json!(t));
        }
        if !self.metadata.is_empty() {
            body.insert("metadata".into(), json!(self.metadata));
        }
        let inputs = self.inputs.iter().map(ConversationInput::to_json).collect();
        body.insert("inputs".into(), Value::Array(inputs));
        if !self.tools.is_empty() {
            let tools = self.tools.iter().map(Tool::to_json).collect();
            body.insert("tools".into(), Value::Array(tools));
        }
        if let Some(choice) = &self.tool_choice {
            body.insert("toolChoice".into(), json!(choice.as_str()));
        }
        if let Some(format) = &self.response_format {
            body.insert("responseFormat".into(), format.clone());
        }
        if let Some(retention) = &self.prompt_cache_retention {
            body.insert("promptCacheRetention".into(), json!(retention));
        }
        Value::Object(body)
    }
}

/// daprd's answer to [`Client::converse`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ConversationResponse {
    /// `contextId`, echoed when the request had one.
    #[serde(default, alias = "context_id")]
    pub context_id: Option<String>,
    /// One result per answer of the component.
    #[serde(default)]
    pub outputs: Vec<ConversationOutput>,
}

impl ConversationResponse {
    /// Decodes daprd's protojson answer.
    pub fn parse(body: &[u8]) -> Result<Self, Error> {
        from_object("conversation", body)
    }

    /// The first choice's message text, if there is one.
    pub fn text(&self) -> Option<&str> {
        self.outputs
            .first()?
            .choices
            .first()
            .map(|c| c.message.content.as_str())
    }
}

/// One output: the choices, the model and the token usage.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ConversationOutput {
    /// The model's choices.
    #[serde(default)]
    pub choices: Vec<Choice>,
    /// The model that answered, if the component says.
    #[serde(default)]
    pub model: Option<String>,
    /// Token counts, if the component reports them.
    #[serde(default)]
    pub usage: Option<Usage>,
}

/// One choice of the model.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Choice {
    /// `finishReason`: `stop`, `tool_calls`, `length`, ...
    #[serde(default, alias = "finish_reason")]
    pub finish_reason: String,
    /// `index` (0 is omitted on the wire).
    #[serde(default, deserialize_with = "int_or_string")]
    pub index: u64,
    /// The message.
    #[serde(default)]
    pub message: ChoiceMessage,
}

/// The message of a [`Choice`]: text and tool calls.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ChoiceMessage {
    /// The text (empty when the model only called tools).
    #[serde(default)]
    pub content: String,
    /// The tool calls the model made.
    #[serde(default, alias = "tool_calls")]
    pub tool_calls: Vec<ToolCall>,
}

/// Token counts. protojson writes these 64-bit integers as JSON strings (`"12"`); both
/// forms are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Usage {
    /// Tokens of the answer.
    #[serde(
        default,
        alias = "completion_tokens",
        deserialize_with = "int_or_string"
    )]
    pub completion_tokens: u64,
    /// Tokens of the prompt.
    #[serde(default, alias = "prompt_tokens", deserialize_with = "int_or_string")]
    pub prompt_tokens: u64,
    /// Both.
    #[serde(default, alias = "total_tokens", deserialize_with = "int_or_string")]
    pub total_tokens: u64,
}

fn int_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(0),
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| serde::de::Error::custom(format!("expected a count, got {n}"))),
        Value::String(s) => s
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("expected a count, got {s:?}"))),
        other => Err(serde::de::Error::custom(format!(
            "expected a count, got {other}"
        ))),
    }
}

impl Client {
    /// Sends `request` to the conversation component `name`:
    /// `POST /v1.0-alpha2/conversation/{name}/converse`.
    ///
    /// Errors are [`Error::Dapr`], e.g. 400 `ERR_CONVERSATION_NOT_FOUND` for an unknown
    /// component or 500 `ERR_CONVERSATION_INVOKE` when the model failed.
    pub fn converse(
        &self,
        name: &str,
        request: &ConversationRequest,
    ) -> Result<ConversationResponse, Error> {
        let url = self.url(&format!(
            "/v1.0-alpha2/conversation/{}/converse",
            encode::segment("conversation component name", name)?
        ));
        let request = Request::post(url)
            .header("content-type", "application/json")
            .body(to_json("conversation request", &request.to_json())?);
        let reply = self.call(request)?;
        ConversationResponse::parse(&reply.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dapr::testing::{Recorder, body_json};

    #[test]
    fn request_body_as_in_the_reference() {
        let rec = Recorder::default();
        let request = ConversationRequest::new()
            .context_id("c1")
            .scrub_pii(false)
            .temperature(0.2)
            .metadata("k", "v")
            .add_input(
                ConversationInput::new([
                    Message::system("be brief"),
                    Message::user("hello").with_name("u"),
                    Message::assistant("…").with_tool_call(ToolCall::new("0", "f", "a,b")),
                    Message::tool("0", "f", "42"),
                ])
                .scrub_pii(false),
            )
            .tool(
                Tool::function("f")
                    .description("…")
                    .parameters(json!({"type": "object", "properties": {"a": {}, "b": {}}})),
            )
            .tool_choice(ToolChoice::Auto);
        rec.reply(200, &[], "{}");
        rec.client().converse("echo", &request).unwrap();
        let req = rec.single();
        assert_eq!(req.method, "POST");
        assert_eq!(
            req.url,
            "http://dapr:3500/v1.0-alpha2/conversation/echo/converse"
        );
        assert_eq!(req.headers.get("content-type"), Some("application/json"));
        assert_eq!(
            body_json(&req),
            json!({"contextId":"c1","scrubPii":false,"temperature":0.2,"metadata":{"k":"v"},
             "inputs":[{"scrubPii":false,"messages":[
               {"ofSystem":{"content":[{"text":"be brief"}]}},
               {"ofUser":{"name":"u","content":[{"text":"hello"}]}},
               {"ofAssistant":{"content":[{"text":"…"}],"toolCalls":[{"id":"0","function":{"name":"f","arguments":"a,b"}}]}},
               {"ofTool":{"toolId":"0","name":"f","content":[{"text":"42"}]}}]}],
             "tools":[{"function":{"name":"f","description":"…","parameters":{"type":"object","properties":{"a":{},"b":{}}}}}],
             "toolChoice":"auto"})
        );
    }

    #[test]
    fn minimal_request_and_other_message_kinds() {
        let request = ConversationRequest::new().input([
            Message::developer("dev"),
            Message::user("a").with_tool_call(ToolCall::new("1", "g", "")),
        ]);
        assert_eq!(
            request.to_json(),
            json!({"inputs":[{"messages":[
                {"ofDeveloper":{"content":[{"text":"dev"}]}},
                {"ofUser":{"content":[{"text":"a"}]}}]}]})
        );
        let mut request = request.tool_choice(ToolChoice::Tool("g".into()));
        request.prompt_cache_retention = Some("300s".into());
        request.response_format = Some(json!({"type": "object"}));
        let body = request.to_json();
        assert_eq!(body["toolChoice"], "g");
        assert_eq!(body["promptCacheRetention"], "300s");
        assert_eq!(body["responseFormat"], json!({"type": "object"}));
        for (choice, wire) in [
            (ToolChoice::None, "none"),
            (ToolChoice::Required, "required"),
        ] {
            assert_eq!(choice.as_str(), wire);
        }
        assert_eq!(
            Message::tool("0", "f", "x").with_name("g").to_json(),
            json!({"ofTool":{"toolId":"0","name":"g","content":[{"text":"x"}]}})
        );
    }

    #[test]
    fn response_with_string_usage_and_tool_calls() {
        let rec = Recorder::default();
        rec.reply(
            200,
            &[("content-type", "application/json")],
            r#"{"contextId":"c1","outputs":[{"choices":[{"finishReason":"tool_calls","message":{"content":"be brief\nhello",
              "toolCalls":[{"id":"0","function":{"name":"f","arguments":"a,b"}}]}}],
              "model":"echo-1","usage":{"completionTokens":"3","promptTokens":"3","totalTokens":"6","promptTokensDetails":{}}}],"extra":1}"#,
        );
        let answer = rec
            .client()
            .converse(
                "echo",
                &ConversationRequest::new().input([Message::user("hello")]),
            )
            .unwrap();
        assert_eq!(answer.context_id.as_deref(), Some("c1"));
        assert_eq!(answer.text(), Some("be brief\nhello"));
        let output = &answer.outputs[0];
        assert_eq!(output.model.as_deref(), Some("echo-1"));
        assert_eq!(
            output.usage,
            Some(Usage {
                completion_tokens: 3,
                prompt_tokens: 3,
                total_tokens: 6
            })
        );
        let choice = &output.choices[0];
        assert_eq!(choice.finish_reason, "tool_calls");
        assert_eq!(choice.index, 0);
        assert_eq!(choice.message.tool_calls, [ToolCall::new("0", "f", "a,b")]);
    }

    #[test]
    fn response_omitted_zero_values_and_number_forms() {
        let answer = ConversationResponse::parse(
            br#"{"outputs":[{"choices":[{"finishReason":"stop","index":"1","message":{}}],"usage":{}}]}"#,
        )
        .unwrap();
        assert_eq!(answer.context_id, None);
        let output = &answer.outputs[0];
        assert_eq!(output.usage, Some(Usage::default()));
        assert_eq!(output.model, None);
        assert_eq!(output.choices[0].index, 1);
        assert_eq!(answer.text(), Some(""));
        let answer = ConversationResponse::parse(
            br#"{"outputs":[{"usage":{"completion_tokens":2,"totalTokens":4}}]}"#,
        )
        .unwrap();
        let usage = answer.outputs[0].usage.unwrap();
        assert_eq!((usage.completion_tokens, usage.total_tokens), (2, 4));
        assert_eq!(answer.text(), None);
        assert_eq!(ConversationResponse::parse(b"{}").unwrap().text(), None);
        // A tool call without `function` reads as empty name and arguments.
        let call: ToolCall = serde_json::from_str(r#"{"id":"7"}"#).unwrap();
        assert_eq!(call, ToolCall::new("7", "", ""));
    }

    #[test]
    fn bad_responses_are_decode_errors() {
        for bad in [
            &b"not json"[..],
            b"[]",
            br#"{"outputs":{}}"#,
            br#"{"outputs":[{"usage":{"totalTokens":"many"}}]}"#,
            br#"{"outputs":[{"usage":{"totalTokens":-1}}]}"#,
            br#"{"outputs":[{"usage":{"totalTokens":true}}]}"#,
        ] {
            let err = ConversationResponse::parse(bad).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::Decode {
                        what: "conversation",
                        ..
                    }
                ),
                "{err:?}"
            );
        }
    }

    #[test]
    fn errors_keep_code_and_message() {
        let rec = Recorder::default();
        rec.reply(
            400,
            &[],
            r#"{"errorCode":"ERR_CONVERSATION_NOT_FOUND","message":"failed finding conversation component nope"}"#,
        );
        let err = rec
            .client()
            .converse(
                "nope",
                &ConversationRequest::new().input([Message::user("x")]),
            )
            .unwrap_err();
        assert!(matches!(
            &err,
            Error::Dapr { status: 400, error_code, message }
                if error_code == "ERR_CONVERSATION_NOT_FOUND"
                    && message == "failed finding conversation component nope"
        ));
        assert!(matches!(
            rec.client().converse("", &ConversationRequest::new()),
            Err(Error::InvalidArgument(_))
        ));
        assert_eq!(rec.requests().len(), 1);
    }
}
