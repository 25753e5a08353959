//! JWT shapes for the mock Entra authority: the access tokens it mints, the client assertions it
//! reads, and [`assertion`], which mints one for tests. Nothing here signs or checks a signature:
//! the mock trusts an access token only when it minted that exact string (see `entra.rs`), and
//! takes an assertion's claims as written.

use azure_core::base64::{decode_url_safe, encode_url_safe};
use serde_json::{json, Value};

/// The audience Microsoft Entra expects in a federated (workload identity) assertion.
pub const TOKEN_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";

/// One base64url (unpadded) JSON segment.
fn segment(v: &Value) -> String {
    encode_url_safe(v.to_string())
}

/// 32 random bytes, base64url: the "signature" part, which makes a minted token unguessable.
fn random_part() -> String {
    let bytes: Vec<u8> = (0..32).map(|_| fastrand::u8(..)).collect();
    encode_url_safe(bytes)
}

/// A JWT-shaped string: `header.payload.random`.
fn jwt(header: &Value, payload: &Value) -> String {
    format!("{}.{}.{}", segment(header), segment(payload), random_part())
}

/// A client assertion shaped like a Kubernetes projected service-account token for workload
/// identity: `aud` is `["api://AzureADTokenExchange"]`, `iat` equals `nbf`, and a subject of the
/// form `system:serviceaccount:{namespace}:{name}` also fills the `kubernetes.io` claim. The
/// signature part is random: the mock does not check it (Entra would, against the issuer's keys).
pub fn assertion(
    issuer: &str,
    subject: &str,
    not_before_unix: i64,
    expires_unix: i64,
    jti: &str,
) -> String {
    let mut payload = json!({
        "aud": [TOKEN_EXCHANGE_AUDIENCE],
        "exp": expires_unix,
        "iat": not_before_unix,
        "iss": issuer,
        "jti": jti,
        "nbf": not_before_unix,
        "sub": subject,
    });
    let parts: Vec<&str> = subject.split(':').collect();
    if let ["system", "serviceaccount", namespace, name] = parts.as_slice() {
        payload["kubernetes.io"] = json!({
            "namespace": namespace,
            "serviceaccount": {"name": name},
        });
    }
    jwt(&json!({"alg": "RS256", "kid": "mock-oidc"}), &payload)
}

/// What an access token says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims<'a> {
    pub tenant: &'a str,
    pub client: &'a str,
    pub object_id: &'a str,
    pub audience: &'a str,
    pub issued_at: i64,
    pub expires: i64,
}

/// The issuer Entra writes into v1.0 access tokens of a tenant.
pub fn issuer_of(tenant: &str) -> String {
    format!("https://sts.windows.net/{tenant}/")
}

/// Mint an access token: v1.0-style claims, random signature part.
pub fn access_token(c: &TokenClaims) -> String {
    let payload = json!({
        "aud": c.audience,
        "iss": issuer_of(c.tenant),
        "iat": c.issued_at,
        "nbf": c.issued_at,
        "exp": c.expires,
        "appid": c.client,
        "idtyp": "app",
        "oid": c.object_id,
        "sub": c.object_id,
        "tid": c.tenant,
        "ver": "1.0",
    });
    jwt(
        &json!({"typ": "JWT", "alg": "RS256", "kid": "mock-entra"}),
        &payload,
    )
}

/// A stable, GUID-shaped object id for an application in a tenant (FNV-1a over both names, so the
/// same principal always gets the same `oid`).
pub fn object_id(tenant: &str, client: &str) -> String {
    let fnv = |seed: u64| {
        let key = format!(
            "{}/{}",
            tenant.to_ascii_lowercase(),
            client.to_ascii_lowercase()
        );
        key.bytes().fold(seed, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let (a, b) = (fnv(0xcbf2_9ce4_8422_2325), fnv(0x8422_2325_cbf2_9ce4));
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        (b >> 48) & 0xfff,
        b & 0xffff_ffff_ffff
    )
}

/// The claims of a client assertion that Entra looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    pub issuer: String,
    pub subject: String,
    /// `aud` as a list (a single string counts as a list of one).
    pub audiences: Vec<String>,
    pub expires: i64,
    pub not_before: Option<i64>,
    pub jti: Option<String>,
}

