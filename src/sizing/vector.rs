//! A starting `postgres.vector` block for a load: HNSW `m` / `efConstruction` / `efSearch` chosen
//! by the fact count, and `maintenanceWorkMemMiB` sized so the graph build fits in memory where
//! the SKU allows. The rule and its reasons are in docs/sizing.md ("pgvector HNSW").

use serde::Serialize;

use super::format::{decimals, num};
use crate::api::database::{HnswIndex, Opclass, VectorDatabase, VectorSpec};

/// Embedding dimensions when none are given: 384, the size of the small sentence-embedding
/// models the issue names (the seed gives no figure).
pub const DEFAULT_DIMS: u32 = 384;
/// pgvector's largest indexable `vector` (HNSW and IVFFlat index up to 2,000 dimensions).
pub const MAX_DIMS: u32 = 2_000;
/// The database the block declares when none is named.
pub const DEFAULT_DATABASE: &str = "engram";
/// The application's table and column the index is on.
pub const TABLE: &str = "facts";
/// The vector column.
pub const COLUMN: &str = "embedding";
/// Bytes per neighbour link in the estimate (a tuple pointer plus its distance, rounded up).
pub const LINK_BYTES: u64 = 8;
/// Headroom over the graph estimate for the build's own bookkeeping.
pub const BUILD_HEADROOM: f64 = 1.25;
/// The share of the server's RAM one build may take: shared buffers take about a quarter, the
/// connections and the OS page cache (which holds the index for searches) need the rest.
pub const BUILD_RAM_SHARE: f64 = 0.25;
/// The range the spec accepts for `maintenanceWorkMemMiB`.
pub const WORK_MEM_RANGE: (u32, u32) = (64, 16_384);

/// One band of the rule: up to `max_facts` (inclusive) facts, these parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct HnswBand {
    /// The largest fact count of the band (u64::MAX for the last).
    pub max_facts: u64,
    pub m: u32,
    pub ef_construction: u32,
    pub ef_search: u32,
    /// Why, in a few words.
    pub why: &'static str,
}

/// The rule. Each band keeps `efConstruction ≥ 2 × m` and stays within pgvector's ranges.
pub const BANDS: [HnswBand; 4] = [
    HnswBand {
        max_facts: 100_000,
        m: 16,
        ef_construction: 64,
        ef_search: 40,
        why: "pgvector's defaults: a small graph reaches high recall with them, and builds fast",
    },
    HnswBand {
        max_facts: 1_000_000,
        m: 16,
        ef_construction: 128,
        ef_search: 64,
        why: "a larger graph: twice the build candidates for recall, same m so the index size stays",
    },
    HnswBand {
        max_facts: 10_000_000,
        m: 24,
        ef_construction: 128,
        ef_search: 100,
        why: "a large graph: more links per node to keep recall, at a slower build and a larger index",
    },
    HnswBand {
        max_facts: u64::MAX,
        m: 32,
        ef_construction: 200,
        ef_search: 100,
        why: "a very large graph: more links and candidates; consider partitioning the facts instead",
    },
];

/// The band for `facts`.
pub fn hnsw_band(facts: u64) -> HnswBand {
    BANDS
        .iter()
        .copied()
        .find(|b| facts <= b.max_facts)
        .unwrap_or(BANDS[BANDS.len() - 1])
}

/// Estimated size of the HNSW graph in bytes: each vector (dims × 4 bytes) plus its layer-0
/// neighbour links (2 × m of them, [`LINK_BYTES`] each). Upper layers hold about 1/m of the nodes
/// and are left out.
pub fn graph_bytes(vectors: u64, dims: u32, m: u32) -> u64 {
    let per_vector = u64::from(dims) * 4 + u64::from(m) * 2 * LINK_BYTES;
    vectors.saturating_mul(per_vector)
}

/// `maintenance_work_mem` for building a graph of `graph_bytes`: the graph plus headroom, rounded up
/// to 64 MiB, within the spec's range and within [`BUILD_RAM_SHARE`] of the server's RAM. Returns
/// the MiB and whether the graph (with headroom) fits in them.
pub fn maintenance_work_mem_mib(graph_bytes: u64, server_ram_gib: f64) -> (u32, bool) {
    let mib = 1024.0 * 1024.0;
    let want = (graph_bytes as f64 * BUILD_HEADROOM / mib / 64.0).ceil() * 64.0;
    let cap = (server_ram_gib * 1024.0 * BUILD_RAM_SHARE / 64.0).floor() * 64.0;
    let (lo, hi) = (f64::from(WORK_MEM_RANGE.0), f64::from(WORK_MEM_RANGE.1));
    let chosen = want.min(cap).clamp(lo, hi);
    // Bounded to 64..=16384 above, so the cast is exact.
    (chosen as u32, chosen >= want)
}

