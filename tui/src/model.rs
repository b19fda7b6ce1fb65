//! The dashboard's view model: owned, serialisable pictures of what a node knows.
//!
//! Data flow: a node (its local API, newline-delimited JSON over TCP) or `trustband run`
//! (in-process) builds a [`Snapshot`] from its radio, chain and contract state a few times a
//! second and sends it, plus faster incremental [`Update::Rows`] (waterfall rows) and
//! [`Update::Log`] lines; the [`crate::App`] keeps the latest snapshot, a bounded waterfall
//! history per node and a bounded log. Nothing here refers to the chain's or the radio's own
//! types, so either side can change without touching the dashboard; [`SpectrumFrame::from_linear`]
//! does the one conversion every feeder needs (a detector's linear Welch PSD to decimated dB).
//!
//! Conventions: times are milliseconds (`at_ms`, since the Unix epoch for live nodes, since the
//! scenario start for replays), frequencies Hz (RF), powers dB relative to full scale (dBFS),
//! trust in [0, 1], amounts in the chain's base units (`u128`, shown with
//! [`ChainView::coin_decimals`]).

use serde::{Deserialize, Serialize};

/// Upper bound on the bins kept per spectrum frame or waterfall row; wider inputs are
/// decimated (peak-preserving) on the way in, so a hostile or careless feeder cannot make the
/// dashboard hold megabytes per row.
pub const MAX_BINS: usize = 4096;

/// Bins a feeder should aim for: a terminal is at most a few hundred columns wide (×2 with
/// braille), so 512 bins lose nothing visible and keep a snapshot's JSON small.
pub const DEFAULT_BINS: usize = 512;

/// `u128` amounts as decimal strings in JSON: serde's internally tagged enums (and
/// JavaScript readers) cannot carry integers beyond 64 bits. Plain JSON numbers are accepted
/// on input too.
pub mod amount_text {
    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};
    use std::fmt;

    /// Writes the amount as a decimal string.
    ///
    /// # Errors
    /// Whatever the serializer reports.
    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    /// Reads a decimal string or a non-negative integer.
    ///
    /// # Errors
    /// A string that is not a decimal `u128`, a negative or fractional number.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        d.deserialize_any(AmountVisitor)
    }

    pub(super) struct AmountVisitor;

    impl Visitor<'_> for AmountVisitor {
        type Value = u128;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an amount in base units (decimal string or non-negative integer)")
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u128, E> {
            Ok(u128::from(v))
        }

        fn visit_u128<E: de::Error>(self, v: u128) -> Result<u128, E> {
            Ok(v)
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u128, E> {
            u128::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<u128, E> {
            v.parse()
                .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
        }
    }

    /// The same for `Option<u128>` (`null` for None).
    pub mod option {
        use serde::de::{self, Visitor};
        use serde::{Deserializer, Serializer};
        use std::fmt;

        /// Writes the amount as a decimal string, or `null`.
        ///
        /// # Errors
        /// Whatever the serializer reports.
        pub fn serialize<S: Serializer>(v: &Option<u128>, s: S) -> Result<S::Ok, S::Error> {
            match v {
                Some(v) => s.collect_str(v),
                None => s.serialize_none(),
            }
        }

        /// Reads `null`, a decimal string or a non-negative integer.
        ///
        /// # Errors
        /// As [`super::deserialize`].
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u128>, D::Error> {
            d.deserialize_option(OptionVisitor)
        }

        struct OptionVisitor;

        impl<'de> Visitor<'de> for OptionVisitor {
            type Value = Option<u128>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("null or an amount in base units")
            }

            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }

            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                super::deserialize(d).map(Some)
            }
        }
    }
}

/// What a node's local API (or `trustband run`) sends the dashboard, one per JSON line.
///
/// JSON shape: `{"type":"snapshot", ...Snapshot fields}`, `{"type":"rows","node":..,"rows":[..]}`,
/// `{"type":"log","lines":[..]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Update {
    /// Full state of the testbed as one node sees it. Replaces the previous snapshot.
    Snapshot(Box<Snapshot>),
    /// Waterfall rows of one node, oldest first; may arrive faster than snapshots.
    Rows {
        /// Node whose receiver produced the rows.
        node: String,
        /// Rows, oldest first.
        rows: Vec<WaterfallRow>,
    },
    /// New log lines, oldest first (deduplicated by [`LogLine::seq`]).
    Log {
        /// Lines, oldest first.
        lines: Vec<LogLine>,
    },
}

