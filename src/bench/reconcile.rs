//! `engram-operator bench reconcile`: N data planes over S subscriptions, converged from nothing
//! and then kept in sync, against the mock ARM in the same process on one virtual clock: a paused
//! tokio runtime, the mock reached by function call ([`crate::mock_arm::InProcess`]), the mock's
//! throttling on at Azure's limits and the client budget pacing itself to them. Time moves only
//! when every task waits, so 1,000 planes take seconds of wall time and report the virtual time a
//! real run would take.
//!
//! It reports, each against the floor the tightest budget allows:
//! - the time to converge from nothing;
//! - the time of a full child sweep (every plane's pass, nothing to write);
//! - how long a portal edit of one server's SKU, at a random moment, goes undetected;
//! - the 429s received (the client budget's promise is none), and requests per plane.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::api::{EffectiveSpec, EngramDataPlaneStatus};
use crate::azure::meter::{metered, Cost};
use crate::azure::throttle::{READS, WRITES};
use crate::azure::{Arm, ArmApi};
use crate::mock_arm::{ClockMode, MockArm, MockConfig};
use crate::reconcile::sweep::{self, FastTier, Priority, SweepSource};
use crate::reconcile::{self, Context, Outcome};
use crate::{api, Error, Result};

/// Arguments of `bench reconcile`.
#[derive(clap::Args, Debug, Clone)]
pub struct ReconcileArgs {
    /// Number of data planes (each a PostgreSQL server, a Storage account and its alert rules).
    #[arg(long, default_value_t = 200)]
    pub planes: usize,
    /// Subscriptions the planes are spread over (plane i in subscription i mod S), one resource
    /// group each.
    #[arg(long, default_value_t = 1)]
    pub subscriptions: usize,
    /// Where the fast tier reads top-level resources: `get` or `arg` (Azure Resource Graph).
    #[arg(long, value_enum, default_value_t = SweepSource::Get)]
    pub sweep: SweepSource,
    /// The fast tier's period, seconds.
    #[arg(long = "fast-sweep", default_value_t = 60)]
    pub fast_sweep: u64,
    /// How far Azure Resource Graph lags behind ARM, seconds (Microsoft: 95 % of changes within
    /// about 30 s).
    #[arg(long = "graph-lag", default_value_t = 30)]
    pub graph_lag: u64,
    /// Data planes reconciled at the same time.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Seed of the moment of the portal edit.
    #[arg(long, default_value_t = 17)]
    pub seed: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// One phase's figures.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Phase {
    /// Virtual seconds.
    pub seconds: f64,
    /// The least time the tightest budget allows for the same requests, seconds.
    pub floor_seconds: f64,
    /// Which budget sets the floor.
    pub binding: &'static str,
    pub ratio: f64,
    pub reads_per_plane: f64,
    pub writes_per_plane: f64,
    pub storage_reads_per_plane: f64,
    pub storage_lists_per_plane: f64,
}

/// The report.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub planes: usize,
    pub subscriptions: usize,
    pub sweep: SweepSource,
    pub fast_sweep_seconds: u64,
    pub converge: Phase,
    pub child_sweep: Phase,
    /// The child tier's period the scheduler computed for these planes, seconds.
    pub child_period_seconds: f64,
    pub child_period_binding: &'static str,
    /// Reads one fast sweep costs.
    pub fast_sweep_reads: u32,
    /// Resource Graph queries one fast sweep costs.
    pub fast_sweep_queries: u32,
    /// Virtual seconds from a portal edit of one server's SKU to the pass that records it.
    pub drift_detection_seconds: f64,
    /// 429s the client received over the whole run.
    pub throttled: u64,
    pub wall_seconds: f64,
}

const SUB_PREFIX: &str = "00000000-0000-0000-0000-";

/// The dev example, running, as plane `i` of subscription `i mod subs`.
fn spec(i: usize, subs: usize) -> Result<EffectiveSpec> {
    let text = include_str!("../../examples/dev.yaml")
        .replace("state: Stopped", "state: Running")
        .replace("name: acme-dev", &format!("name: bench-{i}"))
        .replace("acme-dev-pg", &format!("bench-{i}-pg"))
        .replace("acmeengramdev", &format!("benchacct{i:06}"))
        .replace(
            "00000000-0000-0000-0000-000000000001",
            &format!("{SUB_PREFIX}{:012}", i % subs + 1),
        );
    api::load(&text).map(|(_, eff)| eff).map_err(Error::Invalid)
}

/// A plane as the scheduler holds it.
struct Held {
    eff: Arc<EffectiveSpec>,
    status: EngramDataPlaneStatus,
    next_at: Instant,
    nudged: bool,
    settled: bool,
    ready: bool,
    cost: Cost,
}

