//! The fast tier's Resource Graph query: a fingerprint of every top-level resource, summarized
//! server-side to one row per resource group, so a thousand planes cost one query and one page.
//!
//! Asking for the resources themselves (`resources | where id in~ (…)`) returns a row per
//! resource: at 1,000 planes of ten top-level resources each that is ten pages of 1,000 rows and,
//! with ids of 150 characters, forty queries to stay under the query-size limit. Instead the
//! query names the resource groups and types, and ARG hashes each resource's SKU, properties and
//! tags itself:
//!
//! ```text
//! resources
//! | where type in~ ('microsoft.dbforpostgresql/flexibleservers', …) and resourceGroup in~ ('rg-1', …)
//! | summarize fingerprints = make_list(pack_array(tolower(id), hash(tostring(pack_array(sku, properties, tags))))) by subscriptionId, resourceGroup
//! ```
//!
//! ARG answers a `summarize` with its first page only (no `$skipToken`), so a query names at most
//! [`MAX_GROUPS_PER_QUERY`] resource groups; when the answer still comes back truncated (the same
//! group name in several subscriptions of one query) the query is split in two and asked again.
//! The hash is only compared with the previous sweep's, never interpreted.

use std::collections::BTreeSet;

use azure_core::Method;
use serde_json::{json, Value};

use super::error::ArmError;
use super::resource_graph::{kql_string, API_VERSION, MAX_QUERY_BYTES, PAGE_ROWS};
use super::wire::GraphQueryResponse;
use super::Arm;

/// Resource groups per query: a summarized answer is one page, of at most 1,000 rows.
pub const MAX_GROUPS_PER_QUERY: usize = PAGE_ROWS;
/// The column of the summarized rows holding `[id, hash]` pairs.
const COLUMN: &str = "fingerprints";
const SUMMARY: &str = "| summarize fingerprints = make_list(pack_array(tolower(id), hash(tostring(pack_array(sku, properties, tags))))) by subscriptionId, resourceGroup";

/// One query: its text, the subscriptions it is scoped to, and the (subscription, group) pairs
/// it covers (to split it when its answer is truncated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FingerprintQuery {
    pub text: String,
    pub subscriptions: Vec<String>,
    groups: Vec<(String, String)>,
    types: Vec<String>,
}

/// `(subscription, resource group, type)` of a top-level ARM id, lower-cased.
fn parts(id: &str) -> Option<(String, String, String)> {
    let segs: Vec<&str> = id.trim_start_matches('/').split('/').collect();
    match segs.as_slice() {
        [s, sub, g, rg, p, ns, ty, _, ..]
            if s.eq_ignore_ascii_case("subscriptions")
                && g.eq_ignore_ascii_case("resourceGroups")
                && p.eq_ignore_ascii_case("providers") =>
        {
            Some((
                sub.to_ascii_lowercase(),
                rg.to_ascii_lowercase(),
                format!("{ns}/{ty}").to_ascii_lowercase(),
            ))
        }
        _ => None,
    }
}

fn list(values: impl Iterator<Item = String>) -> String {
    values
        .map(|v| kql_string(&v))
        .collect::<Vec<_>>()
        .join(", ")
}

impl FingerprintQuery {
    fn new(groups: Vec<(String, String)>, types: &[String]) -> Self {
        let names: BTreeSet<String> = groups.iter().map(|(_, g)| g.clone()).collect();
        let subscriptions: BTreeSet<String> = groups.iter().map(|(s, _)| s.clone()).collect();
        let text = format!(
            "resources | where type in~ ({}) and resourceGroup in~ ({}) {SUMMARY}",
            list(types.iter().cloned()),
            list(names.into_iter())
        );
        Self {
            text,
            subscriptions: subscriptions.into_iter().collect(),
            groups,
            types: types.to_vec(),
        }
    }

    /// The query in two halves, or None when it covers one group.
    fn split(&self) -> Option<(Self, Self)> {
        if self.groups.len() < 2 {
            return None;
        }
        let mid = self.groups.len() / 2;
        Some((
            Self::new(self.groups[..mid].to_vec(), &self.types),
            Self::new(self.groups[mid..].to_vec(), &self.types),
        ))
    }
}

