//! Write-ahead intent of creates (docs/crash-safety.md): the intent is persisted before the create
//! PUT and replaced by the pending operation once ARM accepts it; a pass that finds an intent and
//! no resource holds the create back until the kind's window has passed; a refusal clears the
//! intent, an ambiguous answer keeps it. Kubernetes mode: a pass dropped right after ARM accepted
//! the create does not create again. All on the mock's virtual clock.

use crate::support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use engram_operator::api::status::CreateIntent;
use engram_operator::api::{EngramDataPlane, EngramDataPlaneStatus};
use engram_operator::azure::{ArmApi, ArmError, OpState, Stats, Submitted};
use engram_operator::mock_arm::{FaultKind, FaultSpec, MockArm};
use engram_operator::plan::{Observed, ObservedServer, Op};
use engram_operator::reconcile::intent::{CheckpointError, Intents, StatusSink, Windows};
use engram_operator::reconcile::{self, conditions, Context};
use support::*;

const SERVER: &str = "/flexibleServers/acme-dev-pg";
const ACCOUNT: &str = "/storageAccounts/acmeengramdev";

/// Create PUTs (a PUT of the server or the account itself) in the journal.
fn creates(m: &MockArm) -> usize {
    m.journal()
        .iter()
        .filter(|e| e.method == "PUT" && (e.path.ends_with(SERVER) || e.path.ends_with(ACCOUNT)))
        .count()
}

/// Keeps every status checkpointed, with the number of create PUTs ARM had seen at that moment.
struct Recorder {
    m: Arc<MockArm>,
    seen: Mutex<Vec<(EngramDataPlaneStatus, usize)>>,
}

#[async_trait::async_trait]
impl StatusSink for Recorder {
    async fn checkpoint(&self, status: &EngramDataPlaneStatus) -> Result<(), CheckpointError> {
        let n = creates(&self.m);
        self.seen.lock().unwrap().push((status.clone(), n));
        Ok(())
    }
}

fn resources(list: &[CreateIntent]) -> Vec<&str> {
    list.iter().map(|i| i.resource.as_str()).collect()
}

fn pending(s: &EngramDataPlaneStatus) -> Vec<&str> {
    s.pending_operations
        .iter()
        .map(|p| p.resource.as_str())
        .collect()
}

/// A first pass over nothing, every checkpoint recorded: the outcome and the checkpoints.
async fn first_pass(m: &Arc<MockArm>) -> (reconcile::Outcome, Vec<(EngramDataPlaneStatus, usize)>) {
    let rec = Arc::new(Recorder {
        m: m.clone(),
        seen: Mutex::new(Vec::new()),
    });
    let c = Context {
        intents: Intents {
            windows: Windows::default(),
            sink: Some(rec.clone()),
        },
        ..ctx()
    };
    let out = reconcile::reconcile(&arm(m), Ok(&dev()), &Default::default(), &c).await;
    let seen = rec.seen.lock().unwrap().clone();
    (out, seen)
}

#[tokio::test]
async fn the_intent_is_persisted_before_the_create_and_becomes_its_operation_once_accepted() {
    let m = Arc::new(mock().await);
    let (out, seen) = first_pass(&m).await;
    let steps: Vec<(Vec<&str>, Vec<&str>, usize)> = seen
        .iter()
        .map(|(s, n)| (resources(&s.create_intents), pending(s), *n))
        .collect();
    let (pg, st) = ("postgres/acme-dev-pg", "storage/acmeengramdev");
    assert_eq!(
        steps,
        vec![
            (vec![pg], vec![], 0),
            (vec![], vec![pg], 1),
            (vec![st], vec![pg], 1),
            (vec![], vec![pg, st], 2),
        ],
        "each create: intent first, then its operation"
    );
    assert_eq!(
        seen[0].0.create_intents[0].kind,
        "Microsoft.DBforPostgreSQL/flexibleServers"
    );
    assert!(seen[0].0.create_intents[0].id.ends_with(SERVER));
    assert!(out.status.create_intents.is_empty());
    assert_eq!(pending(&out.status), [pg, st]);
}

