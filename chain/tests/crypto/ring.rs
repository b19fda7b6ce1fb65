//! LSAG ring signatures: property tests, linkability, and one negative test per shape check.

use chacha20::ChaCha20Rng;
use chain::crypto::ring::{self, MAX_RING_SIZE, MIN_RING_SIZE};
use chain::crypto::{Event, KeyImage, PublicKey, Ring, RingSignature, SecretKey};
use chain::{Error, Hash256};
use proptest::prelude::*;
use rand_core::SeedableRng;

use super::key;
use super::keys::ORDER;

const EVENT: Event = Event {
    task_id: 11,
    round: 2,
    chain_id: Hash256([0xc1; 32]),
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
fn a_signature_for_one_chain_does_not_verify_on_another() {
    // Two testbeds, same task, round, ring and report: only the chain id differs.
    let (secrets, ring) = ring_of(80, 3);
    let other_chain = Event {
        chain_id: Hash256([0xc2; 32]),
        ..EVENT
    };
    let signature = sign(&secrets[0], &ring, &EVENT, b"m");
    ring::verify(&ring, &EVENT, b"m", &signature).unwrap();
    assert_eq!(
        ring::verify(&ring, &other_chain, b"m", &signature),
        Err(Error::BadRingSignature)
    );
    // And the key image differs too, so a report is not linkable across testbeds.
    assert_ne!(
        ring::key_image(&secrets[0], &ring, &EVENT).unwrap(),
        ring::key_image(&secrets[0], &ring, &other_chain).unwrap()
    );
}

#[test]
fn key_images_link_within_an_event_only() {
    let (secrets, ring) = ring_of(20, 4);
    let other_event = Event {
        round: EVENT.round + 1,
        ..EVENT
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
    let mut expected = vec![0, 0, 0, 0, 0, 0, 0, 11, 0, 0, 0, 0, 0, 0, 0, 2];
    expected.extend_from_slice(&[0xc1; 32]);
    assert_eq!(EVENT.to_bytes().as_slice(), expected.as_slice());
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

// ---- key recovery attempts (issue 9, point 1) ----
//
// The attacker holds the published signatures and ring, knows the signer's index (the worst
// case: after the reveal) and everything about the RNG. Each test runs the solve an attacker
// would run and fails if it returns the secret.

use chain::crypto::{Domain, EventBase, hash};
use k256::elliptic_curve::PrimeField;
use k256::elliptic_curve::ops::Reduce;
use k256::{FieldBytes, ProjectivePoint, Scalar};
use rand_core::Rng;

/// An RNG that returns only zero bytes (a broken or stubbed entropy source).
struct ZeroRng;

impl rand_core::TryRng for ZeroRng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(0)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(0)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        dst.fill(0);
        Ok(())
    }
}

impl rand_core::TryCryptoRng for ZeroRng {}

/// 32 big-endian bytes reduced mod n (how a digest or keystream chunk becomes a scalar).
fn reduce(bytes: &[u8]) -> Scalar {
    let array: [u8; 32] = bytes.try_into().unwrap();
    <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(array))
}

fn point(bytes: &[u8]) -> ProjectivePoint {
    k256::PublicKey::from_sec1_bytes(bytes)
        .unwrap()
        .to_projective()
}

/// A signature as the attacker reads it: `c_0`, the image bytes, the responses.
struct Parsed {
    image: Vec<u8>,
    responses: Vec<Scalar>,
    /// `c_0 .. c_{n-1}`, recomputed from the public chain.
    challenges: Vec<Scalar>,
}

