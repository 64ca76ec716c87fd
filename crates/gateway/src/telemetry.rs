//! Tracing subscriber set-up: `RUST_LOG` filter, text or JSON lines on stderr.

use std::io::IsTerminal;

use tracing::level_filters::LevelFilter;
use tracing_subscriber::{EnvFilter, fmt, layer::SubscriberExt, util::SubscriberInitExt};

use crate::settings::LogFormat;

/// Dependencies that see raw HTTP traffic (headers with cookies and bearer tokens, OAuth form
/// bodies). A blanket `RUST_LOG=trace` does not open their wire-level logs; naming one in
/// `RUST_LOG` (`RUST_LOG=trace,hyper=trace`) still does, on purpose.
const WIRE_TARGETS: &[(&str, &str)] = &[
    ("hyper", "debug"),
    ("hyper_util", "debug"),
    ("h2", "info"),
    ("reqwest", "debug"),
    ("rustls", "info"),
    ("actix_http", "debug"),
    ("awc", "debug"),
    ("oauth2", "debug"),
    ("mio", "info"),
];

/// The filter directives for a `RUST_LOG` value (`None`: unset → `info`): the user's, plus a
/// cap for every wire-level target they did not name. A cap only ever lowers a level: with
/// `info` (the default) or `warn` the wire targets stay at that level, since a cap above it
/// would turn on their debug logs (a line per Spotify connection) in production.
pub fn filter_directives(rust_log: Option<&str>) -> String {
    let user = rust_log
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("info");
    let named: Vec<&str> = user
        .split(',')
        .filter_map(|d| d.split(['=', '[']).next())
        .map(str::trim)
        .collect();
    // The blanket level (a directive without a target); without one, unnamed targets are off
    // and need no cap.
    let blanket = user
        .split(',')
        .filter_map(|d| d.trim().parse::<LevelFilter>().ok())
        .max();
    let mut directives = user.to_owned();
    let Some(blanket) = blanket else {
        return directives;
    };
    for (target, level) in WIRE_TARGETS {
        let mentioned = named
            .iter()
            .any(|n| *n == *target || n.starts_with(&format!("{target}::")));
        let cap = level.parse::<LevelFilter>().unwrap_or(LevelFilter::INFO);
        if !mentioned && cap <= blanket {
            directives.push_str(&format!(",{target}={level}"));
        }
    }
    directives
}

/// Installs the global subscriber. The filter comes from `RUST_LOG` (default `info`), with the
/// wire-level caps of [`filter_directives`]. Colours only on a terminal, so log files and
/// collectors get plain text. Calling it twice is harmless (the second call keeps the first
/// subscriber), which lets tests call it from every test.
pub fn init(format: LogFormat) {
    let rust_log = std::env::var("RUST_LOG").ok();
    let filter = EnvFilter::try_new(filter_directives(rust_log.as_deref()))
        .unwrap_or_else(|_| EnvFilter::new(filter_directives(None)));
    let registry = tracing_subscriber::registry().with(filter);
    let ansi = std::io::stderr().is_terminal();
    let _already_set = match format {
        LogFormat::Text => registry
            .with(fmt::layer().with_ansi(ansi).with_writer(std::io::stderr))
            .try_init(),
        LogFormat::Json => registry
            .with(fmt::layer().json().with_writer(std::io::stderr))
            .try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blanket_levels_do_not_open_wire_logs_but_named_targets_do() {
        let d = filter_directives(Some("trace"));
        assert!(d.starts_with("trace,"));
        assert!(d.contains(",hyper=debug") && d.contains(",reqwest=debug"));
        assert!(d.contains(",actix_http=debug"));
        let d = filter_directives(Some("debug,hyper=trace,h2::codec=trace"));
        assert!(
            !d.contains(",hyper=debug") && !d.contains(",h2=info"),
            "{d}"
        );
        assert!(d.contains(",reqwest=debug"));
        assert_eq!(filter_directives(None), filter_directives(Some("info")));
        // Caps never raise a level: at the default `info` or at `warn`, wire debug logs stay off.
        for quiet in ["info", "warn", "sesh_gateway=debug"] {
            let d = filter_directives(Some(quiet));
            assert!(
                !d.contains("=debug,") && !d.ends_with("reqwest=debug"),
                "{d}"
            );
            assert!(!d.contains("hyper") && !d.contains("reqwest"), "{d}");
        }
        assert!(filter_directives(Some("debug")).contains(",h2=info"));
        assert!(EnvFilter::try_new(filter_directives(Some("trace"))).is_ok());
    }
}
