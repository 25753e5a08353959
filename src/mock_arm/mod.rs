//! A mock of Azure Resource Manager (and the Key Vault keys data plane) for tests and the demo.
//! Key Vault is served on a listener of its own, as a vault is another host than ARM: the vault is
//! named by the request's `Host` header (`{vault}.vault.azure.net`), and the ARM listener knows no
//! Key Vault paths.
//!
//! It serves the real ARM paths and api-versions the operator sends, answers with bodies shaped like
//! the official examples, and enforces the ARM contract (bearer token, api-version, error bodies,
//! long-running operations, 409 while busy, throttling) and the service rules from
//! `shared/arm-contract/FACTS.md`. Time is virtual unless [`ClockMode::RealTime`] is chosen: LRO
//! durations, throttling refill and the 7-day auto-start of a stopped server all run on the clock,
//! which tests move with [`MockArm::advance`]. A third listener plays the Microsoft Entra ID
//! authority ([`MockArm::entra_url`]): it issues tokens to the principals of [`EntraConfig`], and
//! ARM and Key Vault attribute each request to its token's principal. See `docs/mock-arm.md` for
//! the control API.

mod administrators;
mod alerts;
pub mod bench;
mod budgets;
mod charge;
mod clock;
mod containers;
mod control;
mod cost_query;
mod diagnostics;
mod dispatch;
mod entra;
mod entra_auth;
mod entra_jwt;
mod entra_token;
mod errors;
mod faults;
mod firewall;
mod graph_history;
mod graph_kql;
mod graph_summarize;
mod in_process;
mod journal;
mod keyvault;
mod lro;
mod management_policy;
mod metrics;
mod names;
mod network;
mod pg_config;
mod pg_rules;
mod postgres;
mod resource_graph;
mod restore;
mod router;
mod router_ext;
mod server;
pub mod standalone;
mod storage_account;
mod store;
mod throttle;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use clock::ClockMode;
pub use entra::{EntraConfig, EntraPrincipal, FederatedCredential, TokenRequest};
pub use entra_jwt::{assertion, token_claims, TOKEN_EXCHANGE_AUDIENCE};
pub use errors::ArmError;
pub use faults::{FaultKind, FaultSpec};
pub use in_process::InProcess;
pub use journal::{JournalEntry, OpClass};
pub use resource_graph::JOURNAL_ID as GRAPH_JOURNAL_ID;
pub use throttle::{GraphLimits, StorageRpLimits, ThrottleConfig};

use control::Inner;

/// Errors of the mock server's handle.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listen address could not be bound or read.
    #[error("mock ARM cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    /// No resource has this id.
    #[error("no resource with id {0}")]
    NotFound(String),
    /// The merge patch or fault was not acceptable.
    #[error("invalid control request: {0}")]
    Invalid(String),
    /// A file of the standalone mock could not be read or used.
    #[error("mock ARM configuration: {0}")]
    Config(String),
}

/// How long each kind of long-running operation takes, in (virtual) time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct LroDurations {
    pub pg_create: Duration,
    pub pg_update: Duration,
    pub pg_start: Duration,
    pub pg_stop: Duration,
    pub pg_restart: Duration,
    pub pg_delete: Duration,
    pub pg_configuration: Duration,
    /// PUT or DELETE of a server firewall rule.
    pub pg_firewall: Duration,
    /// PUT or DELETE of a server's Microsoft Entra administrator.
    pub pg_administrator: Duration,
    pub storage_create: Duration,
    /// Private endpoints and private DNS zone groups (PUT and DELETE).
    pub network: Duration,
}

impl LroDurations {
    /// Every kind takes the same time.
    pub fn uniform(d: Duration) -> Self {
        Self {
            pg_create: d,
            pg_update: d,
            pg_start: d,
            pg_stop: d,
            pg_restart: d,
            pg_delete: d,
            pg_configuration: d,
            pg_firewall: d,
            pg_administrator: d,
            storage_create: d,
            network: d,
        }
    }
}

impl Default for LroDurations {
    fn default() -> Self {
        Self::uniform(Duration::from_secs(30))
    }
}

