/**
 * Conversation (alpha2): `converse` with any LLM component daprd is configured with
 * (`POST /v1.0-alpha2/conversation/{name}/converse`, protojson both ways).
 *
 * @packageDocumentation
 */

import { Method } from "../http";
import { ok, err } from "../result";
import { JSON, JsonObjectWriter, jsonArray, member, memberArray, memberString, parseObject } from "../json";
import { DaprError, DaprResult } from "./error";
import { requireName } from "./client";
import { JobsClient, protoInteger } from "./jobs";

/** A tool call: the model asks for `name(arguments)`; `id` links the tool's answer to it. */
export class ToolCall {
  constructor(
    /** The call's id. */
    public readonly id: string,
    /** The function's name. */
    public readonly name: string,
    /** The arguments, as the model wrote them (often JSON text). */
    public readonly arguments: string,
  ) {}

  /** `{"id","function":{"name","arguments"}}`. */
  toJson(): string {
    const f = new JsonObjectWriter().string("name", this.name).string("arguments", this.arguments).build();
    return new JsonObjectWriter().string("id", this.id).raw("function", f).build();
  }
}

/**
 * One message of a conversation input, in one of the five roles: `system`, `user`,
 * `assistant` (may carry tool calls), `tool` (the answer to a tool call) and
 * `developer`. Its text is sent as one content part.
 */
export class ConversationMessage {
  /** The participant's name (`name`), or `null`. */
  name: string | null = null;
  /** The text parts (`content[].text`). */
  texts: string[] = [];
  /** `toolCalls` of an assistant message. */
  toolCalls: ToolCall[] = [];
  /** `toolId` of a tool message, or `null`. */
  toolId: string | null = null;

  constructor(
    /** The protojson role key: `ofSystem`, `ofUser`, `ofAssistant`, `ofTool` or `ofDeveloper`. */
    public readonly role: string,
  ) {}

  /** `{"ofSystem":{"content":[{"text":…}]}}`. */
  static system(text: string): ConversationMessage {
    return new ConversationMessage("ofSystem").text(text);
  }

  /** `{"ofUser":{"name"?,"content":[{"text":…}]}}`. */
  static user(text: string, name: string | null = null): ConversationMessage {
    const m = new ConversationMessage("ofUser").text(text);
    m.name = name;
    return m;
  }

  /** `{"ofAssistant":{"content":[…],"toolCalls":[…]}}` (empty text: no content part). */
  static assistant(text: string, toolCalls: ToolCall[] = []): ConversationMessage {
    const m = new ConversationMessage("ofAssistant");
    if (text.length > 0) m.text(text);
    m.toolCalls = toolCalls;
    return m;
  }

  /** `{"ofTool":{"toolId","name","content":[{"text":…}]}}`: the answer to tool call `toolId`. */
  static tool(toolId: string, name: string, text: string): ConversationMessage {
    const m = new ConversationMessage("ofTool").text(text);
    m.toolId = toolId;
    m.name = name;
    return m;
  }

  /** `{"ofDeveloper":{"content":[{"text":…}]}}`. */
  static developer(text: string): ConversationMessage {
    return new ConversationMessage("ofDeveloper").text(text);
  }

  /** Adds one more text part. */
  text(t: string): ConversationMessage {
    this.texts.push(t);
    return this;
  }

  /** `{"<role>":{"toolId"?,"name"?,"content"?,"toolCalls"?}}`. */
  toJson(): string {
    const w = new JsonObjectWriter().optString("toolId", this.toolId).optString("name", this.name);
    if (this.texts.length > 0) {
      const parts = new Array<string>();
      for (let i = 0; i < this.texts.length; i++) parts.push(new JsonObjectWriter().string("text", this.texts[i]).build());
      w.raw("content", jsonArray(parts));
    }
    if (this.toolCalls.length > 0) {
      const calls = new Array<string>();
      for (let i = 0; i < this.toolCalls.length; i++) calls.push(this.toolCalls[i].toJson());
      w.raw("toolCalls", jsonArray(calls));
    }
    return new JsonObjectWriter().raw(this.role, w.build()).build();
  }
}

