//! The fast sweep's `get` source: top-level resources read by id, the metric alerts of a resource
//! group by one list shared by every plane in it.

use std::collections::BTreeMap;

use azure_core::Method;
use serde_json::Value;

use super::error::ArmError;
use super::Arm;

/// The api-version of a top-level resource, by its provider.
pub(super) fn api_version(id: &str) -> &'static str {
    let lower = id.to_ascii_lowercase();
    if lower.contains("/microsoft.dbforpostgresql/") {
        super::postgres::PG_API_VERSION
    } else if lower.contains("/microsoft.network/") {
        crate::plan::network::NETWORK_API_VERSION
    } else if lower.contains("/microsoft.insights/metricalerts") {
        super::alerts::API_VERSION
    } else {
        super::storage::API_VERSION
    }
}

/// The resource group scope (`/subscriptions/{s}/resourceGroups/{rg}`, lower case) of an id.
fn group_of(id: &str) -> String {
    id.to_ascii_lowercase()
        .split("/providers/")
        .next()
        .unwrap_or_default()
        .to_owned()
}

impl Arm {
    pub(super) async fn read_top_level(&self, ids: &[String]) -> Result<Vec<Value>, ArmError> {
        let base = self.endpoint.as_str().trim_end_matches('/').to_owned();
        let mut out = Vec::with_capacity(ids.len());
        // Alert rules: one list per resource group, kept to the ids asked for.
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for id in ids {
            let lower = id.to_ascii_lowercase();
            if lower.contains("/microsoft.insights/metricalerts/") {
                groups.entry(group_of(id)).or_default().push(lower);
                continue;
            }
            let url = format!("{base}{id}?api-version={}", api_version(id));
            let got = self
                .retrying("read", || async {
                    match self.raw_send(Method::Get, &url, None).await {
                        Ok((_, _, body)) => serde_json::from_slice(&body)
                            .map(Some)
                            .map_err(|e| ArmError::Decode(format!("{id}: {e}"))),
                        Err(ArmError::Fatal { status: 404, .. }) => Ok(None),
                        Err(e) => Err(e),
                    }
                })
                .await?;
            out.extend(got);
        }
        for (group, wanted) in groups {
            let first = format!(
                "{base}{group}/providers/Microsoft.Insights/metricAlerts?api-version={}",
                super::alerts::API_VERSION
            );
            self.each_alert(first, |item| {
                let id = item["id"].as_str().unwrap_or_default().to_ascii_lowercase();
                if wanted.contains(&id) {
                    out.push(item.clone());
                }
            })
            .await?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_version_and_group_follow_the_id() {
        let rg = "/subscriptions/S/resourceGroups/RG";
        let server = format!("{rg}/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg");
        assert_eq!(api_version(&server), super::super::postgres::PG_API_VERSION);
        let rule = format!("{rg}/providers/Microsoft.Insights/metricAlerts/cpu");
        assert_eq!(api_version(&rule), super::super::alerts::API_VERSION);
        assert_eq!(group_of(&rule), "/subscriptions/s/resourcegroups/rg");
    }
}
