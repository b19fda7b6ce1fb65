//! The cooperative sensing contract (CSC, paper A VI-A; SPEC 6): tasks, registrations,
//! selection, anonymous reports, fusion, identity reveals and settlement.
//!
//! Data flow of one task (heights relative to its creation `c`, see [`super::round`]):
//! 1. [`open`] by the task issuer on a channel: the [`Registry`] numbers the task and the
//!    channel's round; the [`Task`] instance is created (event `TaskOpened`).
//! 2. [`register`] locks [`CscParams::deposit`]; [`buy_in`] locks [`CscParams::buy_in`] for a
//!    sensor below the trust threshold (events `Registered`, `BoughtIn`).
//! 3. End of `c + registration_close`: selection (trusted by trust, then buy-ins; or random /
//!    register time); the selected keys in canonical order become the task's ring; unselected
//!    deposits are refunded (`Selected`).
//! 4. [`upload`] of an [`AnonymousUpload`] (ring-signed [`SensingReport`]): first report per
//!    key image, before the deadline (`ReportAccepted`). End of `c + deadline`: fusion with
//!    [`CscParams::fusion`], no reports = busy (`Fused`); the channel's lease is suspended or
//!    resumed and, if idle, its auction opens (see [`super::sac`], [`super::lease`]).
//! 5. [`reveal`] (account-signed `(task, salt, DLEQ proof)`): the contract recomputes the
//!    [`IdentityCommitment`] with the caller's address, checks the proof ([`prove_reveal`])
//!    that the caller's key made the report's key image, and links report to account
//!    (`Revealed`, with the report's location).
//! 6. End of `c + reveal_end`: settlement through fusion's [`fusion::TrustModel`] (`Settled`); the
//!    settled record is removed `retain` blocks later (`TaskClosed`).
//!
//! # Encodings
//!
//! ```text
//! SensingReport (45) = decision u8 || energy_mdb i32 || cell.x i32 || cell.y i32 || commitment (32)
//! AnonymousUpload    = task u64 || round u64 || SensingReport || u32 n || ring (n × 33)
//!                      || u32 len || ring signature (65 + 32 n)
//! ring signature     = LSAG over SensingReport bytes, event (task, round), ring = the task's ring
//! reveal proof       = DLEQ log_G(P) = log_h(I): P the caller's key, I the report's key image,
//!                      h the task's event base, context = be64 task || caller address (20)
//! ```
#![deny(clippy::float_arithmetic)]

use std::collections::BTreeSet;

use fusion::{Candidate, ENERGY_LIMIT_MDB, FusionRule, Fx, Report, SelectionScheme, fuse, select};
use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};

use super::events::{ContractEvent, FuseReason, Payment, SensorOutcome, TrustUpdate};
use super::round::{TaskStage, TaskTimeline};
use super::{
    ContractParams, ExecCtx, HookCtx, HookOutcome, SkipScope, SlashDestination, check_funds,
    credit, debit, get_bool, get_i32, get_opt_address, get_opt_u64, lease, load, put_bool, put_i32,
    put_opt_address, put_opt_u64, sac, store, task_contract,
};
use crate::codec::{Decode, Encode, Put, Reader};
use crate::crypto::keys::PUBLIC_KEY_LEN;
use crate::crypto::ring::{self, KEY_IMAGE_LEN, MAX_RING_SIZE, MIN_RING_SIZE};

// Key images and public keys share the 33-byte compressed encoding.
const _: () = assert!(KEY_IMAGE_LEN == PUBLIC_KEY_LEN);
use crate::crypto::{
    Address, DleqProof, Domain, Event, EventBase, IdentityCommitment, KeyImage, PublicKey, Ring,
    RingSignature, Salt, SecretKey, dleq, hash,
};
use crate::digest::Hash256;
use crate::error::Error;
use crate::state::State;

/// Most registrations one task holds.
pub const MAX_REGISTRATIONS: u32 = 4096;

/// The CSC's parameters (windows relative to the task's creation height).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CscParams {
    /// Registrations and buy-ins at heights `c ..= c + registration_close`; selection at its
    /// end (0: only the opening block).
    pub registration_close: u64,
    /// Uploads up to `c + deadline` (> `registration_close`); fusion at its end.
    pub deadline: u64,
    /// Identity reveals up to `c + reveal_end` (> `deadline`); settlement at its end.
    pub reveal_end: u64,
    /// Blocks a settled task's record is kept (late calls get [`Error::Late`]) before removal.
    pub retain: u64,
    /// Deposit locked by a registration, base units.
    pub deposit: u128,
    /// Most sensors selected, K (2..=256: a ring of one would name its signer).
    pub k: u32,
    /// Selection scheme; [`SelectionScheme::Trust`]'s threshold is the CSC's trust threshold.
    pub selection: SelectionScheme,
    /// Extra deposit of a buy-in (trust selection only).
    pub buy_in: u128,
    /// Fusion rule (not trust-weighted: reports are anonymous at fusion).
    pub fusion: FusionRule,
    /// Sensing reward minted per task, shared by the consistent sensors.
    pub reward_per_round: u128,
    /// Where slashed deposits go.
    pub slash_to: SlashDestination,
    /// Most registrations per task (1..=4096).
    pub max_registrations: u32,
}

impl Default for CscParams {
    fn default() -> Self {
        Self {
            registration_close: 2,
            deadline: 5,
            reveal_end: 8,
            retain: 16,
            deposit: 1_000_000_000,
            k: 5,
            selection: SelectionScheme::Trust {
                threshold: Fx::HALF,
            },
            buy_in: 1_000_000_000,
            fusion: FusionRule::default(),
            reward_per_round: 5_000_000_000,
            slash_to: SlashDestination::RewardPool,
            max_registrations: 256,
        }
    }
}

