//! PostgreSQL Flexible Server sizing (seed §2, corrected; docs/sizing.md explains the model).
//!
//! Per-unit rates are the seed's: +1 vCore per 500K vectors, +0.5 vCore per 100 connections,
//! +2 GB per 1M vectors, +100 MB per 10 connections. The corrections:
//! * vCores take the larger of the vector and connection terms (searches run on the connections);
//! * PostgreSQL's own base equals the load it serves instead of a fixed 2 vCores / 4 GB, which
//!   reproduces the seed's base at its production example and lets small loads fit B1ms;
//! * growth applies to what grows with stored data (the vector index in RAM, and storage), never to
//!   the base and never to vCores (compute scales online);
//! * Burstable fits only below its CPU baseline, and only for dev/test-class loads.

use serde::Serialize;

use super::catalog::{compute_skus, storage_size_for, ComputeSku, Generation};
use super::catalog::{STORAGE_SIZES, STORAGE_USD_PER_GIB_MONTH};
use super::format::{cents, num};
use super::{check_count, check_number, parse_count, parse_number, thousands, SizingError};
use crate::api::profiles::Environment;
use crate::api::spec::{HaMode, SizingInput, SkuTier};

/// Default growth factor (seed §9: "Conservative sizing (2x growth factor)").
pub const DEFAULT_GROWTH: f64 = 2.0;
/// Default storage safety factor (seed §2: 1.5-2.0).
pub const DEFAULT_SAFETY: f64 = 1.5;
/// Largest accepted session count.
pub const MAX_SESSIONS: u64 = 10_000_000;
/// Largest accepted fact (vector) count.
pub const MAX_FACTS: u64 = 1_000_000_000;
/// Largest accepted connection count (beyond this, put a pooler in front).
pub const MAX_CONNECTIONS: u64 = 5_000;
/// Growth factor bounds.
pub const GROWTH_RANGE: (f64, f64) = (1.0, 10.0);
/// Safety factor bounds (the seed's range).
pub const SAFETY_RANGE: (f64, f64) = (1.5, 2.0);

/// Episodic memory stored per session (messages and summaries), KiB: an assumption.
pub const EPISODIC_KIB_PER_SESSION: f64 = 128.0;
/// Semantic memory stored per fact (text, metadata, the embedding column), KiB: an assumption.
pub const SEMANTIC_KIB_PER_FACT: f64 = 3.0;
/// B-tree indexes as a share of data: an assumption.
pub const BTREE_SHARE: f64 = 0.20;
/// WAL as a share of data (seed: 10-20%).
pub const WAL_SHARE: f64 = 0.15;

/// `engram-operator size postgres` flags. Values are taken as text so that every invalid value
/// gets this module's message and exit code 1.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct PostgresArgs {
    /// Expected Zep sessions (e.g. 10000 or 10K).
    #[arg(long, allow_hyphen_values = true)]
    pub sessions: String,
    /// Expected facts, i.e. vectors (e.g. 1000000 or 1M).
    #[arg(long, allow_hyphen_values = true)]
    pub facts: String,
    /// Expected concurrent connections.
    #[arg(long, allow_hyphen_values = true)]
    pub connections: String,
    /// Growth of the stored data before the next resize (1-10, default 2).
    #[arg(long, allow_hyphen_values = true)]
    pub growth: Option<String>,
    /// dev, test, uat or prod: uat/prod run with a standby, so Burstable is ruled out.
    #[arg(long)]
    pub environment: Option<String>,
    /// General Purpose / Memory Optimized generation: v3 (Dsv3/Esv3, default), v4, v5.
    #[arg(long)]
    pub generation: Option<String>,
    /// Storage safety factor (1.5-2.0, default 1.5).
    #[arg(long, allow_hyphen_values = true)]
    pub safety: Option<String>,
    /// Also emit a starting `postgres.vector` block: HNSW m / efConstruction / efSearch for the
    /// facts, maintenanceWorkMemMiB for the chosen SKU (docs/sizing.md, "pgvector HNSW").
    #[arg(long)]
    pub vector: bool,
    /// Embedding dimensions for --vector (1-2000, default 384).
    #[arg(long, allow_hyphen_values = true, requires = "vector")]
    pub dims: Option<String>,
    /// The database of the --vector block (default engram).
    #[arg(long = "vector-database", requires = "vector")]
    pub vector_database: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A validated load to size.
