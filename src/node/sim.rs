//! The deterministic simulation: every node of a testbed in one process, on a [`SimNetwork`]
//! (latency, loss and partitions drawn from the seed), on one virtual clock.
//!
//! Data flow: [`Simulation::new`] builds each node (wallet, in-memory ledger from the testbed's
//! genesis, front end with its own receiver noise, seeded random stream) and schedules the
//! partitions; [`Simulation::step`] advances the virtual clock to the next network delivery or
//! node timer, delivers every due frame to its node and ticks every node, in node order (so a
//! run is a pure function of testbed and seed); [`Simulation::summary`] reads the first node's
//! final chain (re-applied from genesis) against the ground truth. No wall clock and no
//! threads are involved (signature checks run on the calling thread).

use std::collections::BTreeMap;

use anyhow::Context;
use chacha20::ChaCha20Rng;
use chain::Hash256;
use chain::contracts::csc::{Registry, Task, TaskPhase};
use chain::contracts::events::ContractEvent;
use chain::contracts::sac::Auction;
use chain::contracts::{ContractKind, parse_contract_id};
use chain::crypto::rand_core::{Rng, SeedableRng};
use chain::net::sim::{Latency, NodeId, Partition, SimConfig, SimNetwork};
use serde::Serialize;

use super::EventSink;
use super::config::{MiningMode, Role, TestbedConfig};
use super::core::{Node, NodeSetup};
use super::ledger::Ledger;
use super::sensing::{Sensor, Truth};
use super::wallet::{NodeRng, Wallet};

/// A running simulation (see the module docs).
#[derive(Debug)]
pub struct Simulation {
    testbed: TestbedConfig,
    net: SimNetwork,
    nodes: Vec<Node<NodeId>>,
    origin_ms: u64,
    truth: Truth,
    channel_names: Vec<String>,
    seed: u64,
    rounds: Option<u64>,
}

