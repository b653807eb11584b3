/**
 * The few WASI preview-1 helpers the SDK needs: environment lookup, sleeping and a
 * monotonic clock. The calls go through `@assemblyscript/wasi-shim`'s typed bindings
 * (`bindings/wasi_snapshot_preview1`), so the layout of a clock subscription is the
 * shim's `subscription_clock` class, not offsets written here.
 *
 * @packageDocumentation
 */

import {
  clockid,
  environ_get,
  environ_sizes_get,
  errno,
  event,
  eventtype,
  poll_oneoff,
  subscription_clock,
} from "bindings/wasi_snapshot_preview1";

let ENV: Map<string, string> | null = null;

// environ_sizes_get's two out-parameters: the variable count, then the text size.
const ENV_SIZES: usize = memory.data(2 * sizeof<usize>());

/**
 * The module's environment, read once. Unlike the shim's `process.env` this never
 * aborts: an empty environment is skipped without calling `environ_get`, and a WASI
 * error gives an empty map. A repeated name keeps its first value.
 *
 * @returns name → value of every environment variable
 */
export function environment(): Map<string, string> {
  const cached = ENV;
  if (cached != null) return cached;
  const env = new Map<string, string>();
  ENV = env;
  if (environ_sizes_get(ENV_SIZES, ENV_SIZES + sizeof<usize>()) != errno.SUCCESS) return env;
  const count = <i32>load<usize>(ENV_SIZES);
  const size = <i32>load<usize>(ENV_SIZES, sizeof<usize>());
  if (count <= 0) return env;
  const ptrs = new ArrayBuffer(count * <i32>sizeof<usize>());
  const buf = new ArrayBuffer(size > 0 ? size : 1);
  const base = changetype<usize>(buf);
  if (environ_get(changetype<usize>(ptrs), base) != errno.SUCCESS) return env;
  for (let i = 0; i < count; i++) {
    const start = load<usize>(changetype<usize>(ptrs) + <usize>i * sizeof<usize>());
    if (start < base || start >= base + <usize>size) continue;
    let end = start;
    while (end < base + <usize>size && load<u8>(end) != 0) end++;
    const entry = String.UTF8.decodeUnsafe(start, end - start);
    const eq = entry.indexOf("=");
    if (eq < 0) env.set(entry, "");
    else if (!env.has(entry.substring(0, eq))) env.set(entry.substring(0, eq), entry.substring(eq + 1));
  }
  return env;
}

/**
 * The guest's environment variable `name`.
 *
 * @param name - the variable's name, e.g. `DAPR_HTTP_PORT`
 * @returns its value, or `null` if it is not set
 */
export function getEnv(name: string): string | null {
  const env = environment();
  if (!env.has(name)) return null;
  return env.get(name);
}

// poll_oneoff's buffers: one clock subscription, one event, the event count.
const SUBSCRIPTION: usize = memory.data(offsetof<subscription_clock>());
const EVENT: usize = memory.data(offsetof<event>());
const EVENT_COUNT: usize = memory.data(sizeof<usize>());

/**
 * Blocks the module for `millis` milliseconds: WASI `poll_oneoff` on one relative
 * timeout of the monotonic clock (1 ms precision). Does nothing for `millis <= 0`.
 *
 * @param millis - how long to sleep, in milliseconds
 */
export function sleepMillis(millis: i64): void {
  if (millis <= 0) return;
  memory.fill(SUBSCRIPTION, 0, offsetof<subscription_clock>());
  const sub = changetype<subscription_clock>(SUBSCRIPTION);
  sub.userdata = 1;
  sub.type = eventtype.CLOCK;
  sub.clock_id = clockid.MONOTONIC;
  sub.timeout = <u64>millis * 1_000_000; // ns
  sub.precision = 1_000_000;
  sub.flags = 0; // relative
  poll_oneoff(SUBSCRIPTION, EVENT, 1, EVENT_COUNT);
}

/**
 * Monotonic time in milliseconds (the shim's `process.hrtime()`).
 *
 * @returns milliseconds since an arbitrary fixed point
 */
export function nowMillis(): i64 {
  return <i64>(process.hrtime() / 1_000_000);
}