#[derive(Clone, Debug, PartialEq)]
pub struct PostgresInput {
    pub sessions: u64,
    pub facts: u64,
    pub connections: u64,
    pub growth: f64,
    pub environment: Option<Environment>,
    /// A standby will run (HA): Burstable is not possible.
    pub high_availability: bool,
    pub generation: Generation,
    pub safety: f64,
}

impl PostgresInput {
    /// From command-line flags.
    pub fn from_args(a: &PostgresArgs) -> Result<Self, SizingError> {
        let environment = a
            .environment
            .as_deref()
            .map(|e| {
                e.parse::<Environment>().map_err(|()| SizingError::Invalid {
                    name: "--environment".into(),
                    value: e.into(),
                    rule: "must be one of dev, test, uat, prod".into(),
                })
            })
            .transpose()?;
        let generation = match a.generation.as_deref() {
            None => Generation::V3,
            Some(g) => Generation::parse(g).ok_or_else(|| SizingError::Invalid {
                name: "--generation".into(),
                value: g.into(),
                rule: "must be one of v3, v4, v5".into(),
            })?,
        };
        let factor = |name: &str, raw: &Option<String>, default: f64, (lo, hi): (f64, f64)| {
            raw.as_deref()
                .map_or(Ok(default), |r| parse_number(name, r, lo, hi))
        };
        Ok(Self {
            sessions: parse_count("--sessions", &a.sessions, MAX_SESSIONS)?,
            facts: parse_count("--facts", &a.facts, MAX_FACTS)?,
            connections: parse_count("--connections", &a.connections, MAX_CONNECTIONS)?,
            growth: factor("--growth", &a.growth, DEFAULT_GROWTH, GROWTH_RANGE)?,
            high_availability: environment.is_some_and(|e| e.profile().ha_mode != HaMode::Disabled),
            environment,
            generation,
            safety: factor("--safety", &a.safety, DEFAULT_SAFETY, SAFETY_RANGE)?,
        })
    }

    /// From `postgres.sizing` of a spec.
    pub fn from_api(
        s: &SizingInput,
        environment: Environment,
        high_availability: bool,
    ) -> Result<Self, SizingError> {
        Ok(Self {
            sessions: check_count("sessions", s.sessions, MAX_SESSIONS)?,
            facts: check_count("facts", s.facts, MAX_FACTS)?,
            connections: check_count("connections", s.connections, MAX_CONNECTIONS)?,
            growth: match s.growth {
                None => DEFAULT_GROWTH,
                Some(g) => check_number("growth", g, GROWTH_RANGE.0, GROWTH_RANGE.1)?,
            },
            environment: Some(environment),
            high_availability,
            generation: Generation::V3,
            safety: DEFAULT_SAFETY,
        })
    }
}

/// vCores: each term and the result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Compute {
    /// facts / 500K.
    pub vector_vcores: f64,
    /// 0.5 per 100 connections.
    pub connection_vcores: f64,
    /// The larger of the two.
    pub load_vcores: f64,
    /// PostgreSQL's own work: equal to the load.
    pub base_vcores: f64,
    /// base + load.
    pub required_vcores: f64,
}

/// RAM: each term, the minimum at today's load, and the requirement with growth.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Memory {
    /// 2 GiB per 1M vectors (HNSW index).
    pub vector_gib: f64,
    /// 0.1 GiB per 10 connections.
    pub connection_gib: f64,
    /// vector + connection.
    pub load_gib: f64,
    /// PostgreSQL's own memory (shared buffers, caches): equal to the load.
    pub base_gib: f64,
    /// base + load, today.
    pub minimum_gib: f64,
    /// The vector index after growth.
    pub grown_vector_gib: f64,
    /// 2 × (grown vector + connection).
    pub required_gib: f64,
}

