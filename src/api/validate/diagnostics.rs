//! Checks of `spec.diagnostics`: the Log Analytics workspace id, and the key vault's resource id,
//! which must name the vault of `spec.encryption.keyVaultUri`.

use super::super::spec::{DiagnosticsSpec, Encryption};
use super::{is_resource_id, Errors};

const P: &str = "spec.diagnostics";

/// The vault name of `https://<name>.vault.azure.net` (lower case).
fn vault_name_of_uri(uri: &str) -> Option<String> {
    let host = uri.strip_prefix("https://")?.trim_end_matches('/');
    host.split('.')
        .next()
        .filter(|n| !n.is_empty())
        .map(str::to_ascii_lowercase)
}

pub(super) fn diagnostics(e: &mut Errors, d: &DiagnosticsSpec, enc: Option<&Encryption>) {
    let ws = &d.workspace_id;
    let ws_name_ok = ws.rsplit('/').next().is_some_and(|n| {
        (4..=63).contains(&n.len())
            && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !n.starts_with('-')
            && !n.ends_with('-')
    });
    e.check(
        is_resource_id(ws, "Microsoft.OperationalInsights/workspaces") && ws_name_ok,
        format!("{P}.workspaceId"),
        format!("{ws:?} is not a Log Analytics workspace resource id: expected /subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.OperationalInsights/workspaces/<name> (name 4-63 letters, digits and hyphens)"),
    );
    let key_vault = d.key_vault.unwrap_or(false);
    match (&d.key_vault_id, enc) {
        (Some(id), _) if !is_resource_id(id, "Microsoft.KeyVault/vaults") => e.check(
            false,
            format!("{P}.keyVaultId"),
            format!("{id:?} is not a key vault resource id: expected /subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.KeyVault/vaults/<name>"),
        ),
        (Some(_), None) => e.check(
            false,
            format!("{P}.keyVaultId"),
            "names the vault of spec.encryption, which is not declared",
        ),
        (Some(id), Some(enc)) => {
            let named = id.rsplit('/').next().map(str::to_ascii_lowercase);
            e.check(
                named.is_some() && named == vault_name_of_uri(&enc.key_vault_uri),
                format!("{P}.keyVaultId"),
                format!(
                    "{id:?} must be the vault of spec.encryption.keyVaultUri ({})",
                    enc.key_vault_uri
                ),
            );
        }
        (None, _) => e.check(
            !key_vault,
            format!("{P}.keyVaultId"),
            "required with keyVault: true: the diagnostic setting is written on the vault's resource id, which its URI does not give",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_name_comes_from_the_host() {
        assert_eq!(
            vault_name_of_uri("https://KV-acme.vault.azure.net/").as_deref(),
            Some("kv-acme")
        );
        assert_eq!(vault_name_of_uri("http://kv.vault.azure.net"), None);
    }
}
