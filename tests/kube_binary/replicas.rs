//! Two replicas of the binary on one cluster: one holds the Lease and writes, the other only
//! watches; `kill -9` the leader and the other takes over within lease + grace. Each replica's
//! requests are told apart by their `User-Agent` in both journals.

use std::time::Duration;

use time::OffsetDateTime;

use super::cluster::Cluster;
use super::harness::{self, holder, Operator};

const LEADER: &str = "engram-operator-leader";

const LEASE: u64 = 6;
const GRACE: u64 = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_leader_writes_and_the_other_takes_over_after_kill_9_within_lease_and_grace() {
    let c = Cluster::start().await;
    c.install().await;
    c.apply_text("pair.yaml", &harness::dev_plane("pair", 300, ""))
        .await;
    let arm = harness::arm().await;
    let (lease_s, grace_s) = (LEASE.to_string(), GRACE.to_string());
    let flags = [
        "--lease-seconds",
        &lease_s,
        "--lease-grace-seconds",
        &grace_s,
    ];
    let mut ops = [
        Operator::spawn(&c, &arm, "replica-a", &flags),
        Operator::spawn(&c, &arm, "replica-b", &flags),
    ];
    harness::all_ready(&c, 1, &[&ops[0], &ops[1]]).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let first = holder(&harness::lease(&c, LEADER).await);
    let (leader, follower) = if first == "replica-a" { (0, 1) } else { (1, 0) };
    assert_eq!(ops[leader].identity, first, "a replica holds the Lease");
    let (l, f) = (ops[leader].identity.clone(), ops[follower].identity.clone());
    assert!(harness::arm_writes(&arm, Some(&l)) > 0);
    assert!(harness::status_applies(&c, Some(&l), None) > 0);
    assert_eq!(
        harness::arm_writes(&arm, Some(&l)),
        harness::arm_writes(&arm, None),
        "every ARM write came from the leader"
    );
    assert_eq!(
        harness::arm_writes(&arm, Some(&f)),
        0,
        "the follower wrote to ARM"
    );
    assert_eq!(
        harness::status_applies(&c, Some(&f), None),
        0,
        "the follower wrote status"
    );

    // kill -9: the Lease is not released; the follower waits for it to run out.
    let killed_at = OffsetDateTime::now_utc();
    ops[leader].kill9();
    let after = harness::taken_over(&c, LEADER, &f, killed_at, &ops[follower]).await;
    println!("taken over {after:.1} s after kill -9 (lease {LEASE} s, grace {GRACE} s)");
    assert!(
        after <= (LEASE + GRACE) as f64,
        "taken over {after:.1} s after the kill; lease + grace is {} s",
        LEASE + GRACE
    );

    // The new leader acts: a spec change (start the stopped server) is converged by it alone.
    let before = harness::arm_writes(&arm, None);
    harness::merge_patch(&c, "pair", r#"{"spec":{"postgres":{"state":"Running"}}}"#).await;
    harness::ready_at(&c, 2, &[&ops[follower]]).await;
    let after_writes = harness::arm_writes(&arm, None);
    assert!(after_writes > before, "the change needed a write");
    assert_eq!(
        harness::arm_writes(&arm, Some(&f)),
        after_writes - before,
        "every write after the kill came from the new leader"
    );
    assert!(harness::status_applies(&c, Some(&f), None) > 0);
}
