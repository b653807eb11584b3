//! The log setup of the `wasi-dapr` binary, shared with the benchmarks so they measure
//! what ships.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The filter used when `RUST_LOG` is not set.
///
/// `wasmtime_wasi` opens an INFO-level span for every WASI call a guest makes; with an
/// `info` filter each one is built and formatted, which measured about 5 µs of a
/// served hello request (`benches/serve.rs`). Its warnings still get through, and
/// `RUST_LOG=info,wasmtime_wasi=info` brings the spans back for debugging.
pub const DEFAULT_FILTER: &str = "info,wasmtime_wasi=warn";

/// `RUST_LOG` if it is set and valid, else [`DEFAULT_FILTER`].
pub fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER))
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Compact human-readable lines (the default).
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `fields.message`, other fields
    /// beside it, the current spans), for log pipelines.
    Json,
}

/// Installs the process's subscriber: compact lines without targets, colour only on a
/// terminal, or JSON lines. Does nothing if one is already installed.
pub fn init<W>(writer: W, ansi: bool, format: LogFormat)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(writer)
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder.with_ansi(ansi).try_init(),
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_filter_parses_and_quiets_wasi_call_spans() {
        let filter = EnvFilter::new(DEFAULT_FILTER).to_string();
        assert!(filter.contains("wasmtime_wasi=warn"), "{filter}");
        assert!(filter.contains("info"), "{filter}");
    }
}
