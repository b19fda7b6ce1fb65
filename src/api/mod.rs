//! The node's local API: newline-delimited JSON over TCP on 127.0.0.1, for `trustband status`,
//! `trustband tui --connect`, scripts and `nc`.
//!
//! Data flow:
//!
//! ```text
//!  node ── broadcast<NodeEvent> ──┬─> server's Aggregator (dashboard::Aggregator) ─> "snapshot"
//!                                 └─> per connection: filter + PSD decimation
//!                                        -> bounded queue (drops counted) -> socket
//!  node ── impl NodeApi ──────────────> "status", "query" (account, head); blocks from events
//!  client ── request line ─> server ─> one reply line (or {"error","code"}) ─> client
//! ```
//!
//! - [`protocol`]: the wire types ([`protocol::Request`], [`protocol::Reply`],
//!   [`protocol::ErrorReply`], [`protocol::StreamLine`]) and their parsers.
//! - [`server`]: [`server::serve`] runs the API on a listener until a shutdown token fires;
//!   it never blocks the node (events reach it through a broadcast channel, and a slow
//!   subscriber only loses its own events, counted).
//! - [`client`]: [`client::Client`] for requests and [`client::Subscription`] for the stream.
//!
//! The node side is the [`NodeApi`] trait, so the server runs against a fake node in tests and
//! the real node in `trustband node` / `trustband run`. docs/api.md documents the protocol.

pub mod client;
pub mod commands;
pub mod protocol;
pub mod server;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

pub use client::{Client, ClientError, Subscription};
pub use protocol::{AccountInfo, AccountRef, HeadInfo, Query, Request, Topic};
pub use server::{ServerConfig, serve};

use crate::node::events::{NodeEvent, NodeStatus};

/// Where a node's local API listens unless told otherwise.
pub const DEFAULT_ADDR: &str = "127.0.0.1:7040";

/// A boxed, sendable future: what [`NodeApi`]'s methods return, so the trait stays object
/// safe (`Arc<dyn NodeApi>`) and implementations may await the node's own tasks.
pub type ApiFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why the node could not answer a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NodeApiError {
    /// The node cannot answer now (starting, stopping, its state task is gone).
    #[error("node unavailable: {reason}")]
    Unavailable {
        /// Why.
        reason: String,
    },
    /// The request is well formed but makes no sense to this node (e.g. a malformed address).
    #[error("{reason}")]
    Invalid {
        /// Why.
        reason: String,
    },
}

/// What the local API asks of a node. Implemented by the real node and by test fakes; the
/// methods must not block the async runtime (await the node's tasks instead).
pub trait NodeApi: Send + Sync {
    /// The node's status (height, head, peers, trust, last decisions).
    ///
    /// # Errors
    /// [`NodeApiError::Unavailable`] when the node cannot answer.
    fn status(&self) -> ApiFuture<'_, Result<NodeStatus, NodeApiError>>;

    /// One account at the head: `Ok(None)` if it does not exist.
    ///
    /// # Errors
    /// [`NodeApiError::Unavailable`] when the node cannot answer; [`NodeApiError::Invalid`]
    /// for a reference the node cannot interpret (e.g. an address that is not hex).
    fn account(&self, who: AccountRef) -> ApiFuture<'_, Result<Option<AccountInfo>, NodeApiError>>;
}

/// Looks an account up at the node's head (for [`WatchNode`]).
pub type AccountLookup = Arc<dyn Fn(&AccountRef) -> Option<AccountInfo> + Send + Sync>;

/// An [`AccountLookup`] over the head state a running node publishes on `head` (the node
/// replaces it on every new head) and the names of the accounts it knows (`names`: address,
/// name). A name resolves through `names`; an address is parsed (`0x` + 40 hex digits, the
/// prefix optional). An account that does not exist at the head, an unknown name and an
/// unparsable address all answer `None` (-32001 "not found" on the wire).
#[must_use]
pub fn head_state_lookup(
    names: Vec<(chain::crypto::Address, String)>,
    head: watch::Receiver<Arc<chain::State>>,
) -> AccountLookup {
    Arc::new(move |who: &AccountRef| {
        let address = match who {
            AccountRef::Name(n) => names.iter().find(|(_, name)| name == n).map(|(a, _)| *a)?,
            AccountRef::Address(a) => a.parse::<chain::crypto::Address>().ok()?,
        };
        let state = Arc::clone(&head.borrow());
        state.account(&address)?;
        Some(AccountInfo {
            name: names
                .iter()
                .find(|(a, _)| *a == address)
                .map(|(_, n)| n.clone()),
            address: address.to_string(),
            balance: state.balance(&address),
            nonce: state.nonce(&address),
            trust: state.trust(&address).to_f64(),
        })
    })
}