/// Configuration of a mock ARM server. Every field is public; start from `MockConfig::default()`.
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// The bearer token every ARM / Key Vault request must carry.
    pub token: String,
    /// Virtual (tests) or real-time (demo) clock.
    pub clock: ClockMode,
    /// LRO durations per operation kind.
    pub lro: LroDurations,
    /// The Retry-After (seconds) sent with 201/202 LRO responses and in-progress polls.
    pub retry_after_secs: u64,
    /// Per-subscription token buckets.
    pub throttle: ThrottleConfig,
    /// A stopped PostgreSQL server starts by itself after this long (7 days in Azure).
    pub auto_start_after: Duration,
    /// The journal keeps this many most recent entries (counts per resource are kept for all).
    pub journal_capacity: usize,
    /// A configuration write sent while its server is busy: accepted, then the operation fails
    /// with `ServerIsBusy` (Azure, seen in real traffic; the default), or refused with 409 at once.
    pub busy_configuration_writes: BusyWrites,
    /// A storage account that follows the latest key version (empty `keyversion`) picks up a new
    /// version only once it is this old (Azure Storage checks the vault about once a day; zero:
    /// on the next read).
    pub storage_key_follow_delay: Duration,
    /// `--pg-fqdn HOST:PORT`: the `fullyQualifiedDomainName` of every server the mock creates, so
    /// that clients connect to a local PostgreSQL (the `:PORT` form is the mock's own; Azure
    /// reports a host name only). None: `{name}.postgres.database.azure.com`.
    pub pg_fqdn: Option<String>,
    /// `--pg-restore-fqdn HOST:PORT`: the same for servers created by a point-in-time restore (a
    /// second local PostgreSQL, filled by the test as "the restore"); falls back to `pg_fqdn`.
    pub pg_restore_fqdn: Option<String>,
    /// Where the virtual clock starts (default 2025-01-01T00:00:00Z); ignored in real time.
    pub virtual_start: Option<time::OffsetDateTime>,
    /// The mock Entra authority: its principals, token lifetime and subscription tenants.
    pub entra: EntraConfig,
    /// `checkNameAvailability` reports the name of a server or account whose create is still
    /// running as taken (the default). False: only once the create has ended, which takes away
    /// the name check's accidental protection against a repeated create (the chaos test).
    pub names_reserved_while_creating: bool,
    /// Azure Resource Graph's lag (`--graph-lag-seconds`): a query sees the store as it was this
    /// long ago on the mock's clock. Zero (the default): every change at once.
    pub graph_lag: Duration,
}

/// How the mock answers a server-parameter write while the server is busy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BusyWrites {
    /// 202 Accepted; the operation then ends `Failed` with `ServerIsBusy` (as Azure does).
    #[default]
    AcceptThenFail,
    /// 409 `ServerBusy` at once.
    Reject,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            token: "mock-token".into(),
            clock: ClockMode::Virtual,
            lro: LroDurations::default(),
            retry_after_secs: 10,
            throttle: ThrottleConfig::default(),
            auto_start_after: Duration::from_secs(7 * 24 * 3600),
            journal_capacity: 100_000,
            busy_configuration_writes: BusyWrites::default(),
            storage_key_follow_delay: Duration::ZERO,
            pg_fqdn: None,
            pg_restore_fqdn: None,
            virtual_start: None,
            entra: EntraConfig::default(),
            names_reserved_while_creating: true,
            graph_lag: Duration::ZERO,
        }
    }
}

/// A running mock ARM server. Dropping the handle stops the server.
pub struct MockArm {
    inner: Arc<Inner>,
    addr: SocketAddr,
    keyvault_addr: SocketAddr,
    entra_addr: SocketAddr,
    serving: crate::serving::Serving,
}