/// The planes, the client and the clock origin of one benchmark run.
struct Bench {
    arm: Arc<Arm>,
    planes: Vec<Held>,
    concurrency: usize,
    epoch: time::OffsetDateTime,
    t0: Instant,
}

impl Bench {
    fn context(&self) -> Context {
        Context {
            now: self.epoch + self.t0.elapsed(),
            generation: Some(1),
            poll_interval: Duration::from_secs(10),
            dry_run: false,
            max_operation_age: reconcile::DEFAULT_MAX_OPERATION_AGE,
            owner: "bench/plane".into(),
            db: None,
            intents: Default::default(),
        }
    }

    /// Start the due planes, highest priority first, while fewer than `concurrency` run.
    fn start_due(
        &mut self,
        running: &mut JoinSet<(usize, Outcome, Cost)>,
        busy: &mut [bool],
        first_pass: bool,
    ) {
        let now = Instant::now();
        let mut due: Vec<usize> = (0..self.planes.len())
            .filter(|&i| !busy[i] && self.planes[i].next_at <= now)
            .collect();
        due.sort_by_key(|&i| {
            let p = &self.planes[i];
            (Priority::of(first_pass, &p.status, p.nudged), p.next_at)
        });
        for i in due {
            if running.len() >= self.concurrency {
                break;
            }
            busy[i] = true;
            let (arm, eff, prev, ctx) = (
                self.arm.clone(),
                self.planes[i].eff.clone(),
                self.planes[i].status.clone(),
                self.context(),
            );
            running.spawn(async move {
                let (out, cost) =
                    metered(reconcile::reconcile(arm.as_ref(), Ok(&eff), &prev, &ctx)).await;
                (i, out, cost)
            });
        }
    }

    fn next_due(&self, busy: &[bool]) -> Option<Instant> {
        (0..self.planes.len())
            .filter(|&i| !busy[i])
            .map(|i| self.planes[i].next_at)
            .min()
    }

    /// Run the planes until `done` says so; `child_period` spaces in-sync passes, the fast tier
    /// (when given) nudges planes whose top-level resources changed. Calls `on_pass` after each.
    async fn drive(
        &mut self,
        child_period: Option<Duration>,
        mut fast: Option<(&mut FastTier, Duration)>,
        mut on_pass: impl FnMut(&mut Self, usize, &Outcome) -> bool,
    ) -> Result<()> {
        let ids = sweep::top_levels(self.planes.iter().map(|p| p.eff.as_ref()));
        let mut running = JoinSet::new();
        let mut busy = vec![false; self.planes.len()];
        let mut next_fast = Instant::now();
        let first = child_period.is_none();
        loop {
            if let Some((tier, every)) = fast.as_mut() {
                if Instant::now() >= next_fast {
                    let changed = tier
                        .sweep(self.arm.as_ref(), &ids)
                        .await
                        .map_err(|e| Error::Usage(format!("fast sweep: {e}")))?;
                    for i in changed {
                        self.planes[i].next_at = Instant::now();
                        self.planes[i].nudged = true;
                    }
                    next_fast = Instant::now() + *every;
                }
            }
            self.start_due(&mut running, &mut busy, first);
            // With every slot taken, only a pass ending (or the fast tier) can start another.
            let full = running.len() >= self.concurrency;
            let wake = self
                .next_due(&busy)
                .filter(|_| !full)
                .into_iter()
                .chain(fast.is_some().then_some(next_fast))
                .min()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                joined = running.join_next(), if !running.is_empty() => {
                    let Some(Ok((i, out, cost))) = joined else {
                        return Err(Error::Usage("a pass panicked".into()));
                    };
                    busy[i] = false;
                    let p = &mut self.planes[i];
                    p.status = out.status.clone();
                    p.settled = out.settled;
                    p.ready = out.ready();
                    p.nudged = false;
                    p.cost = cost;
                    let again = out.requeue_after.unwrap_or(Duration::from_secs(3600));
                    p.next_at = Instant::now()
                        + match (out.settled, child_period) {
                            (true, Some(period)) => again.max(period),
                            _ => again,
                        };
                    if on_pass(self, i, &out) {
                        running.abort_all();
                        return Ok(());
                    }
                }
                _ = tokio::time::sleep_until(wake) => {}
            }
        }
    }
}

fn total(planes: &[Held]) -> Cost {
    let mut c = Cost::default();
    for p in planes {
        c += p.cost;
    }
    c
}

