//! ARM I/O: credentials, SDK clients (their retries off), our one retry/throttle policy, LRO
//! polling and error classification. Maps SDK models to the planner's `Observed*` structs and the
//! planner's `Op`s to SDK requests; nothing outside this folder sees an SDK type.

mod alert_lists;
mod alerts;
pub mod budgets;
pub mod clients;
pub mod cloud;
pub mod cost_query;
pub mod credential;
mod diagnostics;
pub mod drill;
pub mod entra_admin;
pub mod error;
pub mod graph_fingerprints;
pub mod identity;
mod keyvault;
pub mod meter;
pub mod metrics;
mod names;
mod network;
pub mod network_wire;
mod observe;
mod pg_configs;
pub mod plane_credential;
pub mod policy;
mod postgres;
pub mod resource_graph;
mod settings;
mod storage;
mod storage_map;
pub mod throttle;
mod top_level;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use azure_core::auth::TokenCredential;
use azure_core::headers::HeaderName;
use azure_core::{
    ClientOptions, Context, Method, Pipeline, Request, RetryOptions, TelemetryOptions, Url,
};
use azure_mgmt_postgresql::package_flexibleserver_2024_08_01 as pgsdk;
use azure_mgmt_storage::package_2023_05 as stsdk;
use backon::{ExponentialBuilder, Retryable};

pub use clients::{ArmClients, NoCredential};
pub use cloud::{Cloud, CloudRow};
pub use credential::Credentials;
pub use error::ArmError;
pub use keyvault::versions_url as keyvault_versions_url;
pub use plane_credential::PlaneCredential;
pub use policy::{ReadLog, ReadRecord, Stats};
pub use settings::{ArmSettings, PUBLIC_CLOUD};
pub use storage_map::lifecycle_rules_json;

use crate::api::EffectiveSpec;
use crate::plan::{Observed, ObservedServer, Op};
use policy::ArmPolicy;
use throttle::Budget;

/// What every ARM client of the process shares, whatever credential it signs in with: the
/// throttle budget (keyed by principal and subscription, as ARM counts), the request counters
/// and the Prometheus metrics.
#[derive(Clone, Debug, Default)]
pub struct Shared {
    pub budget: Arc<Budget>,
    pub stats: Arc<Stats>,
    pub metrics: Option<Arc<crate::telemetry::metrics::Metrics>>,
}

/// A write ARM accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submitted {
    /// The URL to poll (Azure-AsyncOperation, else Location); None when ARM finished synchronously.
    pub operation_url: Option<String>,
    pub retry_after: Option<Duration>,
    /// ARM's `x-ms-request-id` for the write (the audit trail cites it).
    pub request_id: Option<String>,
}

/// The state of a long-running operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpState {
    Running(Option<Duration>),
    Succeeded,
    Failed { code: String, message: String },
}

