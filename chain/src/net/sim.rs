//! A deterministic in-process network for `trustband run` and tests.
//!
//! Purpose: run N nodes in one process with realistic faults (latency with jitter, frame loss,
//! partitions that form and heal at given times, misbehaving peers) and get exactly the same
//! run from the same seed, so a failing scenario can be replayed byte for byte.
//!
//! Data flow: each node talks to the network through a [`SimEndpoint`] (the [`Network`]
//! trait). A send draws, from one seeded ChaCha8 stream, whether the frame is lost and its
//! latency `base + U[0, jitter]`; a surviving frame goes into one event queue ordered by
//! (virtual delivery time, sequence number). The driver calls [`SimNetwork::step`] (or
//! [`SimNetwork::run_until`]) to pop the next event, advance the virtual clock to its time and
//! hand the frame to the receiving node: the receiver decodes it exactly as a real node does
//! ([`crate::net::wire`]) and queues a [`NetEvent`] in that node's inbox, or, if the bytes do not
//! decode, penalises the sender ([`crate::net::score`]) and queues a
//! [`NetEvent::Misbehaviour`]. Every send, delivery and drop is appended to a trace
//! ([`SimNetwork::trace`], [`SimNetwork::trace_bytes`]).
//!
//! No wall clock, no threads: time moves only when the driver steps the queue.
//!
//! Model (simplifications of gossipsub, stated so results are read correctly):
//! - publishing floods the frame to every other node directly, each link with its own loss
//!   and latency draw; nodes do not relay, so a lost frame is lost for that receiver;
//! - a partition is a list of groups; two nodes can talk iff they are in the same group
//!   (nodes listed in no group form one more group together). It is checked when a frame is
//!   sent and again when it would be delivered: a link cut drops frames in flight;
//! - a request that gets no response within `request_timeout_ms` fails with
//!   [`RequestFailure::Timeout`]; a response after that is dropped as late;
//! - a banned peer is disconnected from the node that banned it until the ban ends.

use std::collections::{BTreeMap, VecDeque};

use chacha20::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

use super::score::{Offence, ScoreBook, ScoreConfig};
use super::wire::{NetMessage, SyncRequest, SyncResponse, Topic};
use super::{NetEvent, Network, ReplyHandle, RequestFailure, RequestId};
use crate::codec::{Decode, Encode, Put};
use crate::error::Error;

/// A simulated node: its index, `0..nodes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

impl core::fmt::Display for NodeId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "node-{}", self.0)
    }
}

impl NodeId {
    fn index(self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX)
    }
}

/// One-way latency of a link: `base_ms + U[0, jitter_ms]` virtual milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latency {
    /// Smallest latency.
    pub base_ms: u64,
    /// Largest extra latency (uniform).
    pub jitter_ms: u64,
}

/// Parameters of a simulated network.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Number of nodes.
    pub nodes: usize,
    /// Seed of every random draw.
    pub seed: u64,
    /// Link latency.
    pub latency: Latency,
    /// Probability that a frame is lost on a link, in `[0, 1]`.
    pub loss: f64,
    /// How long a requester waits for a response.
    pub request_timeout_ms: u64,
    /// Peer scoring.
    pub scoring: ScoreConfig,
}

impl Default for SimConfig {
    /// Four nodes, 20-30 ms links, no loss, 2 s request timeout.
    fn default() -> Self {
        Self {
            nodes: 4,
            seed: 0,
            latency: Latency {
                base_ms: 20,
                jitter_ms: 10,
            },
            loss: 0.0,
            request_timeout_ms: 2_000,
            scoring: ScoreConfig::default(),
        }
    }
}

/// Who can reach whom: nodes in the same group talk, nodes in different groups do not; nodes
/// listed in no group form one more group together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Partition {
    groups: Vec<Vec<NodeId>>,
}

impl Partition {
    /// Everyone reaches everyone.
    #[must_use]
    pub fn healed() -> Self {
        Self::default()
    }