/// The least time the requests of `cost` (a whole phase, every subscription alike) take under
/// Azure's limits, starting from full buckets, and which limit sets it. `lro` is the longest
/// operation a phase must wait out.
fn floor(cost: &Cost, subs: usize, lro: Duration) -> (f64, &'static str) {
    let per = |n: u32| f64::from(n) / subs as f64;
    let over = |n: f64, (capacity, refill): (f64, f64)| ((n - capacity) / refill).max(0.0);
    [
        (lro.as_secs_f64(), "operations"),
        (over(per(cost.reads), READS), "arm_reads"),
        (over(per(cost.writes), WRITES), "arm_writes"),
        (
            over(per(cost.storage_reads), (800.0, 800.0 / 300.0)),
            "storage_reads",
        ),
        (
            over(per(cost.storage_lists), (100.0, 100.0 / 300.0)),
            "storage_lists",
        ),
        (
            over(per(cost.storage_writes), (10.0, 10.0)),
            "storage_writes_second",
        ),
        (
            over(per(cost.storage_writes), (1200.0, 1200.0 / 3600.0)),
            "storage_writes_hour",
        ),
    ]
    .into_iter()
    .fold((0.0, "operations"), |a, b| if b.0 > a.0 { b } else { a })
}

fn phase(seconds: f64, cost: &Cost, planes: usize, subs: usize, lro: Duration) -> Phase {
    let (floor_seconds, binding) = floor(cost, subs, lro);
    let n = planes as f64;
    Phase {
        seconds,
        floor_seconds,
        binding,
        ratio: if floor_seconds > 0.0 {
            seconds / floor_seconds
        } else {
            0.0
        },
        reads_per_plane: f64::from(cost.reads) / n,
        writes_per_plane: f64::from(cost.writes) / n,
        storage_reads_per_plane: f64::from(cost.storage_reads) / n,
        storage_lists_per_plane: f64::from(cost.storage_lists) / n,
    }
}

