//! The `EngramDataPlane` API: spec and status types (the CRD), environment profiles, the effective
//! spec, validation and loading from YAML.

pub mod azure;
pub mod costs;
pub mod database;
pub mod effective;
pub mod exports;
pub mod load;
pub mod network;
pub mod pg_parameters;
pub mod profiles;
pub mod scaling;
pub mod spec;
pub mod status;
pub mod status_azure;
pub mod status_database;
pub mod validate;

pub use effective::{resolve, EffectiveSpec};
pub use load::{load, parse};
pub use profiles::Environment;
pub use spec::{EngramDataPlane, EngramDataPlaneSpec};
pub use status::{EngramDataPlaneStatus, KeyConsumer, KeyRotation};
pub use validate::FieldError;

use kube::CustomResourceExt;

/// The CRD as YAML, exactly as committed in crds/engramdataplane.yaml.
pub fn crd_yaml() -> Result<String, crate::Error> {
    serde_saphyr::to_string(&EngramDataPlane::crd()).map_err(|e| crate::Error::Yaml(e.to_string()))
}

/// A data plane rendered with its effective spec, as a full document.
pub fn render_yaml(
    resource: &EngramDataPlane,
    effective: &EffectiveSpec,
) -> Result<String, crate::Error> {
    let mut out = EngramDataPlane::new(
        resource.metadata.name.as_deref().unwrap_or_default(),
        effective.to_spec(),
    );
    out.metadata = resource.metadata.clone();
    serde_saphyr::to_string(&out).map_err(|e| crate::Error::Yaml(e.to_string()))
}
