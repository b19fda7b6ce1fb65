//! The sans-I/O node: it reacts to network events, timer ticks and its own mined blocks with
//! network actions and [`NodeEvent`]s, and never blocks or reads a clock.
//!
//! Data flow (see [`super`] for the drivers):
//! - [`Node::on_net_event`]: gossiped transactions (signature-checked into the mempool) and
//!   blocks (into the [`Ledger`]; an orphan triggers a request for its parent), sync requests
//!   (answered from the tree), sync responses (blocks filed, catch-up continued), peers;
//! - [`Node::on_tick`]: due sensing jobs (read the round's window, ring-sign the report,
//!   gossip the upload), a due block (build it from the mempool, search the cheap nonce, seal,
//!   file, gossip), and the periodic head poll of one peer;
//! - every change of head: the mempool follows the new chain (adopted transactions leave,
//!   rolled-back ones return), the adopted blocks' receipts become events, the mining timer is
//!   redrawn for the new parent, and the roles ([`super::roles::plan`]) act on the new state.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use chain::contracts::csc::{AnonymousUpload, SensingReport, Task, TaskPhase};
use chain::contracts::events::ContractEvent;
use chain::contracts::{GridCell, task_contract};
use chain::crypto::rand_core::Rng;
use chain::crypto::{Address, KeyImage, Ring};
use chain::net::{
    HeadInfo, MAX_SYNC_BLOCKS, NetEvent, NetMessage, Network, ReplyHandle, RequestId, SyncRequest,
    SyncResponse,
};
use chain::transition::build_block;
use chain::tx::{ContractId, TxPayload};
use chain::{
    Block, Body, Error as ChainError, Hash256, Header, SignedTx, UnsignedTx, Verification,
};
use fusion::Fx;

use super::EventSink;
use super::config::{BidSpec, CheckpointPin, MiningMode, Role};
use super::events::{NodeEvent, NodeStatus};
use super::ledger::{ChainUpdate, Ledger};
use super::mempool::Mempool;
use super::roles::{self, Intent, Plan, RoleCtx};
use super::sensing::{Sensor, psd_event};
use super::wallet::{NodeRng, Wallet};

/// Blocks an intent stays remembered after its transaction left the mempool.
const INTENT_RETRY: u64 = 4;
/// Own transactions are gossiped again every this many blocks while they wait.
const RESEND_EVERY: u64 = 2;
/// Mempool entries expire after this many blocks.
const MEMPOOL_AGE: u64 = 64;
/// Most mempool entries.
const MEMPOOL_CAPACITY: usize = 20_000;
/// A peer this many blocks ahead is caught up with a range request rather than by hashes.
const RANGE_SYNC_GAP: u64 = 8;
/// Checkpoint offers a fresh node considers before it replays from genesis.
const CHECKPOINT_OFFERS: u8 = 3;
/// Peers asked for one missing block before the walk waits for the next head poll.
const BLOCK_RETRIES: u32 = 3;
/// Upload records kept (the oldest half goes beyond this; a simulation keeps far fewer).
const UPLOAD_RECORDS: usize = 1 << 16;
/// Bins of the PSD events.
const PSD_BINS: usize = 256;

/// Everything a node is made of.
#[derive(Debug)]
pub struct NodeSetup {
    /// Name (events, status).
    pub name: String,
    /// Roles besides miner and task issuer.
    pub roles: Vec<Role>,
    /// Key.
    pub wallet: Wallet,
    /// Chain.
    pub ledger: Ledger,
    /// Front end (sensors).
    pub sensor: Option<Sensor>,
    /// The node's randomness (mining times, ring-signature and DLEQ hedges): the OS's for a
    /// real node, a seeded stream only in the deterministic simulation.
    pub rng: NodeRng,
    /// Nominal hash rate, hashes per second (0: does not mine).
    pub hash_rate: f64,
    /// Timed mining (the node draws when it finds a block) or hashing (the driver searches
    /// nonces: [`Node::mining_work`], [`Node::on_mined`]).
    pub mining: MiningMode,
    /// Fee of every transaction sent.
    pub fee: u128,
    /// Head poll period, ms.
    pub sync_interval_ms: u64,
    /// Start a genesis-only chain from a peer's confirmed checkpoint.
    pub checkpoint_sync: bool,
    /// Checkpoint hashes pinned in the testbed config (adopted from one peer).
    pub checkpoint_pins: Vec<CheckpointPin>,
    /// Distinct peers, the offering one included, that must serve an unpinned checkpoint.
    pub checkpoint_quorum: usize,
    /// Sensing window, ms (a sensing job completes this long after it starts).
    pub window_ms: u64,
    /// Grid cell side for report locations, metres.
    pub grid_m: f64,
    /// Position, metres.
    pub position_m: [f64; 2],
    /// How it bids (MOs).
    pub bid: BidSpec,
    /// Channel indices it bids on (empty: all).
    pub bid_channels: Vec<u32>,
    /// Channel names in band-plan order.
    pub channel_names: Vec<String>,
    /// Names of known accounts.
    pub names: Vec<(Address, String)>,
    /// The task issuer opens no round at or beyond this.
    pub max_rounds: Option<u64>,
    /// Emit PSD events for every sensing window.
    pub emit_psd: bool,
}

/// One report this node uploaded (for latency figures).
#[derive(Debug, Clone, PartialEq)]
pub struct UploadRecord {
    /// Task.
    pub task: u64,
    /// Round.
    pub round: u64,
    /// Channel index.
    pub channel: u32,
    /// The report's key image (how it shows up on chain).
    pub key_image: KeyImage,
    /// Node clock when the window's samples were all in, ms.
    pub sensed_at_ms: u64,
    /// Head height then.
    pub sensed_height: u64,
    /// The local decision.
    pub busy: bool,
}

#[derive(Debug, Clone)]
struct SenseJob {
    due_ms: u64,
    task: u64,
    round: u64,
    channel: u32,
    ring: Vec<chain::contracts::csc::PointBytes>,
    intent: Intent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    Head,
    Block(Hash256),
    Range,
    Checkpoint,
    /// Does this other peer hold the checkpoint a first peer offered?
    CheckpointConfirm(Hash256),
}

/// A block template for the driver's nonce search (mode [`MiningMode::Hash`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MiningTemplate {
    /// Which template (hand it back to [`Node::on_mined`]).
    pub id: u64,
    /// Header with every field final but the nonce.
    pub header: Header,
}

/// What the driver's nonce search should do next (mode [`MiningMode::Hash`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MiningWork {
    /// Drop any search under way and search this template.
    Start(Box<MiningTemplate>),
    /// Drop any search under way: the node does not mine on its head now.
    Stop,
}

/// The template the driver is searching, with the body it seals.
#[derive(Debug)]
struct OpenTemplate {
    id: u64,
    parent: Hash256,
    body: Body,
}

/// Where a genesis-only node stands with checkpoint sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CheckpointSync {
    /// Not asked yet (or off: `Declined`).
    Idle,
    /// A request is out.
    Asked,
    /// A checkpoint arrived; a second peer is asked whether it holds it.
    Confirming,
    /// Done, refused or off: sync block by block.
    Declined,
}

/// A checkpoint offered by one peer while more peers are asked whether they hold it.
///
/// The quorum counts distinct peers of this run's connections. Peer IDs are fresh per run and
/// not tied to account keys (privacy: SPEC 3.4), so they cannot be listed in the config; the
/// quorum size instead comes from the number of configured testbed nodes, and every witness
/// must independently serve the very block hash (a hash over the header, whose state root
/// commits the whole state). One peer that answers first can no longer decide; a forger needs
/// as many distinct connections as the quorum. Limit: the connections are not authenticated
/// as configured testbed nodes, so a peer able to open many connections (fresh identities)
/// could still make up a quorum; attestations signed by the configured nodes' account keys
/// would close that and are not done yet. Pins (`checkpoint_pins`) do not have this limit.
#[derive(Debug)]
struct CheckpointOffer<P> {
    block: Box<Block>,
    from: P,
    confirmed_by: Vec<P>,
}

