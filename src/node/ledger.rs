//! The node's chain: an in-memory [`BlockTree`] (simulation) or a redb [`ChainStore`] (lab),
//! plus the receipts of the blocks that join the best chain.
//!
//! Data flow: [`Ledger::insert`] files a block (validation, fork choice, durable commit for a
//! store) and, when the head moves, re-applies each newly adopted block on its parent's
//! post-state (no signature checks: the tree just validated it) to get its [`Receipt`]: the
//! contract events the roles and the event stream need. Post-states of recent best-chain
//! blocks are cached here (the store does not hand out states of non-head blocks); a reorg
//! deeper than the cache still moves the head, only the receipts of blocks whose parent state
//! is gone are missing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chain::tree::HeadChange;
use chain::{
    Block, BlockCtx, BlockTree, ChainParams, ChainStore, GenesisConfig, Hash256, InsertOutcome,
    Receipt, State, TreeConfig, Verification, apply_block,
};

/// Post-states kept for receipts and reorgs.
const STATE_CACHE: u64 = 160;

/// Where the blocks live.
#[derive(Debug)]
enum Backend {
    Memory(Box<BlockTree>),
    Stored(Box<ChainStore>),
}

impl Backend {
    fn tree(&self) -> &BlockTree {
        match self {
            Backend::Memory(t) => t,
            Backend::Stored(s) => s.tree(),
        }
    }

    fn insert(&mut self, block: Block, now_ms: Option<u64>) -> Result<InsertOutcome, chain::Error> {
        match self {
            Backend::Memory(t) => t.insert(block, now_ms),
            Backend::Stored(s) => s.insert(block, now_ms),
        }
    }

    fn head_state(&mut self) -> Result<Arc<State>, chain::Error> {
        match self {
            Backend::Memory(t) => t.head_state(),
            Backend::Stored(s) => s.head_state(),
        }
    }
}

/// A block newly adopted by the best chain.
#[derive(Debug, Clone)]
pub struct Adopted {
    /// The block.
    pub block: Arc<Block>,
    /// Its receipt (None if its parent's state was no longer cached).
    pub receipt: Option<Arc<Receipt>>,
}

/// What one insert changed.
#[derive(Debug, Clone, Default)]
pub struct ChainUpdate {
    /// Blocks that joined the tree (any branch).
    pub connected: usize,
    /// The parent the inserted block waits for, if it was orphaned.
    pub missing_parent: Option<Hash256>,
    /// Blocks rolled back from the best chain, old head first.
    pub reverted: Vec<Arc<Block>>,
    /// Blocks adopted by the best chain, in height order.
    pub adopted: Vec<Adopted>,
}

impl ChainUpdate {
    /// Whether the head moved.
    #[must_use]
    pub fn head_moved(&self) -> bool {
        !self.adopted.is_empty()
    }
}

/// The node's chain (see the module docs).
#[derive(Debug)]
pub struct Ledger {
    backend: Backend,
    params: ChainParams,
    states: BTreeMap<Hash256, (u64, Arc<State>)>,
    head_state: Arc<State>,
    /// How the tree validates and prunes (kept for a restart from a checkpoint).
    tree_config: TreeConfig,
    /// The store's directory (None in memory).
    dir: Option<PathBuf>,
}

impl Ledger {
    /// An in-memory chain from `genesis` (no pruning: the simulation's summary reads the whole
    /// chain), checking signatures on `threads` threads.
    ///
    /// # Errors
    /// An invalid genesis.
    pub fn memory(genesis: &GenesisConfig, threads: usize) -> Result<Self, chain::Error> {
        let built = genesis.build()?;
        let tree_config = TreeConfig {
            verification: Verification::Full { threads },
            auto_prune: false,
        };
        let tree = BlockTree::new(&built, tree_config);
        let state = Arc::new(built.state);
        let mut states = BTreeMap::new();
        states.insert(built.hash, (0, Arc::clone(&state)));
        Ok(Self {
            backend: Backend::Memory(Box::new(tree)),
            params: built.params,
            states,
            head_state: state,
            tree_config,
            dir: None,
        })
    }

