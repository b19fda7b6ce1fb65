//! Durable chain storage in redb, and the validating node state built on it.
//!
//! Data flow: [`ChainStore::insert`] hands a block to the in-memory [`BlockTree`] (validation,
//! fork choice, pruning); if blocks joined the tree it writes them, the height index of the best
//! chain, the head and any pruning in **one redb write transaction committed with
//! `Durability::Immediate`** (fsync) and only then returns: a returned `Ok` is the block's
//! acknowledgement, and an acknowledged block survives any crash, SIGKILL included (redb
//! commits are atomic and crash-safe). [`ChainStore::insert_batch`] does the same for many
//! blocks with one commit.
//!
//! Reopening ([`ChainStore::open`], also [`verify_store`] for `trustband chain verify`) trusts
//! nothing on disk: it checks the root (the genesis state must hash to the stored genesis hash;
//! a checkpoint root is re-validated on its own body), re-validates every stored block in
//! height order from the root, and checks the stored head and height index against the result.
//! Any mismatch is an [`Error::CorruptStore`] naming the table, key and problem.
//!
//! Tables (file `chain.redb` in the data directory):
//!
//! | table       | key             | value                                                    |
//! |-------------|-----------------|----------------------------------------------------------|
//! | `blocks`    | block hash (32) | canonical block encoding (every block above the root)     |
//! | `heights`   | height (u64)    | hash of the best chain's block at that height (root too) |
//! | `snapshots` | block hash (32) | canonical state encoding: the root's post-state           |
//! | `meta`      | name            | `format`, `params`, `root`, `root_block`, `head`          |
//!
//! Pruning (Trust-Based Compression): when the tree re-roots at a confirmed checkpoint, the
//! same commit deletes the blocks below it, stores the checkpoint block as `root_block` and its
//! post-state as the only snapshot; a node can also start from a trusted checkpoint
//! ([`ChainStore::create_from_checkpoint`]).

#![deny(clippy::float_arithmetic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::block::{Block, Body};
use crate::codec::{Decode, Encode};
use crate::digest::Hash256;
use crate::error::Error;
use crate::params::{ChainParams, Genesis, GenesisConfig};
use crate::state::State;
use crate::transition::{BlockCtx, apply_block};
use crate::tree::{BlockTree, InsertOutcome, InsertStatus, TreeConfig};

/// File name of the database inside a data directory.
pub const DB_FILE: &str = "chain.redb";
/// Name of the database while it is being created.
const TMP_DB_FILE: &str = "chain.redb.creating";
/// Value of `meta.format` (2: the parameters carry the chain id every signature is bound to).
pub const FORMAT: &[u8] = b"trustband-chain/2";

const BLOCKS: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("blocks");
const HEIGHTS: TableDefinition<u64, [u8; 32]> = TableDefinition::new("heights");
const SNAPSHOTS: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("snapshots");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

fn storage<E: core::fmt::Display>(op: &'static str) -> impl Fn(E) -> Error {
    move |e| Error::Storage {
        op,
        reason: e.to_string(),
    }
}

fn corrupt(table: &'static str, key: impl ToString, reason: impl ToString) -> Error {
    Error::CorruptStore {
        table,
        key: key.to_string(),
        reason: reason.to_string(),
    }
}

/// What a chain looks like: for `trustband chain verify` and reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSummary {
    /// Genesis hash or checkpoint hash the chain is validated from.
    pub root: Hash256,
    /// Height of the root.
    pub root_height: u64,
    /// Whether the root is a checkpoint (else genesis).
    pub root_is_checkpoint: bool,
    /// Best block.
    pub head: Hash256,
    /// Its height.
    pub height: u64,
    /// State root after it.
    pub state_root: Hash256,
    /// Cumulative `D_base` of the best chain above the root.
    pub work: u128,
    /// Blocks in the tree (root included).
    pub blocks: usize,
}

/// A validating, durable chain: a [`BlockTree`] mirrored in a redb file.
#[derive(Debug)]
pub struct ChainStore {
    db: Database,
    tree: BlockTree,
    path: PathBuf,
}

