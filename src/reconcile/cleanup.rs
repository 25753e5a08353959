//! The cleanup of a data plane whose declaration is being deleted (the Kubernetes finalizer).
//! Same shape as a reconcile: observe → plan (pure, `plan::deletion`) → send deletes, never wait →
//! status. `deletion: retain` makes no ARM request at all. The plan is all or nothing: with any
//! refusal it holds no DELETE; a DELETE that fails stops the pass (the rest follows next pass).

use std::time::Duration;

use super::conditions::{self, DEGRADED, PROGRESSING, READY};
use super::status::rfc3339;
use super::{jittered, min_opt, poll_soon, Context};
use crate::api::spec::DeletionPolicy;
use crate::api::status::PendingOperation;
use crate::api::{EffectiveSpec, EngramDataPlaneStatus};
use crate::azure::{ArmApi, ArmError};
use crate::plan::{deletion, Plan};

/// What one cleanup pass did.
#[derive(Clone, Debug, PartialEq)]
pub struct Cleanup {
    pub status: EngramDataPlaneStatus,
    /// True when nothing is left in Azure to delete or wait for: the declaration may go.
    pub done: bool,
    /// When to look again (while deletes run, or a refusal may have been lifted in Azure).
    pub requeue_after: Option<Duration>,
    /// Deletes sent in this pass.
    pub writes: u32,
    /// Refusals, one line each (also in `status.errors`).
    pub refused: Vec<String>,
}

/// One cleanup pass for a data plane whose spec resolved to `eff`.
pub async fn cleanup(
    arm: &dyn ArmApi,
    eff: &EffectiveSpec,
    prev: &EngramDataPlaneStatus,
    ctx: &Context,
) -> Cleanup {
    let mut status = super::status::base(prev, ctx);
    if eff.deletion == DeletionPolicy::Retain {
        // Leave Azure untouched: not even a read.
        return Cleanup {
            status,
            done: true,
            requeue_after: None,
            writes: 0,
            refused: Vec::new(),
        };
    }
    let observed = match arm.observe_all(eff).await {
        Ok(o) => o,
        Err(e) => return unreadable(status, &e, ctx),
    };
    let mut plan = deletion::plan(eff, &observed, &ctx.owner);
    // A create that may still be running would leave its resource behind: wait for it.
    let holds = super::intent::resolve(
        &prev.create_intents,
        &prev.pending_operations,
        eff,
        &observed,
        &ctx.intents.windows,
        ctx.now,
    );
    plan.waiting.extend(holds.waiting);
    status.create_intents = holds.kept;
    let mut errors: Vec<String> = plan
        .refused
        .iter()
        .map(|r| format!("{} {}: refused: {}", r.resource, r.field, r.reason))
        .collect();
    let refused = errors.clone();
    let mut writes = 0;
    let mut retry_hint = None;
    for a in &plan.actions {
        tracing::warn!(resource = %a.resource, "deleting (deletion: delete)");
        match arm.submit(&a.op).await {
            Ok(sub) => {
                writes += 1;
                retry_hint = min_opt(retry_hint, sub.retry_after);
                if let Some(url) = sub.operation_url {
                    status.pending_operations.push(PendingOperation {
                        resource: a.resource.clone(),
                        action: a.verb.to_string(),
                        operation_url: url,
                        started_at: rfc3339(ctx.now),
                    });
                }
            }
            Err(ArmError::Busy(m)) => {
                tracing::info!(resource = %a.resource, "busy; delete later: {m}")
            }
            Err(e) => {
                // Stop here: the rest waits for the next pass, in order (rules before server).
                errors.push(format!("{} {}: {e}", a.resource, a.verb));
                break;
            }
        }
    }
    let done = deletion::finished(&plan) && errors.is_empty();
    if !done {
        // A delete still running stays listed until the resource is gone.
        let running = prev.pending_operations.iter().filter(|p| {
            p.action == "delete" && plan.waiting.iter().any(|w| w.starts_with(&p.resource))
        });
        status.pending_operations.extend(running.cloned());
    }
    let requeue_after = if done {
        None
    } else if refused.is_empty() {
        Some(poll_soon(retry_hint, ctx))
    } else {
        // A refusal lasts until someone lifts the hold in Azure or sets `deletion: retain`.
        Some(jittered(Duration::from_secs(eff.resync_seconds)))
    };
    status.notes = plan.notes.iter().chain(&plan.waiting).cloned().collect();
    status.errors = errors;
    set_conditions(&mut status, &plan, done, ctx);
    Cleanup {
        status,
        done,
        requeue_after,
        writes,
        refused,
    }
}

fn set_conditions(s: &mut EngramDataPlaneStatus, plan: &Plan, done: bool, ctx: &Context) {
    let g = ctx.generation;
    let (reason, msg) = if !s.errors.is_empty() {
        ("DeletionBlocked", s.errors.join("; "))
    } else if done {
        (
            "Deleted",
            "every Azure resource of the data plane is gone".to_owned(),
        )
    } else {
        let what: Vec<String> = plan
            .actions
            .iter()
            .map(|a| a.resource.clone())
            .chain(plan.waiting.iter().cloned())
            .collect();
        ("Deleting", format!("deleting: {}", what.join(", ")))
    };
    conditions::set(&mut s.conditions, READY, false, reason, &msg, g, ctx.now);
    conditions::set(
        &mut s.conditions,
        PROGRESSING,
        !done,
        reason,
        &msg,
        g,
        ctx.now,
    );
    let blocked = !s.errors.is_empty();
    conditions::set(
        &mut s.conditions,
        DEGRADED,
        blocked,
        if blocked {
            "DeletionBlocked"
        } else {
            "Healthy"
        },
        s.errors.join("; "),
        g,
        ctx.now,
    );
}

fn unreadable(mut status: EngramDataPlaneStatus, e: &ArmError, ctx: &Context) -> Cleanup {
    status.errors = vec![format!("reading Azure: {e}")];
    let g = ctx.generation;
    conditions::set(
        &mut status.conditions,
        READY,
        false,
        "ArmUnavailable",
        e.to_string(),
        g,
        ctx.now,
    );
    conditions::set(
        &mut status.conditions,
        DEGRADED,
        true,
        "ArmUnavailable",
        e.to_string(),
        g,
        ctx.now,
    );
    Cleanup {
        status,
        done: false,
        requeue_after: Some(jittered(ctx.poll_interval.max(Duration::from_secs(1)))),
        writes: 0,
        refused: Vec::new(),
    }
}
