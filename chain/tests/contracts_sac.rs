//! The spectrum auction contract through real blocks: paper A's example (two bidders, a real
//! and a fake bid each) clears at the second price with exact refunds, MNO revenue and the
//! winner's lease; forfeits, no-winner auctions, expiry (self-destruct), skipped auctions;
//! one test per typed rejection; and property tests that the clearing is the second price
//! with exact refunds and forfeits for random bid sets, both for the pure clearing function
//! and through the contract.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod contracts_support;

use chain::contracts::events::{ContractEvent, Payment, SkipReason};
use chain::contracts::sac::{BidCommit, clear, valid_bid};
use chain::contracts::{BidOpening, Call, ContractParams, auction_contract};
use chain::crypto::{Address, BidSecret, BlindedBid};
use chain::{Error, SignedTx};
use contracts_support::{Lab, chain_params, fx, test_contracts};
use fusion::SelectionScheme;
use proptest::prelude::*;

const MNO: usize = 8;
const A: usize = 6;
const B: usize = 7;
const THIRD: usize = 4;
const POOR: usize = 5;

fn lab_with(edit: impl FnOnce(&mut ContractParams)) -> Lab {
    let trusts = ["0.9", "0.6", "0.6", "0.6", "0", "0", "0", "0", "0"].map(fx);
    let mut balances = [10_000u128; 9];
    balances[POOR] = 30;
    let mno = chain::devnet::devnet_key(MNO as u64).unwrap().address();
    let mut contracts = test_contracts(mno);
    contracts.csc.selection = SelectionScheme::Random;
    edit(&mut contracts);
    Lab::new(chain_params(contracts), &trusts, &balances)
}

fn lab() -> Lab {
    lab_with(|_| {})
}

/// An idle round on channel 0: the auction (id = task) is open for commits next block.
fn idle_auction(lab: &mut Lab) -> u64 {
    let (task, events) = lab.sensed(0, &[1, 2, 3], false);
    assert!(events.iter().any(|e| matches!(
        e,
        ContractEvent::AuctionOpened { auction, .. } if *auction == task
    )));
    task
}

fn opening(lab: &mut Lab, value: u128, fake: bool) -> BidOpening {
    BidOpening {
        value,
        fake,
        secret: BidSecret::generate(&mut lab.rng),
    }
}

fn commit(lab: &mut Lab, who: usize, auction: u64, o: &BidOpening, deposit: u128) -> SignedTx {
    lab.call(
        who,
        auction_contract(auction),
        &Call::Commit {
            blinded: o.blinded(),
            deposit,
        },
    )
}

fn reveal(lab: &mut Lab, who: usize, auction: u64, openings: Vec<BidOpening>) -> SignedTx {
    lab.call(
        who,
        auction_contract(auction),
        &Call::RevealBids { openings },
    )
}

/// Includes `tx` (which must fail) and returns its error, checking only fee and nonce moved.
fn failed_call(lab: &mut Lab, sender: usize, tx: SignedTx) -> Error {
    let (balance, nonce) = (lab.balance(sender), lab.state.nonce(&lab.address(sender)));
    let applied = lab.block(&[tx]);
    assert_eq!(lab.state.nonce(&lab.address(sender)), nonce + 1);
    assert_eq!(lab.balance(sender), balance - 1);
    applied.failure()
}

