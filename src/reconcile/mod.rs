//! The reconcile of one data plane: poll pending operations → observe (GET) → plan (pure) →
//! apply (send writes, record LROs, never wait) → status (pure). Level-triggered: every pass starts
//! from what is in Azure; only pending operations are carried over, through the status.
//! Both front doors (folder, Kubernetes) call [`reconcile`]; they differ only in where specs come
//! from and where status goes.

pub mod cleanup;
pub mod conditions;
mod status;

use std::collections::BTreeSet;
use std::time::Duration;

use time::OffsetDateTime;

use crate::api::spec::Mode;
use crate::api::status::PendingOperation;
use crate::api::{EffectiveSpec, EngramDataPlaneStatus, FieldError};
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
}

impl Outcome {
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
}

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

    // 1. Pending operations: poll each once; keep those still running.
    let mut pending: Vec<PendingOperation> = Vec::new();
    for op in &prev.pending_operations {
        match arm.poll(&op.operation_url).await {
            Ok(OpState::Running(after)) => {
                retry_hint = min_opt(retry_hint, after);
                pending.push(op.clone());
            }
            Ok(OpState::Succeeded) => {
                tracing::info!(resource = %op.resource, action = %op.action, "operation succeeded")
            }
            Ok(OpState::Failed { code, message }) => {
                tracing::warn!(resource = %op.resource, action = %op.action, %code, "operation failed");
                errors.push(format!("{} {}: {code}: {message}", op.resource, op.action));
                fatal = true;
            }
            Err(e) => {
                tracing::warn!(resource = %op.resource, error = %e, "cannot poll operation; keeping it");
                transient = true;
                pending.push(op.clone());
            }
        }
    }

    // 2. Observe.
    let observed = match arm.observe(eff).await {
        Ok(o) => o,
        Err(e) => return status::arm_unreadable(prev, pending, errors, &e, ctx),
    };

    // 3. Plan. Status is the memory of what this plane set; only that is ever removed.
    let memory = plan::Memory::from_status(prev.storage.as_ref());
    let plan = plan::plan_all(eff, &observed, &memory, ctx.now);

    // 4. Apply: at most one write per resource, none to a resource with an operation in flight.
    let enforce = eff.mode == Mode::Enforce && !ctx.dry_run;
    let mut busy: BTreeSet<String> = pending.iter().map(|p| p.resource.clone()).collect();
    let mut corrected: BTreeSet<(String, String)> = BTreeSet::new();
    let mut writes = 0;
    let mut accepted: Vec<&plan::Op> = Vec::new();
    if enforce && !fatal {
        for action in &plan.actions {
            if !busy.insert(action.resource.clone()) {
                continue;
            }
            tracing::info!(resource = %action.resource, action = %action.verb, fields = action.changes.len(), "sending write");
            match arm.submit(&action.op).await {
                Ok(sub) => {
                    writes += 1;
                    accepted.push(&action.op);
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
                }
                Err(ArmError::Busy(m)) => {
                    tracing::info!(resource = %action.resource, "resource busy; will retry: {m}");
                    transient = true;
                }
                Err(e) if e.is_transient() => {
                    errors.push(format!("{} {}: {e}", action.resource, action.verb));
                    transient = true;
                }
                Err(e) => {
                    errors.push(format!("{} {}: {e}", action.resource, action.verb));
                    fatal = true;
                }
            }
        }
    }

    // 5. Status and requeue.
    let more = enforce && (writes > 0 || !plan.actions.is_empty() || !plan.waiting.is_empty());
    let busy_now = !pending.is_empty() || more || transient;
    let requeue_after = if fatal {
        None
    } else if busy_now {
        Some(poll_soon(retry_hint, ctx))
    } else {
        Some(jittered(Duration::from_secs(eff.resync_seconds)))
    };
    let status = status::build(status::Inputs {
        prev,
        eff,
        observed: &observed,
        memory: memory.after(&observed.storage, &accepted),
        plan: &plan,
        pending,
        errors,
        corrected: &corrected,
        enforce,
        fatal,
        ctx,
    });
    Outcome {
        status,
        requeue_after,
        plan: Some(plan),
        writes,
        fatal,
        settled: fatal || !busy_now,
    }
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
