//! Contracts: cooperative sensing (CSC), spectrum auction (SAC) and leases, as deterministic
//! state machines applied with every block (SPEC 1 and 6; paper A, VI).
//!
//! Purpose: turn the lab's ring-signed sensing reports into a fused channel decision on chain,
//! score and pay the sensors, auction an idle channel at the second price and lease it to the
//! winning micro operator, all without a trusted fusion centre. Not an EVM: each contract is
//! Rust code every node runs inside [`crate::transition::apply_block`]; integer and fixed point
//! only, no I/O, clock or global randomness (`clippy::float_arithmetic` is denied).
//!
//! # Data flow
//!
//! - Transactions: [`crate::tx::TxPayload::Contract`] carries a [`Call`] (canonical bytes) to a
//!   contract instance id; [`crate::tx::TxPayload::Upload`] is the anonymous report upload.
//!   `apply_block` charges the envelope (fee, nonce), then [`execute_call`] /
//!   [`execute_upload`] run the contract.
//! - End of block: [`end_of_block`] drives every height-triggered phase change (selection at
//!   the registration close, fusion at the deadline, settlement after the reveal window,
//!   auction settlement and expiry, lease expiry and heartbeat lapses), see [`round`].
//! - State: one contract slot per instance ([`crate::State::contract_state`]), so every
//!   instance is inside the state root: the registry ([`REGISTRY`]), one per task
//!   ([`task_contract`]), per auction ([`auction_contract`]) and per leased channel
//!   ([`lease_contract`]). Ids are `kind byte || 23 zero bytes || be64 number`.
//! - Output: typed [`events::ContractEvent`]s in the block's receipt.
//!
//! Modules: [`csc`] (registry, tasks, reports, selection, fusion, settlement), [`sac`]
//! (sealed-bid second-price auction), [`lease`] (CBRS-shaped grants), [`round`] (the timeline
//! in block heights), [`events`].
//!
//! # Design decisions
//!
//! - **Anonymous uploads.** A report must not reveal its sender, so it cannot ride in an
//!   account-signed envelope. [`crate::tx::TxPayload::Upload`] is authorised by the LSAG ring
//!   signature over the report instead: its envelope is fixed (the unspendable
//!   [`crate::tx::anonymous_sender`] key, nonce 0, fee 0, a constant signature; any other
//!   envelope does not decode), the ring signature is checked with the other signatures (in
//!   parallel, statelessly: the upload carries its ring), and the task checks that the ring is
//!   its ring of selected sensors and that the key image is new. No nonce and no fee: the spam
//!   bound is one accepted upload per key image per task, and only selected sensors can sign.
//!   An upload that fails any check is invalid (a block carrying it is invalid) since there is
//!   no fee to charge for a failure. Network-level floods of invalid uploads are the relay's
//!   concern (verification costs about 0.125 ms per ring member).
//! - **Failed calls.** Envelope failures (signature, unknown sender, nonce, fee above the
//!   balance) make a contract call invalid, like a bad transfer: a block carrying it is
//!   invalid. A call whose envelope is sound but which the contract rejects (late, duplicate,
//!   out of phase, under-funded deposit, not a member, mismatched commitment, wrong issuer,
//!   malformed call data, ...) is *included as failed*: the fee is paid and the nonce
//!   advances, nothing else changes (SPEC 6), and the receipt lists the typed error.
//!   Transfers keep their all-or-nothing validity.
//! - **Selection with buy-in.** At the registration close, under
//!   [`fusion::SelectionScheme::Trust`], candidates with trust >= threshold are taken first
//!   by trust (descending; ties by smaller address); remaining places up to K go to sensors
//!   below the threshold that bought in, by trust (descending), then by registration order.
//!   Buy-in is a paid ticket into the leftover places, not trust: with T_0 = 0.5 and threshold
//!   0.5 a newcomer's first right report *lowers* its trust to 0.259 (eq. 1 needs about three
//!   right results to pass 0.5), so without buy-in such sensors would starve. Random and
//!   register-time selection take no buy-ins. Fewer than two selected sensors cannot form a
//!   ring (a ring of one names its signer): the task then takes no reports, refunds everyone
//!   and fuses to busy.
//! - **Location privacy.** A report carries a coarse grid cell (the sensor coarsens its
//!   position first) so fusion could cluster by area (paper A, V-D), but nothing links it to an
//!   account until the reveal window, which opens only after fusion; the `Revealed` event is the
//!   first to name account and cell together.
//! - **Reveal linkage.** A reveal shows the caller knows the salt of a commitment to *its own*
//!   address on an unrevealed report, and only selected sensors may reveal, once each. It also
//!   carries a Chaum-Pedersen DLEQ proof ([`crate::crypto::dleq`]) that the caller's account
//!   key (its ring member) and the report's key image share one secret, bound to the task and
//!   the caller: without it two selected colluders could commit to each other's address and
//!   swap their outcomes. If several unrevealed reports carry the commitment (a sensor may copy
//!   another's commitment to block its reveal), the reveal opens the one its proof matches.
//! - **Fusion without identities.** Reports are anonymous at fusion, so trust-weighted
//!   majority is refused by [`ContractParams::validate`]. No reports: busy (protect the
//!   licensee), with [`events::FuseReason`] saying so.
//! - **Settlement.** Selected sensors whose revealed report agreed with the fused decision:
//!   `participate(right)`, deposit and buy-in refunded, an equal share of the round's reward
//!   (minted) and, under [`SlashDestination::RewardPool`], of the slashed deposits. Selected
//!   sensors that disagreed, stayed silent or never revealed: `participate(wrong)`, deposit and
//!   buy-in slashed. Slashes go to the consistent sensors (default) or to the MNO; integer
//!   division dust and slashes of a round nobody got right go to the MNO; the minted reward is
//!   minted only for the shares paid. Trust skips ([`SkipScope`]): by default every account
//!   that did not participate in the task takes `skip_round` (paper A's inactivity decay; cost
//!   O(accounts) per settlement, the same order as the state root every block). With several
//!   channels each task is a round, so a sensor active on one channel only decays on the
//!   others: choose [`SkipScope::Registered`] (only unselected registrants skip) there.
//! - **Money.** Deposits and bid deposits are held by the contract instances; balances plus
//!   [`locked_funds`] change only by the minted block and sensing rewards ([`supply`]).
//! - **Task issuer.** [`task_issuer`]: highest trust in the parent state, smallest address on
//!   a tie. One task per channel until its fusion; rounds are numbered per channel.
//! - **Random selection seed.** `hash(trustband/v1/contract, ["select", prev_hash, task])`:
//!   the parent block's miner could grind it; acceptable for a lab chain.
#![deny(clippy::float_arithmetic)]

