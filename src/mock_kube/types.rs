//! The resource types served: the built-in ones and those the stored CustomResourceDefinitions
//! declare (one per served version).

use serde_json::{json, Value};

/// A printer column: what `kubectl get` shows (the CRD's `additionalPrinterColumns`).
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub kind: String,
    pub json_path: String,
    pub priority: i64,
    pub description: String,
}

impl Column {
    fn new(name: &str, kind: &str, json_path: &str) -> Self {
        Self {
            name: name.into(),
            kind: kind.into(),
            json_path: json_path.into(),
            priority: 0,
            description: String::new(),
        }
    }
}

/// One served resource of one group/version.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceType {
    /// `""` for the core group.
    pub group: String,
    pub version: String,
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub namespaced: bool,
    /// Whether `/status` is a subresource (status is then ignored on the main resource).
    pub status_subresource: bool,
    /// Printer columns after the name.
    pub columns: Vec<Column>,
    /// The openAPIV3Schema (custom resources only).
    pub schema: Option<Value>,
    /// Declared by a CustomResourceDefinition.
    pub custom: bool,
}

impl ResourceType {
    /// `group/version`, or `v1` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `plural.group` (what messages and `details` name), or the plural for the core group.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// The store key: one per group and plural, whatever the version; core Events share the
    /// store of `events.k8s.io` Events.
    pub fn key(&self) -> String {
        if self.group.is_empty() && self.plural == "events" {
            return "events.k8s.io/events".into();
        }
        format!("{}/{}", self.group, self.plural)
    }

    /// The resource's entries in an `APIResourceList`.
    pub fn discovery(&self) -> Vec<Value> {
        let verbs = [
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ];
        let mut main = json!({
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": verbs,
        });
        if !self.short_names.is_empty() {
            main["shortNames"] = json!(self.short_names);
        }
        if !self.categories.is_empty() {
            main["categories"] = json!(self.categories);
        }
        let mut out = vec![main];
        if self.status_subresource {
            out.push(json!({
                "name": format!("{}/status", self.plural),
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": self.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
        out
    }
}

/// The types every server has.
pub fn builtins() -> Vec<ResourceType> {
    let age = || Column::new("Age", "date", ".metadata.creationTimestamp");
    vec![
        ResourceType {
            group: String::new(),
            version: "v1".into(),
            plural: "namespaces".into(),
            singular: "namespace".into(),
            kind: "Namespace".into(),
            short_names: vec!["ns".into()],
            categories: vec![],
            namespaced: false,
            status_subresource: true,
            columns: vec![Column::new("Status", "string", ".status.phase"), age()],
            schema: None,
            custom: false,
        },
        ResourceType {
            group: "apiextensions.k8s.io".into(),
            version: "v1".into(),
            plural: "customresourcedefinitions".into(),
            singular: "customresourcedefinition".into(),
            kind: "CustomResourceDefinition".into(),
            short_names: vec!["crd".into(), "crds".into()],
            categories: vec!["api-extensions".into()],
            namespaced: false,
            status_subresource: true,
            columns: vec![Column::new(
                "Created At",
                "date",
                ".metadata.creationTimestamp",
            )],
            schema: None,
            custom: false,
        },
        builtin(
            ("events.k8s.io", "Event", "events"),
            &["ev"],
            vec![
                Column::new("Type", "string", ".type"),
                Column::new("Reason", "string", ".reason"),
                Column::new("Object", "string", ".regarding.name"),
                Column::new("Message", "string", ".note"),
            ],
        ),
        builtin(
            ("", "Event", "events"),
            &["ev"],
            vec![
                Column::new("Type", "string", ".type"),
                Column::new("Reason", "string", ".reason"),
                Column::new("Object", "string", ".involvedObject.name"),
                Column::new("Message", "string", ".message"),
            ],
        ),
        builtin(("", "ConfigMap", "configmaps"), &["cm"], vec![age()]),
        builtin(
            ("", "Secret", "secrets"),
            &[],
            vec![Column::new("Type", "string", ".type"), age()],
        ),
        builtin(
            ("coordination.k8s.io", "Lease", "leases"),
            &[],
            vec![
                Column::new("Holder", "string", ".spec.holderIdentity"),
                age(),
            ],
        ),
    ]
}

/// A namespaced built-in kind without a status subresource.
fn builtin(
    (group, kind, plural): (&str, &str, &str),
    short_names: &[&str],
    columns: Vec<Column>,
) -> ResourceType {
    ResourceType {
        group: group.into(),
        version: "v1".into(),
        plural: plural.into(),
        singular: kind.to_lowercase(),
        kind: kind.into(),
        short_names: short_names.iter().map(|s| (*s).to_owned()).collect(),
        categories: vec![],
        namespaced: true,
        status_subresource: false,
        columns,
        schema: None,
        custom: false,
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// The types a CustomResourceDefinition serves (its versions with `served: true`).
pub fn from_crd(crd: &Value) -> Vec<ResourceType> {
    let spec = &crd["spec"];
    let names = &spec["names"];
    let Some(versions) = spec["versions"].as_array() else {
        return vec![];
    };
    versions
        .iter()
        .filter(|v| v["served"].as_bool().unwrap_or(true))
        .map(|v| {
            let mut columns: Vec<Column> = v["additionalPrinterColumns"]
                .as_array()
                .map(|cols| {
                    cols.iter()
                        .map(|c| Column {
                            name: text(&c["name"]),
                            kind: text(&c["type"]),
                            json_path: text(&c["jsonPath"]),
                            priority: c["priority"].as_i64().unwrap_or(0),
                            description: text(&c["description"]),
                        })
                        .collect()
                })
                .unwrap_or_default();
            if v.get("additionalPrinterColumns").is_none() {
                columns.push(Column::new("Age", "date", ".metadata.creationTimestamp"));
            }
            let kind = text(&names["kind"]);
            ResourceType {
                group: text(&spec["group"]),
                version: text(&v["name"]),
                plural: text(&names["plural"]),
                singular: names["singular"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| kind.to_lowercase()),
                kind,
                short_names: strings(&names["shortNames"]),
                categories: strings(&names["categories"]),
                namespaced: spec["scope"].as_str() != Some("Cluster"),
                status_subresource: v["subresources"].get("status").is_some(),
                columns,
                schema: v["schema"].get("openAPIV3Schema").cloned(),
                custom: true,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crd_serves_edp_with_its_columns() {
        let crd: Value =
            serde_saphyr::from_str(include_str!("../../crds/engramdataplane.yaml")).unwrap();
        let types = from_crd(&crd);
        assert_eq!(types.len(), 1);
        let t = &types[0];
        assert_eq!(t.api_version(), "engram.zimax.net/v1alpha1");
        assert_eq!(t.short_names, ["edp"]);
        assert!(t.namespaced && t.status_subresource);
        assert_eq!(t.columns[0].name, "Environment");
        assert!(t.schema.is_some());
        assert_eq!(t.discovery()[1]["name"], "engramdataplanes/status");
    }
}
