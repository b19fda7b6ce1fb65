//! Contract plumbing: canonical encodings of calls, anonymous uploads and contract
//! parameters (round trips, arbitrary bytes give typed errors and never panic), the fixed
//! envelope of anonymous uploads, parameter validation, failed-call semantics at block level,
//! the end-of-block hook on checkpoint blocks, and the unlinkability of key images across
//! tasks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod contracts_support;

use chain::codec::{Decode, Encode};
use chain::contracts::events::ContractEvent;
use chain::contracts::{
    BidOpening, Call, ChannelSpec, ContractParams, MAX_OPENINGS, REGISTRY, task_contract,
};
use chain::crypto::{BidSecret, BlindedBid, DleqProof, Salt};
use chain::tx::{ContractCall, TxPayload};
use chain::{ChainParams, Error, GenesisConfig, Hash256, SignedTx, UnsignedTx};
use contracts_support::{Lab, chain_params, fx, test_contracts};
use fusion::{FusionRule, SelectionScheme, TieBreak};
use proptest::prelude::*;

fn arb_call() -> impl Strategy<Value = Call> {
    let opening =
        (any::<u128>(), any::<bool>(), any::<[u8; 32]>()).prop_map(|(value, fake, s)| BidOpening {
            value,
            fake,
            secret: BidSecret::from_bytes(s),
        });
    prop_oneof![
        any::<u32>().prop_map(|channel| Call::Open { channel }),
        Just(Call::Register),
        Just(Call::BuyIn),
        (any::<[u8; 32]>(), any::<[u8; 64]>()).prop_filter_map("canonical proof", |(s, p)| {
            DleqProof::from_bytes(&p).ok().map(|proof| Call::Reveal {
                salt: Salt::from_bytes(s),
                proof,
            })
        }),
        (any::<[u8; 32]>(), any::<u128>()).prop_map(|(b, deposit)| Call::Commit {
            blinded: BlindedBid::from_bytes(b),
            deposit
        }),
        prop::collection::vec(opening, 0..4).prop_map(|openings| Call::RevealBids { openings }),
        Just(Call::Heartbeat),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn calls_round_trip(call in arb_call()) {
        let bytes = call.encode();
        prop_assert_eq!(Call::decode(&bytes).unwrap(), call);
    }

    /// Any bytes: a typed error or a call whose encoding is exactly those bytes (canonical).
    #[test]
    fn arbitrary_call_data_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..120)) {
        if let Ok(call) = Call::decode(&bytes) {
            prop_assert_eq!(call.encode(), bytes);
        }
    }

    /// Flipping any byte of an anonymous upload gives a typed error or another well-formed
    /// transaction, never a panic.
    #[test]
    fn mutated_uploads_decode_to_typed_errors(index in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = sample_upload().to_bytes();
        let i = index.index(bytes.len());
        bytes[i] = byte;
        if let Ok(tx) = SignedTx::from_bytes(&bytes) {
            prop_assert_eq!(tx.to_bytes(), bytes);
        }
    }
}

/// A valid anonymous upload (task 1 of a lab with three selected sensors).
fn sample_upload() -> SignedTx {
    use std::sync::OnceLock;
    static TX: OnceLock<SignedTx> = OnceLock::new();
    TX.get_or_init(|| {
        let mut lab = lab();
        let task = open(&mut lab, &[1, 2, 3]);
        lab.skip(1);
        let salt = lab.salt();
        lab.upload(2, task, true, &salt)
    })
    .clone()
}

/// Random selection: every round selects the three registered sensors whatever their trust.
fn lab() -> Lab {
    let trusts = ["0.9", "0.8", "0.7", "0.6", "0", "0"].map(fx);
    let mno = chain::devnet::devnet_key(5).unwrap().address();
    let mut contracts = test_contracts(mno);
    contracts.csc.selection = SelectionScheme::Random;
    Lab::new(chain_params(contracts), &trusts, &[10_000; 6])
}

