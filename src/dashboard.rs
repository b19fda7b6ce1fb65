//! The dashboard's feeders: from a node's [`NodeEvent`] stream and [`NodeStatus`] to the
//! `tui` crate's view model, in-process (`trustband run`) or over the local API
//! (`trustband tui --connect`).
//!
//! Data flow:
//!
//! ```text
//!  NodeEvent stream ──> Aggregator::apply ─┐   (bounded history: waterfall rows, trust
//!  NodeStatus (1 Hz) ─> Aggregator::apply_status   history, recent blocks, auctions, leases,
//!                                          │   log)
//!                                          ├─> snapshot()  -> tui::Snapshot (API "snapshot",
//!                                          │                  dashboard every refresh)
//!                                          └─> take_rows() -> tui::Update::Rows (waterfall)
//!  run_in_process: broadcast::Receiver ─> Aggregator ─> mpsc<UiEvent> ─> tui::run
//!  run_connected:  api::Client (subscribe psd + poll snapshot, reconnect with back-off)
//!                                                     ─> mpsc<UiEvent> ─> tui::run
//! ```
//!
//! One node's view: the *primary* node (configured, else the status's node, else the first
//! node that reports a block, contract or trust event) supplies the chain-derived state (chain
//! panel, trust, fused decisions, auctions, leases, contract log lines): in a multi-node
//! simulation every node applies the same blocks, so taking them from one node avoids counting
//! each event once per node. Per-node state (heights, spectra, local decisions, logs) comes
//! from every node's own events.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tui::model::{
    AuctionPhase, AuctionRow, BlockRow, ChainView, ChannelEdge, ChannelRow, DEFAULT_BINS, LeaseRow,
    LeaseState, Level, LogLine, MAX_BINS, NodeReading, NodeRow, Role, Snapshot, SpectrumFrame,
    TrustRow, Update, WaterfallRow,
};
use tui::{RunOptions, UiEvent};

use crate::api::NodeApi;
use crate::api::client::{Client, ClientError};
use crate::api::protocol::{StreamLine, SubscribeParams, Topic};
use crate::node::events::{ChannelSpan, NodeEvent, NodeStatus};

/// Sizes and fixed facts of an [`Aggregator`].
#[derive(Debug, Clone, PartialEq)]
pub struct AggregatorConfig {
    /// The node whose chain view is shown (see the module docs); learned when `None`.
    pub primary: Option<String>,
    /// Ideal block interval τ* (ms), shown beside the measured mean.
    pub target_interval_ms: Option<f64>,
    /// Trust a sensor needs to be selected (a mark in the trust table).
    pub trust_threshold: Option<f32>,
    /// Decimal places of one Sharecoin.
    pub coin_decimals: u8,
    /// Blocks kept (newest) for the chain panel and the `blocks` query.
    pub recent_blocks: usize,
    /// Blocks over which the mean interval is measured.
    pub interval_window: usize,
    /// Trust values kept per account.
    pub trust_history: usize,
    /// Log lines kept (and put in each snapshot).
    pub log_lines: usize,
    /// Keep waterfall rows for [`Aggregator::take_rows`] (the in-process dashboard); the API
    /// server's aggregator does not need them.
    pub keep_rows: bool,
    /// Rows kept per node between two [`Aggregator::take_rows`] calls.
    pub max_pending_rows: usize,
    /// A node silent for this long (event time, ms) behind the newest event is shown offline.
    pub offline_after_ms: u64,
    /// Nodes tracked at most (a producer inventing names cannot grow memory without bound).
    pub max_nodes: usize,
    /// Accounts with a trust row at most.
    pub max_accounts: usize,
    /// Channels tracked at most.
    pub max_channels: usize,
    /// Ended auctions kept (the latest per channel first).
    pub max_ended_auctions: usize,
    /// Ended (expired) leases kept.
    pub max_ended_leases: usize,
}

impl Default for AggregatorConfig {
    fn default() -> Self {
        AggregatorConfig {
            primary: None,
            target_interval_ms: None,
            trust_threshold: None,
            coin_decimals: 0,
            recent_blocks: 32,
            interval_window: 16,
            trust_history: 64,
            log_lines: 200,
            keep_rows: false,
            max_pending_rows: 64,
            offline_after_ms: 15_000,
            max_nodes: 256,
            max_accounts: 1024,
            max_channels: 256,
            max_ended_auctions: 16,
            max_ended_leases: 16,
        }
    }
}

/// Heights remembered for fork detection.
const FORK_MEMORY: u64 = 256;

#[derive(Debug, Clone, Default)]
struct Reading {
    round: u64,
    energy_dbfs: f64,
    noise_dbfs: f64,
    threshold_dbfs: f64,
    busy: bool,
}

#[derive(Debug, Clone, Default)]
struct NodeState {
    roles: Vec<Role>,
    height: u64,
    peers: u32,
    balance: u128,
    last_ms: u64,
    spectrum: Option<SpectrumFrame>,
    /// Latest reading per channel.
    readings: BTreeMap<String, Reading>,
}

#[derive(Debug, Clone, Default)]
struct ChannelState {
    center_hz: f64,
    bandwidth_hz: f64,
    fused: Option<bool>,
    round: Option<u64>,
}

#[derive(Debug, Clone, Default)]
struct TrustState {
    value: f32,
    history: VecDeque<f32>,
}

/// Folds a node event stream into the dashboard's [`Snapshot`], keeping bounded history.
#[derive(Debug, Clone)]
pub struct Aggregator {
    config: AggregatorConfig,
    primary: Option<String>,
    status: Option<NodeStatus>,
    latest_ms: u64,
    nodes: BTreeMap<String, NodeState>,
    channels: BTreeMap<String, ChannelState>,
    /// Primary's best chain, oldest first, heights increasing.
    blocks: VecDeque<BlockRow>,
    base_difficulty: u64,
    /// Hashes seen per height (any node), for fork counting.
    seen_hashes: BTreeMap<u64, Vec<String>>,
    forks: u64,
    reorgs: u64,
    last_reorg_depth: Option<u64>,
    trust: BTreeMap<String, TrustState>,
    /// Latest selection per channel.
    selected: BTreeMap<String, BTreeSet<String>>,
    /// Auctions by id.
    auctions: BTreeMap<u64, AuctionRow>,
    leases: Vec<LeaseRow>,
    /// Account names by address, learned from contract events.
    names: BTreeMap<String, String>,
    log: VecDeque<LogLine>,
    seq: u64,
    pending_rows: BTreeMap<String, VecDeque<WaterfallRow>>,
    lagged: u64,
}

