//! Long-running operations as real ARM runs them: a configuration write sent while the server is
//! updating is accepted and its operation then fails with ServerIsBusy (real traffic, PG 19 → 29);
//! such transient failures are retried, not fatal. Operation URLs may name the location by its
//! display name, URL-encoded. A pending operation ARM no longer knows, or one older than
//! `max_operation_age`, is dropped and its resource observed afresh.

use crate::support;

use std::time::Duration;

use engram_operator::api::status::PendingOperation;
use engram_operator::api::EngramDataPlaneStatus;
use engram_operator::azure::{ArmApi, OpState};
use engram_operator::reconcile::{self, Context};
use support::*;

/// The race Azure shows in real traffic: between our GET (server Ready) and our configuration
/// PUT, someone else starts a server update (a portal scale). Azure accepts the PUT and fails its
/// operation with ServerIsBusy.
struct PortalRace {
    arm: engram_operator::azure::Arm,
    server_url: String,
    token: String,
    fired: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl ArmApi for PortalRace {
    async fn observe(
        &self,
        eff: &engram_operator::api::EffectiveSpec,
    ) -> Result<engram_operator::plan::Observed, engram_operator::azure::ArmError> {
        self.arm.observe(eff).await
    }
    async fn get_server(
        &self,
        eff: &engram_operator::api::EffectiveSpec,
        name: &str,
    ) -> Result<Option<engram_operator::plan::ObservedServer>, engram_operator::azure::ArmError>
    {
        self.arm.get_server(eff, name).await
    }
    async fn submit(
        &self,
        op: &engram_operator::plan::Op,
    ) -> Result<engram_operator::azure::Submitted, engram_operator::azure::ArmError> {
        use std::sync::atomic::Ordering;
        if matches!(op, engram_operator::plan::Op::PgConfigure(..))
            && !self.fired.swap(true, Ordering::SeqCst)
        {
            let r = reqwest::Client::new()
                .patch(&self.server_url)
                .bearer_auth(&self.token)
                .json(&serde_json::json!({"properties": {"backup": {"backupRetentionDays": 30}}}))
                .send()
                .await
                .expect("portal edit");
            assert_eq!(r.status().as_u16(), 202, "the portal's update started");
        }
        self.arm.submit(op).await
    }
    async fn poll(&self, url: &str) -> Result<OpState, engram_operator::azure::ArmError> {
        self.arm.poll(url).await
    }
    async fn graph_resources(
        &self,
        ids: &[String],
    ) -> Result<Vec<serde_json::Value>, engram_operator::azure::ArmError> {
        self.arm.graph_resources(ids).await
    }
    fn stats(&self) -> &engram_operator::azure::Stats {
        self.arm.stats()
    }
}

#[tokio::test]
async fn a_configuration_write_accepted_then_failed_server_is_busy_still_converges() {
    let m = mock().await;
    let mut eff = prod();
    let out = converge(&m, &arm(&m), &eff, EngramDataPlaneStatus::default()).await;
    assert!(out.ready(), "{:?}", out.status.errors);

    eff.postgres
        .parameters
        .insert("log_min_duration_statement".into(), "500".into());
    let racing = PortalRace {
        arm: arm(&m),
        server_url: format!("{}{}?api-version=2024-08-01", m.base_url(), server_id(&eff)),
        token: m.token().to_owned(),
        fired: Default::default(),
    };
    let mut status = out.status;
    let mut busy_seen = false;
    let mut fatal_seen = false;
    let mut ready_at_end = false;
    for _ in 0..20 {
        let out = reconcile::reconcile(&racing, Ok(&eff), &status, &ctx()).await;
        busy_seen |= out.status.notes.iter().any(|n| n.contains("ServerIsBusy"));
        fatal_seen |= out.fatal;
        let (settled, ready) = (out.settled, out.ready());
        status = out.status;
        if settled {
            ready_at_end = ready;
            break;
        }
        m.advance(LRO);
    }
    assert!(busy_seen, "accepted, then ServerIsBusy, as Azure does");
    assert!(!fatal_seen, "a transient operation failure is not fatal");
    assert!(ready_at_end, "{:?}", status.errors);
    let cfg = format!(
        "{}{}/configurations/log_min_duration_statement?api-version=2024-08-01",
        m.base_url(),
        server_id(&eff)
    );
    let body: serde_json::Value = reqwest::Client::new()
        .get(&cfg)
        .bearer_auth(m.token())
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(
        body["properties"]["value"], "500",
        "the parameter was applied in the end"
    );
}

#[tokio::test]
async fn a_delete_operation_url_with_a_display_name_location_is_polled_to_the_end() {
    let m = mock().await;
    let arm = arm(&m);
    let eff = prod();
    let out = converge(&m, &arm, &eff, EngramDataPlaneStatus::default()).await;
    assert!(out.ready());
    let url = format!("{}{}?api-version=2024-08-01", m.base_url(), server_id(&eff));
    let rsp = reqwest::Client::new()
        .delete(&url)
        .bearer_auth(m.token())
        .send()
        .await
        .expect("delete sent");
    assert_eq!(rsp.status().as_u16(), 202);
    let op = rsp
        .headers()
        .get("azure-asyncoperation")
        .and_then(|v| v.to_str().ok())
        .expect("operation url")
        .to_owned();
    assert!(op.contains("/locations/East%20US%202/"), "{op}");
    assert!(matches!(arm.poll(&op).await, Ok(OpState::Running(_))));
    m.advance(LRO);
    assert_eq!(arm.poll(&op).await, Ok(OpState::Succeeded));
}

fn stale(resource: &str, url: String, started_at: &str) -> EngramDataPlaneStatus {
    EngramDataPlaneStatus {
        pending_operations: vec![PendingOperation {
            resource: resource.into(),
            action: "update".into(),
            operation_url: url,
            started_at: started_at.into(),
        }],
        ..Default::default()
    }
}

#[tokio::test]
async fn an_operation_arm_no_longer_knows_is_dropped_and_the_plane_moves_on() {
    let m = mock().await;
    let arm = arm(&m);
    let eff = prod();
    let gone = format!(
        "{}/subscriptions/{SUB}/providers/Microsoft.DBforPostgreSQL/locations/eastus2/azureAsyncOperation/00000000-dead-beef-0000-000000000000?api-version=2024-08-01",
        m.base_url()
    );
    let c = ctx();
    let prev = stale("postgres/acme-prod-pg", gone, &rfc3339(c.now));
    let out = reconcile::reconcile(&arm, Ok(&eff), &prev, &c).await;
    assert!(!out.fatal);
    assert!(
        out.status
            .pending_operations
            .iter()
            .all(|p| !p.operation_url.contains("dead-beef")),
        "dropped"
    );
    assert!(
        out.status
            .notes
            .iter()
            .any(|n| n.contains("observed afresh")),
        "{:?}",
        out.status.notes
    );
    assert!(out.writes > 0, "the plane is not blocked: creates went out");
}

#[tokio::test]
async fn an_operation_older_than_the_maximum_age_is_dropped_without_a_poll() {
    let m = mock().await;
    let arm = arm(&m);
    let eff = prod();
    let url = format!(
        "{}/subscriptions/{SUB}/providers/Microsoft.DBforPostgreSQL/locations/eastus2/azureAsyncOperation/11111111-0000-0000-0000-000000000000?api-version=2024-08-01",
        m.base_url()
    );
    let c = Context {
        max_operation_age: Duration::from_secs(2 * 3600),
        ..ctx()
    };
    let three_hours_ago = c.now - time::Duration::hours(3);
    let prev = stale("postgres/acme-prod-pg", url, &rfc3339(three_hours_ago));
    let before = m.journal().len();
    let out = reconcile::reconcile(&arm, Ok(&eff), &prev, &c).await;
    assert!(
        m.journal()[before..]
            .iter()
            .all(|e| !e.path.contains("azureAsyncOperation")),
        "not polled"
    );
    assert!(out
        .status
        .notes
        .iter()
        .any(|n| n.contains("dropped after 180 min")));
    assert!(out.writes > 0);
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("time")
}

/// A create of ours in flight is invisible (404) until it completes and its name is taken by it:
/// the next pass must not refuse the plane for a taken name (mock-kube's real watch showed a
/// Warning `Refused ... AlreadyExists` for every new plane).
#[tokio::test]
async fn a_create_in_flight_is_not_refused_for_its_own_name() {
    let m = mock().await;
    let arm = arm(&m);
    let eff = prod();
    let first = pass(&arm, &eff, &EngramDataPlaneStatus::default()).await;
    assert!(first.writes > 0 && !first.status.pending_operations.is_empty());
    let second = pass(&arm, &eff, &first.status).await;
    assert!(
        second.status.errors.is_empty(),
        "{:?}",
        second.status.errors
    );
    assert_eq!(second.writes, 0, "nothing sent twice");
}
