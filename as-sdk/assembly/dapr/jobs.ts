/**
 * Jobs (`/v1.0/jobs/{name}`, stable since Dapr 1.18): schedule, get and delete a job.
 * The inbound half, `POST /job/<name>` when the job fires, is `App.onJob`.
 *
 * @packageDocumentation
 */

import { Method } from "../http";
import { ok, err } from "../result";
import { JSON, JsonObjectWriter, isValidJson, member, memberString, parseObject } from "../json";
import { DaprError, DaprErrorKind, DaprResult } from "./error";
import { isInteger, requireName } from "./client";
import { LockClient } from "./lock";

/**
 * What the scheduler does when the app does not answer a trigger with 2xx (or 404):
 * `constant` retries every `interval` up to `maxRetries` times, `drop` never retries.
 * A job scheduled without one gets daprd's default, constant 1 s × 3.
 */
export class FailurePolicy {
  constructor(
    /** `"constant"` or `"drop"`. */
    public readonly kind: string,
    /** The retry interval of a `constant` policy (a Go duration, e.g. `3s`), or `null`. */
    public readonly interval: string | null = null,
    /** The retries of a `constant` policy; -1 = not set (retry forever). */
    public readonly maxRetries: i64 = -1,
  ) {}

  /** `{"drop":{}}`: a failed trigger is not retried. */
  static drop(): FailurePolicy {
    return new FailurePolicy("drop");
  }

  /** `{"constant":{"interval":…,"maxRetries":…}}`; `null` / -1 leave a member out. */
  static constant(interval: string | null = null, maxRetries: i64 = -1): FailurePolicy {
    return new FailurePolicy("constant", interval, maxRetries);
  }

  /** The protojson object, e.g. `{"constant":{"interval":"3s","maxRetries":5}}`. */
  toJson(): string {
    if (this.kind == "drop") return '{"drop":{}}';
    const c = new JsonObjectWriter().optString("interval", this.interval);
    if (this.maxRetries >= 0) c.int("maxRetries", this.maxRetries);
    return new JsonObjectWriter().raw("constant", c.build()).build();
  }

  /**
   * Reads `{"constant":{…}}` or `{"drop":{}}` (lowerCamel or snake_case members);
   * `null` when `text` is neither.
   */
  static parse(text: string): FailurePolicy | null {
    const obj = parseObject(text);
    if (obj == null) return null;
    if (obj.has("drop")) return FailurePolicy.drop();
    const c = member(obj, "constant");
    const inner = c != null ? parseObject(c) : null;
    if (inner == null) return null;
    let retries = member(inner, "maxRetries");
    if (retries == null) retries = member(inner, "max_retries");
    const n = retries != null ? protoInteger(retries) : -1;
    return FailurePolicy.constant(memberString(inner, "interval"), n);
  }
}

/**
 * A job to schedule: a `schedule` (6-field cron with seconds first, or `@every 1s`,
 * `@daily`, ...) and/or a `dueTime` (RFC 3339, Go duration from now, or ISO 8601 like
 * `PT10S`), optionally `repeats`, `ttl`, `data` (any JSON value, sent back to the app
 * when the job fires), `overwrite` and a `failurePolicy`. Nothing is set by default;
 * daprd needs a schedule or a due time.
 *
 * ```ts
 * const job = new JobRequest().withDueTime("2s").withData('{"task":"remind"}');
 * const e = dapr.scheduleJob("reminder", job);
 * ```
 */
export class JobRequest {
  /** `schedule`, or `null`. */
  schedule: string | null = null;
  /** `dueTime`, or `null`. */
  dueTime: string | null = null;
  /** `repeats`; 0 = not set. */
  repeats: i64 = 0;
  /** `ttl`, or `null`. */
  ttl: string | null = null;
  /** `data` as JSON text, or `null`. Always send data: daprd cannot deliver a job without it. */
  data: string | null = null;
  /** `overwrite`: replace a job of the same name (else daprd answers 409). Default `false`. */
  overwrite: bool = false;
  /** `failurePolicy`, or `null` (daprd's default: constant 1 s × 3). */
  failurePolicy: FailurePolicy | null = null;

