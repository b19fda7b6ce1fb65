//! What a node tells the outside world: typed events (streamed by the local API, drawn by the
//! dashboard, logged by `run`) and its status (answered by the local API's `status` query).
//!
//! These are the node's public vocabulary; keep them stable (other tools read the JSON). All
//! times are milliseconds on the node's clock (virtual in simulations, wall-clock in the lab).

use serde::{Deserialize, Serialize};

/// A channel edge, for drawing spectra.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelSpan {
    /// Channel name.
    pub name: String,
    /// Lower edge, Hz.
    pub low_hz: f64,
    /// Upper edge, Hz.
    pub high_hz: f64,
}

/// One event of one node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NodeEvent {
    /// A decimated PSD frame of the node's front end (at most a few hundred bins).
    Psd {
        /// Node name.
        node: String,
        /// Time, ms.
        at_ms: u64,
        /// RF centre, Hz.
        center_hz: f64,
        /// Sample rate, Hz.
        rate_hz: f64,
        /// Power per bin, dBFS, lowest frequency first.
        psd_db: Vec<f32>,
        /// Tracked noise floor per bin, dBFS (same bins).
        noise_db: Vec<f32>,
        /// The channels sensed, for edges.
        channels: Vec<ChannelSpan>,
    },
    /// A local sensing decision on one channel.
    Decision {
        /// Node name.
        node: String,
        /// Time, ms.
        at_ms: u64,
        /// Round number.
        round: u64,
        /// Channel name.
        channel: String,
        /// Test statistic, dBFS.
        energy_dbfs: f64,
        /// Noise floor, dBFS.
        noise_dbfs: f64,
        /// Threshold, dBFS.
        threshold_dbfs: f64,
        /// Busy?
        busy: bool,
    },
    /// A block joined the node's best chain (or a reorg switched it).
    Block {
        /// Node name.
        node: String,
        /// Time, ms.
        at_ms: u64,
        /// Height.
        height: u64,
        /// Block hash, 0x-hex.
        hash: String,
        /// Miner (node name when known, else address).
        miner: String,
        /// Miner's trust in the parent state.
        miner_trust: f64,
        /// Base difficulty.
        base_difficulty: u64,
        /// Transactions in the block.
        txs: usize,
        /// Blocks rolled back to adopt it (0: plain extension).
        reorg_depth: u64,
    },
    /// A contract event from a block's receipt (task opened, report accepted, fused, auction
    /// settled, lease granted/suspended/expired, ...).
    Contract {
        /// Node name.
        node: String,
        /// Time, ms.
        at_ms: u64,
        /// Height of the block that carried it.
        height: u64,
        /// Event kind, snake_case (e.g. `fused`, `lease_granted`).
        kind: String,
        /// Channel it concerns, when it concerns one.
        channel: Option<String>,
        /// Human-readable one-liner.
        text: String,
        /// The event itself as JSON (the contract's typed event, serialised).
        detail: serde_json::Value,
    },
    /// An account's trust changed (settlement).
    Trust {
        /// Node name (reporting node).
        node: String,
        /// Time, ms.
        at_ms: u64,
        /// Account (node name when known, else address).
        account: String,
        /// New trust in [0, 1].
        trust: f64,
    },
    /// A log line worth showing (peer joined, device lost, ...).
    Log {
        /// Node name.
        node: String,
        /// Time, ms.
        at_ms: u64,
        /// `info`, `warn` or `error`.
        level: String,
        /// Text.
        text: String,
    },
}

/// A node's status, as `trustband status` prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// Node name.
    pub name: String,
    /// Roles (`sensor`, `mo`, `mno`, `task_issuer`, `miner`).
    pub roles: Vec<String>,
    /// Best-chain height.
    pub height: u64,
    /// Head hash, 0x-hex.
    pub head_hash: String,
    /// State root at the head, 0x-hex.
    pub state_root: String,
    /// Connected peers (names or peer ids).
    pub peers: Vec<String>,
    /// Own trust at the head.
    pub trust: f64,
    /// Own Sharecoin balance at the head.
    pub balance: u128,
    /// The latest local decision per channel.
    pub last_decisions: Vec<NodeEvent>,
}
