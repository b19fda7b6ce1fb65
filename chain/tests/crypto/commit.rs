//! Identity commitments and sealed-bid blinding.

use chacha20::ChaCha20Rng;
use chain::Error;
use chain::crypto::{BidSecret, BlindedBid, IdentityCommitment, Salt};
use proptest::prelude::*;
use rand_core::SeedableRng;

use super::key;

#[test]
fn identity_commitment_known_answer_and_opening() {
    let address = chain::crypto::SecretKey::from_seed(&[0u8; 32])
        .unwrap()
        .address();
    let salt = Salt::from_bytes([9u8; 32]);
    let commitment = IdentityCommitment::new(7, &address, &salt);
    assert_eq!(
        commitment.to_string(),
        "0x291244d7a521d9bf6597ac9cb404e50c50412bf9833c4a38e8868777494393e1"
    );
    assert_eq!(commitment.verify_opening(7, &address, &salt), Ok(()));

    let mismatch = Err(Error::CommitmentMismatch { kind: "identity" });
    assert_eq!(commitment.verify_opening(8, &address, &salt), mismatch);
    assert_eq!(
        commitment.verify_opening(7, &key(1).address(), &salt),
        mismatch
    );
    assert_eq!(
        commitment.verify_opening(7, &address, &Salt::from_bytes([8u8; 32])),
        mismatch
    );
}

#[test]
fn blinded_bid_known_answer_and_opening() {
    let secret = BidSecret::from_bytes([5u8; 32]);
    let real = BlindedBid::new(1000, false, &secret);
    let fake = BlindedBid::new(1000, true, &secret);
    assert_eq!(
        real.to_string(),
        "0x64d4f3616946bc4383a2af7ff8e24335539a53304e9dfb16ef1c537e8e8fe708"
    );
    assert_eq!(
        fake.to_string(),
        "0x8b30c36f9d11934ca1e4150ecb3cacdba1f1804ed6543525499fe947a09de3e4"
    );
    assert_eq!(real.verify_opening(1000, false, &secret), Ok(()));
    let mismatch = Err(Error::CommitmentMismatch { kind: "bid" });
    assert_eq!(real.verify_opening(1000, true, &secret), mismatch);
    assert_eq!(real.verify_opening(999, false, &secret), mismatch);
    assert_eq!(
        real.verify_opening(1000, false, &BidSecret::from_bytes([6u8; 32])),
        mismatch
    );
    let json = serde_json::to_string(&real).unwrap();
    assert_eq!(serde_json::from_str::<BlindedBid>(&json).unwrap(), real);
}

#[test]
fn secrets_are_random_and_redacted() {
    let mut rng = ChaCha20Rng::from_seed([3u8; 32]);
    let a = Salt::generate(&mut rng);
    let b = Salt::generate(&mut rng);
    assert_ne!(a, b);
    assert_eq!(format!("{a:?}"), "Salt(<redacted>)");
    let secret = BidSecret::generate(&mut rng);
    assert_eq!(format!("{secret:?}"), "BidSecret(<redacted>)");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_changed_bid_opening_fails(
        value in any::<u128>(),
        fake in any::<bool>(),
        secret in any::<[u8; 32]>(),
        other_value in any::<u128>(),
        at in 0usize..32,
        flip in 1u8..=255,
    ) {
        let secret = BidSecret::from_bytes(secret);
        let blinded = BlindedBid::new(value, fake, &secret);
        prop_assert_eq!(blinded.verify_opening(value, fake, &secret), Ok(()));
        prop_assert_eq!(
            blinded.verify_opening(value, !fake, &secret),
            Err(Error::CommitmentMismatch { kind: "bid" })
        );
        if other_value != value {
            prop_assert_eq!(
                blinded.verify_opening(other_value, fake, &secret),
                Err(Error::CommitmentMismatch { kind: "bid" })
            );
        }
        let mut changed = *secret.as_bytes();
        changed[at] ^= flip;
        prop_assert_eq!(
            blinded.verify_opening(value, fake, &BidSecret::from_bytes(changed)),
            Err(Error::CommitmentMismatch { kind: "bid" })
        );
    }

    #[test]
    fn commitment_text_parsing_never_panics(text in ".{0,80}") {
        let _ = text.parse::<IdentityCommitment>();
        let _ = text.parse::<BlindedBid>();
    }
}
