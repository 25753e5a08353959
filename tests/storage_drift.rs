//! Storage against the mock ARM: created from nothing to Ready, zero writes when in sync, every
//! drifted field corrected by one minimal write, and observe mode reporting drift without writing.

use crate::storage_support;
use crate::support;

use engram_operator::api::spec::Mode;
use serde_json::{json, Value};
use storage_support::*;
use support::*;

#[tokio::test]
async fn create_from_nothing_is_ready_and_in_sync_costs_zero_writes() {
    let eff = prod();
    let (m, arm, v1, out) = ready_prod(&eff).await;
    let st = out.status.storage.clone().expect("storage summary");
    assert_eq!(st.id.as_deref(), Some(account_id(&eff).as_str()));
    assert_eq!(st.key_version.as_deref(), Some(v1.as_str()));
    assert_eq!(st.lifecycle_rules, vec!["RecordPlaneLifecycle"]);

    let acct = m.dump();
    let text = acct.to_string();
    for needle in [
        r#""minimumTlsVersion":"TLS1_2""#,
        r#""allowBlobPublicAccess":false"#,
        r#""supportsHttpsTrafficOnly":true"#,
        r#""publicNetworkAccess":"Disabled""#,
        r#""keySource":"Microsoft.Keyvault""#,
        r#""keyversion":"""#,
    ] {
        assert!(text.contains(needle), "{needle} not in the mock's account");
    }
    assert_eq!(m.writes_to(&immutability_id(&eff, "record-plane")), 1);

    let before = m.journal().len();
    let again = pass(&arm, &eff, &out.status).await;
    assert_eq!(writes_since(&m, before), vec![], "in sync: GETs only");
    assert!(again.ready());
    assert!(again.status.drift.is_empty());
}

type Case = (
    &'static str,
    fn(&str) -> (String, Value),
    &'static str,
    &'static str,
);

/// (drift field, out-of-band edit (id, merge patch), expected method, expected path suffix).
fn cases() -> Vec<Case> {
    fn a(p: Value) -> (String, Value) {
        (account_id(&prod()), p)
    }
    fn rule(patch: Value) -> (String, Value) {
        let mut r = json!({"enabled": true, "name": "RecordPlaneLifecycle", "type": "Lifecycle",
            "definition": {"filters": {"blobTypes": ["blockBlob"], "prefixMatch": ["record-plane/"]},
            "actions": {"baseBlob": {"tierToCool": {"daysAfterModificationGreaterThan": 30},
            "tierToArchive": {"daysAfterModificationGreaterThan": 90},
            "delete": {"daysAfterModificationGreaterThan": 2555}}}}});
        json_patch::merge(&mut r, &patch);
        (
            policy_id(&prod()),
            json!({"properties": {"policy": {"rules": [r]}}}),
        )
    }
    vec![
        (
            "minimumTlsVersion",
            |_| a(json!({"properties": {"minimumTlsVersion": "TLS1_0"}})),
            "PATCH",
            "acmeengramprod",
        ),
        (
            "publicNetworkAccess",
            |_| a(json!({"properties": {"publicNetworkAccess": "Enabled"}})),
            "PATCH",
            "acmeengramprod",
        ),
        (
            "allowBlobPublicAccess",
            |_| a(json!({"properties": {"allowBlobPublicAccess": true}})),
            "PATCH",
            "acmeengramprod",
        ),
        (
            "sku",
            |_| a(json!({"sku": {"name": "Standard_LRS"}})),
            "PATCH",
            "acmeengramprod",
        ),
        (
            "encryption.keyVersion",
            |v1| {
                a(json!({"properties": {"encryption": {"keyvaultproperties": {"keyversion": v1}}}}))
            },
            "PATCH",
            "acmeengramprod",
        ),
        (
            "lifecycle.RecordPlaneLifecycle.coolAfterDays",
            |_| {
                rule(
                    json!({"definition": {"actions": {"baseBlob": {"tierToCool": {"daysAfterModificationGreaterThan": 45}}}}}),
                )
            },
            "PUT",
            "managementPolicies/default",
        ),
        (
            "lifecycle.RecordPlaneLifecycle.archiveAfterDays",
            |_| {
                rule(
                    json!({"definition": {"actions": {"baseBlob": {"tierToArchive": {"daysAfterModificationGreaterThan": 180}}}}}),
                )
            },
            "PUT",
            "managementPolicies/default",
        ),
        (
            "lifecycle.RecordPlaneLifecycle.deleteAfterDays",
            |_| rule(json!({"definition": {"actions": {"baseBlob": {"delete": null}}}})),
            "PUT",
            "managementPolicies/default",
        ),
        (
            "lifecycle.RecordPlaneLifecycle.prefix",
            |_| rule(json!({"definition": {"filters": {"prefixMatch": ["other/"]}}})),
            "PUT",
            "managementPolicies/default",
        ),
        (
            "lifecycle.RecordPlaneLifecycle.enabled",
            |_| rule(json!({"enabled": false})),
            "PUT",
            "managementPolicies/default",
        ),
        (
            "immutabilityDays",
            |_| {
                (
                    immutability_id(&prod(), "record-plane"),
                    json!({"properties": {"immutabilityPeriodSinceCreationInDays": 100}}),
                )
            },
            "PUT",
            "immutabilityPolicies/default",
        ),
        (
            "legalHolds",
            |_| {
                (
                    container_id(&prod(), "record-plane"),
                    json!({"properties": {"hasLegalHold": false, "legalHold": {"hasLegalHold": false, "tags": []}}}),
                )
            },
            "POST",
            "record-plane/setLegalHold",
        ),
    ]
}

