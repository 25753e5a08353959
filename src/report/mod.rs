//! `engram-operator report`: the seed's success metrics (§10 of the deployment strategy), each
//! with its target and the value measured over a window. `collect` reads (never writes) Azure
//! Monitor metrics and the Cost Management query through ARM; `judge` is pure; `render` prints
//! Markdown, JSON or one self-contained HTML page with inline SVG charts.

mod arm_readings;
pub mod collect;
mod judge;
mod render;
mod svg;

use serde::Serialize;

pub use judge::{judge, p95, Measured, Point, TierBytes, TIER_TARGETS, TIER_TOLERANCE};
pub use render::render;

/// Exit code when any measured metric misses its target.
pub const EXIT_MISSED: i32 = 3;

/// How a metric ended.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Met,
    Missed,
    /// Nothing to measure it from (no series, no status, a read that failed).
    NotMeasured,
}

impl Outcome {
    /// Met when the target holds, else Missed.
    pub fn of(met: bool) -> Self {
        if met {
            Self::Met
        } else {
            Self::Missed
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Met => "met",
            Self::Missed => "missed",
            Self::NotMeasured => "not measured",
        }
    }
}

/// One success metric of one plane.
#[derive(Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Metric {
    /// Stable id: `postgres.cpu`, `blob.tierDistribution`, …
    pub id: &'static str,
    /// The seed's name for it.
    pub name: &'static str,
    /// The target, in the seed's words.
    pub target: String,
    /// What was measured, in words (absent when not measured).
    pub measured: Option<String>,
    pub outcome: Outcome,
    /// How it was measured, or why it was not.
    pub detail: String,
    /// The series behind it, for the charts (unix seconds, value).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub series: Vec<Point>,
    /// The threshold drawn on the chart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// Measured shares against target shares (the tier distribution).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shares: Vec<Share>,
}

/// One tier's measured share against its target (percent).
#[derive(Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Share {
    pub tier: String,
    pub measured: f64,
    pub target: f64,
}

/// The metrics of one data plane.
#[derive(Serialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct PlaneReport {
    pub plane: String,
    pub environment: String,
    pub metrics: Vec<Metric>,
}

impl PlaneReport {
    pub fn missed(&self) -> impl Iterator<Item = &Metric> {
        self.metrics.iter().filter(|m| m.outcome == Outcome::Missed)
    }
}

/// The whole report.
#[derive(Serialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub generated_at: String,
    /// The window measured, in days.
    pub window_days: u32,
    pub planes: Vec<PlaneReport>,
    /// Planes that could not be reported, one line each.
    pub errors: Vec<String>,
}

impl Report {
    /// 1 on any error, else 3 when any measured metric missed its target, else 0.
    pub fn exit_code(&self) -> i32 {
        if !self.errors.is_empty() {
            1
        } else if self.planes.iter().any(|p| p.missed().next().is_some()) {
            EXIT_MISSED
        } else {
            0
        }
    }

    /// `5 met, 1 missed, 2 not measured`.
    pub fn summary(&self) -> String {
        [Outcome::Met, Outcome::Missed, Outcome::NotMeasured]
            .iter()
            .map(|o| {
                let n = self
                    .planes
                    .iter()
                    .flat_map(|p| &p.metrics)
                    .filter(|m| m.outcome == *o)
                    .count();
                format!("{n} {}", o.label())
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}
