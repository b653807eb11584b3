/**
 * A served app for tests/e2e.sh: every kind of `App` handler, each logging what it got
 * to stderr (the host prints `guest: ...`), so the test can check the real round trip
 * through `wasi-dapr sidecar` and `wasi-dapr serve`.
 *
 * @packageDocumentation
 */

import {
  App,
  AppRequest,
  AppResponse,
  BindingEvent,
  BulkMessage,
  BulkSubscribeOptions,
  ConfigurationUpdate,
  JobEvent,
  JsonObjectWriter,
  SubscribeOptions,
  TopicEvent,
  TopicResult,
  logLine,
} from "../assembly/index";

/** Echoes the invoked request as JSON, status 201, header `X-Echo: 1`. */
function echo(req: AppRequest): AppResponse {
  const query = new Map<string, string>();
  const params = req.queryParams();
  for (let i = 0; i < params.length; i++) query.set(params[i].key, params[i].value);
  const custom = req.header("x-custom");
  const body = new JsonObjectWriter()
    .string("method", req.method)
    .string("path", req.path)
    .optStringMap("query", query)
    .string("xCustom", custom != null ? custom : "")
    .string("contentType", req.contentType)
    .string("body", req.text())
    .build();
  logLine("invoke: " + body);
  return AppResponse.json(201, body).header("X-Echo", "1");
}

function onTick(e: BindingEvent): bool {
  logLine("binding " + e.name + ": " + e.data.length.toString() + " bytes, content-type " + e.request.contentType);
  return true;
}

function onConfig(u: ConfigurationUpdate): bool {
  const keys = u.items.keys();
  let s = "configuration " + u.store + "/" + u.key + " id=" + u.id;
  for (let i = 0; i < keys.length; i++) s += " " + keys[i] + "=" + u.items.get(keys[i]).value;
  logLine(s);
  return true;
}

function onRoutedDefault(e: TopicEvent): TopicResult {
  logLine("routed default: type=" + e.type + " data=" + e.text());
  return TopicResult.Success;
}

function onRoutedV2(e: TopicEvent): TopicResult {
  logLine("routed v2: type=" + e.type + " data=" + e.text());
  return TopicResult.Success;
}

function onRaw(e: TopicEvent): TopicResult {
  logLine("raw: binary=" + (e.isBinary ? "true" : "false") + " datacontenttype=" + e.datacontenttype + " text=" + e.text());
  return TopicResult.Success;
}

function onText(e: TopicEvent): TopicResult {
  logLine("text: datacontenttype=" + e.datacontenttype + " text=" + e.text());
  return TopicResult.Success;
}

/** Logs each raw bulk entry (decoded bytes) and answers SUCCESS for all. */
function onRawBulk(b: BulkMessage): TopicResult[] {
  const out = new Array<TopicResult>();
  for (let i = 0; i < b.entries.length; i++) {
    const e = b.entries[i];
    logLine("raw bulk: topic=" + b.topic + " raw=" + (e.isRaw ? "true" : "false") + " contentType=" + e.contentType + " text=" + e.text());
    out.push(TopicResult.Success);
  }
  return out;
}

/** Logs a job trigger; data `"fail"` answers 500 (the failure policy retries). */
function onFixtureJob(j: JobEvent): bool {
  logLine("job " + j.name + ": data=" + j.data);
  return j.dataString() != "fail";
}

new App()
  .subscribeBulk("pubsub", "raw-bulk", "/raw-bulk", onRawBulk, new BulkSubscribeOptions(5, 200),
    new SubscribeOptions().rawPayload())
  .onJob("fixture-job", onFixtureJob)
  .subscribe(
    "pubsub",
    "routed",
    "/routed",
    onRoutedDefault,
    new SubscribeOptions().rule('event.type == "v2"', "/routed/v2", onRoutedV2),
  )
  .subscribe("pubsub", "raw", "/raw", onRaw, new SubscribeOptions().rawPayload())
  .subscribe("pubsub", "text", "/text", onText)
  .onBinding("ticks", onTick)
  .onConfiguration("configstore", onConfig)
  .onInvoke("*", "/echo*", echo)
  .run();
