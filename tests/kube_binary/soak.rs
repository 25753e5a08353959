//! Soak: 20 planes with a 30 s resync, watched for two minutes once all are Ready. What the
//! schedule allows is computed from the resync and from the reads one in-sync pass makes (measured
//! on the same mock after the operator is gone); the journals must stay inside it.

use std::time::Duration;

use engram_operator::api::{self, EngramDataPlaneSpec, EngramDataPlaneStatus};
use engram_operator::azure::Arm;
use engram_operator::reconcile::{self, Context};

use super::cluster::Cluster;
use super::harness::{self, Operator};

const PLANES: usize = 20;
const RESYNC: u64 = 30;
const WINDOW: Duration = Duration::from_secs(120);

/// The reads of one pass over an in-sync plane, as the operator would make it.
async fn reads_of_one_in_sync_pass(c: &Cluster, m: &engram_operator::mock_arm::MockArm) -> usize {
    let obj = c.get_json(&["edp", "soak-00", "-n", "engram"]).await;
    let spec: EngramDataPlaneSpec = serde_json::from_value(obj["spec"].clone()).unwrap();
    let prev: EngramDataPlaneStatus = serde_json::from_value(obj["status"].clone()).unwrap();
    let eff = api::resolve(&spec).expect("a valid spec");
    let ctx = Context {
        now: time::OffsetDateTime::now_utc(),
        generation: obj["metadata"]["generation"].as_i64(),
        poll_interval: Duration::from_millis(200),
        dry_run: false,
        max_operation_age: reconcile::DEFAULT_MAX_OPERATION_AGE,
        owner: "engram/soak-00".into(),
        db: None,
        intents: Default::default(),
    };
    let arm = Arm::new(m.arm_settings()).unwrap();
    let before = harness::arm_reads(m);
    let out = reconcile::reconcile(&arm, Ok(&eff), &prev, &ctx).await;
    assert_eq!(out.writes, 0, "the plane is in sync");
    assert!(out.ready());
    harness::arm_reads(m) - before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_planes_for_two_minutes_stay_inside_the_read_schedule_with_no_writes() {
    let c = Cluster::start().await;
    c.install().await;
    for i in 0..PLANES {
        let name = format!("soak-{i:02}");
        c.apply_text(
            &format!("{name}.yaml"),
            &harness::dev_plane(&name, RESYNC, ""),
        )
        .await;
    }
    let arm = harness::arm().await;
    let mut op = Operator::spawn(&c, &arm, "soak-a", &[]);
    harness::all_ready(&c, PLANES, &[&op]).await;
    // The pass each final status write starts is over in well under this.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let (reads, writes) = (harness::arm_reads(&arm), harness::arm_writes(&arm, None));
    let applies = harness::status_applies(&c, None, None);
    tokio::time::sleep(WINDOW).await;
    let window_reads = harness::arm_reads(&arm) - reads;
    let (window_writes, window_applies) = (
        harness::arm_writes(&arm, None) - writes,
        harness::status_applies(&c, None, None) - applies,
    );
    let log = op.log();
    op.kill9();

    assert_eq!(window_writes, 0, "zero ARM writes once Ready\n{log}");
    assert_eq!(
        window_applies, 0,
        "no outcome changed, so no status write\n{log}"
    );
    // Passes per plane in the window: at most one per shortest jittered resync (0.8 × 30 s),
    // plus one that may fall at its start.
    let per_pass = reads_of_one_in_sync_pass(&c, &arm).await;
    assert!(per_pass > 0);
    let passes = (WINDOW.as_secs_f64() / (0.8 * RESYNC as f64)).floor() as usize + 1;
    let allowed = (PLANES * passes * per_pass) as f64 * 1.1;
    println!(
        "soak: {window_reads} ARM reads in {WINDOW:?} ({per_pass} per in-sync pass), schedule allows {allowed:.0}; 0 writes, 0 status applies"
    );
    assert!(
        window_reads as f64 <= allowed,
        "{window_reads} ARM reads in {WINDOW:?}, the schedule allows {allowed:.0} \
         ({PLANES} planes × {passes} passes × {per_pass} reads + 10 %)"
    );
    // And the planes were resynced at all: at least one pass each per longest jittered resync.
    let at_least = PLANES * (WINDOW.as_secs_f64() / (1.2 * RESYNC as f64)).floor() as usize;
    assert!(
        window_reads >= at_least * per_pass,
        "{window_reads} ARM reads: the planes were not resynced every {RESYNC} s ± 20 %"
    );
}
