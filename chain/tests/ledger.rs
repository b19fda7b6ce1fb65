//! Ledger behaviour: transfers, nonces, fees, typed rejections that change nothing, the pure
//! state transition, header tampering, and account inclusion proofs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chain::block::{Body, tx_root};
use chain::devnet::produce_block;
use chain::transition::{apply_tx, build_block};
use chain::tx::{ContractCall, TxPayload};
use chain::{
    Block, BlockCtx, ChainParams, Error, Hash256, SignedTx, UnsignedTx, Verification, apply_block,
    verify_proof,
};
use common::{Dag, devnet, fx, quiet_params};

fn dag() -> Dag {
    let params = ChainParams {
        block_reward: 50,
        ..quiet_params()
    };
    Dag::new(devnet(&["0.9", "0.5", "0.5", "0"], 1, params))
}

fn ctx<'a>(d: &'a Dag, parent: &str) -> BlockCtx<'a> {
    BlockCtx {
        params: d.params(),
        parent_hash: d.hash(parent),
        verification: Verification::Full { threads: 2 },
    }
}

#[test]
fn transfer_moves_amount_fee_and_nonce() {
    let d = dag();
    let mut state = d.genesis.state.clone();
    let (a0, a1) = (d.net.address(0).unwrap(), d.net.address(1).unwrap());
    let tx = d.net.transfer(0, 1, 0, 100, 5).unwrap();
    assert_eq!(apply_tx(&mut state, &tx, d.params()), Ok(5));
    assert_eq!(state.balance(&a0), 1_000_000 - 105);
    assert_eq!(state.balance(&a1), 1_000_000 + 100);
    assert_eq!(state.nonce(&a0), 1);
    assert_eq!(state.nonce(&a1), 0);
    // Sending to oneself costs only the fee.
    let tx = d.net.transfer(1, 1, 0, 7, 2).unwrap();
    apply_tx(&mut state, &tx, d.params()).unwrap();
    assert_eq!(state.balance(&a1), 1_000_000 + 100 - 2);
}

#[test]
fn rejected_transactions_change_nothing() {
    let d = dag();
    let mut state = d.genesis.state.clone();
    let a0 = d.net.address(0).unwrap();
    let tx = d.net.transfer(0, 1, 0, 100, 5).unwrap();
    apply_tx(&mut state, &tx, d.params()).unwrap();
    let before = state.clone();

    // Replay of the same transaction.
    assert_eq!(
        apply_tx(&mut state, &tx, d.params()),
        Err(Error::NonceMismatch {
            account: a0,
            expected: 1,
            got: 0
        })
    );
    // A nonce from the future.
    let gap = d.net.transfer(0, 1, 5, 1, 1).unwrap();
    assert_eq!(
        apply_tx(&mut state, &gap, d.params()),
        Err(Error::NonceMismatch {
            account: a0,
            expected: 1,
            got: 5
        })
    );
    // Amount plus fee above the balance.
    let poor = d.net.transfer(0, 1, 1, 1_000_000 - 105, 1).unwrap();
    assert_eq!(
        apply_tx(&mut state, &poor, d.params()),
        Err(Error::InsufficientFunds {
            account: a0,
            needed: 1_000_000 - 104,
            available: 1_000_000 - 105
        })
    );
    // A signature that no longer matches (amount changed after signing).
    let mut forged = d.net.transfer(0, 1, 1, 10, 1).unwrap();
    if let TxPayload::Transfer(t) = &mut forged.tx.payload {
        t.amount = 10_000;
    }
    assert_eq!(
        apply_tx(&mut state, &forged, d.params()),
        Err(Error::BadSignature {
            domain: "trustband/v1/tx"
        })
    );
    // A sender without an account.
    let stranger = chain::devnet::devnet_key(99).unwrap();
    let tx = SignedTx::sign(
        UnsignedTx::transfer(*stranger.public_key(), 0, 0, a0, 1),
        &stranger,
        &d.params().chain_id,
    )
    .unwrap();
    assert_eq!(
        apply_tx(&mut state, &tx, d.params()),
        Err(Error::UnknownAccount {
            account: stranger.address()
        })
    );
    assert_eq!(state, before);
    // A contract call the contract rejects (here: no such instance) is included as failed:
    // its fee and nonce are charged, nothing else (chain/tests/contracts_*.rs cover the rest).
    let key = d.net.key(0).unwrap();
    let call = SignedTx::sign(
        UnsignedTx {
            sender: *key.public_key(),
            nonce: 1,
            fee: 1,
            payload: TxPayload::Contract(ContractCall {
                contract: Hash256([5; 32]),
                data: vec![1],
            }),
        },
        key,
        &d.params().chain_id,
    )
    .unwrap();
    assert_eq!(apply_tx(&mut state, &call, d.params()), Ok(1));
    assert_eq!(state.nonce(&a0), 2);
    assert_eq!(state.balance(&a0), before.balance(&a0) - 1);
}

