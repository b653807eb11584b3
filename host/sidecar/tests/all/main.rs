//! The sidecar's integration tests, in one test binary: the HTTP API against the wire
//! reference (`api.rs`), pub/sub delivery to a mock app (`pubsub.rs`), bulk publish and
//! bulk subscribe (`bulk.rs`), Go-style body decoding (`decoding.rs`), and the state API
//! on the in-memory and Redis stores (`state.rs`).

mod api;
mod bulk;
mod decoding;
mod layering;
mod pubsub;
mod state;
