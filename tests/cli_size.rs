//! `engram-operator size ...` and `sku: auto` through `render`: exit codes, JSON fields, messages.

use assert_cmd::Command;
use serde_json::Value;

fn bin() -> Command {
    Command::cargo_bin("engram-operator").expect("binary")
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = bin().args(args).output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn postgres_json(sessions: &str, facts: &str, connections: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "size",
        "postgres",
        "--sessions",
        sessions,
        "--facts",
        facts,
        "--connections",
        connections,
        "--json",
    ];
    args.extend_from_slice(extra);
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "stderr: {err}");
    serde_json::from_str(&out).expect("JSON")
}

#[test]
fn seed_environment_table_rows() {
    for (s, f, c, want) in [
        ("100", "1K", "10", "Standard_B1ms"),
        ("500", "10K", "20", "Standard_B2s"),
        ("2000", "100000", "50", "Standard_D2s_v3"),
        ("10K", "1M", "200", "Standard_D4s_v3"),
    ] {
        let v = postgres_json(s, f, c, &[]);
        assert_eq!(v["sku"]["name"], want, "{s}/{f}/{c}");
    }
}

#[test]
fn seed_table_rows_with_their_environments() {
    for (s, f, c, env, want) in [
        ("100", "1000", "10", "dev", "Standard_B1ms"),
        ("500", "10000", "20", "test", "Standard_B2s"),
        ("2000", "100000", "50", "uat", "Standard_D2s_v3"),
        ("10000", "1000000", "200", "prod", "Standard_D4s_v3"),
    ] {
        let v = postgres_json(s, f, c, &["--environment", env]);
        assert_eq!(v["sku"]["name"], want, "{env}");
        assert_eq!(v["environment"], env);
    }
}

#[test]
fn production_example_json_fields() {
    let v = postgres_json("10000", "1000000", "200", &[]);
    assert_eq!(v["compute"]["vector_vcores"], 2.0);
    assert_eq!(v["compute"]["base_vcores"], 2.0);
    assert_eq!(v["compute"]["required_vcores"], 4.0);
    assert_eq!(v["memory"]["minimum_gib"], 8.0);
    assert_eq!(v["memory"]["required_gib"], 12.0);
    assert_eq!(v["sku"]["tier"], "GeneralPurpose");
    assert_eq!(v["sku"]["vcores"], 4);
    assert_eq!(v["sku"]["memory_gib"], 16);
    assert_eq!(v["storage"]["size_gib"], 32);
    assert_eq!(v["storage"]["iops"], 120);
    assert_eq!(v["usd_per_month"], 263.56);
    assert!(v["price_basis"]
        .as_str()
        .unwrap_or_default()
        .contains("indicative"));
    assert!(v["rejected"]
        .as_array()
        .expect("array")
        .iter()
        .any(|r| r["name"] == "Standard_D2s_v3"));
}

#[test]
fn growth_flag_sizes_memory_not_vcores() {
    let v = postgres_json("10000", "2000000", "100", &["--growth", "5"]);
    assert_eq!(v["compute"]["required_vcores"], 8.0);
    assert_eq!(v["sku"]["name"], "Standard_E8s_v3");
    assert_eq!(v["sku"]["tier"], "MemoryOptimized");
}