fn node_id(i: usize) -> NodeId {
    NodeId(u32::try_from(i).unwrap_or(u32::MAX))
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn secs_to_ms(s: f64) -> u64 {
    (s * 1000.0).round().clamp(0.0, 1.0e15) as u64
}

impl Simulation {
    /// Builds the testbed's nodes for `seed`; with `rounds`, the task issuers open no round
    /// beyond it. `emit_psd`: nodes emit a PSD event per sensing window.
    ///
    /// # Errors
    /// An invalid testbed (genesis, sources, detector, network).
    pub fn new(
        testbed: &TestbedConfig,
        seed: u64,
        rounds: Option<u64>,
        emit_psd: bool,
    ) -> anyhow::Result<Self> {
        let genesis = testbed.genesis()?;
        let channels = testbed.channels()?;
        let channel_names: Vec<String> = channels.iter().map(|c| c.name.clone()).collect();
        let names = testbed.account_names();
        let window_ms = secs_to_ms(testbed.sensing.window_s).max(1);
        let mut nodes = Vec::with_capacity(testbed.nodes.len());
        let mut window = None;
        let mut per_loop = None;
        for (i, spec) in testbed.nodes.iter().enumerate() {
            let key = match testbed.key_path(spec) {
                Some(path) => super::wallet::load_or_create_key_file(&path)?,
                None => testbed.seeded_key(spec)?,
            };
            let sensor = if spec.roles.contains(&Role::Sensor) {
                Sensor::open(testbed, spec, i, seed)?
            } else {
                None
            };
            if let Some(s) = &sensor {
                window.get_or_insert(u64::try_from(s.window_len()).unwrap_or(u64::MAX));
                if per_loop.is_none() {
                    per_loop = s.windows_per_loop();
                }
            }
            let bid_channels = spec
                .bid
                .channels
                .iter()
                .filter_map(|n| channel_names.iter().position(|c| c == n))
                .filter_map(|p| u32::try_from(p).ok())
                .collect();
            let ledger = Ledger::memory(&genesis, 1)
                .with_context(|| format!("node `{}`: genesis", spec.name))?;
            nodes.push(Node::new(NodeSetup {
                name: spec.name.clone(),
                roles: spec.roles.clone(),
                wallet: Wallet::new(key),
                ledger,
                sensor,
                // Seeded: a simulation is a pure function of its seed (and insecure by design,
                // like its name-derived keys). Real nodes take NodeRng::os().
                rng: NodeRng::seeded(
                    seed.wrapping_mul(0xD134_2543_DE82_EF95)
                        .wrapping_add(u64::try_from(i).unwrap_or(0).wrapping_mul(0x9E37_79B9)),
                ),
                hash_rate: spec.hash_rate,
                // Virtual time: the wait at the nominal rate stands for the work.
                mining: MiningMode::Timed,
                fee: testbed.chain.fee,
                sync_interval_ms: testbed.chain.sync_interval_ms,
                checkpoint_sync: testbed.chain.checkpoint_sync,
                checkpoint_pins: testbed.chain.checkpoint_pins.clone(),
                checkpoint_quorum: testbed.chain.checkpoint_quorum_for(testbed.nodes.len()),
                window_ms,
                grid_m: testbed.sensing.grid_m,
                position_m: spec.position_m,
                bid: spec.bid.clone(),
                bid_channels,
                channel_names: channel_names.clone(),
                names: names.clone(),
                max_rounds: rounds,
                emit_psd,
            }));
        }
        let n = &testbed.network;
        let mut net = SimNetwork::new(SimConfig {
            nodes: nodes.len(),
            seed: seed ^ 0x0005_EED0_F4E7_u64,
            latency: Latency {
                base_ms: n.latency_ms,
                jitter_ms: n.jitter_ms,
            },
            loss: n.loss,
            request_timeout_ms: n.request_timeout_ms,
            ..SimConfig::default()
        })?;
        let index_of = |name: &str| testbed.nodes.iter().position(|x| x.name == name);
        for p in &n.partitions {
            let groups = p
                .groups
                .iter()
                .map(|g| {
                    g.iter()
                        .filter_map(|name| index_of(name))
                        .map(node_id)
                        .collect()
                })
                .collect();
            net.schedule_partition(secs_to_ms(p.at_s), Partition::groups(groups))?;
            net.schedule_partition(secs_to_ms(p.heal_s), Partition::healed())?;
        }
        if let Some(r) = &n.random_partitions {
            let mut rng = ChaCha20Rng::seed_from_u64(seed ^ 0xBADC_AB1E);
            let mut unit = || {
                #[allow(clippy::cast_precision_loss)]
                let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                u
            };
            let count = nodes.len();
            for _ in 0..r.count {
                let start = r.start_s[0] + (r.start_s[1] - r.start_s[0]) * unit();
                let length = r.duration_s[0] + (r.duration_s[1] - r.duration_s[0]) * unit();
                // A random split into two groups of at least two nodes (one if there are < 4).
                let mut order: Vec<usize> = (0..count).collect();
                for i in (1..count).rev() {
                    #[allow(
                        clippy::cast_possible_truncation,
                        clippy::cast_sign_loss,
                        clippy::cast_precision_loss
                    )]
                    let j = ((unit() * (i + 1) as f64) as usize).min(i);
                    order.swap(i, j);
                }
                let smallest = if count >= 4 { 2 } else { 1 };
                let span = count.saturating_sub(2 * smallest) + 1;
                #[allow(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    clippy::cast_precision_loss
                )]
                let cut = smallest + ((unit() * span as f64) as usize).min(span.saturating_sub(1));
                let (a, b) = order.split_at(cut.min(count));
                let groups = vec![
                    a.iter().map(|&i| node_id(i)).collect(),
                    b.iter().map(|&i| node_id(i)).collect(),
                ];
                net.schedule_partition(secs_to_ms(start), Partition::groups(groups))?;
                net.schedule_partition(secs_to_ms(start + length), Partition::healed())?;
            }
        }
        let truth = Truth::new(testbed, seed, window.unwrap_or(1), per_loop)?;
        let origin_ms = testbed.chain.genesis_timestamp_ms;
        let mut sim = Self {
            testbed: testbed.clone(),
            net,
            nodes,
            origin_ms,
            truth,
            channel_names,
            seed,
            rounds,
        };
        sim.start(&mut super::NullSink)?;
        Ok(sim)
    }

    fn start(&mut self, sink: &mut dyn EventSink) -> anyhow::Result<()> {
        let now = self.origin_ms;
        for (i, node) in self.nodes.iter_mut().enumerate() {
            let mut ep = self.net.endpoint(node_id(i))?;
            node.start(now, &mut ep, sink);
        }
        Ok(())
    }

    /// Virtual time elapsed, ms.
    #[must_use]
    pub fn now_ms(&self) -> u64 {
        self.net.now_ms()
    }

    /// The nodes, in testbed order.
    #[must_use]
    pub fn nodes(&self) -> &[Node<NodeId>] {
        &self.nodes
    }

    /// The network (statistics, trace).
    #[must_use]
    pub fn network(&self) -> &SimNetwork {
        &self.net
    }

    /// Channel names in band-plan order.
    #[must_use]
    pub fn channel_names(&self) -> &[String] {
        &self.channel_names
    }

    /// Each node's head: (height, hash).
    #[must_use]
    pub fn heads(&self) -> Vec<(u64, Hash256)> {
        self.nodes
            .iter()
            .map(|n| (n.ledger().head_height(), n.ledger().head()))
            .collect()
    }

    /// Whether every node has the same head.
    #[must_use]
    pub fn converged(&self) -> bool {
        let heads = self.heads();
        heads
            .windows(2)
            .all(|w| w.first().map(|a| a.1) == w.get(1).map(|b| b.1))
    }

    /// Schedules a partition of the network into groups of node indices at `at_ms` of
    /// virtual time (nodes in no group form one more group).
    ///
    /// # Errors
    /// Unknown nodes, a node in two groups.
    pub fn partition(&mut self, at_ms: u64, groups: &[Vec<usize>]) -> anyhow::Result<()> {
        let groups = groups
            .iter()
            .map(|g| g.iter().map(|&i| node_id(i)).collect())
            .collect();
        self.net
            .schedule_partition(at_ms, Partition::groups(groups))?;
        Ok(())
    }

    /// Schedules the end of every partition at `at_ms`.
    ///
    /// # Errors
    /// None in practice.
    pub fn heal(&mut self, at_ms: u64) -> anyhow::Result<()> {
        self.net.schedule_partition(at_ms, Partition::healed())?;
        Ok(())
    }

    /// Turns every node's mining on or off.
    pub fn set_mining(&mut self, on: bool) {
        let now = self.origin_ms.saturating_add(self.net.now_ms());
        for n in &mut self.nodes {
            n.set_mining(on, now);
        }
    }

    /// Advances to the next thing that happens (a delivery or a node timer) and lets every
    /// node handle it. Returns false when nothing is left to happen.
    ///
    /// # Errors
    /// None in practice (node ids are in range).
    pub fn step(&mut self, sink: &mut dyn EventSink) -> anyhow::Result<bool> {
        let t_net = self.net.next_event_ms();
        let t_node = self
            .nodes
            .iter()
            .filter_map(Node::next_wakeup_ms)
            .min()
            .map(|w| w.saturating_sub(self.origin_ms));
        let Some(t) = [t_net, t_node].into_iter().flatten().min() else {
            return Ok(false);
        };
        let t = t.max(self.net.now_ms());
        self.net.run_until(t);
        let now = self.origin_ms.saturating_add(t);
        for (i, node) in self.nodes.iter_mut().enumerate() {
            let id = node_id(i);
            while let Some(event) = self.net.poll_event(id) {
                let mut ep = self.net.endpoint(id)?;
                node.on_net_event(now, event, &mut ep, sink);
            }
            let mut ep = self.net.endpoint(id)?;
            node.on_tick(now, &mut ep, sink);
        }
        Ok(true)
    }

    /// Steps until virtual time `until_ms` (or nothing is left to happen).
    ///
    /// # Errors
    /// As [`Simulation::step`].
    pub fn run_until(&mut self, until_ms: u64, sink: &mut dyn EventSink) -> anyhow::Result<()> {
        loop {
            let next = [
                self.net.next_event_ms(),
                self.nodes
                    .iter()
                    .filter_map(Node::next_wakeup_ms)
                    .min()
                    .map(|w| w.saturating_sub(self.origin_ms)),
            ]
            .into_iter()
            .flatten()
            .min();
            match next {
                Some(t) if t <= until_ms => {
                    self.step(sink)?;
                }
                _ => break,
            }
        }
        self.net.run_until(until_ms);
        Ok(())
    }

    /// Whether node `index`'s head has every round up to the configured count opened, fused
    /// and settled, and every auction settled.
    #[must_use]
    pub fn rounds_done(&self, index: usize) -> bool {
        let (Some(rounds), Some(node)) = (self.rounds, self.nodes.get(index)) else {
            return false;
        };
        let state = node.ledger().head_state();
        let params = node.ledger().params();
        let Ok(registry) = Registry::load(state, &params.contracts) else {
            return false;
        };
        let opened = registry
            .channels
            .iter()
            .all(|c| c.next_round >= rounds && c.open_task.is_none() && c.open_auction.is_none());
        if !opened {
            return false;
        }
        state
            .contracts()
            .all(|(id, bytes)| match parse_contract_id(id) {
                Some((ContractKind::Task, _)) => <Task as chain::codec::Decode>::from_bytes(bytes)
                    .is_ok_and(|t| t.phase == TaskPhase::Settled),
                Some((ContractKind::Auction, _)) => {
                    <Auction as chain::codec::Decode>::from_bytes(bytes)
                        .is_ok_and(|a| a.result.is_some())
                }
                _ => true,
            })
    }

    /// The run's figures, read from node `reference`'s final chain.
    ///
    /// # Errors
    /// Re-application errors (cannot happen for validated blocks).
    pub fn summary(&mut self, reference: usize) -> anyhow::Result<Summary> {
        let node = self
            .nodes
            .get(reference)
            .ok_or_else(|| crate::bad_input("no such node"))?;
        let chain = node.ledger().best_chain_receipts()?;
        let rounds = self.rounds.unwrap_or(0);
        let mut task_info: BTreeMap<u64, (u32, u64)> = BTreeMap::new();
        let mut fused: BTreeMap<(u32, u64), (bool, u64, u64)> = BTreeMap::new();
        let mut accepted: BTreeMap<u64, Vec<[u8; 33]>> = BTreeMap::new();
        let mut stamps: BTreeMap<u64, u64> = BTreeMap::new();
        let mut auctions = AuctionSummary::default();
        let mut leases = LeaseSummary::default();
        for (block, receipt) in &chain {
            let h = block.header.height;
            stamps.insert(h, block.header.timestamp_ms);
            for record in &receipt.events {
                match &record.event {
                    ContractEvent::TaskOpened {
                        task,
                        channel,
                        round,
                        ..
                    } => {
                        task_info.insert(*task, (*channel, *round));
                    }
                    ContractEvent::ReportAccepted {
                        task, key_image, ..
                    } => {
                        accepted
                            .entry(*task)
                            .or_default()
                            .push(key_image.to_bytes());
                    }
                    ContractEvent::Fused { task, busy, .. } => {
                        if let Some(&(channel, round)) = task_info.get(task) {
                            fused.insert((channel, round), (*busy, h, *task));
                        }
                    }
                    ContractEvent::AuctionOpened { .. } => auctions.count += 1,
                    ContractEvent::AuctionSettled { winner, .. } => {
                        auctions.settled += 1;
                        if winner.is_some() {
                            auctions.won += 1;
                        }
                    }
                    ContractEvent::AuctionSkipped { .. } => auctions.skipped += 1,
                    ContractEvent::LeaseGranted { .. } => leases.granted += 1,
                    ContractEvent::LeaseSuspended { .. } => leases.suspended += 1,
                    ContractEvent::LeaseResumed { .. } => leases.resumed += 1,
                    ContractEvent::LeaseExpired { .. } => leases.expired += 1,
                    ContractEvent::LeaseRenewed { .. } => leases.renewed += 1,
                    _ => {}
                }
            }
        }
        let mut channels = Vec::new();
        let (mut on, mut detected, mut off, mut false_alarms) = (0u64, 0u64, 0u64, 0u64);
        for (c, name) in self.channel_names.iter().enumerate() {
            let ch = u32::try_from(c).unwrap_or(u32::MAX);
            let mut s = ChannelSummary {
                name: name.clone(),
                busy_decisions: 0,
                idle_decisions: 0,
                missing: 0,
                accuracy: None,
            };
            let mut correct = 0u64;
            let mut known = 0u64;
            for r in 0..rounds {
                let decision = fused.get(&(ch, r)).map(|d| d.0);
                match decision {
                    Some(true) => s.busy_decisions += 1,
                    Some(false) => s.idle_decisions += 1,
                    None => s.missing += 1,
                }
                if let Some(truth) = self.truth.busy(r, c) {
                    known += 1;
                    if decision == Some(truth) {
                        correct += 1;
                    }
                    if truth {
                        on += 1;
                        detected += u64::from(decision == Some(true));
                    } else {
                        off += 1;
                        false_alarms += u64::from(decision == Some(true));
                    }
                }
            }
            s.accuracy = (known > 0).then(|| ratio(correct, known));
            channels.push(s);
        }
        let mut by_image: BTreeMap<[u8; 33], (u64, u64)> = BTreeMap::new();
        for n in &self.nodes {
            for u in n.uploads() {
                by_image.insert(u.key_image.to_bytes(), (u.sensed_height, u.sensed_at_ms));
            }
        }
        let mut lat_blocks = Vec::new();
        let mut lat_ms = Vec::new();
        for &(_, fused_height, task) in fused.values() {
            let stamp = stamps.get(&fused_height).copied().unwrap_or(0);
            for image in accepted.get(&task).into_iter().flatten() {
                if let Some(&(h, at)) = by_image.get(image) {
                    lat_blocks.push(fused_height.saturating_sub(h));
                    lat_ms.push(stamp.saturating_sub(at));
                }
            }
        }
        let interval = node.ledger().params().target_interval_ms.max(1);
        let nodes = self
            .nodes
            .iter()
            .map(|n| {
                let st = n.status();
                NodeSummary {
                    name: st.name,
                    roles: st.roles,
                    height: st.height,
                    head_hash: st.head_hash,
                    state_root: st.state_root,
                    trust: st.trust,
                    balance: st.balance,
                    mined: n.mined(),
                    reports: u64::try_from(n.uploads().len()).unwrap_or(u64::MAX),
                }
            })
            .collect();
        let stats = self.net.stats();
        let converged = self.converged();
        Ok(Summary {
            scenario: self.testbed.name.clone(),
            seed: self.seed,
            rounds,
            blocks: node.ledger().head_height(),
            virtual_s: ratio(self.net.now_ms(), 1000),
            converged,
            nodes,
            channels,
            auctions,
            leases,
            pd: ratio(detected, on),
            pf: ratio(false_alarms, off),
            latency_blocks: Percentiles::of(&lat_blocks),
            latency_intervals: Percentiles::of_scaled(&lat_ms, f64::from(interval)),
            network: NetworkSummary {
                sent: stats.sent,
                delivered: stats.delivered,
                lost: stats.lost,
                partitioned: stats.partitioned,
            },
        })
    }
}

