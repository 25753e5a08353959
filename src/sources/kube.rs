//! The Kubernetes front door: a kube-rs Controller over EngramDataPlane objects (one namespace or
//! all) that calls the same engine as folder mode. Around the engine: a finalizer added before the
//! first ARM write, the cleanup under the deletion policy, status written with server-side apply on
//! the status subresource, Events on transitions only, and a leader gate (only the holder of the
//! plane's Lease, the leader's or its shard's, writes, to ARM or to status).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, Recorder, Reporter};
use kube::runtime::finalizer::{self, finalizer};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};

use super::kube_events;
use super::kube_intent::KubeSink;
use super::leader::{GatedArm, LeaderError, LeaderGate};
use super::shards::Gates;
use crate::api::spec::DeletionPolicy;
use crate::api::{self, EngramDataPlane, EngramDataPlaneStatus};
use crate::azure::ArmApi;
use crate::reconcile::intent::{Intents, Windows};
use crate::reconcile::policy::ReconcilePolicy;
use crate::reconcile::{self, cleanup, conditions, Context};
use crate::telemetry::admin::Health;
use crate::telemetry::metrics::outcome_label;

/// The finalizer that holds a declaration until its cleanup has run.
pub const FINALIZER: &str = "engram.zimax.net/cleanup";
/// Field manager of the status apply patch (and the Events' reporting controller).
pub const FIELD_MANAGER: &str = "engram-operator";

/// Errors of the Kubernetes front door.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("finalizer: {0}")]
    Finalizer(String),
    #[error("object has no name or namespace")]
    Unnamed,
    /// No usable kubeconfig or in-cluster configuration.
    #[error("Kubernetes configuration: {0}")]
    Config(String),
    #[error("{0}")]
    Leader(#[from] LeaderError),
    /// This replica does not hold the lease (or lost it during the pass): nothing was written.
    #[error("not the leader: nothing written")]
    NotLeader,
    /// Cleanup not finished (deletes in flight, or refused): the finalizer stays.
    #[error("cleanup pending: {why}")]
    CleanupPending { why: String, after: Duration },
}

impl KubeError {
    /// A short, stable label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Kube(_) => "kube_api",
            Self::Finalizer(_) => "finalizer",
            Self::Unnamed => "unnamed",
            Self::Config(_) => "config",
            Self::Leader(_) => "leader",
            Self::NotLeader => "not_leader",
            Self::CleanupPending { .. } => "deleting",
        }
    }
}

/// Everything a reconcile needs.
pub struct Ctx {
    pub client: kube::Client,
    pub arm: Arc<dyn ArmApi>,
    /// Which Lease gates a plane's writes: the leader's, or its shard's.
    pub gates: Gates,
    pub recorder: Recorder,
    pub health: Arc<Health>,
    /// Pause between polls of an operation in flight when ARM sends no Retry-After.
    pub poll_interval: Duration,
    /// A pending ARM operation older than this is dropped (`--max-operation-age`).
    pub max_operation_age: Duration,
    /// Backoff after an error of the Kubernetes API.
    pub error_backoff: Duration,
    /// Access to the servers' databases (pgvector, restore drills).
    pub db: Option<Arc<crate::database::Db>>,
    /// Per-plane credentials (spec.azure.credentialFrom, the namespace's `engram-credential`);
    /// None: every plane uses `arm`.
    pub clients: Option<Arc<crate::azure::ArmClients>>,
    /// How long a create recorded in status, and not visible in Azure, is held back.
    pub create_windows: Windows,
    /// The tiered sweeps: costs per plane, the child tier's period, the fast tier.
    pub sweeps: Arc<super::kube_sweep::Sweeps>,
    /// Open drift and pending operations per data plane, for the gauges.
    open: Mutex<BTreeMap<String, (i64, i64)>>,
}

impl Ctx {
    pub fn new(
        client: kube::Client,
        arm: Arc<dyn ArmApi>,
        gates: impl Into<Gates>,
        health: Arc<Health>,
        instance: &str,
    ) -> Self {
        let reporter = Reporter {
            controller: FIELD_MANAGER.into(),
            instance: Some(instance.into()),
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            arm,
            gates: gates.into(),
            health,
            poll_interval: Duration::from_secs(10),
            max_operation_age: reconcile::DEFAULT_MAX_OPERATION_AGE,
            error_backoff: Duration::from_secs(30),
            db: None,
            clients: None,
            create_windows: Windows::default(),
            sweeps: Arc::default(),
            open: Mutex::new(BTreeMap::new()),
        }
    }

