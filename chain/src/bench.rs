//! Throughput of the validating, durable node: `transfers_per_s` for `trustband chain bench`.
//!
//! What is timed: a node receiving encoded blocks of signed transfers decodes each block,
//! checks every signature (in parallel on `threads` threads), applies the transfers, checks the
//! state root, and commits the block to redb with an fsync before taking the next one
//! ([`ChainStore::insert`]). Not timed: generating keys, signing the transfers and building the
//! blocks (a producer's work), and creating the database. Run on a release build.

use std::path::Path;
use std::time::Instant;

use fusion::Fx;

use crate::block::Block;
use crate::codec::{Decode, Encode};
use crate::devnet::{Devnet, produce_block};
use crate::error::Error;
use crate::params::ChainParams;
use crate::store::ChainStore;
use crate::transition::Verification;
use crate::tree::{InsertStatus, TreeConfig};
use crate::tx::SignedTx;

/// Size of a throughput run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThroughputConfig {
    /// Funded accounts (senders and recipients).
    pub accounts: usize,
    /// Transfers in total.
    pub transfers: usize,
    /// Transfers per block.
    pub per_block: usize,
    /// Signature-checking threads of the validating node.
    pub threads: usize,
}

impl Default for ThroughputConfig {
    fn default() -> Self {
        Self {
            accounts: 1000,
            transfers: 20_000,
            per_block: 1000,
            threads: 2,
        }
    }
}

/// Result of a throughput run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThroughputReport {
    /// Transfers validated, applied and committed.
    pub transfers: usize,
    /// Blocks committed (one fsync each).
    pub blocks: usize,
    /// Wall time of the timed part, seconds.
    pub seconds: f64,
    /// `transfers / seconds`.
    pub transfers_per_s: f64,
}

/// Signs `count` round-robin transfers (key `k % n` pays key `(k + 1) % n`), in parallel.
fn sign_transfers(net: &Devnet, count: usize, threads: usize) -> Result<Vec<SignedTx>, Error> {
    let n = net.keys.len().max(1);
    let make = |k: usize| {
        let nonce = u64::try_from(k / n).unwrap_or(u64::MAX);
        net.transfer(k % n, (k + 1) % n, nonce, 1, 1)
    };
    let chunk = count.div_ceil(threads.max(1)).max(1);
    let parts = crossbeam::scope(|scope| {
        let handles: Vec<_> = (0..count)
            .step_by(chunk)
            .map(|start| {
                scope.spawn(move |_| {
                    (start..(start + chunk).min(count))
                        .map(make)
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or(Err(Error::SigningFailed { scheme: "ecdsa" }))
            })
            .collect::<Result<Vec<_>, _>>()
    })
    .unwrap_or(Err(Error::SigningFailed { scheme: "ecdsa" }))?;
    Ok(parts.into_iter().flatten().collect())
}

/// Builds the encoded blocks of a run (untimed producer work).
///
/// # Errors
///
/// Key, signing or block-building errors (none expected).
pub fn prepare_blocks(config: &ThroughputConfig) -> Result<(Devnet, Vec<Vec<u8>>), Error> {
    let per_block = config.per_block.max(1);
    let params = ChainParams {
        block_reward: 0,
        checkpoint_interval: 0,
        retarget_interval: u32::MAX,
        max_block_txs: u32::try_from(per_block).unwrap_or(u32::MAX),
        ..ChainParams::default()
    };
    let net = Devnet::new(
        config.accounts.max(2),
        1 << 60,
        |_| Fx::HALF,
        1,
        1_000,
        params,
    )?;
    let genesis = net.genesis.build()?;
    let txs = sign_transfers(&net, config.transfers, config.threads.max(2))?;
    let mut state = genesis.state.clone();
    let mut parent = genesis.hash;
    let mut encoded = Vec::new();
    for (i, chunk) in txs.chunks(per_block).enumerate() {
        let miner = net.key(i % net.keys.len())?;
        let (block, template) = produce_block(
            &state,
            parent,
            miner,
            state.meta.timestamp_ms + 1_000,
            chunk,
            &genesis.params,
            Verification::Trusted,
        )?;
        if template.included != chunk.len() {
            return Err(Error::LimitExceeded {
                what: "transfers rejected while preparing the benchmark",
                limit: 0,
                got: u64::try_from(template.rejected.len()).unwrap_or(u64::MAX),
            });
        }
        parent = block.hash();
        state = template.post_state;
        encoded.push(block.to_bytes());
    }
    Ok((net, encoded))
}

/// Runs the benchmark with its database in `dir` (which must not hold a chain yet).
///
/// # Errors
///
/// Preparation errors; any validation or storage error of the timed part.
pub fn transfer_throughput(
    dir: &Path,
    config: &ThroughputConfig,
) -> Result<ThroughputReport, Error> {
    let (net, blocks) = prepare_blocks(config)?;
    let tree_config = TreeConfig {
        verification: Verification::Full {
            threads: config.threads.max(1),
        },
        auto_prune: true,
    };
    let mut store = ChainStore::create(dir, &net.genesis, tree_config)?;
    let mut transfers = 0usize;
    let start = Instant::now();
    for bytes in &blocks {
        let block = Block::from_bytes(bytes)?;
        let count = block.body.transactions().len();
        let outcome = store.insert(block, None)?;
        if outcome.status != InsertStatus::Connected {
            return Err(Error::UnknownBlock {
                block: store.tree().head(),
            });
        }
        transfers += count;
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok(ThroughputReport {
        transfers,
        blocks: blocks.len(),
        seconds,
        transfers_per_s: if seconds > 0.0 {
            transfers as f64 / seconds
        } else {
            0.0
        },
    })
}

/// Nonce-search speed of one thread: header hashes checked against a Proof-of-Trust target per
/// second, over `hashes` consecutive nonces of a fixed template (what a `mining = "hash"` node
/// does per worker thread). Divide `D_base · g(T)` by it for a block's expected seconds.
///
/// # Errors
/// [`Error::InvalidConfig`] for `hashes == 0`; key derivation errors (none expected).
pub fn nonce_search_rate(hashes: u64) -> Result<f64, Error> {
    if hashes == 0 {
        return Err(Error::InvalidConfig {
            field: "hashes",
            reason: "must be positive".to_owned(),
        });
    }
    let key = crate::crypto::SecretKey::from_seed(&[7; 32])?;
    let mut header = crate::block::Header {
        height: 1,
        prev_hash: crate::digest::Hash256([1; 32]),
        tx_root: crate::digest::Hash256([2; 32]),
        state_root: crate::digest::Hash256([3; 32]),
        miner: *key.public_key(),
        miner_trust: Fx::HALF,
        timestamp_ms: 1,
        // A target nothing meets: every nonce is hashed and compared.
        base_difficulty: u64::MAX,
        nonce: 0,
    };
    let target = crate::pot::target(header.base_difficulty, header.miner_trust);
    let start = Instant::now();
    let mut met = 0u64;
    for nonce in 0..hashes {
        header.nonce = nonce;
        met += u64::from(crate::pot::meets_target(&header.hash(), &target));
    }
    let seconds = start.elapsed().as_secs_f64();
    // Keeps the loop from being optimised away.
    std::hint::black_box(met);
    #[allow(clippy::cast_precision_loss)]
    Ok(hashes as f64 / seconds.max(1e-9))
}
