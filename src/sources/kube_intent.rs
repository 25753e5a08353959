//! Kubernetes mode's mid-pass status write (the write-ahead intent of a create,
//! `reconcile::intent`): the status subresource, patched as at the end of a pass, by the leader
//! only.

use std::sync::Mutex;

use kube::api::Api;

use super::kube::patch_status;
use super::leader::LeaderGate;
use crate::api::{EngramDataPlane, EngramDataPlaneStatus};
use crate::reconcile::intent::{CheckpointError, StatusSink};

/// Patches one object's status mid-pass; remembers what it wrote, so that the end of the pass
/// compares against what the object now carries.
pub struct KubeSink {
    api: Api<EngramDataPlane>,
    name: String,
    gate: LeaderGate,
    /// The status the pass started from.
    base: EngramDataPlaneStatus,
    last: Mutex<Option<EngramDataPlaneStatus>>,
}

impl KubeSink {
    pub fn new(
        api: Api<EngramDataPlane>,
        name: &str,
        gate: LeaderGate,
        base: EngramDataPlaneStatus,
    ) -> Self {
        Self {
            api,
            name: name.to_owned(),
            gate,
            base,
            last: Mutex::new(None),
        }
    }

    /// The status the object carries now: the last one written mid-pass, else the one the pass
    /// started from.
    pub fn current(&self) -> EngramDataPlaneStatus {
        self.last
            .lock()
            .ok()
            .and_then(|l| l.clone())
            .unwrap_or_else(|| self.base.clone())
    }
}

#[async_trait::async_trait]
impl StatusSink for KubeSink {
    async fn checkpoint(&self, status: &EngramDataPlaneStatus) -> Result<(), CheckpointError> {
        if !self.gate.is_leader() {
            return Err(CheckpointError("not the leader".into()));
        }
        patch_status(&self.api, &self.name, &self.current(), status)
            .await
            .map_err(|e| CheckpointError(e.to_string()))?;
        if let Ok(mut last) = self.last.lock() {
            *last = Some(status.clone());
        }
        Ok(())
    }
}