    /// The chain stored in `dir` (created from `genesis` if absent; re-validated on open).
    ///
    /// # Errors
    /// Storage errors, a corrupt store, a store made from another genesis.
    pub fn stored(dir: &Path, genesis: &GenesisConfig) -> Result<Self, chain::Error> {
        let tree_config = TreeConfig::default();
        let store = ChainStore::open_or_create(dir, genesis, tree_config)?;
        let params = store.tree().params().clone();
        let mut ledger = Self {
            backend: Backend::Stored(Box::new(store)),
            params,
            states: BTreeMap::new(),
            head_state: Arc::new(State::default()),
            tree_config,
            dir: Some(dir.to_path_buf()),
        };
        ledger.reset_states()?;
        Ok(ledger)
    }

    /// Caches the head's and the root's states afresh (after opening or re-rooting).
    fn reset_states(&mut self) -> Result<(), chain::Error> {
        let head_state = self.backend.head_state()?;
        let tree = self.backend.tree();
        let mut states = BTreeMap::new();
        states.insert(
            tree.head(),
            (head_state.meta.height, Arc::clone(&head_state)),
        );
        if let Some(root_state) = tree.root_state() {
            states.insert(tree.root(), (root_state.meta.height, root_state));
        }
        self.states = states;
        self.head_state = head_state;
        Ok(())
    }

    /// Whether the chain holds nothing but its genesis (a node that has never synced: it may
    /// start from a peer's checkpoint instead of replaying the history).
    #[must_use]
    pub fn is_fresh(&self) -> bool {
        let tree = self.tree();
        tree.root_height() == 0 && tree.head_height() == 0
    }

    /// Replaces a fresh chain (genesis only, see [`Ledger::is_fresh`]) by one rooted at
    /// `checkpoint`, a checkpoint block carrying its parent's full state. The block is fully
    /// validated first ([`BlockTree::from_checkpoint`]: header, work at the miner's trust in the
    /// carried state, highest-trust miner, state root); only then is the genesis-only store
    /// replaced, so a refused checkpoint changes nothing and a crash in between leaves a store
    /// that is re-created from genesis on the next start.
    ///
    /// # Errors
    /// [`chain::Error::InvalidConfig`] if the chain is not fresh; the checkpoint's validation
    /// error; storage errors.
    pub fn restart_from_checkpoint(&mut self, checkpoint: Block) -> Result<(), chain::Error> {
        if !self.is_fresh() {
            return Err(chain::Error::InvalidConfig {
                field: "checkpoint",
                reason: format!(
                    "the chain already holds blocks up to height {}",
                    self.head_height()
                ),
            });
        }
        let tree = BlockTree::from_checkpoint(checkpoint, self.params.clone(), self.tree_config)?;
        match self.dir.clone() {
            None => self.backend = Backend::Memory(Box::new(tree)),
            Some(dir) => {
                let root = tree.root();
                let block = tree
                    .block(&root)
                    .ok_or(chain::Error::UnknownBlock { block: root })?;
                // Close the genesis-only store before its file goes.
                self.backend = Backend::Memory(Box::new(tree));
                let path = dir.join(chain::store::DB_FILE);
                std::fs::remove_file(&path).map_err(|e| chain::Error::Storage {
                    op: "replace genesis-only store",
                    reason: format!("{}: {e}", path.display()),
                })?;
                let store = ChainStore::create_from_checkpoint(
                    &dir,
                    (*block).clone(),
                    self.params.clone(),
                    self.tree_config,
                )?;
                self.backend = Backend::Stored(Box::new(store));
            }
        }
        self.reset_states()
    }

    /// The chain parameters.
    #[must_use]
    pub fn params(&self) -> &ChainParams {
        &self.params
    }

