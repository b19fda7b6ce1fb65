//! `trustband chain ...`: check a node's stored chain, benchmark the validating node, and the
//! crash-test writer.
//!
//! Data flow: each command is a plain function over an argument struct, writing `key: value`
//! lines to the given output, so `src/cli.rs` and the tests call the same code:
//! - [`verify`] (`chain verify --data-dir DIR`): re-validates the chain in `DIR` from its
//!   genesis or checkpoint root ([`chain::verify_store`]) and prints height, head hash and
//!   state root; a missing or corrupted store is a [`crate::BadInput`] (exit 2) naming what is
//!   wrong;
//! - [`bench`] (`chain bench`): prints `transfers_per_s: N` (signed transfers decoded, checked
//!   on 2 threads, applied and committed to redb, one fsync per block) and
//!   `ring16_verify_ms: X`;
//! - [`crash_writer`] (hidden `chain crash-writer --data-dir DIR`): appends blocks to a fixed
//!   development chain and prints `ack <height> <hash>` after each durable commit; the crash
//!   test kills it with SIGKILL and checks every acknowledged block survived.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use chain::bench::{ThroughputConfig, transfer_throughput};
use chain::devnet::{Devnet, produce_block};
use chain::{ChainParams, ChainStore, ChainSummary, TreeConfig, Verification};
use fusion::Fx;

use crate::bad_input;

/// Arguments of `trustband chain verify`.
#[derive(Debug, Clone)]
pub struct VerifyArgs {
    /// The node's data directory (holding `chain.redb`).
    pub data_dir: PathBuf,
}

/// Re-validates the stored chain and prints `root`, `height`, `head`, `state_root`, `work` and
/// `blocks` lines.
///
/// # Errors
///
/// [`crate::BadInput`] (exit 2) if the directory holds no chain or the chain is corrupt (the
/// message names the table, key and problem); an I/O error writing `out`.
pub fn verify(args: &VerifyArgs, out: &mut dyn Write) -> anyhow::Result<ChainSummary> {
    let summary = chain::verify_store(&args.data_dir).map_err(|e| {
        bad_input(format!(
            "chain store in {} failed verification: {e}",
            args.data_dir.display()
        ))
    })?;
    let kind = if summary.root_is_checkpoint {
        "checkpoint"
    } else {
        "genesis"
    };
    writeln!(
        out,
        "root: {kind} {} (height {})",
        summary.root, summary.root_height
    )?;
    writeln!(out, "height: {}", summary.height)?;
    writeln!(out, "head: {}", summary.head)?;
    writeln!(out, "state_root: {}", summary.state_root)?;
    writeln!(out, "work: {}", summary.work)?;
    writeln!(out, "blocks: {}", summary.blocks)?;
    Ok(summary)
}

/// Arguments of `trustband chain bench`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BenchArgs {
    /// Transfers in total.
    pub transfers: usize,
    /// Transfers per block (one redb commit each).
    pub per_block: usize,
    /// Funded accounts.
    pub accounts: usize,
    /// Signature-checking threads.
    pub threads: usize,
}

impl Default for BenchArgs {
    fn default() -> Self {
        let d = ThroughputConfig::default();
        Self {
            transfers: d.transfers,
            per_block: d.per_block,
            accounts: d.accounts,
            threads: d.threads,
        }
    }
}

/// Runs the node throughput and ring-signature benchmarks (use a release build) and prints
/// `transfers_per_s: N`, `ring16_verify_ms: X` and `nonce_search_per_thread_per_s: H` among
/// other lines.
///
/// # Errors
///
/// [`crate::BadInput`] for zero sizes; chain errors (none expected); I/O errors.
pub fn bench(args: &BenchArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    if args.transfers == 0 || args.per_block == 0 || args.accounts < 2 || args.threads == 0 {
        return Err(bad_input(
            "chain bench: transfers, per-block and threads must be positive, accounts >= 2",
        ));
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!(
        "trustband-chain-bench-{}-{nanos}",
        std::process::id()
    ));
    let config = ThroughputConfig {
        accounts: args.accounts,
        transfers: args.transfers,
        per_block: args.per_block,
        threads: args.threads,
    };
    let result = transfer_throughput(&dir, &config);
    // Best effort: the benchmark's database is scratch.
    let _ = std::fs::remove_dir_all(&dir);
    let report = result.context("chain throughput benchmark")?;
    let ring = chain::crypto::bench::ring16_verify_ms().context("ring signature benchmark")?;
    let hash_rate = chain::bench::nonce_search_rate(1_000_000).context("nonce search benchmark")?;
    writeln!(
        out,
        "transfers: {} in {} blocks, {} signature threads, one redb commit (fsync) per block",
        report.transfers, report.blocks, args.threads
    )?;
    writeln!(out, "seconds: {:.3}", report.seconds)?;
    writeln!(out, "transfers_per_s: {:.0}", report.transfers_per_s)?;
    writeln!(out, "ring16_verify_ms: {ring:.3}")?;
    // `mining = "hash"`: a block takes D_base · g(T) / (rate · threads) seconds on average.
    writeln!(out, "nonce_search_per_thread_per_s: {hash_rate:.0}")?;
    Ok(())
}

