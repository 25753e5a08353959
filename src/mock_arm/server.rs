//! The HTTP front: listener whose connections a fault can drop, the ARM pipeline (faults, bearer
//! auth, routing, api-version, throttling, dispatch, journal) and response headers.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::serve::{IncomingStream, Listener};
use axum::Extension;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use super::clock::rfc3339;
use super::control::{routes, Inner};
use super::dispatch::{check_api_version, dispatch};
use super::entra_auth::{authenticate, CHALLENGE};
use super::errors::ArmError;
use super::faults::FaultKind;
use super::journal::{JournalEntry, OpClass};
use super::router::route;
use super::store::{Reply, Req};

/// Which host a listener plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plane {
    /// Resource Manager, with the `/_mock/` control API.
    Arm,
    /// Key Vault: the vault is the first label of the `Host` header.
    KeyVault,
    /// The Microsoft Entra authority (token endpoint only).
    Entra,
}

/// Serve until `stop` turns true.
pub async fn serve(
    listener: TcpListener,
    inner: Arc<Inner>,
    mut stop: tokio::sync::watch::Receiver<bool>,
    plane: Plane,
) {
    let served = axum::serve(
        KillListener(listener),
        app(inner, plane).into_make_service_with_connect_info::<ConnKill>(),
    )
    .with_graceful_shutdown(async move {
        let _ = stop.wait_for(|s| *s).await;
    })
    .await;
    if let Err(e) = served {
        tracing::warn!(error = %e, "mock ARM server ended");
    }
}

/// The routes of one host.
pub(super) fn app(inner: Arc<Inner>, plane: Plane) -> axum::Router {
    match plane {
        Plane::Arm => routes().fallback(front_door),
        Plane::KeyVault => axum::Router::new().fallback(front_door),
        Plane::Entra => super::entra_token::routes(),
    }
    .layer(Extension(plane))
    .with_state(inner)
}

/// The connection information of a request that came on no socket (in-process calls): a
/// `drop` fault then has no connection to cut, and the request just fails.
pub(super) fn no_connection() -> ConnectInfo<ConnKill> {
    ConnectInfo(ConnKill(Arc::new(AtomicBool::new(false))))
}

/// A TCP listener whose connections can be cut by a `drop` fault.
struct KillListener(TcpListener);

/// A connection that fails every read and write once killed (the peer sees it close).
struct KillIo {
    inner: TcpStream,
    kill: Arc<AtomicBool>,
}

/// The kill switch of the connection a request came on.
#[derive(Clone)]
pub(super) struct ConnKill(Arc<AtomicBool>);

impl Listener for KillListener {
    type Io = KillIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((s, addr)) => {
                    let _ = s.set_nodelay(true);
                    let io = KillIo {
                        inner: s,
                        kill: Arc::new(AtomicBool::new(false)),
                    };
                    return (io, addr);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

impl Connected<IncomingStream<'_, KillListener>> for ConnKill {
    fn connect_info(stream: IncomingStream<'_, KillListener>) -> Self {
        ConnKill(stream.io().kill.clone())
    }
}

fn killed() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionReset,
        "connection dropped by an injected fault",
    )
}

