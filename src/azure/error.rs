//! ARM errors and their classification: retryable (429, 5xx, network, 409 busy) versus fatal
//! (400 InvalidParameter and kin), as ASO classifies them. Messages never carry tokens.

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
    /// Credentials could not produce a token.
    #[error("credential: {0}")]
    Credential(String),
    /// A URL outside the ARM host and the cloud's Key Vaults: no token is sent there.
    #[error("refusing to send a token to {host:?}: it is neither the Resource Manager host nor a Key Vault of {cloud}")]
    TokenHostRefused { host: String, cloud: &'static str },
}

impl ArmError {
    /// True for the transient classes (the engine requeues them with backoff).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Retryable(..) | Self::Busy(_))
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
        azure_core::error::ErrorKind::Credential => ArmError::Credential(e.to_string()),
        azure_core::error::ErrorKind::DataConversion => ArmError::Decode(e.to_string()),
        _ => ArmError::Retryable(e.to_string(), None),
    }
}

/// Parse ARM's error body `{"error":{"code","message"}}`.
pub fn parse_body(status: u16, body: &[u8], retry_after: Option<Duration>) -> HttpFailure {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let err = v.get("error").unwrap_or(&v);
    let s = |k: &str| {
        err.get(k)
            .and_then(|x| x.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    HttpFailure {
        status,
        code: s("code"),
        message: s("message"),
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
            (403, "AuthorizationFailed"),
            (404, "ResourceNotFound"),
        ] {
            assert!(!classify(&f(s, c)).is_retryable(), "{s} {c}");
        }
    }

    #[test]
    fn error_body_is_parsed() {
        let b = br#"{"error":{"code":"InvalidParameter","message":"bad sku"}}"#;
        let h = parse_body(400, b, None);
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
