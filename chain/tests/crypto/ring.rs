//! LSAG ring signatures: property tests, linkability, and one negative test per shape check.

use chacha20::ChaCha20Rng;
use chain::Error;
use chain::crypto::ring::{self, MAX_RING_SIZE, MIN_RING_SIZE};
use chain::crypto::{Event, KeyImage, PublicKey, Ring, RingSignature, SecretKey};
use proptest::prelude::*;
use rand_core::SeedableRng;

use super::key;
use super::keys::ORDER;

const EVENT: Event = Event {
    task_id: 11,
    round: 2,
};

/// Keys `first..first + n` and their canonical ring.
fn ring_of(first: u64, n: u64) -> (Vec<SecretKey>, Ring) {
    let secrets: Vec<SecretKey> = (first..first + n).map(key).collect();
    let ring = Ring::new(secrets.iter().map(|s| *s.public_key())).unwrap();
    (secrets, ring)
}

fn rng(seed: u8) -> ChaCha20Rng {
    ChaCha20Rng::from_seed([seed; 32])
}

fn sign(secret: &SecretKey, ring: &Ring, event: &Event, msg: &[u8]) -> RingSignature {
    ring::sign(secret, ring, event, msg, &mut rng(9)).unwrap()
}

#[test]
fn ring_is_canonical_whatever_the_input_order() {
    let (secrets, ring) = ring_of(0, 5);
    let reversed = Ring::new(secrets.iter().rev().map(|s| *s.public_key())).unwrap();
    assert_eq!(reversed, ring);
    assert!(
        ring.members()
            .windows(2)
            .all(|w| w[0].as_bytes() < w[1].as_bytes())
    );
    assert_eq!(Ring::from_bytes(ring.as_bytes()).unwrap(), ring);
    for secret in &secrets {
        let index = ring.position(secret.public_key()).unwrap();
        assert_eq!(ring.members()[index], *secret.public_key());
    }
    let json = serde_json::to_string(&ring).unwrap();
    assert_eq!(serde_json::from_str::<Ring>(&json).unwrap(), ring);
}

#[test]
fn ring_construction_rejects_bad_sizes_and_duplicates() {
    assert_eq!(Ring::new(Vec::new()), Err(Error::EmptyRing));
    assert_eq!(
        Ring::new([*key(0).public_key()]),
        Err(Error::RingTooSmall { min: 2, got: 1 })
    );
    let many: Vec<PublicKey> = (0..=MAX_RING_SIZE as u64)
        .map(|i| *key(i).public_key())
        .collect();
    assert_eq!(
        Ring::new(many),
        Err(Error::RingTooLarge { max: 256, got: 257 })
    );
    let (a, b) = (*key(0).public_key(), *key(1).public_key());
    let err = Ring::new([a, b, a]).unwrap_err();
    assert!(
        matches!(err, Error::DuplicateRingMember { first, second } if second == first + 1),
        "{err:?}"
    );
    assert_eq!(MIN_RING_SIZE, 2);
}

