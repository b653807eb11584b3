/**
 * wasi-dapr AssemblyScript SDK: everything in one import.
 *
 * @packageDocumentation
 */

export * from "./result";
export * from "./http";
export * from "./url";
export * from "./dapr";
export { environment, getEnv, sleepMillis, nowMillis } from "./wasi";
export {
  JSON,
  isValidJson,
  jsonString,
  jsonEquals,
  canonicalJson,
  parseObject,
  parseArray,
  member,
  memberString,
  decodeString,
  stringMapOf,
  stringMapToJson,
  JsonObjectWriter,
  jsonArray,
} from "./json";
export { encodeBase64 } from "./base64";
export {
  App,
  AppRequest,
  AppResponse,
  TraceContext,
  TopicEvent,
  TopicResult,
  TopicHandler,
  SubscribeOptions,
  Subscription,
  BulkSubscribeOptions,
  BulkEntry,
  BulkMessage,
  BulkTopicHandler,
  decodeBulkMessage,
  bulkStatusesJson,
  JobEvent,
  JobHandler,
  Rule,
  BindingEvent,
  BindingHandler,
  ConfigurationUpdate,
  ConfigurationHandler,
  InvokeHandler,
  logLine,
  topicResultJson,
  decodeCloudEvent,
  decodeConfigurationUpdate,
  decodeBase64,
  requestFromCgi,
  toCgi,
  readStdin,
  parseQuery,
} from "./app";
export {
  ActorSettings,
  ActorType,
  ActorContext,
  ActorStateManager,
  ActorReminderEvent,
  ActorTimerEvent,
  ActorMethodHandler,
  ActorReminderHandler,
  ActorTimerHandler,
  ActorDeactivateHandler,
  ActorRuntime,
  actorError,
} from "./actors";