    /// The block tree.
    #[must_use]
    pub fn tree(&self) -> &BlockTree {
        self.backend.tree()
    }

    /// The best block's hash.
    #[must_use]
    pub fn head(&self) -> Hash256 {
        self.tree().head()
    }

    /// The best block's height.
    #[must_use]
    pub fn head_height(&self) -> u64 {
        self.tree().head_height()
    }

    /// The state after the best block.
    #[must_use]
    pub fn head_state(&self) -> &Arc<State> {
        &self.head_state
    }

    /// The state after `hash`, if it is a recent best-chain block (or the root).
    #[must_use]
    pub fn state_after(&self, hash: &Hash256) -> Option<&Arc<State>> {
        self.states.get(hash).map(|(_, s)| s)
    }

    /// Files `block`; `now_ms` refuses blocks too far in the future.
    ///
    /// # Errors
    /// The block's validation error (or a storage error).
    pub fn insert(
        &mut self,
        block: Block,
        now_ms: Option<u64>,
    ) -> Result<ChainUpdate, chain::Error> {
        let outcome = self.backend.insert(block, now_ms)?;
        let mut update = ChainUpdate {
            connected: outcome.connected.len(),
            missing_parent: match outcome.status {
                chain::tree::InsertStatus::Orphaned { missing } => Some(missing),
                _ => None,
            },
            ..ChainUpdate::default()
        };
        if let Some(change) = &outcome.head_change {
            self.adopt(change, &mut update)?;
        }
        Ok(update)
    }

    fn adopt(&mut self, change: &HeadChange, update: &mut ChainUpdate) -> Result<(), chain::Error> {
        for hash in &change.reverted {
            if let Some(block) = self.tree().block(hash) {
                update.reverted.push(block);
            }
        }
        for hash in &change.applied {
            let Some(block) = self.tree().block(hash) else {
                continue;
            };
            let parent = block.header.prev_hash;
            let receipt = match self.states.get(&parent) {
                Some((_, parent_state)) => {
                    let ctx = BlockCtx {
                        params: &self.params,
                        parent_hash: parent,
                        verification: Verification::Trusted,
                    };
                    let (state, receipt) = apply_block(parent_state, &block, &ctx)?;
                    self.states
                        .insert(*hash, (block.header.height, Arc::new(state)));
                    Some(Arc::new(receipt))
                }
                None => None,
            };
            update.adopted.push(Adopted { block, receipt });
        }
        let head = self.head();
        self.head_state = match self.states.get(&head) {
            Some((_, s)) => Arc::clone(s),
            None => {
                let s = self.backend.head_state()?;
                self.states.insert(head, (s.meta.height, Arc::clone(&s)));
                s
            }
        };
        let floor = self.head_height().saturating_sub(STATE_CACHE);
        let root = self.tree().root();
        self.states
            .retain(|h, (height, _)| *height >= floor || *h == root);
        Ok(())
    }

    /// Every block of the best chain from the root (exclusive) to the head with its receipt,
    /// re-applied from the root's state (for summaries; cost: one trusted re-application per
    /// block).
    ///
    /// # Errors
    /// Re-application errors (cannot happen for validated blocks).
    pub fn best_chain_receipts(&self) -> Result<Vec<(Arc<Block>, Receipt)>, chain::Error> {
        let tree = self.tree();
        let mut state = match tree.root_state() {
            Some(s) => s,
            None => return Ok(Vec::new()),
        };
        let mut parent = tree.root();
        let mut out = Vec::new();
        for hash in tree.best_chain().into_iter().skip(1) {
            let Some(block) = tree.block(&hash) else {
                continue;
            };
            let ctx = BlockCtx {
                params: &self.params,
                parent_hash: parent,
                verification: Verification::Trusted,
            };
            let (next, receipt) = apply_block(&state, &block, &ctx)?;
            state = Arc::new(next);
            parent = hash;
            out.push((block, receipt));
        }
        Ok(out)
    }
}
