//! The real network: libp2p over TCP with noise encryption and yamux multiplexing.
//!
//! Purpose: connect the lab's nodes (a few hosts, 2-5 nodes) so they gossip transactions and
//! blocks and sync the chain, behind the same [`Network`] interface as the simulation.
//!
//! Data flow: [`P2pNode::start`] builds a libp2p swarm whose identity is the node's chain key
//! ([`identity`]), listens, dials the configured peers and spawns one tokio task (the driver)
//! that owns the swarm. The node talks to the task through a cloneable [`P2pHandle`] (async
//! commands over an mpsc channel) and receives [`NetEvent`]s on an mpsc receiver. The task
//! stops when the injected [`CancellationToken`] is cancelled (or every handle is dropped),
//! dropping the swarm so its ports are released; [`P2pNode::join`] waits for that.
//!
//! Protocols:
//! - gossipsub on topics `trustband/v1/tx` and `trustband/v1/block`; message id = SHA-256 of
//!   a tag, the topic and the data (content addressing: the same block published by two nodes
//!   is one message); signed messages, strict validation, and explicit application validation:
//!   a message that decodes is accepted (and forwarded), one that does not is rejected, which
//!   applies gossipsub's invalid-message penalty to the sender, and the driver also lowers its
//!   own score of the sender ([`crate::net::score`]) and reports [`NetEvent::Misbehaviour`];
//! - request-response `/trustband/sync/1` ([`codec`]) for block and checkpoint sync;
//! - identify (`/ipfs/id/1.0.0`), and mDNS discovery behind the `mdns` cargo feature.
//!
//! Small labs: gossipsub's defaults target large networks (mesh of 6, at least 4). Here the
//! mesh is 1..=6 with a target of 3 and at least 1 outbound peer, publishing floods to every
//! subscribed peer, and a publish that finds no subscribed peer yet (gossipsub's
//! `NoPeersSubscribedToTopic`, formerly `InsufficientPeers`: the usual case right after a
//! connection, before the peer's subscriptions arrive) is queued, logged, and retried when a
//! peer subscribes to the topic and on every tick, never dropped silently.

pub mod codec;
mod driver;
pub mod identity;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use libp2p::{Multiaddr, PeerId};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
pub use tokio_util::sync::CancellationToken;

use super::score::ScoreConfig;
use super::wire::{NetMessage, SyncRequest, SyncResponse, Topic};
use super::{NetEvent, Network, ReplyHandle, RequestId};
use crate::codec::Encode;
use crate::crypto::SecretKey;
use crate::error::Error;

/// Configuration of a libp2p node.
#[derive(Debug, Clone, PartialEq)]
pub struct P2pConfig {
    /// Addresses to listen on (`/ip4/0.0.0.0/tcp/0` picks a free port on every interface).
    pub listen: Vec<Multiaddr>,
    /// Peers to dial and keep dialing (`/ip4/10.0.0.2/tcp/7000`, optionally ending in
    /// `/p2p/<peer id>`).
    pub peers: Vec<Multiaddr>,
    /// First wait before re-dialing a lost or failed peer; doubles on each failure.
    pub redial_min: Duration,
    /// Longest wait between re-dials.
    pub redial_max: Duration,
    /// Discover peers on the local link with mDNS (needs the `mdns` cargo feature).
    pub mdns: bool,
    /// Gossipsub heartbeat (mesh maintenance).
    pub heartbeat: Duration,
    /// How long a sync request waits for its response.
    pub request_timeout: Duration,
    /// How long a connection with nothing to do stays open.
    pub idle_timeout: Duration,
    /// Largest gossip message, in bytes.
    pub max_gossip_bytes: usize,
    /// Largest sync request frame, in bytes.
    pub max_request_bytes: u32,
    /// Largest sync response frame, in bytes (a checkpoint carries the whole state).
    pub max_response_bytes: u32,
    /// Capacity of the event channel to the node.
    pub event_buffer: usize,
    /// Capacity of the command channel from handles.
    pub command_buffer: usize,
    /// Most publishes kept waiting for a subscribed peer (the oldest is dropped, with a
    /// warning, beyond that).
    pub publish_queue: usize,
    /// Application-level peer scoring.
    pub scoring: ScoreConfig,
}

