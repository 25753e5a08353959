//! Tiered sweeps: the fast tier nudges only the plane whose top-level resource changed, for the
//! cost of one read per server and account and one alert list per resource group; the alert list
//! of a pass is shared by the group's planes; due planes run by priority; the Kubernetes fast tier
//! triggers the changed plane; `bench reconcile` measures on one virtual clock.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use engram_operator::api::{self, EffectiveSpec};
use engram_operator::azure::ArmApi;
use engram_operator::reconcile::sweep::{self, FastTier, SweepSource};
use futures::StreamExt;
use serde_json::json;
use support::*;

const SUB: &str = "00000000-0000-0000-0000-000000000001";

fn plane(name: &str) -> EffectiveSpec {
    api::load(&tenants::plane_yaml(name, SUB, None))
        .expect("valid")
        .1
}

/// Requests after journal entry `from`, as "METHOD path".
fn since(m: &engram_operator::mock_arm::MockArm, from: usize) -> Vec<String> {
    m.journal()
        .into_iter()
        .skip(from)
        .map(|e| format!("{} {}", e.method, e.path))
        .collect()
}

async fn two_converged() -> (
    engram_operator::mock_arm::MockArm,
    engram_operator::azure::Arm,
    Vec<EffectiveSpec>,
    Vec<engram_operator::api::EngramDataPlaneStatus>,
) {
    let m = mock().await;
    let arm = arm(&m);
    let planes = vec![plane("alpha"), plane("beta")];
    let mut statuses = Vec::new();
    for eff in &planes {
        let out = converge(&m, &arm, eff, Default::default()).await;
        assert!(out.ready(), "{:#?}", out.status);
        statuses.push(out.status);
    }
    (m, arm, planes, statuses)
}

#[tokio::test]
async fn the_fast_tier_nudges_only_the_plane_whose_server_changed() {
    let (m, arm, planes, _) = two_converged().await;
    let held = sweep::top_levels(planes.iter());
    let mut fast = FastTier::new(SweepSource::Get);
    let before = m.journal().len();
    assert_eq!(fast.sweep(&arm, &held).await.unwrap(), Vec::<usize>::new());
    // Two servers, two accounts, and the group's alert rules in one list: not 16 rule GETs.
    let reads = since(&m, before);
    assert_eq!(reads.len(), 5, "{reads:#?}");
    assert_eq!(
        reads
            .iter()
            .filter(|r| r.to_ascii_lowercase().contains("metricalerts"))
            .count(),
        1
    );
    assert!(reads.iter().all(|r| r.starts_with("GET ")));
    assert_eq!(fast.last_cost.reads, 5);
    assert_eq!(fast.last_cost.storage_reads, 2);

    // Nothing changed: nothing nudged.
    assert!(fast.sweep(&arm, &held).await.unwrap().is_empty());
    // A portal edit of beta's SKU nudges beta alone, once.
    m.edit(
        &server_id(&planes[1]),
        json!({"sku": {"name": "Standard_B2s"}}),
    )
    .unwrap();
    assert_eq!(fast.sweep(&arm, &held).await.unwrap(), vec![1]);
    assert!(fast.sweep(&arm, &held).await.unwrap().is_empty());
    // An alert rule edited in the portal nudges its plane too.
    let rule = format!(
        "/subscriptions/{SUB}/resourceGroups/{}/providers/Microsoft.Insights/metricAlerts/alpha-pg-cpu-warning",
        planes[0].azure.resource_group
    );
    m.edit(&rule, json!({"properties": {"severity": 4}}))
        .unwrap();
    assert_eq!(fast.sweep(&arm, &held).await.unwrap(), vec![0]);
}

#[tokio::test]
async fn through_resource_graph_one_query_covers_both_planes_and_a_change_shows_after_the_lag() {
    let (m, arm, planes, _) = two_converged().await;
    m.set_graph_lag(Duration::from_secs(30));
    m.advance(Duration::from_secs(60));
    let held = sweep::top_levels(planes.iter());
    let mut fast = FastTier::new(SweepSource::Arg);
    let (queries, reads) = (m.graph_queries(), m.journal().len());
    assert!(fast.sweep(&arm, &held).await.unwrap().is_empty());
    assert_eq!(m.graph_queries() - queries, 1, "18 resources, one query");
    assert_eq!(fast.last_cost.graph, 1);
    assert_eq!(fast.last_cost.reads, 0, "no ARM read at all");
    assert_eq!(
        since(&m, reads)
            .iter()
            .filter(|r| !r.contains("Microsoft.ResourceGraph"))
            .count(),
        0
    );
    m.edit(
        &server_id(&planes[0]),
        json!({"sku": {"name": "Standard_B2s"}}),
    )
    .unwrap();
    assert!(
        fast.sweep(&arm, &held).await.unwrap().is_empty(),
        "Resource Graph has not caught up yet"
    );
    m.advance(Duration::from_secs(31));
    assert_eq!(fast.sweep(&arm, &held).await.unwrap(), vec![0]);
}