#[test]
fn credit_overflow_is_rejected_before_any_write() {
    let mut net = devnet(&["0.5", "0.5"], 1, quiet_params());
    net.genesis.accounts[1].balance = u128::MAX;
    let d = Dag::new(net);
    let mut state = d.genesis.state.clone();
    let before = state.clone();
    let tx = d.net.transfer(0, 1, 0, 1, 1).unwrap();
    assert_eq!(
        apply_tx(&mut state, &tx, d.params()),
        Err(Error::Overflow { what: "balance" })
    );
    assert_eq!(state, before);
}

#[test]
fn new_recipient_gets_an_account_with_the_configured_trust() {
    let d = dag_with_creation_fee(1_000);
    let mut state = d.genesis.state.clone();
    let newcomer = chain::devnet::devnet_key(50).unwrap().address();
    let key = d.net.key(0).unwrap();
    let tx = SignedTx::sign(
        UnsignedTx::transfer(*key.public_key(), 0, 1, newcomer, 9),
        key,
        &d.params().chain_id,
    )
    .unwrap();
    // Fee 1 to the miner, the account-creation fee burned on top.
    assert_eq!(apply_tx(&mut state, &tx, d.params()), Ok(1));
    let account = state.account(&newcomer).unwrap();
    assert_eq!(account.balance, 9);
    assert_eq!(account.trust.trust(), fx("0"));
    assert_eq!(
        state.balance(&key.address()),
        1_000_000 - 9 - 1 - 1_000,
        "amount, fee and the creation fee"
    );
}

fn dag_with_creation_fee(account_creation_fee: u128) -> Dag {
    let params = ChainParams {
        block_reward: 50,
        account_creation_fee,
        ..quiet_params()
    };
    Dag::new(devnet(&["0.9", "0.5", "0.5", "0"], 1, params))
}

/// `count` distinct addresses that hold no account in a devnet.
fn fresh_addresses(count: usize) -> Vec<chain::crypto::Address> {
    (0..count)
        .map(|i| {
            let mut bytes = [0xA5; 20];
            bytes[..8].copy_from_slice(&(i as u64).to_be_bytes());
            chain::crypto::Address::from_bytes(bytes)
        })
        .collect()
}

/// Transfers of `amount` from account 0 to each of `to`, nonces from 0, fee 1.
fn transfers_to(d: &Dag, to: &[chain::crypto::Address], amount: u128) -> Vec<SignedTx> {
    let key = d.net.key(0).unwrap();
    to.iter()
        .zip(0u64..)
        .map(|(a, nonce)| {
            SignedTx::sign(
                UnsignedTx::transfer(*key.public_key(), nonce, 1, *a, amount),
                key,
                &d.params().chain_id,
            )
            .unwrap()
        })
        .collect()
}

fn total_balance(state: &chain::State) -> u128 {
    state.accounts().map(|(_, a)| a.balance).sum()
}

