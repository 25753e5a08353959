//! Our one ARM policy, placed in the SDK pipeline (whose own retries are off): it waits for the
//! throttle budget, counts reads and writes, feeds ARM's remaining-request headers back into the
//! budget, honours Retry-After on 429, and turns every non-success answer into an [`HttpFailure`]
//! that keeps ARM's code, message and Retry-After.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use azure_core::headers::{HeaderName, Headers};
use azure_core::{Context, Method, Policy, PolicyResult, Request};

use super::error::parse_body;
use super::throttle::{Budget, Class, Draw, StorageClass, GRAPH_SCOPE};
use crate::telemetry::metrics::Metrics;

/// What ARM has left for this subscription, by class. Real ARM sends the `global-` names (reads,
/// writes, deletes); the older per-region names are still read when a server sends them.
const REMAINING: [(&str, Class); 5] = [
    (
        "x-ms-ratelimit-remaining-subscription-global-reads",
        Class::Read,
    ),
    (
        "x-ms-ratelimit-remaining-subscription-global-writes",
        Class::Write,
    ),
    (
        "x-ms-ratelimit-remaining-subscription-global-deletes",
        Class::Delete,
    ),
    ("x-ms-ratelimit-remaining-subscription-reads", Class::Read),
    ("x-ms-ratelimit-remaining-subscription-writes", Class::Write),
];

/// The remaining-request counts ARM reported in `headers`, by class.
pub fn remaining(headers: &Headers) -> Vec<(Class, f64)> {
    REMAINING
        .iter()
        .filter_map(|(name, c)| {
            headers
                .get_optional_str(&HeaderName::from_static(name))
                .and_then(|v| v.trim().parse::<f64>().ok())
                .map(|n| (*c, n))
        })
        .collect()
}
const RETRY_AFTER: HeaderName = HeaderName::from_static("retry-after");
const GRAPH_REMAINING: HeaderName = HeaderName::from_static("x-ms-user-quota-remaining");
const GRAPH_RESETS_AFTER: HeaderName = HeaderName::from_static("x-ms-user-quota-resets-after");

/// True for a Resource Graph query (`/providers/Microsoft.ResourceGraph/resources`).
pub fn is_graph(path: &str) -> bool {
    path.to_ascii_lowercase()
        .trim_end_matches('/')
        .ends_with("/providers/microsoft.resourcegraph/resources")
}

/// Resource Graph's quota headers: the queries left and the time to the window's end
/// (`hh:mm:ss`).
pub fn graph_quota(headers: &Headers) -> Option<(f64, Duration)> {
    let remaining = headers
        .get_optional_str(&GRAPH_REMAINING)?
        .trim()
        .parse::<f64>()
        .ok()?;
    let hms = headers.get_optional_str(&GRAPH_RESETS_AFTER)?;
    let mut secs = 0.0;
    for part in hms.trim().split(':') {
        secs = secs * 60.0 + part.parse::<f64>().ok()?;
    }
    Some((remaining, Duration::from_secs_f64(secs.max(0.0))))
}
const REQUEST_ID: HeaderName = HeaderName::from_static("x-ms-request-id");

/// Request counters (for logs and the demo summary).
#[derive(Debug, Default)]
pub struct Stats {
    pub reads: AtomicU64,
    pub writes: AtomicU64,
    pub throttled: AtomicU64,
    /// Non-2xx answers other than 429 (404 on a missing resource included).
    pub errors: AtomicU64,
    /// Azure Resource Graph queries sent (counted apart from reads and writes: ARG has its own
    /// quota).
    pub graph_queries: AtomicU64,
}

impl Stats {
    /// (reads, writes, 429s, other non-2xx answers) so far.
    pub fn snapshot(&self) -> (u64, u64, u64, u64) {
        (
            self.reads.load(Ordering::Relaxed),
            self.writes.load(Ordering::Relaxed),
            self.throttled.load(Ordering::Relaxed),
            self.errors.load(Ordering::Relaxed),
        )
    }
}