/// Everything the dashboard shows, as seen by one node at one instant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Snapshot {
    /// When the snapshot was taken (ms).
    pub at_ms: u64,
    /// Name of the node that produced it (the dashboard selects it first).
    pub node: String,
    /// All nodes the producer knows, in display order.
    pub nodes: Vec<NodeRow>,
    /// Channels of the band plan, in display order.
    pub channels: Vec<ChannelRow>,
    /// Chain summary.
    pub chain: ChainView,
    /// Trust per node.
    pub trust: Vec<TrustRow>,
    /// Trust a sensor needs to be selected by the CSC (drawn as a mark in the trust table).
    pub trust_threshold: Option<f32>,
    /// Auctions (SAC instances) still known: running ones and the latest settled per channel.
    pub auctions: Vec<AuctionRow>,
    /// Leases, active and recently ended.
    pub leases: Vec<LeaseRow>,
    /// Recent log lines, oldest first (deduplicated by [`LogLine::seq`]; may be empty when the
    /// producer sends [`Update::Log`] instead).
    pub log: Vec<LogLine>,
}

/// Roles a node plays (SPEC section 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Licence holder of the band plan's channels.
    Mno,
    /// Micro operator: bids for and leases idle channels.
    Mo,
    /// Senses and reports.
    Sensor,
    /// Mines under Proof-of-Trust.
    Miner,
    /// Opens the round's tasks (highest trust).
    TaskIssuer,
}

impl Role {
    /// Short label for tables.
    pub fn short(self) -> &'static str {
        match self {
            Role::Mno => "MNO",
            Role::Mo => "MO",
            Role::Sensor => "S",
            Role::Miner => "M",
            Role::TaskIssuer => "TI",
        }
    }
}

/// One node of the testbed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeRow {
    /// Node (account) name.
    pub name: String,
    /// Roles it plays.
    pub roles: Vec<Role>,
    /// Height of its best chain.
    pub height: u64,
    /// Connected peers.
    pub peers: u32,
    /// Current trust (None if unknown, e.g. an MO that never sensed).
    pub trust: Option<f32>,
    /// Balance, base units (a decimal string in JSON).
    #[serde(with = "amount_text")]
    pub balance: u128,
    /// False when the producer has lost contact with the node.
    pub online: bool,
    /// Its latest spectrum, when it senses and the producer has it.
    pub spectrum: Option<SpectrumFrame>,
}

/// One channel of the band plan as placed in a spectrum frame.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChannelEdge {
    /// Channel name.
    pub name: String,
    /// Lower edge (Hz).
    pub low_hz: f64,
    /// Upper edge (Hz).
    pub high_hz: f64,
    /// Channel energy E_c in this frame (dBFS).
    pub energy_db: Option<f32>,
    /// Noise floor σ² for the channel (dBFS).
    pub noise_db: Option<f32>,
    /// Decision threshold λ (dBFS).
    pub threshold_db: Option<f32>,
    /// The detector's decision in this frame.
    pub busy: Option<bool>,
}

/// One node's latest power spectral density with its detector's view of the channels.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SpectrumFrame {
    /// When the sensing window started (ms).
    pub at_ms: u64,
    /// Centre of the covered span (Hz).
    pub center_hz: f64,
    /// Covered span (Hz): bin k of `psd_db` is centred at
    /// `center_hz - span_hz/2 + (k + 0.5)·span_hz/len`.
    pub span_hz: f64,
    /// PSD per bin, lowest frequency first (dBFS per bin).
    pub psd_db: Vec<f32>,
    /// Tracked noise floor per bin (dBFS), same length as `psd_db`, or empty.
    pub noise_db: Vec<f32>,
    /// Channels inside the span.
    pub channels: Vec<ChannelEdge>,
}