#[test]
fn ring_decoding_rejects_each_bad_shape() {
    let (_, ring) = ring_of(0, 3);
    let bytes = ring.as_bytes();
    assert_eq!(Ring::from_bytes(&[]), Err(Error::EmptyRing));
    assert_eq!(
        Ring::from_bytes(&bytes[..34]),
        Err(Error::WrongLength {
            field: "ring",
            expected: 33,
            got: 34
        })
    );
    assert_eq!(
        Ring::from_bytes(&bytes[..33]),
        Err(Error::RingTooSmall { min: 2, got: 1 })
    );
    // Members 0 and 1 swapped: out of order.
    let mut swapped = bytes[33..66].to_vec();
    swapped.extend_from_slice(&bytes[..33]);
    swapped.extend_from_slice(&bytes[66..]);
    assert_eq!(
        Ring::from_bytes(&swapped),
        Err(Error::RingNotCanonical { index: 1 })
    );
    let mut duplicated = bytes[..66].to_vec();
    duplicated.extend_from_slice(&bytes[33..66]);
    assert_eq!(
        Ring::from_bytes(&duplicated),
        Err(Error::DuplicateRingMember {
            first: 1,
            second: 2
        })
    );
    // The all-zero encoding sorts first and is the identity.
    let mut with_identity = vec![0u8; 33];
    with_identity.extend_from_slice(&bytes[..66]);
    assert_eq!(
        Ring::from_bytes(&with_identity),
        Err(Error::IdentityPoint {
            field: "ring",
            index: 0
        })
    );
    // A last member with x = 5 (no such point) but still sorted last.
    let mut off_curve = bytes[..66].to_vec();
    let mut bad = [0u8; 33];
    bad[0] = 0x03;
    bad[32] = 5;
    off_curve.extend_from_slice(&bad);
    assert_eq!(
        Ring::from_bytes(&off_curve),
        Err(Error::InvalidPoint {
            field: "ring",
            index: 2
        })
    );
    // Too many members, rejected from the length alone.
    assert_eq!(
        Ring::from_bytes(&vec![2u8; 33 * 257]),
        Err(Error::RingTooLarge { max: 256, got: 257 })
    );
}

#[test]
fn signature_decoding_rejects_each_bad_shape() {
    let (secrets, ring) = ring_of(0, 3);
    let good = sign(&secrets[0], &ring, &EVENT, b"m").to_bytes();
    assert_eq!(good.len(), RingSignature::encoded_len(3));
    assert_eq!(good.len(), 65 + 3 * 32);

    assert_eq!(
        RingSignature::from_bytes(&good[..128]),
        Err(Error::WrongLength {
            field: "ring_signature",
            expected: 129,
            got: 128
        })
    );
    assert_eq!(
        RingSignature::from_bytes(&good[..good.len() - 1]),
        Err(Error::WrongLength {
            field: "ring_signature",
            expected: 129,
            got: 160
        })
    );
    assert_eq!(
        RingSignature::from_bytes(&vec![0u8; 65 + 32 * 257]),
        Err(Error::RingTooLarge { max: 256, got: 257 })
    );
    let order = hex::decode(ORDER).unwrap();
    let mut big_c0 = good.clone();
    big_c0[..32].copy_from_slice(&order);
    assert_eq!(
        RingSignature::from_bytes(&big_c0),
        Err(Error::NonCanonicalScalar {
            field: "c0",
            index: 0
        })
    );
    let mut big_s2 = good.clone();
    big_s2[65 + 64..65 + 96].fill(0xff);
    assert_eq!(
        RingSignature::from_bytes(&big_s2),
        Err(Error::NonCanonicalScalar {
            field: "responses",
            index: 2
        })
    );
    let mut identity_image = good.clone();
    identity_image[32..65].fill(0);
    assert_eq!(
        RingSignature::from_bytes(&identity_image),
        Err(Error::IdentityPoint {
            field: "key_image",
            index: 0
        })
    );
    let mut bad_image = good.clone();
    bad_image[32] = 0x05;
    assert_eq!(
        RingSignature::from_bytes(&bad_image),
        Err(Error::InvalidPoint {
            field: "key_image",
            index: 0
        })
    );
    // Scalars are checked before the key image is decompressed.
    let mut both_bad = bad_image.clone();
    both_bad[65..97].copy_from_slice(&order);
    assert_eq!(
        RingSignature::from_bytes(&both_bad),
        Err(Error::NonCanonicalScalar {
            field: "responses",
            index: 0
        })
    );
    assert_eq!(RingSignature::from_bytes(&good).unwrap().to_bytes(), good);
}

#[test]
fn verify_rejects_length_mismatch_and_signing_rejects_outsiders() {
    let (secrets, ring3) = ring_of(0, 3);
    let (_, ring4) = ring_of(0, 4);
    let signature = sign(&secrets[0], &ring3, &EVENT, b"m");
    assert_eq!(
        ring::verify(&ring4, &EVENT, b"m", &signature),
        Err(Error::RingLengthMismatch {
            expected: 4,
            got: 3
        })
    );
    assert_eq!(
        ring::sign(&key(99), &ring3, &EVENT, b"m", &mut rng(1)).unwrap_err(),
        Error::SignerNotInRing
    );
}

