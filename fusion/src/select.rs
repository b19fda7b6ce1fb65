//! Sensor selection: which of the registered sensors sense this round.
//!
//! Purpose: the cooperative sensing contract picks up to K of the registered candidates
//! (SPEC 1 step 2, SPEC 5). Data flow: `&[Candidate]` (trust, registration height/time, a tie
//! key such as the address bytes) + a [`SelectionScheme`] + K + a 32-byte seed -> [`select`] ->
//! candidate indices in selection order. Every scheme is deterministic: ties break by the key,
//! then by position; the random scheme draws from ChaCha20 keyed by the seed (callers on chain
//! derive it from a block hash), with rejection sampling so the draw is exactly uniform and the
//! sequence is pinned by a known-answer test. No floating point (`clippy::float_arithmetic`
//! denied).
#![deny(clippy::float_arithmetic)]

use chacha20::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::Fx;

/// One registered sensor as selection sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate<'a> {
    /// Current trust.
    pub trust: Fx,
    /// When it registered (block height, timestamp or sequence number: smaller = earlier).
    pub registered_at: u64,
    /// Tie-break key, compared bytewise (e.g. the account address).
    pub key: &'a [u8],
}

/// How candidates are chosen. Serialised internally tagged, e.g.
/// `{ scheme = "trust", threshold = "0.5" }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "scheme", rename_all = "snake_case", deny_unknown_fields)]
pub enum SelectionScheme {
    /// Highest trust first among candidates with `trust >= threshold` (paper A's scheme);
    /// equal trust: smaller key, then earlier position. May return fewer than K.
    Trust {
        /// Minimum trust to be eligible.
        threshold: Fx,
    },
    /// K candidates uniformly at random without replacement, from the seed.
    Random,
    /// The K earliest registrations; equal times: smaller key, then earlier position.
    RegisterTime,
}

impl Default for SelectionScheme {
    fn default() -> Self {
        SelectionScheme::Trust {
            threshold: Fx::HALF,
        }
    }
}

/// Uniform integer in `0..n` (`n >= 1`) by rejection sampling, so no value is favoured.
fn uniform_below(rng: &mut ChaCha20Rng, n: u64) -> u64 {
    // Accept draws below the largest multiple of n that fits in u64.
    let zone = u64::MAX - (u64::MAX - n + 1) % n;
    loop {
        let x = rng.next_u64();
        if x <= zone {
            return x % n;
        }
    }
}

