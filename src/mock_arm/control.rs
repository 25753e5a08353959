//! The shared state behind one lock, and the control operations used by both the `/_mock/` HTTP
//! API and the Rust handle (one implementation).

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::clock::{rfc3339, Clock};
use super::entra::EntraState;
use super::faults::{FaultSpec, Faults};
use super::journal::{Journal, JournalEntry, OpClass};
use super::store::{merge_patch, str_at, World};
use super::throttle::Buckets;
use super::{keyvault, lro, Error, MockConfig};

/// Everything mutable, behind one lock.
#[derive(Debug)]
pub struct Shared {
    pub world: World,
    pub clock: Clock,
    pub buckets: Buckets,
    pub journal: Journal,
    pub faults: Faults,
    pub entra: EntraState,
}

/// The server's state and configuration.
#[derive(Debug)]
pub struct Inner {
    pub config: MockConfig,
    pub base_url: String,
    state: Mutex<Shared>,
}

impl Inner {
    /// Fails on a configured Entra principal without a tenant or client id.
    pub fn new(config: MockConfig, base_url: String) -> Result<Self, Error> {
        let mut world = World::default();
        world.set_graph_lag(config.graph_lag);
        let shared = Shared {
            world,
            clock: Clock::starting(config.clock, config.virtual_start),
            buckets: Buckets::default(),
            journal: Journal::new(config.journal_capacity),
            faults: Faults::default(),
            entra: EntraState::new(&config.entra)?,
        };
        Ok(Self {
            config,
            base_url,
            state: Mutex::new(shared),
        })
    }

    pub fn lock(&self) -> MutexGuard<'_, Shared> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bring operations and auto-start up to the clock (and Resource Graph's history with them).
    fn tick(&self, s: &mut Shared) {
        let elapsed = s.clock.elapsed();
        lro::tick(&mut s.world, elapsed, &self.config);
        s.world.record_graph(elapsed);
    }

    pub fn advance(&self, by: Duration) {
        let mut s = self.lock();
        s.clock.advance(by);
        self.tick(&mut s);
    }

    pub fn now(&self) -> String {
        rfc3339(self.lock().clock.now())
    }

    pub fn now_unix(&self) -> i64 {
        self.lock().clock.now().unix_timestamp()
    }

    pub fn journal(&self) -> Vec<JournalEntry> {
        self.lock().journal.entries()
    }

    pub fn count(&self, id: &str, class: OpClass) -> usize {
        self.lock().journal.count(id, class)
    }

    /// Out-of-band edit: JSON merge patch on the stored body. Setting `properties.state` to
    /// `Stopped` starts the auto-start countdown; any other state stops it.
    pub fn edit(&self, id: &str, patch: &Value) -> Result<Value, Error> {
        if !patch.is_object() {
            return Err(Error::Invalid("patch must be a JSON object".into()));
        }
        let mut s = self.lock();
        self.tick(&mut s);
        let elapsed = s.clock.elapsed();
        let r = s
            .world
            .get_any_mut(id)
            .ok_or_else(|| Error::NotFound(id.to_string()))?;
        let before = str_at(&r.body, &["properties", "state"]).map(str::to_string);
        merge_patch(&mut r.body, patch);
        let after = str_at(&r.body, &["properties", "state"]).map(str::to_string);
        if before != after {
            r.stopped_at = (after.as_deref() == Some("Stopped")).then_some(elapsed);
        }
        let body = r.body.clone();
        s.world.touch(id);
        s.world.record_graph(elapsed);
        Ok(body)
    }

    /// Out of band: store a top-level resource as it is (`id`, `name`, `type` filled in from the
    /// id), visible at once, as if created outside the operator. For Resource Graph tests and
    /// benchmarks that need many resources.
    pub fn seed(&self, id: &str, body: &Value) -> Result<Value, Error> {
        let segs: Vec<&str> = id.trim_start_matches('/').split('/').collect();
        if !super::graph_history::top_level(&id.to_ascii_lowercase()) {
            return Err(Error::Invalid(format!(
                "{id} is not the id of a top-level resource (/subscriptions/S/resourceGroups/RG/providers/NS/TYPE/NAME)"
            )));
        }
        let Value::Object(fields) = body else {
            return Err(Error::Invalid("body must be a JSON object".into()));
        };
        let mut body = Value::Object(fields.clone());
        body["id"] = json!(id);
        body["name"] = json!(segs[7]);
        if body.get("type").and_then(Value::as_str).is_none() {
            body["type"] = json!(format!("{}/{}", segs[5], segs[6]));
        }
        let mut s = self.lock();
        self.tick(&mut s);
        s.world.put(id, body.clone(), true);
        let elapsed = s.clock.elapsed();
        s.world.record_graph(elapsed);
        Ok(body)
    }

    /// Resource Graph's lag (zero: it sees every change at once).
    pub fn graph_lag(&self) -> Duration {
        self.lock().world.graph.history.lag()
    }

    /// Set Resource Graph's lag; the store as it is now is seen at once, later changes after it.
    pub fn set_graph_lag(&self, lag: Duration) {
        let mut s = self.lock();
        self.tick(&mut s);
        s.world.set_graph_lag(lag);
    }

    /// Out of band: a new version of a Key Vault key (the first one creates the key).
    pub fn new_key_version(&self, vault: &str, name: &str) -> String {
        let mut s = self.lock();
        let created = s.clock.now().unix_timestamp();
        super::keyvault::new_version(&mut s.world, vault, name, created)
    }

    pub fn set_key_attributes(
        &self,
        vault: &str,
        name: &str,
        version: &str,
        attributes: &Value,
    ) -> Result<(), Error> {
        let mut s = self.lock();
        super::keyvault::set_attributes(&mut s.world, vault, name, version, attributes)
            .map_err(|e| Error::Invalid(e.message))
    }

    pub fn inject_fault(&self, fault: FaultSpec) -> Result<u64, Error> {
        fault.validate().map_err(Error::Invalid)?;
        Ok(self.lock().faults.add(fault))
    }

    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    pub fn reset(&self) {
        let mut s = self.lock();
        let lag = s.world.graph.history.lag();
        s.world = World::default();
        s.world.set_graph_lag(lag);
        s.buckets.clear();
        s.journal.clear();
        s.faults.clear();
        s.entra.clear_requests();
    }

    pub fn dump(&self) -> Value {
        let mut s = self.lock();
        self.tick(&mut s);
        let resources: serde_json::Map<String, Value> = s
            .world
            .resources
            .values()
            .map(|r| {
                let id = str_at(&r.body, &["id"]).unwrap_or("").to_string();
                (
                    id,
                    json!({"body": r.body, "etag": r.etag(), "visible": r.visible, "busyWith": r.busy}),
                )
            })
            .collect();
        json!({
            "now": rfc3339(s.clock.now()),
            "resources": resources,
            "operations": lro::dump(&s.world),
            "keys": keyvault::dump(&s.world),
            "faults": s.faults.list(),
            "counts": s.journal.counts(),
            "entra": s.entra.dump(s.clock.now().unix_timestamp()),
        })
    }
}

