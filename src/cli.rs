//! Command-line interface: parse arguments and dispatch. Each subcommand returns its exit code.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::telemetry::{init_tracing, LogFormat};
use crate::{api, sizing, Error, Result};

/// Keeps an Azure data plane (PostgreSQL Flexible Server + Blob Storage + one CMK + alerts) as declared.
#[derive(Parser, Debug)]
#[command(name = "engram-operator", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Validate one spec file, or every *.yaml / *.yml file in a folder. Exit 0 when all are valid.
    Validate {
        /// A spec file or a folder of spec files.
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
    /// Print the effective spec (environment profile applied) as YAML.
    Render {
        /// The spec file.
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
    /// Print the EngramDataPlane CustomResourceDefinition as YAML.
    Crd,
    /// The demo: embedded mock ARM, converge a folder, a portal edit, drift corrected, summary.
    Demo {
        /// The folder of specs.
        #[arg(long = "specs", default_value = "examples")]
        specs: PathBuf,
    },
    /// Reconcile every spec in a folder against Azure, continuously (or once, for pipelines).
    Run(RunArgs),
    /// Read the live state and print what would change. Exit 0 no changes, 2 changes pending,
    /// 1 error (including changes refused by a safety rule).
    Plan {
        /// The spec file.
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        /// The owner the plan is made for, `{namespace}/{name}` (default `folder/{metadata.name}`,
        /// as folder mode owns it); a resource tagged for another owner shows as refused.
        #[arg(long)]
        owner: Option<String>,
        #[command(flatten)]
        arm: ArmArgs,
    },
    /// The AI-SEC-01 evidence report (docs/evidence.md): reads live state through ARM and Key Vault
    /// and never writes. Exit 0 when no control fails, 3 when any fails, 1 on error.
    Evidence(EvidenceArgs),
    /// Run the mock Azure Resource Manager server (see docs/mock-arm.md) until Ctrl-C.
    MockArm {
        /// Address to listen on, e.g. 127.0.0.1:8080.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// The bearer token clients must send.
        #[arg(
            long,
            env = "MOCK_ARM_TOKEN",
            default_value = "mock-token",
            hide_env_values = true,
            hide_default_value = true
        )]
        token: SecretArg,
        /// Run the clock in real time (demo) instead of virtual time (tests).
        #[arg(long)]
        real_time: bool,
        /// Duration of every long-running operation, in (virtual) seconds.
        #[arg(long, default_value_t = 30)]
        lro_seconds: u64,
        /// Every server reports this as its fullyQualifiedDomainName (HOST or HOST:PORT; the port
        /// form is the mock's own), e.g. a local PostgreSQL.
        #[arg(long, value_name = "HOST:PORT")]
        pg_fqdn: Option<String>,
        /// Servers created by a point-in-time restore report this one instead (default: --pg-fqdn).
        #[arg(long, value_name = "HOST:PORT")]
        pg_restore_fqdn: Option<String>,
        /// A JSON list of the principals its Entra authority issues tokens to.
        #[arg(long, value_name = "FILE")]
        entra_principals: Option<PathBuf>,
        /// Resource Graph sees every change this many (mock clock) seconds late.
        #[arg(long, default_value_t = 0)]
        graph_lag_seconds: u64,
    },
    /// Run the mock Kubernetes API server (see docs/mock-kube.md) until Ctrl-C.
    MockKube {
        /// Loopback address to listen on (plain HTTP, no authentication), e.g. 127.0.0.1:6443.
        #[arg(long, default_value = "127.0.0.1:6443")]
        listen: std::net::SocketAddr,
        /// Write a kubeconfig pointing at the server to this file.
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        what: BenchTarget,
    },
    /// Sizing calculators (seed §2 and §3): PostgreSQL SKU and storage, Blob Storage tiers and cost.
    #[command(subcommand)]
    Size(SizeCommand),
}

