//! Leases through real blocks: granted and authorized at the auction's settlement, suspended by
//! a later busy decision, resumed by an idle one, expired at the end of the term, renewed when
//! the holder wins the next auction, queued behind the current lease when another MO wins;
//! heartbeat mode (granted until a heartbeat, lapse at transmit-expire); typed rejections.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod contracts_support;

use chain::Error;
use chain::contracts::events::ContractEvent;
use chain::contracts::lease::{LeaseState, leases};
use chain::contracts::{BidOpening, Call, ContractParams, auction_contract, lease_contract};
use chain::crypto::BidSecret;
use contracts_support::{Lab, chain_params, fx, test_contracts};
use fusion::SelectionScheme;

const MNO: usize = 8;
const A: usize = 6;
const B: usize = 7;

fn lab_with(edit: impl FnOnce(&mut ContractParams)) -> Lab {
    let trusts = ["0.9", "0.6", "0.6", "0.6", "0", "0", "0", "0", "0"].map(fx);
    let mno = chain::devnet::devnet_key(MNO as u64).unwrap().address();
    let mut contracts = test_contracts(mno);
    contracts.csc.selection = SelectionScheme::Random;
    edit(&mut contracts);
    Lab::new(chain_params(contracts), &trusts, &[100_000; 9])
}

/// An idle round on channel 0, then the auction with `bids` (bidder, value) revealed.
fn auctioned(lab: &mut Lab, bids: &[(usize, u128)]) -> Vec<ContractEvent> {
    let (id, mut events) = lab.sensed(0, &[1, 2, 3], false);
    let openings: Vec<(usize, BidOpening)> = bids
        .iter()
        .map(|&(who, value)| {
            (
                who,
                BidOpening {
                    value,
                    fake: false,
                    secret: BidSecret::generate(&mut lab.rng),
                },
            )
        })
        .collect();
    let txs: Vec<_> = openings
        .iter()
        .map(|(who, o)| {
            lab.call(
                *who,
                auction_contract(id),
                &Call::Commit {
                    blinded: o.blinded(),
                    deposit: o.value,
                },
            )
        })
        .collect();
    events.extend(lab.block(&txs).events());
    let txs: Vec<_> = openings
        .into_iter()
        .map(|(who, o)| {
            lab.call(
                who,
                auction_contract(id),
                &Call::RevealBids { openings: vec![o] },
            )
        })
        .collect();
    let applied = lab.block(&txs);
    assert!(
        applied.receipt.failed.is_empty(),
        "{:?}",
        applied.receipt.failed
    );
    events.extend(applied.events());
    events
}

/// Only the lease events (other contracts also act at these heights).
fn lease_events(events: Vec<ContractEvent>) -> Vec<ContractEvent> {
    events
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                ContractEvent::LeaseGranted { .. }
                    | ContractEvent::LeaseAuthorized { .. }
                    | ContractEvent::LeaseSuspended { .. }
                    | ContractEvent::LeaseResumed { .. }
                    | ContractEvent::LeaseRenewed { .. }
                    | ContractEvent::LeaseHeartbeat { .. }
                    | ContractEvent::LeaseHeartbeatLapsed { .. }
                    | ContractEvent::LeaseExpired { .. }
            )
        })
        .collect()
}

fn has(events: &[ContractEvent], pred: impl Fn(&ContractEvent) -> bool) -> bool {
    events.iter().any(pred)
}