type St = State<std::sync::Arc<Inner>>;

/// The `/_mock/` routes (no auth, not journaled). See docs/mock-arm.md.
pub fn routes() -> Router<std::sync::Arc<Inner>> {
    Router::new()
        .route("/_mock/clock", get(clock))
        .route("/_mock/advance", post(advance))
        .route("/_mock/journal", get(journal))
        .route("/_mock/journal/count", get(count))
        .route("/_mock/edit", post(edit))
        .route(
            "/_mock/faults",
            post(add_fault).get(list_faults).delete(clear_faults),
        )
        .route("/_mock/reset", post(reset))
        .route("/_mock/dump", get(dump))
        .route("/_mock/resources", post(seed))
        .route("/_mock/graph", get(graph).post(set_graph))
        .route("/_mock/metrics", post(set_metrics))
        .route("/_mock/costs", post(set_costs))
        .merge(super::entra::control_routes())
}

fn bad(msg: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": msg}))).into_response()
}

async fn clock(State(inner): St) -> Json<Value> {
    let s = inner.lock();
    Json(json!({"now": rfc3339(s.clock.now()), "elapsedSeconds": s.clock.elapsed().as_secs_f64()}))
}

#[derive(Deserialize)]
struct Advance {
    #[serde(default)]
    seconds: f64,
    #[serde(default)]
    ms: u64,
}

async fn advance(State(inner): St, Json(a): Json<Advance>) -> Response {
    if !a.seconds.is_finite() || a.seconds < 0.0 {
        return bad("seconds must be a non-negative number".into());
    }
    inner.advance(Duration::from_secs_f64(a.seconds) + Duration::from_millis(a.ms));
    Json(json!({"now": inner.now()})).into_response()
}

async fn journal(State(inner): St) -> Json<Value> {
    let s = inner.lock();
    Json(json!({"entries": s.journal.entries(), "counts": s.journal.counts()}))
}

