//! The verbs on objects: get, list, watch, create, update, patch, delete.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::errors::KubeError;
use super::events;
use super::journal::JournalEntry;
use super::patch::{self, PatchKind};
use super::protobuf;
use super::schema::{self, FieldValidation};
use super::select::Selector;
use super::server::{Request, Target};
use super::ssa;
use super::store::Part;
use super::table::{table, wants_table};
use super::watch::{self, WatchRequest};
use super::Inner;

/// The request body as JSON (sent as JSON, or as protobuf by kubectl's typed commands).
fn json_body(req: &Request) -> Result<Value, KubeError> {
    let ct = req
        .content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim();
    if ct == protobuf::MEDIA_TYPE {
        return protobuf::decode(&req.body);
    }
    if !ct.is_empty() && !ct.ends_with("json") {
        return Err(KubeError::UnsupportedMediaType("application/json".into()));
    }
    serde_json::from_slice(&req.body)
        .map_err(|e| KubeError::BadRequest(format!("the request body is not JSON: {e}")))
}

fn reply(code: StatusCode, v: Value) -> Result<Response, KubeError> {
    Ok((code, Json(v)).into_response())
}

fn part(sub: Option<&str>) -> Result<Part, KubeError> {
    match sub {
        None => Ok(Part::Main),
        Some("status") => Ok(Part::Status),
        Some(_) => Err(KubeError::NoRoute),
    }
}

/// One request on a resource path.
pub fn handle(inner: &Arc<Inner>, tg: Target, req: Request) -> Result<Response, KubeError> {
    let mut entry = JournalEntry::new(&tg, &req);
    let fault = inner.faults().fire(&entry);
    let answer = match fault {
        Some(r) => Ok(r),
        None => verb(inner, tg, req),
    };
    entry.code = match &answer {
        Ok(r) => r.status().as_u16(),
        Err(e) => e.code(),
    };
    inner.journal().push(entry);
    answer
}

fn verb(inner: &Arc<Inner>, tg: Target, req: Request) -> Result<Response, KubeError> {
    if req.query.get("dryRun").is_some_and(|d| !d.is_empty()) {
        return Err(KubeError::BadRequest(
            "mock-kube does not support dryRun".into(),
        ));
    }
    let ns = tg.namespace.clone().unwrap_or_default();
    let t = &tg.t;
    let mode = FieldValidation::parse(req.query.get("fieldValidation").map(String::as_str))?;
    match (&req.method, tg.name.as_deref()) {
        (&Method::GET, None) => collection(inner, &tg, &req),
        (&Method::GET, Some(name)) => {
            part(tg.sub.as_deref())?;
            let obj = inner.lock().get(t, &ns, name)?;
            if wants_table(&req.accept) {
                let rv = inner.lock().rv();
                return reply(
                    StatusCode::OK,
                    table(
                        t,
                        &[obj],
                        rv,
                        req.query.get("includeObject").map(String::as_str),
                    ),
                );
            }
            reply(StatusCode::OK, obj)
        }
        (&Method::POST, None) => {
            if t.namespaced && tg.namespace.is_none() {
                return Err(KubeError::MethodNotAllowed);
            }
            let mut body = events::stored(t, json_body(&req)?);
            schema::admit(t, &mut body, Part::Main, mode)?;
            let created = inner.write(|s| s.create(t, &ns, body))?;
            reply(StatusCode::CREATED, created)
        }
        (&Method::PUT, Some(name)) => {
            let mut body = events::stored(t, json_body(&req)?);
            let p = part(tg.sub.as_deref())?;
            schema::admit(t, &mut body, p, mode)?;
            let updated = inner.write(|s| {
                let old = s.get(t, &ns, name)?;
                ssa::record_update(t, &old, &mut body, update_manager(&req), p);
                s.update(t, &ns, name, body, p)
            })?;
            reply(StatusCode::OK, updated)
        }
        (&Method::PATCH, Some(name)) if req.content_type.starts_with(ssa::MEDIA_TYPE) => {
            let config = ssa::parse(&req.body)?;
            let sent = config["metadata"]["name"].as_str().unwrap_or(name);
            if sent != name {
                return Err(KubeError::BadRequest(format!(
                    "the name of the object ({sent}) does not match the name on the URL ({name})"
                )));
            }
            let apply = ssa::Apply {
                manager: manager(&req),
                force: req.query.get("force").is_some_and(|f| f == "true"),
                part: part(tg.sub.as_deref())?,
            };
            let (code, obj) = inner.write(|s| {
                let live = s.get(t, &ns, name).ok();
                let mut next = events::stored(t, ssa::apply(t, live.as_ref(), config, &apply)?);
                schema::admit(t, &mut next, apply.part, mode)?;
                match live {
                    Some(_) => Ok((StatusCode::OK, s.update(t, &ns, name, next, apply.part)?)),
                    None if apply.part == Part::Status => {
                        Err(KubeError::not_found(&t.qualified(), name))
                    }
                    None => {
                        next["metadata"]["name"] = json!(name);
                        Ok((StatusCode::CREATED, s.create(t, &ns, next)?))
                    }
                }
            })?;
            reply(code, obj)
        }
        (&Method::PATCH, Some(name)) => {
            let kind = PatchKind::from_content_type(&req.content_type)?;
            let p = part(tg.sub.as_deref())?;
            let body = json_body(&req)?;
            let updated = inner.write(|s| {
                let old = s.get(t, &ns, name)?;
                let mut next = events::stored(t, patch::apply(kind, t.custom, &old, &body)?);
                schema::admit(t, &mut next, p, mode)?;
                ssa::record_update(t, &old, &mut next, update_manager(&req), p);
                s.update(t, &ns, name, next, p)
            })?;
            reply(StatusCode::OK, updated)
        }
        (&Method::DELETE, Some(name)) if tg.sub.is_none() => {
            reply(StatusCode::OK, inner.write(|s| s.delete(t, &ns, name))?)
        }
        _ => Err(KubeError::MethodNotAllowed),
    }
}

