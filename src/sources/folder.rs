//! Folder mode: every *.yaml / *.yml file in a folder is one data plane. The folder is rescanned
//! on a short tick (file mtimes + content digest; chosen over `notify` because it is portable,
//! needs no extra dependency and cannot miss events on network or container filesystems), each
//! data plane is reconciled on its own schedule with a concurrency limit, and its status is written
//! as YAML (same shape as the CRD status) into the status folder.

use std::collections::hash_map::DefaultHasher;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::Instrument;

use super::folder_files::{export_path, FileSink};
pub use super::folder_files::{read_status, status_path, write_exports, write_status};
use crate::api::{self, EffectiveSpec, EngramDataPlaneStatus, FieldError};
use crate::azure::meter::{metered, Cost};
use crate::azure::ArmApi;
use crate::reconcile::intent::{Intents, StatusSink, Windows};
use crate::reconcile::sweep::{self, FastTier, Priority, SweepSource};
use crate::reconcile::{self, Context, Outcome};
use crate::telemetry::metrics::{outcome_label, Metrics};
use crate::{Error, Result};

/// Options of `engram-operator run`.
#[derive(Clone, Debug)]
pub struct FolderOptions {
    pub specs: PathBuf,
    pub status_dir: Option<PathBuf>,
    pub once: bool,
    pub concurrency: usize,
    /// Pause between polls of an operation in flight when ARM sends no Retry-After.
    pub poll_interval: Duration,
    /// A pending ARM operation older than this is dropped (`--max-operation-age`).
    pub max_operation_age: Duration,
    /// How often the folder is rescanned.
    pub scan_interval: Duration,
    /// `--once` gives up after this long.
    pub once_timeout: Duration,
    /// Prometheus metrics of the reconciles (served by `--admin-listen`).
    pub metrics: Option<Arc<Metrics>>,
    /// Append-only JSON-lines audit log of the operator's key actions (`--audit-log`).
    pub audit_log: Option<PathBuf>,
    /// Access to the servers' databases (pgvector, restore drills).
    pub db: Option<Arc<crate::database::Db>>,
    /// Per-plane credentials (spec.azure.credentialFrom); None: every plane uses the runner's.
    pub clients: Option<Arc<crate::azure::ArmClients>>,
    /// How long a create recorded in a status file, and not visible in Azure, is held back.
    pub create_windows: Windows,
    /// The fast tier: where it reads and how often (zero: off). Never in `once` runs.
    pub sweep: SweepSource,
    pub fast_sweep: Duration,
}

impl FolderOptions {
    pub fn new(specs: impl Into<PathBuf>) -> Self {
        Self {
            specs: specs.into(),
            status_dir: None,
            once: false,
            concurrency: 4,
            poll_interval: Duration::from_secs(10),
            max_operation_age: crate::reconcile::DEFAULT_MAX_OPERATION_AGE,
            scan_interval: Duration::from_secs(2),
            once_timeout: Duration::from_secs(1800),
            metrics: None,
            audit_log: None,
            db: None,
            clients: None,
            create_windows: Windows::default(),
            sweep: SweepSource::Get,
            fast_sweep: sweep::DEFAULT_FAST_SWEEP,
        }
    }
}

pub(super) type Spec = std::result::Result<EffectiveSpec, Vec<FieldError>>;

struct Plane {
    name: String,
    digest: u64,
    spec: Spec,
    /// metadata.annotations (the reconcile-policy switch is read there).
    annotations: BTreeMap<String, String>,
    generation: i64,
    status: EngramDataPlaneStatus,
    next_at: Instant,
    /// How the last pass ended (None: not reconciled since the spec was loaded).
    last: Option<Last>,
    /// What the last pass cost of each budget (sizes the child tier's period).
    cost: Cost,
    /// The fast tier saw one of its top-level resources change.
    nudged: bool,
}

/// A finished pass: the plane's file, the outcome, its cost, how long it took, its time, and
/// whether it wrote its status mid-pass.
type Done = (PathBuf, Outcome, Cost, Duration, time::OffsetDateTime, bool);

