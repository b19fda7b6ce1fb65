//! What a node's roles want, given the head state: a pure function, so it is the same after a
//! reorg, after a restart, in the simulation and in the lab.
//!
//! Data flow: [`plan`] reads the head state (registry, tasks, auctions, leases, trust) and the
//! next block's height and returns [`Plan`]s: contract calls to send, or a sensing job to run
//! (a ring-signed upload once the sensing window is in). Each plan carries an [`Intent`] key;
//! the node sends each intent once and forgets it a few blocks after its transaction left the
//! mempool, so a call whose effect is visible in the state is never planned again, and one that
//! failed is retried only while the state still calls for it.
//!
//! - Task issuer (the highest-trust account, [`chain::contracts::task_issuer`]): opens a task
//!   on every channel whose previous task has been fused, up to the configured number of rounds.
//! - Sensor: registers in the registration window (and buys in while its trust is below the
//!   selection threshold), senses when it is in the task's ring, reveals after fusion (with a
//!   DLEQ proof that its key made the report's key image, [`reveal_proof`]).
//! - MO: commits one real and `fakes` decoy blinded bids per auction in the commit window,
//!   reveals them in the reveal window, sends lease heartbeats when leases need them.
//! - MNO: nothing to send; the contracts pay it.

use chain::codec::Decode;
use chain::contracts::csc::{PointBytes, Registry, Task, TaskPhase};
use chain::contracts::lease::LeaseState;
use chain::contracts::sac::{Auction, BidOpening};
use chain::contracts::{
    Call, ContractKind, REGISTRY, lease_contract, parse_contract_id, task_contract,
};
use chain::crypto::{Address, BlindedBid, Domain, IdentityCommitment, hash};
use chain::tx::ContractId;
use chain::{ChainParams, Hash256, State};
use fusion::SelectionScheme;

use super::config::BidSpec;
use super::wallet::Wallet;

/// Identifies one thing a role wants done (sent at most once while it is pending).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Intent {
    /// Open `channel`'s task for `round`.
    Open {
        /// Channel index.
        channel: u32,
        /// The round it will be.
        round: u64,
    },
    /// Register for a task.
    Register {
        /// Task.
        task: u64,
    },
    /// Buy in to a task.
    BuyIn {
        /// Task.
        task: u64,
    },
    /// Upload a report for a task over a ring (a reorg may change the ring).
    Upload {
        /// Task.
        task: u64,
        /// Digest of the ring's keys.
        ring: Hash256,
    },
    /// Reveal one's report.
    Reveal {
        /// Task.
        task: u64,
    },
    /// Commit bid `index` to an auction.
    Commit {
        /// Auction.
        auction: u64,
        /// Bid index (0 real, then decoys).
        index: u32,
    },
    /// Reveal one's bids.
    RevealBids {
        /// Auction.
        auction: u64,
    },
    /// A lease heartbeat.
    Heartbeat {
        /// Channel.
        channel: u32,
        /// The lease's transmit expiry it renews.
        expire: u64,
    },
}

/// One thing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Send a contract call.
    Call {
        /// Its key.
        intent: Intent,
        /// The contract instance.
        contract: ContractId,
        /// The call.
        call: Call,
    },
    /// Sense and upload a report for a task.
    Sense {
        /// Its key ([`Intent::Upload`]).
        intent: Intent,
        /// Task.
        task: u64,
        /// The channel's round (the sensing window).
        round: u64,
        /// Channel index.
        channel: u32,
        /// The task's ring (compressed keys), canonical order.
        ring: Vec<PointBytes>,
    },
}

impl Plan {
    /// The plan's key.
    #[must_use]
    pub fn intent(&self) -> &Intent {
        match self {
            Plan::Call { intent, .. } | Plan::Sense { intent, .. } => intent,
        }
    }
}

