//! Canonical encoding properties: `decode(encode(x)) == x` for arbitrary headers,
//! transactions, blocks (both body kinds), states and parameters; decoding arbitrary or mangled
//! bytes returns a typed error and never panics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;

use chain::block::{Body, HEADER_LEN};
use chain::codec::{Decode, Encode};
use chain::crypto::{Address, Domain, SecretKey};
use chain::merkle::MerkleProof;
use chain::state::{Account, ConsensusMeta};
use chain::tx::{ContractCall, Transfer, TxPayload};
use chain::{Block, ChainParams, Error, Hash256, Header, SignedTx, State, UnsignedTx};
use fusion::{Fx, TrustRecord};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;

fn keys() -> &'static [SecretKey] {
    static KEYS: OnceLock<Vec<SecretKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        (0..6)
            .map(|i| chain::devnet::devnet_key(i).unwrap())
            .collect()
    })
}

fn hash() -> impl Strategy<Value = Hash256> {
    any::<[u8; 32]>().prop_map(Hash256)
}

fn unit() -> impl Strategy<Value = Fx> {
    (0..=Fx::SCALE).prop_map(Fx::from_raw)
}

fn header() -> impl Strategy<Value = Header> {
    (
        any::<u64>(),
        hash(),
        hash(),
        hash(),
        0..6usize,
        any::<i64>(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
    )
        .prop_map(
            |(
                height,
                prev_hash,
                tx_root,
                state_root,
                k,
                trust,
                timestamp_ms,
                base_difficulty,
                nonce,
            )| Header {
                height,
                prev_hash,
                tx_root,
                state_root,
                miner: *keys()[k].public_key(),
                miner_trust: Fx::from_raw(trust),
                timestamp_ms,
                base_difficulty,
                nonce,
            },
        )
}

fn payload() -> impl Strategy<Value = TxPayload> {
    prop_oneof![
        (any::<[u8; 20]>(), any::<u128>()).prop_map(|(to, amount)| TxPayload::Transfer(Transfer {
            to: Address::from_bytes(to),
            amount
        })),
        (hash(), vec(any::<u8>(), 0..64))
            .prop_map(|(contract, data)| TxPayload::Contract(ContractCall { contract, data })),
    ]
}

fn signed_tx() -> impl Strategy<Value = SignedTx> {
    (0..6usize, any::<u64>(), any::<u128>(), payload()).prop_map(|(k, nonce, fee, payload)| {
        let key = &keys()[k];
        SignedTx::sign(
            UnsignedTx {
                sender: *key.public_key(),
                nonce,
                fee,
                payload,
            },
            key,
            &Hash256::ZERO,
        )
        .unwrap()
    })
}

fn trust_record() -> impl Strategy<Value = TrustRecord> {
    (0..=64u8, any::<u64>(), unit(), any::<u32>(), unit()).prop_map(
        |(len, bits, last, idle, trust)| {
            let mask = if len >= 64 {
                u64::MAX
            } else {
                (1u64 << len) - 1
            };
            TrustRecord::from_parts(bits & mask, len, last, idle, trust).unwrap()
        },
    )
}

fn state() -> impl Strategy<Value = State> {
    (
        any::<[u64; 5]>(),
        btree_map(
            any::<[u8; 20]>(),
            (any::<u128>(), any::<u64>(), trust_record()),
            0..8,
        ),
        btree_map(any::<[u8; 32]>(), vec(any::<u8>(), 1..32), 0..4),
    )
        .prop_map(|(m, accounts, contracts)| {
            let mut s = State::new(ConsensusMeta {
                height: m[0],
                timestamp_ms: m[1],
                base_difficulty: m[2],
                epoch_anchor_height: m[3],
                epoch_anchor_ms: m[4],
            });
            for (a, (balance, nonce, trust)) in accounts {
                s.set_account(
                    Address::from_bytes(a),
                    Account {
                        balance,
                        nonce,
                        trust,
                    },
                );
            }
            for (id, data) in contracts {
                s.set_contract_state(Hash256(id), data).unwrap();
            }
            s
        })
}

fn block() -> impl Strategy<Value = Block> {
    let body = prop_oneof![
        vec(signed_tx(), 0..4).prop_map(Body::Transactions),
        state().prop_map(|s| Body::Checkpoint(Box::new(s))),
    ];
    (header(), 0..6usize, body).prop_map(|(header, k, body)| Block {
        signature: keys()[k].sign(Domain::Block, &header.hash().0).unwrap(),
        header,
        body,
    })
}

fn params() -> impl Strategy<Value = ChainParams> {
    (
        any::<u128>(),
        1..=u32::MAX,
        2..=u32::MAX,
        any::<u64>(),
        any::<u64>(),
        1..=65_536u32,
        unit(),
        any::<u64>(),
    )
        .prop_map(
            |(block_reward, t, r, c, conf, max, trust, drift)| ChainParams {
                block_reward,
                target_interval_ms: t,
                retarget_interval: r,
                checkpoint_interval: if c == 1 { 0 } else { c },
                checkpoint_confirmations: conf,
                max_block_txs: max,
                new_account_trust: trust,
                max_future_drift_ms: drift,
                ..ChainParams::default()
            },
        )
}

/// Decodes `bytes` as every top-level type; only typed errors may come out (a panic fails).
fn decode_all(bytes: &[u8]) {
    let _ = Block::from_bytes(bytes);
    let _ = SignedTx::from_bytes(bytes);
    let _ = Header::from_bytes(bytes);
    let _ = State::from_bytes(bytes);
    let _ = ChainParams::from_bytes(bytes);
    let _ = MerkleProof::from_bytes(bytes);
    let _ = Account::from_bytes(bytes);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn header_round_trips(h in header()) {
        let bytes = h.to_bytes();
        prop_assert_eq!(bytes.len(), HEADER_LEN);
        prop_assert_eq!(Header::from_bytes(&bytes).unwrap(), h);
    }

    #[test]
    fn tx_round_trips(tx in signed_tx()) {
        prop_assert_eq!(SignedTx::from_bytes(&tx.to_bytes()).unwrap(), tx.clone());
        prop_assert!(tx.verify_signature(&Hash256::ZERO).is_ok());
    }

    #[test]
    fn block_round_trips(b in block()) {
        let bytes = b.to_bytes();
        prop_assert_eq!(Block::from_bytes(&bytes).unwrap(), b.clone());
        // Re-encoding the decoded value gives the same bytes (one encoding per value).
        prop_assert_eq!(Block::from_bytes(&bytes).unwrap().to_bytes(), bytes);
    }

    #[test]
    fn state_round_trips(s in state()) {
        let bytes = s.to_bytes();
        let back = State::from_bytes(&bytes).unwrap();
        prop_assert_eq!(back.root(), s.root());
        prop_assert_eq!(back, s);
    }

    #[test]
    fn params_round_trip(p in params()) {
        prop_assert_eq!(ChainParams::from_bytes(&p.to_bytes()).unwrap(), p);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..600)) {
        decode_all(&bytes);
    }

    #[test]
    fn mangled_encodings_never_panic(b in block(), cut in any::<prop::sample::Index>(), flip in any::<prop::sample::Index>(), bit in 0..8u8) {
        let bytes = b.to_bytes();
        // Every strict prefix is an error.
        let n = cut.index(bytes.len());
        prop_assert!(Block::from_bytes(&bytes[..n]).is_err());
        // One flipped bit: an error or a different block, never a panic or the same block.
        let mut flipped = bytes.clone();
        let i = flip.index(flipped.len());
        flipped[i] ^= 1 << bit;
        if let Ok(other) = Block::from_bytes(&flipped) {
            prop_assert_ne!(other, b);
        }
        decode_all(&flipped);
        // Trailing bytes are refused.
        let mut longer = bytes.clone();
        longer.push(0);
        let trailing = matches!(Block::from_bytes(&longer), Err(Error::TrailingBytes { field: "block", count: 1 }));
        prop_assert!(trailing);
    }
}