impl ChainStore {
    /// Creates a new chain in `dir` (created if missing) from a genesis config.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] if `dir` already holds a chain or the config is invalid;
    /// [`Error::Storage`] on I/O errors.
    pub fn create(dir: &Path, genesis: &GenesisConfig, config: TreeConfig) -> Result<Self, Error> {
        let genesis = genesis.build()?;
        let tree = BlockTree::new(&genesis, config);
        Self::create_with(dir, tree, &genesis.params, None, &genesis.state)
    }

    /// Creates a new chain in `dir` starting from a trusted checkpoint block (its hash should
    /// be checked against a trusted source by the caller), fully validated on its own body.
    ///
    /// # Errors
    ///
    /// As [`ChainStore::create`]; validation errors of the checkpoint.
    pub fn create_from_checkpoint(
        dir: &Path,
        checkpoint: Block,
        params: ChainParams,
        config: TreeConfig,
    ) -> Result<Self, Error> {
        let mut tree = BlockTree::from_checkpoint(checkpoint, params.clone(), config)?;
        let root = tree.root();
        let state = tree.state_of(&root)?;
        let block = tree.block(&root);
        Self::create_with(dir, tree, &params, block.as_deref(), &state)
    }

    fn create_with(
        dir: &Path,
        tree: BlockTree,
        params: &ChainParams,
        root_block: Option<&Block>,
        root_state: &State,
    ) -> Result<Self, Error> {
        std::fs::create_dir_all(dir).map_err(storage("create data directory"))?;
        let path = dir.join(DB_FILE);
        if path.exists() {
            return Err(Error::InvalidConfig {
                field: "data_dir",
                reason: format!("{} already holds a chain", path.display()),
            });
        }
        // Build the database under a temporary name and rename it into place once its first
        // commit is durable: a crash during creation leaves no half-made `chain.redb`.
        let tmp = dir.join(TMP_DB_FILE);
        if tmp.exists() {
            std::fs::remove_file(&tmp).map_err(storage("remove stale temporary database"))?;
        }
        let db = Database::create(&tmp).map_err(storage("create database"))?;
        let root = tree.root();
        let txn = db.begin_write().map_err(storage("begin write"))?;
        {
            let mut meta = txn.open_table(META).map_err(storage("open meta"))?;
            meta.insert("format", FORMAT)
                .map_err(storage("write meta"))?;
            meta.insert("params", params.to_bytes().as_slice())
                .map_err(storage("write meta"))?;
            meta.insert("root", root.0.as_slice())
                .map_err(storage("write meta"))?;
            let root_bytes = root_block.map(Encode::to_bytes).unwrap_or_default();
            meta.insert("root_block", root_bytes.as_slice())
                .map_err(storage("write meta"))?;
            meta.insert("head", root.0.as_slice())
                .map_err(storage("write meta"))?;
            let mut snapshots = txn
                .open_table(SNAPSHOTS)
                .map_err(storage("open snapshots"))?;
            snapshots
                .insert(root.0, root_state.to_bytes().as_slice())
                .map_err(storage("write snapshot"))?;
            let mut heights = txn.open_table(HEIGHTS).map_err(storage("open heights"))?;
            heights
                .insert(root_state.meta.height, root.0)
                .map_err(storage("write heights"))?;
            txn.open_table(BLOCKS).map_err(storage("open blocks"))?;
        }
        txn.commit().map_err(storage("commit"))?;
        drop(db);
        std::fs::rename(&tmp, &path).map_err(storage("rename database into place"))?;
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(storage("sync data directory"))?;
        let db = Database::open(&path).map_err(storage("open database"))?;
        Ok(Self { db, tree, path })
    }

