//! Transactions waiting for a block.
//!
//! Data flow: gossip and the node's own roles [`Mempool::add`] signature-checked transactions
//! (keyed by transaction id: anonymous uploads all share one sender and nonce); the miner takes
//! [`Mempool::candidates`] (ordered by nonce, then id, so each sender's transactions come in
//! nonce order and the order does not depend on arrival); a head change removes what the new
//! blocks carry and re-adds what the rolled-back blocks carried; stale entries expire after
//! `max_age` blocks. Everything is in ordered maps: the simulation stays deterministic.

use std::collections::BTreeMap;

use chain::crypto::Address;
use chain::{Hash256, SignedTx};

/// One waiting transaction.
#[derive(Debug, Clone)]
struct Entry {
    tx: SignedTx,
    /// Head height when it was added.
    added: u64,
    /// Head height when this node last gossiped it (own transactions are re-sent).
    sent: u64,
    own: bool,
}

/// The pool (see the module docs).
#[derive(Debug)]
pub struct Mempool {
    entries: BTreeMap<Hash256, Entry>,
    max_age: u64,
    capacity: usize,
}

impl Mempool {
    /// A pool expiring entries after `max_age` blocks and holding at most `capacity`.
    #[must_use]
    pub fn new(max_age: u64, capacity: usize) -> Self {
        Self {
            entries: BTreeMap::new(),
            max_age,
            capacity: capacity.max(1),
        }
    }

    /// Number of waiting transactions.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing waits.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `id` waits here.
    #[must_use]
    pub fn contains(&self, id: &Hash256) -> bool {
        self.entries.contains_key(id)
    }

    /// Adds a (signature-checked) transaction; returns false if it was already here. At
    /// capacity the oldest foreign entry makes room.
    pub fn add(&mut self, tx: SignedTx, height: u64, own: bool) -> bool {
        let id = tx.id();
        if self.entries.contains_key(&id) {
            return false;
        }
        if self.entries.len() >= self.capacity {
            let oldest = self
                .entries
                .iter()
                .filter(|(_, e)| !e.own)
                .min_by_key(|(id, e)| (e.added, **id))
                .map(|(id, _)| *id);
            if let Some(old) = oldest {
                self.entries.remove(&old);
            } else {
                return false;
            }
        }
        self.entries.insert(
            id,
            Entry {
                tx,
                added: height,
                sent: height,
                own,
            },
        );
        true
    }

    /// Removes `id`.
    pub fn remove(&mut self, id: &Hash256) {
        self.entries.remove(id);
    }

    /// Candidates for a block: by nonce, then id.
    #[must_use]
    pub fn candidates(&self) -> Vec<SignedTx> {
        let mut list: Vec<(u64, Hash256, &SignedTx)> = self
            .entries
            .iter()
            .map(|(id, e)| (e.tx.tx.nonce, *id, &e.tx))
            .collect();
        list.sort_by_key(|a| (a.0, a.1));
        list.into_iter().map(|(_, _, tx)| tx.clone()).collect()
    }

    /// The highest nonce among `sender`'s waiting account transactions.
    #[must_use]
    pub fn highest_nonce(&self, sender: &Address) -> Option<u64> {
        self.entries
            .values()
            .filter(|e| !e.tx.tx.is_anonymous() && e.tx.sender_address() == *sender)
            .map(|e| e.tx.tx.nonce)
            .max()
    }

    /// Drops entries older than `max_age` blocks at `height`, and account transactions whose
    /// nonce the chain has passed (`nonce_of` gives the sender's next nonce). When one of the
    /// node's own transactions expires, its later-nonce siblings go too (they could never
    /// apply).
    pub fn prune(&mut self, height: u64, nonce_of: impl Fn(&Address) -> u64) {
        let max_age = self.max_age;
        let mut expired_own: BTreeMap<Address, u64> = BTreeMap::new();
        self.entries.retain(|_, e| {
            let anonymous = e.tx.tx.is_anonymous();
            if !anonymous && e.tx.tx.nonce < nonce_of(&e.tx.sender_address()) {
                return false;
            }
            let old = height.saturating_sub(e.added) > max_age;
            if old && e.own && !anonymous {
                let sender = e.tx.sender_address();
                let entry = expired_own.entry(sender).or_insert(u64::MAX);
                *entry = (*entry).min(e.tx.tx.nonce);
            }
            !old
        });
        if !expired_own.is_empty() {
            self.entries.retain(|_, e| {
                e.tx.tx.is_anonymous()
                    || expired_own
                        .get(&e.tx.sender_address())
                        .is_none_or(|&n| e.tx.tx.nonce < n)
            });
        }
    }

    /// Own transactions last sent at least `every` blocks before `height`, marked as sent now:
    /// the node gossips them again (frames get lost; peers that were cut off never saw them).
    pub fn due_for_resend(&mut self, height: u64, every: u64) -> Vec<SignedTx> {
        let mut out = Vec::new();
        for e in self.entries.values_mut() {
            if e.own && height.saturating_sub(e.sent) >= every {
                e.sent = height;
                out.push(e.tx.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chain::UnsignedTx;
    use chain::crypto::SecretKey;

    fn tx(key: &SecretKey, nonce: u64) -> SignedTx {
        SignedTx::sign(
            UnsignedTx::transfer(*key.public_key(), nonce, 0, Address::from_bytes([9; 20]), 1),
            key,
            &chain::Hash256::ZERO,
        )
        .unwrap()
    }

    #[test]
    fn order_prune_and_expiry() {
        let a = SecretKey::from_seed(&[1; 32]).unwrap();
        let b = SecretKey::from_seed(&[2; 32]).unwrap();
        let mut pool = Mempool::new(4, 100);
        assert!(pool.add(tx(&a, 1), 0, true));
        assert!(pool.add(tx(&a, 0), 0, true));
        assert!(pool.add(tx(&b, 0), 0, false));
        assert!(!pool.add(tx(&b, 0), 0, false));
        let nonces: Vec<u64> = pool.candidates().iter().map(|t| t.tx.nonce).collect();
        assert_eq!(nonces, [0, 0, 1]);
        assert_eq!(pool.highest_nonce(&a.address()), Some(1));
        // b's nonce 0 is used up.
        pool.prune(1, |s| u64::from(*s == b.address()));
        assert_eq!(pool.len(), 2);
        // Own nonce 0 expires: nonce 1 goes with it.
        pool.prune(10, |_| 0);
        assert!(pool.is_empty());
    }

    #[test]
    fn resend_marks() {
        let a = SecretKey::from_seed(&[1; 32]).unwrap();
        let mut pool = Mempool::new(100, 100);
        pool.add(tx(&a, 0), 5, true);
        assert!(pool.due_for_resend(6, 2).is_empty());
        assert_eq!(pool.due_for_resend(7, 2).len(), 1);
        assert!(pool.due_for_resend(8, 2).is_empty());
    }
}
