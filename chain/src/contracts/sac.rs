//! The spectrum auction contract (SAC, paper A VI-A; SPEC 6): a sealed-bid, second-price
//! auction of an idle channel, tied to the CSC task whose fusion found it idle.
//!
//! Data flow: the CSC's idle decision opens an [`Auction`] (numbered by the task,
//! [`super::auction_contract`]) unless the channel's lease or an earlier auction is in the way
//! (`open_after_idle`); bidders [`commit`] blinded bids
//! ([`crate::crypto::BlindedBid`] = `hash(trustband/v1/bid, [value, fake, secret])`), several
//! each, every commit locking its own deposit; after the commit window they [`reveal`]
//! `(value, fake, secret)` per commit; at the end of the reveal window [`clear`] decides and
//! the hook pays: the winner's lease is granted through [`super::lease`]; at the expiry the
//! state is removed (the paper's self-destruct).
//!
//! Clearing rules ([`clear`], property-tested):
//! - a bid is *valid* iff revealed, not fake, `value <= its commit's deposit` (the deposit is
//!   what backs it) and `value >= reserve`;
//! - each bidder's best valid bid counts (its largest value; the earlier commit on a tie);
//! - the highest best bid wins; equal values go to the earlier commit (commit order is block
//!   order, then order within the block);
//! - the winner pays `max(second-highest other bidder's best valid bid, reserve)`, so on a tie
//!   it pays the tied value;
//! - the winner's commit returns `deposit - price`; every other revealed commit (fake, invalid,
//!   losing, the winner's other bids) returns its whole deposit; unrevealed commits forfeit
//!   their deposit; price and forfeits go to the MNO.
//!
//! The blinded hash binds no bidder, so a commit whose blinded hash the auction already holds
//! is refused ([`Error::DuplicateCommit`]): otherwise a copy could be revealed after the
//! original was. A reveal opens only the caller's own commits.
//!
//! Encoding of an [`Auction`]: `id u64 || channel u32 || created, commit_end, reveal_end,
//! expiry u64 || reserve u128 || min_deposit u128 || u32 n × commit (bidder 20 || blinded 32 ||
//! deposit u128 || opening opt (value u128 || fake u8)) || result opt (winner opt address ||
//! price u128)`.
#![deny(clippy::float_arithmetic)]

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::csc::Registry;
use super::events::{ContractEvent, Payment, SkipReason};
use super::round::{AuctionStage, AuctionTimeline};
use super::{
    ExecCtx, HookCtx, auction_contract, check_funds, credit, debit, get_bool, get_opt_address,
    lease, load, put_bool, put_opt_address, store,
};
use crate::codec::{Decode, Encode, Put, Reader};
use crate::crypto::{Address, BidSecret, BlindedBid, PublicKey};
use crate::error::Error;
use crate::state::State;

/// Most commits one auction holds.
pub const MAX_COMMITS: u32 = 65_536;

/// The SAC's parameters (windows relative to the fusion height `f` that opened it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SacParams {
    /// Commits at heights `f+1 ..= f+commit_len` (>= 1).
    pub commit_len: u64,
    /// Reveals for `reveal_len` blocks after the commit window (>= 1); settlement at its end.
    pub reveal_len: u64,
    /// The state is removed at the end of `f + expiry` (>= commit_len + reveal_len).
    pub expiry: u64,
    /// Most distinct bidders.
    pub max_bidders: u32,
    /// Most commits per bidder (real and fake together).
    pub max_commits: u32,
    /// Smallest deposit per commit (the paper's bid deposit).
    pub min_deposit: u128,
    /// Reserve price: smaller bids are invalid; the price is at least this.
    pub reserve: u128,
}

impl Default for SacParams {
    fn default() -> Self {
        Self {
            commit_len: 3,
            reveal_len: 3,
            expiry: 10,
            max_bidders: 16,
            max_commits: 4,
            min_deposit: 1_000_000_000,
            reserve: 1_000_000_000,
        }
    }
}

impl SacParams {
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
        if self.commit_len == 0 {
            return bad("contracts.sac.commit_len", "must be at least 1");
        }
        if self.reveal_len == 0 {
            return bad("contracts.sac.reveal_len", "must be at least 1");
        }
        if self.expiry < self.commit_len.saturating_add(self.reveal_len) {
            return bad(
                "contracts.sac.expiry",
                "must be at least commit_len + reveal_len",
            );
        }
        if self.max_bidders == 0 {
            return bad("contracts.sac.max_bidders", "must be at least 1");
        }
        if self.max_commits == 0 || self.max_commits > super::MAX_OPENINGS {
            return bad("contracts.sac.max_commits", "must be in 1..=256");
        }
        if u64::from(self.max_bidders).saturating_mul(u64::from(self.max_commits))
            > u64::from(MAX_COMMITS)
        {
            return bad(
                "contracts.sac.max_bidders",
                "max_bidders × max_commits must be at most 65,536",
            );
        }
        Ok(())
    }
}

