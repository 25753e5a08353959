//! Key Vault keys (data plane): the current version of the customer-managed key when the spec
//! follows `latest`. Against the mock, `https://{vault}.vault.azure.net` maps to
//! `{arm-endpoint}/keyvault/{vault}`.

use azure_core::Url;

/// Key Vault keys api-version.
pub const API_VERSION: &str = "7.4";

/// The GET URL of a key's current version and the token scope for it.
pub fn key_url(vault_uri: &str, key: &str, local_endpoint: Option<&Url>) -> (String, String) {
    let vault = vault_uri.trim_end_matches('/');
    let base = match local_endpoint {
        Some(ep) => {
            let name = vault
                .trim_start_matches("https://")
                .split('.')
                .next()
                .unwrap_or_default();
            format!("{}/keyvault/{name}", ep.as_str().trim_end_matches('/'))
        }
        None => vault.to_owned(),
    };
    (
        format!("{base}/keys/{key}?api-version={API_VERSION}"),
        "https://vault.azure.net/.default".into(),
    )
}

/// The `key.kid` of a key bundle.
pub fn kid(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<super::wire::KeyBundle>(body)
        .ok()
        .map(|b| b.key.kid)
}

/// A kid rewritten onto the declared vault URI (the mock may answer with its own host).
pub fn canonical(kid: &str, vault_uri: &str) -> String {
    match kid.find("/keys/") {
        Some(i) => format!("{}{}", vault_uri.trim_end_matches('/'), &kid[i..]),
        None => kid.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mock_mapping_and_kid() {
        let ep = Url::parse("http://127.0.0.1:9/").unwrap();
        let (u, _) = key_url("https://kv-acme.vault.azure.net/", "cmk", Some(&ep));
        assert_eq!(
            u,
            "http://127.0.0.1:9/keyvault/kv-acme/keys/cmk?api-version=7.4"
        );
        let (u, s) = key_url("https://kv-acme.vault.azure.net", "cmk", None);
        assert_eq!(
            u,
            "https://kv-acme.vault.azure.net/keys/cmk?api-version=7.4"
        );
        assert_eq!(s, "https://vault.azure.net/.default");
        let k =
            kid(br#"{"key":{"kid":"http://127.0.0.1:9/keyvault/kv-acme/keys/cmk/abc","kty":"RSA"},"attributes":{"enabled":true,"created":1,"updated":1}}"#).unwrap();
        assert_eq!(
            canonical(&k, "https://kv-acme.vault.azure.net"),
            "https://kv-acme.vault.azure.net/keys/cmk/abc"
        );
    }
}