    /// The given groups (checked against the network by [`SimNetwork::schedule_partition`]).
    #[must_use]
    pub fn groups(groups: Vec<Vec<NodeId>>) -> Self {
        Self { groups }
    }

    fn group_of(&self, node: NodeId) -> usize {
        self.groups
            .iter()
            .position(|g| g.contains(&node))
            .unwrap_or(usize::MAX)
    }

    /// Whether `a` and `b` can talk.
    #[must_use]
    pub fn reachable(&self, a: NodeId, b: NodeId) -> bool {
        self.group_of(a) == self.group_of(b)
    }
}

/// What kind of frame a trace entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// A gossip message on a topic.
    Gossip(Topic),
    /// A sync request.
    Request(RequestId),
    /// A sync response.
    Response(RequestId),
}

/// Why a frame was not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropCause {
    /// Lost on the link (the loss draw).
    Lost,
    /// The two nodes were partitioned (at send or at delivery time).
    Partitioned,
    /// One side had banned the other.
    Banned,
    /// Delivered, but the bytes did not decode: the sender was penalised.
    Malformed,
    /// A response that arrived after its request had timed out.
    Late,
}

/// One line of the trace.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TraceEvent {
    /// A frame left `from` for `to`, to arrive at `deliver_at_ms`.
    Sent {
        /// Sender.
        from: NodeId,
        /// Receiver.
        to: NodeId,
        /// Frame kind.
        frame: FrameKind,
        /// First 8 bytes of the SHA-256 of the frame's bytes.
        digest: [u8; 8],
        /// Scheduled arrival.
        deliver_at_ms: u64,
    },
    /// A frame reached `to` and was handed to it.
    Delivered {
        /// Sender.
        from: NodeId,
        /// Receiver.
        to: NodeId,
        /// Frame kind.
        frame: FrameKind,
        /// First 8 bytes of the SHA-256 of the frame's bytes.
        digest: [u8; 8],
        /// When it was sent.
        sent_at_ms: u64,
    },
    /// A frame was not delivered.
    Dropped {
        /// Sender.
        from: NodeId,
        /// Receiver.
        to: NodeId,
        /// Frame kind.
        frame: FrameKind,
        /// First 8 bytes of the SHA-256 of the frame's bytes.
        digest: [u8; 8],
        /// Why.
        cause: DropCause,
    },
    /// A request timed out at `node`.
    Timeout {
        /// Requester.
        node: NodeId,
        /// Peer asked.
        peer: NodeId,
        /// Request.
        id: RequestId,
    },
    /// The partition changed.
    Repartitioned {
        /// The new groups.
        groups: Vec<Vec<NodeId>>,
    },
    /// `node` banned `peer`.
    Banned {
        /// The node that banned.
        node: NodeId,
        /// The banned peer.
        peer: NodeId,
    },
    /// `node`'s ban of `peer` ended.
    BanLifted {
        /// The node that had banned.
        node: NodeId,
        /// The peer.
        peer: NodeId,
    },
}

/// A trace line and its virtual time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEntry {
    /// Virtual time in milliseconds.
    pub at_ms: u64,
    /// What happened.
    pub event: TraceEvent,
}

/// Counters over the whole run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Frames handed to the links (before loss).
    pub sent: u64,
    /// Frames delivered and decoded.
    pub delivered: u64,
    /// Frames lost on links.
    pub lost: u64,
    /// Frames stopped by a partition.
    pub partitioned: u64,
    /// Frames stopped by a ban.
    pub banned: u64,
    /// Frames delivered that did not decode.
    pub malformed: u64,
    /// Responses that arrived after their timeout.
    pub late: u64,
}

#[derive(Debug, Clone)]
enum Frame {
    Gossip { topic: Topic, bytes: Vec<u8> },
    Request { id: RequestId, bytes: Vec<u8> },
    Response { id: RequestId, bytes: Vec<u8> },
}