/// One opening of a blinded bid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BidOpening {
    /// Bid value, base units.
    pub value: u128,
    /// Whether the bid was a decoy.
    pub fake: bool,
    /// The blinding secret.
    pub secret: BidSecret,
}

impl BidOpening {
    /// The blinded bid this opening opens.
    #[must_use]
    pub fn blinded(&self) -> BlindedBid {
        BlindedBid::new(self.value, self.fake, &self.secret)
    }
}

/// One commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BidCommit {
    /// The bidder.
    pub bidder: Address,
    /// Its blinded bid.
    pub blinded: BlindedBid,
    /// Deposit locked with it.
    pub deposit: u128,
    /// `(value, fake)` once revealed.
    pub opening: Option<(u128, bool)>,
}

/// The outcome of an auction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuctionResult {
    /// The winner, if any bid was valid.
    pub winner: Option<Address>,
    /// The price paid (0 without a winner).
    pub price: u128,
}

/// An auction instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auction {
    /// Auction id = the CSC task that found the channel idle.
    pub id: u64,
    /// Channel.
    pub channel: u32,
    /// Windows.
    pub timeline: AuctionTimeline,
    /// Reserve price.
    pub reserve: u128,
    /// Smallest deposit per commit.
    pub min_deposit: u128,
    /// Commits in arrival order (emptied at settlement, when every deposit is paid out).
    pub commits: Vec<BidCommit>,
    /// Set at settlement.
    pub result: Option<AuctionResult>,
}

impl Auction {
    /// Sharecoin the auction holds (deposits of commits not yet settled).
    ///
    /// # Errors
    ///
    /// [`Error::Overflow`].
    pub fn locked(&self) -> Result<u128, Error> {
        self.commits.iter().try_fold(0u128, |acc, c| {
            acc.checked_add(c.deposit).ok_or(Error::Overflow {
                what: "bid deposits",
            })
        })
    }
}

impl Encode for Auction {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.put_u64(self.id);
        out.put_u32(self.channel);
        let t = &self.timeline;
        for h in [t.created, t.commit_end, t.reveal_end, t.expiry] {
            out.put_u64(h);
        }
        out.put_u128(self.reserve);
        out.put_u128(self.min_deposit);
        out.put_len(self.commits.len());
        for c in &self.commits {
            out.put_raw(c.bidder.as_bytes());
            out.put_raw(c.blinded.as_bytes());
            out.put_u128(c.deposit);
            match c.opening {
                None => out.put_u8(0),
                Some((value, fake)) => {
                    out.put_u8(1);
                    out.put_u128(value);
                    put_bool(out, fake);
                }
            }
        }
        match self.result {
            None => out.put_u8(0),
            Some(r) => {
                out.put_u8(1);
                put_opt_address(out, r.winner.as_ref());
                out.put_u128(r.price);
            }
        }
    }
}

impl Decode for Auction {
    const NAME: &'static str = "auction";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, Error> {
        let id = r.u64("auction.id")?;
        let channel = r.u32("auction.channel")?;
        let timeline = AuctionTimeline {
            created: r.u64("auction.created")?,
            commit_end: r.u64("auction.commit_end")?,
            reveal_end: r.u64("auction.reveal_end")?,
            expiry: r.u64("auction.expiry")?,
        };
        let reserve = r.u128("auction.reserve")?;
        let min_deposit = r.u128("auction.min_deposit")?;
        let n = r.len("auction.commits", MAX_COMMITS, 20 + 32 + 16 + 1)?;
        let mut commits = Vec::with_capacity(n);
        for _ in 0..n {
            let bidder = r.address("auction.commit.bidder")?;
            let blinded = BlindedBid::from_bytes(r.array("auction.commit.blinded")?);
            let deposit = r.u128("auction.commit.deposit")?;
            let opening = if get_bool(r, "auction.commit.opening")? {
                Some((
                    r.u128("auction.commit.value")?,
                    get_bool(r, "auction.commit.fake")?,
                ))
            } else {
                None
            };
            commits.push(BidCommit {
                bidder,
                blinded,
                deposit,
                opening,
            });
        }
        let result = if get_bool(r, "auction.result")? {
            Some(AuctionResult {
                winner: get_opt_address(r, "auction.result.winner")?,
                price: r.u128("auction.result.price")?,
            })
        } else {
            None
        };
        Ok(Self {
            id,
            channel,
            timeline,
            reserve,
            min_deposit,
            commits,
            result,
        })
    }
}