pub mod csc;
pub mod events;
pub mod lease;
pub mod round;
pub mod sac;

use fusion::{FusionRule, PaperTrust, SelectionScheme, TrustParams};
use serde::{Deserialize, Serialize};

use crate::codec::{Decode, Encode, Put, Reader};
use crate::crypto::dleq::DLEQ_PROOF_LEN;
use crate::crypto::{Address, BidSecret, BlindedBid, DleqProof, PublicKey, Salt};
use crate::digest::Hash256;
use crate::error::Error;
use crate::params::ChainParams;
use crate::state::State;
use crate::tx::{ContractCall, ContractId};
use csc::{AnonymousUpload, CscParams};
use events::{ContractEvent, EventOrigin, EventRecord};
use lease::LeaseParams;
use sac::SacParams;

pub use csc::{GridCell, Registry, SensingReport, Task};
pub use sac::{Auction, BidOpening};

/// Most channels in a band plan.
pub const MAX_CHANNELS: u32 = 1024;

/// Kinds of contract instance, the first byte of their id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContractKind {
    /// The one registry: channels, task counter; takes `Open`.
    Registry = 1,
    /// A CSC task.
    Task = 2,
    /// A SAC auction (numbered by its CSC task).
    Auction = 3,
    /// A channel's leases (numbered by channel).
    Lease = 4,
}

/// The id of instance `n` of `kind`: `kind || 23 zero bytes || be64 n`.
#[must_use]
pub fn contract_id(kind: ContractKind, n: u64) -> ContractId {
    let mut bytes = [0u8; 32];
    bytes[0] = kind as u8;
    bytes[24..].copy_from_slice(&n.to_be_bytes());
    Hash256(bytes)
}

/// The kind and number of a contract id, if it has the shape [`contract_id`] makes.
#[must_use]
pub fn parse_contract_id(id: &ContractId) -> Option<(ContractKind, u64)> {
    let (head, tail) = id.0.split_at(24);
    let (kind, zeros) = head.split_first()?;
    if zeros.iter().any(|&b| b != 0) {
        return None;
    }
    let kind = match kind {
        1 => ContractKind::Registry,
        2 => ContractKind::Task,
        3 => ContractKind::Auction,
        4 => ContractKind::Lease,
        _ => return None,
    };
    let n = u64::from_be_bytes(tail.try_into().ok()?);
    (kind != ContractKind::Registry || n == 0).then_some((kind, n))
}

/// The registry's id (receives [`Call::Open`]).
pub const REGISTRY: ContractId = Hash256([
    1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
]);

/// The id of CSC task `task`.
#[must_use]
pub fn task_contract(task: u64) -> ContractId {
    contract_id(ContractKind::Task, task)
}

/// The id of the auction of task `task`.
#[must_use]
pub fn auction_contract(task: u64) -> ContractId {
    contract_id(ContractKind::Auction, task)
}

/// The id of channel `channel`'s lease record.
#[must_use]
pub fn lease_contract(channel: u32) -> ContractId {
    contract_id(ContractKind::Lease, u64::from(channel))
}

