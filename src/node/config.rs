//! Testbed and node configuration (TOML).
//!
//! Two kinds of file:
//! - a **testbed** ([`TestbedConfig`]): the sensing set-up (window, detector, channels), the
//!   radio environment of a synthetic scenario, the chain (genesis, parameters of PoT and the
//!   contracts), the simulated network, optional ground truth for recordings, and every node
//!   (roles, position, nominal hash rate, wallet, IQ source, bids, lab address). `trustband run`
//!   simulates all of its nodes in one process;
//! - a **node file** ([`NodeFile`]): `testbed = "PATH"` (relative to the node file), the node's
//!   `name` in it, its `data_dir`, and optional listen/peer overrides. `trustband node` runs that
//!   one node for real (libp2p, redb, wall clock).
//!
//! Every table is `deny_unknown_fields`; errors read `FILE:LINE:COLUMN: KEY: message`.
//!
//! Derived, never written by hand: the contracts' MNO (`chain.params.contracts.mno`) is the
//! account of the node with role `mno` (the zero address if none), and the contracts' band plan
//! (`chain.params.contracts.channels`) is the sensing channels, so chain and detectors agree.
//!
//! Paths: a file source's relative `path` is resolved against the captures directory:
//! `$TRUSTBAND_CAPTURES` if set, else the testbed's `captures_dir` (relative to the testbed
//! file), else `<workspace>/../shared/iq-captures`. A band plan path and a key file are
//! resolved against the testbed file's directory.

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::{Path, PathBuf};

use chain::ChainParams;
use chain::crypto::{Address, SecretKey};
use fusion::Fx;
use radio::detector::{Channel, DetectorConfig};
use radio::source::synthetic::ScenarioConfig;
use serde::Deserialize;

use crate::bad_input;

/// The embedded default testbed of `trustband run` (`testbed-configs/scenarios/default.toml`).
pub const DEFAULT_TESTBED: &str = include_str!("../../testbed-configs/scenarios/default.toml");

/// A node's roles (every node also mines, and opens tasks when it is the highest-trust
/// account).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Senses and reports (a secondary user / IoT node with an SDR or a trace).
    Sensor,
    /// Micro operator: bids for idle channels and holds leases.
    Mo,
    /// Licence holder: the contracts pay it auction revenue.
    Mno,
}

impl Role {
    /// The role's name in status and summaries.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Role::Sensor => "sensor",
            Role::Mo => "mo",
            Role::Mno => "mno",
        }
    }
}

/// The sensing set-up shared by every node.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensingSection {
    /// Sensing window per round, seconds (one detector window).
    #[serde(default = "default_window_s")]
    pub window_s: f64,
    /// Detector settings (`window_s` is replaced by the section's).
    #[serde(default)]
    pub detector: DetectorConfig,
    /// A band plan (built-in name or TOML path) whose channels inside `[band_low_hz,
    /// band_high_hz]` are sensed.
    #[serde(default)]
    pub band_plan: Option<String>,
    /// Lower edge for picking band-plan channels, Hz.
    #[serde(default)]
    pub band_low_hz: Option<f64>,
    /// Upper edge for picking band-plan channels, Hz.
    #[serde(default)]
    pub band_high_hz: Option<f64>,
    /// Explicit channels (instead of a band plan). Without either, one channel per primary
    /// user of the environment.
    #[serde(default)]
    pub channels: Vec<Channel>,
    /// Side of the grid cells reports' locations are coarsened to, metres.
    #[serde(default = "default_grid_m")]
    pub grid_m: f64,
}

fn default_window_s() -> f64 {
    0.05
}

fn default_grid_m() -> f64 {
    50.0
}

