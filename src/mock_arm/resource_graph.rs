//! Azure Resource Graph: `POST /providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01`
//! with `{subscriptions?, query, options?: {$top, $skip, $skipToken, resultFormat}}`, answered in
//! ARG's shape (`totalRecords`, `count`, `resultTruncated`, `$skipToken`, `data` as an object
//! array, `facets`). The query is the KQL subset of `graph_kql.rs` over the store's top-level
//! resources, with the columns ARG adds, as the lag of `graph_history.rs` lets ARG see them.
//! Every query draws on ARG's own quota, per principal in a fixed window (15 per 5 s), and every
//! answer carries `x-ms-user-quota-remaining` / `x-ms-user-quota-resets-after`. See
//! docs/mock-arm.md, "Resource Graph".

use std::collections::HashMap;
use std::time::Duration;

use azure_core::base64::{decode_url_safe, encode_url_safe};
use serde_json::{json, Map, Value};

use super::entra_auth::STATIC_PRINCIPAL;
use super::errors::ArmError;
use super::graph_history::History;
use super::graph_kql::{self, KqlError, Query};
use super::postgres::method_not_allowed;
use super::store::{guid, Reply, Req, World};
use super::throttle::ThrottleConfig;

/// The id the journal counts every query against.
pub const JOURNAL_ID: &str = "/providers/Microsoft.ResourceGraph/resources";
/// The api-versions served.
pub const VERSIONS: &[&str] = &["2022-10-01"];
/// The longest query text (UTF-8 bytes) the mock takes. ARG documents no maximum; this is the
/// mock's conservative choice (docs/mock-arm.md), which the client stays under.
pub const MAX_QUERY_BYTES: usize = 64 * 1024;
/// The most rows a page holds (`options.$top`, 1..=1000 in the 2022-10-01 spec; also the default).
pub const MAX_TOP: usize = 1000;

/// ARG's per-principal state: its quota windows and the lag's history.
#[derive(Debug, Default)]
pub struct GraphState {
    pub history: History,
    /// Keyed by lower-cased principal.
    windows: HashMap<String, Window>,
}

/// One principal's fixed quota window.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Duration,
    used: u32,
}

/// What a principal has left, and when its window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Quota {
    remaining: u32,
    resets_after: Duration,
}

impl Quota {
    /// ARG's two headers: the count, and the time to the reset as `hh:mm:ss` (whole seconds,
    /// rounded up).
    fn headers(self) -> Headers {
        let s = self.resets_after.as_secs() + u64::from(self.resets_after.subsec_nanos() > 0);
        vec![
            ("x-ms-user-quota-remaining", self.remaining.to_string()),
            (
                "x-ms-user-quota-resets-after",
                format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60),
            ),
        ]
    }
}

impl GraphState {
    /// Take one query from `principal`'s window at `now`: a window opens with the first query after
    /// the last one ended, and allows `queries_per_window` until it ends, as ARG's headers
    /// describe (the count resets in full when the window ends). With throttling off the count is
    /// still kept and reported, never refused.
    fn admit(
        &mut self,
        cfg: &ThrottleConfig,
        principal: &str,
        now: Duration,
    ) -> Result<Quota, Quota> {
        let limit = cfg.graph.queries_per_window;
        let window = Duration::from_secs_f64(cfg.graph.window_secs.max(0.001));
        let w = self
            .windows
            .entry(principal.to_ascii_lowercase())
            .or_insert(Window {
                start: now,
                used: 0,
            });
        if now >= w.start + window {
            *w = Window {
                start: now,
                used: 0,
            };
        }
        let resets_after = w.start + window - now;
        if w.used >= limit && cfg.enabled {
            return Err(Quota {
                remaining: 0,
                resets_after,
            });
        }
        w.used += 1;
        Ok(Quota {
            remaining: limit.saturating_sub(w.used),
            resets_after,
        })
    }
}

