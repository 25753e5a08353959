//! The reconcile-policy switch: the annotation `engram.zimax.net/reconcile-policy` on a data plane
//! (Kubernetes: the object's metadata.annotations; folder mode: metadata.annotations in the file),
//! the on-call engineer's brake that needs no spec edit. As in Azure Service Operator:
//! `manage` (default) reconciles; `observe` equals `policy.mode: observe`; `skip` sends no ARM
//! request at all and, on deletion, leaves Azure untouched; `detach-on-delete` reconciles but
//! deletion leaves Azure untouched whatever `policy.deletion` says.
//!
//! The value in force is recorded in `status.reconcilePolicy` (absent for `manage`), so that a
//! change is seen by comparing two statuses (and an Event or log line says so), and a pass that
//! changes nothing leaves the status as it was.

use std::collections::BTreeMap;

use super::conditions::{self, PAUSED};
use super::{status, Context, Outcome};
use crate::api::spec::Mode;
use crate::api::{EffectiveSpec, EngramDataPlaneStatus, FieldError};
use crate::azure::ArmApi;

/// The annotation's key.
pub const ANNOTATION: &str = "engram.zimax.net/reconcile-policy";

/// What the annotation asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReconcilePolicy {
    #[default]
    Manage,
    Observe,
    Skip,
    DetachOnDelete,
}

impl ReconcilePolicy {
    /// Every value, in the order the docs and errors list them.
    pub const ALL: [Self; 4] = [
        Self::Manage,
        Self::Observe,
        Self::Skip,
        Self::DetachOnDelete,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manage => "manage",
            Self::Observe => "observe",
            Self::Skip => "skip",
            Self::DetachOnDelete => "detach-on-delete",
        }
    }

    /// The policy from a data plane's annotations; an unknown value is a field error naming the
    /// annotation and the allowed values.
    pub fn from_annotations(annotations: &BTreeMap<String, String>) -> Result<Self, FieldError> {
        let Some(value) = annotations.get(ANNOTATION) else {
            return Ok(Self::Manage);
        };
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == value.trim())
            .ok_or_else(|| {
                let allowed: Vec<&str> = Self::ALL.iter().map(|p| p.as_str()).collect();
                FieldError::new(
                    format!("metadata.annotations[{ANNOTATION}]"),
                    format!(
                        "unknown value {value:?}: must be one of {}",
                        allowed.join(", ")
                    ),
                )
            })
    }

    /// True when deleting the declaration must leave Azure untouched (no ARM request at all).
    pub fn detaches(self) -> bool {
        matches!(self, Self::Skip | Self::DetachOnDelete)
    }

    /// What `status.reconcilePolicy` records: nothing for the default.
    fn recorded(self) -> Option<String> {
        (self != Self::Manage).then(|| self.as_str().to_owned())
    }
}

/// The spec a pass works from under `policy`: `observe` turns the mode to observe.
pub fn effective(policy: ReconcilePolicy, eff: &EffectiveSpec) -> EffectiveSpec {
    let mut eff = eff.clone();
    if policy == ReconcilePolicy::Observe {
        eff.mode = Mode::Observe;
    }
    eff
}

/// One pass under the annotation: the engine's [`super::reconcile`] unless the plane is paused or
/// the annotation is invalid (then, like an invalid spec, nothing is sent to Azure).
pub async fn reconcile(
    arm: &dyn ArmApi,
    annotations: &BTreeMap<String, String>,
    spec: Result<&EffectiveSpec, &[FieldError]>,
    prev: &EngramDataPlaneStatus,
    ctx: &Context,
) -> Outcome {
    let policy = match ReconcilePolicy::from_annotations(annotations) {
        Ok(p) => p,
        Err(bad) => {
            let mut errors = spec.err().map(<[FieldError]>::to_vec).unwrap_or_default();
            errors.insert(0, bad);
            return status::invalid(prev, &errors, ctx);
        }
    };
    let mut out = match (policy, spec) {
        (ReconcilePolicy::Skip, _) => paused(prev, ctx),
        (_, Ok(eff)) => super::reconcile(arm, Ok(&effective(policy, eff)), prev, ctx).await,
        (_, Err(errors)) => status::invalid(prev, errors, ctx),
    };
    if policy != ReconcilePolicy::Skip {
        out.status.conditions.retain(|c| c.type_ != PAUSED);
    }
    out.status.reconcile_policy = policy.recorded();
    out
}

