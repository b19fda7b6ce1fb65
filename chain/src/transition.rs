//! The state transition: `apply_block(parent state, block, ctx) -> (state, receipt)`.
//!
//! Purpose: the one function every node runs to decide whether a block is valid and what state
//! it produces. It is pure: no I/O, no clock (the block's timestamp is checked only against the
//! parent's), no randomness, integers and fixed point only; the only concurrency is the
//! parallel signature check, whose result does not depend on scheduling (the lowest failing
//! index is reported).
//!
//! Data flow, in [`apply_block`]:
//! 1. header against the parent state: height, `prev_hash`, timestamp after the parent's,
//!    `D_base` from the retarget rule, `miner_trust` = the miner's trust in the parent state;
//! 2. proof of trust (`hash <= target(D_base, T)`) and the miner's signature;
//! 3. body: a checkpoint where the height demands one (miner of highest trust, body state equal
//!    to the parent state), otherwise transactions (count limit, Merkle root, signatures, ring
//!    signatures of anonymous uploads included, in parallel, then [`execute_tx`] in order);
//! 4. the contracts' end-of-block hook ([`crate::contracts::end_of_block`]: height-triggered
//!    phase changes, sensing rewards), on checkpoint blocks too;
//! 5. block reward plus fees to the miner, counters updated, state root compared.
//!
//! Fees: every account-signed transaction pays at least [`ChainParams::min_fee`] to the
//! miner; a transfer that creates its recipient's account also burns
//! [`ChainParams::account_creation_fee`], and a zero-value one is refused (state bloat).
//! Contract payouts (refunds, rewards, the MNO's revenue) go to accounts that already paid a
//! fee to take part, or to the configured MNO, so only transfers create accounts at will.
//!
//! Failed transactions: a transaction whose envelope fails (signature, unknown sender, nonce,
//! fee below the minimum, or amount above the balance) or an anonymous upload the task refuses is *invalid*: the
//! block carrying it is invalid. A contract call whose envelope is sound but which the contract
//! rejects is *included as failed*: its fee is paid and its nonce advances, nothing else
//! changes, and the [`Receipt`] lists its typed error (SPEC 6).
//!
//! Miners use [`build_block`] to assemble a valid body and header template from candidate
//! transactions.
#![deny(clippy::float_arithmetic)]

use crate::block::{Block, Body, Header, tx_root};
use crate::contracts::events::{ContractEvent, EventOrigin, EventRecord};
use crate::contracts::{self, ExecCtx, HookCtx};
use crate::crypto::{Address, PublicKey};
use crate::digest::Hash256;
use crate::error::Error;
use crate::params::ChainParams;
use crate::pot;
use crate::state::{Account, ConsensusMeta, State};
use crate::tx::{SignedTx, TxPayload};

/// How much of a block to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// Everything, with transaction signatures checked on `threads` threads.
    Full {
        /// Worker threads for signature checks (1 = on the caller's thread).
        threads: usize,
    },
    /// Skip proof of trust and all signatures: only for re-applying blocks this node already
    /// validated (rebuilding an evicted state). Roots and balances are still checked.
    Trusted,
}

impl Verification {
    /// Full checks with one thread per available core.
    #[must_use]
    pub fn full() -> Self {
        Self::Full {
            threads: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        }
    }
}

/// What `apply_block` needs besides the parent state and the block.
#[derive(Debug, Clone, Copy)]
pub struct BlockCtx<'a> {
    /// Consensus parameters.
    pub params: &'a ChainParams,
    /// Hash of the parent block (the state does not contain its own block's hash).
    pub parent_hash: Hash256,
    /// Checks to run.
    pub verification: Verification,
}

/// The outcome of a valid block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// Block id.
    pub block_hash: Hash256,
    /// Height.
    pub height: u64,
    /// Miner's address.
    pub miner: Address,
    /// Newly minted Sharecoin.
    pub reward: u128,
    /// Fees collected.
    pub fees: u128,
    /// Transactions applied.
    pub tx_count: usize,
    /// Root of the post-state.
    pub state_root: Hash256,
    /// Whether this block opened a new retarget window.
    pub retargeted: bool,
    /// Whether this block is a checkpoint.
    pub checkpoint: bool,
    /// Contract calls included as failed (fee and nonce charged, nothing else), by body index.
    pub failed: Vec<(usize, Error)>,
    /// Contract events in execution order (transactions, then the end-of-block hook).
    pub events: Vec<EventRecord>,
    /// Sharecoin minted as sensing rewards (on top of `reward`).
    pub sensing_reward: u128,
    /// Sharecoin burned: account-creation fees of transfers to new accounts.
    pub burned: u128,
}

