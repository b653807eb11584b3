//! The few WASI preview-1 helpers the SDK needs: environment lookup and sleeping.

// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "poll_oneoff")
declare function poll_oneoff(in_: usize, out: usize, nsubscriptions: usize, nevents_out: usize): u16;

// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "environ_sizes_get")
declare function environ_sizes_get(count_out: usize, size_out: usize): u16;

// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "environ_get")
declare function environ_get(ptrs: usize, buf: usize): u16;

let ENV: Map<string, string> | null = null;

/**
 * The module's environment, read once. Unlike the shim's `process.env` this never
 * aborts: an empty environment is skipped without calling `environ_get`, and a WASI
 * error gives an empty map.
 */
export function environment(): Map<string, string> {
  const cached = ENV;
  if (cached != null) return cached;
  const env = new Map<string, string>();
  ENV = env;
  const sizes = memory.data(8);
  if (environ_sizes_get(sizes, sizes + 4) != 0) return env;
  const count = <i32>load<u32>(sizes);
  const size = <i32>load<u32>(sizes + 4);
  if (count <= 0) return env;
  const ptrs = new ArrayBuffer(count * 4);
  const buf = new ArrayBuffer(size > 0 ? size : 1);
  const base = changetype<usize>(buf);
  if (environ_get(changetype<usize>(ptrs), base) != 0) return env;
  for (let i = 0; i < count; i++) {
    const start = <usize>load<u32>(changetype<usize>(ptrs) + <usize>(i * 4));
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

/** The guest's environment variable `name`, or `null` if it is not set. */
export function getEnv(name: string): string | null {
  const env = environment();
  if (!env.has(name)) return null;
  return env.get(name);
}

// One clock subscription (48 bytes) and one event (32 bytes) plus the event count.
const SUB: usize = memory.data(48);
const EVT: usize = memory.data(40);

/** Blocks the module for `millis` milliseconds (WASI `poll_oneoff` on a relative clock). */
export function sleepMillis(millis: i64): void {
  if (millis <= 0) return;
  memory.fill(SUB, 0, 48);
  store<u64>(SUB, 1); // userdata
  store<u8>(SUB + 8, 0); // eventtype::clock
  store<u32>(SUB + 16, 1); // clockid::monotonic
  store<u64>(SUB + 24, <u64>millis * 1_000_000); // timeout, ns
  store<u64>(SUB + 32, 1_000_000); // precision
  store<u16>(SUB + 40, 0); // relative
  poll_oneoff(SUB, EVT, 1, EVT + 32);
}

/** Monotonic time in milliseconds. */
export function nowMillis(): i64 {
  return <i64>(process.hrtime() / 1_000_000);
}
