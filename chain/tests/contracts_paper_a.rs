//! Paper A's 20-node experiment (SPEC 8) run through the real contracts: every round is three
//! real blocks (built with `build_block`, mined, sealed and validated by `apply_block` with
//! full verification, ring signatures included), 1,000 rounds, Bernoulli sensors drawn from a
//! seeded RNG.
//!
//! Set-up: 12 reliable nodes (Pd 0.9, Pf 0.15), 3 on-off nodes (the same sensing, every third
//! report they submit flipped), 3 lazy nodes (a fair coin), 2 infrequent honest nodes; each
//! signs up with probability 0.5 per round (infrequent: 0.1); the primary user is busy with
//! probability 0.5; trust starts at T_0 = 0.5; majority fusion. Two MOs bid on every idle
//! channel (a real and a fake bid each), so the auction and the lease run too. A signed-up
//! node below the trust threshold (0.5) buys in (see the contracts' selection rule), so trust
//! selection ranks every sign-up by trust.
//!
//! Round, in blocks: (1) the task issuer opens the task, sign-ups register (and buy in),
//! last round's bids are revealed; selection at its end; (2) the selected sensors upload
//! ring-signed reports; fusion at its end (and the auction opens if idle); (3) reveals and
//! bid commits; settlement at its end.
//!
//! Runs (common random numbers: the same primary-user states, sign-ups and sensing noise):
//! - Fig. 11 (K = 20: every sign-up is selected): mean trust and mean expected mining cost
//!   `g(T) = 2^(-κT)` per node type over nodes and rounds. Asserted: reliable mean trust above
//!   every other type's; reliable mean cost at most 0.5 × each other type's (paper: about 1/3).
//! - Fig. 12 at K = 5, trust selection against random selection. "Better" means both a higher
//!   fused Pd and a lower fused Pf (Pd = busy decisions / busy rounds, Pf = busy decisions /
//!   idle rounds, over rounds fused from reports). Also asserted at K = 5 with trust selection:
//!   reliable nodes keep the highest mean trust.
//!
//! Money is conserved in every block (balances plus contract-held funds change by the minted
//! rewards only). The figures are printed (`cargo test -p trustband-chain --test
//! contracts_paper_a -- --nocapture`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod contracts_support;

use std::time::Instant;

use chacha20::ChaCha20Rng;
use chain::contracts::events::{ContractEvent, FuseReason};
use chain::contracts::lease::LeaseParams;
use chain::contracts::sac::SacParams;
use chain::contracts::{
    BidOpening, Call, ChannelSpec, ContractParams, REGISTRY, SkipScope, SlashDestination,
    auction_contract, csc::CscParams, task_contract,
};
use chain::crypto::rand_core::{Rng, SeedableRng};
use chain::crypto::{BidSecret, Salt};
use chain::{SignedTx, Verification};
use contracts_support::{Lab, chain_params, fx};
use fusion::{FusionRule, Fx, SelectionScheme, mining_cost_factor};

const ROUNDS: u32 = 1000;
const NODES: usize = 20;
const MO: [usize; 2] = [20, 21];
const MNO: usize = 22;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Reliable,
    OnOff,
    Lazy,
    Infrequent,
}

const KINDS: [Kind; 4] = [Kind::Reliable, Kind::OnOff, Kind::Lazy, Kind::Infrequent];

fn kind(i: usize) -> Kind {
    match i {
        0..12 => Kind::Reliable,
        12..15 => Kind::OnOff,
        15..18 => Kind::Lazy,
        _ => Kind::Infrequent,
    }
}

fn slot(k: Kind) -> usize {
    KINDS.iter().position(|&x| x == k).unwrap()
}

