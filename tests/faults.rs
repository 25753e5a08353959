//! Throttling and errors against the mock ARM: Retry-After is obeyed, 5xx and dropped connections
//! are retried to convergence, a fatal ARM error shows in status with ARM's code and message.

use crate::support;

use std::time::{Duration, Instant};

use engram_operator::azure::ArmApi;
use engram_operator::mock_arm::{FaultKind, FaultSpec};
use engram_operator::reconcile::conditions::{self, DEGRADED};
use support::*;

fn server_path() -> String {
    "/subscriptions/*/flexibleServers/acme-prod-pg".into()
}

#[tokio::test]
async fn throttled_read_waits_for_retry_after_then_succeeds() {
    let m = mock().await;
    let arm = arm(&m);
    m.inject_fault(
        FaultSpec::new(
            "GET",
            &server_path(),
            FaultKind::Throttle { retry_after: 1 },
        )
        .times(1),
    )
    .unwrap();
    let started = Instant::now();
    let observed = arm
        .observe(&prod())
        .await
        .expect("observe after the throttle");
    assert!(observed.postgres.server.is_none());
    // Not one request went out before Retry-After had elapsed.
    assert!(started.elapsed() >= Duration::from_secs(1));
    let gets: Vec<_> = m
        .journal()
        .into_iter()
        .filter(|e| e.path.to_ascii_lowercase().ends_with("/acme-prod-pg"))
        .collect();
    assert_eq!(
        gets.iter().map(|e| e.status).collect::<Vec<_>>(),
        vec![429, 404]
    );
    assert_eq!(arm.stats().snapshot().2, 1);
}

#[tokio::test]
async fn server_errors_and_dropped_connections_are_retried_to_convergence() {
    let m = mock().await;
    let arm = arm(&m);
    m.inject_fault(
        FaultSpec::new(
            "GET",
            &server_path(),
            FaultKind::Status {
                status: 503,
                code: "ServiceUnavailable".into(),
                message: "try later".into(),
            },
        )
        .times(2),
    )
    .unwrap();
    m.inject_fault(FaultSpec::new("PUT", &server_path(), FaultKind::Drop).times(1))
        .unwrap();
    m.inject_fault(
        FaultSpec::new(
            "GET",
            "*azureAsyncOperation*",
            FaultKind::Status {
                status: 500,
                code: "InternalServerError".into(),
                message: "oops".into(),
            },
        )
        .times(2),
    )
    .unwrap();
    let out = converge(&m, &arm, &prod(), Default::default()).await;
    assert!(out.ready(), "{:#?}", out.status);
    let failed: Vec<u16> = m
        .journal()
        .iter()
        .map(|e| e.status)
        .filter(|s| *s >= 500 || *s == 0)
        .collect();
    assert_eq!(failed.len(), 5, "{failed:?}");
}

#[tokio::test]
async fn a_fatal_arm_error_is_shown_with_code_and_message_and_not_retried() {
    let m = mock().await;
    let arm = arm(&m);
    m.inject_fault(FaultSpec::new(
        "PUT",
        &server_path(),
        FaultKind::Status {
            status: 400,
            code: "InvalidParameter".into(),
            message: "The SKU is not offered here.".into(),
        },
    ))
    .unwrap();
    let out = pass(&arm, &prod(), &Default::default()).await;
    assert!(out.fatal);
    assert_eq!(out.requeue_after, None, "no retry until the spec changes");
    let err = out.status.errors.join("\n");
    assert!(
        err.contains("InvalidParameter") && err.contains("The SKU is not offered here."),
        "{err}"
    );
    assert!(conditions::get(&out.status.conditions, DEGRADED).is_some_and(|c| c.status == "True"));
    let puts = m
        .journal()
        .iter()
        .filter(|e| e.method == "PUT" && e.path.ends_with("/flexibleServers/acme-prod-pg"))
        .count();
    assert_eq!(puts, 1, "a fatal error is not retried");
}

/// A failed operation is reported with ARM's error: a refusal (InvalidParameterValue) as an error,
/// fatal until the spec changes; a transient failure (InternalServerError, as real ARM shows) as a
/// note, and the write is sent again.
#[tokio::test]
async fn a_failed_operation_is_reported_with_its_error() {
    for (code, transient) in [
        ("InvalidParameterValue", false),
        ("InternalServerError", true),
    ] {
        let m = mock().await;
        let arm = arm(&m);
        m.inject_fault(
            FaultSpec::new(
                "PUT",
                &server_path(),
                FaultKind::FailOperation {
                    code: code.into(),
                    message: "provisioning failed".into(),
                },
            )
            .times(1),
        )
        .unwrap();
        let first = pass(&arm, &prod(), &Default::default()).await;
        m.advance(LRO);
        let out = pass(&arm, &prod(), &first.status).await;
        let (reported, other) = if transient {
            (&out.status.notes, &out.status.errors)
        } else {
            (&out.status.errors, &out.status.notes)
        };
        assert!(
            reported
                .iter()
                .any(|e| e.contains(code) && e.contains("provisioning failed")),
            "{code}: {reported:?}"
        );
        assert!(!other.iter().any(|e| e.contains("provisioning failed")));
        assert_eq!(out.fatal, !transient, "{code}");
        let puts = m
            .journal()
            .iter()
            .filter(|e| e.method == "PUT" && e.path.ends_with("/flexibleServers/acme-prod-pg"))
            .count();
        if transient {
            assert_eq!(
                puts, 2,
                "observed afresh and created again in the same pass"
            );
        } else {
            assert_eq!(puts, 1, "a refusal is not retried");
            assert!(out.status.pending_operations.is_empty());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_never_drives_arm_into_429_by_itself() {
    use engram_operator::mock_arm::{ClockMode, MockArm, MockConfig};
    // ARM's own bucket (reads 250, refill 25/s) on the wall clock; 300 reads from 6 tasks at once.
    let m = MockArm::start(MockConfig {
        clock: ClockMode::RealTime,
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let arm = std::sync::Arc::new(arm(&m));
    let eff = std::sync::Arc::new(prod());
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let (arm, eff) = (arm.clone(), eff.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..50 {
                arm.observe(&eff).await.expect("observe");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let statuses: Vec<u16> = m.journal().iter().map(|e| e.status).collect();
    assert_eq!(m.reads_to(&server_id(&eff)), 300);
    let throttled: Vec<_> = m
        .journal()
        .into_iter()
        .filter(|e| e.status == 429)
        .map(|e| (e.method, e.path))
        .take(5)
        .collect();
    assert!(
        statuses.iter().all(|s| *s != 429),
        "the operator caused a 429: {throttled:?}"
    );
    assert_eq!(arm.stats().snapshot().2, 0);
}
