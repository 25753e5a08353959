//! Key Vault keys (data plane): the versions of the customer-managed key with their attributes
//! (the current version for `latest`, and whether a version may be used). The vault is its own host (`https://{vault}.vault.azure.net` in the public
//! cloud); the token for it has the Key Vault audience (see `cloud::audience`).

/// Key Vault keys api-version.
pub const API_VERSION: &str = "7.4";

/// The URL of a key's versions list, on the vault's own host.
pub fn versions_url(vault_uri: &str, key: &str) -> String {
    format!(
        "{}/keys/{key}/versions?api-version={API_VERSION}",
        vault_uri.trim_end_matches('/')
    )
}

/// The URL of a key's rotate action (a new version), on the vault's own host.
pub fn rotate_url(vault_uri: &str, key: &str) -> String {
    format!(
        "{}/keys/{key}/rotate?api-version={API_VERSION}",
        vault_uri.trim_end_matches('/')
    )
}

/// Whether a `nextLink` stays on the declared vault (a link elsewhere is not followed: the token
/// would go with it).
pub fn same_vault(link: &str, vault_uri: &str) -> bool {
    let host = |u: &str| {
        u.trim_start_matches("https://")
            .trim_start_matches("http://")
            .split(['/', ':'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    host(link) == host(vault_uri)
}

/// One page of a versions list: each version with its attributes, and the next page's link.
pub fn versions_page(
    body: &[u8],
) -> Result<(Vec<crate::plan::KeyVersionInfo>, Option<String>), super::ArmError> {
    let list: super::wire::KeyItemList = serde_json::from_slice(body)
        .map_err(|e| super::ArmError::Decode(format!("key versions: {e}")))?;
    let versions = list
        .value
        .into_iter()
        .map(|item| crate::plan::KeyVersionInfo {
            version: item.kid.rsplit('/').next().unwrap_or_default().to_owned(),
            enabled: item.attributes.enabled,
            nbf: item.attributes.nbf,
            exp: item.attributes.exp,
            created: item.attributes.created,
        })
        .collect();
    Ok((versions, list.next_link.filter(|l| !l.is_empty())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_listed_on_the_vault_host_with_their_attributes() {
        assert_eq!(
            versions_url("https://kv-acme.vault.azure.net/", "cmk"),
            "https://kv-acme.vault.azure.net/keys/cmk/versions?api-version=7.4"
        );
        let (versions, next) = versions_page(br#"{"value":[{"kid":"https://kv-acme.vault.azure.net:443/keys/cmk/abc","attributes":{"enabled":false,"created":5,"updated":6,"nbf":1,"exp":9}}],"nextLink":"https://kv-acme.vault.azure.net:443/keys/cmk/versions?api-version=7.4&$skiptoken=x"}"#).unwrap();
        assert_eq!(versions.len(), 1);
        let v = &versions[0];
        assert_eq!(
            (v.version.as_str(), v.enabled, v.nbf, v.exp, v.created),
            ("abc", false, Some(1), Some(9), 5)
        );
        let next = next.unwrap();
        assert!(same_vault(&next, "https://kv-acme.vault.azure.net"));
        assert!(!same_vault(
            "https://elsewhere.example/keys",
            "https://kv-acme.vault.azure.net"
        ));
        assert!(
            versions_page(br#"{"value":[{"kid":"x"}]}"#).is_err(),
            "attributes are required"
        );
    }
}
