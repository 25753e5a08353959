//! Leader election on a coordination.k8s.io Lease: every replica watches, only the leader writes to
//! ARM or to status. The engine asks the gate before every write, so a lost lease stops writes at
//! once (not at the end of a reconcile).

use std::sync::{Arc, Mutex};

use kube_lease_manager::{LeaseManagerBuilder, LeaseParams};
use tokio::sync::watch;

use crate::api::EffectiveSpec;
use crate::azure::{ArmApi, ArmError, OpState, Stats, Submitted};
use crate::plan::{Observed, Op};
use crate::telemetry::metrics::Metrics;

/// Name of the Lease the replicas compete for.
pub const LEASE_NAME: &str = "engram-operator-leader";

/// Whether this replica may write. Cheap to clone and to ask.
#[derive(Clone, Debug)]
pub struct LeaderGate {
    rx: watch::Receiver<bool>,
}

impl LeaderGate {
    /// A gate that is always open: a single replica (folder mode, tests).
    pub fn always() -> Self {
        let (_tx, rx) = watch::channel(true);
        Self { rx }
    }

    /// A gate driven by a channel (leader election, or tests that flip it).
    pub fn from_receiver(rx: watch::Receiver<bool>) -> Self {
        Self { rx }
    }

    /// True while this replica holds the lease.
    pub fn is_leader(&self) -> bool {
        *self.rx.borrow()
    }

    /// Wait until this replica becomes leader (returns at once if it is).
    pub async fn wait_until_leader(&mut self) {
        // An error means the election task ended; the gate then stays as it was.
        let _ = self.rx.wait_for(|leader| *leader).await;
    }

    /// Wait until leadership is `leader`; false when the election ended first.
    pub async fn wait_for(&mut self, leader: bool) -> bool {
        // Returns at once when the value already matches, even after the election ended.
        self.rx.wait_for(|l| *l == leader).await.is_ok()
    }
}

/// An [`ArmApi`] that asks the gate before every write: a lease lost in the middle of a reconcile
/// stops the next write at once. Reads and polls pass through. It also remembers which writes ARM
/// accepted in this pass (the Kubernetes front door turns them into Events).
pub struct GatedArm {
    inner: Arc<dyn ArmApi>,
    gate: LeaderGate,
    accepted: Mutex<Vec<Op>>,
}

impl GatedArm {
    pub fn new(inner: Arc<dyn ArmApi>, gate: LeaderGate) -> Self {
        Self {
            inner,
            gate,
            accepted: Mutex::new(Vec::new()),
        }
    }

    /// The writes ARM accepted through this wrapper, in order.
    pub fn accepted(&self) -> Vec<Op> {
        self.accepted.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

#[async_trait::async_trait]
impl ArmApi for GatedArm {
    async fn observe(&self, eff: &EffectiveSpec) -> Result<Observed, ArmError> {
        self.inner.observe(eff).await
    }

    async fn observe_all(&self, eff: &EffectiveSpec) -> Result<Observed, ArmError> {
        self.inner.observe_all(eff).await
    }

    async fn get_server(
        &self,
        eff: &EffectiveSpec,
        name: &str,
    ) -> Result<Option<crate::plan::ObservedServer>, ArmError> {
        self.inner.get_server(eff, name).await
    }

    async fn submit(&self, op: &Op) -> Result<Submitted, ArmError> {
        if !self.gate.is_leader() {
            // Transient for the engine: nothing is reported as an error, nothing is sent.
            return Err(ArmError::Busy(
                "leader lease not held: write withheld".into(),
            ));
        }
        let sub = self.inner.submit(op).await?;
        if let Ok(mut v) = self.accepted.lock() {
            v.push(op.clone());
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

/// Errors of the election.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    /// The Lease could not be created or read.
    #[error("leader election: {0}")]
    Lease(#[from] kube_lease_manager::LeaseManagerError),
}

/// Join the election for `namespace`'s Lease as `identity` (the pod name), with the Lease's
/// duration and renewal grace in seconds (`--lease-seconds`, `--lease-grace-seconds`: a dead leader
/// is replaced within their sum). Returns the gate; the election runs in the background and keeps
/// the `engram_leader` gauge current.
pub async fn elect(
    client: kube::Client,
    namespace: &str,
    identity: &str,
    (lease_seconds, grace_seconds): (u64, u64),
    metrics: Arc<Metrics>,
) -> Result<LeaderGate, LeaderError> {
    let manager = LeaseManagerBuilder::new(client, LEASE_NAME)
        .with_namespace(namespace)
        .with_parameters(LeaseParams::new(identity, lease_seconds, grace_seconds))
        .build()
        .await?;
    let (rx, _task) = manager.watch().await;
    let mut watch_rx = rx.clone();
    tokio::spawn(async move {
        loop {
            let leader = *watch_rx.borrow_and_update();
            metrics.set_leader(leader);
            tracing::info!(leader, "leadership changed");
            if watch_rx.changed().await.is_err() {
                metrics.set_leader(false);
                break;
            }
        }
    });
    Ok(LeaderGate::from_receiver(rx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn gate_follows_the_lease() {
        let (tx, rx) = watch::channel(false);
        let mut gate = LeaderGate::from_receiver(rx);
        assert!(!gate.is_leader());
        tx.send(true).unwrap();
        gate.wait_until_leader().await;
        assert!(gate.is_leader());
        tx.send(false).unwrap();
        assert!(!gate.is_leader(), "a lost lease closes the gate at once");
        assert!(LeaderGate::always().is_leader());
    }
}
