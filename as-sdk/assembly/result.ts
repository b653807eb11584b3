/**
 * `Result<T, E>`: a value or an error, never both; how every fallible call answers.
 *
 * @packageDocumentation
 */

/**
 * The outcome of a fallible call. Exactly one of these holds:
 * - `error != null`: the call failed, `value` is `null`;
 * - `error == null`: the call succeeded, `value` is the answer (which may itself be
 *   `null` where the method documents it, e.g. a missing state key).
 *
 * Nothing here aborts: read `error` first, then `value`.
 */
export class Result<T, E> {
  constructor(
    /** The successful value (see the calling method for when it may be `null`). */
    public readonly value: T | null,
    /** The error, or `null` on success. */
    public readonly error: E | null,
  ) {}

  /** `true` when the call succeeded. */
  get isOk(): bool {
    return this.error == null;
  }

  /** `true` when the call failed. */
  get isErr(): bool {
    return this.error != null;
  }

  /** The value, or `fallback` if the call failed or the value is `null`. */
  valueOr(fallback: T): T {
    if (this.error != null) return fallback;
    const v = this.value;
    if (v == null) return fallback;
    return v;
  }
}

/** A successful `Result`. */
export function ok<T, E>(value: T | null): Result<T, E> {
  return new Result<T, E>(value, null);
}

/** A failed `Result`. */
export function err<T, E>(error: E): Result<T, E> {
  return new Result<T, E>(null, error);
}
