//! The committed CRD must be exactly what the Rust types generate.

#[test]
fn committed_crd_is_up_to_date() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crds/engramdataplane.yaml");
    let committed = std::fs::read_to_string(&path).unwrap();
    let generated = engram_operator::api::crd_yaml().unwrap();
    assert!(
        committed == generated,
        "crds/engramdataplane.yaml is stale: regenerate it with `make crds` and commit the result"
    );
}

#[test]
fn crd_has_the_api_shape_kubectl_needs() {
    let crd: serde_json::Value =
        serde_saphyr::from_str(&engram_operator::api::crd_yaml().unwrap()).unwrap();
    assert_eq!(crd["spec"]["group"], "engram.zimax.net");
    assert_eq!(crd["spec"]["scope"], "Namespaced");
    assert_eq!(crd["spec"]["names"]["shortNames"][0], "edp");
    let version = &crd["spec"]["versions"][0];
    assert_eq!(version["name"], "v1alpha1");
    assert!(
        version["subresources"]["status"].is_object(),
        "status subresource"
    );
    let columns: Vec<&str> = version["additionalPrinterColumns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        columns,
        [
            "Environment",
            "Ready",
            "PostgreSQL SKU",
            "HA",
            "Drift",
            "Age"
        ]
    );
    // Every spec field carries a description, so `kubectl explain` is useful.
    let spec = &version["schema"]["openAPIV3Schema"]["properties"]["spec"];
    let mut missing = Vec::new();
    walk(spec, "spec", &mut missing);
    assert!(
        missing.is_empty(),
        "fields without a description: {missing:#?}"
    );
}

fn walk(node: &serde_json::Value, path: &str, missing: &mut Vec<String>) {
    if let Some(props) = node.get("properties").and_then(|p| p.as_object()) {
        for (name, child) in props {
            let p = format!("{path}.{name}");
            if child.get("description").is_none() {
                missing.push(p.clone());
            }
            walk(child, &p, missing);
        }
    }
    if let Some(items) = node.get("items") {
        walk(items, &format!("{path}[]"), missing);
    }
}
