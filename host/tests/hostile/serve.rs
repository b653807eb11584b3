//! Hostile load on `wasi-dapr serve`: slow bodies, half-sent heads and idle connections,
//! forged CGI framing, NUL in paths, readiness floods, guest stderr floods.
