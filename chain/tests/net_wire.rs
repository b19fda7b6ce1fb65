//! Network wire format: gossip messages, sync requests and responses round-trip through their
//! versioned envelopes; arbitrary, truncated or mangled bytes give typed errors and never
//! panic; each malformed case names the right error variant.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;

use chain::codec::{Decode, Encode};
use chain::devnet::{Devnet, produce_block};
use chain::net::{HeadInfo, MAX_SYNC_BLOCKS, NetMessage, SyncRequest, SyncResponse, Topic};
use chain::{Block, ChainParams, Error, Hash256, SignedTx, Verification};
use fusion::Fx;
use proptest::prelude::*;

struct Fixture {
    blocks: Vec<Block>,
    txs: Vec<SignedTx>,
}

/// Three real blocks (the first carries two transfers) and two signed transactions.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let params = ChainParams {
            block_reward: 0,
            retarget_interval: 1_000_000,
            checkpoint_interval: 0,
            ..ChainParams::default()
        };
        let net = Devnet::new(3, 1_000_000, |_| Fx::HALF, 1, 1_000_000, params).unwrap();
        let genesis = net.genesis.build().unwrap();
        let txs = vec![
            net.transfer(0, 1, 0, 10, 1).unwrap(),
            net.transfer(1, 2, 0, 20, 1).unwrap(),
        ];
        let mut state = genesis.state.clone();
        let mut parent = genesis.hash;
        let mut blocks = Vec::new();
        for i in 0..3u64 {
            let candidates = if i == 0 { txs.clone() } else { Vec::new() };
            let (block, template) = produce_block(
                &state,
                parent,
                net.key(0).unwrap(),
                1_000_000 + 1000 * (i + 1),
                &candidates,
                &genesis.params,
                Verification::Full { threads: 1 },
            )
            .unwrap();
            parent = block.hash();
            state = template.post_state;
            blocks.push(block);
        }
        Fixture { blocks, txs }
    })
}

fn block(i: usize) -> Block {
    fixture().blocks[i].clone()
}

#[test]
fn messages_round_trip_with_envelope_prefix() {
    let tx = NetMessage::Tx(fixture().txs[0].clone());
    let bytes = tx.to_bytes();
    assert_eq!(&bytes[..2], &[1, 0x01]);
    assert_eq!(&bytes[2..], fixture().txs[0].to_bytes().as_slice());
    assert_eq!(NetMessage::decode_on(Topic::Tx, &bytes).unwrap(), tx);
    assert_eq!(tx.topic().name(), "trustband/v1/tx");

    let msg = NetMessage::Block(block(0));
    let bytes = msg.to_bytes();
    assert_eq!(&bytes[..2], &[1, 0x02]);
    assert_eq!(&bytes[2..], block(0).to_bytes().as_slice());
    assert_eq!(NetMessage::decode_on(Topic::Block, &bytes).unwrap(), msg);
    assert_eq!(Topic::from_name("trustband/v1/block"), Some(Topic::Block));
    assert_eq!(Topic::from_name("trustband/v2/block"), None);
}

#[test]
fn a_message_on_the_wrong_topic_is_refused() {
    let bytes = NetMessage::Block(block(1)).to_bytes();
    assert_eq!(
        NetMessage::decode_on(Topic::Tx, &bytes),
        Err(Error::WrongTopic {
            topic: "trustband/v1/tx",
            kind: "block"
        })
    );
}

#[test]
fn responses_round_trip() {
    let cases = vec![
        SyncResponse::Blocks {
            head_height: 3,
            blocks: fixture().blocks.clone(),
        },
        SyncResponse::Blocks {
            head_height: 0,
            blocks: vec![],
        },
        SyncResponse::Block(Some(block(2))),
        SyncResponse::Block(None),
        SyncResponse::Checkpoint(None),
        SyncResponse::Checkpoint(Some(block(0))),
        SyncResponse::Head(HeadInfo {
            height: 3,
            hash: block(2).hash(),
            work: u128::MAX - 5,
        }),
    ];
    for resp in cases {
        let bytes = resp.to_bytes();
        assert_eq!(SyncResponse::from_bytes(&bytes).unwrap(), resp);
        // Every strict prefix is refused with a typed error.
        for cut in 0..bytes.len() {
            assert!(
                SyncResponse::from_bytes(&bytes[..cut]).is_err(),
                "prefix {cut} of {resp:?} decoded"
            );
        }
    }
}

