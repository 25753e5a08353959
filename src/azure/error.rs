//! ARM errors and their classification: retryable (429, 5xx, network, 409 busy), authorization
//! (401/403 to a token we could get), credentials (no token at all), and fatal (400
//! InvalidParameter and kin: the service refuses the request as sent). Operation failure codes are
//! classified the same way ([`operation_failure_is_transient`]). Messages never carry tokens.

use std::time::Duration;

/// A non-success HTTP answer from ARM, as our pipeline policy captures it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("HTTP {status} {code}: {message}")]
pub struct HttpFailure {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub retry_after: Option<Duration>,
}

/// An error talking to ARM.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArmError {
    /// Worth retrying: throttling, server errors, network failures, a busy resource.
    #[error("retryable ARM error: {0}")]
    Retryable(String, Option<Duration>),
    /// The resource is busy with another operation (409): the next reconcile reads its state.
    #[error("resource busy: {0}")]
    Busy(String),
    /// Retrying cannot help until the spec changes; carries ARM's code and message.
    #[error("{code}: {message}")]
    Fatal {
        status: u16,
        code: String,
        message: String,
    },
    /// The response could not be understood.
    #[error("unexpected ARM response: {0}")]
    Decode(String),
    /// ARM answered 401 or 403 to a token we obtained: a role assignment is missing or the token
    /// is for the wrong tenant. ARM's message names the missing action.
    #[error("authorization failed (HTTP {status} {code}): {message}")]
    AuthorizationFailed {
        status: u16,
        code: String,
        message: String,
    },
    /// No token could be obtained (credential chain, token file).
    #[error("no credential: {0}")]
    CredentialInvalid(String),
    /// A URL outside the ARM host and the cloud's Key Vaults: no token is sent there.
    #[error("refusing to send a token to {host:?}: it is neither the Resource Manager host nor a Key Vault of {cloud}")]
    TokenHostRefused { host: String, cloud: &'static str },
    /// A write the client itself will not send (a safety rule, e.g. deleting a server that is not
    /// a drill's scratch server); nothing reached ARM.
    #[error("write refused by the client: {0}")]
    Refused(String),
    /// The call is not offered by this implementation of `ArmApi` (a test fake, or a client
    /// without a credential); nothing reached ARM.
    #[error("not supported by this ARM client: {0}")]
    Unsupported(String),
}

impl ArmError {
    /// True for the transient classes (the engine requeues them with backoff).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Retryable(..) | Self::Busy(_))
    }

    /// True for the access classes (authorization, credential): long-running modes retry them
    /// with a capped exponential backoff (1 to 30 minutes); one-shot commands exit.
    pub fn is_access(&self) -> bool {
        matches!(
            self,
            Self::AuthorizationFailed { .. } | Self::CredentialInvalid(_)
        )
    }

    /// The condition reason for this error.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::AuthorizationFailed { .. } => "AuthorizationFailed",
            Self::CredentialInvalid(_) => "CredentialInvalid",
            Self::TokenHostRefused { .. } => "TokenHostRefused",
            Self::Refused(_) => "WriteRefused",
            Self::Unsupported(_) => "Unsupported",
            e if e.is_transient() => "ArmUnavailable",
            _ => "ArmError",
        }
    }

    /// True for the classes retried inline with backoff.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable(..))
    }

    /// The Retry-After ARM asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Retryable(_, d) => *d,
            _ => None,
        }
    }
}

/// 409 codes that mean "busy, try later" rather than "your request conflicts with the resource".
const BUSY_CODES: [&str; 4] = [
    "Conflict",
    "AnotherOperationInProgress",
    "ServerBusy",
    "OperationInProgress",
];

/// Classify an HTTP failure.
pub fn classify(f: &HttpFailure) -> ArmError {
    if f.status == 409
        && (f.code.is_empty() || BUSY_CODES.iter().any(|c| c.eq_ignore_ascii_case(&f.code)))
    {
        return ArmError::Busy(f.to_string());
    }
    if matches!(f.status, 401 | 403) {
        return ArmError::AuthorizationFailed {
            status: f.status,
            code: f.code.clone(),
            message: f.message.clone(),
        };
    }
    let retryable = matches!(f.status, 429 | 408 | 500..=599);
    if retryable {
        ArmError::Retryable(f.to_string(), f.retry_after)
    } else {
        ArmError::Fatal {
            status: f.status,
            code: f.code.clone(),
            message: f.message.clone(),
        }
    }
}

