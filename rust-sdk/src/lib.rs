//! Guest SDK (in progress).