impl MockArm {
    /// Start on 127.0.0.1 with an ephemeral port.
    pub async fn start(config: MockConfig) -> Result<MockArm, Error> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    /// Start on the given address.
    pub async fn start_on(addr: SocketAddr, config: MockConfig) -> Result<MockArm, Error> {
        let bind_err = |source| Error::Bind {
            addr: addr.to_string(),
            source,
        };
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(bind_err)?;
        let addr = listener.local_addr().map_err(bind_err)?;
        // Key Vault: same interface, a port of its own.
        let kv = tokio::net::TcpListener::bind(SocketAddr::new(addr.ip(), 0))
            .await
            .map_err(bind_err)?;
        let keyvault_addr = kv.local_addr().map_err(bind_err)?;
        // The Entra authority: another host again.
        let entra = tokio::net::TcpListener::bind(SocketAddr::new(addr.ip(), 0))
            .await
            .map_err(bind_err)?;
        let entra_addr = entra.local_addr().map_err(bind_err)?;
        let inner = Arc::new(Inner::new(config, format!("http://{addr}"))?);
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let arm = server::serve(listener, inner.clone(), stopped.clone(), server::Plane::Arm);
        let vault = server::serve(kv, inner.clone(), stopped.clone(), server::Plane::KeyVault);
        let authority = server::serve(entra, inner.clone(), stopped, server::Plane::Entra);
        let task = tokio::spawn(async move {
            tokio::join!(arm, vault, authority);
        });
        Ok(MockArm {
            inner,
            addr,
            keyvault_addr,
            entra_addr,
            serving: crate::serving::Serving::new(stop, task),
        })
    }

    /// e.g. `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        self.inner.base_url.clone()
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The Key Vault listener, e.g. `http://127.0.0.1:PORT`: send `/keys/...` there with
    /// `Host: {vault}.vault.azure.net` (the operator's `--keyvault-endpoint` does this).
    pub fn keyvault_url(&self) -> String {
        format!("http://{}", self.keyvault_addr)
    }

    /// The Microsoft Entra authority, e.g. `http://127.0.0.1:PORT`: a client's authority host
    /// (`{entra_url}/{tenant}/oauth2/v2.0/token`).
    pub fn entra_url(&self) -> String {
        format!("http://{}", self.entra_addr)
    }

    /// Add a principal the authority issues tokens to, or replace the one with the same tenant
    /// and client id (how a test rotates a secret). Fails without a tenant or client id.
    pub fn add_principal(&self, principal: EntraPrincipal) -> Result<(), Error> {
        self.inner.add_principal(principal)
    }