#[test]
fn fees_below_the_minimum_are_refused_for_transfers_and_calls() {
    let d = dag();
    assert_eq!(d.params().min_fee, 1, "the default minimum fee");
    let mut state = d.genesis.state.clone();
    let before = state.clone();
    let key = d.net.key(0).unwrap();
    let free_transfer = d.net.transfer(0, 1, 0, 10, 0).unwrap();
    let free_call = SignedTx::sign(
        UnsignedTx {
            sender: *key.public_key(),
            nonce: 0,
            fee: 0,
            payload: TxPayload::Contract(ContractCall {
                contract: Hash256([5; 32]),
                data: vec![1],
            }),
        },
        key,
        &d.params().chain_id,
    )
    .unwrap();
    for tx in [&free_transfer, &free_call] {
        assert_eq!(
            apply_tx(&mut state, tx, d.params()),
            Err(Error::FeeTooLow {
                account: key.address(),
                fee: 0,
                minimum: 1
            })
        );
    }
    assert_eq!(state, before);
    // A chain cannot switch the minimum off.
    let free = ChainParams {
        min_fee: 0,
        ..ChainParams::default()
    };
    assert!(matches!(
        free.validate(),
        Err(Error::InvalidConfig {
            field: "min_fee",
            ..
        })
    ));
}

#[test]
fn a_block_of_10k_zero_value_transfers_to_new_addresses_is_rejected() {
    let d = dag();
    let fresh = fresh_addresses(10_000);
    let txs = transfers_to(&d, &fresh, 0);
    // One on its own: a typed refusal that changes nothing.
    let mut state = d.genesis.state.clone();
    assert_eq!(
        apply_tx(&mut state, &txs[0], d.params()),
        Err(Error::ZeroValueToNewAccount {
            sender: d.net.address(0).unwrap(),
            recipient: fresh[0]
        })
    );
    assert_eq!(state, d.genesis.state);
    // A miner leaves them all out.
    let template = build_block(
        &d.genesis.state,
        d.genesis.hash,
        d.net.key(1).unwrap().public_key(),
        d.genesis.state.meta.timestamp_ms + 1000,
        &txs,
        d.params(),
        Verification::Trusted,
    )
    .unwrap();
    assert_eq!(template.included, 0);
    assert_eq!(template.rejected.len(), 10_000);
    // A block that carries them anyway (valid header, PoT and signatures) is invalid.
    let mut header = template.header;
    header.tx_root = tx_root(&txs);
    let block = Block::seal(header, Body::Transactions(txs), d.net.key(1).unwrap()).unwrap();
    let err = apply_block(&d.genesis.state, &block, &ctx(&d, "G")).unwrap_err();
    assert!(
        matches!(
            &err,
            Error::TxRejected { index: 0, source, .. }
                if matches!(**source, Error::ZeroValueToNewAccount { .. })
        ),
        "{err:?}"
    );
    // Zero-value transfers to existing accounts stay valid (they move only the fee).
    let mut state = d.genesis.state.clone();
    let to_known = d.net.transfer(0, 1, 0, 0, 1).unwrap();
    assert_eq!(apply_tx(&mut state, &to_known, d.params()), Ok(1));
    assert_eq!(state.account_count(), d.genesis.state.account_count());
}

#[test]
fn a_block_of_10k_dust_transfers_to_new_addresses_burns_the_creation_fee() {
    let d = dag_with_creation_fee(50);
    let fresh = fresh_addresses(10_000);
    let txs = transfers_to(&d, &fresh, 1);
    let parent = d.genesis.state.clone();
    let (block, _) = produce_block(
        &parent,
        d.genesis.hash,
        d.net.key(1).unwrap(),
        parent.meta.timestamp_ms + 1000,
        &txs,
        d.params(),
        Verification::Trusted,
    )
    .unwrap();
    assert_eq!(block.body.transactions().len(), 10_000);
    let (state, receipt) = apply_block(&parent, &block, &ctx(&d, "G")).unwrap();
    assert_eq!(receipt.burned, 10_000 * 50);
    assert_eq!(receipt.fees, 10_000);
    assert_eq!(state.account_count(), parent.account_count() + 10_000);
    let a0 = d.net.address(0).unwrap();
    assert_eq!(state.balance(&a0), 1_000_000 - 10_000 * (1 + 1 + 50));
    // Supply: + block reward, - the burn (fees only move to the miner).
    assert_eq!(
        total_balance(&state),
        total_balance(&parent) + 50 - 10_000 * 50
    );
    // A sender who cannot pay the creation fee cannot create the account.
    let mut after = state;
    let poor = d.net.key(3).unwrap();
    let drain = SignedTx::sign(
        UnsignedTx::transfer(
            *poor.public_key(),
            0,
            1,
            d.net.address(1).unwrap(),
            1_000_000 - 1 - 40,
        ),
        poor,
        &d.params().chain_id,
    )
    .unwrap();
    apply_tx(&mut after, &drain, d.params()).unwrap();
    let short = SignedTx::sign(
        UnsignedTx::transfer(*poor.public_key(), 1, 1, fresh_addresses(10_001)[10_000], 1),
        poor,
        &d.params().chain_id,
    )
    .unwrap();
    assert_eq!(
        apply_tx(&mut after, &short, d.params()),
        Err(Error::InsufficientFunds {
            account: poor.address(),
            needed: 1 + 1 + 50,
            available: 40
        })
    );
}