impl CscParams {
    /// Checks the parameters.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] naming the first bad field.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |field, reason: &str| {
            Err(Error::InvalidConfig {
                field,
                reason: reason.to_owned(),
            })
        };
        if self.deadline <= self.registration_close {
            return bad("contracts.csc.deadline", "must exceed registration_close");
        }
        if self.reveal_end <= self.deadline {
            return bad("contracts.csc.reveal_end", "must exceed deadline");
        }
        let k = usize::try_from(self.k).unwrap_or(usize::MAX);
        if !(MIN_RING_SIZE..=MAX_RING_SIZE).contains(&k) {
            return bad(
                "contracts.csc.k",
                "must be in 2..=256 (the ring's size limits)",
            );
        }
        if let SelectionScheme::Trust { threshold } = self.selection
            && !threshold.is_unit()
        {
            return bad("contracts.csc.selection", "threshold must be in [0, 1]");
        }
        if let Err(e) = self.fusion.validate() {
            return bad("contracts.csc.fusion", &e.to_string());
        }
        if let FusionRule::TrustWeightedMajority { .. } = self.fusion {
            return bad(
                "contracts.csc.fusion",
                "trust-weighted fusion needs reporter identities, which the ring hides until after fusion",
            );
        }
        if self.max_registrations == 0 || self.max_registrations > MAX_REGISTRATIONS {
            return bad("contracts.csc.max_registrations", "must be in 1..=4096");
        }
        Ok(())
    }

    fn threshold(&self) -> Option<Fx> {
        match self.selection {
            SelectionScheme::Trust { threshold } => Some(threshold),
            _ => None,
        }
    }
}

/// A coarse location: the index of a grid cell (the sensor coarsens its position to the
/// configured grid before reporting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct GridCell {
    /// Cell column.
    pub x: i32,
    /// Cell row.
    pub y: i32,
}

/// A sensing report as uploaded (ring-signed, anonymous).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SensingReport {
    /// Busy (primary user present) or idle.
    pub decision: bool,
    /// Normalised band energy, milli-dB (|e| <= 80,000).
    pub energy_mdb: i32,
    /// Coarse location.
    pub cell: GridCell,
    /// `hash(trustband/v1/commit, [task, address, salt])`, opened after fusion.
    pub commitment: IdentityCommitment,
}

/// Encoded size of a [`SensingReport`].
pub const REPORT_LEN: usize = 1 + 4 + 4 + 4 + 32;

impl Encode for SensingReport {
    fn encode_to(&self, out: &mut Vec<u8>) {
        put_bool(out, self.decision);
        put_i32(out, self.energy_mdb);
        put_i32(out, self.cell.x);
        put_i32(out, self.cell.y);
        out.put_raw(self.commitment.as_bytes());
    }
}

impl Decode for SensingReport {
    const NAME: &'static str = "sensing_report";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, Error> {
        Ok(Self {
            decision: get_bool(r, "report.decision")?,
            energy_mdb: get_i32(r, "report.energy_mdb")?,
            cell: GridCell {
                x: get_i32(r, "report.cell.x")?,
                y: get_i32(r, "report.cell.y")?,
            },
            commitment: IdentityCommitment::from_bytes(r.array("report.commitment")?),
        })
    }
}

/// An anonymous report upload: the report, the ring it was signed over and the LSAG signature.
/// It authorises itself (see [`crate::tx::TxPayload::Upload`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnonymousUpload {
    /// Task id (the event's task).
    pub task: u64,
    /// The task's round (the event's round).
    pub round: u64,
    /// The report.
    pub report: SensingReport,
    /// The ring (must be the task's ring of selected sensors).
    pub ring: Ring,
    /// LSAG over the report's bytes for event `(task, round)`.
    pub signature: RingSignature,
}

impl AnonymousUpload {
    /// Signs `report` as an anonymous member of `ring` for `(task, round)` on the chain `chain_id`
    /// ([`crate::ChainParams::chain_id`]).
    ///
    /// # Errors
    ///
    /// [`Error::SignerNotInRing`]; [`Error::HashToCurve`].
    pub fn sign<R: CryptoRng + ?Sized>(
        secret: &SecretKey,
        chain_id: &Hash256,
        task: u64,
        round: u64,
        report: SensingReport,
        ring: Ring,
        rng: &mut R,
    ) -> Result<Self, Error> {
        let event = Event {
            task_id: task,
            round,
            chain_id: *chain_id,
        };
        let signature = ring::sign(secret, &ring, &event, &report.to_bytes(), rng)?;
        Ok(Self {
            task,
            round,
            report,
            ring,
            signature,
        })
    }

    /// The ring signature's event on the chain `chain_id`.
    #[must_use]
    pub fn event(&self, chain_id: &Hash256) -> Event {
        Event {
            task_id: self.task,
            round: self.round,
            chain_id: *chain_id,
        }
    }

    /// The signer's key image for this task.
    #[must_use]
    pub fn key_image(&self) -> &KeyImage {
        self.signature.key_image()
    }

    /// Checks the ring signature over the report (stateless: against the carried ring) for the
    /// chain `chain_id`.
    ///
    /// # Errors
    ///
    /// [`Error::RingLengthMismatch`], [`Error::BadRingSignature`] (also for an upload signed
    /// for another chain).
    pub fn verify(&self, chain_id: &Hash256) -> Result<(), Error> {
        ring::verify(
            &self.ring,
            &self.event(chain_id),
            &self.report.to_bytes(),
            &self.signature,
        )
    }
}

impl Encode for AnonymousUpload {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.put_u64(self.task);
        out.put_u64(self.round);
        self.report.encode_to(out);
        out.put_len(self.ring.len());
        out.put_raw(self.ring.as_bytes());
        out.put_bytes(&self.signature.to_bytes());
    }
}

impl Decode for AnonymousUpload {
    const NAME: &'static str = "anonymous_upload";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, Error> {
        let task = r.u64("upload.task")?;
        let round = r.u64("upload.round")?;
        let report = SensingReport::decode_from(r)?;
        let cap = u32::try_from(MAX_RING_SIZE).unwrap_or(u32::MAX);
        let n = r.len("upload.ring", cap, PUBLIC_KEY_LEN)?;
        let ring = Ring::from_bytes(r.take("upload.ring", n.saturating_mul(PUBLIC_KEY_LEN))?)?;
        let sig_cap = u32::try_from(RingSignature::encoded_len(MAX_RING_SIZE)).unwrap_or(u32::MAX);
        let signature = RingSignature::from_bytes(&r.bytes("upload.signature", sig_cap)?)?;
        Ok(Self {
            task,
            round,
            report,
            ring,
            signature,
        })
    }
}

// ---- registry ----

/// One channel's bookkeeping in the [`Registry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChannelRecord {
    /// The next task's round number.
    pub next_round: u64,
    /// The channel's task that has not been fused yet.
    pub open_task: Option<u64>,
    /// The channel's auction that has not settled yet.
    pub open_auction: Option<u64>,
    /// The latest fused decision: (task, busy).
    pub last_decision: Option<(u64, bool)>,
}

