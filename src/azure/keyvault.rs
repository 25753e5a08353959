//! Key Vault keys (data plane): the current version of the customer-managed key when the spec
//! follows `latest`. The vault is its own host (`https://{vault}.vault.azure.net` in the public
//! cloud); the token for it has the Key Vault audience (see `cloud::audience`).

/// Key Vault keys api-version.
pub const API_VERSION: &str = "7.4";

/// The GET URL of a key's current version, on the vault's own host.
pub fn key_url(vault_uri: &str, key: &str) -> String {
    format!(
        "{}/keys/{key}?api-version={API_VERSION}",
        vault_uri.trim_end_matches('/')
    )
}

/// The `key.kid` of a key bundle.
pub fn kid(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<super::wire::KeyBundle>(body)
        .ok()
        .map(|b| b.key.kid)
}

/// A kid rewritten onto the declared vault URI (same vault; Key Vault may spell the host or add
/// `:443` differently from the spec).
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
    fn urls_are_on_the_vault_host_and_kids_are_canonical() {
        assert_eq!(
            key_url("https://kv-acme.vault.azure.net/", "cmk"),
            "https://kv-acme.vault.azure.net/keys/cmk?api-version=7.4"
        );
        let k = kid(br#"{"key":{"kid":"https://kv-acme.vault.azure.net:443/keys/cmk/abc","kty":"RSA"},"attributes":{"enabled":true,"created":1,"updated":1}}"#).unwrap();
        assert_eq!(
            canonical(&k, "https://kv-acme.vault.azure.net"),
            "https://kv-acme.vault.azure.net/keys/cmk/abc"
        );
    }
}
