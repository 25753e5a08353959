//! A data plane's own Entra identity (a customer's tenant): what a credential Secret or file holds,
//! checked field by field. Errors name the source and the field, never a value.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use azure_core::auth::TokenCredential;
use azure_core::Url;

use crate::api::validate::is_guid;

pub const TENANT: &str = "AZURE_TENANT_ID";
pub const CLIENT: &str = "AZURE_CLIENT_ID";
pub const SECRET: &str = "AZURE_CLIENT_SECRET";
pub const TOKEN_FILE: &str = "AZURE_FEDERATED_TOKEN_FILE";
const CERTIFICATE: [&str; 2] = ["AZURE_CLIENT_CERTIFICATE", "AZURE_CLIENT_CERTIFICATE_PATH"];

/// How the application proves itself.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum SignIn {
    /// Workload identity: a federated token read from this file at every token request.
    Federated(PathBuf),
    /// A client secret (accepted; reported as weaker than workload identity).
    Secret(String),
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Federated(p) => write!(f, "Federated({})", p.display()),
            Self::Secret(_) => f.write_str("Secret(<redacted>)"),
        }
    }
}

/// One application in one tenant, and where its definition came from.
#[derive(Clone, PartialEq, Eq)]
pub struct PlaneCredential {
    pub tenant_id: String,
    pub client_id: String,
    pub sign_in: SignIn,
    /// `Secret NAMESPACE/NAME` or the file's path: what error messages and status name.
    pub source: String,
}

impl std::fmt::Debug for PlaneCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlaneCredential")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("kind", &self.kind())
            .field("source", &self.source)
            .finish()
    }
}

/// A tenant id: a GUID or a verified domain name (`contoso.onmicrosoft.com`).
fn tenant_shaped(s: &str) -> bool {
    is_guid(s)
        || (s.contains('.')
            && s.len() <= 253
            && s.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            }))
}

impl PlaneCredential {
    /// Read a credential from `field` lookups of `source` (a Secret's data, an env file).
    /// Without a secret or a token file of its own it uses the operator's federated token file
    /// (`operator_token_file`): one service account trusted by each customer's application.
    pub fn parse(
        source: &str,
        field: impl Fn(&str) -> Option<String>,
        operator_token_file: Option<&Path>,
    ) -> Result<Self, String> {
        let get = |k: &str| {
            field(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let need = |k: &str| get(k).ok_or_else(|| format!("{source}: {k} is missing"));
        let tenant_id = need(TENANT)?;
        if !tenant_shaped(&tenant_id) {
            return Err(format!(
                "{source}: {TENANT} must be a GUID or the tenant's domain name"
            ));
        }
        let client_id = need(CLIENT)?;
        if !is_guid(&client_id) {
            return Err(format!(
                "{source}: {CLIENT} must be a GUID (the application's client id)"
            ));
        }
        if let Some(k) = CERTIFICATE.iter().find(|k| get(k).is_some()) {
            return Err(format!("{source}: {k}: client certificates are not supported (they would need OpenSSL; this build is rustls-only); use workload identity or a client secret"));
        }
        let sign_in = match (get(SECRET), get(TOKEN_FILE)) {
            (Some(_), Some(_)) => {
                return Err(format!(
                    "{source}: {SECRET} and {TOKEN_FILE} are both set; keep one"
                ))
            }
            (Some(s), None) => SignIn::Secret(s),
            (None, Some(f)) => SignIn::Federated(PathBuf::from(f)),
            (None, None) => match operator_token_file {
                Some(f) => SignIn::Federated(f.to_path_buf()),
                None => return Err(format!("{source}: neither {SECRET} nor {TOKEN_FILE} is set, and the operator has no federated token file ({TOKEN_FILE}) of its own")),
            },
        };
        Ok(Self {
            tenant_id,
            client_id,
            sign_in,
            source: source.to_owned(),
        })
    }

    /// Parse `KEY=VALUE` lines (an env file, as `kubectl create secret --from-env-file` reads
    /// it): blank lines and `#` comments are skipped, values may be quoted.
    pub fn parse_env_file(
        source: &str,
        text: &str,
        operator_token_file: Option<&Path>,
    ) -> Result<Self, String> {
        let mut map = std::collections::HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                return Err(format!("{source}: line {} is not KEY=VALUE", n + 1));
            };
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
                .unwrap_or(v);
            map.insert(k.trim().to_owned(), v.to_owned());
        }
        Self::parse(source, |k| map.get(k).cloned(), operator_token_file)
    }

