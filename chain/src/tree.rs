//! The in-memory block tree: accepts blocks in any order, validates them, keeps every valid
//! branch, follows the best head through reorgs, and prunes behind confirmed checkpoints.
//!
//! Data flow: [`BlockTree::insert`] takes a decoded block ->
//! - known: nothing to do; descendant of an invalid block or below the root: refused;
//! - parent unknown: kept as an orphan (bounded pool) until the parent arrives;
//! - parent known: [`apply_block`] on the parent's post-state; a valid block becomes a node
//!   (with its post-state), then any orphans waiting for it are connected the same way;
//! - each new node is compared with the head ([`crate::forkchoice`]); a better one becomes the
//!   head and the [`HeadChange`] lists the blocks rolled back and re-applied (a reorg);
//! - with compression on, once a checkpoint is `checkpoint_confirmations` deep in the best
//!   chain the tree re-roots there and drops everything not descending from it
//!   ([`PruneReport`]).
//!
//! Post-states: every node keeps its state while it is within [`STATE_WINDOW`] blocks of the
//! head, or its height is a multiple of [`SNAPSHOT_EVERY`]; older states are dropped and
//! rebuilt on demand by re-applying the (already validated) blocks from the nearest kept
//! ancestor. So a reorg switches to the other branch's post-state directly, or rolls back to a
//! snapshot and re-applies, and memory stays bounded.
#![deny(clippy::float_arithmetic)]

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use crate::block::{Block, Body, Header};
use crate::digest::Hash256;
use crate::error::Error;
use crate::forkchoice::{ForkKey, compare_chains};
use crate::params::{ChainParams, Genesis};
use crate::state::State;
use crate::transition::{BlockCtx, Verification, apply_block};

/// Post-states are kept for nodes this close to the head height.
pub const STATE_WINDOW: u64 = 64;
/// Post-states at heights that are multiples of this are always kept.
pub const SNAPSHOT_EVERY: u64 = 64;
/// Most orphans held at once (the oldest is dropped beyond this).
pub const MAX_ORPHANS: usize = 1024;
/// Most remembered invalid block hashes.
const MAX_INVALID: usize = 16_384;

/// One valid block (or the root).
#[derive(Debug, Clone)]
struct Node {
    block: Option<Arc<Block>>,
    parent: Hash256,
    height: u64,
    /// Sum of `D_base` from the root (exclusive) to this node (inclusive).
    work: u128,
    state: Option<Arc<State>>,
    state_root: Hash256,
    children: Vec<Hash256>,
}

/// Why an insert ended the way it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertStatus {
    /// The block (and possibly orphans waiting for it) joined the tree.
    Connected,
    /// The parent is unknown; the block waits in the orphan pool.
    Orphaned {
        /// The missing parent.
        missing: Hash256,
    },
    /// Already in the tree.
    Duplicate,
}

/// A change of head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadChange {
    /// Previous head.
    pub old_head: Hash256,
    /// New head.
    pub new_head: Hash256,
    /// Last block the two chains share.
    pub fork_point: Hash256,
    /// Blocks of the old chain rolled back, from the old head down (empty for a plain
    /// extension).
    pub reverted: Vec<Hash256>,
    /// Blocks of the new chain applied, from just above the fork point up to the new head.
    pub applied: Vec<Hash256>,
}

/// Blocks dropped by re-rooting the tree at a confirmed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneReport {
    /// The new root (a checkpoint block).
    pub new_root: Hash256,
    /// Its height.
    pub root_height: u64,
    /// Every block removed from the tree.
    pub removed: Vec<Hash256>,
}

/// What one [`BlockTree::insert`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsertOutcome {
    /// Connected, orphaned or duplicate.
    pub status: InsertStatus,
    /// Blocks that joined the tree, in the order they were connected (the inserted block first,
    /// then orphans it unlocked).
    pub connected: Vec<Hash256>,
    /// Orphans that turned out invalid once their parent arrived.
    pub rejected: Vec<(Hash256, Error)>,
    /// The head moved.
    pub head_change: Option<HeadChange>,
    /// The tree was re-rooted at a confirmed checkpoint.
    pub pruned: Option<PruneReport>,
}

/// Tree settings that are node policy rather than consensus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeConfig {
    /// Checks applied to incoming blocks.
    pub verification: Verification,
    /// Re-root at confirmed checkpoints and drop older blocks.
    pub auto_prune: bool,
}

impl Default for TreeConfig {
    fn default() -> Self {
        Self {
            verification: Verification::full(),
            auto_prune: true,
        }
    }
}

