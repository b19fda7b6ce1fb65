//! Binary Merkle trees over ordered leaves: transaction roots, state roots and inclusion proofs.
//!
//! Data flow: callers hash each leaf's canonical bytes with [`leaf_hash`]
//! (`hash(trustband/v1/merkle-leaf, [bytes])`), [`root`] folds the leaf hashes pairwise with
//! `hash(trustband/v1/merkle-node, [left, right])`, [`prove`] extracts the sibling path of one
//! leaf and [`verify`] recomputes the root from a leaf and its [`MerkleProof`].
//!
//! Shape: at each level nodes are paired left to right; an odd last node is carried up
//! unchanged (not duplicated, so no two different leaf lists share a root the way Bitcoin's
//! duplicated-last-node trees do). The root of no leaves is `hash(merkle-node, [])`; the root of
//! one leaf is that leaf's hash. Leaves and inner nodes use different domains, so a leaf can
//! never pass for an inner node. A proof carries the leaf's index and the leaf count, which fix
//! at each level whether the sibling is on the left, the right, or absent.
#![deny(clippy::float_arithmetic)]

use crate::codec::{Decode, Encode, MAX_PROOF_DEPTH, Put, Reader};
use crate::crypto::{Domain, hash};
use crate::digest::Hash256;
use crate::error::Error;

/// Hash of one leaf's canonical bytes.
#[must_use]
pub fn leaf_hash(bytes: &[u8]) -> Hash256 {
    Hash256(hash(Domain::MerkleLeaf, &[bytes]))
}

/// Hash of an inner node.
#[must_use]
pub fn node_hash(left: &Hash256, right: &Hash256) -> Hash256 {
    Hash256(hash(Domain::MerkleNode, &[&left.0, &right.0]))
}

/// Root of an empty tree.
#[must_use]
pub fn empty_root() -> Hash256 {
    Hash256(hash(Domain::MerkleNode, &[]))
}

/// The root over `leaves` (already leaf-hashed), in order.
#[must_use]
pub fn root(leaves: &[Hash256]) -> Hash256 {
    let mut level: Vec<Hash256> = leaves.to_vec();
    if level.is_empty() {
        return empty_root();
    }
    while level.len() > 1 {
        level = next_level(&level);
    }
    level.first().copied().unwrap_or_else(empty_root)
}

fn next_level(level: &[Hash256]) -> Vec<Hash256> {
    level
        .chunks(2)
        .map(|pair| match pair {
            [left, right] => node_hash(left, right),
            [single] => *single,
            _ => empty_root(), // chunks(2) yields 1 or 2 items; unreachable.
        })
        .collect()
}

/// The sibling path from one leaf to the root.
///
/// Encoding: `index u64 || leaf_count u64 || u32 count || siblings (32 bytes each)`, at most
/// [`MAX_PROOF_DEPTH`] siblings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerkleProof {
    /// Position of the leaf.
    pub index: u64,
    /// Number of leaves in the tree.
    pub leaf_count: u64,
    /// Sibling hashes from the leaf level up.
    pub siblings: Vec<Hash256>,
}

/// The proof for leaf `index`, or `None` if `index` is out of range.
#[must_use]
pub fn prove(leaves: &[Hash256], index: usize) -> Option<MerkleProof> {
    if index >= leaves.len() {
        return None;
    }
    let mut siblings = Vec::new();
    let mut level: Vec<Hash256> = leaves.to_vec();
    let mut i = index;
    while level.len() > 1 {
        let sibling = if i % 2 == 1 {
            level.get(i - 1)
        } else {
            level.get(i + 1)
        };
        if let Some(s) = sibling {
            siblings.push(*s);
        }
        level = next_level(&level);
        i /= 2;
    }
    Some(MerkleProof {
        index: u64::try_from(index).ok()?,
        leaf_count: u64::try_from(leaves.len()).ok()?,
        siblings,
    })
}