fn unit(rng: &mut ChaCha20Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

#[derive(Debug, Default)]
struct Outcome {
    mean_trust: [f64; 4],
    mean_cost: [f64; 4],
    pd: f64,
    pf: f64,
    decided: u32,
    auctions_won: u32,
    leases: u32,
    blocks: u64,
    seconds: f64,
}

fn params(k: u32, selection: SelectionScheme) -> chain::ChainParams {
    let mno = chain::devnet::devnet_key(MNO as u64).unwrap().address();
    chain_params(ContractParams {
        mno,
        channels: vec![ChannelSpec {
            centre_hz: 600_000_000,
            bandwidth_hz: 6_000_000,
        }],
        skip_scope: SkipScope::AllAccounts,
        csc: CscParams {
            registration_close: 0,
            deadline: 1,
            reveal_end: 2,
            retain: 0,
            deposit: 1_000,
            k,
            selection,
            buy_in: 500,
            fusion: FusionRule::default(),
            reward_per_round: 1_000,
            slash_to: SlashDestination::RewardPool,
            max_registrations: 32,
        },
        sac: SacParams {
            commit_len: 1,
            reveal_len: 1,
            expiry: 2,
            max_bidders: 2,
            max_commits: 2,
            min_deposit: 10,
            reserve: 100,
        },
        lease: LeaseParams {
            term: 6,
            renew_window: 3,
            heartbeat_interval: 0,
            bandwidth_unit_hz: 1_000_000,
            price_unit: 10_000,
            p_w: fx("0.1"),
            gamma: fx("0.7"),
        },
        ..ContractParams::default()
    })
}

fn run(k: u32, selection: SelectionScheme, seed: u64) -> Outcome {
    let started = Instant::now();
    let mut trusts = vec![Fx::HALF; NODES];
    trusts.extend([Fx::ZERO; 3]);
    let balances = vec![1u128 << 100; NODES + 3];
    let mut lab = Lab::new(params(k, selection), &trusts, &balances);
    lab.miner = MNO;
    // apply_block re-checks every signature, ring signatures included.
    lab.build_verification = Verification::Trusted;
    let buy_ins = matches!(selection, SelectionScheme::Trust { .. });
    let threshold = Fx::HALF;
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut sent = [0u32; NODES];
    let mut trust_sum = [0.0f64; 4];
    let mut cost_sum = [0.0f64; 4];
    let (mut busy_rounds, mut idle_rounds, mut detections, mut false_alarms) =
        (0u32, 0u32, 0u32, 0u32);
    let mut out = Outcome::default();
    let mut bid_reveals: Vec<SignedTx> = Vec::new();

    let checked_block = |lab: &mut Lab, txs: &[SignedTx]| {
        let before = lab.supply();
        let applied = lab.block(txs);
        assert!(applied.rejected.is_empty(), "{:?}", applied.rejected);
        assert!(
            applied.receipt.failed.is_empty(),
            "{:?}",
            applied.receipt.failed
        );
        assert_eq!(
            lab.supply(),
            before + lab.params.block_reward + applied.receipt.sensing_reward
        );
        applied.events()
    };

    for _ in 0..ROUNDS {
        // Draws in a fixed order, whatever the scheme (common random numbers).
        let pu_busy = unit(&mut rng) < 0.5;
        let mut signed = Vec::new();
        let mut sensed = [false; NODES];
        for (i, s) in sensed.iter_mut().enumerate() {
            let p_signup = if kind(i) == Kind::Infrequent {
                0.1
            } else {
                0.5
            };
            let signs = unit(&mut rng) < p_signup;
            let u = unit(&mut rng);
            *s = match kind(i) {
                Kind::Lazy => u < 0.5,
                _ if pu_busy => u < 0.9,
                _ => u < 0.15,
            };
            if signs {
                signed.push(i);
            }
        }
        let bids: Vec<(usize, u128, u128, u128)> = MO
            .iter()
            .map(|&m| {
                let value = 100 + u128::from(rng.next_u32() % 900);
                let fake = 100 + u128::from(rng.next_u32() % 900);
                (m, value, fake, 1_000)
            })
            .collect();

        // Block 1: open, register, buy in; reveal last round's bids.
        let task = lab.next_task();
        let issuer = lab.issuer_index();
        let mut txs = vec![lab.call(issuer, REGISTRY, &Call::Open { channel: 0 })];
        txs.append(&mut bid_reveals);
        for &i in &signed {
            txs.push(lab.call(i, task_contract(task), &Call::Register));
            if buy_ins && lab.trust(i) < threshold {
                txs.push(lab.call(i, task_contract(task), &Call::BuyIn));
            }
        }
        let events = checked_block(&mut lab, &txs);
        let selected: Vec<usize> = events
            .iter()
            .find_map(|e| match e {
                ContractEvent::Selected { sensors, .. } => Some(
                    sensors
                        .iter()
                        .map(|a| lab.keys.iter().position(|k| k.address() == *a).unwrap())
                        .collect(),
                ),
                _ => None,
            })
            .unwrap();
        count_auction_events(&events, &mut out);

        // Block 2: ring-signed uploads; fusion at its end.
        let mut salts: Vec<Salt> = Vec::new();
        let mut uploads = Vec::new();
        if selected.len() >= 2 {
            for &i in &selected {
                sent[i] += 1;
                let flip = kind(i) == Kind::OnOff && sent[i] % 3 == 0;
                let salt = lab.salt();
                uploads.push(lab.upload(i, task, sensed[i] != flip, &salt));
                salts.push(salt);
            }
        }
        let events = checked_block(&mut lab, &uploads);
        let (busy, reason) = events
            .iter()
            .find_map(|e| match e {
                ContractEvent::Fused { busy, reason, .. } => Some((*busy, *reason)),
                _ => None,
            })
            .unwrap();
        if reason == FuseReason::Rule {
            if pu_busy {
                busy_rounds += 1;
                detections += u32::from(busy);
            } else {
                idle_rounds += 1;
                false_alarms += u32::from(busy);
            }
        }
        let auction = events
            .iter()
            .any(|e| matches!(e, ContractEvent::AuctionOpened { auction, .. } if *auction == task));

        // Block 3: reveals; the MOs' sealed bids if the channel is auctioned.
        let mut txs: Vec<SignedTx> = Vec::new();
        if selected.len() >= 2 {
            for (&i, salt) in selected.iter().zip(salts) {
                txs.push(lab.reveal(i, task, salt));
            }
        }
        if auction {
            for &(m, value, fake, deposit) in &bids {
                let openings = [(value, false), (fake, true)].map(|(value, fake)| BidOpening {
                    value,
                    fake,
                    secret: BidSecret::generate(&mut lab.rng),
                });
                for o in &openings {
                    txs.push(lab.call(
                        m,
                        auction_contract(task),
                        &Call::Commit {
                            blinded: o.blinded(),
                            deposit,
                        },
                    ));
                }
                // Signed now (its nonce follows the two commits), sent with the next round's
                // first block, the auction's reveal window.
                let openings = openings.to_vec();
                bid_reveals.push(lab.call(
                    m,
                    auction_contract(task),
                    &Call::RevealBids { openings },
                ));
            }
        }
        let events = checked_block(&mut lab, &txs);
        assert!(
            events
                .iter()
                .any(|e| matches!(e, ContractEvent::Settled { task: t, .. } if *t == task))
        );

        for i in 0..NODES {
            let t = lab.trust(i);
            trust_sum[slot(kind(i))] += t.to_f64();
            cost_sum[slot(kind(i))] += mining_cost_factor(t).to_f64();
        }
    }
    let count = |k: Kind| (0..NODES).filter(|&i| kind(i) == k).count() as f64;
    for k in KINDS {
        let denom = count(k) * f64::from(ROUNDS);
        out.mean_trust[slot(k)] = trust_sum[slot(k)] / denom;
        out.mean_cost[slot(k)] = cost_sum[slot(k)] / denom;
    }
    out.pd = f64::from(detections) / f64::from(busy_rounds.max(1));
    out.pf = f64::from(false_alarms) / f64::from(idle_rounds.max(1));
    out.decided = busy_rounds + idle_rounds;
    out.blocks = lab.height();
    out.seconds = started.elapsed().as_secs_f64();
    out
}

fn count_auction_events(events: &[ContractEvent], out: &mut Outcome) {
    for e in events {
        match e {
            ContractEvent::AuctionSettled {
                winner: Some(_), ..
            } => out.auctions_won += 1,
            ContractEvent::LeaseGranted { .. } | ContractEvent::LeaseRenewed { .. } => {
                out.leases += 1;
            }
            _ => {}
        }
    }
}

fn report(name: &str, o: &Outcome) {
    println!(
        "{name}: {} blocks in {:.1} s; Pd {:.4} Pf {:.4} over {} fused rounds; {} auctions won, {} leases granted or renewed",
        o.blocks, o.seconds, o.pd, o.pf, o.decided, o.auctions_won, o.leases
    );
    for k in KINDS {
        println!(
            "  {k:?}: mean trust {:.4}, mean cost g(T) {:.4}, reliable/this cost {:.3}",
            o.mean_trust[slot(k)],
            o.mean_cost[slot(k)],
            o.mean_cost[0] / o.mean_cost[slot(k)]
        );
    }
    let pooled: f64 = [(1, 3.0), (2, 3.0), (3, 2.0)]
        .iter()
        .map(|&(s, n)| o.mean_cost[s] * n)
        .sum::<f64>()
        / 8.0;
    println!(
        "  reliable / others pooled cost: {:.3}",
        o.mean_cost[0] / pooled
    );
}

#[test]
fn paper_a_twenty_nodes_through_the_contracts() {
    const SEED: u64 = 1;
    let threshold = SelectionScheme::Trust {
        threshold: Fx::HALF,
    };
    // The three runs are independent chains: run them side by side.
    let (fig11, trust5, random5) = std::thread::scope(|s| {
        let a = s.spawn(|| run(20, threshold, SEED));
        let b = s.spawn(|| run(5, threshold, SEED));
        let c = run(5, SelectionScheme::Random, SEED);
        (a.join().unwrap(), b.join().unwrap(), c)
    });
    report(
        "Fig. 11, every sign-up selected (K = 20), trust threshold 0.5",
        &fig11,
    );
    report("Fig. 12, K = 5, trust selection", &trust5);
    report("Fig. 12, K = 5, random selection", &random5);

    for (name, o) in [("K = 20", &fig11), ("K = 5 trust", &trust5)] {
        for k in [Kind::OnOff, Kind::Lazy, Kind::Infrequent] {
            assert!(
                o.mean_trust[0] > o.mean_trust[slot(k)],
                "{name}: reliable trust {} vs {k:?} {}",
                o.mean_trust[0],
                o.mean_trust[slot(k)]
            );
        }
    }
    for k in [Kind::OnOff, Kind::Lazy, Kind::Infrequent] {
        assert!(
            fig11.mean_cost[0] <= 0.5 * fig11.mean_cost[slot(k)],
            "reliable cost {} vs {k:?} {}",
            fig11.mean_cost[0],
            fig11.mean_cost[slot(k)]
        );
    }
    assert!(trust5.decided >= 990 && random5.decided >= 990);
    assert!(
        trust5.pd > random5.pd && trust5.pf < random5.pf,
        "trust Pd {} Pf {} vs random Pd {} Pf {}",
        trust5.pd,
        trust5.pf,
        random5.pd,
        random5.pf
    );
    // The auction and the lease ran on idle channels.
    assert!(trust5.auctions_won > 100 && trust5.leases > 100);
}
