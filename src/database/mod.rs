//! Inside the PostgreSQL server: the connection (TLS required; Entra token or, against the mock, a
//! password file), pgvector's extension and HNSW indexes, and the restore drill's checks.
//!
//! The operator connects to the `fullyQualifiedDomainName` ARM reports, port 5432. Against Azure it
//! signs in with a Microsoft Entra token for the cloud's PostgreSQL audience, as the role named by
//! `postgres.entraAdmin.principalName`. The mock may report `host:port` (its `--pg-fqdn`), which
//! Azure never does; TLS may be relaxed only when that host is loopback, and the log says so.

pub mod catalog;
pub mod drill;
pub mod local;
pub mod vector;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use azure_core::auth::TokenCredential;
use tokio_postgres::config::SslMode;
use tokio_postgres::Client;

/// PostgreSQL's port on Azure.
pub const PORT: u16 = 5432;
/// How often the restore drill's heartbeat is stamped between passes.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(60);
/// A heartbeat no pass has asked for in this long stops (the drill was undeclared, the plane went).
const HEARTBEAT_IDLE: Duration = Duration::from_secs(3600);

/// Why the database could not be reached or changed. Never carries a password or token.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No way to sign in is configured.
    #[error("no database credential: {0}")]
    NoCredential(String),
    /// The password file could not be read.
    #[error("cannot read the PostgreSQL password file {path}: {reason}")]
    PasswordFile { path: String, reason: String },
    /// Entra refused or could not issue a token for the PostgreSQL audience.
    #[error("no Entra token for PostgreSQL ({scope}): {reason}")]
    Token { scope: String, reason: String },
    /// The server's address is not usable.
    #[error("server address {0:?} is not host or host:port")]
    Address(String),
    /// The connection or sign-in failed.
    #[error("cannot connect to {host}:{port} database {database}: {reason}")]
    Connect {
        host: String,
        port: u16,
        database: String,
        reason: String,
    },
    /// A statement failed.
    #[error("{what}: {reason}")]
    Sql { what: String, reason: String },
}

impl DbError {
    /// A statement's error, with PostgreSQL's own message (no parameters, no secrets).
    pub fn sql(what: impl Into<String>, e: &tokio_postgres::Error) -> Self {
        let reason = match e.as_db_error() {
            Some(db) => format!("{} ({})", db.message(), db.code().code()),
            None => e.to_string(),
        };
        Self::Sql {
            what: what.into(),
            reason,
        }
    }
}

/// How the operator signs in.
#[derive(Clone)]
pub enum DbAuth {
    /// A role and its password from a file (the mock and tests; `--pg-user`, `--pg-password-file`).
    Password { user: String, file: PathBuf },
    /// A Microsoft Entra token for `scope`, as the role `postgres.entraAdmin.principalName`.
    Entra {
        credential: Arc<dyn TokenCredential>,
        scope: String,
    },
}

impl std::fmt::Debug for DbAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Password { user, file } => f
                .debug_struct("Password")
                .field("user", user)
                .field("file", file)
                .finish(),
            Self::Entra { scope, .. } => f.debug_struct("Entra").field("scope", scope).finish(),
        }
    }
}

/// Opens connections to the servers of the data planes.
#[derive(Clone, Debug)]
pub struct Db {
    auth: DbAuth,
    connect_timeout: Duration,
    /// How long a pass waits for an index build before leaving it to run in the background.
    pub build_wait: Duration,
    /// Servers whose heartbeat ticks between passes → when a pass last asked for it.
    beats: Arc<Mutex<HashMap<String, Instant>>>,
}

/// A host and port parsed from ARM's `fullyQualifiedDomainName`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    pub host: String,
    pub port: u16,
}

