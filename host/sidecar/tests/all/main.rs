//! The sidecar's integration tests, in one test binary: actors against a mock actor app
//! (`actors.rs`), the HTTP API against the wire
//! reference (`api.rs`), bulk publish and bulk subscribe (`bulk.rs`), conversation with the
//! echo component (`conversation.rs`), Go-style body decoding (`decoding.rs`), the Jobs API
//! (`jobs.rs`), the localstorage binding (`localstorage.rs`), the metadata answer
//! (`metadata.rs`), pub/sub delivery to a mock app (`pubsub.rs`), and the state API on the
//! in-memory and Redis stores (`state.rs`).

mod actors;
mod api;
mod bulk;
mod conversation;
mod decoding;
mod jobs;
mod layering;
mod localstorage;
mod metadata;
mod pubsub;
mod state;