#[tokio::test]
async fn a_client_without_the_source_fails_the_sweep_and_nothing_is_nudged() {
    let (m, arm, planes, _) = two_converged().await;
    let held: Vec<(usize, Vec<String>)> = vec![(0, sweep::top_level_ids(&planes[0]))];
    // The Resource Graph source on a client that has none: an error, never a false nudge.
    let mut fast = FastTier::new(SweepSource::Arg);
    let gated = engram_operator::sources::leader::GatedArm::new(
        Arc::new(NoGraph(arm)),
        engram_operator::sources::leader::LeaderGate::always(),
    );
    assert!(fast.sweep(&gated, &held).await.is_err());
    drop(m);
}

/// An ARM client that offers no Resource Graph (like a test double).
struct NoGraph(engram_operator::azure::Arm);

#[async_trait::async_trait]
impl ArmApi for NoGraph {
    async fn observe(
        &self,
        eff: &EffectiveSpec,
    ) -> Result<engram_operator::plan::Observed, engram_operator::azure::ArmError> {
        self.0.observe(eff).await
    }
    async fn get_server(
        &self,
        eff: &EffectiveSpec,
        name: &str,
    ) -> Result<Option<engram_operator::plan::ObservedServer>, engram_operator::azure::ArmError>
    {
        self.0.get_server(eff, name).await
    }
    async fn submit(
        &self,
        op: &engram_operator::plan::Op,
    ) -> Result<engram_operator::azure::Submitted, engram_operator::azure::ArmError> {
        self.0.submit(op).await
    }
    async fn poll(
        &self,
        url: &str,
    ) -> Result<engram_operator::azure::OpState, engram_operator::azure::ArmError> {
        self.0.poll(url).await
    }
    fn stats(&self) -> &engram_operator::azure::Stats {
        self.0.stats()
    }
}

#[tokio::test]
async fn the_alert_list_of_a_group_serves_each_of_its_planes_once() {
    let (m, arm, planes, statuses) = two_converged().await;
    let lists = |from| {
        since(&m, from)
            .into_iter()
            .filter(|r| r.to_ascii_lowercase().contains("metricalerts"))
            .count()
    };
    // Six in-sync passes, alternating: each list serves one pass of each plane, never a plane
    // twice, so three lists instead of six (with N planes in the group, 1 instead of N).
    let before = m.journal().len();
    let mut st = statuses.clone();
    for i in 0..6 {
        let out = pass(&arm, &planes[i % 2], &st[i % 2]).await;
        assert!(out.ready() && out.writes == 0, "in sync");
        st[i % 2] = out.status;
    }
    assert_eq!(lists(before), 3);
    let (b, planes) = (st[1].clone(), planes);
    // A rule edited out of band just after alpha's list: beta's next pass may use that list (it
    // is fresh and beta has not seen it), and the pass after lists again and corrects the rule.
    let rule = format!(
        "/subscriptions/{SUB}/resourceGroups/{}/providers/Microsoft.Insights/metricAlerts/beta-pg-cpu-warning",
        planes[1].azure.resource_group
    );
    m.edit(&rule, json!({"properties": {"severity": 4}}))
        .unwrap();
    let b2 = pass(&arm, &planes[1], &b).await;
    let b3 = pass(&arm, &planes[1], &b2.status).await;
    assert_eq!(
        b2.writes + b3.writes,
        1,
        "corrected within two passes: {:#?}",
        b3.status.drift
    );
}