#[test]
fn paper_example_clears_at_the_second_price_and_grants_the_lease() {
    let mut lab = lab();
    let id = idle_auction(&mut lab);
    let supply = lab.supply();
    let (a_real, a_fake) = (opening(&mut lab, 100, false), opening(&mut lab, 200, true));
    let (b_real, b_fake) = (opening(&mut lab, 150, false), opening(&mut lab, 300, true));
    let txs = [
        commit(&mut lab, A, id, &a_real, 100),
        commit(&mut lab, A, id, &a_fake, 200),
        commit(&mut lab, B, id, &b_real, 150),
        commit(&mut lab, B, id, &b_fake, 300),
    ];
    let applied = lab.block(&txs);
    assert!(
        applied.receipt.failed.is_empty(),
        "{:?}",
        applied.receipt.failed
    );
    assert_eq!(lab.balance(A), 10_000 - 2 - 300);
    assert_eq!(lab.auction(id).unwrap().locked().unwrap(), 750);
    let txs = [
        reveal(&mut lab, A, id, vec![a_real, a_fake]),
        reveal(&mut lab, B, id, vec![b_fake, b_real]),
    ];
    let mno_before = lab.balance(MNO);
    let events = lab.block(&txs).events();
    let (a, b) = (lab.address(A), lab.address(B));
    assert!(events.contains(&ContractEvent::AuctionSettled {
        auction: id,
        channel: 0,
        winner: Some(b),
        price: 100,
        refunds: vec![
            Payment {
                account: a,
                amount: 300
            },
            Payment {
                account: b,
                amount: 350
            }
        ],
        forfeited: 0,
        revenue: 100,
    }));
    // Two commits and one reveal each cost three fees.
    assert_eq!(lab.balance(A), 10_000 - 3);
    assert_eq!(lab.balance(B), 10_000 - 3 - 100);
    assert_eq!(lab.balance(MNO), mno_before + 100);
    // Lease: 100 for 2 MHz at 1000 per MHz for p_s = 1 -> p_s = 0.05. SPEC 7 (p_w 0.1,
    // γ 0.7) gives p_M* = 0.1711 unconstrained, but its demand Q* = 2.008 exceeds the
    // channel's W = 2, so the capacity price binds: p_M = 1 + W - √(W² + 2W) = 3 - √8 =
    // 0.17157; m* = γ.
    let granted = events
        .iter()
        .find_map(|e| match e {
            ContractEvent::LeaseGranted {
                holder,
                start,
                expires,
                price,
                p_s,
                p_m,
                m,
                ..
            } => Some((*holder, *start, *expires, *price, *p_s, *p_m, *m)),
            _ => None,
        })
        .unwrap();
    assert_eq!(granted.0, b);
    assert_eq!((granted.1, granted.2, granted.3), (6, 10, 100));
    assert_eq!(granted.4, fx("0.05"));
    assert_eq!((granted.5.unwrap().raw() + 500) / 1000, 171_573);
    assert_eq!(granted.6, Some(fx("0.7")));
    assert!(events.contains(&ContractEvent::LeaseAuthorized {
        channel: 0,
        holder: b
    }));
    assert_eq!(lab.supply(), supply);
    // Self-destruct at the expiry (created 3 + 3).
    let events: Vec<_> = lab.skip(1).into_iter().map(|r| r.event).collect();
    assert!(events.contains(&ContractEvent::AuctionExpired { auction: id }));
    assert!(lab.auction(id).is_none());
}

#[test]
fn unrevealed_commits_forfeit_and_no_valid_bid_means_no_winner() {
    let mut lab = lab();
    let id = idle_auction(&mut lab);
    // A bids below the reserve (20), B never reveals.
    let (a_low, b_bid) = (opening(&mut lab, 15, false), opening(&mut lab, 90, false));
    let txs = [
        commit(&mut lab, A, id, &a_low, 40),
        commit(&mut lab, B, id, &b_bid, 90),
    ];
    lab.block(&txs);
    let tx = reveal(&mut lab, A, id, vec![a_low]);
    let mno = lab.balance(MNO);
    let events = lab.block(&[tx]).events();
    assert!(events.contains(&ContractEvent::AuctionSettled {
        auction: id,
        channel: 0,
        winner: None,
        price: 0,
        refunds: vec![Payment {
            account: lab.address(A),
            amount: 40
        }],
        forfeited: 90,
        revenue: 90,
    }));
    assert_eq!(lab.balance(MNO), mno + 90);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, ContractEvent::LeaseGranted { .. }))
    );
}

#[test]
fn busy_channel_is_not_auctioned() {
    let mut lab = lab();
    let (task, events) = lab.sensed(0, &[1, 2, 3], true);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, ContractEvent::AuctionOpened { .. }))
    );
    assert!(lab.auction(task).is_none());
}