/// The queries that fingerprint `ids`: their resource groups in order, at most
/// [`MAX_GROUPS_PER_QUERY`] and [`MAX_QUERY_BYTES`] of text per query. Ids that are not
/// top-level resources in a resource group are left out.
pub fn fingerprint_queries(ids: &[String]) -> Vec<FingerprintQuery> {
    let mut groups = BTreeSet::new();
    let mut types = BTreeSet::new();
    for (sub, rg, ty) in ids.iter().filter_map(|id| parts(id)) {
        groups.insert((sub, rg));
        types.insert(ty);
    }
    let types: Vec<String> = types.into_iter().collect();
    let base = FingerprintQuery::new(Vec::new(), &types).text.len();
    let mut out = Vec::new();
    let mut batch: Vec<(String, String)> = Vec::new();
    let mut len = base;
    for (sub, rg) in groups {
        let grows = kql_string(&rg).len() + 2;
        if !batch.is_empty()
            && (batch.len() == MAX_GROUPS_PER_QUERY || len + grows > MAX_QUERY_BYTES)
        {
            out.push(FingerprintQuery::new(std::mem::take(&mut batch), &types));
            len = base;
        }
        len += grows;
        batch.push((sub, rg));
    }
    if !batch.is_empty() {
        out.push(FingerprintQuery::new(batch, &types));
    }
    out
}

/// The `(lower-cased id, fingerprint)` pairs of summarized rows.
pub fn pairs(rows: &[Value]) -> Vec<(String, u64)> {
    rows.iter()
        .filter_map(|r| r.get(COLUMN)?.as_array())
        .flatten()
        .filter_map(|p| {
            let id = p.get(0)?.as_str()?.to_ascii_lowercase();
            let h = p.get(1)?;
            let h = h
                .as_i64()
                .map(|n| u64::from_ne_bytes(n.to_ne_bytes()))
                .or_else(|| h.as_u64())?;
            Some((id, h))
        })
        .collect()
}

impl Arm {
    /// [`super::ArmApi::graph_fingerprints`].
    pub(super) async fn query_fingerprints(
        &self,
        ids: &[String],
    ) -> Result<Vec<(String, u64)>, ArmError> {
        let url = format!(
            "{}/providers/Microsoft.ResourceGraph/resources?api-version={API_VERSION}",
            self.endpoint.as_str().trim_end_matches('/')
        );
        let mut todo = fingerprint_queries(ids);
        let mut out = Vec::new();
        while let Some(q) = todo.pop() {
            let body = json!({
                "subscriptions": q.subscriptions,
                "query": q.text,
                "options": {"$top": PAGE_ROWS, "resultFormat": "objectArray"},
            });
            let page: GraphQueryResponse = self
                .retrying("resource graph fingerprints", || async {
                    let (_, _, bytes) = self.raw_send(Method::Post, &url, Some(&body)).await?;
                    serde_json::from_slice(&bytes)
                        .map_err(|e| ArmError::Decode(format!("resource graph answer: {e}")))
                })
                .await?;
            if page.result_truncated.eq_ignore_ascii_case("true") {
                // Groups left out would read as "absent": ask again in halves.
                let (a, b) = q.split().ok_or_else(|| {
                    ArmError::Decode("resource graph truncated a one-group summary".into())
                })?;
                todo.push(a);
                todo.push(b);
                continue;
            }
            out.extend(pairs(&page.data));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(sub: u32, rg: usize, kind: &str) -> String {
        format!("/subscriptions/{sub:08}-0000-0000-0000-000000000000/resourceGroups/rg-plane-{rg:05}/providers/{kind}")
    }

    #[test]
    fn a_thousand_groups_take_one_query_and_more_split() {
        let ids: Vec<String> = (0..1000)
            .flat_map(|i| {
                [
                    id(1, i, "Microsoft.DBforPostgreSQL/flexibleServers/pg"),
                    id(1, i, "Microsoft.Storage/storageAccounts/st"),
                    id(1, i, "Microsoft.Insights/metricAlerts/cpu"),
                ]
            })
            .collect();
        let q = fingerprint_queries(&ids);
        assert_eq!(q.len(), 1, "1,000 groups of one subscription: one query");
        assert!(q[0].text.len() <= MAX_QUERY_BYTES);
        assert_eq!(q[0].subscriptions.len(), 1);
        assert_eq!(q[0].text.matches("microsoft.").count(), 3, "each type once");
        let more: Vec<String> = (0..2500)
            .map(|i| id(i as u32 % 3, i, "Microsoft.Storage/storageAccounts/st"))
            .collect();
        let q = fingerprint_queries(&more);
        assert_eq!(q.len(), 3);
        assert!(q.iter().all(|q| q.groups.len() <= MAX_GROUPS_PER_QUERY));
        let (a, b) = q[0].split().unwrap();
        assert_eq!(a.groups.len() + b.groups.len(), q[0].groups.len());
        assert!(fingerprint_queries(&["/subscriptions/x".into()]).is_empty());
    }

    #[test]
    fn pairs_are_read_from_summarized_rows() {
        let rows = vec![json!({"subscriptionId": "s", "resourceGroup": "r",
            "fingerprints": [["/A", -1], ["/b", 7]]})];
        assert_eq!(
            pairs(&rows),
            vec![("/a".to_owned(), u64::MAX), ("/b".to_owned(), 7)]
        );
    }
}
