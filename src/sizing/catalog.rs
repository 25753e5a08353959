//! The catalogue the calculators choose from: Flexible Server compute SKUs, Premium SSD storage sizes
//! with their IOPS, and the prices used for monthly costs.
//!
//! Prices are **indicative** pay-as-you-go list prices (USD, East US, Linux, 730 hours a month) kept
//! here as assumptions: they were not fetched from the Azure Retail Prices API and change over time.
//! Blob prices are the customer document's own table (seed §3).

use crate::api::spec::SkuTier;

/// Hours in a billing month (Azure's convention).
pub const HOURS_PER_MONTH: f64 = 730.0;
/// Indicative Premium SSD storage price for Flexible Server, USD per GiB-month.
pub const STORAGE_USD_PER_GIB_MONTH: f64 = 0.115;
/// Indicative General Purpose price per vCore-hour (same for Dsv3, Ddsv4, Ddsv5).
const GP_USD_PER_VCORE_HOUR: f64 = 0.089;
/// Indicative Memory Optimized price per vCore-hour (same for Esv3, Edsv4, Edsv5).
const MO_USD_PER_VCORE_HOUR: f64 = 0.126;

/// Hardware generation of the General Purpose and Memory Optimized series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Generation {
    /// Dsv3 / Esv3: the names the customer document uses.
    V3,
    /// Ddsv4 / Edsv4.
    V4,
    /// Ddsv5 / Edsv5.
    V5,
}

impl Generation {
    /// Parse `v3`, `v4` or `v5`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "v3" => Some(Self::V3),
            "v4" => Some(Self::V4),
            "v5" => Some(Self::V5),
            _ => None,
        }
    }
}

/// One compute SKU of Azure Database for PostgreSQL Flexible Server.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ComputeSku {
    /// ARM SKU name, e.g. Standard_D4s_v3.
    pub name: String,
    /// Burstable, GeneralPurpose or MemoryOptimized.
    pub tier: SkuTier,
    /// None for Burstable (one series).
    pub generation: Option<Generation>,
    /// vCores.
    pub vcores: u32,
    /// Memory in GiB.
    pub memory_gib: u32,
    /// Burstable only: the CPU the server may use continuously, in vCores (B-series "base CPU
    /// performance": B1ms 20% of one vCore ... B20ms 337%). Credits are earned only below it.
    pub baseline_vcores: Option<f64>,
    /// Indicative price, USD per hour.
    pub usd_per_hour: f64,
}

impl ComputeSku {
    /// Indicative monthly price (730 hours).
    pub fn usd_per_month(&self) -> f64 {
        self.usd_per_hour * HOURS_PER_MONTH
    }
}

/// Burstable B-series: (name, vCores, GiB, baseline vCores, USD/hour).
const BURSTABLE: [(&str, u32, u32, f64, f64); 8] = [
    ("Standard_B1ms", 1, 2, 0.20, 0.017),
    ("Standard_B2s", 2, 4, 0.40, 0.068),
    ("Standard_B2ms", 2, 8, 0.60, 0.136),
    ("Standard_B4ms", 4, 16, 0.90, 0.272),
    ("Standard_B8ms", 8, 32, 1.35, 0.544),
    ("Standard_B12ms", 12, 48, 2.02, 0.816),
    ("Standard_B16ms", 16, 64, 2.70, 1.088),
    ("Standard_B20ms", 20, 80, 3.37, 1.360),
];

/// vCore sizes of the General Purpose series (all three generations).
const GP_VCORES: [u32; 7] = [2, 4, 8, 16, 32, 48, 64];
/// vCore sizes of Memory Optimized; 20 exists only for v4/v5.
const MO_VCORES: [u32; 8] = [2, 4, 8, 16, 20, 32, 48, 64];

fn gp_name(vcores: u32, generation: Generation) -> String {
    match generation {
        Generation::V3 => format!("Standard_D{vcores}s_v3"),
        Generation::V4 => format!("Standard_D{vcores}ds_v4"),
        Generation::V5 => format!("Standard_D{vcores}ds_v5"),
    }
}

fn mo_name(vcores: u32, generation: Generation) -> String {
    match generation {
        Generation::V3 => format!("Standard_E{vcores}s_v3"),
        Generation::V4 => format!("Standard_E{vcores}ds_v4"),
        Generation::V5 => format!("Standard_E{vcores}ds_v5"),
    }
}

/// Memory of a Memory Optimized SKU: 8 GiB per vCore, except the 64-vCore sizes of v3 (432 GiB)
/// and v4 (504 GiB).
fn mo_memory(vcores: u32, generation: Generation) -> u32 {
    match (vcores, generation) {
        (64, Generation::V3) => 432,
        (64, Generation::V4) => 504,
        _ => vcores * 8,
    }
}

