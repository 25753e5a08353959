//! The reconcile of one data plane: poll pending operations → observe (GET) → plan (pure) →
//! apply (send writes, record LROs, never wait) → status (pure). Level-triggered: every pass starts
//! from what is in Azure; only pending operations are carried over, through the status.
//! Both front doors (folder, Kubernetes) call [`reconcile`]; they differ only in where specs come
//! from and where status goes.

pub mod audit;
pub mod cleanup;
pub mod conditions;
pub mod drill;
pub mod intent;
pub mod policy;
pub mod rotation;
pub mod scaling;
pub mod status;
pub mod sweep;
pub use status::network_status;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use time::OffsetDateTime;

use crate::api::spec::Mode;
use crate::api::status::PendingOperation;
use crate::api::{EffectiveSpec, EngramDataPlaneStatus, FieldError};
use crate::azure::error::operation_failure_is_transient;
use crate::azure::{ArmApi, ArmError, OpState};
use crate::plan::{self, Plan};

/// What one reconcile pass did and when to come back.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub status: EngramDataPlaneStatus,
    /// When to reconcile again (None: not until the spec changes).
    pub requeue_after: Option<Duration>,
    /// The plan that was computed (None when the spec was invalid or ARM could not be read).
    pub plan: Option<Plan>,
    /// Writes sent in this pass.
    pub writes: u32,
    /// A fatal error (spec-caused): do not retry until the spec changes.
    pub fatal: bool,
    /// Nothing in flight and nothing more this operator can do now (`run --once` stops here).
    pub settled: bool,
    /// The key rotation steps of this pass, for the audit trail.
    pub key_events: Vec<crate::plan::rotation::KeyEvent>,
    /// A restore drill that finished in this pass, for Events and metrics.
    pub drill_finished: Option<crate::api::status::DrillRun>,
    /// The connection details to publish (`spec.exports`), when the plane is Ready; None leaves
    /// whatever was published before as it is.
    pub exports: Option<BTreeMap<String, String>>,
}

impl Outcome {
    /// A pass that sent nothing and has nothing to come back for until the object changes
    /// (`fatal`: because of the spec).
    pub fn settled_without_arm(status: EngramDataPlaneStatus, fatal: bool) -> Self {
        Self {
            status,
            requeue_after: None,
            plan: None,
            writes: 0,
            fatal,
            settled: true,
            key_events: Vec::new(),
            drill_finished: None,
            exports: None,
        }
    }

    /// True when the data plane is Ready.
    pub fn ready(&self) -> bool {
        conditions::is_ready(&self.status.conditions)
    }
}

/// Inputs that do not come from ARM.
#[derive(Clone, Debug)]
pub struct Context {
    pub now: OffsetDateTime,
    pub generation: Option<i64>,
    /// Pause between passes while something is in flight, when ARM gave no Retry-After.
    pub poll_interval: Duration,
    /// Force observe mode (the `plan` command), whatever the spec says.
    pub dry_run: bool,
    /// A pending operation older than this is dropped and its resource observed afresh.
    pub max_operation_age: Duration,
    /// This data plane as an owner, `{namespace}/{name}` (folder mode: `folder/{name}`): the
    /// value of the `engram-owner` tag on what it creates.
    pub owner: String,
    /// Access to the servers' databases (pgvector, the restore drill); None: none configured.
    pub db: Option<std::sync::Arc<crate::database::Db>>,
    /// Write-ahead intent for creates: the windows and where the status is persisted mid-pass.
    pub intents: intent::Intents,
}

/// How soon a pass looks again at a restore drill in flight.
const DRILL_POLL: Duration = Duration::from_secs(60);

/// Default of `--max-operation-age`: no ARM operation of ours should run this long.
pub const DEFAULT_MAX_OPERATION_AGE: Duration = Duration::from_secs(2 * 3600);

/// The resync period with ±20 % jitter.
pub fn jittered(resync: Duration) -> Duration {
    let f = 0.8 + fastrand::f64() * 0.4;
    Duration::from_secs_f64(resync.as_secs_f64() * f)
}

