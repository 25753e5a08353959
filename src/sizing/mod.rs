//! Sizing: the PostgreSQL SKU calculator, the Blob Storage sizer, and `sku: auto`.
//!
//! The model and every assumption are documented in docs/sizing.md.

pub mod blob;
pub mod catalog;
pub mod format;
pub mod postgres;
pub mod vector;

use crate::api::profiles::Environment;
use crate::api::spec::{SizingInput, Sku};

/// Input the calculators refuse, or a load no SKU can carry. Messages name the flag (or field)
/// and the rule.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SizingError {
    /// A flag or field broke its rule.
    #[error("{name}: {rule} (got {value:?})")]
    Invalid {
        /// The flag (`--sessions`) or field (`sessions`).
        name: String,
        /// What was given.
        value: String,
        /// The rule, e.g. "must be a whole number from 1 to 5,000".
        rule: String,
    },
    /// The load needs more than the largest SKU or storage size.
    #[error("{0}")]
    TooLarge(String),
}

impl SizingError {
    fn invalid(name: &str, value: impl ToString, rule: impl Into<String>) -> Self {
        Self::Invalid {
            name: name.to_owned(),
            value: value.to_string(),
            rule: rule.into(),
        }
    }
}

/// Parse a count: digits, optionally with a K (thousand) or M (million) suffix ("10K", "1M"),
/// within `1..=max`.
pub fn parse_count(name: &str, raw: &str, max: u64) -> Result<u64, SizingError> {
    let rule = || format!("must be a whole number from 1 to {}", thousands(max));
    let t = raw.trim();
    let (digits, mult) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 1_000),
        Some((i, 'm' | 'M')) => (&t[..i], 1_000_000),
        _ => (t, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SizingError::invalid(name, raw, rule()));
    }
    let n = digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| SizingError::invalid(name, raw, rule()))?;
    check_count(name, n, max)
}

/// A count within `1..=max`.
pub fn check_count(name: &str, n: u64, max: u64) -> Result<u64, SizingError> {
    if (1..=max).contains(&n) {
        Ok(n)
    } else {
        Err(SizingError::invalid(
            name,
            n,
            format!("must be a whole number from 1 to {}", thousands(max)),
        ))
    }
}

/// Parse a decimal number within `min..=max`.
pub fn parse_number(name: &str, raw: &str, min: f64, max: f64) -> Result<f64, SizingError> {
    let x = raw.trim().parse::<f64>().map_err(|_| {
        SizingError::invalid(name, raw, format!("must be a number from {min} to {max}"))
    })?;
    check_number(name, x, min, max)
}

/// A finite number within `min..=max`.
pub fn check_number(name: &str, x: f64, min: f64, max: f64) -> Result<f64, SizingError> {
    if x.is_finite() && x >= min && x <= max {
        Ok(x)
    } else {
        Err(SizingError::invalid(
            name,
            x,
            format!("must be a number from {min} to {max}"),
        ))
    }
}

/// 1234567 → "1,234,567".
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `size postgres`: the report as text, or as JSON with `--json`; with `--vector`, the starting
/// `postgres.vector` block after it (text) or under `vector` (JSON).
pub fn postgres_output(args: &postgres::PostgresArgs) -> Result<String, crate::Error> {
    let input = postgres::PostgresInput::from_args(args)?;
    let report = postgres::size(&input)?;
    let vector = if args.vector {
        Some(vector_suggestion(args, &input, &report)?)
    } else {
        None
    };
    if args.json {
        #[derive(serde::Serialize)]
        struct WithVector<'a> {
            #[serde(flatten)]
            report: &'a postgres::PostgresReport,
            #[serde(skip_serializing_if = "Option::is_none")]
            vector: Option<&'a vector::VectorSuggestion>,
        }
        let out = WithVector {
            report: &report,
            vector: vector.as_ref(),
        };
        Ok(serde_json::to_string_pretty(&out)? + "\n")
    } else {
        let mut text = report.text();
        if let Some(v) = &vector {
            text.push('\n');
            text.push_str(&v.yaml()?);
        }
        Ok(text)
    }
}

/// The `--vector` block for the sized load: dims and database from the flags, the build memory
/// for the chosen SKU's RAM.
fn vector_suggestion(
    args: &postgres::PostgresArgs,
    input: &postgres::PostgresInput,
    report: &postgres::PostgresReport,
) -> Result<vector::VectorSuggestion, SizingError> {
    let dims = match args.dims.as_deref() {
        None => vector::DEFAULT_DIMS,
        Some(raw) => {
            let n = parse_count("--dims", raw, u64::from(vector::MAX_DIMS))?;
            // At most MAX_DIMS, so it fits.
            u32::try_from(n).unwrap_or(vector::MAX_DIMS)
        }
    };
    let database = args
        .vector_database
        .as_deref()
        .unwrap_or(vector::DEFAULT_DATABASE);
    use crate::api::validate::database::{is_identifier, is_system_database};
    if !is_identifier(database) || is_system_database(database) {
        return Err(SizingError::invalid(
            "--vector-database",
            database,
            "must be 1-63 letters, digits and underscores, not starting with a digit, and not a system database",
        ));
    }
    Ok(vector::suggest(
        input.facts,
        dims,
        input.growth,
        f64::from(report.sku.memory_gib),
        database,
    ))
}

/// `size blob`: the report as text, or as JSON with `--json`.
pub fn blob_output(args: &blob::BlobArgs) -> Result<String, crate::Error> {
    let report = blob::size(&blob::BlobInput::from_args(args)?);
    if args.json {
        Ok(serde_json::to_string_pretty(&report)? + "\n")
    } else {
        Ok(report.text())
    }
}

