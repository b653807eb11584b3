//! The "pod" test: a Kubernetes pod's daprd and app container share one network, so the
//! app reaches daprd on 127.0.0.1 and daprd reaches the app on 127.0.0.1:APP_PORT. Here
//! `wasi-dapr sidecar` stands in for daprd and `wasi-dapr serve` is the app container:
//! two processes on loopback (free ports), both given DAPR_API_TOKEN and APP_API_TOKEN,
//! as the pod's two secrets give them to both containers (examples/k8s/40-orders.yaml).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use crate::serve::free_port;
use crate::support::{
    Allowlist, Guest, allowlist, cache_dir, guests, http_client, read_repo_file, readme, wasi_dapr,
};

/// The pod's `dapr-api-token` secret: callers must send it to daprd.
const DAPR_TOKEN: &str = "pod-dapr-api-token";
/// The pod's `app-api-token` secret: daprd sends it to the app.
const APP_TOKEN: &str = "pod-app-api-token";

/// A child process (killed on drop) whose stdout and stderr lines are collected in the
/// background.
struct Process {
    _child: tokio::process::Child,
    log: Arc<Mutex<String>>,
}

impl Process {
    fn spawn(what: &str, mut cmd: tokio::process::Command) -> Process {
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {what}: {e}"));
        let log = Arc::new(Mutex::new(String::new()));
        if let Some(out) = child.stdout.take() {
            collect(out, log.clone());
        }
        if let Some(err) = child.stderr.take() {
            collect(err, log.clone());
        }
        Process { _child: child, log }
    }

    fn log(&self) -> String {
        self.log.lock().expect("log lock").clone()
    }

    /// How many log lines contain `needle`.
    fn count(&self, needle: &str) -> usize {
        self.log().lines().filter(|l| l.contains(needle)).count()
    }

    /// Waits (at most `within`) for a log line containing `needle`.
    async fn wait_for_line(&self, needle: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.count(needle) > 0 {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }
}

fn collect(stream: impl AsyncRead + Unpin + Send + 'static, log: Arc<Mutex<String>>) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut log = log.lock().expect("log lock");
            log.push_str(&line);
            log.push('\n');
        }
    });
}

/// daprd (`wasi-dapr sidecar`) and the app container (`wasi-dapr serve MODULE`), with the
/// pod's tokens; both killed on drop, their logs printed if the test failed.
struct Pod {
    sidecar: Process,
    app: Process,
    dapr_port: u16,
    app_port: u16,
    /// The guests' outbound policy: this pod's sidecar, nothing else.
    allow: Allowlist,
}

impl Drop for Pod {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.logs());
        }
    }
}

impl Pod {
    async fn start(app_id: &str, module: &str) -> Pod {
        let dapr_port = free_port();
        let app_port = free_port();
        let allow = allowlist(
            &[
                format!("http://127.0.0.1:{dapr_port}"),
                format!("http://localhost:{dapr_port}"),
            ],
            "",
        );

        let mut sidecar = wasi_dapr();
        sidecar.arg("sidecar").args([
            "--dapr-http-port",
            &dapr_port.to_string(),
            "--app-id",
            app_id,
            "--app-port",
            &app_port.to_string(),
        ]);
        let mut app = wasi_dapr();
        app.arg("serve")
            .arg("--cache-dir")
            .arg(cache_dir())
            .args(["--listen", &format!("127.0.0.1:{app_port}")])
            .arg("--allowlist")
            .arg(&allow.path)
            .arg(module)
            // The injector's DAPR_HTTP_PORT, here the sidecar's free port.
            .env("DAPR_HTTP_PORT", dapr_port.to_string());
        for cmd in [&mut sidecar, &mut app] {
            cmd.env("DAPR_API_TOKEN", DAPR_TOKEN)
                .env("APP_API_TOKEN", APP_TOKEN);
        }
        let pod = Pod {
            sidecar: Process::spawn("wasi-dapr sidecar", sidecar),
            app: Process::spawn("wasi-dapr serve", app),
            dapr_port,
            app_port,
            allow,
        };
        pod.wait_until_ready().await;
        pod
    }