/// What is kept of a pass (not the whole outcome: a thousand plans would stay in memory).
#[derive(Clone, Copy, Debug)]
struct Last {
    settled: bool,
    ready: bool,
}

fn digest(text: &str) -> u64 {
    let mut h = DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// The name of a data plane: metadata.name when the document parses, else the file stem.
fn plane_name(file: &Path, parsed: Option<&api::EngramDataPlane>) -> String {
    parsed
        .and_then(|r| r.metadata.name.clone())
        .unwrap_or_else(|| {
            file.file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("unnamed")
                .to_owned()
        })
}

/// The folder runner.
pub struct Folder {
    arm: Arc<dyn ArmApi>,
    opts: FolderOptions,
    /// Boxed: a plane is a few KB inline, and a B-tree node holds eleven of them whether used or
    /// not (at 1,000 planes the map's nodes were the largest allocation of the process).
    planes: BTreeMap<PathBuf, Box<Plane>>,
    fast: FastTier,
    /// The child tier's period for the planes held (see [`sweep::child_period`]).
    period: Duration,
}

impl Folder {
    pub fn new(arm: Arc<dyn ArmApi>, opts: FolderOptions) -> Self {
        Self {
            arm,
            fast: FastTier::new(opts.sweep),
            opts,
            planes: BTreeMap::new(),
            period: Duration::ZERO,
        }
    }

    /// The client of the plane's credential (its file read afresh each pass), the status naming
    /// it and the plane's database access; the runner's client without per-plane credentials.
    fn plane_client(&self, spec_file: &Path, spec: &Spec) -> super::credentials::Resolved {
        let Some(clients) = &self.opts.clients else {
            return super::credentials::Resolved::operator(self.arm.clone());
        };
        let from = spec
            .as_ref()
            .ok()
            .and_then(|s| s.azure.credential_from.as_deref());
        super::credentials::resolve(clients, super::credentials::folder_lookup(spec_file, from))
    }

    /// Rescan the folder: pick up added and changed files, forget removed ones.
    pub fn scan(&mut self) -> Result<()> {
        let files = crate::cli::spec_files(&self.opts.specs)?;
        self.planes.retain(|path, plane| {
            let keep = files.contains(path);
            if !keep {
                tracing::info!(plane = %plane.name, "spec file removed: no longer reconciled (Azure resources retained)");
            }
            keep
        });
        for file in files {
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            let d = digest(&text);
            if self.planes.get(&file).is_some_and(|p| p.digest == d) {
                continue;
            }
            let parsed = api::parse(&text).ok();
            let name = plane_name(&file, parsed.as_ref());
            let spec = api::load(&text).map(|(_, eff)| eff);
            let annotations = parsed
                .as_ref()
                .and_then(|r| r.metadata.annotations.clone())
                .unwrap_or_default();
            let (status, generation) = match self.planes.remove(&file) {
                Some(old) => (old.status, old.generation + 1),
                None => (
                    self.opts
                        .status_dir
                        .as_deref()
                        .and_then(|d| read_status(d, &name))
                        .unwrap_or_default(),
                    1,
                ),
            };
            tracing::info!(plane = %name, file = %file.display(), "spec loaded");
            self.planes.insert(
                file,
                Box::new(Plane {
                    name,
                    digest: d,
                    spec,
                    annotations,
                    generation,
                    status,
                    next_at: Instant::now(),
                    last: None,
                    cost: Cost::default(),
                    nudged: false,
                }),
            );
        }
        Ok(())
    }

    /// Reconcile every data plane that is due, at most `concurrency` at once.
    pub async fn pass(&mut self) -> Result<()> {
        let now = Instant::now();
        let sem = Arc::new(Semaphore::new(self.opts.concurrency.max(1)));
        let mut set = JoinSet::new();
        // Due planes, the most urgent first: a changed spec, an operation in flight, drift.
        let mut due: Vec<(&PathBuf, &Plane)> = self
            .planes
            .iter()
            .filter(|(_, p)| p.next_at <= now)
            .map(|(f, p)| (f, p.as_ref()))
            .collect();
        due.sort_by_key(|(_, p)| {
            let first = p.last.is_none();
            (Priority::of(first, &p.status, p.nudged), p.next_at)
        });
        let due: Vec<PathBuf> = due.into_iter().map(|(path, _)| path.clone()).collect();
        for path in due {
            // Taken here, in priority order, so that the most urgent planes run first; what
            // finishes meanwhile is taken in at once (an outcome is not left waiting in memory).
            let permit = loop {
                tokio::select! {
                    biased;
                    Some(joined) = set.join_next(), if !set.is_empty() => {
                        if let Ok(done) = joined {
                            self.absorb(done)?;
                        }
                    }
                    p = sem.clone().acquire_owned() => break p,
                }
            };
            let Some(plane) = self.planes.get(&path) else {
                continue;
            };
            let resolved = self.plane_client(&path, &plane.spec);
            let azure = self.opts.clients.is_some().then(|| resolved.status.clone());
            let arm = resolved.arm.clone();
            let spec = plane.spec.clone();
            let annotations = plane.annotations.clone();
            let prev = plane.status.clone();
            let sink = self.opts.status_dir.as_ref().map(|dir| {
                Arc::new(FileSink {
                    dir: dir.clone(),
                    name: plane.name.clone(),
                    wrote: AtomicBool::new(false),
                })
            });
            let mut ctx = Context {
                now: time::OffsetDateTime::now_utc(),
                generation: Some(plane.generation),
                poll_interval: self.opts.poll_interval,
                dry_run: false,
                max_operation_age: self.opts.max_operation_age,
                owner: format!("folder/{}", plane.name),
                db: resolved.db(&self.opts.db),
                intents: Intents {
                    windows: self.opts.create_windows,
                    sink: sink.clone().map(|s| s as Arc<dyn StatusSink>),
                },
            };
            let name = plane.name.clone();
            set.spawn(async move {
                let _permit = permit;
                // The pass's time is when it runs, not when it queued for a permit (a create's
                // intent carries it).
                ctx.now = time::OffsetDateTime::now_utc();
                let span = tracing::info_span!("reconcile", plane = %name);
                let spec = spec.as_ref().map_err(|e| e.as_slice());
                let started = std::time::Instant::now();
                let (mut out, cost) = metered(
                    reconcile::policy::reconcile(arm.as_ref(), &annotations, spec, &prev, &ctx)
                        .instrument(span),
                )
                .await;
                if azure.is_some() {
                    out.status.azure = azure;
                }
                // Nothing here reads the plan: let it go now rather than with the outcome.
                out.plan = None;
                let checkpointed = sink.is_some_and(|s| s.wrote.load(Ordering::Relaxed));
                (path, out, cost, started.elapsed(), ctx.now, checkpointed)
            });
        }
        while let Some(joined) = set.join_next().await {
            if let Ok(done) = joined {
                self.absorb(done)?;
            }
        }
        self.size_period();
        Ok(())
    }

    /// Take in one finished pass: metrics, logs, the audit log, the status file, exports and
    /// the plane's next time.
    fn absorb(&mut self, (path, out, cost, took, at, checkpointed): Done) -> Result<()> {
        if let Some(m) = &self.opts.metrics {
            m.reconciled(outcome_label(&out), took);
        }
        let Some(plane) = self.planes.get_mut(&path) else {
            return Ok(());
        };
        if let Some(change) = reconcile::policy::change(&plane.status, &out.status) {
            tracing::info!(plane = %plane.name, "{}", change.note());
        }
        log_outcome(&plane.name, &out);
        if let Some(run) = &out.drill_finished {
            tracing::info!(plane = %plane.name, scratch = %run.server, result = ?run.result, rpo_s = ?run.rpo_seconds, rto_s = ?run.rto_seconds, message = ?run.message, "restore drill finished");
            if let Some(m) = &self.opts.metrics {
                m.restore_drill(&format!("folder/{}", plane.name), run);
            }
        }
        if let Some(m) = &self.opts.metrics {
            m.scaling(
                &format!("folder/{}", plane.name),
                out.status.scaling.as_ref(),
            );
        }
        let lines: Vec<String> = out
            .key_events
            .iter()
            .map(|e| reconcile::audit::line(&plane.name, at, e))
            .collect();
        for l in &lines {
            tracing::info!(audit = true, "{l}");
        }
        if let Some(file) = &self.opts.audit_log {
            reconcile::audit::append(file, &lines).map_err(|source| Error::Io {
                path: file.display().to_string(),
                source,
            })?;
        }
        // Written only when it changed (the first pass of a run always writes it, and a pass
        // that wrote mid-pass leaves its final status too).
        let changed = plane.last.is_none() || out.status != plane.status || checkpointed;
        if let (Some(dir), true) = (&self.opts.status_dir, changed) {
            write_status(dir, &plane.name, &out.status)?;
        }
        plane.status = out.status.clone();
        if let (Some(exports), Some(file)) = (&out.exports, export_path(&path, &plane.spec)) {
            match write_exports(&file, exports) {
                Ok(true) => {
                    tracing::info!(plane = %plane.name, file = %file.display(), "exports written")
                }
                Ok(false) => {}
                // Not fatal to the runner: the other planes go on; the next pass retries.
                Err(e) => {
                    tracing::warn!(plane = %plane.name, error = %e, "cannot write the exports")
                }
            }
        }
        // A fatal outcome waits for the spec to change (a new digest resets next_at); an
        // in-sync plane comes back after the child tier's period.
        let mut again = out
            .requeue_after
            .unwrap_or(Duration::from_secs(365 * 24 * 3600));
        if out.settled {
            again = again.max(self.period);
        }
        plane.next_at = Instant::now() + again;
        plane.cost = cost;
        plane.nudged = false;
        plane.last = Some(Last {
            settled: out.settled,
            ready: out.ready(),
        });
        Ok(())
    }

    /// The child tier's period from what the planes' last passes cost, shared with the fast
    /// tier; a gauge, and a log line when it is longer than a plane's resyncSeconds.
    fn size_period(&mut self) {
        let specs = || {
            self.planes
                .values()
                .filter_map(|p| Some((p.spec.as_ref().ok()?, p)))
        };
        let resync = specs()
            .map(|(s, _)| Duration::from_secs(s.resync_seconds))
            .min()
            .unwrap_or(Duration::ZERO);
        let fast = (!self.opts.fast_sweep.is_zero() && !self.opts.once)
            .then_some((self.fast.last_cost, self.opts.fast_sweep));
        let (period, binding) = sweep::child_period(
            specs().map(|(s, p)| (s.azure.subscription_id.as_str(), p.cost)),
            fast,
            resync,
        );
        if period > resync && period.as_secs() != self.period.as_secs() {
            tracing::warn!(
                period_s = period.as_secs(),
                resync_s = resync.as_secs(),
                binding,
                planes = self.planes.len(),
                "the child sweep takes longer than resyncSeconds: the budgets allow no faster"
            );
        }
        self.period = period;
        if let Some(m) = &self.opts.metrics {
            m.set_child_period(period);
        }
    }

    /// One fast sweep, if due: the planes whose top-level resources changed become due now.
    /// Planes are grouped by the client of their credential (a customer's subscription is read
    /// as the customer).
    async fn fast_sweep(&mut self, next: &mut Instant) {
        if self.opts.fast_sweep.is_zero() || self.opts.once || Instant::now() < *next {
            return;
        }
        *next = Instant::now() + self.opts.fast_sweep;
        let planes: Vec<(PathBuf, Arc<dyn ArmApi>, Vec<String>)> = self
            .planes
            .iter()
            .filter_map(|(path, p)| {
                let eff = p.spec.as_ref().ok()?;
                let arm = self.plane_client(path, &p.spec).arm;
                Some((path.clone(), arm, sweep::top_level_ids(eff)))
            })
            .collect();
        for path in self.fast.sweep_all(planes.into_iter()).await {
            if let Some(p) = self.planes.get_mut(&path) {
                tracing::info!(plane = %p.name, "a top-level resource changed: reconciling now");
                p.next_at = Instant::now();
                p.nudged = true;
            }
        }
    }

    fn update_gauges(&self) {
        if let Some(m) = &self.opts.metrics {
            let drift = self
                .planes
                .values()
                .map(|p| p.status.drift.iter().filter(|d| !d.corrected).count() as i64)
                .sum();
            let pending = self
                .planes
                .values()
                .map(|p| p.status.pending_operations.len() as i64)
                .sum();
            m.set_open(drift, pending);
        }
    }

    /// Make every data plane due now (tests, and a rescan on demand).
    pub fn force_due(&mut self) {
        let now = Instant::now();
        for p in self.planes.values_mut() {
            p.next_at = now;
        }
    }

    /// True when every data plane has settled: nothing in flight and nothing left to apply.
    fn settled(&self) -> bool {
        self.planes
            .values()
            .all(|p| p.last.is_some_and(|l| l.settled))
    }

    /// The data planes known, by name, with their generation (bumped on every spec change).
    pub fn planes(&self) -> Vec<(String, i64)> {
        self.planes
            .values()
            .map(|p| (p.name.clone(), p.generation))
            .collect()
    }

    /// The last status of every data plane, by name.
    pub fn statuses(&self) -> Vec<(String, EngramDataPlaneStatus)> {
        self.planes
            .values()
            .map(|p| (p.name.clone(), p.status.clone()))
            .collect()
    }

    /// Summary lines and exit code of `--once`: 0 when every data plane is Ready.
    pub fn report(&self) -> (i32, Vec<String>) {
        let mut lines = Vec::new();
        let mut ok = true;
        for p in self.planes.values() {
            let ready = p.last.is_some_and(|l| l.ready);
            ok &= ready;
            let why =
                reconcile::conditions::get(&p.status.conditions, reconcile::conditions::READY)
                    .map(|c| format!("{}: {}", c.reason, c.message))
                    .unwrap_or_else(|| "not reconciled".into());
            lines.push(format!(
                "{:<8} {} ({why})",
                if ready { "ready" } else { "NOT READY" },
                p.name
            ));
            for e in &p.status.errors {
                lines.push(format!("         {e}"));
            }
        }
        (if ok { 0 } else { 1 }, lines)
    }

    /// Run until SIGTERM / Ctrl-C (or, with `once`, until every data plane has settled).
    pub async fn run(&mut self) -> Result<i32> {
        let deadline = Instant::now() + self.opts.once_timeout;
        let mut next_scan = Instant::now();
        // The first fast sweep only records what is there: after the first passes, not before.
        let mut next_fast = Instant::now() + self.opts.fast_sweep;
        // One listener for the whole run, so a signal that lands during a pass is not lost.
        let shutdown = shutdown_signal();
        tokio::pin!(shutdown);
        loop {
            if Instant::now() >= next_scan {
                self.scan()?;
                next_scan = Instant::now() + self.opts.scan_interval;
            }
            self.fast_sweep(&mut next_fast).await;
            self.pass().await?;
            self.update_gauges();
            if self.opts.once && (self.settled() || Instant::now() >= deadline) {
                let (code, lines) = self.report();
                for l in lines {
                    println!("{l}");
                }
                return Ok(code);
            }
            let due = self
                .planes
                .values()
                .map(|p| p.next_at)
                .min()
                .unwrap_or(next_scan);
            let mut wake = due.min(next_scan);
            if !self.opts.fast_sweep.is_zero() && !self.opts.once {
                wake = wake.min(next_fast);
            }
            let wake = wake.max(Instant::now() + Duration::from_millis(20));
            tokio::select! {
                _ = tokio::time::sleep_until(wake) => {}
                _ = &mut shutdown => {
                    tracing::info!("shutdown requested: stopping after the current pass");
                    return Ok(0);
                }
            }
        }
    }
}

fn log_outcome(name: &str, out: &Outcome) {
    let s = &out.status;
    tracing::info!(
        plane = name,
        ready = out.ready(),
        writes = out.writes,
        drift = s.drift_count,
        pending = s.pending_operations.len(),
        errors = s.errors.len(),
        requeue_ms = out.requeue_after.map(|d| d.as_millis() as u64),
        "reconciled"
    );
}

pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