/// What the engine needs from ARM. The real implementation is [`Arm`]; tests may fake it.
#[async_trait::async_trait]
pub trait ArmApi: Send + Sync {
    /// GET every resource of a data plane.
    async fn observe(&self, eff: &EffectiveSpec) -> Result<Observed, ArmError>;
    /// [`ArmApi::observe`], every container of the account included, whether declared or not: a
    /// deletion must see what it would take with the account. (A pass lists the containers only
    /// with `storage.pruneUndeclaredContainers`: the Storage resource provider allows 100 lists
    /// per 5 minutes per subscription and region, and 800 reads.)
    async fn observe_all(&self, eff: &EffectiveSpec) -> Result<Observed, ArmError> {
        self.observe(eff).await
    }
    /// GET one server of the plane's resource group by name (None: it does not exist), e.g. a
    /// restore drill's scratch server. Counted like every read.
    async fn get_server(
        &self,
        eff: &EffectiveSpec,
        name: &str,
    ) -> Result<Option<ObservedServer>, ArmError>;
    /// The top-level resources (servers, accounts, metric alerts) of `ids` by GET, the alert
    /// rules by one list per resource group: the fast sweep's `get` source. Bodies as ARM returns
    /// them; an id that does not exist is absent.
    async fn get_resources(&self, ids: &[String]) -> Result<Vec<serde_json::Value>, ArmError> {
        let _ = ids;
        Err(ArmError::Unsupported("reading resources by id".into()))
    }
    /// Send one write; returns as soon as ARM accepted it (never waits for the operation).
    async fn submit(&self, op: &Op) -> Result<Submitted, ArmError>;
    /// Poll a long-running operation once.
    async fn poll(&self, operation_url: &str) -> Result<OpState, ArmError>;
    /// Top-level resources by ARM id through Azure Resource Graph (rows as ARG returns them:
    /// id, type, name, sku, properties, tags, …). Ids absent from the result do not exist (or
    /// ARG has not caught up). Paged (≤ 1,000 rows per page), split so each query stays under
    /// ARG's size limit, and paced to ARG's 15 queries per 5 s per principal.
    async fn graph_resources(&self, _ids: &[String]) -> Result<Vec<serde_json::Value>, ArmError> {
        Err(ArmError::Unsupported("Azure Resource Graph queries".into()))
    }
    /// Resource Graph's hash of SKU, properties and tags of each top-level resource in the
    /// resource groups of `ids`, by lower-cased id (`graph_fingerprints.rs`).
    async fn graph_fingerprints(&self, _ids: &[String]) -> Result<Vec<(String, u64)>, ArmError> {
        Err(ArmError::Unsupported("Azure Resource Graph queries".into()))
    }
    /// Azure Monitor platform metrics (`metrics.rs`).
    async fn metrics(
        &self,
        _q: &metrics::MetricsQuery,
    ) -> Result<Vec<metrics::MetricSeries>, ArmError> {
        Err(ArmError::Unsupported("Azure Monitor metrics".into()))
    }
    /// Request counters.
    fn stats(&self) -> &Stats;
}

/// The ARM client.
pub struct Arm {
    settings: ArmSettings,
    endpoint: Url,
    cloud: &'static CloudRow,
    keyvault_override: Option<Url>,
    credential: Arc<dyn TokenCredential>,
    pg: pgsdk::Client,
    st: stsdk::Client,
    raw: Pipeline,
    stats: Arc<Stats>,
    reads: Option<Arc<ReadLog>>,
    alert_lists: alert_lists::AlertLists,
}

impl std::fmt::Debug for Arm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arm")
            .field("endpoint", &self.endpoint.as_str())
            .finish()
    }
}

const AZURE_ASYNC: HeaderName = HeaderName::from_static("azure-asyncoperation");
const REQUEST_ID: HeaderName = HeaderName::from_static("x-ms-request-id");
const LOCATION: HeaderName = HeaderName::from_static("location");

impl Arm {
    /// Build the clients. The SDK's own retries are off; [`ArmPolicy`] and our backoff own retries.
    pub fn new(settings: ArmSettings) -> Result<Self, ArmError> {
        Self::build(settings, Shared::default(), None, None)
    }

    /// Like [`Arm::new`], also keeping every read with its URL and request id ([`Arm::reads`]):
    /// for a report that cites where each value came from (`evidence`), never for the operator.
    pub fn recording_reads(settings: ArmSettings) -> Result<Self, ArmError> {
        Self::build(settings, Shared::default(), Some(Arc::default()), None)
    }

    /// The token credential this client signs in with (a plane's database sign-in uses it too).
    pub fn token_credential(&self) -> Arc<dyn TokenCredential> {
        self.credential.clone()
    }

    /// The reads so far, when recorded (see [`Arm::recording_reads`]); empty otherwise.
    pub fn reads(&self) -> Vec<ReadRecord> {
        self.reads.as_ref().map(|r| r.records()).unwrap_or_default()
    }

    /// Like [`Arm::new`], also counting requests and throttle waits in Prometheus `metrics`.
    pub fn with_metrics(
        settings: ArmSettings,
        metrics: Arc<crate::telemetry::metrics::Metrics>,
    ) -> Result<Self, ArmError> {
        let shared = Shared {
            metrics: Some(metrics),
            ..Shared::default()
        };
        Self::build(settings, shared, None, None)
    }

