//! Blob Storage sizing (seed §3): volume, hot/cool/archive split, monthly cost from the seed's price
//! table, weighted cost per GB against the seed's target (§10), and what the lifecycle days imply.
//!
//! Access-operation assumption (docs/sizing.md): each new document is one write, charged at the hot
//! rate; each stored document is read `reads_per_doc` times a month (default by access pattern),
//! and reads fall on the tiers in the same proportion as the data.

use serde::Serialize;

use super::catalog::{BlobTier, BLOB_TARGET_USD_PER_GB};
use super::format::{decimals, num, usd};
use super::{parse_count, parse_number, thousands, SizingError};

/// Largest accepted documents per month.
pub const MAX_DOCS_PER_MONTH: u64 = 100_000_000;
/// Largest accepted retention (100 years).
pub const MAX_RETENTION_DAYS: u64 = 36_500;
/// Accepted average document size, MB.
pub const AVG_MB_RANGE: (f64, f64) = (0.001, 10_000.0);
/// Accepted reads per stored document per month.
pub const READS_RANGE: (f64, f64) = (0.0, 1_000.0);
/// Seed §3 lifecycle: tier to cool after 30 days, to archive after 90.
pub const DEFAULT_COOL_AFTER: u64 = 30;
/// See [`DEFAULT_COOL_AFTER`].
pub const DEFAULT_ARCHIVE_AFTER: u64 = 90;

/// How often documents are read: decides the tier split (seed §3) and the default read rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    Frequent,
    Moderate,
    Rare,
}

impl Access {
    /// Parse `frequent`, `moderate` or `rare`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "frequent" => Some(Self::Frequent),
            "moderate" => Some(Self::Moderate),
            "rare" => Some(Self::Rare),
            _ => None,
        }
    }

    /// Seed §3: (hot, cool, archive) shares.
    pub fn split(self) -> [f64; 3] {
        match self {
            Self::Frequent => [0.7, 0.2, 0.1],
            Self::Moderate => [0.3, 0.5, 0.2],
            Self::Rare => [0.1, 0.3, 0.6],
        }
    }

    /// Assumed reads per stored document per month.
    pub fn default_reads_per_doc(self) -> f64 {
        match self {
            Self::Frequent => 2.0,
            Self::Moderate => 0.5,
            Self::Rare => 0.1,
        }
    }
}

/// `engram-operator size blob` flags (taken as text: every invalid value exits 1 with a message).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct BlobArgs {
    /// New documents per month.
    #[arg(long, allow_hyphen_values = true)]
    pub docs_per_month: String,
    /// Average document size in MB.
    #[arg(long, allow_hyphen_values = true)]
    pub avg_mb: String,
    /// Days a document is kept.
    #[arg(long, allow_hyphen_values = true)]
    pub retention_days: String,
    /// frequent, moderate or rare.
    #[arg(long)]
    pub access: String,
    /// Reads per stored document per month (default: frequent 2, moderate 0.5, rare 0.1).
    #[arg(long, allow_hyphen_values = true)]
    pub reads_per_doc: Option<String>,
    /// Lifecycle: days after modification before tiering to cool (default 30).
    #[arg(long, allow_hyphen_values = true)]
    pub cool_after: Option<String>,
    /// Lifecycle: days after modification before tiering to archive (default 90).
    #[arg(long, allow_hyphen_values = true)]
    pub archive_after: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A validated Blob workload.
#[derive(Clone, Debug, PartialEq)]
pub struct BlobInput {
    pub docs_per_month: u64,
    pub avg_mb: f64,
    pub retention_days: u64,
    pub access: Access,
    pub reads_per_doc: f64,
    pub cool_after_days: u64,
    pub archive_after_days: u64,
}