impl Default for P2pConfig {
    fn default() -> Self {
        Self {
            listen: vec![
                Multiaddr::from(std::net::Ipv4Addr::UNSPECIFIED)
                    .with(libp2p::multiaddr::Protocol::Tcp(0)),
            ],
            peers: Vec::new(),
            redial_min: Duration::from_millis(500),
            redial_max: Duration::from_secs(30),
            mdns: false,
            heartbeat: Duration::from_millis(500),
            request_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_gossip_bytes: 8 << 20,
            max_request_bytes: 1 << 10,
            max_response_bytes: 64 << 20,
            event_buffer: 1024,
            command_buffer: 256,
            publish_queue: 256,
            scoring: ScoreConfig::default(),
        }
    }
}

impl P2pConfig {
    /// A configuration listening on `127.0.0.1` on a free port (tests, single-host labs).
    #[must_use]
    pub fn localhost() -> Self {
        Self {
            listen: vec![
                Multiaddr::from(std::net::Ipv4Addr::LOCALHOST)
                    .with(libp2p::multiaddr::Protocol::Tcp(0)),
            ],
            ..Self::default()
        }
    }

    /// Checks the configuration.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] naming the field: no listen address, zero buffers or
    /// timeouts, `redial_min > redial_max`, mDNS without the `mdns` feature, gossip messages
    /// under 1 KiB, invalid scoring.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |field: &'static str, reason: &str| {
            Err(Error::InvalidConfig {
                field,
                reason: reason.to_owned(),
            })
        };
        if self.listen.is_empty() {
            return bad("p2p.listen", "at least one listen address is needed");
        }
        if self.redial_min.is_zero() || self.redial_min > self.redial_max {
            return bad("p2p.redial_min", "must be positive and at most redial_max");
        }
        if self.mdns && !cfg!(feature = "mdns") {
            return bad(
                "p2p.mdns",
                "this build has no mDNS (enable the `mdns` cargo feature)",
            );
        }
        if self.heartbeat.is_zero() || self.request_timeout.is_zero() {
            return bad(
                "p2p.heartbeat",
                "heartbeat and request timeout must be positive",
            );
        }
        if self.max_gossip_bytes < 1024 || self.max_request_bytes < 64 {
            return bad(
                "p2p.max_gossip_bytes",
                "gossip messages need at least 1 KiB, requests 64 bytes",
            );
        }
        if self.event_buffer == 0 || self.command_buffer == 0 || self.publish_queue == 0 {
            return bad(
                "p2p.event_buffer",
                "channel and queue capacities must be positive",
            );
        }
        self.scoring.validate()
    }
}

/// What happened to a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishOutcome {
    /// Handed to gossipsub for at least one peer.
    Sent,
    /// No peer is subscribed to the topic yet: queued, and retried when one subscribes.
    Queued,
    /// The network already carried this exact message (content-addressed id).
    AlreadyKnown,
}

/// A snapshot of the driver's state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct P2pStats {
    /// Peers with at least one open connection.
    pub connected: Vec<PeerId>,
    /// Addresses the node listens on.
    pub listen_addrs: Vec<Multiaddr>,
    /// Publishes waiting for a subscribed peer.
    pub queued_publishes: usize,
    /// Messages handed to gossipsub (first tries and retries).
    pub published: u64,
    /// Queued publishes dropped because the queue was full (each logged).
    pub dropped_publishes: u64,
    /// Events dropped because the node's event channel was full (each logged).
    pub dropped_events: u64,
    /// Gossipsub's score of each connected peer.
    pub gossip_scores: Vec<(PeerId, f64)>,
    /// Peers currently banned.
    pub banned: Vec<PeerId>,
}

#[derive(Debug)]
enum Command {
    Publish {
        topic: Topic,
        bytes: Vec<u8>,
        done: Option<oneshot::Sender<Result<PublishOutcome, Error>>>,
    },
    Request {
        peer: PeerId,
        id: RequestId,
        bytes: Vec<u8>,
    },
    Respond {
        reply: ReplyHandle,
        bytes: Vec<u8>,
        done: Option<oneshot::Sender<Result<(), Error>>>,
    },
    Report {
        peer: PeerId,
        reason: String,
    },
    Dial {
        addr: Multiaddr,
        done: oneshot::Sender<Result<(), Error>>,
    },
    Stats {
        done: oneshot::Sender<P2pStats>,
    },
}

const STOPPED: Error = Error::NetworkStopped {
    reason: "the p2p task has ended",
};

