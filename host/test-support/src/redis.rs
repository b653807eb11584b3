//! `RedisServer`: a real `redis-server` on a free port for the Redis-backed tests.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::net::TcpStream;

/// A `redis-server` on a free port, killed on drop.
pub struct RedisServer {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    child: Child,
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl RedisServer {
    /// Starts `redis-server`; fails (never skips) when it is not installed.
    pub async fn start() -> Result<RedisServer> {
        Self::start_with(&[]).await
    }

    /// [`RedisServer::start`] with extra server arguments (e.g. `--requirepass pw`).
    pub async fn start_with(extra: &[&str]) -> Result<RedisServer> {
        let bin = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .map(str::to_string)
            .or_else(|| which("redis-server"));
        let Some(bin) = bin else {
            bail!(
                "redis-server is not installed: the Redis conformance tests need it (Debian: apt-get install -y redis-server)"
            );
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new(&bin)
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {bin}"))?;
        let server = RedisServer { port, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            if Instant::now() > deadline {
                bail!("redis-server did not listen on port {port} within 10 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(server)
    }
}

fn which(name: &str) -> Option<String> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.exists())
            .map(|p| p.display().to_string())
    })
}
