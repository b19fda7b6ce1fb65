//! The task that owns the libp2p swarm: turns handle commands into swarm calls and swarm
//! events into [`NetEvent`]s, re-dials configured peers with back-off, retries queued
//! publishes, scores and bans misbehaving peers.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use futures::StreamExt;
use libp2p::allow_block_list::{self, BlockedPeers};
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance, MessageId, PublishError};
use libp2p::request_response::{self, OutboundFailure, OutboundRequestId, ProtocolSupport};
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::dial_opts::DialOpts;
use libp2p::swarm::{ConnectionId, NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, identify, noise, tcp, yamux};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::codec::{FrameCodec, SYNC_PROTOCOL};
use super::{Command, P2pConfig, P2pStats, PublishOutcome};
use crate::codec::Decode;
use crate::error::Error;
use crate::net::score::{Offence, ScoreBook};
use crate::net::wire::{NetMessage, SyncRequest, SyncResponse, Topic};
use crate::net::{NetEvent, ReplyHandle, RequestFailure, RequestId};

#[cfg(feature = "mdns")]
type Mdns = libp2p::mdns::tokio::Behaviour;
#[cfg(not(feature = "mdns"))]
type Mdns = libp2p::swarm::dummy::Behaviour;

/// Domain tag of gossip message ids.
const MESSAGE_ID_TAG: &[u8] = b"trustband/v1/gossip-id";

/// How often the driver re-dials, retries publishes and lifts expired bans.
const TICK: Duration = Duration::from_millis(250);

#[derive(NetworkBehaviour)]
#[behaviour(prelude = "libp2p::swarm::derive_prelude")]
struct Behaviour {
    blocked: allow_block_list::Behaviour<BlockedPeers>,
    gossipsub: gossipsub::Behaviour,
    sync: request_response::Behaviour<FrameCodec>,
    identify: identify::Behaviour,
    mdns: Toggle<Mdns>,
}

/// Content-addressed gossip id: SHA-256 over a tag, the topic and the data, each
/// length-prefixed.
fn message_id(message: &gossipsub::Message) -> MessageId {
    let mut hasher = Sha256::new();
    for part in [
        MESSAGE_ID_TAG,
        message.topic.as_str().as_bytes(),
        message.data.as_slice(),
    ] {
        hasher.update(u64::try_from(part.len()).unwrap_or(u64::MAX).to_be_bytes());
        hasher.update(part);
    }
    MessageId::new(hasher.finalize().as_slice())
}

/// A short name of an event for logs (a block's `Debug` would flood them).
fn event_kind(event: &NetEvent<PeerId>) -> &'static str {
    match event {
        NetEvent::Message { msg, .. } => msg.kind(),
        NetEvent::Request { .. } => "request",
        NetEvent::Response { .. } => "response",
        NetEvent::RequestFailed { .. } => "request failed",
        NetEvent::PeerConnected { .. } => "peer connected",
        NetEvent::PeerDisconnected { .. } => "peer disconnected",
        NetEvent::Misbehaviour { .. } => "misbehaviour",
    }
}

fn ident_topic(topic: Topic) -> IdentTopic {
    IdentTopic::new(topic.name())
}

fn transport_err(op: &'static str) -> impl Fn(String) -> Error {
    move |reason| Error::Transport { op, reason }
}

/// Gossipsub tuned for labs of 2-5 nodes (see the module docs of `p2p`).
fn gossipsub_config(config: &P2pConfig) -> Result<gossipsub::Config, Error> {
    gossipsub::ConfigBuilder::default()
        .validation_mode(gossipsub::ValidationMode::Strict)
        .validate_messages()
        .message_id_fn(message_id)
        .mesh_n_low(1)
        .mesh_n(3)
        .mesh_n_high(6)
        .mesh_outbound_min(1)
        .gossip_lazy(3)
        .flood_publish(true)
        .heartbeat_initial_delay(Duration::from_millis(100))
        .heartbeat_interval(config.heartbeat)
        .prune_backoff(Duration::from_secs(15))
        .max_transmit_size(config.max_gossip_bytes)
        .build()
        .map_err(|e| Error::InvalidConfig {
            field: "p2p.gossipsub",
            reason: e.to_string(),
        })
}

