//! Networking: how nodes exchange transactions, blocks and sync requests.
//!
//! Purpose: give the node one transport-agnostic interface, [`Network`], with two transports
//! behind it: a deterministic in-process simulation ([`sim`]) for `trustband run` and tests,
//! and libp2p ([`p2p`]) for real lab hosts.
//!
//! Data flow:
//! - outbound, the node calls [`Network::publish`] with a [`NetMessage`] (gossiped on its
//!   topic to every peer), [`Network::request`] with a [`SyncRequest`] for one peer, and
//!   [`Network::respond`] to answer a request it was given;
//! - inbound, the transport decodes what peers send ([`wire`]: canonical bytes in a versioned
//!   envelope) and queues [`NetEvent`]s, which the node drains with [`Network::poll_event`];
//! - bytes that fail to decode never reach the node and never panic: the frame is dropped, the
//!   sender's [`score`] drops (and past a threshold it is disconnected and banned), and the
//!   node sees a [`NetEvent::Misbehaviour`] naming the peer. Content that decodes but is
//!   invalid (a bad signature, an invalid block) is the node's to judge; it reports the peer
//!   with [`Network::report`], which feeds the same score.
//!
//! The interface is non-blocking on purpose: node logic is a function of (event, network) that
//! works unchanged whether a virtual-clock simulation loop or a tokio task feeds it.

pub mod p2p;
pub mod score;
pub mod sim;
pub mod wire;

pub use score::{Offence, ScoreBook, ScoreConfig, Verdict};
pub use wire::{HeadInfo, MAX_SYNC_BLOCKS, NetMessage, SyncRequest, SyncResponse, Topic};

use crate::error::Error;

/// Identifies an outbound request; its [`NetEvent::Response`] or [`NetEvent::RequestFailed`]
/// carries the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

impl core::fmt::Display for RequestId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "req-{}", self.0)
    }
}

/// Names an inbound request the node should answer with [`Network::respond`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplyHandle(pub u64);

/// Why an outbound request got no response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestFailure {
    /// No response within the request timeout (lost, or the peer never answered).
    Timeout,
    /// The peer could not be reached or the connection closed first.
    Unreachable,
    /// The peer does not speak the sync protocol.
    Unsupported,
    /// The peer's response did not decode (the peer is penalised too).
    Malformed(Error),
    /// Any other transport failure, rendered.
    Other(String),
}

impl core::fmt::Display for RequestFailure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RequestFailure::Timeout => f.write_str("timed out"),
            RequestFailure::Unreachable => f.write_str("peer unreachable"),
            RequestFailure::Unsupported => f.write_str("peer does not speak /trustband/sync/1"),
            RequestFailure::Malformed(e) => write!(f, "malformed response: {e}"),
            RequestFailure::Other(s) => f.write_str(s),
        }
    }
}

/// Something the network tells the node.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetEvent<P> {
    /// A gossip message from `from` (the peer that relayed it to us), decoded.
    Message {
        /// The relaying peer.
        from: P,
        /// The message.
        msg: NetMessage,
    },
    /// A peer asks for something; answer with [`Network::respond`] and `reply`.
    Request {
        /// The asking peer.
        from: P,
        /// What it asks for.
        req: SyncRequest,
        /// Where the answer goes.
        reply: ReplyHandle,
    },
    /// The answer to one of our requests.
    Response {
        /// The answering peer.
        from: P,
        /// Our request's id.
        id: RequestId,
        /// The answer.
        resp: SyncResponse,
    },
    /// One of our requests failed.
    RequestFailed {
        /// The peer asked.
        peer: P,
        /// Our request's id.
        id: RequestId,
        /// Why.
        reason: RequestFailure,
    },
    /// A peer became reachable.
    PeerConnected {
        /// The peer.
        peer: P,
    },
    /// A peer is no longer reachable.
    PeerDisconnected {
        /// The peer.
        peer: P,
    },
    /// A peer misbehaved; what it sent was dropped.
    Misbehaviour {
        /// The offending peer.
        peer: P,
        /// What it did.
        reason: Offence,
        /// Its score afterwards.
        score: i64,
        /// Whether this offence got it banned (and disconnected).
        banned: bool,
    },
}

/// The node's view of a network: non-blocking commands and a queue of events.
pub trait Network {
    /// How peers are named (a node index in the simulation, a libp2p `PeerId`).
    type Peer: Clone + Eq + core::hash::Hash + core::fmt::Debug + core::fmt::Display;

    /// This node's own name.
    fn local_peer(&self) -> Self::Peer;

    /// Gossips `msg` on its topic to every reachable peer.
    ///
    /// # Errors
    ///
    /// [`Error::NetworkBusy`] if the transport's queue is full, [`Error::NetworkStopped`] if
    /// it has stopped. A message that cannot go out yet for lack of peers is queued by the
    /// transport, not refused.
    fn publish(&mut self, msg: &NetMessage) -> Result<(), Error>;

    /// Sends `req` to `peer`; the answer arrives as a [`NetEvent::Response`] (or
    /// [`NetEvent::RequestFailed`]) carrying the returned id.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownPeer`], [`Error::NetworkBusy`], [`Error::NetworkStopped`].
    fn request(&mut self, peer: &Self::Peer, req: SyncRequest) -> Result<RequestId, Error>;

    /// Answers the request named by `reply`.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownReply`] if it was already answered (or, in the simulation, never
    /// existed); [`Error::NetworkBusy`], [`Error::NetworkStopped`].
    fn respond(&mut self, reply: ReplyHandle, resp: SyncResponse) -> Result<(), Error>;

    /// Reports that `peer` sent content the node found invalid; lowers its score (and bans it
    /// past the threshold).
    ///
    /// # Errors
    ///
    /// [`Error::NetworkBusy`], [`Error::NetworkStopped`].
    fn report(&mut self, peer: &Self::Peer, reason: &str) -> Result<(), Error>;

    /// The next event, if one is queued.
    fn poll_event(&mut self) -> Option<NetEvent<Self::Peer>>;
}
