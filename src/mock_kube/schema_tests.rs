//! The CRD schema applied to writes.

use serde_json::{json, Value};

use super::schema::{admit, FieldValidation};
use super::store::Part;
use super::types::{from_crd, ResourceType};

fn edp() -> ResourceType {
    let crd: Value =
        serde_saphyr::from_str(include_str!("../../crds/engramdataplane.yaml")).unwrap();
    from_crd(&crd).remove(0)
}

fn dev() -> Value {
    let mut v: Value = serde_saphyr::from_str(include_str!("../../examples/dev.yaml")).unwrap();
    v["metadata"]["namespace"] = json!("engram");
    v
}

fn check(obj: &mut Value, mode: FieldValidation) -> Result<(), (u16, String)> {
    admit(&edp(), obj, Part::Main, mode).map_err(|e| (e.code(), e.to_string()))
}

#[test]
fn the_examples_pass_untouched() {
    let mut v = dev();
    check(&mut v, FieldValidation::Strict).unwrap();
    assert_eq!(v, dev());
}

#[test]
fn an_unknown_field_is_refused_when_strict_and_dropped_otherwise() {
    let mut v = dev();
    v["spec"]["postgres"]["sizeGb"] = json!(32);
    v["spec"]["extra"] = json!(true);
    let (code, msg) = check(&mut v.clone(), FieldValidation::Strict).unwrap_err();
    assert_eq!(code, 400);
    assert!(msg.starts_with("EngramDataPlane in version \"v1alpha1\" cannot be handled as a EngramDataPlane: strict decoding error: "), "{msg}");
    assert!(msg.contains("unknown field \"spec.extra\""), "{msg}");
    assert!(
        msg.contains("unknown field \"spec.postgres.sizeGb\""),
        "{msg}"
    );
    check(&mut v, FieldValidation::Warn).unwrap();
    assert_eq!(v, dev());
}

#[test]
fn types_enums_bounds_and_required_fields_are_422_naming_the_field() {
    let mut v = dev();
    v["spec"]["postgres"]["state"] = json!("Paused");
    v["spec"]["postgres"]["extensions"] = json!([7]);
    v["spec"]["azure"]
        .as_object_mut()
        .unwrap()
        .remove("location");
    let (code, msg) = check(&mut v, FieldValidation::Strict).unwrap_err();
    assert_eq!(code, 422);
    assert!(
        msg.starts_with("EngramDataPlane.engram.zimax.net \"acme-dev\" is invalid: ["),
        "{msg}"
    );
    assert!(msg.contains("spec.postgres.state: Unsupported value: \"Paused\": supported values: \"Running\", \"Stopped\""), "{msg}");
    assert!(msg.contains("spec.postgres.extensions[0]: Invalid value: \"integer\": spec.postgres.extensions[0] in body must be of type string: \"integer\""), "{msg}");
    assert!(msg.contains("spec.azure.location: Required value"), "{msg}");
}

#[test]
fn status_is_checked_only_on_the_status_subresource() {
    let mut v = dev();
    v["status"] = json!({"driftCount": "many"});
    check(&mut v.clone(), FieldValidation::Strict).unwrap();
    let e = admit(&edp(), &mut v, Part::Status, FieldValidation::Strict).unwrap_err();
    assert_eq!(e.code(), 422);
    assert!(e.to_string().contains("status.driftCount"), "{e}");
}

#[test]
fn absent_properties_with_a_default_get_it() {
    let mut v = dev();
    v["spec"]["postgres"]["maintenanceWindow"] = json!({"dayOfWeek": 0, "startHour": 2});
    v["status"] = json!({"drift": [{"field": "x"}]});
    let t = edp();
    admit(&t, &mut v, Part::Main, FieldValidation::Strict).unwrap();
    assert_eq!(v["spec"]["postgres"]["maintenanceWindow"]["startMinute"], 0);
    admit(&t, &mut v, Part::Status, FieldValidation::Strict).ok();
    assert_eq!(v["status"]["driftCount"], 0);
}
