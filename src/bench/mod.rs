//! `engram-operator bench reconcile`: many data planes converged from nothing against the
//! in-process mock ARM on its virtual clock (so no Retry-After is waited out), then in-sync passes.
//! Reports wall time, ARM requests per data plane, what a resync costs of ARM's budget, and memory.
//! `bench hnsw` (pgvector index builds on a local PostgreSQL) is in `hnsw`.

pub mod hnsw;

use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};

use crate::api::{EffectiveSpec, EngramDataPlaneStatus};
use crate::azure::{Arm, ArmApi};
use crate::mock_arm::{LroDurations, MockArm, MockConfig, ThrottleConfig};
use crate::reconcile::{self, Context, Outcome};
use crate::{api, Error, Result};

const LRO: Duration = Duration::from_secs(30);

/// The dev example, running, renamed for plane `i` in its own subscription (so the client-side
/// budget of one subscription does not pace the whole benchmark).
fn spec(i: usize) -> Result<EffectiveSpec> {
    let text = include_str!("../../examples/dev.yaml")
        .replace("state: Stopped", "state: Running")
        .replace("name: acme-dev", &format!("name: bench-{i}"))
        .replace("acme-dev-pg", &format!("bench-{i}-pg"))
        .replace("acmeengramdev", &format!("benchacct{i:06}"))
        .replace(
            "00000000-0000-0000-0000-000000000001",
            &format!("00000000-0000-0000-0000-{i:012}"),
        );
    api::load(&text).map(|(_, eff)| eff).map_err(Error::Invalid)
}

/// Resident and peak memory of this process, KiB (Linux; 0 elsewhere).
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

async fn pass_all(
    arm: &Arm,
    planes: &[EffectiveSpec],
    statuses: &mut [EngramDataPlaneStatus],
    concurrency: usize,
) -> Vec<Outcome> {
    let ctx = Context {
        now: time::OffsetDateTime::now_utc(),
        generation: Some(1),
        poll_interval: Duration::from_millis(1),
        dry_run: false,
        max_operation_age: reconcile::DEFAULT_MAX_OPERATION_AGE,
        owner: "bench/plane".into(),
        db: None,
        intents: Default::default(),
    };
    let outcomes: Vec<Outcome> = stream::iter(planes.iter().zip(statuses.iter()))
        .map(|(eff, prev)| reconcile::reconcile(arm, Ok(eff), prev, &ctx))
        .buffered(concurrency.max(1))
        .collect()
        .await;
    for (s, o) in statuses.iter_mut().zip(&outcomes) {
        *s = o.status.clone();
    }
    outcomes
}

/// Run the benchmark; returns the report.
pub async fn reconcile(planes: usize, concurrency: usize) -> Result<String> {
    if planes == 0 {
        return Err(Error::Usage("--planes: must be at least 1".into()));
    }
    let (rss_before, _) = memory_kib();
    let config = MockConfig {
        lro: LroDurations::uniform(LRO),
        throttle: ThrottleConfig {
            enabled: false,
            ..ThrottleConfig::default()
        },
        journal_capacity: 1024,
        ..MockConfig::default()
    };
    let mock = MockArm::start(config)
        .await
        .map_err(|e| Error::Usage(format!("mock ARM: {e}")))?;
    let mut settings = mock.arm_settings();
    settings.min_backoff = Duration::from_millis(1);
    let arm = Arm::new(settings).map_err(|e| Error::Usage(format!("ARM client: {e}")))?;
    let specs: Vec<EffectiveSpec> = (0..planes).map(spec).collect::<Result<_>>()?;
    let mut statuses = vec![EngramDataPlaneStatus::default(); planes];

    let started = Instant::now();
    let mut passes = 0;
    loop {
        passes += 1;
        let out = pass_all(&arm, &specs, &mut statuses, concurrency).await;
        if out.iter().all(|o| o.settled) {
            let not_ready = out.iter().filter(|o| !o.ready()).count();
            if not_ready > 0 {
                return Err(Error::Usage(format!(
                    "{not_ready} data planes settled not Ready"
                )));
            }
            break;
        }
        if passes > 50 {
            return Err(Error::Usage("did not converge in 50 passes".into()));
        }
        advance(&mock);
    }
    let converge = started.elapsed();
    let (reads, writes, _, _) = arm.stats().snapshot();

    let steady_started = Instant::now();
    let rounds = 3;
    let mut steady_writes = 0;
    for _ in 0..rounds {
        steady_writes += pass_all(&arm, &specs, &mut statuses, concurrency)
            .await
            .iter()
            .map(|o| o.writes)
            .sum::<u32>();
    }
    let steady = steady_started.elapsed() / rounds;
    let (reads2, writes2, _, _) = arm.stats().snapshot();
    let steady_reads = (reads2 - reads) as f64 / f64::from(rounds) / planes as f64;
    let (rss, peak) = memory_kib();
    let n = planes as f64;
    let per_resync = 25.0 * 300.0 / steady_reads.max(1.0);
    Ok(format!(
        "reconcile bench: {planes} data planes (PostgreSQL + Storage each), concurrency {concurrency}, in-process mock ARM (virtual clock, {}s operations)\n\
         converge  from nothing to Ready: {passes} passes, {:.2} s wall, {reads} reads + {writes} writes ({:.1} reads, {:.1} writes per plane)\n\
         steady    in-sync pass over every plane: {:.1} ms ({:.2} ms per plane), {steady_reads:.1} reads per plane, {} writes (x{rounds} passes: {steady_writes})\n\
         budget    a 300 s resync costs {steady_reads:.1} reads per plane: one subscription's refill (25 reads/s) sustains ~{per_resync:.0} data planes\n\
         memory    RSS {:.1} MiB, peak {:.1} MiB (process incl. the mock; {:.1} MiB before it started)",
        LRO.as_secs(),
        converge.as_secs_f64(),
        reads as f64 / n,
        writes as f64 / n,
        steady.as_secs_f64() * 1000.0,
        steady.as_secs_f64() * 1000.0 / n,
        writes2 - writes,
        rss as f64 / 1024.0,
        peak as f64 / 1024.0,
        rss_before as f64 / 1024.0,
    ))
}

fn advance(mock: &MockArm) {
    mock.advance(LRO);
}
