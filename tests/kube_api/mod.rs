//! A scenario verifier for the Kubernetes API (the kube-rs/controller-rs `fixtures.rs` pattern,
//! on tower-test): the controller's client talks to an in-process service that answers like the
//! API server and records every call, in order, so a test can assert exactly what was sent.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use engram_operator::api::{EngramDataPlane, EngramDataPlaneStatus};
use engram_operator::azure::{ArmApi, ArmError, OpState, Stats, Submitted};
use engram_operator::plan::{Observed, Op};
use engram_operator::sources::kube::{Ctx, FINALIZER};
use engram_operator::sources::leader::LeaderGate;
use engram_operator::telemetry::admin::Health;
use http::{Request, Response};
use kube::client::Body;
use serde_json::{json, Value};
use tokio::sync::watch;

/// One request the controller sent to the API server.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: String,
    /// Path and query.
    pub uri: String,
    pub content_type: String,
    pub body: Value,
}

impl Call {
    pub fn is_status_apply(&self) -> bool {
        self.method == "PATCH"
            && self.uri.contains("/status?")
            && self.content_type == "application/apply-patch+yaml"
    }
    pub fn is_finalizer_patch(&self) -> bool {
        self.method == "PATCH"
            && !self.uri.contains("/status")
            && self.uri.contains("/engramdataplanes/")
            && self.content_type == "application/json-patch+json"
    }
    pub fn is_event(&self) -> bool {
        self.uri.starts_with("/apis/events.k8s.io/v1/")
    }
    /// The reason of an Event call.
    pub fn reason(&self) -> Option<&str> {
        self.body.get("reason").and_then(Value::as_str)
    }
    /// The status sent by a status apply patch.
    pub fn status(&self) -> EngramDataPlaneStatus {
        serde_json::from_value(self.body["status"].clone()).expect("status decodes")
    }
}

/// Everything both fakes saw, in one order: "kube <METHOD> <path>" and "arm <what>" lines.
pub type Timeline = Arc<Mutex<Vec<String>>>;

/// The fake API server: answers each request and records it.
pub struct Verifier {
    pub calls: Arc<Mutex<Vec<Call>>>,
}

impl Verifier {
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
    pub fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

/// A client whose API server is the verifier. `object` is what reads and patches return.
pub fn client(object: &EngramDataPlane, timeline: Timeline) -> (kube::Client, Verifier) {
    let (svc, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let rec = calls.clone();
    let mut obj = serde_json::to_value(object).unwrap();
    tokio::spawn(async move {
        while let Some((req, send)) = handle.next_request().await {
            let method = req.method().to_string();
            let uri = req.uri().to_string();
            let content_type = req
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let bytes = req.into_body().collect_bytes().await.unwrap();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            timeline.lock().unwrap().push(format!(
                "kube {method} {}",
                uri.split('?').next().unwrap_or("")
            ));
            let reply = if uri.starts_with("/apis/events.k8s.io/") {
                body.clone()
            } else if uri.contains("/status?") {
                obj["status"] = body["status"].clone();
                obj.clone()
            } else {
                obj.clone()
            };
            rec.lock().unwrap().push(Call {
                method,
                uri,
                content_type,
                body,
            });
            let rsp = Response::builder()
                .status(200)
                .body(Body::from(serde_json::to_vec(&reply).unwrap()))
                .unwrap();
            send.send_response(rsp);
        }
    });
    (kube::Client::new(svc, "default"), Verifier { calls })
}

/// examples/prod.yaml as an object in namespace engram.
pub fn prod_object() -> EngramDataPlane {
    let text = include_str!("../../examples/prod.yaml");
    let mut o = engram_operator::api::parse(text).expect("prod example parses");
    o.metadata.namespace = Some("engram".into());
    o.metadata.generation = Some(1);
    o.metadata.uid = Some("6b0d1f3e-0000-4000-8000-000000000001".into());
    o
}

pub fn with_finalizer(mut o: EngramDataPlane) -> EngramDataPlane {
    o.metadata.finalizers = Some(vec![FINALIZER.to_owned()]);
    o
}

pub fn deleting(mut o: EngramDataPlane) -> EngramDataPlane {
    o.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
    ));
    o
}