/** One input: messages, and whether daprd scrubs PII from them. */
export class ConversationInput {
  constructor(
    /** The messages, in order. */
    public readonly messages: ConversationMessage[],
    /** `scrubPii` of this input (sent only when `true`). */
    public readonly scrubPii: bool = false,
  ) {}

  /** `{"messages":[…],"scrubPii"?:true}`. */
  toJson(): string {
    const ms = new Array<string>();
    for (let i = 0; i < this.messages.length; i++) ms.push(this.messages[i].toJson());
    const w = new JsonObjectWriter().raw("messages", jsonArray(ms));
    if (this.scrubPii) w.bool("scrubPii", true);
    return w.build();
  }
}

/** A function the model may call: `{"function":{"name","description","parameters"}}`. */
export class ConversationTool {
  constructor(
    /** The function's name. */
    public readonly name: string,
    /** What it does, or `null`. */
    public readonly description: string | null = null,
    /** Its parameters as a JSON Schema object (JSON text), or `null`. */
    public readonly parametersJson: string | null = null,
  ) {}

  /** `{"function":{"name","description"?,"parameters"?}}`. */
  toJson(): string {
    const f = new JsonObjectWriter().string("name", this.name).optString("description", this.description);
    const p = this.parametersJson;
    if (p != null) f.raw("parameters", p.trim());
    return new JsonObjectWriter().raw("function", f.build()).build();
  }
}

/**
 * A `converse` request. Defaults: no tools, no tool choice (daprd: `auto` when tools
 * are given), no temperature, no context id, `scrubPii` false, no metadata.
 *
 * ```ts
 * const req = new ConversationRequest().input([ConversationMessage.user("hello")]);
 * const r = dapr.converse("echo", req);
 * if (r.error == null) logLine(r.value!.content());
 * ```
 */
export class ConversationRequest {
  /** `inputs`. */
  inputs: ConversationInput[] = [];
  /** `tools`. */
  tools: ConversationTool[] = [];
  /** `toolChoice`: `auto`, `none`, `required` or a tool name; `null` = not sent. */
  toolChoice: string | null = null;
  /** `temperature`; NaN = not sent. */
  temperature: f64 = NaN;
  /** `contextId` (continue a conversation), or `null`. */
  contextId: string | null = null;
  /** `scrubPii` of the outputs (sent only when `true`). */
  scrubPii: bool = false;
  /** `metadata` for the component, or `null`. */
  metadata: Map<string, string> | null = null;

  /** Adds one input of `messages`. */
  input(messages: ConversationMessage[], scrubPii: bool = false): ConversationRequest {
    this.inputs.push(new ConversationInput(messages, scrubPii));
    return this;
  }

  /** Adds a tool. */
  tool(tool: ConversationTool): ConversationRequest {
    this.tools.push(tool);
    return this;
  }

  /** Sets `toolChoice`. */
  withToolChoice(choice: string): ConversationRequest {
    this.toolChoice = choice;
    return this;
  }

  /** Sets `temperature`. */
  withTemperature(t: f64): ConversationRequest {
    this.temperature = t;
    return this;
  }

  /** Sets `contextId`. */
  withContextId(id: string): ConversationRequest {
    this.contextId = id;
    return this;
  }

  /** Sets `scrubPii` (outputs). */
  withScrubPii(scrub: bool = true): ConversationRequest {
    this.scrubPii = scrub;
    return this;
  }

  /** Adds `metadata[key] = value`. */
  withMetadata(key: string, value: string): ConversationRequest {
    let m = this.metadata;
    if (m == null) {
      m = new Map<string, string>();
      this.metadata = m;
    }
    m.set(key, value);
    return this;
  }