#[tokio::test]
async fn a_pass_that_lost_the_answer_holds_the_create_until_the_resource_shows() {
    let m = Arc::new(mock().await);
    let arm = arm(&m);
    let (_, seen) = first_pass(&m).await;
    // Stopped after ARM accepted the account's create, before that was persisted: what the
    // restarted operator reads is the intent.
    let persisted = seen[2].0.clone();
    assert_eq!(
        resources(&persisted.create_intents),
        ["storage/acmeengramdev"]
    );
    assert_eq!(creates(&m), 2);

    let held = pass(&arm, &dev(), &persisted).await;
    assert_eq!(creates(&m), 2, "no second create while it may be running");
    assert_eq!(
        resources(&held.status.create_intents),
        ["storage/acmeengramdev"]
    );
    let progressing = conditions::get(&held.status.conditions, conditions::PROGRESSING).unwrap();
    assert_eq!(progressing.status, "True");
    assert!(
        progressing
            .message
            .contains("storage/acmeengramdev: a create recorded at")
            && progressing.message.contains("not visible in Azure yet"),
        "{}",
        progressing.message
    );
    // The name check says the account's name is taken (by this very create): no refusal.
    assert!(held.status.errors.is_empty(), "{:?}", held.status.errors);
    assert!(held
        .requeue_after
        .is_some_and(|d| d < Duration::from_secs(60)));
    assert!(!held.settled);

    // The create ends: the account shows, the intent is cleared, nothing was sent twice.
    m.advance(LRO);
    let shown = pass(&arm, &dev(), &held.status).await;
    assert!(shown.status.create_intents.is_empty());
    assert!(shown.status.storage.is_some());
    assert_eq!(creates(&m), 2);
}

/// An intent recorded for a create that never reached ARM (stopped between the two).
fn intent_at(c: &Context, secs_ago: i64) -> EngramDataPlaneStatus {
    let eff = dev();
    EngramDataPlaneStatus {
        create_intents: vec![CreateIntent {
            resource: "postgres/acme-dev-pg".into(),
            kind: "Microsoft.DBforPostgreSQL/flexibleServers".into(),
            id: server_id(&eff),
            recorded_at: reconcile::status::rfc3339(c.now - time::Duration::seconds(secs_ago)),
        }],
        ..Default::default()
    }
}

#[tokio::test]
async fn the_create_is_sent_again_only_once_its_window_has_passed() {
    let window = reconcile::intent::POSTGRES_CREATE_WINDOW.as_secs() as i64;
    let m = mock().await;
    let arm = arm(&m);
    let c = ctx();
    let inside = reconcile::reconcile(&arm, Ok(&dev()), &intent_at(&c, window - 60), &c).await;
    let server_puts = |m: &MockArm| {
        m.journal()
            .iter()
            .filter(|e| e.method == "PUT" && e.path.ends_with(SERVER))
            .count()
    };
    assert_eq!(server_puts(&m), 0, "inside the window: held");
    assert_eq!(inside.status.create_intents.len(), 1);

    let after = reconcile::reconcile(&arm, Ok(&dev()), &intent_at(&c, window + 1), &c).await;
    assert_eq!(
        server_puts(&m),
        1,
        "past the window with nothing in Azure: sent"
    );
    assert!(after.status.create_intents.is_empty());
    assert!(pending(&after.status).contains(&"postgres/acme-dev-pg"));
    assert!(
        after
            .status
            .notes
            .iter()
            .any(|n| n.contains("left no resource within its 30 min window")),
        "{:?}",
        after.status.notes
    );
}

#[tokio::test]
async fn a_refused_create_clears_its_intent_and_an_ambiguous_answer_keeps_it() {
    let m = mock().await;
    let arm = arm(&m);
    let status = |status: u16, code: &str| FaultKind::Status {
        status,
        code: code.into(),
        message: "injected".into(),
    };
    m.inject_fault(FaultSpec::new(
        "PUT",
        &format!("*{SERVER}"),
        status(400, "InvalidParameter"),
    ))
    .unwrap();
    m.inject_fault(FaultSpec::new(
        "PUT",
        &format!("*{ACCOUNT}"),
        status(409, "Conflict"),
    ))
    .unwrap();
    let out = pass(&arm, &dev(), &Default::default()).await;
    // 400: ARM refused, nothing is running. 409 on an absent account: someone's create may be.
    assert_eq!(
        resources(&out.status.create_intents),
        ["storage/acmeengramdev"]
    );
    assert!(out.status.pending_operations.is_empty());
}