/// Arguments of the hidden `trustband chain crash-writer`.
#[derive(Debug, Clone)]
pub struct CrashWriterArgs {
    /// Data directory (created, or continued if it holds the crash-test chain).
    pub data_dir: PathBuf,
    /// Blocks to append before exiting.
    pub blocks: u64,
    /// Transfers per block (at most the number of accounts, 8).
    pub txs_per_block: usize,
}

/// Accounts of the crash-test chain.
pub const CRASH_ACCOUNTS: usize = 8;

/// The crash-test chain: 8 seeded accounts, account 0 with trust 0.9 (the highest, so it may
/// mine checkpoints) and the others 0.5; base difficulty 1; a checkpoint every 200 blocks,
/// confirmed (and pruned behind) at depth 10, so crashes also hit pruning commits.
///
/// # Errors
///
/// Key derivation errors (negligible).
pub fn crash_devnet() -> Result<Devnet, chain::Error> {
    let params = ChainParams {
        checkpoint_interval: 200,
        checkpoint_confirmations: 10,
        retarget_interval: 10,
        ..ChainParams::default()
    };
    Devnet::new(
        CRASH_ACCOUNTS,
        1 << 40,
        |i| {
            if i == 0 {
                Fx::from_raw(900_000_000)
            } else {
                Fx::HALF
            }
        },
        1,
        1_700_000_000_000,
        params,
    )
}

/// Appends `blocks` blocks mined by account 0 to the crash-test chain in `data_dir`, printing
/// `ack <height> <hash>` (and flushing) after each block's commit returned. Block timestamps
/// are the parent's plus 1 s, so the chain does not depend on the clock.
///
/// # Errors
///
/// [`crate::BadInput`] if `data_dir` holds another chain or is corrupt; chain and I/O errors.
pub fn crash_writer(args: &CrashWriterArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let net = crash_devnet()?;
    let config = TreeConfig {
        verification: Verification::Full { threads: 1 },
        auto_prune: true,
    };
    let mut store = ChainStore::open_or_create(&args.data_dir, &net.genesis, config)
        .map_err(|e| bad_input(format!("{}: {e}", args.data_dir.display())))?;
    let miner = net.key(0)?;
    let per_block = args.txs_per_block.min(CRASH_ACCOUNTS);
    for _ in 0..args.blocks {
        let parent = store.tree().head();
        let state = store.head_state()?;
        let height = state.meta.height + 1;
        let txs = (0..per_block)
            .map(|i| {
                let from =
                    usize::try_from(height % 8).unwrap_or(0).wrapping_add(i) % CRASH_ACCOUNTS;
                let to = (from + 1) % CRASH_ACCOUNTS;
                let nonce = state.nonce(&net.address(from)?);
                net.transfer(from, to, nonce, 10, 1)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (block, _) = produce_block(
            &state,
            parent,
            miner,
            state.meta.timestamp_ms + 1_000,
            &txs,
            store.tree().params(),
            Verification::Full { threads: 1 },
        )?;
        let hash = block.hash();
        let outcome = store.insert(block, None)?;
        anyhow::ensure!(
            outcome.connected.first() == Some(&hash),
            "block {hash} was not connected: {:?}",
            outcome.status
        );
        writeln!(out, "ack {height} {hash}")?;
        out.flush()?;
    }
    Ok(())
}