/// What [`plan`] needs.
#[derive(Debug)]
pub struct RoleCtx<'a> {
    /// Head state.
    pub state: &'a State,
    /// Chain parameters.
    pub params: &'a ChainParams,
    /// The node's wallet.
    pub wallet: &'a Wallet,
    /// Height of the next block.
    pub next_height: u64,
    /// Whether the node senses (role sensor with a front end).
    pub sensor: bool,
    /// Whether the node bids (role MO).
    pub mo: bool,
    /// How it bids.
    pub bid: &'a BidSpec,
    /// Channels it bids on (empty: all).
    pub bid_channels: &'a [u32],
    /// The task issuer opens no round at or beyond this.
    pub max_rounds: Option<u64>,
}

/// Digest of a ring's keys (the [`Intent::Upload`] key).
#[must_use]
pub fn ring_digest(ring: &[PointBytes]) -> Hash256 {
    let bytes: Vec<u8> = ring.concat();
    Hash256(hash(Domain::Contract, &[b"trustband/node/ring", &bytes]))
}

/// The node's commitment in `task`'s reports.
#[must_use]
pub fn my_commitment(wallet: &Wallet, task: u64) -> IdentityCommitment {
    IdentityCommitment::new(task, &wallet.address(), &wallet.salt(task))
}

/// One of an MO's bids: its opening and the deposit that backs it.
#[derive(Debug, Clone)]
pub struct BidPlan {
    /// Value, fake flag and secret.
    pub opening: BidOpening,
    /// Deposit locked with the commit.
    pub deposit: u128,
}

impl BidPlan {
    /// The blinded hash.
    #[must_use]
    pub fn blinded(&self) -> BlindedBid {
        self.opening.blinded()
    }
}

#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss
)]
fn scale(value: u128, factor: f64) -> u128 {
    // Bid values are far below 2^53 in practice; saturate beyond.
    ((value as f64) * factor).round().clamp(0.0, 1.0e30) as u128
}

/// The bids `wallet` makes in `auction` (index 0 real, then `fakes` decoys): values and
/// secrets derived from the key, so the node can reveal after a restart.
#[must_use]
pub fn bid_plan(
    wallet: &Wallet,
    bid: &BidSpec,
    auction: u64,
    reserve: u128,
    min_deposit: u128,
) -> Vec<BidPlan> {
    (0..=bid.fakes)
        .map(|i| {
            let u = wallet.unit(b"bid-value", auction, u64::from(i));
            let fake = i > 0;
            let value = scale(bid.value, 1.0 + bid.spread * u).max(reserve);
            // The deposit backs the value and hides it: twice the value, at least the minimum.
            let deposit = value.saturating_mul(2).max(min_deposit);
            BidPlan {
                opening: BidOpening {
                    value,
                    fake,
                    secret: wallet.bid_secret(auction, u64::from(i)),
                },
                deposit,
            }
        })
        .collect()
}

fn call(intent: Intent, contract: ContractId, call: Call) -> Plan {
    Plan::Call {
        intent,
        contract,
        call,
    }
}

/// What the node's roles want now (see the module docs).
///
/// # Errors
/// A contract instance in the state that does not decode (a corrupt state); a task holding
/// reports without a ring (no reveal proof can be made, see [`reveal_proof`]).
pub fn plan(ctx: &RoleCtx<'_>) -> Result<Vec<Plan>, chain::Error> {
    let mut out = Vec::new();
    let me = ctx.wallet.address();
    let next = ctx.next_height;
    let cp = &ctx.params.contracts;
    if chain::contracts::task_issuer(ctx.state) == Some(me) {
        let registry = Registry::load(ctx.state, cp)?;
        for (c, record) in registry.channels.iter().enumerate() {
            let channel = u32::try_from(c).unwrap_or(u32::MAX);
            if record.open_task.is_none() && ctx.max_rounds.is_none_or(|m| record.next_round < m) {
                out.push(call(
                    Intent::Open {
                        channel,
                        round: record.next_round,
                    },
                    REGISTRY,
                    Call::Open { channel },
                ));
            }
        }
    }
    let threshold = match cp.csc.selection {
        SelectionScheme::Trust { threshold } => Some(threshold),
        _ => None,
    };
    let below_threshold = threshold.is_some_and(|t| ctx.state.trust(&me) < t);
    for (id, bytes) in ctx.state.contracts() {
        match parse_contract_id(id) {
            Some((ContractKind::Task, n)) if ctx.sensor => {
                let task = Task::from_bytes(bytes)?;
                plan_task(ctx, &task, n, below_threshold, &mut out)?;
            }
            Some((ContractKind::Auction, n)) if ctx.mo => {
                let auction = Auction::from_bytes(bytes)?;
                plan_auction(ctx, &auction, n, me, &mut out);
            }
            _ => {}
        }
    }
    let interval = cp.lease.heartbeat_interval;
    if ctx.mo && interval > 0 {
        for c in 0..cp.channel_count() {
            let leases = chain::contracts::lease::leases(ctx.state, c)?;
            if let Some(l) = leases.current
                && l.holder == me
                && l.state != LeaseState::Suspended
                && l.start <= next
                && l.transmit_expire <= next.saturating_add(interval / 2)
                && l.transmit_expire < l.expires
            {
                out.push(call(
                    Intent::Heartbeat {
                        channel: c,
                        expire: l.transmit_expire,
                    },
                    lease_contract(c),
                    Call::Heartbeat,
                ));
            }
        }
    }
    Ok(out)
}