impl Frame {
    fn kind(&self) -> FrameKind {
        match self {
            Frame::Gossip { topic, .. } => FrameKind::Gossip(*topic),
            Frame::Request { id, .. } => FrameKind::Request(*id),
            Frame::Response { id, .. } => FrameKind::Response(*id),
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Frame::Gossip { bytes, .. }
            | Frame::Request { bytes, .. }
            | Frame::Response { bytes, .. } => bytes,
        }
    }

    fn digest(&self) -> [u8; 8] {
        let full = Sha256::digest(self.bytes());
        let mut out = [0u8; 8];
        out.copy_from_slice(full.get(..8).unwrap_or(&[0; 8]));
        out
    }
}

#[derive(Debug)]
enum Action {
    Deliver {
        from: NodeId,
        to: NodeId,
        frame: Frame,
        sent_at_ms: u64,
    },
    Repartition(Partition),
    Timeout {
        node: NodeId,
        peer: NodeId,
        id: RequestId,
    },
    LiftBan {
        node: NodeId,
        peer: NodeId,
    },
}

#[derive(Debug)]
struct SimNode {
    inbox: VecDeque<NetEvent<NodeId>>,
    scores: ScoreBook<NodeId>,
    /// Outbound requests awaiting a response: id -> peer asked.
    pending: BTreeMap<RequestId, NodeId>,
}

#[derive(Debug, Clone, Copy)]
struct PendingReply {
    responder: NodeId,
    requester: NodeId,
    id: RequestId,
}

/// The simulated network: every node's inbox, the event queue, the virtual clock and the trace.
#[derive(Debug)]
pub struct SimNetwork {
    config: SimConfig,
    /// Loss threshold on a 53-bit uniform draw.
    loss_threshold: u64,
    rng: ChaCha8Rng,
    now_ms: u64,
    seq: u64,
    queue: BTreeMap<(u64, u64), Action>,
    nodes: Vec<SimNode>,
    partition: Partition,
    replies: BTreeMap<u64, PendingReply>,
    next_reply: u64,
    next_request: u64,
    trace: Vec<TraceEntry>,
    stats: SimStats,
}

/// 2^53: draws are 53-bit uniforms.
const DRAW_SCALE: u64 = 1 << 53;

impl SimNetwork {
    /// A network of `config.nodes` nodes, all connected at time 0 (each node's inbox starts
    /// with a [`NetEvent::PeerConnected`] for every other node).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] if there are fewer than 2 nodes, more than `u32::MAX`, or the
    /// loss is outside `[0, 1]`, or the scoring parameters are invalid.
    pub fn new(config: SimConfig) -> Result<Self, Error> {
        if config.nodes < 2 || u32::try_from(config.nodes).is_err() {
            return Err(Error::InvalidConfig {
                field: "sim.nodes",
                reason: format!("need 2 to 2^32-1 nodes, got {}", config.nodes),
            });
        }
        if !(0.0..=1.0).contains(&config.loss) {
            return Err(Error::InvalidConfig {
                field: "sim.loss",
                reason: format!("a probability in [0, 1], got {}", config.loss),
            });
        }
        config.scoring.validate()?;
        // Exact for every probability that is a multiple of 2^-53, which covers any decimal
        // a user types to within 1e-16.
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let loss_threshold = (config.loss * DRAW_SCALE as f64) as u64;
        let ids: Vec<NodeId> = (0..config.nodes).map(node_id).collect();
        let nodes = ids
            .iter()
            .map(|&me| SimNode {
                inbox: ids
                    .iter()
                    .filter(|&&p| p != me)
                    .map(|&peer| NetEvent::PeerConnected { peer })
                    .collect(),
                scores: ScoreBook::new(config.scoring),
                pending: BTreeMap::new(),
            })
            .collect();
        Ok(Self {
            loss_threshold,
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            config,
            now_ms: 0,
            seq: 0,
            queue: BTreeMap::new(),
            nodes,
            partition: Partition::healed(),
            replies: BTreeMap::new(),
            next_reply: 0,
            next_request: 0,
            trace: Vec::new(),
            stats: SimStats::default(),
        })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// Number of nodes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Always false: a network has at least 2 nodes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Every node's id.
    pub fn node_ids(&self) -> impl Iterator<Item = NodeId> + use<> {
        (0..self.nodes.len()).map(node_id)
    }

    /// The virtual clock, in milliseconds.
    #[must_use]
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// The current partition.
    #[must_use]
    pub fn partition(&self) -> &Partition {
        &self.partition
    }

    /// Everything that happened so far.
    #[must_use]
    pub fn trace(&self) -> &[TraceEntry] {
        &self.trace
    }

    /// Counters so far.
    #[must_use]
    pub fn stats(&self) -> SimStats {
        self.stats
    }

    /// Node `node`'s view of the network.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownPeer`] if there is no such node.
    pub fn endpoint(&mut self, node: NodeId) -> Result<SimEndpoint<'_>, Error> {
        self.check(node)?;
        Ok(SimEndpoint { sim: self, node })
    }