    /// A client of the operator's own credential that shares `shared` (budget, counters) with
    /// every other client of the process.
    pub fn sharing(settings: ArmSettings, shared: Shared) -> Result<Self, ArmError> {
        Self::build(settings, shared, None, None)
    }

    /// A client signed in as a data plane's own credential, sharing `shared`.
    pub fn for_plane(
        settings: ArmSettings,
        shared: Shared,
        credential: &PlaneCredential,
    ) -> Result<Self, ArmError> {
        let token = credential.build(&settings.authority()?);
        Self::build(
            settings,
            shared,
            None,
            Some((token, credential.principal())),
        )
    }

    fn build(
        settings: ArmSettings,
        shared: Shared,
        reads: Option<Arc<ReadLog>>,
        plane: Option<(Arc<dyn TokenCredential>, String)>,
    ) -> Result<Self, ArmError> {
        let endpoint = Url::parse(&settings.endpoint)
            .map_err(|e| ArmError::Decode(format!("--arm-endpoint {}: {e}", settings.endpoint)))?;
        let cloud = settings.cloud.row();
        let keyvault_override = match &settings.keyvault_endpoint {
            Some(u) => {
                let u = Url::parse(u)
                    .map_err(|e| ArmError::Decode(format!("--keyvault-endpoint {u}: {e}")))?;
                if plane.is_none() {
                    tracing::warn!(endpoint = %u, "Key Vault requests go to a test override (--keyvault-endpoint), not to the vault's host");
                }
                Some(u)
            }
            None => None,
        };
        let authority = settings.authority()?;
        let (credential, principal) = match plane {
            Some(p) => p,
            None => {
                if matches!(settings.credentials, Credentials::Chain)
                    && std::env::var_os("AZURE_AUTHORITY_HOST").is_none()
                {
                    // azure_identity reads the Entra authority from the environment.
                    std::env::set_var("AZURE_AUTHORITY_HOST", authority.as_str());
                }
                (
                    settings.credentials.build(&authority)?,
                    settings.credentials.principal(),
                )
            }
        };
        let stats = shared.stats.clone();
        let policy: Arc<dyn azure_core::Policy> = Arc::new(ArmPolicy {
            budget: shared.budget,
            principal: principal.into(),
            stats: stats.clone(),
            metrics: shared.metrics,
            reads: reads.clone(),
        });
        let mut options = ClientOptions::default()
            .telemetry(TelemetryOptions::default().application_id(settings.application_id.clone()))
            .retry(RetryOptions::none())
            .per_retry_policies(vec![policy]);
        if let Some(t) = &settings.transport {
            options = options.transport(azure_core::TransportOptions::new(t.clone()));
        }
        let scope = cloud.arm_scope.to_string();
        let pg = pgsdk::Client::new(
            endpoint.clone(),
            credential.clone(),
            vec![scope.clone()],
            options.clone(),
        );
        let st = stsdk::Client::new(
            endpoint.clone(),
            credential.clone(),
            vec![scope],
            options.clone(),
        );
        let raw = Pipeline::new(
            option_env!("CARGO_PKG_NAME"),
            option_env!("CARGO_PKG_VERSION"),
            options,
            vec![],
            vec![],
        );
        Ok(Self {
            settings,
            endpoint,
            cloud,
            keyvault_override,
            credential,
            pg,
            st,
            raw,
            stats,
            reads,
            alert_lists: Default::default(),
        })
    }

