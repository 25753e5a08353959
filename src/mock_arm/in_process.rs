//! The mock served without sockets: an `azure_core` HTTP client that hands each request to the
//! mock's routes in the same process. With no I/O to wait for, a paused tokio runtime moves its
//! clock only when every task sleeps, so the mock's operations, the client budget's waits and the
//! operator's polls all run on one virtual clock (`bench reconcile`).

use std::sync::Arc;

use axum::body::Body;
use azure_core::error::{Error as CoreError, ErrorKind};
use azure_core::headers::{HeaderName, HeaderValue, Headers};
use azure_core::{HttpClient, Request, Response, StatusCode};
use tower::ServiceExt;

use super::control::Inner;
use super::server::{app, no_connection, Plane};

/// The mock's ARM and Key Vault hosts, reached by function call.
#[derive(Clone)]
pub struct InProcess {
    inner: Arc<Inner>,
    /// `host:port` of the Key Vault listener: requests sent there go to the vault's routes.
    keyvault: String,
}

impl std::fmt::Debug for InProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcess").finish_non_exhaustive()
    }
}

impl InProcess {
    pub(super) fn new(inner: Arc<Inner>, keyvault: String) -> Self {
        Self { inner, keyvault }
    }
}

fn other(e: impl std::fmt::Display) -> CoreError {
    CoreError::message(ErrorKind::Io, format!("in-process mock: {e}"))
}

#[async_trait::async_trait]
impl HttpClient for InProcess {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<Response> {
        let url = request.url();
        let host = format!(
            "{}:{}",
            url.host_str().unwrap_or_default(),
            url.port_or_known_default().unwrap_or(0)
        );
        let plane = if host == self.keyvault {
            Plane::KeyVault
        } else {
            Plane::Arm
        };
        let body = match request.body() {
            azure_core::Body::Bytes(b) => b.clone(),
            _ => return Err(other("streaming request bodies are not supported")),
        };
        let mut req = axum::http::Request::builder()
            .method(request.method().as_ref())
            .uri(url.as_str());
        for (name, value) in request.headers().iter() {
            req = req.header(name.as_str(), value.as_str());
        }
        let mut req = req.body(Body::from(body)).map_err(other)?;
        req.extensions_mut().insert(no_connection());
        let rsp = app(self.inner.clone(), plane)
            .oneshot(req)
            .await
            .map_err(other)?;
        let status = StatusCode::try_from(rsp.status().as_u16()).map_err(other)?;
        let mut headers = Headers::new();
        for (name, value) in rsp.headers() {
            if let Ok(v) = value.to_str() {
                headers.insert(
                    HeaderName::from(name.as_str().to_owned()),
                    HeaderValue::from(v.to_owned()),
                );
            }
        }
        let bytes = axum::body::to_bytes(rsp.into_body(), usize::MAX)
            .await
            .map_err(other)?;
        Ok(Response::new(
            status,
            headers,
            Box::pin(futures::stream::once(async move { Ok(bytes) })),
        ))
    }
}
