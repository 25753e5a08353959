//! Microsoft.Insights/diagnosticSettings (2021-05-01-preview) over the raw pipeline: one list per
//! resource (`{resourceId}/providers/Microsoft.Insights/diagnosticSettings`), PUT of the
//! operator's setting, DELETE at teardown. The API is synchronous (PUT 200, DELETE 200/204) and
//! has no PATCH. Its errors are `{"code","message"}` at the top level, which `parse_body` reads.

use azure_core::Method;
use serde_json::{json, Value};

use super::error::ArmError;
use super::{Arm, Submitted};
use crate::api::EffectiveSpec;
use crate::plan::diagnostics::{
    self as dplan, DiagSetting, DiagTarget, ObservedDiagSetting, ObservedDiagnostics, ObservedLog,
    VaultRead,
};
use crate::plan::Observed;

pub const API_VERSION: &str = "2021-05-01-preview";

fn list_url(endpoint: &str, resource_id: &str) -> String {
    format!(
        "{}{resource_id}/providers/Microsoft.Insights/diagnosticSettings?api-version={API_VERSION}",
        endpoint.trim_end_matches('/'),
    )
}

fn setting_url(endpoint: &str, t: &DiagTarget) -> String {
    format!(
        "{}{}/providers/Microsoft.Insights/diagnosticSettings/{}?api-version={API_VERSION}",
        endpoint.trim_end_matches('/'),
        t.resource_id,
        t.name
    )
}

/// The PUT body of the operator's setting: the workspace, and each audit category enabled.
pub fn setting_body(s: &DiagSetting) -> Value {
    let logs: Vec<Value> = s
        .categories
        .iter()
        .map(|c| json!({"category": c, "enabled": true}))
        .collect();
    json!({"properties": {"workspaceId": s.workspace_id, "logs": logs, "metrics": []}})
}

fn text(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(ToOwned::to_owned)
}

/// Map one setting of a list or GET body.
pub fn map_setting(v: &Value) -> ObservedDiagSetting {
    let p = &v["properties"];
    let entries = |k: &str| p[k].as_array().cloned().unwrap_or_default();
    ObservedDiagSetting {
        name: v["name"].as_str().unwrap_or_default().to_owned(),
        workspace_id: text(&p["workspaceId"]),
        other_destinations: [
            "storageAccountId",
            "eventHubAuthorizationRuleId",
            "marketplacePartnerId",
        ]
        .into_iter()
        .filter_map(|k| text(&p[k]))
        .collect(),
        logs: entries("logs")
            .iter()
            .map(|l| ObservedLog {
                category: text(&l["category"]),
                category_group: text(&l["categoryGroup"]),
                enabled: l["enabled"].as_bool().unwrap_or(false),
            })
            .collect(),
        metrics_enabled: entries("metrics")
            .iter()
            .filter(|m| m["enabled"].as_bool().unwrap_or(false))
            .filter_map(|m| text(&m["category"]))
            .collect(),
    }
}

impl Arm {
    /// Every setting on one resource (the list has no nextLink).
    async fn list_settings(&self, resource_id: &str) -> Result<Vec<ObservedDiagSetting>, ArmError> {
        let url = list_url(self.endpoint.as_str(), resource_id);
        let page: Value = self
            .retrying("list diagnostic settings", || async {
                let (_, _, body) = self.raw_send(Method::Get, &url, None).await?;
                serde_json::from_slice(&body)
                    .map_err(|e| ArmError::Decode(format!("diagnostic settings: {e}")))
            })
            .await?;
        Ok(page["value"]
            .as_array()
            .into_iter()
            .flatten()
            .map(map_setting)
            .collect())
    }

    /// The settings on the server and the blob service (each only while it exists), and on the
    /// key vault when its id is declared. A refused vault read is reported, not an error: the
    /// vault is the customer's, and reading it may not be granted.
    pub(super) async fn observe_diagnostics(
        &self,
        eff: &EffectiveSpec,
        observed: &Observed,
    ) -> Result<ObservedDiagnostics, ArmError> {
        let mut out = ObservedDiagnostics::default();
        let Some(d) = &eff.diagnostics else {
            return Ok(out);
        };
        if observed.postgres.server.is_some() {
            out.server = Some(
                self.list_settings(&crate::plan::owner::server_id(eff))
                    .await?,
            );
        }
        if observed.storage.account.is_some() {
            out.blob_service = Some(self.list_settings(&dplan::blob_service_id(eff)).await?);
        }
        if let Some(id) = &d.key_vault_id {
            out.vault = match self.list_settings(id).await {
                Ok(s) => VaultRead::Listed(s),
                Err(e) if e.is_access() => VaultRead::Refused(e.to_string()),
                Err(ArmError::Fatal {
                    status: 404,
                    code,
                    message,
                }) => VaultRead::Refused(format!("{code}: {message}")),
                Err(e) => return Err(e),
            };
        }
        Ok(out)
    }

    /// PUT the operator's setting (create or replace).
    pub(super) async fn submit_diagnostic(
        &self,
        t: &DiagTarget,
        s: &DiagSetting,
    ) -> Result<Submitted, ArmError> {
        let url = setting_url(self.endpoint.as_str(), t);
        self.sync_write(
            "put diagnostic setting",
            Method::Put,
            &url,
            Some(&setting_body(s)),
        )
        .await
    }

    /// DELETE the operator's setting (200, or 204 when already gone).
    pub(super) async fn delete_diagnostic(&self, t: &DiagTarget) -> Result<Submitted, ArmError> {
        let url = setting_url(self.endpoint.as_str(), t);
        self.sync_write("delete diagnostic setting", Method::Delete, &url, None)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting() -> DiagSetting {
        DiagSetting {
            workspace_id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/ws".into(),
            categories: vec!["StorageRead".into(), "StorageWrite".into()],
        }
    }

    #[test]
    fn body_round_trips_into_an_in_sync_observation() {
        let s = setting();
        let mut v = setting_body(&s);
        v["name"] = json!("engram-audit");
        let o = map_setting(&v);
        assert_eq!(o.name, "engram-audit");
        assert!(dplan::diff(&s, &o).is_empty(), "{:?}", dplan::diff(&s, &o));
    }

    #[test]
    fn a_category_switched_off_and_a_destination_added_are_drift() {
        let s = setting();
        let mut v = setting_body(&s);
        v["properties"]["logs"][1]["enabled"] = json!(false);
        v["properties"]["storageAccountId"] = json!("/subscriptions/s/x");
        v["properties"]["workspaceId"] = json!(s.workspace_id.to_uppercase());
        let fields: Vec<String> = dplan::diff(&s, &map_setting(&v))
            .into_iter()
            .map(|c| c.field)
            .collect();
        assert_eq!(fields, ["logs.StorageWrite", "destinations"]);
    }
}