    /// Run an ARM call with exponential backoff + jitter for the retryable classes.
    async fn retrying<T, F, Fut>(&self, what: &str, call: F) -> Result<T, ArmError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ArmError>>,
    {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.settings.min_backoff)
            .with_max_delay(Duration::from_secs(10))
            .with_max_times(self.settings.max_retries)
            .with_jitter();
        call.retry(backoff)
            .when(ArmError::is_retryable)
            .notify(|e, d| tracing::warn!(call = what, error = %e, retry_in_ms = d.as_millis() as u64, "retrying ARM call"))
            .await
    }

    /// An authenticated GET of an absolute URL on the ARM host or a Key Vault of the cloud.
    async fn raw_get(
        &self,
        url: &str,
    ) -> Result<(u16, azure_core::headers::Headers, Vec<u8>), ArmError> {
        self.raw_send(Method::Get, url, None).await
    }

    /// An authenticated request (JSON body when given) to an absolute URL, through the same
    /// pipeline policy (throttle budget, counters, error capture) as the SDKs. The token goes only
    /// where [`cloud::audience`] allows, with that host's audience.
    async fn raw_send(
        &self,
        method: Method,
        url: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<(u16, azure_core::headers::Headers, Vec<u8>), ArmError> {
        let url = Url::parse(url).map_err(|e| ArmError::Decode(format!("{url}: {e}")))?;
        let Some(aud) = cloud::audience(&url, &self.endpoint, self.cloud) else {
            return Err(ArmError::TokenHostRefused {
                host: url.host_str().unwrap_or_default().to_owned(),
                cloud: self.cloud.name,
            });
        };
        let token = self
            .credential
            .get_token(&[cloud::scope(self.cloud, aud)])
            .await
            .map_err(|e| ArmError::CredentialInvalid(e.to_string()))?;
        let (url, host) = match (aud, &self.keyvault_override) {
            (cloud::Audience::KeyVault, Some(base)) => {
                let host = url.host_str().unwrap_or_default().to_owned();
                let mut to = base.clone();
                to.set_path(url.path());
                to.set_query(url.query());
                (to, Some(host))
            }
            _ => (url, None),
        };
        let mut req = Request::new(url, method);
        if let Some(host) = host {
            req.insert_header(azure_core::headers::HeaderName::from_static("host"), host);
        }
        req.insert_header(
            azure_core::headers::AUTHORIZATION,
            format!("Bearer {}", token.token.secret()),
        );
        if let Some(body) = body {
            req.insert_header(azure_core::headers::CONTENT_TYPE, "application/json");
            req.set_body(body.to_string().into_bytes());
        }
        let rsp = self
            .raw
            .send(&Context::default(), &mut req)
            .await
            .map_err(error::from_core)?;
        let (status, headers, body) = rsp.deconstruct();
        let bytes = body
            .collect()
            .await
            .map_err(|e| ArmError::Retryable(e.to_string(), None))?;
        Ok((u16::from(status), headers, bytes.to_vec()))
    }
}

/// The state of an operation from one poll's answer: 202 is running; an Azure-AsyncOperation
/// body says InProgress, Succeeded, Failed or Canceled (with ARM's error code); a Location URL
/// answers 200/204 with the result once done.
pub fn op_state(status: u16, headers: &azure_core::headers::Headers, body: &[u8]) -> OpState {
    if status == 202 {
        return OpState::Running(policy::retry_after(headers));
    }
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let Some(s) = v.get("status").and_then(|s| s.as_str()) else {
        return OpState::Succeeded;
    };
    match s {
        "Succeeded" => OpState::Succeeded,
        "Failed" | "Canceled" | "Cancelled" => {
            let e = v.get("error").cloned().unwrap_or_default();
            let f = |k: &str| e.get(k).and_then(|x| x.as_str()).unwrap_or(s).to_owned();
            OpState::Failed {
                code: f("code"),
                message: f("message"),
            }
        }
        _ => OpState::Running(policy::retry_after(headers)),
    }
}