/// Gossipsub peer scoring for a quiet lab network.
///
/// - P1 (time in mesh) and P2 (first deliveries) reward steady peers a little;
/// - P3 (mesh delivery rate) is off: a lab produces about one block a second and few
///   transactions, so a rate threshold would punish honest quiet peers;
/// - P4 (invalid messages) is the lever: each rejected message counts, squared, times -10;
/// - P5 (application) carries the driver's own score ([`ScoreBook`]), weight 1;
/// - P6 (IP colocation) is off: labs run several nodes per host.
///
/// With the default [`crate::net::ScoreConfig`] one malformed message takes a peer to about
/// -60 (below the gossip and publish thresholds: we stop gossiping to it) and a second one to
/// about -140 (graylisted: gossipsub ignores it), which is also when the driver bans it.
fn peer_score(topics: &[Topic]) -> (gossipsub::PeerScoreParams, gossipsub::PeerScoreThresholds) {
    let topic_params = gossipsub::TopicScoreParams {
        topic_weight: 1.0,
        time_in_mesh_weight: 0.1,
        time_in_mesh_quantum: Duration::from_secs(1),
        time_in_mesh_cap: 100.0,
        first_message_deliveries_weight: 1.0,
        first_message_deliveries_decay: gossipsub::score_parameter_decay(Duration::from_secs(600)),
        first_message_deliveries_cap: 20.0,
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        invalid_message_deliveries_weight: -10.0,
        invalid_message_deliveries_decay: gossipsub::score_parameter_decay(Duration::from_secs(
            3600,
        )),
        ..gossipsub::TopicScoreParams::default()
    };
    let params = gossipsub::PeerScoreParams {
        topics: topics
            .iter()
            .map(|t| (ident_topic(*t).hash(), topic_params.clone()))
            .collect(),
        topic_score_cap: 50.0,
        app_specific_weight: 1.0,
        ip_colocation_factor_weight: 0.0,
        ..gossipsub::PeerScoreParams::default()
    };
    let thresholds = gossipsub::PeerScoreThresholds {
        gossip_threshold: -10.0,
        publish_threshold: -50.0,
        graylist_threshold: -80.0,
        accept_px_threshold: 10.0,
        opportunistic_graft_threshold: 5.0,
    };
    (params, thresholds)
}

fn build_swarm(
    keypair: libp2p::identity::Keypair,
    config: &P2pConfig,
) -> Result<Swarm<Behaviour>, Error> {
    let gossip_config = gossipsub_config(config)?;
    let codec = FrameCodec {
        max_request: config.max_request_bytes,
        max_response: config.max_response_bytes,
    };
    let sync_config = request_response::Config::default()
        .with_request_timeout(config.request_timeout)
        .with_max_concurrent_streams(64);
    let want_mdns = config.mdns;
    let idle = config.idle_timeout;
    let swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| transport_err("build transport")(e.to_string()))?
        .with_behaviour(|key| {
            let mut gossipsub = gossipsub::Behaviour::new(
                gossipsub::MessageAuthenticity::Signed(key.clone()),
                gossip_config,
            )?;
            let (params, thresholds) = peer_score(&Topic::ALL);
            gossipsub.with_peer_score(params, thresholds)?;
            for topic in Topic::ALL {
                gossipsub.subscribe(&ident_topic(topic))?;
            }
            let sync = request_response::Behaviour::with_codec(
                codec,
                [(SYNC_PROTOCOL, ProtocolSupport::Full)],
                sync_config,
            );
            let identify = identify::Behaviour::new(
                identify::Config::new("/trustband/1".to_owned(), key.public())
                    .with_agent_version(format!("trustband/{}", env!("CARGO_PKG_VERSION"))),
            );
            Ok(Behaviour {
                blocked: allow_block_list::Behaviour::default(),
                gossipsub,
                sync,
                identify,
                mdns: Toggle::from(mdns_behaviour(want_mdns, key.public().to_peer_id())?),
            })
        })
        .map_err(|e| transport_err("build swarm")(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(idle))
        .build();
    Ok(swarm)
}

