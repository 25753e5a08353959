//! Azure clouds as a table, and the one rule for where a bearer token may go.
//!
//! Each cloud has its own Resource Manager host, Entra authority, Key Vault DNS suffix and token
//! audiences. A token is sent to the ARM host or to a Key Vault of the same cloud, nowhere else,
//! and always with the audience of that host: an ARM token never reaches a vault, and no token
//! reaches a host an attacker could name in a spec (`keyVaultUri: https://evil.example`).
//!
//! Sources: Microsoft's "national clouds" endpoint tables (Resource Manager, Entra ID, Key Vault)
//! and the Azure Database for PostgreSQL Entra authentication docs (the `ossrdbms-aad` audiences).

use azure_core::Url;

/// Which Azure cloud (`--cloud`, env `ENGRAM_CLOUD`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
#[value(rename_all = "verbatim")]
pub enum Cloud {
    #[default]
    AzurePublicCloud,
    AzureChinaCloud,
    AzureUSGovernment,
}

/// One row of the cloud table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloudRow {
    pub name: &'static str,
    /// Resource Manager endpoint (no trailing slash).
    pub arm_endpoint: &'static str,
    /// The token scope for Resource Manager.
    pub arm_scope: &'static str,
    /// The Entra authority host (azure_identity reads it from `AZURE_AUTHORITY_HOST`).
    pub authority_host: &'static str,
    /// Vault hosts are `{vault}.{keyvault_suffix}`.
    pub keyvault_suffix: &'static str,
    /// The token scope for Key Vault.
    pub keyvault_scope: &'static str,
    /// The token scope for Entra sign-in to Azure Database for PostgreSQL.
    pub postgres_scope: &'static str,
}

const PUBLIC: CloudRow = CloudRow {
    name: "AzurePublicCloud",
    arm_endpoint: "https://management.azure.com",
    arm_scope: "https://management.azure.com/.default",
    authority_host: "https://login.microsoftonline.com",
    keyvault_suffix: "vault.azure.net",
    keyvault_scope: "https://vault.azure.net/.default",
    postgres_scope: "https://ossrdbms-aad.database.windows.net/.default",
};

const CHINA: CloudRow = CloudRow {
    name: "AzureChinaCloud",
    arm_endpoint: "https://management.chinacloudapi.cn",
    arm_scope: "https://management.chinacloudapi.cn/.default",
    authority_host: "https://login.chinacloudapi.cn",
    keyvault_suffix: "vault.azure.cn",
    keyvault_scope: "https://vault.azure.cn/.default",
    postgres_scope: "https://ossrdbms-aad.database.chinacloudapi.cn/.default",
};

const US_GOV: CloudRow = CloudRow {
    name: "AzureUSGovernment",
    arm_endpoint: "https://management.usgovcloudapi.net",
    arm_scope: "https://management.usgovcloudapi.net/.default",
    authority_host: "https://login.microsoftonline.us",
    keyvault_suffix: "vault.usgovcloudapi.net",
    keyvault_scope: "https://vault.usgovcloudapi.net/.default",
    postgres_scope: "https://ossrdbms-aad.database.usgovcloudapi.net/.default",
};

impl Cloud {
    /// This cloud's row of the table.
    pub fn row(self) -> &'static CloudRow {
        match self {
            Cloud::AzurePublicCloud => &PUBLIC,
            Cloud::AzureChinaCloud => &CHINA,
            Cloud::AzureUSGovernment => &US_GOV,
        }
    }
}

