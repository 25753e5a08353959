//! The planner's side of "never remove what someone else put there": legal holds this plane did
//! not set and undeclared containers are kept; only status memory or an explicit spec field lets
//! the operator remove them.

use super::storage_tests::{prod, record, sop, storage_in_sync, storage_plan};
use super::*;
use crate::api::spec::DeletionPolicy;
use crate::api::EffectiveSpec;

/// What status remembers after this operator converged `eff`: its holds and its rules.
pub(super) fn memory_of(eff: &EffectiveSpec) -> Memory {
    Memory {
        legal_holds_set: eff
            .storage
            .containers
            .iter()
            .map(|c| {
                let tags = c.legal_holds.iter().map(|t| t.to_ascii_lowercase());
                (c.name.clone(), tags.collect())
            })
            .collect(),
        lifecycle_rules_created: eff
            .storage
            .lifecycle
            .iter()
            .map(|r| r.name.clone())
            .collect(),
    }
}

#[test]
fn an_undeclared_hold_is_cleared_only_when_this_plane_set_it() {
    let eff = prod();
    let mut obs = storage_in_sync(&eff);
    record(&mut obs).legal_hold_tags.push("OLDCASE".into());
    // Status remembers setting it: one clear, with a note.
    let mut memory = memory_of(&eff);
    memory
        .legal_holds_set
        .entry("record-plane".into())
        .or_default()
        .insert("oldcase".into());
    let plan = storage_account::plan(&eff, &obs, &memory);
    assert_eq!(plan.actions.len(), 1);
    assert_eq!(plan.actions[0].verb, Verb::ClearLegalHold);
    assert!(matches!(sop(&plan.actions[0]), StorageOp::ClearLegalHold(_, t) if t == &["OLDCASE"]));
    assert!(plan.notes.iter().any(|n| n.contains("clearing legal hold")));
    // Someone else's (or status lost): kept, reported, not drift.
    let plan = storage_plan(&eff, obs);
    assert!(plan.actions.is_empty(), "{:?}", plan.actions);
    assert!(plan.drift.is_empty(), "{:?}", plan.drift);
    assert!(
        plan.notes
            .iter()
            .any(|n| n.contains("OLDCASE") && n.contains(containers::FOREIGN_HOLD)),
        "{:?}",
        plan.notes
    );
}

#[test]
fn undeclared_containers_are_kept_unless_pruned() {
    let mut eff = prod();
    let mut obs = storage_in_sync(&eff);
    obs.containers
        .insert("scratch".into(), ObservedContainer::default());
    obs.containers
        .insert("$logs".into(), ObservedContainer::default());
    for deletion in [DeletionPolicy::Retain, DeletionPolicy::Delete] {
        eff.deletion = deletion;
        let plan = storage_plan(&eff, obs.clone());
        assert!(plan.actions.is_empty(), "{deletion:?} deletes nothing");
        assert_eq!(plan.notes.len(), 1, "{:?}", plan.notes);
    }
    eff.storage.prune_undeclared_containers = true;
    let plan = storage_plan(&eff, obs);
    assert_eq!(plan.actions.len(), 1);
    assert!(
        matches!(sop(&plan.actions[0]), StorageOp::DeleteContainer(c) if c.container == "scratch")
    );
}