/// Selects up to `k` candidates under `scheme` and returns their indices into `candidates`,
/// in selection order (best first for trust, earliest first for register time, draw order for
/// random). `seed` is used only by [`SelectionScheme::Random`].
#[must_use]
pub fn select(
    scheme: &SelectionScheme,
    candidates: &[Candidate<'_>],
    k: usize,
    seed: &[u8; 32],
) -> Vec<usize> {
    let k = k.min(candidates.len());
    match *scheme {
        SelectionScheme::Trust { threshold } => {
            let mut eligible: Vec<usize> = (0..candidates.len())
                .filter(|&i| candidates.get(i).is_some_and(|c| c.trust >= threshold))
                .collect();
            eligible.sort_by(|&a, &b| match (candidates.get(a), candidates.get(b)) {
                (Some(ca), Some(cb)) => cb
                    .trust
                    .cmp(&ca.trust)
                    .then(ca.key.cmp(cb.key))
                    .then(a.cmp(&b)),
                _ => a.cmp(&b),
            });
            eligible.truncate(k);
            eligible
        }
        SelectionScheme::RegisterTime => {
            let mut order: Vec<usize> = (0..candidates.len()).collect();
            order.sort_by(|&a, &b| match (candidates.get(a), candidates.get(b)) {
                (Some(ca), Some(cb)) => ca
                    .registered_at
                    .cmp(&cb.registered_at)
                    .then(ca.key.cmp(cb.key))
                    .then(a.cmp(&b)),
                _ => a.cmp(&b),
            });
            order.truncate(k);
            order
        }
        SelectionScheme::Random => {
            let mut rng = ChaCha20Rng::from_seed(*seed);
            let mut pool: Vec<usize> = (0..candidates.len()).collect();
            // Partial Fisher-Yates: position i takes a uniform pick from i..n.
            for i in 0..k {
                let remaining = u64::try_from(pool.len() - i).unwrap_or(u64::MAX);
                let offset = usize::try_from(uniform_below(&mut rng, remaining)).unwrap_or(0);
                pool.swap(i, i + offset);
            }
            pool.truncate(k);
            pool
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cands(spec: &[(i64, u64, u8)]) -> Vec<(Fx, u64, [u8; 1])> {
        spec.iter()
            .map(|&(t, r, k)| (Fx::from_raw(t), r, [k]))
            .collect()
    }

    fn view(c: &[(Fx, u64, [u8; 1])]) -> Vec<Candidate<'_>> {
        c.iter()
            .map(|(t, r, k)| Candidate {
                trust: *t,
                registered_at: *r,
                key: k,
            })
            .collect()
    }

    #[test]
    fn trust_scheme_threshold_and_ties() {
        let owned = cands(&[
            (400_000_000, 5, 9),
            (700_000_000, 4, 7),
            (700_000_000, 3, 2),
            (900_000_000, 9, 5),
            (500_000_000, 1, 1),
            (700_000_000, 2, 2),
        ]);
        let c = view(&owned);
        let half = SelectionScheme::Trust {
            threshold: Fx::HALF,
        };
        // 0.9 first; the three 0.7s by key (2, 2, 7), the equal keys by position (2 before 5).
        assert_eq!(select(&half, &c, 4, &[0; 32]), vec![3, 2, 5, 1]);
        // Threshold is inclusive and may leave fewer than K.
        assert_eq!(select(&half, &c, 10, &[0; 32]), vec![3, 2, 5, 1, 4]);
        let strict = SelectionScheme::Trust {
            threshold: Fx::from_raw(950_000_000),
        };
        assert!(select(&strict, &c, 3, &[0; 32]).is_empty());
        assert!(select(&half, &c, 0, &[0; 32]).is_empty());
        assert!(select(&half, &[], 3, &[0; 32]).is_empty());
    }

    #[test]
    fn register_time_scheme() {
        let owned = cands(&[(0, 5, 9), (0, 4, 7), (0, 1, 3), (0, 1, 2), (0, 0, 8)]);
        let c = view(&owned);
        assert_eq!(
            select(&SelectionScheme::RegisterTime, &c, 3, &[0; 32]),
            vec![4, 3, 2]
        );
    }

    #[test]
    fn random_scheme_is_pinned_and_seeded() {
        let owned = cands(&[(0, 0, 0); 10]);
        let c = view(&owned);
        let a = select(&SelectionScheme::Random, &c, 4, &[7; 32]);
        assert_eq!(a, select(&SelectionScheme::Random, &c, 4, &[7; 32]));
        assert_ne!(a, select(&SelectionScheme::Random, &c, 4, &[8; 32]));
        // Pinned: changes to the RNG stream or the sampling would break consensus.
        assert_eq!(a, vec![8, 2, 6, 5]);
        let all = select(&SelectionScheme::Random, &c, 99, &[1; 32]);
        let mut sorted = all.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn random_scheme_is_uniform() {
        // Each of 5 candidates picked as first of 2: expected 20% of 5000 draws = 1000,
        // sd = sqrt(5000 × 0.2 × 0.8) ≈ 28; allow 5 sd.
        let owned = cands(&[(0, 0, 0); 5]);
        let c = view(&owned);
        let mut counts = [0_u32; 5];
        for s in 0_u32..5000 {
            let mut seed = [0_u8; 32];
            seed[..4].copy_from_slice(&s.to_le_bytes());
            let pick = select(&SelectionScheme::Random, &c, 2, &seed);
            counts[pick[0]] += 1;
        }
        for n in counts {
            assert!((860..=1140).contains(&n), "{counts:?}");
        }
    }

    #[test]
    fn serde_config_forms() {
        let s: SelectionScheme = toml::from_str("scheme = \"trust\"\nthreshold = \"0.5\"").unwrap();
        assert_eq!(s, SelectionScheme::default());
        let s: SelectionScheme = toml::from_str("scheme = \"random\"").unwrap();
        assert_eq!(s, SelectionScheme::Random);
        let s: SelectionScheme = toml::from_str("scheme = \"register_time\"").unwrap();
        assert_eq!(s, SelectionScheme::RegisterTime);
        assert!(toml::from_str::<SelectionScheme>("scheme = \"trust\"").is_err());
    }
}
