//! Patches: JSON merge patch (RFC 7396), JSON Patch (RFC 6902, in `jsonpatch`) and, on built-in
//! types only, strategic merge patch applied as a merge patch (lists are replaced, `$patch`
//! directives are not understood). Custom resources refuse strategic merge, as the real server
//! does.

use serde_json::Value;

use super::errors::KubeError;

/// The patch kinds, from the request's Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    Merge,
    StrategicMerge,
    Json,
}

impl PatchKind {
    pub fn from_content_type(ct: &str) -> Result<Self, KubeError> {
        match ct.split(';').next().unwrap_or_default().trim() {
            "application/merge-patch+json" => Ok(Self::Merge),
            "application/strategic-merge-patch+json" => Ok(Self::StrategicMerge),
            "application/json-patch+json" => Ok(Self::Json),
            _ => Err(KubeError::UnsupportedMediaType(
                "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml".into(),
            )),
        }
    }
}

/// RFC 7396: objects merge key by key, `null` removes, anything else replaces.
pub fn merge(target: &mut Value, patch: &Value) {
    json_patch::merge(target, patch);
}

/// Apply a patch to a copy of `obj` (of a custom resource when `custom`).
pub fn apply(
    kind: PatchKind,
    custom: bool,
    obj: &Value,
    patch: &Value,
) -> Result<Value, KubeError> {
    match kind {
        PatchKind::Json => super::jsonpatch::apply(obj, patch),
        PatchKind::StrategicMerge if custom => Err(KubeError::UnsupportedMediaType(
            "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml".into(),
        )),
        PatchKind::Merge | PatchKind::StrategicMerge => {
            if !patch.is_object() {
                return Err(KubeError::BadRequest("a merge patch must be a JSON object".into()));
            }
            let mut out = obj.clone();
            merge(&mut out, patch);
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc7396() {
        let mut t = json!({"a": {"b": 1, "c": 2}, "l": [1, 2]});
        merge(&mut t, &json!({"a": {"b": null, "d": 3}, "l": [3]}));
        assert_eq!(t, json!({"a": {"c": 2, "d": 3}, "l": [3]}));
    }
}