/// The registry instance ([`super::REGISTRY`]): task numbering and per-channel records.
///
/// Encoding: `next_task u64 || u32 n || n × (next_round u64 || open_task opt u64 ||
/// open_auction opt u64 || last_decision opt (task u64 || busy u8))`, options as a 0/1 byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    /// Id of the next task (task ids start at 1).
    pub next_task: u64,
    /// One record per channel of the band plan.
    pub channels: Vec<ChannelRecord>,
}

impl Registry {
    /// The stored registry, or a fresh one for `params`' band plan.
    ///
    /// # Errors
    ///
    /// Codec errors on a corrupt registry.
    pub fn load(state: &State, params: &ContractParams) -> Result<Self, Error> {
        let mut reg = load::<Registry>(state, &super::REGISTRY)?.unwrap_or(Registry {
            next_task: 1,
            channels: Vec::new(),
        });
        if reg.channels.len() < params.channels.len() {
            reg.channels
                .resize(params.channels.len(), ChannelRecord::default());
        }
        Ok(reg)
    }

    pub(crate) fn channel_mut(&mut self, channel: u32) -> Result<&mut ChannelRecord, Error> {
        let channels = u32::try_from(self.channels.len()).unwrap_or(u32::MAX);
        usize::try_from(channel)
            .ok()
            .and_then(|i| self.channels.get_mut(i))
            .ok_or(Error::UnknownChannel { channel, channels })
    }
}

impl Encode for Registry {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.put_u64(self.next_task);
        out.put_len(self.channels.len());
        for c in &self.channels {
            out.put_u64(c.next_round);
            put_opt_u64(out, c.open_task);
            put_opt_u64(out, c.open_auction);
            match c.last_decision {
                None => out.put_u8(0),
                Some((task, busy)) => {
                    out.put_u8(1);
                    out.put_u64(task);
                    put_bool(out, busy);
                }
            }
        }
    }
}

impl Decode for Registry {
    const NAME: &'static str = "registry";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, Error> {
        let next_task = r.u64("registry.next_task")?;
        let n = r.len("registry.channels", super::MAX_CHANNELS, 11)?;
        let mut channels = Vec::with_capacity(n);
        for _ in 0..n {
            let next_round = r.u64("registry.next_round")?;
            let open_task = get_opt_u64(r, "registry.open_task")?;
            let open_auction = get_opt_u64(r, "registry.open_auction")?;
            let last_decision = if get_bool(r, "registry.last_decision")? {
                Some((
                    r.u64("registry.last_decision.task")?,
                    get_bool(r, "registry.last_decision.busy")?,
                ))
            } else {
                None
            };
            channels.push(ChannelRecord {
                next_round,
                open_task,
                open_auction,
                last_decision,
            });
        }
        Ok(Self {
            next_task,
            channels,
        })
    }
}

// ---- task ----

/// A task's phase (advanced only by the end-of-block hook).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskPhase {
    /// Taking registrations (tag 0).
    Registration,
    /// Selected; taking uploads (tag 1).
    Sensing,
    /// Fused; taking reveals (tag 2).
    Revealing,
    /// Settled; record kept until removal (tag 3).
    Settled,
}

/// A registration's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationStatus {
    /// Registered, awaiting selection (tag 0).
    Registered,
    /// Selected: a ring member; funds held until settlement (tag 1).
    Selected,
    /// Not selected: funds returned (tag 2).
    Released,
}

/// Compressed encoding of a public key or key image as stored by a task. Tasks keep the bytes
/// and decompress a key only when the ring is built: a task is decoded for every call and at
/// every block end, and each decompression is a field square root.
pub type PointBytes = [u8; PUBLIC_KEY_LEN];

/// One registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registration {
    /// The sensor's account.
    pub account: Address,
    /// Its public key, compressed (a ring member if selected).
    pub key: PointBytes,
    /// Deposit held.
    pub deposit: u128,
    /// Whether it bought in.
    pub bought_in: bool,
    /// Buy-in held.
    pub buy_in: u128,
    /// Status.
    pub status: RegistrationStatus,
}

impl Registration {
    fn held(&self) -> Result<u128, Error> {
        self.deposit
            .checked_add(self.buy_in)
            .ok_or(Error::Overflow { what: "deposit" })
    }
}

/// One accepted report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredReport {
    /// The signer's key image, compressed.
    pub key_image: PointBytes,
    /// The report.
    pub report: SensingReport,
    /// The account that opened its commitment, once revealed.
    pub revealed_by: Option<Address>,
}

/// The fused decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Busy (primary user present).
    pub busy: bool,
    /// Reports fused.
    pub reports: u32,
    /// Of which busy.
    pub busy_reports: u32,
    /// Rule or protective default.
    pub reason: FuseReason,
}

/// A CSC task instance ([`task_contract`]).
///
/// Encoding: `id u64 || channel u32 || round u64 || issuer (20) || created, registration_close,
/// deadline, reveal_end, removal (u64 each) || phase u8 || u32 n × registration (account 20 ||
/// key 33 || deposit u128 || bought_in u8 || buy_in u128 || status u8) || u32 m × ring key (33)
/// || u32 r × report (key image 33 || SensingReport 45 || revealed_by opt address) ||
/// decision opt (busy u8 || reports u32 || busy_reports u32 || reason u8)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// Task id.
    pub id: u64,
    /// Channel index.
    pub channel: u32,
    /// The channel's round.
    pub round: u64,
    /// The issuer that opened it.
    pub issuer: Address,
    /// Its windows.
    pub timeline: TaskTimeline,
    /// Phase.
    pub phase: TaskPhase,
    /// Registrations, in registration order.
    pub registrations: Vec<Registration>,
    /// The ring: selected keys, compressed, in canonical order (empty before selection, or if
    /// fewer than two were selected).
    pub ring: Vec<PointBytes>,
    /// Accepted reports, in arrival order.
    pub reports: Vec<StoredReport>,
    /// The fused decision, once fused.
    pub decision: Option<Decision>,
}

impl Task {
    /// Sharecoin the task holds (deposits and buy-ins not yet returned or paid out).
    ///
    /// # Errors
    ///
    /// [`Error::Overflow`].
    pub fn locked(&self) -> Result<u128, Error> {
        self.registrations.iter().try_fold(0u128, |acc, r| {
            acc.checked_add(r.held()?).ok_or(Error::Overflow {
                what: "task deposits",
            })
        })
    }

