//! Containers that exist in Azure but not in the spec. Rewritten for issue 11 item 5 (never remove
//! what someone else put there): an ordinary reconcile never deletes one, whatever
//! `policy.deletion` says (that policy is about deleting the whole data plane). Only
//! `storage.pruneUndeclaredContainers: true` deletes undeclared containers, with their data, and
//! never one with a legal hold, which is refused with a reason and never touched.

use crate::storage_support;
use crate::support;

use azure_core::Method;
use engram_operator::api::spec::DeletionPolicy;
use storage_support::*;
use support::*;

fn stored_ids(m: &engram_operator::mock_arm::MockArm) -> Vec<String> {
    m.dump()["resources"]
        .as_object()
        .map(|r| r.keys().map(|k| k.to_lowercase()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn undeclared_containers_are_kept_unless_pruning_is_declared() {
    let mut eff = dev();
    // dev declares only the profile's record-plane; pruning is allowed in dev.
    let m = mock().await;
    let arm = arm(&m);
    let out = converge(&m, &arm, &eff, Default::default()).await;
    assert!(out.ready(), "{:#?}", out.status);
    let scratch = container_id(&eff, "scratch");
    let evidence = container_id(&eff, "evidence");
    outside_write(&m, Method::Put, &scratch, "{}").await;
    outside_write(&m, Method::Put, &evidence, "{}").await;
    outside_write(
        &m,
        Method::Post,
        &format!("{evidence}/setLegalHold"),
        r#"{"tags":["case42"]}"#,
    )
    .await;

    // An ordinary reconcile, under retain and under delete: both stay, not a single write,
    // and the plane stays Ready. It does not even list the account's containers (lists are the
    // Storage resource provider's scarcest allowance): it GETs the declared ones.
    let mut status = out.status;
    for deletion in [DeletionPolicy::Retain, DeletionPolicy::Delete] {
        eff.deletion = deletion;
        let before = m.journal().len();
        let kept = pass(&arm, &eff, &status).await;
        assert_eq!(
            writes_since(&m, before),
            vec![],
            "{deletion:?}: {:?}",
            kept.plan
        );
        assert!(kept.ready(), "{deletion:?}: {:#?}", kept.status);
        let lists = m
            .journal()
            .into_iter()
            .skip(before)
            .filter(|e| e.method == "GET" && e.path.to_lowercase().ends_with("/containers"))
            .count();
        assert_eq!(lists, 0, "{deletion:?}: no container list");
        status = kept.status;
    }

    // pruneUndeclaredContainers: the plain container goes with one DELETE; the held one is
    // refused, untouched.
    eff.storage.prune_undeclared_containers = true;
    let before = m.journal().len();
    let out = pass(&arm, &eff, &status).await;
    let w = writes_since(&m, before);
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].0, "DELETE");
    assert!(w[0].1.ends_with("/containers/scratch"), "{w:?}");
    assert!(
        out.status
            .errors
            .iter()
            .any(|e| e.contains("evidence") && e.contains("legal hold")),
        "{:?}",
        out.status.errors
    );
    let ids = stored_ids(&m);
    assert!(!ids.contains(&scratch.to_lowercase()));
    assert!(
        ids.contains(&evidence.to_lowercase()),
        "the held container is never deleted"
    );

    // Deleting the whole plane (deletion: delete, pruning off): the account's containers are
    // listed, the undeclared held one is found, and nothing is deleted.
    eff.storage.prune_undeclared_containers = false;
    eff.deletion = DeletionPolicy::Delete;
    let before = m.journal().len();
    let c = engram_operator::reconcile::cleanup::cleanup(&arm, &eff, &out.status, &ctx()).await;
    assert_eq!(writes_since(&m, before), vec![], "not one DELETE");
    assert!(
        c.status
            .errors
            .iter()
            .any(|e| e.contains("evidence") && e.contains("legal hold")),
        "{:?}",
        c.status.errors
    );
}
