//! Guard: nothing the build, the tests or CI read may live outside the repository. A fresh clone
//! with nothing beside it must pass `make test`, so every file under `src/`, `tests/`, `.ci/` and the
//! Makefile is scanned for relative paths (`a/../b`) that leave the repository root. Works on a
//! plain copy without `.git`: it walks the folders instead of asking git.
//!
//! How a path is resolved:
//! - inside `include_str!`/`include_bytes!`/`#[path = …]`, against the file's own folder (what
//!   rustc does), so a test module in `src/plan/` may include `examples/dev.yaml` two levels up;
//! - any other path in a Rust file, against the file's folder *and* the repository root, because
//!   tests and the binary run with the package root as their working directory;
//! - in the Makefile and `.ci/`, against the file's own folder.
//!
//! Absolute paths into the folder that holds the repository (for example its parent's `shared/`)
//! are refused too.

use std::path::{Component, Path, PathBuf};

/// Whether `rel`, resolved lexically against `base` (a folder relative to the root), leaves the
/// root.
fn escapes(base: &Path, rel: &str) -> bool {
    let mut depth: i64 = base
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .count() as i64;
    for seg in rel.split('/') {
        match seg {
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            "" | "." => {}
            _ => depth += 1,
        }
    }
    false
}

/// The path-like tokens of a line that climb with `..` (a lone `..` is Rust's range or rest
/// pattern, not a path: a path has a slash).
fn climbing_tokens(line: &str) -> Vec<&str> {
    line.split(|c: char| !(c.is_ascii_alphanumeric() || "_.-/~$".contains(c)))
        .filter(|t| t.contains('/') && !t.starts_with('/') && t.split('/').any(|s| s == ".."))
        .collect()
}

/// Every offence in one file: (line number, path, why).
fn offences(rel_file: &Path, text: &str, outside: &str) -> Vec<(usize, String, &'static str)> {
    let folder = rel_file.parent().unwrap_or(Path::new(""));
    let rust = rel_file.extension().is_some_and(|e| e == "rs");
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if !outside.is_empty() && line.contains(outside) {
            out.push((
                i + 1,
                outside.to_string(),
                "absolute path outside the repository",
            ));
        }
        let compile_time = ["include_str!(", "include_bytes!(", "#[path"]
            .iter()
            .any(|m| line.contains(m));
        for tok in climbing_tokens(line) {
            if escapes(folder, tok) {
                out.push((
                    i + 1,
                    tok.to_string(),
                    "leaves the root from the file's folder",
                ));
            } else if rust && !compile_time && escapes(Path::new(""), tok) {
                out.push((
                    i + 1,
                    tok.to_string(),
                    "leaves the root from the package root (the working directory at run time)",
                ));
            }
        }
    }
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(root, &p, out);
        } else if let Ok(rel) = p.strip_prefix(root) {
            out.push(rel.to_path_buf());
        }
    }
}

#[test]
fn no_file_refers_to_a_path_outside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .canonicalize()
        .expect("manifest dir");
    let outside = root
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| p.len() > 1)
        .map(|p| format!("{p}/"))
        .unwrap_or_default();
    let mut files = Vec::new();
    for d in ["src", "tests", ".ci"] {
        walk(&root, &root.join(d), &mut files);
    }
    files.push(PathBuf::from("Makefile"));
    assert!(files.len() > 50, "scanned only {} files", files.len());
    let mut bad = Vec::new();
    for f in &files {
        let Ok(text) = std::fs::read_to_string(root.join(f)) else {
            continue; // not text
        };
        for (line, path, why) in offences(f, &text, &outside) {
            bad.push(format!("{}:{line}: {path}: {why}", f.display()));
        }
    }
    assert!(
        bad.is_empty(),
        "paths outside the repository:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_guard_catches_what_broke_a_fresh_clone_and_allows_include_str() {
    let up = "..";
    // The defect this guard exists for: a test reading the folder beside the clone.
    let bad = format!("let p = root.join(\"{up}/shared/arm-contract\");");
    assert_eq!(offences(Path::new("tests/x.rs"), &bad, "").len(), 1);
    // Legal: rustc resolves include_str! against the file's folder, which stays inside.
    let ok = format!("include_str!(\"{up}/{up}/examples/dev.yaml\")");
    assert!(offences(Path::new("src/plan/t.rs"), &ok, "").is_empty());
    // One level too many leaves the root even from the file's folder.
    assert_eq!(offences(Path::new("src/t.rs"), &ok, "").len(), 1);
    // A script climbing out of .ci/ twice, and an absolute path into the parent.
    let sh = format!("cp {up}/{up}/shared/x .");
    assert_eq!(offences(Path::new(".ci/run"), &sh, "").len(), 1);
    let parent = format!("/{}/", "srv");
    let abs = format!("cat {parent}shared/x");
    assert_eq!(offences(Path::new(".ci/run"), &abs, &parent).len(), 1);
    // Elided ARM paths in comments (`.../configurations`) and URLs are not climbing paths.
    assert!(offences(Path::new("src/a.rs"), "/// GET .../configurations", "").is_empty());
}
