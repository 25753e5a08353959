//! One key for both services, against the mock ARM: a keyVersion change in the spec's single
//! encryption block moves PostgreSQL's primaryKeyURI and the storage account's keyvaultproperties,
//! and the status shows the version each service uses.

use crate::storage_support;
use crate::support;

use storage_support::*;
use support::*;

fn versions(out: &engram_operator::reconcile::Outcome) -> (Option<String>, Option<String>) {
    (
        out.status
            .postgres
            .as_ref()
            .and_then(|p| p.key_version.clone()),
        out.status
            .storage
            .as_ref()
            .and_then(|s| s.key_version.clone()),
    )
}

#[tokio::test]
async fn a_key_version_change_moves_postgres_and_storage() {
    let m = mock().await;
    let arm = arm(&m);
    let v1 = kv_key(&m, "create").await;
    let v2 = kv_key(&m, "rotate").await;
    let old = pinned(&v1);
    let out = converge(&m, &arm, &old, Default::default()).await;
    assert!(out.ready(), "{:#?}", out.status);
    assert_eq!(versions(&out), (Some(v1.clone()), Some(v1.clone())));

    let new = pinned(&v2);
    let before = m.journal().len();
    let moved = pass(&arm, &new, &out.status).await;
    let w = writes_since(&m, before);
    assert_eq!(w.len(), 2, "one write per service: {w:?}");
    assert!(w.iter().all(|(method, _)| method == "PATCH"), "{w:?}");
    let mut fields: Vec<_> = moved
        .status
        .drift
        .iter()
        .map(|d| d.field.as_str())
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        vec!["dataEncryption.primaryKeyURI", "encryption.keyVersion"]
    );
    let out = converge(&m, &arm, &new, moved.status).await;
    assert!(out.ready(), "{:#?}", out.status);
    assert_eq!(versions(&out), (Some(v2.clone()), Some(v2)));
}

#[tokio::test]
async fn latest_lets_storage_follow_rotation_by_itself() {
    let eff = prod();
    let (m, arm, v1, out) = ready_prod(&eff).await;
    assert_eq!(versions(&out), (Some(v1.clone()), Some(v1)));
    let v2 = kv_key(&m, "rotate").await;
    let before = m.journal().len();
    let rotated = pass(&arm, &eff, &out.status).await;
    let w = writes_since(&m, before);
    assert_eq!(w.len(), 1, "only PostgreSQL needs a write: {w:?}");
    assert!(w[0].1.contains("flexibleServers"), "{w:?}");
    let out = converge(&m, &arm, &eff, rotated.status).await;
    assert_eq!(versions(&out), (Some(v2.clone()), Some(v2)));
}