/// Response headers.
type Headers = Vec<(&'static str, String)>;

/// The throttle step of a query: the quota headers of the answer, or ARG's 429 with them.
pub fn throttle(
    world: &mut World,
    cfg: &ThrottleConfig,
    principal: &str,
    now: Duration,
) -> Result<Headers, (ArmError, Headers)> {
    match world.graph.admit(cfg, principal, now) {
        Ok(q) => Ok(q.headers()),
        Err(q) => {
            let wait = q.resets_after.as_secs_f64().ceil().max(1.0) as u64;
            let mut headers = q.headers();
            headers.push(("retry-after", wait.to_string()));
            let e = ArmError::new(429, "RateLimiting", support_message())
                .with_details(json!([{"code": "RateLimiting", "message": format!(
                    "The principal sent {} queries within {} seconds, Resource Graph's quota; try again after {wait} s.",
                    cfg.graph.queries_per_window, cfg.graph.window_secs
                )}]));
            Err((e, headers))
        }
    }
}

/// ARG's top-level error message points at the details.
fn support_message() -> String {
    "Resource Graph refused the request; the details say why.".to_owned()
}

/// ARG's 400: `BadRequest`, with `InvalidQuery` first and then what was wrong.
fn refused(code: &str, message: String, token: Option<&str>) -> ArmError {
    let mut detail = json!({"code": code, "message": message});
    if let Some(t) = token {
        detail["token"] = json!(t);
    }
    ArmError::bad_request("BadRequest", support_message()).with_details(json!([
        {"code": "InvalidQuery", "message": "The query is invalid; see the next detail, and the Resource Graph documentation."},
        detail,
    ]))
}

fn kql_refused(e: KqlError) -> ArmError {
    let code = if e.unsupported {
        "InvalidQueryLanguage"
    } else {
        "ParserFailure"
    };
    refused(code, e.message, Some(&e.token))
}

/// `options`, checked against the 2022-10-01 spec.
#[derive(Debug, Default)]
struct Options {
    top: Option<usize>,
    skip: Option<usize>,
    skip_token: Option<String>,
}

fn options(v: Option<&Value>) -> Result<Options, ArmError> {
    let Some(o) = v.filter(|v| !v.is_null()) else {
        return Ok(Options::default());
    };
    let bad = |m: String| refused("InvalidQueryOptions", m, None);
    let o = o
        .as_object()
        .ok_or_else(|| bad("options must be an object".into()))?;
    let count = |k: &str, min: u64| -> Result<Option<usize>, ArmError> {
        match o.get(k).filter(|v| !v.is_null()) {
            None => Ok(None),
            Some(v) => match v.as_u64().filter(|n| *n >= min) {
                Some(n) if k != "$top" || n <= MAX_TOP as u64 => Ok(Some(n as usize)),
                _ => Err(bad(format!(
                    "options.{k} must be an integer from {min}{}, not {v}",
                    if k == "$top" { " to 1000" } else { "" }
                ))),
            },
        }
    };
    match o.get("resultFormat").and_then(Value::as_str) {
        None | Some("objectArray") => {}
        Some(f) => {
            return Err(bad(format!(
                "resultFormat '{f}': the mock answers objectArray only"
            )))
        }
    }
    Ok(Options {
        top: count("$top", 1)?,
        skip: count("$skip", 0)?,
        skip_token: o
            .get("$skipToken")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

/// FNV-1a of the query and its scope: a `$skipToken` belongs to one query.
fn fingerprint(query: &str, subs: &Option<Vec<String>>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let scope = subs.as_ref().map(|s| s.join(",")).unwrap_or_default();
    for b in query.bytes().chain([0]).chain(scope.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The next page's offset and size, opaque to the client.
fn token(offset: usize, size: usize, fp: &str) -> String {
    encode_url_safe(json!({"o": offset, "n": size, "h": fp}).to_string())
}

fn read_token(t: &str, fp: &str) -> Result<(usize, usize), ArmError> {
    let bad = || {
        refused(
            "InvalidSkipToken",
            "The $skipToken does not belong to this query and scope (send it with the query and subscriptions it came with).".into(),
            None,
        )
    };
    let v: Value = decode_url_safe(t)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(bad)?;
    match (v["o"].as_u64(), v["n"].as_u64(), v["h"].as_str()) {
        (Some(o), Some(n), Some(h)) if h == fp => Ok((o as usize, n as usize)),
        _ => Err(bad()),
    }
}

/// The tenant a subscription belongs to (`EntraConfig.subscription_tenants`), if mapped.
fn tenant_of<'a>(req: &'a Req, sub: &str) -> Option<&'a str> {
    req.cfg
        .entra
        .subscription_tenants
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(sub))
        .map(|(_, t)| t.as_str())
}

/// The string columns of a row, which `where` compares (before the row is built).
struct Columns<'a> {
    id: &'a str,
    name: &'a str,
    kind_of: String,
    tenant: &'a str,
    kind: &'a str,
    location: &'a str,
    resource_group: &'a str,
    subscription: &'a str,
}

impl<'a> Columns<'a> {
    /// The columns of a stored body: the type lower-cased, as ARG returns it.
    fn of(id_lower: &'a str, body: &'a Value, tenant: &'a str) -> Self {
        let id = body["id"].as_str().unwrap_or(id_lower);
        let segs: Vec<&str> = id.trim_start_matches('/').split('/').collect();
        let seg = |i: usize| segs.get(i).copied().unwrap_or_default();
        let text = |k: &str| body[k].as_str().unwrap_or_default();
        Columns {
            id,
            name: body["name"].as_str().unwrap_or(seg(7)),
            kind_of: body["type"]
                .as_str()
                .map_or_else(|| format!("{}/{}", seg(5), seg(6)), str::to_owned)
                .to_ascii_lowercase(),
            tenant,
            kind: text("kind"),
            location: text("location"),
            resource_group: seg(3),
            subscription: seg(1),
        }
    }

    fn get(&self, column: &str) -> &str {
        match column {
            "id" => self.id,
            "name" => self.name,
            "type" => &self.kind_of,
            "tenantId" => self.tenant,
            "kind" => self.kind,
            "location" => self.location,
            "resourceGroup" => self.resource_group,
            "subscriptionId" => self.subscription,
            _ => "",
        }
    }

    fn passes(&self, q: &Query) -> bool {
        q.filters.iter().all(|f| f.matches(self.get(f.column)))
    }
}

/// A row of ARG's `resources` table: the columns, and the rest from the stored body.
fn row(c: &Columns, body: &Value) -> Map<String, Value> {
    let or = |k: &str, d: Value| body.get(k).filter(|v| !v.is_null()).cloned().unwrap_or(d);
    let v = json!({
        "id": c.id,
        "name": c.name,
        "type": c.kind_of,
        "tenantId": c.tenant,
        "kind": c.kind,
        "location": c.location,
        "resourceGroup": c.resource_group,
        "subscriptionId": c.subscription,
        "managedBy": or("managedBy", json!("")),
        "sku": or("sku", Value::Null),
        "plan": or("plan", Value::Null),
        "properties": or("properties", json!({})),
        "tags": or("tags", json!({})),
        "identity": or("identity", Value::Null),
        "zones": or("zones", Value::Null),
        "extendedLocation": or("extendedLocation", Value::Null),
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The requested subscriptions (lower-cased), None for "every subscription".
fn scope(body: &Map<String, Value>) -> Result<Option<Vec<String>>, ArmError> {
    for k in ["managementGroups", "facets"] {
        if body
            .get(k)
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
        {
            return Err(refused(
                "UnsupportedByMock",
                format!("'{k}' is not modelled: the mock scopes queries by subscriptions only"),
                None,
            ));
        }
    }
    let Some(subs) = body.get("subscriptions").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let list: Option<Vec<String>> = subs.as_array().and_then(|a| {
        a.iter()
            .map(|s| s.as_str().map(str::to_ascii_lowercase))
            .collect()
    });
    let mut list = list.ok_or_else(|| {
        refused(
            "InvalidSubscriptions",
            "subscriptions must be a list of subscription ids".into(),
            None,
        )
    })?;
    list.sort();
    list.dedup();
    Ok(Some(list))
}

/// POST of a query.
pub fn query(world: &World, req: &Req) -> Result<Reply, ArmError> {
    if req.method != "POST" {
        return Err(method_not_allowed());
    }
    let body = req.object()?;
    let text = body.get("query").and_then(Value::as_str).ok_or_else(|| {
        refused(
            "InvalidRequestContent",
            "the request has no query".into(),
            None,
        )
    })?;
    if text.len() > MAX_QUERY_BYTES {
        return Err(refused(
            "QueryTooLarge",
            format!(
                "The query is {} bytes long, over the {MAX_QUERY_BYTES} bytes the mock takes; split it.",
                text.len()
            ),
            None,
        ));
    }
    let subs = scope(&body)?;
    let opts = options(body.get("options"))?;
    let q = graph_kql::parse(text).map_err(kql_refused)?;
    // Who may see what: a token of a tenant sees the subscriptions mapped to it and the unmapped
    // ones (which then count as its tenant's); the static token sees everything, an unmapped
    // subscription being the mock's tenant's.
    let caller = (req.principal != STATIC_PRINCIPAL)
        .then(|| req.principal.split('/').next().unwrap_or_default());
    let mock_tenant = guid(0, 2);
    let default_tenant = caller.unwrap_or(&mock_tenant);
    let mut rows: Vec<Map<String, Value>> = Vec::new();
    for (id, body) in world.graph_view(req.elapsed) {
        let sub = id.split('/').nth(2).unwrap_or_default();
        if subs
            .as_ref()
            .is_some_and(|s| s.binary_search(&sub.to_owned()).is_err())
        {
            continue;
        }
        let tenant = tenant_of(req, sub);
        if let (Some(c), Some(t)) = (caller, tenant) {
            if !c.eq_ignore_ascii_case(t) {
                continue;
            }
        }
        let c = Columns::of(id, body, tenant.unwrap_or(default_tenant));
        if c.passes(&q) {
            rows.push(row(&c, body));
        }
    }
    if let Some(n) = q.limit {
        rows.truncate(n);
    }
    // ARG answers a summarize with its first page only: no paging, no $skipToken.
    let summarized = q.summarize.as_ref().map(|s| s.apply(&rows));
    let pageable = summarized.is_none()
        && q.limit.is_none()
        && q.project.as_ref().is_none_or(|c| c.contains(&"id"));
    if let Some(groups) = summarized {
        rows = groups;
    }
    let fp = fingerprint(text, &subs);
    let (offset, size) = match &opts.skip_token {
        Some(t) => {
            let (o, n) = read_token(t, &fp)?;
            (opts.skip.unwrap_or(o), opts.top.unwrap_or(n))
        }
        None => (opts.skip.unwrap_or(0), opts.top.unwrap_or(MAX_TOP)),
    };
    let offset = if q.summarize.is_some() { 0 } else { offset };
    let total = rows.len();
    let page: Vec<Value> = rows
        .into_iter()
        .skip(offset)
        .take(size)
        .map(|r| match &q.project {
            Some(cols) => Value::Object(
                cols.iter()
                    .map(|c| ((*c).to_owned(), r.get(*c).cloned().unwrap_or(Value::Null)))
                    .collect(),
            ),
            None => Value::Object(r),
        })
        .collect();
    let more = offset + page.len() < total;
    // ARG pages only a query whose rows carry their id and that has no limit of its own (nor a
    // summarize, above).
    let mut answer = json!({
        "totalRecords": total,
        "count": page.len(),
        "resultTruncated": if more && !pageable { "true" } else { "false" },
        "facets": [],
        "data": page,
    });
    if more && pageable {
        answer["$skipToken"] = json!(token(offset + size, size, &fp));
    }
    Ok(Reply::json(200, answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_allows_its_quota_then_resets_in_full() {
        let cfg = ThrottleConfig::default();
        let mut g = GraphState::default();
        let t0 = Duration::from_secs(100);
        for left in (0..15).rev() {
            assert_eq!(g.admit(&cfg, "P", t0).map(|q| q.remaining), Ok(left));
        }
        let refused = g
            .admit(&cfg, "p", t0 + Duration::from_millis(1500))
            .unwrap_err();
        assert_eq!(refused.resets_after, Duration::from_millis(3500));
        let h = refused.headers();
        assert_eq!(h[1].1, "00:00:04");
        assert!(g.admit(&cfg, "q", t0).is_ok(), "per principal");
        let next = g.admit(&cfg, "p", t0 + Duration::from_secs(5)).unwrap();
        assert_eq!(next.remaining, 14);
        let off = ThrottleConfig {
            enabled: false,
            ..ThrottleConfig::default()
        };
        for _ in 0..20 {
            assert!(g.admit(&off, "r", t0).is_ok());
        }
    }

    #[test]
    fn tokens_belong_to_their_query() {
        let fp = fingerprint("resources", &None);
        let t = token(1000, 1000, &fp);
        assert_eq!(read_token(&t, &fp), Ok((1000, 1000)));
        let other = fingerprint("resources | limit 1", &None);
        assert!(read_token(&t, &other).is_err());
        assert!(read_token("not a token", &fp).is_err());
    }
}