/// What one transaction did ([`execute_tx`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxOutcome {
    /// Paid to the block's miner.
    pub fee: u128,
    /// Burned: the account-creation fee of a transfer to a new account, else 0.
    pub burned: u128,
    /// `Err` for a contract call included as failed (only its fee and nonce were charged).
    pub result: Result<(), Error>,
    /// The contract's events (empty if it failed).
    pub events: Vec<ContractEvent>,
}

/// Applies `block` to `parent`, returning the post-state and a receipt. `parent` is unchanged.
///
/// # Errors
///
/// The first violated rule: [`Error::HeaderMismatch`] (height, prev_hash, base_difficulty,
/// miner_trust), [`Error::BadTimestamp`], [`Error::InsufficientWork`], [`Error::BadSignature`]
/// (block), [`Error::WrongBlockKind`], [`Error::CheckpointMinerNotTrusted`],
/// [`Error::LimitExceeded`], [`Error::RootMismatch`] (tx_root, checkpoint_body, state_root),
/// [`Error::TxRejected`] wrapping an invalid transaction's error (not a contract call included
/// as failed: those are listed in the receipt), [`Error::Overflow`], the end-of-block hook's
/// errors.
pub fn apply_block(
    parent: &State,
    block: &Block,
    ctx: &BlockCtx<'_>,
) -> Result<(State, Receipt), Error> {
    let header = &block.header;
    let params = ctx.params;
    let (expected_base, retargeted) = check_header(parent, header, ctx)?;
    let block_hash = header.hash();
    if let Verification::Full { .. } = ctx.verification {
        let target = pot::target(expected_base, header.miner_trust);
        if !pot::meets_target(&block_hash, &target) {
            return Err(Error::InsufficientWork {
                hash: block_hash,
                target,
            });
        }
        block.verify_signature()?;
    }

    let checkpoint = params.is_checkpoint_height(header.height);
    let mut state = parent.clone();
    let mut fees: u128 = 0;
    let mut burned: u128 = 0;
    let mut failed = Vec::new();
    let mut events = Vec::new();
    let tx_count;
    match (&block.body, checkpoint) {
        (Body::Checkpoint(body_state), true) => {
            let highest = parent.highest_trust();
            if header.miner_trust != highest {
                return Err(Error::CheckpointMinerNotTrusted {
                    miner: header.miner_address(),
                    trust: header.miner_trust,
                    highest,
                });
            }
            let body_root = body_state.root();
            let parent_root = parent.root();
            if body_root != parent_root {
                return Err(Error::RootMismatch {
                    root: "checkpoint_body",
                    expected: parent_root,
                    got: body_root,
                });
            }
            check_root("tx_root", header.tx_root, body_root)?;
            tx_count = 0;
        }
        (Body::Transactions(txs), false) => {
            let got = u64::try_from(txs.len()).unwrap_or(u64::MAX);
            if got > u64::from(params.max_block_txs) {
                return Err(Error::LimitExceeded {
                    what: "transactions in a block",
                    limit: u64::from(params.max_block_txs),
                    got,
                });
            }
            check_root("tx_root", header.tx_root, tx_root(txs))?;
            if let Verification::Full { threads } = ctx.verification {
                verify_tx_signatures(txs, threads, &params.chain_id)?;
            }
            let exec = ExecCtx {
                params,
                height: header.height,
                issuer: contracts::task_issuer(parent),
            };
            for (index, tx) in txs.iter().enumerate() {
                let outcome = execute_tx(&mut state, tx, &exec).map_err(|e| Error::TxRejected {
                    index,
                    tx_id: tx.id(),
                    source: Box::new(e),
                })?;
                fees = fees
                    .checked_add(outcome.fee)
                    .ok_or(Error::Overflow { what: "block fees" })?;
                burned = burned
                    .checked_add(outcome.burned)
                    .ok_or(Error::Overflow { what: "block burn" })?;
                match outcome.result {
                    Ok(()) => events.extend(contracts::records(
                        EventOrigin::Tx { index },
                        outcome.events,
                    )),
                    Err(e) => failed.push((index, e)),
                }
            }
            tx_count = txs.len();
        }
        (_, true) => {
            return Err(Error::WrongBlockKind {
                height: header.height,
                expected: "checkpoint",
            });
        }
        (_, false) => {
            return Err(Error::WrongBlockKind {
                height: header.height,
                expected: "transactions",
            });
        }
    }

    let hook = contracts::end_of_block(
        &mut state,
        &HookCtx {
            params,
            height: header.height,
            prev_hash: header.prev_hash,
        },
    )?;
    events.extend(contracts::records(EventOrigin::EndOfBlock, hook.events));
    finish(&mut state, parent, header, fees, retargeted, params)?;
    let state_root = state.root();
    check_root("state_root", header.state_root, state_root)?;
    Ok((
        state,
        Receipt {
            block_hash,
            height: header.height,
            miner: header.miner_address(),
            reward: params.block_reward,
            fees,
            tx_count,
            state_root,
            retargeted,
            checkpoint,
            failed,
            events,
            sensing_reward: hook.minted,
            burned,
        },
    ))
}

