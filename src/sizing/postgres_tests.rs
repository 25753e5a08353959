//! Unit tests of the PostgreSQL calculator: the seed's table and example, SKU boundaries.
use super::*;

fn load(sessions: u64, facts: u64, connections: u64) -> PostgresInput {
    PostgresInput {
        sessions,
        facts,
        connections,
        growth: DEFAULT_GROWTH,
        environment: None,
        high_availability: false,
        generation: Generation::V3,
        safety: DEFAULT_SAFETY,
    }
}

fn sku(i: &PostgresInput) -> String {
    size(i).expect("sizes").sku.name
}

#[test]
fn seed_environment_table() {
    assert_eq!(sku(&load(100, 1_000, 10)), "Standard_B1ms");
    assert_eq!(sku(&load(500, 10_000, 20)), "Standard_B2s");
    assert_eq!(sku(&load(2_000, 100_000, 50)), "Standard_D2s_v3");
    assert_eq!(sku(&load(10_000, 1_000_000, 200)), "Standard_D4s_v3");
}

#[test]
fn seed_table_holds_with_each_rows_environment() {
    for (env, l, want) in [
        (Environment::Dev, load(100, 1_000, 10), "Standard_B1ms"),
        (Environment::Test, load(500, 10_000, 20), "Standard_B2s"),
        (
            Environment::Uat,
            load(2_000, 100_000, 50),
            "Standard_D2s_v3",
        ),
        (
            Environment::Prod,
            load(10_000, 1_000_000, 200),
            "Standard_D4s_v3",
        ),
    ] {
        let i = PostgresInput {
            environment: Some(env),
            high_availability: env.profile().ha_mode != HaMode::Disabled,
            ..l
        };
        assert_eq!(sku(&i), want, "{env}");
    }
}

#[test]
fn seed_production_example() {
    let r = size(&load(10_000, 1_000_000, 200)).expect("sizes");
    assert_eq!(r.compute.vector_vcores, 2.0);
    assert_eq!(r.compute.base_vcores, 2.0);
    assert_eq!(r.compute.required_vcores, 4.0);
    assert_eq!(r.memory.vector_gib, 2.0);
    assert_eq!(r.memory.connection_gib, 2.0);
    assert_eq!(r.memory.base_gib, 4.0);
    assert_eq!(r.memory.minimum_gib, 8.0);
    assert_eq!(r.memory.required_gib, 12.0);
    assert_eq!((r.sku.vcores, r.sku.memory_gib), (4, 16));
    assert_eq!(r.sku.tier, SkuTier::GeneralPurpose);
}

#[test]
fn b1ms_b2s_boundary_is_the_b1ms_cpu_baseline() {
    // 19 connections: 0.19 vCores, below B1ms's 0.2 baseline; 20 reach it and earn no credits.
    assert_eq!(sku(&load(100, 1_000, 19)), "Standard_B1ms");
    let r = size(&load(100, 1_000, 20)).expect("sizes");
    assert_eq!(r.sku.name, "Standard_B2s");
    assert!(
        r.rejected[0].reason.contains("baseline"),
        "{:?}",
        r.rejected
    );
}

#[test]
fn b2s_d2s_boundary_is_the_b2s_cpu_baseline() {
    assert_eq!(sku(&load(100, 1_000, 39)), "Standard_B2s");
    assert_eq!(sku(&load(100, 1_000, 40)), "Standard_D2s_v3");
    // In dev or test the larger Burstable sizes are allowed.
    let dev = PostgresInput {
        environment: Some(Environment::Dev),
        ..load(100, 1_000, 40)
    };
    assert_eq!(sku(&dev), "Standard_B2ms");
}

#[test]
fn d2s_d4s_boundary_is_two_vcores() {
    // 500K facts: 1 vCore of vector work → 2 required; one more vector → above 2.
    assert_eq!(sku(&load(1_000, 500_000, 50)), "Standard_D2s_v3");
    assert_eq!(sku(&load(1_000, 500_001, 50)), "Standard_D4s_v3");
}

#[test]
fn high_availability_rules_out_burstable() {
    let i = PostgresInput {
        environment: Some(Environment::Uat),
        high_availability: true,
        ..load(100, 1_000, 10)
    };
    assert_eq!(sku(&i), "Standard_D2s_v3");
}

