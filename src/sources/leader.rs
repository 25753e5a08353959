//! Leader election on a coordination.k8s.io Lease: every replica watches, only the leader writes to
//! ARM or to status. The engine asks the gate before every write, so a lost lease stops writes at
//! once (not at the end of a reconcile).

use std::sync::Arc;

use kube_lease_manager::{LeaseManagerBuilder, LeaseParams};
use tokio::sync::watch;

use crate::telemetry::metrics::Metrics;

/// Name of the Lease the replicas compete for.
pub const LEASE_NAME: &str = "engram-operator-leader";
/// Lease duration and grace (seconds): a dead leader is replaced within ~30 s.
const LEASE_SECONDS: u64 = 30;
const GRACE_SECONDS: u64 = 5;

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
}

/// Errors of the election.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    /// The Lease could not be created or read.
    #[error("leader election: {0}")]
    Lease(#[from] kube_lease_manager::LeaseManagerError),
}

/// Join the election for `namespace`'s Lease as `identity` (the pod name). Returns the gate; the
/// election runs in the background and keeps the `engram_leader` gauge current.
pub async fn elect(
    client: kube::Client,
    namespace: &str,
    identity: &str,
    metrics: Arc<Metrics>,
) -> Result<LeaderGate, LeaderError> {
    let manager = LeaseManagerBuilder::new(client, LEASE_NAME)
        .with_namespace(namespace)
        .with_parameters(LeaseParams::new(identity, LEASE_SECONDS, GRACE_SECONDS))
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
