//! Containers that exist in Azure but not in the spec: kept under `retain`; deleted under `delete`,
//! except one with a legal hold, which is refused with a reason and never touched.

mod storage_support;
mod support;

use azure_core::{Method, Request, Url};
use engram_operator::api::spec::DeletionPolicy;
use storage_support::*;
use support::*;

/// A write made by someone else (another tool, the portal): not through the operator.
async fn outside_write(
    m: &engram_operator::mock_arm::MockArm,
    method: Method,
    path: &str,
    body: &str,
) {
    let url = format!("{}{path}?api-version=2023-05-01", m.base_url());
    let mut req = Request::new(Url::parse(&url).expect("url"), method);
    req.insert_header("authorization", format!("Bearer {}", m.token()));
    req.insert_header("content-type", "application/json");
    req.set_body(body.as_bytes().to_vec());
    let rsp = azure_core::new_http_client()
        .execute_request(&req)
        .await
        .expect("request");
    assert!(rsp.status().is_success(), "{path}: {}", rsp.status());
}

#[tokio::test]
async fn undeclared_containers_follow_the_deletion_policy() {
    let mut eff = prod();
    let (m, arm, _, out) = ready_prod(&eff).await;
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

    // retain (the prod default): both stay, not a single write.
    let before = m.journal().len();
    let kept = pass(&arm, &eff, &out.status).await;
    assert_eq!(writes_since(&m, before), vec![], "{:?}", kept.plan);

    // delete: the plain container goes with one DELETE; the held one is refused, untouched.
    eff.deletion = DeletionPolicy::Delete;
    let before = m.journal().len();
    let out = pass(&arm, &eff, &kept.status).await;
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
    let dump = m.dump();
    let ids: Vec<String> = dump["resources"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.to_lowercase())
        .collect();
    assert!(!ids.contains(&scratch.to_lowercase()));
    assert!(
        ids.contains(&evidence.to_lowercase()),
        "the held container is never deleted"
    );
}