impl SpectrumFrame {
    /// Builds a frame from a detector's linear Welch PSD (FFT-shifted, lowest frequency first):
    /// keeps the bins from the first to the last valid one (`valid[k]` false for edge-cropped
    /// and DC bins; an empty `valid` means all valid), decimates to at most `max_bins` bins
    /// (maximum of each group for the PSD so a narrow burst stays visible, mean for the noise
    /// floor; invalid bins inside the range are skipped) and converts to dB.
    ///
    /// `noise` may be empty or of the same length as `psd`; other lengths are ignored (no
    /// noise line). Non-positive or non-finite powers become −200 dB.
    pub fn from_linear(
        at_ms: u64,
        center_hz: f64,
        sample_rate_hz: f64,
        psd: &[f32],
        noise: &[f32],
        valid: &[bool],
        max_bins: usize,
    ) -> SpectrumFrame {
        let n = psd.len();
        let is_valid = |k: usize| valid.is_empty() || valid.get(k).copied().unwrap_or(false);
        let first = (0..n).find(|&k| is_valid(k));
        let last = (0..n).rev().find(|&k| is_valid(k));
        let (first, last) = match (first, last) {
            (Some(f), Some(l)) => (f, l),
            _ => (0, n.saturating_sub(1)),
        };
        let kept = if n == 0 { 0 } else { last - first + 1 };
        let step = if n == 0 {
            0.0
        } else {
            sample_rate_hz / n as f64
        };
        // Frequency of the lower edge of bin `first` and upper edge of bin `last`.
        let low = center_hz - sample_rate_hz / 2.0 + first as f64 * step;
        let high = low + kept as f64 * step;
        let out_bins = kept.min(max_bins.clamp(1, MAX_BINS));
        let noise_ok = noise.len() == n;
        let mut psd_db = Vec::with_capacity(out_bins);
        let mut noise_db = Vec::with_capacity(if noise_ok { out_bins } else { 0 });
        let mut last_psd = f32::NAN;
        let mut last_noise = f32::NAN;
        for j in 0..out_bins {
            let a = first + j * kept / out_bins;
            let b = (first + (j + 1) * kept / out_bins).max(a + 1);
            let mut peak = f32::NEG_INFINITY;
            let mut sum = 0.0f64;
            let mut count = 0usize;
            for k in a..b {
                if !is_valid(k) {
                    continue;
                }
                if let Some(&p) = psd.get(k) {
                    peak = peak.max(p);
                }
                if noise_ok && let Some(&q) = noise.get(k) {
                    sum += f64::from(q);
                    count += 1;
                }
            }
            // A group made only of invalid bins (the DC bin alone) repeats its neighbour.
            let p_db = if peak.is_finite() {
                to_db(peak)
            } else {
                last_psd
            };
            last_psd = p_db;
            psd_db.push(p_db);
            if noise_ok {
                let q_db = if count > 0 {
                    to_db((sum / count as f64) as f32)
                } else {
                    last_noise
                };
                last_noise = q_db;
                noise_db.push(q_db);
            }
        }
        // Leading groups that were all invalid take the first real value.
        backfill(&mut psd_db);
        backfill(&mut noise_db);
        SpectrumFrame {
            at_ms,
            center_hz: (low + high) / 2.0,
            span_hz: high - low,
            psd_db,
            noise_db,
            channels: Vec::new(),
        }
    }

    /// Lowest frequency covered (Hz).
    pub fn low_hz(&self) -> f64 {
        self.center_hz - self.span_hz / 2.0
    }

    /// Highest frequency covered (Hz).
    pub fn high_hz(&self) -> f64 {
        self.center_hz + self.span_hz / 2.0
    }

    /// The frame as a waterfall row.
    pub fn to_row(&self) -> WaterfallRow {
        WaterfallRow {
            at_ms: self.at_ms,
            center_hz: self.center_hz,
            span_hz: self.span_hz,
            psd_db: self.psd_db.clone(),
        }
    }
}

/// Power in dB, floored at −200 dB for zero, negative or non-finite input.
pub fn to_db(p: f32) -> f32 {
    if p.is_finite() && p > 0.0 {
        (10.0 * p.log10()).max(-200.0)
    } else {
        -200.0
    }
}

fn backfill(v: &mut [f32]) {
    let fill = v.iter().copied().find(|x| !x.is_nan()).unwrap_or(-200.0);
    for x in v.iter_mut() {
        if x.is_nan() {
            *x = fill;
        }
    }
}