/// The block tree.
#[derive(Debug)]
pub struct BlockTree {
    params: ChainParams,
    config: TreeConfig,
    root: Hash256,
    head: Hash256,
    nodes: HashMap<Hash256, Node>,
    /// Heights of nodes currently holding a state (for eviction).
    stateful: BTreeMap<u64, HashSet<Hash256>>,
    orphans: HashMap<Hash256, Vec<(Hash256, Block)>>,
    orphan_order: VecDeque<(Hash256, Hash256)>,
    invalid: HashSet<Hash256>,
}

impl BlockTree {
    /// A tree rooted at genesis.
    #[must_use]
    pub fn new(genesis: &Genesis, config: TreeConfig) -> Self {
        let root = Node {
            block: None,
            parent: Hash256::ZERO,
            height: genesis.state.meta.height,
            work: 0,
            state_root: genesis.state.root(),
            state: Some(Arc::new(genesis.state.clone())),
            children: Vec::new(),
        };
        Self::with_root(genesis.params.clone(), config, genesis.hash, root)
    }

    /// A tree rooted at a checkpoint block (a node syncing from a checkpoint it trusts): the
    /// body is taken as the parent state and the block is fully validated on top of it.
    ///
    /// # Errors
    ///
    /// [`Error::WrongBlockKind`] if `block` is not a checkpoint; any validation error.
    pub fn from_checkpoint(
        block: Block,
        params: ChainParams,
        config: TreeConfig,
    ) -> Result<Self, Error> {
        let Body::Checkpoint(parent_state) = &block.body else {
            return Err(Error::WrongBlockKind {
                height: block.header.height,
                expected: "checkpoint",
            });
        };
        params.validate()?;
        let ctx = BlockCtx {
            params: &params,
            parent_hash: block.header.prev_hash,
            verification: config.verification,
        };
        let (state, receipt) = apply_block(parent_state, &block, &ctx)?;
        let hash = receipt.block_hash;
        let root = Node {
            parent: Hash256::ZERO,
            height: block.header.height,
            work: 0,
            state_root: receipt.state_root,
            state: Some(Arc::new(state)),
            block: Some(Arc::new(block)),
            children: Vec::new(),
        };
        Ok(Self::with_root(params, config, hash, root))
    }

    /// A tree rooted at a stored root: `block` (None for genesis), its hash and post-state.
    pub(crate) fn from_root_state(
        params: ChainParams,
        config: TreeConfig,
        hash: Hash256,
        block: Option<Block>,
        state: State,
    ) -> Self {
        let root = Node {
            parent: Hash256::ZERO,
            height: state.meta.height,
            work: 0,
            state_root: state.root(),
            state: Some(Arc::new(state)),
            block: block.map(Arc::new),
            children: Vec::new(),
        };
        Self::with_root(params, config, hash, root)
    }

    fn with_root(params: ChainParams, config: TreeConfig, hash: Hash256, root: Node) -> Self {
        let mut stateful = BTreeMap::new();
        stateful.insert(root.height, HashSet::from([hash]));
        Self {
            params,
            config,
            root: hash,
            head: hash,
            nodes: HashMap::from([(hash, root)]),
            stateful,
            orphans: HashMap::new(),
            orphan_order: VecDeque::new(),
            invalid: HashSet::new(),
        }
    }

    /// The chain parameters.
    #[must_use]
    pub fn params(&self) -> &ChainParams {
        &self.params
    }

    /// The root: genesis or the last confirmed checkpoint.
    #[must_use]
    pub fn root(&self) -> Hash256 {
        self.root
    }

    /// Height of the root.
    #[must_use]
    pub fn root_height(&self) -> u64 {
        self.nodes.get(&self.root).map_or(0, |n| n.height)
    }

    /// The best block.
    #[must_use]
    pub fn head(&self) -> Hash256 {
        self.head
    }

    /// Height of the best block.
    #[must_use]
    pub fn head_height(&self) -> u64 {
        self.nodes.get(&self.head).map_or(0, |n| n.height)
    }

    /// Cumulative work of the best chain above the root.
    #[must_use]
    pub fn head_work(&self) -> u128 {
        self.nodes.get(&self.head).map_or(0, |n| n.work)
    }

    /// State root after the best block.
    #[must_use]
    pub fn head_state_root(&self) -> Hash256 {
        self.nodes
            .get(&self.head)
            .map_or(Hash256::ZERO, |n| n.state_root)
    }

