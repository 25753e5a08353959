//! The client's `ArmApi::graph_resources` against the mock's Resource Graph: queries split by count
//! (and size), every row returned, paced to ARG's quota so that a run meets no 429, a 429 that
//! comes anyway retried after its Retry-After, and the call passed through `GatedArm`.

use crate::support;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use engram_operator::azure::{ArmApi, ArmError};
use engram_operator::mock_arm::{
    ClockMode, FaultKind, FaultSpec, MockArm, MockConfig, GRAPH_JOURNAL_ID,
};
use engram_operator::sources::leader::{GatedArm, LeaderGate};
use serde_json::json;
use support::{arm, SUB};

fn disk(i: usize) -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/rg-disks/providers/Microsoft.Compute/disks/disk{i:04}"
    )
}

/// The ARG requests' statuses, in order.
fn statuses(m: &MockArm) -> Vec<u16> {
    m.journal()
        .iter()
        .filter(|e| e.resource_id == GRAPH_JOURNAL_ID)
        .map(|e| e.status)
        .collect()
}

/// Ids of 2,500 disks of which the first 2,000 exist.
fn seeded(m: &MockArm) -> Vec<String> {
    for i in 0..2000 {
        m.seed(
            &disk(i),
            json!({"location": "eastus", "sku": {"name": "Premium_LRS"}}),
        )
        .expect("seeded");
    }
    (0..2500).map(disk).collect()
}

#[tokio::test]
async fn two_sweeps_of_2500_ids_make_20_queries_return_every_row_and_meet_no_429() {
    // Real time, so that ARG's 5-second windows pass while the client paces itself; throttling
    // on, as in Azure.
    let m = MockArm::start(MockConfig {
        clock: ClockMode::RealTime,
        ..MockConfig::default()
    })
    .await
    .expect("mock starts");
    let ids = seeded(&m);
    let client = arm(&m);
    let started = Instant::now();
    for _ in 0..2 {
        let rows = client.graph_resources(&ids).await.expect("rows");
        let found: BTreeSet<String> = rows
            .iter()
            .filter_map(|r| r["id"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(
            found,
            (0..2000).map(disk).collect(),
            "exactly the existing ones"
        );
        assert_eq!(rows.len(), 2000);
        assert_eq!(rows[0]["type"], "microsoft.compute/disks");
    }
    // 250 ids a query: 10 a sweep. 20 queries are more than ARG's 15 per 5 s, so the budget
    // spread them: after a burst of 3, 2.1 a second.
    assert_eq!(m.graph_queries(), 20);
    assert_eq!(statuses(&m), vec![200; 20], "no 429");
    let (_, _, throttled, _) = client.stats().snapshot();
    assert_eq!(throttled, 0);
    assert_eq!(
        client
            .stats()
            .graph_queries
            .load(std::sync::atomic::Ordering::Relaxed),
        20
    );
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(7), "paced: {took:?}");
}

#[tokio::test]
async fn a_429_from_resource_graph_is_retried_after_its_retry_after() {
    let m = support::bare_mock().await;
    for i in 0..3 {
        m.seed(&disk(i), json!({"location": "eastus"}))
            .expect("seeded");
    }
    m.inject_fault(
        FaultSpec::new(
            "POST",
            GRAPH_JOURNAL_ID,
            FaultKind::Throttle { retry_after: 1 },
        )
        .times(1),
    )
    .expect("fault");
    let client = arm(&m);
    let started = Instant::now();
    let rows = client
        .graph_resources(&(0..5).map(disk).collect::<Vec<_>>())
        .await
        .expect("rows after the retry");
    assert_eq!(rows.len(), 3);
    assert_eq!(statuses(&m), vec![429, 200]);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited for Retry-After"
    );
    assert_eq!(client.stats().snapshot().2, 1);
}