/// Who a token is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    Arm,
    KeyVault,
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str().map(str::to_ascii_lowercase) == b.host_str().map(str::to_ascii_lowercase)
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Whether `host` is `{vault}.{suffix}` with exactly one non-empty label before the suffix.
fn is_vault_host(host: &str, suffix: &str) -> bool {
    let host = host.to_ascii_lowercase();
    host.strip_suffix(suffix)
        .and_then(|h| h.strip_suffix('.'))
        .is_some_and(|label| {
            !label.is_empty()
                && !label.contains('.')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// Where a token may go: the audience for `target`, or None when no token may be sent there.
/// `arm` is the configured Resource Manager endpoint. A vault must be `https://{vault}.{suffix}`
/// of the configured cloud on the default port.
pub fn audience(target: &Url, arm: &Url, cloud: &CloudRow) -> Option<Audience> {
    if same_origin(target, arm) {
        return Some(Audience::Arm);
    }
    let vault = target.scheme() == "https"
        && target.port().is_none()
        && target
            .host_str()
            .is_some_and(|h| is_vault_host(h, cloud.keyvault_suffix));
    vault.then_some(Audience::KeyVault)
}

/// The token scope for an audience.
pub fn scope(cloud: &CloudRow, audience: Audience) -> &'static str {
    match audience {
        Audience::Arm => cloud.arm_scope,
        Audience::KeyVault => cloud.keyvault_scope,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn tokens_go_to_arm_and_the_clouds_own_vaults_only() {
        let cases: &[(Cloud, &str, Option<Audience>)] = &[
            (
                Cloud::AzurePublicCloud,
                "https://management.azure.com/subscriptions/s?api-version=1",
                Some(Audience::Arm),
            ),
            (
                Cloud::AzurePublicCloud,
                "https://kv-acme.vault.azure.net/keys/cmk?api-version=7.4",
                Some(Audience::KeyVault),
            ),
            (
                Cloud::AzurePublicCloud,
                "https://KV-Acme.Vault.Azure.Net/keys/cmk",
                Some(Audience::KeyVault),
            ),
            (
                Cloud::AzurePublicCloud,
                "https://kv-acme.vault.azure.cn/keys/cmk",
                None,
            ),
            (
                Cloud::AzurePublicCloud,
                "http://kv-acme.vault.azure.net/keys/cmk",
                None,
            ),
            (
                Cloud::AzurePublicCloud,
                "https://kv-acme.vault.azure.net:8443/keys/cmk",
                None,
            ),
            (
                Cloud::AzurePublicCloud,
                "https://vault.azure.net/keys/cmk",
                None,
            ),
            (
                Cloud::AzurePublicCloud,
                "https://a.b.vault.azure.net/keys/cmk",
                None,
            ),
            (
                Cloud::AzurePublicCloud,
                "https://kv-acmevault.azure.net/keys/cmk",
                None,
            ),
            (
                Cloud::AzurePublicCloud,
                "https://kv-acme.vault.azure.net.evil.example/keys/cmk",
                None,
            ),
            (
                Cloud::AzurePublicCloud,
                "https://management.azure.com.evil.example/",
                None,
            ),
            (
                Cloud::AzurePublicCloud,
                "https://management.chinacloudapi.cn/subscriptions/s",
                None,
            ),
            (
                Cloud::AzureChinaCloud,
                "https://management.chinacloudapi.cn/subscriptions/s",
                Some(Audience::Arm),
            ),
            (
                Cloud::AzureChinaCloud,
                "https://kv-acme.vault.azure.cn/keys/cmk",
                Some(Audience::KeyVault),
            ),
            (
                Cloud::AzureChinaCloud,
                "https://kv-acme.vault.azure.net/keys/cmk",
                None,
            ),
            (
                Cloud::AzureChinaCloud,
                "https://management.azure.com/subscriptions/s",
                None,
            ),
            (
                Cloud::AzureUSGovernment,
                "https://management.usgovcloudapi.net/subscriptions/s",
                Some(Audience::Arm),
            ),
            (
                Cloud::AzureUSGovernment,
                "https://kv-acme.vault.usgovcloudapi.net/keys/cmk",
                Some(Audience::KeyVault),
            ),
            (
                Cloud::AzureUSGovernment,
                "https://kv-acme.vault.azure.net/keys/cmk",
                None,
            ),
        ];
        for (cloud, target, want) in cases {
            let row = cloud.row();
            let got = audience(&u(target), &u(row.arm_endpoint), row);
            assert_eq!(got, *want, "{cloud:?} {target}");
        }
    }

    #[test]
    fn a_test_arm_endpoint_is_its_own_origin() {
        let row = Cloud::AzurePublicCloud.row();
        let mock = u("http://127.0.0.1:8080");
        assert_eq!(
            audience(&u("http://127.0.0.1:8080/subscriptions/s"), &mock, row),
            Some(Audience::Arm)
        );
        assert_eq!(
            audience(&u("http://127.0.0.1:8081/subscriptions/s"), &mock, row),
            None
        );
        assert_eq!(audience(&u("https://127.0.0.1:8080/"), &mock, row), None);
    }

    #[test]
    fn every_row_is_https_and_scopes_end_in_default() {
        for c in [
            Cloud::AzurePublicCloud,
            Cloud::AzureChinaCloud,
            Cloud::AzureUSGovernment,
        ] {
            let r = c.row();
            for s in [r.arm_scope, r.keyvault_scope, r.postgres_scope] {
                assert!(s.starts_with("https://") && s.ends_with("/.default"), "{s}");
            }
            assert!(r.arm_scope.starts_with(r.arm_endpoint));
            assert!(r.keyvault_scope.contains(r.keyvault_suffix));
            assert!(r.authority_host.starts_with("https://login."));
        }
        assert_eq!(
            Cloud::AzureChinaCloud.row().postgres_scope,
            "https://ossrdbms-aad.database.chinacloudapi.cn/.default"
        );
    }
}