#[derive(Debug, Clone, Copy)]
struct IntentState {
    created: u64,
    tx: Option<Hash256>,
}

/// A node (see the module docs). `P` names peers (the transport's peer type).
#[derive(Debug)]
pub struct Node<P> {
    name: String,
    roles: Vec<Role>,
    wallet: Wallet,
    ledger: Ledger,
    mempool: Mempool,
    sensor: Option<Sensor>,
    rng: NodeRng,
    hash_rate: f64,
    fee: u128,
    sync_interval_ms: u64,
    checkpoint_sync: CheckpointSync,
    /// The checkpoint awaiting a quorum's confirmation, who offered it, and who confirmed it.
    checkpoint_offer: Option<CheckpointOffer<P>>,
    /// See [`NodeSetup::checkpoint_pins`].
    checkpoint_pins: Vec<CheckpointPin>,
    /// See [`NodeSetup::checkpoint_quorum`].
    checkpoint_quorum: usize,
    /// Offers a second peer did not confirm so far.
    checkpoint_misses: u8,
    /// A fresh node mines only once a peer answered a head poll (or after a grace period):
    /// blocks mined on the genesis would fork off the chain it is about to fetch.
    mining_hold_until: Option<u64>,
    window_ms: u64,
    cell: GridCell,
    bid: BidSpec,
    bid_channels: Vec<u32>,
    channel_names: Vec<String>,
    names: BTreeMap<Address, String>,
    max_rounds: Option<u64>,
    emit_psd: bool,
    mining: bool,
    hashing: bool,
    /// Hashing: a new template is wanted (the head moved) / the search must stop.
    work_due: Option<bool>,
    template: Option<OpenTemplate>,
    template_seq: u64,
    next_block_at: Option<u64>,
    next_sync_at: u64,
    sync_cursor: usize,
    peers: BTreeSet<P>,
    requests: BTreeMap<RequestId, Pending>,
    wanted: BTreeSet<Hash256>,
    retries: BTreeMap<Hash256, u32>,
    jobs: BTreeMap<(u64, Hash256), SenseJob>,
    intents: BTreeMap<Intent, IntentState>,
    uploads: Vec<UploadRecord>,
    last_decisions: BTreeMap<usize, NodeEvent>,
    last_sensed_round: Option<u64>,
    task_channels: BTreeMap<u64, u32>,
    /// Trust last reported per account (Trust events).
    shown_trust: BTreeMap<Address, Fx>,
    mined: u64,
}

#[allow(clippy::cast_possible_truncation)]
fn grid_cell(position: [f64; 2], grid_m: f64) -> GridCell {
    let c = |v: f64| {
        (v / grid_m)
            .floor()
            .clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32
    };
    GridCell {
        x: c(position[0]),
        y: c(position[1]),
    }
}

#[allow(clippy::cast_possible_truncation)]
fn energy_mdb(energy_dbfs: f64, noise_dbfs: f64) -> i32 {
    let limit = f64::from(fusion::ENERGY_LIMIT_MDB);
    let v = ((energy_dbfs - noise_dbfs) * 1000.0).round();
    if v.is_finite() {
        v.clamp(-limit, limit) as i32
    } else {
        0
    }
}