/// The chain: genesis and parameters.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainSection {
    /// Genesis time, ms since the Unix epoch (the simulation's virtual clock starts here).
    #[serde(default = "default_genesis_ms")]
    pub genesis_timestamp_ms: u64,
    /// Initial base difficulty (low: the nonce search is cheap; the retarget adapts it).
    #[serde(default = "default_base_difficulty")]
    pub base_difficulty: u64,
    /// Initial balance of every node's account (a node's `balance` overrides), base units.
    #[serde(default = "default_balance")]
    pub balance: u128,
    /// Initial trust of every node's account (a node's `trust` overrides).
    #[serde(default = "default_trust")]
    pub trust: Fx,
    /// Fee paid by every transaction the nodes send (at least `params.min_fee`).
    #[serde(default = "default_fee")]
    pub fee: u128,
    /// How often a node asks a peer for its head (catch-up after loss or a partition), ms.
    #[serde(default = "default_sync_ms")]
    pub sync_interval_ms: u64,
    /// A node whose chain holds only the genesis starts from a peer's confirmed checkpoint
    /// (Trust-Based Compression) instead of replaying the whole history, if its hash is in
    /// `checkpoint_pins` or a quorum of distinct peers (`checkpoint_quorum`) serves the same
    /// block; never on one peer's word (SPEC 4.6). The history before the checkpoint is then
    /// taken on those peers' word (weak subjectivity); `false` replays from genesis.
    #[serde(default = "default_true")]
    pub checkpoint_sync: bool,
    /// Checkpoints taken without a quorum (SPEC 4.6 a): a peer's checkpoint at a pinned
    /// height is adopted only if its hash is the pinned one; any other is refused and the
    /// peer scored.
    #[serde(default)]
    pub checkpoint_pins: Vec<CheckpointPin>,
    /// Distinct peers (the offering one included) that must serve the same checkpoint hash
    /// before an unpinned checkpoint is adopted (SPEC 4.6 b). Default: a majority of the
    /// other configured nodes, never fewer than 2 (one peer's word is never enough).
    #[serde(default)]
    pub checkpoint_quorum: Option<usize>,
    /// Consensus parameters (`contracts.mno` and `contracts.channels` are derived).
    #[serde(default)]
    pub params: ChainParams,
}

/// A checkpoint hash fixed in the testbed config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointPin {
    /// Height of the checkpoint block.
    pub height: u64,
    /// Its block hash.
    pub hash: chain::Hash256,
}

impl ChainSection {
    /// The checkpoint quorum for a testbed of `nodes` configured nodes: the configured
    /// value, else a majority of the other nodes; at least 2 either way.
    #[must_use]
    pub fn checkpoint_quorum_for(&self, nodes: usize) -> usize {
        let others = nodes.saturating_sub(1);
        self.checkpoint_quorum.unwrap_or(others / 2 + 1).max(2)
    }
}

/// Latest genesis timestamp a testbed may set: 2100-01-01T00:00:00Z, ms since the Unix epoch.
pub const MAX_GENESIS_MS: u64 = 4_102_444_800_000;

fn default_genesis_ms() -> u64 {
    1_700_000_000_000
}

fn default_base_difficulty() -> u64 {
    64
}

fn default_balance() -> u128 {
    1_000_000_000_000
}

fn default_trust() -> Fx {
    Fx::HALF
}

fn default_sync_ms() -> u64 {
    2_000
}

/// A scheduled partition of the simulated network.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionSpec {
    /// When it forms, seconds of virtual time.
    pub at_s: f64,
    /// When it heals, seconds of virtual time.
    pub heal_s: f64,
    /// Groups of node names (nodes in no group form one more group).
    pub groups: Vec<Vec<String>>,
}

/// Partitions drawn from the run's seed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomPartitions {
    /// How many.
    pub count: u32,
    /// Range of their durations, seconds.
    pub duration_s: [f64; 2],
    /// Range of their start times, seconds of virtual time.
    pub start_s: [f64; 2],
}

/// The simulated network (`trustband run` only).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSection {
    /// Smallest one-way latency, ms.
    #[serde(default = "default_latency")]
    pub latency_ms: u64,
    /// Largest extra latency (uniform), ms.
    #[serde(default = "default_jitter")]
    pub jitter_ms: u64,
    /// Probability that a frame is lost on a link.
    #[serde(default)]
    pub loss: f64,
    /// How long a sync request waits for its answer, ms.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_ms: u64,
    /// Explicit partitions.
    #[serde(default, rename = "partition")]
    pub partitions: Vec<PartitionSpec>,
    /// Partitions drawn from the seed.
    #[serde(default)]
    pub random_partitions: Option<RandomPartitions>,
}

fn default_latency() -> u64 {
    20
}

fn default_jitter() -> u64 {
    10
}

fn default_request_timeout() -> u64 {
    2_000
}

impl Default for NetworkSection {
    fn default() -> Self {
        Self {
            latency_ms: default_latency(),
            jitter_ms: default_jitter(),
            loss: 0.0,
            request_timeout_ms: default_request_timeout(),
            partitions: Vec::new(),
            random_partitions: None,
        }
    }
}