/// Checks the header fields the parent state fixes; returns `(D_base, retargeted)`.
fn check_header(parent: &State, header: &Header, ctx: &BlockCtx<'_>) -> Result<(u64, bool), Error> {
    let mismatch = |field, expected: String, got: String| Error::HeaderMismatch {
        field,
        expected,
        got,
    };
    let height = parent.meta.height.saturating_add(1);
    if header.height != height {
        return Err(mismatch(
            "height",
            height.to_string(),
            header.height.to_string(),
        ));
    }
    if header.prev_hash != ctx.parent_hash {
        return Err(mismatch(
            "prev_hash",
            ctx.parent_hash.to_string(),
            header.prev_hash.to_string(),
        ));
    }
    if header.timestamp_ms <= parent.meta.timestamp_ms {
        return Err(Error::BadTimestamp {
            got_ms: header.timestamp_ms,
            bound_ms: parent.meta.timestamp_ms,
            reason: "not after parent",
        });
    }
    let (base, retargeted) = pot::next_base_difficulty(&parent.meta, ctx.params);
    if header.base_difficulty != base {
        return Err(mismatch(
            "base_difficulty",
            base.to_string(),
            header.base_difficulty.to_string(),
        ));
    }
    let trust = parent.trust(&header.miner_address());
    if header.miner_trust != trust {
        return Err(mismatch(
            "miner_trust",
            trust.to_string(),
            header.miner_trust.to_string(),
        ));
    }
    Ok((base, retargeted))
}

fn check_root(root: &'static str, expected: Hash256, got: Hash256) -> Result<(), Error> {
    if expected == got {
        Ok(())
    } else {
        Err(Error::RootMismatch {
            root,
            expected,
            got,
        })
    }
}

/// Reward and fees to the miner, counters to this block.
fn finish(
    state: &mut State,
    parent: &State,
    header: &Header,
    fees: u128,
    retargeted: bool,
    params: &ChainParams,
) -> Result<(), Error> {
    let minted = params
        .block_reward
        .checked_add(fees)
        .ok_or(Error::Overflow {
            what: "reward + fees",
        })?;
    credit(state, header.miner_address(), minted, params)?;
    let (anchor_height, anchor_ms) = if retargeted {
        (parent.meta.height, parent.meta.timestamp_ms)
    } else {
        (parent.meta.epoch_anchor_height, parent.meta.epoch_anchor_ms)
    };
    state.meta = ConsensusMeta {
        height: header.height,
        timestamp_ms: header.timestamp_ms,
        base_difficulty: header.base_difficulty,
        epoch_anchor_height: anchor_height,
        epoch_anchor_ms: anchor_ms,
    };
    Ok(())
}

