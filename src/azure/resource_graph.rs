//! Azure Resource Graph (`POST /providers/Microsoft.ResourceGraph/resources`, api-version
//! `2022-10-01`) over the raw pipeline, on the ARM endpoint: top-level resources by id, many per
//! query. The ids are split into queries of at most [`MAX_IDS_PER_QUERY`] ids and
//! [`MAX_QUERY_BYTES`] of query text, each scoped to the subscriptions of its ids, and every page is
//! followed by its `$skipToken`. The pipeline policy paces the queries to ARG's quota (the budget's
//! `Class::Graph`) and holds the principal's queries back after a 429 until its Retry-After; the
//! call is retried like every read. See docs/mock-arm.md ("Resource Graph") for the facts and
//! their sources.

use azure_core::Method;
use serde_json::{json, Value};

use super::error::ArmError;
use super::wire::GraphQueryResponse;
use super::Arm;

pub const API_VERSION: &str = "2022-10-01";
/// Ids per query: ARG recommends grouping fewer than 300 resources or subscriptions in one query
/// ("Guidance for throttled requests in Azure Resource Graph").
pub const MAX_IDS_PER_QUERY: usize = 250;
/// The longest query text sent, in bytes. ARG documents no maximum (the REST spec gives the query
/// no maxLength); the mock refuses more than 64 KiB, and this stays well below it: 250 ids of 150
/// characters take about 38 KB.
pub const MAX_QUERY_BYTES: usize = 48 * 1024;
/// Rows per page (`options.$top`): the most the 2022-10-01 spec allows.
pub const PAGE_ROWS: usize = 1000;

const PREFIX: &str = "resources | where id in~ (";
const SEPARATOR: &str = ", ";
const SUFFIX: &str = ")";

/// A KQL string literal: single-quoted, with backslashes and single quotes escaped. ARM ids are
/// validated names, but the quoting holds for any text.
pub fn kql_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\\' || c == '\'' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// The query for one batch of (quoted) ids.
fn query_text(quoted: &[String]) -> String {
    format!("{PREFIX}{}{SUFFIX}", quoted.join(SEPARATOR))
}

/// The ids (each once, ignoring case, in order) split into the queries that fetch them: each at
/// most [`MAX_IDS_PER_QUERY`] ids and [`MAX_QUERY_BYTES`] long (an id too long for a query of its
/// own is sent alone).
pub fn queries(ids: &[String]) -> Vec<(String, Vec<String>)> {
    let mut sorted: Vec<&String> = ids.iter().collect();
    sorted.sort_by_key(|id| id.to_ascii_lowercase());
    sorted.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    let mut out = Vec::new();
    let (mut batch, mut subs, mut len): (Vec<String>, Vec<String>, usize) =
        (Vec::new(), Vec::new(), 0);
    for id in sorted {
        let quoted = kql_string(id);
        let grown = PREFIX.len() + SUFFIX.len() + len + SEPARATOR.len() + quoted.len();
        if !batch.is_empty() && (batch.len() == MAX_IDS_PER_QUERY || grown > MAX_QUERY_BYTES) {
            out.push((query_text(&batch), std::mem::take(&mut subs)));
            batch.clear();
            len = 0;
        }
        len += quoted.len() + if batch.is_empty() { 0 } else { SEPARATOR.len() };
        batch.push(quoted);
        if let Some(sub) =
            subscription(id).filter(|s| !subs.iter().any(|x| x.eq_ignore_ascii_case(s)))
        {
            subs.push(sub.to_owned());
        }
    }
    if !batch.is_empty() {
        out.push((query_text(&batch), subs));
    }
    out
}

/// The subscription of an ARM id (`/subscriptions/{sub}/...`).
fn subscription(id: &str) -> Option<&str> {
    let mut segs = id.trim_start_matches('/').split('/');
    match (segs.next(), segs.next()) {
        (Some(s), Some(sub)) if s.eq_ignore_ascii_case("subscriptions") && !sub.is_empty() => {
            Some(sub)
        }
        _ => None,
    }
}