#[test]
fn postgres_text_explains_the_path() {
    let (code, out, _) = run(&[
        "size",
        "postgres",
        "--sessions",
        "10000",
        "--facts",
        "1000000",
        "--connections",
        "200",
    ]);
    assert_eq!(code, 0);
    for want in [
        "inputs",
        "= 4 vCores required",
        "minimum 8 GiB",
        "Standard_D4s_v3 (4 vCores, 16 GiB)",
        "-> 32 GiB (120 IOPS)",
        "$263.56/month",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
}

#[test]
fn postgres_invalid_input_exits_1_naming_flag_and_rule() {
    let base = ["size", "postgres"];
    for (args, want) in [
        (
            vec!["--sessions", "0", "--facts", "1", "--connections", "1"],
            "--sessions: must be a whole number from 1 to 10,000,000",
        ),
        (
            vec!["--sessions", "1", "--facts", "-5", "--connections", "1"],
            "--facts: must be a whole number from 1 to 1,000,000,000",
        ),
        (
            vec!["--sessions", "1", "--facts", "1", "--connections", "100000"],
            "--connections: must be a whole number from 1 to 5,000",
        ),
        (
            vec![
                "--sessions",
                "1",
                "--facts",
                "1",
                "--connections",
                "1",
                "--growth",
                "0.5",
            ],
            "--growth: must be a number from 1 to 10",
        ),
        (
            vec![
                "--sessions",
                "1",
                "--facts",
                "1",
                "--connections",
                "1",
                "--environment",
                "staging",
            ],
            "--environment: must be one of dev, test, uat, prod",
        ),
        (
            vec![
                "--sessions",
                "1",
                "--facts",
                "1",
                "--connections",
                "1",
                "--safety",
                "3",
            ],
            "--safety: must be a number from 1.5 to 2",
        ),
        (
            vec!["--sessions", "1", "--facts", "100M", "--connections", "1"],
            "more than any Flexible Server SKU",
        ),
    ] {
        let mut all = base.to_vec();
        all.extend(args);
        let (code, out, err) = run(&all);
        assert_eq!(code, 1, "{all:?}");
        assert!(out.is_empty(), "{out}");
        assert!(err.contains(want), "{all:?}: {err}");
    }
}

#[test]
fn blob_json_by_hand() {
    let (code, out, err) = run(&[
        "size",
        "blob",
        "--docs-per-month",
        "1000",
        "--avg-mb",
        "2",
        "--retention-days",
        "360",
        "--access",
        "moderate",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["total_gb"], 23.4375);
    let tiers = v["tiers"].as_array().expect("tiers");
    assert_eq!(tiers[0]["tier"], "hot");
    assert_eq!(tiers[0]["gb"], 7.03125);
    assert_eq!(tiers[1]["gb"], 11.71875);
    assert_eq!(tiers[2]["gb"], 4.6875);
    let close = |k: &str, want: f64| {
        let got = v[k].as_f64().expect(k);
        assert!((got - want).abs() < 1e-9, "{k}: {got} vs {want}");
    };
    close("storage_usd_per_month", 0.253125);
    close("access_usd_per_month", 0.644);
    close("weighted_usd_per_gb", 0.0108);
    assert_eq!(v["meets_target"], true);
    assert_eq!(v["target_usd_per_gb"], 0.015);
    assert_eq!(v["lifecycle"]["days_for_pattern_split"][0], 108);
    assert_eq!(v["lifecycle"]["days_for_pattern_split"][1], 288);
}

#[test]
fn blob_text_for_each_access_pattern() {
    for (access, split) in [("frequent", "70%"), ("moderate", "30%"), ("rare", "10%")] {
        let (code, out, _) = run(&[
            "size",
            "blob",
            "--docs-per-month",
            "1000",
            "--avg-mb",
            "2",
            "--retention-days",
            "360",
            "--access",
            access,
        ]);
        assert_eq!(code, 0);
        assert!(out.contains(&format!("hot        {split}")), "{out}");
        assert!(out.contains("vs target < $0.015: meets it"), "{out}");
        assert!(
            out.contains("lifecycle cool after 30 days, archive after 90"),
            "{out}"
        );
    }
}

#[test]
fn blob_invalid_input_exits_1() {
    for (flag, value, want) in [
        (
            "--access",
            "sometimes",
            "--access: must be one of frequent, moderate, rare",
        ),
        (
            "--docs-per-month",
            "0",
            "--docs-per-month: must be a whole number",
        ),
        (
            "--avg-mb",
            "-3",
            "--avg-mb: must be a number from 0.001 to 10000",
        ),
        (
            "--retention-days",
            "1e9",
            "--retention-days: must be a whole number",
        ),
    ] {
        let mut args = vec![
            "size",
            "blob",
            "--docs-per-month",
            "10",
            "--avg-mb",
            "1",
            "--retention-days",
            "30",
            "--access",
            "rare",
        ];
        let pos = args.iter().position(|a| *a == flag).expect("flag") + 1;
        args[pos] = value;
        let (code, _, err) = run(&args);
        assert_eq!(code, 1, "{flag} {value}");
        assert!(err.contains(want), "{flag}: {err}");
    }
}

#[test]
fn sku_auto_renders_the_sized_sku_and_reloads() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/auto-prod.yaml");
    let (code, out, err) = run(&["render", "-f", fixture]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("# sized automatically (sku: auto)"),
        "{out}"
    );
    assert!(out.contains("name: Standard_D4s_v3"), "{out}");
    assert!(out.contains("tier: GeneralPurpose"), "{out}");
    assert!(out.contains("sizeGiB: 32"), "{out}");
    assert!(
        !out.lines()
            .skip(1)
            .any(|l| l.contains("sku: auto") || l.contains("sizing:")),
        "{out}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let rendered = dir.path().join("rendered.yaml");
    std::fs::write(&rendered, &out).expect("write");
    let path = rendered.to_str().expect("utf-8 path");
    let (code, valid, err) = run(&["validate", "-f", path]);
    assert_eq!(code, 0, "{valid}{err}");
    assert!(valid.contains("Standard_D4s_v3"), "{valid}");
    let (code, again, _) = run(&["render", "-f", path]);
    assert_eq!(code, 0);
    // Re-rendering the pinned spec gives the same document, without the auto-sizing comment.
    assert_eq!(
        again,
        out.lines().skip(1).collect::<Vec<_>>().join("\n") + "\n"
    );
}

#[test]
fn sku_auto_with_bad_sizing_is_a_validation_error() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/auto-prod.yaml"
    ))
    .expect("fixture")
    .replace("connections: 200", "connections: 0");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, text).expect("write");
    let (code, out, _) = run(&["validate", "-f", file.to_str().expect("path")]);
    assert_eq!(code, 1);
    assert!(
        out.contains("spec.postgres.sizing: connections: must be a whole number from 1 to 5,000"),
        "{out}"
    );
}