/// Where a node's IQ comes from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceSpec {
    /// The testbed's synthetic environment, seen from the node's position through its own
    /// receiver noise.
    Synthetic,
    /// A raw recording (`cu8`, `ci8`/`cs8`, `ci16_le`, `cf32_le`), looped: round `r` reads
    /// window `r mod W` of its first `W` whole windows.
    File {
        /// The file (relative: against the captures directory).
        path: PathBuf,
        /// Sample format (default: from the name).
        #[serde(default)]
        format: Option<String>,
        /// Sample rate, Hz (default: from the name).
        #[serde(default)]
        rate_hz: Option<f64>,
        /// Centre frequency, Hz (default: from the name).
        #[serde(default)]
        center_hz: Option<f64>,
    },
    /// A SigMF recording (`.sigmf-meta`), looped like a file.
    Sigmf {
        /// The `.sigmf-meta` (relative: against the captures directory).
        path: PathBuf,
    },
    /// A SoapySDR device (cargo feature `soapy`): each round reads the next live window.
    Soapy {
        /// Device args, e.g. `driver=rtlsdr`.
        args: String,
        /// Centre frequency, Hz.
        center_hz: f64,
        /// Sample rate, Hz.
        rate_hz: f64,
        /// Gain, dB (AGC if absent).
        #[serde(default)]
        gain_db: Option<f64>,
    },
    /// No front end (a node that only mines, bids or holds the licence).
    None,
}

/// How an MO bids.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BidSpec {
    /// Base value of a real bid, base units.
    #[serde(default = "default_bid_value")]
    pub value: u128,
    /// The real bid is `value · (1 + spread · u)`, `u` uniform in [0, 1) per auction (derived
    /// from the wallet key and the auction).
    #[serde(default = "default_bid_spread")]
    pub spread: f64,
    /// Decoy commits per auction (revealed as fake).
    #[serde(default = "default_fakes")]
    pub fakes: u32,
    /// Channels to bid on (names); empty: all.
    #[serde(default)]
    pub channels: Vec<String>,
}

fn default_bid_value() -> u128 {
    2_000_000_000
}

fn default_bid_spread() -> f64 {
    0.5
}

fn default_fakes() -> u32 {
    1
}

impl Default for BidSpec {
    fn default() -> Self {
        Self {
            value: default_bid_value(),
            spread: default_bid_spread(),
            fakes: default_fakes(),
            channels: Vec::new(),
        }
    }
}

/// A node's wallet.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WalletSpec {
    /// Derive the key from this text (anyone can derive it: only `trustband run`, the
    /// deterministic simulation, and `trustband node --insecure-test-keys` accept it). Default:
    /// the node's name.
    #[serde(default)]
    pub seed: Option<String>,
    /// Read the key from this file (64 hex digits), created with a fresh random key if
    /// missing. Other nodes cannot derive its address: give `address` in their testbed.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// The account's address, when it cannot be derived (key files).
    #[serde(default)]
    pub address: Option<Address>,
}

/// One node of the testbed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// Unique name.
    pub name: String,
    /// Roles besides miner and task issuer.
    #[serde(default)]
    pub roles: Vec<Role>,
    /// Position, metres (path loss in the synthetic environment; coarse report location).
    #[serde(default)]
    pub position_m: [f64; 2],
    /// Nominal hash rate, hashes per second of the node's clock (0: does not mine). With
    /// `mining = "timed"` it sets when blocks are found; with `"hash"` only whether the node
    /// mines (> 0).
    #[serde(default = "default_hash_rate")]
    pub hash_rate: f64,
    /// How `trustband node` mines: `timed` (default) finds a block after an exponential wait
    /// at `hash_rate`, as the simulation does on its virtual clock; `hash` searches nonces
    /// against the real target on `mining_threads` worker threads (crossbeam), restarting on
    /// every new head. The simulation is always timed: its clock is virtual.
    #[serde(default)]
    pub mining: MiningMode,
    /// Worker threads of `mining = "hash"`.
    #[serde(default = "default_mining_threads")]
    pub mining_threads: usize,
    /// Initial trust (default: the chain's).
    #[serde(default)]
    pub trust: Option<Fx>,
    /// Initial balance (default: the chain's).
    #[serde(default)]
    pub balance: Option<u128>,
    /// Wallet.
    #[serde(default)]
    pub wallet: WalletSpec,
    /// IQ source (default: synthetic).
    #[serde(default = "default_source")]
    pub source: SourceSpec,
    /// Bidding (MOs).
    #[serde(default)]
    pub bid: BidSpec,
    /// Lab address (`trustband node`): libp2p multiaddr it listens on and others dial.
    #[serde(default)]
    pub addr: Option<String>,
}