impl Arm {
    /// A write the service finishes before it answers (200/201/204): retried like any call, and
    /// nothing to poll (a Location header would only name the resource itself).
    async fn sync_write(
        &self,
        what: &str,
        method: Method,
        url: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Submitted, ArmError> {
        let (_, headers, _) = self
            .retrying(what, || async { self.raw_send(method, url, body).await })
            .await?;
        Ok(Submitted {
            operation_url: None,
            ..submitted(&headers)
        })
    }

    /// PATCH the whole tag set of a server (a long-running operation) or an account
    /// (synchronous).
    async fn submit_tags(
        &self,
        id: &str,
        tags: &std::collections::BTreeMap<String, String>,
    ) -> Result<Submitted, ArmError> {
        let version = top_level::api_version(id);
        let url = format!(
            "{}{id}?api-version={version}",
            self.endpoint.as_str().trim_end_matches('/')
        );
        let body = serde_json::json!({ "tags": tags });
        let (status, headers, _) = self
            .retrying("tag", || async {
                self.raw_send(Method::Patch, &url, Some(&body)).await
            })
            .await?;
        let sub = submitted(&headers);
        Ok(if status == 202 {
            sub
        } else {
            Submitted {
                operation_url: None,
                ..sub
            }
        })
    }
}

/// The `tags` of an ARM resource body.
pub(crate) fn tags_of(v: &serde_json::Value) -> std::collections::BTreeMap<String, String> {
    v["tags"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// The poll URL and Retry-After of an accepted write.
fn submitted(headers: &azure_core::headers::Headers) -> Submitted {
    let operation_url = headers
        .get_optional_string(&AZURE_ASYNC)
        .or_else(|| headers.get_optional_string(&LOCATION));
    Submitted {
        operation_url,
        retry_after: policy::retry_after(headers),
        request_id: headers.get_optional_string(&REQUEST_ID),
    }
}

#[async_trait::async_trait]
impl ArmApi for Arm {
    async fn observe(&self, eff: &EffectiveSpec) -> Result<Observed, ArmError> {
        self.observe_scoped(eff, false).await
    }

    async fn observe_all(&self, eff: &EffectiveSpec) -> Result<Observed, ArmError> {
        self.observe_scoped(eff, true).await
    }

    async fn get_resources(&self, ids: &[String]) -> Result<Vec<serde_json::Value>, ArmError> {
        self.read_top_level(ids).await
    }

    async fn submit(&self, op: &Op) -> Result<Submitted, ArmError> {
        match op {
            Op::Storage(s) => self.submit_storage(s).await,
            Op::AlertPut(t, rule) => self.submit_alert(t, rule).await,
            Op::SetTags(id, tags) => self.submit_tags(id, tags).await,
            Op::AlertDelete(t) => self.delete_alert(t).await,
            Op::Network(n) => self.submit_network(n).await,
            Op::FirewallPut(t, rule) => self.submit_firewall(t, Ok(rule)).await,
            Op::FirewallDelete(t, name) => self.submit_firewall(t, Err(name)).await,
            Op::EntraAdminPut(t, a) => self.submit_entra_admin(t, a).await,
            Op::DrillRestore(t, r) => self.submit_restore(t, r).await,
            Op::DrillDelete { scratch, source } => self.delete_scratch(scratch, source).await,
            Op::DiagPut(t, s) => self.submit_diagnostic(t, s).await,
            Op::DiagDelete(t) => self.delete_diagnostic(t).await,
            Op::BudgetPut(t, d) => self.submit_budget(t, d).await,
            Op::KeyRotate {
                vault_uri,
                key_name,
            } => self.rotate_key(vault_uri, key_name).await,
            _ => self.submit_postgres(op).await,
        }
    }

    async fn get_server(
        &self,
        eff: &EffectiveSpec,
        name: &str,
    ) -> Result<Option<ObservedServer>, ArmError> {
        let t = crate::plan::PgTarget {
            server_name: name.to_owned(),
            ..crate::plan::postgres::target(eff)
        };
        self.read_server(&t).await
    }

    async fn poll(&self, operation_url: &str) -> Result<OpState, ArmError> {
        let (status, headers, body) = self
            .retrying("poll", || async { self.raw_get(operation_url).await })
            .await?;
        Ok(op_state(status, &headers, &body))
    }

    async fn graph_resources(&self, ids: &[String]) -> Result<Vec<serde_json::Value>, ArmError> {
        self.query_graph(ids).await
    }

    async fn graph_fingerprints(&self, ids: &[String]) -> Result<Vec<(String, u64)>, ArmError> {
        self.query_fingerprints(ids).await
    }

    async fn metrics(
        &self,
        q: &metrics::MetricsQuery,
    ) -> Result<Vec<metrics::MetricSeries>, ArmError> {
        self.read_metrics(q).await
    }

    fn stats(&self) -> &Stats {
        &self.stats
    }
}