  /**
   * The protojson body: `contextId`?, `scrubPii`?, `temperature`?, `metadata`?,
   * `inputs`, `tools`?, `toolChoice`?.
   */
  toJson(): string {
    const w = new JsonObjectWriter().optString("contextId", this.contextId);
    if (this.scrubPii) w.bool("scrubPii", true);
    if (!isNaN(this.temperature)) w.raw("temperature", this.temperature.toString());
    w.optStringMap("metadata", this.metadata);
    const ins = new Array<string>();
    for (let i = 0; i < this.inputs.length; i++) ins.push(this.inputs[i].toJson());
    w.raw("inputs", jsonArray(ins));
    if (this.tools.length > 0) {
      const ts = new Array<string>();
      for (let i = 0; i < this.tools.length; i++) ts.push(this.tools[i].toJson());
      w.raw("tools", jsonArray(ts));
    }
    return w.optString("toolChoice", this.toolChoice).build();
  }
}

/** Token counts of one output (protojson sends them as JSON strings). 0 when absent. */
export class ConversationUsage {
  constructor(
    /** `completionTokens`. */
    public readonly completionTokens: i64,
    /** `promptTokens`. */
    public readonly promptTokens: i64,
    /** `totalTokens`. */
    public readonly totalTokens: i64,
  ) {}
}

/** One choice of an output: its message (text and tool calls) and why it ended. */
export class ConversationChoice {
  constructor(
    /** `finishReason`, e.g. `stop`, `tool_calls` (`""` if absent). */
    public readonly finishReason: string,
    /** `index` (0 when absent: protojson omits zero). */
    public readonly index: i64,
    /** `message.content` (`""` if absent). */
    public readonly content: string,
    /** `message.toolCalls`. */
    public readonly toolCalls: ToolCall[],
  ) {}
}

/** One output: its choices, the model (`""` if not reported) and the usage (`null` if absent). */
export class ConversationOutput {
  constructor(
    /** `choices`. */
    public readonly choices: ConversationChoice[],
    /** `model`. */
    public readonly model: string,
    /** `usage`, or `null`. */
    public readonly usage: ConversationUsage | null,
  ) {}
}

/** The answer of `converse`. */
export class ConversationResponse {
  constructor(
    /** `contextId` (only when the request sent one), or `null`. */
    public readonly contextId: string | null,
    /** `outputs`. */
    public readonly outputs: ConversationOutput[],
  ) {}

  /** The content of the first choice of the first output, or `""`. */
  content(): string {
    if (this.outputs.length == 0 || this.outputs[0].choices.length == 0) return "";
    return this.outputs[0].choices[0].content;
  }
}

function intMember(obj: Map<string, JSON.Raw>, camel: string, snake: string): i64 {
  let raw = member(obj, camel);
  if (raw == null) raw = member(obj, snake);
  if (raw == null) return 0;
  return protoInteger(raw);
}

function stringOr(obj: Map<string, JSON.Raw>, camel: string, snake: string): string | null {
  let raw = member(obj, camel);
  if (raw != null) return memberString(obj, camel);
  raw = member(obj, snake);
  if (raw != null) return memberString(obj, snake);
  return "";
}

function parseToolCalls(arr: JSON.Raw[] | null): ToolCall[] | null {
  const out = new Array<ToolCall>();
  if (arr == null) return out;
  for (let i = 0; i < arr.length; i++) {
    const c = parseObject(arr[i].toString());
    if (c == null) return null;
    const fText = member(c, "function");
    const f = fText != null ? parseObject(fText) : null;
    const id = memberString(c, "id");
    const name = f != null ? memberString(f, "name") : null;
    const args = f != null ? memberString(f, "arguments") : null;
    out.push(new ToolCall(id != null ? id : "", name != null ? name : "", args != null ? args : ""));
  }
  return out;
}

/**
 * Reads a `converse` answer (protojson `ConversationResponseAlpha2`; snake_case
 * accepted). Integers may be JSON strings or numbers. `null` when `text` is not a JSON
 * object, or a member has the wrong type (`outputs` not an array, a count not an
 * integer, ...).
 */