fn default_hash_rate() -> f64 {
    3.0
}

fn default_mining_threads() -> usize {
    1
}

/// How a lab node finds blocks (see [`NodeSpec::mining`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MiningMode {
    /// An exponential wait at the nominal hash rate, then a nonce search at the (low) target.
    #[default]
    Timed,
    /// A real nonce search on worker threads.
    Hash,
}

fn default_source() -> SourceSpec {
    SourceSpec::Synthetic
}

/// Ground truth for recordings: busy sample ranges of a channel within one loop of the file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TruthSpec {
    /// Channel name.
    pub channel: String,
    /// Half-open `[start, end)` sample ranges where the channel is occupied.
    pub busy: Vec<[u64; 2]>,
}

/// A whole testbed (see the module docs).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestbedConfig {
    /// Name shown in summaries.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Captures directory for relative file paths (relative to this file).
    #[serde(default)]
    pub captures_dir: Option<PathBuf>,
    /// Sensing set-up.
    #[serde(default = "default_sensing")]
    pub sensing: SensingSection,
    /// The synthetic radio environment (needed by synthetic sources).
    #[serde(default)]
    pub environment: Option<ScenarioConfig>,
    /// Chain.
    #[serde(default = "default_chain")]
    pub chain: ChainSection,
    /// Simulated network.
    #[serde(default)]
    pub network: NetworkSection,
    /// Ground truth of recordings (channels not listed are idle); synthetic sources carry
    /// their own.
    #[serde(default)]
    pub truth: Vec<TruthSpec>,
    /// The nodes.
    #[serde(rename = "node")]
    pub nodes: Vec<NodeSpec>,
    /// Directory of the file it was read from (resolving relative paths); not in the TOML.
    #[serde(skip)]
    pub base_dir: Option<PathBuf>,
}

fn default_sensing() -> SensingSection {
    SensingSection {
        window_s: default_window_s(),
        detector: DetectorConfig::default(),
        band_plan: None,
        band_low_hz: None,
        band_high_hz: None,
        channels: Vec::new(),
        grid_m: default_grid_m(),
    }
}

/// 1000 base units: above the chain's default `min_fee` (1), so a default testbed pays for
/// its transactions (a free transaction costs a spammer nothing).
fn default_fee() -> u128 {
    1_000
}

fn default_chain() -> ChainSection {
    ChainSection {
        genesis_timestamp_ms: default_genesis_ms(),
        base_difficulty: default_base_difficulty(),
        balance: default_balance(),
        trust: default_trust(),
        fee: default_fee(),
        sync_interval_ms: default_sync_ms(),
        checkpoint_sync: true,
        checkpoint_pins: Vec::new(),
        checkpoint_quorum: None,
        params: ChainParams::default(),
    }
}

/// The file `trustband node --config` reads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeFile {
    /// The testbed (relative to this file).
    pub testbed: PathBuf,
    /// This node's name in the testbed.
    pub name: String,
    /// Where the chain is stored (relative to this file).
    pub data_dir: PathBuf,
    /// Listen addresses (default: the testbed node's `addr`).
    #[serde(default)]
    pub listen: Option<Vec<String>>,
    /// Peers to dial (default: every other node's `addr`).
    #[serde(default)]
    pub peers: Option<Vec<String>>,
    /// Address of the local API server (read by `src/api`), e.g. `127.0.0.1:7700`.
    #[serde(default)]
    pub api_addr: Option<String>,
    /// Write `status.json` into the data directory every second.
    #[serde(default = "default_true")]
    pub status_file: bool,
}

fn default_true() -> bool {
    true
}

// ---- parsing with file:line:col: key errors ----

fn toml_error(text: &str, origin: &str, err: &toml::de::Error) -> anyhow::Error {
    let span = err.span().unwrap_or(0..0);
    located(text, origin, span, err.message(), None)
}

/// `origin:line:col: key: message` for a span of `text`.
fn located(
    text: &str,
    origin: &str,
    span: Range<usize>,
    message: &str,
    key: Option<&str>,
) -> anyhow::Error {
    let (line, col) = radio::toml_location::line_column(text, span.start);
    let key = key.map_or_else(
        || radio::toml_location::error_key(text, span.start, message),
        str::to_owned,
    );
    bad_input(format!("{origin}:{line}:{col}: {key}: {message}"))
}