#[test]
fn forged_counts_are_refused_before_allocating() {
    // A block header and signature, then a transaction count of 2^32 - 1.
    let key = &keys()[0];
    let header = Header {
        height: 1,
        prev_hash: Hash256::ZERO,
        tx_root: Hash256::ZERO,
        state_root: Hash256::ZERO,
        miner: *key.public_key(),
        miner_trust: Fx::ZERO,
        timestamp_ms: 0,
        base_difficulty: 1,
        nonce: 0,
    };
    let block = Block {
        signature: key.sign(Domain::Block, &header.hash().0).unwrap(),
        header,
        body: Body::Transactions(vec![]),
    };
    let mut bytes = block.to_bytes();
    let n = bytes.len();
    bytes[n - 4..].copy_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(
        Block::from_bytes(&bytes),
        Err(Error::LengthOverCap {
            field: "block.txs",
            cap: 65_536,
            got: u64::from(u32::MAX)
        })
    );
    bytes[n - 4..].copy_from_slice(&1000u32.to_be_bytes());
    assert!(matches!(
        Block::from_bytes(&bytes),
        Err(Error::Truncated {
            field: "block.txs",
            ..
        })
    ));
    // Unknown body tag.
    bytes[n - 5] = 7;
    assert_eq!(
        Block::from_bytes(&bytes),
        Err(Error::UnknownTag {
            field: "block.body",
            tag: 7
        })
    );
}
