//! Logs (tracing), metrics (Prometheus) and the admin HTTP endpoints.

pub mod admin;
pub mod metrics;

use std::io::IsTerminal;

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

/// The product token the operator sends as `User-Agent` to ARM and to the Kubernetes API:
/// `engram-operator/<version>`, and in Kubernetes mode the replica's identity (its pod name) as a
/// comment, so ARM's request logs and the API server's audit log say which replica wrote. Only
/// the characters a header token allows are kept.
pub fn user_agent(identity: Option<&str>) -> String {
    let product = concat!("engram-operator/", env!("CARGO_PKG_VERSION"));
    let clean: String = identity
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(63)
        .collect();
    if clean.is_empty() {
        product.to_string()
    } else {
        format!("{product} ({clean})")
    }
}

/// Log output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Human,
    /// One JSON object per line (for log pipelines).
    Json,
}

/// Targets of dependencies that log whole requests (headers included) below info. azure_core
/// 0.21 redacts every header except `Authorization` and its transport policy prints the request at
/// debug; HTTP client internals may print headers at trace. They are held at info, whatever
/// RUST_LOG says; our own policy logs request lines without credentials.
const PINNED: &[&str] = &[
    "azure_core",
    "azure_identity",
    "azure_mgmt_postgresql",
    "azure_mgmt_storage",
    "reqwest",
    "hyper",
    "hyper_util",
    "h2",
    "kube_client",
    "tower_http",
];

/// Whether an event or span of `target` at `level` may be logged at all.
pub fn allowed(target: &str, level: &tracing::Level) -> bool {
    let pinned = PINNED.iter().any(|p| {
        target
            .strip_prefix(p)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    });
    !pinned || *level <= tracing::Level::INFO
}

/// Install the global tracing subscriber; RUST_LOG filters (default `info`), except that the
/// [`PINNED`] targets never log below info. Logs go to stderr so stdout stays for command output.
/// Calling it twice is harmless.
pub fn init_tracing(format: LogFormat) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let pin = tracing_subscriber::filter::filter_fn(|m| allowed(m.target(), m.level()));
    // Colour only on a terminal: log files and collectors get plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Human => builder.finish().with(pin).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .finish()
            .with(pin)
            .try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::allowed;
    use super::user_agent;
    use tracing::Level;

    #[test]
    fn request_logging_targets_are_held_at_info() {
        assert!(!allowed("azure_core::policies::transport", &Level::DEBUG));
        assert!(!allowed("azure_core", &Level::TRACE));
        assert!(!allowed(
            "hyper_util::client::legacy::client",
            &Level::TRACE
        ));
        assert!(allowed("azure_core::policies::transport", &Level::INFO));
        assert!(allowed("azure_core", &Level::WARN));
        assert!(allowed("engram_operator::azure", &Level::TRACE));
        // A prefix of a name is not the crate.
        assert!(allowed("hyperlocal", &Level::TRACE));
    }

    #[test]
    fn the_user_agent_names_the_replica_and_nothing_a_header_cannot_carry() {
        let v = env!("CARGO_PKG_VERSION");
        assert_eq!(user_agent(None), format!("engram-operator/{v}"));
        assert_eq!(user_agent(Some("")), format!("engram-operator/{v}"));
        assert_eq!(
            user_agent(Some("engram-operator-7d9f-x2")),
            format!("engram-operator/{v} (engram-operator-7d9f-x2)")
        );
        assert_eq!(
            user_agent(Some("a b\r\n(c)")),
            format!("engram-operator/{v} (abc)")
        );
    }
}
