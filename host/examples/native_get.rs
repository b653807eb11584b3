//! The native baseline for `host/benches/outbound.sh`: `N` sequential GETs of `URL` with
//! reqwest (the client the host's send path uses), on a current-thread runtime as
//! `wasi-dapr run` drives its guest, reading each body. Prints `requests=N bytes=B`.
//! `cargo run --release -p wasi-dapr --example native_get -- URL N`

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8090/hello".into());
    let n: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(1000);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder().no_proxy().build()?;
    let mut bytes = 0;
    for _ in 0..n {
        let response = client.get(&url).send().await?;
        anyhow::ensure!(response.status() == 200, "status {}", response.status());
        bytes += response.bytes().await?.len();
    }
    println!("requests={n} bytes={bytes}");
    Ok(())
}
