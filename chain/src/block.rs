//! Blocks: a signed header (paper A, V-A) and a body of transactions or, every N_c blocks, the
//! whole state (a Trust-Based Compression checkpoint, paper A, V-C).
//!
//! Data flow: a miner fills a [`Header`] template ([`crate::transition::build_block`]), searches
//! a nonce ([`crate::miner`]), signs the header hash ([`Block::seal`]); validators decode the
//! block, check it against the parent state ([`crate::transition::apply_block`]) and file it in
//! the [`crate::tree::BlockTree`].
//!
//! # Encoding
//!
//! ```text
//! Header (169 bytes) = height u64 || prev_hash (32) || tx_root (32) || state_root (32)
//!                      || miner public key (33) || miner_trust i64 (10^-9 units)
//!                      || timestamp_ms u64 || base_difficulty u64 || nonce u64
//! Block  = Header || signature (64) || body tag u8 || body
//!   tag 0 Transactions = u32 count (<= 65,536) || SignedTx*
//!   tag 1 Checkpoint   = State (see crate::state)
//! header hash = hash(trustband/v1/block, [Header bytes])      (SHA-256, domain-prefixed)
//! signature   = ECDSA of the miner over hash(trustband/v1/block, [header hash])
//! ```
//!
//! The header hash is both the block's id and its proof-of-trust value; the nonce is last so a
//! miner re-hashes only the tail. The miner is named by its public key (its address is
//! `miner.address()`), since an address alone cannot verify the signature. `tx_root` is the
//! Merkle root of the transactions' encodings, or for a checkpoint the state root of the body
//! (which must equal the parent's state root).
#![deny(clippy::float_arithmetic)]

use fusion::Fx;

use crate::codec::{Decode, Encode, MAX_BLOCK_TXS, Put, Reader};
use crate::crypto::{Address, Domain, PublicKey, SecretKey, Signature, hash};
use crate::digest::Hash256;
use crate::error::Error;
use crate::merkle;
use crate::state::State;
use crate::tx::{MIN_SIGNED_TX_LEN, SignedTx};

/// Encoded size of a [`Header`].
pub const HEADER_LEN: usize = 8 + 32 + 32 + 32 + 33 + 8 + 8 + 8 + 8;

/// A block header (everything but the miner's signature).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Height (genesis is 0; the first block is 1).
    pub height: u64,
    /// Hash of the parent header (the genesis hash for block 1).
    pub prev_hash: Hash256,
    /// Merkle root of the body (transactions, or the checkpoint state's root).
    pub tx_root: Hash256,
    /// Root of the state after this block.
    pub state_root: Hash256,
    /// The miner's public key.
    pub miner: PublicKey,
    /// The miner's trust in the parent state; validators recompute it.
    pub miner_trust: Fx,
    /// Milliseconds since the Unix epoch, set by the miner (injected, never read from a clock
    /// inside the state transition).
    pub timestamp_ms: u64,
    /// Base difficulty D_base of this block.
    pub base_difficulty: u64,
    /// Proof-of-trust nonce.
    pub nonce: u64,
}

impl Header {
    /// The header hash: block id and PoT value.
    #[must_use]
    pub fn hash(&self) -> Hash256 {
        Hash256(hash(Domain::Block, &[&self.to_bytes()]))
    }

    /// The miner's address.
    #[must_use]
    pub fn miner_address(&self) -> Address {
        self.miner.address()
    }
}

impl Encode for Header {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.put_u64(self.height);
        out.put_raw(&self.prev_hash.0);
        out.put_raw(&self.tx_root.0);
        out.put_raw(&self.state_root.0);
        out.put_raw(self.miner.as_bytes());
        out.put_i64(self.miner_trust.raw());
        out.put_u64(self.timestamp_ms);
        out.put_u64(self.base_difficulty);
        out.put_u64(self.nonce);
    }
}

impl Decode for Header {
    const NAME: &'static str = "header";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, Error> {
        Ok(Self {
            height: r.u64("header.height")?,
            prev_hash: r.hash("header.prev_hash")?,
            tx_root: r.hash("header.tx_root")?,
            state_root: r.hash("header.state_root")?,
            miner: r.public_key("header.miner")?,
            miner_trust: r.fx("header.miner_trust")?,
            timestamp_ms: r.u64("header.timestamp_ms")?,
            base_difficulty: r.u64("header.base_difficulty")?,
            nonce: r.u64("header.nonce")?,
        })
    }
}

/// A block body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// An ordinary block's transactions, applied in order.
    Transactions(Vec<SignedTx>),
    /// A checkpoint: the full state after the parent block.
    Checkpoint(Box<State>),
}

impl Body {
    /// The root the header's `tx_root` must equal.
    #[must_use]
    pub fn root(&self) -> Hash256 {
        match self {
            Body::Transactions(txs) => tx_root(txs),
            Body::Checkpoint(state) => state.root(),
        }
    }