/// Classify an azure_core error (from an SDK call through our pipeline).
pub fn from_core(e: azure_core::Error) -> ArmError {
    if let Some(f) = e.downcast_ref::<HttpFailure>() {
        return classify(f);
    }
    match e.kind() {
        azure_core::error::ErrorKind::Io => ArmError::Retryable(format!("network: {e}"), None),
        azure_core::error::ErrorKind::HttpResponse { status, error_code } => {
            classify(&HttpFailure {
                status: u16::from(*status),
                code: error_code.clone().unwrap_or_default(),
                message: e.to_string(),
                retry_after: None,
            })
        }
        azure_core::error::ErrorKind::Credential => ArmError::CredentialInvalid(e.to_string()),
        azure_core::error::ErrorKind::DataConversion => ArmError::Decode(e.to_string()),
        _ => ArmError::Retryable(e.to_string(), None),
    }
}

/// Codes with which a long-running operation ends `Failed` or `Canceled` although the request was
/// fine: seen in real ARM traffic (ServerIsBusy after a configuration PUT accepted while the
/// server was updating, InternalServerError, OperationCancelled) and their kin. The next pass
/// observes afresh and, if still needed, writes again. Any other code is the service refusing the
/// request (InvalidParameter and kin): fatal until the spec changes.
const TRANSIENT_OPERATION_CODES: [&str; 12] = [
    "ServerIsBusy",
    "ServerBusy",
    "AnotherOperationInProgress",
    "OperationInProgress",
    "InternalServerError",
    "InternalError",
    "ServiceUnavailable",
    "GatewayTimeout",
    "OperationTimedOut",
    "OperationCancelled",
    "OperationCanceled",
    "Canceled",
];

/// Whether an operation that ended with `code` may simply be tried again.
pub fn operation_failure_is_transient(code: &str) -> bool {
    TRANSIENT_OPERATION_CODES
        .iter()
        .any(|c| c.eq_ignore_ascii_case(code))
}

/// Parse ARM's error body `{"error":{"code","message"}}`. A service that explains itself in
/// `error.details` (Resource Graph: `BadRequest` with `InvalidQuery`, `ParserFailure`...) has
/// each detail's code and message added to the message.
pub fn parse_body(status: u16, body: &[u8], retry_after: Option<Duration>) -> HttpFailure {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let err = v.get("error").unwrap_or(&v);
    let s = |k: &str| {
        err.get(k)
            .and_then(|x| x.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let mut message = s("message");
    for d in err["details"].as_array().into_iter().flatten() {
        let part = |k: &str| d[k].as_str().unwrap_or_default().to_owned();
        message.push_str(&format!(" [{}: {}]", part("code"), part("message")));
    }
    HttpFailure {
        status,
        code: s("code"),
        message,
        retry_after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(status: u16, code: &str) -> HttpFailure {
        HttpFailure {
            status,
            code: code.into(),
            message: "m".into(),
            retry_after: None,
        }
    }

    #[test]
    fn classes() {
        for (s, c) in [
            (429, "TooManyRequests"),
            (500, "InternalServerError"),
            (503, ""),
        ] {
            assert!(classify(&f(s, c)).is_retryable(), "{s} {c}");
        }
        for (s, c) in [
            (409, "AnotherOperationInProgress"),
            (409, "ServerBusy"),
            (409, "Conflict"),
        ] {
            assert!(matches!(classify(&f(s, c)), ArmError::Busy(_)), "{s} {c}");
        }
        for (s, c) in [
            (400, "InvalidParameter"),
            (400, "ServerIsNotReady"),
            (409, "StorageShrinkNotAllowed"),
            (404, "ResourceNotFound"),
        ] {
            assert!(!classify(&f(s, c)).is_retryable(), "{s} {c}");
        }
        for (s, c) in [
            (403, "AuthorizationFailed"),
            (401, "InvalidAuthenticationToken"),
        ] {
            let e = classify(&f(s, c));
            assert!(
                matches!(e, ArmError::AuthorizationFailed { .. }) && e.is_access(),
                "{s} {c}"
            );
            assert_eq!(e.reason(), "AuthorizationFailed");
        }
    }

    #[test]
    fn error_body_is_parsed() {
        let b = br#"{"error":{"code":"InvalidParameter","message":"bad sku"}}"#;
        let h = parse_body(400, b, None);
        let graph = br#"{"error":{"code":"BadRequest","message":"m","details":[{"code":"InvalidQuery","message":"q"}]}}"#;
        assert_eq!(parse_body(400, graph, None).message, "m [InvalidQuery: q]");
        assert_eq!(
            (h.code.as_str(), h.message.as_str()),
            ("InvalidParameter", "bad sku")
        );
        assert_eq!(
            classify(&h),
            ArmError::Fatal {
                status: 400,
                code: "InvalidParameter".into(),
                message: "bad sku".into()
            }
        );
    }
}
