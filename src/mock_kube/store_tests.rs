//! The store's write semantics: no-op writes, generation, finalizers, the status subresource,
//! conflicts and the event history.

use serde_json::{json, Value};

use super::store::{EventType, Part, Store};
use super::types::{from_crd, ResourceType};

fn setup() -> (Store, ResourceType) {
    let mut s = Store::new(100);
    let crd: Value =
        serde_saphyr::from_str(include_str!("../../crds/engramdataplane.yaml")).unwrap();
    let crd_type = s.types()[1].clone();
    s.create(&crd_type, "", crd.clone()).unwrap();
    let ns = s.types()[0].clone();
    s.create(&ns, "", json!({"metadata": {"name": "engram"}}))
        .unwrap();
    (s, from_crd(&crd).remove(0))
}

fn edp(name: &str) -> Value {
    json!({"apiVersion": "engram.zimax.net/v1alpha1", "kind": "EngramDataPlane",
           "metadata": {"name": name}, "spec": {"environment": "dev"}, "status": {"x": 1}})
}

fn rv(o: &Value) -> &str {
    o["metadata"]["resourceVersion"].as_str().unwrap()
}

#[test]
fn create_sets_server_fields_and_drops_status() {
    let (mut s, t) = setup();
    let o = s.create(&t, "engram", edp("a")).unwrap();
    assert_eq!(o["metadata"]["generation"], 1);
    assert_eq!(o["metadata"]["namespace"], "engram");
    assert!(o.get("status").is_none());
    assert!(o["metadata"]["uid"].as_str().unwrap().len() == 36);
    assert_eq!(s.create(&t, "engram", edp("a")).unwrap_err().code(), 409);
    assert_eq!(s.create(&t, "nowhere", edp("b")).unwrap_err().code(), 404);
}

#[test]
fn a_write_that_changes_nothing_keeps_the_resource_version_and_records_nothing() {
    let (mut s, t) = setup();
    let o = s.create(&t, "engram", edp("a")).unwrap();
    let before = s.rv();
    let same = s.update(&t, "engram", "a", o.clone(), Part::Main).unwrap();
    assert_eq!(rv(&same), rv(&o));
    assert_eq!(s.rv(), before);
    assert!(s.events_after(before).unwrap().is_empty());
}

#[test]
fn generation_moves_with_the_spec_only() {
    let (mut s, t) = setup();
    let mut o = s.create(&t, "engram", edp("a")).unwrap();
    o["metadata"]["labels"] = json!({"l": "1"});
    let o = s.update(&t, "engram", "a", o, Part::Main).unwrap();
    assert_eq!(o["metadata"]["generation"], 1);
    let mut st = o.clone();
    st["status"] = json!({"ready": true});
    let o = s.update(&t, "engram", "a", st, Part::Status).unwrap();
    assert_eq!(o["metadata"]["generation"], 1);
    assert_eq!(o["status"]["ready"], true);
    let mut sp = o.clone();
    sp["spec"]["environment"] = json!("prod");
    sp["status"] = json!({"ignored": true});
    let o = s.update(&t, "engram", "a", sp, Part::Main).unwrap();
    assert_eq!(o["metadata"]["generation"], 2);
    assert_eq!(
        o["status"],
        json!({"ready": true}),
        "status kept on the main resource"
    );
}

#[test]
fn a_stale_resource_version_conflicts() {
    let (mut s, t) = setup();
    let o = s.create(&t, "engram", edp("a")).unwrap();
    let mut newer = o.clone();
    newer["spec"]["environment"] = json!("uat");
    s.update(&t, "engram", "a", newer, Part::Main).unwrap();
    let mut stale = o;
    stale["spec"]["environment"] = json!("prod");
    assert_eq!(
        s.update(&t, "engram", "a", stale, Part::Main)
            .unwrap_err()
            .code(),
        409
    );
}

#[test]
fn finalizers_hold_deletion_until_the_last_is_removed() {
    let (mut s, t) = setup();
    let mut o = edp("a");
    o["metadata"]["finalizers"] = json!(["engram.zimax.net/cleanup"]);
    s.create(&t, "engram", o).unwrap();
    let marked = s.delete(&t, "engram", "a").unwrap();
    assert!(marked["metadata"]["deletionTimestamp"].is_string());
    let again = s.delete(&t, "engram", "a").unwrap();
    assert_eq!(rv(&again), rv(&marked), "a second delete changes nothing");
    let mut released = marked.clone();
    released["metadata"]["finalizers"] = json!([]);
    let from = s.rv();
    s.update(&t, "engram", "a", released, Part::Main).unwrap();
    assert_eq!(s.get(&t, "engram", "a").unwrap_err().code(), 404);
    let kinds: Vec<EventType> = s
        .events_after(from)
        .unwrap()
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, [EventType::Deleted]);
}

#[test]
fn compacted_history_expires_old_watches() {
    let (mut s, t) = setup();
    s.create(&t, "engram", edp("a")).unwrap();
    let old = s.rv() - 1;
    s.compact();
    assert_eq!(s.events_after(old).unwrap_err().code(), 410);
    assert!(s.events_after(s.rv()).unwrap().is_empty());
}

#[test]
fn deleting_the_crd_stops_serving_its_kind_and_drops_its_objects() {
    let (mut s, t) = setup();
    s.create(&t, "engram", edp("a")).unwrap();
    let crd_type = s.types()[1].clone();
    s.delete(&crd_type, "", "engramdataplanes.engram.zimax.net")
        .unwrap();
    assert!(s.types().iter().all(|x| x.kind != "EngramDataPlane"));
    assert!(s.list(&t, None).is_empty());
}

#[test]
fn an_updated_crd_serves_its_new_columns() {
    let (mut s, _) = setup();
    let crd_type = s.types()[1].clone();
    let mut crd = s
        .get(&crd_type, "", "engramdataplanes.engram.zimax.net")
        .unwrap();
    crd["spec"]["versions"][0]["additionalPrinterColumns"] =
        json!([{"name": "Env", "type": "string", "jsonPath": ".spec.environment"}]);
    s.update(
        &crd_type,
        "",
        "engramdataplanes.engram.zimax.net",
        crd,
        Part::Main,
    )
    .unwrap();
    let edp = s
        .types()
        .iter()
        .find(|t| t.kind == "EngramDataPlane")
        .unwrap();
    assert_eq!(edp.columns.len(), 1);
    assert_eq!(edp.columns[0].name, "Env");
}