impl BlobInput {
    /// From command-line flags.
    pub fn from_args(a: &BlobArgs) -> Result<Self, SizingError> {
        let access = Access::parse(a.access.trim()).ok_or_else(|| SizingError::Invalid {
            name: "--access".into(),
            value: a.access.clone(),
            rule: "must be one of frequent, moderate, rare".into(),
        })?;
        let retention_days =
            parse_count("--retention-days", &a.retention_days, MAX_RETENTION_DAYS)?;
        let days = |name: &str, raw: &Option<String>, default: u64| {
            raw.as_deref()
                .map_or(Ok(default), |r| parse_count(name, r, MAX_RETENTION_DAYS))
        };
        let cool_after_days = days("--cool-after", &a.cool_after, DEFAULT_COOL_AFTER)?;
        let archive_after_days = days("--archive-after", &a.archive_after, DEFAULT_ARCHIVE_AFTER)?;
        if archive_after_days <= cool_after_days {
            return Err(SizingError::Invalid {
                name: "--archive-after".into(),
                value: archive_after_days.to_string(),
                rule: format!("must be greater than --cool-after ({cool_after_days})"),
            });
        }
        Ok(Self {
            docs_per_month: parse_count("--docs-per-month", &a.docs_per_month, MAX_DOCS_PER_MONTH)?,
            avg_mb: parse_number("--avg-mb", &a.avg_mb, AVG_MB_RANGE.0, AVG_MB_RANGE.1)?,
            retention_days,
            access,
            reads_per_doc: a
                .reads_per_doc
                .as_deref()
                .map_or(Ok(access.default_reads_per_doc()), |r| {
                    parse_number("--reads-per-doc", r, READS_RANGE.0, READS_RANGE.1)
                })?,
            cool_after_days,
            archive_after_days,
        })
    }
}

/// One tier's share of data, operations and cost.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TierLine {
    pub tier: BlobTier,
    pub share: f64,
    pub gb: f64,
    pub storage_usd: f64,
    pub reads: f64,
    pub writes: f64,
    pub access_usd: f64,
}

/// What the lifecycle rule implies for this retention.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Lifecycle {
    pub cool_after_days: u64,
    pub archive_after_days: u64,
    /// (hot, cool, archive) shares an even stream of documents reaches under the rule.
    pub implied_split: [f64; 3],
    /// Weighted storage price of that split, USD per GB-month.
    pub implied_usd_per_gb: f64,
    /// The rule days that would produce the access pattern's split.
    pub days_for_pattern_split: [u64; 2],
    /// Early-deletion and never-tiered warnings.
    pub warnings: Vec<String>,
}

/// Everything `size blob` reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BlobReport {
    pub docs_per_month: u64,
    pub avg_mb: f64,
    pub retention_days: u64,
    pub access: Access,
    /// Seed: docs × MB × retention / 30 / 1024.
    pub total_gb: f64,
    pub stored_docs: f64,
    pub reads_per_doc: f64,
    pub tiers: Vec<TierLine>,
    pub storage_usd_per_month: f64,
    pub access_usd_per_month: f64,
    pub usd_per_month: f64,
    /// Storage price per GB weighted by the split: what the seed's target measures.
    pub weighted_usd_per_gb: f64,
    /// Storage and access together, per GB.
    pub all_in_usd_per_gb: f64,
    pub target_usd_per_gb: f64,
    pub meets_target: bool,
    pub lifecycle: Lifecycle,
}

fn weighted(split: [f64; 3]) -> f64 {
    BlobTier::ALL
        .iter()
        .zip(split)
        .map(|(t, s)| s * t.usd_per_gb_month())
        .sum()
}