/// Byte offset of the `index`-th `[[node]]` header in `text` (for semantic errors).
fn node_offset(text: &str, index: usize) -> usize {
    let mut seen = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with("[[node]]") {
            if seen == index {
                return offset;
            }
            seen += 1;
        }
        offset += line.len();
    }
    0
}

/// Byte offset of the line defining the dotted `key`: its `[key]` / `[[key]]` header, else
/// the first `last_segment =` line, else its parent's header, else 0.
fn key_offset(text: &str, key: &str) -> usize {
    let find = |pred: &dyn Fn(&str) -> bool| {
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            if pred(line.trim()) {
                return Some(offset);
            }
            offset += line.len();
        }
        None
    };
    let header = |k: &str| {
        let (a, b) = (format!("[{k}]"), format!("[[{k}]]"));
        find(&|t: &str| t == a || t == b)
    };
    if let Some(off) = header(key) {
        return off;
    }
    let last = key.rsplit('.').next().unwrap_or(key);
    let assigned = find(&|t: &str| {
        t.strip_prefix(last)
            .is_some_and(|rest| rest.trim_start().starts_with('='))
    });
    if let Some(off) = assigned {
        return off;
    }
    key.rsplit_once('.')
        .and_then(|(parent, _)| header(parent))
        .unwrap_or(0)
}

impl TestbedConfig {
    /// Parses and checks a testbed; `origin` names it in errors, `base_dir` resolves its
    /// relative paths.
    ///
    /// # Errors
    /// [`crate::BadInput`] naming file, line and key: TOML syntax, unknown keys, wrong types,
    /// and the checks of [`TestbedConfig::validate`].
    pub fn parse(text: &str, origin: &str, base_dir: Option<&Path>) -> anyhow::Result<Self> {
        let mut config: Self = toml::from_str(text).map_err(|e| toml_error(text, origin, &e))?;
        config.base_dir = base_dir.map(Path::to_path_buf);
        config.validate(text, origin)?;
        Ok(config)
    }