impl Aggregator {
    /// An empty aggregator.
    pub fn new(config: AggregatorConfig) -> Aggregator {
        Aggregator {
            primary: config.primary.clone(),
            config,
            status: None,
            latest_ms: 0,
            nodes: BTreeMap::new(),
            channels: BTreeMap::new(),
            blocks: VecDeque::new(),
            base_difficulty: 0,
            seen_hashes: BTreeMap::new(),
            forks: 0,
            reorgs: 0,
            last_reorg_depth: None,
            trust: BTreeMap::new(),
            selected: BTreeMap::new(),
            auctions: BTreeMap::new(),
            leases: Vec::new(),
            names: BTreeMap::new(),
            log: VecDeque::new(),
            seq: 0,
            pending_rows: BTreeMap::new(),
            lagged: 0,
        }
    }

    /// The node whose chain view is shown, once known.
    pub fn primary(&self) -> Option<&str> {
        self.primary.as_deref()
    }

    /// Events the feeder reported lost ([`Aggregator::note_lagged`]).
    pub fn lagged(&self) -> u64 {
        self.lagged
    }

    /// The primary's latest blocks, newest first, at most `limit`.
    pub fn recent_blocks(&self, limit: usize) -> Vec<BlockRow> {
        self.blocks.iter().rev().take(limit).cloned().collect()
    }

    /// Records that the feeder missed `n` events (a lagging broadcast receiver).
    pub fn note_lagged(&mut self, n: u64) {
        self.lagged = self.lagged.saturating_add(n);
        let at = self.latest_ms;
        self.push_log(
            at,
            Level::Warn,
            format!("dashboard fell behind: {n} events skipped"),
        );
    }

    /// Applies the primary node's status: name (primary if not configured), roles, peers,
    /// balance, trust, height and its latest decisions.
    pub fn apply_status(&mut self, status: &NodeStatus) {
        if self.config.primary.is_none() && self.primary.as_deref() != Some(&status.name) {
            // Another node's blocks are not this node's chain: start the chain view afresh.
            self.blocks.clear();
            self.primary = Some(status.name.clone());
        }
        for d in &status.last_decisions {
            self.apply_decision(d);
        }
        if let Some(n) = self.node_mut(&status.name) {
            n.roles = status.roles.iter().filter_map(|r| parse_role(r)).collect();
            n.peers = u32::try_from(status.peers.len()).unwrap_or(u32::MAX);
            n.balance = status.balance;
            n.height = n.height.max(status.height);
        }
        if self.trust.contains_key(&status.name) || self.trust.len() < self.config.max_accounts {
            let t = self.trust.entry(status.name.clone()).or_default();
            t.value = status.trust as f32;
        }
        self.status = Some(status.clone());
    }

    /// Applies one event.
    pub fn apply(&mut self, event: &NodeEvent) {
        match event {
            NodeEvent::Psd {
                node,
                at_ms,
                center_hz,
                rate_hz,
                psd_db,
                noise_db,
                channels,
            } => self.apply_psd(
                node, *at_ms, *center_hz, *rate_hz, psd_db, noise_db, channels,
            ),
            NodeEvent::Decision { .. } => self.apply_decision(event),
            NodeEvent::Block {
                node,
                at_ms,
                height,
                hash,
                miner,
                miner_trust,
                base_difficulty,
                txs,
                reorg_depth,
            } => {
                self.seen(node, *at_ms);
                self.note_hash(*height, hash);
                if let Some(n) = self.node_mut(node) {
                    n.height = *height;
                }
                if let Some(m) = self.nodes.get_mut(miner)
                    && !m.roles.contains(&Role::Miner)
                {
                    m.roles.push(Role::Miner);
                }
                if !self.is_primary(node) {
                    return;
                }
                let row = BlockRow {
                    height: *height,
                    hash: hash.clone(),
                    miner: miner.clone(),
                    miner_trust: *miner_trust as f32,
                    difficulty: miner_difficulty(*base_difficulty, *miner_trust),
                    txs: u32::try_from(*txs).unwrap_or(u32::MAX),
                    at_ms: *at_ms,
                    checkpoint: false,
                };
                self.apply_block(row, *base_difficulty, *reorg_depth);
            }
            NodeEvent::Contract {
                node,
                at_ms,
                height,
                kind,
                channel,
                text,
                detail,
            } => {
                self.seen(node, *at_ms);
                if !self.is_primary(node) {
                    return;
                }
                self.learn_names(kind, text, detail);
                self.apply_contract(*height, kind, channel.as_deref(), detail);
                if !text.is_empty() {
                    let level = if kind.contains("suspended") || kind.contains("lapsed") {
                        Level::Warn
                    } else {
                        Level::Info
                    };
                    self.push_log(*at_ms, level, text.clone());
                }
            }
            NodeEvent::Trust {
                node,
                at_ms,
                account,
                trust,
            } => {
                self.seen(node, *at_ms);
                if !self.is_primary(node) {
                    return;
                }
                self.apply_trust(account, *trust);
            }
            NodeEvent::Log {
                node,
                at_ms,
                level,
                text,
            } => {
                self.seen(node, *at_ms);
                let level = match level.as_str() {
                    "error" => Level::Error,
                    "warn" | "warning" => Level::Warn,
                    "debug" | "trace" => Level::Debug,
                    _ => Level::Info,
                };
                self.push_log(*at_ms, level, format!("{node}: {text}"));
            }
        }
    }

