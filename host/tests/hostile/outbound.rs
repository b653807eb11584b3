//! The outbound token and the allowlist under hostile configuration: the token only to the
//! sidecar origin, a 200k-entry allowlist loading in linear time.