/// The clearing of a set of commits ([`clear`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clearing {
    /// Index of the winning commit and its bidder.
    pub winner: Option<(usize, Address)>,
    /// Price paid by the winner (0 without one).
    pub price: u128,
    /// Per commit (same order as the input): what returns to its bidder.
    pub refunds: Vec<u128>,
    /// Deposits of unrevealed commits.
    pub forfeited: u128,
}

/// Whether a commit is a valid bid under `reserve`: revealed, real, backed by its deposit,
/// at least the reserve. Returns its value.
#[must_use]
pub fn valid_bid(commit: &BidCommit, reserve: u128) -> Option<u128> {
    match commit.opening {
        Some((value, false)) if value <= commit.deposit && value >= reserve => Some(value),
        _ => None,
    }
}

/// Clears an auction (see the module docs for the rules). Pure.
///
/// # Errors
///
/// [`Error::Overflow`] summing forfeits.
pub fn clear(commits: &[BidCommit], reserve: u128) -> Result<Clearing, Error> {
    // Each bidder's best valid bid: (value, commit index), larger value first, earlier index
    // on a tie.
    let mut best: BTreeMap<Address, (u128, usize)> = BTreeMap::new();
    for (i, c) in commits.iter().enumerate() {
        if let Some(v) = valid_bid(c, reserve) {
            let entry = best.entry(c.bidder).or_insert((v, i));
            if v > entry.0 {
                *entry = (v, i);
            }
        }
    }
    let mut ranked: Vec<(u128, usize, Address)> =
        best.into_iter().map(|(a, (v, i))| (v, i, a)).collect();
    // Value descending, then earlier commit.
    ranked.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)));
    let winner = ranked.first().map(|&(_, i, a)| (i, a));
    let price = match ranked.first() {
        None => 0,
        Some(_) => ranked.get(1).map_or(reserve, |s| s.0.max(reserve)),
    };
    let mut refunds = Vec::with_capacity(commits.len());
    let mut forfeited: u128 = 0;
    for (i, c) in commits.iter().enumerate() {
        if c.opening.is_none() {
            forfeited = forfeited
                .checked_add(c.deposit)
                .ok_or(Error::Overflow { what: "forfeits" })?;
            refunds.push(0);
        } else if winner.is_some_and(|(w, _)| w == i) {
            // value <= deposit and price <= value, so this cannot underflow.
            refunds.push(c.deposit.saturating_sub(price));
        } else {
            refunds.push(c.deposit);
        }
    }
    Ok(Clearing {
        winner,
        price,
        refunds,
        forfeited,
    })
}

fn load_auction(state: &State, id: u64) -> Result<Auction, Error> {
    let cid = auction_contract(id);
    load::<Auction>(state, &cid)?.ok_or(Error::UnknownContract { contract: cid })
}

/// Commits a blinded bid with its deposit.
///
/// # Errors
///
/// [`Error::UnknownContract`], [`Error::OutOfPhase`] (cannot happen: commits open with the
/// auction), [`Error::Late`], [`Error::DepositTooSmall`], [`Error::DuplicateCommit`],
/// [`Error::CapacityReached`] (bidders, commits per bidder), [`Error::InsufficientFunds`].
pub fn commit(
    state: &mut State,
    sender: &PublicKey,
    id: u64,
    blinded: BlindedBid,
    deposit: u128,
    ctx: &ExecCtx<'_>,
) -> Result<Vec<ContractEvent>, Error> {
    let p = &ctx.params.contracts.sac;
    let mut auction = load_auction(state, id)?;
    auction
        .timeline
        .require("commit", id, ctx.height, AuctionStage::Commit)?;
    if deposit < auction.min_deposit {
        return Err(Error::DepositTooSmall {
            task: id,
            minimum: auction.min_deposit,
            got: deposit,
        });
    }
    if auction.commits.iter().any(|c| c.blinded == blinded) {
        return Err(Error::DuplicateCommit { task: id, blinded });
    }
    let who = sender.address();
    let bidders: BTreeSet<Address> = auction.commits.iter().map(|c| c.bidder).collect();
    if !bidders.contains(&who) && bidders.len() >= usize::try_from(p.max_bidders).unwrap_or(0) {
        return Err(Error::CapacityReached {
            what: "bidders",
            task: id,
            limit: u64::from(p.max_bidders),
        });
    }
    let mine = auction.commits.iter().filter(|c| c.bidder == who).count();
    if mine >= usize::try_from(p.max_commits).unwrap_or(0) {
        return Err(Error::CapacityReached {
            what: "commits per bidder",
            task: id,
            limit: u64::from(p.max_commits),
        });
    }
    check_funds(state, &who, deposit)?;
    auction.commits.push(BidCommit {
        bidder: who,
        blinded,
        deposit,
        opening: None,
    });
    store(state, auction_contract(id), &auction)?;
    debit(state, &who, deposit)?;
    Ok(vec![ContractEvent::BidCommitted {
        auction: id,
        bidder: who,
        blinded,
        deposit,
    }])
}

