/**
 * The tiny test runner of `unit.ts` and `integration.ts`: one `ok - name` /
 * `not ok - name` / `skip - name (why)` line a test, `    FAIL: …` lines for failed
 * checks, and a summary line that ends the module (`N passed, N failed`).
 *
 * @packageDocumentation
 */

let passed = 0;
let failed = 0;
let skipped = 0;
let currentFailed = false;

function nothing(): void {}
function nothingLeft(): string | null {
  return null;
}

let beforeEach: () => void = nothing;
let leftOver: () => string | null = nothingLeft;

/**
 * Hooks around every test.
 *
 * @param before - runs before each test (e.g. resets a mock)
 * @param after - runs after each test; a non-null answer fails the test with that message
 */
export function aroundEachTest(before: () => void, after: () => string | null): void {
  beforeEach = before;
  leftOver = after;
}

/** Fails the running test with `what`. */
export function fail(what: string): void {
  currentFailed = true;
  console.log("    FAIL: " + what);
}

/** Fails the running test with `what` unless `cond` holds. */
export function check(cond: bool, what: string): void {
  if (!cond) fail(what);
}

/** Runs test `name`: prints `ok - name` or `not ok - name` and counts it. */
export function test(name: string, f: () => void): void {
  currentFailed = false;
  beforeEach();
  f();
  const left = leftOver();
  if (left != null) fail(left);
  if (currentFailed) {
    failed++;
    console.log("not ok - " + name);
  } else {
    passed++;
    console.log("ok - " + name);
  }
}

/** Counts test `name` as skipped, and says why. */
export function skip(name: string, why: string): void {
  skipped++;
  console.log("skip - " + name + " (" + why + ")");
}

/**
 * Prints the summary line and exits: 1 if a test failed, else 0.
 *
 * @param withSkipped - also count the skipped tests (`N passed, N failed, N skipped`)
 */
export function finish(withSkipped: bool = false): void {
  let line = passed.toString() + " passed, " + failed.toString() + " failed";
  if (withSkipped) line += ", " + skipped.toString() + " skipped";
  console.log(line);
  process.exit(failed > 0 ? 1 : 0);
}