/// Read an assertion's payload. No signature check. The error says what is wrong in words that
/// never quote the assertion.
pub fn read_assertion(token: &str) -> Result<Assertion, &'static str> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = parts.as_slice() else {
        return Err("it does not have three dot-separated parts");
    };
    if signature.is_empty() {
        return Err("it is not signed");
    }
    let object = |part: &str| -> Option<serde_json::Map<String, Value>> {
        let bytes = decode_url_safe(part).ok()?;
        match serde_json::from_slice(&bytes).ok()? {
            Value::Object(map) => Some(map),
            _ => None,
        }
    };
    let header = object(header).ok_or("its header is not base64url-encoded JSON")?;
    if !header.get("alg").is_some_and(Value::is_string) {
        return Err("its header names no algorithm");
    }
    let claims = object(payload).ok_or("its payload is not base64url-encoded JSON")?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
    let issuer = text("iss").ok_or("it has no 'iss' claim")?;
    let subject = text("sub").ok_or("it has no 'sub' claim")?;
    let audiences = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Array(list)) => list
            .iter()
            .map(|a| a.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or("its 'aud' claim holds a value that is not a string")?,
        _ => return Err("it has no 'aud' claim"),
    };
    let expires = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or("it has no numeric 'exp' claim")?;
    let not_before = match claims.get("nbf") {
        None => None,
        Some(v) => Some(v.as_i64().ok_or("its 'nbf' claim is not a number")?),
    };
    Ok(Assertion {
        issuer,
        subject,
        audiences,
        expires,
        not_before,
        jti: text("jti"),
    })
}

/// The payload (claims) of a JWT-shaped token, e.g. an access token of the mock authority, whose
/// `tid`, `appid` and `oid` name its principal; no signature check (the mock itself trusts only
/// the exact strings it issued).
pub fn token_claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&decode_url_safe(payload).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_assertion_reads_back_with_its_claims() {
        let a = assertion(
            "https://oidc.example/abc",
            "system:serviceaccount:engram:operator",
            100,
            200,
            "j-1",
        );
        let read = read_assertion(&a).expect("well-formed");
        assert_eq!(read.issuer, "https://oidc.example/abc");
        assert_eq!(read.subject, "system:serviceaccount:engram:operator");
        assert_eq!(read.audiences, vec![TOKEN_EXCHANGE_AUDIENCE.to_owned()]);
        assert_eq!((read.not_before, read.expires), (Some(100), 200));
        assert_eq!(read.jti.as_deref(), Some("j-1"));
        let payload = token_claims(&a).expect("payload");
        assert_eq!(payload["kubernetes.io"]["namespace"], "engram");
        assert_eq!(
            payload["kubernetes.io"]["serviceaccount"]["name"],
            "operator"
        );
    }

    #[test]
    fn malformed_assertions_are_named_without_quoting_them() {
        assert!(read_assertion("abc").is_err());
        assert!(read_assertion("a.b.").is_err());
        let no_sub = format!(
            "{}.{}.sig",
            segment(&json!({"alg": "RS256"})),
            segment(&json!({"iss": "i", "aud": "a", "exp": 1}))
        );
        assert_eq!(read_assertion(&no_sub), Err("it has no 'sub' claim"));
        let bad_aud = format!(
            "{}.{}.sig",
            segment(&json!({"alg": "RS256"})),
            segment(&json!({"iss": "i", "sub": "s", "aud": [1], "exp": 1}))
        );
        assert!(read_assertion(&bad_aud).is_err());
    }

    #[test]
    fn tokens_differ_and_object_ids_are_stable() {
        let c = TokenClaims {
            tenant: "t",
            client: "c",
            object_id: "o",
            audience: "https://management.azure.com",
            issued_at: 1,
            expires: 2,
        };
        assert_ne!(access_token(&c), access_token(&c));
        let p = token_claims(&access_token(&c)).expect("payload");
        assert_eq!(p["iss"], "https://sts.windows.net/t/");
        assert_eq!(p["appid"], "c");
        assert_eq!(object_id("T", "C"), object_id("t", "c"));
        assert_ne!(object_id("t", "c"), object_id("t", "d"));
        assert_eq!(object_id("t", "c").len(), 36);
    }
}