/// List or watch a collection.
fn collection(inner: &Arc<Inner>, tg: &Target, req: &Request) -> Result<Response, KubeError> {
    let q = |k: &str| req.query.get(k).map(String::as_str);
    let any_field = tg.t.kind == "Event";
    let selector = Selector::parse(q("fieldSelector"), q("labelSelector"), any_field)?;
    if matches!(q("watch"), Some("true" | "1")) {
        let timeout = q("timeoutSeconds")
            .and_then(|s| s.parse().ok())
            .map(Duration::from_secs);
        let wr = WatchRequest {
            t: tg.t.clone(),
            namespace: tg.namespace.clone(),
            selector,
            from: watch::start(q("resourceVersion"))?,
            timeout,
            table: wants_table(&req.accept).then(|| q("includeObject").map(str::to_owned)),
            send_initial_events: matches!(q("sendInitialEvents"), Some("true")),
        };
        let body = watch::body(inner.clone(), wr);
        return Ok((
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            body,
        )
            .into_response());
    }
    let (items, rv) = {
        let s = inner.lock();
        (s.list(&tg.t, tg.namespace.as_deref()), s.rv())
    };
    let items: Vec<Value> = items.into_iter().filter(|o| selector.matches(o)).collect();
    if wants_table(&req.accept) {
        return reply(StatusCode::OK, table(&tg.t, &items, rv, q("includeObject")));
    }
    reply(
        StatusCode::OK,
        json!({
            "kind": format!("{}List", tg.t.kind),
            "apiVersion": tg.t.api_version(),
            "metadata": {"resourceVersion": rv.to_string()},
            "items": items,
        }),
    )
}

/// The request's `fieldManager` (empty when it named none: an apply then fails).
fn manager(req: &Request) -> &str {
    req.query.get("fieldManager").map_or("", String::as_str)
}

/// The manager a write other than an apply is recorded under: its `fieldManager`, else, as a real
/// server does, the product name its `User-Agent` starts with.
fn update_manager(req: &Request) -> &str {
    match manager(req) {
        "" => req
            .user_agent
            .split('/')
            .next()
            .filter(|s| !s.is_empty())
            .unwrap_or("unknown"),
        m => m,
    }
}
