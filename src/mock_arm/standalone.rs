//! The mock as a program of its own (`engram-operator mock-arm`): its principals file, and serving
//! until Ctrl-C with every listener's URL printed.

use std::net::SocketAddr;
use std::path::Path;

use super::{EntraPrincipal, Error, MockArm, MockConfig};

/// Read `--entra-principals FILE`: a JSON list of principals (camelCase, see docs/mock-arm.md).
/// A parse error names the place only, never a value, as the file holds client secrets.
pub fn load_principals(path: &Path) -> Result<Vec<EntraPrincipal>, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| {
        Error::Config(format!(
            "{} is not a JSON list of principals ({:?} error at line {}, column {})",
            path.display(),
            e.classify(),
            e.line(),
            e.column()
        ))
    })
}

/// Serve on `listen` until Ctrl-C, after printing where each listener is.
pub async fn serve_until_ctrl_c(listen: SocketAddr, config: MockConfig) -> Result<(), Error> {
    let principals = config.entra.principals.len();
    let mock = MockArm::start_on(listen, config).await?;
    let base = mock.base_url();
    let kv = mock.keyvault_url();
    let entra = mock.entra_url();
    eprintln!(
        "mock ARM listening on {base} (control API under {base}/_mock/), its Key Vault on {kv} (pass --keyvault-endpoint {kv}), its Entra authority on {entra} (authority host for {principals} principal(s)); Ctrl-C to stop"
    );
    tracing::info!(arm = %base, keyvault = %kv, entra = %entra, principals, "mock ARM listening");
    let _ = tokio::signal::ctrl_c().await;
    mock.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_principals_file_is_refused_without_quoting_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.json");
        std::fs::write(
            &path,
            r#"[{"tenantId": "t", "clientId": "c", "secrets": "s3cr3t-in-wrong-place"}]"#,
        )
        .expect("write");
        let e = load_principals(&path).expect_err("refused").to_string();
        assert!(e.contains("line 1"), "{e}");
        assert!(!e.contains("s3cr3t"), "{e}");
        std::fs::write(
            &path,
            r#"[{"tenantId": "t", "clientId": "c", "secrets": ["s"]}]"#,
        )
        .expect("write");
        let list = load_principals(&path).expect("loads");
        assert_eq!(list[0].name(), "t/c");
        assert!(load_principals(&dir.path().join("missing.json")).is_err());
    }
}
