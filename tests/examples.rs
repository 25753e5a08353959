//! The shipped examples: every valid one resolves, every invalid one fails with exactly the errors its
//! `# expect:` lines name (field path and rule).

use std::path::{Path, PathBuf};

use engram_operator::api;

fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_environment_has_a_valid_example() {
    let files = yaml_files("examples");
    let mut envs: Vec<String> = files
        .iter()
        .map(|f| {
            let (_, eff) = api::load(&std::fs::read_to_string(f).unwrap())
                .unwrap_or_else(|e| panic!("{} should be valid: {e:?}", f.display()));
            eff.environment.to_string()
        })
        .collect();
    envs.sort();
    assert_eq!(envs, ["dev", "prod", "test", "uat"]);
}

#[test]
fn every_invalid_example_fails_with_exactly_its_expected_errors() {
    let files = yaml_files("examples/invalid");
    assert!(
        files.len() >= 12,
        "need at least 12 invalid examples, found {}",
        files.len()
    );
    let mut first_paths = std::collections::HashSet::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let expects: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .collect();
        assert!(
            !expects.is_empty(),
            "{} has no `# expect:` line",
            f.display()
        );
        let errors = match api::load(&text) {
            Ok(_) => panic!("{} was accepted", f.display()),
            Err(errors) => errors,
        };
        let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            shown.len(),
            expects.len(),
            "{}: expected {expects:#?}, got {shown:#?}",
            f.display()
        );
        for want in &expects {
            assert!(
                shown.iter().any(|s| s.starts_with(want)),
                "{}: no error starts with {want:?}; got {shown:#?}",
                f.display()
            );
        }
        // Each single-error example exercises a different rule (path + rule text).
        if expects.len() == 1 {
            assert!(
                first_paths.insert(expects[0].to_owned()),
                "{} repeats a rule",
                f.display()
            );
        }
    }
}