    /// State after the best block.
    ///
    /// # Errors
    ///
    /// As [`BlockTree::state_of`].
    pub fn head_state(&mut self) -> Result<Arc<State>, Error> {
        self.state_of(&self.head.clone())
    }

    /// Whether `hash` is a node of the tree.
    #[must_use]
    pub fn contains(&self, hash: &Hash256) -> bool {
        self.nodes.contains_key(hash)
    }

    /// Whether `hash` was found invalid.
    #[must_use]
    pub fn is_invalid(&self, hash: &Hash256) -> bool {
        self.invalid.contains(hash)
    }

    /// Number of blocks in the tree, root included.
    #[must_use]
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Always false: the root is always there.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Number of orphans waiting for a parent.
    #[must_use]
    pub fn orphan_count(&self) -> usize {
        self.orphan_order.len()
    }

    /// The block with this hash (None for an unknown hash or a genesis root).
    #[must_use]
    pub fn block(&self, hash: &Hash256) -> Option<Arc<Block>> {
        self.nodes.get(hash).and_then(|n| n.block.clone())
    }

    /// Height of a node.
    #[must_use]
    pub fn height_of(&self, hash: &Hash256) -> Option<u64> {
        self.nodes.get(hash).map(|n| n.height)
    }

    /// The best chain from the root to the head.
    #[must_use]
    pub fn best_chain(&self) -> Vec<Hash256> {
        let mut chain = self.ancestry(self.head, self.root_height());
        chain.reverse();
        chain
    }

    /// The ancestor of the head at `height`, if the best chain reaches it.
    #[must_use]
    pub fn best_at_height(&self, height: u64) -> Option<Hash256> {
        self.ancestor_at(self.head, height)
    }

    /// Hashes from `tip` down to (and including) the ancestor at `min_height`.
    fn ancestry(&self, tip: Hash256, min_height: u64) -> Vec<Hash256> {
        let mut out = Vec::new();
        let mut cursor = tip;
        while let Some(node) = self.nodes.get(&cursor) {
            out.push(cursor);
            if node.height <= min_height || cursor == self.root {
                break;
            }
            cursor = node.parent;
        }
        out
    }

    fn ancestor_at(&self, tip: Hash256, height: u64) -> Option<Hash256> {
        let mut cursor = tip;
        loop {
            let node = self.nodes.get(&cursor)?;
            if node.height == height {
                return Some(cursor);
            }
            if node.height < height || cursor == self.root {
                return None;
            }
            cursor = node.parent;
        }
    }

    /// The post-state of a node, rebuilt by re-applying blocks if it was evicted.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownBlock`] if `hash` is not in the tree; a re-application error (only if
    /// memory was corrupted: these blocks were validated before).
    pub fn state_of(&mut self, hash: &Hash256) -> Result<Arc<State>, Error> {
        let mut path = Vec::new();
        let mut cursor = *hash;
        let base = loop {
            let node = self
                .nodes
                .get(&cursor)
                .ok_or(Error::UnknownBlock { block: cursor })?;
            if let Some(state) = &node.state {
                break Arc::clone(state);
            }
            path.push(cursor);
            cursor = node.parent;
        };
        let mut state = base;
        let mut parent_hash = cursor;
        for h in path.into_iter().rev() {
            let block = self
                .nodes
                .get(&h)
                .and_then(|n| n.block.clone())
                .ok_or(Error::UnknownBlock { block: h })?;
            let ctx = BlockCtx {
                params: &self.params,
                parent_hash,
                verification: Verification::Trusted,
            };
            let (next, _) = apply_block(&state, &block, &ctx)?;
            state = Arc::new(next);
            self.keep_state(h, Arc::clone(&state));
            parent_hash = h;
        }
        Ok(state)
    }

    fn keep_state(&mut self, hash: Hash256, state: Arc<State>) {
        if let Some(node) = self.nodes.get_mut(&hash) {
            node.state = Some(state);
            self.stateful.entry(node.height).or_default().insert(hash);
        }
    }