/// One channel of the band plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSpec {
    /// Centre frequency, Hz.
    pub centre_hz: u64,
    /// Bandwidth W, Hz.
    pub bandwidth_hz: u64,
}

/// Which non-participants take a `skip_round` at a task's settlement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipScope {
    /// Every account that did not participate (paper A's decay; O(accounts) per settlement).
    #[default]
    AllAccounts,
    /// Only accounts that registered for the task and were not selected.
    Registered,
}

/// Where slashed deposits go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlashDestination {
    /// Shared equally among the task's consistent sensors (dust, or all of it when nobody was
    /// consistent, to the MNO).
    #[default]
    RewardPool,
    /// To the MNO (the licensee).
    Mno,
}

/// The contracts' consensus parameters, part of [`ChainParams`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContractParams {
    /// The licence holder: receives auction revenue and forfeits (and slashes under
    /// [`SlashDestination::Mno`]). Default: the zero address (set it).
    pub mno: Address,
    /// The band plan; tasks name channels by index. Empty: no tasks can be opened.
    pub channels: Vec<ChannelSpec>,
    /// The trust model's parameters (SPEC 5).
    pub trust: TrustParams,
    /// Who takes a non-participating round at settlement.
    pub skip_scope: SkipScope,
    /// Cooperative sensing.
    pub csc: CscParams,
    /// Spectrum auctions.
    pub sac: SacParams,
    /// Leases.
    pub lease: LeaseParams,
}

impl Default for ContractParams {
    fn default() -> Self {
        Self {
            mno: Address::from_bytes([0; 20]),
            channels: Vec::new(),
            trust: TrustParams::default(),
            skip_scope: SkipScope::default(),
            csc: CscParams::default(),
            sac: SacParams::default(),
            lease: LeaseParams::default(),
        }
    }
}

fn bad_config(field: &'static str, reason: impl Into<String>) -> Error {
    Error::InvalidConfig {
        field,
        reason: reason.into(),
    }
}

impl ContractParams {
    /// Checks every parameter's domain.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] naming the first bad field (windows out of order, K outside
    /// 2..=256, a trust-weighted fusion rule, bad trust parameters, an empty or oversized
    /// channel, economics parameters out of range, ...).
    pub fn validate(&self) -> Result<(), Error> {
        let n = u32::try_from(self.channels.len()).unwrap_or(u32::MAX);
        if n > MAX_CHANNELS {
            return Err(bad_config("contracts.channels", "at most 1024 channels"));
        }
        for c in &self.channels {
            if c.bandwidth_hz == 0 {
                return Err(bad_config(
                    "contracts.channels",
                    "bandwidth must be positive",
                ));
            }
        }
        self.trust
            .validate()
            .map_err(|e| bad_config("contracts.trust", e.to_string()))?;
        self.csc.validate()?;
        self.sac.validate()?;
        self.lease.validate(&self.channels)?;
        Ok(())
    }

    /// The trust model built from [`ContractParams::trust`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] if the trust parameters are invalid.
    pub fn trust_model(&self) -> Result<PaperTrust, Error> {
        PaperTrust::new(self.trust.clone())
            .map_err(|e| bad_config("contracts.trust", e.to_string()))
    }

    /// Number of channels as `u32`.
    #[must_use]
    pub fn channel_count(&self) -> u32 {
        u32::try_from(self.channels.len()).unwrap_or(u32::MAX)
    }
}

// ---- canonical encoding helpers shared by the contract modules ----

pub(crate) fn put_bool(out: &mut Vec<u8>, v: bool) {
    out.put_u8(u8::from(v));
}

pub(crate) fn get_bool(r: &mut Reader<'_>, field: &'static str) -> Result<bool, Error> {
    match r.u8(field)? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(Error::InvalidEncoding {
            field,
            reason: "boolean byte must be 0 or 1",
        }),
    }
}

pub(crate) fn put_i32(out: &mut Vec<u8>, v: i32) {
    out.put_raw(&v.to_be_bytes());
}

pub(crate) fn get_i32(r: &mut Reader<'_>, field: &'static str) -> Result<i32, Error> {
    r.array::<4>(field).map(i32::from_be_bytes)
}

pub(crate) fn put_opt_u64(out: &mut Vec<u8>, v: Option<u64>) {
    match v {
        None => out.put_u8(0),
        Some(x) => {
            out.put_u8(1);
            out.put_u64(x);
        }
    }
}

pub(crate) fn get_opt_u64(r: &mut Reader<'_>, field: &'static str) -> Result<Option<u64>, Error> {
    Ok(if get_bool(r, field)? {
        Some(r.u64(field)?)
    } else {
        None
    })
}

pub(crate) fn put_opt_address(out: &mut Vec<u8>, v: Option<&Address>) {
    match v {
        None => out.put_u8(0),
        Some(a) => {
            out.put_u8(1);
            out.put_raw(a.as_bytes());
        }
    }
}