/// `skip`: no ARM request; the status keeps what was known, with `Paused` True. Nothing to come
/// back for until the annotation (or the spec) changes.
pub fn paused(prev: &EngramDataPlaneStatus, ctx: &Context) -> Outcome {
    let mut s = status::base(prev, ctx);
    s.pending_operations = prev.pending_operations.clone();
    s.drift = prev.drift.clone();
    s.drift_count = prev.drift_count;
    conditions::set(
        &mut s.conditions,
        PAUSED,
        true,
        "ReconcilePolicySkip",
        format!("paused by the annotation {ANNOTATION}=skip: no request is sent to Azure; remove it (or set manage) to resume"),
        ctx.generation,
        ctx.now,
    );
    Outcome::settled_without_arm(s, false)
}

/// The recorded policy changed between two statuses: `value` was set (or replaced another), or
/// was cleared (back to `manage`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub value: String,
    pub set: bool,
}

impl Change {
    /// What an Event (Kubernetes) or a log line (folder) says: "reconcile-policy skip set",
    /// "reconcile-policy skip cleared".
    pub fn note(&self) -> String {
        let what = if self.set { "set" } else { "cleared" };
        format!("reconcile-policy {} {what}", self.value)
    }

    /// The Event's action, distinct per value and direction: Events with the same reason and
    /// action are folded into one series that keeps the first note.
    pub fn action(&self) -> String {
        let value: String = self
            .value
            .split('-')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect();
        format!("{}{value}", if self.set { "Set" } else { "Clear" })
    }
}

/// The change of the recorded policy between two statuses, if any.
pub fn change(prev: &EngramDataPlaneStatus, next: &EngramDataPlaneStatus) -> Option<Change> {
    match (&prev.reconcile_policy, &next.reconcile_policy) {
        (a, b) if a == b => None,
        (_, Some(now)) => Some(Change {
            value: now.clone(),
            set: true,
        }),
        (Some(was), None) => Some(Change {
            value: was.clone(),
            set: false,
        }),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(v: &str) -> BTreeMap<String, String> {
        BTreeMap::from([(ANNOTATION.to_owned(), v.to_owned())])
    }

    #[test]
    fn values_parse_and_unknown_names_the_annotation() {
        assert_eq!(
            ReconcilePolicy::from_annotations(&BTreeMap::new()),
            Ok(ReconcilePolicy::Manage)
        );
        for p in ReconcilePolicy::ALL {
            assert_eq!(ReconcilePolicy::from_annotations(&ann(p.as_str())), Ok(p));
        }
        let e = ReconcilePolicy::from_annotations(&ann("pause")).err();
        let e = e.map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains(ANNOTATION), "{e}");
        assert!(e.contains("manage, observe, skip, detach-on-delete"), "{e}");
    }

    #[test]
    fn a_change_is_set_or_cleared() {
        let with = |p: Option<&str>| EngramDataPlaneStatus {
            reconcile_policy: p.map(str::to_owned),
            ..Default::default()
        };
        let note = |a, b| change(&with(a), &with(b)).map(|c| (c.note(), c.action()));
        let pair = |n: &str, a: &str| Some((n.to_owned(), a.to_owned()));
        assert_eq!(note(None, None), None);
        assert_eq!(note(Some("skip"), Some("skip")), None);
        assert_eq!(
            note(None, Some("skip")),
            pair("reconcile-policy skip set", "SetSkip")
        );
        assert_eq!(
            note(Some("skip"), None),
            pair("reconcile-policy skip cleared", "ClearSkip")
        );
        assert_eq!(
            note(Some("skip"), Some("detach-on-delete")),
            pair("reconcile-policy detach-on-delete set", "SetDetachOnDelete")
        );
    }
}
