//! Hostile load on `wasi-dapr sidecar`: bulk-get amplification, pub/sub floods against an
//! app that never answers, symlinks in `rootPath`, metadata and lock floods, invalid
//! percent-encoding.