    /// `workloadIdentity` or `clientSecret`.
    pub fn kind(&self) -> &'static str {
        match self.sign_in {
            SignIn::Federated(_) => "workloadIdentity",
            SignIn::Secret(_) => "clientSecret",
        }
    }

    /// `{tenant}/{client}`: what ARM's limits are counted by.
    pub fn principal(&self) -> String {
        format!("{}/{}", self.tenant_id, self.client_id)
    }

    /// Identifies the credential's content (a rotated secret gives another), in memory only.
    pub fn fingerprint(&self) -> u64 {
        let mut h = DefaultHasher::new();
        (&self.tenant_id, &self.client_id, &self.sign_in).hash(&mut h);
        h.finish()
    }

    /// The token credential, against the Entra authority `authority`; its errors name
    /// [`Self::source`].
    pub fn build(&self, authority: &Url) -> Arc<dyn TokenCredential> {
        let inner: Arc<dyn TokenCredential> = match &self.sign_in {
            SignIn::Federated(file) => Arc::new(super::identity::WorkloadIdentity::new(
                authority.clone(),
                &self.tenant_id,
                &self.client_id,
                file.clone(),
            )),
            SignIn::Secret(s) => super::identity::client_secret(
                authority.clone(),
                &self.tenant_id,
                &self.client_id,
                s,
            ),
        };
        Arc::new(super::identity::Explaining::new(
            inner,
            &self.tenant_id,
            &self.client_id,
            &self.source,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: &str = "11111111-2222-3333-4444-555555555555";

    fn parse(text: &str, own: Option<&Path>) -> Result<PlaneCredential, String> {
        PlaneCredential::parse_env_file("Secret a/engram-credential", text, own)
    }

    #[test]
    fn fields_are_checked_and_named_without_their_values() {
        let e = parse(&format!("{CLIENT}={C}\n{SECRET}=hunter2"), None).unwrap_err();
        assert_eq!(e, "Secret a/engram-credential: AZURE_TENANT_ID is missing");
        let e = parse(
            &format!("{TENANT}=t.example\n{CLIENT}=hunter2-not-a-guid"),
            None,
        )
        .unwrap_err();
        assert!(e.contains("AZURE_CLIENT_ID must be a GUID") && !e.contains("hunter2"));
        let e = parse(
            &format!("{TENANT}=t.example\n{CLIENT}={C}\n{SECRET}=s\n{TOKEN_FILE}=/f"),
            None,
        )
        .unwrap_err();
        assert!(e.contains("both set"), "{e}");
        let e = parse(&format!("{TENANT}=t.example\n{CLIENT}={C}"), None).unwrap_err();
        assert!(e.contains("neither AZURE_CLIENT_SECRET"), "{e}");
        let e = parse(
            &format!("{TENANT}=t.example\n{CLIENT}={C}\nAZURE_CLIENT_CERTIFICATE_PATH=/c.pem"),
            None,
        )
        .unwrap_err();
        assert!(e.contains("not supported"), "{e}");
        let e = parse("just words", None).unwrap_err();
        assert!(e.contains("line 1 is not KEY=VALUE"), "{e}");
        let e = parse(&format!("{TENANT}=not a tenant\n{CLIENT}={C}"), None).unwrap_err();
        assert!(e.contains("AZURE_TENANT_ID must be"), "{e}");
    }

    #[test]
    fn the_operators_token_file_serves_a_credential_without_one() {
        let own = Path::new("/var/run/secrets/azure/tokens/azure-identity-token");
        let c = parse(
            &format!("# customer a\n{TENANT}=\"{C}\"\n{CLIENT}={C}"),
            Some(own),
        )
        .unwrap();
        assert_eq!(c.sign_in, SignIn::Federated(own.to_path_buf()));
        assert_eq!(c.kind(), "workloadIdentity");
        let s = parse(
            &format!("{TENANT}={C}\n{CLIENT}={C}\n{SECRET}='x=y'"),
            Some(own),
        )
        .unwrap();
        assert_eq!(s.sign_in, SignIn::Secret("x=y".into()));
        assert!(!format!("{s:?}").contains("x=y"));
        let rotated = parse(&format!("{TENANT}={C}\n{CLIENT}={C}\n{SECRET}=z"), None).unwrap();
        assert_ne!(s.fingerprint(), rotated.fingerprint());
        assert_eq!(s.principal(), format!("{C}/{C}"));
    }
}