fn open(lab: &mut Lab, sensors: &[usize]) -> u64 {
    let task = lab.next_task();
    let issuer = lab.issuer_index();
    let mut txs = vec![lab.call(issuer, REGISTRY, &Call::Open { channel: 0 })];
    for &s in sensors {
        txs.push(lab.call(s, task_contract(task), &Call::Register));
    }
    assert!(lab.block(&txs).receipt.failed.is_empty());
    task
}

#[test]
fn malformed_call_data_is_typed() {
    assert_eq!(
        Call::decode(&[]),
        Err(Error::Truncated {
            field: "call",
            needed: 1,
            remaining: 0
        })
    );
    assert_eq!(
        Call::decode(&[9]),
        Err(Error::UnknownTag {
            field: "call",
            tag: 9
        })
    );
    assert_eq!(
        Call::decode(&[1, 0]),
        Err(Error::TrailingBytes {
            field: "call",
            count: 1
        })
    );
    let mut too_many = vec![5];
    too_many.extend_from_slice(&(MAX_OPENINGS + 1).to_be_bytes());
    assert!(matches!(
        Call::decode(&too_many),
        Err(Error::LengthOverCap {
            field: "call.reveal_bids",
            ..
        })
    ));
    let mut bad_bool = Call::RevealBids {
        openings: vec![BidOpening {
            value: 1,
            fake: false,
            secret: BidSecret::from_bytes([0; 32]),
        }],
    }
    .encode();
    bad_bool[1 + 4 + 16] = 7;
    assert!(matches!(
        Call::decode(&bad_bool),
        Err(Error::InvalidEncoding {
            field: "call.reveal_bids.fake",
            ..
        })
    ));
}

#[test]
fn anonymous_upload_round_trips_and_its_envelope_is_fixed() {
    let tx = sample_upload();
    let chain = lab().params.chain_id;
    tx.verify_signature(&chain).unwrap();
    // Replayed on another testbed's chain: its ring signature does not verify there.
    assert_eq!(
        tx.verify_signature(&Hash256([1; 32])),
        Err(Error::BadRingSignature)
    );
    let bytes = tx.to_bytes();
    assert_eq!(SignedTx::from_bytes(&bytes).unwrap(), tx);
    assert!(tx.tx.is_anonymous());

    let envelope = Err(Error::InvalidEncoding {
        field: "tx.upload",
        reason: "an anonymous upload has the fixed envelope (anonymous sender, nonce 0, fee 0, fixed signature), and only uploads have it",
    });
    // Nonce, fee, signature: each tampered in memory fails verification and decoding.
    let mut t = tx.clone();
    t.tx.nonce = 1;
    assert_eq!(t.verify_signature(&chain), envelope.clone());
    assert_eq!(
        SignedTx::from_bytes(&t.to_bytes()).map(|_| ()),
        envelope.clone()
    );
    let mut t = tx.clone();
    t.tx.fee = 5;
    assert_eq!(t.verify_signature(&chain), envelope.clone());
    assert_eq!(
        SignedTx::from_bytes(&t.to_bytes()).map(|_| ()),
        envelope.clone()
    );
    let key = chain::devnet::devnet_key(1).unwrap();
    let mut t = tx.clone();
    t.signature = key.sign(chain::crypto::Domain::Tx, b"x").unwrap();
    assert_eq!(t.verify_signature(&chain), envelope.clone());
    assert_eq!(
        SignedTx::from_bytes(&t.to_bytes()).map(|_| ()),
        envelope.clone()
    );
    let mut t = tx.clone();
    t.tx.sender = *key.public_key();
    assert_eq!(t.verify_signature(&chain), envelope.clone());
    assert_eq!(
        SignedTx::from_bytes(&t.to_bytes()).map(|_| ()),
        envelope.clone()
    );
    // An account cannot sign an upload, and the anonymous sender sends nothing else.
    let mut unsigned = tx.tx.clone();
    unsigned.sender = *key.public_key();
    assert!(SignedTx::sign(unsigned, &key, &chain).is_err());
    let mut t = tx.clone();
    t.tx.payload = TxPayload::Contract(Call::Register.to(task_contract(1)));
    assert_eq!(SignedTx::from_bytes(&t.to_bytes()).map(|_| ()), envelope);
}