#[derive(Deserialize)]
struct CountQuery {
    id: String,
}

async fn count(State(inner): St, Query(q): Query<CountQuery>) -> Json<Value> {
    Json(json!({
        "id": q.id,
        "reads": inner.count(&q.id, OpClass::Read),
        "writes": inner.count(&q.id, OpClass::Write),
    }))
}

#[derive(Deserialize)]
struct Edit {
    id: String,
    patch: Value,
}

async fn edit(State(inner): St, Json(e): Json<Edit>) -> Response {
    match inner.edit(&e.id, &e.patch) {
        Ok(body) => Json(body).into_response(),
        Err(Error::NotFound(id)) => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("no resource with id {id}")})),
        )
            .into_response(),
        Err(e) => bad(e.to_string()),
    }
}

async fn add_fault(State(inner): St, Json(f): Json<FaultSpec>) -> Response {
    match inner.inject_fault(f) {
        Ok(id) => (StatusCode::CREATED, Json(json!({"id": id}))).into_response(),
        Err(e) => bad(e.to_string()),
    }
}

async fn list_faults(State(inner): St) -> Json<Value> {
    Json(Value::Array(inner.lock().faults.list()))
}

async fn clear_faults(State(inner): St) -> StatusCode {
    inner.clear_faults();
    StatusCode::NO_CONTENT
}

async fn reset(State(inner): St) -> StatusCode {
    inner.reset();
    StatusCode::NO_CONTENT
}

async fn dump(State(inner): St) -> Json<Value> {
    Json(inner.dump())
}

#[derive(Deserialize)]
struct Seed {
    id: String,
    #[serde(default)]
    body: Value,
}

async fn seed(State(inner): St, Json(r): Json<Seed>) -> Response {
    let body = if r.body.is_null() { json!({}) } else { r.body };
    match inner.seed(&r.id, &body) {
        Ok(body) => (StatusCode::CREATED, Json(body)).into_response(),
        Err(e) => bad(e.to_string()),
    }
}

async fn graph(State(inner): St) -> Json<Value> {
    Json(json!({
        "lagSeconds": inner.graph_lag().as_secs_f64(),
        "queries": inner.count(super::resource_graph::JOURNAL_ID, OpClass::Read),
    }))
}

#[derive(Deserialize)]
struct GraphLag {
    #[serde(rename = "lagSeconds")]
    lag_seconds: f64,
}

async fn set_graph(State(inner): St, Json(g): Json<GraphLag>) -> Response {
    if !g.lag_seconds.is_finite() || g.lag_seconds < 0.0 {
        return bad("lagSeconds must be a non-negative number".into());
    }
    inner.set_graph_lag(Duration::from_secs_f64(g.lag_seconds));
    graph(State(inner)).await.into_response()
}

async fn set_metrics(State(inner): St, Json(body): Json<Value>) -> Response {
    match inner.set_metrics(body) {
        Ok(n) => Json(json!({"series": n})).into_response(),
        Err(e) => bad(e),
    }
}

async fn set_costs(State(inner): St, Json(body): Json<Value>) -> Response {
    match inner.set_costs(body) {
        Ok(n) => Json(json!({"rows": n})).into_response(),
        Err(e) => bad(e),
    }
}

/// One body or a list of them.
fn bodies(body: Value) -> Vec<Value> {
    match body {
        Value::Array(a) => a,
        one => vec![one],
    }
}

impl Inner {
    /// Set metric series (one body of `POST /_mock/metrics`, or a list of them) on the clock's
    /// now; the number set.
    pub fn set_metrics(&self, body: Value) -> Result<usize, String> {
        let mut s = self.lock();
        let now = s.clock.now();
        let mut n = 0;
        for b in bodies(body) {
            let set: super::metrics::SetMetric =
                serde_json::from_value(b).map_err(|e| format!("metrics: {e}"))?;
            let series = set.series(now)?;
            s.world.metrics.set(&set.id, &set.metric, series);
            n += 1;
        }
        Ok(n)
    }

    /// Add Cost Management rows (one body of `POST /_mock/costs`, or a list); the number added.
    pub fn set_costs(&self, body: Value) -> Result<usize, String> {
        let rows = bodies(body)
            .into_iter()
            .map(|b| {
                serde_json::from_value::<super::cost_query::SetCost>(b)
                    .map_err(|e| format!("costs: {e}"))
                    .and_then(|c| c.row())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let n = rows.len();
        self.lock().world.costs.extend(rows);
        Ok(n)
    }
}
