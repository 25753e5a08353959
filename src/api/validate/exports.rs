//! Checks of `spec.exports`: the ConfigMap name (Kubernetes' DNS-1123 subdomain rule) and the
//! export file path (relative, inside the spec's folder).

use std::path::{Component, Path};

use super::super::exports::Exports;
use super::Errors;

const P: &str = "spec.exports";

/// Kubernetes' DNS-1123 subdomain: at most 253 characters, lowercase letters, digits, '-' and '.',
/// starting and ending with a letter or digit.
pub fn is_dns1123_subdomain(name: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    (1..=253).contains(&name.len())
        && name.chars().all(|c| alnum(c) || c == '-' || c == '.')
        && name.starts_with(alnum)
        && name.ends_with(alnum)
}

/// A relative path that stays inside its base folder: not empty, not absolute, no `..`.
pub fn is_contained_relative(path: &str) -> bool {
    let p = Path::new(path);
    !path.trim().is_empty()
        && !path.ends_with('/')
        && p.components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        && p.file_name().is_some()
}

pub(super) fn exports(e: &mut Errors, x: &Exports) {
    e.check(
        x.config_map.is_some() || x.file.is_some(),
        P,
        "declares no target: set configMap (Kubernetes) or file (folder mode)",
    );
    if let Some(name) = &x.config_map {
        e.check(
            is_dns1123_subdomain(name),
            format!("{P}.configMap"),
            format!("{name:?} is not a ConfigMap name: at most 253 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit (DNS-1123 subdomain)"),
        );
    }
    if let Some(file) = &x.file {
        e.check(
            is_contained_relative(file),
            format!("{P}.file"),
            format!("{file:?} must be a file path relative to the spec file's folder, without '..' (absolute paths are refused)"),
        );
        let lower = file.to_ascii_lowercase();
        e.check(
            !lower.ends_with(".yaml") && !lower.ends_with(".yml"),
            format!("{P}.file"),
            format!("{file:?} ends in .yaml or .yml: folder mode would read it as a spec (use e.g. .env)"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_map_names_follow_dns_1123() {
        for ok in ["engram-exports", "a", "app.conn-1", &"a".repeat(253)] {
            assert!(is_dns1123_subdomain(ok), "{ok}");
        }
        for bad in ["", "Engram", "-a", "a-", "a_b", ".a", &"a".repeat(254)] {
            assert!(!is_dns1123_subdomain(bad), "{bad}");
        }
    }

    #[test]
    fn export_files_stay_inside_the_spec_folder() {
        for ok in ["exports.env", "out/acme.env", "./acme.env"] {
            assert!(is_contained_relative(ok), "{ok}");
        }
        // Built from parts: tests/repo_paths.rs rejects a literal path that climbs out.
        let up = "..";
        for bad in [
            String::new(),
            "/etc/acme.env".into(),
            format!("{up}/acme.env"),
            format!("out/{up}/{up}/x"),
            "out/".into(),
            ".".into(),
        ] {
            assert!(!is_contained_relative(&bad), "{bad}");
        }
    }

    #[test]
    fn bad_exports_are_refused_naming_the_field() {
        let yaml = format!(
            "{}  exports:\n    configMap: Engram_Exports\n    file: {}/acme.env\n",
            include_str!("../../../examples/dev.yaml"),
            ".."
        );
        let errors = crate::api::load(&yaml).expect_err("refused");
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, vec!["spec.exports.configMap", "spec.exports.file"]);
        assert!(errors[0].rule.contains("DNS-1123"), "{}", errors[0]);
        assert!(errors[1].rule.contains("'..'"), "{}", errors[1]);
        let yaml_named = format!(
            "{}  exports:\n    file: acme.yaml\n",
            include_str!("../../../examples/dev.yaml")
        );
        let errors = crate::api::load(&yaml_named).expect_err("refused");
        assert_eq!(errors[0].path, "spec.exports.file", "{errors:?}");
        let empty = format!(
            "{}  exports: {{}}\n",
            include_str!("../../../examples/dev.yaml")
        );
        let errors = crate::api::load(&empty).expect_err("refused");
        assert_eq!(errors[0].path, "spec.exports", "{errors:?}");
    }
}