    /// Index of `account`'s registration.
    #[must_use]
    pub fn registration(&self, account: &Address) -> Option<usize> {
        self.registrations
            .iter()
            .position(|r| r.account == *account)
    }
}

fn phase_tag(p: TaskPhase) -> u8 {
    match p {
        TaskPhase::Registration => 0,
        TaskPhase::Sensing => 1,
        TaskPhase::Revealing => 2,
        TaskPhase::Settled => 3,
    }
}

fn reason_tag(r: FuseReason) -> u8 {
    match r {
        FuseReason::Rule => 0,
        FuseReason::NoReports => 1,
        FuseReason::TooFewSensors => 2,
    }
}

impl Encode for Task {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.put_u64(self.id);
        out.put_u32(self.channel);
        out.put_u64(self.round);
        out.put_raw(self.issuer.as_bytes());
        let t = &self.timeline;
        for h in [
            t.created,
            t.registration_close,
            t.deadline,
            t.reveal_end,
            t.removal,
        ] {
            out.put_u64(h);
        }
        out.put_u8(phase_tag(self.phase));
        out.put_len(self.registrations.len());
        for r in &self.registrations {
            out.put_raw(r.account.as_bytes());
            out.put_raw(&r.key);
            out.put_u128(r.deposit);
            put_bool(out, r.bought_in);
            out.put_u128(r.buy_in);
            out.put_u8(match r.status {
                RegistrationStatus::Registered => 0,
                RegistrationStatus::Selected => 1,
                RegistrationStatus::Released => 2,
            });
        }
        out.put_len(self.ring.len());
        for k in &self.ring {
            out.put_raw(k);
        }
        out.put_len(self.reports.len());
        for s in &self.reports {
            out.put_raw(&s.key_image);
            s.report.encode_to(out);
            put_opt_address(out, s.revealed_by.as_ref());
        }
        match self.decision {
            None => out.put_u8(0),
            Some(d) => {
                out.put_u8(1);
                put_bool(out, d.busy);
                out.put_u32(d.reports);
                out.put_u32(d.busy_reports);
                out.put_u8(reason_tag(d.reason));
            }
        }
    }
}

impl Decode for Task {
    const NAME: &'static str = "task";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, Error> {
        let id = r.u64("task.id")?;
        let channel = r.u32("task.channel")?;
        let round = r.u64("task.round")?;
        let issuer = r.address("task.issuer")?;
        let timeline = TaskTimeline {
            created: r.u64("task.created")?,
            registration_close: r.u64("task.registration_close")?,
            deadline: r.u64("task.deadline")?,
            reveal_end: r.u64("task.reveal_end")?,
            removal: r.u64("task.removal")?,
        };
        let phase = match r.u8("task.phase")? {
            0 => TaskPhase::Registration,
            1 => TaskPhase::Sensing,
            2 => TaskPhase::Revealing,
            3 => TaskPhase::Settled,
            tag => {
                return Err(Error::UnknownTag {
                    field: "task.phase",
                    tag,
                });
            }
        };
        let n = r.len(
            "task.registrations",
            MAX_REGISTRATIONS,
            20 + 33 + 16 + 1 + 16 + 1,
        )?;
        let mut registrations = Vec::with_capacity(n);
        for _ in 0..n {
            registrations.push(Registration {
                account: r.address("task.registration.account")?,
                key: r.array("task.registration.key")?,
                deposit: r.u128("task.registration.deposit")?,
                bought_in: get_bool(r, "task.registration.bought_in")?,
                buy_in: r.u128("task.registration.buy_in")?,
                status: match r.u8("task.registration.status")? {
                    0 => RegistrationStatus::Registered,
                    1 => RegistrationStatus::Selected,
                    2 => RegistrationStatus::Released,
                    tag => {
                        return Err(Error::UnknownTag {
                            field: "task.registration.status",
                            tag,
                        });
                    }
                },
            });
        }
        let cap = u32::try_from(MAX_RING_SIZE).unwrap_or(u32::MAX);
        let m = r.len("task.ring", cap, PUBLIC_KEY_LEN)?;
        let mut ring = Vec::with_capacity(m);
        for _ in 0..m {
            ring.push(r.array("task.ring")?);
        }
        let k = r.len("task.reports", cap, KEY_IMAGE_LEN + REPORT_LEN + 1)?;
        let mut reports = Vec::with_capacity(k);
        for _ in 0..k {
            reports.push(StoredReport {
                key_image: r.array("task.report.key_image")?,
                report: SensingReport::decode_from(r)?,
                revealed_by: get_opt_address(r, "task.report.revealed_by")?,
            });
        }
        let decision = if get_bool(r, "task.decision")? {
            Some(Decision {
                busy: get_bool(r, "task.decision.busy")?,
                reports: r.u32("task.decision.reports")?,
                busy_reports: r.u32("task.decision.busy_reports")?,
                reason: match r.u8("task.decision.reason")? {
                    0 => FuseReason::Rule,
                    1 => FuseReason::NoReports,
                    2 => FuseReason::TooFewSensors,
                    tag => {
                        return Err(Error::UnknownTag {
                            field: "task.decision.reason",
                            tag,
                        });
                    }
                },
            })
        } else {
            None
        };
        Ok(Self {
            id,
            channel,
            round,
            issuer,
            timeline,
            phase,
            registrations,
            ring,
            reports,
            decision,
        })
    }
}

fn load_task(state: &State, task: u64) -> Result<Task, Error> {
    let id = task_contract(task);
    load::<Task>(state, &id)?.ok_or(Error::UnknownContract { contract: id })
}

// ---- calls ----