#[test]
fn key_images_do_not_link_a_sensor_across_tasks() {
    let mut lab = lab();
    let t1 = open(&mut lab, &[1, 2, 3]);
    lab.skip(1);
    let salt = lab.salt();
    let first = lab.upload(2, t1, true, &salt);
    lab.block(std::slice::from_ref(&first));
    let t2 = open(&mut lab, &[1, 2, 3]);
    lab.skip(1);
    let second = lab.upload(2, t2, true, &salt);
    let image = |tx: &SignedTx| match &tx.tx.payload {
        TxPayload::Upload(u) => *u.key_image(),
        _ => unreachable!(),
    };
    assert_ne!(image(&first), image(&second));
    // Same signer, same task: same image (the duplicate check relies on it).
    let again = lab.upload(2, t2, false, &salt);
    assert_eq!(image(&second), image(&again));
}

#[test]
fn contract_params_round_trip_through_chain_params_and_toml() {
    let mno = chain::devnet::devnet_key(5).unwrap().address();
    let mut params = chain_params(test_contracts(mno));
    params.contracts.csc.fusion = FusionRule::SoftCombining {
        threshold_mdb: -1500,
    };
    params.contracts.csc.selection = SelectionScheme::RegisterTime;
    assert_eq!(ChainParams::from_bytes(&params.to_bytes()).unwrap(), params);
    let text = r#"
        timestamp_ms = 1000
        base_difficulty = 1
        [params.contracts]
        mno = "0x0101010101010101010101010101010101010101"
        channels = [{ centre_hz = 600000000, bandwidth_hz = 6000000 }]
        [params.contracts.csc]
        k = 4
        selection = { scheme = "trust", threshold = "0.6" }
        fusion = { rule = "k_out_of_n", k = 2 }
        [params.contracts.lease]
        p_w = "0.2"
    "#;
    let config: GenesisConfig = toml::from_str(text).unwrap();
    let g = config.build().unwrap();
    let c = &g.params.contracts;
    assert_eq!(c.csc.k, 4);
    assert_eq!(c.csc.fusion, FusionRule::KOutOfN { k: 2 });
    assert_eq!(c.lease.p_w, fx("0.2"));
    assert_eq!(c.channels.len(), 1);
    assert_eq!(
        ChainParams::from_bytes(&g.params.to_bytes()).unwrap(),
        g.params
    );
}

