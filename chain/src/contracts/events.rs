//! Typed contract events: what every step of a round did, for receipts, nodes and dashboards.
//!
//! Purpose: contracts change state silently inside `apply_block`; the events say what happened
//! in terms a dashboard can show (task opened, sensors selected, report accepted, channel
//! fused busy, auction won at a price, lease suspended, ...). Data flow: a contract call or the
//! end-of-block hook returns [`ContractEvent`]s; [`crate::transition::apply_block`] wraps each
//! in an [`EventRecord`] naming its origin (transaction index or end of block) and returns them
//! in the block's [`crate::Receipt`], in execution order. Events are derived data: they are not
//! part of the state root, and every node recomputes the same list when it applies the block.
//!
//! Anonymity: [`ContractEvent::ReportAccepted`] names the report's key image, never an account;
//! the link to an account appears only in [`ContractEvent::Revealed`], after fusion.
#![deny(clippy::float_arithmetic)]

use fusion::Fx;
use serde::Serialize;

use crate::contracts::csc::GridCell;
use crate::crypto::{Address, BlindedBid, KeyImage, PublicKey};

/// Where an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventOrigin {
    /// The transaction at this index of the block body.
    Tx {
        /// Position in the body.
        index: usize,
    },
    /// The end-of-block hook (height-triggered phase changes).
    EndOfBlock,
}

/// An event with its origin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventRecord {
    /// Transaction or end-of-block hook.
    pub origin: EventOrigin,
    /// What happened.
    pub event: ContractEvent,
}

/// An amount paid to (or taken from) an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Payment {
    /// The account.
    pub account: Address,
    /// Base units.
    pub amount: u128,
}

/// How a selected sensor's round went, as the settlement scored it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SensorOutcome {
    /// Revealed a report that agreed with the fused decision: right, deposit refunded, rewarded.
    Right,
    /// Revealed a report that disagreed: wrong, deposit slashed.
    Wrong,
    /// Selected but no report linked to it (silent, or never revealed): wrong, deposit slashed.
    Silent,
}

/// One selected sensor's trust change at settlement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TrustUpdate {
    /// The sensor.
    pub account: Address,
    /// How its round was scored.
    pub outcome: SensorOutcome,
    /// Trust before the update.
    pub before: Fx,
    /// Trust after it.
    pub after: Fx,
}

/// Why a fused decision was what it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FuseReason {
    /// The configured fusion rule over the accepted reports.
    Rule,
    /// Sensors were selected but none reported: busy, to protect the licensee.
    NoReports,
    /// Fewer than two sensors were selected (a ring of one would name its signer), so no
    /// report could be taken: busy, to protect the licensee.
    TooFewSensors,
}

/// Why an idle channel was not auctioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// A lease is in force beyond the renewal window.
    Leased {
        /// Height at which it expires.
        until: u64,
    },
    /// A lease is already queued to follow the current one.
    LeasePending,
    /// An earlier auction on the channel has not settled yet.
    AuctionRunning {
        /// That auction.
        auction: u64,
    },
}