    fn set_open(&self, key: String, status: Option<&EngramDataPlaneStatus>) {
        let Ok(mut open) = self.open.lock() else {
            return;
        };
        match status {
            Some(s) => {
                let drift = s.drift.iter().filter(|d| !d.corrected).count() as i64;
                open.insert(key, (drift, s.pending_operations.len() as i64));
            }
            None => {
                open.remove(&key);
            }
        }
        let (d, p) = open.values().fold((0, 0), |(a, b), (x, y)| (a + x, b + y));
        self.health.metrics.set_open(d, p);
    }
}

/// Reconcile one object: the controller's reconcile function (tests call it directly).
pub async fn reconcile(obj: Arc<EngramDataPlane>, ctx: Arc<Ctx>) -> Result<Action, KubeError> {
    let gate = ctx.gates.for_plane(&obj);
    if !gate.is_leader() {
        // Every replica watches; only the holder of the plane's Lease (the leader's, or its
        // shard's) acts. Gaining a Lease re-triggers every object.
        return Ok(Action::await_change());
    }
    let ns = obj.namespace().ok_or(KubeError::Unnamed)?;
    let api: Api<EngramDataPlane> = Api::namespaced(ctx.client.clone(), &ns);
    let started = Instant::now();
    let res = finalizer(&api, FINALIZER, obj, |event| async {
        match event {
            finalizer::Event::Apply(o) => apply(o, &api, &ctx, &gate).await,
            finalizer::Event::Cleanup(o) => cleanup(o, &api, &ctx, &gate).await,
        }
    })
    .await
    .map_err(|e| match e {
        finalizer::Error::ApplyFailed(e) | finalizer::Error::CleanupFailed(e) => e,
        other => KubeError::Finalizer(other.to_string()),
    });
    if let Err(e) = &res {
        ctx.health
            .metrics
            .reconciled(e.metric_label(), started.elapsed());
    }
    res
}

/// What the controller does after an error.
pub fn error_policy(_obj: Arc<EngramDataPlane>, err: &KubeError, ctx: Arc<Ctx>) -> Action {
    match err {
        KubeError::CleanupPending { after, .. } => Action::requeue(*after),
        KubeError::NotLeader => Action::await_change(),
        e => {
            tracing::warn!(error = %e, "reconcile failed");
            Action::requeue(reconcile::jittered(ctx.error_backoff))
        }
    }
}

fn key(o: &EngramDataPlane) -> String {
    format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any())
}

fn engine_ctx(o: &EngramDataPlane, ctx: &Ctx) -> Context {
    Context {
        now: time::OffsetDateTime::now_utc(),
        generation: o.metadata.generation,
        poll_interval: ctx.poll_interval,
        dry_run: false,
        max_operation_age: ctx.max_operation_age,
        owner: format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any()),
        db: ctx.db.clone(),
        intents: Intents {
            windows: ctx.create_windows,
            sink: None,
        },
    }
}

