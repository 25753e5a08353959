//! Status changes only when something changed: nothing in it records that a pass ran, so an
//! in-sync pass, a refused plane and a retried failure yield the previous status exactly and the
//! front doors write nothing (a status write is a watch event: in Kubernetes it would start the
//! next pass at once). Transient failures back off, doubling, up to a cap.

use crate::support;

use engram_operator::reconcile;
use serde_json::json;
use support::*;

#[tokio::test]
async fn an_in_sync_pass_and_a_refused_plane_leave_status_exactly_as_it_was() {
    let m = mock().await;
    let arm = arm(&m);
    let eff = prod();
    let out = converge(&m, &arm, &eff, Default::default()).await;
    assert!(out.ready());
    let c = ctx();
    let again = reconcile::reconcile(&arm, Ok(&eff), &out.status, &at(&c, 600)).await;
    assert_eq!(again.writes, 0);
    assert_eq!(again.status, out.status, "an in-sync pass changes nothing");

    // Refused (removing the customer-managed key of an existing server): one status with the
    // refusal, then the same status again.
    let mut shrink = eff.clone();
    shrink.encryption = None;
    let first = reconcile::reconcile(&arm, Ok(&shrink), &again.status, &at(&c, 700)).await;
    assert!(
        first.status.errors.iter().any(|e| e.contains("refused")),
        "{:?}",
        first.status.errors
    );
    assert_ne!(first.status, again.status);
    let second = reconcile::reconcile(&arm, Ok(&shrink), &first.status, &at(&c, 800)).await;
    assert_eq!(second.writes, 0);
    assert_eq!(second.status, first.status, "no further status change");
}

#[tokio::test]
async fn transient_failures_back_off_doubling_to_a_cap_without_changing_status() {
    let m = mock().await;
    let arm = arm(&m);
    let eff = prod();
    fail_server_reads(&m, 503, "ServiceUnavailable", "try later");
    let outs = passes_at(&arm, &eff, &[0, 1, 2, 4, 8, 3600]).await;
    assert!(outs.iter().all(|o| !o.fatal));
    let waits: Vec<u64> = outs
        .iter()
        .map(|o| o.requeue_after.expect("requeued").as_secs())
        .collect();
    let statuses: Vec<_> = outs.iter().map(|o| o.status.clone()).collect();
    assert_eq!(waits, vec![1, 1, 2, 4, 8, 300]);
    assert!(
        statuses.windows(2).skip(1).all(|w| w[0] == w[1]),
        "the same failure is the same status"
    );
}

#[tokio::test]
async fn folder_mode_rewrites_a_status_file_only_when_the_status_changed() {
    let m = mock().await;
    let (_dir, _specs, status, mut folder) = dev_folder(&m);
    folder.scan().unwrap();
    let file = status.join("acme-dev.status.yaml");
    let mut ready = false;
    for _ in 0..40 {
        folder.pass().await.unwrap();
        if std::fs::read_to_string(&file).is_ok_and(|t| t.contains("reason: InSync")) {
            ready = true;
            break;
        }
        m.advance(LRO);
        folder.force_due();
    }
    assert!(ready, "converged");
    // Remove the file: an in-sync pass that changes nothing must not write it again.
    std::fs::remove_file(&file).unwrap();
    folder.force_due();
    folder.pass().await.unwrap();
    assert!(!file.exists(), "an unchanged status was written again");
    // A change (a portal edit, corrected) is written.
    m.edit(
        &server_id(&dev()),
        json!({"properties": {"backup": {"backupRetentionDays": 9}}}),
    )
    .unwrap();
    folder.force_due();
    folder.pass().await.unwrap();
    assert!(file.exists(), "a changed status is written");
}
