//! `engram-operator bench hnsw` with tiny numbers, to prove the command works end to end against a
//! real local PostgreSQL with pgvector. The real benchmark (100,000 × 384) is run by hand and its
//! figures are in docs/sizing.md; no test runs it. Skips outside CI when the binaries are absent.

use assert_cmd::Command;
use serde_json::Value;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("engram-operator")
        .expect("binary")
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn have_postgres() -> bool {
    if engram_operator::database::local::find_binaries().is_some() {
        return true;
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "CI must have the PostgreSQL binaries (.ci/tools.sh)"
    );
    eprintln!("skipped: no PostgreSQL binaries (run .ci/tools.sh)");
    false
}

#[test]
fn tiny_benchmark_builds_each_setting_and_reports_it() {
    if !have_postgres() {
        return;
    }
    let (code, out, err) = run(&[
        "bench",
        "hnsw",
        "--vectors",
        "200",
        "--dims",
        "8",
        "--settings",
        "4/8,8/16",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["vectors"], 200);
    assert_eq!(v["dims"], 8);
    assert_eq!(v["distinct_vectors"], 200, "each row its own vector");
    assert_eq!(v["maintenance_work_mem_mib"], 64);
    assert!(v["pgvector"].as_str().is_some_and(|s| !s.is_empty()), "{v}");
    let builds = v["builds"].as_array().expect("builds");
    let pairs: Vec<(u64, u64)> = builds
        .iter()
        .map(|b| {
            (
                b["m"].as_u64().unwrap_or(0),
                b["ef_construction"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(pairs, vec![(4, 8), (8, 16)]);
    for b in builds {
        assert!(b["seconds"].as_f64().is_some_and(|s| s >= 0.0), "{b}");
        assert!(b["index_bytes"].as_i64().is_some_and(|n| n > 0), "{b}");
        // 200 × (8 × 4 + m × 2 × 8) bytes.
        let m = b["m"].as_u64().unwrap_or(0);
        assert_eq!(b["estimate_bytes"].as_u64(), Some(200 * (32 + m * 16)));
    }
}

#[test]
fn bad_flags_exit_1_before_starting_postgres() {
    for (args, want) in [
        (
            vec!["--settings", "16/20"],
            "--settings: ef_construction must be at least 2 × m",
        ),
        (vec!["--dims", "2001"], "--dims: must be 1 to 2,000"),
        (
            vec!["--vectors", "0"],
            "--vectors: must be 1 to 100,000,000",
        ),
    ] {
        let mut all = vec!["bench", "hnsw"];
        all.extend(args.iter());
        let (code, _, err) = run(&all);
        assert_eq!(code, 1, "{args:?}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}
