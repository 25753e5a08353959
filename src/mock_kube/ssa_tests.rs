//! Server-side apply: ownership, conflicts, force and removal.

use serde_json::{json, Value};

use super::ssa::{apply, Apply};
use super::store::Part;
use super::types::{from_crd, ResourceType};

fn edp() -> ResourceType {
    let crd: Value =
        serde_saphyr::from_str(include_str!("../../crds/engramdataplane.yaml")).unwrap();
    from_crd(&crd).remove(0)
}

fn config(spec: Value) -> Value {
    json!({"apiVersion": "engram.zimax.net/v1alpha1", "kind": "EngramDataPlane",
           "metadata": {"name": "a", "labels": {"l": "1"}}, "spec": spec})
}

fn by<'a>(manager: &'a str, force: bool) -> Apply<'a> {
    Apply {
        manager,
        force,
        part: Part::Main,
    }
}

fn managers(o: &Value) -> Vec<String> {
    o["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["manager"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn an_apply_records_what_it_owns_and_a_repeat_changes_nothing() {
    let t = edp();
    let c = config(json!({"environment": "dev", "postgres": {"serverName": "p"}}));
    let first = apply(&t, None, c.clone(), &by("ops", false)).unwrap();
    let mf = &first["metadata"]["managedFields"][0];
    assert_eq!(mf["operation"], "Apply");
    assert_eq!(
        mf["fieldsV1"],
        json!({"f:metadata": {"f:labels": {"f:l": {}}}, "f:spec": {"f:environment": {}, "f:postgres": {"f:serverName": {}}}})
    );
    let again = apply(&t, Some(&first), c, &by("ops", false)).unwrap();
    assert_eq!(again, first);
}

#[test]
fn another_manager_changing_an_owned_field_conflicts_unless_forced() {
    let t = edp();
    let live = apply(
        &t,
        None,
        config(json!({"environment": "dev"})),
        &by("ops", false),
    )
    .unwrap();
    let other = config(json!({"environment": "prod"}));
    let e = apply(&t, Some(&live), other.clone(), &by("ci", false)).unwrap_err();
    assert_eq!(e.code(), 409);
    assert_eq!(
        e.to_string(),
        "Apply failed with 1 conflict: conflict with \"ops\": .spec.environment"
    );
    // The same value is shared, not a conflict.
    let shared = apply(
        &t,
        Some(&live),
        config(json!({"environment": "dev"})),
        &by("ci", false),
    )
    .unwrap();
    assert_eq!(managers(&shared), ["ops", "ci"]);
    let forced = apply(&t, Some(&live), other, &by("ci", true)).unwrap();
    assert_eq!(forced["spec"]["environment"], "prod");
    // ops keeps only its label.
    assert_eq!(
        forced["metadata"]["managedFields"][0]["fieldsV1"],
        json!({"f:metadata": {"f:labels": {"f:l": {}}}})
    );
}

#[test]
fn a_sole_manager_removes_what_it_stops_applying_but_not_what_others_own() {
    let t = edp();
    let full =
        config(json!({"environment": "dev", "postgres": {"serverName": "p", "state": "Stopped"}}));
    let live = apply(&t, None, full, &by("ops", false)).unwrap();
    let shared = apply(
        &t,
        Some(&live),
        config(json!({"postgres": {"serverName": "p"}})),
        &by("ci", false),
    )
    .unwrap();
    let less = config(json!({"environment": "dev"}));
    let after = apply(&t, Some(&shared), less, &by("ops", true)).unwrap();
    assert_eq!(
        after["spec"],
        json!({"environment": "dev", "postgres": {"serverName": "p"}})
    );
}

#[test]
fn a_status_apply_touches_only_status_and_needs_a_manager() {
    let t = edp();
    let live = apply(
        &t,
        None,
        config(json!({"environment": "dev"})),
        &by("ops", false),
    )
    .unwrap();
    let mut c = config(json!({"environment": "prod"}));
    c["status"] = json!({"driftCount": 2});
    let status = Apply {
        manager: "operator",
        force: true,
        part: Part::Status,
    };
    let next = apply(&t, Some(&live), c.clone(), &status).unwrap();
    assert_eq!(
        (
            next["spec"]["environment"].as_str(),
            next["status"]["driftCount"].as_i64()
        ),
        (Some("dev"), Some(2))
    );
    assert_eq!(
        next["metadata"]["managedFields"][1]["subresource"],
        "status"
    );
    assert_eq!(
        apply(&t, Some(&live), c, &by("", false))
            .unwrap_err()
            .code(),
        400
    );
}

/// A new object from an apply of `spec` by `manager`.
fn created(t: &ResourceType, spec: Value, manager: &str) -> Value {
    apply(t, None, config(spec), &by(manager, false)).unwrap()
}

/// A merge patch of `p` over `live` by `manager`, as the server records it.
fn update(t: &ResourceType, live: &Value, p: Value, manager: &str) -> Value {
    let mut next = live.clone();
    json_patch::merge(&mut next, &p);
    super::ssa::record_update(t, live, &mut next, manager, Part::Main);
    next
}

#[test]
fn fields_another_writer_removed_leave_their_owner_so_a_new_apply_does_not_conflict() {
    // The Lease hand-over of kube-lease-manager: the follower clears the dead leader's fields with
    // a strategic merge patch, then applies its own without force.
    let t = edp();
    let held = created(
        &t,
        json!({"environment": "dev", "postgres": {"serverName": "a"}}),
        "leader-a",
    );
    let cleared = update(&t, &held, json!({"spec": {"postgres": null}}), "leader-b");
    assert!(cleared["spec"].get("postgres").is_none());
    let fields = cleared["metadata"]["managedFields"].to_string();
    assert!(!fields.contains("serverName"), "{fields}");
    let taken = apply(
        &t,
        Some(&cleared),
        config(json!({"postgres": {"serverName": "b"}})),
        &by("leader-b", false),
    )
    .expect("no one owns the removed field any more");
    assert_eq!(taken["spec"]["postgres"]["serverName"], "b");
}

#[test]
fn a_field_changed_by_a_patch_belongs_to_its_writer_and_a_reapply_conflicts_with_it() {
    let t = edp();
    let live = created(&t, json!({"environment": "dev"}), "ops");
    let edited = update(
        &t,
        &live,
        json!({"spec": {"environment": "test"}}),
        "kubectl-edit",
    );
    assert_eq!(managers(&edited), ["ops", "kubectl-edit"]);
    assert_eq!(
        edited["metadata"]["managedFields"][1]["operation"],
        "Update"
    );
    // ops still owns its label; the environment moved to the editor.
    assert_eq!(
        edited["metadata"]["managedFields"][0]["fieldsV1"],
        json!({"f:metadata": {"f:labels": {"f:l": {}}}})
    );
    let err = apply(
        &t,
        Some(&edited),
        config(json!({"environment": "dev"})),
        &by("ops", false),
    )
    .unwrap_err();
    assert!(err.to_string().contains("kubectl-edit"), "{err}");
    // A write that changes nothing changes no ownership.
    assert_eq!(
        update(&t, &edited, json!({"spec": {"environment": "test"}}), "x"),
        edited
    );
}