#[test]
fn signature_from_another_ring_of_same_size_fails() {
    let (secrets, ring_a) = ring_of(0, 3);
    let (_, ring_b) = ring_of(10, 3);
    let signature = sign(&secrets[1], &ring_a, &EVENT, b"m");
    assert_eq!(
        ring::verify(&ring_b, &EVENT, b"m", &signature),
        Err(Error::BadRingSignature)
    );
}

#[test]
fn key_images_link_within_an_event_only() {
    let (secrets, ring) = ring_of(20, 4);
    let other_event = Event {
        task_id: EVENT.task_id,
        round: EVENT.round + 1,
    };
    let first = sign(&secrets[2], &ring, &EVENT, b"report one");
    let second = ring::sign(&secrets[2], &ring, &EVENT, b"report two", &mut rng(77)).unwrap();
    ring::verify(&ring, &EVENT, b"report one", &first).unwrap();
    ring::verify(&ring, &EVENT, b"report two", &second).unwrap();
    // Same signer, same event: same image (the CSC keeps the first, rejects the second).
    assert_eq!(first.key_image(), second.key_image());
    assert_eq!(
        *first.key_image(),
        ring::key_image(&secrets[2], &ring, &EVENT).unwrap()
    );
    let mut seen = std::collections::HashSet::new();
    assert!(seen.insert(*first.key_image()));
    assert!(!seen.insert(*second.key_image()));
    // Same signer, next round: unlinkable image.
    let later = sign(&secrets[2], &ring, &other_event, b"report one");
    ring::verify(&ring, &other_event, b"report one", &later).unwrap();
    assert_ne!(later.key_image(), first.key_image());
    // Other signers: other images.
    let images: std::collections::BTreeSet<KeyImage> = secrets
        .iter()
        .map(|s| *sign(s, &ring, &EVENT, b"m").key_image())
        .collect();
    assert_eq!(images.len(), secrets.len());
}

#[test]
fn text_and_serde_forms_round_trip() {
    let (secrets, ring) = ring_of(30, 3);
    let signature = sign(&secrets[0], &ring, &EVENT, b"m");
    let text = signature.to_string();
    assert_eq!(text.parse::<RingSignature>().unwrap(), signature);
    let image = *signature.key_image();
    assert_eq!(image.to_string().parse::<KeyImage>().unwrap(), image);
    let json = serde_json::to_string(&(EVENT, &signature, image)).unwrap();
    let back: (Event, RingSignature, KeyImage) = serde_json::from_str(&json).unwrap();
    assert_eq!(back, (EVENT, signature.clone(), image));
    assert_eq!(
        "0x123".parse::<RingSignature>(),
        Err(Error::InvalidEncoding {
            field: "ring_signature",
            reason: "odd number of hex digits"
        })
    );
    let shown = format!("{signature:?}");
    assert!(shown.contains("members: 3"), "{shown}");
    assert_eq!(
        EVENT.to_bytes(),
        [0, 0, 0, 0, 0, 0, 0, 11, 0, 0, 0, 0, 0, 0, 0, 2]
    );
}

#[test]
fn timing_helper_rejects_degenerate_rings() {
    assert_eq!(
        chain::crypto::bench::ring_timing(1, 1),
        Err(Error::RingTooSmall { min: 2, got: 1 })
    );
    let timing = chain::crypto::bench::ring_timing(2, 1).unwrap();
    assert_eq!((timing.ring_size, timing.iterations), (2, 1));
}

