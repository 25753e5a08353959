//! Benchmarks: `bench reconcile` (many data planes against the mock ARM on one virtual clock,
//! Azure's limits on) in `reconcile`; `bench hnsw` (pgvector index builds on a local PostgreSQL)
//! in `hnsw`.

pub mod hnsw;
pub mod reconcile;
