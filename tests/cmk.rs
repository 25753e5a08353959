//! keyVersion: latest follows a Key Vault rotation with one PATCH of primaryKeyURI; adding a CMK to
//! an existing server is refused, never written.

use crate::support;

use engram_operator::api;
use support::*;

#[tokio::test]
async fn latest_key_version_follows_rotation_with_one_patch() {
    let m = mock().await;
    let arm = arm(&m);
    let v1 = kv_key(&m, "create").await;
    let eff = api::load(include_str!("../examples/prod.yaml")).unwrap().1;
    let out = converge(&m, &arm, &eff, Default::default()).await;
    assert!(out.ready(), "{:#?}", out.status);
    assert_eq!(
        out.status
            .postgres
            .as_ref()
            .and_then(|p| p.key_version.clone()),
        Some(v1.clone())
    );

    let v2 = kv_key(&m, "rotate").await;
    assert_ne!(v1, v2);
    let before = m.journal().len();
    let rotated = pass(&arm, &eff, &out.status).await;
    let w = writes_since(&m, before);
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].0, "PATCH");
    assert_eq!(rotated.status.drift.len(), 1);
    assert_eq!(
        rotated.status.drift[0].field,
        "dataEncryption.primaryKeyURI"
    );
    let out = converge(&m, &arm, &eff, rotated.status).await;
    assert!(out.ready());
    assert_eq!(
        out.status
            .postgres
            .as_ref()
            .and_then(|p| p.key_version.clone()),
        Some(v2)
    );
}

#[tokio::test]
async fn adding_cmk_to_an_existing_server_is_refused_not_written() {
    let m = mock().await;
    let arm = arm(&m);
    let mut eff = prod();
    let cmk = eff.encryption.take();
    let out = converge(&m, &arm, &eff, Default::default()).await;
    assert!(out.ready(), "{:#?}", out.status);
    eff.encryption = cmk;
    let before = m.journal().len();
    let out = pass(&arm, &eff, &out.status).await;
    // Storage may take the key on an existing account; the server is never written.
    let w = writes_since(&m, before);
    assert!(
        w.iter().all(|(_, p)| !p.contains("flexibleServers")),
        "{w:?}"
    );
    assert!(
        out.status
            .errors
            .iter()
            .any(|e| e.contains("requires re-creation")),
        "{:?}",
        out.status.errors
    );
    assert!(!out.ready());
}