#[allow(clippy::cast_precision_loss)]
fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// Per-node figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeSummary {
    /// Name.
    pub name: String,
    /// Roles (as in status).
    pub roles: Vec<String>,
    /// Head height.
    pub height: u64,
    /// Head hash.
    pub head_hash: String,
    /// State root at the head.
    pub state_root: String,
    /// Own trust at the head.
    pub trust: f64,
    /// Own balance at the head.
    pub balance: u128,
    /// Blocks it mined (any branch).
    pub mined: u64,
    /// Reports it uploaded.
    pub reports: u64,
}

/// Per-channel figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelSummary {
    /// Channel name.
    pub name: String,
    /// Rounds fused busy.
    pub busy_decisions: u64,
    /// Rounds fused idle.
    pub idle_decisions: u64,
    /// Rounds with no fused decision on the final chain.
    pub missing: u64,
    /// Share of rounds whose fused decision matched the ground truth (None: no truth).
    pub accuracy: Option<f64>,
}

/// Auctions on the final chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct AuctionSummary {
    /// Opened.
    pub count: u64,
    /// Settled.
    pub settled: u64,
    /// Settled with a winner.
    pub won: u64,
    /// Idle decisions not auctioned (lease in force, auction running).
    pub skipped: u64,
}

/// Leases on the final chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct LeaseSummary {
    /// Granted (including queued grants).
    pub granted: u64,
    /// Suspended by a returning primary user.
    pub suspended: u64,
    /// Resumed by a later idle decision.
    pub resumed: u64,
    /// Expired at the end of their term.
    pub expired: u64,
    /// Renewed by the holder winning again.
    pub renewed: u64,
}