    /// Opens `dir`'s chain and re-validates it from its root (see the module docs).
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] if the file cannot be opened; [`Error::CorruptStore`] naming what is
    /// inconsistent.
    pub fn open(dir: &Path, config: TreeConfig) -> Result<Self, Error> {
        guard_engine("open database", || Self::open_unguarded(dir, config))
    }

    fn open_unguarded(dir: &Path, config: TreeConfig) -> Result<Self, Error> {
        let path = dir.join(DB_FILE);
        if !path.exists() {
            return Err(Error::Storage {
                op: "open database",
                reason: format!("{} does not exist", path.display()),
            });
        }
        let db = Database::open(&path).map_err(storage("open database"))?;
        let tree = load_tree(&db, config)?;
        let mut store = Self { db, tree, path };
        if config.auto_prune
            && let Some(checkpoint) = store.tree.confirmed_checkpoint()
        {
            let report = store.tree.prune_to(checkpoint)?;
            let outcome = InsertOutcome {
                status: InsertStatus::Connected,
                connected: Vec::new(),
                rejected: Vec::new(),
                head_change: None,
                pruned: Some(report),
            };
            store.persist(&[outcome])?;
        }
        Ok(store)
    }

    /// Opens `dir`'s chain if it has one, otherwise creates it from `genesis`. An existing
    /// chain rooted at genesis must have been created from the same config.
    ///
    /// # Errors
    ///
    /// As [`ChainStore::open`] and [`ChainStore::create`]; [`Error::InvalidConfig`] if the
    /// stored genesis differs from `genesis`.
    pub fn open_or_create(
        dir: &Path,
        genesis: &GenesisConfig,
        config: TreeConfig,
    ) -> Result<Self, Error> {
        if !dir.join(DB_FILE).exists() {
            return Self::create(dir, genesis, config);
        }
        let store = Self::open(dir, config)?;
        let built = genesis.build()?;
        // The chain id is a hash of the genesis: a different one is another genesis, even for
        // a store rooted at a checkpoint (whose root is not the genesis hash).
        let stored_id = store.tree.params().chain_id;
        if stored_id != built.params.chain_id {
            return Err(Error::InvalidConfig {
                field: "genesis",
                reason: format!(
                    "the chain in {} has chain id {stored_id}, the config's genesis gives {}",
                    dir.display(),
                    built.params.chain_id
                ),
            });
        }
        if *store.tree.params() != built.params {
            return Err(Error::InvalidConfig {
                field: "params",
                reason: format!(
                    "the chain in {} was created with other parameters",
                    dir.display()
                ),
            });
        }
        if store.tree.root_height() == 0 && store.tree.root() != built.hash {
            return Err(Error::InvalidConfig {
                field: "genesis",
                reason: format!(
                    "the chain in {} has genesis {}, the config gives {}",
                    dir.display(),
                    store.tree.root(),
                    built.hash
                ),
            });
        }
        Ok(store)
    }

    /// Validates and files `block`; when it (and any orphans it unlocked) joined the tree, the
    /// change is committed durably before this returns.
    ///
    /// # Errors
    ///
    /// Validation errors from [`BlockTree::insert`] (nothing is written); [`Error::Storage`]
    /// if the commit fails (the in-memory tree is then ahead of the disk: reopen).
    pub fn insert(&mut self, block: Block, now_ms: Option<u64>) -> Result<InsertOutcome, Error> {
        let outcome = self.tree.insert(block, now_ms)?;
        if !outcome.connected.is_empty() || outcome.pruned.is_some() {
            self.persist(core::slice::from_ref(&outcome))?;
        }
        Ok(outcome)
    }

    /// Files several blocks and commits them together (one fsync). Each block's result is
    /// returned in order; invalid blocks are skipped. Every `Ok` is durable once this returns
    /// `Ok`.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] if the commit fails.
    pub fn insert_batch(
        &mut self,
        blocks: impl IntoIterator<Item = Block>,
        now_ms: Option<u64>,
    ) -> Result<Vec<Result<InsertOutcome, Error>>, Error> {
        let results: Vec<Result<InsertOutcome, Error>> = blocks
            .into_iter()
            .map(|b| self.tree.insert(b, now_ms))
            .collect();
        let changed: Vec<InsertOutcome> = results
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .filter(|o| !o.connected.is_empty() || o.pruned.is_some())
            .cloned()
            .collect();
        if !changed.is_empty() {
            self.persist(&changed)?;
        }
        Ok(results)
    }

    /// Writes the effect of `outcomes` (in order) in one durable transaction.
    fn persist(&self, outcomes: &[InsertOutcome]) -> Result<(), Error> {
        let txn = self.db.begin_write().map_err(storage("begin write"))?;
        {
            let mut blocks = txn.open_table(BLOCKS).map_err(storage("open blocks"))?;
            let mut heights = txn.open_table(HEIGHTS).map_err(storage("open heights"))?;
            let mut meta = txn.open_table(META).map_err(storage("open meta"))?;
            let mut snapshots = txn
                .open_table(SNAPSHOTS)
                .map_err(storage("open snapshots"))?;
            for outcome in outcomes {
                for hash in &outcome.connected {
                    if let Some(block) = self.tree.block(hash) {
                        blocks
                            .insert(hash.0, block.to_bytes().as_slice())
                            .map_err(storage("write block"))?;
                    }
                }
                if let Some(change) = &outcome.head_change {
                    // The new branch overwrites every height from the fork point up; heights
                    // above the final head are cleared once, after the loop.
                    for hash in &change.applied {
                        if let Some(block) = self.tree.block(hash) {
                            heights
                                .insert(block.header.height, hash.0)
                                .map_err(storage("write heights"))?;
                        }
                    }
                }
                if let Some(pruned) = &outcome.pruned {
                    for hash in &pruned.removed {
                        blocks.remove(hash.0).map_err(storage("prune blocks"))?;
                    }
                    heights
                        .retain_in(..pruned.root_height, |_, _| false)
                        .map_err(storage("prune heights"))?;
                    snapshots
                        .retain(|_, _| false)
                        .map_err(storage("prune snapshots"))?;
                    let root = pruned.new_root;
                    let root_block = self
                        .tree
                        .block(&root)
                        .ok_or(Error::UnknownBlock { block: root })?;
                    // The root's state is always kept by the tree.
                    let state = self.tree_root_state()?;
                    snapshots
                        .insert(root.0, state.to_bytes().as_slice())
                        .map_err(storage("write snapshot"))?;
                    blocks.remove(root.0).map_err(storage("prune blocks"))?;
                    meta.insert("root", root.0.as_slice())
                        .map_err(storage("write meta"))?;
                    meta.insert("root_block", root_block.to_bytes().as_slice())
                        .map_err(storage("write meta"))?;
                }
            }
            heights
                .retain_in(self.tree.head_height().saturating_add(1).., |_, _| false)
                .map_err(storage("write heights"))?;
            meta.insert("head", self.tree.head().0.as_slice())
                .map_err(storage("write meta"))?;
        }
        txn.commit().map_err(storage("commit"))
    }

    fn tree_root_state(&self) -> Result<Arc<State>, Error> {
        // `state_of` needs `&mut` to cache rebuilt states; the root always has its state, so a
        // clone of the tree is never needed: read it through a small shim.
        self.tree.root_state().ok_or(Error::UnknownBlock {
            block: self.tree.root(),
        })
    }

    /// The block tree (read access).
    #[must_use]
    pub fn tree(&self) -> &BlockTree {
        &self.tree
    }

    /// The state after the best block.
    ///
    /// # Errors
    ///
    /// As [`BlockTree::state_of`].
    pub fn head_state(&mut self) -> Result<Arc<State>, Error> {
        self.tree.head_state()
    }

    /// The database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Summary of the best chain.
    #[must_use]
    pub fn summary(&self) -> ChainSummary {
        let root = self.tree.root();
        ChainSummary {
            root,
            root_height: self.tree.root_height(),
            root_is_checkpoint: self.tree.block(&root).is_some(),
            head: self.tree.head(),
            height: self.tree.head_height(),
            state_root: self.tree.head_state_root(),
            work: self.tree.head_work(),
            blocks: self.tree.len(),
        }
    }

    /// Reads a block straight from the database (not the in-memory tree).
    ///
    /// # Errors
    ///
    /// [`Error::Storage`]; [`Error::CorruptStore`] if the stored bytes do not decode.
    pub fn stored_block(&self, hash: &Hash256) -> Result<Option<Block>, Error> {
        let txn = self.db.begin_read().map_err(storage("begin read"))?;
        let blocks = txn.open_table(BLOCKS).map_err(storage("open blocks"))?;
        let Some(bytes) = blocks.get(hash.0).map_err(storage("read block"))? else {
            return Ok(None);
        };
        Block::from_bytes(bytes.value())
            .map(Some)
            .map_err(|e| corrupt("blocks", hash, e))
    }

    /// Reads the height index straight from the database.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`].
    pub fn stored_hash_at(&self, height: u64) -> Result<Option<Hash256>, Error> {
        let txn = self.db.begin_read().map_err(storage("begin read"))?;
        let heights = txn.open_table(HEIGHTS).map_err(storage("open heights"))?;
        Ok(heights
            .get(height)
            .map_err(storage("read heights"))?
            .map(|v| Hash256(v.value())))
    }
}

