//! The embedded Dapr sidecar (in progress).