impl Address {
    /// `host` (port 5432) or `host:port` (the mock's form).
    pub fn parse(fqdn: &str) -> Result<Self, DbError> {
        let bad = || DbError::Address(fqdn.to_owned());
        let (host, port) = match fqdn.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad())?),
            None => (fqdn, PORT),
        };
        if host.is_empty() || host.contains(['/', ' ', '@']) {
            return Err(bad());
        }
        Ok(Self {
            host: host.to_owned(),
            port,
        })
    }

    /// Loopback: the only place TLS may be relaxed.
    pub fn is_loopback(&self) -> bool {
        self.host == "localhost"
            || self
                .host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

impl Db {
    /// Signs in with `auth`.
    pub fn new(auth: DbAuth) -> Self {
        Self {
            auth,
            connect_timeout: Duration::from_secs(10),
            build_wait: Duration::from_secs(30),
            beats: Arc::default(),
        }
    }

    /// How the operator signs in: the password file when given (the mock), else an Entra token from
    /// the ARM settings' azure_identity chain; none with a static or file ARM token (the mock's,
    /// which cannot be exchanged for a PostgreSQL audience).
    pub fn for_operator(
        password_file: Option<&std::path::Path>,
        user: &str,
        arm: &crate::azure::ArmSettings,
    ) -> Option<Self> {
        if let Some(file) = password_file {
            return Some(Self::new(DbAuth::Password {
                user: user.to_owned(),
                file: file.to_owned(),
            }));
        }
        if !matches!(arm.credentials, crate::azure::Credentials::Chain) {
            return None;
        }
        let credential = arm.credentials.build(&arm.authority().ok()?).ok()?;
        Some(Self::new(DbAuth::Entra {
            credential,
            scope: arm.cloud.row().postgres_scope.to_owned(),
        }))
    }

    /// The same access, signed in with a data plane's own Entra credential (a customer's tenant,
    /// spec.azure.credentialFrom) instead of the operator's; a password sign-in is kept as it is.
    pub fn signed_in_as(&self, credential: Arc<dyn TokenCredential>) -> Self {
        let mut db = self.clone();
        if let DbAuth::Entra { scope, .. } = &self.auth {
            db.auth = DbAuth::Entra {
                credential,
                scope: scope.clone(),
            };
        }
        db
    }

    /// Opens a connection to `database` on the server at `fqdn`. `entra_role` is the role an Entra
    /// token signs in as (postgres.entraAdmin.principalName).
    pub async fn connect(
        &self,
        fqdn: &str,
        database: &str,
        entra_role: Option<&str>,
    ) -> Result<Client, DbError> {
        let addr = Address::parse(fqdn)?;
        let mut config = tokio_postgres::Config::new();
        config
            .host(&addr.host)
            .port(addr.port)
            .dbname(database)
            .application_name("engram-operator")
            .connect_timeout(self.connect_timeout);
        match &self.auth {
            DbAuth::Password { user, file } => {
                let password =
                    std::fs::read_to_string(file).map_err(|e| DbError::PasswordFile {
                        path: file.display().to_string(),
                        reason: e.to_string(),
                    })?;
                config
                    .user(user)
                    .password(password.trim_end_matches(['\n', '\r']));
            }
            DbAuth::Entra { credential, scope } => {
                let role = entra_role.ok_or_else(|| {
                    DbError::NoCredential(
                        "spec.postgres.entraAdmin names the role an Entra token signs in as; it is not declared".into(),
                    )
                })?;
                let token =
                    credential
                        .get_token(&[scope.as_str()])
                        .await
                        .map_err(|e| DbError::Token {
                            scope: scope.clone(),
                            reason: crate::azure::error::from_core(e).to_string(),
                        })?;
                config.user(role).password(token.token.secret());
            }
        }
        let fail = |reason: String| DbError::Connect {
            host: addr.host.clone(),
            port: addr.port,
            database: database.to_owned(),
            reason,
        };
        let client = if addr.is_loopback() {
            // Said once per address, not on every connection.
            static WARNED: Mutex<Vec<(String, u16)>> = Mutex::new(Vec::new());
            let first = {
                let mut w = WARNED.lock().unwrap_or_else(|p| p.into_inner());
                let key = (addr.host.clone(), addr.port);
                !w.contains(&key) && {
                    w.push(key);
                    true
                }
            };
            if first {
                tracing::warn!(host = %addr.host, port = addr.port, "TLS relaxed: the server is on a loopback address (the mock's --pg-fqdn); Azure servers always get TLS");
            }
            config.ssl_mode(SslMode::Disable);
            let (client, conn) = config
                .connect(tokio_postgres::NoTls)
                .await
                .map_err(|e| fail(connect_reason(&e)))?;
            tokio::spawn(drive(conn));
            client
        } else {
            config.ssl_mode(SslMode::Require);
            let (client, conn) = config
                .connect(tls())
                .await
                .map_err(|e| fail(connect_reason(&e)))?;
            tokio::spawn(drive(conn));
            client
        };
        Ok(client)
    }
}

impl Db {
    /// Keeps the restore drill's heartbeat on the server at `fqdn` ticking every minute between
    /// passes, until no pass has asked for an hour.
    pub fn keep_heartbeat(&self, fqdn: &str, role: Option<&str>) {
        {
            let mut beats = self.beats.lock().unwrap_or_else(|p| p.into_inner());
            if beats.insert(fqdn.to_owned(), Instant::now()).is_some() {
                return;
            }
        }
        let (db, fqdn, role) = (self.clone(), fqdn.to_owned(), role.map(str::to_owned));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                let idle = {
                    let mut beats = db.beats.lock().unwrap_or_else(|p| p.into_inner());
                    let idle = beats
                        .get(&fqdn)
                        .is_none_or(|t| t.elapsed() > HEARTBEAT_IDLE);
                    if idle {
                        beats.remove(&fqdn);
                    }
                    idle
                };
                if idle {
                    return;
                }
                if let Err(e) = drill::heartbeat(&db, &fqdn, role.as_deref()).await {
                    tracing::warn!(error = %e, "restore drill heartbeat failed");
                }
            }
        });
    }
}

async fn drive<F>(conn: F)
where
    F: std::future::Future<Output = Result<(), tokio_postgres::Error>>,
{
    if let Err(e) = conn.await {
        tracing::debug!(error = %e, "database connection ended");
    }
}

/// The server's message without echoing what we sent.
pub(crate) fn connect_reason(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

/// rustls with the Mozilla roots (Azure's PostgreSQL certificates chain to DigiCert and Microsoft
/// roots, both in it); the certificate and host name are always verified. ring is the one crypto
/// provider in the build.
fn tls() -> tokio_postgres_rustls::MakeRustlsConnect {
    tokio_postgres_rustls::MakeRustlsConnect::with_webpki_roots()
}

/// A SQL identifier, double-quoted.
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A SQL string literal, single-quoted.
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