    /// Changes the partition at virtual time `at_ms` (at the current time if that is past).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownPeer`] for a node out of range; [`Error::InvalidConfig`] if a node is
    /// in two groups.
    pub fn schedule_partition(&mut self, at_ms: u64, partition: Partition) -> Result<(), Error> {
        let mut seen = vec![false; self.nodes.len()];
        for &node in partition.groups.iter().flatten() {
            self.check(node)?;
            let slot = seen.get_mut(node.index()).ok_or(Error::UnknownPeer {
                peer: node.to_string(),
            })?;
            if *slot {
                return Err(Error::InvalidConfig {
                    field: "sim.partition",
                    reason: format!("{node} is in two groups"),
                });
            }
            *slot = true;
        }
        self.schedule(at_ms.max(self.now_ms), Action::Repartition(partition));
        Ok(())
    }

    /// Time of the next queued event, if any.
    #[must_use]
    pub fn next_event_ms(&self) -> Option<u64> {
        self.queue.keys().next().map(|&(at, _)| at)
    }

    /// Processes the next queued event, advancing the clock to its time.
    ///
    /// Returns the event's time, or `None` if nothing is queued.
    pub fn step(&mut self) -> Option<u64> {
        let ((at_ms, _), action) = self.queue.pop_first()?;
        self.now_ms = self.now_ms.max(at_ms);
        self.apply(action);
        Some(at_ms)
    }

    /// Processes every event due at or before `until_ms`, then sets the clock to `until_ms`
    /// (if it is later). Returns how many events were processed.
    pub fn run_until(&mut self, until_ms: u64) -> usize {
        let mut count = 0;
        while self.next_event_ms().is_some_and(|at| at <= until_ms) {
            self.step();
            count += 1;
        }
        self.now_ms = self.now_ms.max(until_ms);
        count
    }

    /// Publishes `msg` from `node` to every other node.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownPeer`].
    pub fn publish(&mut self, node: NodeId, msg: &NetMessage) -> Result<(), Error> {
        self.publish_raw(node, msg.topic(), msg.to_bytes())
    }

    /// Publishes arbitrary bytes from `node` on `topic`: fault injection for tests of
    /// misbehaving peers.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownPeer`].
    pub fn publish_raw(&mut self, node: NodeId, topic: Topic, bytes: Vec<u8>) -> Result<(), Error> {
        self.check(node)?;
        let peers: Vec<NodeId> = self.node_ids().filter(|&p| p != node).collect();
        for to in peers {
            self.send(
                node,
                to,
                Frame::Gossip {
                    topic,
                    bytes: bytes.clone(),
                },
            );
        }
        Ok(())
    }

    /// Sends `req` from `node` to `peer`.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownPeer`] if either is not a node, or they are the same node.
    pub fn request(
        &mut self,
        node: NodeId,
        peer: NodeId,
        req: SyncRequest,
    ) -> Result<RequestId, Error> {
        self.request_raw(node, peer, req.to_bytes())
    }

