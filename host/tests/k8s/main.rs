//! `Dockerfile` and `examples/k8s/`, checked statically (there is no Docker engine or
//! cluster here): every manifest parses, every Deployment carries the Dapr annotations
//! its role needs, and ports, tokens, probes, the allowlist, the image's files and the
//! README agree with each other and with `wasi-dapr`'s own defaults.
//!
//! Each check is a function that returns the problems it finds, so each has a bad-input
//! twin: a deliberately broken copy of the real text must be reported.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_yaml_ng::Value;
use wasi_dapr::config::HostConfig;
use wasi_dapr::defaults;

/// Where daprd listens in a pod (the injector sets `DAPR_HTTP_PORT=3500`).
const POD_SIDECAR: [&str; 2] = ["http://127.0.0.1:3500", "http://localhost:3500"];

/// `wasi-dapr` defaults (`wasi_dapr::defaults`), used when a flag is not given.
const SERVE_DEFAULT_HEALTH: &str = defaults::SERVE_HEALTH_PATH;
const SERVE_DEFAULT_READY: &str = defaults::SERVE_READY_PATH;
const SERVE_DEFAULT_MAX_CONCURRENT: u64 = defaults::SERVE_MAX_CONCURRENT as u64;
const SERVE_DEFAULT_MAX_MEMORY_MIB: u64 = defaults::SERVE_MAX_MEMORY_MIB as u64;
const SERVE_DEFAULT_PREPARED: u64 = defaults::SERVE_PREPARED_INSTANCES as u64;
const RUN_DEFAULT_MAX_MEMORY_MIB: u64 = defaults::RUN_MAX_MEMORY_MIB as u64;

/// `wasi-dapr` options that take no value.
const FLAGS: &[&str] = &["--dev", "--no-cache"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Every `.yaml`/`.yml` file of examples/k8s in name order (the order of
/// `kubectl apply -f examples/k8s/`), as (file name, text).
fn manifest_files() -> Vec<(String, String)> {
    let dir = root().join("examples/k8s");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .map(|p| {
            let name = p
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            (name, read(&p))
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no YAML files in {}", dir.display());
    files
}

fn dockerfile_text() -> String {
    read(&root().join("Dockerfile"))
}

/// The workspace's `rust-version` (Cargo.toml), as (major, minor).
fn workspace_rust_version() -> (u32, u32) {
    let manifest: toml::Value =
        toml::from_str(&read(&root().join("Cargo.toml"))).expect("Cargo.toml parses");
    let version = manifest["workspace"]["package"]["rust-version"]
        .as_str()
        .expect("workspace rust-version");
    parse_version(version).expect("rust-version is MAJOR.MINOR")
}

fn parse_version(v: &str) -> Option<(u32, u32)> {
    let mut parts = v.split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

// ---------------------------------------------------------------------------------------
// YAML

/// One YAML document of a manifest file.
#[derive(Debug, Clone)]
struct Doc {
    file: String,
    value: Value,
}

impl Doc {
    fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or("")
    }

    fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or("")
    }

    /// `file Kind/name`, for messages.
    fn id(&self) -> String {
        format!("{} {}/{}", self.file, self.kind(), self.name())
    }
}

/// Parses every document of a (multi-document) YAML file; empty documents are skipped.
/// Every document must name its `apiVersion`, `kind` and `metadata.name`.
fn parse_yaml(file: &str, text: &str) -> Result<Vec<Doc>, String> {
    let mut docs = Vec::new();
    for (i, de) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let n = i + 1;
        let value = Value::deserialize(de).map_err(|e| format!("{file}: document {n}: {e}"))?;
        if value.is_null() {
            continue;
        }
        for key in ["apiVersion", "kind"] {
            if !value[key].is_string() {
                return Err(format!("{file}: document {n} has no `{key}`"));
            }
        }
        if !value["metadata"]["name"].is_string() {
            return Err(format!("{file}: document {n} has no `metadata.name`"));
        }
        docs.push(Doc {
            file: file.to_string(),
            value,
        });
    }
    Ok(docs)
}

fn parse_all(files: &[(String, String)]) -> Result<Vec<Doc>, String> {
    let mut docs = Vec::new();
    for (file, text) in files {
        docs.extend(parse_yaml(file, text)?);
    }
    Ok(docs)
}

fn find<'a>(docs: &'a [Doc], kind: &str, name: &str) -> Option<&'a Doc> {
    docs.iter().find(|d| d.kind() == kind && d.name() == name)
}

/// A list of strings, as Kubernetes wants `command`, `args`; a number is an error (it
/// must be quoted).
fn strings(v: &Value, what: &str) -> Result<Option<Vec<String>>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Sequence(items) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{what}: {item:?} is not a string (quote it)"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        other => Err(format!("{what}: expected a list of strings, got {other:?}")),
    }
}

/// `true` when every key of `subset` has the same value in `labels`.
fn selects(subset: &Value, labels: &Value) -> bool {
    subset
        .as_mapping()
        .is_some_and(|m| !m.is_empty() && m.iter().all(|(k, v)| labels.get(k) == Some(v)))
}