#[test]
fn idle_channel_under_a_long_lease_or_a_running_auction_is_skipped() {
    // Long commit window: the first auction is still running when the next round fuses.
    let mut lab = lab_with(|c| {
        c.sac.commit_len = 4;
        c.sac.expiry = 6;
    });
    let first = idle_auction(&mut lab);
    let (second, events) = lab.sensed(0, &[1, 2, 3], false);
    assert!(events.contains(&ContractEvent::AuctionSkipped {
        task: second,
        channel: 0,
        reason: SkipReason::AuctionRunning { auction: first }
    }));
    // A lease in force beyond the renewal window also blocks the auction.
    let mut leased = lab_with(|c| c.lease.renew_window = 1);
    let id = idle_auction(&mut leased);
    let o = opening(&mut leased, 50, false);
    let tx = commit(&mut leased, A, id, &o, 50);
    leased.block(&[tx]);
    let tx = reveal(&mut leased, A, id, vec![o]);
    leased.block(&[tx]);
    // Lease expires at 10; the next round fuses at 8 (10 > 8 + 1).
    let (next, events) = leased.sensed(0, &[1, 2, 3], false);
    assert!(events.contains(&ContractEvent::AuctionSkipped {
        task: next,
        channel: 0,
        reason: SkipReason::Leased { until: 10 }
    }));
}

// ---- one test per typed rejection ----

#[test]
fn deposit_below_the_minimum_is_rejected() {
    let mut lab = lab();
    let id = idle_auction(&mut lab);
    let o = opening(&mut lab, 5, false);
    let tx = commit(&mut lab, A, id, &o, 5);
    assert_eq!(
        failed_call(&mut lab, A, tx),
        Error::DepositTooSmall {
            task: id,
            minimum: 10,
            got: 5
        }
    );
}

#[test]
fn copied_blinded_bid_is_rejected() {
    let mut lab = lab();
    let id = idle_auction(&mut lab);
    let o = opening(&mut lab, 50, false);
    let original = commit(&mut lab, A, id, &o, 50);
    let copy = commit(&mut lab, B, id, &o, 50);
    let applied = lab.block(&[original, copy]);
    assert_eq!(
        applied.failure(),
        Error::DuplicateCommit {
            task: id,
            blinded: o.blinded()
        }
    );
    assert_eq!(applied.receipt.failed[0].0, 1);
}

#[test]
fn bidders_beyond_the_maximum_are_rejected() {
    let mut lab = lab();
    let id = idle_auction(&mut lab);
    let (o1, o2, o3) = (
        opening(&mut lab, 30, false),
        opening(&mut lab, 31, false),
        opening(&mut lab, 32, false),
    );
    let txs = [
        commit(&mut lab, A, id, &o1, 30),
        commit(&mut lab, B, id, &o2, 31),
        commit(&mut lab, THIRD, id, &o3, 32),
    ];
    let applied = lab.block(&txs);
    assert_eq!(
        applied.failure(),
        Error::CapacityReached {
            what: "bidders",
            task: id,
            limit: 2
        }
    );
}

#[test]
fn commits_beyond_the_per_bidder_maximum_are_rejected() {
    let mut lab = lab();
    let id = idle_auction(&mut lab);
    let os: Vec<_> = (0..3).map(|i| opening(&mut lab, 30 + i, false)).collect();
    let txs: Vec<_> = os.iter().map(|o| commit(&mut lab, A, id, o, 40)).collect();
    let applied = lab.block(&txs);
    assert_eq!(
        applied.failure(),
        Error::CapacityReached {
            what: "commits per bidder",
            task: id,
            limit: 2
        }
    );
}

#[test]
fn under_funded_commit_is_rejected() {
    let mut lab = lab();
    let id = idle_auction(&mut lab);
    let o = opening(&mut lab, 50, false);
    let tx = commit(&mut lab, POOR, id, &o, 50);
    assert_eq!(
        failed_call(&mut lab, POOR, tx),
        Error::InsufficientFunds {
            account: lab.address(POOR),
            needed: 50,
            available: 29
        }
    );
}

#[test]
fn late_commit_is_rejected() {
    let mut lab = lab();
    let id = idle_auction(&mut lab);
    lab.skip(1);
    let o = opening(&mut lab, 50, false);
    let tx = commit(&mut lab, A, id, &o, 50);
    assert_eq!(
        failed_call(&mut lab, A, tx),
        Error::Late {
            call: "commit",
            task: id,
            height: 5,
            deadline: 4
        }
    );
}

