//! Chaum-Pedersen DLEQ proofs (reveal ownership): a pinned known answer, honest proofs verify,
//! tampering any input fails with `BadDleqProof`, and decoding checks shapes first.

use chacha20::ChaCha20Rng;
use chain::Error;
use chain::contracts::csc::reveal_context;
use chain::crypto::bench::RingFixture;
use chain::crypto::dleq::{self, DLEQ_PROOF_LEN};
use chain::crypto::{DleqProof, Event, EventBase, Ring};
use proptest::prelude::*;
use rand_core::SeedableRng;

use super::key;
use super::keys::ORDER;

/// The chain id the non-KAT proofs are bound to.
const CHAIN: chain::Hash256 = chain::Hash256([5; 32]);

#[test]
fn dleq_proof_known_answer() {
    // The LSAG known-answer fixture: 4-member ring, event (7, 3), member 2 proves for its
    // image; the RNG is the fixture's fixed-seed ChaCha20 ([42; 32]). Base and proof (nonce
    // derivation included) were recomputed in plain Python by tests/data/kat_crosscheck.py.
    // Re-pinned when the event and the reveal context took the chain id (zero here).
    let mut fixture = RingFixture::new(4).unwrap();
    let reveal = fixture.reveal_as(2).unwrap();
    assert_eq!(
        reveal.image.to_string(),
        "0x03cb09331f884d14c127878963fd751d8becf3227de2bf70f883decde48f4a6d94",
        "same key image as the pinned ring signature"
    );
    assert_eq!(
        reveal.context,
        reveal_context(&chain::Hash256::ZERO, 7, &fixture.secrets[2].address())
    );
    assert_eq!(
        hex::encode(reveal.base.as_bytes()),
        "029589be5761ec9ab685cb0bd24409b50dd01c700e6e1a17caac51ae852f7b447d"
    );
    assert_eq!(
        reveal.proof.to_string(),
        "0x8a87100e0101fc3a90995e44e157c0455ff24453409120edd9c52f9e38e85c7a\
         9fa6f1d38cf42332fa6929ff0dac065f7ce22e98590fef6948175c8834295185"
    );
    reveal.verify().unwrap();
    assert_eq!(chain::crypto::Domain::Dleq.tag(), "trustband/v1/dleq");
}

#[test]
fn decoding_checks_length_and_scalars() {
    for len in [0, 63, 65] {
        assert_eq!(
            DleqProof::from_bytes(&vec![1; len]),
            Err(Error::WrongLength {
                field: "dleq_proof",
                expected: DLEQ_PROOF_LEN,
                got: len
            })
        );
    }
    let order = hex::decode(ORDER).unwrap();
    let one = {
        let mut b = [0u8; 32];
        b[31] = 1;
        b
    };
    let proof = |c: &[u8], s: &[u8]| DleqProof::from_bytes(&[c, s].concat());
    let bad_c = Err(Error::NonCanonicalScalar {
        field: "dleq.c",
        index: 0,
    });
    assert_eq!(proof(&[0; 32], &one), bad_c);
    assert_eq!(proof(&order, &one), bad_c);
    assert_eq!(proof(&[0xff; 32], &one), bad_c);
    assert_eq!(
        proof(&one, &order),
        Err(Error::NonCanonicalScalar {
            field: "dleq.s",
            index: 0
        })
    );
    // s = 0 and c = n - 1 are well-formed.
    let mut top = order.clone();
    top[31] -= 1;
    let p = proof(&top, &[0; 32]).unwrap();
    assert_eq!(p.to_bytes().to_vec(), [top, vec![0; 32]].concat());
}

#[test]
fn text_and_serde_round_trip() {
    let mut fixture = RingFixture::new(2).unwrap();
    let proof = fixture.reveal_as(0).unwrap().proof;
    let text = proof.to_string();
    assert!(text.starts_with("0x") && text.len() == 2 + 2 * DLEQ_PROOF_LEN);
    assert_eq!(text.parse::<DleqProof>().unwrap(), proof);
    let json = serde_json::to_string(&proof).unwrap();
    assert_eq!(serde_json::from_str::<DleqProof>(&json).unwrap(), proof);
    assert_eq!(format!("{proof:?}"), format!("DleqProof({text})"));
}