    /// The dashboard's view of everything applied so far.
    pub fn snapshot(&self) -> Snapshot {
        let trust_of = |name: &str| self.trust.get(name).map(|t| t.value);
        let nodes = self
            .nodes
            .iter()
            .map(|(name, n)| NodeRow {
                name: name.clone(),
                roles: n.roles.clone(),
                height: n.height,
                peers: n.peers,
                trust: trust_of(name),
                balance: n.balance,
                online: self.latest_ms.saturating_sub(n.last_ms) <= self.config.offline_after_ms,
                spectrum: n.spectrum.as_ref().map(|s| self.with_edges(name, s)),
            })
            .collect();
        let mut channels: Vec<ChannelRow> = self
            .channels
            .iter()
            .map(|(name, c)| ChannelRow {
                name: name.clone(),
                center_hz: c.center_hz,
                bandwidth_hz: c.bandwidth_hz,
                per_node: self
                    .nodes
                    .iter()
                    .filter_map(|(node, n)| {
                        n.readings.get(name).map(|r| NodeReading {
                            node: node.clone(),
                            energy_db: r.energy_dbfs as f32,
                            threshold_db: Some(r.threshold_dbfs as f32),
                            busy: r.busy,
                        })
                    })
                    .collect(),
                fused: c.fused,
                round: c.round,
            })
            .collect();
        channels.sort_by(|a, b| {
            a.center_hz
                .total_cmp(&b.center_hz)
                .then(a.name.cmp(&b.name))
        });
        let selected: BTreeSet<&String> = self.selected.values().flatten().collect();
        let trust = self
            .trust
            .iter()
            .map(|(name, t)| TrustRow {
                node: name.clone(),
                roles: self
                    .nodes
                    .get(name)
                    .map(|n| n.roles.clone())
                    .unwrap_or_default(),
                class: None,
                value: t.value,
                history: t.history.iter().copied().collect(),
                selected: selected.contains(name),
            })
            .collect();
        let head = self.blocks.back();
        let status = self.status.as_ref();
        let chain = ChainView {
            height: head
                .map(|b| b.height)
                .or(status.map(|s| s.height))
                .unwrap_or(0),
            head: head
                .map(|b| b.hash.clone())
                .or(status.map(|s| s.head_hash.clone()))
                .unwrap_or_default(),
            mean_interval_ms: self.mean_interval_ms(),
            target_interval_ms: self.config.target_interval_ms,
            base_difficulty: self.base_difficulty,
            recent_blocks: self.recent_blocks(self.config.recent_blocks),
            forks: self.forks,
            reorgs: self.reorgs,
            last_reorg_depth: self.last_reorg_depth,
            checkpoint_height: None,
            coin_decimals: self.config.coin_decimals,
        };
        let mut auctions: Vec<AuctionRow> = self.auctions.values().cloned().collect();
        // Running ones first, then the newest.
        auctions.sort_by_key(|a| (is_final(a.phase), std::cmp::Reverse(a.round)));
        let mut leases = self.leases.clone();
        leases.sort_by_key(|l| (l.state == LeaseState::Expired, l.channel.clone()));
        Snapshot {
            at_ms: self.latest_ms,
            node: self.primary.clone().unwrap_or_default(),
            nodes,
            channels,
            chain,
            trust,
            trust_threshold: self.config.trust_threshold,
            auctions,
            leases,
            log: self.log.iter().cloned().collect(),
        }
    }

    /// Waterfall rows gathered since the last call, one [`Update::Rows`] per node (empty
    /// unless [`AggregatorConfig::keep_rows`]).
    pub fn take_rows(&mut self) -> Vec<Update> {
        std::mem::take(&mut self.pending_rows)
            .into_iter()
            .filter(|(_, rows)| !rows.is_empty())
            .map(|(node, rows)| Update::Rows {
                node,
                rows: rows.into(),
            })
            .collect()
    }

    /// Mean interval (ms) between the primary's last [`AggregatorConfig::interval_window`]
    /// consecutive blocks.
    fn mean_interval_ms(&self) -> Option<f64> {
        let n = self.blocks.len().min(self.config.interval_window.max(2));
        if n < 2 {
            return None;
        }
        let last = self.blocks.back()?;
        let first = self.blocks.get(self.blocks.len() - n)?;
        let span = last.at_ms.checked_sub(first.at_ms)?;
        Some(span as f64 / (n - 1) as f64)
    }

    fn is_primary(&mut self, node: &str) -> bool {
        match &self.primary {
            Some(p) => p == node,
            None => {
                self.primary = Some(node.to_owned());
                true
            }
        }
    }

    /// The node's state, created if there is room.
    fn node_mut(&mut self, name: &str) -> Option<&mut NodeState> {
        if !self.nodes.contains_key(name) && self.nodes.len() >= self.config.max_nodes {
            return None;
        }
        Some(self.nodes.entry(name.to_owned()).or_default())
    }

    fn seen(&mut self, node: &str, at_ms: u64) {
        self.latest_ms = self.latest_ms.max(at_ms);
        if let Some(n) = self.node_mut(node) {
            n.last_ms = n.last_ms.max(at_ms);
        }
    }

