//! Who sent an ARM or Key Vault request: the bearer token is the static `MockConfig.token`
//! (principal `static`) or an access token the mock's Entra authority issued (principal
//! `{tenant}/{clientId}`), checked for its audience, its expiry on the mock clock and, where
//! `EntraConfig.subscription_tenants` names the subscription, its tenant. Anything else is a 401,
//! as ARM answers it; no answer quotes the token.

use axum::http::HeaderMap;

use super::clock::rfc3339;
use super::control::Inner;
use super::entra_jwt::issuer_of;
use super::errors::ArmError;
use super::server::Plane;

/// The principal name of the static token.
pub const STATIC_PRINCIPAL: &str = "static";

/// The `WWW-Authenticate` challenge every 401 of this step carries.
pub const CHALLENGE: &str =
    "Bearer authorization_uri=\"https://login.microsoftonline.com/common\", error=\"invalid_token\"";

/// The caller's principal name, or the 401 to answer. `sub` is the request's subscription.
pub fn authenticate(
    inner: &Inner,
    plane: Plane,
    headers: &HeaderMap,
    sub: Option<&str>,
) -> Result<String, ArmError> {
    let Some(auth) = headers.get("authorization") else {
        return Err(ArmError::new(
            401,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
        ));
    };
    let invalid = || {
        ArmError::new(
            401,
            "InvalidAuthenticationToken",
            "The access token is invalid.",
        )
    };
    let token = auth
        .to_str()
        .ok()
        .and_then(|a| a.strip_prefix("Bearer "))
        .ok_or_else(invalid)?;
    if token == inner.config.token {
        return Ok(STATIC_PRINCIPAL.to_owned());
    }
    let s = inner.lock();
    let issued = s.entra.issued(token).ok_or_else(invalid)?;
    if !audience_fits(&issued.audience, plane) {
        let expected = match plane {
            Plane::KeyVault => "a Key Vault resource (https://vault.azure.net)",
            _ => "Resource Manager (https://management.azure.com)",
        };
        return Err(ArmError::new(
            401,
            "InvalidAuthenticationToken",
            format!(
                "The access token was obtained for wrong audience or resource '{}'; this endpoint takes tokens for {expected}.",
                issued.audience
            ),
        ));
    }
    let now = s.clock.now();
    if now.unix_timestamp() >= issued.expires {
        let expired = time::OffsetDateTime::from_unix_timestamp(issued.expires)
            .map(rfc3339)
            .unwrap_or_default();
        return Err(ArmError::new(
            401,
            "ExpiredAuthenticationToken",
            format!(
                "The access token expired at '{expired}', before the current time '{}'. Get a new token.",
                rfc3339(now)
            ),
        ));
    }
    let owner = sub.and_then(|sub| {
        inner
            .config
            .entra
            .subscription_tenants
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(sub))
    });
    if let Some((sub, tenant)) = owner {
        if !tenant.eq_ignore_ascii_case(&issued.tenant) {
            return Err(ArmError::new(
                401,
                "InvalidAuthenticationTokenTenant",
                format!(
                    "The access token is from the wrong issuer '{}': subscription '{sub}' belongs to tenant '{tenant}', so the token must come from authority '{}'.",
                    issuer_of(&issued.tenant),
                    issuer_of(tenant)
                ),
            ));
        }
    }
    Ok(issued.principal())
}

/// ARM takes tokens for `https://management.*`, Key Vault for `https://vault.*`.
fn audience_fits(audience: &str, plane: Plane) -> bool {
    let host = audience
        .split("://")
        .nth(1)
        .unwrap_or(audience)
        .split(['/', ':'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let wanted = match plane {
        Plane::KeyVault => "vault.",
        _ => "management.",
    };
    host.starts_with(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audiences_fit_their_plane_by_host() {
        assert!(audience_fits("https://management.azure.com", Plane::Arm));
        assert!(audience_fits(
            "https://management.core.windows.net/",
            Plane::Arm
        ));
        assert!(audience_fits(
            "https://management.chinacloudapi.cn",
            Plane::Arm
        ));
        assert!(!audience_fits("https://vault.azure.net", Plane::Arm));
        assert!(audience_fits("https://vault.azure.net", Plane::KeyVault));
        assert!(audience_fits(
            "https://vault.usgovcloudapi.net",
            Plane::KeyVault
        ));
        assert!(!audience_fits(
            "https://management.azure.com",
            Plane::KeyVault
        ));
        assert!(!audience_fits("https://storage.azure.com", Plane::Arm));
        assert!(!audience_fits(
            "https://evil.example/management.azure.com",
            Plane::Arm
        ));
    }
}