/// A 3-member ring of keys `first..first + 3`, its event base for `task`, and the secrets.
fn setup(first: u64, task: u64) -> (Vec<chain::crypto::SecretKey>, EventBase) {
    let secrets: Vec<_> = (first..first + 3).map(key).collect();
    let ring = Ring::new(secrets.iter().map(|s| *s.public_key())).unwrap();
    let base = EventBase::new(
        &ring,
        &Event {
            task_id: task,
            round: 1,
            chain_id: CHAIN,
        },
    )
    .unwrap();
    (secrets, base)
}

/// Flips `mask` into byte `index` of the proof's encoding and decodes it again (the bytes
/// touched are in each scalar's low half, so the result stays canonical and non-zero).
fn flip(proof: &DleqProof, index: usize, mask: u8) -> DleqProof {
    let mut bytes = proof.to_bytes();
    bytes[index] ^= mask;
    DleqProof::from_bytes(&bytes).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn honest_proofs_verify_and_every_tampered_input_fails(
        first in 0u64..1_000,
        task in 1u64..1_000_000,
        seed in any::<[u8; 32]>(),
        context in prop::collection::vec(any::<u8>(), 0..40),
        c_byte in 16usize..32,
        s_byte in 48usize..64,
        mask in 1u8..=255,
    ) {
        let (secrets, base) = setup(first, task);
        let (me, other) = (&secrets[0], &secrets[1]);
        let mut rng = ChaCha20Rng::from_seed(seed);
        let proof = dleq::prove(me, &base, &context, &mut rng).unwrap();
        let (p, i) = (*me.public_key(), base.key_image(me).unwrap());
        prop_assert_eq!(dleq::verify(&p, &i, &base, &context, &proof), Ok(()));
        prop_assert_eq!(DleqProof::from_bytes(&proof.to_bytes()).unwrap(), proof);

        let bad = Err(Error::BadDleqProof);
        // c and s.
        prop_assert_eq!(dleq::verify(&p, &i, &base, &context, &flip(&proof, c_byte, mask)), bad.clone());
        prop_assert_eq!(dleq::verify(&p, &i, &base, &context, &flip(&proof, s_byte, mask)), bad.clone());
        // P: another ring member's key (the swap attack: its own image does not match).
        prop_assert_eq!(dleq::verify(other.public_key(), &i, &base, &context, &proof), bad.clone());
        // I: another member's image over the same base.
        let other_image = base.key_image(other).unwrap();
        prop_assert_eq!(dleq::verify(&p, &other_image, &base, &context, &proof), bad.clone());
        // H_e: the same ring for another task.
        let (_, other_base) = setup(first, task + 1);
        prop_assert_eq!(dleq::verify(&p, &i, &other_base, &context, &proof), bad.clone());
        // Context: one more byte, or one byte changed.
        let mut longer = context.clone();
        longer.push(0);
        prop_assert_eq!(dleq::verify(&p, &i, &base, &longer, &proof), bad.clone());
        if let Some(b) = context.first() {
            let mut changed = context.clone();
            changed[0] = b ^ mask;
            prop_assert_eq!(dleq::verify(&p, &i, &base, &changed, &proof), bad);
        }
    }

    /// Any 64 bytes: a typed error or a proof that re-encodes to exactly those bytes.
    #[test]
    fn arbitrary_bytes_decode_canonically_or_fail_typed(bytes in prop::collection::vec(any::<u8>(), 0..80)) {
        match DleqProof::from_bytes(&bytes) {
            Ok(p) => prop_assert_eq!(p.to_bytes().to_vec(), bytes),
            Err(e) => {
                let typed = matches!(e, Error::WrongLength { .. } | Error::NonCanonicalScalar { .. });
                prop_assert!(typed, "unexpected error {:?}", e);
            }
        }
    }
}

#[test]
fn proofs_bind_chain_task_and_account_through_the_reveal_context() {
    let (secrets, base) = setup(40, 5);
    let me = &secrets[0];
    let context = reveal_context(&CHAIN, 5, &me.address());
    let proof = dleq::prove(me, &base, &context, &mut ChaCha20Rng::from_seed([3; 32])).unwrap();
    let (p, i) = (*me.public_key(), base.key_image(me).unwrap());
    dleq::verify(&p, &i, &base, &context, &proof).unwrap();
    for replay in [
        reveal_context(&CHAIN, 6, &me.address()),
        reveal_context(&CHAIN, 5, &secrets[1].address()),
        // Another testbed's chain: the same task and account, not valid there.
        reveal_context(&chain::Hash256([6; 32]), 5, &me.address()),
    ] {
        assert_eq!(
            dleq::verify(&p, &i, &base, &replay, &proof),
            Err(Error::BadDleqProof)
        );
    }
}