/// Every compute SKU: the Burstable series plus the General Purpose and Memory Optimized series of
/// the given generation, cheapest first within each tier.
pub fn compute_skus(generation: Generation) -> Vec<ComputeSku> {
    let mut skus: Vec<ComputeSku> = BURSTABLE
        .iter()
        .map(|&(name, vcores, memory_gib, baseline, usd)| ComputeSku {
            name: name.to_owned(),
            tier: SkuTier::Burstable,
            generation: None,
            vcores,
            memory_gib,
            baseline_vcores: Some(baseline),
            usd_per_hour: usd,
        })
        .collect();
    skus.extend(GP_VCORES.iter().map(|&vcores| ComputeSku {
        name: gp_name(vcores, generation),
        tier: SkuTier::GeneralPurpose,
        generation: Some(generation),
        vcores,
        memory_gib: vcores * 4,
        baseline_vcores: None,
        usd_per_hour: f64::from(vcores) * GP_USD_PER_VCORE_HOUR,
    }));
    skus.extend(
        MO_VCORES
            .iter()
            .filter(|&&v| v != 20 || generation != Generation::V3)
            .map(|&vcores| ComputeSku {
                name: mo_name(vcores, generation),
                tier: SkuTier::MemoryOptimized,
                generation: Some(generation),
                vcores,
                memory_gib: mo_memory(vcores, generation),
                baseline_vcores: None,
                usd_per_hour: f64::from(vcores) * MO_USD_PER_VCORE_HOUR,
            }),
    );
    skus
}

/// Premium SSD storage sizes of Flexible Server (GiB) with their provisioned IOPS (FACTS.md §8.3;
/// sizes up to 512 GiB can burst to 3,500 IOPS).
pub const STORAGE_SIZES: [(u32, u32); 11] = [
    (32, 120),
    (64, 240),
    (128, 500),
    (256, 1_100),
    (512, 2_300),
    (1_024, 5_000),
    (2_048, 7_500),
    (4_096, 7_500),
    (8_192, 16_000),
    (16_384, 18_000),
    (32_767, 20_000),
];

/// The smallest valid storage size holding `gib`, with its IOPS; None above 32,767 GiB.
pub fn storage_size_for(gib: f64) -> Option<(u32, u32)> {
    STORAGE_SIZES
        .iter()
        .copied()
        .find(|&(size, _)| f64::from(size) >= gib)
}

/// Blob access tiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobTier {
    /// Hot.
    Hot,
    /// Cool (30-day minimum).
    Cool,
    /// Archive (180-day minimum, hours to rehydrate).
    Archive,
}

impl BlobTier {
    /// All tiers, hottest first.
    pub const ALL: [BlobTier; 3] = [Self::Hot, Self::Cool, Self::Archive];

    /// Seed §3: storage price, USD per GB-month.
    pub fn usd_per_gb_month(self) -> f64 {
        match self {
            Self::Hot => 0.018,
            Self::Cool => 0.01,
            Self::Archive => 0.002,
        }
    }

    /// Seed §3: access price, USD per 10,000 operations.
    pub fn usd_per_10k_ops(self) -> f64 {
        match self {
            Self::Hot => 0.05,
            Self::Cool => 0.10,
            Self::Archive => 5.00,
        }
    }

    /// Seed §3: minimum retention in days before an early-deletion charge.
    pub fn min_retention_days(self) -> u32 {
        match self {
            Self::Hot => 0,
            Self::Cool => 30,
            Self::Archive => 180,
        }
    }
}

/// Seed §10: the target weighted storage cost per GB.
pub const BLOB_TARGET_USD_PER_GB: f64 = 0.015;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::validate::ALLOWED_STORAGE_GIB;

    #[test]
    fn storage_sizes_match_the_validator() {
        let sizes: Vec<u32> = STORAGE_SIZES.iter().map(|s| s.0).collect();
        assert_eq!(sizes, ALLOWED_STORAGE_GIB);
    }

    #[test]
    fn storage_rounds_up_to_the_next_valid_size() {
        assert_eq!(storage_size_for(0.5), Some((32, 120)));
        assert_eq!(storage_size_for(32.0), Some((32, 120)));
        assert_eq!(storage_size_for(32.01), Some((64, 240)));
        assert_eq!(storage_size_for(1_000.0), Some((1_024, 5_000)));
        assert_eq!(storage_size_for(32_767.0), Some((32_767, 20_000)));
        assert_eq!(storage_size_for(32_768.0), None);
    }

    #[test]
    fn catalogue_names_and_shapes() {
        let v3 = compute_skus(Generation::V3);
        let find = |skus: &[ComputeSku], n: &str| skus.iter().find(|s| s.name == n).cloned();
        let d4 = find(&v3, "Standard_D4s_v3").expect("D4s_v3");
        assert_eq!((d4.vcores, d4.memory_gib), (4, 16));
        let e64 = find(&v3, "Standard_E64s_v3").expect("E64s_v3");
        assert_eq!(e64.memory_gib, 432);
        assert!(find(&v3, "Standard_E20s_v3").is_none());
        let v5 = compute_skus(Generation::V5);
        assert!(find(&v5, "Standard_E20ds_v5").is_some());
        assert!(find(&v5, "Standard_D2ds_v5").is_some());
        let b1 = find(&v3, "Standard_B1ms").expect("B1ms");
        assert_eq!(
            (b1.vcores, b1.memory_gib, b1.baseline_vcores),
            (1, 2, Some(0.2))
        );
        // Every name carries its tier's prefix, as the validator requires.
        for s in v3.iter().chain(&v5) {
            let prefix = match s.tier {
                SkuTier::Burstable => "Standard_B",
                SkuTier::GeneralPurpose => "Standard_D",
                SkuTier::MemoryOptimized => "Standard_E",
            };
            assert!(s.name.starts_with(prefix), "{}", s.name);
        }
    }
}