#[test]
fn apply_block_is_pure_and_deterministic() {
    let mut d = dag();
    let block = d.add("B1", "G", 1, 1000, &[(0, 2, 10), (0, 3, 20), (2, 1, 5)]);
    let parent = d.genesis.state.clone();
    let ctx = ctx(&d, "G");
    let (s1, r1) = apply_block(&parent, &block, &ctx).unwrap();
    let (s2, r2) = apply_block(&parent, &block, &ctx).unwrap();
    assert_eq!(parent, d.genesis.state, "parent state untouched");
    assert_eq!((s1.clone(), r1.clone()), (s2, r2));
    assert_eq!(s1, *d.state("B1"));
    // Reward 50 plus three fees of 1 to the miner (account 1), which also received 5.
    let a1 = d.net.address(1).unwrap();
    assert_eq!(s1.balance(&a1), 1_000_000 + 50 + 3 + 5);
    assert_eq!((r1.reward, r1.fees, r1.tx_count, r1.height), (50, 3, 3, 1));
    // One signature thread gives the same result.
    let one = BlockCtx {
        verification: Verification::Full { threads: 1 },
        ..ctx
    };
    assert_eq!(apply_block(&parent, &block, &one).unwrap().0, s1);
}

/// Re-signs a tampered header so only the tampered field is wrong.
fn reseal(d: &Dag, miner: usize, mut block: Block, tamper: impl FnOnce(&mut Block)) -> Block {
    tamper(&mut block);
    let header = block.header;
    Block::seal(header, block.body, d.net.key(miner).unwrap()).unwrap()
}