/// The request body of one page.
fn request(query: &str, subscriptions: &[String], skip_token: Option<&str>) -> Value {
    let mut options = json!({"$top": PAGE_ROWS, "resultFormat": "objectArray"});
    if let Some(t) = skip_token {
        options["$skipToken"] = json!(t);
    }
    let mut body = json!({"query": query, "options": options});
    if !subscriptions.is_empty() {
        body["subscriptions"] = json!(subscriptions);
    }
    body
}

impl Arm {
    /// [`super::ArmApi::graph_resources`]: every page of every query, rows as ARG returns them.
    pub(super) async fn query_graph(&self, ids: &[String]) -> Result<Vec<Value>, ArmError> {
        let url = format!(
            "{}/providers/Microsoft.ResourceGraph/resources?api-version={API_VERSION}",
            self.endpoint.as_str().trim_end_matches('/')
        );
        let mut rows = Vec::new();
        for (query, subs) in queries(ids) {
            let mut token: Option<String> = None;
            loop {
                let body = request(&query, &subs, token.as_deref());
                let page: GraphQueryResponse = self
                    .retrying("resource graph query", || async {
                        let (_, _, bytes) = self.raw_send(Method::Post, &url, Some(&body)).await?;
                        serde_json::from_slice(&bytes)
                            .map_err(|e| ArmError::Decode(format!("resource graph answer: {e}")))
                    })
                    .await?;
                rows.extend(page.data);
                token = page.skip_token;
                if token.is_none() {
                    // Rows left out without a way to fetch them would read as "absent".
                    if page.result_truncated.eq_ignore_ascii_case("true") {
                        return Err(ArmError::Decode(
                            "resource graph truncated its answer without a $skipToken".into(),
                        ));
                    }
                    break;
                }
            }
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(sub: u32, name: &str) -> String {
        format!("/subscriptions/{sub:08}-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/{name}")
    }

    #[test]
    fn ids_are_quoted_deduplicated_and_split_by_count_and_size() {
        let ids: Vec<String> = (0..600)
            .map(|i| id(i % 3, &format!("acct{i:04}")))
            .collect();
        let mut twice = ids.clone();
        twice.push(ids[0].to_uppercase());
        let q = queries(&twice);
        assert_eq!(q.len(), 3, "600 ids, 250 a query");
        // Sorted, a query spans few subscriptions, and names just those.
        let subs: Vec<usize> = q.iter().map(|(_, s)| s.len()).collect();
        assert_eq!(subs, vec![2, 2, 1]);
        assert!(q.iter().all(|(text, _)| text.len() <= MAX_QUERY_BYTES));
        let total: usize = q
            .iter()
            .map(|(t, _)| t.matches("storageAccounts/").count())
            .sum();
        assert_eq!(total, 600);
        // Long ids: the size splits first.
        let long: Vec<String> = (0..250).map(|i| id(1, &format!("{i:0>250}"))).collect();
        let q = queries(&long);
        assert!(
            q.len() >= 2 && q.iter().all(|(t, _)| t.len() <= MAX_QUERY_BYTES),
            "{}",
            q.len()
        );
        assert!(queries(&[]).is_empty());
    }

    #[test]
    fn quoting_escapes_quotes_and_backslashes() {
        assert_eq!(kql_string(r"a'b\c"), r"'a\'b\\c'");
    }

    #[test]
    fn pages_ask_for_the_most_rows_as_objects() {
        let b = request("q", &["s".into()], Some("t"));
        assert_eq!(b["options"]["$top"], 1000);
        assert_eq!(b["options"]["resultFormat"], "objectArray");
        assert_eq!(b["options"]["$skipToken"], "t");
        assert_eq!(request("q", &[], None).get("subscriptions"), None);
    }
}