pub fn set_deletion(o: &mut EngramDataPlane, policy: &str) {
    let p: engram_operator::api::spec::Policy =
        serde_json::from_value(json!({ "deletion": policy })).unwrap();
    o.spec.policy = Some(p);
}

/// A gate the test can flip.
pub fn gate(leader: bool) -> (watch::Sender<bool>, LeaderGate) {
    let (tx, rx) = watch::channel(leader);
    (tx, LeaderGate::from_receiver(rx))
}

pub fn ctx(
    client: kube::Client,
    arm: Arc<dyn ArmApi>,
    gates: impl Into<engram_operator::sources::shards::Gates>,
) -> Arc<Ctx> {
    let mut c = Ctx::new(
        client,
        arm,
        gates,
        Arc::new(Health::default()),
        "engram-operator-0",
    );
    c.poll_interval = Duration::from_millis(10);
    Arc::new(c)
}

/// A fake ARM: nothing exists but the spec's Key Vault keys; every write is accepted as a
/// long-running operation. It records
/// what it was asked on the shared timeline and can close the leader gate while observing.
pub struct FakeArm {
    pub timeline: Timeline,
    pub stats: Stats,
    pub observed: Observed,
    /// Run during `observe`: close a gate (a lease lost in the middle of a reconcile).
    pub lose_lease: Option<Box<dyn Fn() + Send + Sync>>,
}

impl FakeArm {
    pub fn new(timeline: Timeline) -> Self {
        Self {
            timeline,
            stats: Stats::default(),
            observed: Observed::default(),
            lose_lease: None,
        }
    }
    pub fn arm_lines(&self) -> Vec<String> {
        self.timeline
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with("arm "))
            .cloned()
            .collect()
    }
}

#[async_trait::async_trait]
impl ArmApi for FakeArm {
    async fn observe(
        &self,
        eff: &engram_operator::api::EffectiveSpec,
    ) -> Result<Observed, ArmError> {
        self.timeline.lock().unwrap().push("arm observe".into());
        if let Some(lose) = &self.lose_lease {
            lose();
        }
        let mut observed = self.observed.clone();
        // Key Vault holds every key the spec names, each with a current version.
        let version = |vault: &str, name: &str| {
            Some(format!(
                "{}/keys/{name}/{}",
                vault.trim_end_matches('/'),
                "0".repeat(32)
            ))
        };
        if let Some(enc) = &eff.encryption {
            let pg = &mut observed.postgres;
            pg.latest_key_uri = pg
                .latest_key_uri
                .take()
                .or_else(|| version(&enc.key_vault_uri, &enc.key_name));
            if let Some(g) = &enc.geo_backup {
                pg.latest_geo_key_uri = pg
                    .latest_geo_key_uri
                    .take()
                    .or_else(|| version(&g.key_vault_uri, &g.key_name));
            }
        }
        Ok(observed)
    }
    async fn get_server(
        &self,
        eff: &engram_operator::api::EffectiveSpec,
        name: &str,
    ) -> Result<Option<engram_operator::plan::ObservedServer>, ArmError> {
        self.timeline
            .lock()
            .unwrap()
            .push(format!("arm get server {name}"));
        // The plane's own server as observed; no other server exists here.
        Ok(self
            .observed
            .postgres
            .server
            .clone()
            .filter(|_| name == eff.postgres.server_name))
    }
    async fn submit(&self, op: &Op) -> Result<Submitted, ArmError> {
        let what = format!("{op:?}");
        let verb = what.split('(').next().unwrap_or_default().to_owned();
        self.timeline
            .lock()
            .unwrap()
            .push(format!("arm submit {verb}"));
        Ok(Submitted {
            operation_url: Some("https://management.azure.com/op/1".into()),
            retry_after: Some(Duration::from_secs(10)),
            request_id: None,
        })
    }
    async fn poll(&self, _: &str) -> Result<OpState, ArmError> {
        self.timeline.lock().unwrap().push("arm poll".into());
        Ok(OpState::Running(None))
    }
    fn stats(&self) -> &Stats {
        &self.stats
    }
}
