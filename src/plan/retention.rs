//! The storage safety rules of DESIGN.md §5 as small pure functions: immutability is created,
//! extended and locked only when the spec says so and never shortened, removed or unlocked; nothing
//! is deleted under `retain`, and never a container under legal hold or a locked policy.

use super::observed_storage::{ObservedContainer, ObservedImmutability};
use crate::api::spec::DeletionPolicy;

/// The one step that moves a container's time-based retention policy towards the spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImmutabilityStep {
    InSync,
    /// No policy yet: create one (unlocked) with this many days.
    Create(u32),
    /// Unlocked policy shorter than declared: PUT the longer period (If-Match the policy's ETag).
    Lengthen(u32),
    /// Locked policy shorter than declared: POST extend (If-Match the policy's ETag).
    Extend(u32),
    /// Same period, the spec asks to lock: POST lock (irreversible).
    Lock,
    /// The spec asks for something the operator never does; the reason says what.
    Refuse(String),
}

/// Decide the next immutability step. A lock is only applied to a policy whose period already
/// matches the spec, so that the lock never freezes a period the spec does not declare.
pub fn immutability_step(
    desired_days: Option<u32>,
    desired_locked: bool,
    observed: Option<&ObservedImmutability>,
) -> ImmutabilityStep {
    use std::cmp::Ordering::*;
    let (want, obs) = match (desired_days, observed) {
        (None, None) => return ImmutabilityStep::InSync,
        (Some(d), None) => return ImmutabilityStep::Create(d),
        (None, Some(o)) => {
            let what = if o.locked { "locked" } else { "unlocked" };
            return ImmutabilityStep::Refuse(format!(
                "the spec removes the {what} {}-day immutability policy: retention is never \
                 removed or shortened by the operator",
                o.days
            ));
        }
        (Some(d), Some(o)) => (d, o),
    };
    if obs.locked && !desired_locked {
        return ImmutabilityStep::Refuse(format!(
            "the {}-day immutability policy is locked: a locked policy can never be unlocked \
             (declare locked: true)",
            obs.days
        ));
    }
    match want.cmp(&obs.days) {
        Less if obs.locked => ImmutabilityStep::Refuse(format!(
            "the immutability policy is locked at {} days: it can never be shortened to {want} days",
            obs.days
        )),
        Less => ImmutabilityStep::Refuse(format!(
            "the immutability policy holds {} days: retention is never shortened to {want} days by \
             the operator",
            obs.days
        )),
        Greater if obs.locked => ImmutabilityStep::Extend(want),
        Greater => ImmutabilityStep::Lengthen(want),
        Equal if desired_locked && !obs.locked => ImmutabilityStep::Lock,
        Equal => ImmutabilityStep::InSync,
    }
}

/// What may happen to a container that is to go away.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeleteVerdict {
    /// Delete it.
    Delete,
    /// `deletion: retain`: leave it in place (not an error).
    Retain,
    /// Protected by a legal hold or a locked policy: never deleted (an error condition).
    Protected(String),
}