    /// Sends arbitrary request bytes from `node` to `peer` (fault injection).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownPeer`] if either is not a node, or they are the same node.
    pub fn request_raw(
        &mut self,
        node: NodeId,
        peer: NodeId,
        bytes: Vec<u8>,
    ) -> Result<RequestId, Error> {
        self.check(node)?;
        self.check(peer)?;
        if node == peer {
            return Err(Error::UnknownPeer {
                peer: peer.to_string(),
            });
        }
        let id = RequestId(self.next_request);
        self.next_request += 1;
        if let Some(n) = self.nodes.get_mut(node.index()) {
            n.pending.insert(id, peer);
        }
        self.send(node, peer, Frame::Request { id, bytes });
        let at = self.now_ms.saturating_add(self.config.request_timeout_ms);
        self.schedule(at, Action::Timeout { node, peer, id });
        Ok(id)
    }

    /// Answers, as `node`, the request named by `reply`.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownReply`] if `reply` names no request pending at `node`.
    pub fn respond(
        &mut self,
        node: NodeId,
        reply: ReplyHandle,
        resp: &SyncResponse,
    ) -> Result<(), Error> {
        self.respond_raw(node, reply, resp.to_bytes())
    }

    /// Answers with arbitrary bytes (fault injection).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownReply`] if `reply` names no request pending at `node`.
    pub fn respond_raw(
        &mut self,
        node: NodeId,
        reply: ReplyHandle,
        bytes: Vec<u8>,
    ) -> Result<(), Error> {
        let pending = match self.replies.get(&reply.0) {
            Some(p) if p.responder == node => *p,
            _ => return Err(Error::UnknownReply { handle: reply.0 }),
        };
        self.replies.remove(&reply.0);
        self.send(
            node,
            pending.requester,
            Frame::Response {
                id: pending.id,
                bytes,
            },
        );
        Ok(())
    }

    /// `node` reports `peer` for invalid content.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownPeer`].
    pub fn report(&mut self, node: NodeId, peer: NodeId, reason: &str) -> Result<(), Error> {
        self.check(node)?;
        self.check(peer)?;
        self.penalise(node, peer, Offence::Reported(reason.to_owned()));
        Ok(())
    }

    /// The next event in `node`'s inbox.
    pub fn poll_event(&mut self, node: NodeId) -> Option<NetEvent<NodeId>> {
        self.nodes.get_mut(node.index())?.inbox.pop_front()
    }

    /// `node`'s score of `peer` now.
    #[must_use]
    pub fn score(&self, node: NodeId, peer: NodeId) -> i64 {
        self.nodes
            .get(node.index())
            .map_or(0, |n| n.scores.score(&peer, self.now_ms))
    }

    /// Whether `node` and `peer` can exchange frames now (same partition group, no ban).
    #[must_use]
    pub fn connected(&self, node: NodeId, peer: NodeId) -> bool {
        node != peer && self.partition.reachable(node, peer) && !self.banned_either(node, peer)
    }