#[test]
fn reveal_during_the_commit_window_is_out_of_phase() {
    let mut lab = lab();
    let id = idle_auction(&mut lab);
    let o = opening(&mut lab, 50, false);
    let c = commit(&mut lab, A, id, &o, 50);
    let r = reveal(&mut lab, A, id, vec![o]);
    let applied = lab.block(&[c, r]);
    assert_eq!(
        applied.failure(),
        Error::OutOfPhase {
            call: "reveal_bids",
            task: id,
            height: 4,
            opens: 5
        }
    );
}

#[test]
fn reveal_after_the_window_is_late() {
    let mut lab = lab_with(|c| c.sac.expiry = 4);
    let id = idle_auction(&mut lab);
    let o = opening(&mut lab, 50, false);
    let tx = commit(&mut lab, A, id, &o, 50);
    lab.block(&[tx]);
    lab.skip(1);
    let tx = reveal(&mut lab, A, id, vec![o]);
    assert_eq!(
        failed_call(&mut lab, A, tx),
        Error::Late {
            call: "reveal_bids",
            task: id,
            height: 6,
            deadline: 5
        }
    );
}

#[test]
fn wrong_opening_is_a_commitment_mismatch() {
    let mut lab = lab_with(|c| c.sac.reveal_len = 2);
    let id = idle_auction(&mut lab);
    let o = opening(&mut lab, 50, false);
    let tx = commit(&mut lab, A, id, &o, 50);
    lab.block(&[tx]);
    let mut lied = o.clone();
    lied.value = 60;
    let tx = reveal(&mut lab, A, id, vec![lied]);
    assert_eq!(
        failed_call(&mut lab, A, tx),
        Error::CommitmentMismatch { kind: "bid" }
    );
    // Nor can another bidder open A's commit.
    let tx = reveal(&mut lab, B, id, vec![o]);
    let applied = lab.block(&[tx]);
    assert_eq!(applied.failure(), Error::CommitmentMismatch { kind: "bid" });
}

#[test]
fn second_opening_of_a_commit_is_rejected() {
    let mut lab = lab_with(|c| c.sac.reveal_len = 2);
    let id = idle_auction(&mut lab);
    let o = opening(&mut lab, 50, false);
    let tx = commit(&mut lab, A, id, &o, 50);
    lab.block(&[tx]);
    let tx = reveal(&mut lab, A, id, vec![o.clone(), o]);
    assert_eq!(
        failed_call(&mut lab, A, tx),
        Error::AlreadyRevealed {
            task: id,
            account: lab.address(A)
        }
    );
    // All or nothing: the first opening of that call did not stick.
    assert_eq!(lab.auction(id).unwrap().commits[0].opening, None);
}

#[test]
fn empty_reveal_is_an_invalid_call() {
    let mut lab = lab();
    let id = idle_auction(&mut lab);
    lab.skip(1);
    let tx = reveal(&mut lab, A, id, Vec::new());
    assert_eq!(
        failed_call(&mut lab, A, tx),
        Error::InvalidCall {
            field: "openings",
            reason: "nothing to reveal"
        }
    );
}

// ---- property tests ----