/// Opens a task on `channel` (the task issuer only; one unfused task per channel).
///
/// # Errors
///
/// [`Error::NotTaskIssuer`], [`Error::UnknownChannel`], [`Error::TaskAlreadyOpen`],
/// [`Error::Overflow`].
pub fn open(
    state: &mut State,
    sender: &PublicKey,
    channel: u32,
    ctx: &ExecCtx<'_>,
) -> Result<ContractEvent, Error> {
    let cp = &ctx.params.contracts;
    let who = sender.address();
    if ctx.issuer != Some(who) {
        return Err(Error::NotTaskIssuer {
            expected: ctx.issuer.unwrap_or(Address::from_bytes([0; 20])),
            got: who,
        });
    }
    let channels = cp.channel_count();
    if channel >= channels {
        return Err(Error::UnknownChannel { channel, channels });
    }
    let mut registry = Registry::load(state, cp)?;
    let id = registry.next_task;
    registry.next_task = id
        .checked_add(1)
        .ok_or(Error::Overflow { what: "task id" })?;
    let record = registry.channel_mut(channel)?;
    if let Some(task) = record.open_task {
        return Err(Error::TaskAlreadyOpen { channel, task });
    }
    let round = record.next_round;
    record.next_round = round
        .checked_add(1)
        .ok_or(Error::Overflow { what: "round" })?;
    record.open_task = Some(id);
    let c = &cp.csc;
    let timeline = TaskTimeline::new(
        ctx.height,
        c.registration_close,
        c.deadline,
        c.reveal_end,
        c.retain,
    )?;
    let task = Task {
        id,
        channel,
        round,
        issuer: who,
        timeline,
        phase: TaskPhase::Registration,
        registrations: Vec::new(),
        ring: Vec::new(),
        reports: Vec::new(),
        decision: None,
    };
    store(state, task_contract(id), &task)?;
    store(state, super::REGISTRY, &registry)?;
    Ok(ContractEvent::TaskOpened {
        task: id,
        channel,
        round,
        issuer: who,
        registration_close: timeline.registration_close,
        deadline: timeline.deadline,
        reveal_end: timeline.reveal_end,
    })
}

/// Registers `sender` for `task`, locking the deposit.
///
/// # Errors
///
/// [`Error::UnknownContract`], [`Error::Late`], [`Error::AlreadyRegistered`],
/// [`Error::CapacityReached`], [`Error::InsufficientFunds`].
pub fn register(
    state: &mut State,
    sender: &PublicKey,
    task_id: u64,
    ctx: &ExecCtx<'_>,
) -> Result<Vec<ContractEvent>, Error> {
    let c = &ctx.params.contracts.csc;
    let mut task = load_task(state, task_id)?;
    task.timeline
        .require("register", task_id, ctx.height, TaskStage::Registration)?;
    let who = sender.address();
    if task.registration(&who).is_some() {
        return Err(Error::AlreadyRegistered {
            task: task_id,
            account: who,
        });
    }
    let count = u64::try_from(task.registrations.len()).unwrap_or(u64::MAX);
    if count >= u64::from(c.max_registrations) {
        return Err(Error::CapacityReached {
            what: "registrations",
            task: task_id,
            limit: u64::from(c.max_registrations),
        });
    }
    check_funds(state, &who, c.deposit)?;
    task.registrations.push(Registration {
        account: who,
        key: sender.to_bytes(),
        deposit: c.deposit,
        bought_in: false,
        buy_in: 0,
        status: RegistrationStatus::Registered,
    });
    store(state, task_contract(task_id), &task)?;
    debit(state, &who, c.deposit)?;
    Ok(vec![ContractEvent::Registered {
        task: task_id,
        account: who,
        deposit: c.deposit,
    }])
}

/// Locks the buy-in of a registered sensor below the trust threshold.
///
/// # Errors
///
/// [`Error::BuyInRefused`] (scheme without buy-ins, already bought in, trust at or above the
/// threshold), [`Error::UnknownContract`], [`Error::Late`], [`Error::NotRegistered`],
/// [`Error::InsufficientFunds`].
pub fn buy_in(
    state: &mut State,
    sender: &PublicKey,
    task_id: u64,
    ctx: &ExecCtx<'_>,
) -> Result<Vec<ContractEvent>, Error> {
    let c = &ctx.params.contracts.csc;
    let who = sender.address();
    let refused = |reason| Error::BuyInRefused {
        task: task_id,
        account: who,
        reason,
    };
    let threshold = c
        .threshold()
        .ok_or_else(|| refused("the selection scheme takes no buy-ins"))?;
    let mut task = load_task(state, task_id)?;
    task.timeline
        .require("buy_in", task_id, ctx.height, TaskStage::Registration)?;
    let index = task.registration(&who).ok_or(Error::NotRegistered {
        task: task_id,
        account: who,
    })?;
    let registration = task
        .registrations
        .get_mut(index)
        .ok_or(Error::NotRegistered {
            task: task_id,
            account: who,
        })?;
    if registration.bought_in {
        return Err(refused("already bought in"));
    }
    if state.trust(&who) >= threshold {
        return Err(refused("trust already meets the threshold"));
    }
    check_funds(state, &who, c.buy_in)?;
    registration.bought_in = true;
    registration.buy_in = c.buy_in;
    store(state, task_contract(task_id), &task)?;
    debit(state, &who, c.buy_in)?;
    Ok(vec![ContractEvent::BoughtIn {
        task: task_id,
        account: who,
        amount: c.buy_in,
    }])
}

/// Accepts an anonymous report (ring signature already verified).
///
/// # Errors
///
/// [`Error::UnknownContract`], [`Error::OutOfPhase`], [`Error::Late`],
/// [`Error::RoundMismatch`], [`Error::RingMismatch`], [`Error::DuplicateReport`],
/// [`Error::InvalidCall`] (energy beyond ±80 dB).
pub fn upload(
    state: &mut State,
    upload: &AnonymousUpload,
    ctx: &ExecCtx<'_>,
) -> Result<ContractEvent, Error> {
    let task_id = upload.task;
    let mut task = load_task(state, task_id)?;
    task.timeline
        .require("upload", task_id, ctx.height, TaskStage::Sensing)?;
    if upload.round != task.round {
        return Err(Error::RoundMismatch {
            task: task_id,
            expected: task.round,
            got: upload.round,
        });
    }
    let same_ring = upload.ring.len() == task.ring.len()
        && upload
            .ring
            .as_bytes()
            .chunks_exact(PUBLIC_KEY_LEN)
            .zip(&task.ring)
            .all(|(a, b)| a == b.as_slice());
    if task.phase != TaskPhase::Sensing || !same_ring {
        return Err(Error::RingMismatch { task: task_id });
    }
    let key_image = *upload.key_image();
    if task
        .reports
        .iter()
        .any(|s| s.key_image == key_image.to_bytes())
    {
        return Err(Error::DuplicateReport {
            task: task_id,
            key_image: Box::new(key_image),
        });
    }
    let report = upload.report;
    if report.energy_mdb.unsigned_abs() > ENERGY_LIMIT_MDB.unsigned_abs() {
        return Err(Error::InvalidCall {
            field: "report.energy_mdb",
            reason: "beyond ±80,000 milli-dB",
        });
    }
    task.reports.push(StoredReport {
        key_image: key_image.to_bytes(),
        report,
        revealed_by: None,
    });
    store(state, task_contract(task_id), &task)?;
    Ok(ContractEvent::ReportAccepted {
        task: task_id,
        key_image,
        decision: report.decision,
        energy_mdb: report.energy_mdb,
        cell: report.cell,
    })
}

