//! Sets up logging: human lines on a terminal, JSON lines for log shippers, to stderr.

use crate::config::LogFormat;
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `RUST_LOG`, when set, wins over `level`.
/// Calling it twice is harmless (the second call does nothing).
pub fn init(level: &str, format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(filter_directive(level)))
        .unwrap_or_else(|_| EnvFilter::new("warn,parleyd=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().with_current_span(false).try_init(),
        LogFormat::Human => builder
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .try_init(),
    };
}

/// A bare level (`"debug"`) applies to parleyd only, with other crates at `warn`: their debug
/// output is noise to an operator, and HTTP libraries log request targets at that level.
/// A full filter (`"info,hyper=debug"`) is used as written.
fn filter_directive(level: &str) -> String {
    if level.contains('=') || level.contains(',') {
        level.to_string()
    } else {
        format!("warn,parleyd={level}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_levels_apply_to_parleyd_only() {
        assert_eq!(filter_directive("debug"), "warn,parleyd=debug");
        assert_eq!(filter_directive("info,sled=debug"), "info,sled=debug");
    }
}