/// One waterfall line: a PSD at one instant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WaterfallRow {
    /// Start of the sensing window (ms); rows of a node must arrive in increasing order
    /// (older or equal ones are dropped as duplicates).
    pub at_ms: u64,
    /// Centre of the covered span (Hz).
    pub center_hz: f64,
    /// Covered span (Hz).
    pub span_hz: f64,
    /// PSD per bin, lowest frequency first (dBFS).
    pub psd_db: Vec<f32>,
}

/// One node's reading of one channel.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeReading {
    /// Node name.
    pub node: String,
    /// Channel energy E_c (dBFS).
    pub energy_db: f32,
    /// Threshold λ (dBFS), when known.
    pub threshold_db: Option<f32>,
    /// Local decision.
    pub busy: bool,
}

/// One channel of the band plan with the round's decisions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChannelRow {
    /// Channel name.
    pub name: String,
    /// Centre (Hz).
    pub center_hz: f64,
    /// Bandwidth (Hz).
    pub bandwidth_hz: f64,
    /// Latest reading of each node that sensed it.
    pub per_node: Vec<NodeReading>,
    /// Fused decision recorded by the CSC (None before the round's deadline).
    pub fused: Option<bool>,
    /// Round (CSC task) the decisions belong to.
    pub round: Option<u64>,
}

/// Chain summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChainView {
    /// Height of the best chain.
    pub height: u64,
    /// Head hash, hex (shown shortened).
    pub head: String,
    /// Mean interval of the recent blocks (ms).
    pub mean_interval_ms: Option<f64>,
    /// Ideal interval τ* (ms).
    pub target_interval_ms: Option<f64>,
    /// Current base difficulty D_base.
    pub base_difficulty: u64,
    /// Latest blocks, newest first.
    pub recent_blocks: Vec<BlockRow>,
    /// Side branches seen since start.
    pub forks: u64,
    /// Reorganisations since start.
    pub reorgs: u64,
    /// Depth of the latest reorganisation.
    pub last_reorg_depth: Option<u64>,
    /// Height of the latest checkpoint block (trust-based compression).
    pub checkpoint_height: Option<u64>,
    /// Decimal places of one Sharecoin in base units (0 shows raw base units).
    pub coin_decimals: u8,
}

/// One block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlockRow {
    /// Height.
    pub height: u64,
    /// Header hash, hex (shown shortened).
    pub hash: String,
    /// Miner's name.
    pub miner: String,
    /// Miner's trust as recorded in the header.
    pub miner_trust: f32,
    /// The miner's difficulty D_i = D_base·g(T_i) (expected hashes).
    pub difficulty: u64,
    /// Transactions in the body.
    pub txs: u32,
    /// Header timestamp (ms).
    pub at_ms: u64,
    /// Checkpoint block (its body is the full state).
    pub checkpoint: bool,
}

/// Trust of one node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrustRow {
    /// Node name.
    pub node: String,
    /// Roles it plays.
    pub roles: Vec<Role>,
    /// Behaviour class when known (scenarios and simulations: "reliable", "on_off", "lazy",
    /// "infrequent"; None on a real testbed).
    pub class: Option<String>,
    /// Current trust.
    pub value: f32,
    /// Trust after each of the latest rounds, oldest first.
    pub history: Vec<f32>,
    /// Selected in the current round.
    pub selected: bool,
}

/// Phase of a spectrum auction (SAC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuctionPhase {
    /// Waiting for the CSC's fused decision.
    Pending,
    /// Blinded bids accepted.
    Commit,
    /// Bids being revealed.
    Reveal,
    /// Winner and price fixed.
    Settled,
    /// No valid bid at or above the reserve.
    Void,
    /// Not run: the channel was found busy.
    Skipped,
    /// Past expiry; state removed.
    Expired,
}

impl AuctionPhase {
    /// Label for tables.
    pub fn label(self) -> &'static str {
        match self {
            AuctionPhase::Pending => "pending",
            AuctionPhase::Commit => "commit",
            AuctionPhase::Reveal => "reveal",
            AuctionPhase::Settled => "settled",
            AuctionPhase::Void => "void",
            AuctionPhase::Skipped => "skipped",
            AuctionPhase::Expired => "expired",
        }
    }
}