    fn dapr(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.dapr_port)
    }

    fn app(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.app_port)
    }

    fn logs(&self) -> String {
        format!(
            "--- wasi-dapr sidecar ---\n{}--- wasi-dapr serve ---\n{}",
            self.sidecar.log(),
            self.app.log()
        )
    }

    /// Ready as the kubelet and daprd see it: the app's readiness path answers 200 (the
    /// app reaches its sidecar) and daprd's /v1.0/healthz 204 (it has asked the app for
    /// its subscriptions). Neither probe carries a token.
    async fn wait_until_ready(&self) {
        let client = http_client();
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let app = client
                .get(self.app("/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            let dapr = client
                .get(self.dapr("/v1.0/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 204);
            if app && dapr {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the pod was not ready within 90 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn text(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    (status, res.text().await.expect("response body"))
}

#[tokio::test]
async fn pod_invocation_reaches_the_served_app_only_with_the_tokens() {
    let pod = Pod::start("callee", guests::guest("invoke-rust-callee")).await;
    let c = http_client();

    // Through the sidecar with the API token: daprd adds the app token and the guest answers.
    let res = c
        .get(pod.dapr("/v1.0/invoke/callee/method/hello"))
        .header("dapr-api-token", DAPR_TOKEN)
        .send()
        .await
        .expect("invoke hello");
    assert_eq!(
        text(res).await,
        (200, "hello from the target app\n".to_string())
    );

    let res = c
        .post(pod.dapr("/v1.0/invoke/callee/method/echo/pod?x=1"))
        .header("dapr-api-token", DAPR_TOKEN)
        .header("content-type", "text/plain")
        .header("x-pod-test", "yes")
        .body("ping")
        .send()
        .await
        .expect("invoke echo");
    let (status, body) = text(res).await;
    assert_eq!(status, 200, "{body}");
    let echo: Value = serde_json::from_str(&body).expect("echo JSON");
    assert_eq!(echo["method"], "POST", "{echo}");
    assert_eq!(echo["path"], "/echo/pod", "{echo}");
    assert_eq!(echo["query"], "x=1", "{echo}");
    assert_eq!(echo["body"], "ping", "{echo}");
    assert_eq!(echo["headers"]["x-pod-test"], "yes", "{echo}");
    assert_eq!(echo["caller"], "callee", "{echo}");
    assert!(
        !body.contains(DAPR_TOKEN) && !body.contains(APP_TOKEN),
        "a token reached the guest: {body}"
    );

    // Deny twins at the sidecar: no token, a wrong one, the app's token.
    for token in [None, Some("wrong"), Some(APP_TOKEN)] {
        let mut req = c.get(pod.dapr("/v1.0/invoke/callee/method/hello"));
        if let Some(token) = token {
            req = req.header("dapr-api-token", token);
        }
        let res = req.send().await.expect("invoke without the token");
        assert_eq!(
            text(res).await,
            (401, "invalid api token".to_string()),
            "token {token:?}"
        );
    }

    // The app itself refuses whatever does not carry the app token (daprd's included)...
    for token in [None, Some(DAPR_TOKEN)] {
        let mut req = c.get(pod.app("/hello"));
        if let Some(token) = token {
            req = req.header("dapr-api-token", token);
        }
        let res = req.send().await.expect("direct call");
        assert_eq!(
            text(res).await,
            (401, "invalid api token".to_string()),
            "token {token:?}"
        );
    }
    let res = c
        .get(pod.app("/hello"))
        .header("dapr-api-token", APP_TOKEN)
        .send()
        .await
        .expect("direct call");
    assert_eq!(
        text(res).await,
        (200, "hello from the target app\n".to_string())
    );
    // ...except its probes, which carry no token.
    let res = c.get(pod.app("/healthz")).send().await.expect("liveness");
    assert_eq!(text(res).await, (200, "ok".to_string()));
}

#[tokio::test]
async fn pod_pubsub_reaches_the_served_subscriber() {
    let pod = Pod::start("orders", guests::guest("pubsub-rust-subscriber")).await;
    let c = http_client();
    let within = Duration::from_secs(30);

    // daprd asked the app for its subscriptions, with the app token.
    let res = c
        .get(pod.dapr("/v1.0/metadata"))
        .header("dapr-api-token", DAPR_TOKEN)
        .send()
        .await
        .expect("metadata");
    let (status, body) = text(res).await;
    assert_eq!(status, 200, "{body}");
    let metadata: Value = serde_json::from_str(&body).expect("metadata JSON");
    let subscribed = metadata["subscriptions"].as_array().is_some_and(|subs| {
        subs.iter()
            .any(|s| s["pubsubname"] == "pubsub" && s["topic"] == "orders")
    });
    assert!(subscribed, "{metadata}");
    let res = c
        .get(pod.dapr("/v1.0/metadata"))
        .send()
        .await
        .expect("metadata");
    assert_eq!(res.status(), 401);

    // The README's curl: GET /dapr/subscribe invoked through the sidecar.
    let res = c
        .get(pod.dapr("/v1.0/invoke/orders/method/dapr/subscribe"))
        .header("dapr-api-token", DAPR_TOKEN)
        .send()
        .await
        .expect("invoke dapr/subscribe");
    let (status, body) = text(res).await;
    assert_eq!(status, 200, "{body}");
    let subs: Value = serde_json::from_str(&body).expect("subscriptions JSON");
    let route = subs
        .as_array()
        .and_then(|subs| subs.iter().find(|s| s["topic"] == "orders"))
        .map(|s| s["route"].clone());
    assert_eq!(route, Some(Value::from("/orders")), "{subs}");
    let readme = readme::fenced_blocks(&read_repo_file("examples/k8s/README.md"));
    let stated = readme
        .iter()
        .find(|(lang, _)| lang == "json")
        .map(|(_, b)| b.trim());
    assert_eq!(
        stated,
        Some(body.trim()),
        "examples/k8s/README.md states another answer"
    );

    // Publish through the sidecar: refused without the token, delivered with it.
    let order = r#"{"orderId":42,"item":"kyber crystal","quantity":3}"#;
    let publish = |token: Option<&str>| {
        let mut req = c
            .post(pod.dapr("/v1.0/publish/pubsub/orders"))
            .header("content-type", "application/json")
            .body(order);
        if let Some(token) = token {
            req = req.header("dapr-api-token", token.to_string());
        }
        req.send()
    };
    let res = publish(None).await.expect("publish");
    assert_eq!(text(res).await, (401, "invalid api token".to_string()));
    let res = publish(Some(DAPR_TOKEN)).await.expect("publish");
    assert_eq!(res.status(), 204);
    let line = "guest: order 42: 3 x kyber crystal, SUCCESS";
    assert!(
        pod.app.wait_for_line(line, within).await,
        "the app never logged {line:?}"
    );
    assert_eq!(
        pod.app.count("order 42:"),
        1,
        "published once, delivered once"
    );

    // A guest publishing with `wasi-dapr run`, the token only in the host's environment:
    // refused without it, delivered with it.
    let port = pod.dapr_port.to_string();
    let publisher = guests::guest("pubsub-rust-publisher");
    let out = Guest::new(publisher)
        .allowlist(&pod.allow)
        .envs(&[("DAPR_HTTP_PORT", &port)])
        .run()
        .await;
    assert_ne!(out.code, Some(0), "published without the token\n{out}");
    assert!(!out.stdout.contains("published order"), "{out}");
    assert!(out.stderr.contains("invalid api token"), "{out}");

    let out = Guest::new(publisher)
        .allowlist(&pod.allow)
        .envs(&[("DAPR_HTTP_PORT", &port), ("DAPR_API_TOKEN", DAPR_TOKEN)])
        .run()
        .await;
    out.assert_success();
    assert!(
        out.stdout.contains("published order 1 to pubsub/orders"),
        "{out}"
    );
    for line in [
        "guest: order 1: 1 x lightsaber, SUCCESS",
        "guest: order 2: flaky, failing attempt 1 on purpose, RETRY",
        // The retry counted its attempts in the state store, through the same sidecar.
        "guest: order 2: 2 x astromech droid (attempt 2), SUCCESS",
        "guest: order 3: invalid (quantity 0), DROP",
    ] {
        assert!(
            pod.app.wait_for_line(line, within).await,
            "the app never logged {line:?}"
        );
    }
    assert_eq!(
        pod.app.count("guest: order 1:"),
        1,
        "the refused run published nothing"
    );

    // What examples/k8s/README.md says the two logs show.
    let stated: Vec<&str> = readme
        .iter()
        .flat_map(|(_, block)| block.lines())
        .filter_map(|l| l.split_once("INFO guest: ").map(|(_, rest)| rest))
        .map(|rest| rest.split(" request=").next().unwrap_or(rest))
        .collect();
    assert!(stated.len() >= 5, "{stated:?}");
    for line in stated {
        let line = format!("guest: {line}");
        assert!(
            pod.app.wait_for_line(&line, within).await,
            "examples/k8s/README.md shows {line:?}, the app never logged it"
        );
    }
    let publisher_log = readme
        .iter()
        .find(|(_, block)| block.starts_with("published order 1"))
        .map(|(_, block)| block.as_str());
    assert_eq!(
        publisher_log,
        Some(out.stdout.as_str()),
        "the publisher's output in the README"
    );
}
