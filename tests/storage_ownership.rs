//! Never remove what someone else put there (issue 11, item 5): a legal hold or a lifecycle rule
//! the operator did not set is kept and reported; status is the memory of what it set, and losing
//! that memory only ever makes the operator keep more.

use crate::storage_support;
use crate::support;

use azure_core::Method;
use engram_operator::api::EngramDataPlaneStatus;
use serde_json::json;
use storage_support::*;
use support::*;

#[tokio::test]
async fn a_legal_hold_someone_else_set_is_kept_and_reported() {
    let mut eff = prod();
    let (m, arm, _, out) = ready_prod(&eff).await;
    let record = container_id(&eff, "record-plane");
    // The compliance team adds a hold of its own in the portal.
    outside_write(
        &m,
        Method::Post,
        &format!("{record}/setLegalHold"),
        r#"{"tags":["compliance7"]}"#,
    )
    .await;

    let before = m.journal().len();
    let kept = pass(&arm, &eff, &out.status).await;
    assert_eq!(writes_since(&m, before), vec![], "{:?}", kept.plan);
    assert!(
        kept.status
            .notes
            .iter()
            .any(|n| n.contains("compliance7") && n.contains("not set by this operator")),
        "{:?}",
        kept.status.notes
    );
    assert!(
        kept.ready(),
        "a foreign hold is not drift: {:#?}",
        kept.status
    );

    // The spec drops its own hold: only that one is cleared, the foreign one stays.
    eff.storage.containers[0].legal_holds.clear();
    let before = m.journal().len();
    let o = pass(&arm, &eff, &kept.status).await;
    let w = writes_since(&m, before);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].1.ends_with("record-plane/clearLegalHold"), "{w:?}");
    let tags = m.dump().to_string();
    assert!(tags.contains("compliance7"), "the foreign hold stays");
    assert!(!tags.contains("litigation2026"), "our own hold is cleared");
    let settled = pass(&arm, &eff, &o.status).await;
    assert!(settled.ready(), "{:#?}", settled.status);
}

#[tokio::test]
async fn a_plane_that_lost_its_status_clears_no_hold() {
    let mut eff = prod();
    let (m, arm, _, out) = ready_prod(&eff).await;
    let memory = out.status.storage.clone().unwrap_or_default();
    assert_eq!(
        memory.legal_holds_set.get("record-plane"),
        Some(&vec!["litigation2026".to_string()]),
        "status remembers the hold the operator set: {memory:?}"
    );
    // Status lost (a new cluster, a deleted status file): the hold is no longer known as ours.
    eff.storage.containers[0].legal_holds.clear();
    let before = m.journal().len();
    let o = pass(&arm, &eff, &EngramDataPlaneStatus::default()).await;
    assert_eq!(writes_since(&m, before), vec![], "{:?}", o.plan);
    assert!(m.dump().to_string().contains("litigation2026"));
    assert!(
        o.status.notes.iter().any(|n| n.contains("litigation2026")),
        "{:?}",
        o.status.notes
    );
}

/// Another team's rule in the account's one management policy: `default` is replaced whole by
/// every PUT, so the operator writes it back with its own rules (Terraform azurerm #6935).
fn portal_policy(eff: &engram_operator::api::EffectiveSpec) -> String {
    let mut rules = engram_operator::azure::lifecycle_rules_json(&eff.storage.lifecycle);
    rules.push(json!({
        "enabled": true, "name": "TeamArchive", "type": "Lifecycle",
        "definition": {
            "filters": {"blobTypes": ["blockBlob", "appendBlob"], "prefixMatch": ["team/"]},
            "actions": {"baseBlob": {"delete": {"daysAfterModificationGreaterThan": 7}},
                        "snapshot": {"delete": {"daysAfterCreationGreaterThan": 3}}},
        },
    }));
    json!({"properties": {"policy": {"rules": rules}}}).to_string()
}

#[tokio::test]
async fn a_lifecycle_rule_someone_else_wrote_is_kept_on_every_write() {
    let mut eff = prod();
    let (m, arm, _, out) = ready_prod(&eff).await;
    outside_write(&m, Method::Put, &policy_id(&eff), &portal_policy(&eff)).await;

    // In sync otherwise: no write, the rule is reported, the plane stays Ready.
    let before = m.journal().len();
    let kept = pass(&arm, &eff, &out.status).await;
    assert_eq!(writes_since(&m, before), vec![], "{:?}", kept.plan);
    assert!(kept.ready(), "{:#?}", kept.status);
    assert!(
        kept.status.notes.iter().any(|n| n.contains("TeamArchive")),
        "{:?}",
        kept.status.notes
    );

    // A change to the declared rule is one PUT that carries the other team's rule unchanged.
    eff.storage.lifecycle[0].cool_after_days = Some(45);
    let before = m.journal().len();
    let o = converge(&m, &arm, &eff, kept.status.clone()).await;
    let w = writes_since(&m, before);
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(
        policy_rule_names(&m, &eff),
        ["RecordPlaneLifecycle", "TeamArchive"]
    );
    let dump = m.dump().to_string();
    assert!(
        dump.contains("daysAfterCreationGreaterThan"),
        "the kept rule is written back as it was"
    );
    assert!(o.ready(), "{:#?}", o.status);
}

#[tokio::test]
async fn a_lifecycle_rule_the_operator_created_goes_when_the_spec_drops_it() {
    let mut eff = prod();
    let (m, arm, _, out) = ready_prod(&eff).await;
    outside_write(&m, Method::Put, &policy_id(&eff), &portal_policy(&eff)).await;
    let mut extra = eff.storage.lifecycle[0].clone();
    extra.name = "Scratch".into();
    extra.prefix = "scratch/".into();
    eff.storage.lifecycle.push(extra);
    let with_extra = converge(&m, &arm, &eff, out.status.clone()).await;
    assert_eq!(
        policy_rule_names(&m, &eff),
        ["RecordPlaneLifecycle", "Scratch", "TeamArchive"]
    );
    let created = with_extra
        .status
        .storage
        .clone()
        .unwrap_or_default()
        .lifecycle_rules_created;
    assert_eq!(created, ["RecordPlaneLifecycle", "Scratch"], "{created:?}");

    // Without the memory (status lost), dropping Scratch keeps it.
    eff.storage.lifecycle.pop();
    let before = m.journal().len();
    let lost = pass(&arm, &eff, &EngramDataPlaneStatus::default()).await;
    assert_eq!(writes_since(&m, before), vec![], "{:?}", lost.plan);

    // With it, Scratch goes and TeamArchive stays.
    let o = converge(&m, &arm, &eff, with_extra.status.clone()).await;
    assert_eq!(
        policy_rule_names(&m, &eff),
        ["RecordPlaneLifecycle", "TeamArchive"]
    );
    assert!(o.ready(), "{:#?}", o.status);
    let created = o.status.storage.unwrap_or_default().lifecycle_rules_created;
    assert_eq!(created, ["RecordPlaneLifecycle"]);
}
