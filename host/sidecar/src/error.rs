//! `SidecarError`: why the sidecar could not start.

use std::path::PathBuf;

/// Why the sidecar could not start.
#[derive(Debug, thiserror::Error)]
pub enum SidecarError {
    /// The resources folder could not be listed.
    #[error("reading resources folder {path}")]
    ReadResources {
        /// The folder given as resources path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A component file could not be read.
    #[error("reading component file {path}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A component file is not valid YAML or not a valid Dapr resource.
    #[error("parsing component file {path}: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the expected form.
        reason: String,
    },
    /// A component names a type this sidecar does not implement.
    #[error(
        "component {name:?} in {path}: unknown or unsupported component type {kind:?} version {version:?} \
         (supported: {supported}; version v1)"
    )]
    UnknownType {
        /// The file.
        path: PathBuf,
        /// The component name.
        name: String,
        /// The `spec.type`.
        kind: String,
        /// The `spec.version`.
        version: String,
        /// The implemented types, comma separated.
        supported: String,
    },
    /// Two components of the same category share a name.
    #[error(
        "component {name:?} in {path}: a {category} component with this name is already defined"
    )]
    Duplicate {
        /// The file.
        path: PathBuf,
        /// The component name.
        name: String,
        /// The category (state, pubsub, ...).
        category: &'static str,
    },
    /// A component's metadata is invalid or its backend could not be initialised.
    #[error("component {name:?} ({kind}) in {path}: {reason}")]
    Init {
        /// The file.
        path: PathBuf,
        /// The component name.
        name: String,
        /// The `spec.type`.
        kind: String,
        /// What went wrong.
        reason: String,
    },
    /// A component's backend could not be reached at startup.
    #[error("component {name:?} ({kind}) in {path}: connecting to the backend")]
    Connect {
        /// The file.
        path: PathBuf,
        /// The component name.
        name: String,
        /// The `spec.type`.
        kind: String,
        /// The backend's error.
        #[source]
        source: Box<redis::RedisError>,
    },
    /// The listening socket could not be bound.
    #[error("binding the sidecar's HTTP port {addr}")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}