/// Recomputes every challenge of `signature` from public data only (SPEC: `H_s(m, L, e, I, A,
/// B)`), the way any verifier walks the chain.
fn parse(ring: &Ring, event: &Event, msg: &[u8], signature: &RingSignature) -> Parsed {
    let bytes = signature.to_bytes();
    let c0 = reduce(&bytes[..32]);
    let image = bytes[32..65].to_vec();
    let responses: Vec<Scalar> = bytes[65..].chunks(32).map(reduce).collect();
    let h = point(EventBase::new(ring, event).unwrap().as_bytes());
    let image_point = point(&image);
    let mut challenges = vec![c0];
    let mut c = c0;
    for (member, s) in ring.members().iter().zip(&responses) {
        let a = ProjectivePoint::GENERATOR * s + point(member.as_bytes()) * c;
        let b = h * s + image_point * c;
        let (a, b) = (a.to_affine(), b.to_affine());
        use k256::elliptic_curve::group::GroupEncoding;
        c = reduce(&hash(
            Domain::Ring,
            &[
                msg,
                ring.as_bytes(),
                &event.to_bytes(),
                &image,
                &a.to_bytes(),
                &b.to_bytes(),
            ],
        ));
        challenges.push(c);
    }
    assert_eq!(challenges.pop(), Some(c0), "the chain closes");
    Parsed {
        image,
        responses,
        challenges,
    }
}

/// True if `guess` is `secret`'s scalar (checked against the public key, as an attacker would).
fn is_key(guess: Scalar, secret: &SecretKey) -> bool {
    use k256::elliptic_curve::group::GroupEncoding;
    let public = (ProjectivePoint::GENERATOR * guess).to_affine().to_bytes();
    public.as_slice() == secret.public_key().as_bytes()
        || guess.to_repr().as_slice() == secret.to_bytes().as_slice()
}

/// `x = (a - s_π) / c_π` for an assumed nonce `a`.
fn solve_known_nonce(a: Scalar, parsed: &Parsed, signer: usize) -> Option<Scalar> {
    let c = parsed.challenges[signer];
    Option::from(c.invert()).map(|inv: Scalar| (a - parsed.responses[signer]) * inv)
}

/// `x = (s1 - s2) / (c2 - c1)` at the signer's index, valid if both used one nonce.
fn solve_reused_nonce(first: &Parsed, second: &Parsed, signer: usize) -> Option<Scalar> {
    let (c1, c2) = (first.challenges[signer], second.challenges[signer]);
    let (s1, s2) = (first.responses[signer], second.responses[signer]);
    Option::from((c2 - c1).invert()).map(|inv: Scalar| (s1 - s2) * inv)
}

/// Every value an RNG-only nonce could take from this stream: its first `chunks` 32-byte
/// windows at every 4-byte offset, as scalars (covers rejection sampling and word draws).
fn keystream_candidates(mut rng: impl Rng, chunks: usize) -> Vec<Scalar> {
    let mut stream = vec![0u8; 32 * (chunks + 1)];
    rng.fill_bytes(&mut stream);
    (0..=32 * chunks)
        .step_by(4)
        .map(|at| reduce(&stream[at..at + 32]))
        .collect()
}

#[test]
fn an_all_zero_rng_does_not_reveal_the_key() {
    let (secrets, ring) = ring_of(40, 5);
    let signer = 3;
    let secret = &secrets[signer];
    let index = ring.position(secret.public_key()).unwrap();
    let sign_zero = |msg: &[u8]| ring::sign(secret, &ring, &EVENT, msg, &mut ZeroRng).unwrap();
    let one = sign_zero(b"channel 1 busy");
    let two = sign_zero(b"channel 1 idle");
    let again = sign_zero(b"channel 1 busy");
    for (msg, signature) in [
        (&b"channel 1 busy"[..], &one),
        (b"channel 1 idle", &two),
        (b"channel 1 busy", &again),
    ] {
        ring::verify(&ring, &EVENT, msg, signature).unwrap();
    }
    let p_one = parse(&ring, &EVENT, b"channel 1 busy", &one);
    let p_two = parse(&ring, &EVENT, b"channel 1 idle", &two);
    let p_again = parse(&ring, &EVENT, b"channel 1 busy", &again);
    assert_eq!(p_one.image, p_two.image, "one signer, one event: one image");

    // Known nonce: whatever an RNG-only nonce would be, drawn from the all-zero stream.
    for parsed in [&p_one, &p_two, &p_again] {
        for a in keystream_candidates(ZeroRng, 4) {
            let guess = solve_known_nonce(a, parsed, index);
            assert!(
                !guess.is_some_and(|g| is_key(g, secret)),
                "the all-zero RNG's nonce solved the key"
            );
        }
    }
    // Nonce reuse across two messages: the hedge gives distinct nonces, the solve is garbage.
    let guess = solve_reused_nonce(&p_one, &p_two, index);
    assert!(
        guess.is_some(),
        "distinct messages give distinct challenges"
    );
    assert!(
        !guess.is_some_and(|g| is_key(g, secret)),
        "two signatures with the all-zero RNG revealed the key"
    );
    // The same message twice is the same signature (deterministic, like RFC 6979): equal
    // challenges give the solve nothing to divide by, and no other signer index helps either.
    assert_eq!(one, again);
    for i in 0..ring.len() {
        let guess = solve_reused_nonce(&p_one, &p_again, i);
        assert!(!guess.is_some_and(|g| is_key(g, secret)));
        let guess = solve_reused_nonce(&p_one, &p_two, i);
        assert!(!guess.is_some_and(|g| is_key(g, secret)));
    }
}