/// Recomputes the root from `leaf` (a leaf hash) and `proof` and compares it with `expected`.
///
/// # Errors
///
/// [`Error::InvalidEncoding`] (field `merkle_proof`) if the index is not below the leaf count
/// or the number of siblings does not fit the tree's shape; [`Error::RootMismatch`] (root
/// `merkle_proof`) if the recomputed root differs.
pub fn verify(expected: &Hash256, leaf: &Hash256, proof: &MerkleProof) -> Result<(), Error> {
    let bad = |reason| Error::InvalidEncoding {
        field: "merkle_proof",
        reason,
    };
    if proof.index >= proof.leaf_count {
        return Err(bad("index not below leaf count"));
    }
    let mut acc = *leaf;
    let mut index = proof.index;
    let mut count = proof.leaf_count;
    let mut siblings = proof.siblings.iter();
    while count > 1 {
        if index % 2 == 1 {
            let s = siblings.next().ok_or(bad("too few siblings"))?;
            acc = node_hash(s, &acc);
        } else if index + 1 < count {
            let s = siblings.next().ok_or(bad("too few siblings"))?;
            acc = node_hash(&acc, s);
        }
        index /= 2;
        count = count.div_ceil(2);
    }
    if siblings.next().is_some() {
        return Err(bad("too many siblings"));
    }
    if acc == *expected {
        Ok(())
    } else {
        Err(Error::RootMismatch {
            root: "merkle_proof",
            expected: *expected,
            got: acc,
        })
    }
}

impl Encode for MerkleProof {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.put_u64(self.index);
        out.put_u64(self.leaf_count);
        out.put_len(self.siblings.len());
        for s in &self.siblings {
            out.put_raw(&s.0);
        }
    }
}

impl Decode for MerkleProof {
    const NAME: &'static str = "merkle_proof";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, Error> {
        let index = r.u64("merkle_proof.index")?;
        let leaf_count = r.u64("merkle_proof.leaf_count")?;
        let n = r.len("merkle_proof.siblings", MAX_PROOF_DEPTH, 32)?;
        let siblings = (0..n)
            .map(|_| r.hash("merkle_proof.siblings"))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            index,
            leaf_count,
            siblings,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn leaves(n: usize) -> Vec<Hash256> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn small_tree_shapes() {
        assert_eq!(root(&[]), empty_root());
        let l = leaves(3);
        assert_eq!(root(&l[..1]), l[0]);
        assert_eq!(root(&l[..2]), node_hash(&l[0], &l[1]));
        // Odd node carried up: root(3) = H(H(l0, l1), l2).
        assert_eq!(root(&l), node_hash(&node_hash(&l[0], &l[1]), &l[2]));
        // No duplication ambiguity: [a, b, c] and [a, b, c, c] differ.
        let mut l4 = l.clone();
        l4.push(l[2]);
        assert_ne!(root(&l), root(&l4));
    }

    #[test]
    fn every_proof_verifies_and_tampering_fails() {
        for n in 1..=17 {
            let l = leaves(n);
            let r = root(&l);
            for i in 0..n {
                let p = prove(&l, i).unwrap();
                verify(&r, &l[i], &p).unwrap();
                assert_eq!(MerkleProof::from_bytes(&p.to_bytes()).unwrap(), p);
                let other = leaf_hash(b"other");
                assert!(matches!(
                    verify(&r, &other, &p),
                    Err(Error::RootMismatch { .. })
                ));
                if let Some(first) = p.siblings.first() {
                    let mut bad = p.clone();
                    bad.siblings[0] = Hash256([first.0[0] ^ 1; 32]);
                    assert!(verify(&r, &l[i], &bad).is_err());
                    let mut short = p.clone();
                    short.siblings.pop();
                    assert!(matches!(
                        verify(&r, &l[i], &short),
                        Err(Error::InvalidEncoding { .. })
                    ));
                }
                let mut moved = p.clone();
                moved.index = u64::try_from(n).unwrap();
                assert!(verify(&r, &l[i], &moved).is_err());
            }
            assert!(prove(&l, n).is_none());
        }
    }
}