impl AsyncRead for KillIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.kill.load(Ordering::Relaxed) {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.kill.load(Ordering::Relaxed) {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The query parameter `api-version`, if present.
fn api_version(uri: &Uri) -> Option<&str> {
    uri.query()?
        .split('&')
        .find_map(|kv| kv.strip_prefix("api-version="))
}

/// Everything about a request the journal needs.
struct Note<'a> {
    method: &'a str,
    path: &'a str,
    api_version: Option<&'a str>,
    journal_id: String,
    fault: Option<u64>,
    user_agent: &'a str,
    /// Who sent it (empty until authenticated).
    principal: String,
}

/// One entry for both listeners. On the ARM listener Key Vault paths are not ARM's, so they find
/// no route; on the Key Vault listener `/keys/...` belong to the vault the `Host` header names.
async fn front_door(
    State(inner): State<Arc<Inner>>,
    Extension(plane): Extension<Plane>,
    ConnectInfo(conn): ConnectInfo<ConnKill>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    let routed = match plane {
        Plane::Arm => match path.first() {
            Some(s) if s.eq_ignore_ascii_case("keyvault") => None,
            _ => route(&path),
        },
        // The Entra listener has its own routes and never comes here.
        Plane::Entra => None,
        Plane::KeyVault => {
            let host = headers
                .get("host")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let vault = host.split('.').next().unwrap_or_default();
            let named = host.contains('.') && !vault.is_empty() && vault.parse::<u8>().is_err();
            let mut segs = vec!["keyvault", vault];
            segs.extend(path);
            if named {
                route(&segs)
            } else {
                None
            }
        }
    };
    front(inner, conn, plane, routed, method, &uri, headers, body).await
}

#[allow(clippy::too_many_arguments)]
async fn front(
    inner: Arc<Inner>,
    conn: ConnKill,
    plane: Plane,
    routed: Option<super::router::Route>,
    method: Method,
    uri: &Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    let m = method.as_str();
    let mut note = Note {
        method: m,
        path,
        api_version: api_version(uri),
        journal_id: routed
            .as_ref()
            .map(|r| r.journal_id.clone())
            .unwrap_or_else(|| path.to_string()),
        fault: None,
        user_agent: headers
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default(),
        principal: String::new(),
    };
    // The journal counts a POST that only reads (checkNameAvailability) as a read; ARM's budget
    // counts requests by method, so the bucket below uses `budget`.
    let budget = OpClass::of(m);
    let class = match &routed {
        Some(r) if r.reads_only() => OpClass::Read,
        _ => budget,
    };

    // 1. Injected faults.
    let fired = inner.lock().faults.fire(m, path);
    let mut fail_op = None;
    if let Some((id, kind)) = fired {
        note.fault = Some(id);
        match kind {
            FaultKind::Drop => {
                conn.0.store(true, Ordering::Relaxed);
                record(&inner, &note, class, 0);
                return Response::new(Body::empty());
            }
            FaultKind::Status {
                status,
                code,
                message,
            } => {
                let e = ArmError::new(status, &code, message);
                record(&inner, &note, class, status);
                return error_response(&e, Vec::new());
            }
            FaultKind::Throttle { retry_after } => {
                let e = ArmError::new(
                    429,
                    "TooManyRequests",
                    "The request is being throttled as the limit has been reached.",
                );
                record(&inner, &note, class, 429);
                return error_response(&e, vec![("retry-after", retry_after.to_string())]);
            }
            FaultKind::Delay { ms } => {
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await
            }
            FaultKind::FailOperation { code, message } => {
                fail_op = Some(ArmError::new(500, &code, message))
            }
        }
    }

    // 2. Bearer token (never echoed): who is calling.
    let sub = routed.as_ref().and_then(|r| r.sub.as_deref());
    match authenticate(&inner, plane, &headers, sub) {
        Ok(principal) => note.principal = principal,
        Err(e) => {
            record(&inner, &note, class, e.status);
            return error_response(&e, vec![("www-authenticate", CHALLENGE.to_string())]);
        }
    }

    // 3. Route and api-version.
    let Some(route) = routed else {
        let e = ArmError::new(
            404,
            "InvalidResourceType",
            format!("The resource type for path '{path}' could not be found."),
        );
        record(&inner, &note, class, 404);
        return error_response(&e, Vec::new());
    };
    let parsed: Result<serde_json::Value, _> = if body.is_empty() {
        Ok(serde_json::Value::Null)
    } else {
        serde_json::from_slice(&body)
    };
    let location = parsed
        .as_ref()
        .ok()
        .and_then(|b| b.get("location"))
        .and_then(|l| l.as_str())
        .unwrap_or("global")
        .to_string();
    if let Err(e) = check_api_version(&route, note.api_version, &location) {
        record(&inner, &note, class, e.status);
        return error_response(&e, Vec::new());
    }
    let body = match parsed {
        Ok(b) => b,
        Err(err) => {
            let e = ArmError::bad_request(
                "InvalidRequestContent",
                format!("The request content was invalid and could not be deserialized: {err}."),
            );
            record(&inner, &note, class, 400);
            return error_response(&e, Vec::new());
        }
    };
    // ARM refuses these characters in tag names (not in values).
    let bad_tag = body["tags"].as_object().and_then(|t| {
        t.keys()
            .find(|k| k.contains(['<', '>', '%', '&', '\\', '?', '/']))
            .cloned()
    });
    if let (Some(name), true) = (bad_tag, route.sub.is_some()) {
        let e = ArmError::bad_request(
            "InvalidTagNameCharacters",
            format!("The tag names '{name}' have reserved characters '<,>,%,&,\\,?,/' or control characters."),
        );
        record(&inner, &note, class, 400);
        return error_response(&e, Vec::new());
    }

    let mut s = inner.lock();
    // 4. Throttling: ARM's limits per principal and subscription and per subscription, and the
    // Storage resource provider's per subscription and region (Key Vault has its own limits, not
    // modelled); a Resource Graph query, ARG's quota per principal instead.
    let mut extra = Vec::new();
    if matches!(route.target, super::router::Target::Graph) {
        let now = s.clock.elapsed();
        match super::resource_graph::throttle(
            &mut s.world,
            &inner.config.throttle,
            &note.principal,
            now,
        ) {
            Ok(quota) => extra = quota,
            Err((e, headers)) => {
                drop(s);
                record(&inner, &note, class, 429);
                return error_response(&e, headers);
            }
        }
    }
    if let Some(sub) = &route.sub {
        let elapsed = s.clock.elapsed();
        let charge = super::charge::of(&route, m, path, &s.world, &body);
        let header = charge.arm.header();
        match s.buckets.admit(
            &inner.config.throttle,
            &note.principal,
            sub,
            &charge,
            elapsed,
        ) {
            Ok(left) => extra.push((header, left.to_string())),
            Err(refused) => {
                let e = ArmError::new(429, "TooManyRequests", refused.message);
                drop(s);
                record(&inner, &note, class, 429);
                let mut headers = vec![("retry-after", refused.retry_after.to_string())];
                if refused.principal_bucket {
                    headers.push((header, "0".into()));
                }
                return error_response(&e, headers);
            }
        }
    }

    // 5. The resource handler, on a world brought up to the clock.
    let elapsed = s.clock.elapsed();
    let now = s.clock.now();
    let pending = s.world.pending.clone();
    super::lro::tick(&mut s.world, elapsed, &inner.config);
    // Only a write or a finished operation changes the store: Resource Graph's lag notes the
    // top-level resources they touch (the request's, the operations' targets), nothing else.
    let mut touched: Vec<String> = pending
        .iter()
        .filter(|id| !s.world.pending.contains(id))
        .filter_map(|id| s.world.ops.get(id))
        .flat_map(|op| [op.target.clone(), op.lock.clone()])
        .collect();
    if !matches!(m, "GET" | "HEAD") {
        touched.push(path.to_owned());
    }
    let req = Req {
        method: m,
        api_version: note.api_version.unwrap_or(""),
        query: uri.query().unwrap_or_default(),
        body,
        if_match: headers.get("if-match").and_then(|v| v.to_str().ok()),
        if_none_match: headers.get("if-none-match").and_then(|v| v.to_str().ok()),
        base: &inner.base_url,
        now,
        elapsed,
        principal: &note.principal,
        fail_op,
        cfg: &inner.config,
    };
    let result = dispatch(&mut s.world, &req, &route);
    // An operation accepted now may also touch its lock (e.g. the server of a configuration).
    s.world
        .record_graph_paths(elapsed, touched.iter().map(String::as_str));
    let status = result
        .as_ref()
        .map(|r| r.status)
        .unwrap_or_else(|e| e.status);
    let request_id = s.journal.record(entry(&note, class, status, rfc3339(now)));
    drop(s);
    let mut response = match result {
        Ok(reply) => reply_response(reply),
        Err(e) => error_response(&e, Vec::new()),
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("x-ms-request-id", v);
    }
    for (k, v) in extra {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    }
    if let Some(c) = headers.get("x-ms-client-request-id") {
        h.insert("x-ms-client-request-id", c.clone());
    }
    response
}

fn entry(note: &Note, class: OpClass, status: u16, time: String) -> JournalEntry {
    JournalEntry {
        seq: 0,
        method: note.method.to_string(),
        path: note.path.to_string(),
        api_version: note.api_version.map(str::to_string),
        status,
        time,
        class,
        resource_id: note.journal_id.clone(),
        fault: note.fault,
        user_agent: note.user_agent.to_string(),
        principal: note.principal.clone(),
        request_id: String::new(),
    }
}

fn record(inner: &Inner, note: &Note, class: OpClass, status: u16) {
    let mut s = inner.lock();
    let time = rfc3339(s.clock.now());
    s.journal.record(entry(note, class, status, time));
}

fn reply_response(reply: Reply) -> Response {
    let body = match &reply.body {
        Some(b) => Body::from(serde_json::to_vec(b).unwrap_or_default()),
        None => Body::empty(),
    };
    let mut r = Response::new(body);
    *r.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    if reply.body.is_some() {
        h.insert(
            "content-type",
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    }
    for (k, v) in reply.headers {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    }
    h.insert(
        "x-ms-request-id",
        HeaderValue::from_static("00000000-0000-0000-0000-000000000000"),
    );
    r
}

fn error_response(e: &ArmError, headers: Vec<(&'static str, String)>) -> Response {
    let mut reply = Reply::json(e.status, e.body());
    reply.headers = headers;
    let mut r = reply_response(reply);
    r.headers_mut()
        .insert("x-ms-failure-cause", HeaderValue::from_static("gateway"));
    r
}