    /// The trace in a canonical byte form, for comparing runs byte for byte.
    #[must_use]
    pub fn trace_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for entry in &self.trace {
            out.put_u64(entry.at_ms);
            encode_trace_event(&entry.event, &mut out);
        }
        out
    }

    // ---- internals ----

    fn check(&self, node: NodeId) -> Result<(), Error> {
        if node.index() < self.nodes.len() {
            Ok(())
        } else {
            Err(Error::UnknownPeer {
                peer: node.to_string(),
            })
        }
    }

    fn schedule(&mut self, at_ms: u64, action: Action) {
        self.queue.insert((at_ms, self.seq), action);
        self.seq += 1;
    }

    fn record(&mut self, event: TraceEvent) {
        self.trace.push(TraceEntry {
            at_ms: self.now_ms,
            event,
        });
    }

    fn push_event(&mut self, node: NodeId, event: NetEvent<NodeId>) {
        if let Some(n) = self.nodes.get_mut(node.index()) {
            n.inbox.push_back(event);
        }
    }

    fn banned_by(&self, node: NodeId, peer: NodeId) -> bool {
        self.nodes
            .get(node.index())
            .is_some_and(|n| n.scores.is_banned(&peer, self.now_ms))
    }

    fn banned_either(&self, a: NodeId, b: NodeId) -> bool {
        self.banned_by(a, b) || self.banned_by(b, a)
    }

    fn drop_frame(&mut self, from: NodeId, to: NodeId, frame: &Frame, cause: DropCause) {
        match cause {
            DropCause::Lost => self.stats.lost += 1,
            DropCause::Partitioned => self.stats.partitioned += 1,
            DropCause::Banned => self.stats.banned += 1,
            DropCause::Malformed => self.stats.malformed += 1,
            DropCause::Late => self.stats.late += 1,
        }
        self.record(TraceEvent::Dropped {
            from,
            to,
            frame: frame.kind(),
            digest: frame.digest(),
            cause,
        });
    }

    fn send(&mut self, from: NodeId, to: NodeId, frame: Frame) {
        self.stats.sent += 1;
        // Both draws are taken for every frame so the random stream does not depend on which
        // frames happen to be blocked.
        let loss_draw = self.rng.next_u64() >> 11;
        let jitter_draw = self.rng.next_u64();
        if !self.partition.reachable(from, to) {
            self.drop_frame(from, to, &frame, DropCause::Partitioned);
            return;
        }
        if self.banned_either(from, to) {
            self.drop_frame(from, to, &frame, DropCause::Banned);
            return;
        }
        if loss_draw < self.loss_threshold {
            self.drop_frame(from, to, &frame, DropCause::Lost);
            return;
        }
        let latency = self.config.latency;
        let jitter = match latency.jitter_ms.checked_add(1) {
            Some(span) => jitter_draw % span,
            None => jitter_draw,
        };
        let deliver_at_ms = self
            .now_ms
            .saturating_add(latency.base_ms)
            .saturating_add(jitter);
        self.record(TraceEvent::Sent {
            from,
            to,
            frame: frame.kind(),
            digest: frame.digest(),
            deliver_at_ms,
        });
        let sent_at_ms = self.now_ms;
        self.schedule(
            deliver_at_ms,
            Action::Deliver {
                from,
                to,
                frame,
                sent_at_ms,
            },
        );
    }

    fn apply(&mut self, action: Action) {
        match action {
            Action::Deliver {
                from,
                to,
                frame,
                sent_at_ms,
            } => self.deliver(from, to, frame, sent_at_ms),
            Action::Repartition(partition) => self.repartition(partition),
            Action::Timeout { node, peer, id } => {
                let waiting = self
                    .nodes
                    .get_mut(node.index())
                    .and_then(|n| n.pending.remove(&id))
                    .is_some();
                if waiting {
                    self.record(TraceEvent::Timeout { node, peer, id });
                    self.push_event(
                        node,
                        NetEvent::RequestFailed {
                            peer,
                            id,
                            reason: RequestFailure::Timeout,
                        },
                    );
                }
            }
            Action::LiftBan { node, peer } => {
                self.record(TraceEvent::BanLifted { node, peer });
                if self.connected(node, peer) {
                    self.push_event(node, NetEvent::PeerConnected { peer });
                    self.push_event(peer, NetEvent::PeerConnected { peer: node });
                }
            }
        }
    }

    fn deliver(&mut self, from: NodeId, to: NodeId, frame: Frame, sent_at_ms: u64) {
        if !self.partition.reachable(from, to) {
            self.drop_frame(from, to, &frame, DropCause::Partitioned);
            return;
        }
        if self.banned_either(from, to) {
            self.drop_frame(from, to, &frame, DropCause::Banned);
            return;
        }
        let event = match &frame {
            Frame::Gossip { topic, bytes } => match NetMessage::decode_on(*topic, bytes) {
                Ok(msg) => NetEvent::Message { from, msg },
                Err(e) => {
                    self.drop_frame(from, to, &frame, DropCause::Malformed);
                    self.penalise(to, from, Offence::MalformedMessage(e));
                    return;
                }
            },
            Frame::Request { id, bytes } => match SyncRequest::from_bytes(bytes) {
                Ok(req) => {
                    let reply = ReplyHandle(self.next_reply);
                    self.next_reply += 1;
                    self.replies.insert(
                        reply.0,
                        PendingReply {
                            responder: to,
                            requester: from,
                            id: *id,
                        },
                    );
                    NetEvent::Request { from, req, reply }
                }
                Err(e) => {
                    self.drop_frame(from, to, &frame, DropCause::Malformed);
                    self.penalise(to, from, Offence::MalformedRequest(e));
                    return;
                }
            },
            Frame::Response { id, bytes } => {
                let waiting = self
                    .nodes
                    .get(to.index())
                    .is_some_and(|n| n.pending.get(id) == Some(&from));
                if !waiting {
                    self.drop_frame(from, to, &frame, DropCause::Late);
                    return;
                }
                if let Some(n) = self.nodes.get_mut(to.index()) {
                    n.pending.remove(id);
                }
                match SyncResponse::from_bytes(bytes) {
                    Ok(resp) => NetEvent::Response {
                        from,
                        id: *id,
                        resp,
                    },
                    Err(e) => {
                        self.drop_frame(from, to, &frame, DropCause::Malformed);
                        self.push_event(
                            to,
                            NetEvent::RequestFailed {
                                peer: from,
                                id: *id,
                                reason: RequestFailure::Malformed(e.clone()),
                            },
                        );
                        self.penalise(to, from, Offence::MalformedResponse(e));
                        return;
                    }
                }
            }
        };
        self.stats.delivered += 1;
        self.record(TraceEvent::Delivered {
            from,
            to,
            frame: frame.kind(),
            digest: frame.digest(),
            sent_at_ms,
        });
        self.push_event(to, event);
    }

    fn penalise(&mut self, node: NodeId, peer: NodeId, reason: Offence) {
        let now = self.now_ms;
        let was_connected = self.connected(node, peer);
        let Some(n) = self.nodes.get_mut(node.index()) else {
            return;
        };
        let verdict = n.scores.penalise(&peer, &reason, now);
        let ban_ms = n.scores.config().ban_ms;
        self.push_event(
            node,
            NetEvent::Misbehaviour {
                peer,
                reason,
                score: verdict.score,
                banned: verdict.banned,
            },
        );
        if verdict.banned {
            self.record(TraceEvent::Banned { node, peer });
            if was_connected {
                self.push_event(node, NetEvent::PeerDisconnected { peer });
                self.push_event(peer, NetEvent::PeerDisconnected { peer: node });
            }
            self.schedule(now.saturating_add(ban_ms), Action::LiftBan { node, peer });
        }
    }

    fn repartition(&mut self, partition: Partition) {
        let before: Vec<(NodeId, NodeId, bool)> = self
            .pairs()
            .map(|(a, b)| (a, b, self.connected(a, b)))
            .collect();
        self.partition = partition;
        self.record(TraceEvent::Repartitioned {
            groups: self.partition.groups.clone(),
        });
        for (a, b, was) in before {
            let now = self.connected(a, b);
            if was && !now {
                self.push_event(a, NetEvent::PeerDisconnected { peer: b });
                self.push_event(b, NetEvent::PeerDisconnected { peer: a });
            } else if !was && now {
                self.push_event(a, NetEvent::PeerConnected { peer: b });
                self.push_event(b, NetEvent::PeerConnected { peer: a });
            }
        }
    }

    fn pairs(&self) -> impl Iterator<Item = (NodeId, NodeId)> + use<> {
        let n = self.nodes.len();
        (0..n).flat_map(move |a| (a + 1..n).map(move |b| (node_id(a), node_id(b))))
    }
}