#[test]
fn tampered_headers_are_rejected_with_typed_errors() {
    let mut d = dag();
    let good = d.add("B1", "G", 1, 1000, &[(0, 2, 10)]);
    let parent = d.genesis.state.clone();
    let ctx = ctx(&d, "G");
    apply_block(&parent, &good, &ctx).unwrap();

    type Check = fn(&Error) -> bool;
    type Tamper = Box<dyn Fn(&mut Block)>;
    let cases: Vec<(&str, Tamper, Check)> = vec![
        ("height", Box::new(|b| b.header.height = 2), |e| {
            matches!(
                e,
                Error::HeaderMismatch {
                    field: "height",
                    ..
                }
            )
        }),
        (
            "prev_hash",
            Box::new(|b| b.header.prev_hash = Hash256([7; 32])),
            |e| {
                matches!(
                    e,
                    Error::HeaderMismatch {
                        field: "prev_hash",
                        ..
                    }
                )
            },
        ),
        (
            "timestamp",
            Box::new(|b| b.header.timestamp_ms = 1_000_000),
            |e| {
                matches!(
                    e,
                    Error::BadTimestamp {
                        reason: "not after parent",
                        ..
                    }
                )
            },
        ),
        (
            "base_difficulty",
            Box::new(|b| b.header.base_difficulty = 2),
            |e| {
                matches!(
                    e,
                    Error::HeaderMismatch {
                        field: "base_difficulty",
                        ..
                    }
                )
            },
        ),
        (
            "miner_trust",
            Box::new(|b| b.header.miner_trust = fx("0.9")),
            |e| {
                matches!(
                    e,
                    Error::HeaderMismatch {
                        field: "miner_trust",
                        ..
                    }
                )
            },
        ),
        (
            "tx_root",
            Box::new(|b| b.header.tx_root = Hash256([1; 32])),
            |e| {
                matches!(
                    e,
                    Error::RootMismatch {
                        root: "tx_root",
                        ..
                    }
                )
            },
        ),
        (
            "state_root",
            Box::new(|b| b.header.state_root = Hash256([1; 32])),
            |e| {
                matches!(
                    e,
                    Error::RootMismatch {
                        root: "state_root",
                        ..
                    }
                )
            },
        ),
        (
            "body",
            Box::new(|b| b.body = Body::Transactions(vec![])),
            |e| {
                matches!(
                    e,
                    Error::RootMismatch {
                        root: "tx_root",
                        ..
                    }
                )
            },
        ),
        (
            "checkpoint body",
            Box::new(|b| b.body = Body::Checkpoint(Box::default())),
            |e| {
                matches!(
                    e,
                    Error::WrongBlockKind {
                        expected: "transactions",
                        ..
                    }
                )
            },
        ),
    ];
    for (name, tamper, check) in cases {
        let bad = reseal(&d, 1, good.clone(), tamper);
        let err = apply_block(&parent, &bad, &ctx).unwrap_err();
        assert!(check(&err), "{name}: got {err}");
    }
    // A signature by another key.
    let mut stolen = good.clone();
    stolen.signature = d
        .net
        .key(2)
        .unwrap()
        .sign(chain::crypto::Domain::Block, &good.hash().0)
        .unwrap();
    assert_eq!(
        apply_block(&parent, &stolen, &ctx).unwrap_err(),
        Error::BadSignature {
            domain: "trustband/v1/block"
        }
    );
    // A transaction with a broken signature inside an otherwise valid block.
    let mut forged = good.clone();
    if let Body::Transactions(txs) = &mut forged.body
        && let TxPayload::Transfer(t) = &mut txs[0].tx.payload
    {
        t.amount += 1;
    }
    let forged = reseal(&d, 1, forged, |b| {
        b.header.tx_root = tx_root(b.body.transactions())
    });
    match apply_block(&parent, &forged, &ctx).unwrap_err() {
        Error::TxRejected {
            index: 0, source, ..
        } => {
            assert_eq!(
                *source,
                Error::BadSignature {
                    domain: "trustband/v1/tx"
                }
            );
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn insufficient_work_is_rejected() {
    // Base difficulty 2^16: a random nonce fails with probability 1 - 2^-16 / g(T).
    let mut d = Dag::new(devnet(&["0.5", "0.5"], 1 << 16, quiet_params()));
    let good = d.add("B1", "G", 1, 1000, &[]);
    let parent = d.genesis.state.clone();
    let ctx = ctx(&d, "G");
    apply_block(&parent, &good, &ctx).unwrap();
    let target = chain::pot::target(1 << 16, fx("0.5"));
    let mut bad = good.clone();
    bad.header.nonce = (0..)
        .find(|&n| {
            let mut h = good.header;
            h.nonce = n;
            h.hash() > target
        })
        .unwrap();
    let bad = reseal(&d, 1, bad, |_| {});
    assert!(matches!(
        apply_block(&parent, &bad, &ctx),
        Err(Error::InsufficientWork { .. })
    ));
    // Trusted re-application skips proof of trust (blocks this node already validated).
    let trusted = BlockCtx {
        verification: Verification::Trusted,
        ..ctx
    };
    assert!(apply_block(&parent, &bad, &trusted).is_ok());
}

#[test]
fn block_transaction_limit() {
    let params = ChainParams {
        max_block_txs: 2,
        ..quiet_params()
    };
    let mut d = Dag::new(devnet(&["0.5", "0.5"], 1, params.clone()));
    let good = d.add("B1", "G", 1, 1000, &[(0, 1, 1), (0, 1, 1)]);
    let mut txs = good.body.transactions().to_vec();
    txs.push(d.net.transfer(0, 1, 2, 1, 1).unwrap());
    let bad = reseal(&d, 1, good, |b| {
        b.header.tx_root = tx_root(&txs);
        b.body = Body::Transactions(txs.clone());
    });
    assert_eq!(
        apply_block(&d.genesis.state, &bad, &ctx(&d, "G")).unwrap_err(),
        Error::LimitExceeded {
            what: "transactions in a block",
            limit: 2,
            got: 3
        }
    );
}

#[test]
fn account_proofs_verify_against_the_header_state_root() {
    let mut d = dag();
    d.add("B1", "G", 1, 1000, &[(0, 2, 10)]);
    let block = d.add("B2", "B1", 2, 1000, &[(2, 3, 4), (1, 0, 3)]);
    let state = d.state("B2");
    let root = block.header.state_root;
    assert_eq!(state.root(), root);
    for (address, account) in state.accounts() {
        let proof = state.prove(address).unwrap();
        verify_proof(&root, address, account, &proof).unwrap();
        // The proof survives its encoding.
        let proof = <chain::merkle::MerkleProof as chain::codec::Decode>::from_bytes(
            &chain::codec::Encode::to_bytes(&proof),
        )
        .unwrap();
        verify_proof(&root, address, account, &proof).unwrap();
        let mut lie = *account;
        lie.nonce += 1;
        assert!(matches!(
            verify_proof(&root, address, &lie, &proof),
            Err(Error::RootMismatch { .. })
        ));
        // Someone else's proof does not prove this account.
        let other = d.net.address(0).unwrap();
        if other != *address {
            assert!(verify_proof(&root, &other, account, &proof).is_err());
        }
    }
    // A stale root does not verify the new state.
    let a3 = d.net.address(3).unwrap();
    let proof = state.prove(&a3).unwrap();
    assert!(
        verify_proof(
            &d.block("B1").header.state_root,
            &a3,
            state.account(&a3).unwrap(),
            &proof
        )
        .is_err()
    );
}

#[test]
fn a_transaction_signed_for_one_testbed_is_refused_by_another() {
    // Two testbeds with the same keys and balances; only the genesis time differs, so the
    // genesis (and the chain id every signature is bound to) differs.
    let params = || ChainParams {
        block_reward: 50,
        ..quiet_params()
    };
    let mut a = Dag::new(devnet(&["0.9", "0.5", "0.5", "0"], 1, params()));
    let mut other = devnet(&["0.9", "0.5", "0.5", "0"], 1, params());
    other.genesis.timestamp_ms += 1;
    let mut b = Dag::new(other);
    assert_eq!(a.net.address(0).unwrap(), b.net.address(0).unwrap());
    assert_ne!(a.genesis.hash, b.genesis.hash);
    assert_ne!(a.params().chain_id, b.params().chain_id);
    assert_ne!(a.params().chain_id, Hash256::ZERO);
    // The id is a function of the genesis: rebuilding gives the same one.
    assert_eq!(
        a.net.genesis.build().unwrap().params.chain_id,
        a.params().chain_id
    );

    // A's transfer: valid on A, a typed signature error on B (alone and inside a block).
    let tx = a.net.transfer(0, 1, 0, 100, 5).unwrap();
    let mut on_a = a.genesis.state.clone();
    assert_eq!(apply_tx(&mut on_a, &tx, a.params()), Ok(5));
    let mut on_b = b.genesis.state.clone();
    let before = on_b.clone();
    let wrong_chain = Error::BadSignature {
        domain: "trustband/v1/tx",
    };
    assert_eq!(
        apply_tx(&mut on_b, &tx, b.params()),
        Err(wrong_chain.clone())
    );
    assert_eq!(on_b, before, "nothing applied");
    assert_eq!(tx.verify_signature(&b.params().chain_id), Err(wrong_chain));
    tx.verify_signature(&a.params().chain_id).unwrap();

    // Replayed into one of B's blocks (re-sealed by B's miner): the block is refused.
    a.add("A1", "G", 1, 1000, &[(0, 1, 100)]);
    let replayed_txs = match a.block("A1").body {
        Body::Transactions(txs) => txs,
        other => panic!("{other:?}"),
    };
    let mut template = b.template("G", 1, 1000);
    template.header.tx_root = tx_root(&replayed_txs);
    let forged = Block::seal(
        template.header,
        Body::Transactions(replayed_txs.clone()),
        b.net.key(1).unwrap(),
    )
    .unwrap();
    let err = apply_block(&b.genesis.state, &forged, &ctx(&b, "G")).unwrap_err();
    assert!(
        matches!(
            &err,
            Error::TxRejected { index: 0, source, .. }
                if **source == Error::BadSignature { domain: "trustband/v1/tx" }
        ),
        "{err:?}"
    );
    // B's own copy of the same transfer is accepted there.
    b.add("B1", "G", 1, 1000, &[(0, 1, 100)]);
}