    /// Files `block`. `now_ms` (the node's clock, injected) rejects blocks stamped more than
    /// `max_future_drift_ms` ahead; `None` skips that check (replaying stored blocks).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidAncestor`] (descends from an invalid block), [`Error::BelowRoot`],
    /// [`Error::BadTimestamp`] (too far in the future; not remembered as invalid), or the
    /// validation error from [`apply_block`] (remembered: the same block is refused again).
    pub fn insert(&mut self, block: Block, now_ms: Option<u64>) -> Result<InsertOutcome, Error> {
        let hash = block.hash();
        let mut outcome = InsertOutcome {
            status: InsertStatus::Connected,
            connected: Vec::new(),
            rejected: Vec::new(),
            head_change: None,
            pruned: None,
        };
        if self.nodes.contains_key(&hash) || self.is_orphan(&hash) {
            outcome.status = InsertStatus::Duplicate;
            return Ok(outcome);
        }
        self.precheck(&hash, &block, now_ms)?;
        let parent = block.header.prev_hash;
        if !self.nodes.contains_key(&parent) {
            self.add_orphan(hash, block);
            outcome.status = InsertStatus::Orphaned { missing: parent };
            return Ok(outcome);
        }
        let old_head = self.head;
        if let Err(e) = self.connect(hash, block) {
            // Orphans waiting for an invalid block are invalid too.
            self.reject_orphan_descendants(hash, &mut outcome);
            return Err(e);
        }
        outcome.connected.push(hash);
        self.connect_orphans(hash, &mut outcome);
        if self.head != old_head {
            outcome.head_change = Some(self.head_change(old_head, self.head));
        }
        self.evict_states();
        if self.config.auto_prune
            && let Some(checkpoint) = self.confirmed_checkpoint()
        {
            outcome.pruned = Some(self.prune_to(checkpoint)?);
        }
        Ok(outcome)
    }

    fn precheck(
        &mut self,
        hash: &Hash256,
        block: &Block,
        now_ms: Option<u64>,
    ) -> Result<(), Error> {
        if self.invalid.contains(hash) {
            return Err(Error::InvalidAncestor {
                block: *hash,
                ancestor: *hash,
            });
        }
        let parent = block.header.prev_hash;
        if self.invalid.contains(&parent) {
            self.mark_invalid(*hash);
            return Err(Error::InvalidAncestor {
                block: *hash,
                ancestor: parent,
            });
        }
        let root_height = self.root_height();
        if block.header.height <= root_height {
            return Err(Error::BelowRoot {
                block: *hash,
                height: block.header.height,
                root_height,
            });
        }
        if let Some(now) = now_ms {
            let bound = now.saturating_add(self.params.max_future_drift_ms);
            if block.header.timestamp_ms > bound {
                return Err(Error::BadTimestamp {
                    got_ms: block.header.timestamp_ms,
                    bound_ms: bound,
                    reason: "too far in the future",
                });
            }
        }
        Ok(())
    }

    fn is_orphan(&self, hash: &Hash256) -> bool {
        self.orphan_order.iter().any(|(h, _)| h == hash)
    }

    fn add_orphan(&mut self, hash: Hash256, block: Block) {
        let parent = block.header.prev_hash;
        self.orphans.entry(parent).or_default().push((hash, block));
        self.orphan_order.push_back((hash, parent));
        while self.orphan_order.len() > MAX_ORPHANS {
            if let Some((old, old_parent)) = self.orphan_order.pop_front()
                && let Some(list) = self.orphans.get_mut(&old_parent)
            {
                list.retain(|(h, _)| *h != old);
                if list.is_empty() {
                    self.orphans.remove(&old_parent);
                }
            }
        }
    }

    fn take_orphans(&mut self, parent: &Hash256) -> Vec<(Hash256, Block)> {
        let children = self.orphans.remove(parent).unwrap_or_default();
        if !children.is_empty() {
            let taken: HashSet<Hash256> = children.iter().map(|(h, _)| *h).collect();
            self.orphan_order.retain(|(h, _)| !taken.contains(h));
        }
        children
    }

    /// Connects orphans that were waiting (directly or transitively) for `hash`.
    fn connect_orphans(&mut self, hash: Hash256, outcome: &mut InsertOutcome) {
        let mut queue = VecDeque::from([hash]);
        while let Some(parent) = queue.pop_front() {
            for (child_hash, child) in self.take_orphans(&parent) {
                match self.connect(child_hash, child) {
                    Ok(()) => {
                        outcome.connected.push(child_hash);
                        queue.push_back(child_hash);
                    }
                    Err(e) => {
                        outcome.rejected.push((child_hash, e));
                        self.reject_orphan_descendants(child_hash, outcome);
                    }
                }
            }
        }
    }