  /** Sets `schedule`, e.g. `@every 2s` or `*\/10 * * * * *`. */
  withSchedule(schedule: string): JobRequest {
    this.schedule = schedule;
    return this;
  }

  /** Sets `dueTime`, e.g. `1s` or `2026-01-01T00:00:00Z`. */
  withDueTime(dueTime: string): JobRequest {
    this.dueTime = dueTime;
    return this;
  }

  /** Sets `repeats` (needs a schedule when above 1). */
  withRepeats(repeats: i64): JobRequest {
    this.repeats = repeats;
    return this;
  }

  /** Sets `ttl` (needs a schedule). */
  withTtl(ttl: string): JobRequest {
    this.ttl = ttl;
    return this;
  }

  /** Sets `data`, JSON text (`'"hello"'`, `'123'`, `'{"a":1}'`). */
  withData(json: string): JobRequest {
    this.data = json;
    return this;
  }

  /** Sets `overwrite` (default `true` here; the field's own default is `false`). */
  withOverwrite(overwrite: bool = true): JobRequest {
    this.overwrite = overwrite;
    return this;
  }

  /** Sets `failurePolicy`. */
  withFailurePolicy(policy: FailurePolicy): JobRequest {
    this.failurePolicy = policy;
    return this;
  }

  /**
   * The protojson request body: `schedule`, `dueTime`, `repeats`, `ttl`, `data`,
   * `overwrite`, `failurePolicy`, each only when set (`overwrite` only when `true`).
   */
  toJson(): string {
    const w = new JsonObjectWriter()
      .optString("schedule", this.schedule)
      .optString("dueTime", this.dueTime);
    if (this.repeats != 0) w.int("repeats", this.repeats);
    w.optString("ttl", this.ttl);
    const d = this.data;
    if (d != null) w.raw("data", d.trim());
    if (this.overwrite) w.bool("overwrite", true);
    const p = this.failurePolicy;
    if (p != null) w.raw("failurePolicy", p.toJson());
    return w.build();
  }
}

/** A scheduled job as `getJob` answers it. Absent fields are `null` (`repeats`: 0). */
export class Job {
  constructor(
    /** `name`. */
    public readonly name: string,
    /** `schedule`, or `null`. */
    public readonly schedule: string | null,
    /** `repeats`, 0 if not set. */
    public readonly repeats: i64,
    /** `dueTime`, or `null`. */
    public readonly dueTime: string | null,
    /** `ttl`, or `null`. */
    public readonly ttl: string | null,
    /**
     * `data` as JSON text, unwrapped from daprd's
     * `{"@type":"type.googleapis.com/google.protobuf.Value","value":…}`; or `null`.
     */
    public readonly data: string | null,
    /** `failurePolicy`, or `null` (daprd stores the default, so it is normally set). */
    public readonly failurePolicy: FailurePolicy | null,
  ) {}
}

/**
 * Reads a `GET /v1.0/jobs/{name}` answer (protojson `Job`; snake_case accepted too).
 * `data` is unwrapped from its `google.protobuf.Any` (a member `value` beside `@type`);
 * a bare value is taken as is. `null` when `text` is not a JSON object or a field has
 * the wrong type.
 */
export function parseJob(text: string): Job | null {
  const obj = parseObject(text);
  if (obj == null) return null;
  const name = memberString(obj, "name");
  const schedule = optStringMember(obj, "schedule", "schedule");
  const dueTime = optStringMember(obj, "dueTime", "due_time");
  const ttl = optStringMember(obj, "ttl", "ttl");
  if (schedule.bad || dueTime.bad || ttl.bad) return null;
  let repeats: i64 = 0;
  const r = member(obj, "repeats");
  if (r != null) {
    repeats = protoInteger(r);
    if (repeats < 0) return null;
  }
  let data = member(obj, "data");
  if (data != null) {
    const any = parseObject(data);
    if (any != null && any.has("@type")) data = member(any, "value");
    if (data == "null") data = null;
  }
  let fp = member(obj, "failurePolicy");
  if (fp == null) fp = member(obj, "failure_policy");
  let policy: FailurePolicy | null = null;
  if (fp != null) {
    policy = FailurePolicy.parse(fp);
    if (policy == null) return null;
  }
  return new Job(name != null ? name : "", schedule.value, repeats, dueTime.value, ttl.value, data, policy);
}

