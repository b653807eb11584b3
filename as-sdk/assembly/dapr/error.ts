/**
 * `DaprError`: how every failed Dapr call answers, and `DaprResult<T>`.
 *
 * @packageDocumentation
 */

import { HttpError } from "../http";
import { Result } from "../result";
import { memberString, parseObject } from "../json";

/** What kind of failure a `DaprError` is. */
export enum DaprErrorKind {
  /** The HTTP call itself failed (denied by the allowlist, sidecar down, ...): see `httpError`. */
  Transport = 1,
  /** The sidecar answered with an error status: see `status`, `errorCode`, `message`. */
  Api = 2,
  /** The SDK refused the arguments before sending anything. */
  InvalidArgument = 3,
  /** The sidecar answered success with a body the SDK cannot read. */
  InvalidResponse = 4,
}

/** A failed Dapr call. */
export class DaprError {
  constructor(
    /** What failed: see `DaprErrorKind`. */
    public readonly kind: DaprErrorKind,
    /** The HTTP status from the sidecar (`Api`, `InvalidResponse`), else 0. */
    public readonly status: u16,
    /** Dapr's `errorCode` (e.g. `ERR_STATE_SAVE`), or `null` if the body had none. */
    public readonly errorCode: string | null,
    /** Dapr's `message`, or a description of what failed. */
    public readonly message: string,
    /** The transport error (`Transport` only). */
    public readonly httpError: HttpError | null = null,
    /** The raw response body (`Api`, `InvalidResponse`). */
    public readonly body: string = "",
  ) {}

  /** A transport failure. */
  static transport(e: HttpError): DaprError {
    return new DaprError(DaprErrorKind.Transport, 0, null, e.message, e);
  }

  /** A refused argument. */
  static invalidArgument(message: string): DaprError {
    return new DaprError(DaprErrorKind.InvalidArgument, 0, null, message);
  }

  /** A success status with an unreadable body. */
  static invalidResponse(status: u16, message: string, body: string): DaprError {
    return new DaprError(DaprErrorKind.InvalidResponse, status, null, message, null, body);
  }

  /**
   * An error answer from the sidecar. A JSON body `{"errorCode","message",...}` gives
   * `errorCode` and `message` (other fields are ignored); any other body (e.g. the
   * 401 `text/plain` "invalid api token") becomes the message as is.
   */
  static fromResponse(status: u16, body: string, what: string): DaprError {
    let code: string | null = null;
    let message: string | null = null;
    const obj = parseObject(body);
    if (obj != null) {
      code = memberString(obj, "errorCode");
      message = memberString(obj, "message");
    }
    if (message == null) {
      const t = body.trim();
      message = t.length > 0 ? t : "HTTP " + status.toString() + " from " + what;
    }
    return new DaprError(DaprErrorKind.Api, status, code, message!, null, body);
  }

  /**
   * `true` for an ETag conflict: a 409 on save/delete, or a failed transaction whose
   * message mentions the etag (daprd answers 500 `ERR_STATE_TRANSACTION` there).
   */
  isEtagMismatch(): bool {
    if (this.kind != DaprErrorKind.Api) return false;
    const code = this.errorCode;
    if (this.status == 409) {
      return code == null || code == "ERR_STATE_SAVE" || code == "ERR_STATE_DELETE";
    }
    if (code != null && code == "ERR_STATE_TRANSACTION") {
      return this.message.toLowerCase().includes("etag");
    }
    return false;
  }

  /** `true` when the host's allowlist refused the sidecar address. */
  isDenied(): bool {
    const h = this.httpError;
    return h != null && h.isDenied();
  }

  /** `true` when the sidecar could not be reached at all. */
  isTransport(): bool {
    return this.kind == DaprErrorKind.Transport;
  }

  /**
   * A one-line description: `dapr error <status> <errorCode>: <message>` for an `Api`
   * error, the message for any other kind.
   */
  toString(): string {
    if (this.kind == DaprErrorKind.Api) {
      const code = this.errorCode;
      return (
        "dapr error " +
        this.status.toString() +
        (code != null ? " " + code : "") +
        ": " +
        this.message
      );
    }
    return this.message;
  }
}

/** Shorthand for the answer of a Dapr call. */
export type DaprResult<T> = Result<T, DaprError>;