/// A tiny RFC 7396 merge, to build a drifted copy of the seed rule.
mod json_patch {
    use serde_json::Value;
    pub fn merge(target: &mut Value, patch: &Value) {
        let Value::Object(p) = patch else {
            *target = patch.clone();
            return;
        };
        if !target.is_object() {
            *target = Value::Object(Default::default());
        }
        let Value::Object(t) = target else { return };
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

#[tokio::test]
async fn each_drifted_field_is_corrected_with_one_minimal_write() {
    let eff = prod();
    let (m, arm, v1, mut out) = ready_prod(&eff).await;
    for (field, edit, method, suffix) in cases() {
        // Let the mock's read bucket refill between cases (ARM refills 25 reads/s); every pass
        // reads the server, its parameters, the storage side and the alert rules.
        m.advance(std::time::Duration::from_secs(10));
        let (id, patch) = edit(&v1);
        m.edit(&id, patch).expect("edit");
        let before = m.journal().len();
        let fixed = pass(&arm, &eff, &out.status).await;
        let w = writes_since(&m, before);
        assert_eq!(w.len(), 1, "{field}: {w:?}");
        assert_eq!(w[0].0, method, "{field}: {w:?}");
        assert!(w[0].1.ends_with(suffix), "{field}: {w:?}");
        let fields: Vec<_> = fixed
            .status
            .drift
            .iter()
            .map(|d| d.field.as_str())
            .collect();
        assert_eq!(fields, vec![field], "{field}");
        assert!(fixed.status.drift[0].corrected, "{field}");
        out = converge(&m, &arm, &eff, fixed.status).await;
        assert!(out.ready(), "{field}: {:#?}", out.status);
        let before = m.journal().len();
        out = pass(&arm, &eff, &out.status).await;
        assert_eq!(writes_since(&m, before), vec![], "{field}: back in sync");
    }
}

#[tokio::test]
async fn observe_mode_reports_drift_and_writes_nothing() {
    let mut eff = prod();
    let (m, arm, v1, out) = ready_prod(&eff).await;
    eff.mode = Mode::Observe;
    for (field, edit, _, _) in cases() {
        let (id, patch) = edit(&v1);
        m.edit(&id, patch).expect("edit");
        let before = m.journal().len();
        let seen = pass(&arm, &eff, &out.status).await;
        assert_eq!(writes_since(&m, before), vec![], "{field}");
        assert!(
            seen.status
                .drift
                .iter()
                .any(|d| d.field == field && !d.corrected),
            "{field}: {:?}",
            seen.status.drift
        );
        assert!(!seen.ready());
    }
}