impl<P> Node<P>
where
    P: Clone + Ord + core::fmt::Display + core::fmt::Debug,
{
    /// A node from its parts; call [`Node::start`] before feeding it events.
    #[must_use]
    pub fn new(setup: NodeSetup) -> Self {
        Self {
            cell: grid_cell(setup.position_m, setup.grid_m),
            name: setup.name,
            roles: setup.roles,
            wallet: setup.wallet,
            ledger: setup.ledger,
            mempool: Mempool::new(MEMPOOL_AGE, MEMPOOL_CAPACITY),
            sensor: setup.sensor,
            rng: setup.rng,
            hash_rate: setup.hash_rate,
            fee: setup.fee,
            sync_interval_ms: setup.sync_interval_ms.max(1),
            mining_hold_until: None,
            checkpoint_offer: None,
            checkpoint_pins: setup.checkpoint_pins,
            checkpoint_quorum: setup.checkpoint_quorum.max(2),
            checkpoint_misses: 0,
            checkpoint_sync: if setup.checkpoint_sync {
                CheckpointSync::Idle
            } else {
                CheckpointSync::Declined
            },
            window_ms: setup.window_ms,
            bid: setup.bid,
            bid_channels: setup.bid_channels,
            channel_names: setup.channel_names,
            names: setup.names.into_iter().collect(),
            max_rounds: setup.max_rounds,
            emit_psd: setup.emit_psd,
            mining: setup.hash_rate > 0.0,
            hashing: setup.mining == MiningMode::Hash,
            work_due: None,
            template: None,
            template_seq: 0,
            next_block_at: None,
            next_sync_at: 0,
            sync_cursor: 0,
            peers: BTreeSet::new(),
            requests: BTreeMap::new(),
            wanted: BTreeSet::new(),
            retries: BTreeMap::new(),
            jobs: BTreeMap::new(),
            intents: BTreeMap::new(),
            uploads: Vec::new(),
            last_decisions: BTreeMap::new(),
            last_sensed_round: None,
            task_channels: BTreeMap::new(),
            shown_trust: BTreeMap::new(),
            mined: 0,
        }
    }

    /// Name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The chain.
    #[must_use]
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The wallet's address.
    #[must_use]
    pub fn address(&self) -> Address {
        self.wallet.address()
    }

    /// Reports this node uploaded.
    #[must_use]
    pub fn uploads(&self) -> &[UploadRecord] {
        &self.uploads
    }

    /// Blocks this node mined.
    #[must_use]
    pub fn mined(&self) -> u64 {
        self.mined
    }

    /// Roles as shown in status: the configured ones, `miner`, and `task_issuer` while it is
    /// the highest-trust account.
    #[must_use]
    pub fn role_names(&self) -> Vec<String> {
        let mut out: Vec<String> = self.roles.iter().map(|r| r.name().to_owned()).collect();
        if self.hash_rate > 0.0 {
            out.push("miner".to_owned());
        }
        if chain::contracts::task_issuer(self.ledger.head_state()) == Some(self.address()) {
            out.push("task_issuer".to_owned());
        }
        out
    }

    /// Turns mining on or off (the simulation stops mining to let the network settle).
    pub fn set_mining(&mut self, on: bool, now_ms: u64) {
        self.mining = on && self.hash_rate > 0.0;
        self.schedule_mining(now_ms);
    }

    /// The next time [`Node::on_tick`] has something to do.
    #[must_use]
    pub fn next_wakeup_ms(&self) -> Option<u64> {
        let jobs = self.jobs.values().map(|j| j.due_ms).min();
        [
            Some(self.next_sync_at),
            self.next_block_at,
            jobs,
            self.mining_hold_until,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The node's status now.
    #[must_use]
    pub fn status(&self) -> NodeStatus {
        let state = self.ledger.head_state();
        let me = self.address();
        NodeStatus {
            name: self.name.clone(),
            roles: self.role_names(),
            height: self.ledger.head_height(),
            head_hash: self.ledger.head().to_string(),
            state_root: self.ledger.tree().head_state_root().to_string(),
            peers: self.peers.iter().map(ToString::to_string).collect(),
            trust: state.trust(&me).to_f64(),
            balance: state.balance(&me),
            last_decisions: self.last_decisions.values().cloned().collect(),
        }
    }

    /// Starts the node at `now_ms`: draws the first mining time, schedules the first head
    /// poll and lets the roles act on the current head (a restarted node picks up where its
    /// chain is).
    pub fn start<N: Network<Peer = P>>(
        &mut self,
        now_ms: u64,
        net: &mut N,
        sink: &mut dyn EventSink,
    ) {
        if self.may_start_from_checkpoint() {
            self.hold_mining(now_ms);
        }
        self.schedule_mining(now_ms);
        self.next_sync_at = now_ms.saturating_add(self.sync_interval_ms / 2);
        self.log(
            now_ms,
            "info",
            format!(
                "started at height {} ({}), account {}",
                self.ledger.head_height(),
                self.ledger.head(),
                self.address()
            ),
            sink,
        );
        self.act(now_ms, net, sink);
    }

    fn log(&self, now_ms: u64, level: &str, text: String, sink: &mut dyn EventSink) {
        match level {
            "warn" => tracing::warn!(node = %self.name, "{text}"),
            "error" => tracing::error!(node = %self.name, "{text}"),
            _ => tracing::debug!(node = %self.name, "{text}"),
        }
        sink.emit(NodeEvent::Log {
            node: self.name.clone(),
            at_ms: now_ms,
            level: level.to_owned(),
            text,
        });
    }

    fn account_name(&self, a: &Address) -> String {
        self.names.get(a).cloned().unwrap_or_else(|| a.to_string())
    }

    fn channel_name(&self, c: u32) -> String {
        usize::try_from(c)
            .ok()
            .and_then(|i| self.channel_names.get(i))
            .cloned()
            .unwrap_or_else(|| format!("ch{c}"))
    }

    // ---- inputs ----

    /// Handles one network event.
    pub fn on_net_event<N: Network<Peer = P>>(
        &mut self,
        now_ms: u64,
        event: NetEvent<P>,
        net: &mut N,
        sink: &mut dyn EventSink,
    ) {
        match event {
            NetEvent::Message { from, msg } => match msg {
                NetMessage::Tx(tx) => self.on_tx(now_ms, tx, &from, net, sink),
                NetMessage::Block(block) => {
                    self.on_block(now_ms, block, Some(&from), net, sink);
                }
                _ => {}
            },
            NetEvent::Request { from, req, reply } => self.on_request(req, reply, &from, net),
            NetEvent::Response { from, id, resp } => {
                self.on_response(now_ms, &from, id, resp, net, sink);
            }
            NetEvent::RequestFailed { peer, id, reason } => {
                match self.requests.remove(&id) {
                    Some(Pending::Checkpoint) => {
                        // Ask again at the next head poll (another peer may answer).
                        self.checkpoint_sync = CheckpointSync::Idle;
                    }
                    Some(Pending::CheckpointConfirm(hash)) => {
                        self.on_checkpoint_confirmation(now_ms, hash, None, &peer, net, sink);
                    }
                    Some(Pending::Block(hash)) => {
                        self.wanted.remove(&hash);
                        // Ask another peer (a few times: the block may be lost for good).
                        let tries = self.retries.entry(hash).or_insert(0);
                        *tries += 1;
                        if *tries <= BLOCK_RETRIES
                            && !self.ledger.tree().contains(&hash)
                            && let Some(other) = self.next_peer(Some(&peer))
                            && self.wanted.insert(hash)
                        {
                            self.request(
                                net,
                                &other,
                                SyncRequest::BlockByHash(hash),
                                Pending::Block(hash),
                            );
                        }
                    }
                    Some(Pending::Head | Pending::Range) | None => {}
                }
                tracing::debug!(node = %self.name, %peer, %id, %reason, "request failed");
            }
            NetEvent::PeerConnected { peer } if self.peers.insert(peer.clone()) => {
                self.log(now_ms, "info", format!("peer {peer} connected"), sink);
                self.request(net, &peer, SyncRequest::Head, Pending::Head);
            }
            NetEvent::PeerDisconnected { peer } if self.peers.remove(&peer) => {
                self.log(now_ms, "info", format!("peer {peer} disconnected"), sink);
            }
            NetEvent::Misbehaviour {
                peer,
                reason,
                score,
                banned,
            } => {
                self.log(
                    now_ms,
                    "warn",
                    format!(
                        "peer {peer} misbehaved ({reason}), score {score}{}",
                        if banned { ", banned" } else { "" }
                    ),
                    sink,
                );
            }
            _ => {}
        }
    }

    /// The next peer in round-robin order, avoiding `not` when another exists.
    fn next_peer(&mut self, not: Option<&P>) -> Option<P> {
        let n = self.peers.len();
        for _ in 0..n {
            let i = self.sync_cursor % n;
            self.sync_cursor = self.sync_cursor.wrapping_add(1);
            let peer = self.peers.iter().nth(i)?;
            if Some(peer) != not || n == 1 {
                return Some(peer.clone());
            }
        }
        None
    }

    fn request<N: Network<Peer = P>>(
        &mut self,
        net: &mut N,
        peer: &P,
        req: SyncRequest,
        what: Pending,
    ) {
        match net.request(peer, req) {
            Ok(id) => {
                self.requests.insert(id, what);
            }
            Err(e) => {
                if let Pending::Block(h) = what {
                    self.wanted.remove(&h);
                }
                tracing::debug!(node = %self.name, %peer, error = %e, "request not sent");
            }
        }
    }

    fn on_tx<N: Network<Peer = P>>(
        &mut self,
        now_ms: u64,
        tx: SignedTx,
        from: &P,
        net: &mut N,
        sink: &mut dyn EventSink,
    ) {
        let id = tx.id();
        if self.mempool.contains(&id) {
            return;
        }
        if !tx.tx.is_anonymous() {
            let nonce = self.ledger.head_state().nonce(&tx.sender_address());
            if tx.tx.nonce < nonce {
                return;
            }
        }
        if let Err(e) = tx.verify_signature(&self.ledger.params().chain_id) {
            let _ = net.report(from, "invalid transaction signature");
            self.log(
                now_ms,
                "warn",
                format!("dropped a transaction from {from}: {e}"),
                sink,
            );
            return;
        }
        let own = !tx.tx.is_anonymous() && tx.sender_address() == self.address();
        self.mempool.add(tx, self.ledger.head_height(), own);
    }

    fn on_block<N: Network<Peer = P>>(
        &mut self,
        now_ms: u64,
        block: Block,
        from: Option<&P>,
        net: &mut N,
        sink: &mut dyn EventSink,
    ) {
        let hash = block.hash();
        let parent = block.header.prev_hash;
        self.wanted.remove(&hash);
        if self.ledger.tree().contains(&hash) {
            return;
        }
        match self.ledger.insert(block, Some(now_ms)) {
            Ok(update) => {
                // An orphan (new, or one the pool already held: a walk back that was cut short
                // by a lost request resumes here) needs its parent.
                let tree = self.ledger.tree();
                if let Some(peer) = from
                    && !tree.contains(&hash)
                    && !tree.contains(&parent)
                    && !tree.is_invalid(&hash)
                    && self.wanted.insert(parent)
                {
                    self.request(
                        net,
                        peer,
                        SyncRequest::BlockByHash(parent),
                        Pending::Block(parent),
                    );
                }
                if update.head_moved() {
                    self.on_head_change(now_ms, &update, net, sink);
                }
            }
            Err(ChainError::BadTimestamp { .. }) => {
                tracing::debug!(node = %self.name, block = %hash, "block from the future, ignored");
            }
            Err(ChainError::BelowRoot { height, .. }) => {
                // A fork from behind our confirmed checkpoint (a node that mined alone, say):
                // stale, not forged, and its relays are honest; nobody is scored for it.
                tracing::debug!(node = %self.name, block = %hash, height, "block behind the checkpoint, ignored");
            }
            Err(e) => {
                if let Some(peer) = from {
                    let _ = net.report(peer, "invalid block");
                }
                self.log(now_ms, "warn", format!("rejected block {hash}: {e}"), sink);
            }
        }
    }

    fn on_request<N: Network<Peer = P>>(
        &mut self,
        req: SyncRequest,
        reply: ReplyHandle,
        from: &P,
        net: &mut N,
    ) {
        let tree = self.ledger.tree();
        let resp = match req {
            SyncRequest::BlocksFrom { height, max } => {
                let max = u64::from(max.min(MAX_SYNC_BLOCKS));
                let head = tree.head_height();
                let mut blocks = Vec::new();
                let mut h = height.max(tree.root_height().saturating_add(1));
                while h <= head && (blocks.len() as u64) < max {
                    if let Some(b) = tree.best_at_height(h).and_then(|x| tree.block(&x)) {
                        blocks.push((*b).clone());
                    }
                    h += 1;
                }
                SyncResponse::Blocks {
                    head_height: head,
                    blocks,
                }
            }
            SyncRequest::BlockByHash(hash) => {
                SyncResponse::Block(tree.block(&hash).map(|b| (*b).clone()))
            }
            // The newest confirmed checkpoint: a deeper one than the root, or the root itself
            // once pruned to (a root above the genesis is a checkpoint).
            SyncRequest::Checkpoint => SyncResponse::Checkpoint(
                tree.confirmed_checkpoint()
                    .or_else(|| (tree.root_height() > 0).then(|| tree.root()))
                    .and_then(|h| tree.block(&h))
                    .map(|b| (*b).clone()),
            ),
            SyncRequest::Head => SyncResponse::Head(HeadInfo {
                height: tree.head_height(),
                hash: tree.head(),
                work: tree.head_work(),
            }),
            _ => return,
        };
        if let Err(e) = net.respond(reply, resp) {
            tracing::debug!(node = %self.name, peer = %from, error = %e, "response not sent");
        }
    }

    fn on_response<N: Network<Peer = P>>(
        &mut self,
        now_ms: u64,
        from: &P,
        id: RequestId,
        resp: SyncResponse,
        net: &mut N,
        sink: &mut dyn EventSink,
    ) {
        let what = self.requests.remove(&id);
        match (resp, what) {
            (SyncResponse::Head(info), _) => {
                if self.mining_hold_until.is_some() && !self.wants_checkpoint(info.height) {
                    // A peer answered and has no checkpoint to offer: mine on what we have.
                    self.mining_hold_until = None;
                    self.schedule_mining(now_ms);
                }
                let tree = self.ledger.tree();
                if tree.contains(&info.hash) || tree.is_invalid(&info.hash) {
                    return;
                }
                if info.work < tree.head_work() && info.height <= tree.head_height() {
                    return;
                }
                let mine = tree.head_height();
                if self.checkpoint_pending() && self.ledger.is_fresh() {
                    // The checkpoint's answer decides where block sync starts.
                } else if self.wants_checkpoint(info.height) {
                    self.checkpoint_sync = CheckpointSync::Asked;
                    self.request(net, from, SyncRequest::Checkpoint, Pending::Checkpoint);
                } else if info.height > mine.saturating_add(RANGE_SYNC_GAP) {
                    let req = SyncRequest::BlocksFrom {
                        height: mine.saturating_add(1),
                        max: MAX_SYNC_BLOCKS,
                    };
                    self.request(net, from, req, Pending::Range);
                } else if self.wanted.insert(info.hash) {
                    self.request(
                        net,
                        from,
                        SyncRequest::BlockByHash(info.hash),
                        Pending::Block(info.hash),
                    );
                }
            }
            (SyncResponse::Block(block), Some(Pending::CheckpointConfirm(hash))) => {
                let held = block.map(|b| b.hash());
                self.on_checkpoint_confirmation(now_ms, hash, held, from, net, sink);
            }
            (SyncResponse::Block(block), what) => {
                if let Some(Pending::Block(h)) = what {
                    self.wanted.remove(&h);
                }
                if let Some(block) = block {
                    self.on_block(now_ms, block, Some(from), net, sink);
                }
            }
            (SyncResponse::Checkpoint(block), Some(Pending::Checkpoint)) => {
                self.on_checkpoint(now_ms, block, from, net, sink);
            }
            (
                SyncResponse::Blocks {
                    head_height,
                    blocks,
                },
                _,
            ) => {
                let full = blocks.len() >= MAX_SYNC_BLOCKS as usize;
                let mut last = 0;
                for block in blocks {
                    last = block.header.height;
                    self.on_block(now_ms, block, Some(from), net, sink);
                }
                if full && head_height > last {
                    let req = SyncRequest::BlocksFrom {
                        height: last.saturating_add(1),
                        max: MAX_SYNC_BLOCKS,
                    };
                    self.request(net, from, req, Pending::Range);
                }
            }
            _ => {}
        }
    }

    /// Whether to ask a peer whose head is at `peer_height` for its checkpoint: this chain holds
    /// only the genesis and the peer is far enough ahead to have confirmed one.
    fn wants_checkpoint(&self, peer_height: u64) -> bool {
        let params = self.ledger.params();
        self.may_start_from_checkpoint()
            && peer_height
                >= params
                    .checkpoint_interval
                    .saturating_add(params.checkpoint_confirmations)
    }

    /// Checkpoint sync is on and not yet asked, the chain holds only the genesis, and the
    /// chain has checkpoints at all.
    fn may_start_from_checkpoint(&self) -> bool {
        self.checkpoint_sync == CheckpointSync::Idle
            && self.ledger.is_fresh()
            && self.ledger.params().checkpoint_interval >= 2
    }

    /// Holds mining for three head polls (a peer's answer releases it sooner).
    fn hold_mining(&mut self, now_ms: u64) {
        self.mining_hold_until =
            Some(now_ms.saturating_add(self.sync_interval_ms.saturating_mul(3)));
    }

    /// Whether a checkpoint request or confirmation is out (mining and block sync wait).
    fn checkpoint_pending(&self) -> bool {
        matches!(
            self.checkpoint_sync,
            CheckpointSync::Asked | CheckpointSync::Confirming
        )
    }

    /// A peer's answer to a checkpoint request. A checkpoint is never taken on one peer's word
    /// (SPEC 4.6): it is adopted if its hash is pinned at its height, refused (and the peer
    /// scored) if another hash is pinned there, and otherwise only once other peers, up to the
    /// quorum, say their chains hold the block ([`Node::on_checkpoint_confirmation`]).
    /// Without a checkpoint, sync from genesis.
    fn on_checkpoint<N: Network<Peer = P>>(
        &mut self,
        now_ms: u64,
        block: Option<Block>,
        from: &P,
        net: &mut N,
        sink: &mut dyn EventSink,
    ) {
        let Some(block) = block else {
            self.log(
                now_ms,
                "info",
                format!("peer {from} has no confirmed checkpoint; syncing from genesis"),
                sink,
            );
            self.end_checkpoint_sync(now_ms);
            return;
        };
        if !self.ledger.is_fresh() {
            // Blocks arrived meanwhile (gossip); the range sync carries on from there.
            self.end_checkpoint_sync(now_ms);
            return;
        }
        let hash = block.hash();
        let height = block.header.height;
        if let Some(pin) = self.checkpoint_pins.iter().find(|p| p.height == height) {
            if pin.hash == hash {
                let note = "pinned in the testbed config";
                self.adopt_checkpoint(now_ms, block, from, note, net, sink);
            } else {
                let _ = net.report(from, "checkpoint not the pinned one");
                self.log(
                    now_ms,
                    "warn",
                    format!(
                        "refused checkpoint {hash} from peer {from}: height {height} is pinned to {}; syncing from genesis",
                        pin.hash
                    ),
                    sink,
                );
                self.end_checkpoint_sync(now_ms);
            }
            return;
        }
        self.checkpoint_offer = Some(CheckpointOffer {
            block: Box::new(block),
            from: from.clone(),
            confirmed_by: Vec::new(),
        });
        self.ask_checkpoint_witness(now_ms, net, sink);
    }

    /// Asks the next peer that has not yet spoken about the offered checkpoint whether it
    /// holds it; with none left before the quorum is reached, the offer is dropped (one peer's
    /// word, or too few, is never enough) and the chain replays from genesis.
    fn ask_checkpoint_witness<N: Network<Peer = P>>(
        &mut self,
        now_ms: u64,
        net: &mut N,
        sink: &mut dyn EventSink,
    ) {
        let Some(offer) = self.checkpoint_offer.as_ref() else {
            return;
        };
        let hash = offer.block.hash();
        let witness = self
            .peers
            .iter()
            .find(|p| **p != offer.from && !offer.confirmed_by.contains(p))
            .cloned();
        match witness {
            Some(witness) => {
                self.checkpoint_sync = CheckpointSync::Confirming;
                self.request(
                    net,
                    &witness,
                    SyncRequest::BlockByHash(hash),
                    Pending::CheckpointConfirm(hash),
                );
            }
            None => {
                let served = offer.confirmed_by.len().saturating_add(1);
                let from = offer.from.clone();
                self.log(
                    now_ms,
                    "warn",
                    format!(
                        "refused checkpoint {hash} from peer {from}: served by {served} peer(s), the quorum is {}; syncing from genesis",
                        self.checkpoint_quorum
                    ),
                    sink,
                );
                self.end_checkpoint_sync(now_ms);
            }
        }
    }

    /// A peer's answer about the offered checkpoint `hash`: it holds the block
    /// (`held == Some(hash)`) or not (None, or the request failed).
    fn on_checkpoint_confirmation<N: Network<Peer = P>>(
        &mut self,
        now_ms: u64,
        hash: Hash256,
        held: Option<Hash256>,
        witness: &P,
        net: &mut N,
        sink: &mut dyn EventSink,
    ) {
        let Some(mut offer) = self.checkpoint_offer.take() else {
            return;
        };
        if offer.block.hash() != hash || !self.ledger.is_fresh() {
            self.end_checkpoint_sync(now_ms);
            return;
        }
        if held == Some(hash) {
            if !offer.confirmed_by.contains(witness) {
                offer.confirmed_by.push(witness.clone());
            }
            if offer.confirmed_by.len().saturating_add(1) >= self.checkpoint_quorum {
                let witnesses: Vec<String> =
                    offer.confirmed_by.iter().map(ToString::to_string).collect();
                let note = format!("confirmed by peer {}", witnesses.join(", peer "));
                self.adopt_checkpoint(now_ms, *offer.block, &offer.from, &note, net, sink);
            } else {
                self.checkpoint_offer = Some(offer);
                self.ask_checkpoint_witness(now_ms, net, sink);
            }
        } else {
            // Peers a block apart around a checkpoint's confirmation can disagree for a moment
            // (one has pruned past it): ask again at the next head poll, twice at most.
            let from = offer.from;
            self.checkpoint_misses = self.checkpoint_misses.saturating_add(1);
            let retry = self.checkpoint_misses < CHECKPOINT_OFFERS;
            if !retry {
                // The offering peer kept serving a checkpoint the others do not hold.
                let _ = net.report(&from, "checkpoint not confirmed");
            }
            self.log(
                now_ms,
                "warn",
                format!(
                    "peer {witness} does not hold checkpoint {hash} offered by peer {from}; {}",
                    if retry {
                        "asking again"
                    } else {
                        "syncing from genesis"
                    }
                ),
                sink,
            );
            if retry {
                self.checkpoint_sync = CheckpointSync::Idle;
                self.hold_mining(now_ms);
            } else {
                self.end_checkpoint_sync(now_ms);
            }
        }
    }

    /// Checkpoint sync is over (done, refused or unavailable): block sync and mining go on
    /// from the head this leaves.
    fn end_checkpoint_sync(&mut self, now_ms: u64) {
        self.checkpoint_sync = CheckpointSync::Declined;
        self.checkpoint_offer = None;
        self.mining_hold_until = None;
        self.schedule_mining(now_ms);
    }

    /// Restarts the chain from `block` (validated first), then fetches the blocks after it
    /// from `from`; a refused checkpoint scores `from` and leaves the genesis chain.
    fn adopt_checkpoint<N: Network<Peer = P>>(
        &mut self,
        now_ms: u64,
        block: Block,
        from: &P,
        note: &str,
        net: &mut N,
        sink: &mut dyn EventSink,
    ) {
        let hash = block.hash();
        let height = block.header.height;
        match self.ledger.restart_from_checkpoint(block) {
            Ok(()) => {
                self.mempool = Mempool::new(MEMPOOL_AGE, MEMPOOL_CAPACITY);
                self.log(
                    now_ms,
                    "info",
                    format!(
                        "started from peer {from}'s checkpoint {hash} at height {height} ({note})"
                    ),
                    sink,
                );
                let req = SyncRequest::BlocksFrom {
                    height: height.saturating_add(1),
                    max: MAX_SYNC_BLOCKS,
                };
                self.request(net, from, req, Pending::Range);
            }
            Err(e) => {
                let _ = net.report(from, "invalid checkpoint");
                self.log(
                    now_ms,
                    "warn",
                    format!(
                        "refused checkpoint {hash} from peer {from}: {e}; syncing from genesis"
                    ),
                    sink,
                );
            }
        }
        self.end_checkpoint_sync(now_ms);
    }

    /// Handles whatever is due at `now_ms`: sensing jobs, a mined block, a head poll.
    pub fn on_tick<N: Network<Peer = P>>(
        &mut self,
        now_ms: u64,
        net: &mut N,
        sink: &mut dyn EventSink,
    ) {
        let due: Vec<(u64, Hash256)> = self
            .jobs
            .iter()
            .filter(|(_, j)| j.due_ms <= now_ms)
            .map(|(k, _)| *k)
            .collect();
        for key in due {
            if let Some(job) = self.jobs.remove(&key) {
                self.run_sense_job(now_ms, &job, net, sink);
            }
        }
        if self.mining_hold_until.is_some_and(|t| t <= now_ms) && !self.checkpoint_pending() {
            // Nobody answered: mine alone.
            self.mining_hold_until = None;
            self.schedule_mining(now_ms);
        }
        if self.next_block_at.is_some_and(|t| t <= now_ms) {
            self.mine_block(now_ms, net, sink);
        }
        if now_ms >= self.next_sync_at {
            self.next_sync_at = now_ms.saturating_add(self.sync_interval_ms);
            if let Some(peer) = self.next_peer(None) {
                self.request(net, &peer, SyncRequest::Head, Pending::Head);
            }
            // Retry counts are per walk; a later walk may try again.
            self.retries.clear();
        }
    }

    // ---- mining ----

    fn uniform(&mut self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let u = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        u
    }

    /// Draws the time of this node's next block on the current head: exponential with rate
    /// `hash_rate / D_i`, `D_i = D_base · g(T_i)` from the head state.
    /// With hashing, asks the driver for a fresh template (or to stop) instead.
    fn schedule_mining(&mut self, now_ms: u64) {
        self.next_block_at = None;
        let state = Arc::clone(self.ledger.head_state());
        let params = self.ledger.params();
        let me = self.address();
        let trust = state.trust(&me);
        // Only an account of the highest trust may mine a checkpoint.
        let may_mine = self.mining
            && self.mining_hold_until.is_none()
            && !(params.is_checkpoint_height(state.meta.height.saturating_add(1))
                && trust != state.highest_trust());
        if self.hashing {
            self.work_due = Some(may_mine);
            return;
        }
        if !may_mine {
            return;
        }
        let (base, _) = chain::pot::next_base_difficulty(&state.meta, params);
        #[allow(clippy::cast_precision_loss)]
        let work = chain::pot::expected_hashes(base, trust).max(1) as f64;
        let rate_per_ms = self.hash_rate / work / 1000.0;
        let u = self.uniform();
        let wait = -(1.0 - u).ln() / rate_per_ms;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let wait_ms = if wait.is_finite() {
            wait.ceil().clamp(1.0, 1.0e15) as u64
        } else {
            u64::MAX / 4
        };
        self.next_block_at = Some(now_ms.saturating_add(wait_ms));
    }

    fn mine_block<N: Network<Peer = P>>(
        &mut self,
        now_ms: u64,
        net: &mut N,
        sink: &mut dyn EventSink,
    ) {
        self.next_block_at = None;
        if self.checkpoint_pending() {
            // Mining on the genesis now would only fork off the chain being fetched.
            self.schedule_mining(now_ms);
            return;
        }
        let Some((header, body)) = self.build_template(now_ms, sink) else {
            self.schedule_mining(now_ms);
            return;
        };
        // Timed mode: the wait stood for the work; the target is low, the search short.
        match chain::miner::mine(&header, 0, 1, &AtomicBool::new(false)) {
            Ok(header) => self.finish_block(now_ms, header, body, net, sink),
            Err(e) => {
                self.log(now_ms, "error", format!("mining failed: {e}"), sink);
                self.schedule_mining(now_ms);
            }
        }
    }

    /// A block template on the current head (mempool candidates that fail for good are
    /// dropped); None (logged) if none can be built.
    fn build_template(&mut self, now_ms: u64, sink: &mut dyn EventSink) -> Option<(Header, Body)> {
        let state = Arc::clone(self.ledger.head_state());
        let parent = self.ledger.head();
        let timestamp = now_ms.max(state.meta.timestamp_ms.saturating_add(1));
        let candidates = self.mempool.candidates();
        let template = match build_block(
            &state,
            parent,
            self.wallet.public_key(),
            timestamp,
            &candidates,
            self.ledger.params(),
            Verification::Trusted,
        ) {
            Ok(t) => t,
            Err(e) => {
                self.log(now_ms, "warn", format!("cannot build a block: {e}"), sink);
                return None;
            }
        };
        for (id, e) in &template.rejected {
            if permanently_invalid(e) {
                self.mempool.remove(id);
            }
        }
        Some((template.header, template.body))
    }

    /// Seals a header whose nonce meets its target, files the block and gossips it.
    fn finish_block<N: Network<Peer = P>>(
        &mut self,
        now_ms: u64,
        header: Header,
        body: Body,
        net: &mut N,
        sink: &mut dyn EventSink,
    ) {
        match Block::seal(header, body, self.wallet.key()) {
            Ok(block) => {
                self.mined += 1;
                let hash = block.hash();
                let msg = NetMessage::Block(block.clone());
                self.on_block(now_ms, block, None, net, sink);
                if self.ledger.tree().contains(&hash)
                    && let Err(e) = net.publish(&msg)
                {
                    self.log(now_ms, "warn", format!("block not gossiped: {e}"), sink);
                }
                // The head did not move (our block lost a tie, or failed validation, logged):
                // mine on.
                if self.next_block_at.is_none() && self.work_due.is_none() {
                    self.schedule_mining(now_ms);
                }
            }
            Err(e) => {
                self.log(now_ms, "error", format!("sealing failed: {e}"), sink);
                self.schedule_mining(now_ms);
            }
        }
    }

    /// Hashing mode: what the driver's nonce search should do now (None: carry on as it is).
    /// A new head, or a change in whether this node may mine, yields a fresh template or a
    /// stop. Timed mode: always None.
    pub fn mining_work(&mut self, now_ms: u64, sink: &mut dyn EventSink) -> Option<MiningWork> {
        let may_mine = self.work_due.take()?;
        if !may_mine || self.checkpoint_pending() {
            // Asked: the checkpoint's answer schedules mining again.
            self.template = None;
            return Some(MiningWork::Stop);
        }
        let Some((header, body)) = self.build_template(now_ms, sink) else {
            self.template = None;
            return Some(MiningWork::Stop);
        };
        self.template_seq = self.template_seq.wrapping_add(1);
        self.template = Some(OpenTemplate {
            id: self.template_seq,
            parent: header.prev_hash,
            body,
        });
        Some(MiningWork::Start(Box::new(MiningTemplate {
            id: self.template_seq,
            header,
        })))
    }

    /// Hashing mode: the driver found `header`'s nonce for template `id`. A template that is
    /// no longer current (the head moved meanwhile) is dropped.
    pub fn on_mined<N: Network<Peer = P>>(
        &mut self,
        now_ms: u64,
        id: u64,
        header: Header,
        net: &mut N,
        sink: &mut dyn EventSink,
    ) {
        let head = self.ledger.head();
        if let Some(template) = self.template.take_if(|t| t.id == id && t.parent == head) {
            self.finish_block(now_ms, header, template.body, net, sink);
        }
    }

    // ---- head changes ----

    fn on_head_change<N: Network<Peer = P>>(
        &mut self,
        now_ms: u64,
        update: &ChainUpdate,
        net: &mut N,
        sink: &mut dyn EventSink,
    ) {
        let me = self.address();
        let height = self.ledger.head_height();
        for block in &update.reverted {
            for tx in block.body.transactions() {
                let own = !tx.tx.is_anonymous() && tx.sender_address() == me;
                self.mempool.add(tx.clone(), height, own);
            }
        }
        for adopted in &update.adopted {
            for tx in adopted.block.body.transactions() {
                self.mempool.remove(&tx.id());
            }
        }
        let state = Arc::clone(self.ledger.head_state());
        self.mempool.prune(height, |a| state.nonce(a));
        let reorg = u64::try_from(update.reverted.len()).unwrap_or(u64::MAX);
        for (i, adopted) in update.adopted.iter().enumerate() {
            self.emit_block(now_ms, adopted, if i == 0 { reorg } else { 0 }, sink);
        }
        if reorg > 0 {
            self.log(
                now_ms,
                "info",
                format!("reorg: {reorg} block(s) rolled back, head {height}"),
                sink,
            );
        }
        self.schedule_mining(now_ms);
        self.act(now_ms, net, sink);
        for tx in self.mempool.due_for_resend(height, RESEND_EVERY) {
            let _ = net.publish(&NetMessage::Tx(tx));
        }
    }

    fn emit_block(
        &mut self,
        now_ms: u64,
        adopted: &super::ledger::Adopted,
        reorg: u64,
        sink: &mut dyn EventSink,
    ) {
        let h = &adopted.block.header;
        sink.emit(NodeEvent::Block {
            node: self.name.clone(),
            at_ms: now_ms,
            height: h.height,
            hash: adopted.block.hash().to_string(),
            miner: self.account_name(&h.miner_address()),
            miner_trust: h.miner_trust.to_f64(),
            base_difficulty: h.base_difficulty,
            txs: adopted.block.body.transactions().len(),
            reorg_depth: reorg,
        });
        let Some(receipt) = &adopted.receipt else {
            return;
        };
        for record in &receipt.events {
            let event = &record.event;
            if let ContractEvent::TaskOpened { task, channel, .. } = event {
                self.task_channels.insert(*task, *channel);
                while self.task_channels.len() > 1024 {
                    self.task_channels.pop_first();
                }
            }
            if let ContractEvent::Settled { trust, .. } = event {
                for t in trust {
                    self.emit_trust(now_ms, t.account, t.after, sink);
                }
            }
            let mut detail = serde_json::to_value(event).unwrap_or(serde_json::Value::Null);
            self.add_names(&mut detail);
            let kind = detail
                .get("event")
                .and_then(|k| k.as_str())
                .unwrap_or("contract")
                .to_owned();
            let channel = detail
                .get("channel")
                .and_then(serde_json::Value::as_u64)
                .and_then(|c| u32::try_from(c).ok())
                .or_else(|| {
                    ["task", "auction"]
                        .iter()
                        .find_map(|k| detail.get(*k).and_then(serde_json::Value::as_u64))
                        .and_then(|t| self.task_channels.get(&t).copied())
                })
                .map(|c| self.channel_name(c));
            let text = self.describe(event, channel.as_deref(), &kind);
            sink.emit(NodeEvent::Contract {
                node: self.name.clone(),
                at_ms: now_ms,
                height: h.height,
                kind,
                channel,
                text,
                detail,
            });
        }
        // Trust also moves outside the settlements' participant lists (inactivity decay of the
        // accounts a task skipped): after each block, report every named account whose trust
        // differs from what was last reported, so viewers show the chain's values (the next
        // block's header carries exactly these for its miner).
        if let Some(state) = self.ledger.state_after(&adopted.block.hash()).cloned() {
            let changed: Vec<(Address, Fx)> = self
                .names
                .keys()
                .map(|a| (*a, state.trust(a)))
                .filter(|(a, t)| self.shown_trust.get(a) != Some(t))
                .collect();
            for (account, trust) in changed {
                self.emit_trust(now_ms, account, trust, sink);
            }
        }
    }

    /// Reports `account`'s trust (and remembers it as the last one reported).
    fn emit_trust(&mut self, now_ms: u64, account: Address, trust: Fx, sink: &mut dyn EventSink) {
        self.shown_trust.insert(account, trust);
        sink.emit(NodeEvent::Trust {
            node: self.name.clone(),
            at_ms: now_ms,
            account: self.account_name(&account),
            trust: trust.to_f64(),
        });
    }

    /// Adds `"names": {"0x…": "n1", ...}` to an event's detail for every address it mentions
    /// that this node has a name for, so viewers (the dashboard) show names, not addresses.
    fn add_names(&self, detail: &mut serde_json::Value) {
        fn collect(v: &serde_json::Value, out: &mut Vec<String>) {
            match v {
                serde_json::Value::String(s) if s.starts_with("0x") => out.push(s.clone()),
                serde_json::Value::Array(items) => items.iter().for_each(|i| collect(i, out)),
                serde_json::Value::Object(map) => map.values().for_each(|i| collect(i, out)),
                _ => {}
            }
        }
        let mut mentioned = Vec::new();
        collect(detail, &mut mentioned);
        let names: serde_json::Map<String, serde_json::Value> = mentioned
            .into_iter()
            .filter_map(|s| {
                let address = s.parse::<Address>().ok()?;
                let name = self.names.get(&address)?;
                Some((s, serde_json::Value::from(name.as_str())))
            })
            .collect();
        if let Some(obj) = detail.as_object_mut()
            && !names.is_empty()
        {
            obj.insert("names".to_owned(), serde_json::Value::Object(names));
        }
    }

    fn describe(&self, event: &ContractEvent, channel: Option<&str>, kind: &str) -> String {
        let ch = channel.unwrap_or("?");
        match event {
            ContractEvent::TaskOpened { task, round, .. } => {
                format!("task {task} opened on {ch} (round {round})")
            }
            ContractEvent::Registered { task, account, .. } => {
                format!("{} registered for task {task}", self.account_name(account))
            }
            ContractEvent::BoughtIn { task, account, .. } => {
                format!("{} bought in to task {task}", self.account_name(account))
            }
            ContractEvent::Selected { task, sensors, .. } => {
                format!("task {task} on {ch}: {} sensors selected", sensors.len())
            }
            ContractEvent::ReportAccepted {
                task,
                decision,
                energy_mdb,
                ..
            } => format!(
                "task {task} on {ch}: anonymous report {} ({:.1} dB) accepted",
                if *decision { "busy" } else { "idle" },
                f64::from(*energy_mdb) / 1000.0
            ),
            ContractEvent::Fused {
                task,
                busy,
                reports,
                busy_reports,
                ..
            } => format!(
                "task {task} on {ch}: fused {} ({busy_reports}/{reports} busy)",
                if *busy { "BUSY" } else { "idle" }
            ),
            ContractEvent::Revealed { task, account, .. } => {
                format!(
                    "{} revealed its report for task {task}",
                    self.account_name(account)
                )
            }
            ContractEvent::Settled {
                task,
                trust,
                minted,
                ..
            } => {
                format!(
                    "task {task} on {ch} settled: {} sensors scored, {minted} minted",
                    trust.len()
                )
            }
            ContractEvent::AuctionOpened { auction, .. } => {
                format!("auction {auction} opened for {ch}")
            }
            ContractEvent::AuctionSkipped { channel: c, .. } => {
                format!("{} idle but not auctioned", self.channel_name(*c))
            }
            ContractEvent::BidCommitted {
                auction, bidder, ..
            } => {
                format!(
                    "{} committed a sealed bid in auction {auction}",
                    self.account_name(bidder)
                )
            }
            ContractEvent::BidsRevealed {
                auction,
                bidder,
                bids,
            } => {
                format!(
                    "{} revealed {bids} bid(s) in auction {auction}",
                    self.account_name(bidder)
                )
            }
            ContractEvent::AuctionSettled {
                auction,
                winner,
                price,
                ..
            } => match winner {
                Some(w) => format!(
                    "auction {auction} on {ch} won by {} at {price}",
                    self.account_name(w)
                ),
                None => format!("auction {auction} on {ch}: no valid bid"),
            },
            ContractEvent::LeaseGranted {
                holder,
                start,
                expires,
                price,
                ..
            } => format!(
                "lease of {ch} granted to {} for heights {start}..={expires} at {price}",
                self.account_name(holder)
            ),
            ContractEvent::LeaseSuspended { holder, .. } => format!(
                "lease of {ch} held by {} suspended: the primary user is back",
                self.account_name(holder)
            ),
            ContractEvent::LeaseResumed { holder, .. } => {
                format!(
                    "lease of {ch} held by {} resumed",
                    self.account_name(holder)
                )
            }
            ContractEvent::LeaseExpired { holder, .. } => {
                format!(
                    "lease of {ch} held by {} expired",
                    self.account_name(holder)
                )
            }
            ContractEvent::LeaseRenewed {
                holder, expires, ..
            } => {
                format!(
                    "lease of {ch} renewed by {} until {expires}",
                    self.account_name(holder)
                )
            }
            _ => format!("{kind} ({ch})"),
        }
    }

    // ---- roles ----

    fn expire_intents(&mut self) {
        let height = self.ledger.head_height();
        let pool = &self.mempool;
        let jobs: BTreeSet<&Intent> = self.jobs.values().map(|j| &j.intent).collect();
        self.intents.retain(|intent, s| {
            let waiting = s.tx.is_some_and(|id| pool.contains(&id)) || jobs.contains(intent);
            waiting || height <= s.created.saturating_add(INTENT_RETRY)
        });
    }

    /// Lets the roles act on the head state.
    fn act<N: Network<Peer = P>>(&mut self, now_ms: u64, net: &mut N, sink: &mut dyn EventSink) {
        self.expire_intents();
        let state = Arc::clone(self.ledger.head_state());
        let height = self.ledger.head_height();
        let plans = {
            let ctx = RoleCtx {
                state: &state,
                params: self.ledger.params(),
                wallet: &self.wallet,
                next_height: height.saturating_add(1),
                sensor: self.roles.contains(&Role::Sensor) && self.sensor.is_some(),
                mo: self.roles.contains(&Role::Mo),
                bid: &self.bid,
                bid_channels: &self.bid_channels,
                max_rounds: self.max_rounds,
            };
            roles::plan(&ctx)
        };
        let plans = match plans {
            Ok(p) => p,
            Err(e) => {
                self.log(
                    now_ms,
                    "error",
                    format!("cannot read the contracts' state: {e}"),
                    sink,
                );
                return;
            }
        };
        for plan in plans {
            if self.intents.contains_key(plan.intent()) {
                continue;
            }
            match plan {
                Plan::Call {
                    intent,
                    contract,
                    call,
                } => match self.sign_call(&state, contract, &call) {
                    Ok(tx) => {
                        let id = tx.id();
                        self.submit(tx, net);
                        self.intents.insert(
                            intent,
                            IntentState {
                                created: height,
                                tx: Some(id),
                            },
                        );
                    }
                    Err(e) => self.log(
                        now_ms,
                        "error",
                        format!("cannot sign a {} call: {e}", call.name()),
                        sink,
                    ),
                },
                Plan::Sense {
                    intent,
                    task,
                    round,
                    channel,
                    ring,
                } => {
                    let key = (task, roles::ring_digest(&ring));
                    self.jobs.insert(
                        key,
                        SenseJob {
                            due_ms: now_ms.saturating_add(self.window_ms),
                            task,
                            round,
                            channel,
                            ring,
                            intent: intent.clone(),
                        },
                    );
                    self.intents.insert(
                        intent,
                        IntentState {
                            created: height,
                            tx: None,
                        },
                    );
                }
            }
        }
    }

    fn sign_call(
        &self,
        state: &chain::State,
        contract: ContractId,
        call: &chain::contracts::Call,
    ) -> Result<SignedTx, ChainError> {
        let me = self.address();
        let nonce = match self.mempool.highest_nonce(&me) {
            Some(n) => state.nonce(&me).max(n.saturating_add(1)),
            None => state.nonce(&me),
        };
        SignedTx::sign(
            UnsignedTx {
                sender: *self.wallet.public_key(),
                nonce,
                fee: self.fee,
                payload: TxPayload::Contract(call.to(contract)),
            },
            self.wallet.key(),
            &self.ledger.params().chain_id,
        )
    }

    fn submit<N: Network<Peer = P>>(&mut self, tx: SignedTx, net: &mut N) {
        let own = !tx.tx.is_anonymous();
        // Own uploads are re-sent like own calls (`own` only skips the nonce bookkeeping).
        let _ = own;
        self.mempool
            .add(tx.clone(), self.ledger.head_height(), true);
        if let Err(e) = net.publish(&NetMessage::Tx(tx)) {
            tracing::debug!(node = %self.name, error = %e, "transaction not gossiped yet");
        }
    }

    fn run_sense_job<N: Network<Peer = P>>(
        &mut self,
        now_ms: u64,
        job: &SenseJob,
        net: &mut N,
        sink: &mut dyn EventSink,
    ) {
        let state = Arc::clone(self.ledger.head_state());
        let next = self.ledger.head_height().saturating_add(1);
        // The task may have moved on while the window was being sensed.
        let still = state
            .contract_state(&task_contract(job.task))
            .and_then(|b| <Task as chain::codec::Decode>::from_bytes(b).ok())
            .is_some_and(|t| {
                t.phase == TaskPhase::Sensing && t.ring == job.ring && next <= t.timeline.deadline
            });
        if !still {
            return;
        }
        let Some(sensor) = self.sensor.as_mut() else {
            return;
        };
        let report = match sensor.sense(job.round) {
            Ok(r) => r,
            Err(e) => {
                self.log(
                    now_ms,
                    "error",
                    format!("sensing round {} failed: {e:#}", job.round),
                    sink,
                );
                return;
            }
        };
        if self.last_sensed_round != Some(job.round) {
            self.last_sensed_round = Some(job.round);
            if self.emit_psd {
                sink.emit(psd_event(&self.name, now_ms, &report, PSD_BINS));
            }
            for (i, d) in report.decisions.iter().enumerate() {
                let event = NodeEvent::Decision {
                    node: self.name.clone(),
                    at_ms: now_ms,
                    round: job.round,
                    channel: d.channel.clone(),
                    energy_dbfs: d.energy_dbfs,
                    noise_dbfs: d.noise_dbfs,
                    threshold_dbfs: d.threshold_dbfs,
                    busy: d.busy,
                };
                self.last_decisions.insert(i, event.clone());
                sink.emit(event);
            }
        }
        let Some(decision) = usize::try_from(job.channel)
            .ok()
            .and_then(|c| report.decisions.get(c))
        else {
            self.log(
                now_ms,
                "error",
                format!("no decision for channel {}", job.channel),
                sink,
            );
            return;
        };
        let sensing = SensingReport {
            decision: decision.busy,
            energy_mdb: energy_mdb(decision.energy_dbfs, decision.noise_dbfs),
            cell: self.cell,
            commitment: roles::my_commitment(&self.wallet, job.task),
        };
        let chain_id = self.ledger.params().chain_id;
        let signed = Ring::from_bytes(&job.ring.concat()).and_then(|ring| {
            AnonymousUpload::sign(
                self.wallet.key(),
                &chain_id,
                job.task,
                job.round,
                sensing,
                ring,
                &mut self.rng,
            )
        });
        let upload = match signed {
            Ok(u) => u,
            Err(e) => {
                self.log(
                    now_ms,
                    "error",
                    format!("cannot sign the report of task {}: {e}", job.task),
                    sink,
                );
                return;
            }
        };
        let key_image = *upload.key_image();
        match SignedTx::anonymous(upload) {
            Ok(tx) => {
                let id = tx.id();
                if self.uploads.len() >= UPLOAD_RECORDS {
                    self.uploads.drain(..UPLOAD_RECORDS / 2);
                }
                self.uploads.push(UploadRecord {
                    task: job.task,
                    round: job.round,
                    channel: job.channel,
                    key_image,
                    sensed_at_ms: now_ms,
                    sensed_height: self.ledger.head_height(),
                    busy: decision.busy,
                });
                self.submit(tx, net);
                self.intents.insert(
                    job.intent.clone(),
                    IntentState {
                        created: self.ledger.head_height(),
                        tx: Some(id),
                    },
                );
            }
            Err(e) => self.log(
                now_ms,
                "error",
                format!("cannot wrap the upload: {e}"),
                sink,
            ),
        }
    }
}

/// Errors after which a transaction can never apply on this chain.
fn permanently_invalid(e: &ChainError) -> bool {
    match e {
        ChainError::NonceMismatch { expected, got, .. } => got < expected,
        ChainError::Late { .. }
        | ChainError::RingMismatch { .. }
        | ChainError::DuplicateReport { .. }
        | ChainError::RoundMismatch { .. }
        | ChainError::UnknownContract { .. } => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn report_fields_are_coarse_and_bounded() {
        assert_eq!(grid_cell([30.0, 99.9], 50.0), GridCell { x: 0, y: 1 });
        assert_eq!(grid_cell([-0.1, 100.0], 50.0), GridCell { x: -1, y: 2 });
        assert_eq!(energy_mdb(-30.0, -40.0), 10_000);
        assert_eq!(energy_mdb(100.0, -100.0), fusion::ENERGY_LIMIT_MDB);
        assert_eq!(energy_mdb(f64::NAN, -40.0), 0);
    }

    #[test]
    fn only_hopeless_transactions_are_dropped() {
        let a = Address::from_bytes([1; 20]);
        assert!(permanently_invalid(&ChainError::NonceMismatch {
            account: a,
            expected: 5,
            got: 4
        }));
        assert!(!permanently_invalid(&ChainError::NonceMismatch {
            account: a,
            expected: 5,
            got: 6
        }));
        assert!(!permanently_invalid(&ChainError::InsufficientFunds {
            account: a,
            needed: 2,
            available: 1
        }));
    }
}