#[tokio::test]
async fn due_planes_run_by_priority_a_changed_spec_first() {
    use engram_operator::sources::folder::{Folder, FolderOptions};
    let m = mock().await;
    let dir = tempfile::tempdir().unwrap();
    for name in ["alpha", "beta", "gamma"] {
        std::fs::write(
            dir.path().join(format!("{name}.yaml")),
            tenants::plane_yaml(name, SUB, None),
        )
        .unwrap();
    }
    let mut opts = FolderOptions::new(dir.path());
    opts.concurrency = 1;
    opts.fast_sweep = Duration::ZERO;
    let mut folder = Folder::new(Arc::new(arm(&m)), opts);
    folder.scan().unwrap();
    for _ in 0..30 {
        folder.force_due();
        folder.pass().await.unwrap();
        m.advance(Duration::from_secs(60));
    }
    assert_eq!(folder.report().0, 0, "{:#?}", folder.report().1);
    // gamma's spec changes (a parameter); then every plane is due at once, one at a time.
    let text = tenants::plane_yaml("gamma", SUB, None).replace(
        "  postgres:\n",
        "  postgres:\n    parameters:\n      work_mem: \"8192\"\n",
    );
    std::fs::write(dir.path().join("gamma.yaml"), text).unwrap();
    folder.scan().unwrap();
    folder.force_due();
    let before = m.journal().len();
    folder.pass().await.unwrap();
    let first = since(&m, before).into_iter().next().unwrap();
    let all = since(&m, before);
    assert!(
        first.contains("gamma"),
        "the changed spec went first: {:#?}",
        &all[..8]
    );
}

#[tokio::test(start_paused = true)]
async fn the_kubernetes_fast_tier_triggers_the_changed_plane_only() {
    use engram_operator::sources::kube_sweep::Sweeps;
    use kube::runtime::reflector::ObjectRef;
    let m = mock().await;
    // In process: no socket, so the paused clock moves only when every task waits.
    let arm: Arc<dyn ArmApi> =
        Arc::new(engram_operator::azure::Arm::new(m.in_process_settings()).unwrap());
    let planes = [plane("alpha"), plane("beta")];
    let sweeps = Arc::new(Sweeps::new(SweepSource::Get, Duration::from_secs(60), None));
    for eff in &planes {
        let mut status = Default::default();
        loop {
            let out =
                engram_operator::reconcile::reconcile(arm.as_ref(), Ok(eff), &status, &ctx()).await;
            if out.settled {
                break;
            }
            status = out.status;
            m.advance(LRO);
        }
        let obj = ObjectRef::new(&eff.postgres.server_name).within("ns");
        let period = sweeps.passed(
            &eff.postgres.server_name,
            obj,
            eff,
            Default::default(),
            arm.clone(),
        );
        assert_eq!(period, Duration::from_secs(eff.resync_seconds));
    }
    let mut triggers = sweeps.clone().triggers(Arc::new(|_: &str| true));
    let edit = async {
        // After the first sweep (t = 60 s) has recorded both planes.
        tokio::time::sleep(Duration::from_secs(90)).await;
        m.edit(
            &server_id(&planes[1]),
            json!({"sku": {"name": "Standard_B2s"}}),
        )
        .unwrap();
    };
    let (_, first) = tokio::join!(edit, triggers.next());
    assert_eq!(first.unwrap().name, "beta-pg");
    // Not held (another shard's subscription): never read, never triggered.
    let quiet = sweeps.clone().triggers(Arc::new(|_: &str| false));
    let before = m.journal().len();
    let none = tokio::time::timeout(Duration::from_secs(300), quiet.into_future()).await;
    assert!(none.is_err(), "nothing to trigger");
    assert_eq!(m.journal().len(), before, "and nothing read");
}

#[test]
fn the_benchmark_converges_without_a_429_and_detects_a_portal_edit() {
    use engram_operator::bench::reconcile::{run, ReconcileArgs};
    let args = ReconcileArgs {
        planes: 6,
        subscriptions: 2,
        sweep: SweepSource::Get,
        fast_sweep: 60,
        graph_lag: 30,
        concurrency: 4,
        seed: 3,
        json: true,
    };
    let report: serde_json::Value = serde_json::from_str(&run(&args).unwrap()).unwrap();
    assert_eq!(report["throttled"], 0, "{report:#}");
    let converge = &report["converge"];
    assert!(
        converge["ratio"].as_f64().unwrap() >= 1.0,
        "no faster than the floor: {report:#}"
    );
    assert!(converge["writesPerPlane"].as_f64().unwrap() > 5.0);
    let detect = report["driftDetectionSeconds"].as_f64().unwrap();
    assert!(
        detect > 0.0 && detect <= 2.0 * 60.0 + 1.0,
        "the fast tier finds it within two sweeps: {report:#}"
    );
    assert_eq!(report["fastSweepReads"], 6 * 2 + 2, "{report:#}");
    // The same seed, the same virtual figures.
    let again: serde_json::Value = serde_json::from_str(&run(&args).unwrap()).unwrap();
    assert_eq!(again["converge"]["seconds"], converge["seconds"]);
    assert_eq!(
        again["driftDetectionSeconds"],
        report["driftDetectionSeconds"]
    );
}