/// Length of [`reveal_context`]: `chain id (32) || be64 task || address (20)`.
pub const REVEAL_CONTEXT_LEN: usize = 32 + 8 + crate::crypto::keys::ADDRESS_LEN;

/// The context a reveal's DLEQ proof is bound to: `chain id || be64 task || account address`,
/// so a proof cannot be replayed on another chain, for another task or by another account.
#[must_use]
pub fn reveal_context(
    chain_id: &Hash256,
    task_id: u64,
    account: &Address,
) -> [u8; REVEAL_CONTEXT_LEN] {
    let mut out = [0u8; REVEAL_CONTEXT_LEN];
    let (chain, rest) = out.split_at_mut(32);
    let (task, address) = rest.split_at_mut(8);
    chain.copy_from_slice(&chain_id.0);
    task.copy_from_slice(&task_id.to_be_bytes());
    address.copy_from_slice(account.as_bytes());
    out
}

/// The event base `h` of `task`'s ring signatures (and of its reveal proofs).
///
/// # Errors
///
/// [`Error::EmptyRing`] if the task has no ring (before selection, or fewer than two selected);
/// [`Error::IdentityPoint`], [`Error::HashToCurve`] (negligible).
pub fn event_base(task: &Task, chain_id: &Hash256) -> Result<EventBase, Error> {
    if task.ring.is_empty() {
        return Err(Error::EmptyRing);
    }
    let event = Event {
        task_id: task.id,
        round: task.round,
        chain_id: *chain_id,
    };
    EventBase::from_encoded_ring(&task.ring.concat(), &event)
}

/// The DLEQ proof `secret`'s account sends with its [`super::Call::Reveal`] for `task`: its
/// account key and its key image over the task's [`event_base`] share `secret`, bound to
/// [`reveal_context`]. `rng` feeds the (hedged) nonce.
///
/// # Errors
///
/// As [`event_base`].
pub fn prove_reveal<R: CryptoRng + ?Sized>(
    secret: &SecretKey,
    chain_id: &Hash256,
    task: &Task,
    rng: &mut R,
) -> Result<DleqProof, Error> {
    let base = event_base(task, chain_id)?;
    let context = reveal_context(chain_id, task.id, &secret.address());
    dleq::prove(secret, &base, &context, rng)
}

/// Opens `sender`'s identity commitment: links one report to the account. The commitment
/// selects the unrevealed reports carrying it; `proof` must show that `sender`'s key made one
/// of their key images (the first such report is opened). Nothing changes on any error.
///
/// # Errors
///
/// [`Error::UnknownContract`], [`Error::OutOfPhase`], [`Error::Late`],
/// [`Error::NotSelected`], [`Error::AlreadyRevealed`], [`Error::CommitmentMismatch`]
/// (kind `identity`: no unrevealed report carries this commitment), [`Error::BadRevealProof`]
/// (the proof matches none of those reports' key images, e.g. a swapped commitment).
pub fn reveal(
    state: &mut State,
    sender: &PublicKey,
    task_id: u64,
    salt: &Salt,
    proof: &DleqProof,
    ctx: &ExecCtx<'_>,
) -> Result<Vec<ContractEvent>, Error> {
    let mut task = load_task(state, task_id)?;
    task.timeline
        .require("reveal", task_id, ctx.height, TaskStage::Revealing)?;
    let who = sender.address();
    let selected = task
        .registration(&who)
        .and_then(|i| task.registrations.get(i))
        .is_some_and(|r| r.status == RegistrationStatus::Selected);
    if !selected {
        return Err(Error::NotSelected {
            task: task_id,
            account: who,
        });
    }
    if task.reports.iter().any(|s| s.revealed_by == Some(who)) {
        return Err(Error::AlreadyRevealed {
            task: task_id,
            account: who,
        });
    }
    let commitment = IdentityCommitment::new(task_id, &who, salt);
    let opens = |s: &StoredReport| s.revealed_by.is_none() && s.report.commitment == commitment;
    if !task.reports.iter().any(opens) {
        return Err(Error::CommitmentMismatch { kind: "identity" });
    }
    // Reports exist only after selection built a ring, so the task has one here. `sender` is
    // the account key registered (and so the ring member) of a selected sensor.
    let chain_id = &ctx.params.chain_id;
    let base = event_base(&task, chain_id)?;
    let context = reveal_context(chain_id, task_id, &who);
    let mut opened = None;
    // Usually one candidate; more only if a ring member copied this commitment, bounded by
    // the ring size (one report per key image).
    for (i, stored) in task.reports.iter().enumerate().filter(|(_, s)| opens(s)) {
        let key_image = KeyImage::from_bytes(&stored.key_image)?;
        if dleq::verify(sender, &key_image, &base, &context, proof).is_ok() {
            opened = Some((i, key_image));
            break;
        }
    }
    let (index, key_image) = opened.ok_or(Error::BadRevealProof {
        task: task_id,
        account: who,
    })?;
    let stored = task
        .reports
        .get_mut(index)
        .ok_or(Error::CommitmentMismatch { kind: "identity" })?;
    stored.revealed_by = Some(who);
    let cell = stored.report.cell;
    store(state, task_contract(task_id), &task)?;
    Ok(vec![ContractEvent::Revealed {
        task: task_id,
        account: who,
        key_image,
        cell,
    }])
}

// ---- end-of-block steps ----