/// What to benchmark.
#[derive(Subcommand, Debug)]
pub enum BenchTarget {
    /// Plain GETs of one PostgreSQL server against an in-process mock ARM on loopback.
    MockArm {
        /// Total requests.
        #[arg(long, default_value_t = 200_000)]
        requests: usize,
        /// Concurrent connections.
        #[arg(long, default_value_t = 32)]
        connections: usize,
    },
    /// Many data planes converged from nothing, then in-sync passes: time, ARM requests, memory.
    Reconcile {
        /// Number of data planes (each a PostgreSQL server and a Storage account).
        #[arg(long, default_value_t = 200)]
        planes: usize,
        /// Data planes reconciled at the same time.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
    },
    /// pgvector HNSW index builds on a throwaway local PostgreSQL (.ci/tools.sh installs it):
    /// random vectors loaded server-side, CREATE INDEX timed for each m/ef_construction.
    Hnsw(crate::bench::hnsw::HnswArgs),
}

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
    /// Log format.
    #[arg(long = "log-format", value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
}

/// Arguments of `evidence`.
#[derive(clap::Args, Debug, Clone)]
pub struct EvidenceArgs {
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
    /// Folder mode: where `run --status-dir` writes the planes' status files (for the key
    /// rotation log).
    #[arg(long = "status-dir", conflicts_with = "kube")]
    pub status_dir: Option<PathBuf>,
    /// The operator's JSON-lines key audit log; its lines for each plane go into the rotation log.
    #[arg(long = "audit-log")]
    pub audit_log: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = crate::evidence::Format::Md)]
    pub format: crate::evidence::Format,
    /// Write the report here instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub arm: ArmArgs,
}

/// `size` subcommands.
#[derive(Subcommand, Debug)]
pub enum SizeCommand {
    /// PostgreSQL Flexible Server: vCores, RAM, SKU, storage and monthly cost for a load.
    Postgres(sizing::postgres::PostgresArgs),
    /// Blob Storage: volume, hot/cool/archive split, monthly cost and lifecycle implications.
    Blob(sizing::blob::BlobArgs),
}

/// Run a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> Result<i32> {
    // Not locked for the whole command: a long-running one (run --kube) prints audit lines from
    // runtime worker threads, which would wait forever on a lock this thread held.
    let mut out = std::io::stdout();
    match cli.command {
        Command::Validate { file } => validate(&file, &mut out),
        Command::Render { file } => render(&file, &mut out),
        Command::Crd => {
            write_out(&mut out, &api::crd_yaml()?)?;
            Ok(0)
        }
        Command::Demo { specs } => {
            init_tracing(LogFormat::Human);
            runtime()?.block_on(crate::demo::run(&specs))
        }
        Command::Run(args) => {
            init_tracing(args.log_format);
            let rt = runtime()?;
            let code = rt.block_on(crate::commands::run(args));
            // Everything worth waiting for is done; do not linger on idle connection tasks.
            rt.shutdown_timeout(std::time::Duration::from_millis(200));
            code
        }
        Command::Plan { file, owner, arm } => {
            init_tracing(LogFormat::Human);
            runtime()?.block_on(crate::commands::plan(&file, owner, &arm, &mut out))
        }
        Command::Evidence(args) => {
            init_tracing(LogFormat::Human);
            runtime()?.block_on(crate::commands::evidence(&args, &mut out))
        }
        Command::MockArm {
            listen,
            token,
            real_time,
            lro_seconds,
            pg_fqdn,
            pg_restore_fqdn,
            entra_principals,
            graph_lag_seconds,
        } => {
            let usage = |e: crate::mock_arm::Error| Error::Usage(e.to_string());
            let mut entra = crate::mock_arm::EntraConfig::default();
            if let Some(path) = entra_principals {
                entra.principals =
                    crate::mock_arm::standalone::load_principals(&path).map_err(usage)?;
            }
            let config = crate::mock_arm::MockConfig {
                token: token.0,
                clock: if real_time {
                    crate::mock_arm::ClockMode::RealTime
                } else {
                    crate::mock_arm::ClockMode::Virtual
                },
                lro: crate::mock_arm::LroDurations::uniform(std::time::Duration::from_secs(
                    lro_seconds,
                )),
                pg_fqdn,
                pg_restore_fqdn,
                entra,
                graph_lag: std::time::Duration::from_secs(graph_lag_seconds),
                ..Default::default()
            };
            let serving = crate::mock_arm::standalone::serve_until_ctrl_c(listen, config);
            runtime()?.block_on(serving).map_err(usage)?;
            Ok(0)
        }
        Command::MockKube { listen, kubeconfig } => {
            runtime()?.block_on(mock_kube(listen, kubeconfig.as_deref()))
        }
        Command::Bench { what } => {
            let report = match what {
                BenchTarget::MockArm {
                    requests,
                    connections,
                } => runtime()?
                    .block_on(crate::mock_arm::bench::run(requests, connections))
                    .map_err(|e| Error::Usage(e.to_string()))?,
                BenchTarget::Reconcile {
                    planes,
                    concurrency,
                } => runtime()?.block_on(crate::bench::reconcile(planes, concurrency))?,
                BenchTarget::Hnsw(args) => runtime()?
                    .block_on(crate::bench::hnsw::output(&args))
                    .map_err(|e| Error::Usage(e.to_string()))?,
            };
            writeln_out(&mut out, &report)?;
            Ok(0)
        }
        Command::Size(size) => {
            let text = match size {
                SizeCommand::Postgres(args) => sizing::postgres_output(&args)?,
                SizeCommand::Blob(args) => sizing::blob_output(&args)?,
            };
            write_out(&mut out, &text)?;
            Ok(0)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            path: "tokio runtime".into(),
            source,
        })
}