pub(crate) fn get_opt_address(
    r: &mut Reader<'_>,
    field: &'static str,
) -> Result<Option<Address>, Error> {
    Ok(if get_bool(r, field)? {
        Some(r.address(field)?)
    } else {
        None
    })
}

fn put_fusion_rule(out: &mut Vec<u8>, rule: &FusionRule) {
    let tie = |t: fusion::TieBreak| u8::from(t == fusion::TieBreak::Idle);
    match *rule {
        FusionRule::Majority { tie: t } => {
            out.put_u8(0);
            out.put_u8(tie(t));
        }
        FusionRule::KOutOfN { k } => {
            out.put_u8(1);
            out.put_u32(k);
        }
        FusionRule::Or => out.put_u8(2),
        FusionRule::And => out.put_u8(3),
        FusionRule::TrustWeightedMajority { tie: t } => {
            out.put_u8(4);
            out.put_u8(tie(t));
        }
        FusionRule::SoftCombining { threshold_mdb } => {
            out.put_u8(5);
            put_i32(out, threshold_mdb);
        }
    }
}

fn get_fusion_rule(r: &mut Reader<'_>) -> Result<FusionRule, Error> {
    let tie = |r: &mut Reader<'_>| -> Result<fusion::TieBreak, Error> {
        Ok(if get_bool(r, "params.csc.fusion.tie")? {
            fusion::TieBreak::Idle
        } else {
            fusion::TieBreak::Busy
        })
    };
    Ok(match r.u8("params.csc.fusion")? {
        0 => FusionRule::Majority { tie: tie(r)? },
        1 => FusionRule::KOutOfN {
            k: r.u32("params.csc.fusion.k")?,
        },
        2 => FusionRule::Or,
        3 => FusionRule::And,
        4 => FusionRule::TrustWeightedMajority { tie: tie(r)? },
        5 => FusionRule::SoftCombining {
            threshold_mdb: get_i32(r, "params.csc.fusion.threshold_mdb")?,
        },
        tag => {
            return Err(Error::UnknownTag {
                field: "params.csc.fusion",
                tag,
            });
        }
    })
}

fn put_selection(out: &mut Vec<u8>, s: &SelectionScheme) {
    match *s {
        SelectionScheme::Trust { threshold } => {
            out.put_u8(0);
            out.put_i64(threshold.raw());
        }
        SelectionScheme::Random => out.put_u8(1),
        SelectionScheme::RegisterTime => out.put_u8(2),
    }
}

fn get_selection(r: &mut Reader<'_>) -> Result<SelectionScheme, Error> {
    Ok(match r.u8("params.csc.selection")? {
        0 => SelectionScheme::Trust {
            threshold: r.fx("params.csc.selection.threshold")?,
        },
        1 => SelectionScheme::Random,
        2 => SelectionScheme::RegisterTime,
        tag => {
            return Err(Error::UnknownTag {
                field: "params.csc.selection",
                tag,
            });
        }
    })
}

fn put_trust_params(out: &mut Vec<u8>, t: &TrustParams) {
    out.put_i64(t.alpha.raw());
    out.put_i64(t.beta.raw());
    out.put_i64(t.rho.raw());
    out.put_u8(t.window);
    out.put_i64(t.initial.raw());
    out.put_len(t.attenuation.len());
    for p in &t.attenuation {
        out.put_u32(p.idle);
        out.put_i64(p.factor.raw());
    }
}

fn get_trust_params(r: &mut Reader<'_>) -> Result<TrustParams, Error> {
    let alpha = r.fx("params.trust.alpha")?;
    let beta = r.fx("params.trust.beta")?;
    let rho = r.fx("params.trust.rho")?;
    let window = r.u8("params.trust.window")?;
    let initial = r.fx("params.trust.initial")?;
    let n = r.len("params.trust.attenuation", 64, 12)?;
    let mut attenuation = Vec::with_capacity(n);
    for _ in 0..n {
        attenuation.push(fusion::AttenuationPoint {
            idle: r.u32("params.trust.attenuation.idle")?,
            factor: r.fx("params.trust.attenuation.factor")?,
        });
    }
    Ok(TrustParams {
        alpha,
        beta,
        rho,
        window,
        initial,
        attenuation,
    })
}