#[test]
fn lease_is_suspended_resumed_and_handed_to_the_next_winner() {
    let mut lab = lab_with(|c| c.lease.term = 9);
    let (a, b) = (lab.address(A), lab.address(B));
    let events = auctioned(&mut lab, &[(A, 50)]);
    assert!(has(&events, |e| matches!(
        e,
        ContractEvent::LeaseGranted { holder, start: 6, expires: 14, price: 20, .. } if *holder == a
    )));
    assert!(events.contains(&ContractEvent::LeaseAuthorized {
        channel: 0,
        holder: a
    }));
    let current = leases(&lab.state, 0).unwrap().current.unwrap();
    assert_eq!(current.state, LeaseState::Authorized);

    // A busy round suspends it (fused at the end of height 8).
    let (busy_task, events) = lab.sensed(0, &[1, 2, 3], true);
    assert!(events.contains(&ContractEvent::LeaseSuspended {
        channel: 0,
        holder: a,
        task: busy_task
    }));
    let tx = lab.call(A, lease_contract(0), &Call::Heartbeat);
    assert_eq!(
        lab.block(&[tx]).failure(),
        Error::LeaseInactive {
            channel: 0,
            state: "suspended"
        }
    );

    // An idle round (fused at 12) resumes it; the lease ends at 14 <= 12 + 2, so the channel
    // is auctioned again; B outbids A and its lease is queued behind A's.
    let events = auctioned(&mut lab, &[(A, 40), (B, 60)]);
    assert!(has(&events, |e| matches!(
        e,
        ContractEvent::LeaseResumed { holder, .. } if *holder == a
    )));
    assert!(has(&events, |e| matches!(
        e,
        ContractEvent::LeaseGranted { holder, start: 15, expires: 23, price: 40, .. } if *holder == b
    )));
    // The settlement block is 14: A's term ends with it and B's starts.
    assert!(events.contains(&ContractEvent::LeaseExpired {
        channel: 0,
        holder: a
    }));
    assert!(events.contains(&ContractEvent::LeaseAuthorized {
        channel: 0,
        holder: b
    }));
    let l = leases(&lab.state, 0).unwrap();
    assert_eq!(l.current.unwrap().holder, b);
    assert!(l.pending.is_none());

    // B's term ends at 23; the record is removed.
    let events: Vec<_> = lab.skip(9).into_iter().map(|r| r.event).collect();
    assert!(events.contains(&ContractEvent::LeaseExpired {
        channel: 0,
        holder: b
    }));
    assert!(lab.state.contract_state(&lease_contract(0)).is_none());
}

#[test]
fn holder_winning_the_next_auction_renews_its_term() {
    let mut lab = lab_with(|c| {
        c.lease.term = 9;
        c.lease.renew_window = 3;
    });
    let a = lab.address(A);
    auctioned(&mut lab, &[(A, 50)]);
    // Next idle round fuses at 8 (lease ends at 14 > 8 + 3: skipped); the one after at 11.
    let (_, events) = lab.sensed(0, &[1, 2, 3], false);
    assert!(has(&events, |e| matches!(
        e,
        ContractEvent::AuctionSkipped { .. }
    )));
    let events = auctioned(&mut lab, &[(A, 70), (B, 30)]);
    assert!(events.contains(&ContractEvent::LeaseRenewed {
        channel: 0,
        holder: a,
        auction: lab.next_task() - 1,
        expires: 23,
        price: 30,
    }));
    assert!(!has(&events, |e| matches!(
        e,
        ContractEvent::LeaseExpired { .. }
    )));
    assert_eq!(leases(&lab.state, 0).unwrap().current.unwrap().expires, 23);
}

#[test]
fn heartbeats_authorize_until_transmit_expire() {
    let mut lab = lab_with(|c| c.lease.heartbeat_interval = 2);
    let a = lab.address(A);
    let events = auctioned(&mut lab, &[(A, 50)]);
    assert!(has(&events, |e| matches!(
        e,
        ContractEvent::LeaseGranted { .. }
    )));
    assert!(!has(&events, |e| matches!(
        e,
        ContractEvent::LeaseAuthorized { .. }
    )));
    assert_eq!(
        leases(&lab.state, 0).unwrap().current.unwrap().state,
        LeaseState::Granted
    );
    // Height 6: the holder's heartbeat authorizes it until 8.
    let tx = lab.call(A, lease_contract(0), &Call::Heartbeat);
    let events = lease_events(lab.block(&[tx]).events());
    assert_eq!(
        events,
        vec![
            ContractEvent::LeaseAuthorized {
                channel: 0,
                holder: a
            },
            ContractEvent::LeaseHeartbeat {
                channel: 0,
                holder: a,
                transmit_expire: 8
            }
        ]
    );
    let events = lease_events(lab.skip(2).into_iter().map(|r| r.event).collect());
    assert_eq!(
        events,
        vec![ContractEvent::LeaseHeartbeatLapsed {
            channel: 0,
            holder: a
        }]
    );
}

#[test]
fn heartbeat_from_a_non_holder_is_rejected() {
    let mut lab = lab();
    let a = lab.address(A);
    auctioned(&mut lab, &[(A, 50)]);
    let tx = lab.call(B, lease_contract(0), &Call::Heartbeat);
    assert_eq!(
        lab.block(&[tx]).failure(),
        Error::NotLeaseHolder {
            channel: 0,
            holder: Some(a),
            got: lab.address(B)
        }
    );
    let tx = lab.call(B, lease_contract(1), &Call::Heartbeat);
    assert_eq!(
        lab.block(&[tx]).failure(),
        Error::NotLeaseHolder {
            channel: 1,
            holder: None,
            got: lab.address(B)
        }
    );
}

fn lab() -> Lab {
    lab_with(|_| {})
}