/// One auction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuctionRow {
    /// Channel auctioned.
    pub channel: String,
    /// Round (CSC task) it belongs to.
    #[serde(default)]
    pub round: u64,
    /// Phase.
    pub phase: AuctionPhase,
    /// Height at which commits close.
    #[serde(default)]
    pub commit_end: u64,
    /// Height at which reveals close.
    #[serde(default)]
    pub reveal_end: u64,
    /// Blinded bids committed.
    #[serde(default)]
    pub commits: u32,
    /// Bids revealed.
    #[serde(default)]
    pub revealed: u32,
    /// Reserve price (base units; a decimal string in JSON).
    #[serde(default, with = "amount_text")]
    pub reserve: u128,
    /// Winner, once settled.
    #[serde(default)]
    pub winner: Option<String>,
    /// Clearing (second) price, once settled (base units; a decimal string in JSON).
    #[serde(default, with = "amount_text::option")]
    pub price: Option<u128>,
}

/// State of a lease, shaped like a CBRS SAS grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaseState {
    /// Granted, not yet transmitting.
    Granted,
    /// Authorised to transmit.
    Authorized,
    /// Suspended: the primary user is back.
    Suspended,
    /// Term over.
    Expired,
}

impl LeaseState {
    /// Label for tables.
    pub fn label(self) -> &'static str {
        match self {
            LeaseState::Granted => "granted",
            LeaseState::Authorized => "auth",
            LeaseState::Suspended => "susp",
            LeaseState::Expired => "expired",
        }
    }
}

/// One lease.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaseRow {
    /// Channel leased.
    pub channel: String,
    /// Micro operator holding it.
    pub holder: String,
    /// State.
    pub state: LeaseState,
    /// First height of the term.
    #[serde(default)]
    pub from_height: u64,
    /// Last height of the term.
    #[serde(default)]
    pub until_height: u64,
    /// Clearing price paid (base units; a decimal string in JSON).
    #[serde(default, with = "amount_text")]
    pub price: u128,
    /// The MO's service price p_M (SPEC 7), when reported.
    #[serde(default)]
    pub service_price: Option<f64>,
    /// The MO's mining share m (SPEC 7), when reported.
    #[serde(default)]
    pub mining_share: Option<f64>,
}

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Something failed.
    Error,
    /// Something looks wrong.
    Warn,
    /// Normal progress.
    Info,
    /// Detail.
    Debug,
}

impl Level {
    /// Four-letter label.
    pub fn label(self) -> &'static str {
        match self {
            Level::Error => "ERR ",
            Level::Warn => "WARN",
            Level::Info => "INFO",
            Level::Debug => "DBG ",
        }
    }
}