/// Opens some of the caller's commits (all or nothing).
///
/// # Errors
///
/// [`Error::UnknownContract`], [`Error::OutOfPhase`], [`Error::Late`], [`Error::InvalidCall`]
/// (no openings), [`Error::CommitmentMismatch`] (kind `bid`: no commit of the caller has this
/// blinded hash), [`Error::AlreadyRevealed`].
pub fn reveal(
    state: &mut State,
    sender: &PublicKey,
    id: u64,
    openings: &[BidOpening],
    ctx: &ExecCtx<'_>,
) -> Result<Vec<ContractEvent>, Error> {
    let mut auction = load_auction(state, id)?;
    auction
        .timeline
        .require("reveal_bids", id, ctx.height, AuctionStage::Reveal)?;
    if openings.is_empty() {
        return Err(Error::InvalidCall {
            field: "openings",
            reason: "nothing to reveal",
        });
    }
    let who = sender.address();
    for o in openings {
        let blinded = o.blinded();
        let commit = auction
            .commits
            .iter_mut()
            .find(|c| c.bidder == who && c.blinded == blinded)
            .ok_or(Error::CommitmentMismatch { kind: "bid" })?;
        if commit.opening.is_some() {
            return Err(Error::AlreadyRevealed {
                task: id,
                account: who,
            });
        }
        commit.opening = Some((o.value, o.fake));
    }
    store(state, auction_contract(id), &auction)?;
    Ok(vec![ContractEvent::BidsRevealed {
        auction: id,
        bidder: who,
        bids: u32::try_from(openings.len()).unwrap_or(u32::MAX),
    }])
}

/// After an idle decision on `channel` by `task`: opens the channel's auction unless a lease
/// or an unsettled auction is in the way (then says why).
pub(crate) fn open_after_idle(
    state: &mut State,
    registry: &mut Registry,
    channel: u32,
    task: u64,
    ctx: &HookCtx<'_>,
    events: &mut Vec<ContractEvent>,
) -> Result<(), Error> {
    let record = registry.channel_mut(channel)?;
    let skip = match record.open_auction {
        Some(auction) => Some(SkipReason::AuctionRunning { auction }),
        None => lease::blocks_auction(state, channel, ctx)?,
    };
    if let Some(reason) = skip {
        events.push(ContractEvent::AuctionSkipped {
            task,
            channel,
            reason,
        });
        return Ok(());
    }
    let p = &ctx.params.contracts.sac;
    let timeline = AuctionTimeline::new(ctx.height, p.commit_len, p.reveal_len, p.expiry)?;
    let auction = Auction {
        id: task,
        channel,
        timeline,
        reserve: p.reserve,
        min_deposit: p.min_deposit,
        commits: Vec::new(),
        result: None,
    };
    store(state, auction_contract(task), &auction)?;
    record.open_auction = Some(task);
    events.push(ContractEvent::AuctionOpened {
        auction: task,
        channel,
        commit_end: timeline.commit_end,
        reveal_end: timeline.reveal_end,
        expiry: timeline.expiry,
        reserve: p.reserve,
        min_deposit: p.min_deposit,
    });
    Ok(())
}

