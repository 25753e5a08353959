//! Teardown under `deletion: delete` is all or nothing (issue 11, item 5): every refusal is found
//! before the first DELETE; if any part is refused nothing is deleted and status says why. The
//! plane's metric alert rules and private endpoints go with it, before the server.

use crate::storage_support;
use crate::support;

use engram_operator::api::spec::DeletionPolicy;
use engram_operator::azure::ArmApi;
use engram_operator::reconcile::cleanup::cleanup;
use storage_support::*;
use support::*;

#[tokio::test]
async fn a_refused_part_deletes_nothing_at_all() {
    let mut eff = prod();
    let (m, arm, _, ready) = ready_prod(&eff).await;
    // record-plane carries the spec's legal hold: the account may not go, so nothing may.
    eff.deletion = DeletionPolicy::Delete;
    let before = m.journal().len();
    let c = cleanup(&arm, &eff, &ready.status, &ctx()).await;
    assert_eq!(writes_since(&m, before), vec![], "not one DELETE");
    assert_eq!(c.writes, 0);
    assert!(!c.done);
    assert!(
        c.status
            .errors
            .iter()
            .any(|e| e.contains("record-plane") && e.contains("legal hold")),
        "{:?}",
        c.status.errors
    );
    assert!(
        c.status
            .notes
            .iter()
            .any(|n| n.contains("nothing is deleted")),
        "{:?}",
        c.status.notes
    );
    let still = arm.observe(&eff).await.expect("observe");
    assert!(still.postgres.server.is_some(), "the server is kept");
    assert_eq!(still.alerts.len(), 8, "the alert rules are kept");
}

#[tokio::test]
async fn an_unrefused_teardown_deletes_the_server_the_account_and_the_alert_rules() {
    let mut eff = prod();
    eff.storage.containers[0].legal_holds.clear();
    let (m, arm, _, ready) = ready_prod(&eff).await;
    assert_eq!(
        arm.observe(&eff).await.expect("observe").alerts.len(),
        8,
        "every rule exists"
    );
    eff.deletion = DeletionPolicy::Delete;
    let before = m.journal().len();
    let c = cleanup(&arm, &eff, &ready.status, &ctx()).await;
    assert!(c.refused.is_empty(), "{:?}", c.refused);
    let first = writes_since(&m, before);
    let mut status = c.status;
    let mut done = c.done;
    for _ in 0..10 {
        if done {
            break;
        }
        m.advance(LRO);
        let c = cleanup(&arm, &eff, &status, &ctx()).await;
        done = c.done;
        status = c.status;
    }
    assert!(done, "teardown did not finish: {status:#?}");
    let all = writes_since(&m, before);
    // The plane's own audit settings (diagnostics.rs tests them) go first, on each resource.
    let ours = |p: &str| p.contains("/diagnosticSettings/engram-audit");
    let (diag, w): (Vec<_>, Vec<_>) = all.iter().cloned().partition(|(_, p)| ours(p));
    assert_eq!(diag.len(), 3, "{all:?}");
    assert!(all[..3].iter().all(|x| diag.contains(x)), "{all:?}");
    let first: Vec<_> = first.into_iter().filter(|(_, p)| !ours(p)).collect();
    let deletes = |needle: &str| {
        w.iter()
            .filter(|(verb, path)| verb == "DELETE" && path.contains(needle))
            .count()
    };
    assert_eq!(deletes("/metricAlerts/"), 8, "{w:?}");
    assert_eq!(deletes("/privateEndpoints/"), 2, "{w:?}");
    assert_eq!(deletes("/flexibleServers/"), 1, "{w:?}");
    assert_eq!(deletes("/storageAccounts/"), 1, "{w:?}");
    // The alert rules and the private endpoints go in the first pass, before the server: none is
    // left watching, or pointing at, nothing.
    assert!(
        first.iter().all(|(_, p)| !p.contains("/flexibleServers/")),
        "{first:?}"
    );
    let first_server = w.iter().position(|(_, p)| p.contains("/flexibleServers/"));
    let last_alert = w.iter().rposition(|(_, p)| p.contains("/metricAlerts/"));
    let last_endpoint = w
        .iter()
        .rposition(|(_, p)| p.contains("/privateEndpoints/"));
    assert!(
        last_alert < first_server && last_endpoint < first_server,
        "{w:?}"
    );
}