/// Reconcile one data plane. `prev` is the status written last time (pending operations live there).
pub async fn reconcile(
    arm: &dyn ArmApi,
    spec: Result<&EffectiveSpec, &[FieldError]>,
    prev: &EngramDataPlaneStatus,
    ctx: &Context,
) -> Outcome {
    let eff = match spec {
        Ok(eff) => eff,
        Err(errors) => return status::invalid(prev, errors, ctx),
    };
    let mut errors: Vec<String> = Vec::new();
    let mut fatal = false;
    let mut transient = false;
    let mut retry_hint: Option<Duration> = None;

    // 1. Pending operations: poll each once; keep those still running. An operation that failed
    //    for a transient reason, that ARM no longer knows, or that is too old is dropped: the
    //    pass observes afresh, and nothing stays blocked forever.
    let mut pending: Vec<PendingOperation> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    // Resource label → why a write or an operation on it failed this pass (key rotation reads it).
    let mut failed: BTreeMap<String, String> = BTreeMap::new();
    let mut request_ids: BTreeMap<String, String> = BTreeMap::new();
    for op in &prev.pending_operations {
        let what = format!("{} {}", op.resource, op.action);
        if let Some(age) = age_of(op, ctx.now).filter(|a| *a > ctx.max_operation_age) {
            tracing::warn!(resource = %op.resource, action = %op.action, age_s = age.as_secs(), "dropping an operation older than --max-operation-age; observing afresh");
            notes.push(format!(
                "{what}: operation dropped after {} min without an end; observed afresh",
                age.as_secs() / 60
            ));
            continue;
        }
        match arm.poll(&op.operation_url).await {
            Ok(OpState::Running(after)) => {
                retry_hint = min_opt(retry_hint, after);
                pending.push(op.clone());
            }
            Ok(OpState::Succeeded) => {
                tracing::info!(resource = %op.resource, action = %op.action, "operation succeeded")
            }
            Ok(OpState::Failed { code, message }) if operation_failure_is_transient(&code) => {
                tracing::warn!(resource = %op.resource, action = %op.action, %code, "operation failed transiently; observing afresh and retrying");
                notes.push(format!(
                    "{what}: operation ended {code}; retried: {message}"
                ));
                failed.insert(op.resource.clone(), format!("{code}: {message}"));
                transient = true;
            }
            Ok(OpState::Failed { code, message }) => {
                tracing::warn!(resource = %op.resource, action = %op.action, %code, "operation failed");
                errors.push(format!("{what}: {code}: {message}"));
                failed.insert(op.resource.clone(), format!("{code}: {message}"));
                fatal = true;
            }
            Err(e) if operation_gone(&e) => {
                tracing::warn!(resource = %op.resource, action = %op.action, error = %e, "operation status is gone; observing afresh");
                notes.push(format!(
                    "{what}: operation status no longer available ({e}); observed afresh"
                ));
            }
            Err(e) => {
                tracing::warn!(resource = %op.resource, error = %e, "cannot poll operation; keeping it");
                transient = true;
                pending.push(op.clone());
            }
        }
    }

    // 2. Observe. A create recorded in status but not visible yet holds its resource back.
    let mut observed = match arm.observe(eff).await {
        Ok(o) => o,
        Err(e) => return status::arm_unreadable(prev, pending, errors, &e, ctx),
    };
    let mut holds = intent::resolve(
        &prev.create_intents,
        &pending,
        eff,
        &observed,
        &ctx.intents.windows,
        ctx.now,
    );
    // A create of ours in flight is not visible yet, and its name is taken by it: that is no
    // refusal (mock-kube showed a Warning for it on every real watch).
    let creating = |label: String| {
        holds.holds(&label)
            || pending
                .iter()
                .any(|p| p.resource == label && p.action == plan::Verb::Create.to_string())
    };
    if creating(plan::postgres::resource_label(eff)) {
        observed.postgres.name_unavailable = None;
    }
    if creating(plan::storage_account::resource_label(eff)) {
        observed.storage.name_unavailable = None;
    }
    notes.append(&mut holds.notes);
    let mut intents = holds.kept;

    // 2b. Scaling: the server's metrics on a quiet pass (once per resync in steady state); an
    //     applied scale-up is the plan's SKU (one PATCH through the normal plan). A failed read
    //     is a note, not an error.
    let enforce = eff.mode == Mode::Enforce && !ctx.dry_run;
    let quiet = pending.is_empty();
    let scale = scaling::step(
        arm,
        eff,
        &observed,
        prev.scaling.as_ref(),
        ctx,
        enforce,
        quiet,
    )
    .await;
    notes.extend(scale.error.clone());
    let scaled;
    let eff = match &scale.sku {
        Some(sku) if *sku != eff.postgres.sku => {
            scaled = scaling::with_sku(eff, sku);
            &scaled
        }
        _ => eff,
    };

    // 3. Plan. Status is the memory of what this plane set; only that is ever removed.
    let memory = plan::Memory::from_status(prev.storage.as_ref());
    let plan = plan::plan_all(eff, &observed, &memory, ctx.now);
    let recorded = plan::owner::Recorded::new([
        prev.postgres.as_ref().and_then(|p| p.id.as_ref()),
        prev.storage.as_ref().and_then(|p| p.id.as_ref()),
    ]);
    let mut plan = plan::owner::gate(plan, eff, &observed, &ctx.owner, &recorded);
    plan.waiting.append(&mut holds.waiting);

    // 4. Apply: at most one write per resource, none to a resource with an operation in flight.
    let mut busy: BTreeSet<String> = pending.iter().map(|p| p.resource.clone()).collect();
    busy.extend(holds.held);
    let mut corrected: BTreeSet<(String, String)> = BTreeSet::new();
    let mut writes = 0;
    let mut accepted: Vec<&plan::Op> = Vec::new();
    if enforce && !fatal {
        for action in &plan.actions {
            if !busy.insert(action.resource.clone()) {
                continue;
            }
            // Write-ahead: a create that stays invisible until it ends is recorded first.
            let intent = intent::for_action(eff, action, ctx.now);
            if let Some(i) = &intent {
                intents.push(i.clone());
                let saved = intent::checkpoint(&ctx.intents, prev, &pending, &intents).await;
                if let Err(e) = saved {
                    tracing::warn!(resource = %action.resource, error = %e, "create not sent");
                    intents.pop();
                    errors.push(format!("{} {}: {e}", action.resource, action.verb));
                    transient = true;
                    continue;
                }
            }
            tracing::info!(resource = %action.resource, action = %action.verb, fields = action.changes.len(), "sending write");
            let result = arm.submit(&action.op).await;
            if intent.is_some() && result.as_ref().map_or_else(intent::refused, |_| true) {
                intents.retain(|i| i.resource != action.resource);
            }
            match result {
                Ok(sub) => {
                    writes += 1;
                    accepted.push(&action.op);
                    if let Some(id) = &sub.request_id {
                        request_ids.insert(action.resource.clone(), id.clone());
                    }
                    for c in &action.changes {
                        corrected.insert((action.resource.clone(), c.field.clone()));
                    }
                    retry_hint = min_opt(retry_hint, sub.retry_after);
                    if let Some(url) = sub.operation_url {
                        pending.push(PendingOperation {
                            resource: action.resource.clone(),
                            action: action.verb.to_string(),
                            operation_url: url,
                            started_at: status::rfc3339(ctx.now),
                        });
                    }
                    if intent.is_some() {
                        // Accepted: the intent is now a pending operation; persist that at once.
                        let saved = intent::checkpoint(&ctx.intents, prev, &pending, &intents);
                        if let Err(e) = saved.await {
                            tracing::warn!(resource = %action.resource, error = %e, "accepted create not persisted before the end of the pass");
                        }
                    }
                }
                Err(ArmError::Busy(m)) => {
                    tracing::info!(resource = %action.resource, "resource busy; will retry: {m}");
                    transient = true;
                }
                Err(e) if e.is_transient() => {
                    errors.push(format!("{} {}: {e}", action.resource, action.verb));
                    failed.insert(action.resource.clone(), e.to_string());
                    transient = true;
                }
                Err(e) => {
                    errors.push(format!("{} {}: {e}", action.resource, action.verb));
                    failed.insert(action.resource.clone(), e.to_string());
                    fatal = true;
                }
            }
        }
    }

    // 5. Key rotation: who is on which version, from each consumer's own report.
    let key_step = rotation::step(
        eff,
        &observed,
        &rotation::PassFacts {
            plan: &plan,
            accepted: &accepted,
            in_flight: pending.iter().map(|p| p.resource.as_str()).collect(),
            failed: &failed,
            request_ids: &request_ids,
        },
        prev.key_rotation.as_ref(),
        ctx.now,
    );

    // 6. Inside the database: pgvector (SQL shown, not run, in observe mode).
    let vector = crate::database::vector::step(
        ctx.db.as_deref(),
        eff,
        &observed,
        enforce && !fatal,
        ctx.now,
    )
    .await;
    let building = vector.as_ref().is_some_and(|v| v.building);
    let drill = drill::step(
        arm,
        eff,
        &observed,
        prev.restore_drill.as_ref(),
        ctx,
        enforce && !fatal,
    )
    .await;

    // 7. Status and requeue.
    let more = enforce && (writes > 0 || !plan.actions.is_empty() || !plan.waiting.is_empty());
    let busy_now = !pending.is_empty() || more || transient || building;
    let requeue_after = if fatal {
        None
    } else if busy_now {
        Some(poll_soon(retry_hint, ctx))
    } else {
        Some(jittered(Duration::from_secs(eff.resync_seconds)))
    };
    // A drill in flight is looked at within a minute; it does not hold `run --once`.
    let requeue_after = match requeue_after {
        Some(d) if drill.in_flight => Some(d.min(DRILL_POLL)),
        other => other,
    };
    let mut status = status::build(status::Inputs {
        prev,
        eff,
        observed: &observed,
        memory: memory.after(&observed.storage, &accepted),
        plan: &plan,
        pending,
        errors,
        notes,
        corrected: &corrected,
        enforce,
        fatal,
        ctx,
        rotation: &key_step,
    });
    status.create_intents = intents;
    status.vector = vector.map(|v| v.status);
    status.restore_drill = drill.status;
    status.scaling = scale.status;
    status::drill_condition(&mut status, ctx);
    let exports = (eff.exports.is_some() && conditions::is_ready(&status.conditions))
        .then(|| plan::exports::build(eff, &observed, &status));
    Outcome {
        status,
        requeue_after,
        plan: Some(plan),
        writes: writes + drill.writes,
        fatal,
        settled: fatal || !busy_now,
        key_events: key_step.events,
        drill_finished: drill.finished,
        exports,
    }
}

/// How long ago an operation started (None when its start time cannot be read).
fn age_of(op: &PendingOperation, now: OffsetDateTime) -> Option<Duration> {
    let started = OffsetDateTime::parse(
        &op.started_at,
        &time::format_description::well_known::Rfc3339,
    )
    .ok()?;
    Duration::try_from(now - started).ok()
}

/// ARM no longer answers for the operation: 404, 410, or 403 on its status URL.
fn operation_gone(e: &ArmError) -> bool {
    matches!(
        e,
        ArmError::Fatal {
            status: 404 | 410,
            ..
        } | ArmError::AuthorizationFailed { status: 403, .. }
    )
}

/// When to look again while something is in flight: ARM's Retry-After, else the poll interval.
fn poll_soon(retry_hint: Option<Duration>, ctx: &Context) -> Duration {
    retry_hint
        .unwrap_or(ctx.poll_interval)
        .max(Duration::from_millis(50))
}

fn min_opt(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}