#[cfg(feature = "mdns")]
fn mdns_behaviour(
    enabled: bool,
    local: PeerId,
) -> Result<Option<Mdns>, Box<dyn std::error::Error + Send + Sync>> {
    if enabled {
        Ok(Some(libp2p::mdns::tokio::Behaviour::new(
            libp2p::mdns::Config::default(),
            local,
        )?))
    } else {
        Ok(None)
    }
}

#[cfg(not(feature = "mdns"))]
#[allow(clippy::unnecessary_wraps)]
fn mdns_behaviour(
    _enabled: bool,
    _local: PeerId,
) -> Result<Option<Mdns>, Box<dyn std::error::Error + Send + Sync>> {
    // `P2pConfig::validate` refuses `mdns = true` in builds without the feature.
    Ok(None)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DialState {
    Connected,
    Dialing(ConnectionId),
    Waiting { until: Instant },
}

#[derive(Debug)]
struct ConfiguredPeer {
    addr: Multiaddr,
    peer: Option<PeerId>,
    state: DialState,
    backoff: Duration,
}

#[derive(Debug)]
struct QueuedPublish {
    topic: Topic,
    bytes: Vec<u8>,
}

pub(super) struct Driver {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<NetEvent<PeerId>>,
    shutdown: CancellationToken,
    scores: ScoreBook<PeerId>,
    started: Instant,
    queued: VecDeque<QueuedPublish>,
    replies: HashMap<u64, request_response::ResponseChannel<Vec<u8>>>,
    next_reply: u64,
    outbound: HashMap<OutboundRequestId, RequestId>,
    configured: Vec<ConfiguredPeer>,
    listen_addrs: Vec<Multiaddr>,
    redial_min: Duration,
    redial_max: Duration,
    publish_queue: usize,
    max_gossip_bytes: usize,
    published: u64,
    dropped_publishes: u64,
    dropped_events: u64,
}

impl core::fmt::Debug for Driver {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Driver")
            .field("local", self.swarm.local_peer_id())
            .field("listen_addrs", &self.listen_addrs)
            .finish_non_exhaustive()
    }
}

impl Driver {
    /// Builds the swarm, binds the listen addresses (waiting up to 5 s for each) and dials the
    /// configured peers.
    pub(super) async fn start(
        keypair: libp2p::identity::Keypair,
        config: P2pConfig,
        commands: mpsc::Receiver<Command>,
        events: mpsc::Sender<NetEvent<PeerId>>,
        shutdown: CancellationToken,
    ) -> Result<Self, Error> {
        let mut swarm = build_swarm(keypair, &config)?;
        let mut waiting = std::collections::HashSet::new();
        for addr in &config.listen {
            let id = swarm
                .listen_on(addr.clone())
                .map_err(|e| transport_err("listen")(format!("{addr}: {e}")))?;
            waiting.insert(id);
        }
        let mut listen_addrs = Vec::new();
        let bind = async {
            while !waiting.is_empty() {
                match swarm.select_next_some().await {
                    SwarmEvent::NewListenAddr {
                        listener_id,
                        address,
                    } => {
                        waiting.remove(&listener_id);
                        listen_addrs.push(address);
                    }
                    SwarmEvent::ListenerClosed { reason: Err(e), .. }
                    | SwarmEvent::ListenerError { error: e, .. } => {
                        return Err(transport_err("listen")(e.to_string()));
                    }
                    _ => {}
                }
            }
            Ok(())
        };
        tokio::time::timeout(Duration::from_secs(5), bind)
            .await
            .map_err(|_| transport_err("listen")("no listen address within 5 s".to_owned()))??;
        info!(peer = %swarm.local_peer_id(), addrs = ?listen_addrs, "p2p listening");
        let now = Instant::now();
        let mut driver = Self {
            swarm,
            commands,
            events,
            shutdown,
            scores: ScoreBook::new(config.scoring),
            started: now,
            queued: VecDeque::new(),
            replies: HashMap::new(),
            next_reply: 0,
            outbound: HashMap::new(),
            configured: config
                .peers
                .iter()
                .map(|addr| ConfiguredPeer {
                    addr: addr.clone(),
                    peer: addr.iter().find_map(|p| match p {
                        libp2p::multiaddr::Protocol::P2p(id) => Some(id),
                        _ => None,
                    }),
                    state: DialState::Waiting { until: now },
                    backoff: config.redial_min,
                })
                .collect(),
            listen_addrs,
            redial_min: config.redial_min,
            redial_max: config.redial_max,
            publish_queue: config.publish_queue,
            max_gossip_bytes: config.max_gossip_bytes,
            published: 0,
            dropped_publishes: 0,
            dropped_events: 0,
        };
        driver.redial_due();
        Ok(driver)
    }