/// Opens `dir`'s chain read-only in spirit (nothing is written unless redb must recover from a
/// crash), re-validates everything from the root with full checks, and summarises it.
///
/// # Errors
///
/// As [`ChainStore::open`].
pub fn verify_store(dir: &Path) -> Result<ChainSummary, Error> {
    let config = TreeConfig {
        auto_prune: false,
        ..TreeConfig::default()
    };
    // The store is dropped inside the guard too: redb's drop walks freed pages.
    guard_engine("verify database", || {
        ChainStore::open_unguarded(dir, config).map(|store| store.summary())
    })
}

/// Runs `f` (opening and loading a database) so that a damaged file cannot crash the process.
///
/// redb trusts its own pages: one corrupted behind its back (bit rot, a partial copy, a hand
/// edit) can trip an internal `unreachable!` in the B-tree code instead of returning an error.
/// Such a panic becomes [`Error::CorruptStore`]. The panic hook is silenced for the duration
/// (serialised by a lock) so the user sees one clear error, not a backtrace; a genuine panic on
/// another thread in that short window would lose its message, never its effect.
fn guard_engine<T>(op: &'static str, f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    static HOOK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _serial = HOOK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(previous);
    result.unwrap_or_else(|payload| {
        let detail = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown failure".to_owned());
        Err(Error::CorruptStore {
            table: "file",
            key: op.to_owned(),
            reason: format!("the storage engine failed on a damaged page ({detail})"),
        })
    })
}