/// A [`NodeApi`] over a `watch` channel of the node's status (what `trustband node` keeps
/// up to date) and an optional account lookup (without one, every account is unknown).
#[derive(Clone)]
pub struct WatchNode {
    status: watch::Receiver<NodeStatus>,
    accounts: Option<AccountLookup>,
}

impl std::fmt::Debug for WatchNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchNode")
            .field("status", &*self.status.borrow())
            .field("accounts", &self.accounts.is_some())
            .finish()
    }
}

impl WatchNode {
    /// Answers from `status` and `accounts`.
    pub fn new(status: watch::Receiver<NodeStatus>, accounts: Option<AccountLookup>) -> WatchNode {
        WatchNode { status, accounts }
    }
}

impl NodeApi for WatchNode {
    fn status(&self) -> ApiFuture<'_, Result<NodeStatus, NodeApiError>> {
        let s = self.status.borrow().clone();
        Box::pin(async move { Ok(s) })
    }

    fn account(&self, who: AccountRef) -> ApiFuture<'_, Result<Option<AccountInfo>, NodeApiError>> {
        let found = self.accounts.as_ref().and_then(|f| f(&who));
        Box::pin(async move { Ok(found) })
    }
}

/// A node's local API, started by [`start_for_node`]: put `events` and `status` into the
/// node's hooks (`node::runtime::NodeHooks`), await `task` after the node has stopped.
#[derive(Debug)]
pub struct NodeApiHandle {
    /// Where the server listens (the port chosen when the address asked for port 0).
    pub local_addr: std::net::SocketAddr,
    /// The node publishes its events here.
    pub events: broadcast::Sender<NodeEvent>,
    /// The node keeps its status up to date here.
    pub status: watch::Sender<NodeStatus>,
    /// The server; ends once `shutdown` is cancelled and every connection is closed.
    pub task: tokio::task::JoinHandle<Result<(), server::ServerError>>,
}

/// Binds `addr` and serves the local API of the node `name` on the current tokio runtime until
/// `shutdown` is cancelled. Answers `status` from the returned watch channel (a placeholder
/// with only the name until the node first updates it), `account` through `accounts` (every
/// account is unknown without one), and streams what the node sends on the returned
/// broadcast channel (4096 events buffered per subscriber before it counts drops).
///
/// # Errors
/// A [`crate::BadInput`] if `addr` is not `HOST:PORT`; an error naming the address if it
/// cannot be bound (in use, not local).
pub async fn start_for_node(
    addr: &str,
    name: &str,
    accounts: Option<AccountLookup>,
    shutdown: CancellationToken,
    config: ServerConfig,
) -> anyhow::Result<NodeApiHandle> {
    let socket = commands::parse_addr(addr)?;
    let listener = tokio::net::TcpListener::bind(socket)
        .await
        .map_err(|e| anyhow::anyhow!("local API: cannot listen on {socket}: {e}"))?;
    let local_addr = listener
        .local_addr()
        .map_err(|e| anyhow::anyhow!("local API: {socket}: {e}"))?;
    let (events, rx) = broadcast::channel(4096);
    let (status, status_rx) = watch::channel(NodeStatus {
        name: name.to_owned(),
        roles: Vec::new(),
        height: 0,
        head_hash: String::new(),
        state_root: String::new(),
        peers: Vec::new(),
        trust: 0.0,
        balance: 0,
        last_decisions: Vec::new(),
    });
    let node: Arc<dyn NodeApi> = Arc::new(WatchNode::new(status_rx, accounts));
    let task = tokio::spawn(serve(listener, node, rx, shutdown, config));
    Ok(NodeApiHandle {
        local_addr,
        events,
        status,
        task,
    })
}