fn node_id(i: usize) -> NodeId {
    // The constructor checks that every index fits in u32.
    NodeId(u32::try_from(i).unwrap_or(u32::MAX))
}

fn encode_frame_kind(frame: FrameKind, out: &mut Vec<u8>) {
    match frame {
        FrameKind::Gossip(Topic::Tx) => out.put_u8(0),
        FrameKind::Gossip(Topic::Block) => out.put_u8(1),
        FrameKind::Request(id) => {
            out.put_u8(2);
            out.put_u64(id.0);
        }
        FrameKind::Response(id) => {
            out.put_u8(3);
            out.put_u64(id.0);
        }
    }
}

fn encode_trace_event(event: &TraceEvent, out: &mut Vec<u8>) {
    match event {
        TraceEvent::Sent {
            from,
            to,
            frame,
            digest,
            deliver_at_ms,
        } => {
            out.put_u8(0);
            out.put_u32(from.0);
            out.put_u32(to.0);
            encode_frame_kind(*frame, out);
            out.put_raw(digest);
            out.put_u64(*deliver_at_ms);
        }
        TraceEvent::Delivered {
            from,
            to,
            frame,
            digest,
            sent_at_ms,
        } => {
            out.put_u8(1);
            out.put_u32(from.0);
            out.put_u32(to.0);
            encode_frame_kind(*frame, out);
            out.put_raw(digest);
            out.put_u64(*sent_at_ms);
        }
        TraceEvent::Dropped {
            from,
            to,
            frame,
            digest,
            cause,
        } => {
            out.put_u8(2);
            out.put_u32(from.0);
            out.put_u32(to.0);
            encode_frame_kind(*frame, out);
            out.put_raw(digest);
            out.put_u8(match cause {
                DropCause::Lost => 0,
                DropCause::Partitioned => 1,
                DropCause::Banned => 2,
                DropCause::Malformed => 3,
                DropCause::Late => 4,
            });
        }
        TraceEvent::Timeout { node, peer, id } => {
            out.put_u8(3);
            out.put_u32(node.0);
            out.put_u32(peer.0);
            out.put_u64(id.0);
        }
        TraceEvent::Repartitioned { groups } => {
            out.put_u8(4);
            out.put_len(groups.len());
            for group in groups {
                out.put_len(group.len());
                for node in group {
                    out.put_u32(node.0);
                }
            }
        }
        TraceEvent::Banned { node, peer } => {
            out.put_u8(5);
            out.put_u32(node.0);
            out.put_u32(peer.0);
        }
        TraceEvent::BanLifted { node, peer } => {
            out.put_u8(6);
            out.put_u32(node.0);
            out.put_u32(peer.0);
        }
    }
}