    /// Reads a testbed file.
    ///
    /// # Errors
    /// As [`TestbedConfig::parse`], plus an unreadable file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad_input(format!("{}: {e}", path.display())))?;
        Self::parse(&text, &path.display().to_string(), path.parent())
    }

    /// The embedded default scenario.
    ///
    /// # Errors
    /// None in practice (a test parses it).
    pub fn embedded_default() -> anyhow::Result<Self> {
        Self::parse(DEFAULT_TESTBED, "embedded default scenario", None)
    }

    fn validate(&self, text: &str, origin: &str) -> anyhow::Result<()> {
        let at_key = |key: &str, message: String| {
            let off = key_offset(text, key);
            located(text, origin, off..off, &message, Some(key))
        };
        if self.nodes.is_empty() {
            return Err(at_key("node", "at least one [[node]] is needed".to_owned()));
        }
        if !(self.sensing.window_s.is_finite() && self.sensing.window_s > 0.0) {
            return Err(at_key(
                "sensing.window_s",
                format!(
                    "{} is not a positive number of seconds",
                    self.sensing.window_s
                ),
            ));
        }
        if !(self.sensing.grid_m.is_finite() && self.sensing.grid_m > 0.0) {
            return Err(at_key(
                "sensing.grid_m",
                format!("{} is not a positive number of metres", self.sensing.grid_m),
            ));
        }
        if self.chain.genesis_timestamp_ms > MAX_GENESIS_MS {
            // The node's clock runs from the genesis: one near u64::MAX never advances past
            // it (`run` would spin forever) and block timestamps would overflow.
            return Err(at_key(
                "chain.genesis_timestamp_ms",
                format!(
                    "{} ms is after the year 2100 ({MAX_GENESIS_MS} ms since the Unix epoch)",
                    self.chain.genesis_timestamp_ms
                ),
            ));
        }
        if !(0.0..=1.0).contains(&self.network.loss) {
            return Err(at_key(
                "network.loss",
                format!("{} is not a probability", self.network.loss),
            ));
        }
        let mut names = BTreeSet::new();
        let mut mnos = 0;
        for (i, node) in self.nodes.iter().enumerate() {
            let off = node_offset(text, i);
            let err = |key: &str, message: String| {
                located(
                    text,
                    origin,
                    off..off,
                    &message,
                    Some(&format!("node[{i}].{key}")),
                )
            };
            if node.name.trim().is_empty() {
                return Err(err("name", "empty name".to_owned()));
            }
            if !names.insert(node.name.clone()) {
                return Err(err("name", format!("duplicate node name `{}`", node.name)));
            }
            if !(node.hash_rate.is_finite() && node.hash_rate >= 0.0) {
                return Err(err(
                    "hash_rate",
                    format!("{} is not a hash rate >= 0", node.hash_rate),
                ));
            }
            if !(1..=256).contains(&node.mining_threads) {
                return Err(err(
                    "mining_threads",
                    format!("{} is not in 1..=256", node.mining_threads),
                ));
            }
            if node.roles.contains(&Role::Mno) {
                mnos += 1;
            }
            if node.roles.contains(&Role::Sensor) {
                if node.source == SourceSpec::None {
                    return Err(err(
                        "source",
                        "a sensor needs a source (synthetic, file, sigmf or soapy)".to_owned(),
                    ));
                }
                if node.source == SourceSpec::Synthetic && self.environment.is_none() {
                    return Err(err(
                        "source",
                        "a synthetic source needs the testbed's [environment]".to_owned(),
                    ));
                }
            }
            if !(node.bid.spread.is_finite() && node.bid.spread >= 0.0) {
                return Err(err(
                    "bid.spread",
                    format!("{} is not >= 0", node.bid.spread),
                ));
            }
            if node.wallet.seed.is_some() && node.wallet.key_file.is_some() {
                return Err(err(
                    "wallet",
                    "give either `seed` or `key_file`, not both".to_owned(),
                ));
            }
        }
        if mnos > 1 {
            return Err(at_key(
                "roles",
                "at most one node may be the MNO".to_owned(),
            ));
        }
        for p in &self.network.partitions {
            for name in p.groups.iter().flatten() {
                if !names.contains(name) {
                    return Err(at_key(
                        "network.partition",
                        format!("unknown node `{name}` in a partition group"),
                    ));
                }
            }
            if !(p.heal_s > p.at_s && p.at_s >= 0.0) {
                return Err(at_key(
                    "network.partition",
                    format!("needs 0 <= at_s < heal_s, got {} and {}", p.at_s, p.heal_s),
                ));
            }
        }
        if let Some(r) = &self.network.random_partitions
            && !(r.duration_s[0] > 0.0
                && r.duration_s[1] >= r.duration_s[0]
                && r.start_s[0] >= 0.0
                && r.start_s[1] >= r.start_s[0])
        {
            return Err(at_key(
                "network.random_partitions",
                "needs 0 < duration_s[0] <= duration_s[1] and 0 <= start_s[0] <= start_s[1]"
                    .to_owned(),
            ));
        }
        let channels = self
            .channels()
            .map_err(|e| at_key("sensing", format!("{e:#}")))?;
        for t in &self.truth {
            if !channels.iter().any(|c| c.name == t.channel) {
                return Err(at_key("truth", format!("unknown channel `{}`", t.channel)));
            }
        }
        for (i, node) in self.nodes.iter().enumerate() {
            for ch in &node.bid.channels {
                if !channels.iter().any(|c| &c.name == ch) {
                    let off = node_offset(text, i);
                    return Err(located(
                        text,
                        origin,
                        off..off,
                        &format!("unknown channel `{ch}`"),
                        Some(&format!("node[{i}].bid.channels")),
                    ));
                }
            }
        }
        self.chain_params()
            .map_err(|e| at_key("chain.params", format!("{e:#}")))?;
        if self.chain.fee < self.chain.params.min_fee {
            return Err(at_key(
                "chain.fee",
                format!(
                    "fee {} is below chain.params.min_fee {}: every transaction the nodes send \
                     would be refused",
                    self.chain.fee, self.chain.params.min_fee
                ),
            ));
        }
        Ok(())
    }

    /// The channels every node senses and the contracts know, in band-plan order.
    ///
    /// # Errors
    /// An unknown band plan, no channels at all.
    pub fn channels(&self) -> anyhow::Result<Vec<Channel>> {
        let s = &self.sensing;
        if !s.channels.is_empty() {
            return Ok(s.channels.clone());
        }
        if let Some(plan) = &s.band_plan {
            let local = self.base_dir.as_ref().map(|d| d.join(plan));
            let plan = match local.filter(|p| p.exists()) {
                Some(path) => radio::bandplan::BandPlan::load(path)?,
                None => radio::bandplan::resolve(plan)?,
            };
            let low = s.band_low_hz.unwrap_or(f64::NEG_INFINITY);
            let high = s.band_high_hz.unwrap_or(f64::INFINITY);
            let chosen = plan.channels_within(low, high);
            if chosen.is_empty() {
                return Err(bad_input(format!(
                    "band plan `{}` has no channel within [{low}, {high}] Hz",
                    plan.name
                )));
            }
            return Ok(chosen);
        }
        if let Some(env) = &self.environment
            && !env.primary_users.is_empty()
        {
            return Ok(env
                .primary_users
                .iter()
                .map(|pu| Channel {
                    name: pu.name.clone(),
                    center_hz: pu.center_hz,
                    bandwidth_hz: pu.bandwidth_hz.min(env.sample_rate_hz),
                })
                .collect());
        }
        Err(bad_input(
            "no channels: give sensing.channels, sensing.band_plan or environment primary users",
        ))
    }

    /// The chain parameters with the derived MNO and band plan.
    ///
    /// # Errors
    /// Invalid parameters ([`ChainParams::validate`]), unknown channels, wallet errors.
    pub fn chain_params(&self) -> anyhow::Result<ChainParams> {
        let mut params = self.chain.params.clone();
        params.contracts.channels = self
            .channels()?
            .iter()
            .map(|c| chain::contracts::ChannelSpec {
                centre_hz: hz(c.center_hz),
                bandwidth_hz: hz(c.bandwidth_hz),
            })
            .collect();
        if let Some(mno) = self.nodes.iter().find(|n| n.roles.contains(&Role::Mno)) {
            params.contracts.mno = self.address_of(mno)?;
        }
        params.validate()?;
        Ok(params)
    }

    /// The genesis: every node's account with its balance and trust.
    ///
    /// # Errors
    /// As [`TestbedConfig::chain_params`]; a node whose address cannot be derived.
    pub fn genesis(&self) -> anyhow::Result<chain::GenesisConfig> {
        let params = self.chain_params()?;
        let mut accounts = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            accounts.push(chain::GenesisAccount {
                address: self.address_of(node)?,
                balance: node.balance.unwrap_or(self.chain.balance),
                trust: node.trust.unwrap_or(self.chain.trust),
            });
        }
        let genesis = chain::GenesisConfig {
            timestamp_ms: self.chain.genesis_timestamp_ms,
            base_difficulty: self.chain.base_difficulty,
            params,
            accounts,
        };
        genesis.build()?;
        Ok(genesis)
    }

    /// The node named `name`.
    ///
    /// # Errors
    /// No such node.
    pub fn node(&self, name: &str) -> anyhow::Result<&NodeSpec> {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .ok_or_else(|| bad_input(format!("the testbed has no node `{name}`")))
    }

    /// A node's account address: given, derived from its seed, or read from its key file.
    ///
    /// # Errors
    /// A key file that cannot be read (and no `address` given).
    pub fn address_of(&self, node: &NodeSpec) -> anyhow::Result<Address> {
        if let Some(a) = node.wallet.address {
            return Ok(a);
        }
        if node.wallet.key_file.is_some() {
            let path = self.key_path(node).unwrap_or_default();
            if path.exists() {
                return Ok(crate::node::wallet::load_key_file(&path)?.address());
            }
            return Err(bad_input(format!(
                "node `{}`: its key file {} does not exist yet and no wallet.address is given \
                 (create it with `trustband keygen --out {}`)",
                node.name,
                path.display(),
                path.display()
            )));
        }
        Ok(self.seeded_key(node)?.address())
    }

    /// The key derived from a node's wallet seed (default: its name). Insecure by design: the
    /// simulation uses it; `trustband node` only with `--insecure-test-keys`
    /// ([`crate::node::runtime::KeyPolicy`]).
    ///
    /// # Errors
    /// Negligible (a seed hashing to an invalid scalar).
    pub fn seeded_key(&self, node: &NodeSpec) -> anyhow::Result<SecretKey> {
        let seed = node.wallet.seed.as_deref().unwrap_or(&node.name);
        Ok(crate::node::wallet::key_from_seed(seed)?)
    }

    /// The resolved path of a node's key file, if it has one.
    #[must_use]
    pub fn key_path(&self, node: &NodeSpec) -> Option<PathBuf> {
        node.wallet.key_file.as_ref().map(|p| self.resolve(p))
    }

    /// `path` against the testbed's directory (absolute paths unchanged).
    #[must_use]
    pub fn resolve(&self, path: &Path) -> PathBuf {
        match &self.base_dir {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path.to_path_buf(),
        }
    }

    /// The captures directory (see the module docs).
    #[must_use]
    pub fn captures_dir(&self) -> PathBuf {
        if let Some(dir) = std::env::var_os("TRUSTBAND_CAPTURES") {
            return PathBuf::from(dir);
        }
        if let Some(dir) = &self.captures_dir {
            return self.resolve(dir);
        }
        default_captures_dir()
    }

    /// A recording's path: absolute as given, relative against the captures directory.
    #[must_use]
    pub fn capture_path(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.captures_dir().join(path)
        }
    }

    /// Names of every node's account, for events and status.
    #[must_use]
    pub fn account_names(&self) -> Vec<(Address, String)> {
        self.nodes
            .iter()
            .filter_map(|n| self.address_of(n).ok().map(|a| (a, n.name.clone())))
            .collect()
    }
}