/// Runs the phase change of `task_id` due at `ctx.height`, if any.
pub(crate) fn on_block_end(
    state: &mut State,
    task_id: u64,
    ctx: &HookCtx<'_>,
    out: &mut HookOutcome,
) -> Result<(), Error> {
    let id = task_contract(task_id);
    let Some(mut task) = load::<Task>(state, &id)? else {
        return Ok(());
    };
    let h = ctx.height;
    let t = task.timeline;
    match task.phase {
        TaskPhase::Registration if h >= t.registration_close => {
            let event = select_sensors(state, &mut task, ctx)?;
            out.events.push(event);
        }
        TaskPhase::Sensing if h >= t.deadline => {
            let decision = fuse_reports(&task, &ctx.params.contracts)?;
            task.decision = Some(decision);
            task.phase = TaskPhase::Revealing;
            out.events.push(ContractEvent::Fused {
                task: task.id,
                channel: task.channel,
                busy: decision.busy,
                reports: decision.reports,
                busy_reports: decision.busy_reports,
                reason: decision.reason,
            });
            after_fusion(state, &task, decision.busy, ctx, &mut out.events)?;
        }
        TaskPhase::Revealing if h >= t.reveal_end => {
            let (event, minted) = settle(state, &mut task, ctx)?;
            out.minted = out
                .minted
                .checked_add(minted)
                .ok_or(Error::Overflow { what: "minted" })?;
            out.events.push(event);
            if h >= t.removal {
                // No retention configured: the record goes with its settlement.
                state.set_contract_state(id, Vec::new())?;
                out.events.push(ContractEvent::TaskClosed { task: task.id });
                return Ok(());
            }
        }
        TaskPhase::Settled if h >= t.removal => {
            state.set_contract_state(id, Vec::new())?;
            out.events.push(ContractEvent::TaskClosed { task: task.id });
            return Ok(());
        }
        _ => return Ok(()),
    }
    store(state, id, &task)
}

/// Selection at the registration close (see the module docs of [`super`] for the order).
fn select_sensors(
    state: &mut State,
    task: &mut Task,
    ctx: &HookCtx<'_>,
) -> Result<ContractEvent, Error> {
    let cp = &ctx.params.contracts;
    let c = &cp.csc;
    let k = usize::try_from(c.k).unwrap_or(usize::MAX);
    let pending: Vec<usize> = task
        .registrations
        .iter()
        .enumerate()
        .filter(|(_, r)| r.status == RegistrationStatus::Registered)
        .map(|(i, _)| i)
        .collect();
    let trusts: Vec<Fx> = pending
        .iter()
        .map(|&i| {
            task.registrations
                .get(i)
                .map_or(Fx::ZERO, |r| state.trust(&r.account))
        })
        .collect();
    let keys: Vec<[u8; 20]> = pending
        .iter()
        .map(|&i| {
            task.registrations
                .get(i)
                .map_or([0; 20], |r| *r.account.as_bytes())
        })
        .collect();
    let candidates: Vec<Candidate<'_>> = pending
        .iter()
        .zip(trusts.iter().zip(&keys))
        .map(|(&i, (&trust, key))| Candidate {
            trust,
            registered_at: u64::try_from(i).unwrap_or(u64::MAX),
            key,
        })
        .collect();
    let seed = hash(
        Domain::Contract,
        &[b"select", &ctx.prev_hash.0, &task.id.to_be_bytes()],
    );
    // Positions into `pending`, in selection order.
    let mut chosen = select(&c.selection, &candidates, k, &seed);
    if let Some(threshold) = c.threshold() {
        let mut buyers: Vec<usize> = (0..pending.len())
            .filter(|&j| {
                trusts.get(j).is_some_and(|&t| t < threshold)
                    && pending
                        .get(j)
                        .and_then(|&i| task.registrations.get(i))
                        .is_some_and(|r| r.bought_in)
            })
            .collect();
        // Trust descending, then registration order (positions are in registration order).
        buyers.sort_by(|&a, &b| {
            let (ta, tb) = (trusts.get(a), trusts.get(b));
            tb.cmp(&ta).then(a.cmp(&b))
        });
        let room = k.saturating_sub(chosen.len());
        chosen.extend(buyers.into_iter().take(room));
    }
    let mut selected: Vec<usize> = chosen
        .iter()
        .filter_map(|&j| pending.get(j).copied())
        .collect();
    if selected.len() < MIN_RING_SIZE {
        selected.clear();
    }
    let chosen_set: BTreeSet<usize> = selected.iter().copied().collect();
    let mut refunds = Vec::new();
    for (i, r) in task.registrations.iter_mut().enumerate() {
        if r.status != RegistrationStatus::Registered {
            continue;
        }
        if chosen_set.contains(&i) {
            r.status = RegistrationStatus::Selected;
        } else {
            let amount = r.held()?;
            r.status = RegistrationStatus::Released;
            r.deposit = 0;
            r.buy_in = 0;
            refunds.push(Payment {
                account: r.account,
                amount,
            });
        }
    }
    for p in &refunds {
        credit(state, p.account, p.amount, ctx.params)?;
    }
    let sensors: Vec<Address> = selected
        .iter()
        .filter_map(|&i| task.registrations.get(i).map(|r| r.account))
        .collect();
    let ring: Vec<PublicKey> = if selected.is_empty() {
        Vec::new()
    } else {
        let keys = selected
            .iter()
            .filter_map(|&i| task.registrations.get(i))
            .map(|r| PublicKey::from_bytes(&r.key))
            .collect::<Result<Vec<_>, _>>()?;
        Ring::new(keys)?.members().to_vec()
    };
    task.ring = ring.iter().map(PublicKey::to_bytes).collect();
    task.phase = TaskPhase::Sensing;
    Ok(ContractEvent::Selected {
        task: task.id,
        sensors,
        ring,
        refunds,
    })
}

/// Fusion at the deadline.
fn fuse_reports(task: &Task, cp: &ContractParams) -> Result<Decision, Error> {
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    let busy_reports = count(task.reports.iter().filter(|s| s.report.decision).count());
    let reports = count(task.reports.len());
    if task.ring.is_empty() || task.reports.is_empty() {
        return Ok(Decision {
            busy: true,
            reports,
            busy_reports,
            reason: if task.ring.is_empty() {
                FuseReason::TooFewSensors
            } else {
                FuseReason::NoReports
            },
        });
    }
    let fusion_reports: Vec<Report> = task
        .reports
        .iter()
        .map(|s| Report {
            decision: s.report.decision,
            energy_mdb: Some(s.report.energy_mdb),
            // Anonymous: no trust to weigh by (trust-weighted fusion is refused in params).
            trust: Fx::ZERO,
        })
        .collect();
    let busy = fuse(&cp.csc.fusion, &fusion_reports).map_err(|source| Error::FusionFailed {
        task: task.id,
        source,
    })?;
    Ok(Decision {
        busy,
        reports,
        busy_reports,
        reason: FuseReason::Rule,
    })
}