#[tokio::test]
async fn reads_through_resource_graph_pass_the_leader_gate_and_fakes_say_unsupported() {
    let m = support::bare_mock().await;
    m.seed(&disk(0), json!({"location": "eastus"}))
        .expect("seeded");
    // A replica that does not hold the lease still reads.
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let gated = GatedArm::new(Arc::new(arm(&m)), LeaderGate::from_receiver(rx));
    let rows = gated.graph_resources(&[disk(0)]).await.expect("rows");
    assert_eq!(rows.len(), 1);
    assert!(gated
        .graph_resources(&[])
        .await
        .expect("nothing to ask")
        .is_empty());
    assert_eq!(m.graph_queries(), 1, "no query for no ids");

    // An implementation without Resource Graph says so.
    struct Bare(engram_operator::azure::Stats);
    #[async_trait::async_trait]
    impl ArmApi for Bare {
        async fn observe(
            &self,
            _: &engram_operator::api::EffectiveSpec,
        ) -> Result<engram_operator::plan::Observed, ArmError> {
            Ok(Default::default())
        }
        async fn get_server(
            &self,
            _: &engram_operator::api::EffectiveSpec,
            _: &str,
        ) -> Result<Option<engram_operator::plan::ObservedServer>, ArmError> {
            Ok(None)
        }
        async fn submit(
            &self,
            _: &engram_operator::plan::Op,
        ) -> Result<engram_operator::azure::Submitted, ArmError> {
            Err(ArmError::Refused("no writes".into()))
        }
        async fn poll(&self, _: &str) -> Result<engram_operator::azure::OpState, ArmError> {
            Ok(engram_operator::azure::OpState::Succeeded)
        }
        fn stats(&self) -> &engram_operator::azure::Stats {
            &self.0
        }
    }
    let e = Bare(Default::default())
        .graph_resources(&[disk(0)])
        .await
        .expect_err("unsupported");
    assert!(matches!(e, ArmError::Unsupported(_)), "{e:?}");
}

/// An account in group `rg` of subscription `sub` (0 or 1).
fn account(sub: usize, rg: usize) -> String {
    let sub = if sub == 0 {
        SUB.to_owned()
    } else {
        SUB.replace('0', "1")
    };
    format!("/subscriptions/{sub}/resourceGroups/rg-{rg:04}/providers/Microsoft.Storage/storageAccounts/st{rg:04}")
}

#[tokio::test]
async fn fingerprints_of_a_thousand_groups_take_one_query_and_see_one_edit() {
    let m = support::bare_mock().await;
    let ids: Vec<String> = (0..1000).map(|g| account(0, g)).collect();
    for id in &ids {
        m.seed(
            id,
            json!({"location": "eastus", "sku": {"name": "Standard_LRS"}}),
        )
        .expect("seeded");
    }
    let client = arm(&m);
    let before = client.graph_fingerprints(&ids).await.expect("fingerprints");
    assert_eq!(m.graph_queries(), 1, "one summarized page for 1,000 groups");
    assert_eq!(before.len(), 1000);
    assert!(before.iter().all(|(id, _)| id == &id.to_ascii_lowercase()));
    // Same content, same fingerprints; one edit, one change.
    m.seed(
        &ids[7],
        json!({"location": "eastus", "sku": {"name": "Standard_GRS"}}),
    )
    .expect("edited");
    let after = client.graph_fingerprints(&ids).await.expect("fingerprints");
    let changed: Vec<&String> = before
        .iter()
        .zip(&after)
        .filter(|(a, b)| a != b)
        .map(|(a, _)| &a.0)
        .collect();
    assert_eq!(changed, vec![&ids[7].to_ascii_lowercase()]);
    assert_eq!(statuses(&m), vec![200, 200]);
}

#[tokio::test]
async fn a_truncated_summary_is_asked_again_in_halves() {
    // The same 600 group names in two subscriptions: a query of 1,000 (subscription, group) pairs
    // names all 600 groups in both, so 1,200 rows match and ARG's one page truncates.
    let m = support::bare_mock().await;
    let ids: Vec<String> = (0..2)
        .flat_map(|s| (0..600).map(move |g| account(s, g)))
        .collect();
    for id in &ids {
        m.seed(id, json!({"location": "eastus"})).expect("seeded");
    }
    let found = arm(&m)
        .graph_fingerprints(&ids)
        .await
        .expect("fingerprints");
    let distinct: BTreeSet<&String> = found.iter().map(|(id, _)| id).collect();
    assert_eq!(
        distinct.len(),
        1200,
        "every resource, none lost to truncation"
    );
    assert!(m.graph_queries() > 2, "{}", m.graph_queries());
}
