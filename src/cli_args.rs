//! The arguments shared by several commands: ARM access, `run`, `evidence`, durations, secrets.

use std::path::PathBuf;

use crate::telemetry::LogFormat;

/// A duration such as `2h`, `90m`, `600s` or `600` (seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Age(pub std::time::Duration);

impl std::str::FromStr for Age {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let s = s.trim();
        let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
            Some(i) => s.split_at(i),
            None => (s, "s"),
        };
        let n: u64 = num
            .parse()
            .map_err(|_| format!("{s:?}: expected a number with s, m or h"))?;
        let secs = match unit {
            "s" => n,
            "m" => n * 60,
            "h" => n * 3600,
            _ => return Err(format!("{s:?}: unit must be s, m or h")),
        };
        if secs == 0 {
            return Err("must be more than zero".into());
        }
        Ok(Age(std::time::Duration::from_secs(secs)))
    }
}

/// A secret given on the command line or in the environment: never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretArg(pub String);

impl std::str::FromStr for SecretArg {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl std::fmt::Debug for SecretArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How to reach ARM.
#[derive(clap::Args, Debug, Clone)]
pub struct ArmArgs {
    /// The Azure cloud: its Resource Manager endpoint, Entra authority, Key Vault suffix and token
    /// audiences.
    #[arg(long = "cloud", env = "ENGRAM_CLOUD", value_enum, default_value_t = crate::azure::Cloud::AzurePublicCloud)]
    pub cloud: crate::azure::Cloud,
    /// Azure Resource Manager endpoint (default: the cloud's).
    #[arg(long = "arm-endpoint", env = "ENGRAM_ARM_ENDPOINT")]
    pub arm_endpoint: Option<String>,
    /// Test override: send Key Vault requests to this URL (the mock's Key Vault listener) instead of
    /// the vault's host. Never needed against Azure.
    #[arg(long = "keyvault-endpoint", env = "ENGRAM_KEYVAULT_ENDPOINT")]
    pub keyvault_endpoint: Option<String>,
    /// The Entra authority for every token request (default: the cloud's), e.g. the mock's.
    #[arg(long = "authority-host", env = "ENGRAM_AUTHORITY_HOST")]
    pub authority_host: Option<String>,
    /// A static bearer token (for the mock ARM). Visible in the process list: prefer
    /// --arm-token-file. Without either, the azure_identity chain is used (workload identity,
    /// managed identity, Azure CLI, environment).
    #[arg(long = "arm-token", env = "ENGRAM_ARM_TOKEN", hide_env_values = true)]
    pub arm_token: Option<SecretArg>,
    /// A file holding the bearer token, read again for every request.
    #[arg(
        long = "arm-token-file",
        env = "ENGRAM_ARM_TOKEN_FILE",
        conflicts_with = "arm_token"
    )]
    pub arm_token_file: Option<PathBuf>,
    /// Database sign-in by password (the mock and tests): a file holding the password of
    /// --pg-user. Without it the operator signs in to PostgreSQL with an Entra token from the
    /// azure_identity chain, as postgres.entraAdmin.principalName.
    #[arg(long = "pg-password-file", env = "ENGRAM_PG_PASSWORD_FILE")]
    pub pg_password_file: Option<PathBuf>,
    /// The PostgreSQL role of --pg-password-file.
    #[arg(long = "pg-user", env = "ENGRAM_PG_USER", default_value = "engram")]
    pub pg_user: String,
}

impl ArmArgs {
    /// ARM settings from the arguments.
    pub fn settings(&self) -> crate::azure::ArmSettings {
        let row = self.cloud.row();
        let endpoint = self.arm_endpoint.as_deref().unwrap_or(row.arm_endpoint);
        let mut s = crate::azure::ArmSettings::with_token(endpoint, "");
        s.cloud = self.cloud;
        s.keyvault_endpoint = self.keyvault_endpoint.clone();
        s.authority_host = self.authority_host.clone();
        s.credentials = match (&self.arm_token, &self.arm_token_file) {
            (Some(t), _) => {
                if std::env::var_os("ENGRAM_ARM_TOKEN").is_none() {
                    tracing::warn!("--arm-token is visible to every user of this machine in the process list; use --arm-token-file or ENGRAM_ARM_TOKEN");
                }
                crate::azure::Credentials::Static(t.0.clone())
            }
            (None, Some(p)) => crate::azure::Credentials::TokenFile(p.clone()),
            (None, None) => crate::azure::Credentials::Chain,
        };
        s
    }

    /// How the operator signs in to the servers' databases: a password file when given, else an
    /// Entra token from the azure_identity chain; none with a static ARM token (the mock).
    pub fn db(&self) -> Option<crate::database::Db> {
        self.db_for(&self.settings())
    }

    /// [`Self::db`] for the ARM settings actually in use (`--arm embedded` replaces them).
    pub fn db_for(&self, s: &crate::azure::ArmSettings) -> Option<crate::database::Db> {
        crate::database::Db::for_operator(self.pg_password_file.as_deref(), &self.pg_user, s)
    }
}