#[test]
fn a_replayed_seeded_rng_does_not_reveal_the_key() {
    // The lab attack: the attacker knows the node's seed, replays its stream and takes the
    // nonce from it. Before the hedge, the first 32 bytes were `a`.
    let (secrets, ring) = ring_of(50, 4);
    let secret = &secrets[1];
    let index = ring.position(secret.public_key()).unwrap();
    let seed = 0x1234_u64;
    let signature = ring::sign(
        secret,
        &ring,
        &EVENT,
        b"m",
        &mut ChaCha20Rng::seed_from_u64(seed),
    )
    .unwrap();
    let parsed = parse(&ring, &EVENT, b"m", &signature);
    for a in keystream_candidates(ChaCha20Rng::seed_from_u64(seed), 2 * ring.len()) {
        let guess = solve_known_nonce(a, &parsed, index);
        assert!(
            !guess.is_some_and(|g| is_key(g, secret)),
            "the replayed stream gave the nonce"
        );
    }
}

#[test]
fn decoy_responses_depend_on_secret_and_message_not_only_the_seed() {
    let (secrets, ring) = ring_of(60, 4);
    let seeded = || ChaCha20Rng::seed_from_u64(7);
    let decoys = |secret: &SecretKey, msg: &[u8]| -> Vec<Scalar> {
        let signature = ring::sign(secret, &ring, &EVENT, msg, &mut seeded()).unwrap();
        let parsed = parse(&ring, &EVENT, msg, &signature);
        let index = ring.position(secret.public_key()).unwrap();
        let mut decoys = parsed.responses;
        decoys.remove(index);
        decoys
    };
    let base = decoys(&secrets[0], b"m");
    // Same seed, same signer position in the ring order of decoys, other message.
    let other_msg = decoys(&secrets[0], b"n");
    // Same seed, same message, another signer.
    let other_secret = decoys(&secrets[2], b"m");
    for (label, other) in [("message", &other_msg), ("secret", &other_secret)] {
        for d in &base {
            assert!(
                !other.contains(d),
                "a decoy repeats under the same seed with another {label}"
            );
        }
    }
}

#[test]
fn no_low_entropy_seed_reproduces_a_decoy_response() {
    // Sign with a seed inside the searched space, then search 2^16 seeds' streams (every
    // 32-byte window at 4-byte steps of the first 8 chunks) for any published response.
    let (secrets, ring) = ring_of(70, 4);
    let secret = &secrets[2];
    let used_seed = 40_000_u64;
    let signature = ring::sign(
        secret,
        &ring,
        &EVENT,
        b"m",
        &mut ChaCha20Rng::seed_from_u64(used_seed),
    )
    .unwrap();
    let parsed = parse(&ring, &EVENT, b"m", &signature);
    let published: std::collections::HashSet<[u8; 32]> = parsed
        .responses
        .iter()
        .map(|s| s.to_repr().into())
        .collect();
    assert_eq!(published.len(), ring.len());
    let mut windows = 0usize;
    for seed in 0..(1u64 << 16) {
        for candidate in keystream_candidates(ChaCha20Rng::seed_from_u64(seed), 8) {
            windows += 1;
            let bytes: [u8; 32] = candidate.to_repr().into();
            assert!(
                !published.contains(&bytes),
                "seed {seed}'s stream reproduces a response (signed with seed {used_seed})"
            );
        }
    }
    assert_eq!(windows, (1 << 16) * 65);
}