/// Forwards to the mock; once ARM accepted the server's create it never answers: the pass is
/// stuck right after the accept, where the test drops it (the operator killed there).
struct StallAfterCreate {
    inner: Arm,
    accepted: tokio::sync::Notify,
}

#[async_trait::async_trait]
impl ArmApi for StallAfterCreate {
    async fn observe(
        &self,
        eff: &engram_operator::api::EffectiveSpec,
    ) -> Result<Observed, ArmError> {
        self.inner.observe(eff).await
    }
    async fn get_server(
        &self,
        eff: &engram_operator::api::EffectiveSpec,
        name: &str,
    ) -> Result<Option<ObservedServer>, ArmError> {
        self.inner.get_server(eff, name).await
    }
    async fn submit(&self, op: &Op) -> Result<Submitted, ArmError> {
        let sub = self.inner.submit(op).await?;
        if matches!(op, Op::PgCreate(..)) {
            self.accepted.notify_one();
            std::future::pending::<()>().await;
        }
        Ok(sub)
    }
    async fn poll(&self, operation_url: &str) -> Result<OpState, ArmError> {
        self.inner.poll(operation_url).await
    }
    async fn graph_resources(&self, ids: &[String]) -> Result<Vec<serde_json::Value>, ArmError> {
        self.inner.graph_resources(ids).await
    }
    fn stats(&self) -> &Stats {
        self.inner.stats()
    }
}

use engram_operator::azure::Arm;

fn kube_ctx(
    client: &kube::Client,
    arm: Arc<dyn ArmApi>,
) -> Arc<engram_operator::sources::kube::Ctx> {
    Arc::new(support::kube_ctx(client, arm))
}

#[tokio::test]
async fn a_kube_pass_dropped_after_the_accept_does_not_create_again() {
    use engram_operator::sources::kube::reconcile as kube_reconcile;
    use kube::api::{Api, PostParams};
    let (_kube, client) = kube_cluster(&["engram"]).await;
    let m = mock().await;
    let text = std::fs::read_to_string("examples/dev.yaml").expect("example");
    let plane: EngramDataPlane = serde_saphyr::from_str(&text).expect("parses");
    let api: Api<EngramDataPlane> = Api::namespaced(client.clone(), "engram");
    api.create(&PostParams::default(), &plane)
        .await
        .expect("plane");
    let get = || async { api.get("acme-dev").await.expect("plane") };

    // The first pass adds the finalizer; the second is stopped right after ARM's 202.
    let stalling = Arc::new(StallAfterCreate {
        inner: arm(&m),
        accepted: tokio::sync::Notify::new(),
    });
    kube_reconcile(Arc::new(get().await), kube_ctx(&client, stalling.clone()))
        .await
        .expect("finalizer pass");
    let stuck = kube_reconcile(Arc::new(get().await), kube_ctx(&client, stalling.clone()));
    tokio::select! {
        _ = stuck => panic!("the pass was to stall after the create"),
        _ = stalling.accepted.notified() => {}
    }
    let left = get().await.status.expect("the intent was written");
    assert_eq!(resources(&left.create_intents), ["postgres/acme-dev-pg"]);
    assert!(left.pending_operations.is_empty());
    assert_eq!(m.writes_to(&server_id(&dev())), 1);

    // Restarted: the server is still being created (GET 404): held, not created again.
    let real: Arc<dyn ArmApi> = Arc::new(arm(&m));
    kube_reconcile(Arc::new(get().await), kube_ctx(&client, real.clone()))
        .await
        .expect("pass");
    assert_eq!(m.writes_to(&server_id(&dev())), 1, "no second create");
    let held = get().await.status.expect("status");
    assert_eq!(resources(&held.create_intents), ["postgres/acme-dev-pg"]);
    let ready = conditions::get(&held.conditions, conditions::READY).unwrap();
    assert_eq!(ready.reason, "Progressing", "{}", ready.message);

    // The create ends: the server shows and the intent is cleared.
    m.advance(LRO);
    kube_reconcile(Arc::new(get().await), kube_ctx(&client, real))
        .await
        .expect("pass");
    let done = get().await.status.expect("status");
    assert!(done.create_intents.is_empty(), "{:?}", done.create_intents);
    assert!(done.postgres.is_some());
    assert_eq!(
        m.journal()
            .iter()
            .filter(|e| e.method == "PUT" && e.path.ends_with(SERVER))
            .count(),
        1
    );
}