/// Everything the contracts report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ContractEvent {
    // ---- CSC ----
    /// Phase 1: the task issuer opened a sensing task (its windows in absolute heights).
    TaskOpened {
        /// Task id (also the ring signature's event task id).
        task: u64,
        /// Channel index in the band plan.
        channel: u32,
        /// The channel's round number (the ring signature's event round).
        round: u64,
        /// The task issuer.
        issuer: Address,
        /// Last height that takes registrations and buy-ins; selection at its end.
        registration_close: u64,
        /// Last height that takes reports; fusion at its end.
        deadline: u64,
        /// Last height that takes identity reveals; settlement at its end.
        reveal_end: u64,
    },
    /// Phase 2: a sensor registered and locked its deposit.
    Registered {
        /// Task.
        task: u64,
        /// Sensor.
        account: Address,
        /// Deposit locked.
        deposit: u128,
    },
    /// Phase 2: a sensor below the trust threshold locked the buy-in.
    BoughtIn {
        /// Task.
        task: u64,
        /// Sensor.
        account: Address,
        /// Extra deposit locked.
        amount: u128,
    },
    /// Phase 3: selection at the registration close; the ring is the selected keys in
    /// canonical order. Unselected registrations are refunded.
    Selected {
        /// Task.
        task: u64,
        /// Selected accounts, in selection order.
        sensors: Vec<Address>,
        /// The task's ring (empty if fewer than two were selected: the task takes no reports).
        ring: Vec<PublicKey>,
        /// Deposits returned to registrations that were not selected.
        refunds: Vec<Payment>,
    },
    /// Phase 4: an anonymous report was accepted (no account named).
    ReportAccepted {
        /// Task.
        task: u64,
        /// The signer's key image for this task.
        key_image: KeyImage,
        /// Busy (true) or idle.
        decision: bool,
        /// Normalised energy, milli-dB.
        energy_mdb: i32,
        /// Coarse location (unlinked to any account until the reveal).
        cell: GridCell,
    },
    /// Phase 4: fusion at the deadline.
    Fused {
        /// Task.
        task: u64,
        /// Channel.
        channel: u32,
        /// The decision: busy (primary user present) or idle.
        busy: bool,
        /// Reports fused.
        reports: u32,
        /// Of which busy.
        busy_reports: u32,
        /// Rule, or the protective default.
        reason: FuseReason,
    },
    /// Phase 6: a sensor opened its identity commitment: report linked to account.
    Revealed {
        /// Task.
        task: u64,
        /// Sensor.
        account: Address,
        /// The report's key image.
        key_image: KeyImage,
        /// The report's coarse location, now linked to the account.
        cell: GridCell,
    },
    /// Phase 6: trust updates, refunds, slashes and rewards.
    Settled {
        /// Task.
        task: u64,
        /// Channel.
        channel: u32,
        /// The fused decision everyone was scored against.
        busy: bool,
        /// Trust changes of the selected sensors.
        trust: Vec<TrustUpdate>,
        /// Accounts that took a non-participating round (`skip_round`).
        skipped: u64,
        /// Deposits returned to consistent sensors.
        refunds: Vec<Payment>,
        /// Deposits taken from inconsistent, silent or unrevealed sensors.
        slashes: Vec<Payment>,
        /// Rewards paid to consistent sensors (minted part plus redistributed slashes).
        rewards: Vec<Payment>,
        /// Newly minted Sharecoin in `rewards`.
        minted: u128,
        /// Paid to the MNO (slashes under the MNO policy, or the undistributable remainder).
        to_mno: u128,
    },
    /// A settled task's retained record was removed.
    TaskClosed {
        /// Task.
        task: u64,
    },

    // ---- SAC ----
    /// Phase 5: an idle decision opened an auction for the channel (absolute heights).
    AuctionOpened {
        /// Auction id (the CSC task's id).
        auction: u64,
        /// Channel.
        channel: u32,
        /// Last height that takes commits.
        commit_end: u64,
        /// Last height that takes reveals; settlement at its end.
        reveal_end: u64,
        /// Height at whose end the auction's state is removed.
        expiry: u64,
        /// Reserve price.
        reserve: u128,
        /// Smallest deposit per commit.
        min_deposit: u128,
    },
    /// Phase 5: an idle channel was not auctioned.
    AuctionSkipped {
        /// The task whose idle decision would have opened it.
        task: u64,
        /// Channel.
        channel: u32,
        /// Why.
        reason: SkipReason,
    },
    /// A bidder committed a blinded bid with its deposit.
    BidCommitted {
        /// Auction.
        auction: u64,
        /// Bidder.
        bidder: Address,
        /// The blinded bid.
        blinded: BlindedBid,
        /// Deposit locked with it.
        deposit: u128,
    },
    /// A bidder opened some of its commits.
    BidsRevealed {
        /// Auction.
        auction: u64,
        /// Bidder.
        bidder: Address,
        /// Commits opened by this call.
        bids: u32,
    },
    /// The auction cleared: the highest valid bid wins at the second price.
    AuctionSettled {
        /// Auction.
        auction: u64,
        /// Channel.
        channel: u32,
        /// Winner, if any valid bid.
        winner: Option<Address>,
        /// Price paid (max(second-highest valid bid, reserve)); 0 without a winner.
        price: u128,
        /// Deposits returned (losing, fake and invalid-but-revealed bids; the winner's change).
        refunds: Vec<Payment>,
        /// Deposits of unrevealed commits, forfeited to the MNO.
        forfeited: u128,
        /// Paid to the MNO: price plus forfeits.
        revenue: u128,
    },
    /// The auction's state was removed at its expiry (the paper's self-destruct).
    AuctionExpired {
        /// Auction.
        auction: u64,
    },

    // ---- Lease ----
    /// A lease was granted (possibly queued to start when the current one expires).
    LeaseGranted {
        /// Channel.
        channel: u32,
        /// The MO.
        holder: Address,
        /// The auction it was won in.
        auction: u64,
        /// First height of the term.
        start: u64,
        /// Height at whose end it expires.
        expires: u64,
        /// Clearing price paid, base units.
        price: u128,
        /// Clearing price per unit bandwidth, normalised (paper B's p_s, in [0, 1]).
        p_s: Fx,
        /// The MO's optimal service price p_M* (paper B), if the economics solved.
        p_m: Option<Fx>,
        /// The MO's optimal mining share m* (paper B), if the economics solved.
        m: Option<Fx>,
    },
    /// The lease may transmit (CBRS "authorized").
    LeaseAuthorized {
        /// Channel.
        channel: u32,
        /// The MO.
        holder: Address,
    },
    /// A later round found the primary user active: transmission suspended.
    LeaseSuspended {
        /// Channel.
        channel: u32,
        /// The MO.
        holder: Address,
        /// The task whose busy decision suspended it.
        task: u64,
    },
    /// A later round found the channel idle again: suspension lifted.
    LeaseResumed {
        /// Channel.
        channel: u32,
        /// The MO.
        holder: Address,
        /// The task whose idle decision lifted it.
        task: u64,
    },
    /// The holder won the next auction: its term was extended.
    LeaseRenewed {
        /// Channel.
        channel: u32,
        /// The MO.
        holder: Address,
        /// The auction it was won in.
        auction: u64,
        /// New expiry height.
        expires: u64,
        /// Price paid for the extension.
        price: u128,
    },
    /// The holder's heartbeat: authorized until `transmit_expire`.
    LeaseHeartbeat {
        /// Channel.
        channel: u32,
        /// The MO.
        holder: Address,
        /// Last height covered by this heartbeat.
        transmit_expire: u64,
    },
    /// No heartbeat in time: back to granted (not transmitting).
    LeaseHeartbeatLapsed {
        /// Channel.
        channel: u32,
        /// The MO.
        holder: Address,
    },
    /// The term ended.
    LeaseExpired {
        /// Channel.
        channel: u32,
        /// The MO.
        holder: Address,
    },
}