/// The chosen SKU.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Chosen {
    pub name: String,
    pub tier: SkuTier,
    pub vcores: u32,
    pub memory_gib: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_vcores: Option<f64>,
    pub usd_per_month: f64,
}

/// A cheaper SKU and why it does not fit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rejected {
    pub name: String,
    pub reason: String,
}

/// Storage: the seed's formula and the valid size it rounds up to.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Storage {
    pub data_gib: f64,
    pub index_gib: f64,
    pub wal_gib: f64,
    pub growth_gib: f64,
    pub safety_factor: f64,
    pub required_gib: f64,
    pub size_gib: u32,
    pub iops: u32,
    pub usd_per_month: f64,
}

/// Everything `size postgres` reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PostgresReport {
    pub sessions: u64,
    pub facts: u64,
    pub connections: u64,
    pub growth: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    pub high_availability: bool,
    pub generation: Generation,
    pub compute: Compute,
    pub memory: Memory,
    pub sku: Chosen,
    pub rejected: Vec<Rejected>,
    pub storage: Storage,
    /// Compute + storage of one server, indicative.
    pub usd_per_month: f64,
    /// With a standby (HA), compute and storage are paid twice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usd_per_month_with_standby: Option<f64>,
    pub price_basis: &'static str,
}

/// What the indicative prices are.
pub const PRICE_BASIS: &str =
    "indicative pay-as-you-go list prices, USD, East US, 730 h/month; not fetched live";

/// vCores the load needs.
pub fn compute(i: &PostgresInput) -> Compute {
    let vector = i.facts as f64 / 500_000.0;
    let connection = i.connections as f64 / 200.0;
    let load = vector.max(connection);
    Compute {
        vector_vcores: vector,
        connection_vcores: connection,
        load_vcores: load,
        base_vcores: load,
        required_vcores: 2.0 * load,
    }
}

/// RAM the load needs, today and with growth.
pub fn memory(i: &PostgresInput) -> Memory {
    let vector = 2.0 * i.facts as f64 / 1_000_000.0;
    let connection = i.connections as f64 / 100.0;
    let load = vector + connection;
    let grown = vector * i.growth;
    Memory {
        vector_gib: vector,
        connection_gib: connection,
        load_gib: load,
        base_gib: load,
        minimum_gib: 2.0 * load,
        grown_vector_gib: grown,
        required_gib: 2.0 * (grown + connection),
    }
}

/// Storage the load needs (seed: (data + index + WAL + growth) × safety factor).
pub fn storage(i: &PostgresInput) -> Result<Storage, SizingError> {
    let kib_per_gib = 1024.0 * 1024.0;
    let data = (i.sessions as f64 * EPISODIC_KIB_PER_SESSION
        + i.facts as f64 * SEMANTIC_KIB_PER_FACT)
        / kib_per_gib;
    let hnsw = 2.0 * i.facts as f64 / 1_000_000.0;
    let index = hnsw + BTREE_SHARE * data;
    let wal = WAL_SHARE * data;
    let growth = (i.growth - 1.0) * (data + index);
    let required = (data + index + wal + growth) * i.safety;
    let (size_gib, iops) = storage_size_for(required).ok_or_else(|| {
        SizingError::TooLarge(format!(
            "storage needs {} GiB: more than the largest Premium SSD size ({} GiB)",
            num(required),
            thousands(u64::from(STORAGE_SIZES[STORAGE_SIZES.len() - 1].0))
        ))
    })?;
    Ok(Storage {
        data_gib: data,
        index_gib: index,
        wal_gib: wal,
        growth_gib: growth,
        safety_factor: i.safety,
        required_gib: required,
        size_gib,
        iops,
        usd_per_month: f64::from(size_gib) * STORAGE_USD_PER_GIB_MONTH,
    })
}

