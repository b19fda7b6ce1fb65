//! trustband-chain: the local Proof-of-Trust (PoT) blockchain the lab's nodes run.
//!
//! Purpose: record sensing reports, fused channel decisions, spectrum auctions and leases on a
//! chain that every node validates, with trust (paper A) lowering a reliable miner's work.
//!
//! Data flow (SPEC sections 3-6):
//! - [`crypto`]: domain-separated hashes, account keys and ECDSA signatures, addresses, LSAG
//!   ring signatures with per-event key images, identity and sealed-bid commitments.
//! - ledger: [`tx`] (signed transactions, open for contract calls), [`block`] (header, body,
//!   checkpoint bodies), [`state`] (accounts with fusion's trust records, contract slots,
//!   Merkle state root and inclusion proofs), [`params`] (chain parameters, genesis), all in
//!   the canonical encoding of [`codec`] over the Merkle trees of [`merkle`].
//! - consensus: [`pot`] (trust-scaled targets, retarget), [`transition`] (the pure
//!   `apply_block`), [`miner`] (parallel, cancellable, deterministic nonce search),
//!   [`forkchoice`] (cumulative work, then paper A's Algorithm 1), [`tree`] (blocks in any
//!   order, reorgs, Trust-Based Compression pruning).
//! - storage: [`store`] (redb, every acknowledged block durable, re-validation on open).
//! - [`mod@bench`]: throughput figures for `trustband chain bench`.
//! - [`contracts`]: the cooperative sensing contract, the spectrum auction and leases, run by
//!   `apply_block` on [`tx::TxPayload::Contract`] calls, anonymous [`tx::TxPayload::Upload`]
//!   reports and an end-of-block hook; their state lives in the state's contract slots and
//!   their typed events in the block's [`Receipt`].
//! - [`net`]: the transport-agnostic network interface (gossip of transactions and blocks,
//!   block and checkpoint sync requests), a deterministic simulated network and libp2p.
//!
//! Consensus modules deny `clippy::float_arithmetic`: nodes on x86 and ARM agree bit for bit.
//!
//! Errors: every fallible function returns the crate's one error type, [`Error`].

pub mod bench;
pub mod block;
pub mod codec;
pub mod contracts;
pub mod crypto;
pub mod devnet;
pub mod digest;
pub mod economics;
pub mod error;
pub mod forkchoice;
pub mod merkle;
pub mod miner;
pub mod net;
pub mod params;
pub mod pot;
pub mod state;
pub mod store;
pub mod transition;
pub mod tree;
pub mod tx;

pub use block::{Block, Body, Header};
pub use digest::Hash256;
pub use error::Error;
pub use params::{ChainParams, Genesis, GenesisAccount, GenesisConfig};
pub use state::{Account, State, verify_proof};
pub use store::{ChainStore, ChainSummary, verify_store};
pub use transition::{BlockCtx, Receipt, Verification, apply_block};
pub use tree::{BlockTree, InsertOutcome, TreeConfig};
pub use tx::{SignedTx, TxPayload, UnsignedTx};
