//! Command-line interface: parse arguments and dispatch. Each subcommand returns its exit code.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

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
    /// Sizing calculators (seed §2 and §3): PostgreSQL SKU and storage, Blob Storage tiers and cost.
    #[command(subcommand)]
    Size(SizeCommand),
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
    let mut out = std::io::stdout().lock();
    match cli.command {
        Command::Validate { file } => validate(&file, &mut out),
        Command::Render { file } => render(&file, &mut out),
        Command::Crd => {
            write_out(&mut out, &api::crd_yaml()?)?;
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

fn write_out(out: &mut impl Write, s: &str) -> Result<()> {
    out.write_all(s.as_bytes()).map_err(|source| Error::Io {
        path: "stdout".into(),
        source,
    })
}

fn writeln_out(out: &mut impl Write, s: &str) -> Result<()> {
    write_out(out, s)?;
    write_out(out, "\n")
}