/// Seconds from a Retry-After header (ARM sends integers only).
pub fn retry_after(headers: &Headers) -> Option<Duration> {
    headers
        .get_optional_str(&RETRY_AFTER)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// The subscription a request URL addresses, or "-" (Key Vault, operation URLs without one).
pub fn subscription_of(url: &azure_core::Url) -> String {
    let mut segs = url.path_segments().into_iter().flatten();
    while let Some(s) = segs.next() {
        if s.eq_ignore_ascii_case("subscriptions") {
            return segs.next().unwrap_or("-").to_ascii_lowercase();
        }
    }
    "-".into()
}

/// One GET or HEAD the client sent, as the evidence report cites it: the URL, the answer's status
/// and ARM's (or Key Vault's) `x-ms-request-id`, and when it was answered.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadRecord {
    pub url: String,
    /// None when no answer came (a connection error).
    pub status: Option<u16>,
    pub request_id: Option<String>,
    /// RFC 3339, the client's clock.
    pub at: String,
}

/// The reads of one client, kept only when asked for ([`super::Arm::recording_reads`]): a
/// long-running operator keeps none.
#[derive(Debug, Default)]
pub struct ReadLog(std::sync::Mutex<Vec<ReadRecord>>);

impl ReadLog {
    fn push(&self, r: ReadRecord) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(r);
    }

    /// Every read so far, in the order answered.
    pub fn records(&self) -> Vec<ReadRecord> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The URL a read is cited by: as sent, except that a request re-addressed to a test endpoint
/// (`--keyvault-endpoint`) is cited at the host it names in its `Host` header, the vault's.
fn cited_url(request: &Request) -> String {
    let url = request.url();
    match request
        .headers()
        .get_optional_str(&HeaderName::from_static("host"))
    {
        Some(host) => format!(
            "https://{host}{}{}",
            url.path(),
            url.query().map(|q| format!("?{q}")).unwrap_or_default()
        ),
        None => url.to_string(),
    }
}

/// The pipeline policy.
#[derive(Debug)]
pub struct ArmPolicy {
    pub budget: Arc<Budget>,
    /// Who signs the requests (`{tenant}/{client}`): ARM's limits are per principal and
    /// subscription, so the budget is keyed by both.
    pub principal: Arc<str>,
    pub stats: Arc<Stats>,
    /// Prometheus metrics (requests by method / kind / status, throttle waits), when exported.
    pub metrics: Option<Arc<Metrics>>,
    /// Where reads are recorded with their request ids, when asked for.
    pub reads: Option<Arc<ReadLog>>,
}

/// How the Storage resource provider counts a request to `path` (None: not one of its): a GET
/// of a collection (accounts, containers, blob services) is a list, of anything else a read;
/// every other method a write.
pub fn storage_class(path: &str, class: Class) -> Option<StorageClass> {
    let p = path.to_ascii_lowercase();
    // The provider is the last `providers` segment's: a metrics or diagnostic-settings request on
    // a blob service is Azure Monitor's, not the Storage RP's.
    let provider = p.rsplit("/providers/").next().unwrap_or_default();
    if !p.contains("/providers/") || !provider.starts_with("microsoft.storage/") {
        return None;
    }
    if class != Class::Read {
        return Some(StorageClass::Write);
    }
    let last = p
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    Some(
        if matches!(last, "containers" | "storageaccounts" | "blobservices") {
            StorageClass::List
        } else {
            StorageClass::Read
        },
    )
}

/// The resource kind a request addresses, for metric labels (never an id or a name).
pub fn resource_kind(path: &str) -> &'static str {
    let p = path.to_ascii_lowercase();
    if p.contains("operationresults")
        || p.contains("operationstatuses")
        || p.contains("asyncoperation")
    {
        "operation"
    } else if p.contains("/configurations") {
        "pg_config"
    } else if p.contains("/flexibleservers") {
        "postgres"
    } else if p.contains("/managementpolicies") {
        "lifecycle"
    } else if p.contains("/blobservices") {
        "container"
    } else if p.contains("/storageaccounts") {
        "storage_account"
    } else if p.contains("/metricalerts") {
        "alert"
    } else if p.contains("/keys/") {
        "key"
    } else if p.contains("/microsoft.resourcegraph/") {
        "resource_graph"
    } else {
        "other"
    }
}