fn lifecycle(i: &BlobInput) -> Lifecycle {
    let r = i.retention_days as f64;
    let (ca, aa) = (i.cool_after_days, i.archive_after_days);
    let (cool_at, archive_at) = ((ca as f64).min(r), (aa as f64).min(r));
    let implied = [
        cool_at / r,
        (archive_at - cool_at) / r,
        (r - archive_at) / r,
    ];
    let [hot, cool, _] = i.access.split();
    let pattern_days = [(hot * r).round() as u64, ((hot + cool) * r).round() as u64];
    let mut warnings = Vec::new();
    let rd = i.retention_days;
    if rd <= ca {
        warnings.push(format!(
            "retention ({rd} days) ends before tiering to cool (day {ca}): everything stays hot; the {:?} split assumes otherwise",
            i.access
        ));
    } else {
        let in_cool = aa.min(rd) - ca;
        if in_cool < 30 && rd < aa {
            warnings.push(format!(
                "blobs spend {in_cool} days in cool before deletion, under its 30-day minimum: early-deletion charge"
            ));
        } else if in_cool < 30 {
            warnings.push(format!(
                "blobs spend {in_cool} days in cool before archive, under its 30-day minimum: early-deletion charge"
            ));
        }
        if rd > aa && rd - aa < 180 {
            warnings.push(format!(
                "blobs spend {} days in archive before deletion, under its 180-day minimum: early-deletion charge",
                rd - aa
            ));
        }
    }
    Lifecycle {
        cool_after_days: ca,
        archive_after_days: aa,
        implied_split: implied,
        implied_usd_per_gb: weighted(implied),
        days_for_pattern_split: pattern_days,
        warnings,
    }
}

/// Size a Blob Storage workload.
pub fn size(i: &BlobInput) -> BlobReport {
    let months_kept = i.retention_days as f64 / 30.0;
    let total_gb = i.docs_per_month as f64 * i.avg_mb * months_kept / 1024.0;
    let stored_docs = i.docs_per_month as f64 * months_kept;
    let reads = stored_docs * i.reads_per_doc;
    let tiers: Vec<TierLine> = BlobTier::ALL
        .iter()
        .zip(i.access.split())
        .map(|(&tier, share)| {
            let writes = if tier == BlobTier::Hot {
                i.docs_per_month as f64
            } else {
                0.0
            };
            let tier_reads = reads * share;
            TierLine {
                tier,
                share,
                gb: total_gb * share,
                storage_usd: total_gb * share * tier.usd_per_gb_month(),
                reads: tier_reads,
                writes,
                access_usd: (tier_reads + writes) / 10_000.0 * tier.usd_per_10k_ops(),
            }
        })
        .collect();
    let storage: f64 = tiers.iter().map(|t| t.storage_usd).sum();
    let access: f64 = tiers.iter().map(|t| t.access_usd).sum();
    let w = weighted(i.access.split());
    BlobReport {
        docs_per_month: i.docs_per_month,
        avg_mb: i.avg_mb,
        retention_days: i.retention_days,
        access: i.access,
        total_gb,
        stored_docs,
        reads_per_doc: i.reads_per_doc,
        tiers,
        storage_usd_per_month: storage,
        access_usd_per_month: access,
        usd_per_month: storage + access,
        weighted_usd_per_gb: w,
        all_in_usd_per_gb: (storage + access) / total_gb,
        target_usd_per_gb: BLOB_TARGET_USD_PER_GB,
        meets_target: w < BLOB_TARGET_USD_PER_GB,
        lifecycle: lifecycle(i),
    }
}

fn count(x: f64) -> String {
    thousands(x.round() as u64)
}

fn pct(x: f64) -> String {
    format!("{}%", num(x * 100.0))
}

