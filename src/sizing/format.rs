//! Text for people: number formatting shared by the calculators, and the PostgreSQL report's
//! explanation (inputs → vCores / RAM / storage → SKU → cost).

use super::postgres::PostgresReport;
use super::thousands;

/// Round to cents.
pub fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Money: two decimals.
pub fn usd(x: f64) -> String {
    format!("${x:.2}")
}

fn vcores(n: u32) -> String {
    if n == 1 {
        "1 vCore".into()
    } else {
        format!("{n} vCores")
    }
}

/// A number for people: at most three decimals, no trailing zeros.
pub fn num(x: f64) -> String {
    decimals(x, 3)
}

/// A number with at most `places` decimals, no trailing zeros.
pub fn decimals(x: f64, places: usize) -> String {
    let s = format!("{x:.places$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

impl PostgresReport {
    /// The sizing in one line (status notes, render comments).
    pub fn one_line(&self) -> String {
        format!(
            "sized automatically (sku: auto): {} sessions, {} facts, {} connections, growth {} -> {} vCores, {} GiB RAM (minimum {} GiB) -> {:?} {} ({} vCores, {} GiB); storage {} GiB -> {} GiB ({} IOPS); ~{}/month indicative",
            thousands(self.sessions),
            thousands(self.facts),
            thousands(self.connections),
            num(self.growth),
            num(self.compute.required_vcores),
            num(self.memory.required_gib),
            num(self.memory.minimum_gib),
            self.sku.tier,
            self.sku.name,
            self.sku.vcores,
            self.sku.memory_gib,
            num(self.storage.required_gib),
            self.storage.size_gib,
            thousands(u64::from(self.storage.iops)),
            usd(self.usd_per_month),
        )
    }

    /// The report as text: inputs → vCores / RAM / storage → SKU → cost.
    pub fn text(&self) -> String {
        let (c, m, s) = (&self.compute, &self.memory, &self.storage);
        let mut out =
            String::from("PostgreSQL sizing (seed §2, corrected model: docs/sizing.md)\n");
        let env = self
            .environment
            .as_deref()
            .map(|e| format!(", environment {e}"))
            .unwrap_or_default();
        out += &format!(
            "inputs   {} sessions, {} facts, {} connections, growth x{}{env}\n",
            thousands(self.sessions),
            thousands(self.facts),
            thousands(self.connections),
            num(self.growth)
        );
        out += &format!(
            "vCores   vectors {} (1 per 500K) vs connections {} (0.5 per 100): load {} (the larger; searches run on the connections)\n         + PostgreSQL base {} (= load) = {} vCores required (no growth: compute scales online)\n",
            num(c.vector_vcores), num(c.connection_vcores), num(c.load_vcores), num(c.base_vcores), num(c.required_vcores)
        );
        out += &format!(
            "RAM      vectors {} GiB (2 per 1M) + connections {} GiB (0.1 per 10) = load {} GiB; + base {} GiB = minimum {} GiB\n         vector index grown x{} to {} GiB: 2 x ({} + {}) = {} GiB required\n",
            num(m.vector_gib), num(m.connection_gib), num(m.load_gib), num(m.base_gib), num(m.minimum_gib),
            num(self.growth), num(m.grown_vector_gib), num(m.grown_vector_gib), num(m.connection_gib), num(m.required_gib)
        );
        let baseline = self
            .sku
            .baseline_vcores
            .map(|b| format!(", baseline {} vCores", num(b)))
            .unwrap_or_default();
        out += &format!(
            "SKU      {:?} {} ({}, {} GiB{baseline}): the cheapest that fits\n",
            self.sku.tier,
            self.sku.name,
            vcores(self.sku.vcores),
            self.sku.memory_gib
        );
        let skip = self.rejected.len().saturating_sub(4);
        if skip > 0 {
            out += &format!("         ({skip} cheaper SKUs rejected before these)\n");
        }
        for r in self.rejected.iter().skip(skip) {
            out += &format!("         not {}: {}\n", r.name, r.reason);
        }
        out += &format!(
            "storage  data {} + index {} + WAL {} + growth {} = {} GiB x safety {} = {} GiB -> {} GiB ({} IOPS)\n",
            num(s.data_gib), num(s.index_gib), num(s.wal_gib), num(s.growth_gib),
            num(s.data_gib + s.index_gib + s.wal_gib + s.growth_gib),
            num(s.safety_factor), num(s.required_gib), s.size_gib, thousands(u64::from(s.iops))
        );
        out += &format!(
            "cost     compute {} + storage {} = {}/month ({})\n",
            usd(self.sku.usd_per_month),
            usd(s.usd_per_month),
            usd(self.usd_per_month),
            self.price_basis
        );
        if let Some(ha) = self.usd_per_month_with_standby {
            out += &format!(
                "         with the high-availability standby: {}/month\n",
                usd(ha)
            );
        }
        out
    }
}