/// One log line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    /// Producer's sequence number, increasing; lines at or below the last one seen are
    /// duplicates and dropped.
    pub seq: u64,
    /// When (ms).
    pub at_ms: u64,
    /// Severity.
    pub level: Level,
    /// Text.
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_linear_keeps_peaks_and_crops_invalid_edges() {
        // 16 bins over 1.6 MHz around 100 MHz: bins 0, 1 and 15 cropped, bin 8 is DC.
        let mut psd = vec![1e-4f32; 16];
        psd[5] = 1e-2; // a narrow burst: must survive decimation
        psd[8] = 1.0; // DC spike: invalid, must be skipped
        let noise = vec![1e-4f32; 16];
        let mut valid = vec![true; 16];
        valid[0] = false;
        valid[1] = false;
        valid[15] = false;
        valid[8] = false;
        let f = SpectrumFrame::from_linear(7, 100e6, 1.6e6, &psd, &noise, &valid, 4);
        // Kept bins 2..=14: 13 bins of 100 kHz starting at 99.2 MHz + 200 kHz.
        assert!((f.low_hz() - 99.4e6).abs() < 1e-3, "{}", f.low_hz());
        assert!((f.high_hz() - 100.7e6).abs() < 1e-3, "{}", f.high_hz());
        assert_eq!(f.psd_db.len(), 4);
        assert_eq!(f.noise_db.len(), 4);
        // Groups of 13 bins in 4: [2..5), [5..8), [8..11), [11..15).
        assert!((f.psd_db[0] + 40.0).abs() < 1e-4);
        assert!(
            (f.psd_db[1] + 20.0).abs() < 1e-4,
            "burst kept: {:?}",
            f.psd_db
        );
        assert!(
            (f.psd_db[2] + 40.0).abs() < 1e-4,
            "DC skipped: {:?}",
            f.psd_db
        );
        assert!(f.noise_db.iter().all(|&x| (x + 40.0).abs() < 1e-4));
        assert_eq!(f.at_ms, 7);
    }

    #[test]
    fn from_linear_handles_degenerate_input() {
        let f = SpectrumFrame::from_linear(0, 1e6, 1e6, &[], &[], &[], 512);
        assert!(f.psd_db.is_empty());
        // Wrong-length noise is ignored; non-positive powers floor at -200 dB.
        let f = SpectrumFrame::from_linear(0, 1e6, 1e6, &[0.0, -1.0, f32::NAN], &[1.0], &[], 0);
        assert_eq!(f.psd_db.len(), 1);
        assert!(f.noise_db.is_empty());
        assert_eq!(f.psd_db[0], -200.0);
        // All bins invalid: falls back to the whole span.
        let f = SpectrumFrame::from_linear(0, 1e6, 1e6, &[1.0, 1.0], &[], &[false, false], 8);
        assert_eq!(f.psd_db, vec![-200.0, -200.0]);
    }

    #[test]
    fn amounts_travel_as_decimal_strings_and_accept_numbers() {
        let row = NodeRow {
            balance: u128::MAX,
            ..NodeRow::default()
        };
        let s = serde_json::to_string(&row).unwrap();
        assert!(
            s.contains(r#""balance":"340282366920938463463374607431768211455""#),
            "{s}"
        );
        let back: NodeRow = serde_json::from_str(&s).unwrap();
        assert_eq!(back.balance, u128::MAX);
        let n: NodeRow = serde_json::from_str(r#"{"balance":12}"#).unwrap();
        assert_eq!(n.balance, 12);
        assert!(serde_json::from_str::<NodeRow>(r#"{"balance":-1}"#).is_err());
        assert!(serde_json::from_str::<NodeRow>(r#"{"balance":"12x"}"#).is_err());
        assert!(serde_json::from_str::<NodeRow>(r#"{"balance":1.5}"#).is_err());
        let a: AuctionRow =
            serde_json::from_str(r#"{"channel":"c","phase":"settled","price":null}"#).unwrap();
        assert_eq!(a.price, None);
        let a: AuctionRow =
            serde_json::from_str(r#"{"channel":"c","phase":"void","price":"7"}"#).unwrap();
        assert_eq!((a.price, a.phase), (Some(7), AuctionPhase::Void));
    }

    #[test]
    fn update_json_round_trip_and_shape() {
        let u = Update::Rows {
            node: "n1".into(),
            rows: vec![WaterfallRow {
                at_ms: 5,
                center_hz: 1e6,
                span_hz: 2e5,
                psd_db: vec![-50.0, -40.5],
            }],
        };
        let s = serde_json::to_string(&u).unwrap();
        assert!(s.starts_with(r#"{"type":"rows","node":"n1""#), "{s}");
        let back: Update = serde_json::from_str(&s).unwrap();
        assert_eq!(back, u);

        let snap = Update::Snapshot(Box::new(Snapshot {
            at_ms: 1,
            node: "n2".into(),
            leases: vec![LeaseRow {
                channel: "ch-a".into(),
                holder: "mo-a".into(),
                state: LeaseState::Authorized,
                from_height: 10,
                until_height: 40,
                price: u128::MAX,
                service_price: Some(0.31),
                mining_share: None,
            }],
            ..Snapshot::default()
        }));
        let s = serde_json::to_string(&snap).unwrap();
        assert!(s.starts_with(r#"{"type":"snapshot","at_ms":1"#), "{s}");
        assert_eq!(serde_json::from_str::<Update>(&s).unwrap(), snap);
        // Missing fields take their defaults: a minimal producer is fine.
        let min: Update = serde_json::from_str(r#"{"type":"snapshot","node":"x"}"#).unwrap();
        let Update::Snapshot(min) = min else {
            panic!("not a snapshot")
        };
        assert_eq!(min.node, "x");
        assert!(min.nodes.is_empty());
    }
}