#[test]
fn invalid_contract_params_are_refused() {
    let field_of = |edit: &dyn Fn(&mut ContractParams)| {
        let mut c = ContractParams::default();
        edit(&mut c);
        match c.validate() {
            Err(Error::InvalidConfig { field, .. }) => field,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(
        field_of(&|c| c.csc.fusion = FusionRule::TrustWeightedMajority {
            tie: TieBreak::Busy
        }),
        "contracts.csc.fusion"
    );
    assert_eq!(field_of(&|c| c.csc.k = 1), "contracts.csc.k");
    assert_eq!(field_of(&|c| c.csc.k = 257), "contracts.csc.k");
    assert_eq!(
        field_of(&|c| c.csc.deadline = c.csc.registration_close),
        "contracts.csc.deadline"
    );
    assert_eq!(
        field_of(&|c| c.csc.reveal_end = c.csc.deadline),
        "contracts.csc.reveal_end"
    );
    assert_eq!(
        field_of(&|c| c.csc.selection = SelectionScheme::Trust {
            threshold: fx("1.5")
        }),
        "contracts.csc.selection"
    );
    assert_eq!(field_of(&|c| c.sac.expiry = 1), "contracts.sac.expiry");
    assert_eq!(
        field_of(&|c| c.sac.commit_len = 0),
        "contracts.sac.commit_len"
    );
    assert_eq!(field_of(&|c| c.lease.term = 0), "contracts.lease.term");
    assert_eq!(field_of(&|c| c.lease.gamma = fx("1")), "contracts.lease");
    assert_eq!(field_of(&|c| c.trust.window = 0), "contracts.trust");
    assert_eq!(
        field_of(&|c| c.channels = vec![ChannelSpec {
            centre_hz: 1,
            bandwidth_hz: 0
        }]),
        "contracts.channels"
    );
    // A chain refuses such parameters on decode too.
    let mut bad = ChainParams::default();
    bad.contracts.csc.k = 1;
    assert!(matches!(
        ChainParams::from_bytes(&bad.to_bytes()),
        Err(Error::InvalidConfig {
            field: "contracts.csc.k",
            ..
        })
    ));
}

#[test]
fn a_failed_call_pays_its_fee_to_the_miner_and_is_listed_in_the_receipt() {
    let mut lab = lab();
    lab.miner = 4;
    let miner_before = lab.balance(4);
    let ok = lab.call_with_fee(0, REGISTRY, &Call::Open { channel: 0 }, 3);
    let bad = lab.call_with_fee(1, REGISTRY, &Call::Open { channel: 1 }, 7);
    let bad_data = lab.signed(
        2,
        2,
        TxPayload::Contract(ContractCall {
            contract: Hash256([0xee; 32]),
            data: vec![],
        }),
    );
    let applied = lab.block(&[ok, bad, bad_data]);
    assert_eq!(applied.receipt.tx_count, 3);
    assert_eq!(applied.receipt.fees, 12);
    assert_eq!(lab.balance(4), miner_before + 12);
    assert_eq!(
        applied.receipt.failed,
        vec![
            (
                1,
                Error::NotTaskIssuer {
                    expected: lab.address(0),
                    got: lab.address(1)
                }
            ),
            (
                2,
                Error::UnknownContract {
                    contract: Hash256([0xee; 32])
                }
            )
        ]
    );
    assert!(matches!(
        applied.receipt.events[0].origin,
        chain::contracts::events::EventOrigin::Tx { index: 0 }
    ));
    assert_eq!(lab.state.nonce(&lab.address(1)), 1);
    assert_eq!(lab.balance(1), 10_000 - 7);
}

#[test]
fn the_hook_runs_on_checkpoint_blocks() {
    let trusts = ["0.9", "0.8", "0.7", "0.6", "0", "0"].map(fx);
    let mno = chain::devnet::devnet_key(5).unwrap().address();
    let mut params = chain_params(test_contracts(mno));
    params.checkpoint_interval = 3;
    let mut lab = Lab::new(params, &trusts, &[10_000; 6]);
    // Task opened at 1; selection at the end of 2; height 3 is a checkpoint: no uploads,
    // but its hook still fuses (no reports: busy).
    let task = open(&mut lab, &[1, 2, 3]);
    lab.skip(1);
    let applied = lab.block(&[]);
    assert!(applied.receipt.checkpoint);
    assert!(applied.events().contains(&ContractEvent::Fused {
        task,
        channel: 0,
        busy: true,
        reports: 0,
        busy_reports: 0,
        reason: chain::contracts::events::FuseReason::NoReports,
    }));
}

#[test]
fn apply_tx_charges_a_failed_call_and_reports_its_fee() {
    let mut lab = lab();
    let mut state = lab.state.clone();
    let key = &lab.keys[1];
    let tx = SignedTx::sign(
        UnsignedTx {
            sender: *key.public_key(),
            nonce: 0,
            fee: 4,
            payload: TxPayload::Contract(Call::Open { channel: 0 }.to(REGISTRY)),
        },
        key,
        &lab.params.chain_id,
    )
    .unwrap();
    assert_eq!(
        chain::transition::apply_tx(&mut state, &tx, &lab.params),
        Ok(4)
    );
    assert_eq!(state.balance(&lab.address(1)), 10_000 - 4);
    assert!(state.contract_state(&REGISTRY).is_none());
    lab.reset_nonces();
}