/// Why `sku` cannot carry the load, or None when it fits.
fn misfit(sku: &ComputeSku, i: &PostgresInput, c: &Compute, m: &Memory) -> Option<String> {
    if sku.tier == SkuTier::Burstable {
        if i.high_availability {
            return Some(
                "Burstable has no high availability, and this server runs a standby".into(),
            );
        }
        let dev_test = matches!(i.environment, Some(Environment::Dev | Environment::Test));
        if !dev_test && (sku.vcores > 2 || sku.memory_gib > 4) {
            return Some(
                "outside the seed's Burstable class (1-2 vCores, 2-4 GB) unless --environment is dev or test"
                    .into(),
            );
        }
    }
    if c.required_vcores > f64::from(sku.vcores) {
        return Some(format!(
            "needs {} vCores, has {}",
            num(c.required_vcores),
            sku.vcores
        ));
    }
    if let Some(baseline) = sku.baseline_vcores {
        if c.required_vcores >= baseline {
            return Some(format!(
                "needs {} vCores continuously, at or above its {} vCore baseline: it would earn no CPU credits",
                num(c.required_vcores),
                num(baseline)
            ));
        }
    }
    if m.required_gib > f64::from(sku.memory_gib) {
        return Some(format!(
            "needs {} GiB RAM, has {}",
            num(m.required_gib),
            sku.memory_gib
        ));
    }
    None
}

fn tier_rank(t: SkuTier) -> u8 {
    match t {
        SkuTier::Burstable => 0,
        SkuTier::GeneralPurpose => 1,
        SkuTier::MemoryOptimized => 2,
    }
}

/// Size a PostgreSQL server: the cheapest SKU that carries the load, and its storage.
pub fn size(i: &PostgresInput) -> Result<PostgresReport, SizingError> {
    let c = compute(i);
    let m = memory(i);
    let st = storage(i)?;
    let mut skus = compute_skus(i.generation);
    skus.sort_by(|a, b| {
        a.usd_per_hour
            .total_cmp(&b.usd_per_hour)
            .then(tier_rank(a.tier).cmp(&tier_rank(b.tier)))
    });
    let mut rejected = Vec::new();
    let mut chosen = None;
    for sku in skus {
        match misfit(&sku, i, &c, &m) {
            Some(reason) => rejected.push(Rejected {
                name: sku.name.clone(),
                reason,
            }),
            None => {
                chosen = Some(sku);
                break;
            }
        }
    }
    let Some(sku) = chosen else {
        return Err(SizingError::TooLarge(format!(
            "the load needs {} vCores and {} GiB RAM: more than any Flexible Server SKU of generation {:?} \
             (64 vCores, up to 512 GiB); split the vector set across servers or lower --growth",
            num(c.required_vcores),
            num(m.required_gib),
            i.generation
        )));
    };
    let compute_usd = sku.usd_per_month();
    let one = compute_usd + st.usd_per_month;
    Ok(PostgresReport {
        sessions: i.sessions,
        facts: i.facts,
        connections: i.connections,
        growth: i.growth,
        environment: i.environment.map(|e| e.to_string()),
        high_availability: i.high_availability,
        generation: i.generation,
        compute: c,
        memory: m,
        sku: Chosen {
            name: sku.name,
            tier: sku.tier,
            vcores: sku.vcores,
            memory_gib: sku.memory_gib,
            baseline_vcores: sku.baseline_vcores,
            usd_per_month: cents(compute_usd),
        },
        rejected,
        storage: st,
        usd_per_month: cents(one),
        usd_per_month_with_standby: i.high_availability.then(|| cents(2.0 * one)),
        price_basis: PRICE_BASIS,
    })
}

#[cfg(test)]
#[path = "postgres_tests.rs"]
mod tests;