/// A cloneable handle to a running node's network task.
#[derive(Debug, Clone)]
pub struct P2pHandle {
    commands: mpsc::Sender<Command>,
    local: PeerId,
    listen_addrs: Arc<[Multiaddr]>,
    next_request: Arc<AtomicU64>,
}

impl P2pHandle {
    /// This node's peer id (derived from its chain key).
    #[must_use]
    pub fn local_peer_id(&self) -> PeerId {
        self.local
    }

    /// The addresses the node was listening on when it started (with the ports picked for
    /// `tcp/0`), each ending in `/p2p/<local peer id>`, ready to give to other nodes.
    #[must_use]
    pub fn listen_addrs(&self) -> &[Multiaddr] {
        &self.listen_addrs
    }

    async fn send(&self, cmd: Command) -> Result<(), Error> {
        self.commands.send(cmd).await.map_err(|_| STOPPED)
    }

    fn try_send(&self, cmd: Command) -> Result<(), Error> {
        self.commands.try_send(cmd).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => Error::NetworkBusy { queue: "commands" },
            mpsc::error::TrySendError::Closed(_) => STOPPED,
        })
    }

    /// Gossips `msg` on its topic.
    ///
    /// # Errors
    ///
    /// [`Error::NetworkStopped`]; [`Error::LimitExceeded`] if the message is over
    /// `max_gossip_bytes`; [`Error::Transport`] for other gossipsub failures.
    pub async fn publish(&self, msg: &NetMessage) -> Result<PublishOutcome, Error> {
        self.publish_raw(msg.topic(), msg.to_bytes()).await
    }

    /// Gossips arbitrary bytes on `topic`: for fault injection (a misbehaving test peer).
    ///
    /// # Errors
    ///
    /// As [`P2pHandle::publish`].
    pub async fn publish_raw(&self, topic: Topic, bytes: Vec<u8>) -> Result<PublishOutcome, Error> {
        let (done, rx) = oneshot::channel();
        self.send(Command::Publish {
            topic,
            bytes,
            done: Some(done),
        })
        .await?;
        rx.await.map_err(|_| STOPPED)?
    }

    fn next_request_id(&self) -> RequestId {
        RequestId(self.next_request.fetch_add(1, Ordering::Relaxed))
    }

    /// Sends `req` to `peer`; the answer arrives as a [`NetEvent::Response`] or
    /// [`NetEvent::RequestFailed`] with the returned id.
    ///
    /// # Errors
    ///
    /// [`Error::NetworkStopped`].
    pub async fn request(&self, peer: PeerId, req: SyncRequest) -> Result<RequestId, Error> {
        let id = self.next_request_id();
        self.send(Command::Request {
            peer,
            id,
            bytes: req.to_bytes(),
        })
        .await?;
        Ok(id)
    }

    /// Answers the inbound request named by `reply`.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownReply`] if it was already answered or its stream is gone;
    /// [`Error::NetworkStopped`].
    pub async fn respond(&self, reply: ReplyHandle, resp: &SyncResponse) -> Result<(), Error> {
        let (done, rx) = oneshot::channel();
        self.send(Command::Respond {
            reply,
            bytes: resp.to_bytes(),
            done: Some(done),
        })
        .await?;
        rx.await.map_err(|_| STOPPED)?
    }

    /// Reports `peer` for invalid content (lowers its score, bans it past the threshold).
    ///
    /// # Errors
    ///
    /// [`Error::NetworkStopped`].
    pub async fn report(&self, peer: PeerId, reason: &str) -> Result<(), Error> {
        self.send(Command::Report {
            peer,
            reason: reason.to_owned(),
        })
        .await
    }

    /// Dials `addr` once (no re-dialing; configured peers are re-dialed automatically).
    ///
    /// # Errors
    ///
    /// [`Error::Transport`] if the dial cannot start; [`Error::NetworkStopped`].
    pub async fn dial(&self, addr: Multiaddr) -> Result<(), Error> {
        let (done, rx) = oneshot::channel();
        self.send(Command::Dial { addr, done }).await?;
        rx.await.map_err(|_| STOPPED)?
    }

    /// A snapshot of the driver's state.
    ///
    /// # Errors
    ///
    /// [`Error::NetworkStopped`].
    pub async fn stats(&self) -> Result<P2pStats, Error> {
        let (done, rx) = oneshot::channel();
        self.send(Command::Stats { done }).await?;
        rx.await.map_err(|_| STOPPED)
    }
}