fn read_meta(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &'static str,
) -> Result<Vec<u8>, Error> {
    meta.get(key)
        .map_err(storage("read meta"))?
        .map(|v| v.value().to_vec())
        .ok_or_else(|| corrupt("meta", key, "missing"))
}

/// Rebuilds the tree from the database, checking everything (see the module docs).
fn load_tree(db: &Database, config: TreeConfig) -> Result<BlockTree, Error> {
    let txn = db.begin_read().map_err(storage("begin read"))?;
    let meta = txn
        .open_table(META)
        .map_err(|e| corrupt("meta", "-", format!("cannot open table: {e}")))?;
    let format = read_meta(&meta, "format")?;
    if format != FORMAT {
        return Err(corrupt(
            "meta",
            "format",
            format!("expected {:?}", String::from_utf8_lossy(FORMAT)),
        ));
    }
    let params = ChainParams::from_bytes(&read_meta(&meta, "params")?)
        .map_err(|e| corrupt("meta", "params", e))?;
    let root: [u8; 32] = read_meta(&meta, "root")?
        .try_into()
        .map_err(|_| corrupt("meta", "root", "not 32 bytes"))?;
    let root = Hash256(root);
    let head: [u8; 32] = read_meta(&meta, "head")?
        .try_into()
        .map_err(|_| corrupt("meta", "head", "not 32 bytes"))?;
    let head = Hash256(head);
    let root_block_bytes = read_meta(&meta, "root_block")?;

    let snapshots = txn
        .open_table(SNAPSHOTS)
        .map_err(|e| corrupt("snapshots", "-", format!("cannot open table: {e}")))?;
    let root_state_bytes = snapshots
        .get(root.0)
        .map_err(storage("read snapshot"))?
        .map(|v| v.value().to_vec())
        .ok_or_else(|| corrupt("snapshots", root, "root snapshot missing"))?;
    let root_state =
        State::from_bytes(&root_state_bytes).map_err(|e| corrupt("snapshots", root, e))?;

    let root_block = if root_block_bytes.is_empty() {
        let expected = Genesis::hash_of(&params, &root_state);
        if expected != root {
            return Err(corrupt(
                "snapshots",
                root,
                format!("genesis state hashes to {expected}, not to the stored root"),
            ));
        }
        None
    } else {
        let block =
            Block::from_bytes(&root_block_bytes).map_err(|e| corrupt("meta", "root_block", e))?;
        if block.hash() != root {
            return Err(corrupt("meta", "root_block", "hash differs from meta.root"));
        }
        let Body::Checkpoint(body) = &block.body else {
            return Err(corrupt(
                "meta",
                "root_block",
                "root block is not a checkpoint",
            ));
        };
        let ctx = BlockCtx {
            params: &params,
            parent_hash: block.header.prev_hash,
            verification: config.verification,
        };
        let (post, _) =
            apply_block(body, &block, &ctx).map_err(|e| corrupt("meta", "root_block", e))?;
        if post != root_state {
            return Err(corrupt(
                "snapshots",
                root,
                "root snapshot differs from the checkpoint's post-state",
            ));
        }
        Some(block)
    };

    let replay = TreeConfig {
        auto_prune: false,
        ..config
    };
    let mut tree = BlockTree::from_root_state(params, replay, root, root_block, root_state);

    let blocks_table = txn
        .open_table(BLOCKS)
        .map_err(|e| corrupt("blocks", "-", format!("cannot open table: {e}")))?;
    let mut blocks = Vec::new();
    for entry in blocks_table.iter().map_err(storage("read blocks"))? {
        let (key, value) = entry.map_err(storage("read blocks"))?;
        let key = Hash256(key.value());
        let block = Block::from_bytes(value.value()).map_err(|e| corrupt("blocks", key, e))?;
        if block.hash() != key {
            return Err(corrupt(
                "blocks",
                key,
                format!("content hashes to {}", block.hash()),
            ));
        }
        blocks.push(block);
    }
    blocks.sort_by_key(|b| b.header.height);
    for block in blocks {
        let hash = block.hash();
        let outcome = tree
            .insert(block, None)
            .map_err(|e| corrupt("blocks", hash, e))?;
        if let InsertStatus::Orphaned { missing } = outcome.status {
            return Err(corrupt(
                "blocks",
                hash,
                format!("parent {missing} is not stored"),
            ));
        }
    }

    if tree.head() != head {
        return Err(corrupt(
            "meta",
            "head",
            format!(
                "stored head {head} but the stored blocks give head {}",
                tree.head()
            ),
        ));
    }
    let heights = txn
        .open_table(HEIGHTS)
        .map_err(|e| corrupt("heights", "-", format!("cannot open table: {e}")))?;
    let mut indexed = 0u64;
    for entry in heights.iter().map_err(storage("read heights"))? {
        let (key, value) = entry.map_err(storage("read heights"))?;
        let height = key.value();
        let hash = Hash256(value.value());
        if tree.best_at_height(height) != Some(hash) {
            return Err(corrupt(
                "heights",
                height,
                format!("indexes {hash}, not the best chain's block"),
            ));
        }
        indexed += 1;
    }
    let expected = tree.head_height() - tree.root_height() + 1;
    if indexed != expected {
        return Err(corrupt(
            "heights",
            "-",
            format!("{indexed} entries for a best chain of {expected} blocks"),
        ));
    }
    tree.set_config(config);
    Ok(tree)
}