    /// The transactions (none for a checkpoint).
    #[must_use]
    pub fn transactions(&self) -> &[SignedTx] {
        match self {
            Body::Transactions(txs) => txs,
            Body::Checkpoint(_) => &[],
        }
    }
}

/// Merkle root over the transactions' canonical encodings.
#[must_use]
pub fn tx_root(txs: &[SignedTx]) -> Hash256 {
    let leaves: Vec<Hash256> = txs
        .iter()
        .map(|tx| merkle::leaf_hash(&tx.to_bytes()))
        .collect();
    merkle::root(&leaves)
}

/// A complete block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The header.
    pub header: Header,
    /// The miner's signature over the header hash.
    pub signature: Signature,
    /// Transactions or a checkpoint state.
    pub body: Body,
}

impl Block {
    /// Signs `header` (with its final nonce) as `key` and joins it to `body`.
    ///
    /// # Errors
    ///
    /// [`Error::BadSignature`] (domain `trustband/v1/block`) if `key` is not `header.miner`;
    /// [`Error::SigningFailed`].
    pub fn seal(header: Header, body: Body, key: &SecretKey) -> Result<Self, Error> {
        if *key.public_key() != header.miner {
            return Err(Error::BadSignature {
                domain: Domain::Block.tag(),
            });
        }
        let signature = key.sign(Domain::Block, &header.hash().0)?;
        Ok(Self {
            header,
            signature,
            body,
        })
    }

    /// The block id (header hash).
    #[must_use]
    pub fn hash(&self) -> Hash256 {
        self.header.hash()
    }

    /// Checks the miner's signature over the header hash.
    ///
    /// # Errors
    ///
    /// [`Error::BadSignature`] (domain `trustband/v1/block`).
    pub fn verify_signature(&self) -> Result<(), Error> {
        self.header
            .miner
            .verify(Domain::Block, &self.hash().0, &self.signature)
    }

    /// Whether the body is a checkpoint.
    #[must_use]
    pub fn is_checkpoint(&self) -> bool {
        matches!(self.body, Body::Checkpoint(_))
    }
}

impl Encode for Block {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.header.encode_to(out);
        out.put_raw(&self.signature.to_bytes());
        match &self.body {
            Body::Transactions(txs) => {
                out.put_u8(0);
                out.put_len(txs.len());
                for tx in txs {
                    tx.encode_to(out);
                }
            }
            Body::Checkpoint(state) => {
                out.put_u8(1);
                state.encode_to(out);
            }
        }
    }
}

impl Decode for Block {
    const NAME: &'static str = "block";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, Error> {
        let header = Header::decode_from(r)?;
        let signature = r.signature("block.signature")?;
        let body = match r.u8("block.body")? {
            0 => {
                let n = r.len("block.txs", MAX_BLOCK_TXS, MIN_SIGNED_TX_LEN)?;
                let txs = (0..n)
                    .map(|_| SignedTx::decode_from(r))
                    .collect::<Result<Vec<_>, _>>()?;
                Body::Transactions(txs)
            }
            1 => Body::Checkpoint(Box::new(State::decode_from(r)?)),
            tag => {
                return Err(Error::UnknownTag {
                    field: "block.body",
                    tag,
                });
            }
        };
        Ok(Self {
            header,
            signature,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::tx::UnsignedTx;

    #[test]
    fn header_layout_and_seal() {
        let key = SecretKey::from_seed(&[3; 32]).unwrap();
        let header = Header {
            height: 1,
            prev_hash: Hash256([1; 32]),
            tx_root: Hash256([2; 32]),
            state_root: Hash256([3; 32]),
            miner: *key.public_key(),
            miner_trust: Fx::HALF,
            timestamp_ms: 5,
            base_difficulty: 9,
            nonce: 0x0102,
        };
        let bytes = header.to_bytes();
        assert_eq!(bytes.len(), HEADER_LEN);
        // The nonce is the last field.
        assert_eq!(&bytes[HEADER_LEN - 8..], &0x0102u64.to_be_bytes());
        let tx = SignedTx::sign(
            UnsignedTx::transfer(*key.public_key(), 0, 1, Address::from_bytes([4; 20]), 2),
            &key,
            &crate::Hash256::ZERO,
        )
        .unwrap();
        let block = Block::seal(header, Body::Transactions(vec![tx]), &key).unwrap();
        block.verify_signature().unwrap();
        assert_eq!(Block::from_bytes(&block.to_bytes()).unwrap(), block);
        // The signature covers the header: any change breaks it.
        let mut moved = block.clone();
        moved.header.timestamp_ms += 1;
        assert_eq!(
            moved.verify_signature(),
            Err(Error::BadSignature {
                domain: "trustband/v1/block"
            })
        );
        let other = SecretKey::from_seed(&[4; 32]).unwrap();
        assert!(Block::seal(header, Body::Transactions(vec![]), &other).is_err());
    }
}