fn arb_commits() -> impl Strategy<Value = (Vec<BidCommit>, u128)> {
    let commit = (
        0u8..4,
        1u128..200,
        prop_oneof![
            1 => Just(None),
            4 => (0u128..220, prop::bool::weighted(0.25)).prop_map(Some),
        ],
    )
        .prop_map(|(bidder, deposit, opening)| BidCommit {
            bidder: Address::from_bytes([bidder; 20]),
            blinded: BlindedBid::from_bytes([0; 32]),
            deposit,
            opening,
        });
    (prop::collection::vec(commit, 0..10), 0u128..60)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The clearing is the second price, deterministic on ties, and pays out exactly.
    #[test]
    fn clearing_is_second_price_with_exact_refunds((commits, reserve) in arb_commits()) {
        let cl = clear(&commits, reserve).unwrap();
        let valid: Vec<(usize, u128)> = commits
            .iter()
            .enumerate()
            .filter_map(|(i, c)| valid_bid(c, reserve).map(|v| (i, v)))
            .collect();
        match cl.winner {
            None => {
                prop_assert!(valid.is_empty());
                prop_assert_eq!(cl.price, 0);
            }
            Some((w, bidder)) => {
                let wv = valid.iter().find(|&&(i, _)| i == w).map(|&(_, v)| v).unwrap();
                prop_assert_eq!(commits[w].bidder, bidder);
                // Highest value; on a tie the earliest commit.
                for &(i, v) in &valid {
                    prop_assert!(v < wv || (v == wv && i >= w));
                }
                // Price: best valid bid of any other bidder, at least the reserve.
                let second = valid
                    .iter()
                    .filter(|&&(i, _)| commits[i].bidder != bidder)
                    .map(|&(_, v)| v)
                    .max();
                prop_assert_eq!(cl.price, second.unwrap_or(reserve).max(reserve));
                prop_assert!(cl.price <= wv);
            }
        }
        let mut forfeited = 0;
        for (i, c) in commits.iter().enumerate() {
            let expected = match (c.opening, cl.winner) {
                (None, _) => { forfeited += c.deposit; 0 }
                (Some(_), Some((w, _))) if w == i => c.deposit - cl.price,
                (Some(_), _) => c.deposit,
            };
            prop_assert_eq!(cl.refunds[i], expected);
        }
        prop_assert_eq!(cl.forfeited, forfeited);
        let deposits: u128 = commits.iter().map(|c| c.deposit).sum();
        let paid: u128 = cl.refunds.iter().sum::<u128>() + cl.price + cl.forfeited;
        prop_assert_eq!(paid, deposits);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Through the contract: random real/fake bids from two bidders, some unrevealed; the
    /// settlement event matches the clearing and every balance moves exactly.
    #[test]
    fn contract_settles_random_bids_at_the_second_price(
        bids in prop::collection::vec((0usize..2, 10u128..120, 0u128..130, any::<bool>(), prop::bool::weighted(0.8)), 1..5),
    ) {
        let mut lab = lab();
        let id = idle_auction(&mut lab);
        let who = [A, B];
        let mut commits = Vec::new();
        let mut txs = Vec::new();
        let mut reveals: Vec<Vec<BidOpening>> = vec![Vec::new(), Vec::new()];
        for &(b, deposit, value, fake, revealed) in &bids {
            if commits.iter().filter(|c: &&BidCommit| c.bidder == lab.address(who[b])).count() >= 2 {
                continue;
            }
            let o = opening(&mut lab, value, fake);
            txs.push(commit(&mut lab, who[b], id, &o, deposit));
            commits.push(BidCommit {
                bidder: lab.address(who[b]),
                blinded: o.blinded(),
                deposit,
                opening: revealed.then_some((value, fake)),
            });
            if revealed {
                reveals[b].push(o);
            }
        }
        let applied = lab.block(&txs);
        prop_assert!(applied.receipt.failed.is_empty());
        let before = [lab.balance(A), lab.balance(B), lab.balance(MNO)];
        let mut txs = Vec::new();
        for (b, openings) in reveals.into_iter().enumerate() {
            if !openings.is_empty() {
                txs.push(reveal(&mut lab, who[b], id, openings));
            }
        }
        let fees: Vec<u128> = (0..2).map(|b| u128::from(txs.iter().any(|t| t.sender_address() == lab.address(who[b])))).collect();
        let events = lab.block(&txs).events();
        let cl = clear(&commits, 20).unwrap();
        let settled = events.iter().find_map(|e| match e {
            ContractEvent::AuctionSettled { winner, price, forfeited, .. } => Some((*winner, *price, *forfeited)),
            _ => None,
        }).unwrap();
        prop_assert_eq!(settled, (cl.winner.map(|w| w.1), cl.price, cl.forfeited));
        for b in 0..2 {
            let refund: u128 = commits.iter().zip(&cl.refunds).filter(|(c, _)| c.bidder == lab.address(who[b])).map(|(_, r)| *r).sum();
            prop_assert_eq!(lab.balance(who[b]), before[b] - fees[b] + refund);
        }
        prop_assert_eq!(lab.balance(MNO), before[2] + cl.price + cl.forfeited);
    }
}