/** A protojson integer (a JSON number or a string of digits); -1 if it is neither. */
export function protoInteger(raw: string): i64 {
  let t = raw.trim();
  if (t.length >= 2 && t.charCodeAt(0) == 0x22 /* " */ && t.charCodeAt(t.length - 1) == 0x22) {
    t = t.substring(1, t.length - 1);
  }
  if (!isInteger(t) || t.startsWith("-") || t.length > 18) return -1;
  return I64.parseInt(t);
}

class OptString {
  constructor(
    public value: string | null,
    public bad: bool,
  ) {}
}

function optStringMember(obj: Map<string, JSON.Raw>, camel: string, snake: string): OptString {
  let raw = member(obj, camel);
  let key = camel;
  if (raw == null) {
    raw = member(obj, snake);
    key = snake;
  }
  if (raw == null || raw == "null") return new OptString(null, false);
  const s = memberString(obj, key);
  return new OptString(s, s == null);
}

/**
 * `true` for daprd's answer to a GET of a job that does not exist: 500
 * `DAPR_SCHEDULER_GET_JOB` with "not found" in the message, or a 404.
 */
export function isJobNotFound(e: DaprError): bool {
  if (e.kind != DaprErrorKind.Api) return false;
  if (e.status == 404) return true;
  const code = e.errorCode;
  return code != null && code == "DAPR_SCHEDULER_GET_JOB" && e.message.includes("not found");
}

/**
 * The jobs calls of `DaprClient` (see there).
 */
export class JobsClient extends LockClient {

  /**
   * `POST /v1.0/jobs/{name}` with the job's protojson body; 204 = scheduled. daprd
   * answers 409 `DAPR_SCHEDULER_SCHEDULE_JOB` when the job exists and `overwrite` is
   * not set, 400 `DAPR_SCHEDULER_SCHEDULE_EMPTY` without a schedule or due time.
   *
   * @param name - the job name (in the URL; never in the body)
   * @param job - schedule, due time, data, ...
   * @returns `null` once scheduled, else the error
   */
  scheduleJob(name: string, job: JobRequest): DaprError | null {
    const bad = requireName("job name", name.trim());
    if (bad) return bad;
    const d = job.data;
    if (d != null && !isValidJson(d)) {
      return DaprError.invalidArgument("the job data is not valid JSON text: " + d);
    }
    return this.callJson(Method.POST, this.jobUrl(name), job.toJson()).error;
  }

  /**
   * `GET /v1.0/jobs/{name}`. A job that does not exist answers `null`: daprd says so
   * with 500 `DAPR_SCHEDULER_GET_JOB` "failed to get job due to: …job not found…"
   * (never 404; a 404 is read the same way). Other errors are errors.
   *
   * @param name - the job name
   * @returns the job as the scheduler stores it, or `null` when there is none
   */
  getJob(name: string): DaprResult<Job> {
    const bad = requireName("job name", name.trim());
    if (bad) return err<Job, DaprError>(bad);
    const r = this.callForJson(Method.GET, this.jobUrl(name));
    if (r.error) {
      const e = r.error!;
      if (isJobNotFound(e)) return ok<Job, DaprError>(null);
      return err<Job, DaprError>(e);
    }
    const job = parseJob(r.value!.text);
    if (job == null) return err<Job, DaprError>(r.value!.invalid("the job answer is not a protojson Job"));
    return ok<Job, DaprError>(job);
  }

  /**
   * `DELETE /v1.0/jobs/{name}`; 204, also when there was no such job.
   *
   * @param name - the job name
   * @returns `null` once deleted, else the error
   */
  deleteJob(name: string): DaprError | null {
    const bad = requireName("job name", name.trim());
    if (bad) return bad;
    return this.call(Method.DELETE, this.jobUrl(name)).error;
  }

  private jobUrl(name: string): string {
    return this.url().raw("v1.0/jobs").segment(name).build();
  }
}