/// Adds `amount` to `address`, creating the account (trust `params.new_account_trust`).
pub(crate) fn credit(
    state: &mut State,
    address: Address,
    amount: u128,
    params: &ChainParams,
) -> Result<(), Error> {
    if let Some(account) = state.account_mut(&address) {
        account.balance = account
            .balance
            .checked_add(amount)
            .ok_or(Error::Overflow { what: "balance" })?;
        Ok(())
    } else {
        state.set_account(
            address,
            Account::new(amount, params.new_account_trust, address)?,
        );
        Ok(())
    }
}

/// Checks `tx`'s signature and applies it to `state`; returns the fee it pays the miner. A
/// contract call the contract rejects is still applied (fee and nonce charged, nothing else:
/// see the module docs) and returns its fee; [`execute_tx`] tells success from failure. The
/// call context is taken from `state` (height = its height + 1, task issuer = its highest
/// trust). On error `state` is unchanged.
///
/// # Errors
///
/// [`Error::BadSignature`] (or a ring signature error for an upload);
/// [`Error::UnknownAccount`] (sender has no account); [`Error::NonceMismatch`] (replay or
/// gap); [`Error::FeeTooLow`] (fee below [`ChainParams::min_fee`]);
/// [`Error::ZeroValueToNewAccount`] (a transfer of 0 that would create an account);
/// [`Error::InsufficientFunds`] (amount plus fee, plus [`ChainParams::account_creation_fee`]
/// when the recipient has no account yet, or a call's fee); [`Error::Overflow`]; an anonymous
/// upload's rejection by its task.
pub fn apply_tx(state: &mut State, tx: &SignedTx, params: &ChainParams) -> Result<u128, Error> {
    tx.verify_signature(&params.chain_id)?;
    let ctx = ExecCtx {
        params,
        height: state.meta.height.saturating_add(1),
        issuer: contracts::task_issuer(state),
    };
    execute_tx(state, tx, &ctx).map(|outcome| outcome.fee)
}

/// Applies `tx` to `state` without checking its signature (a block's signatures are checked
/// in parallel first). All checks happen before any write, so an error leaves `state`
/// unchanged; a contract call the contract rejects returns `Ok` with `result` set to the
/// rejection, having charged only its fee and nonce.
///
/// # Errors
///
/// As [`apply_tx`], except signature errors.
pub fn execute_tx(state: &mut State, tx: &SignedTx, ctx: &ExecCtx<'_>) -> Result<TxOutcome, Error> {
    let params = ctx.params;
    if let TxPayload::Upload(upload) = &tx.tx.payload {
        let events = contracts::execute_upload(state, upload, ctx)?;
        return Ok(TxOutcome {
            fee: 0,
            burned: 0,
            result: Ok(()),
            events,
        });
    }
    let sender_address = tx.sender_address();
    let sender = state
        .account(&sender_address)
        .ok_or(Error::UnknownAccount {
            account: sender_address,
        })?;
    if tx.tx.nonce != sender.nonce {
        return Err(Error::NonceMismatch {
            account: sender_address,
            expected: sender.nonce,
            got: tx.tx.nonce,
        });
    }
    let next_nonce = sender
        .nonce
        .checked_add(1)
        .ok_or(Error::Overflow { what: "nonce" })?;
    let fee = tx.tx.fee;
    if fee < params.min_fee {
        return Err(Error::FeeTooLow {
            account: sender_address,
            fee,
            minimum: params.min_fee,
        });
    }
    match &tx.tx.payload {
        TxPayload::Transfer(transfer) => {
            let creates_account =
                transfer.to != sender_address && state.account(&transfer.to).is_none();
            if creates_account && transfer.amount == 0 {
                return Err(Error::ZeroValueToNewAccount {
                    sender: sender_address,
                    recipient: transfer.to,
                });
            }
            let burned = if creates_account {
                params.account_creation_fee
            } else {
                0
            };
            let needed = transfer
                .amount
                .checked_add(fee)
                .and_then(|n| n.checked_add(burned))
                .ok_or(Error::Overflow {
                    what: "amount + fee",
                })?;
            if sender.balance < needed {
                return Err(Error::InsufficientFunds {
                    account: sender_address,
                    needed,
                    available: sender.balance,
                });
            }
            let sender_after = sender.balance - needed;
            // Check the recipient's credit before writing anything.
            let recipient_before = if transfer.to == sender_address {
                sender_after
            } else {
                state.balance(&transfer.to)
            };
            recipient_before
                .checked_add(transfer.amount)
                .ok_or(Error::Overflow { what: "balance" })?;
            if let Some(account) = state.account_mut(&sender_address) {
                account.balance = sender_after;
                account.nonce = next_nonce;
            }
            credit(state, transfer.to, transfer.amount, params)?;
            Ok(TxOutcome {
                fee,
                burned,
                result: Ok(()),
                events: Vec::new(),
            })
        }
        TxPayload::Contract(call) => {
            if sender.balance < fee {
                return Err(Error::InsufficientFunds {
                    account: sender_address,
                    needed: fee,
                    available: sender.balance,
                });
            }
            let sender_after = sender.balance - fee;
            if let Some(account) = state.account_mut(&sender_address) {
                account.balance = sender_after;
                account.nonce = next_nonce;
            }
            // The contract leaves the state unchanged when it rejects the call.
            let (result, events) = match contracts::execute_call(state, &tx.tx.sender, call, ctx) {
                Ok(events) => (Ok(()), events),
                Err(e) => (Err(e), Vec::new()),
            };
            Ok(TxOutcome {
                fee,
                burned: 0,
                result,
                events,
            })
        }
        // Handled above; kept for exhaustiveness.
        TxPayload::Upload(_) => Err(Error::InvalidCall {
            field: "tx.payload",
            reason: "anonymous upload in an account envelope",
        }),
    }
}