#[async_trait::async_trait]
impl Policy for ArmPolicy {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        // The buckets are shared by every client of the process. Resource Graph counts per
        // principal, whatever the subscriptions: its requests name GRAPH_SCOPE instead of one.
        let graph = is_graph(request.url().path());
        let sub = if graph {
            GRAPH_SCOPE.to_owned()
        } else {
            subscription_of(request.url())
        };
        let class = match request.method() {
            _ if graph => Class::Graph,
            Method::Get | Method::Head => Class::Read,
            Method::Delete => Class::Delete,
            _ => Class::Write,
        };
        let draw = Draw {
            principal: &self.principal,
            sub: &sub,
            class,
            storage: storage_class(request.url().path(), class),
        };
        let waited = self.budget.admit(&draw).await;
        super::meter::charge(class, draw.storage);
        if let (Some(m), false) = (&self.metrics, waited.is_zero()) {
            m.throttled(waited);
        }
        let counter = match class {
            Class::Read => &self.stats.reads,
            Class::Graph => &self.stats.graph_queries,
            _ => &self.stats.writes,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let Some((first, rest)) = next.split_first() else {
            return Err(azure_core::Error::message(
                azure_core::error::ErrorKind::Other,
                "empty pipeline",
            ));
        };
        let method = request.method().to_string().to_ascii_uppercase();
        let kind = resource_kind(request.url().path());
        let url = cited_url(request);
        let record = |status: Option<u16>, headers: Option<&Headers>| {
            if let Some(m) = &self.metrics {
                m.arm_request(&method, kind, status);
            }
            if let (Some(log), Class::Read) = (&self.reads, class) {
                log.push(ReadRecord {
                    url: url.clone(),
                    status,
                    request_id: headers.and_then(|h| h.get_optional_string(&REQUEST_ID)),
                    at: crate::plan::unix_rfc3339(time::OffsetDateTime::now_utc().unix_timestamp()),
                });
            }
        };
        let response = match first.send(ctx, request, rest).await {
            Ok(r) => r,
            Err(e) => {
                record(None, None);
                return Err(e);
            }
        };
        record(Some(u16::from(response.status())), Some(response.headers()));
        for (c, n) in remaining(response.headers()) {
            self.budget.observe_remaining(&self.principal, &sub, c, n);
        }
        if let (true, Some((left, reset))) = (graph, graph_quota(response.headers())) {
            self.budget
                .observe_graph_quota(&self.principal, left, reset);
        }
        let status = u16::from(response.status());
        if response.status().is_success() {
            return Ok(response);
        }
        let wait = retry_after(response.headers());
        if status == 429 {
            self.stats.throttled.fetch_add(1, Ordering::Relaxed);
            self.budget.block_for(
                &self.principal,
                &sub,
                wait.unwrap_or(Duration::from_secs(10)),
            );
        } else {
            self.stats.errors.fetch_add(1, Ordering::Relaxed);
        }
        let (status_code, _headers, body) = response.deconstruct();
        let bytes = body.collect().await.unwrap_or_default();
        let failure = parse_body(status, &bytes, wait);
        tracing::debug!(status, code = %failure.code, url = %request.url().path(), "ARM answered with an error");
        Err(azure_core::Error::new(
            azure_core::error::ErrorKind::HttpResponse {
                status: status_code,
                error_code: Some(failure.code.clone()),
            },
            failure,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_is_read_from_the_path() {
        let u =
            azure_core::Url::parse("http://h/subscriptions/ABC/resourceGroups/rg?api-version=1")
                .unwrap();
        assert_eq!(subscription_of(&u), "abc");
        let u = azure_core::Url::parse("http://h/keyvault/kv/keys/k").unwrap();
        assert_eq!(subscription_of(&u), "-");
    }

    #[test]
    fn resource_kind_names_the_kind_not_the_resource() {
        let pg = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg";
        assert_eq!(resource_kind(pg), "postgres");
        assert_eq!(
            resource_kind(&format!("{pg}/configurations/x")),
            "pg_config"
        );
        assert_eq!(
            resource_kind("/subscriptions/s/providers/Microsoft.DBforPostgreSQL/locations/l/azureAsyncOperation/1"),
            "operation"
        );
        assert_eq!(
            resource_kind(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a"
            ),
            "storage_account"
        );
        assert_eq!(resource_kind("/keyvault/kv/keys/k/v"), "key");
    }
}
