//! Forbidden storage transitions against the mock ARM: each is refused with a clear status message
//! and not one write; retained resources are never deleted.

use crate::storage_support;
use crate::support;

use engram_operator::api::spec::DeletionPolicy;
use engram_operator::azure::ArmApi;
use engram_operator::reconcile::cleanup::cleanup;
use storage_support::*;
use support::*;

fn refused(out: &engram_operator::reconcile::Outcome, needle: &str) -> bool {
    out.status
        .errors
        .iter()
        .any(|e| e.contains("refused") && e.contains(needle))
}

#[tokio::test]
async fn shortening_or_unlocking_a_locked_policy_is_refused_without_a_write() {
    let mut eff = prod();
    eff.storage.containers[0].locked = true;
    let (m, arm, _, out) = ready_prod(&eff).await;
    let dump = m.dump().to_string();
    assert!(
        dump.contains(r#""state":"Locked""#),
        "the spec's lock was applied"
    );

    let mut shorter = eff.clone();
    shorter.storage.containers[0].immutability_days = Some(365);
    let mut unlocked = eff.clone();
    unlocked.storage.containers[0].locked = false;
    for (what, spec, needle) in [
        ("shorten", &shorter, "never be shortened"),
        ("unlock", &unlocked, "never be unlocked"),
    ] {
        let before = m.journal().len();
        let o = pass(&arm, spec, &out.status).await;
        assert_eq!(writes_since(&m, before), vec![], "{what}");
        assert!(refused(&o, needle), "{what}: {:?}", o.status.errors);
        assert!(!o.ready(), "{what}");
    }

    // Extending a locked policy is one POST extend.
    let mut longer = eff.clone();
    longer.storage.containers[0].immutability_days = Some(3000);
    let before = m.journal().len();
    let o = pass(&arm, &longer, &out.status).await;
    let w = writes_since(&m, before);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].1.ends_with("immutabilityPolicies/default/extend"),
        "{w:?}"
    );
    assert!(o.status.errors.is_empty(), "{:?}", o.status.errors);
}

#[tokio::test]
async fn removing_the_customer_managed_key_is_refused_without_a_write() {
    let eff = prod();
    let (m, arm, _, out) = ready_prod(&eff).await;
    let mut plain = eff.clone();
    plain.encryption = None;
    plain.overrides.allow_without_cmk = true;
    let before = m.journal().len();
    let o = pass(&arm, &plain, &out.status).await;
    assert_eq!(writes_since(&m, before), vec![]);
    assert!(
        refused(&o, "removes the customer-managed key"),
        "{:?}",
        o.status.errors
    );
    assert!(m
        .dump()
        .to_string()
        .contains(r#""keySource":"Microsoft.Keyvault""#));
}

#[tokio::test]
async fn a_held_container_is_never_deleted_and_retain_deletes_nothing() {
    let mut eff = prod();
    let (m, arm, _, ready) = ready_prod(&eff).await;

    // retain (the prod default): nothing is planned, not even a read, nothing written.
    let before = m.journal().len();
    let c = cleanup(&arm, &eff, &ready.status, &ctx()).await;
    assert!(c.done && c.writes == 0);
    assert_eq!(
        m.journal().len(),
        before,
        "retain makes no ARM request at all"
    );

    // delete, but record-plane carries a legal hold: the account is refused, and with it
    // everything (teardown is all or nothing, see tests/teardown.rs).
    eff.deletion = DeletionPolicy::Delete;
    let before = m.journal().len();
    let c = cleanup(&arm, &eff, &ready.status, &ctx()).await;
    let w = writes_since(&m, before);
    assert!(
        w.iter().all(|(_, path)| !path.contains("storageAccounts")),
        "no storage write while a container is held: {w:?}"
    );
    assert!(
        c.refused
            .iter()
            .any(|e| e.contains("legal hold") && e.contains("never deleted")),
        "{:?}",
        c.refused
    );
    assert!(!c.done);

    // The hold is cleared through the spec (one clearLegalHold), then the account may go. The
    // status that remembers the operator set the hold is kept: without it the hold would stay.
    let mut kept = eff.clone();
    kept.deletion = DeletionPolicy::Retain;
    kept.storage.containers[0].legal_holds.clear();
    let out = converge(&m, &arm, &kept, ready.status.clone()).await;
    assert!(out.ready(), "{:#?}", out.status);
    eff.storage.containers[0].legal_holds.clear();
    let before = m.journal().len();
    let mut status = out.status;
    let account_deleted = |w: &[(String, String)]| {
        w.iter().any(|(verb, path)| {
            verb == "DELETE" && path.ends_with("storageAccounts/acmeengramprod")
        })
    };
    // The plane's private endpoints go first; the account follows once they are gone.
    for _ in 0..5 {
        let c = cleanup(&arm, &eff, &status, &ctx()).await;
        assert!(c.refused.is_empty(), "{:?}", c.refused);
        status = c.status;
        if account_deleted(&writes_since(&m, before)) {
            break;
        }
        m.advance(LRO);
    }
    let w = writes_since(&m, before);
    assert!(
        w.iter().any(
            |(verb, path)| verb == "DELETE" && path.ends_with("storageAccounts/acmeengramprod")
        ),
        "{w:?}"
    );
    let gone = arm.observe(&eff).await.expect("observe");
    assert!(gone.storage.account.is_none());
}

#[tokio::test]
async fn clearing_a_legal_hold_is_one_write_and_reported() {
    let mut eff = prod();
    let (m, arm, _, out) = ready_prod(&eff).await;
    eff.storage.containers[0].legal_holds.clear();
    let before = m.journal().len();
    let o = pass(&arm, &eff, &out.status).await;
    let w = writes_since(&m, before);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].1.ends_with("record-plane/clearLegalHold"), "{w:?}");
    assert!(
        o.status
            .notes
            .iter()
            .any(|n| n.contains("clearing legal hold(s) litigation2026")),
        "{:?}",
        o.status.notes
    );
}