/// Nearest-rank percentiles.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    /// Samples.
    pub samples: u64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// Largest.
    pub max: f64,
}

impl Percentiles {
    /// Of integer samples.
    #[must_use]
    pub fn of(xs: &[u64]) -> Self {
        Self::of_scaled(xs, 1.0)
    }

    /// Of integer samples divided by `scale`.
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn of_scaled(xs: &[u64], scale: f64) -> Self {
        let mut v = xs.to_vec();
        v.sort_unstable();
        let rank = |p: f64| {
            if v.is_empty() {
                return 0.0;
            }
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let i = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
            v.get(i).map_or(0.0, |&x| x as f64 / scale)
        };
        Self {
            samples: u64::try_from(v.len()).unwrap_or(u64::MAX),
            p50: rank(0.5),
            p95: rank(0.95),
            max: v.last().map_or(0.0, |&x| x as f64 / scale),
        }
    }
}

/// Network counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NetworkSummary {
    /// Frames sent.
    pub sent: u64,
    /// Frames delivered.
    pub delivered: u64,
    /// Frames lost on links.
    pub lost: u64,
    /// Frames stopped by partitions.
    pub partitioned: u64,
}

/// What `trustband run` prints at the end.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// Rounds run (per channel).
    pub rounds: u64,
    /// Height of the final head.
    pub blocks: u64,
    /// Virtual time simulated, seconds.
    pub virtual_s: f64,
    /// Whether every node ended on the same head.
    pub converged: bool,
    /// Per node.
    pub nodes: Vec<NodeSummary>,
    /// Per channel.
    pub channels: Vec<ChannelSummary>,
    /// Auctions.
    pub auctions: AuctionSummary,
    /// Leases.
    pub leases: LeaseSummary,
    /// Fused detection probability over rounds and channels with the primary user on.
    pub pd: f64,
    /// Fused false-alarm probability over rounds and channels with it off.
    pub pf: f64,
    /// Sensing-to-decision latency: blocks from the head when a report's samples were all in
    /// to the block carrying its fused decision.
    pub latency_blocks: Percentiles,
    /// The same in time, in units of the target block interval.
    pub latency_intervals: Percentiles,
    /// Network counters.
    pub network: NetworkSummary,
}
