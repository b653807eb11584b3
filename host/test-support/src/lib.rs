#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![allow(clippy::unwrap_used)]

pub mod client;
pub mod mock;
pub mod readme;
pub mod redis;
pub mod sidecar;

/// Writes `files` (name, text) into a new temporary folder, e.g. component YAML files
/// for `--resources-path`.
pub fn resources(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write resource");
    }
    dir
}

/// The attributes of the CloudEvent daprd builds around a published JSON body, sorted.
pub const CLOUD_EVENT_FIELDS: [&str; 12] = [
    "data",
    "datacontenttype",
    "id",
    "pubsubname",
    "source",
    "specversion",
    "time",
    "topic",
    "traceid",
    "traceparent",
    "tracestate",
    "type",
];

/// A free TCP port on 127.0.0.1 (bound once and released; the caller binds it next).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
