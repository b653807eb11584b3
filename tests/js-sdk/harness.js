// Starts a real `wasi-dapr sidecar` on free loopback ports with a resources folder the
// tests write themselves, and stops it afterwards (SIGTERM, then SIGKILL after a bound).
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync, existsSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "..", "..");

/** Bounds, in milliseconds. */
export const STARTUP_MS = 20_000;
const STOP_MS = 5_000;

let binaryPath;

/**
 * The sidecar binary: `$WASI_DAPR` if set, else `cargo build -p wasi-dapr` once and
 * `$CARGO_TARGET_DIR/debug/wasi-dapr` (default `target/`).
 */
export function wasiDapr() {
  if (binaryPath) return binaryPath;
  if (process.env.WASI_DAPR) {
    binaryPath = process.env.WASI_DAPR;
  } else {
    const target = process.env.CARGO_TARGET_DIR || join(repo, "target");
    const built = spawnSync("cargo", ["build", "-q", "-p", "wasi-dapr"], {
      cwd: repo,
      stdio: ["ignore", "inherit", "inherit"],
      timeout: 15 * 60_000,
    });
    if (built.status !== 0) throw new Error(`cargo build -p wasi-dapr failed (${built.status})`);
    binaryPath = join(target, "debug", "wasi-dapr");
  }
  if (!existsSync(binaryPath)) throw new Error(`no wasi-dapr binary at ${binaryPath}`);
  return binaryPath;
}

/** A free TCP port on 127.0.0.1 (asked of the kernel, then released). */
export function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

/** A component document (`kind: Component`) as YAML. */
export function component(name, type, metadata = {}, extra = "") {
  const md = Object.entries(metadata)
    .map(([k, v]) => `  - name: ${k}\n    value: ${JSON.stringify(String(v))}`)
    .join("\n");
  return (
    `apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: ${name}\n` +
    `spec:\n  type: ${type}\n  version: v1\n${extra}  metadata:${md ? "\n" + md : " []"}\n`
  );
}

/**
 * The resources every suite uses: state, two pub/subs (one with `allowedTopics`), a
 * localstorage binding, a local-file secret store, a lock store, a configuration store and
 * a `conversation.echo` (with `ignoreErrors`, so a sidecar without it still starts).
 */
export function standardResources(dir) {
  const files = join(dir, "files");
  mkdirSync(files, { recursive: true });
  writeFileSync(
    join(dir, "secrets.json"),
    JSON.stringify({ "db-password": "s3cret", api: { user: "ann", key: "k-123" } }),
  );
  return {
    "statestore.yaml": component("statestore", "state.in-memory"),
    "pubsub.yaml": component("pubsub", "pubsub.in-memory"),
    "restricted.yaml": component("restricted", "pubsub.in-memory", { allowedTopics: "allowed" }),
    "files.yaml": component("files", "bindings.localstorage", { rootPath: files }),
    "secretstore.yaml": component("secretstore", "secretstores.local.file", {
      secretsFile: join(dir, "secrets.json"),
      nestedSeparator: ":",
    }),
    "lockstore.yaml": component("lockstore", "lock.in-memory"),
    "configstore.yaml": component("configstore", "configuration.in-memory", {
      greeting: "hello",
      color: "blue",
    }),
    "echo.yaml": component("echo", "conversation.echo", {}, "  ignoreErrors: true\n"),
  };
}

/**
 * Starts `wasi-dapr sidecar --dapr-http-port 0` with the given resources and waits until it
 * listens. Returns `{ port, url, dir, logs(), stop() }`; `stop` is safe to call twice.
 */
export async function startSidecar({ appId = "jssdk", appPort, resources, apiToken, appApiToken } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "wasi-dapr-jssdk-"));
  const resourcesDir = join(dir, "resources");
  mkdirSync(resourcesDir);
  const docs = resources ? resources(dir) : standardResources(dir);
  for (const [name, text] of Object.entries(docs)) writeFileSync(join(resourcesDir, name), text);

  const args = ["sidecar", "--dapr-http-port", "0", "--app-id", appId];
  args.push("--resources-path", resourcesDir);
  if (appPort) args.push("--app-port", String(appPort));
  const env = { ...process.env, RUST_LOG: process.env.RUST_LOG || "warn" };
  for (const k of ["DAPR_HTTP_PORT", "APP_ID", "APP_PORT", "DAPR_API_TOKEN", "APP_API_TOKEN"]) {
    delete env[k];
  }
  if (apiToken) env.DAPR_API_TOKEN = apiToken;
  if (appApiToken) env.APP_API_TOKEN = appApiToken;

  const child = spawn(wasiDapr(), args, { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  // A runner stopped by a signal (run.sh's overall timeout) takes its sidecar with it.
  for (const sig of ["SIGTERM", "SIGINT"]) process.once(sig, () => process.exit(1));

  const exited = new Promise((ok) => child.once("exit", (code, signal) => ok({ code, signal })));
  const port = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`sidecar did not start in ${STARTUP_MS} ms:\n${out}`)), STARTUP_MS);
    const look = () => {
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        ok(Number(m[1]));
      }
    };
    child.stdout.on("data", look);
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      fail(new Error(`sidecar exited (${code ?? signal}) before listening:\n${out}`));
    });
  }).catch((e) => {
    child.kill("SIGKILL");
    throw e;
  });

  let stopped;
  const stop = () => {
    stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const t = setTimeout(() => child.kill("SIGKILL"), STOP_MS);
        await exited;
        clearTimeout(t);
      }
      process.removeListener("exit", killOnExit);
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };
  return { port, url: `http://127.0.0.1:${port}`, dir, logs: () => out, stop };
}

/** Polls `fn` until it returns a truthy value or `ms` pass; returns the last value. */
export async function eventually(fn, ms = 5_000, every = 50) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, every));
  }
}

/**
 * Parses the error the SDK's HTTP transport throws (`{"error","error_msg","status"}` as the
 * message) into `{ status, body }`, `body` parsed as JSON when it is JSON.
 */
export function sdkError(e) {
  const outer = JSON.parse(e.message);
  let body = outer.error_msg;
  try {
    body = JSON.parse(body);
  } catch {
    // text body (e.g. "invalid api token")
  }
  return { status: outer.status, body };
}

/** Runs `fn`, which must throw a transport error; returns it parsed by `sdkError`. */
export async function rejected(fn) {
  try {
    await fn();
  } catch (e) {
    return sdkError(e);
  }
  throw new Error("expected the call to fail");
}

/** A plain fetch against the sidecar, for what the SDK hides (status, headers). */
export async function raw(url, path, init = {}) {
  const res = await fetch(url + path, { ...init, signal: AbortSignal.timeout(5_000) });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** SDK logger options: silent unless `JSSDK_LOG=1` (the SDK logs every failed call). */
export function sdkLogger() {
  if (process.env.JSSDK_LOG === "1") return { level: 4 };
  const quiet = () => {};
  return { level: 0, service: { error: quiet, warn: quiet, info: quiet, verbose: quiet, debug: quiet } };
}