    pub(super) fn listen_addrs(&self) -> &[Multiaddr] {
        &self.listen_addrs
    }

    /// The event loop; ends on shutdown or when every handle is gone, dropping the swarm.
    pub(super) async fn run(mut self) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                biased;
                () = self.shutdown.cancelled() => {
                    info!(peer = %self.swarm.local_peer_id(), "p2p shutting down");
                    break;
                }
                cmd = self.commands.recv() => match cmd {
                    Some(cmd) => self.on_command(cmd),
                    None => {
                        info!("every p2p handle dropped; stopping");
                        break;
                    }
                },
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                _ = tick.tick() => self.on_tick(),
            }
        }
        if !self.queued.is_empty() {
            warn!(
                count = self.queued.len(),
                "p2p stopped with publishes still waiting for peers"
            );
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn emit(&mut self, event: NetEvent<PeerId>) {
        match self.events.try_send(event) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(event)) => {
                self.dropped_events += 1;
                warn!(
                    dropped = self.dropped_events,
                    kind = event_kind(&event),
                    "node event channel full; event dropped"
                );
            }
            // The node stopped listening; nothing to tell.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    // ---- commands ----

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Publish { topic, bytes, done } => {
                let outcome = self.publish(topic, bytes);
                if let Some(done) = done {
                    let _ = done.send(outcome);
                } else if let Err(e) = outcome {
                    warn!(%topic, error = %e, "publish failed");
                }
            }
            Command::Request { peer, id, bytes } => {
                let out = self.swarm.behaviour_mut().sync.send_request(&peer, bytes);
                self.outbound.insert(out, id);
            }
            Command::Respond { reply, bytes, done } => {
                let result = match self.replies.remove(&reply.0) {
                    Some(channel) => self
                        .swarm
                        .behaviour_mut()
                        .sync
                        .send_response(channel, bytes)
                        .map_err(|_| Error::UnknownReply { handle: reply.0 }),
                    None => Err(Error::UnknownReply { handle: reply.0 }),
                };
                if let Some(done) = done {
                    let _ = done.send(result);
                } else if let Err(e) = result {
                    warn!(error = %e, "response not sent");
                }
            }
            Command::Report { peer, reason } => self.penalise(peer, Offence::Reported(reason)),
            Command::Dial { addr, done } => {
                let result = self
                    .swarm
                    .dial(addr.clone())
                    .map_err(|e| transport_err("dial")(format!("{addr}: {e}")));
                let _ = done.send(result);
            }
            Command::Stats { done } => {
                let _ = done.send(self.stats());
            }
        }
    }

    fn stats(&self) -> P2pStats {
        let connected: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
        let gossip = &self.swarm.behaviour().gossipsub;
        let gossip_scores = connected
            .iter()
            .filter_map(|p| gossip.peer_score(p).map(|s| (*p, s)))
            .collect();
        let now = self.now_ms();
        P2pStats {
            listen_addrs: self.swarm.listeners().cloned().collect(),
            queued_publishes: self.queued.len(),
            published: self.published,
            dropped_publishes: self.dropped_publishes,
            dropped_events: self.dropped_events,
            gossip_scores,
            banned: self
                .swarm
                .behaviour()
                .blocked
                .blocked_peers()
                .iter()
                .filter(|p| self.scores.is_banned(p, now))
                .copied()
                .collect(),
            connected,
        }
    }

    /// Publishes, or queues when no peer is subscribed yet.
    fn publish(&mut self, topic: Topic, bytes: Vec<u8>) -> Result<PublishOutcome, Error> {
        let len = bytes.len();
        match self
            .swarm
            .behaviour_mut()
            .gossipsub
            .publish(ident_topic(topic), bytes.clone())
        {
            Ok(_) => {
                self.published += 1;
                Ok(PublishOutcome::Sent)
            }
            Err(PublishError::Duplicate) => Ok(PublishOutcome::AlreadyKnown),
            Err(PublishError::NoPeersSubscribedToTopic | PublishError::AllQueuesFull(_)) => {
                self.enqueue(QueuedPublish { topic, bytes });
                info!(
                    %topic,
                    waiting = self.queued.len(),
                    "no peer subscribed to the topic yet; publish queued for the next connection"
                );
                Ok(PublishOutcome::Queued)
            }
            Err(PublishError::MessageTooLarge) => Err(Error::LimitExceeded {
                what: "gossip message bytes",
                limit: u64::try_from(self.max_gossip_bytes).unwrap_or(u64::MAX),
                got: u64::try_from(len).unwrap_or(u64::MAX),
            }),
            Err(e) => Err(transport_err("publish")(e.to_string())),
        }
    }

    fn enqueue(&mut self, item: QueuedPublish) {
        if self.queued.len() >= self.publish_queue
            && let Some(old) = self.queued.pop_front()
        {
            self.dropped_publishes += 1;
            warn!(
                topic = %old.topic,
                bytes = old.bytes.len(),
                dropped = self.dropped_publishes,
                "publish queue full; oldest waiting publish dropped"
            );
        }
        self.queued.push_back(item);
    }

    /// Retries queued publishes (all of them, or those of one topic) in order.
    fn retry_queued(&mut self, only: Option<Topic>) {
        if self.queued.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.queued);
        let mut sent = 0usize;
        for item in pending {
            if only.is_some_and(|t| t != item.topic) {
                self.queued.push_back(item);
                continue;
            }
            match self
                .swarm
                .behaviour_mut()
                .gossipsub
                .publish(ident_topic(item.topic), item.bytes.clone())
            {
                Ok(_) => {
                    self.published += 1;
                    sent += 1;
                }
                Err(PublishError::Duplicate) => sent += 1,
                Err(PublishError::NoPeersSubscribedToTopic | PublishError::AllQueuesFull(_)) => {
                    self.queued.push_back(item);
                }
                Err(e) => {
                    self.dropped_publishes += 1;
                    warn!(topic = %item.topic, error = %e, "queued publish failed; dropped");
                }
            }
        }
        if sent > 0 {
            info!(
                sent,
                still_waiting = self.queued.len(),
                "queued publishes sent"
            );
        }
    }

    // ---- scoring ----

    fn penalise(&mut self, peer: PeerId, reason: Offence) {
        let now = self.now_ms();
        let verdict = self.scores.penalise(&peer, &reason, now);
        warn!(%peer, %reason, score = verdict.score, banned = verdict.banned, "peer misbehaved");
        let app_score = f64::from(i32::try_from(verdict.score).unwrap_or(i32::MIN));
        let behaviour = self.swarm.behaviour_mut();
        behaviour.gossipsub.set_application_score(&peer, app_score);
        if verdict.banned {
            behaviour.blocked.block_peer(peer);
            behaviour.gossipsub.blacklist_peer(&peer);
            let until = Instant::now() + Duration::from_millis(self.scores.config().ban_ms);
            for c in &mut self.configured {
                if c.peer == Some(peer) {
                    c.state = DialState::Waiting { until };
                }
            }
        }
        self.emit(NetEvent::Misbehaviour {
            peer,
            reason,
            score: verdict.score,
            banned: verdict.banned,
        });
    }

    // ---- periodic work ----

    fn on_tick(&mut self) {
        let now = self.now_ms();
        for peer in self.scores.expire_bans(now) {
            info!(%peer, "ban lifted");
            let behaviour = self.swarm.behaviour_mut();
            behaviour.blocked.unblock_peer(peer);
            behaviour.gossipsub.remove_blacklisted_peer(&peer);
            behaviour.gossipsub.set_application_score(&peer, 0.0);
        }
        self.redial_due();
        if self.swarm.connected_peers().next().is_some() {
            self.retry_queued(None);
        }
        self.replies.retain(|_, channel| channel.is_open());
    }

    fn redial_due(&mut self) {
        let now = Instant::now();
        for i in 0..self.configured.len() {
            let Some(c) = self.configured.get(i) else {
                continue;
            };
            // Already connected (perhaps because the peer dialed us).
            if let Some(peer) = c.peer
                && self.swarm.is_connected(&peer)
            {
                if let Some(c) = self.configured.get_mut(i) {
                    c.state = DialState::Connected;
                }
                continue;
            }
            let DialState::Waiting { until } = c.state else {
                continue;
            };
            if until > now {
                continue;
            }
            let opts = DialOpts::from(c.addr.clone());
            let id = opts.connection_id();
            let addr = c.addr.clone();
            let result = self.swarm.dial(opts);
            let Some(c) = self.configured.get_mut(i) else {
                continue;
            };
            match result {
                Ok(()) => {
                    debug!(%addr, "dialing configured peer");
                    c.state = DialState::Dialing(id);
                }
                Err(e) => {
                    c.state = DialState::Waiting {
                        until: now + c.backoff,
                    };
                    warn!(%addr, error = %e, retry_in = ?c.backoff, "dial failed");
                    c.backoff = (c.backoff * 2).min(self.redial_max);
                }
            }
        }
    }

    // ---- swarm events ----

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(e)) => self.on_gossip(e),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(e)) => self.on_sync(e),
            #[cfg(feature = "mdns")]
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(libp2p::mdns::Event::Discovered(found))) => {
                for (peer, addr) in found {
                    if !self.swarm.is_connected(&peer) {
                        debug!(%peer, %addr, "mDNS discovered a peer; dialing");
                        let _ = self.swarm.dial(addr);
                    }
                }
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                num_established,
                ..
            } => {
                for c in &mut self.configured {
                    if c.state == DialState::Dialing(connection_id) || c.peer == Some(peer_id) {
                        c.peer = Some(peer_id);
                        c.state = DialState::Connected;
                        c.backoff = self.redial_min;
                    }
                }
                if num_established.get() == 1 {
                    info!(peer = %peer_id, addr = %endpoint.get_remote_address(), "peer connected");
                    self.emit(NetEvent::PeerConnected { peer: peer_id });
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                cause,
                ..
            } => {
                info!(peer = %peer_id, ?cause, "peer disconnected");
                let until = Instant::now();
                for c in &mut self.configured {
                    if c.peer == Some(peer_id) && c.state == DialState::Connected {
                        c.state = DialState::Waiting {
                            until: until + c.backoff,
                        };
                    }
                }
                self.emit(NetEvent::PeerDisconnected { peer: peer_id });
            }
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                peer_id,
                error,
            } => {
                let now = Instant::now();
                for c in &mut self.configured {
                    if c.state == DialState::Dialing(connection_id) {
                        c.state = DialState::Waiting {
                            until: now + c.backoff,
                        };
                        debug!(addr = %c.addr, ?peer_id, %error, retry_in = ?c.backoff, "dial failed");
                        c.backoff = (c.backoff * 2).min(self.redial_max);
                    }
                }
            }
            SwarmEvent::NewListenAddr { address, .. } => {
                debug!(%address, "listening");
            }
            _ => {}
        }
    }

    fn on_gossip(&mut self, event: gossipsub::Event) {
        match event {
            gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            } => {
                let decoded = match Topic::from_name(message.topic.as_str()) {
                    Some(topic) => NetMessage::decode_on(topic, &message.data),
                    None => Err(Error::InvalidEncoding {
                        field: "net.topic",
                        reason: "not a trustband topic",
                    }),
                };
                let acceptance = if decoded.is_ok() {
                    MessageAcceptance::Accept
                } else {
                    MessageAcceptance::Reject
                };
                self.swarm
                    .behaviour_mut()
                    .gossipsub
                    .report_message_validation_result(&message_id, &propagation_source, acceptance);
                match decoded {
                    Ok(msg) => self.emit(NetEvent::Message {
                        from: propagation_source,
                        msg,
                    }),
                    Err(e) => self.penalise(propagation_source, Offence::MalformedMessage(e)),
                }
            }
            gossipsub::Event::Subscribed { peer_id, topic } => {
                debug!(peer = %peer_id, %topic, "peer subscribed");
                if let Some(topic) = Topic::from_name(topic.as_str()) {
                    self.retry_queued(Some(topic));
                }
            }
            gossipsub::Event::GossipsubNotSupported { peer_id } => {
                debug!(peer = %peer_id, "peer does not speak gossipsub");
            }
            gossipsub::Event::SlowPeer { peer_id, .. } => {
                debug!(peer = %peer_id, "slow gossipsub peer");
            }
            _ => {}
        }
    }

    fn on_sync(&mut self, event: request_response::Event<Vec<u8>, Vec<u8>>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => match SyncRequest::from_bytes(&request) {
                    Ok(req) => {
                        let reply = ReplyHandle(self.next_reply);
                        self.next_reply += 1;
                        self.replies.insert(reply.0, channel);
                        self.emit(NetEvent::Request {
                            from: peer,
                            req,
                            reply,
                        });
                    }
                    // Dropping the channel closes the stream: the requester sees a failure.
                    Err(e) => self.penalise(peer, Offence::MalformedRequest(e)),
                },
                request_response::Message::Response {
                    request_id,
                    response,
                } => {
                    let Some(id) = self.outbound.remove(&request_id) else {
                        return;
                    };
                    match SyncResponse::from_bytes(&response) {
                        Ok(resp) => self.emit(NetEvent::Response {
                            from: peer,
                            id,
                            resp,
                        }),
                        Err(e) => {
                            self.emit(NetEvent::RequestFailed {
                                peer,
                                id,
                                reason: RequestFailure::Malformed(e.clone()),
                            });
                            self.penalise(peer, Offence::MalformedResponse(e));
                        }
                    }
                }
            },
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                let Some(id) = self.outbound.remove(&request_id) else {
                    return;
                };
                let reason = match error {
                    OutboundFailure::Timeout => RequestFailure::Timeout,
                    OutboundFailure::DialFailure | OutboundFailure::ConnectionClosed => {
                        RequestFailure::Unreachable
                    }
                    OutboundFailure::UnsupportedProtocols => RequestFailure::Unsupported,
                    other => RequestFailure::Other(other.to_string()),
                };
                debug!(%peer, %id, %reason, "sync request failed");
                self.emit(NetEvent::RequestFailed { peer, id, reason });
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                debug!(%peer, %error, "inbound sync request failed");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }
}
