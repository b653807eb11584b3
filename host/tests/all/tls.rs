//! `https` on the send path: a hop to an `https` URL is made over TLS with the server's
//! certificate verified against the system's roots, so a loopback server presenting a
//! self-signed certificate (`fixtures/tls/`) is refused before any request is sent, while
//! the same allowlist's `http` hop is sent in the clear by the plain client.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, pki_types::pem::PemObject};
use wasi_dapr::config::HostConfig;
use wasi_dapr::dapr_env::SidecarEndpoint;
use wasi_dapr::outbound::{OutboundHttp, SendError};

use crate::support::{MockServer, outbound_get, read_repo_file};

/// A TLS server on loopback with the self-signed fixture certificate. It counts the
/// handshakes begun and the HTTP requests read after one completed (answering 200).
struct TlsServer {
    port: u16,
    handshakes: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

impl TlsServer {
    async fn start() -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let cert = rustls::pki_types::CertificateDer::from_pem_slice(
            read_repo_file("host/fixtures/tls/cert.pem").as_bytes(),
        )
        .expect("certificate");
        let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(
            read_repo_file("host/fixtures/tls/key.pem").as_bytes(),
        )
        .expect("key");
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .expect("server config");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let handshakes = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let (h, r) = (handshakes.clone(), requests.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (acceptor, h, r) = (acceptor.clone(), h.clone(), r.clone());
                tokio::spawn(async move {
                    h.fetch_add(1, Ordering::SeqCst);
                    let Ok(mut tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let mut buf = [0u8; 1024];
                    if matches!(tls.read(&mut buf).await, Ok(n) if n > 0) {
                        r.fetch_add(1, Ordering::SeqCst);
                        let _ = tls
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                            .await;
                    }
                });
            }
        });
        Self {
            port,
            handshakes,
            requests,
        }
    }
}

#[tokio::test]
async fn an_https_hop_verifies_the_certificate_and_refuses_a_self_signed_one() {
    let tls = TlsServer::start().await;
    let plain = MockServer::hello().await;
    let toml = format!(
        "allowed_hosts = [\"https://127.0.0.1:{}\", \"https://localhost:{}\", \"{}\"]",
        tls.port,
        tls.port,
        plain.origin()
    );
    let config = HostConfig::from_toml_str(&toml, "test").expect("config");
    let http = OutboundHttp::new(
        config,
        SidecarEndpoint::parse("http://127.0.0.1:3500").expect("endpoint"),
        None,
    );
    http.warm_up();

    // The plain hop is sent (and answered) by the client that loads no roots.
    assert_eq!(
        outbound_get(&http, &plain.url("/hello"))
            .await
            .expect("plain"),
        200
    );

    for host in ["127.0.0.1", "localhost"] {
        let err = outbound_get(&http, &format!("https://{host}:{}/", tls.port))
            .await
            .expect_err("a self-signed certificate must be refused");
        let SendError::Failed(reason) = &err else {
            panic!("{host}: expected a failed connection, got {err:?}");
        };
        assert!(
            reason.to_ascii_lowercase().contains("certificate"),
            "{host}: the reason names the certificate: {reason}"
        );
    }
    assert_eq!(
        tls.handshakes.load(Ordering::SeqCst),
        2,
        "both https hops began a TLS handshake"
    );
    assert_eq!(
        tls.requests.load(Ordering::SeqCst),
        0,
        "no request was sent over an unverified connection"
    );
}
