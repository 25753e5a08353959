//! The restore drill's ARM side against the mock (issue 15): the scratch server is a
//! point-in-time restore of the plane's server, owner-tagged, carrying the source's key, and
//! reporting `--pg-restore-fqdn`; refusals (source missing, point outside retention, a CMK
//! source restored without its key) come back with their reason; a long source name still gives
//! a scratch server the mock accepts; only a scratch server is ever deleted.

use crate::support;

use std::time::Duration;

use engram_operator::api::EffectiveSpec;
use engram_operator::azure::{Arm, ArmApi, ArmError, OpState};
use engram_operator::mock_arm::{LroDurations, MockArm, MockConfig};
use engram_operator::plan::drill::{restore_op, restore_point, scratch_name};
use engram_operator::plan::{ObservedEncryption, ObservedServer, Op, PgTarget};
use support::*;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const PG_AT: &str = "127.0.0.1:54321";
const RESTORE_AT: &str = "127.0.0.1:54322";
const OWNER: &str = "folder/test";

/// A mock whose servers point at local PostgreSQL addresses, holding the prod keys.
async fn mock_pg() -> MockArm {
    let m = MockArm::start(MockConfig {
        lro: LroDurations::uniform(LRO),
        pg_fqdn: Some(PG_AT.into()),
        pg_restore_fqdn: Some(RESTORE_AT.into()),
        ..MockConfig::default()
    })
    .await
    .expect("mock starts");
    kv_key(&m, "create").await;
    kv_key_in(&m, GEO_VAULT, "engram-cmk", "create").await;
    m
}

fn now(m: &MockArm) -> OffsetDateTime {
    OffsetDateTime::parse(&m.now(), &Rfc3339).expect("mock time")
}

/// The plane converged, an hour of backups behind it; its server as observed.
async fn source(m: &MockArm, arm: &Arm, eff: &EffectiveSpec) -> ObservedServer {
    assert!(converge(m, arm, eff, Default::default()).await.ready());
    m.advance(Duration::from_secs(3600));
    arm.get_server(eff, &eff.postgres.server_name)
        .await
        .expect("read")
        .expect("the source exists")
}

/// Submit and run an operation to its end.
async fn run(m: &MockArm, arm: &Arm, op: &Op) -> Result<(), ArmError> {
    let sub = arm.submit(op).await?;
    m.advance(LRO * 2);
    if let Some(url) = sub.operation_url {
        assert_eq!(arm.poll(&url).await.expect("poll"), OpState::Succeeded);
    }
    Ok(())
}

