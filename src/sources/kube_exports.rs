//! `spec.exports.configMap`: the connection details of a Ready plane in a ConfigMap of its
//! namespace, owned by the plane (ownerReferences, controller: true, so it is garbage-collected
//! with it). It is read first and written (server-side apply, field manager `engram-operator`)
//! only when a value or the owner reference differs: a write per pass would be a watch event per
//! pass for every consumer of the ConfigMap.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};

use super::kube::{KubeError, FIELD_MANAGER};
use crate::api::EngramDataPlane;

/// True when the ConfigMap as it is (None: absent) differs from `data` in an export key (see
/// [`crate::plan::exports::differs`]) or does not name `owner` as its controller.
pub fn needs_write(
    existing: Option<&ConfigMap>,
    data: &BTreeMap<String, String>,
    owner: &OwnerReference,
) -> bool {
    let Some(cm) = existing else {
        return true;
    };
    let empty = BTreeMap::new();
    let values_differ = crate::plan::exports::differs(cm.data.as_ref().unwrap_or(&empty), data);
    let owned = cm
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|r| r.uid == owner.uid && r.controller == Some(true));
    values_differ || !owned
}

/// The apply body: name, owner reference, the managed-by label and the data.
fn body(
    name: &str,
    namespace: &str,
    owner: &OwnerReference,
    data: &BTreeMap<String, String>,
) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": FIELD_MANAGER},
            "ownerReferences": [owner],
        },
        "data": data,
    })
}

/// Write the plane's exports into ConfigMap `name` when they changed. True when written.
pub async fn publish(
    client: &kube::Client,
    plane: &EngramDataPlane,
    name: &str,
    data: &BTreeMap<String, String>,
) -> Result<bool, KubeError> {
    let ns = plane.namespace().ok_or(KubeError::Unnamed)?;
    let owner = plane.controller_owner_ref(&()).ok_or(KubeError::Unnamed)?;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let existing = api.get_opt(name).await?;
    if !needs_write(existing.as_ref(), data, &owner) {
        return Ok(false);
    }
    api.patch(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&body(name, &ns, &owner, data)),
    )
    .await?;
    tracing::info!(plane = %plane.name_any(), configmap = %name, keys = data.len(), "exports written");
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(uid: &str) -> OwnerReference {
        OwnerReference {
            api_version: "engram.zimax.net/v1alpha1".into(),
            kind: "EngramDataPlane".into(),
            name: "acme-prod".into(),
            uid: uid.into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }

    fn data(host: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("PGHOST".to_owned(), host.to_owned()),
            ("PGPORT".to_owned(), "5432".to_owned()),
        ])
    }

    fn cm(data: BTreeMap<String, String>, owners: Vec<OwnerReference>) -> ConfigMap {
        let mut c = ConfigMap {
            data: Some(data),
            ..Default::default()
        };
        c.metadata.owner_references = Some(owners);
        c
    }

    #[test]
    fn written_when_absent_changed_or_not_owned_and_only_then() {
        let me = owner("u1");
        assert!(needs_write(None, &data("a"), &me));
        assert!(!needs_write(
            Some(&cm(data("a"), vec![me.clone()])),
            &data("a"),
            &me
        ));
        assert!(needs_write(
            Some(&cm(data("b"), vec![me.clone()])),
            &data("a"),
            &me
        ));
        let mut fewer = data("a");
        fewer.remove("PGPORT");
        assert!(needs_write(
            Some(&cm(fewer.clone(), vec![me.clone()])),
            &data("a"),
            &me
        ));
        assert!(needs_write(
            Some(&cm(data("a"), vec![me.clone()])),
            &fewer,
            &me
        ));
        assert!(needs_write(
            Some(&cm(data("a"), vec![owner("u2")])),
            &data("a"),
            &me
        ));
        // A key someone else added is theirs: no write for it.
        let mut more = data("a");
        more.insert("EXTRA".into(), "x".into());
        assert!(!needs_write(
            Some(&cm(more, vec![me.clone()])),
            &data("a"),
            &me
        ));
    }
}
