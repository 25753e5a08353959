//! Reading an `EngramDataPlane` document from YAML text: type errors and unknown fields are
//! reported with their field path, like validation errors. No I/O here: callers read the file.

use super::effective::{resolve, EffectiveSpec};
use super::spec::EngramDataPlane;
use super::validate::FieldError;

/// The apiVersion a document must carry.
pub const API_VERSION: &str = "engram.zimax.net/v1alpha1";
/// The kind a document must carry.
pub const KIND: &str = "EngramDataPlane";

/// Parse one YAML document into the custom resource, reporting unknown fields as errors.
pub fn parse(text: &str) -> Result<EngramDataPlane, Vec<FieldError>> {
    let value: serde_json::Value = serde_saphyr::from_str(text).map_err(|e| {
        vec![FieldError::new(
            "(document)",
            format!("not valid YAML: {e}"),
        )]
    })?;
    let mut errors = Vec::new();
    for (field, want) in [("apiVersion", API_VERSION), ("kind", KIND)] {
        let got = value
            .get(field)
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        if got != want {
            errors.push(FieldError::new(
                field,
                format!("must be {want}, found {got:?}"),
            ));
        }
    }
    let mut unknown = Vec::new();
    let mut on_unknown = |path: serde_ignored::Path<'_>| unknown.push(path.to_string());
    let ignored = serde_ignored::Deserializer::new(&value, &mut on_unknown);
    let parsed: Result<EngramDataPlane, _> = serde_path_to_error::deserialize(ignored);
    for path in unknown {
        // apiVersion and kind are checked above; status is written by the operator; anything else
        // unknown is most likely a typo.
        let top = path.split('.').next().unwrap_or_default();
        if !matches!(top, "apiVersion" | "kind" | "status") {
            errors.push(FieldError::new(
                path,
                "unknown field (check the spelling against `engram-operator crd`)",
            ));
        }
    }
    match parsed {
        Ok(resource) => {
            if resource
                .metadata
                .name
                .as_deref()
                .unwrap_or_default()
                .is_empty()
            {
                errors.push(FieldError::new("metadata.name", "is required"));
            }
            if errors.is_empty() {
                Ok(resource)
            } else {
                Err(errors)
            }
        }
        Err(e) => {
            let path = e.path().to_string();
            errors.push(FieldError::new(
                if path == "." {
                    "(document)".into()
                } else {
                    path
                },
                e.into_inner().to_string(),
            ));
            Err(errors)
        }
    }
}

/// Parse and resolve: the resource and its effective spec, or every error found.
pub fn load(text: &str) -> Result<(EngramDataPlane, EffectiveSpec), Vec<FieldError>> {
    let resource = parse(text)?;
    let effective = resolve(&resource.spec)?;
    Ok((resource, effective))
}