/// A running libp2p node: its handle, its event receiver and its task.
#[derive(Debug)]
pub struct P2pNode {
    handle: P2pHandle,
    events: mpsc::Receiver<NetEvent<PeerId>>,
    task: JoinHandle<()>,
}

impl P2pNode {
    /// Starts a node with the identity of `key`: builds the swarm, binds every listen address
    /// (waiting until each is bound), dials the configured peers and spawns the driver task on
    /// the current tokio runtime. The task runs until `shutdown` is cancelled.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] from [`P2pConfig::validate`]; [`Error::Transport`] if the swarm
    /// cannot be built or an address cannot be bound within 5 s.
    pub async fn start(
        key: &SecretKey,
        config: P2pConfig,
        shutdown: CancellationToken,
    ) -> Result<Self, Error> {
        config.validate()?;
        let keypair = identity::keypair(key)?;
        let local = keypair.public().to_peer_id();
        let (command_tx, command_rx) = mpsc::channel(config.command_buffer);
        let (event_tx, event_rx) = mpsc::channel(config.event_buffer);
        let driver = driver::Driver::start(keypair, config, command_rx, event_tx, shutdown).await?;
        let listen_addrs: Arc<[Multiaddr]> = driver
            .listen_addrs()
            .iter()
            .map(|a| a.clone().with(libp2p::multiaddr::Protocol::P2p(local)))
            .collect();
        let task = tokio::spawn(driver.run());
        Ok(Self {
            handle: P2pHandle {
                commands: command_tx,
                local,
                listen_addrs,
                next_request: Arc::new(AtomicU64::new(0)),
            },
            events: event_rx,
            task,
        })
    }

    /// The node's handle (clone it to share).
    #[must_use]
    pub fn handle(&self) -> &P2pHandle {
        &self.handle
    }

    /// The next event; `None` once the task has ended.
    pub async fn next_event(&mut self) -> Option<NetEvent<PeerId>> {
        self.events.recv().await
    }

    /// The event receiver.
    pub fn events(&mut self) -> &mut mpsc::Receiver<NetEvent<PeerId>> {
        &mut self.events
    }

    /// Waits for the task to end (cancel the shutdown token first). The swarm, its listeners
    /// and connections are dropped by then.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`] (op `"join"`) if the task panicked or was aborted.
    pub async fn join(self) -> Result<(), Error> {
        drop(self.handle);
        self.task.await.map_err(|e| Error::Transport {
            op: "join",
            reason: e.to_string(),
        })
    }

    /// Splits into the handle, the event receiver and the task.
    #[must_use]
    pub fn into_parts(self) -> (P2pHandle, mpsc::Receiver<NetEvent<PeerId>>, JoinHandle<()>) {
        (self.handle, self.events, self.task)
    }
}

/// The non-blocking interface: commands are queued with `try_send` (so they fail with
/// [`Error::NetworkBusy`] rather than wait), events are taken with `try_recv`. In this
/// transport [`Network::respond`] cannot report an unknown reply handle synchronously; the
/// driver logs it. Use the async [`P2pHandle`] methods for results.
impl Network for P2pNode {
    type Peer = PeerId;

    fn local_peer(&self) -> PeerId {
        self.handle.local
    }

    fn publish(&mut self, msg: &NetMessage) -> Result<(), Error> {
        self.handle.try_send(Command::Publish {
            topic: msg.topic(),
            bytes: msg.to_bytes(),
            done: None,
        })
    }

    fn request(&mut self, peer: &PeerId, req: SyncRequest) -> Result<RequestId, Error> {
        let id = self.handle.next_request_id();
        self.handle.try_send(Command::Request {
            peer: *peer,
            id,
            bytes: req.to_bytes(),
        })?;
        Ok(id)
    }

    fn respond(&mut self, reply: ReplyHandle, resp: SyncResponse) -> Result<(), Error> {
        self.handle.try_send(Command::Respond {
            reply,
            bytes: resp.to_bytes(),
            done: None,
        })
    }

    fn report(&mut self, peer: &PeerId, reason: &str) -> Result<(), Error> {
        self.handle.try_send(Command::Report {
            peer: *peer,
            reason: reason.to_owned(),
        })
    }

    fn poll_event(&mut self) -> Option<NetEvent<PeerId>> {
        self.events.try_recv().ok()
    }
}