/// What `sku: auto` resolved to.
#[derive(Clone, Debug, PartialEq)]
pub struct AutoChoice {
    /// The chosen SKU.
    pub sku: Sku,
    /// Storage size (GiB) the calculator recommends.
    pub storage_gib: u32,
    /// Inputs → vCores / RAM / storage → SKU, in one line (goes into status notes).
    pub explanation: String,
}

/// Resolve `sku: auto` from the spec's sizing block for a server in `environment`;
/// `high_availability` is whether the server will run with a standby (which rules out Burstable).
/// The error is the rule broken.
pub fn auto_sku(
    input: Option<&SizingInput>,
    environment: Environment,
    high_availability: bool,
) -> Result<AutoChoice, String> {
    let Some(input) = input else {
        return Err("sku: auto needs sizing: {sessions, facts, connections}".into());
    };
    let load = postgres::PostgresInput::from_api(input, environment, high_availability)
        .map_err(|e| e.to_string())?;
    let report = postgres::size(&load).map_err(|e| e.to_string())?;
    Ok(AutoChoice {
        sku: Sku {
            tier: report.sku.tier,
            name: report.sku.name.clone(),
        },
        storage_gib: report.storage.size_gib,
        explanation: report.one_line(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_accept_suffixes_and_refuse_nonsense() {
        assert_eq!(parse_count("--facts", "1M", u64::MAX), Ok(1_000_000));
        assert_eq!(parse_count("--facts", "10k", u64::MAX), Ok(10_000));
        assert_eq!(parse_count("--facts", " 42 ", u64::MAX), Ok(42));
        for bad in ["0", "-5", "1.5", "abc", "", "K", "99999999999999999999"] {
            let e = parse_count("--facts", bad, 1_000).expect_err(bad);
            assert!(
                e.to_string()
                    .starts_with("--facts: must be a whole number from 1 to 1,000"),
                "{e}"
            );
        }
        assert!(parse_count("--connections", "5001", 5_000).is_err());
    }

    #[test]
    fn numbers_are_bounded_and_finite() {
        assert_eq!(parse_number("--growth", "2", 1.0, 10.0), Ok(2.0));
        for bad in ["0.5", "11", "NaN", "inf", "two", "-1"] {
            let e = parse_number("--growth", bad, 1.0, 10.0).expect_err(bad);
            assert!(
                e.to_string()
                    .starts_with("--growth: must be a number from 1 to 10"),
                "{e}"
            );
        }
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(5), "5");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(10_000_000), "10,000,000");
    }

    #[test]
    fn auto_sku_needs_a_sizing_block() {
        let e = auto_sku(None, Environment::Prod, true).expect_err("no sizing");
        assert!(e.contains("sizing"), "{e}");
    }
}

#[cfg(test)]
mod auto_tests {
    use crate::api::load;
    use crate::api::spec::SkuTier;

    const FIXTURE: &str = include_str!("../../tests/fixtures/auto-prod.yaml");

    #[test]
    fn effective_spec_uses_the_calculators_sku_and_storage() {
        let (_, eff) = load(FIXTURE).expect("valid");
        assert_eq!(eff.postgres.sku.name, "Standard_D4s_v3");
        assert_eq!(eff.postgres.sku.tier, SkuTier::GeneralPurpose);
        assert_eq!(eff.postgres.storage_gib, 32);
        let note = eff.postgres.auto_sized.expect("auto-sized note");
        assert!(
            note.starts_with("sized automatically (sku: auto)"),
            "{note}"
        );
        assert!(note.contains("Standard_D4s_v3"), "{note}");
    }

    #[test]
    fn declared_storage_wins_over_the_calculator() {
        let text = FIXTURE.replace(
            "      autoGrow: true",
            "      sizeGiB: 256\n      autoGrow: true",
        );
        let (_, eff) = load(&text).expect("valid");
        assert_eq!(eff.postgres.storage_gib, 256);
    }

    #[test]
    fn small_load_in_prod_never_gets_burstable() {
        // The dev row's load, but prod runs a zone-redundant standby: Burstable is ruled out.
        let text = FIXTURE
            .replace("sessions: 10000", "sessions: 100")
            .replace("facts: 1000000", "facts: 1000")
            .replace("connections: 200", "connections: 10");
        let (_, eff) = load(&text).expect("valid");
        assert_eq!(eff.postgres.sku.name, "Standard_D2s_v3");
    }

    #[test]
    fn small_load_without_ha_in_dev_gets_b1ms() {
        let text = FIXTURE
            .replace("environment: prod", "environment: dev")
            .replace(
                "mode: ZoneRedundant\n      standbyZone: \"2\"",
                "mode: Disabled",
            )
            .replace("sessions: 10000", "sessions: 100")
            .replace("facts: 1000000", "facts: 1000")
            .replace("connections: 200", "connections: 10");
        let (_, eff) = load(&text).expect("valid");
        assert_eq!(eff.postgres.sku.name, "Standard_B1ms");
    }

    #[test]
    fn invalid_sizing_is_reported_at_its_path() {
        let text = FIXTURE.replace("facts: 1000000", "facts: 0");
        let errors = load(&text).expect_err("invalid");
        let all: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert!(
            all.iter()
                .any(|e| e.contains("spec.postgres.sizing") && e.contains("facts: must be")),
            "{all:?}"
        );
    }
}
