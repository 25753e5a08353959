//! `engram-operator evidence`: the AI-SEC-01 evidence report (docs/evidence.md is the catalogue).
//! `collect` reads (never writes) through ARM and Key Vault; `controls` and `controls_ops` judge
//! each sub-control from what was read, purely; `sections` builds the TDE manifests, the key
//! metadata, the rotation log and the encryption flow; the `render_*` files and `svg` print it.

pub mod collect;
mod controls;
mod controls_net;
mod controls_ops;
#[cfg(test)]
mod controls_tests;
mod render_html;
mod render_md;
pub mod sections;
mod svg;

use std::collections::BTreeMap;

use serde::Serialize;

pub use crate::azure::ReadRecord;
pub use controls::{evaluate, Inputs};

/// The seed's control id.
pub const CONTROL: &str = "AI-SEC-01";

/// Exit code when any control fails.
pub const EXIT_FAILED: i32 = 3;

/// How a control ended.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Pass,
    Fail,
    NotApplicable,
    /// What it checks could not be seen.
    Unknown,
    /// The service cannot do what the seed asks; the best it allows is set. Neither pass nor fail.
    ServiceMaximum,
}

impl Outcome {
    /// The word shown in the report.
    pub fn label(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::NotApplicable => "n/a",
            Self::Unknown => "unknown",
            Self::ServiceMaximum => "service maximum",
        }
    }
}

/// One sub-control's result.
#[derive(Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Control {
    /// AI-SEC-01.1 …
    pub id: String,
    pub title: String,
    pub outcome: Outcome,
    /// Why: what was seen against what the criterion asks.
    pub detail: String,
    /// The observed values the outcome rests on.
    pub observed: BTreeMap<String, String>,
    /// When they were read (the latest of `sources`); None when nothing was read for it.
    pub observed_at: Option<String>,
    /// The requests they came from.
    pub sources: Vec<ReadRecord>,
}

/// The report of one data plane.
#[derive(Serialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct PlaneReport {
    /// metadata.name (namespace/name in Kubernetes mode).
    pub plane: String,
    pub environment: String,
    pub controls: Vec<Control>,
    pub tde_manifest: sections::TdeManifest,
    pub encryption_metadata: sections::KeyMetadata,
    pub rotation_log: sections::RotationLog,
    pub flow: sections::Flow,
    /// Every read made for this plane, in order.
    pub requests: Vec<ReadRecord>,
}

impl PlaneReport {
    /// The controls that failed.
    pub fn failed(&self) -> impl Iterator<Item = &Control> {
        self.controls.iter().filter(|c| c.outcome == Outcome::Fail)
    }
}

/// The whole report.
#[derive(Serialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub control: String,
    pub generated_at: String,
    pub planes: Vec<PlaneReport>,
    /// Planes that could not be reported (invalid spec, a read that failed), one line each.
    pub errors: Vec<String>,
}

impl Report {
    /// 1 on any error, else 3 when any control failed, else 0.
    pub fn exit_code(&self) -> i32 {
        if !self.errors.is_empty() {
            1
        } else if self.planes.iter().any(|p| p.failed().next().is_some()) {
            EXIT_FAILED
        } else {
            0
        }
    }

    /// Counts of each outcome over every plane, in catalogue order of outcomes.
    pub fn tally(&self) -> Vec<(Outcome, usize)> {
        [
            Outcome::Pass,
            Outcome::Fail,
            Outcome::Unknown,
            Outcome::ServiceMaximum,
            Outcome::NotApplicable,
        ]
        .into_iter()
        .map(|o| {
            let n = self
                .planes
                .iter()
                .flat_map(|p| &p.controls)
                .filter(|c| c.outcome == o)
                .count();
            (o, n)
        })
        .collect()
    }
}

impl Report {
    /// The tally in words: `18 pass, 0 fail, 0 unknown, 1 service maximum, 1 n/a`.
    pub fn summary(&self) -> String {
        self.tally()
            .iter()
            .map(|(o, n)| format!("{n} {}", o.label()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Output formats.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Md,
    Json,
    Html,
}

/// The report in `format`.
pub fn render(report: &Report, format: Format) -> crate::Result<String> {
    Ok(match format {
        Format::Md => render_md::render(report),
        Format::Json => serde_json::to_string_pretty(report)? + "\n",
        Format::Html => render_html::render(report),
    })
}

/// `{}` → `-` for absent values in the observed columns.
pub(crate) fn or_dash(v: Option<&str>) -> String {
    v.filter(|s| !s.is_empty()).unwrap_or("-").to_owned()
}

/// Escape text for HTML and SVG (element content and quoted attributes).
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            esc(r#"<script>"a"&'b'</script>"#),
            "&lt;script&gt;&quot;a&quot;&amp;&#39;b&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn exit_code_is_0_when_nothing_failed_and_1_on_any_error() {
        let mut r = Report::default();
        assert_eq!(r.exit_code(), 0);
        r.errors.push("x".into());
        assert_eq!(r.exit_code(), 1);
    }
}