/// Checks every transaction's signature on up to `threads` threads.
///
/// # Errors
///
/// [`Error::TxRejected`] for the lowest-indexed bad signature.
pub fn verify_tx_signatures(
    txs: &[SignedTx],
    threads: usize,
    chain_id: &Hash256,
) -> Result<(), Error> {
    const MIN_PER_THREAD: usize = 32;
    let reject = |index: usize, e: Error| {
        let tx_id = txs.get(index).map_or(Hash256::ZERO, SignedTx::id);
        Error::TxRejected {
            index,
            tx_id,
            source: Box::new(e),
        }
    };
    let threads = threads.clamp(1, (txs.len() / MIN_PER_THREAD).max(1));
    if threads == 1 {
        for (index, tx) in txs.iter().enumerate() {
            tx.verify_signature(chain_id)
                .map_err(|e| reject(index, e))?;
        }
        return Ok(());
    }
    let chunk = txs.len().div_ceil(threads);
    let first_bad = crossbeam::scope(|scope| {
        let workers: Vec<_> = txs
            .chunks(chunk)
            .enumerate()
            .map(|(c, part)| {
                let handle = scope.spawn(move |_| {
                    part.iter().enumerate().find_map(|(i, tx)| {
                        tx.verify_signature(chain_id)
                            .err()
                            .map(|e| (c * chunk + i, e))
                    })
                });
                (c * chunk, handle)
            })
            .collect();
        workers
            .into_iter()
            .filter_map(|(start, handle)| match handle.join() {
                Ok(result) => result,
                // A panicking verifier cannot vouch for its chunk.
                Err(_) => Some((
                    start,
                    Error::BadSignature {
                        domain: crate::crypto::Domain::Tx.tag(),
                    },
                )),
            })
            .min_by_key(|(index, _)| *index)
    });
    match first_bad {
        Ok(None) => Ok(()),
        Ok(Some((index, e))) => Err(reject(index, e)),
        Err(_) => Err(reject(
            0,
            Error::BadSignature {
                domain: crate::crypto::Domain::Tx.tag(),
            },
        )),
    }
}

/// A block ready for mining: header with nonce 0, body, and the state it produces.
#[derive(Debug, Clone)]
pub struct BlockTemplate {
    /// Header with every field final except the nonce.
    pub header: Header,
    /// The body.
    pub body: Body,
    /// State after the block.
    pub post_state: State,
    /// Candidates that were rejected, with why (the rest were included, or left out because
    /// the block was full or is a checkpoint).
    pub rejected: Vec<(Hash256, Error)>,
    /// How many candidates were included.
    pub included: usize,
    /// Included contract calls that failed (fee and nonce charged), by body index.
    pub failed: Vec<(usize, Error)>,
    /// Contract events the block produces (as its [`Receipt`] will list them).
    pub events: Vec<EventRecord>,
    /// Sharecoin the block mints as sensing rewards.
    pub sensing_reward: u128,
}