/// Node `node`'s view of a [`SimNetwork`].
#[derive(Debug)]
pub struct SimEndpoint<'a> {
    sim: &'a mut SimNetwork,
    node: NodeId,
}

impl SimEndpoint<'_> {
    /// The virtual clock, in milliseconds.
    #[must_use]
    pub fn now_ms(&self) -> u64 {
        self.sim.now_ms
    }
}

impl Network for SimEndpoint<'_> {
    type Peer = NodeId;

    fn local_peer(&self) -> NodeId {
        self.node
    }

    fn publish(&mut self, msg: &NetMessage) -> Result<(), Error> {
        self.sim.publish(self.node, msg)
    }

    fn request(&mut self, peer: &NodeId, req: SyncRequest) -> Result<RequestId, Error> {
        self.sim.request(self.node, *peer, req)
    }

    fn respond(&mut self, reply: ReplyHandle, resp: SyncResponse) -> Result<(), Error> {
        self.sim.respond(self.node, reply, &resp)
    }

    fn report(&mut self, peer: &NodeId, reason: &str) -> Result<(), Error> {
        self.sim.report(self.node, *peer, reason)
    }

    fn poll_event(&mut self) -> Option<NetEvent<NodeId>> {
        self.sim.poll_event(self.node)
    }
}