/// Settlement at the end of the reveal window, removal at the expiry.
pub(crate) fn on_block_end(
    state: &mut State,
    id: u64,
    ctx: &HookCtx<'_>,
    events: &mut Vec<ContractEvent>,
) -> Result<(), Error> {
    let cid = auction_contract(id);
    let Some(mut auction) = load::<Auction>(state, &cid)? else {
        return Ok(());
    };
    let h = ctx.height;
    let mut changed = false;
    if auction.result.is_none() && h >= auction.timeline.reveal_end {
        settle(state, &mut auction, ctx, events)?;
        changed = true;
    }
    if auction.result.is_some() && h >= auction.timeline.expiry {
        state.set_contract_state(cid, Vec::new())?;
        events.push(ContractEvent::AuctionExpired { auction: id });
        return Ok(());
    }
    if changed {
        store(state, cid, &auction)?;
    }
    Ok(())
}

fn settle(
    state: &mut State,
    auction: &mut Auction,
    ctx: &HookCtx<'_>,
    events: &mut Vec<ContractEvent>,
) -> Result<(), Error> {
    let cp = &ctx.params.contracts;
    let clearing = clear(&auction.commits, auction.reserve)?;
    // Refunds aggregated per bidder, in order of first commit.
    let mut refunds: Vec<Payment> = Vec::new();
    for (c, &amount) in auction.commits.iter().zip(&clearing.refunds) {
        if amount == 0 {
            continue;
        }
        match refunds.iter_mut().find(|p| p.account == c.bidder) {
            Some(p) => {
                p.amount = p
                    .amount
                    .checked_add(amount)
                    .ok_or(Error::Overflow { what: "refunds" })?;
            }
            None => refunds.push(Payment {
                account: c.bidder,
                amount,
            }),
        }
    }
    for p in &refunds {
        credit(state, p.account, p.amount, ctx.params)?;
    }
    let revenue = clearing
        .price
        .checked_add(clearing.forfeited)
        .ok_or(Error::Overflow { what: "revenue" })?;
    credit(state, cp.mno, revenue, ctx.params)?;
    let winner = clearing.winner.map(|(_, a)| a);
    auction.result = Some(AuctionResult {
        winner,
        price: clearing.price,
    });
    auction.commits.clear();
    let mut registry = Registry::load(state, cp)?;
    let record = registry.channel_mut(auction.channel)?;
    if record.open_auction == Some(auction.id) {
        record.open_auction = None;
    }
    store(state, super::REGISTRY, &registry)?;
    events.push(ContractEvent::AuctionSettled {
        auction: auction.id,
        channel: auction.channel,
        winner,
        price: clearing.price,
        refunds,
        forfeited: clearing.forfeited,
        revenue,
    });
    if let Some(holder) = winner {
        lease::grant(
            state,
            auction.channel,
            holder,
            auction.id,
            clearing.price,
            ctx,
            events,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn c(bidder: u8, deposit: u128, opening: Option<(u128, bool)>) -> BidCommit {
        BidCommit {
            bidder: Address::from_bytes([bidder; 20]),
            blinded: BlindedBid::from_bytes([0; 32]),
            deposit,
            opening,
        }
    }

    #[test]
    fn paper_example_second_price() {
        // Paper A, Table III: bidder 1 real 100 (fake 200), bidder 2 real 150 (fake 300).
        let commits = [
            c(1, 100, Some((100, false))),
            c(1, 200, Some((200, true))),
            c(2, 150, Some((150, false))),
            c(2, 300, Some((300, true))),
        ];
        let cl = clear(&commits, 0).unwrap();
        assert_eq!(cl.winner, Some((2, Address::from_bytes([2; 20]))));
        assert_eq!(cl.price, 100);
        assert_eq!(cl.refunds, vec![100, 200, 50, 300]);
        assert_eq!(cl.forfeited, 0);
    }

    #[test]
    fn reserve_overdraft_ties_and_forfeits() {
        // A bid above its deposit is invalid; a tie goes to the earlier commit at the tied
        // price; unrevealed deposits are forfeited; a lone bid pays the reserve.
        let commits = [
            c(1, 50, Some((80, false))),
            c(2, 90, Some((70, false))),
            c(3, 70, Some((70, false))),
            c(4, 40, None),
        ];
        let cl = clear(&commits, 10).unwrap();
        assert_eq!(cl.winner.map(|w| w.0), Some(1));
        assert_eq!(cl.price, 70);
        assert_eq!(cl.refunds, vec![50, 20, 70, 0]);
        assert_eq!(cl.forfeited, 40);
        let lone = clear(&[c(1, 50, Some((30, false)))], 10).unwrap();
        assert_eq!((lone.price, lone.refunds.clone()), (10, vec![40]));
        let none = clear(&[c(1, 50, Some((5, false)))], 10).unwrap();
        assert_eq!((none.winner, none.price), (None, 0));
    }
}