#[test]
fn malformed_frames_name_their_error() {
    // Version byte.
    let mut bytes = NetMessage::Block(block(0)).to_bytes();
    bytes[0] = 2;
    assert_eq!(
        NetMessage::from_bytes(&bytes),
        Err(Error::UnsupportedVersion {
            field: "net.message",
            got: 2,
            supported: 1
        })
    );
    // Unknown kind, and a request kind sent as a gossip message.
    assert_eq!(
        NetMessage::from_bytes(&[1, 0x7f]),
        Err(Error::UnknownTag {
            field: "net.message",
            tag: 0x7f
        })
    );
    assert_eq!(
        NetMessage::from_bytes(&SyncRequest::Head.to_bytes()),
        Err(Error::UnknownTag {
            field: "net.message",
            tag: 0x13
        })
    );
    // A request for more blocks than a response may carry.
    let req = SyncRequest::BlocksFrom {
        height: 1,
        max: MAX_SYNC_BLOCKS + 1,
    };
    assert_eq!(
        SyncRequest::from_bytes(&req.to_bytes()),
        Err(Error::LengthOverCap {
            field: "net.request.max",
            cap: 256,
            got: 257
        })
    );
    // A forged block count: over the cap, then more than the bytes can hold.
    let mut forged = vec![1, 0x20];
    forged.extend_from_slice(&9u64.to_be_bytes());
    forged.extend_from_slice(&1000u32.to_be_bytes());
    assert_eq!(
        SyncResponse::from_bytes(&forged),
        Err(Error::LengthOverCap {
            field: "net.response.blocks",
            cap: 256,
            got: 1000
        })
    );
    let mut forged = vec![1, 0x20];
    forged.extend_from_slice(&9u64.to_be_bytes());
    forged.extend_from_slice(&3u32.to_be_bytes());
    forged.extend_from_slice(&block(0).to_bytes());
    assert!(matches!(
        SyncResponse::from_bytes(&forged),
        Err(Error::Truncated {
            field: "net.response.blocks",
            ..
        })
    ));
    // The "present" byte of an optional block.
    assert_eq!(
        SyncResponse::from_bytes(&[1, 0x21, 2]),
        Err(Error::UnknownTag {
            field: "net.response.block",
            tag: 2
        })
    );
    // Trailing bytes after a complete message.
    let mut long = NetMessage::Tx(fixture().txs[1].clone()).to_bytes();
    long.push(0);
    assert_eq!(
        NetMessage::from_bytes(&long),
        Err(Error::TrailingBytes {
            field: "net.message",
            count: 1
        })
    );
}

fn any_request() -> impl Strategy<Value = SyncRequest> {
    prop_oneof![
        (any::<u64>(), 0..=MAX_SYNC_BLOCKS)
            .prop_map(|(height, max)| SyncRequest::BlocksFrom { height, max }),
        any::<[u8; 32]>().prop_map(|h| SyncRequest::BlockByHash(Hash256(h))),
        Just(SyncRequest::Checkpoint),
        Just(SyncRequest::Head),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn requests_round_trip(req in any_request()) {
        prop_assert_eq!(SyncRequest::from_bytes(&req.to_bytes()).unwrap(), req);
    }

    #[test]
    fn head_responses_round_trip(height in any::<u64>(), hash in any::<[u8; 32]>(), work in any::<u128>()) {
        let resp = SyncResponse::Head(HeadInfo { height, hash: Hash256(hash), work });
        prop_assert_eq!(SyncResponse::from_bytes(&resp.to_bytes()).unwrap(), resp);
    }

    /// Arbitrary bytes: every decoder returns, never panics. With a valid envelope prefix the
    /// body parsers are exercised too.
    #[test]
    fn arbitrary_bytes_never_panic(kind in any::<u8>(), body in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut bytes = vec![1, kind];
        bytes.extend_from_slice(&body);
        for input in [&bytes[..], &body[..]] {
            let _ = NetMessage::from_bytes(input);
            let _ = NetMessage::decode_on(Topic::Tx, input);
            let _ = NetMessage::decode_on(Topic::Block, input);
            let _ = SyncRequest::from_bytes(input);
            let _ = SyncResponse::from_bytes(input);
        }
    }

    /// A real block message with one byte changed decodes to an error or to a different valid
    /// message, never panics, and never decodes to the original.
    #[test]
    fn mangled_block_messages_never_panic(pos in any::<prop::sample::Index>(), xor in 1u8..=255) {
        let original = NetMessage::Block(block(0));
        let mut bytes = original.to_bytes();
        let i = pos.index(bytes.len());
        bytes[i] ^= xor;
        if let Ok(decoded) = NetMessage::from_bytes(&bytes) {
            prop_assert_ne!(decoded, original);
        }
    }
}
