//! `postgres.scaling`: the seed's "start conservative, scale up based on metrics" (§2). The
//! operator reads the server's Azure Monitor metrics once per resync and, when a trigger holds
//! for `sustainedMinutes`, recommends the next SKU up (status, an Event, a gauge) or, in `apply`,
//! performs it through the normal plan. Defaults are the seed's triggers.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What the operator does with a trigger that holds.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ScalingMode {
    /// Metrics are not read.
    Off,
    /// Status, an Event and a gauge say which trigger holds and the next SKU; nothing is written.
    #[default]
    Recommend,
    /// The scale-up is performed (one SKU PATCH), within `maxSku`, then nothing for `cooldownHours`.
    Apply,
}

/// `postgres.scaling`; every field has the seed's default.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScalingSpec {
    /// off, recommend (default) or apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ScalingMode>,
    /// The smallest SKU a scale-down recommendation may name (same tier family).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_sku: Option<String>,
    /// The largest SKU a scale-up may reach (same tier family).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_sku: Option<String>,
    /// CPU trigger, percent (default 70).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<f64>,
    /// Memory trigger, percent (default 80).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_percent: Option<f64>,
    /// Connections as a percentage of max_connections (default 80).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections_percent: Option<f64>,
    /// How long a trigger must hold (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sustained_minutes: Option<u32>,
    /// No other scale for this long after one (default 24).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown_hours: Option<u32>,
    /// Allow `apply` to move to another tier (Burstable to General Purpose, General Purpose to
    /// Memory Optimized); without it such a step is a recommendation only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_tier_change: Option<bool>,
}

impl ScalingSpec {
    pub fn mode(&self) -> ScalingMode {
        self.mode.unwrap_or_default()
    }
    pub fn cpu(&self) -> f64 {
        self.cpu_percent.unwrap_or(70.0)
    }
    pub fn memory(&self) -> f64 {
        self.memory_percent.unwrap_or(80.0)
    }
    pub fn connections(&self) -> f64 {
        self.connections_percent.unwrap_or(80.0)
    }
    pub fn sustained(&self) -> u32 {
        self.sustained_minutes.unwrap_or(30)
    }
    pub fn cooldown_hours(&self) -> u32 {
        self.cooldown_hours.unwrap_or(24)
    }
    pub fn allow_tier_change(&self) -> bool {
        self.allow_tier_change.unwrap_or(false)
    }
}

/// What the last read of the server's metrics concluded (`status.scaling`). It holds no time of
/// the read: a status that changed on every resync would be written on every resync.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScalingStatus {
    /// The trigger that holds, and what it calls for (absent: none holds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommendation: Option<ScalingRecommendation>,
    /// The SKU `apply` scaled to; the plan uses it instead of the spec's until the spec's SKU
    /// is edited (a later edit wins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaled_sku: Option<String>,
    /// The spec's SKU when the scale was applied (an edit of it drops `scaledSku`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaled_from: Option<String>,
    /// When it was applied (RFC 3339): the cooldown runs from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaled_at: Option<String>,
    /// Why: the trigger and its measured value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaled_reason: Option<String>,
}

/// One recommendation.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScalingRecommendation {
    /// cpuPercent, memoryPercent or connectionsPercent.
    pub trigger: String,
    /// The lowest of the trigger's averages over the sustained window (every one is above the
    /// threshold), percent.
    pub measured: f64,
    pub threshold: f64,
    /// The SKU the server runs.
    pub current_sku: String,
    /// The next SKU up (absent when a limit stops it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_sku: Option<String>,
    /// What stops it: `maxSku Standard_D8s_v3 reached`, a tier change without
    /// `allowTierChange`, the cooldown, or the top of the catalogue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    /// One line for people.
    pub reason: String,
}
