//! The HTTP front: discovery, OpenAPI, the `/_mock/` control API, and the resource paths
//! (`/api/v1/...`, `/apis/{group}/{version}/...`) resolved to a type, a namespace and a name.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;

use super::errors::KubeError;
use super::faults::FaultSpec;
use super::types::ResourceType;
use super::{discovery, objects, openapi, Inner};

/// Serve until `stop` turns true.
pub async fn serve(
    listener: tokio::net::TcpListener,
    inner: Arc<Inner>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let app = axum::Router::new().fallback(front_door).with_state(inner);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await;
    if let Err(e) = served {
        tracing::warn!(error = %e, "mock-kube server ended");
    }
}

/// The resource a path names.
pub struct Target {
    pub t: ResourceType,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub sub: Option<String>,
}

/// What one request carries, beyond its target.
pub struct Request {
    pub method: Method,
    pub query: HashMap<String, String>,
    pub accept: String,
    pub content_type: String,
    /// The client's `User-Agent` (the journal keeps it, as a real server's audit log does).
    pub user_agent: String,
    pub body: Bytes,
}

/// Resolve `rest` (what follows `/api/v1` or `/apis/{g}/{v}`) against the served types.
fn target(types: &[ResourceType], group: &str, version: &str, rest: &[&str]) -> Option<Target> {
    let find = |plural: &str| {
        types
            .iter()
            .find(|t| t.group == group && t.version == version && t.plural == plural)
            .cloned()
    };
    let namespaced = |plural: &str| find(plural).filter(|t| t.namespaced);
    let own = |s: Option<&&str>| s.map(|s| (*s).to_owned());
    // `{name}` or `{name}/status`: the only subresource served.
    let item = |tail: &[&str]| matches!(tail, [] | [_] | [_, "status"]);
    match rest {
        ["namespaces", ns, plural, tail @ ..]
            if (tail.len() < 2 || tail.get(1) == Some(&"status"))
                && namespaced(plural).is_some() =>
        {
            Some(Target {
                t: namespaced(plural)?,
                namespace: Some((*ns).to_owned()),
                name: own(tail.first()),
                sub: own(tail.get(1)),
            })
        }
        [plural, tail @ ..] if item(tail) => {
            let t = find(plural)?;
            if t.namespaced && !tail.is_empty() {
                return None;
            }
            Some(Target {
                t,
                namespace: None,
                name: own(tail.first()),
                sub: own(tail.get(1)),
            })
        }
        _ => None,
    }
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn front_door(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query = Query::<HashMap<String, String>>::try_from_uri(&uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let req = Request {
        method,
        query,
        accept: header(&headers, "accept"),
        content_type: header(&headers, "content-type"),
        user_agent: header(&headers, "user-agent"),
        body,
    };
    let path: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    tracing::debug!(method = %req.method, path = uri.path(), "mock-kube request");
    match answer(&inner, &path, req) {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

fn ok(v: Value) -> Result<Response, KubeError> {
    Ok(Json(v).into_response())
}

fn answer(inner: &Arc<Inner>, path: &[&str], req: Request) -> Result<Response, KubeError> {
    let types = inner.lock().types().to_vec();
    let read = req.method == Method::GET;
    match path {
        ["version"] if read => ok(discovery::version()),
        ["api"] if read => ok(discovery::core_versions()),
        ["apis"] if read => {
            discovery::negotiate(&req.accept)?;
            ok(discovery::groups(&types))
        }
        ["api", v] if read => ok(discovery::resources(&types, "", v)?),
        ["apis", g] if read => ok(discovery::group(&types, g)?),
        ["apis", g, v] if read => ok(discovery::resources(&types, g, v)?),
        ["openapi", "v3"] if read => ok(openapi::root(&types)),
        ["openapi", "v3", rest @ ..] if read => ok(openapi::document(&types, &rest.join("/"))?),
        ["_mock", "dump"] if read => ok(inner.lock().dump()),
        ["_mock", "journal"] if read => ok(serde_json::json!(inner.journal().entries())),
        ["_mock", "counts"] if read => ok(serde_json::json!(inner.journal().counts())),
        ["_mock", "faults"] => match req.method {
            Method::GET => ok(serde_json::json!(inner.faults().list())),
            Method::DELETE => {
                inner.faults().clear();
                Ok(StatusCode::NO_CONTENT.into_response())
            }
            Method::POST => {
                let spec: FaultSpec = serde_json::from_slice(&req.body)
                    .map_err(|e| KubeError::BadRequest(format!("not a fault: {e}")))?;
                let id = inner.faults().add(spec);
                Ok((StatusCode::CREATED, Json(serde_json::json!({"id": id}))).into_response())
            }
            _ => Err(KubeError::MethodNotAllowed),
        },
        ["_mock", "drop-watches"] if req.method == Method::POST => {
            inner.drop_watches();
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        ["_mock", "reset"] if req.method == Method::POST => {
            inner.journal().clear();
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        ["_mock", "compact"] if req.method == Method::POST => {
            inner.write(|s| s.compact());
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        ["api", v, rest @ ..] => {
            let t = target(&types, "", v, rest).ok_or(KubeError::NoRoute)?;
            objects::handle(inner, t, req)
        }
        ["apis", g, v, rest @ ..] => {
            let t = target(&types, g, v, rest).ok_or(KubeError::NoRoute)?;
            objects::handle(inner, t, req)
        }
        _ => Err(KubeError::NoRoute),
    }
}

#[cfg(test)]
mod tests {
    use super::super::types::builtins;
    use super::*;

    #[test]
    fn paths_resolve_to_targets() {
        let mut types = builtins();
        let crd: Value =
            serde_saphyr::from_str(include_str!("../../crds/engramdataplane.yaml")).unwrap();
        types.extend(super::super::types::from_crd(&crd));
        let (g, v) = ("engram.zimax.net", "v1alpha1");
        let t = target(
            &types,
            g,
            v,
            &["namespaces", "engram", "engramdataplanes", "a", "status"],
        )
        .unwrap();
        assert_eq!(
            (t.namespace.as_deref(), t.name.as_deref(), t.sub.as_deref()),
            (Some("engram"), Some("a"), Some("status"))
        );
        let all = target(&types, g, v, &["engramdataplanes"]).unwrap();
        assert!(all.namespace.is_none() && all.name.is_none());
        assert!(target(&types, g, v, &["engramdataplanes", "a"]).is_none());
        let ns = target(&types, "", "v1", &["namespaces", "engram"]).unwrap();
        assert_eq!(
            (ns.t.plural.as_str(), ns.name.as_deref()),
            ("namespaces", Some("engram"))
        );
        let st = target(&types, "", "v1", &["namespaces", "engram", "status"]).unwrap();
        assert_eq!(st.sub.as_deref(), Some("status"));
        assert!(target(&types, "", "v1", &["namespaces", "engram", "pods"]).is_none());
        assert!(target(
            &types,
            g,
            v,
            &["namespaces", "e", "engramdataplanes", "a", "scale"]
        )
        .is_none());
    }
}