fn plan_task(
    ctx: &RoleCtx<'_>,
    task: &Task,
    id: u64,
    below: bool,
    out: &mut Vec<Plan>,
) -> Result<(), chain::Error> {
    let me = ctx.wallet.address();
    let next = ctx.next_height;
    let t = task.timeline;
    match task.phase {
        TaskPhase::Registration if next <= t.registration_close && next >= t.created => {
            match task
                .registration(&me)
                .and_then(|i| task.registrations.get(i))
            {
                None => {
                    out.push(call(
                        Intent::Register { task: id },
                        task_contract(id),
                        Call::Register,
                    ));
                    if below {
                        out.push(call(
                            Intent::BuyIn { task: id },
                            task_contract(id),
                            Call::BuyIn,
                        ));
                    }
                }
                Some(r) if below && !r.bought_in => {
                    out.push(call(
                        Intent::BuyIn { task: id },
                        task_contract(id),
                        Call::BuyIn,
                    ));
                }
                Some(_) => {}
            }
        }
        TaskPhase::Sensing if next <= t.deadline => {
            let mine = my_commitment(ctx.wallet, id);
            if task.ring.contains(ctx.wallet.public_key().as_bytes())
                && !task.reports.iter().any(|r| r.report.commitment == mine)
            {
                out.push(Plan::Sense {
                    intent: Intent::Upload {
                        task: id,
                        ring: ring_digest(&task.ring),
                    },
                    task: id,
                    round: task.round,
                    channel: task.channel,
                    ring: task.ring.clone(),
                });
            }
        }
        TaskPhase::Revealing if next <= t.reveal_end => {
            let mine = my_commitment(ctx.wallet, id);
            if task
                .reports
                .iter()
                .any(|r| r.report.commitment == mine && r.revealed_by.is_none())
            {
                out.push(call(
                    Intent::Reveal { task: id },
                    task_contract(id),
                    Call::Reveal {
                        salt: ctx.wallet.salt(id),
                        proof: ctx.wallet.reveal_proof(task, &ctx.params.chain_id)?,
                    },
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

fn plan_auction(ctx: &RoleCtx<'_>, auction: &Auction, id: u64, me: Address, out: &mut Vec<Plan>) {
    if auction.result.is_some()
        || !(ctx.bid_channels.is_empty() || ctx.bid_channels.contains(&auction.channel))
    {
        return;
    }
    let next = ctx.next_height;
    let t = auction.timeline;
    let bids = bid_plan(
        ctx.wallet,
        ctx.bid,
        id,
        auction.reserve,
        auction.min_deposit,
    );
    let contract = chain::contracts::auction_contract(id);
    if next > t.created && next <= t.commit_end {
        for (i, b) in bids.iter().enumerate() {
            let blinded = b.blinded();
            if !auction
                .commits
                .iter()
                .any(|c| c.bidder == me && c.blinded == blinded)
            {
                out.push(call(
                    Intent::Commit {
                        auction: id,
                        index: u32::try_from(i).unwrap_or(u32::MAX),
                    },
                    contract,
                    Call::Commit {
                        blinded,
                        deposit: b.deposit,
                    },
                ));
            }
        }
    } else if next > t.commit_end && next <= t.reveal_end {
        let openings: Vec<BidOpening> = bids
            .iter()
            .filter(|b| {
                let blinded = b.blinded();
                auction
                    .commits
                    .iter()
                    .any(|c| c.bidder == me && c.blinded == blinded && c.opening.is_none())
            })
            .map(|b| b.opening.clone())
            .collect();
        if !openings.is_empty() {
            out.push(call(
                Intent::RevealBids { auction: id },
                contract,
                Call::RevealBids { openings },
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::node::wallet::key_from_seed;

    #[test]
    fn bids_are_derived_valid_and_hidden() {
        let w = Wallet::new(key_from_seed("mo").unwrap());
        let spec = BidSpec::default();
        let a = bid_plan(&w, &spec, 7, 1_000, 500);
        let b = bid_plan(&w, &spec, 7, 1_000, 500);
        assert_eq!(a.len(), 2);
        // Restart-safe: the same openings every time.
        assert_eq!(a[0].blinded(), b[0].blinded());
        assert!(!a[0].opening.fake && a[1].opening.fake);
        for bid in &a {
            let v = bid.opening.value;
            // Valid under the SAC rules: at least the reserve, backed by the deposit.
            assert!(v >= 1_000 && v <= bid.deposit && bid.deposit >= 500);
            assert!(v >= spec.value && v <= spec.value + spec.value / 2 + 1);
        }
        assert_ne!(
            a[0].blinded(),
            bid_plan(&w, &spec, 8, 1_000, 500)[0].blinded()
        );
        let other = Wallet::new(key_from_seed("mo2").unwrap());
        assert_ne!(
            a[0].blinded(),
            bid_plan(&other, &spec, 7, 1_000, 500)[0].blinded()
        );
    }

    #[test]
    fn reveal_proof_opens_the_nodes_key_image_and_is_stable() {
        use chain::contracts::csc::{TaskPhase, event_base, reveal_context};
        use chain::contracts::round::TaskTimeline;
        use chain::crypto::dleq;

        let w = Wallet::new(key_from_seed("sensor").unwrap());
        let other = Wallet::new(key_from_seed("sensor2").unwrap());
        let mut ring = vec![w.public_key().to_bytes(), other.public_key().to_bytes()];
        ring.sort_unstable();
        let task = Task {
            id: 5,
            channel: 0,
            round: 2,
            issuer: other.address(),
            timeline: TaskTimeline::new(10, 1, 2, 3, 4).unwrap(),
            phase: TaskPhase::Revealing,
            registrations: Vec::new(),
            ring,
            reports: Vec::new(),
            decision: None,
        };
        let chain_id = chain::Hash256([3; 32]);
        let proof = w.reveal_proof(&task, &chain_id).unwrap();
        // Pure: the same proof on every plan (and after a restart).
        assert_eq!(w.reveal_proof(&task, &chain_id).unwrap(), proof);
        let base = event_base(&task, &chain_id).unwrap();
        let image = base.key_image(w.key()).unwrap();
        let context = reveal_context(&chain_id, 5, &w.address());
        dleq::verify(w.public_key(), &image, &base, &context, &proof).unwrap();
        // Another node's key image is not opened by this proof.
        let theirs = base.key_image(other.key()).unwrap();
        assert_eq!(
            dleq::verify(w.public_key(), &theirs, &base, &context, &proof),
            Err(chain::Error::BadDleqProof)
        );
        // No ring, no proof.
        let empty = Task {
            ring: Vec::new(),
            ..task
        };
        assert_eq!(
            w.reveal_proof(&empty, &chain_id),
            Err(chain::Error::EmptyRing)
        );
    }

    #[test]
    fn ring_digest_depends_on_members_and_order() {
        let a = [1u8; 33];
        let b = [2u8; 33];
        assert_ne!(ring_digest(&[a, b]), ring_digest(&[b, a]));
        assert_ne!(ring_digest(&[a]), ring_digest(&[a, b]));
        assert_eq!(ring_digest(&[a, b]), ring_digest(&[a, b]));
    }
}