#[test]
fn memory_heavy_growth_goes_to_the_e_series() {
    // 2M vectors expected to grow 5x: CPU for today (8 vCores), the index for tomorrow.
    let i = PostgresInput {
        growth: 5.0,
        ..load(10_000, 2_000_000, 100)
    };
    let r = size(&i).expect("sizes");
    assert_eq!(r.compute.required_vcores, 8.0);
    assert_eq!(r.memory.required_gib, 42.0);
    assert_eq!(r.sku.name, "Standard_E8s_v3");
    assert_eq!(r.sku.tier, SkuTier::MemoryOptimized);
    // The same load at the default growth stays General Purpose.
    assert_eq!(sku(&load(10_000, 2_000_000, 100)), "Standard_D8s_v3");
}

#[test]
fn generation_changes_the_series_name() {
    let i = PostgresInput {
        generation: Generation::V5,
        ..load(10_000, 1_000_000, 200)
    };
    assert_eq!(sku(&i), "Standard_D4ds_v5");
}

#[test]
fn growth_never_touches_vcores_or_the_base() {
    let a = size(&load(10_000, 1_000_000, 200)).expect("sizes");
    let b = size(&PostgresInput {
        growth: 1.0,
        ..load(10_000, 1_000_000, 200)
    })
    .expect("sizes");
    assert_eq!(a.compute, b.compute);
    assert_eq!(a.memory.minimum_gib, b.memory.minimum_gib);
    assert_eq!(b.memory.required_gib, b.memory.minimum_gib);
    assert!(a.storage.required_gib > b.storage.required_gib);
}

#[test]
fn storage_formula_by_hand() {
    // growth 1, safety 1.5: data = (1000×128 KiB + 1M×3 KiB) = 3,128,000 KiB;
    // index = 2 + 0.2·data; WAL = 0.15·data.
    let i = PostgresInput {
        growth: 1.0,
        ..load(1_000, 1_000_000, 10)
    };
    let s = storage(&i).expect("storage");
    let data = 3_128_000.0 / 1_048_576.0;
    assert!((s.data_gib - data).abs() < 1e-12);
    let want = (data + (2.0 + 0.2 * data) + 0.15 * data) * 1.5;
    assert!((s.required_gib - want).abs() < 1e-9, "{}", s.required_gib);
    assert_eq!((s.size_gib, s.iops), (32, 120));
    assert_eq!(s.growth_gib, 0.0);
}

#[test]
fn storage_rounds_to_a_valid_size_with_its_iops() {
    let i = PostgresInput {
        growth: 1.0,
        ..load(1_000_000, 100_000_000, 100)
    };
    let s = storage(&i).expect("storage");
    assert!(
        s.required_gib > 1_024.0 && s.required_gib <= 2_048.0,
        "{}",
        s.required_gib
    );
    assert_eq!((s.size_gib, s.iops), (2_048, 7_500));
}

#[test]
fn too_large_a_load_is_an_error_not_a_wrong_sku() {
    let e = size(&load(10_000, 100_000_000, 200)).expect_err("too big");
    assert!(
        e.to_string().contains("more than any Flexible Server SKU"),
        "{e}"
    );
}

#[test]
fn text_explains_the_path() {
    let t = size(&load(10_000, 1_000_000, 200)).expect("sizes").text();
    for want in [
        "load 2",
        "= 4 vCores required",
        "minimum 8 GiB",
        "= 12 GiB required",
        "GeneralPurpose Standard_D4s_v3 (4 vCores, 16 GiB)",
        "not Standard_D2s_v3: needs 4 vCores, has 2",
        "-> 32 GiB (120 IOPS)",
        "/month",
    ] {
        assert!(t.contains(want), "missing {want:?} in\n{t}");
    }
}

#[test]
fn cost_is_compute_plus_storage_and_doubles_with_a_standby() {
    let i = PostgresInput {
        environment: Some(Environment::Prod),
        high_availability: true,
        ..load(10_000, 1_000_000, 200)
    };
    let r = size(&i).expect("sizes");
    // D4s_v3: 4 × 0.089 × 730 = 259.88; 32 GiB × 0.115 = 3.68.
    assert_eq!(r.sku.usd_per_month, 259.88);
    assert_eq!(r.usd_per_month, 263.56);
    assert_eq!(r.usd_per_month_with_standby, Some(527.12));
}