/// The status through server-side apply on the status subresource (field manager
/// `engram-operator`, forced: this operator owns the whole status), and only when it differs from
/// the one the object carries: a status write is a watch event, and an unchanged status must never
/// start the next pass.
pub async fn patch_status(
    api: &Api<EngramDataPlane>,
    name: &str,
    prev: &EngramDataPlaneStatus,
    status: &EngramDataPlaneStatus,
) -> Result<(), KubeError> {
    if status == prev {
        return Ok(());
    }
    let body = serde_json::json!({
        "apiVersion": EngramDataPlane::api_version(&()),
        "kind": EngramDataPlane::kind(&()),
        "status": status,
    });
    api.patch_status(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await?;
    Ok(())
}

async fn publish(ctx: &Ctx, o: &EngramDataPlane, events: Vec<Event>) {
    let reference = o.object_ref(&());
    for ev in events {
        if let Err(e) = ctx.recorder.publish(&ev, &reference).await {
            tracing::warn!(error = %e, reason = %ev.reason, "could not publish an Event");
        }
    }
}

fn record_drift(ctx: &Ctx, prev: &EngramDataPlaneStatus, next: &EngramDataPlaneStatus) {
    let mut by_kind: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for d in &next.drift {
        let kind = d.resource.split('/').next().unwrap_or("other");
        let e = by_kind.entry(kind).or_default();
        let seen = prev
            .drift
            .iter()
            .find(|p| p.resource == d.resource && p.field == d.field);
        if seen.is_none() {
            e.0 += 1;
        }
        if d.corrected && !seen.is_some_and(|p| p.corrected) {
            e.1 += 1;
        }
    }
    for (kind, (detected, corrected)) in by_kind {
        ctx.health.metrics.drift(kind, detected, corrected);
    }
}

async fn apply(
    o: Arc<EngramDataPlane>,
    api: &Api<EngramDataPlane>,
    ctx: &Ctx,
    gate: &LeaderGate,
) -> Result<Action, KubeError> {
    let started = Instant::now();
    let name = o.name_any();
    let spec = api::resolve(&o.spec);
    let prev = o.status.clone().unwrap_or_default();
    let plane = plane_client(&o, ctx).await?;
    let arm = GatedArm::new(plane.arm.clone(), gate.clone());
    let mut rctx = engine_ctx(&o, ctx);
    rctx.db = plane.db(&ctx.db);
    // A create is recorded in the object's status before it is sent (write-ahead intent).
    let sink = Arc::new(KubeSink::new(
        api.clone(),
        &name,
        gate.clone(),
        prev.clone(),
    ));
    rctx.intents.sink = Some(sink.clone());
    let span = tracing::info_span!("reconcile", plane = %key(&o));
    // Boxed: the engine's future is large, and a caller polling this one on its own stack (a
    // test's block_on) would overflow it.
    let (mut out, cost) = crate::azure::meter::metered(tracing::Instrument::instrument(
        Box::pin(reconcile::policy::reconcile(
            &arm,
            o.annotations(),
            spec.as_ref().map_err(|e| e.as_slice()),
            &prev,
            &rctx,
        )),
        span,
    ))
    .await;
    if !gate.is_leader() {
        // The lease went during the pass: the gate already withheld writes; no status either.
        return Err(KubeError::NotLeader);
    }
    if ctx.clients.is_some() {
        out.status.azure = Some(plane.status);
    }
    patch_status(api, &name, &sink.current(), &out.status).await?;
    let config_map = o
        .spec
        .exports
        .as_ref()
        .and_then(|x| x.config_map.as_deref());
    if let (Some(cm), Some(data)) = (config_map, &out.exports) {
        super::kube_exports::publish(&ctx.client, &o, cm, data).await?;
    }
    let accepted = arm.accepted();
    let actions = kube_events::accepted_actions(out.plan.as_ref(), &accepted);
    let spec_changed = prev.observed_generation != o.metadata.generation;
    let mut events = kube_events::policy_changed(&prev, &out.status);
    events.extend(kube_events::scaling(&prev, &out.status));
    ctx.health
        .metrics
        .scaling(&key(&o), out.status.scaling.as_ref());
    events.extend(kube_events::after_reconcile(
        &prev,
        &out.status,
        &actions,
        spec_changed,
    ));
    publish(ctx, &o, events).await;
    for e in &out.key_events {
        let line = crate::reconcile::audit::line(&key(&o), rctx.now, e);
        println!("{}", crate::reconcile::audit::tagged(&line));
    }
    publish(ctx, &o, kube_events::key_events(&out.key_events)).await;
    if let Some(run) = &out.drill_finished {
        ctx.health.metrics.restore_drill(&key(&o), run);
        publish(ctx, &o, vec![kube_events::drill_event(run)]).await;
    }
    record_drift(ctx, &prev, &out.status);
    ctx.set_open(key(&o), Some(&out.status));
    ctx.health
        .metrics
        .reconciled(outcome_label(&out), started.elapsed());
    tracing::info!(plane = %key(&o), ready = out.ready(), writes = out.writes, drift = out.status.drift_count,
        pending = out.status.pending_operations.len(), "reconciled");
    // An in-sync plane comes back after the child tier's period (sized from every pass's cost).
    let period = match &spec {
        Ok(eff) => {
            let obj = kube::runtime::reflector::ObjectRef::from_obj(o.as_ref());
            ctx.sweeps
                .passed(&key(&o), obj, eff, cost, plane.arm.clone())
        }
        Err(_) => Duration::ZERO,
    };
    Ok(match out.requeue_after {
        Some(d) if out.settled => Action::requeue(d.max(period)),
        Some(d) => Action::requeue(d),
        None => Action::await_change(),
    })
}

/// The client of the plane's credential (looked up afresh each pass), the status naming it, and
/// the plane's database access; the operator's client and no status without per-plane credentials.
async fn plane_client(
    o: &EngramDataPlane,
    ctx: &Ctx,
) -> Result<super::credentials::Resolved, KubeError> {
    let Some(clients) = &ctx.clients else {
        return Ok(super::credentials::Resolved::operator(ctx.arm.clone()));
    };
    let ns = o.namespace().ok_or(KubeError::Unnamed)?;
    let from = o.spec.azure.credential_from.as_deref();
    let found = super::credentials::kube_lookup(&ctx.client, &ns, from).await?;
    Ok(super::credentials::resolve(clients, found))
}

async fn cleanup(
    o: Arc<EngramDataPlane>,
    api: &Api<EngramDataPlane>,
    ctx: &Ctx,
    gate: &LeaderGate,
) -> Result<Action, KubeError> {
    let name = o.name_any();
    let prev = o.status.clone().unwrap_or_default();
    let rctx = engine_ctx(&o, ctx);
    let declared = o.spec.policy.as_ref().and_then(|p| p.deletion);
    let policy = ReconcilePolicy::from_annotations(o.annotations());
    if let Some(p) = policy.as_ref().ok().copied().filter(|p| p.detaches()) {
        // The annotation detaches the plane: the finalizer goes without any ARM request.
        publish(ctx, &o, vec![kube_events::detached(p)]).await;
        ctx.set_open(key(&o), None);
        ctx.sweeps.forget(&key(&o));
        return Ok(Action::await_change());
    }
    let spec = policy
        .map_err(|e| vec![e])
        .and_then(|_| api::resolve(&o.spec));
    let eff = match spec {
        Ok(eff) => eff,
        Err(_) if declared != Some(DeletionPolicy::Delete) => {
            publish(
                ctx,
                &o,
                kube_events::after_cleanup(&prev, &prev, &[], true, true),
            )
            .await;
            ctx.set_open(key(&o), None);
            ctx.sweeps.forget(&key(&o));
            return Ok(Action::await_change());
        }
        Err(errors) => {
            // `deletion: delete` on a spec we cannot read: never guess what to delete.
            let why = format!(
                "cannot delete: the spec is invalid ({} error(s)); fix it or set deletion: retain",
                errors.len()
            );
            let mut next = prev.clone();
            next.errors = vec![why.clone()];
            let g = rctx.generation;
            conditions::set(
                &mut next.conditions,
                conditions::DEGRADED,
                true,
                "DeletionBlocked",
                &why,
                g,
                rctx.now,
            );
            if gate.is_leader() {
                patch_status(api, &name, &prev, &next).await?;
                publish(
                    ctx,
                    &o,
                    kube_events::after_cleanup(&prev, &next, &[], false, false),
                )
                .await;
            }
            return Err(KubeError::CleanupPending {
                why,
                after: reconcile::jittered(ctx.error_backoff),
            });
        }
    };
    let plane = plane_client(&o, ctx).await?;
    let arm = GatedArm::new(plane.arm, gate.clone());
    let c = cleanup::cleanup(&arm, &eff, &prev, &rctx).await;
    if !gate.is_leader() {
        return Err(KubeError::NotLeader);
    }
    let accepted = arm.accepted();
    let plan_actions: Vec<crate::plan::Action> = accepted
        .iter()
        .map(|op| crate::plan::Action {
            resource: op_resource(op),
            verb: crate::plan::Verb::Delete,
            changes: Vec::new(),
            op: op.clone(),
        })
        .collect();
    let actions: Vec<&crate::plan::Action> = plan_actions.iter().collect();
    let retained = c.done && c.writes == 0 && prev.pending_operations.is_empty() && eff_keeps(&eff);
    publish(
        ctx,
        &o,
        kube_events::after_cleanup(&prev, &c.status, &actions, c.done, retained),
    )
    .await;
    if c.done {
        ctx.set_open(key(&o), None);
        ctx.sweeps.forget(&key(&o));
        return Ok(Action::await_change());
    }
    patch_status(api, &name, &prev, &c.status).await?;
    ctx.set_open(key(&o), Some(&c.status));
    Err(KubeError::CleanupPending {
        why: c
            .status
            .errors
            .first()
            .cloned()
            .unwrap_or_else(|| "deletes in flight".into()),
        after: c.requeue_after.unwrap_or(ctx.poll_interval),
    })
}

/// True when the policy leaves Azure untouched (retain, or observe mode).
fn eff_keeps(eff: &api::EffectiveSpec) -> bool {
    eff.deletion == DeletionPolicy::Retain || eff.mode == crate::api::spec::Mode::Observe
}

fn op_resource(op: &crate::plan::Op) -> String {
    match op {
        crate::plan::Op::PgDelete(t) => format!("postgres/{}", t.server_name),
        other => format!("{other:?}").chars().take(60).collect(),
    }
}

/// Options of `run --kube`.
#[derive(Clone, Debug)]
pub struct KubeOptions {
    /// Watch one namespace (None: all namespaces).
    pub namespace: Option<String>,
    /// This replica's identity in the Lease (the pod name).
    pub identity: String,
    /// Namespace of the Lease (the operator's own namespace).
    pub lease_namespace: String,
    /// How long the Lease holds without renewal, and how early the leader renews it.
    pub lease_seconds: u64,
    pub lease_grace_seconds: u64,
    /// `--shards N`: N shard Leases instead of the leader's (docs/sharding.md).
    pub shards: Option<u32>,
    pub poll_interval: Duration,
    pub max_operation_age: Duration,
    /// How long a create recorded in status, and not visible in Azure, is held back.
    pub create_windows: Windows,
    pub db: Option<Arc<crate::database::Db>>,
    /// Per-plane credentials; None: every plane uses the operator's.
    pub clients: Option<Arc<crate::azure::ArmClients>>,
    /// The fast tier: where it reads, how often (zero: off).
    pub sweep: crate::reconcile::sweep::SweepSource,
    pub fast_sweep: Duration,
}

/// Run the controller until SIGTERM / Ctrl-C.
pub async fn run(
    opts: KubeOptions,
    arm: Arc<dyn ArmApi>,
    health: Arc<Health>,
) -> Result<(), KubeError> {
    let mut config = kube::Config::infer()
        .await
        .map_err(|e| KubeError::Config(e.to_string()))?;
    // The audit log then says which replica sent each request.
    if let Ok(agent) =
        axum::http::HeaderValue::from_str(&crate::telemetry::user_agent(Some(&opts.identity)))
    {
        config.headers.push((axum::http::header::USER_AGENT, agent));
    }
    let client = kube::Client::try_from(config)?;
    let times = (opts.lease_seconds, opts.lease_grace_seconds);
    let (ns, id, metrics) = (
        &opts.lease_namespace,
        &opts.identity,
        health.metrics.clone(),
    );
    let gates = match opts.shards {
        None => Gates::from(super::leader::elect(client.clone(), ns, id, times, metrics).await?),
        Some(n) => super::shards::elect(client.clone(), ns, id, n, times, metrics).await?,
    };
    let api: Api<EngramDataPlane> = match &opts.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let mut ctx = Ctx::new(client, arm, gates.clone(), health.clone(), &opts.identity);
    ctx.poll_interval = opts.poll_interval;
    ctx.max_operation_age = opts.max_operation_age;
    ctx.create_windows = opts.create_windows;
    ctx.db = opts.db.clone();
    ctx.clients = opts.clients.clone();
    ctx.sweeps = Arc::new(super::kube_sweep::Sweeps::new(
        opts.sweep,
        opts.fast_sweep,
        Some(health.metrics.clone()),
    ));
    let held = {
        let gates = gates.clone();
        Arc::new(move |sub: &str| gates.holds(sub)) as Arc<dyn Fn(&str) -> bool + Send + Sync>
    };
    let fast = ctx.sweeps.clone().triggers(held);
    let controller = Controller::new(api, watcher::Config::default().any_semantic());
    let store = controller.store();
    let ready = health.clone();
    tokio::spawn(async move {
        if store.wait_until_ready().await.is_ok() {
            ready.set_ready(true);
        }
    });
    tracing::info!(namespace = opts.namespace.as_deref().unwrap_or("<all>"), identity = %opts.identity, "watching EngramDataPlane objects");
    controller
        .reconcile_all_on(gates.gained())
        .reconcile_on(fast)
        .graceful_shutdown_on(super::folder::shutdown_signal())
        .run(reconcile, error_policy, Arc::new(ctx))
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!(error = %e, "controller");
            }
        })
        .await;
    Ok(())
}