    fn channel_mut(&mut self, name: &str) -> Option<&mut ChannelState> {
        if !self.channels.contains_key(name) && self.channels.len() >= self.config.max_channels {
            return None;
        }
        Some(self.channels.entry(name.to_owned()).or_default())
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_psd(
        &mut self,
        node: &str,
        at_ms: u64,
        center_hz: f64,
        rate_hz: f64,
        psd_db: &[f32],
        noise_db: &[f32],
        spans: &[ChannelSpan],
    ) {
        self.seen(node, at_ms);
        for s in spans {
            if let Some(c) = self.channel_mut(&s.name) {
                c.center_hz = (s.low_hz + s.high_hz) / 2.0;
                c.bandwidth_hz = s.high_hz - s.low_hz;
            }
        }
        let frame = SpectrumFrame {
            at_ms,
            center_hz,
            span_hz: rate_hz,
            psd_db: decimate_peak(psd_db, DEFAULT_BINS),
            noise_db: if noise_db.len() == psd_db.len() {
                decimate_mean(noise_db, DEFAULT_BINS)
            } else {
                Vec::new()
            },
            channels: spans
                .iter()
                .map(|s| ChannelEdge {
                    name: s.name.clone(),
                    low_hz: s.low_hz,
                    high_hz: s.high_hz,
                    ..ChannelEdge::default()
                })
                .collect(),
        };
        if self.config.keep_rows {
            let row = frame.to_row();
            let max = self.config.max_pending_rows.max(1);
            if self.pending_rows.contains_key(node)
                || self.pending_rows.len() < self.config.max_nodes
            {
                let rows = self.pending_rows.entry(node.to_owned()).or_default();
                if rows.len() >= max {
                    rows.pop_front();
                }
                rows.push_back(row);
            }
        }
        if let Some(n) = self.node_mut(node) {
            if !n.roles.contains(&Role::Sensor) {
                n.roles.push(Role::Sensor);
            }
            n.spectrum = Some(frame);
        }
    }

    /// The node's spectrum with its latest decisions on the channel edges.
    fn with_edges(&self, node: &str, frame: &SpectrumFrame) -> SpectrumFrame {
        let mut f = frame.clone();
        if let Some(n) = self.nodes.get(node) {
            for edge in &mut f.channels {
                if let Some(r) = n.readings.get(&edge.name) {
                    edge.energy_db = Some(r.energy_dbfs as f32);
                    edge.noise_db = Some(r.noise_dbfs as f32);
                    edge.threshold_db = Some(r.threshold_dbfs as f32);
                    edge.busy = Some(r.busy);
                }
            }
        }
        f
    }

    fn apply_decision(&mut self, event: &NodeEvent) {
        let NodeEvent::Decision {
            node,
            at_ms,
            round,
            channel,
            energy_dbfs,
            noise_dbfs,
            threshold_dbfs,
            busy,
        } = event
        else {
            return;
        };
        self.seen(node, *at_ms);
        if let Some(c) = self.channel_mut(channel) {
            c.round = Some(c.round.map_or(*round, |r| r.max(*round)));
        } else {
            return;
        }
        if let Some(n) = self.node_mut(node) {
            if n.readings.get(channel).is_some_and(|r| r.round > *round) {
                return;
            }
            if !n.roles.contains(&Role::Sensor) {
                n.roles.push(Role::Sensor);
            }
            n.readings.insert(
                channel.clone(),
                Reading {
                    round: *round,
                    energy_dbfs: *energy_dbfs,
                    noise_dbfs: *noise_dbfs,
                    threshold_dbfs: *threshold_dbfs,
                    busy: *busy,
                },
            );
        }
    }

    fn note_hash(&mut self, height: u64, hash: &str) {
        let seen = self.seen_hashes.entry(height).or_default();
        if !seen.iter().any(|h| h == hash) {
            if !seen.is_empty() {
                self.forks += 1;
            }
            // A handful of competing blocks per height is plenty to count.
            if seen.len() < 8 {
                seen.push(hash.to_owned());
            }
        }
        let newest = self
            .seen_hashes
            .keys()
            .next_back()
            .copied()
            .unwrap_or(height);
        while let Some((&oldest, _)) = self.seen_hashes.first_key_value() {
            if newest.saturating_sub(oldest) < FORK_MEMORY {
                break;
            }
            self.seen_hashes.pop_first();
        }
    }

    fn apply_block(&mut self, row: BlockRow, base_difficulty: u64, reorg_depth: u64) {
        if reorg_depth > 0 {
            self.reorgs += 1;
            self.last_reorg_depth = Some(reorg_depth);
            self.push_log(
                row.at_ms,
                Level::Warn,
                format!(
                    "reorg: {reorg_depth} block(s) rolled back for {} at height {}",
                    short_hash(&row.hash),
                    row.height
                ),
            );
        }
        // Whatever was at or above this height is no longer on the best chain.
        while self.blocks.back().is_some_and(|b| b.height >= row.height) {
            self.blocks.pop_back();
        }
        // A gap (missed events) breaks the interval measurement: start over.
        if self
            .blocks
            .back()
            .is_some_and(|b| b.height + 1 != row.height)
        {
            self.blocks.clear();
        }
        let height = row.height;
        self.blocks.push_back(row);
        while self.blocks.len() > self.config.recent_blocks.max(self.config.interval_window) {
            self.blocks.pop_front();
        }
        self.base_difficulty = base_difficulty;
        // Auctions whose commit window closed are revealing.
        for a in self.auctions.values_mut() {
            if a.phase == AuctionPhase::Commit && height > a.commit_end {
                a.phase = AuctionPhase::Reveal;
            }
        }
    }

    fn apply_trust(&mut self, account: &str, trust: f64) {
        if !self.trust.contains_key(account) && self.trust.len() >= self.config.max_accounts {
            return;
        }
        let max = self.config.trust_history.max(1);
        let t = self.trust.entry(account.to_owned()).or_default();
        let v = trust as f32;
        t.value = v;
        if t.history.len() >= max {
            t.history.pop_front();
        }
        t.history.push_back(v);
    }

    /// Learns account names: from `detail.names` (`{"0x…": "n1"}`) when the node sends it,
    /// else from the one-liner of events whose text starts with their actor's name
    /// (`n1 registered for task 1`, with the address in `detail.account`).
    fn learn_names(&mut self, kind: &str, text: &str, d: &Value) {
        let mut learned: Vec<(String, String)> = Vec::new();
        if let Some(map) = d.get("names").and_then(Value::as_object) {
            for (addr, name) in map {
                if let Some(name) = name.as_str() {
                    learned.push((addr.clone(), name.to_owned()));
                }
            }
        } else {
            let field = match kind {
                "registered" | "bought_in" | "revealed" => "account",
                "bid_committed" | "bids_revealed" => "bidder",
                _ => "",
            };
            let addr = d.get(field).and_then(Value::as_str);
            let first = text.split_whitespace().next();
            if let (Some(addr), Some(name)) = (addr, first)
                && addr.starts_with("0x")
                && !name.starts_with("0x")
            {
                learned.push((addr.to_owned(), name.to_owned()));
            }
        }
        for (addr, name) in learned {
            if self.names.contains_key(&addr) || self.names.len() < self.config.max_accounts {
                self.names.insert(addr, name);
            }
        }
    }

    /// An account as shown: its name when known, else what the event says.
    fn account(&self, v: &Value) -> Option<String> {
        let raw = name_of(v)?;
        Some(self.names.get(&raw).cloned().unwrap_or(raw))
    }

    fn apply_contract(&mut self, height: u64, kind: &str, channel: Option<&str>, d: &Value) {
        let channel_name = channel.map(str::to_owned).or_else(|| {
            d.get("channel")
                .and_then(Value::as_u64)
                .map(|c| format!("#{c}"))
        });
        match kind {
            "selected" => {
                if let (Some(ch), Some(list)) = (channel_name, d.get("sensors")) {
                    let set = list
                        .as_array()
                        .map(|a| a.iter().filter_map(|v| self.account(v)).collect())
                        .unwrap_or_default();
                    if self.selected.contains_key(&ch)
                        || self.selected.len() < self.config.max_channels
                    {
                        self.selected.insert(ch, set);
                    }
                }
            }
            "fused" => {
                if let (Some(ch), Some(busy)) =
                    (channel_name, d.get("busy").and_then(Value::as_bool))
                    && let Some(c) = self.channel_mut(&ch)
                {
                    c.fused = Some(busy);
                }
            }
            "auction_opened" | "auction_skipped" => {
                let id = d
                    .get("auction")
                    .or_else(|| d.get("task"))
                    .and_then(Value::as_u64);
                if let (Some(id), Some(ch)) = (id, channel_name) {
                    let opened = kind == "auction_opened";
                    self.auctions.insert(
                        id,
                        AuctionRow {
                            channel: ch,
                            round: id,
                            phase: if opened {
                                AuctionPhase::Commit
                            } else {
                                AuctionPhase::Skipped
                            },
                            commit_end: u64_field(d, "commit_end").unwrap_or(height),
                            reveal_end: u64_field(d, "reveal_end").unwrap_or(height),
                            commits: 0,
                            revealed: 0,
                            reserve: amount_field(d, "reserve").unwrap_or(0),
                            winner: None,
                            price: None,
                        },
                    );
                    self.prune_auctions();
                }
            }
            "bid_committed" => {
                if let Some(a) = u64_field(d, "auction").and_then(|id| self.auctions.get_mut(&id)) {
                    a.commits = a.commits.saturating_add(1);
                }
            }
            "bids_revealed" => {
                if let Some(a) = u64_field(d, "auction").and_then(|id| self.auctions.get_mut(&id)) {
                    let n = u64_field(d, "bids").unwrap_or(1);
                    a.revealed = a
                        .revealed
                        .saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
                    a.phase = AuctionPhase::Reveal;
                }
            }
            "auction_settled" => {
                let winner = d.get("winner").and_then(|v| self.account(v));
                if let Some(a) = u64_field(d, "auction").and_then(|id| self.auctions.get_mut(&id)) {
                    a.phase = if winner.is_some() {
                        AuctionPhase::Settled
                    } else {
                        AuctionPhase::Void
                    };
                    a.price = winner.as_ref().and(amount_field(d, "price"));
                    a.winner = winner;
                }
                self.prune_auctions();
            }
            "auction_expired" => {
                if let Some(a) = u64_field(d, "auction").and_then(|id| self.auctions.get_mut(&id))
                    && !matches!(a.phase, AuctionPhase::Settled | AuctionPhase::Void)
                {
                    a.phase = AuctionPhase::Expired;
                }
                self.prune_auctions();
            }
            "lease_granted" => {
                if let (Some(ch), Some(holder)) =
                    (channel_name, d.get("holder").and_then(|v| self.account(v)))
                {
                    let from = u64_field(d, "start").unwrap_or(height);
                    // A grant replaces the same holder's ended lease on the channel.
                    self.leases.retain(|l| {
                        !(l.channel == ch && l.holder == holder && l.state == LeaseState::Expired)
                    });
                    self.leases.push(LeaseRow {
                        channel: ch,
                        holder,
                        state: LeaseState::Granted,
                        from_height: from,
                        until_height: u64_field(d, "expires").unwrap_or(from),
                        price: amount_field(d, "price").unwrap_or(0),
                        service_price: d.get("p_m").and_then(fx_value),
                        mining_share: d.get("m").and_then(fx_value),
                    });
                    self.prune_leases();
                }
            }
            "lease_authorized" | "lease_resumed" | "lease_heartbeat" => {
                self.set_lease(channel_name, d, height, |l| {
                    l.state = LeaseState::Authorized
                });
            }
            "lease_suspended" => {
                self.set_lease(channel_name, d, height, |l| l.state = LeaseState::Suspended);
            }
            "lease_heartbeat_lapsed" => {
                self.set_lease(channel_name, d, height, |l| l.state = LeaseState::Granted);
            }
            "lease_renewed" => {
                let until = u64_field(d, "expires");
                let price = amount_field(d, "price");
                self.set_lease(channel_name, d, height, |l| {
                    if let Some(u) = until {
                        l.until_height = u;
                    }
                    if let Some(p) = price {
                        l.price = p;
                    }
                });
            }
            "lease_expired" => {
                self.set_lease(channel_name, d, height, |l| l.state = LeaseState::Expired);
                self.prune_leases();
            }
            _ => {}
        }
    }

    /// Applies `f` to the holder's current lease on the channel: the live one whose term has
    /// started, else its latest live one.
    fn set_lease(
        &mut self,
        channel: Option<String>,
        d: &Value,
        height: u64,
        f: impl FnOnce(&mut LeaseRow),
    ) {
        let (Some(ch), Some(holder)) = (channel, d.get("holder").and_then(|v| self.account(v)))
        else {
            return;
        };
        let live =
            |l: &LeaseRow| l.channel == ch && l.holder == holder && l.state != LeaseState::Expired;
        let started = self
            .leases
            .iter()
            .position(|l| live(l) && l.from_height <= height);
        let index = started.or_else(|| self.leases.iter().rposition(live));
        if let Some(l) = index.and_then(|i| self.leases.get_mut(i)) {
            f(l);
        }
    }

    fn prune_leases(&mut self) {
        let ended = self
            .leases
            .iter()
            .filter(|l| l.state == LeaseState::Expired)
            .count();
        let mut excess = ended.saturating_sub(self.config.max_ended_leases);
        // Oldest ended first (they were pushed in grant order).
        self.leases.retain(|l| {
            if excess > 0 && l.state == LeaseState::Expired {
                excess -= 1;
                false
            } else {
                true
            }
        });
        // Live leases are bounded by the channels (one current and one queued per channel).
        let cap = self.config.max_channels.saturating_mul(2) + self.config.max_ended_leases;
        if self.leases.len() > cap {
            let drop = self.leases.len() - cap;
            self.leases.drain(..drop);
        }
    }

    fn prune_auctions(&mut self) {
        // Keep every running auction (bounded by channels), the latest ended one per channel,
        // and the newest ended ones up to the limit.
        let mut latest_per_channel: BTreeMap<&str, u64> = BTreeMap::new();
        for (id, a) in &self.auctions {
            if is_final(a.phase) {
                latest_per_channel.insert(a.channel.as_str(), *id);
            }
        }
        let keep_latest: BTreeSet<u64> = latest_per_channel.into_values().collect();
        let ended: Vec<u64> = self
            .auctions
            .iter()
            .filter(|(id, a)| is_final(a.phase) && !keep_latest.contains(id))
            .map(|(id, _)| *id)
            .collect();
        let excess = ended.len().saturating_sub(self.config.max_ended_auctions);
        for id in ended.into_iter().take(excess) {
            self.auctions.remove(&id);
        }
        let cap = self.config.max_channels.saturating_mul(2) + self.config.max_ended_auctions;
        while self.auctions.len() > cap {
            self.auctions.pop_first();
        }
    }

    fn push_log(&mut self, at_ms: u64, level: Level, text: String) {
        self.seq += 1;
        if self.log.len() >= self.config.log_lines.max(1) {
            self.log.pop_front();
        }
        self.log.push_back(LogLine {
            seq: self.seq,
            at_ms,
            level,
            text,
        });
    }
}

fn is_final(phase: AuctionPhase) -> bool {
    matches!(
        phase,
        AuctionPhase::Settled | AuctionPhase::Void | AuctionPhase::Skipped | AuctionPhase::Expired
    )
}

fn parse_role(s: &str) -> Option<Role> {
    match s {
        "mno" => Some(Role::Mno),
        "mo" => Some(Role::Mo),
        "sensor" => Some(Role::Sensor),
        "miner" => Some(Role::Miner),
        "task_issuer" => Some(Role::TaskIssuer),
        _ => None,
    }
}

/// The miner's expected hashes D_i = D_base·g(T_i) (SPEC 4), for display.
fn miner_difficulty(base: u64, trust: f64) -> u64 {
    let raw = (trust.clamp(0.0, 1.0) * 1e9).round() as i64;
    let d = chain::pot::expected_hashes(base, fusion::Fx::from_raw(raw));
    u64::try_from(d).unwrap_or(u64::MAX)
}

fn short_hash(h: &str) -> &str {
    let h = h.strip_prefix("0x").unwrap_or(h);
    h.get(..8).unwrap_or(h)
}

fn u64_field(d: &Value, key: &str) -> Option<u64> {
    d.get(key).and_then(Value::as_u64)
}

/// An amount: a JSON integer or a decimal string.
fn amount_field(d: &Value, key: &str) -> Option<u128> {
    match d.get(key)? {
        Value::Number(n) => n.as_u64().map(u128::from),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A fixed-point value from a contract event: integers are `Fx` raw (10^-9 units), as the
/// chain serialises them; floats and decimal strings are plain values.
fn fx_value(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) if n.is_i64() || n.is_u64() => n.as_f64().map(|x| x / 1e9),
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// An account as shown: a name string, or `{"name":..}` / `{"address":..}`.
fn name_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o
            .get("name")
            .or_else(|| o.get("address"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    }
}

/// At most `max` bins, each the maximum of its group (a narrow burst stays visible).
fn decimate_peak(v: &[f32], max: usize) -> Vec<f32> {
    decimate(v, max, |g| {
        g.iter().copied().fold(f32::NEG_INFINITY, f32::max)
    })
}

/// At most `max` bins, each the mean of its group.
fn decimate_mean(v: &[f32], max: usize) -> Vec<f32> {
    decimate(v, max, |g| g.iter().sum::<f32>() / g.len().max(1) as f32)
}

fn decimate(v: &[f32], max: usize, f: impl Fn(&[f32]) -> f32) -> Vec<f32> {
    let max = max.clamp(1, MAX_BINS);
    if v.len() <= max {
        return v.to_vec();
    }
    (0..max)
        .filter_map(|j| {
            let a = j * v.len() / max;
            let b = ((j + 1) * v.len() / max).max(a + 1);
            v.get(a..b).map(&f)
        })
        .collect()
}

/// How the dashboard feeders run.
#[derive(Debug, Clone)]
pub struct DashboardOptions {
    /// Terminal options (fps, buffers, colours).
    pub run: RunOptions,
    /// The aggregator's sizes (in-process only; `--connect` shows the node's own).
    pub aggregator: AggregatorConfig,
    /// How often a snapshot is sent to (or, connected, fetched for) the dashboard.
    pub refresh: Duration,
    /// In-process: close the dashboard when the event stream ends (the run finished) instead
    /// of leaving the last picture up until `q`.
    pub quit_when_done: bool,
}

impl Default for DashboardOptions {
    fn default() -> Self {
        DashboardOptions {
            run: RunOptions::default(),
            aggregator: AggregatorConfig::default(),
            refresh: Duration::from_millis(250),
            quit_when_done: false,
        }
    }
}

/// Opens the dashboard on this terminal, fed in-process by a node's (or a whole simulation's)
/// event stream; `status`, when given, is polled once a second for peers, balance and roles.
/// Blocks until the user quits (`q`, Ctrl-C) or, with [`DashboardOptions::quit_when_done`],
/// until the stream closes. Call it from a thread that is not a tokio worker (e.g. the main
/// thread while the node runs on a runtime, or inside `spawn_blocking`): the feeder runs on
/// its own thread with its own small runtime.
///
/// # Errors
/// The terminal cannot be set up or drawn to, or its input stopped (see [`tui::Error`]); the
/// feeder thread cannot be started.
pub fn run_in_process(
    events: broadcast::Receiver<NodeEvent>,
    status: Option<Arc<dyn NodeApi>>,
    options: DashboardOptions,
) -> anyhow::Result<()> {
    let (tx, rx) = std::sync::mpsc::channel();
    let feeder_tx = tx.clone();
    let aggregator = options.aggregator.clone();
    let refresh = options.refresh;
    let quit_when_done = options.quit_when_done;
    let feeder = spawn_feeder("dashboard feeder", feeder_tx, move |tx| {
        feed_in_process(events, status, aggregator, refresh, quit_when_done, tx)
    })?;
    let logs = LogRedirect::start();
    let result = tui::run(tx, rx, options.run);
    drop(logs);
    // The feeder ends at its next send (the receiver is gone), within one refresh.
    let _ = feeder.join();
    result.map_err(anyhow::Error::from)
}

/// Runs a dashboard feeder (`feed`, given the UI's event sender) on its own thread with a
/// small current-thread runtime; a runtime that cannot be built reaches the UI as a notice
/// naming `what`.
fn spawn_feeder<Fut>(
    what: &'static str,
    tx: Sender<UiEvent>,
    feed: impl FnOnce(Sender<UiEvent>) -> Fut + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<()>>
where
    Fut: std::future::Future<Output = ()>,
{
    std::thread::Builder::new()
        .name(what.replace(' ', "-"))
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(feed(tx)),
                Err(e) => {
                    let _ = tx.send(UiEvent::Notice(format!("{what}: {e}")));
                }
            }
        })
}

/// True when this process can draw a dashboard: stdin and stdout are terminals.
/// `trustband run` opens the dashboard when this holds and `--headless` is not given.
pub fn terminal_available() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// Runs `work` on a worker thread, handing it the sending side of an event broadcast (a
/// [`crate::node::EventSink`]: put it in `RunHooks::events`), while the dashboard shows the
/// events on this terminal ([`run_in_process`]). When `work` returns, the sender is dropped
/// and the dashboard says the run finished (or closes, with
/// [`DashboardOptions::quit_when_done`]).
///
/// Returns `Some(result)` once the user has quit and `work` has finished, `None` if the user
/// quit while `work` was still running: the worker is then left running, detached, and the
/// caller should return so the process exits.
///
/// # Errors
/// As [`run_in_process`]; the worker thread cannot be started. A panic in `work` is
/// reported as an error.
pub fn with_dashboard<T, F>(work: F, options: DashboardOptions) -> anyhow::Result<Option<T>>
where
    T: Send + 'static,
    F: FnOnce(broadcast::Sender<NodeEvent>) -> T + Send + 'static,
{
    // Room for a burst of a few seconds of a busy simulation; a feeder that falls further
    // behind skips events (counted in the dashboard's log) rather than slowing the run.
    let (events, rx) = broadcast::channel(1 << 14);
    let worker = std::thread::Builder::new()
        .name("run".into())
        .spawn(move || work(events))?;
    run_in_process(rx, None, options)?;
    if !worker.is_finished() {
        return Ok(None);
    }
    match worker.join() {
        Ok(result) => Ok(Some(result)),
        Err(_) => Err(anyhow::anyhow!("the run panicked")),
    }
}

/// The in-process feeder: folds events into an [`Aggregator`] (waterfall rows kept whatever
/// `config` says) and sends a snapshot plus the new waterfall rows every `refresh`. Returns once the dashboard is gone, or after the
/// stream closed (final picture sent).
pub async fn feed_in_process(
    mut events: broadcast::Receiver<NodeEvent>,
    status: Option<Arc<dyn NodeApi>>,
    config: AggregatorConfig,
    refresh: Duration,
    quit_when_done: bool,
    tx: Sender<UiEvent>,
) {
    let mut agg = Aggregator::new(AggregatorConfig {
        keep_rows: true,
        ..config
    });
    if tx.send(UiEvent::Connected("in-process".into())).is_err() {
        return;
    }
    let mut tick = tokio::time::interval(refresh.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let status_every = Duration::from_secs(1);
    let mut last_status: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            r = events.recv() => match r {
                Ok(ev) => agg.apply(&ev),
                Err(broadcast::error::RecvError::Lagged(n)) => agg.note_lagged(n),
                Err(broadcast::error::RecvError::Closed) => {
                    if send_picture(&mut agg, &tx).is_err() {
                        return;
                    }
                    let end = if quit_when_done {
                        UiEvent::Quit
                    } else {
                        UiEvent::Disconnected("run finished; press q to quit".into())
                    };
                    let _ = tx.send(end);
                    return;
                }
            },
            _ = tick.tick() => {
                if let Some(node) = &status
                    && last_status.is_none_or(|t| t.elapsed() >= status_every)
                {
                    last_status = Some(tokio::time::Instant::now());
                    if let Ok(s) = node.status().await {
                        agg.apply_status(&s);
                    }
                }
                if send_picture(&mut agg, &tx).is_err() {
                    return;
                }
            }
        }
    }
}

