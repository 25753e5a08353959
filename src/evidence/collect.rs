//! Reading for the report: each plane observed through ARM and Key Vault exactly as `plan` does
//! (GETs only), by a client that records every read with its request id, then judged.

use time::OffsetDateTime;

use super::{controls, sections, PlaneReport, Report, CONTROL};
use crate::api::{EffectiveSpec, EngramDataPlaneStatus};
use crate::azure::{Arm, ArmApi, ArmSettings};

/// A data plane to report on.
#[derive(Clone, Debug)]
pub struct Plane {
    /// metadata.name (namespace/name in Kubernetes mode).
    pub name: String,
    pub eff: EffectiveSpec,
    /// Its status, when known.
    pub status: Option<EngramDataPlaneStatus>,
}

/// What else goes into the report.
#[derive(Clone, Debug, Default)]
pub struct Extras {
    /// The audit log's path and text, when given.
    pub audit_log: Option<(String, String)>,
    /// Whether a status source was given at all (folder: --status-dir; kube: always).
    pub status_given: bool,
}

/// Observe and judge one plane.
pub async fn plane(
    settings: &ArmSettings,
    p: &Plane,
    extras: &Extras,
    now: OffsetDateTime,
) -> Result<PlaneReport, String> {
    let arm = Arm::recording_reads(settings.clone()).map_err(|e| format!("ARM client: {e}"))?;
    let observed = arm
        .observe(&p.eff)
        .await
        .map_err(|e| format!("error reading Azure: {e}"))?;
    let reads = arm.reads();
    let status = p.status.as_ref().filter(|_| extras.status_given);
    let inputs = controls::Inputs {
        eff: &p.eff,
        observed: &observed,
        status,
        reads: &reads,
        now,
    };
    let controls = controls::evaluate(&inputs);
    let rotation_log = sections::RotationLog {
        status_given: status.is_some(),
        key_rotation: status.and_then(|s| s.key_rotation.clone()),
        audit_log: extras.audit_log.as_ref().map(|(path, _)| path.clone()),
        audit_lines: extras
            .audit_log
            .as_ref()
            .map(|(_, text)| sections::audit_lines_for(text, &p.name))
            .unwrap_or_default(),
    };
    Ok(PlaneReport {
        plane: p.name.clone(),
        environment: p.eff.environment.to_string(),
        controls,
        tde_manifest: sections::tde_manifest(&p.eff, &observed),
        encryption_metadata: sections::key_metadata(&p.eff, &observed),
        rotation_log,
        flow: sections::flow(&p.eff, &observed),
        requests: reads,
    })
}

/// Observe and judge every plane, one after the other; a plane that cannot be read is an error
/// line, and the others are still reported. `errors` are the planes that could not even be loaded.
pub async fn report(
    settings: &ArmSettings,
    planes: &[Plane],
    errors: Vec<String>,
    extras: &Extras,
    now: OffsetDateTime,
) -> Report {
    let mut out = Report {
        control: CONTROL.into(),
        generated_at: crate::plan::unix_rfc3339(now.unix_timestamp()),
        planes: Vec::new(),
        errors,
    };
    for p in planes {
        match plane(settings, p, extras, now).await {
            Ok(r) => out.planes.push(r),
            Err(e) => out.errors.push(format!("{}: {e}", p.name)),
        }
    }
    out
}