    fn reject_orphan_descendants(&mut self, invalid: Hash256, outcome: &mut InsertOutcome) {
        let mut queue = VecDeque::from([invalid]);
        while let Some(bad) = queue.pop_front() {
            for (child_hash, _) in self.take_orphans(&bad) {
                self.mark_invalid(child_hash);
                outcome.rejected.push((
                    child_hash,
                    Error::InvalidAncestor {
                        block: child_hash,
                        ancestor: bad,
                    },
                ));
                queue.push_back(child_hash);
            }
        }
    }

    fn mark_invalid(&mut self, hash: Hash256) {
        if self.invalid.len() >= MAX_INVALID {
            self.invalid.clear();
        }
        self.invalid.insert(hash);
    }

    /// Validates `block` on its (present) parent and adds it; updates the head.
    fn connect(&mut self, hash: Hash256, block: Block) -> Result<(), Error> {
        let parent_hash = block.header.prev_hash;
        let parent_state = self.state_of(&parent_hash)?;
        let parent_work = self.nodes.get(&parent_hash).map_or(0, |n| n.work);
        let ctx = BlockCtx {
            params: &self.params,
            parent_hash,
            verification: self.config.verification,
        };
        let (state, receipt) = match apply_block(&parent_state, &block, &ctx) {
            Ok(ok) => ok,
            Err(e) => {
                self.mark_invalid(hash);
                return Err(e);
            }
        };
        let work = parent_work
            .checked_add(u128::from(block.header.base_difficulty))
            .ok_or(Error::Overflow {
                what: "cumulative work",
            })?;
        let node = Node {
            parent: parent_hash,
            height: block.header.height,
            work,
            state_root: receipt.state_root,
            state: Some(Arc::new(state)),
            block: Some(Arc::new(block)),
            children: Vec::new(),
        };
        self.stateful.entry(node.height).or_default().insert(hash);
        self.nodes.insert(hash, node);
        if let Some(parent) = self.nodes.get_mut(&parent_hash) {
            parent.children.push(hash);
        }
        if self.compare(&hash, &self.head.clone()).is_gt() {
            self.head = hash;
        }
        Ok(())
    }

    /// Fork choice between two nodes: `Greater` if `a`'s chain beats `b`'s.
    fn compare(&self, a: &Hash256, b: &Hash256) -> core::cmp::Ordering {
        use core::cmp::Ordering;
        let (Some(na), Some(nb)) = (self.nodes.get(a), self.nodes.get(b)) else {
            return Ordering::Equal;
        };
        if na.work != nb.work || a == b {
            return na.work.cmp(&nb.work);
        }
        // Walk both up to their first differing blocks (children of the fork point).
        let (mut x, mut y) = (*a, *b);
        let height = |h: &Hash256| self.nodes.get(h).map_or(0, |n| n.height);
        let parent = |h: &Hash256| self.nodes.get(h).map_or(Hash256::ZERO, |n| n.parent);
        while height(&x) > height(&y) {
            x = parent(&x);
        }
        while height(&y) > height(&x) {
            y = parent(&y);
        }
        if x == y {
            // One chain contains the other; equal work cannot happen (D_base >= 1).
            return Ordering::Equal;
        }
        while parent(&x) != parent(&y) {
            x = parent(&x);
            y = parent(&y);
        }
        match (self.fork_key(&x), self.fork_key(&y)) {
            (Some(kx), Some(ky)) => compare_chains(na.work, &kx, nb.work, &ky),
            _ => Ordering::Equal,
        }
    }

    fn fork_key(&self, hash: &Hash256) -> Option<ForkKey> {
        let block = self.nodes.get(hash)?.block.as_ref()?;
        Some(ForkKey {
            trust: block.header.miner_trust,
            timestamp_ms: block.header.timestamp_ms,
            hash: *hash,
        })
    }

    fn head_change(&self, old: Hash256, new: Hash256) -> HeadChange {
        let height = |h: &Hash256| self.nodes.get(h).map_or(0, |n| n.height);
        let parent = |h: &Hash256| self.nodes.get(h).map_or(Hash256::ZERO, |n| n.parent);
        let (mut x, mut y) = (old, new);
        let mut reverted = Vec::new();
        let mut applied = Vec::new();
        while height(&x) > height(&y) {
            reverted.push(x);
            x = parent(&x);
        }
        while height(&y) > height(&x) {
            applied.push(y);
            y = parent(&y);
        }
        while x != y && self.nodes.contains_key(&x) && self.nodes.contains_key(&y) {
            reverted.push(x);
            applied.push(y);
            x = parent(&x);
            y = parent(&y);
        }
        applied.reverse();
        HeadChange {
            old_head: old,
            new_head: new,
            fork_point: x,
            reverted,
            applied,
        }
    }

