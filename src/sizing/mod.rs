//! Sizing: PostgreSQL SKU calculator, Blob Storage sizer, cost.

use crate::api::spec::{SizingInput, Sku};

/// What `sku: auto` resolved to.
#[derive(Clone, Debug, PartialEq)]
pub struct AutoChoice {
    /// The chosen SKU.
    pub sku: Sku,
    /// Storage size (GiB) the calculator recommends.
    pub storage_gib: u32,
    /// Inputs → vCores / RAM / storage → SKU, in one line.
    pub explanation: String,
}

/// Resolve `sku: auto` from the spec's sizing block. The error is the rule broken.
pub fn auto_sku(input: Option<&SizingInput>) -> Result<AutoChoice, String> {
    let _ = input;
    Err("sku: auto is not available in this build: declare sku: {tier, name}".into())
}
