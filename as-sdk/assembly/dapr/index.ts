/**
 * `DaprClient`: Dapr's sidecar HTTP API (state, pub/sub, invoke, bindings, secrets,
 * configuration, lock, jobs, conversation, actors, metadata, health) over the outbound HTTP import, one file per
 * building block as in the Rust SDK's `dapr` module.
 *
 * ```ts
 * const dapr = new DaprClient();            // DAPR_HTTP_ENDPOINT / DAPR_HTTP_PORT
 * const e = dapr.saveStateString("statestore", "weapon", "Death Star");
 * if (e) console.log(e.toString());
 * const got = dapr.getState("statestore", "weapon");
 * if (got.error == null && got.value != null) console.log(got.value!.value); // "Death Star"
 * ```
 *
 * Every call answers a `Result<T, DaprError>` (or `DaprError | null` when there is no
 * value).
 *
 * @packageDocumentation
 */

import { MetadataClient } from "./metadata";

export { DEFAULT_ENDPOINT, resolveEndpoint, endpointFromEnv, InvokeResponse, metadataFromHeaders } from "./client";
export * from "./error";
export {
  Concurrency,
  Consistency,
  StateOptions,
  SaveStateItem,
  StateEntry,
  BulkStateItem,
  StateOperation,
  QueryResponse,
  parseBulkItem,
} from "./state";
export { PublishOptions, BulkPublishEntry, FailedEntry } from "./pubsub";
export { InvokeOptions } from "./invoke";
export { ConfigurationItem, configurationItems } from "./configuration";
export { LockResponse, UnlockStatus, UnlockResponse } from "./lock";
export { FailurePolicy, JobRequest, Job, parseJob, isJobNotFound } from "./jobs";
export {
  ToolCall,
  ConversationMessage,
  ConversationInput,
  ConversationTool,
  ConversationRequest,
  ConversationUsage,
  ConversationChoice,
  ConversationOutput,
  ConversationResponse,
  parseConversationResponse,
} from "./conversation";
export {
  REENTRANCY_ID_HEADER,
  ACTOR_ERROR_HEADER,
  ACTOR_ERROR_STATUS_HEADER,
  ActorReminderRequest,
  ActorTimerRequest,
  ActorReminder,
  parseActorReminder,
  isActorError,
  actorErrorStatus,
} from "./actors";
export { ComponentMetadata, SidecarMetadata } from "./metadata";

/**
 * A client for the Dapr sidecar. `new DaprClient()` resolves the address from the
 * environment (see `resolveEndpoint`); pass a base URL to override. If the guest's
 * environment has `DAPR_API_TOKEN`, it is sent as `dapr-api-token` (the wasi-dapr host
 * normally adds the token itself, outside the guest).
 *
 * Its calls are written one building block per file (`state.ts`, `pubsub.ts`, ...),
 * each a layer of the class: AssemblyScript cannot spread one class over several files,
 * so the layers extend one another and `DaprClient` is the last. Use `DaprClient`; the
 * layers are not exported from the SDK.
 */
export class DaprClient extends MetadataClient {
  /** @param endpoint - the sidecar base URL; `null` resolves it from the environment. */
  constructor(endpoint: string | null = null) {
    super(endpoint);
  }
}