fn fatal_code(e: &ArmError) -> (&str, &str) {
    match e {
        ArmError::Fatal { code, message, .. } => (code.as_str(), message.as_str()),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn the_scratch_server_is_a_tagged_restore_at_the_restore_address_and_is_deleted() {
    let m = mock_pg().await;
    let arm = arm(&m);
    let eff = prod();
    let src = source(&m, &arm, &eff).await;
    assert_eq!(src.fqdn.as_deref(), Some(PG_AT), "--pg-fqdn");
    let t = now(&m);
    let name = scratch_name(&eff.postgres.server_name, t);
    run(
        &m,
        &arm,
        &restore_op(&eff, &src, &name, restore_point(t), OWNER),
    )
    .await
    .expect("restore accepted");
    let scratch = arm
        .get_server(&eff, &name)
        .await
        .expect("read")
        .expect("scratch server exists");
    assert_eq!(
        scratch.fqdn.as_deref(),
        Some(RESTORE_AT),
        "--pg-restore-fqdn"
    );
    assert_eq!(
        scratch.tags.get("engram-owner").map(String::as_str),
        Some(OWNER)
    );
    assert_eq!(
        (
            scratch.sku_name.as_str(),
            scratch.version.as_deref(),
            scratch.storage_gib
        ),
        (
            src.sku_name.as_str(),
            src.version.as_deref(),
            src.storage_gib
        ),
        "the source's SKU, version and storage"
    );
    assert!(matches!(
        scratch.encryption,
        ObservedEncryption::AzureKeyVault { .. }
    ));
    // The source is never deleted through the drill's delete.
    let before = m.journal().len();
    let refused = arm
        .submit(&Op::DrillDelete {
            scratch: engram_operator::plan::postgres::target(&eff),
            source: eff.postgres.server_name.clone(),
        })
        .await
        .expect_err("the source is not a scratch server");
    assert!(matches!(refused, ArmError::Refused(_)), "{refused:?}");
    assert_eq!(m.journal().len(), before, "nothing was sent");
    let scratch_target = PgTarget {
        server_name: name.clone(),
        ..engram_operator::plan::postgres::target(&eff)
    };
    run(
        &m,
        &arm,
        &Op::DrillDelete {
            scratch: scratch_target,
            source: eff.postgres.server_name.clone(),
        },
    )
    .await
    .expect("delete accepted");
    assert!(arm.get_server(&eff, &name).await.expect("read").is_none());
    assert!(arm
        .get_server(&eff, &eff.postgres.server_name)
        .await
        .expect("read")
        .is_some());
}

#[tokio::test]
async fn refusals_say_why() {
    let m = mock_pg().await;
    let arm = arm(&m);
    let eff = prod();
    let src = source(&m, &arm, &eff).await;
    let t = now(&m);
    // No such source.
    let ghost = ObservedServer {
        id: src.id.replace("acme-prod-pg", "no-such-server"),
        ..src.clone()
    };
    let e = run(
        &m,
        &arm,
        &restore_op(&eff, &ghost, "s1-drill-1", restore_point(t), OWNER),
    )
    .await
    .expect_err("refused");
    let (code, msg) = fatal_code(&e);
    assert_eq!(code, "RestoreSourceServerNotFound", "{msg}");
    assert!(msg.contains("no-such-server"), "{msg}");
    // Before the source existed.
    let early = t - time::Duration::days(2);
    let e = run(
        &m,
        &arm,
        &restore_op(&eff, &src, "s2-drill-1", early, OWNER),
    )
    .await
    .expect_err("refused");
    let (code, msg) = fatal_code(&e);
    assert_eq!(code, "RestorePointOutsideRetention");
    assert!(msg.contains("created"), "{msg}");
    // In the future.
    let e = run(
        &m,
        &arm,
        &restore_op(
            &eff,
            &src,
            "s3-drill-1",
            t + time::Duration::hours(1),
            OWNER,
        ),
    )
    .await
    .expect_err("refused");
    assert!(fatal_code(&e).1.contains("future"));
    // Past the retention (35 days in prod) of a server that has been there longer.
    m.advance(Duration::from_secs(40 * 86_400));
    let late = now(&m) - time::Duration::days(36);
    let e = run(&m, &arm, &restore_op(&eff, &src, "s4-drill-1", late, OWNER))
        .await
        .expect_err("refused");
    let (code, msg) = fatal_code(&e);
    assert_eq!(code, "RestorePointOutsideRetention");
    assert!(msg.contains("retention is 35 days"), "{msg}");
    // A CMK source restored without its key and identity.
    let mut op = restore_op(&eff, &src, "s5-drill-1", restore_point(now(&m)), OWNER);
    if let Op::DrillRestore(_, r) = &mut op {
        r.cmk = None;
    }
    let e = run(&m, &arm, &op).await.expect_err("refused");
    assert_eq!(fatal_code(&e).0, "CMKInvalidEncryptionParameters");
    // Nothing was created by any of them.
    for n in ["s1", "s2", "s3", "s4", "s5"] {
        let name = format!("{n}-drill-1");
        assert!(arm.get_server(&eff, &name).await.expect("read").is_none());
    }
}

#[tokio::test]
async fn a_long_source_name_gives_a_scratch_server_the_mock_accepts() {
    let m = mock_pg().await;
    let arm = arm(&m);
    let mut eff = prod();
    eff.postgres.server_name = format!("acme-{}-pg", "x".repeat(55));
    assert_eq!(eff.postgres.server_name.len(), 63);
    let src = source(&m, &arm, &eff).await;
    let t = now(&m);
    let name = scratch_name(&eff.postgres.server_name, t);
    assert!(name.len() <= 63, "{name}");
    run(
        &m,
        &arm,
        &restore_op(&eff, &src, &name, restore_point(t), OWNER),
    )
    .await
    .expect("the mock accepts the scratch name");
    assert!(arm.get_server(&eff, &name).await.expect("read").is_some());
    assert!(engram_operator::plan::drill::is_scratch_of(
        &eff.postgres.server_name,
        &name
    ));
}
