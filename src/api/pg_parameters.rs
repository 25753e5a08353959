//! Microsoft's published server-parameter tables of Azure Database for PostgreSQL flexible server
//! (`data/postgres-parameters/pg16.json`, `pg17.json`; source and refresh recipe in that folder's
//! README): every parameter's type, allowed values or range, default, and whether it is dynamic,
//! static or read-only. `validate` checks declared parameters against them offline; the mock ARM
//! seeds every new server from them.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;

/// One published server parameter.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Parameter {
    pub name: String,
    /// As published: boolean, integer, numeric, enumeration, string or set.
    pub data_type: String,
    /// A comma-separated list, a `min-max` range, or a pattern for strings.
    pub allowed_values: String,
    /// The default; a few SKU-dependent ones are a sentence, not a value (see [`Parameter::sku_dependent`]).
    pub default_value: String,
    pub is_dynamic: bool,
    pub is_read_only: bool,
    #[serde(default)]
    pub unit: Option<String>,
}

impl Parameter {
    /// ARM's spelling of the data type (`Boolean`, `Integer`, `Numeric`, `Enumeration`, `String`, `Set`).
    pub fn arm_data_type(&self) -> &'static str {
        match self.data_type.to_ascii_lowercase().as_str() {
            "boolean" => "Boolean",
            "integer" => "Integer",
            "numeric" => "Numeric",
            "enumeration" => "Enumeration",
            "set" => "Set",
            _ => "String",
        }
    }

    /// True when the published default depends on the server's resources (vCores, RAM, disk).
    pub fn sku_dependent(&self) -> bool {
        self.default_value.starts_with("Depends on resources")
    }
}

/// The parameters of one PostgreSQL major version, by lower-cased name.
pub type Table = BTreeMap<String, Parameter>;

fn parse(json: &str) -> Table {
    // Embedded at build time; `tables_parse` below fails the build's tests if it ever stops parsing.
    serde_json::from_str::<Vec<Parameter>>(json)
        .unwrap_or_default()
        .into_iter()
        .map(|p| (p.name.to_ascii_lowercase(), p))
        .collect()
}

static PG16: LazyLock<Table> =
    LazyLock::new(|| parse(include_str!("../../data/postgres-parameters/pg16.json")));
static PG17: LazyLock<Table> =
    LazyLock::new(|| parse(include_str!("../../data/postgres-parameters/pg17.json")));

/// The published table used for a major version and that table's version: 17 and later use
/// PostgreSQL 17's, earlier versions the nearest published one (16's).
pub fn table(version: &str) -> (&'static Table, &'static str) {
    match version.trim().parse::<u32>() {
        Ok(v) if v >= 17 => (&PG17, "17"),
        _ => (&PG16, "16"),
    }
}

/// A parameter of a version's table (names are case-insensitive, as in PostgreSQL).
pub fn lookup(version: &str, name: &str) -> Option<&'static Parameter> {
    table(version).0.get(&name.to_ascii_lowercase())
}

/// Check a value a spec declares for a parameter: known, writable, and allowed.
pub fn check(version: &str, name: &str, value: &str) -> Result<(), String> {
    let (_, published) = table(version);
    let Some(p) = lookup(version, name) else {
        return Err(format!(
            "not a server parameter of PostgreSQL {version} on Azure Database for PostgreSQL flexible server (Microsoft's published table for {published}, data/postgres-parameters/pg{published}.json)"
        ));
    };
    if p.is_read_only {
        return Err(format!(
            "read-only on Azure (fixed at {:?}): it cannot be set",
            p.allowed_values
        ));
    }
    check_value(&p.data_type, &p.allowed_values, value)
}

/// Check a value against a data type and its allowed values (ARM's or the table's spelling).
pub fn check_value(data_type: &str, allowed: &str, value: &str) -> Result<(), String> {
    let list: Vec<&str> = allowed
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .collect();
    let shown = list.join(",");
    let one_of = |v: &str| {
        if list.iter().any(|a| a.eq_ignore_ascii_case(v.trim())) {
            Ok(())
        } else {
            Err(format!("{:?} is not one of {shown}", v.trim()))
        }
    };
    match data_type.to_ascii_lowercase().as_str() {
        "boolean" if list.is_empty() => ["on", "off"]
            .iter()
            .any(|b| b.eq_ignore_ascii_case(value.trim()))
            .then_some(())
            .ok_or_else(|| format!("{:?} is not one of on,off", value.trim())),
        "boolean" | "enumeration" => one_of(value),
        "set" => value
            .split(',')
            .filter(|v| !v.trim().is_empty())
            .try_for_each(one_of),
        "integer" => {
            let n: i64 = value
                .trim()
                .parse()
                .map_err(|_| format!("{:?} is not an integer", value.trim()))?;
            match range(allowed)
                .and_then(|(lo, hi)| Some((lo.parse::<i64>().ok()?, hi.parse::<i64>().ok()?)))
            {
                Some((lo, hi)) if !(lo..=hi).contains(&n) => {
                    Err(format!("{n} is out of range {lo}-{hi}"))
                }
                _ => Ok(()),
            }
        }
        "numeric" => {
            let x: f64 = value
                .trim()
                .parse()
                .map_err(|_| format!("{:?} is not a number", value.trim()))?;
            match range(allowed)
                .and_then(|(lo, hi)| Some((lo.parse::<f64>().ok()?, hi.parse::<f64>().ok()?)))
            {
                Some((lo, hi)) if !(lo..=hi).contains(&x) => Err(format!(
                    "{} is out of range {}",
                    value.trim(),
                    allowed.trim()
                )),
                _ => Ok(()),
            }
        }
        // Strings are published with a pattern; they are left to the service.
        _ => Ok(()),
    }
}

/// `min-max`, where min may be negative (`-1-2147483647`) and either may be in exponent form
/// (`0-1.79769e+308`): split at the first `-` that follows a digit or a point.
fn range(allowed: &str) -> Option<(&str, &str)> {
    let a = allowed.trim();
    let bytes = a.as_bytes();
    (1..bytes.len())
        .find(|&i| bytes[i] == b'-' && (bytes[i - 1].is_ascii_digit() || bytes[i - 1] == b'.'))
        .map(|i| (&a[..i], &a[i + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_parse() {
        assert!(table("16").0.len() >= 500);
        assert!(table("17").0.len() >= 500);
        assert_eq!(table("11").1, "16");
        assert_eq!(table("18").1, "17");
        let p = lookup("16", "PGAUDIT.LOG").expect("pgaudit.log");
        assert_eq!(p.arm_data_type(), "Set");
        assert!(lookup("16", "max_connections").is_some_and(Parameter::sku_dependent));
    }

    #[test]
    fn ranges_and_lists() {
        assert_eq!(range("-1-2147483647"), Some(("-1", "2147483647")));
        assert_eq!(range("0-1.79769e+308"), Some(("0", "1.79769e+308")));
        assert_eq!(range("1e-05-1"), Some(("1e-05", "1")));
        assert_eq!(range("on,off"), None);
        assert!(check_value("Integer", "-1-2147483647", "-1").is_ok());
        assert!(check_value("Integer", "25-5000", "24").is_err());
        assert!(check_value("Set", "none,read,write", "read, write").is_ok());
        assert!(check_value("Enumeration", "on, off", "OFF").is_ok());
        assert!(check_value("String", "[A-Za-z]*", "anything").is_ok());
    }
}