/// Run the benchmark (its own paused runtime); returns the report, text or JSON.
pub fn run(args: &ReconcileArgs) -> Result<String> {
    if args.planes == 0 || args.subscriptions == 0 || args.subscriptions > args.planes {
        return Err(Error::Usage(
            "--planes and --subscriptions: at least 1 each, and no more subscriptions than planes"
                .into(),
        ));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .map_err(|source| Error::Io {
            path: "tokio runtime".into(),
            source,
        })?;
    let wall = std::time::Instant::now();
    let mut report = rt.block_on(measure(args))?;
    report.wall_seconds = wall.elapsed().as_secs_f64();
    if args.json {
        return serde_json::to_string_pretty(&report).map_err(|e| Error::Usage(e.to_string()));
    }
    Ok(text(&report))
}

async fn measure(args: &ReconcileArgs) -> Result<Report> {
    let config = MockConfig {
        clock: ClockMode::Runtime,
        journal_capacity: 256,
        graph_lag: Duration::from_secs(args.graph_lag),
        ..MockConfig::default()
    };
    let lro = config.lro.pg_create.max(config.lro.storage_create);
    let mock = MockArm::start(config)
        .await
        .map_err(|e| Error::Usage(format!("mock ARM: {e}")))?;
    let arm = Arc::new(
        Arm::new(mock.in_process_settings())
            .map_err(|e| Error::Usage(format!("ARM client: {e}")))?,
    );
    let t0 = Instant::now();
    let planes = (0..args.planes)
        .map(|i| {
            Ok(Held {
                eff: Arc::new(spec(i, args.subscriptions)?),
                status: EngramDataPlaneStatus::default(),
                next_at: t0,
                nudged: false,
                settled: false,
                ready: false,
                cost: Cost::default(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut bench = Bench {
        arm: arm.clone(),
        planes,
        concurrency: args.concurrency.max(1),
        epoch: time::OffsetDateTime::now_utc(),
        t0,
    };
    let (n, subs) = (args.planes, args.subscriptions);

    // 1. From nothing to every plane Ready; costs summed over every pass.
    let mut spent = Cost::default();
    bench
        .drive(None, None, |b, i, _| {
            // Summed as each pass lands: a plane passes several times while it converges.
            spent += b.planes[i].cost;
            b.planes.iter().all(|p| p.settled)
        })
        .await?;
    let converged = t0.elapsed();
    if let Some(p) = bench.planes.iter().find(|p| !p.ready) {
        return Err(Error::Usage(format!(
            "{} settled not Ready: {:?}",
            p.eff.postgres.server_name, p.status.errors
        )));
    }

    // 2. At rest (every bucket full again), one pass over every plane: a full child sweep.
    tokio::time::sleep(Duration::from_secs(3600)).await;
    let started = Instant::now();
    for p in &mut bench.planes {
        p.next_at = started;
        p.settled = false;
    }
    bench
        .drive(None, None, |b, _, _| b.planes.iter().all(|p| p.settled))
        .await?;
    let child = started.elapsed();
    let child_cost = total(&bench.planes);

    // 3. Steady state: the fast tier every --fast-sweep, in-sync passes every child period;
    // one server's SKU edited in the portal at a random moment.
    let fast_every = Duration::from_secs(args.fast_sweep.max(1));
    let mut fast = FastTier::new(args.sweep);
    let ids = sweep::top_levels(bench.planes.iter().map(|p| p.eff.as_ref()));
    // A first sweep records what is there, and measures what one costs.
    fast.sweep(arm.as_ref(), &ids)
        .await
        .map_err(|e| Error::Usage(format!("fast sweep: {e}")))?;
    let fast_cost = fast.last_cost;
    let resync = Duration::from_secs(bench.planes[0].eff.resync_seconds);
    let (period, binding) = sweep::child_period(
        bench
            .planes
            .iter()
            .map(|p| (p.eff.azure.subscription_id.as_str(), p.cost)),
        Some((fast_cost, fast_every)),
        resync,
    );
    let start = Instant::now();
    for (i, p) in bench.planes.iter_mut().enumerate() {
        // In-sync passes spread evenly over the period.
        p.next_at = start + period.mul_f64(i as f64 / n as f64);
    }
    let seed = args.seed;
    let victim = (seed as usize).wrapping_mul(7919) % n;
    let edit_after =
        Duration::from_secs(seed.wrapping_mul(2_654_435_761) % (4 * fast_every.as_secs()).max(1));
    let victim_id = crate::plan::owner::server_id(&bench.planes[victim].eff);
    let editor = {
        let id = victim_id.clone();
        let mock = &mock;
        async move {
            tokio::time::sleep(edit_after).await;
            mock.edit(&id, serde_json::json!({"sku": {"name": "Standard_B2s"}}))
                .map(|_| Instant::now())
        }
    };
    let watch = async {
        bench
            .drive(Some(period), Some((&mut fast, fast_every)), |_, i, out| {
                i == victim && out.status.drift.iter().any(|d| d.field.starts_with("sku"))
            })
            .await
            .map(|()| Instant::now())
    };
    let (edited, detected) = tokio::join!(editor, watch);
    let edited = edited.map_err(|e| Error::Usage(format!("portal edit: {e}")))?;
    let detected = detected?;
    let (_, _, throttled, _) = arm.stats().snapshot();
    Ok(Report {
        planes: n,
        subscriptions: subs,
        sweep: args.sweep,
        fast_sweep_seconds: fast_every.as_secs(),
        converge: phase(converged.as_secs_f64(), &spent, n, subs, lro),
        child_sweep: phase(child.as_secs_f64(), &child_cost, n, subs, Duration::ZERO),
        child_period_seconds: period.as_secs_f64(),
        child_period_binding: binding,
        fast_sweep_reads: fast_cost.reads,
        fast_sweep_queries: fast_cost.graph,
        drift_detection_seconds: detected.saturating_duration_since(edited).as_secs_f64(),
        throttled,
        wall_seconds: 0.0,
    })
}

fn text(r: &Report) -> String {
    let p = |name: &str, ph: &Phase| {
        format!(
            "{name:<11} {:>9.1} s virtual, floor {:.1} s ({}), ratio {:.2}; per plane {:.1} reads, {:.1} writes, {:.1} Storage RP reads, {:.2} lists\n",
            ph.seconds, ph.floor_seconds, ph.binding, ph.ratio, ph.reads_per_plane, ph.writes_per_plane, ph.storage_reads_per_plane, ph.storage_lists_per_plane
        )
    };
    let mut out = format!(
        "reconcile bench: {} data planes over {} subscription(s), fast tier `{}` every {} s, one virtual clock (mock ARM in process, Azure's limits on)\n",
        r.planes, r.subscriptions, r.sweep, r.fast_sweep_seconds
    );
    out += &p("converge", &r.converge);
    out += &p("child sweep", &r.child_sweep);
    out += &format!(
        "child tier  period {:.0} s ({}); a fast sweep costs {} reads and {} Resource Graph queries\ndrift       a portal SKU edit detected after {:.1} s\n429s        {}\nwall        {:.1} s\n",
        r.child_period_seconds, r.child_period_binding, r.fast_sweep_reads, r.fast_sweep_queries, r.drift_detection_seconds, r.throttled, r.wall_seconds
    );
    out
}