/// The `postgres:` block `size postgres --vector` prints after its report.
fn emitted_vector_block(out: &str) -> &str {
    let start = out.find("\npostgres:\n").expect("a postgres: block") + 1;
    &out[start..]
}

/// `block` (`postgres:\n  vector: …`) placed under spec.postgres of the auto-sized prod fixture.
fn fixture_with(block: &str) -> String {
    let vector: String = block.lines().skip(1).map(|l| format!("  {l}\n")).collect();
    let fixture = include_str!("fixtures/auto-prod.yaml");
    fixture.replacen("  postgres:\n", &format!("  postgres:\n{vector}"), 1)
}

#[test]
fn vector_block_for_each_seed_row_loads_back_through_the_api() {
    use engram_operator::api::database::Opclass;
    // Seed §2 rows, plus one past 1M and one past 10M facts (the calculator sizes up to 16M). (m, efConstruction, efSearch,
    // maintenanceWorkMemMiB for facts × 2 on the chosen SKU.)
    for (s, f, c, env, want) in [
        ("100", "1K", "10", "dev", (16, 64, 40, 64)),
        ("500", "10K", "20", "test", (16, 64, 40, 64)),
        ("2000", "100K", "50", "uat", (16, 64, 40, 448)),
        ("10K", "1M", "200", "prod", (16, 128, 64, 4096)),
        ("10K", "2M", "200", "prod", (24, 128, 100, 8192)),
        ("10K", "12M", "200", "prod", (32, 200, 100, 16384)),
    ] {
        let (code, out, err) = run(&[
            "size",
            "postgres",
            "--sessions",
            s,
            "--facts",
            f,
            "--connections",
            c,
            "--environment",
            env,
            "--vector",
        ]);
        assert_eq!(code, 0, "{f}: {err}");
        let block = emitted_vector_block(&out);
        let (_, eff) = engram_operator::api::load(&fixture_with(block))
            .unwrap_or_else(|e| panic!("{f}: the emitted block does not load: {e:?}\n{block}"));
        let v = eff.postgres.vector.expect("vector declared");
        assert_eq!(v.databases.len(), 1, "{f}");
        assert_eq!(v.databases[0].name, "engram", "{f}");
        let ix = &v.databases[0].indexes[0];
        assert_eq!(
            (ix.table.as_str(), ix.column.as_str()),
            ("facts", "embedding")
        );
        assert_eq!(ix.opclass, Opclass::vector_cosine_ops);
        let got = (
            ix.m(),
            ix.ef_construction(),
            v.ef_search.expect("efSearch"),
            v.maintenance_work_mem_mib.expect("maintenanceWorkMemMiB"),
        );
        assert_eq!(got, want, "{f} facts:\n{block}");
    }
}

#[test]
fn vector_json_carries_the_block_and_its_figures() {
    let v = postgres_json(
        "2000",
        "100000",
        "50",
        &["--vector", "--dims", "768", "--vector-database", "zep"],
    );
    let vec = &v["vector"];
    assert_eq!(vec["dims"], 768);
    assert_eq!(vec["grown_facts"], 200_000);
    assert_eq!(vec["fits"], true);
    // 200,000 × (768 × 4 + 16 × 2 × 8) B = 634.8 MiB; × 1.25 → 793.5 → 832 (D2s_v3: 8 GiB, cap 2,048).
    assert_eq!(vec["maintenance_work_mem_mib"], 832);
    assert_eq!(vec["spec"]["databases"][0]["name"], "zep");
    assert_eq!(
        vec["spec"]["databases"][0]["indexes"][0]["efConstruction"],
        64
    );
    assert_eq!(v["sku"]["name"], "Standard_D2s_v3");
    // Without --vector the JSON has no vector field.
    assert!(postgres_json("2000", "100000", "50", &[])
        .get("vector")
        .is_none());
}

#[test]
fn vector_flags_are_checked() {
    let base = [
        "size",
        "postgres",
        "--sessions",
        "1",
        "--facts",
        "1",
        "--connections",
        "1",
    ];
    for (extra, want) in [
        (
            vec!["--vector", "--dims", "2001"],
            "--dims: must be a whole number from 1 to 2,000",
        ),
        (
            vec!["--vector", "--vector-database", "postgres"],
            "--vector-database: must be 1-63",
        ),
        (
            vec!["--vector", "--vector-database", "1x"],
            "--vector-database: must be 1-63",
        ),
    ] {
        let mut args = base.to_vec();
        args.extend(extra.iter());
        let (code, _, err) = run(&args);
        assert_eq!(code, 1, "{extra:?}");
        assert!(err.contains(want), "{extra:?}: {err}");
    }
    // --dims means nothing without --vector.
    let mut args = base.to_vec();
    args.extend(["--dims", "384"]);
    assert_eq!(run(&args).0, 2);
}