impl BlobReport {
    /// The report as text.
    pub fn text(&self) -> String {
        let mut out = String::from("Blob Storage sizing (seed §3; assumptions: docs/sizing.md)\n");
        out += &format!(
            "inputs    {} documents/month x {} MB, kept {} days, access {:?}\n",
            thousands(self.docs_per_month),
            num(self.avg_mb),
            thousands(self.retention_days),
            self.access
        );
        out += &format!(
            "volume    {} x {} MB x {} days / 30 / 1024 = {} GB ({} documents stored)\n",
            thousands(self.docs_per_month),
            num(self.avg_mb),
            self.retention_days,
            num(self.total_gb),
            count(self.stored_docs)
        );
        out += &format!(
            "access    {} reads/document/month -> {} reads + {} writes a month (reads fall on tiers like the data)\n",
            num(self.reads_per_doc),
            count(self.stored_docs * self.reads_per_doc),
            thousands(self.docs_per_month)
        );
        for t in &self.tiers {
            out += &format!(
                "{:<9} {:>4} {} GB x ${} = {} storage; {} ops x ${}/10K = {} access\n",
                format!("{:?}", t.tier).to_lowercase(),
                pct(t.share),
                num(t.gb),
                num(t.tier.usd_per_gb_month()),
                usd(t.storage_usd),
                count(t.reads + t.writes),
                num(t.tier.usd_per_10k_ops()),
                usd(t.access_usd)
            );
        }
        out += &format!(
            "cost      storage {} + access {} = {}/month (seed §3 price table)\n",
            usd(self.storage_usd_per_month),
            usd(self.access_usd_per_month),
            usd(self.usd_per_month)
        );
        out += &format!(
            "per GB    weighted storage ${} vs target < ${}: {}; with access ${}/GB\n",
            decimals(self.weighted_usd_per_gb, 4),
            num(self.target_usd_per_gb),
            if self.meets_target {
                "meets it"
            } else {
                "MISSES it"
            },
            decimals(self.all_in_usd_per_gb, 4)
        );
        let l = &self.lifecycle;
        out += &format!(
            "lifecycle cool after {} days, archive after {}: over {} days an even stream sits {} hot / {} cool / {} archive (${}/GB)\n",
            l.cool_after_days,
            l.archive_after_days,
            self.retention_days,
            pct(l.implied_split[0]),
            pct(l.implied_split[1]),
            pct(l.implied_split[2]),
            decimals(l.implied_usd_per_gb, 4)
        );
        out += &format!(
            "          the {:?} split needs cool after {} days and archive after {}\n",
            self.access, l.days_for_pattern_split[0], l.days_for_pattern_split[1]
        );
        for w in &l.warnings {
            out += &format!("warning   {w}\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(access: Access) -> BlobInput {
        BlobInput {
            docs_per_month: 1_000,
            avg_mb: 2.0,
            retention_days: 360,
            access,
            reads_per_doc: access.default_reads_per_doc(),
            cool_after_days: DEFAULT_COOL_AFTER,
            archive_after_days: DEFAULT_ARCHIVE_AFTER,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    /// Hand-computed: 1,000 docs × 2 MB × 360/30 / 1024 = 23.4375 GB; 12,000 documents stored.
    #[test]
    fn frequent_by_hand() {
        let r = size(&input(Access::Frequent));
        assert!(close(r.total_gb, 23.4375));
        let gb: Vec<f64> = r.tiers.iter().map(|t| t.gb).collect();
        assert!(close(gb[0], 16.40625) && close(gb[1], 4.6875) && close(gb[2], 2.34375));
        // 16.40625×0.018 + 4.6875×0.01 + 2.34375×0.002
        assert!(close(r.storage_usd_per_month, 0.346875));
        // 24,000 reads: 16,800 hot (+1,000 writes), 4,800 cool, 2,400 archive.
        // 17,800/10K×0.05 + 4,800/10K×0.10 + 2,400/10K×5.00 = 0.089 + 0.048 + 1.2
        assert!(close(r.access_usd_per_month, 1.337));
        assert!(close(r.weighted_usd_per_gb, 0.0148));
        assert!(r.meets_target);
    }

    #[test]
    fn moderate_by_hand() {
        let r = size(&input(Access::Moderate));
        // 23.4375 × (0.3×0.018 + 0.5×0.01 + 0.2×0.002) = 23.4375 × 0.0108
        assert!(close(r.storage_usd_per_month, 0.253125));
        // 6,000 reads: 1,800 hot + 1,000 writes, 3,000 cool, 1,200 archive.
        // 0.014 + 0.03 + 0.6
        assert!(close(r.access_usd_per_month, 0.644));
        assert!(close(r.weighted_usd_per_gb, 0.0108));
    }

    #[test]
    fn rare_by_hand() {
        let r = size(&input(Access::Rare));
        // 23.4375 × (0.1×0.018 + 0.3×0.01 + 0.6×0.002) = 23.4375 × 0.006
        assert!(close(r.storage_usd_per_month, 0.140625));
        // 1,200 reads: 120 hot + 1,000 writes, 360 cool, 720 archive.
        // 0.0056 + 0.0036 + 0.36
        assert!(close(r.access_usd_per_month, 0.3692));
        assert!(close(r.weighted_usd_per_gb, 0.006));
        assert!(close(r.all_in_usd_per_gb, (0.140625 + 0.3692) / 23.4375));
    }

    #[test]
    fn reads_override_changes_only_access() {
        let mut i = input(Access::Rare);
        i.reads_per_doc = 0.0;
        let r = size(&i);
        // Only the 1,000 uploads remain: 1,000/10K × 0.05.
        assert!(close(r.access_usd_per_month, 0.005));
        assert!(close(r.storage_usd_per_month, 0.140625));
    }

    #[test]
    fn lifecycle_implications() {
        // Seed lifecycle 30/90 over 360 days: 1/12 hot, 2/12 cool, 9/12 archive.
        let l = size(&input(Access::Frequent)).lifecycle;
        assert!(close(l.implied_split[0], 30.0 / 360.0));
        assert!(close(l.implied_split[1], 60.0 / 360.0));
        assert!(close(l.implied_split[2], 270.0 / 360.0));
        // 70% hot → cool after 252 days; 90% → archive after 324.
        assert_eq!(l.days_for_pattern_split, [252, 324]);
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    }

    #[test]
    fn lifecycle_warns_about_early_deletion_and_never_tiering() {
        let mut i = input(Access::Moderate);
        i.retention_days = 200;
        let l = size(&i).lifecycle;
        assert!(
            l.warnings.iter().any(|w| w.contains("110 days in archive")),
            "{:?}",
            l.warnings
        );
        i.retention_days = 20;
        let l = size(&i).lifecycle;
        assert!(
            l.warnings
                .iter()
                .any(|w| w.contains("everything stays hot")),
            "{:?}",
            l.warnings
        );
        assert!(close(l.implied_split[0], 1.0));
    }

    #[test]
    fn flags_are_validated() {
        let ok = BlobArgs {
            docs_per_month: "1000".into(),
            avg_mb: "2".into(),
            retention_days: "360".into(),
            access: "frequent".into(),
            ..BlobArgs::default()
        };
        assert_eq!(BlobInput::from_args(&ok), Ok(input(Access::Frequent)));
        let bad = |f: fn(&mut BlobArgs), want: &str| {
            let mut a = ok.clone();
            f(&mut a);
            let e = BlobInput::from_args(&a).expect_err(want).to_string();
            assert!(e.starts_with(want), "{e}");
        };
        bad(
            |a| a.access = "sometimes".into(),
            "--access: must be one of frequent, moderate, rare",
        );
        bad(
            |a| a.docs_per_month = "0".into(),
            "--docs-per-month: must be a whole number",
        );
        bad(
            |a| a.avg_mb = "-1".into(),
            "--avg-mb: must be a number from 0.001 to 10000",
        );
        bad(
            |a| a.retention_days = "99999".into(),
            "--retention-days: must be a whole number from 1 to 36,500",
        );
        bad(
            |a| a.archive_after = Some("20".into()),
            "--archive-after: must be greater than --cool-after (30)",
        );
        bad(
            |a| a.reads_per_doc = Some("-2".into()),
            "--reads-per-doc: must be a number from 0 to 1000",
        );
    }
}