/// What the calculator suggests for pgvector.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VectorSuggestion {
    pub facts: u64,
    pub dims: u32,
    /// The fact count the build memory is sized for (facts × growth).
    pub grown_facts: u64,
    pub band: HnswBand,
    /// The graph estimate at the grown fact count, MiB.
    pub graph_mib: f64,
    pub maintenance_work_mem_mib: u32,
    /// The graph (with headroom) fits in maintenance_work_mem.
    pub fits: bool,
    /// The block itself.
    pub spec: VectorSpec,
}

/// The starting block for `facts` vectors of `dims` dimensions on a server with `server_ram_gib`,
/// the build memory sized for `facts × growth`.
pub fn suggest(
    facts: u64,
    dims: u32,
    growth: f64,
    server_ram_gib: f64,
    database: &str,
) -> VectorSuggestion {
    let band = hnsw_band(facts);
    let grown_facts = (facts as f64 * growth).ceil() as u64;
    let graph = graph_bytes(grown_facts, dims, band.m);
    let (work_mem, fits) = maintenance_work_mem_mib(graph, server_ram_gib);
    VectorSuggestion {
        facts,
        dims,
        grown_facts,
        band,
        graph_mib: graph as f64 / (1024.0 * 1024.0),
        maintenance_work_mem_mib: work_mem,
        fits,
        spec: VectorSpec {
            databases: vec![VectorDatabase {
                name: database.to_owned(),
                indexes: vec![HnswIndex {
                    table: TABLE.into(),
                    column: COLUMN.into(),
                    opclass: Opclass::vector_cosine_ops,
                    m: Some(band.m),
                    ef_construction: Some(band.ef_construction),
                    name: None,
                }],
            }],
            ef_search: Some(band.ef_search),
            maintenance_work_mem_mib: Some(work_mem),
        },
    }
}

#[derive(Serialize)]
struct Postgres<'a> {
    vector: &'a VectorSpec,
}

#[derive(Serialize)]
struct Block<'a> {
    postgres: Postgres<'a>,
}