/// A Kubernetes memory quantity in bytes (`384Mi`, `1Gi`, `500M`, `1048576`).
fn memory_bytes(q: &str) -> Option<u64> {
    let units: [(&str, u64); 8] = [
        ("Ki", 1 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("Ti", 1 << 40),
        ("k", 1_000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
        ("T", 1_000_000_000_000),
    ];
    for (suffix, factor) in units {
        if let Some(n) = q.strip_suffix(suffix) {
            return n.parse::<u64>().ok().map(|n| n * factor);
        }
    }
    q.parse().ok()
}

// ---------------------------------------------------------------------------------------
// Dockerfile

/// The parts of a Dockerfile the checks read: stages and their instructions.
#[derive(Debug, Default)]
struct Dockerfile {
    stages: Vec<Stage>,
}

#[derive(Debug, Default)]
struct Stage {
    /// What follows `FROM` (`rust:1.95-slim-bookworm AS build`).
    from: String,
    /// (KEYWORD, rest of the line), continuation lines joined.
    instructions: Vec<(String, String)>,
}

impl Dockerfile {
    fn parse(text: &str) -> Result<Dockerfile, String> {
        let mut lines = Vec::new();
        let mut current = String::new();
        for line in text.lines() {
            let line = line.trim();
            // Comments (parser directives included) and blank lines, also inside a
            // continuation, are not part of any instruction.
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match line.strip_suffix('\\') {
                Some(head) => {
                    current.push_str(head);
                    current.push(' ');
                }
                None => {
                    current.push_str(line);
                    lines.push(std::mem::take(&mut current));
                }
            }
        }
        if !current.is_empty() {
            lines.push(current);
        }
        let mut file = Dockerfile::default();
        for line in lines {
            let (keyword, rest) = line.split_once(char::is_whitespace).unwrap_or((&line, ""));
            let keyword = keyword.to_ascii_uppercase();
            let rest = rest.trim().to_string();
            if keyword == "FROM" {
                file.stages.push(Stage {
                    from: rest,
                    instructions: Vec::new(),
                });
                continue;
            }
            let stage = file
                .stages
                .last_mut()
                .ok_or_else(|| format!("`{keyword}` before the first FROM"))?;
            stage.instructions.push((keyword, rest));
        }
        if file.stages.is_empty() {
            return Err("no FROM".into());
        }
        Ok(file)
    }

    fn final_stage(&self) -> &Stage {
        self.stages.last().expect("parse guarantees a stage")
    }
}

impl Stage {
    fn all<'a>(&'a self, keyword: &str) -> impl Iterator<Item = &'a str> + use<'a> {
        let keyword = keyword.to_string();
        self.instructions
            .iter()
            .filter(move |(k, _)| *k == keyword)
            .map(|(_, rest)| rest.as_str())
    }

    fn last(&self, keyword: &str) -> Option<&str> {
        self.all(keyword).last()
    }

    /// `ENTRYPOINT` / `CMD` in exec (JSON) form. The shell form is refused: under
    /// `/bin/sh -c` the host would not be PID 1 and would never see SIGTERM.
    fn exec_form(&self, keyword: &str) -> Result<Option<Vec<String>>, String> {
        match self.last(keyword) {
            None => Ok(None),
            Some(rest) => serde_json::from_str::<Vec<String>>(rest)
                .map(Some)
                .map_err(|_| {
                    format!("{keyword} must use the exec form [\"wasi-dapr\", ...], got {rest}")
                }),
        }
    }

    /// The paths the stage's `COPY`/`ADD` instructions create.
    fn copied_files(&self) -> BTreeSet<String> {
        let mut files = BTreeSet::new();
        for rest in self.all("COPY").chain(self.all("ADD")) {
            let words: Vec<&str> = rest
                .split_whitespace()
                .filter(|w| !w.starts_with("--"))
                .collect();
            let Some((dest, sources)) = words.split_last() else {
                continue;
            };
            if let Some(dir) = dest.strip_suffix('/') {
                for source in sources {
                    let base = source.rsplit('/').next().unwrap_or(source);
                    files.insert(format!("{dir}/{base}"));
                }
            } else {
                files.insert((*dest).to_string());
            }
        }
        files
    }
}

// ---------------------------------------------------------------------------------------
// `wasi-dapr` command lines

/// A `wasi-dapr` command line: the subcommand, its options and the module.
#[derive(Debug)]
struct Invocation {
    sub: String,
    options: BTreeMap<String, String>,
    module: Option<String>,
}

impl Invocation {
    fn option(&self, name: &str) -> Option<&str> {
        self.options.get(name).map(String::as_str)
    }

    fn number(&self, name: &str, default: u64) -> Result<u64, String> {
        self.option(name).map_or(Ok(default), |v| {
            v.parse()
                .map_err(|_| format!("{name} {v:?} is not a number"))
        })
    }
}

fn parse_invocation(argv: &[String]) -> Result<Invocation, String> {
    let (bin, rest) = argv.split_first().ok_or("an empty command")?;
    if Path::new(bin).file_name().is_none_or(|n| n != "wasi-dapr") {
        return Err(format!("runs {bin:?}, not wasi-dapr"));
    }
    let (sub, rest) = rest.split_first().ok_or("wasi-dapr without a subcommand")?;
    let mut options = BTreeMap::new();
    let mut module = None;
    let mut args = rest.iter();
    while let Some(arg) = args.next() {
        if arg == "--" {
            break; // the guest's own arguments follow
        }
        if arg.starts_with("--") {
            if let Some((name, value)) = arg.split_once('=') {
                options.insert(name.to_string(), value.to_string());
            } else if FLAGS.contains(&arg.as_str()) {
                options.insert(arg.clone(), String::new());
            } else {
                let value = args.next().ok_or_else(|| format!("{arg} has no value"))?;
                options.insert(arg.clone(), value.clone());
            }
        } else if module.is_none() {
            module = Some(arg.clone());
        } else {
            return Err(format!("unexpected argument {arg:?} after the module"));
        }
    }
    Ok(Invocation {
        sub: sub.clone(),
        options,
        module,
    })
}

/// What a container runs, with Kubernetes' rules: `command` replaces the image's
/// ENTRYPOINT (and drops its CMD), `args` replaces CMD.
fn container_argv(container: &Value, image: &Dockerfile) -> Result<Vec<String>, String> {
    let command = strings(&container["command"], "command")?;
    let args = strings(&container["args"], "args")?;
    let image = image.final_stage();
    Ok(match command {
        Some(mut argv) => {
            argv.extend(args.unwrap_or_default());
            argv
        }
        None => {
            let mut argv = image.exec_form("ENTRYPOINT")?.unwrap_or_default();
            argv.extend(match args {
                Some(args) => args,
                None => image.exec_form("CMD")?.unwrap_or_default(),
            });
            argv
        }
    })
}

/// The `wasi-dapr` command lines in an argv: the argv itself, or for `sh -c SCRIPT` each
/// script line that starts with `wasi-dapr `. Empty when the container is not ours.
fn invocations(argv: &[String]) -> Result<Vec<Invocation>, String> {
    let shell = argv.len() >= 3
        && Path::new(&argv[0])
            .file_name()
            .is_some_and(|n| n == "sh" || n == "bash")
        && argv[1] == "-c";
    if shell {
        return argv[2]
            .lines()
            .map(str::trim)
            .filter(|line| line.starts_with("wasi-dapr "))
            .map(|line| {
                parse_invocation(
                    &line
                        .split_whitespace()
                        .map(str::to_string)
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
    }
    if argv
        .first()
        .is_some_and(|bin| Path::new(bin).file_name().is_some_and(|n| n == "wasi-dapr"))
    {
        return Ok(vec![parse_invocation(argv)?]);
    }
    Ok(Vec::new())
}

// ---------------------------------------------------------------------------------------
// The checks

/// The Dockerfile: multi-stage, built with a Rust new enough for the workspace, a final
/// stage that is not the Rust image, runs as a numeric non-root user, and whose exec-form
/// ENTRYPOINT is `wasi-dapr serve` listening on all interfaces, with the module it
/// serves and the binary copied in.
fn check_dockerfile(text: &str, rust_version: (u32, u32)) -> Vec<String> {
    let file = match Dockerfile::parse(text) {
        Ok(file) => file,
        Err(e) => return vec![format!("Dockerfile: {e}")],
    };
    let mut problems = Vec::new();
    if file.stages.len() < 2 {
        problems.push(
            "Dockerfile: not multi-stage (build in a Rust image, ship a minimal one)".to_string(),
        );
    }
    let build_image = file.stages[0].from.split_whitespace().next().unwrap_or("");
    let build_image = build_image.trim_start_matches("docker.io/library/");
    match build_image.strip_prefix("rust:").and_then(|tag| parse_version(tag.split('-').next().unwrap_or(""))) {
        Some(v) if v >= rust_version => {}
        Some(v) => problems.push(format!(
            "Dockerfile: builds with rust {}.{}, older than the workspace's rust-version {}.{}",
            v.0, v.1, rust_version.0, rust_version.1
        )),
        None => problems.push(format!(
            "Dockerfile: the build stage is {build_image:?}, not an official `rust:MAJOR.MINOR` image"
        )),
    }
    let runs: Vec<&str> = file.stages.iter().flat_map(|s| s.all("RUN")).collect();
    let run_has = |needle: &[&str]| runs.iter().any(|r| needle.iter().all(|n| r.contains(n)));
    if !run_has(&["rustup target add wasm32-wasip1"]) {
        problems.push("Dockerfile: no `rustup target add wasm32-wasip1`".into());
    }
    // The host optimised: the `dist` profile (release with cross-crate optimisation).
    if !run_has(&["cargo build", "--profile dist", "-p wasi-dapr"]) {
        problems.push("Dockerfile: no `cargo build --profile dist -p wasi-dapr`".into());
    }
    if !run_has(&["cargo build", "--target wasm32-wasip1"]) {
        problems.push("Dockerfile: builds no wasm module (`--target wasm32-wasip1`)".into());
    }

    let last = file.final_stage();
    if file.stages.len() > 1 && last.from.starts_with("rust:") {
        problems.push(
            "Dockerfile: the final stage is the Rust toolchain image, not a minimal one".into(),
        );
    }
    match last.last("USER") {
        None => problems.push("Dockerfile: the final stage has no USER, so it runs as root".into()),
        Some(user) => {
            let name = user.split(':').next().unwrap_or("");
            if name == "root" || name == "0" {
                problems.push(format!(
                    "Dockerfile: the final stage runs as root (USER {user})"
                ));
            } else if name.parse::<u32>().is_err() {
                problems.push(format!(
                    "Dockerfile: USER {user} must be numeric, or Kubernetes cannot verify runAsNonRoot"
                ));
            }
        }
    }
    let files = last.copied_files();
    let entrypoint = match last.exec_form("ENTRYPOINT") {
        Ok(Some(e)) => e,
        Ok(None) => {
            problems.push("Dockerfile: the final stage has no ENTRYPOINT".into());
            return problems;
        }
        Err(e) => {
            problems.push(format!("Dockerfile: {e}"));
            return problems;
        }
    };
    if entrypoint.get(1).map(String::as_str) != Some("serve") {
        problems.push(format!(
            "Dockerfile: ENTRYPOINT {entrypoint:?} is not `wasi-dapr serve ...`"
        ));
    }
    if let Some(bin) = entrypoint.first() {
        let on_path = ["/usr/local/bin/wasi-dapr", "/usr/bin/wasi-dapr"];
        let copied = if bin.starts_with('/') {
            files.contains(bin)
        } else {
            on_path.iter().any(|p| files.contains(*p))
        };
        if !copied {
            problems.push(format!(
                "Dockerfile: ENTRYPOINT runs {bin:?}, which the final stage does not copy in"
            ));
        }
    }
    let mut argv = entrypoint;
    match last.exec_form("CMD") {
        Ok(cmd) => argv.extend(cmd.unwrap_or_default()),
        Err(e) => problems.push(format!("Dockerfile: {e}")),
    }
    match parse_invocation(&argv) {
        Err(e) => problems.push(format!("Dockerfile: ENTRYPOINT + CMD: {e}")),
        Ok(inv) => {
            match inv.option("--listen").map(str::parse::<SocketAddr>) {
                Some(Ok(addr)) if addr.ip().is_unspecified() => {}
                Some(Ok(addr)) => problems.push(format!(
                    "Dockerfile: --listen {addr} is not reachable from outside the container; use 0.0.0.0:PORT"
                )),
                _ => problems.push("Dockerfile: ENTRYPOINT has no valid --listen ADDR".into()),
            }
            match &inv.module {
                Some(module) if files.contains(module) => {}
                Some(module) => problems.push(format!(
                    "Dockerfile: serves {module}, which the final stage does not copy in"
                )),
                None => {
                    problems.push("Dockerfile: ENTRYPOINT + CMD name no module to serve".into())
                }
            }
            // A .cwasm loads only in the wasi-dapr build that made it: the image's own.
            if inv.module.as_deref().is_some_and(|m| m.ends_with(".cwasm"))
                && !run_has(&["wasi-dapr compile"])
            {
                problems.push(
                    "Dockerfile: serves a .cwasm but the build stage does not run `wasi-dapr compile`"
                        .into(),
                );
            }
            if let Some(allowlist) = inv.option("--allowlist")
                && !files.contains(allowlist)
            {
                problems.push(format!(
                    "Dockerfile: --allowlist {allowlist} is not copied into the image"
                ));
            }
        }
    }
    problems
}

/// An allowlist meant for a pod: parses with the host's loader, allows the pod's sidecar,
/// and is not allow-all.
fn check_allowlist(text: &str, origin: &str) -> Vec<String> {
    let config = match HostConfig::from_toml_str(text, origin) {
        Ok(config) => config,
        Err(e) => return vec![format!("{origin}: the host refuses it: {e}")],
    };
    let mut problems = Vec::new();
    for url in POD_SIDECAR {
        let parsed = url::Url::parse(url).expect("sidecar URL");
        if config.allowed_hosts.check(&parsed).is_err() {
            problems.push(format!("{origin}: does not allow the pod's sidecar {url}"));
        }
    }
    if config.allowed_hosts.is_allow_all() {
        problems.push(format!(
            "{origin}: allows every host; a pod's guests need only the sidecar"
        ));
    }
    problems
}

/// `DAPR_API_TOKEN` / `APP_API_TOKEN`: the annotation names a Secret that exists and has
/// the key `token`, and the container reads that same secret into `env_name`.
fn check_token(
    id: &str,
    docs: &[Doc],
    annotations: &Value,
    annotation: &str,
    container: &Value,
    env_name: &str,
    problems: &mut Vec<String>,
) {
    let Some(secret) = annotations[annotation].as_str() else {
        problems.push(format!("{id}: no `{annotation}` annotation"));
        return;
    };
    match find(docs, "Secret", secret) {
        None => problems.push(format!(
            "{id}: `{annotation}` names Secret {secret:?}, which no manifest defines"
        )),
        Some(doc) => {
            if !doc.value["stringData"]["token"].is_string()
                && !doc.value["data"]["token"].is_string()
            {
                problems.push(format!("{}: no key `token` (the key Dapr reads)", doc.id()));
            }
        }
    }
    let env = container["env"]
        .as_sequence()
        .and_then(|env| env.iter().find(|e| e["name"].as_str() == Some(env_name)));
    let Some(env) = env else {
        problems.push(format!("{id}: the container has no {env_name}; daprd gets the token from {secret:?}, the host needs the same"));
        return;
    };
    let reference = &env["valueFrom"]["secretKeyRef"];
    if reference["name"].as_str() != Some(secret) || reference["key"].as_str() != Some("token") {
        problems.push(format!(
            "{id}: {env_name} must come from secretKeyRef {{name: {secret}, key: token}}, the secret `{annotation}` names"
        ));
    }
}

/// A container port by number or by name.
fn resolve_port(port: &Value, ports: &[(Option<String>, u64)]) -> Option<u64> {
    match port {
        Value::Number(n) => n.as_u64(),
        Value::String(name) => ports
            .iter()
            .find(|(n, _)| n.as_deref() == Some(name.as_str()))
            .map(|(_, p)| *p),
        _ => None,
    }
}

/// Every manifest: Deployments (annotations, tokens, ports, probes, allowlist, image
/// files, memory) and the Redis components' hosts.
fn check_manifests(docs: &[Doc], image: &Dockerfile) -> Vec<String> {
    let mut problems = Vec::new();
    let deployments: Vec<&Doc> = docs.iter().filter(|d| d.kind() == "Deployment").collect();
    if deployments.is_empty() {
        problems.push("no Deployment".into());
    }
    for doc in deployments {
        check_deployment(doc, docs, image, &mut problems);
    }
    for doc in docs.iter().filter(|d| d.kind() == "Component") {
        check_component(doc, docs, &mut problems);
    }
    problems
}

fn check_deployment(doc: &Doc, docs: &[Doc], image: &Dockerfile, problems: &mut Vec<String>) {
    let id = doc.id();
    let template = &doc.value["spec"]["template"];
    let labels = &template["metadata"]["labels"];
    if !selects(&doc.value["spec"]["selector"]["matchLabels"], labels) {
        problems.push(format!(
            "{id}: spec.selector.matchLabels does not match the pod template's labels"
        ));
    }
    let annotations = &template["metadata"]["annotations"];
    let Some(map) = annotations.as_mapping() else {
        problems.push(format!("{id}: the pod template has no Dapr annotations"));
        return;
    };
    for (key, value) in map {
        if !value.is_string() {
            problems.push(format!(
                "{id}: annotation {key:?} must be a string (quote it): {value:?}"
            ));
        }
    }
    let annotation = |key: &str| annotations[key].as_str();
    if annotation("dapr.io/enabled") != Some("true") {
        problems.push(format!("{id}: dapr.io/enabled is not \"true\""));
    }
    if annotation("dapr.io/app-id").is_none_or(str::is_empty) {
        problems.push(format!("{id}: no dapr.io/app-id"));
    }
    let volumes = template["spec"]["volumes"]
        .as_sequence()
        .cloned()
        .unwrap_or_default();
    let containers = template["spec"]["containers"]
        .as_sequence()
        .cloned()
        .unwrap_or_default();
    let mut ours = 0;
    for container in &containers {
        let cid = format!(
            "{id} container {}",
            container["name"].as_str().unwrap_or("?")
        );
        let invs = match container_argv(container, image).and_then(|argv| invocations(&argv)) {
            Ok(invs) => invs,
            Err(e) => {
                problems.push(format!("{cid}: {e}"));
                continue;
            }
        };
        if invs.is_empty() {
            continue;
        }
        ours += 1;
        check_token(
            &cid,
            docs,
            annotations,
            "dapr.io/api-token-secret",
            container,
            "DAPR_API_TOKEN",
            problems,
        );
        let resources = &container["resources"];
        for kind in ["requests", "limits"] {
            for resource in ["cpu", "memory"] {
                if resources[kind][resource].is_null() {
                    problems.push(format!("{cid}: no resources.{kind}.{resource}"));
                }
            }
        }
        let memory_limit = resources["limits"]["memory"]
            .as_str()
            .and_then(memory_bytes);
        for inv in &invs {
            check_mounted_allowlist(&cid, inv, container, &volumes, docs, problems);
            check_writable_cache(&cid, inv, container, problems);
            match &inv.module {
                Some(module) if image.final_stage().copied_files().contains(module) => {}
                Some(module) => problems.push(format!(
                    "{cid}: runs {module}, which the image (Dockerfile) does not contain"
                )),
                None => problems.push(format!("{cid}: `wasi-dapr {}` names no module", inv.sub)),
            }
            let worst_case_mib = match inv.sub.as_str() {
                // Prepared instances hold memory too (at most --max-concurrent of them).
                "serve" => inv
                    .number("--max-concurrent", SERVE_DEFAULT_MAX_CONCURRENT)
                    .and_then(|n| {
                        let prepared = inv
                            .number("--prepared-instances", SERVE_DEFAULT_PREPARED)?
                            .min(n);
                        inv.number("--max-memory-mib", SERVE_DEFAULT_MAX_MEMORY_MIB)
                            .map(|m| (n + prepared) * m)
                    }),
                _ => inv.number("--max-memory-mib", RUN_DEFAULT_MAX_MEMORY_MIB),
            };
            match (worst_case_mib, memory_limit) {
                (Ok(mib), Some(limit)) if (mib << 20) < limit => {}
                (Ok(mib), Some(limit)) => problems.push(format!(
                    "{cid}: guests may use {mib} MiB of linear memory ((--max-concurrent + --prepared-instances) x --max-memory-mib), \
                     not below the {} MiB memory limit: the pod could be OOM-killed",
                    limit >> 20
                )),
                (Err(e), _) => problems.push(format!("{cid}: {e}")),
                (_, None) => problems.push(format!("{cid}: resources.limits.memory is not a memory quantity")),
            }
            match inv.sub.as_str() {
                "serve" => check_served(&id, &cid, doc, docs, inv, container, problems),
                "run" => {
                    if annotation("dapr.io/app-port").is_some() {
                        problems.push(format!(
                            "{id}: runs a command module but sets dapr.io/app-port: daprd would wait for a port nobody opens"
                        ));
                    }
                }
                other => problems.push(format!("{cid}: unknown subcommand `wasi-dapr {other}`")),
            }
        }
    }
    if ours == 0 {
        problems.push(format!("{id}: no container runs wasi-dapr"));
    }
}

/// What a served app needs: the app-side annotations, the listen port equal to
/// dapr.io/app-port and a containerPort, the app token, probes on the host's health and
/// ready paths, a Service onto the port.
fn check_served(
    id: &str,
    cid: &str,
    doc: &Doc,
    docs: &[Doc],
    inv: &Invocation,
    container: &Value,
    problems: &mut Vec<String>,
) {
    let template = &doc.value["spec"]["template"];
    let annotations = &template["metadata"]["annotations"];
    let annotation = |key: &str| annotations[key].as_str();
    let health = inv.option("--health-path").unwrap_or(SERVE_DEFAULT_HEALTH);
    let ready = inv.option("--ready-path").unwrap_or(SERVE_DEFAULT_READY);

    let default_listen = defaults::SERVE_LISTEN.to_string();
    let listen = inv.option("--listen").unwrap_or(&default_listen);
    let listen: SocketAddr = match listen.parse() {
        Ok(addr) => addr,
        Err(_) => {
            problems.push(format!("{cid}: --listen {listen:?} is not IP:PORT"));
            return;
        }
    };
    if listen.ip().is_loopback() {
        problems.push(format!(
            "{cid}: --listen {listen} is loopback: the kubelet's probes arrive on the pod IP; use 0.0.0.0:{}",
            listen.port()
        ));
    }
    let port = u64::from(listen.port());
    let ports: Vec<(Option<String>, u64)> = container["ports"]
        .as_sequence()
        .map(|ports| {
            ports
                .iter()
                .filter_map(|p| {
                    Some((
                        p["name"].as_str().map(str::to_string),
                        p["containerPort"].as_u64()?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    if !ports.iter().any(|(_, p)| *p == port) {
        problems.push(format!(
            "{cid}: no containerPort equals the --listen port {port}"
        ));
    }
    match annotation("dapr.io/app-port").map(str::parse::<u64>) {
        Some(Ok(app_port)) if app_port == port => {}
        Some(Ok(app_port)) => problems.push(format!(
            "{id}: dapr.io/app-port {app_port} differs from the --listen port {port}"
        )),
        _ => problems.push(format!(
            "{id}: serves HTTP but has no numeric dapr.io/app-port"
        )),
    }
    let expect = [
        ("dapr.io/app-protocol", "http"),
        ("dapr.io/enable-app-health-check", "true"),
        ("dapr.io/app-health-check-path", health),
    ];
    for (key, value) in expect {
        if annotation(key) != Some(value) {
            problems.push(format!(
                "{id}: {key} is {:?}, expected {value:?}",
                annotation(key)
            ));
        }
    }
    if let Some(n) = annotation("dapr.io/app-max-concurrency") {
        match inv.number("--max-concurrent", SERVE_DEFAULT_MAX_CONCURRENT) {
            Ok(max) if n.parse::<u64>().ok() == Some(max) => {}
            _ => problems.push(format!(
                "{id}: dapr.io/app-max-concurrency {n} differs from the host's --max-concurrent; the excess would get 503s"
            )),
        }
    }
    check_token(
        cid,
        docs,
        annotations,
        "dapr.io/app-token-secret",
        container,
        "APP_API_TOKEN",
        problems,
    );
    for (probe, path) in [("livenessProbe", health), ("readinessProbe", ready)] {
        let get = &container[probe]["httpGet"];
        if get["path"].as_str() != Some(path) {
            problems.push(format!(
                "{cid}: {probe} path is {:?}, not the host's {path}",
                get["path"].as_str()
            ));
        }
        if resolve_port(&get["port"], &ports) != Some(port) {
            problems.push(format!(
                "{cid}: {probe} port is not the --listen port {port}"
            ));
        }
    }
    let service = docs.iter().filter(|d| d.kind() == "Service").find(|s| {
        selects(
            &s.value["spec"]["selector"],
            &template["metadata"]["labels"],
        ) && s.value["spec"]["ports"].as_sequence().is_some_and(|sp| {
            sp.iter()
                .any(|p| resolve_port(&p["targetPort"], &ports) == Some(port))
        })
    });
    if service.is_none() {
        problems.push(format!(
            "{id}: no Service selects this app and targets port {port}"
        ));
    }
}

/// `--allowlist PATH` lies in a ConfigMap volume mounted into the container, and the
/// ConfigMap's text is a valid allowlist for a pod.
fn check_mounted_allowlist(
    cid: &str,
    inv: &Invocation,
    container: &Value,
    volumes: &[Value],
    docs: &[Doc],
    problems: &mut Vec<String>,
) {
    let Some(path) = inv.option("--allowlist") else {
        problems.push(format!(
            "{cid}: no --allowlist: the host would read the image's ./allowlist.toml"
        ));
        return;
    };
    let (dir, file) = path.rsplit_once('/').unwrap_or(("", path));
    let mounts = container["volumeMounts"]
        .as_sequence()
        .cloned()
        .unwrap_or_default();
    let mount = mounts.iter().find_map(|m| {
        let at = m["mountPath"].as_str()?;
        match m["subPath"].as_str() {
            Some(sub) if at == path => Some((m, sub.to_string())),
            None if at.trim_end_matches('/') == dir => Some((m, file.to_string())),
            _ => None,
        }
    });
    let Some((mount, key)) = mount else {
        problems.push(format!(
            "{cid}: --allowlist {path} is not in a mounted volume"
        ));
        return;
    };
    let volume = volumes.iter().find(|v| v["name"] == mount["name"]);
    let Some(name) = volume.and_then(|v| v["configMap"]["name"].as_str()) else {
        problems.push(format!(
            "{cid}: --allowlist {path} is not mounted from a ConfigMap"
        ));
        return;
    };
    let Some(config_map) = find(docs, "ConfigMap", name) else {
        problems.push(format!(
            "{cid}: the allowlist ConfigMap {name:?} is not defined"
        ));
        return;
    };
    let Some(text) = config_map.value["data"][key.as_str()].as_str() else {
        problems.push(format!(
            "{}: no key {key:?} (the file --allowlist reads)",
            config_map.id()
        ));
        return;
    };
    problems.extend(check_allowlist(text, &format!("{} {key}", config_map.id())));
}

/// With a read-only root filesystem, `--cache-dir` must be a writable mount (or the host
/// recompiles the module on every start).
fn check_writable_cache(
    cid: &str,
    inv: &Invocation,
    container: &Value,
    problems: &mut Vec<String>,
) {
    if container["securityContext"]["readOnlyRootFilesystem"].as_bool() != Some(true)
        || inv.option("--no-cache").is_some()
    {
        return;
    }
    let Some(dir) = inv.option("--cache-dir") else {
        problems.push(format!(
            "{cid}: read-only root filesystem but no --cache-dir on a writable volume"
        ));
        return;
    };
    let writable = container["volumeMounts"]
        .as_sequence()
        .is_some_and(|mounts| {
            mounts.iter().any(|m| {
                m["readOnly"].as_bool() != Some(true)
                    && m["mountPath"]
                        .as_str()
                        .is_some_and(|at| Path::new(dir).starts_with(at))
            })
        });
    if !writable {
        problems.push(format!(
            "{cid}: --cache-dir {dir} is not on a writable volume mount"
        ));
    }
}

/// A Redis component's `redisHost` names a Service of these manifests and one of its ports.
fn check_component(doc: &Doc, docs: &[Doc], problems: &mut Vec<String>) {
    let kind = doc.value["spec"]["type"].as_str().unwrap_or("");
    if !kind.ends_with(".redis") {
        return;
    }
    let host = doc.value["spec"]["metadata"]
        .as_sequence()
        .and_then(|items| {
            items
                .iter()
                .find(|m| m["name"].as_str() == Some("redisHost"))
        })
        .and_then(|m| m["value"].as_str());
    let Some((name, port)) = host.and_then(|h| h.rsplit_once(':')) else {
        problems.push(format!("{}: no redisHost HOST:PORT", doc.id()));
        return;
    };
    // `redis`, or `redis.<namespace>.svc.cluster.local`.
    let service = name.split('.').next().unwrap_or(name);
    let exposes = find(docs, "Service", service).is_some_and(|s| {
        s.value["spec"]["ports"].as_sequence().is_some_and(|ports| {
            ports
                .iter()
                .any(|p| p["port"].as_u64().map(|p| p.to_string()).as_deref() == Some(port))
        })
    });
    if !exposes {
        problems.push(format!(
            "{}: redisHost {name}:{port} is not a Service port of these manifests",
            doc.id()
        ));
    }
}

/// The README names every value a reader needs: the image and how it is built, the apply
/// command, the app ids, the secrets, and how the sidecar is reached.
fn check_readme(readme: &str, docs: &[Doc], image: &Dockerfile) -> Vec<String> {
    let mut needles = vec![
        "dapr init -k".to_string(),
        "kubectl apply -f examples/k8s/".to_string(),
        "kubectl port-forward".to_string(),
        "kubectl logs".to_string(),
        "dapr-api-token:".to_string(),
    ];
    for doc in docs.iter().filter(|d| d.kind() == "Deployment") {
        let template = &doc.value["spec"]["template"];
        let annotations = &template["metadata"]["annotations"];
        if let Some(app_id) = annotations["dapr.io/app-id"].as_str() {
            needles.push(app_id.to_string());
            if annotations["dapr.io/app-port"].is_string() {
                needles.push(format!("/v1.0/invoke/{app_id}/method/"));
            }
        }
        for container in template["spec"]["containers"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            let ours = container_argv(container, image)
                .and_then(|a| invocations(&a))
                .is_ok_and(|i| !i.is_empty());
            if let (true, Some(tag)) = (ours, container["image"].as_str()) {
                needles.push(format!("docker build -t {tag} ."));
            }
        }
    }
    for doc in docs.iter().filter(|d| d.kind() == "Secret") {
        needles.push(doc.name().to_string());
    }
    needles.sort();
    needles.dedup();
    needles
        .into_iter()
        .filter(|n| !readme.contains(n.as_str()))
        .map(|n| format!("examples/k8s/README.md does not mention {n:?}"))
        .collect()
}

// ---------------------------------------------------------------------------------------
// The tests

#[test]
fn every_k8s_manifest_parses() {
    let docs = parse_all(&manifest_files()).unwrap_or_else(|e| panic!("{e}"));
    let count = |kind: &str| docs.iter().filter(|d| d.kind() == kind).count();
    assert_eq!(count("Deployment"), 2, "the served app and the publisher");
    assert!(count("Service") >= 2, "the app's Service and Redis's");
    assert_eq!(count("Secret"), 2, "the Dapr API token and the app token");
    assert_eq!(count("ConfigMap"), 1, "allowlist.toml");
    // The names the pub/sub example uses by default (PUBSUB_NAME, STATE_STORE).
    for (name, kind) in [("statestore", "state.redis"), ("pubsub", "pubsub.redis")] {
        let doc = find(&docs, "Component", name).unwrap_or_else(|| panic!("no Component {name}"));
        assert_eq!(doc.value["apiVersion"].as_str(), Some("dapr.io/v1alpha1"));
        assert_eq!(
            doc.value["spec"]["type"].as_str(),
            Some(kind),
            "{}",
            doc.id()
        );
    }
}

#[test]
fn k8s_manifests_agree_with_each_other_and_the_host() {
    let docs = parse_all(&manifest_files()).unwrap_or_else(|e| panic!("{e}"));
    let image = Dockerfile::parse(&dockerfile_text()).unwrap_or_else(|e| panic!("Dockerfile: {e}"));
    let problems = check_manifests(&docs, &image);
    assert!(problems.is_empty(), "problems:\n{}", problems.join("\n"));

    // What the served app's pod looks like, spelled out.
    let orders = docs
        .iter()
        .find(|d| {
            d.kind() == "Deployment"
                && d.value["spec"]["template"]["metadata"]["annotations"]["dapr.io/app-port"]
                    .is_string()
        })
        .expect("a Deployment with an app port");
    let container = &orders.value["spec"]["template"]["spec"]["containers"][0];
    let argv = container_argv(container, &image).expect("argv");
    let inv = parse_invocation(&argv).expect("wasi-dapr command line");
    assert_eq!(inv.sub, "serve");
    let listen: SocketAddr = inv
        .option("--listen")
        .expect("--listen")
        .parse()
        .expect("IP:PORT");
    let annotations = &orders.value["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(
        annotations["dapr.io/app-port"].as_str(),
        Some(listen.port().to_string().as_str())
    );
    assert_eq!(
        container["ports"][0]["containerPort"].as_u64(),
        Some(u64::from(listen.port()))
    );
}

#[test]
fn dockerfile_is_multi_stage_and_serves_as_non_root() {
    let text = dockerfile_text();
    let problems = check_dockerfile(&text, workspace_rust_version());
    assert!(problems.is_empty(), "problems:\n{}", problems.join("\n"));
    let image = Dockerfile::parse(&text).expect("parses");
    let entrypoint = image
        .final_stage()
        .exec_form("ENTRYPOINT")
        .expect("exec form")
        .expect("ENTRYPOINT");
    assert_eq!(&entrypoint[..2], ["wasi-dapr", "serve"]);
    assert!(
        entrypoint
            .windows(2)
            .any(|w| w == ["--listen", "0.0.0.0:8080"]),
        "{entrypoint:?}"
    );
}

#[test]
fn k8s_readme_names_every_value() {
    let docs = parse_all(&manifest_files()).unwrap_or_else(|e| panic!("{e}"));
    let image = Dockerfile::parse(&dockerfile_text()).expect("Dockerfile");
    let readme = read(&root().join("examples/k8s/README.md"));
    let problems = check_readme(&readme, &docs, &image);
    assert!(problems.is_empty(), "problems:\n{}", problems.join("\n"));
}

#[test]
fn the_pod_allowlist_deny_twin() {
    assert!(
        check_allowlist(
            "allowed_hosts = [\"http://127.0.0.1:3500\", \"http://localhost:3500\"]\n",
            "ok"
        )
        .is_empty()
    );
    let cases = [
        (
            "allowed_hosts = [\"http://127.0.0.1:3500\"]\n",
            "localhost:3500",
        ),
        ("allowed_hosts = [\"*://*:*\"]\n", "every host"),
        (
            "allowed_hosts = [\"http://127.0.0.1:3500/v1.0\"]\n",
            "refuses",
        ),
        (
            "allowed_hosts = [\"http://127.0.0.1:3500\"]\nunknown = 1\n",
            "refuses",
        ),
    ];
    for (text, expected) in cases {
        let problems = check_allowlist(text, "twin");
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "{text:?}: expected {expected:?} in {problems:?}"
        );
    }
}

/// Replaces `from` (which must occur) with `to` in one file of `files`.
fn edited(files: &[(String, String)], file: &str, from: &str, to: &str) -> Vec<(String, String)> {
    let mut out = files.to_vec();
    let (_, text) = out
        .iter_mut()
        .find(|(name, _)| name == file)
        .unwrap_or_else(|| panic!("no {file}"));
    assert!(
        text.contains(from),
        "{file} no longer contains {from:?}; update the twin"
    );
    *text = text.replacen(from, to, 1);
    out
}

#[test]
fn broken_manifests_are_reported() {
    let files = manifest_files();
    let image = Dockerfile::parse(&dockerfile_text()).expect("Dockerfile");
    let app = "40-orders.yaml";
    let publisher = "50-order-publisher.yaml";
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            app,
            "containerPort: 8080",
            "containerPort: 8081",
            "no containerPort equals the --listen port 8080",
        ),
        (
            app,
            "dapr.io/app-port: \"8080\"",
            "dapr.io/app-port: \"9090\"",
            "app-port 9090 differs",
        ),
        (
            app,
            "dapr.io/app-port: \"8080\"",
            "dapr.io/app-port: 8080",
            "must be a string",
        ),
        (app, "- 0.0.0.0:8080", "- 127.0.0.1:8080", "loopback"),
        (
            app,
            "dapr.io/enable-app-health-check: \"true\"",
            "dapr.io/log-level: info",
            "enable-app-health-check",
        ),
        (
            app,
            "dapr.io/app-health-check-path: /healthz",
            "dapr.io/app-health-check-path: /health",
            "app-health-check-path",
        ),
        (
            app,
            "dapr.io/app-protocol: http",
            "dapr.io/app-protocol: grpc",
            "app-protocol",
        ),
        (
            app,
            "dapr.io/app-token-secret: app-api-token",
            "dapr.io/app-token-secret: app-token",
            "no manifest defines",
        ),
        (
            app,
            "dapr.io/api-token-secret: dapr-api-token",
            "dapr.io/config: tracing",
            "api-token-secret",
        ),
        (
            app,
            "- name: APP_API_TOKEN",
            "- name: APP_TOKEN",
            "no APP_API_TOKEN",
        ),
        (
            app,
            "name: app-api-token\n              key: token",
            "name: dapr-api-token\n              key: token",
            "APP_API_TOKEN must come from",
        ),
        (
            app,
            "httpGet:\n            path: /healthz",
            "httpGet:\n            path: /health",
            "livenessProbe path",
        ),
        (
            app,
            "httpGet:\n            path: /readyz",
            "httpGet:\n            path: /ready",
            "readinessProbe path",
        ),
        (
            app,
            "port: http\n          periodSeconds: 5",
            "port: 9090\n          periodSeconds: 5",
            "readinessProbe port",
        ),
        (
            app,
            "dapr.io/app-max-concurrency: \"8\"",
            "dapr.io/app-max-concurrency: \"100\"",
            "app-max-concurrency",
        ),
        (app, "- \"32\"", "- \"512\"", "OOM"),
        (app, "- \"32\"", "- 32", "not a string"),
        (
            app,
            "memory: 384Mi",
            "memory: lots",
            "not a memory quantity",
        ),
        (
            app,
            "- /etc/wasi-dapr/allowlist.toml",
            "- /etc/other/allowlist.toml",
            "not in a mounted volume",
        ),
        (
            app,
            "- /app/pubsub-rust-subscriber.cwasm",
            "- /app/subscriber.wasm",
            "does not contain",
        ),
        (
            app,
            "  - name: module-cache\n          mountPath",
            "  - name: module-cache\n          readOnly: true\n          mountPath",
            "--cache-dir",
        ),
        (
            app,
            "targetPort: http",
            "targetPort: 9999",
            "no Service selects",
        ),
        (
            app,
            "dapr.io/enabled: \"true\"",
            "dapr.io/enabled: \"false\"",
            "dapr.io/enabled",
        ),
        (
            publisher,
            "dapr.io/app-id: order-publisher",
            "dapr.io/app-id: order-publisher\n        dapr.io/app-port: \"8080\"",
            "command module",
        ),
        (
            publisher,
            "--max-memory-mib 64",
            "--max-memory-mib 1024",
            "OOM",
        ),
        (
            publisher,
            "- name: DAPR_API_TOKEN",
            "- name: DAPR_TOKEN",
            "no DAPR_API_TOKEN",
        ),
        (
            "00-secrets.yaml",
            "token: change-me-app-api-token",
            "value: change-me-app-api-token",
            "no key `token`",
        ),
        (
            "20-components.yaml",
            "value: redis:6379",
            "value: redis-master:6379",
            "redis-master:6379",
        ),
        (
            "30-allowlist.yaml",
            "\"http://127.0.0.1:3500\",",
            "\"http://127.0.0.1:3501\",",
            "http://127.0.0.1:3500",
        ),
        (
            "30-allowlist.yaml",
            "\"http://localhost:3500\",",
            "\"http://localhost:3500/v1.0\",",
            "the host refuses it",
        ),
        (
            "30-allowlist.yaml",
            "allowlist.toml: |",
            "policy.toml: |",
            "no key \"allowlist.toml\"",
        ),
    ];
    let mut missed = Vec::new();
    for (file, from, to, expected) in cases {
        let docs = parse_all(&edited(&files, file, from, to))
            .unwrap_or_else(|e| panic!("{file} {to:?}: {e}"));
        let problems = check_manifests(&docs, &image);
        if !problems.iter().any(|p| p.contains(expected)) {
            missed.push(format!(
                "{file}: {from:?} -> {to:?}: expected {expected:?} in {problems:#?}"
            ));
        }
    }
    assert!(missed.is_empty(), "not reported:\n{}", missed.join("\n"));

    // Broken YAML, and a document without a kind, do not parse.
    let broken = edited(&files, app, "  name: orders\n", "  name: [orders\n");
    assert!(parse_all(&broken).is_err_and(|e| e.contains(app)));
    let kindless = edited(&files, "00-secrets.yaml", "kind: Secret\n", "");
    assert!(parse_all(&kindless).is_err_and(|e| e.contains("no `kind`")));

    // A module the manifests run but the image lacks.
    let docs = parse_all(&files).expect("parses");
    let thin = dockerfile_text().replace(
        "COPY --from=build /out/pubsub-rust-publisher.cwasm /app/pubsub-rust-publisher.cwasm\n",
        "",
    );
    let problems = check_manifests(&docs, &Dockerfile::parse(&thin).expect("parses"));
    assert!(
        problems
            .iter()
            .any(|p| p.contains("pubsub-rust-publisher.cwasm")),
        "{problems:#?}"
    );
}

#[test]
fn broken_dockerfiles_are_reported() {
    let text = dockerfile_text();
    let version = workspace_rust_version();
    let cases: &[(&str, &str, &str)] = &[
        ("USER 10001:10001", "USER root", "runs as root"),
        ("USER 10001:10001", "USER 0:0", "runs as root"),
        ("USER 10001:10001\n", "", "no USER"),
        ("USER 10001:10001", "USER wasi-dapr", "numeric"),
        (
            "ENTRYPOINT [\"wasi-dapr\", \"serve\", \"--listen\", \"0.0.0.0:8080\"]",
            "ENTRYPOINT wasi-dapr serve --listen 0.0.0.0:8080",
            "exec form",
        ),
        ("\"0.0.0.0:8080\"", "\"127.0.0.1:8080\"", "not reachable"),
        (
            "[\"wasi-dapr\", \"serve\"",
            "[\"wasi-dapr\", \"run\"",
            "not `wasi-dapr serve",
        ),
        (
            "FROM rust:1.95-slim-bookworm AS build",
            "FROM rust:1.80-slim-bookworm AS build",
            "older than the workspace's rust-version",
        ),
        (
            "FROM rust:1.95-slim-bookworm AS build",
            "FROM debian:bookworm AS build",
            "not an official",
        ),
        (
            "RUN rustup target add wasm32-wasip1\n",
            "",
            "rustup target add wasm32-wasip1",
        ),
        (
            "FROM debian:bookworm-slim",
            "FROM rust:1.95-slim-bookworm",
            "not a minimal one",
        ),
        (
            "COPY --from=build /out/wasi-dapr /usr/local/bin/wasi-dapr\n",
            "",
            "does not copy in",
        ),
        (
            "COPY --from=build /out/pubsub-rust-subscriber.cwasm /app/pubsub-rust-subscriber.cwasm\n",
            "",
            "serves /app/pubsub-rust-subscriber.cwasm",
        ),
        (
            "COPY allowlist.toml /app/allowlist.toml\n",
            "",
            "--allowlist /app/allowlist.toml is not copied",
        ),
        (
            "cargo build --profile dist --locked -p wasi-dapr",
            "cargo build --locked -p wasi-dapr",
            "--profile dist",
        ),
        ("CMD [\"--allowlist\"", "CMD --allowlist", "exec form"),
        (
            "/out/wasi-dapr compile",
            "/out/wasi-dapr version",
            "does not run `wasi-dapr compile`",
        ),
    ];
    let mut missed = Vec::new();
    for (from, to, expected) in cases {
        assert!(
            text.contains(from),
            "the Dockerfile no longer contains {from:?}; update the twin"
        );
        let problems = check_dockerfile(&text.replacen(from, to, 1), version);
        if !problems.iter().any(|p| p.contains(expected)) {
            missed.push(format!(
                "{from:?} -> {to:?}: expected {expected:?} in {problems:#?}"
            ));
        }
    }
    assert!(missed.is_empty(), "not reported:\n{}", missed.join("\n"));
}

#[test]
fn command_lines_follow_kubernetes_rules() {
    let image = Dockerfile::parse(
        "FROM x AS b\nFROM y\nENTRYPOINT [\"wasi-dapr\", \"serve\", \"--listen\", \"0.0.0.0:8080\"]\nCMD [\"/app/a.wasm\"]\n",
    )
    .expect("parses");
    let container = |yaml: &str| -> Value { serde_yaml_ng::from_str(yaml).expect("yaml") };
    let argv = |yaml: &str| {
        container_argv(&container(yaml), &image)
            .expect("argv")
            .join(" ")
    };
    assert_eq!(
        argv("name: c"),
        "wasi-dapr serve --listen 0.0.0.0:8080 /app/a.wasm"
    );
    assert_eq!(
        argv("args: [/app/b.wasm]"),
        "wasi-dapr serve --listen 0.0.0.0:8080 /app/b.wasm"
    );
    assert_eq!(
        argv("command: [wasi-dapr, run]"),
        "wasi-dapr run",
        "command drops the image's CMD"
    );
    assert_eq!(
        argv("command: [wasi-dapr, run]\nargs: [/app/c.wasm]"),
        "wasi-dapr run /app/c.wasm"
    );
    let script = "command: [/bin/sh, -c]\nargs:\n- |\n  while true; do\n    wasi-dapr run --allowlist /a.toml /app/p.wasm\n    sleep 1\n  done\n";
    let invs =
        invocations(&container_argv(&container(script), &image).expect("argv")).expect("parses");
    assert_eq!(invs.len(), 1);
    assert_eq!(
        (invs[0].sub.as_str(), invs[0].module.as_deref()),
        ("run", Some("/app/p.wasm"))
    );
    assert_eq!(invs[0].option("--allowlist"), Some("/a.toml"));
    // Not ours, and not strings.
    assert!(
        invocations(&["redis-server".to_string()])
            .expect("parses")
            .is_empty()
    );
    assert!(container_argv(&container("args: [--max-concurrent, 8]"), &image).is_err());
    assert!(parse_invocation(&["wasi-dapr".into(), "serve".into(), "--listen".into()]).is_err());
    assert_eq!(memory_bytes("384Mi"), Some(384 << 20));
    assert_eq!(memory_bytes("1G"), Some(1_000_000_000));
    assert_eq!(memory_bytes("lots"), None);
}