/// `<workspace>/../shared/iq-captures`.
#[must_use]
pub fn default_captures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/iq-captures")
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn hz(x: f64) -> u64 {
    // Channel frequencies are validated finite and positive by the band plan / detector.
    x.round().max(0.0) as u64
}

impl NodeFile {
    /// Reads a node file and the testbed it names.
    ///
    /// # Errors
    /// As [`TestbedConfig::load`]; a name the testbed does not have.
    pub fn load(path: &Path) -> anyhow::Result<(Self, TestbedConfig)> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad_input(format!("{}: {e}", path.display())))?;
        let origin = path.display().to_string();
        let mut file: Self = toml::from_str(&text).map_err(|e| toml_error(&text, &origin, &e))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        if file.testbed.is_relative() {
            file.testbed = dir.join(&file.testbed);
        }
        if file.data_dir.is_relative() {
            file.data_dir = dir.join(&file.data_dir);
        }
        let testbed = TestbedConfig::load(&file.testbed)?;
        if testbed.node(&file.name).is_err() {
            let off = key_offset(&text, "name");
            return Err(located(
                &text,
                &origin,
                off..off,
                &format!(
                    "the testbed {} has no node `{}`",
                    file.testbed.display(),
                    file.name
                ),
                Some("name"),
            ));
        }
        Ok((file, testbed))
    }

    /// Whether `text` is a node file (it has a top-level `testbed` key) rather than a testbed.
    #[must_use]
    pub fn is_node_file(text: &str) -> bool {
        text.lines().any(|l| {
            let t = l.trim_start();
            t.starts_with("testbed ") || t.starts_with("testbed=")
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn default_testbed_parses() {
        let t = TestbedConfig::embedded_default().unwrap();
        assert_eq!(t.nodes.len(), 6);
        assert_eq!(t.channels().unwrap().len(), 4);
        let g = t.genesis().unwrap();
        assert_eq!(g.accounts.len(), 6);
        assert_ne!(g.params.contracts.mno, Address::from_bytes([0; 20]));
    }

    #[test]
    fn errors_name_line_and_key() {
        let text = "name = \"x\"\n[[node]]\nname = \"a\"\nspeed = 3\n";
        let err = TestbedConfig::parse(text, "t.toml", None).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.starts_with("t.toml:4:"), "{msg}");
        assert!(msg.contains("node[0].speed"), "{msg}");

        let text =
            "name = \"x\"\n[[node]]\nname = \"a\"\n[[node]]\nname = \"a\"\nroles = [\"mo\"]\n";
        let msg = format!(
            "{:#}",
            TestbedConfig::parse(text, "t.toml", None).unwrap_err()
        );
        assert!(msg.starts_with("t.toml:4:"), "{msg}");
        assert!(
            msg.contains("node[1].name") && msg.contains("duplicate"),
            "{msg}"
        );

        let text = "name = \"x\"\n[[node]]\nname = \"a\"\nroles = [\"pilot\"]\n";
        let msg = format!(
            "{:#}",
            TestbedConfig::parse(text, "t.toml", None).unwrap_err()
        );
        assert!(msg.starts_with("t.toml:4:"), "{msg}");
        assert!(msg.contains("roles"), "{msg}");
    }
}