impl Encode for ContractParams {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.put_raw(self.mno.as_bytes());
        out.put_len(self.channels.len());
        for c in &self.channels {
            out.put_u64(c.centre_hz);
            out.put_u64(c.bandwidth_hz);
        }
        put_trust_params(out, &self.trust);
        out.put_u8(match self.skip_scope {
            SkipScope::AllAccounts => 0,
            SkipScope::Registered => 1,
        });
        let c = &self.csc;
        out.put_u64(c.registration_close);
        out.put_u64(c.deadline);
        out.put_u64(c.reveal_end);
        out.put_u64(c.retain);
        out.put_u128(c.deposit);
        out.put_u32(c.k);
        put_selection(out, &c.selection);
        out.put_u128(c.buy_in);
        put_fusion_rule(out, &c.fusion);
        out.put_u128(c.reward_per_round);
        out.put_u8(match c.slash_to {
            SlashDestination::RewardPool => 0,
            SlashDestination::Mno => 1,
        });
        out.put_u32(c.max_registrations);
        let s = &self.sac;
        out.put_u64(s.commit_len);
        out.put_u64(s.reveal_len);
        out.put_u64(s.expiry);
        out.put_u32(s.max_bidders);
        out.put_u32(s.max_commits);
        out.put_u128(s.min_deposit);
        out.put_u128(s.reserve);
        let l = &self.lease;
        out.put_u64(l.term);
        out.put_u64(l.renew_window);
        out.put_u64(l.heartbeat_interval);
        out.put_u64(l.bandwidth_unit_hz);
        out.put_u128(l.price_unit);
        out.put_i64(l.p_w.raw());
        out.put_i64(l.gamma.raw());
    }
}

impl Decode for ContractParams {
    const NAME: &'static str = "contract_params";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, Error> {
        let mno = r.address("params.mno")?;
        let n = r.len("params.channels", MAX_CHANNELS, 16)?;
        let mut channels = Vec::with_capacity(n);
        for _ in 0..n {
            channels.push(ChannelSpec {
                centre_hz: r.u64("params.channels.centre_hz")?,
                bandwidth_hz: r.u64("params.channels.bandwidth_hz")?,
            });
        }
        let trust = get_trust_params(r)?;
        let skip_scope = match r.u8("params.skip_scope")? {
            0 => SkipScope::AllAccounts,
            1 => SkipScope::Registered,
            tag => {
                return Err(Error::UnknownTag {
                    field: "params.skip_scope",
                    tag,
                });
            }
        };
        let csc = CscParams {
            registration_close: r.u64("params.csc.registration_close")?,
            deadline: r.u64("params.csc.deadline")?,
            reveal_end: r.u64("params.csc.reveal_end")?,
            retain: r.u64("params.csc.retain")?,
            deposit: r.u128("params.csc.deposit")?,
            k: r.u32("params.csc.k")?,
            selection: get_selection(r)?,
            buy_in: r.u128("params.csc.buy_in")?,
            fusion: get_fusion_rule(r)?,
            reward_per_round: r.u128("params.csc.reward_per_round")?,
            slash_to: match r.u8("params.csc.slash_to")? {
                0 => SlashDestination::RewardPool,
                1 => SlashDestination::Mno,
                tag => {
                    return Err(Error::UnknownTag {
                        field: "params.csc.slash_to",
                        tag,
                    });
                }
            },
            max_registrations: r.u32("params.csc.max_registrations")?,
        };
        let sac = SacParams {
            commit_len: r.u64("params.sac.commit_len")?,
            reveal_len: r.u64("params.sac.reveal_len")?,
            expiry: r.u64("params.sac.expiry")?,
            max_bidders: r.u32("params.sac.max_bidders")?,
            max_commits: r.u32("params.sac.max_commits")?,
            min_deposit: r.u128("params.sac.min_deposit")?,
            reserve: r.u128("params.sac.reserve")?,
        };
        let lease = LeaseParams {
            term: r.u64("params.lease.term")?,
            renew_window: r.u64("params.lease.renew_window")?,
            heartbeat_interval: r.u64("params.lease.heartbeat_interval")?,
            bandwidth_unit_hz: r.u64("params.lease.bandwidth_unit_hz")?,
            price_unit: r.u128("params.lease.price_unit")?,
            p_w: r.fx("params.lease.p_w")?,
            gamma: r.fx("params.lease.gamma")?,
        };
        Ok(Self {
            mno,
            channels,
            trust,
            skip_scope,
            csc,
            sac,
            lease,
        })
    }
}

// ---- calls ----

/// A contract call, carried as [`ContractCall::data`] (canonical bytes, see [`Call::encode`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// To [`REGISTRY`], by the task issuer: open a sensing task on `channel` (tag 0).
    Open {
        /// Channel index.
        channel: u32,
    },
    /// To a task: register, locking the deposit (tag 1).
    Register,
    /// To a task: lock the buy-in (tag 2).
    BuyIn,
    /// To a task, after fusion: open the identity commitment of one's report (tag 3).
    Reveal {
        /// The salt of the report's [`crate::crypto::IdentityCommitment`].
        salt: Salt,
        /// Proof that the caller's account key and the report's key image share their secret,
        /// bound to the task and the caller ([`csc::prove_reveal`]).
        proof: DleqProof,
    },
    /// To an auction: commit a blinded bid with its deposit (tag 4).
    Commit {
        /// `hash(trustband/v1/bid, [value, fake, secret])`.
        blinded: BlindedBid,
        /// Deposit locked with it (a real bid is valid only if its value is at most this).
        deposit: u128,
    },
    /// To an auction: open some of one's commits (tag 5).
    RevealBids {
        /// One opening per commit revealed.
        openings: Vec<BidOpening>,
    },
    /// To a lease: the holder's heartbeat (tag 6).
    Heartbeat,
}

