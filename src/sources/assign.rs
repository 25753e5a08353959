//! Which shard a data plane belongs to (`run --kube --shards N`): pure, no I/O.
//!
//! A plane belongs to shard `fnv1a64(lowercase(spec.azure.subscriptionId)) mod N`. The key is the
//! subscription, not the plane: ARM's request budget is per (principal, subscription), so all the
//! planes of a subscription — and that budget — stay with one writer. Every replica computes the
//! same shard from the same spec, whatever its platform (FNV-1a is fixed, unlike `std`'s hasher).

/// The most shards `--shards` accepts: one Lease each, renewed by their holders.
pub const MAX_SHARDS: u32 = 64;

/// Name of shard `index`'s Lease, in the operator's namespace.
pub fn lease_name(index: u32) -> String {
    format!("engram-operator-shard-{index}")
}

/// FNV-1a, 64 bits, over `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET_BASIS, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(PRIME)
    })
}

/// The shard (0..shards) of the planes in `subscription_id`; 0 when `shards` is 0.
pub fn shard_of(subscription_id: &str, shards: u32) -> u32 {
    if shards == 0 {
        return 0;
    }
    let hash = fnv1a64(subscription_id.to_lowercase().as_bytes());
    // The remainder is below `shards`, a u32.
    u32::try_from(hash % u64::from(shards)).unwrap_or(0)
}

/// The shard of a data plane: its subscription's.
pub fn plane_shard(spec: &crate::api::EngramDataPlaneSpec, shards: u32) -> u32 {
    shard_of(&spec.azure.subscription_id, shards)
}

/// `--shards N` checked: 1 to [`MAX_SHARDS`].
pub fn check_shards(n: u32) -> Result<u32, String> {
    if (1..=MAX_SHARDS).contains(&n) {
        Ok(n)
    } else {
        Err(format!(
            "--shards {n}: must be from 1 to {MAX_SHARDS} (one Lease a shard)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_the_published_vectors() {
        // From the FNV reference (Fowler, Noll, Vo): test vectors for FNV-1a 64.
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn a_subscription_lands_in_one_shard_whatever_its_case() {
        let sub = "8F14E45F-CEEA-467F-A9E1-5A6B1C2D3E4F";
        let lower = sub.to_lowercase();
        assert_eq!(shard_of(&lower, 8), (fnv1a64(lower.as_bytes()) % 8) as u32);
        for n in 1..=MAX_SHARDS {
            assert_eq!(shard_of(sub, n), shard_of(&lower, n), "N = {n}");
            assert!(shard_of(sub, n) < n);
        }
        assert_eq!(shard_of(sub, 1), 0, "one shard holds everything");
    }

    #[test]
    fn a_plane_is_assigned_by_its_subscription_only() {
        let text = include_str!("../../examples/dev.yaml");
        let mut a = crate::api::parse(text).expect("dev example").spec;
        let mut b = a.clone();
        b.azure.resource_group = "another-rg".into();
        b.azure.location = "westeurope".into();
        assert_eq!(plane_shard(&a, 8), plane_shard(&b, 8));
        assert_eq!(plane_shard(&a, 8), shard_of(&a.azure.subscription_id, 8));
        a.azure.subscription_id = a.azure.subscription_id.to_uppercase();
        assert_eq!(
            plane_shard(&a, 8),
            plane_shard(&b, 8),
            "case does not move it"
        );
        // Some other subscription lands elsewhere (with 8 shards, one of the first few does).
        let moved = (0..16).any(|i| {
            b.azure.subscription_id = format!("11111111-2222-3333-4444-{i:012}");
            plane_shard(&b, 8) != plane_shard(&a, 8)
        });
        assert!(moved, "the subscription decides the shard");
    }

    #[test]
    fn subscriptions_spread_over_the_shards() {
        // 64 subscription-like ids over 4 shards: every shard gets some (FNV-1a mixes the last
        // bytes into every bit, so ids that differ only at the end still spread).
        let mut seen = [0u32; 4];
        for i in 0..64 {
            let id = format!("00000000-0000-0000-0000-{i:012}");
            seen[shard_of(&id, 4) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c >= 8), "{seen:?}");
    }

    #[test]
    fn shard_count_is_checked() {
        assert_eq!(check_shards(1), Ok(1));
        assert_eq!(check_shards(MAX_SHARDS), Ok(MAX_SHARDS));
        for bad in [0, MAX_SHARDS + 1] {
            let e = check_shards(bad).unwrap_err();
            assert!(e.contains("from 1 to 64"), "{e}");
        }
        assert_eq!(lease_name(3), "engram-operator-shard-3");
    }
}