/// Sends the new rows, then the snapshot. `Err` when the dashboard is gone.
fn send_picture(agg: &mut Aggregator, tx: &Sender<UiEvent>) -> Result<(), ()> {
    for u in agg.take_rows() {
        tx.send(UiEvent::from(u)).map_err(|_| ())?;
    }
    tx.send(UiEvent::Snapshot(Box::new(agg.snapshot())))
        .map_err(|_| ())
}

/// Opens the dashboard on this terminal, attached to a node's local API at `addr`: waterfall
/// rows from a `psd` subscription, everything else from the node's `snapshot` every
/// [`DashboardOptions::refresh`]; reconnects with back-off (0.5 s doubling to 10 s), showing
/// "disconnected" meanwhile. Blocks until the user quits.
///
/// # Errors
/// As [`run_in_process`].
pub fn run_connected(addr: SocketAddr, options: DashboardOptions) -> anyhow::Result<()> {
    let (tx, rx) = std::sync::mpsc::channel();
    let feeder_tx = tx.clone();
    let refresh = options.refresh;
    let stop = CancellationToken::new();
    let feeder_stop = stop.clone();
    let feeder = spawn_feeder("dashboard client", feeder_tx, move |tx| {
        feed_connected(addr, refresh, tx, feeder_stop)
    })?;
    let logs = LogRedirect::start();
    let result = tui::run(tx, rx, options.run);
    drop(logs);
    // Quitting must not wait for a dial or a back-off to end.
    stop.cancel();
    let _ = feeder.join();
    result.map_err(anyhow::Error::from)
}

