//! engram-operator: keeps an Azure data plane (PostgreSQL Flexible Server + Blob Storage + one
//! customer-managed key + Azure Monitor alerts) exactly as declared.

pub mod api;
pub mod azure;
pub mod bench;
pub mod cli;
mod cli_args;
pub mod commands;
pub mod database;
pub mod demo;
pub mod evidence;
pub mod mock_arm;
pub mod mock_kube;
pub mod plan;
pub mod reconcile;
pub mod report;
mod serving;
pub mod sizing;
pub mod sources;
pub mod telemetry;

/// Errors of the library. Messages never carry tokens, keys or secrets.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A spec broke one or more rules; each entry names the field path and the rule.
    #[error("invalid spec: {}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<api::FieldError>),
    /// YAML could not be written.
    #[error("YAML: {0}")]
    Yaml(String),
    /// JSON could not be written.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Bad command-line input.
    #[error("{0}")]
    Usage(String),
    /// A sizing calculator refused its input or found no SKU for the load.
    #[error("{0}")]
    Sizing(#[from] sizing::SizingError),
}

impl Error {
    /// A short, stable label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "invalid_spec",
            Self::Yaml(_) => "yaml",
            Self::Json(_) => "json",
            Self::Io { .. } => "io",
            Self::Usage(_) => "usage",
            Self::Sizing(_) => "sizing",
        }
    }
}

/// Library result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