impl VectorSuggestion {
    /// The reasoning as YAML comments, then `postgres:\n  vector: …`, to paste under `spec:`.
    pub fn yaml(&self) -> Result<String, crate::Error> {
        let body = serde_saphyr::to_string(&Block {
            postgres: Postgres { vector: &self.spec },
        })
        .map_err(|e| crate::Error::Yaml(e.to_string()))?;
        let fit = if self.fits {
            "fits".to_owned()
        } else {
            format!(
                "does NOT fit: capped at {} of the server's RAM, the build spills to disk and is slower",
                num(BUILD_RAM_SHARE * 100.0) + "%"
            )
        };
        Ok(format!(
            "# pgvector HNSW for {} facts of {} dimensions (docs/sizing.md, \"pgvector HNSW\"):\n\
             # m {}, efConstruction {}, efSearch {}: {}.\n\
             # Build memory for {} facts (× growth): graph ≈ vectors × (dims × 4 + m × 2 × {}) B = {} MiB;\n\
             # maintenanceWorkMemMiB {} {fit}. Needs `vector` in spec.postgres.extensions.\n\
             {body}",
            super::thousands(self.facts),
            self.dims,
            self.band.m,
            self.band.ef_construction,
            self.band.ef_search,
            self.band.why,
            super::thousands(self.grown_facts),
            LINK_BYTES,
            decimals(self.graph_mib, 1),
            self.maintenance_work_mem_mib,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_change_exactly_at_their_boundaries() {
        let at = |f| {
            let b = hnsw_band(f);
            (b.m, b.ef_construction, b.ef_search)
        };
        assert_eq!(at(1), (16, 64, 40));
        assert_eq!(at(100_000), (16, 64, 40));
        assert_eq!(at(100_001), (16, 128, 64));
        assert_eq!(at(1_000_000), (16, 128, 64));
        assert_eq!(at(1_000_001), (24, 128, 100));
        assert_eq!(at(10_000_000), (24, 128, 100));
        assert_eq!(at(10_000_001), (32, 200, 100));
        assert_eq!(at(u64::MAX), (32, 200, 100));
    }

    #[test]
    fn every_band_is_valid_for_pgvector() {
        for b in BANDS {
            assert!((2..=100).contains(&b.m), "{b:?}");
            assert!((4..=1000).contains(&b.ef_construction), "{b:?}");
            assert!(b.ef_construction >= 2 * b.m, "{b:?}");
            assert!((1..=1000).contains(&b.ef_search), "{b:?}");
        }
        assert!(BANDS.windows(2).all(|w| w[0].max_facts < w[1].max_facts));
    }

    #[test]
    fn graph_estimate_matches_the_seeds_two_gb_per_million() {
        // 384 dims, m 16: 1536 + 256 = 1792 bytes a vector.
        assert_eq!(graph_bytes(1, 384, 16), 1_792);
        assert_eq!(graph_bytes(1_000_000, 384, 16), 1_792_000_000);
        // ≈ 1.67 GiB: within the seed's 2 GB per 1M vectors (§2, memory requirements).
        let gib = graph_bytes(1_000_000, 384, 16) as f64 / f64::from(1 << 30);
        assert!(gib > 1.6 && gib < 2.0, "{gib}");
        assert_eq!(graph_bytes(u64::MAX, 384, 16), u64::MAX);
    }

    #[test]
    fn work_mem_rounds_up_to_64_mib_and_stays_in_range() {
        let mib = 1024 * 1024;
        // Tiny graph: the spec's floor.
        assert_eq!(maintenance_work_mem_mib(1, 2.0), (64, true));
        // 100 MiB × 1.25 = 125 → 128.
        assert_eq!(maintenance_work_mem_mib(100 * mib, 8.0), (128, true));
        // Exactly 64 MiB after headroom stays 64; one byte more goes to 128.
        assert_eq!(
            maintenance_work_mem_mib(51 * mib + mib / 5, 8.0),
            (64, true)
        );
        assert_eq!(
            maintenance_work_mem_mib(51 * mib + mib / 5 + 1, 8.0),
            (128, true)
        );
        // The spec's ceiling.
        assert_eq!(maintenance_work_mem_mib(100 << 30, 512.0), (16_384, false));
    }

    #[test]
    fn work_mem_is_capped_at_a_quarter_of_the_servers_ram() {
        let gib: u64 = 1 << 30;
        // 2 GiB graph → 2.5 GiB wanted; an 8 GiB server allows 2 GiB.
        assert_eq!(maintenance_work_mem_mib(2 * gib, 8.0), (2_048, false));
        // A 16 GiB server allows 4 GiB: it fits.
        assert_eq!(maintenance_work_mem_mib(2 * gib, 16.0), (2_560, true));
    }

    #[test]
    fn seed_production_row_gets_band_two_and_fits_a_d4() {
        // Seed §2: 1M facts, D4s_v3 (16 GiB); growth 2 → 2M vectors to build.
        let s = suggest(1_000_000, 384, 2.0, 16.0, "engram");
        assert_eq!(s.band.m, 16);
        assert_eq!(s.band.ef_construction, 128);
        assert_eq!(s.grown_facts, 2_000_000);
        // 2M × 1792 B = 3,418 MiB; × 1.25 → 4,273 → 4,288; cap 4,096.
        assert_eq!(s.maintenance_work_mem_mib, 4_096);
        assert!(!s.fits);
        let yaml = s.yaml().expect("yaml");
        assert!(yaml.contains("does NOT fit"), "{yaml}");
        assert!(yaml.contains("maintenanceWorkMemMiB: 4096"), "{yaml}");
    }

    #[test]
    fn block_names_the_database_table_and_column() {
        let s = suggest(10_000, 384, 2.0, 4.0, "zep");
        let yaml = s.yaml().expect("yaml");
        assert!(yaml.contains("postgres:\n  vector:\n"), "{yaml}");
        assert!(yaml.contains("name: zep"), "{yaml}");
        assert!(yaml.contains("table: facts"), "{yaml}");
        assert!(yaml.contains("column: embedding"), "{yaml}");
        assert!(yaml.contains("efConstruction: 64"), "{yaml}");
        assert!(yaml.contains("maintenanceWorkMemMiB: 64"), "{yaml}");
        assert!(s.fits);
    }
}
