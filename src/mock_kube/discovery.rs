//! Discovery: `/version`, `/api`, `/apis` and the group/version resource lists.
//!
//! Aggregated discovery (`apidiscovery.k8s.io/v2`) is not served: when the Accept header also
//! allows plain JSON (as kubectl's does) the legacy document is sent; when it allows only the
//! aggregated form, 406.

use serde_json::{json, Value};

use super::errors::KubeError;
use super::types::ResourceType;

/// `/version`.
pub fn version() -> Value {
    json!({
        "major": "1", "minor": "32", "gitVersion": "v1.32.0-mock-kube",
        "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23", "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// Refuse an Accept header that allows only aggregated discovery.
pub fn negotiate(accept: &str) -> Result<(), KubeError> {
    let plain = accept.is_empty()
        || accept.split(',').any(|m| {
            let m = m.trim();
            !m.contains("apidiscovery.k8s.io")
                && (m.starts_with("application/json") || m.starts_with("*/*"))
        });
    if plain {
        Ok(())
    } else {
        Err(KubeError::NotAcceptable("application/json".into()))
    }
}

/// `/api`.
pub fn core_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    })
}

/// `/apis`: every non-core group with its versions.
pub fn groups(types: &[ResourceType]) -> Value {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for t in types.iter().filter(|t| !t.group.is_empty()) {
        match groups.iter_mut().find(|(g, _)| *g == t.group) {
            Some((_, vs)) if !vs.contains(&t.version) => vs.push(t.version.clone()),
            Some(_) => {}
            None => groups.push((t.group.clone(), vec![t.version.clone()])),
        }
    }
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|(g, vs)| {
            let versions: Vec<Value> = vs
                .iter()
                .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                .collect();
            json!({"name": g, "versions": versions, "preferredVersion": versions[0]})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/{group}` (one group).
pub fn group(types: &[ResourceType], name: &str) -> Result<Value, KubeError> {
    let list = groups(types);
    let found = list["groups"]
        .as_array()
        .and_then(|gs| gs.iter().find(|g| g["name"] == name))
        .cloned()
        .ok_or(KubeError::NoRoute)?;
    let mut g = found;
    g["kind"] = json!("APIGroup");
    g["apiVersion"] = json!("v1");
    Ok(g)
}

/// `/api/v1` or `/apis/{group}/{version}`.
pub fn resources(types: &[ResourceType], group: &str, version: &str) -> Result<Value, KubeError> {
    let mine: Vec<&ResourceType> = types
        .iter()
        .filter(|t| t.group == group && t.version == version)
        .collect();
    let Some(first) = mine.first() else {
        return Err(KubeError::NoRoute);
    };
    let resources: Vec<Value> = mine.iter().flat_map(|t| t.discovery()).collect();
    Ok(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": first.api_version(),
        "resources": resources,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_negotiation() {
        assert!(negotiate(
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
        )
        .is_ok());
        assert_eq!(
            negotiate("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
                .map_err(|e| e.code()),
            Err(406)
        );
        assert!(negotiate("").is_ok());
    }
}
