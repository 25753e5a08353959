//! Command-line interface: parse arguments and dispatch. Each subcommand returns its exit code.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

pub use crate::cli_args::{Age, ArmArgs, EvidenceArgs, PlanesArgs, ReportArgs, RunArgs, SecretArg};
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
    /// The seed's success metrics (docs/report.md): CPU, memory and connections p95, Blob tier
    /// mix and cost per GB, key rotation, backups and RPO, each against its target over a window.
    /// Reads only. Exit 0 when every measured metric meets its target, 3 when any misses.
    Report(ReportArgs),
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
    /// Many data planes over some subscriptions, converged and kept in sync against the mock ARM
    /// on one virtual clock with Azure's limits on: times against their floors, drift detection,
    /// 429s, requests per plane.
    Reconcile(crate::bench::reconcile::ReconcileArgs),
    /// pgvector HNSW index builds on a throwaway local PostgreSQL (.ci/tools.sh installs it):
    /// random vectors loaded server-side, CREATE INDEX timed for each m/ef_construction.
    Hnsw(crate::bench::hnsw::HnswArgs),
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
        Command::Report(args) => {
            init_tracing(LogFormat::Human);
            runtime()?.block_on(crate::commands::report(&args, &mut out))
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
                BenchTarget::Reconcile(args) => crate::bench::reconcile::run(&args)?,
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
