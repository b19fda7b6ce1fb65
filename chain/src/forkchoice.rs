//! Fork choice (SPEC 4; paper A, V-C, Algorithm 1).
//!
//! The chain with the greater cumulative nominal work (sum of `D_base`, independent of the
//! miners' trust) wins. On equal work, Algorithm 1 decides at the first block where the chains
//! differ: the block with the higher miner trust, then the smaller header hash. Not the
//! earlier timestamp (issue 9, point 15): a miner's clock is its own word, and stamping
//! `parent + 1 ms` would win every race; the hash is fixed once the work is done. Comparing chains this way is a lexicographic order on root-to-tip paths, so it
//! is a total order: every node holding the same blocks picks the same head, whatever order the
//! blocks arrived in. [`crate::tree::BlockTree`] finds the first differing blocks; this module
//! holds the order itself.
#![deny(clippy::float_arithmetic)]

use core::cmp::{Ordering, Reverse};

use fusion::Fx;

use crate::block::Header;
use crate::digest::Hash256;

/// What Algorithm 1 looks at in a block that starts a branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForkKey {
    /// Miner trust recorded in the header.
    pub trust: Fx,
    /// Header timestamp (logs only: the order ignores it).
    pub timestamp_ms: u64,
    /// Header hash.
    pub hash: Hash256,
}

impl ForkKey {
    /// The key of a header.
    #[must_use]
    pub fn of(header: &Header) -> Self {
        Self {
            trust: header.miner_trust,
            timestamp_ms: header.timestamp_ms,
            hash: header.hash(),
        }
    }

    fn rank(&self) -> (Fx, Reverse<Hash256>) {
        (self.trust, Reverse(self.hash))
    }
}

/// Algorithm 1: `Greater` if the branch starting at `a` beats the one starting at `b`
/// (higher trust, then smaller hash; the timestamp plays no part).
#[must_use]
pub fn algorithm1(a: &ForkKey, b: &ForkKey) -> Ordering {
    a.rank().cmp(&b.rank())
}

/// Compares two chains: `Greater` if the chain with cumulative work `work_a` whose first
/// differing block is `fork_a` beats the other.
#[must_use]
pub fn compare_chains(work_a: u128, fork_a: &ForkKey, work_b: u128, fork_b: &ForkKey) -> Ordering {
    work_a.cmp(&work_b).then_with(|| algorithm1(fork_a, fork_b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(trust: i64, ts: u64, h: u8) -> ForkKey {
        ForkKey {
            trust: Fx::from_raw(trust),
            timestamp_ms: ts,
            hash: Hash256([h; 32]),
        }
    }

    #[test]
    fn algorithm1_order() {
        // Higher trust wins even with a later timestamp and larger hash.
        assert_eq!(
            algorithm1(&key(9, 50, 9), &key(8, 10, 1)),
            Ordering::Greater
        );
        // Equal trust: the smaller hash wins, an earlier timestamp does not.
        assert_eq!(algorithm1(&key(5, 10, 9), &key(5, 11, 1)), Ordering::Less);
        assert_eq!(
            algorithm1(&key(5, 11, 1), &key(5, 10, 9)),
            Ordering::Greater
        );
        // Equal trust and time: smaller hash wins.
        assert_eq!(
            algorithm1(&key(5, 10, 1), &key(5, 10, 2)),
            Ordering::Greater
        );
        assert_eq!(algorithm1(&key(5, 10, 1), &key(5, 10, 1)), Ordering::Equal);
        // Work dominates everything.
        assert_eq!(
            compare_chains(10, &key(0, 99, 9), 9, &key(9, 1, 1)),
            Ordering::Greater
        );
    }
}
