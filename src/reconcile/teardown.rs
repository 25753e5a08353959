//! Removing a data plane from Azure when its declaration is deleted (the finalizer's cleanup).
//! Under `deletion: retain` nothing is written. Under `delete` the storage account goes only when
//! no container holds a legal hold or a locked immutability policy; the refusal is reported and
//! nothing is written. PostgreSQL is left in place here (its deletion is not part of this step).

use crate::api::spec::Mode;
use crate::api::EffectiveSpec;
use crate::azure::{ArmApi, ArmError};
use crate::plan::{storage_account, Plan};

/// What a teardown pass did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Teardown {
    pub plan: Plan,
    pub writes: u32,
    /// Refusals and ARM errors, one line each.
    pub errors: Vec<String>,
}

impl Teardown {
    /// True when nothing is left to do and nothing was refused (the finalizer may be removed).
    pub fn done(&self) -> bool {
        self.errors.is_empty() && self.plan.actions.len() as u32 == self.writes
    }
}

/// Plan and (unless observe mode or `dry_run`) apply the storage teardown of one data plane.
pub async fn teardown(
    arm: &dyn ArmApi,
    eff: &EffectiveSpec,
    dry_run: bool,
) -> Result<Teardown, ArmError> {
    let observed = arm.observe(eff).await?;
    let plan = storage_account::teardown(eff, &observed.storage);
    let mut errors: Vec<String> = plan
        .refused
        .iter()
        .map(|r| format!("{} {}: refused: {}", r.resource, r.field, r.reason))
        .collect();
    let mut writes = 0;
    if eff.mode == Mode::Enforce && !dry_run {
        for a in &plan.actions {
            tracing::warn!(resource = %a.resource, action = %a.verb, "deleting (deletion: delete)");
            match arm.submit(&a.op).await {
                Ok(_) => writes += 1,
                Err(e) => errors.push(format!("{} {}: {e}", a.resource, a.verb)),
            }
        }
    }
    Ok(Teardown {
        plan,
        writes,
        errors,
    })
}
