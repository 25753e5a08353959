//! Two replicas of the binary with `--shards 4` over planes in four subscriptions (one per shard):
//! every plane converges; each subscription's ARM writes and each plane's status writes come only
//! from the replica holding its shard's Lease; both replicas hold shards; after `kill -9` of one,
//! the other takes its shards within lease + grace and alone converges a change in them.

use std::collections::BTreeMap;
use std::time::Duration;

use engram_operator::sources::assign::{lease_name, shard_of};
use engram_operator::sources::shards::join_order;
use time::OffsetDateTime;

use super::cluster::Cluster;
use super::harness::{self, holder, Operator};

const SHARDS: u32 = 4;
const LEASE: u64 = 6;
const GRACE: u64 = 2;

/// A subscription id in `shard`.
fn subscription_in(shard: u32) -> String {
    (0..)
        .map(|i| format!("5ab0c0de-0000-4000-8000-{i:012}"))
        .find(|s| shard_of(s, SHARDS) == shard)
        .unwrap()
}

/// Two identities that reach for opposite shards first (so they share the shards when they start
/// together, whatever the hash gives).
fn two_identities() -> (String, String) {
    let first = |id: &str| join_order(id, SHARDS)[0];
    let a = "shard-replica-0".to_owned();
    let b = (1..)
        .map(|k| format!("shard-replica-{k}"))
        .find(|b| (first(b) + SHARDS - first(&a)) % SHARDS == SHARDS / 2)
        .unwrap();
    (a, b)
}

/// The subscription an ARM request path names.
fn subscription_of(path: &str) -> Option<String> {
    let rest = path.split("/subscriptions/").nth(1)?;
    rest.split('/').next().map(str::to_lowercase)
}

/// Who holds each shard's Lease now.
async fn holders(c: &Cluster) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..SHARDS {
        out.push(holder(&harness::lease(c, &lease_name(i)).await));
    }
    out
}

/// Every ARM write and every status write came from the holder of its plane's shard.
fn writes_come_from_shard_holders(
    c: &Cluster,
    arm: &engram_operator::mock_arm::MockArm,
    holders: &[String],
    shard_of_plane: &BTreeMap<String, u32>,
) {
    let mut arm_writes = 0;
    for e in arm
        .journal()
        .iter()
        .filter(|e| !matches!(e.method.as_str(), "GET" | "HEAD"))
    {
        let sub = subscription_of(&e.path).unwrap_or_else(|| panic!("no subscription: {}", e.path));
        let owner = &holders[shard_of(&sub, SHARDS) as usize];
        assert!(
            e.user_agent.starts_with(&harness::agent(owner)),
            "{} {} sent by {:?}; shard held by {owner}",
            e.method,
            e.path,
            e.user_agent
        );
        arm_writes += 1;
    }
    assert!(arm_writes > 0);
    for e in
        c.mock.journal().iter().filter(|e| {
            e.verb == "apply" && e.resource == harness::STATUS && e.subresource == "status"
        })
    {
        let owner = &holders[shard_of_plane[&e.name] as usize];
        assert_eq!(
            e.user_agent,
            harness::agent(owner),
            "status of {} written by another replica than {owner}",
            e.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_four_shards_each_writing_its_own_subscriptions_and_one_takes_over() {
    let c = Cluster::start().await;
    c.install().await;
    // One plane per shard, two in shards 0 and 2: six planes, four subscriptions.
    let mut shard_of_plane = BTreeMap::new();
    for (name, shard) in [
        ("sh0a", 0),
        ("sh0b", 0),
        ("sh1a", 1),
        ("sh2a", 2),
        ("sh2b", 2),
        ("sh3a", 3),
    ] {
        let yaml = harness::dev_plane(name, 300, "").replace(
            "subscriptionId: 00000000-0000-0000-0000-000000000001",
            &format!("subscriptionId: {}", subscription_in(shard)),
        );
        assert!(yaml.contains(&subscription_in(shard)));
        c.apply_text(&format!("{name}.yaml"), &yaml).await;
        shard_of_plane.insert(name.to_owned(), shard);
    }
    let arm = harness::arm().await;
    let (lease_s, grace_s, n) = (LEASE.to_string(), GRACE.to_string(), SHARDS.to_string());
    let flags = [
        "--shards",
        &n,
        "--lease-seconds",
        &lease_s,
        "--lease-grace-seconds",
        &grace_s,
    ];
    let (a, b) = two_identities();
    let mut ops = [
        Operator::spawn(&c, &arm, &a, &flags),
        Operator::spawn(&c, &arm, &b, &flags),
    ];
    harness::all_ready(&c, 6, &[&ops[0], &ops[1]]).await;

    let held = holders(&c).await;
    println!("shard holders: {held:?}");
    assert!(
        held.iter().all(|h| *h == a || *h == b),
        "every shard held by a replica: {held:?}"
    );
    assert!(
        held.contains(&a) && held.contains(&b),
        "both replicas hold shards: {held:?}"
    );
    writes_come_from_shard_holders(&c, &arm, &held, &shard_of_plane);
    for id in [&a, &b] {
        assert!(
            harness::arm_writes(&arm, Some(id)) > 0,
            "{id} wrote nothing"
        );
    }

    // kill -9 the first: its Leases are not released; the second waits for them to run out.
    let killed_at = OffsetDateTime::now_utc();
    ops[0].kill9();
    let lost: Vec<u32> = (0..SHARDS).filter(|i| held[*i as usize] == a).collect();
    for i in &lost {
        let after = harness::taken_over(&c, &lease_name(*i), &b, killed_at, &ops[1]).await;
        println!(
            "shard {i} taken over {after:.1} s after kill -9 (lease {LEASE} s, grace {GRACE} s)"
        );
        assert!(
            after <= (LEASE + GRACE) as f64,
            "shard {i} taken over {after:.1} s after the kill; lease + grace is {} s",
            LEASE + GRACE
        );
    }
    assert_eq!(holders(&c).await, vec![b.clone(); SHARDS as usize]);

    // A plane of a shard taken over changes (start its stopped server): the survivor converges it.
    let (plane, _) = shard_of_plane
        .iter()
        .find(|(_, s)| lost.contains(s))
        .unwrap();
    let (before, b_before) = (
        harness::arm_writes(&arm, None),
        harness::arm_writes(&arm, Some(&b)),
    );
    harness::merge_patch(&c, plane, r#"{"spec":{"postgres":{"state":"Running"}}}"#).await;
    harness::wait_for(
        &c,
        &format!("{plane} Ready at generation 2"),
        Duration::from_secs(60),
        &[&ops[1]],
        |items| {
            items.iter().any(|o| {
                o["metadata"]["name"] == plane.as_str()
                    && harness::is_ready(o)
                    && o["status"]["observedGeneration"] == 2
            })
        },
    )
    .await;
    let writes = harness::arm_writes(&arm, None) - before;
    assert!(writes > 0, "the change needed a write");
    assert_eq!(
        harness::arm_writes(&arm, Some(&b)) - b_before,
        writes,
        "every write after the kill came from the survivor"
    );
}