/// The fused decision's effects on the registry, the channel's lease and its auction.
fn after_fusion(
    state: &mut State,
    task: &Task,
    busy: bool,
    ctx: &HookCtx<'_>,
    events: &mut Vec<ContractEvent>,
) -> Result<(), Error> {
    let cp = &ctx.params.contracts;
    let mut registry = Registry::load(state, cp)?;
    let record = registry.channel_mut(task.channel)?;
    if record.open_task == Some(task.id) {
        record.open_task = None;
    }
    record.last_decision = Some((task.id, busy));
    lease::on_decision(state, task.channel, task.id, busy, ctx, events)?;
    if !busy {
        sac::open_after_idle(state, &mut registry, task.channel, task.id, ctx, events)?;
    }
    store(state, super::REGISTRY, &registry)
}

/// Settlement after the reveal window: trust, refunds, slashes, rewards. Returns the event
/// and the Sharecoin minted.
fn settle(
    state: &mut State,
    task: &mut Task,
    ctx: &HookCtx<'_>,
) -> Result<(ContractEvent, u128), Error> {
    let cp = &ctx.params.contracts;
    let model = cp.trust_model()?;
    let busy = task.decision.is_none_or(|d| d.busy);
    let mut trust = Vec::new();
    let mut refunds = Vec::new();
    let mut slashes = Vec::new();
    let mut consistent: Vec<Address> = Vec::new();
    let mut participants = BTreeSet::new();
    for r in &task.registrations {
        if r.status != RegistrationStatus::Selected {
            continue;
        }
        let outcome = match task
            .reports
            .iter()
            .find(|s| s.revealed_by == Some(r.account))
        {
            Some(s) if s.report.decision == busy => SensorOutcome::Right,
            Some(_) => SensorOutcome::Wrong,
            None => SensorOutcome::Silent,
        };
        participants.insert(r.account);
        if let Some(account) = state.account_mut(&r.account) {
            let before = account.trust.trust();
            account
                .trust
                .participate(&model, outcome == SensorOutcome::Right);
            trust.push(TrustUpdate {
                account: r.account,
                outcome,
                before,
                after: account.trust.trust(),
            });
        }
        let held = r.held()?;
        if outcome == SensorOutcome::Right {
            consistent.push(r.account);
            refunds.push(Payment {
                account: r.account,
                amount: held,
            });
        } else if held > 0 {
            slashes.push(Payment {
                account: r.account,
                amount: held,
            });
        }
    }
    let mut skipped: u64 = 0;
    match cp.skip_scope {
        SkipScope::AllAccounts => {
            for (address, account) in state.accounts_mut() {
                if !participants.contains(address) {
                    account.trust.skip_round(&model);
                    skipped = skipped.saturating_add(1);
                }
            }
        }
        SkipScope::Registered => {
            for r in &task.registrations {
                if r.status == RegistrationStatus::Released
                    && let Some(account) = state.account_mut(&r.account)
                {
                    account.trust.skip_round(&model);
                    skipped = skipped.saturating_add(1);
                }
            }
        }
    }
    // Rewards: the minted pool and (by policy) the slashed deposits, in equal shares.
    let slashed = slashes.iter().try_fold(0u128, |acc, p| {
        acc.checked_add(p.amount)
            .ok_or(Error::Overflow { what: "slashes" })
    })?;
    let n = u128::try_from(consistent.len()).unwrap_or(u128::MAX);
    let slash_pool = match cp.csc.slash_to {
        SlashDestination::RewardPool => slashed,
        SlashDestination::Mno => 0,
    };
    // Nobody consistent (n = 0): no reward is minted and every slash goes to the MNO.
    let minted_share = cp.csc.reward_per_round.checked_div(n).unwrap_or(0);
    let slash_share = slash_pool.checked_div(n).unwrap_or(0);
    let minted = minted_share
        .checked_mul(n)
        .ok_or(Error::Overflow { what: "rewards" })?;
    let distributed_slashes = slash_share
        .checked_mul(n)
        .ok_or(Error::Overflow { what: "rewards" })?;
    let to_mno = slashed - distributed_slashes;
    let share = minted_share
        .checked_add(slash_share)
        .ok_or(Error::Overflow { what: "rewards" })?;
    let rewards: Vec<Payment> = if share == 0 {
        Vec::new()
    } else {
        consistent
            .iter()
            .map(|&account| Payment {
                account,
                amount: share,
            })
            .collect()
    };
    for p in refunds.iter().chain(&rewards) {
        credit(state, p.account, p.amount, ctx.params)?;
    }
    credit(state, cp.mno, to_mno, ctx.params)?;
    task.phase = TaskPhase::Settled;
    task.registrations.clear();
    task.reports.clear();
    task.ring.clear();
    Ok((
        ContractEvent::Settled {
            task: task.id,
            channel: task.channel,
            busy,
            trust,
            skipped,
            refunds,
            slashes,
            rewards,
            minted,
            to_mno,
        },
        minted,
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn report_and_task_round_trip() {
        let report = SensingReport {
            decision: true,
            energy_mdb: -12_345,
            cell: GridCell { x: -3, y: 7 },
            commitment: IdentityCommitment::from_bytes([9; 32]),
        };
        let bytes = report.to_bytes();
        assert_eq!(bytes.len(), REPORT_LEN);
        assert_eq!(SensingReport::from_bytes(&bytes).unwrap(), report);
        let mut bad = bytes.clone();
        bad[0] = 2;
        assert!(matches!(
            SensingReport::from_bytes(&bad),
            Err(Error::InvalidEncoding {
                field: "report.decision",
                ..
            })
        ));
        let key = *SecretKey::from_seed(&[1; 32]).unwrap().public_key();
        let task = Task {
            id: 3,
            channel: 1,
            round: 9,
            issuer: key.address(),
            timeline: TaskTimeline::new(10, 1, 2, 3, 4).unwrap(),
            phase: TaskPhase::Revealing,
            registrations: vec![Registration {
                account: key.address(),
                key: key.to_bytes(),
                deposit: 5,
                bought_in: true,
                buy_in: 6,
                status: RegistrationStatus::Selected,
            }],
            ring: vec![key.to_bytes()],
            reports: Vec::new(),
            decision: Some(Decision {
                busy: false,
                reports: 0,
                busy_reports: 0,
                reason: FuseReason::NoReports,
            }),
        };
        assert_eq!(Task::from_bytes(&task.to_bytes()).unwrap(), task);
        assert_eq!(task.locked().unwrap(), 11);
    }
}