/// Assembles the child of `parent` mined by `miner` at `timestamp_ms`, including as many
/// `candidates` (in order) as are valid, up to the block limit: contract calls the contract
/// rejects are included as failed (they pay their fee), invalid transactions are left out
/// (listed in `rejected`). At a checkpoint height the body is the parent state and no
/// transaction is included. The contracts' end-of-block hook runs either way.
///
/// # Errors
///
/// [`Error::BadTimestamp`] if `timestamp_ms` is not after the parent's;
/// [`Error::CheckpointMinerNotTrusted`] at a checkpoint height if `miner` lacks the highest
/// trust; [`Error::Overflow`] on reward overflow; the end-of-block hook's errors (a corrupt
/// contract instance).
pub fn build_block(
    parent: &State,
    parent_hash: Hash256,
    miner: &PublicKey,
    timestamp_ms: u64,
    candidates: &[SignedTx],
    params: &ChainParams,
    verification: Verification,
) -> Result<BlockTemplate, Error> {
    if timestamp_ms <= parent.meta.timestamp_ms {
        return Err(Error::BadTimestamp {
            got_ms: timestamp_ms,
            bound_ms: parent.meta.timestamp_ms,
            reason: "not after parent",
        });
    }
    let height = parent.meta.height.saturating_add(1);
    let miner_address = miner.address();
    let miner_trust = parent.trust(&miner_address);
    let (base_difficulty, retargeted) = pot::next_base_difficulty(&parent.meta, params);
    let mut state = parent.clone();
    let mut rejected = Vec::new();
    let mut fees: u128 = 0;
    let mut included = Vec::new();
    let mut failed = Vec::new();
    let mut events = Vec::new();
    let body = if params.is_checkpoint_height(height) {
        let highest = parent.highest_trust();
        if miner_trust != highest {
            return Err(Error::CheckpointMinerNotTrusted {
                miner: miner_address,
                trust: miner_trust,
                highest,
            });
        }
        Body::Checkpoint(Box::new(parent.clone()))
    } else {
        let limit = usize::try_from(params.max_block_txs).unwrap_or(usize::MAX);
        let exec = ExecCtx {
            params,
            height,
            issuer: contracts::task_issuer(parent),
        };
        for tx in candidates {
            if included.len() >= limit {
                break;
            }
            let result = match verification {
                Verification::Full { .. } => tx
                    .verify_signature(&params.chain_id)
                    .and_then(|()| execute_tx(&mut state, tx, &exec)),
                Verification::Trusted => execute_tx(&mut state, tx, &exec),
            };
            match result {
                Ok(outcome) => match fees.checked_add(outcome.fee) {
                    Some(total) => {
                        fees = total;
                        let index = included.len();
                        match outcome.result {
                            Ok(()) => events.extend(contracts::records(
                                EventOrigin::Tx { index },
                                outcome.events,
                            )),
                            Err(e) => failed.push((index, e)),
                        }
                        included.push(tx.clone());
                    }
                    None => return Err(Error::Overflow { what: "block fees" }),
                },
                Err(e) => rejected.push((tx.id(), e)),
            }
        }
        Body::Transactions(included)
    };
    let mut header = Header {
        height,
        prev_hash: parent_hash,
        tx_root: body.root(),
        state_root: Hash256::ZERO,
        miner: *miner,
        miner_trust,
        timestamp_ms,
        base_difficulty,
        nonce: 0,
    };
    let hook = contracts::end_of_block(
        &mut state,
        &HookCtx {
            params,
            height,
            prev_hash: parent_hash,
        },
    )?;
    events.extend(contracts::records(EventOrigin::EndOfBlock, hook.events));
    finish(&mut state, parent, &header, fees, retargeted, params)?;
    header.state_root = state.root();
    let count = body.transactions().len();
    Ok(BlockTemplate {
        header,
        body,
        post_state: state,
        rejected,
        included: count,
        failed,
        events,
        sensing_reward: hook.minted,
    })
}
