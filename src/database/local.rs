//! A throwaway local PostgreSQL with pgvector, for the demo and the tests: the stand-in for the
//! server behind a mock-reported `--pg-fqdn`. It runs the binaries of PyPI's `pgserver` wheel
//! (`.ci/tools.sh` links them at `target/tools/pgbin`; `ENGRAM_PG_BIN` overrides), listening on
//! 127.0.0.1 only, and gives the operator a role with the privileges of Azure's `azure_pg_admin`
//! (CREATEDB, CREATEROLE, pg_monitor, pg_signal_backend), not a superuser.
//!
//! PostgreSQL refuses to run as root; as root the cluster belongs to the system user `engrampg`
//! (created by `.ci/tools.sh`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio_postgres::{Client, NoTls};

use super::{quote_ident, quote_literal};

/// The system user that runs the cluster when we are root.
const SYSTEM_USER: &str = "engrampg";

/// Why a local PostgreSQL could not be started.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("no PostgreSQL binaries: set ENGRAM_PG_BIN or run .ci/tools.sh (installs pgserver into target/tools)")]
    NoBinaries,
    #[error("{step}: {reason}")]
    Step { step: String, reason: String },
}

fn step(step: &str, reason: impl std::fmt::Display) -> LocalError {
    LocalError::Step {
        step: step.to_owned(),
        reason: reason.to_string(),
    }
}

/// A running local cluster; stopped and deleted on drop.
#[derive(Debug)]
pub struct LocalPostgres {
    /// 127.0.0.1.
    pub host: String,
    pub port: u16,
    /// The operator's role (azure_pg_admin's privileges).
    pub user: String,
    /// A file holding that role's password (for `--pg-password-file`).
    pub password_file: PathBuf,
    dir: PathBuf,
    child: Option<Child>,
}

/// Where the PostgreSQL binaries are: `ENGRAM_PG_BIN`, else `target/tools/pgbin` under the
/// current directory or this crate's source tree.
pub fn find_binaries() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("ENGRAM_PG_BIN").map(PathBuf::from),
        Some(PathBuf::from("target/tools/pgbin")),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/pgbin")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.join("postgres").is_file() && p.join("initdb").is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// A command that runs as the cluster's owner.
fn as_owner(bin: &Path, program: &str, root: bool) -> Command {
    if root {
        let mut c = Command::new("setpriv");
        c.args([
            &format!("--reuid={SYSTEM_USER}"),
            &format!("--regid={SYSTEM_USER}"),
            "--clear-groups",
        ])
        .arg(bin.join(program));
        c
    } else {
        Command::new(bin.join(program))
    }
}

impl LocalPostgres {
    /// Starts a cluster with a role `user` whose password is random.
    pub async fn start(user: &str) -> Result<Self, LocalError> {
        let bin = find_binaries().ok_or(LocalError::NoBinaries)?;
        let bin = bin.canonicalize().map_err(|e| step("binaries", e))?;
        let root = is_root();
        let dir = std::env::temp_dir().join(format!(
            "engram-pg-{}-{:08x}",
            std::process::id(),
            fastrand::u32(..)
        ));
        let data = dir.join("data");
        std::fs::create_dir_all(&dir).map_err(|e| step("create the cluster folder", e))?;
        if root {
            let out = Command::new("chown")
                .arg(format!("{SYSTEM_USER}:"))
                .arg(&dir)
                .output()
                .map_err(|e| step("chown", e))?;
            if !out.status.success() {
                return Err(step(
                    "chown",
                    format!(
                        "{} (is the user {SYSTEM_USER} there? .ci/tools.sh creates it)",
                        String::from_utf8_lossy(&out.stderr).trim()
                    ),
                ));
            }
        }
        let out = as_owner(&bin, "initdb", root)
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ])
            .output()
            .map_err(|e| step("initdb", e))?;
        if !out.status.success() {
            return Err(step("initdb", String::from_utf8_lossy(&out.stderr).trim()));
        }
        // Password sign-in over TCP for every role but the bootstrap superuser, which only the
        // harness uses (trust, loopback).
        let hba = "local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n";
        std::fs::write(data.join("pg_hba.conf"), hba).map_err(|e| step("pg_hba.conf", e))?;
        let port = free_port()?;
        let mut cmd = as_owner(&bin, "postgres", root);
        cmd.arg("-D")
            .arg(&data)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-p",
                &port.to_string(),
                "-k",
            ])
            .arg(&dir)
            .args(["-c", "fsync=off", "-c", "max_connections=40"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(dir.join("postgres.log"))
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
            );
        let child = cmd.spawn().map_err(|e| step("start postgres", e))?;
        let password = format!("pw-{:016x}", fastrand::u64(..));
        let password_file = dir.join("password");
        std::fs::write(&password_file, format!("{password}\n"))
            .map_err(|e| step("password file", e))?;
        let mut pg = Self {
            host: "127.0.0.1".into(),
            port,
            user: user.to_owned(),
            password_file,
            dir,
            child: Some(child),
        };
        let su = pg.wait_ready().await?;
        let setup = format!(
            "CREATE ROLE azure_pg_admin NOLOGIN;
             GRANT pg_monitor, pg_signal_backend TO azure_pg_admin;
             CREATE ROLE {role} LOGIN CREATEDB CREATEROLE PASSWORD {pw} IN ROLE azure_pg_admin;",
            role = quote_ident(user),
            pw = quote_literal(&password),
        );
        su.batch_execute(&setup)
            .await
            .map_err(|e| step("create the roles", super::connect_reason(&e)))?;
        Ok(pg)
    }

    /// `host:port`, as the mock's `--pg-fqdn` takes it.
    pub fn fqdn(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// A connection as the bootstrap superuser (the harness's, never the operator's).
    pub async fn superuser(&self, database: &str) -> Result<Client, LocalError> {
        let (client, conn) = tokio_postgres::Config::new()
            .host(&self.host)
            .port(self.port)
            .user("postgres")
            .dbname(database)
            .connect(NoTls)
            .await
            .map_err(|e| step("connect as postgres", super::connect_reason(&e)))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(client)
    }

    /// A connection as the operator's role (what an application with the admin's rights sees).
    pub async fn as_role(&self, database: &str) -> Result<Client, LocalError> {
        let password =
            std::fs::read_to_string(&self.password_file).map_err(|e| step("password file", e))?;
        let (client, conn) = tokio_postgres::Config::new()
            .host(&self.host)
            .port(self.port)
            .user(&self.user)
            .password(password.trim_end())
            .dbname(database)
            .connect(NoTls)
            .await
            .map_err(|e| step("connect as the operator's role", super::connect_reason(&e)))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(client)
    }

    async fn wait_ready(&mut self) -> Result<Client, LocalError> {
        let mut last = String::new();
        for _ in 0..300 {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    let log =
                        std::fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default();
                    return Err(step("postgres exited", format!("{status}: {log}")));
                }
            }
            match self.superuser("postgres").await {
                Ok(c) => return Ok(c),
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(step("postgres did not accept connections in 30 s", last))
    }
}

impl Drop for LocalPostgres {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> Result<u16, LocalError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| step("free port", e))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| step("free port", e))
}