    /// Drops post-states far below the head, except snapshots and the root.
    fn evict_states(&mut self) {
        let limit = self.head_height().saturating_sub(STATE_WINDOW);
        let stale: Vec<u64> = self.stateful.range(..limit).map(|(h, _)| *h).collect();
        for height in stale {
            if height.is_multiple_of(SNAPSHOT_EVERY) {
                continue;
            }
            if let Some(hashes) = self.stateful.remove(&height) {
                for hash in hashes {
                    if hash == self.root {
                        self.stateful.entry(height).or_default().insert(hash);
                        continue;
                    }
                    if let Some(node) = self.nodes.get_mut(&hash) {
                        node.state = None;
                    }
                }
            }
        }
    }

    /// The newest checkpoint on the best chain that is at least `checkpoint_confirmations`
    /// blocks deep and above the root.
    #[must_use]
    pub fn confirmed_checkpoint(&self) -> Option<Hash256> {
        let interval = self.params.checkpoint_interval;
        if interval < 2 {
            return None;
        }
        let deep = self
            .head_height()
            .checked_sub(self.params.checkpoint_confirmations)?;
        let height = deep - deep % interval;
        if height <= self.root_height() {
            return None;
        }
        self.ancestor_at(self.head, height)
    }

    /// Re-roots the tree at `checkpoint` (a node of the tree), dropping every block that does
    /// not descend from it, and orphans at or below its height.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownBlock`]; state rebuild errors from [`BlockTree::state_of`].
    pub fn prune_to(&mut self, checkpoint: Hash256) -> Result<PruneReport, Error> {
        let state = self.state_of(&checkpoint)?;
        let root_height = self
            .height_of(&checkpoint)
            .ok_or(Error::UnknownBlock { block: checkpoint })?;
        let mut keep = HashSet::from([checkpoint]);
        let mut queue = VecDeque::from([checkpoint]);
        while let Some(h) = queue.pop_front() {
            if let Some(node) = self.nodes.get(&h) {
                for c in &node.children {
                    if keep.insert(*c) {
                        queue.push_back(*c);
                    }
                }
            }
        }
        let removed: Vec<Hash256> = self
            .nodes
            .keys()
            .filter(|h| !keep.contains(h))
            .copied()
            .collect();
        for h in &removed {
            if let Some(node) = self.nodes.remove(h)
                && let Some(set) = self.stateful.get_mut(&node.height)
            {
                set.remove(h);
            }
        }
        self.stateful.retain(|_, set| !set.is_empty());
        if let Some(node) = self.nodes.get_mut(&checkpoint) {
            node.parent = Hash256::ZERO;
        }
        // Work is counted above the root, so a reopened store (which starts at this root)
        // reports the same numbers; differences between nodes, all that fork choice uses, are
        // unchanged.
        let base = self.nodes.get(&checkpoint).map_or(0, |n| n.work);
        for node in self.nodes.values_mut() {
            node.work = node.work.saturating_sub(base);
        }
        self.keep_state(checkpoint, state);
        self.root = checkpoint;
        let stale_orphans: Vec<Hash256> = self
            .orphans
            .values()
            .flat_map(|list| list.iter())
            .filter(|(_, b)| b.header.height <= root_height)
            .map(|(h, _)| *h)
            .collect();
        for h in stale_orphans {
            self.orphan_order.retain(|(o, _)| *o != h);
            for list in self.orphans.values_mut() {
                list.retain(|(o, _)| *o != h);
            }
        }
        self.orphans.retain(|_, list| !list.is_empty());
        if !self.nodes.contains_key(&self.head) {
            // Cannot happen: the head descends from a confirmed checkpoint of its own chain.
            self.head = checkpoint;
        }
        Ok(PruneReport {
            new_root: checkpoint,
            root_height,
            removed,
        })
    }

    /// The root's post-state (always kept).
    #[must_use]
    pub fn root_state(&self) -> Option<Arc<State>> {
        self.nodes.get(&self.root).and_then(|n| n.state.clone())
    }

    /// Replaces the node policy (verification, pruning).
    pub fn set_config(&mut self, config: TreeConfig) {
        self.config = config;
    }

    /// The header of a node (None for a genesis root or an unknown hash).
    #[must_use]
    pub fn header(&self, hash: &Hash256) -> Option<Header> {
        self.nodes
            .get(hash)
            .and_then(|n| n.block.as_ref())
            .map(|b| b.header)
    }
}