export function parseConversationResponse(text: string): ConversationResponse | null {
  const obj = parseObject(text);
  if (obj == null) return null;
  let ctx: string | null = null;
  if (member(obj, "contextId") != null || member(obj, "context_id") != null) {
    ctx = stringOr(obj, "contextId", "context_id");
    if (ctx == null) return null;
  }
  const outputs = new Array<ConversationOutput>();
  const outs = memberArray(obj, "outputs");
  if (member(obj, "outputs") != null && outs == null) return null;
  if (outs != null) {
    for (let i = 0; i < outs.length; i++) {
      const o = parseObject(outs[i].toString());
      if (o == null) return null;
      const choices = new Array<ConversationChoice>();
      const cs = memberArray(o, "choices");
      if (member(o, "choices") != null && cs == null) return null;
      if (cs != null) {
        for (let j = 0; j < cs.length; j++) {
          const c = parseObject(cs[j].toString());
          if (c == null) return null;
          const finish = stringOr(c, "finishReason", "finish_reason");
          const index = intMember(c, "index", "index");
          if (finish == null || index < 0) return null;
          const mText = member(c, "message");
          const m = mText != null ? parseObject(mText) : null;
          let content: string | null = "";
          let calls: ToolCall[] | null = [];
          if (m != null) {
            content = stringOr(m, "content", "content");
            const tc = member(m, "toolCalls") != null ? memberArray(m, "toolCalls") : memberArray(m, "tool_calls");
            calls = parseToolCalls(tc);
          }
          if (content == null || calls == null) return null;
          choices.push(new ConversationChoice(finish, index, content, calls));
        }
      }
      const model = stringOr(o, "model", "model");
      if (model == null) return null;
      let usage: ConversationUsage | null = null;
      const uText = member(o, "usage");
      if (uText != null) {
        const u = parseObject(uText);
        if (u == null) return null;
        const completion = intMember(u, "completionTokens", "completion_tokens");
        const prompt = intMember(u, "promptTokens", "prompt_tokens");
        const total = intMember(u, "totalTokens", "total_tokens");
        if (completion < 0 || prompt < 0 || total < 0) return null;
        usage = new ConversationUsage(completion, prompt, total);
      }
      outputs.push(new ConversationOutput(choices, model, usage));
    }
  }
  return new ConversationResponse(ctx, outputs);
}

/**
 * The conversation call of `DaprClient` (see there).
 */
export class ConversationClient extends JobsClient {

  /**
   * `POST /v1.0-alpha2/conversation/{name}/converse`. daprd answers 400
   * `ERR_CONVERSATION_NOT_FOUND` for an unknown component,
   * `ERR_CONVERSATION_MISSING_INPUTS` without inputs, 500 `ERR_CONVERSATION_INVOKE`
   * when the component fails.
   *
   * @param name - the conversation component, e.g. `echo` for a `conversation.echo`
   * @param request - inputs, tools, options
   * @returns the outputs
   */
  converse(name: string, request: ConversationRequest): DaprResult<ConversationResponse> {
    const bad = requireName("conversation component", name);
    if (bad) return err<ConversationResponse, DaprError>(bad);
    for (let i = 0; i < request.tools.length; i++) {
      const p = request.tools[i].parametersJson;
      if (p != null && parseObject(p) == null) {
        return err<ConversationResponse, DaprError>(
          DaprError.invalidArgument("the parameters of tool " + request.tools[i].name + " are not a JSON object"),
        );
      }
    }
    if (!isNaN(request.temperature) && !isFinite(request.temperature)) {
      return err<ConversationResponse, DaprError>(DaprError.invalidArgument("temperature must be finite"));
    }
    const u = this.url().raw("v1.0-alpha2/conversation").segment(name).raw("converse").build();
    const r = this.callForJson(Method.POST, u, request.toJson());
    if (r.error) return err<ConversationResponse, DaprError>(r.error!);
    const parsed = parseConversationResponse(r.value!.text);
    if (parsed == null) {
      return err<ConversationResponse, DaprError>(r.value!.invalid("the conversation answer is not a ConversationResponseAlpha2"));
    }
    return ok<ConversationResponse, DaprError>(parsed);
  }
}