/// The connected feeder behind [`run_connected`]; returns once the dashboard is gone or
/// `stop` is cancelled (at once, even while dialling or waiting to redial).
pub async fn feed_connected(
    addr: SocketAddr,
    refresh: Duration,
    tx: Sender<UiEvent>,
    stop: CancellationToken,
) {
    let mut backoff = Duration::from_millis(500);
    loop {
        let attached = tokio::select! {
            () = stop.cancelled() => return,
            a = attach(addr, refresh, &tx, &mut backoff) => a,
        };
        let reason = match attached {
            Attach::DashboardGone => return,
            Attach::Lost(reason) => reason,
        };
        let retry = format!(
            "disconnected: {reason}; retry in {:.1} s",
            backoff.as_secs_f32()
        );
        if tx.send(UiEvent::Disconnected(retry)).is_err() {
            return;
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

enum Attach {
    DashboardGone,
    Lost(String),
}

/// One connected session: returns why it ended.
async fn attach(
    addr: SocketAddr,
    refresh: Duration,
    tx: &Sender<UiEvent>,
    backoff: &mut Duration,
) -> Attach {
    let lost = |e: ClientError| Attach::Lost(e.to_string());
    let mut requests = match Client::connect(addr).await {
        Ok(c) => c,
        Err(e) => return lost(e),
    };
    let sub = match Client::connect(addr).await {
        Ok(c) => c,
        Err(e) => return lost(e),
    };
    let params = SubscribeParams {
        topics: Some(vec![Topic::Psd]),
        psd_hz: Some(10.0),
    };
    let mut sub = match sub.subscribe(params).await {
        Ok(s) => s,
        Err(e) => return lost(e),
    };
    // The first snapshot proves the node answers before the link is shown up.
    let first = match requests.snapshot().await {
        Ok(s) => s,
        Err(e) => return lost(e),
    };
    *backoff = Duration::from_millis(500);
    if tx.send(UiEvent::Connected(addr.to_string())).is_err()
        || tx.send(UiEvent::Snapshot(Box::new(first))).is_err()
    {
        return Attach::DashboardGone;
    }
    let mut rows: BTreeMap<String, Vec<WaterfallRow>> = BTreeMap::new();
    let mut tick = tokio::time::interval(refresh.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            line = sub.next() => match line {
                Ok(Some(StreamLine::Event(ev))) => {
                    if let NodeEvent::Psd { node, at_ms, center_hz, rate_hz, psd_db, .. } = *ev {
                        let pending = rows.entry(node).or_default();
                        // One refresh's worth is plenty; keep the newest.
                        if pending.len() >= 64 {
                            pending.remove(0);
                        }
                        pending.push(WaterfallRow {
                            at_ms,
                            center_hz,
                            span_hz: rate_hz,
                            psd_db: decimate_peak(&psd_db, DEFAULT_BINS),
                        });
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => return Attach::Lost(format!("{addr} closed the connection")),
                Err(e) => return lost(e),
            },
            _ = tick.tick() => {
                for (node, rows) in std::mem::take(&mut rows) {
                    if tx.send(UiEvent::Rows { node, rows }).is_err() {
                        return Attach::DashboardGone;
                    }
                }
                match requests.snapshot().await {
                    Ok(s) => {
                        if tx.send(UiEvent::Snapshot(Box::new(s))).is_err() {
                            return Attach::DashboardGone;
                        }
                    }
                    Err(e) => return lost(e),
                }
            }
        }
    }
}

// ---- log output while the dashboard is open ----

/// The log file of the dashboard open in this process, if one is.
static LOG_FILE: std::sync::Mutex<Option<std::fs::File>> = std::sync::Mutex::new(None);

/// The process's tracing writer (`tracing_subscriber::fmt().with_writer(log_writer)`):
/// stderr, except while a dashboard is open ([`LogRedirect`]), when log lines go to the
/// file [`log_file_path`] names instead of drawing over the dashboard.
#[must_use]
pub fn log_writer() -> LogWriter {
    let file = LOG_FILE
        .lock()
        .ok()
        .and_then(|f| f.as_ref().and_then(|f| f.try_clone().ok()));
    match file {
        Some(f) => LogWriter::File(f),
        None => LogWriter::Stderr(std::io::stderr()),
    }
}

/// Where [`log_writer`] writes (see there).
#[derive(Debug)]
pub enum LogWriter {
    /// No dashboard open.
    Stderr(std::io::Stderr),
    /// A dashboard is open: its log file.
    File(std::fs::File),
}

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            LogWriter::Stderr(w) => w.write(buf),
            LogWriter::File(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            LogWriter::Stderr(w) => w.flush(),
            LogWriter::File(w) => w.flush(),
        }
    }
}

/// The file log lines go to while a dashboard of this process is open:
/// `<temp dir>/trustband-<pid>.log`.
#[must_use]
pub fn log_file_path() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("trustband-{}.log", std::process::id()))
}

