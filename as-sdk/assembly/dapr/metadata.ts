/**
 * The sidecar itself: its metadata (read and extend), health, waiting until it is ready,
 * and shutting it down.
 *
 * @packageDocumentation
 */

import { Method, stringToBytes } from "../http";
import { ok, err } from "../result";
import { JSON, decodeString, memberArray, memberString, memberStringMap, parseObject } from "../json";
import { nowMillis, sleepMillis } from "../wasi";
import { DaprError, DaprResult } from "./error";
import { orEmpty, requireName } from "./client";
import { ActorsClient } from "./actors";

/** One component as listed by the metadata API. */
export class ComponentMetadata {
  constructor(
    /** The component's name, e.g. `statestore`. */
    public readonly name: string,
    /** Its type, e.g. `state.redis`. */
    public readonly type: string,
    /** Its version, e.g. `v1` (`""` if not reported). */
    public readonly version: string,
    /** Its capabilities, e.g. `ETAG`, `TRANSACTIONAL`. */
    public readonly capabilities: string[],
  ) {}
}

/** The sidecar's metadata (`GET /v1.0/metadata`). */
export class SidecarMetadata {
  constructor(
    /** The app id. */
    public readonly id: string,
    /** The runtime version, or "" if not reported. */
    public readonly runtimeVersion: string,
    /** Loaded components. */
    public readonly components: ComponentMetadata[],
    /** `extended` attributes. */
    public readonly extended: Map<string, string>,
    /** The whole JSON answer, for fields not modelled here. */
    public readonly json: string,
  ) {}
}

/**
 * The metadata and health calls of `DaprClient` (see there).
 */
export class MetadataClient extends ActorsClient {

  /** `GET /v1.0/metadata`. */
  getMetadata(): DaprResult<SidecarMetadata> {
    const r = this.callForJson(Method.GET, this.url().raw("v1.0/metadata").build());
    if (r.error) return err<SidecarMetadata, DaprError>(r.error!);
    const a = r.value!;
    const obj = a.obj;
    if (obj == null) {
      return err<SidecarMetadata, DaprError>(a.invalid("metadata answer is not a JSON object"));
    }
    const text = a.text;
    const components = new Array<ComponentMetadata>();
    const arr = memberArray(obj, "components");
    if (arr != null) {
      for (let i = 0; i < arr.length; i++) {
        const c = parseObject(arr[i].toString());
        if (c == null) continue;
        components.push(
          new ComponentMetadata(
            orEmpty(memberString(c, "name")),
            orEmpty(memberString(c, "type")),
            orEmpty(memberString(c, "version")),
            stringsOf(memberArray(c, "capabilities")),
          ),
        );
      }
    }
    return ok<SidecarMetadata, DaprError>(
      new SidecarMetadata(
        orEmpty(memberString(obj, "id")),
        orEmpty(memberString(obj, "runtimeVersion")),
        components,
        memberStringMap(obj, "extended"),
        text,
      ),
    );
  }

  /**
   * `PUT /v1.0/metadata/{key}` with `value` as the body: sets `extended[key]`.
   *
   * @param key - the attribute name
   * @param value - its value
   * @returns `null` on success, else the error
   */
  setMetadata(key: string, value: string): DaprError | null {
    const bad = requireName("metadata key", key);
    if (bad) return bad;
    const u = this.url().raw("v1.0/metadata").segment(key).build();
    return this.call(Method.PUT, u, stringToBytes(value), "text/plain").error;
  }

  /** `GET /v1.0/healthz`: `null` when the sidecar is healthy (204). */
  healthz(): DaprError | null {
    return this.call(Method.GET, this.url().raw("v1.0/healthz").build()).error;
  }

  /** `GET /v1.0/healthz/outbound`: `null` once the sidecar can serve the app's calls. */
  healthzOutbound(): DaprError | null {
    return this.call(Method.GET, this.url().raw("v1.0/healthz/outbound").build()).error;
  }

  /**
   * Polls `healthz/outbound` every `intervalMillis` until it answers 2xx or
   * `timeoutMillis` passes; answers the last error on timeout. A denied address
   * (allowlist) fails at once: waiting would not help.
   *
   * @param timeoutMillis - how long to wait at the most
   * @param intervalMillis - the pause between two polls
   * @returns `null` once the sidecar is ready, else the last error
   */
  waitForSidecar(timeoutMillis: i64 = 60_000, intervalMillis: i64 = 100): DaprError | null {
    const deadline = nowMillis() + timeoutMillis;
    while (true) {
      const e = this.healthzOutbound();
      if (e == null) return null;
      if (e.isDenied()) return e;
      if (nowMillis() >= deadline) {
        return new DaprError(
          e.kind,
          e.status,
          e.errorCode,
          "the sidecar at " +
            this.endpoint +
            " was not ready within " +
            timeoutMillis.toString() +
            " ms: " +
            e.message,
          e.httpError,
          e.body,
        );
      }
      sleepMillis(intervalMillis);
    }
  }

  /** `POST /v1.0/shutdown`: asks the sidecar to shut down. */
  shutdown(): DaprError | null {
    return this.call(Method.POST, this.url().raw("v1.0/shutdown").build()).error;
  }
}

/** The elements of `arr` that are JSON strings, decoded; `[]` for `null`. */
function stringsOf(arr: JSON.Raw[] | null): string[] {
  const out = new Array<string>();
  if (arr == null) return out;
  for (let i = 0; i < arr.length; i++) {
    const s = decodeString(arr[i].toString());
    if (s != null) out.push(s);
  }
  return out;
}