/// The spec files named by a path: the file itself, or the *.yaml / *.yml files directly in a folder,
/// sorted by name.
pub fn spec_files(path: &Path) -> Result<Vec<PathBuf>> {
    let io = |source| Error::Io {
        path: path.display().to_string(),
        source,
    };
    if !path.is_dir() {
        std::fs::metadata(path).map_err(io)?;
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Read a file to a string, with the path in the error.
pub fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}

fn validate(path: &Path, out: &mut impl Write) -> Result<i32> {
    let files = spec_files(path)?;
    if files.is_empty() {
        return Err(Error::Usage(format!(
            "{}: no *.yaml or *.yml files",
            path.display()
        )));
    }
    let mut invalid = 0;
    for file in &files {
        match api::load(&read(file)?) {
            Ok((res, eff)) => writeln_out(
                out,
                &format!(
                    "ok      {} ({} {}, {} {})",
                    file.display(),
                    res.metadata.name.as_deref().unwrap_or_default(),
                    eff.environment,
                    eff.postgres.sku.name,
                    eff.storage.account_name
                ),
            )?,
            Err(errors) => {
                invalid += 1;
                writeln_out(
                    out,
                    &format!(
                        "invalid {} ({} error{})",
                        file.display(),
                        errors.len(),
                        if errors.len() == 1 { "" } else { "s" }
                    ),
                )?;
                for e in errors {
                    writeln_out(out, &format!("  {}: {e}", file.display()))?;
                }
            }
        }
    }
    writeln_out(
        out,
        &format!("{} valid, {invalid} invalid", files.len() - invalid),
    )?;
    Ok(if invalid == 0 { 0 } else { 1 })
}

fn render(path: &Path, out: &mut impl Write) -> Result<i32> {
    match api::load(&read(path)?) {
        Ok((res, eff)) => {
            if let Some(note) = &eff.postgres.auto_sized {
                writeln_out(out, &format!("# {note}"))?;
            }
            write_out(out, &api::render_yaml(&res, &eff)?)?;
            Ok(0)
        }
        Err(errors) => {
            for e in errors {
                eprintln!("{}: {e}", path.display());
            }
            Ok(1)
        }
    }
}

pub(crate) fn write_out(out: &mut impl Write, s: &str) -> Result<()> {
    out.write_all(s.as_bytes()).map_err(|source| Error::Io {
        path: "stdout".into(),
        source,
    })
}

pub(crate) fn writeln_out(out: &mut impl Write, s: &str) -> Result<()> {
    write_out(out, s)?;
    write_out(out, "\n")
}

async fn mock_kube(listen: std::net::SocketAddr, kubeconfig: Option<&Path>) -> Result<i32> {
    use crate::mock_kube::{MockKube, MockKubeConfig};
    let usage = |e: crate::mock_kube::Error| Error::Usage(e.to_string());
    let mock = MockKube::start_on(listen, MockKubeConfig::default())
        .await
        .map_err(usage)?;
    if let Some(path) = kubeconfig {
        mock.write_kubeconfig(path).map_err(usage)?;
    }
    eprintln!(
        "mock-kube listening on {}{}; Ctrl-C to stop",
        mock.base_url(),
        kubeconfig.map_or_else(String::new, |p| format!(" (kubeconfig: {})", p.display()))
    );
    let _ = tokio::signal::ctrl_c().await;
    mock.shutdown().await;
    Ok(0)
}