/// While alive, [`log_writer`] writes to [`log_file_path`] (created, appended to). Dropped:
/// back to stderr; an empty file is removed, a non-empty one is named on stderr.
#[derive(Debug)]
pub struct LogRedirect {
    path: Option<std::path::PathBuf>,
}

impl LogRedirect {
    /// Starts redirecting. If the file cannot be opened, logs stay on stderr (the dashboard
    /// still works; a log line may then draw over it).
    #[must_use]
    pub fn start() -> LogRedirect {
        let path = log_file_path();
        let opened = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path);
        match (opened, LOG_FILE.lock()) {
            (Ok(file), Ok(mut slot)) => {
                *slot = Some(file);
                LogRedirect { path: Some(path) }
            }
            _ => LogRedirect { path: None },
        }
    }

    /// The file in use, if the redirect is active.
    #[must_use]
    pub fn path(&self) -> Option<&std::path::Path> {
        self.path.as_deref()
    }
}

impl Drop for LogRedirect {
    fn drop(&mut self) {
        let Some(path) = self.path.take() else {
            return;
        };
        if let Ok(mut slot) = LOG_FILE.lock() {
            *slot = None;
        }
        match std::fs::metadata(&path) {
            Ok(m) if m.len() == 0 => {
                let _ = std::fs::remove_file(&path);
            }
            Ok(_) => eprintln!(
                "log output while the dashboard was open: {}",
                path.display()
            ),
            Err(_) => {}
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn logs_go_to_the_file_while_a_dashboard_is_open() {
        assert!(matches!(log_writer(), LogWriter::Stderr(_)));
        let redirect = LogRedirect::start();
        let path = redirect.path().unwrap().to_path_buf();
        assert_eq!(path, log_file_path());
        let mut w = log_writer();
        assert!(matches!(w, LogWriter::File(_)));
        w.write_all(b"WARN something happened\n").unwrap();
        drop(redirect);
        assert!(matches!(log_writer(), LogWriter::Stderr(_)));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with("WARN something happened\n"), "{text}");
        std::fs::remove_file(&path).unwrap();

        // Nothing logged: no file left behind.
        let redirect = LogRedirect::start();
        let path = redirect.path().unwrap().to_path_buf();
        drop(redirect);
        assert!(!path.exists());
    }
}