/// Most openings in one [`Call::RevealBids`].
pub const MAX_OPENINGS: u32 = 256;

impl Call {
    /// The canonical call data:
    /// `tag u8 || fields` (Open: channel u32; Reveal: salt 32 || DLEQ proof 64 (c || s);
    /// Commit: blinded 32 || deposit u128; RevealBids: u32 n || n × (value u128 || fake u8 ||
    /// secret 32)).
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Call::Open { channel } => {
                out.put_u8(0);
                out.put_u32(*channel);
            }
            Call::Register => out.put_u8(1),
            Call::BuyIn => out.put_u8(2),
            Call::Reveal { salt, proof } => {
                out.put_u8(3);
                out.put_raw(salt.as_bytes());
                out.put_raw(&proof.to_bytes());
            }
            Call::Commit { blinded, deposit } => {
                out.put_u8(4);
                out.put_raw(blinded.as_bytes());
                out.put_u128(*deposit);
            }
            Call::RevealBids { openings } => {
                out.put_u8(5);
                out.put_len(openings.len());
                for o in openings {
                    out.put_u128(o.value);
                    put_bool(&mut out, o.fake);
                    out.put_raw(o.secret.as_bytes());
                }
            }
            Call::Heartbeat => out.put_u8(6),
        }
        out
    }

    /// Decodes call data (any bytes: a typed error, never a panic).
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`], [`Error::UnknownTag`], [`Error::LengthOverCap`],
    /// [`Error::InvalidEncoding`], [`Error::TrailingBytes`]; [`Error::NonCanonicalScalar`]
    /// for a reveal's malformed proof.
    pub fn decode(data: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(data);
        let call = match r.u8("call")? {
            0 => Call::Open {
                channel: r.u32("call.open.channel")?,
            },
            1 => Call::Register,
            2 => Call::BuyIn,
            3 => Call::Reveal {
                salt: Salt::from_bytes(r.array("call.reveal.salt")?),
                proof: DleqProof::from_bytes(&r.array::<DLEQ_PROOF_LEN>("call.reveal.proof")?)?,
            },
            4 => Call::Commit {
                blinded: BlindedBid::from_bytes(r.array("call.commit.blinded")?),
                deposit: r.u128("call.commit.deposit")?,
            },
            5 => {
                let n = r.len("call.reveal_bids", MAX_OPENINGS, 16 + 1 + 32)?;
                let mut openings = Vec::with_capacity(n);
                for _ in 0..n {
                    openings.push(BidOpening {
                        value: r.u128("call.reveal_bids.value")?,
                        fake: get_bool(&mut r, "call.reveal_bids.fake")?,
                        secret: BidSecret::from_bytes(r.array("call.reveal_bids.secret")?),
                    });
                }
                Call::RevealBids { openings }
            }
            6 => Call::Heartbeat,
            tag => return Err(Error::UnknownTag { field: "call", tag }),
        };
        r.finish("call")?;
        Ok(call)
    }

    /// The call's name in errors and events.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Call::Open { .. } => "open",
            Call::Register => "register",
            Call::BuyIn => "buy_in",
            Call::Reveal { .. } => "reveal",
            Call::Commit { .. } => "commit",
            Call::RevealBids { .. } => "reveal_bids",
            Call::Heartbeat => "heartbeat",
        }
    }

    /// The transaction payload calling `contract` with this call.
    #[must_use]
    pub fn to(&self, contract: ContractId) -> ContractCall {
        ContractCall {
            contract,
            data: self.encode(),
        }
    }
}

// ---- execution context and ledger helpers ----

/// What a contract call needs besides the state.
#[derive(Debug, Clone, Copy)]
pub struct ExecCtx<'a> {
    /// Chain parameters.
    pub params: &'a ChainParams,
    /// Height of the block carrying the call.
    pub height: u64,
    /// The task issuer of the parent state ([`task_issuer`]).
    pub issuer: Option<Address>,
}

/// What the end-of-block hook needs besides the state.
#[derive(Debug, Clone, Copy)]
pub struct HookCtx<'a> {
    /// Chain parameters.
    pub params: &'a ChainParams,
    /// Height of the block being finished.
    pub height: u64,
    /// Its parent's hash (seeds random selection).
    pub prev_hash: Hash256,
}

/// What the end-of-block hook did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookOutcome {
    /// Events, in order.
    pub events: Vec<ContractEvent>,
    /// Sharecoin minted as sensing rewards.
    pub minted: u128,
}

/// The task issuer: the account of highest trust, the smallest address among equals; `None`
/// without accounts.
#[must_use]
pub fn task_issuer(state: &State) -> Option<Address> {
    let mut best: Option<(Address, fusion::Fx)> = None;
    for (address, account) in state.accounts() {
        let t = account.trust.trust();
        // Accounts iterate by ascending address, so a strict comparison keeps the smallest.
        if best.is_none_or(|(_, b)| t > b) {
            best = Some((*address, t));
        }
    }
    best.map(|(a, _)| a)
}

/// Moves `amount` out of `address`'s balance.
///
/// # Errors
///
/// [`Error::UnknownAccount`]; [`Error::InsufficientFunds`] (nothing written).
pub(crate) fn debit(state: &mut State, address: &Address, amount: u128) -> Result<(), Error> {
    let account = state
        .account_mut(address)
        .ok_or(Error::UnknownAccount { account: *address })?;
    if account.balance < amount {
        return Err(Error::InsufficientFunds {
            account: *address,
            needed: amount,
            available: account.balance,
        });
    }
    account.balance -= amount;
    Ok(())
}

/// Checks that `address` can pay `amount` without writing.
///
/// # Errors
///
/// [`Error::UnknownAccount`]; [`Error::InsufficientFunds`].
pub(crate) fn check_funds(state: &State, address: &Address, amount: u128) -> Result<(), Error> {
    let balance = state
        .account(address)
        .ok_or(Error::UnknownAccount { account: *address })?
        .balance;
    if balance < amount {
        return Err(Error::InsufficientFunds {
            account: *address,
            needed: amount,
            available: balance,
        });
    }
    Ok(())
}

/// Adds `amount` to `address` (creating the account with the configured new-account trust).
///
/// # Errors
///
/// [`Error::Overflow`].
pub(crate) fn credit(
    state: &mut State,
    address: Address,
    amount: u128,
    params: &ChainParams,
) -> Result<(), Error> {
    if amount == 0 {
        return Ok(());
    }
    crate::transition::credit(state, address, amount, params)
}

/// Decodes the instance at `id`, if any.
pub(crate) fn load<T: Decode>(state: &State, id: &ContractId) -> Result<Option<T>, Error> {
    state.contract_state(id).map(T::from_bytes).transpose()
}

/// Stores an instance (its encoding is never empty).
pub(crate) fn store<T: Encode>(state: &mut State, id: ContractId, value: &T) -> Result<(), Error> {
    state.set_contract_state(id, value.to_bytes())
}

fn wrong_contract() -> Error {
    Error::InvalidCall {
        field: "call",
        reason: "this contract does not take this call",
    }
}

/// Runs an account-signed contract call for `sender` (its fee and nonce already charged).
/// On error the state is unchanged.
///
/// # Errors
///
/// The contract's typed rejection: [`Error::UnknownContract`], codec errors for malformed call
/// data, [`Error::InvalidCall`], [`Error::NotTaskIssuer`], [`Error::UnknownChannel`],
/// [`Error::TaskAlreadyOpen`], [`Error::OutOfPhase`], [`Error::Late`],
/// [`Error::AlreadyRegistered`], [`Error::NotRegistered`], [`Error::BuyInRefused`],
/// [`Error::CapacityReached`], [`Error::InsufficientFunds`], [`Error::NotSelected`],
/// [`Error::AlreadyRevealed`], [`Error::CommitmentMismatch`], [`Error::BadRevealProof`],
/// [`Error::DepositTooSmall`], [`Error::DuplicateCommit`], [`Error::NotLeaseHolder`],
/// [`Error::LeaseInactive`], [`Error::Overflow`].
pub fn execute_call(
    state: &mut State,
    sender: &PublicKey,
    call: &ContractCall,
    ctx: &ExecCtx<'_>,
) -> Result<Vec<ContractEvent>, Error> {
    let (kind, n) = parse_contract_id(&call.contract).ok_or(Error::UnknownContract {
        contract: call.contract,
    })?;
    let decoded = Call::decode(&call.data)?;
    match (kind, decoded) {
        (ContractKind::Registry, Call::Open { channel }) => {
            csc::open(state, sender, channel, ctx).map(|e| vec![e])
        }
        (ContractKind::Task, Call::Register) => csc::register(state, sender, n, ctx),
        (ContractKind::Task, Call::BuyIn) => csc::buy_in(state, sender, n, ctx),
        (ContractKind::Task, Call::Reveal { salt, proof }) => {
            csc::reveal(state, sender, n, &salt, &proof, ctx)
        }
        (ContractKind::Auction, Call::Commit { blinded, deposit }) => {
            sac::commit(state, sender, n, blinded, deposit, ctx)
        }
        (ContractKind::Auction, Call::RevealBids { openings }) => {
            sac::reveal(state, sender, n, &openings, ctx)
        }
        (ContractKind::Lease, Call::Heartbeat) => {
            let channel = u32::try_from(n).map_err(|_| Error::UnknownContract {
                contract: call.contract,
            })?;
            lease::heartbeat(state, sender, channel, ctx)
        }
        _ => Err(wrong_contract()),
    }
}

/// Runs an anonymous report upload (its ring signature already checked). On error the state
/// is unchanged.
///
/// # Errors
///
/// [`Error::UnknownContract`] (no such task), [`Error::OutOfPhase`], [`Error::Late`],
/// [`Error::RoundMismatch`], [`Error::RingMismatch`], [`Error::DuplicateReport`],
/// [`Error::InvalidCall`] (report out of range).
pub fn execute_upload(
    state: &mut State,
    upload: &AnonymousUpload,
    ctx: &ExecCtx<'_>,
) -> Result<Vec<ContractEvent>, Error> {
    csc::upload(state, upload, ctx).map(|e| vec![e])
}

/// Instance ids of `kind`, ascending (ids sort by kind byte, then number).
fn instances(state: &State, kind: ContractKind) -> Vec<(ContractId, u64)> {
    state
        .contracts()
        .filter_map(|(id, _)| match parse_contract_id(id) {
            Some((k, n)) if k == kind => Some((*id, n)),
            _ => None,
        })
        .collect()
}

/// The end-of-block hook: every height-triggered phase change due at `ctx.height`, in a fixed
/// order: tasks by id (selection, fusion with its auction and lease effects, settlement,
/// removal), then auctions by id (settlement with its lease grant, removal at expiry), then
/// leases by channel (expiry, queued lease start, heartbeat lapse).
///
/// # Errors
///
/// [`Error::Overflow`], codec errors on a corrupt instance, [`Error::FusionFailed`]: a block
/// whose hook fails is invalid.
pub fn end_of_block(state: &mut State, ctx: &HookCtx<'_>) -> Result<HookOutcome, Error> {
    let mut out = HookOutcome::default();
    for (_, task) in instances(state, ContractKind::Task) {
        csc::on_block_end(state, task, ctx, &mut out)?;
    }
    for (_, auction) in instances(state, ContractKind::Auction) {
        sac::on_block_end(state, auction, ctx, &mut out.events)?;
    }
    for (_, channel) in instances(state, ContractKind::Lease) {
        let channel = u32::try_from(channel).map_err(|_| Error::Overflow {
            what: "lease channel",
        })?;
        lease::on_block_end(state, channel, ctx, &mut out.events)?;
    }
    Ok(out)
}

/// Sharecoin held by contract instances: CSC deposits and buy-ins, SAC bid deposits.
///
/// # Errors
///
/// Codec errors on a corrupt instance; [`Error::Overflow`].
pub fn locked_funds(state: &State) -> Result<u128, Error> {
    let mut total: u128 = 0;
    let add = |total: u128, x: u128| {
        total.checked_add(x).ok_or(Error::Overflow {
            what: "locked funds",
        })
    };
    for (id, kind) in state
        .contracts()
        .filter_map(|(id, _)| parse_contract_id(id).map(|(k, _)| (*id, k)))
    {
        match kind {
            ContractKind::Task => {
                if let Some(task) = load::<Task>(state, &id)? {
                    total = add(total, task.locked()?)?;
                }
            }
            ContractKind::Auction => {
                if let Some(auction) = load::<Auction>(state, &id)? {
                    total = add(total, auction.locked()?)?;
                }
            }
            ContractKind::Registry | ContractKind::Lease => {}
        }
    }
    Ok(total)
}

/// All Sharecoin in existence: balances plus [`locked_funds`]. Between two states it changes
/// exactly by the minted block rewards and sensing rewards.
///
/// # Errors
///
/// As [`locked_funds`]; [`Error::Overflow`].
pub fn supply(state: &State) -> Result<u128, Error> {
    let mut total = locked_funds(state)?;
    for (_, account) in state.accounts() {
        total = total
            .checked_add(account.balance)
            .ok_or(Error::Overflow { what: "supply" })?;
    }
    Ok(total)
}

/// Wraps events with their origin.
pub(crate) fn records(origin: EventOrigin, events: Vec<ContractEvent>) -> Vec<EventRecord> {
    events
        .into_iter()
        .map(|event| EventRecord { origin, event })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_other_shapes() {
        for (kind, n) in [
            (ContractKind::Task, 7),
            (ContractKind::Auction, u64::MAX),
            (ContractKind::Lease, 0),
            (ContractKind::Registry, 0),
        ] {
            assert_eq!(parse_contract_id(&contract_id(kind, n)), Some((kind, n)));
        }
        assert_eq!(contract_id(ContractKind::Registry, 0), REGISTRY);
        assert_eq!(parse_contract_id(&Hash256([5; 32])), None);
        assert_eq!(
            parse_contract_id(&contract_id(ContractKind::Registry, 1)),
            None
        );
        let mut odd = task_contract(1);
        odd.0[3] = 1;
        assert_eq!(parse_contract_id(&odd), None);
    }

    #[test]
    fn params_round_trip_and_defaults_validate() {
        let p = ContractParams::default();
        p.validate().unwrap();
        assert_eq!(ContractParams::from_bytes(&p.to_bytes()).unwrap(), p);
    }
}