/// A signed ring of 2..=6 members with the signer's index.
fn signed_case() -> impl Strategy<Value = (u64, usize, Vec<u8>, u64)> {
    (2usize..=6).prop_flat_map(|n| {
        (
            any::<u64>().prop_map(|first| first >> 8),
            Just(n),
            proptest::collection::vec(any::<u8>(), 1..48),
            0u64..n as u64,
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn any_member_signs_and_any_single_byte_tamper_fails(
        (first, n, msg, signer) in signed_case(),
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
        rng_seed in any::<u8>(),
    ) {
        let (secrets, ring) = ring_of(first, n as u64);
        let secret = &secrets[signer as usize];
        let signature = ring::sign(secret, &ring, &EVENT, &msg, &mut rng(rng_seed)).unwrap();
        prop_assert_eq!(ring::verify(&ring, &EVENT, &msg, &signature), Ok(()));
        prop_assert_eq!(signature.len(), n);

        // Message.
        let mut tampered = msg.clone();
        tampered[at.index(msg.len())] ^= flip;
        prop_assert_eq!(
            ring::verify(&ring, &EVENT, &tampered, &signature),
            Err(Error::BadRingSignature)
        );

        // Event (one byte of its 16-byte encoding).
        let bit_at = at.index(16);
        let mut event = EVENT;
        if bit_at < 8 {
            event.task_id ^= u64::from(flip) << (8 * bit_at);
        } else {
            event.round ^= u64::from(flip) << (8 * (bit_at - 8));
        }
        prop_assert_eq!(
            ring::verify(&ring, &event, &msg, &signature),
            Err(Error::BadRingSignature)
        );

        // Ring encoding.
        let mut ring_bytes = ring.as_bytes().to_vec();
        let ring_at = at.index(ring_bytes.len());
        ring_bytes[ring_at] ^= flip;
        match Ring::from_bytes(&ring_bytes) {
            Err(err) => prop_assert!(
                matches!(
                    err,
                    Error::InvalidPoint { field: "ring", .. }
                        | Error::IdentityPoint { field: "ring", .. }
                        | Error::RingNotCanonical { .. }
                        | Error::DuplicateRingMember { .. }
                ),
                "{:?}", err
            ),
            Ok(tampered_ring) => prop_assert_eq!(
                ring::verify(&tampered_ring, &EVENT, &msg, &signature),
                Err(Error::BadRingSignature)
            ),
        }

        // Signature encoding.
        let mut sig_bytes = signature.to_bytes();
        let sig_at = at.index(sig_bytes.len());
        sig_bytes[sig_at] ^= flip;
        match RingSignature::from_bytes(&sig_bytes) {
            Err(err) => prop_assert!(
                matches!(
                    err,
                    Error::NonCanonicalScalar { .. }
                        | Error::InvalidPoint { field: "key_image", .. }
                        | Error::IdentityPoint { field: "key_image", .. }
                ),
                "{:?}", err
            ),
            Ok(tampered_sig) => prop_assert_eq!(
                ring::verify(&ring, &EVENT, &msg, &tampered_sig),
                Err(Error::BadRingSignature)
            ),
        }
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(signature) = RingSignature::from_bytes(&bytes) {
            prop_assert_eq!(signature.to_bytes(), bytes.clone());
        }
        if let Ok(ring) = Ring::from_bytes(&bytes) {
            prop_assert_eq!(ring.as_bytes(), &bytes[..]);
        }
        let _ = KeyImage::from_bytes(&bytes);
        let text = String::from_utf8_lossy(&bytes);
        let _ = text.parse::<RingSignature>();
        let _ = text.parse::<KeyImage>();
        let _ = serde_json::from_str::<Ring>(&text);
    }

    #[test]
    fn decoding_structured_near_valid_bytes_never_panics(
        n in 0usize..8,
        fill in any::<u8>(),
        prefix in prop_oneof![Just(0u8), Just(2u8), Just(3u8), any::<u8>()],
    ) {
        // Lengths that pass the length checks, so the scalar and point paths run too.
        let mut bytes = vec![fill; RingSignature::encoded_len(n)];
        if let Some(b) = bytes.get_mut(32) {
            *b = prefix;
        }
        let _ = RingSignature::from_bytes(&bytes);
        let mut ring_bytes = vec![fill; 33 * n];
        for chunk in ring_bytes.chunks_mut(33) {
            chunk[0] = prefix;
        }
        let _ = Ring::from_bytes(&ring_bytes);
    }
}
