//! Routes of extension resources and scoped actions, which sit under another resource's id or
//! a scope rather than at a fixed depth: diagnostic settings and metrics (Azure Monitor) on any
//! resource, and the Cost Management query at a subscription or resource group (split from
//! `router.rs`).

use super::router::{Route, Target, DIAGNOSTICS_VERSIONS};
use super::{cost_query, diagnostics, metrics};

/// `{resourceId}/providers/Microsoft.Insights/diagnosticSettings[/{name}]` on a resource of a
/// resource group (the extension resource can sit under any provider).
pub(super) fn route_diagnostics(segs: &[&str], l: &[&str]) -> Option<Route> {
    let i = (8..l.len()).find(|&i| {
        l[i] == "providers"
            && l.get(i + 1) == Some(&"microsoft.insights")
            && l.get(i + 2) == Some(&"diagnosticsettings")
    })?;
    if l[0] != "subscriptions" || l[2] != "resourcegroups" || l.len() > i + 4 {
        return None;
    }
    let scope = format!("/{}", segs[..i].join("/"));
    let list = format!("{scope}/providers/{}", diagnostics::TYPE);
    let (target, journal_id) = match segs.get(i + 3) {
        None => (Target::DiagList { scope }, list),
        Some(name) => (
            Target::Diag {
                scope,
                name: name.to_string(),
            },
            format!("{list}/{name}"),
        ),
    };
    Some(Route {
        target,
        sub: Some(segs[1].to_string()),
        journal_id,
        versions: DIAGNOSTICS_VERSIONS,
        type_name: diagnostics::TYPE,
    })
}

/// `{resourceId}/providers/Microsoft.Insights/metrics`, on a resource of a resource group.
pub(super) fn route_metrics(segs: &[&str], l: &[&str]) -> Option<Route> {
    let i = l.len().checked_sub(3)?;
    if i < 8
        || l[i..] != ["providers", "microsoft.insights", "metrics"]
        || l[0] != "subscriptions"
        || l[2] != "resourcegroups"
    {
        return None;
    }
    let scope = format!("/{}", segs[..i].join("/"));
    Some(Route {
        journal_id: format!("{scope}/providers/{}", metrics::TYPE),
        target: Target::Metrics { scope },
        sub: Some(segs[1].to_string()),
        versions: metrics::VERSIONS,
        type_name: metrics::TYPE,
    })
}

/// `{subscription or resource group}/providers/Microsoft.CostManagement/query`.
pub(super) fn route_cost(segs: &[&str], l: &[&str]) -> Option<Route> {
    let i = l.len().checked_sub(3)?;
    let scoped = matches!(
        &l[..i],
        ["subscriptions", _] | ["subscriptions", _, "resourcegroups", _]
    );
    if !scoped || l[i..] != ["providers", "microsoft.costmanagement", "query"] {
        return None;
    }
    let scope = format!("/{}", segs[..i].join("/"));
    Some(Route {
        journal_id: format!("{scope}/providers/Microsoft.CostManagement/query"),
        target: Target::CostQuery { scope },
        sub: Some(segs[1].to_string()),
        versions: cost_query::VERSIONS,
        type_name: "Microsoft.CostManagement/query",
    })
}