    /// The journal of token requests, granted and refused (`reset()` empties it).
    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.inner.token_requests()
    }

    /// ARM settings for a client of this mock: its endpoint, Key Vault override and token.
    pub fn arm_settings(&self) -> crate::azure::ArmSettings {
        let mut s = crate::azure::ArmSettings::with_token(self.base_url(), self.token());
        s.keyvault_endpoint = Some(self.keyvault_url());
        s
    }

    /// ARM settings for a client that reaches this mock by function call instead of its sockets
    /// (see [`InProcess`]).
    pub fn in_process_settings(&self) -> crate::azure::ArmSettings {
        let mut s = self.arm_settings();
        s.transport = Some(Arc::new(InProcess::new(
            self.inner.clone(),
            self.keyvault_addr.to_string(),
        )));
        s
    }

    /// The bearer token the server accepts.
    pub fn token(&self) -> &str {
        &self.inner.config.token
    }

    /// Move the virtual clock forward (also works in real-time mode, as an extra offset).
    pub fn advance(&self, by: Duration) {
        self.inner.advance(by);
    }

    /// The current (virtual) time as RFC 3339.
    pub fn now(&self) -> String {
        self.inner.now()
    }

    /// The current (virtual) time in Unix seconds, e.g. for an assertion's `nbf` and `exp`.
    pub fn now_unix(&self) -> i64 {
        self.inner.now_unix()
    }

    /// The journal of ARM / Key Vault requests (control API calls are not in it).
    pub fn journal(&self) -> Vec<JournalEntry> {
        self.inner.journal()
    }

    /// Writes (PUT/PATCH/POST/DELETE) to a resource id, or to anything under it (prefix at a `/`).
    pub fn writes_to(&self, id_or_prefix: &str) -> usize {
        self.inner.count(id_or_prefix, OpClass::Write)
    }

    /// Reads (GET/HEAD) of a resource id, or of anything under it.
    pub fn reads_to(&self, id_or_prefix: &str) -> usize {
        self.inner.count(id_or_prefix, OpClass::Read)
    }

    /// Out-of-band edit: apply a JSON merge patch (RFC 7396) to the stored resource body, as if
    /// someone changed it in the portal. Not journaled as operator traffic.
    pub fn edit(&self, id: &str, patch: serde_json::Value) -> Result<serde_json::Value, Error> {
        self.inner.edit(id, &patch)
    }

    /// Resource Graph queries received so far (every POST to
    /// `/providers/Microsoft.ResourceGraph/resources`, whatever the answer; the journal has each
    /// one's status).
    pub fn graph_queries(&self) -> usize {
        self.inner.count(GRAPH_JOURNAL_ID, OpClass::Read)
    }

    /// Set Azure Monitor metric series, as `POST /_mock/metrics` does (one body or a list; see
    /// docs/mock-arm.md): `{"id", "metric", "points": [[minutesAgo, value], ...]}` or `{"id",
    /// "metric", "value", "minutes"}`, with optional `"dimensions"`. Returns how many were set.
    pub fn set_metrics(&self, body: serde_json::Value) -> Result<usize, String> {
        self.inner.set_metrics(body)
    }

    /// Add Cost Management rows, as `POST /_mock/costs` does (one body or a list):
    /// `{"resourceId", "date": "YYYY-MM-DD", "amount", "currency"}`. Returns how many were added.
    pub fn set_costs(&self, body: serde_json::Value) -> Result<usize, String> {
        self.inner.set_costs(body)
    }

    /// Set Resource Graph's lag on the mock's clock (see [`MockConfig::graph_lag`]): what the store
    /// holds now is seen at once, later changes only once the lag has passed.
    pub fn set_graph_lag(&self, lag: Duration) {
        self.inner.set_graph_lag(lag);
    }

    /// Store a top-level resource as it is, visible at once, as if created outside the operator
    /// (`id`, `name` and, when absent, `type` come from the id); not journaled. Fails for an id
    /// that is not `/subscriptions/S/resourceGroups/RG/providers/NS/TYPE/NAME`.
    pub fn seed(&self, id: &str, body: serde_json::Value) -> Result<serde_json::Value, Error> {
        self.inner.seed(id, &body)
    }

    /// Out-of-band key rotation, as an administrator would do it in the vault: a new version of
    /// `https://{vault}.vault.azure.net/keys/{name}` (the first call creates the key). Returns
    /// the new version id. Not journaled as operator traffic.
    pub fn new_key_version(&self, vault: &str, name: &str) -> String {
        self.inner.new_key_version(vault, name)
    }

    /// Out-of-band change of a key version's attributes, as an administrator would make it in
    /// the vault: `{"enabled": false}`, `{"nbf": unix}`, `{"exp": unix}` (null clears a time).
    /// Not journaled as operator traffic.
    pub fn set_key_attributes(
        &self,
        vault: &str,
        name: &str,
        version: &str,
        attributes: serde_json::Value,
    ) -> Result<(), Error> {
        self.inner
            .set_key_attributes(vault, name, version, &attributes)
    }

    /// Add a fault; returns its id.
    pub fn inject_fault(&self, fault: FaultSpec) -> Result<u64, Error> {
        self.inner.inject_fault(fault)
    }

    /// Remove every fault.
    pub fn clear_faults(&self) {
        self.inner.clear_faults();
    }

    /// Forget every resource, operation, key, fault, journal entry, token request and bucket; the
    /// clock, the Entra principals and the tokens already issued stay.
    pub fn reset(&self) {
        self.inner.reset();
    }

    /// Everything the server holds, as JSON.
    pub fn dump(&self) -> serde_json::Value {
        self.inner.dump()
    }

    /// Stop serving and wait for the server task to end.
    pub async fn shutdown(self) {
        self.serving.shutdown().await;
    }
}
