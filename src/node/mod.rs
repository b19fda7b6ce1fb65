//! A trustband node: sensing, wallet, chain and the roles of SPEC 1, one code path for the
//! deterministic simulation (`trustband run`) and the lab (`trustband node`).
//!
//! # Data flow
//!
//! ```text
//!            ┌──────────────── drivers (the only code that does I/O or reads a clock) ────────────────┐
//!            │ sim::Simulation: SimNetwork + virtual clock     runtime::run: libp2p P2pNode + tokio     │
//!            └───────┬──────────────────────────────────────────────┬──────────────────────────────────┘
//!   NetEvent, now_ms │ on_net_event / on_tick / next_wakeup_ms     │ (same calls, wall clock)
//!                    v                                              v
//!   core::Node (sans-I/O): ledger (BlockTree or redb ChainStore, receipts) · mempool · wallet
//!     · sensing::Sensor (IqSource + EnergyDetector, one window per round) · roles:
//!       task issuer (opens every channel's task when it is the highest-trust account),
//!       sensor (register / buy-in, sense in the sensing window, ring-signed upload, reveal),
//!       MO (blinded bids, reveals, lease heartbeats), MNO (receives revenue), miner (PoT)
//!                    │ Network::publish / request / respond       │ NodeEvent (EventSink), NodeStatus
//!                    v                                              v
//!               the transport                          `run` progress, API server, dashboard
//! ```
//!
//! The node never blocks and never reads a clock: drivers hand it `now_ms` (milliseconds on the
//! node's clock: Unix time in the lab, genesis time plus virtual time in the simulation), every
//! [`chain::net::NetEvent`] of the transport, and call [`core::Node::on_tick`] at
//! [`core::Node::next_wakeup_ms`]. Randomness is injected ([`wallet::NodeRng`]): the OS's for
//! a real node, a seeded ChaCha20 stream per node in the simulation, so a simulation is a pure
//! function of its config and seed. Role behaviour is *level
//! triggered*: after every change of head the node compares the head state with what its roles
//! want (registered? report uploaded? bid revealed?) and sends what is missing, so reorgs and
//! restarts need no replay of past events. Per-task secrets (identity salts, bid secrets and
//! values) are derived from the wallet key, so a restarted node can still reveal.
//!
//! Mining (SPEC 4): each node's expected work is its own `D_i = D_base · 2^(-κ T_i)`. A node
//! with a nominal hash rate `h_i` (hashes/s, configured) finds a block after an exponential
//! time of rate `h_i / D_i`, drawn from its random stream on the node's clock (virtual in the
//! simulation, wall-clock in the lab), then searches the nonce for real, which is cheap
//! because the chain runs at a low base difficulty (the retarget keeps the interval at τ*).
//!
//! # Hooks for the API server and the dashboard
//!
//! Events: every node reports what happens as [`NodeEvent`]s through an [`EventSink`]:
//! - any `FnMut(NodeEvent)` closure is a sink; a `tokio::sync::broadcast::Sender<NodeEvent>`
//!   is a sink (send errors with no receiver are ignored); [`NullSink`] drops everything;
//! - `trustband node`: [`runtime::NodeHooks::events`] (a broadcast sender; subscribe with
//!   `sender.subscribe()`), and [`runtime::NodeHooks::status`] (a
//!   `tokio::sync::watch::Sender<NodeStatus>`, updated after every input the node handles);
//!   [`runtime::run`] takes the hooks and a `CancellationToken`;
//! - `trustband run`: [`crate::demo::RunHooks`] (an `EventSink + Send` receiving every
//!   simulated node's events, each naming its node, and a per-round progress callback) given
//!   to [`crate::demo::run_with`]; `pace` slows virtual time to a multiple of wall time for a
//!   watcher.
//!
//! Status: [`core::Node::status`] builds a [`NodeStatus`] at any time (height, head, state
//! root, peers, own trust and balance, latest decision per channel).
//!
//! Config: [`config`] (TOML, `deny_unknown_fields`, errors name file, line and key).

pub mod clock;
pub mod config;
pub mod core;
pub mod events;
pub mod ledger;
pub mod mempool;
pub mod roles;
pub mod runtime;
pub mod sensing;
pub mod sim;
pub mod wallet;

pub use events::{ChannelSpan, NodeEvent, NodeStatus};

/// Where a node's events go (see the module docs).
pub trait EventSink {
    /// Takes one event.
    fn emit(&mut self, event: NodeEvent);
}

impl<F: FnMut(NodeEvent)> EventSink for F {
    fn emit(&mut self, event: NodeEvent) {
        self(event);
    }
}

impl EventSink for tokio::sync::broadcast::Sender<NodeEvent> {
    fn emit(&mut self, event: NodeEvent) {
        // No subscriber is not an error: nobody is watching.
        let _ = self.send(event);
    }
}

/// A sink that drops every event.
#[derive(Debug, Clone, Copy, Default)]
pub struct NullSink;

impl EventSink for NullSink {
    fn emit(&mut self, _event: NodeEvent) {}
}
