//! The sidecar's integration tests, in one test binary: the HTTP API against the wire
//! reference (`api.rs`), pub/sub delivery to a mock app (`pubsub.rs`), and the state API
//! on the in-memory and Redis stores (`state.rs`).

mod api;
mod jobs;
mod layering;
mod pubsub;
mod state;