/// Whether a container may be deleted under this deletion policy.
pub fn container_deletion(
    deletion: DeletionPolicy,
    name: &str,
    c: &ObservedContainer,
) -> DeleteVerdict {
    if deletion == DeletionPolicy::Retain {
        return DeleteVerdict::Retain;
    }
    if !c.legal_hold_tags.is_empty() {
        return DeleteVerdict::Protected(format!(
            "container {name} has legal hold(s) {}: it is never deleted",
            c.legal_hold_tags.join(",")
        ));
    }
    if let Some(i) = c.immutability.as_ref().filter(|i| i.locked) {
        return DeleteVerdict::Protected(format!(
            "container {name} has a locked {}-day immutability policy: it is never deleted",
            i.days
        ));
    }
    DeleteVerdict::Delete
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use ImmutabilityStep::*;

    fn pol(days: u32, locked: bool) -> ObservedImmutability {
        ObservedImmutability {
            days,
            locked,
            etag: "\"e\"".into(),
        }
    }

    #[test]
    fn immutability_table() {
        let cases: Vec<(
            Option<u32>,
            bool,
            Option<ObservedImmutability>,
            ImmutabilityStep,
        )> = vec![
            (None, false, None, InSync),
            (Some(10), false, None, Create(10)),
            (Some(10), true, None, Create(10)),
            (Some(10), false, Some(pol(10, false)), InSync),
            (Some(10), true, Some(pol(10, true)), InSync),
            (Some(20), false, Some(pol(10, false)), Lengthen(20)),
            (Some(20), true, Some(pol(10, false)), Lengthen(20)),
            (Some(20), true, Some(pol(10, true)), Extend(20)),
            (Some(10), true, Some(pol(10, false)), Lock),
        ];
        for (days, lock, obs, want) in cases {
            assert_eq!(
                immutability_step(days, lock, obs.as_ref()),
                want,
                "{days:?} {lock} {obs:?}"
            );
        }
    }

    #[test]
    fn forbidden_immutability_transitions_are_refused() {
        for (days, lock, obs, needle) in [
            (Some(5), true, pol(10, true), "never be shortened"),
            (Some(5), false, pol(10, false), "never shortened"),
            (Some(10), false, pol(10, true), "never be unlocked"),
            (Some(20), false, pol(10, true), "never be unlocked"),
            (None, false, pol(10, true), "removes the locked"),
            (None, false, pol(10, false), "removes the unlocked"),
        ] {
            let Refuse(reason) = immutability_step(days, lock, Some(&obs)) else {
                panic!("{days:?} {lock} {obs:?} not refused");
            };
            assert!(reason.contains(needle), "{reason}");
        }
    }

    #[test]
    fn deletion_table() {
        let free = ObservedContainer::default();
        let held = ObservedContainer {
            legal_hold_tags: vec!["case1".into()],
            ..Default::default()
        };
        let locked = ObservedContainer {
            immutability: Some(pol(7, true)),
            ..Default::default()
        };
        let unlocked = ObservedContainer {
            immutability: Some(pol(7, false)),
            ..Default::default()
        };
        use DeletionPolicy::*;
        assert_eq!(
            container_deletion(Retain, "c", &free),
            DeleteVerdict::Retain
        );
        assert_eq!(
            container_deletion(Retain, "c", &held),
            DeleteVerdict::Retain
        );
        assert_eq!(
            container_deletion(Delete, "c", &free),
            DeleteVerdict::Delete
        );
        assert_eq!(
            container_deletion(Delete, "c", &unlocked),
            DeleteVerdict::Delete
        );
        assert!(
            matches!(container_deletion(Delete, "c", &held), DeleteVerdict::Protected(r) if r.contains("legal hold"))
        );
        assert!(
            matches!(container_deletion(Delete, "c", &locked), DeleteVerdict::Protected(r) if r.contains("locked"))
        );
    }

    proptest! {
        /// Whatever is declared and observed, a step never shortens, never unlocks, never removes,
        /// and a lock only ever lands on a period equal to the declared one.
        #[test]
        fn immutability_never_shortens_or_unlocks(
            want in prop::option::of(1u32..5000),
            lock: bool,
            obs in prop::option::of((1u32..5000, any::<bool>())),
        ) {
            let o = obs.map(|(d, l)| pol(d, l));
            let step = immutability_step(want, lock, o.as_ref());
            match (&step, &o) {
                (Lengthen(d), Some(o)) => prop_assert!(*d > o.days && !o.locked),
                (Extend(d), Some(o)) => prop_assert!(*d > o.days && o.locked && lock),
                (Lock, Some(o)) => prop_assert!(lock && !o.locked && Some(o.days) == want),
                (Create(d), None) => prop_assert_eq!(Some(*d), want),
                (InSync, _) | (Refuse(_), _) => {}
                (s, o) => prop_assert!(false, "unexpected {:?} for {:?}", s, o),
            }
            if let Some(o) = &o {
                if want.is_none_or(|w| w < o.days) || (o.locked && !lock) {
                    prop_assert!(matches!(step, Refuse(_)), "{:?}", step);
                }
            }
        }

        /// Nothing is deleted under retain; a held or locked container is never deleted.
        #[test]
        fn protected_containers_are_never_deleted(
            delete: bool,
            holds in prop::collection::vec("[a-z0-9]{3,8}", 0..3),
            imm in prop::option::of((1u32..100, any::<bool>())),
        ) {
            let c = ObservedContainer {
                public_access: None,
                immutability: imm.map(|(d, l)| pol(d, l)),
                legal_hold_tags: holds,
            };
            let policy = if delete { DeletionPolicy::Delete } else { DeletionPolicy::Retain };
            let v = container_deletion(policy, "c", &c);
            if v == DeleteVerdict::Delete {
                prop_assert!(delete && !c.is_protected());
            }
            if c.is_protected() || !delete {
                prop_assert!(v != DeleteVerdict::Delete);
            }
        }
    }
}