/// Arguments of `run`.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// The folder of EngramDataPlane specs (folder mode).
    #[arg(
        long = "specs",
        required_unless_present = "kube",
        conflicts_with = "kube"
    )]
    pub specs: Option<PathBuf>,
    /// Kubernetes mode: watch EngramDataPlane objects (in-cluster config or KUBECONFIG), with a
    /// finalizer, status on the status subresource, Events and leader election.
    #[arg(long)]
    pub kube: bool,
    /// Kubernetes mode: watch one namespace (default: all namespaces).
    #[arg(long)]
    pub namespace: Option<String>,
    /// Kubernetes mode: how long (seconds) the leader's Lease holds without a renewal. When the
    /// leader dies, another replica takes over within this plus the grace. [default: 30]
    #[arg(long = "lease-seconds")]
    pub lease_seconds: Option<u64>,
    /// Kubernetes mode: the leader renews this many seconds before its Lease would run out
    /// (at least 1, less than --lease-seconds). [default: 5]
    #[arg(long = "lease-grace-seconds")]
    pub lease_grace_seconds: Option<u64>,
    /// Kubernetes mode: spread the work over replicas in N shards (1 to 64), one Lease each
    /// (`engram-operator-shard-{i}`); a plane's shard is its subscription's. Every replica must
    /// run with the same N (docs/sharding.md). [default: one leader does every write]
    #[arg(long)]
    pub shards: Option<u32>,
    /// Serve /livez, /readyz and /metrics on this address (both modes), e.g. 0.0.0.0:8080.
    #[arg(long = "admin-listen")]
    pub admin_listen: Option<std::net::SocketAddr>,
    #[command(flatten)]
    pub arm: ArmArgs,
    /// `embedded` starts the mock ARM in-process (real-time clock) and talks to it.
    #[arg(long = "arm", value_parser = ["embedded"])]
    pub arm_mode: Option<String>,
    /// Operation duration of the embedded mock, in seconds.
    #[arg(long = "mock-lro-seconds", default_value_t = 2)]
    pub mock_lro_seconds: u64,
    /// Where to write each data plane's status (YAML, same shape as the CRD status).
    #[arg(long = "status-dir")]
    pub status_dir: Option<PathBuf>,
    /// Folder mode: append the operator's key actions (rotation detected, move sent, consumer
    /// confirmed, rotation complete, safe to disable, failed) to this file, one JSON object per
    /// line. Kubernetes mode prints them on stdout (`"audit":true`) and as Events.
    #[arg(long = "audit-log")]
    pub audit_log: Option<PathBuf>,
    /// Converge every data plane (following its long-running operations) and exit:
    /// 0 when all are Ready, 1 otherwise.
    #[arg(long)]
    pub once: bool,
    /// How many data planes reconcile at the same time.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Seconds between polls of an operation in flight when ARM sends no Retry-After.
    #[arg(long = "poll-seconds", default_value_t = 10.0)]
    pub poll_seconds: f64,
    /// Drop a pending ARM operation older than this (e.g. 2h, 90m, 600s) and observe its resource
    /// afresh, with a warning.
    #[arg(long = "max-operation-age", default_value = "2h")]
    pub max_operation_age: Age,
    /// Hold back a create recorded in status (write-ahead intent) whose resource Azure does not
    /// show yet for this long after the intent, for every kind (e.g. 20m). [default: PostgreSQL
    /// server 30m, storage account 5m]
    #[arg(long = "create-window")]
    pub create_window: Option<Age>,
    /// Where the fast tier reads the top-level resources (servers, accounts, alert rules): `get`
    /// (one GET each, one alert list per resource group) or `arg` (Azure Resource Graph, up to
    /// 1,000 resources a query). A change found there makes its plane due at once.
    #[arg(long, value_enum, default_value_t = crate::reconcile::sweep::SweepSource::Get)]
    pub sweep: crate::reconcile::sweep::SweepSource,
    /// The fast tier's period (e.g. 60s, 5m; 0 turns it off). The child tier (every resource of
    /// a plane) runs at a period computed from the budgets, never shorter than resyncSeconds.
    #[arg(long = "fast-sweep", default_value = "60s")]
    pub fast_sweep: Age,
    /// Log format.
    #[arg(long = "log-format", value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
}

/// Which data planes a read-only report covers (`evidence`, `report`).
#[derive(clap::Args, Debug, Clone)]
pub struct PlanesArgs {
    /// One spec file.
    #[arg(short = 'f', long = "file", conflicts_with_all = ["specs", "kube"], required_unless_present_any = ["specs", "kube"])]
    pub file: Option<PathBuf>,
    /// Every spec of a folder.
    #[arg(long = "specs", conflicts_with = "kube")]
    pub specs: Option<PathBuf>,
    /// Every EngramDataPlane in the cluster (in-cluster config or KUBECONFIG), with its status.
    #[arg(long)]
    pub kube: bool,
    /// Kubernetes mode: one namespace (default: all).
    #[arg(long, requires = "kube")]
    pub namespace: Option<String>,
    /// Folder mode: where `run --status-dir` writes the planes' status files (key rotation,
    /// restore drills).
    #[arg(long = "status-dir", conflicts_with = "kube")]
    pub status_dir: Option<PathBuf>,
}

/// Arguments of `evidence`.
#[derive(clap::Args, Debug, Clone)]
pub struct EvidenceArgs {
    #[command(flatten)]
    pub planes: PlanesArgs,
    /// The operator's JSON-lines key audit log; its lines for each plane go into the rotation log.
    #[arg(long = "audit-log")]
    pub audit_log: Option<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub arm: ArmArgs,
}

/// Where a report goes, and in which format (`evidence`, `report`).
#[derive(clap::Args, Debug, Clone)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = crate::evidence::Format::Md)]
    pub format: crate::evidence::Format,
    /// Write the report here instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Arguments of `report`.
#[derive(clap::Args, Debug, Clone)]
pub struct ReportArgs {
    #[command(flatten)]
    pub planes: PlanesArgs,
    /// The window measured, in days (1–30: Azure Monitor keeps platform metrics 93 days, and
    /// the report reads at most a month).
    #[arg(long = "window-days", default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=30))]
    pub window_days: u32,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub arm: ArmArgs,
}
