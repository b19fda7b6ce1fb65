//! Account keys, addresses, ECDSA signatures and domain separation.

use chain::Error;
use chain::crypto::{Address, Domain, PublicKey, SecretKey, Signature, hash};
use k256::elliptic_curve::PrimeField;
use proptest::prelude::*;

use super::key;

/// secp256k1 group order n, big-endian.
pub const ORDER: &str = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";

#[test]
fn types_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SecretKey>();
    assert_send_sync::<PublicKey>();
    assert_send_sync::<Signature>();
    assert_send_sync::<Address>();
    assert_send_sync::<chain::crypto::Ring>();
    assert_send_sync::<chain::crypto::RingSignature>();
    assert_send_sync::<chain::crypto::KeyImage>();
    assert_send_sync::<Error>();
}

#[test]
fn signature_for_one_domain_never_verifies_for_another() {
    let secret = key(1);
    let msg = b"same bytes, different purpose";
    for signed_for in Domain::ALL {
        let signature = secret.sign(signed_for, msg).unwrap();
        for checked_as in Domain::ALL {
            let result = secret.public_key().verify(checked_as, msg, &signature);
            if signed_for == checked_as {
                assert_eq!(result, Ok(()));
            } else {
                assert_eq!(
                    result,
                    Err(Error::BadSignature {
                        domain: checked_as.tag()
                    })
                );
            }
        }
    }
}

#[test]
fn hashes_differ_across_domains_and_part_splits() {
    let digests: std::collections::BTreeSet<[u8; 32]> =
        Domain::ALL.iter().map(|&d| hash(d, &[b"x"])).collect();
    assert_eq!(digests.len(), Domain::ALL.len());
    // Length prefixes make the split of parts matter.
    assert_ne!(
        hash(Domain::Tx, &[b"ab", b"c"]),
        hash(Domain::Tx, &[b"a", b"bc"])
    );
    assert_ne!(
        hash(Domain::Tx, &[b"abc"]),
        hash(Domain::Tx, &[b"abc", b""])
    );
    assert_ne!(hash(Domain::Tx, &[]), hash(Domain::Tx, &[b""]));
}

#[test]
fn other_key_signature_is_rejected() {
    let signature = key(1).sign(Domain::Tx, b"m").unwrap();
    assert_eq!(
        key(2).public_key().verify(Domain::Tx, b"m", &signature),
        Err(Error::BadSignature {
            domain: "trustband/v1/tx"
        })
    );
}

#[test]
fn signature_decoding_rejects_each_bad_shape() {
    let good = key(1).sign(Domain::Tx, b"m").unwrap().to_bytes();
    assert_eq!(
        Signature::from_bytes(&good[..63]),
        Err(Error::WrongLength {
            field: "signature",
            expected: 64,
            got: 63
        })
    );
    let mut zero_r = good;
    zero_r[..32].fill(0);
    assert_eq!(
        Signature::from_bytes(&zero_r),
        Err(Error::NonCanonicalScalar {
            field: "signature.r",
            index: 0
        })
    );
    let mut big_s = good;
    big_s[32..].copy_from_slice(&hex::decode(ORDER).unwrap());
    assert_eq!(
        Signature::from_bytes(&big_s),
        Err(Error::NonCanonicalScalar {
            field: "signature.s",
            index: 0
        })
    );
    // The high-S twin (r, n - s) is valid ECDSA maths but malleable: rejected at decoding.
    let s = k256::Scalar::from_repr(k256::FieldBytes::from(
        <[u8; 32]>::try_from(&good[32..]).unwrap(),
    ))
    .unwrap();
    let mut high_s = good;
    high_s[32..].copy_from_slice(&(-s).to_repr());
    assert_eq!(
        Signature::from_bytes(&high_s),
        Err(Error::NonCanonicalScalar {
            field: "signature.s",
            index: 0
        })
    );
    assert_eq!(Signature::from_bytes(&good).unwrap().to_bytes(), good);
}

#[test]
fn public_key_decoding_rejects_each_bad_shape() {
    let good = key(1).public_key().to_bytes();
    assert_eq!(
        PublicKey::from_bytes(&good[..32]),
        Err(Error::WrongLength {
            field: "public_key",
            expected: 33,
            got: 32
        })
    );
    assert_eq!(
        PublicKey::from_bytes(&[0u8; 33]),
        Err(Error::IdentityPoint {
            field: "public_key",
            index: 0
        })
    );
    let mut uncompressed_prefix = good;
    uncompressed_prefix[0] = 0x04;
    assert_eq!(
        PublicKey::from_bytes(&uncompressed_prefix),
        Err(Error::InvalidPoint {
            field: "public_key",
            index: 0
        })
    );
    // x = p - 1 ... the field modulus and above are not valid x coordinates.
    let mut x_too_big = [0xffu8; 33];
    x_too_big[0] = 0x02;
    assert_eq!(
        PublicKey::from_bytes(&x_too_big),
        Err(Error::InvalidPoint {
            field: "public_key",
            index: 0
        })
    );
    // x = 5: 5^3 + 7 = 132 is not a square mod p, so no point has this x.
    let mut off_curve = [0u8; 33];
    off_curve[0] = 0x02;
    off_curve[32] = 5;
    assert_eq!(
        PublicKey::from_bytes(&off_curve),
        Err(Error::InvalidPoint {
            field: "public_key",
            index: 0
        })
    );
}

#[test]
fn secret_key_bytes_must_be_in_range() {
    assert_eq!(
        SecretKey::from_bytes(&[0u8; 32]).unwrap_err(),
        Error::InvalidSecretKey
    );
    let order: [u8; 32] = hex::decode(ORDER).unwrap().try_into().unwrap();
    assert_eq!(
        SecretKey::from_bytes(&order).unwrap_err(),
        Error::InvalidSecretKey
    );
    let secret = key(3);
    let again = SecretKey::from_bytes(&secret.to_bytes()).unwrap();
    assert_eq!(again.public_key(), secret.public_key());
}

#[test]
fn secret_key_debug_is_redacted() {
    let secret = key(4);
    let shown = format!("{secret:?}");
    assert!(shown.contains("<redacted>"), "{shown}");
    assert!(!shown.contains(&hex::encode(*secret.to_bytes())), "{shown}");
    assert!(shown.contains(&secret.public_key().to_string()), "{shown}");
}

#[test]
fn text_and_serde_forms_round_trip() {
    let secret = key(5);
    let public = *secret.public_key();
    let address = secret.address();
    let signature = secret.sign(Domain::Block, b"header").unwrap();

    assert_eq!(public.to_string().parse::<PublicKey>().unwrap(), public);
    assert_eq!(address.to_string().parse::<Address>().unwrap(), address);
    assert_eq!(
        signature.to_string().parse::<Signature>().unwrap(),
        signature
    );
    // Upper case and a missing prefix are accepted.
    let bare = address.to_string().trim_start_matches("0x").to_uppercase();
    assert_eq!(bare.parse::<Address>().unwrap(), address);

    let json = serde_json::to_string(&(public, address, signature)).unwrap();
    assert_eq!(
        json,
        format!("[\"{public}\",\"{address}\",\"{signature}\"]")
    );
    let back: (PublicKey, Address, Signature) = serde_json::from_str(&json).unwrap();
    assert_eq!(back, (public, address, signature));

    assert_eq!(
        "0x1234".parse::<Address>(),
        Err(Error::WrongLength {
            field: "address",
            expected: 40,
            got: 4
        })
    );
    assert_eq!(
        "zz".repeat(20).parse::<Address>(),
        Err(Error::InvalidEncoding {
            field: "address",
            reason: "not hexadecimal"
        })
    );
    assert!(serde_json::from_str::<PublicKey>("\"0x00\"").is_err());
}

#[test]
fn address_is_hash_of_public_key() {
    let secret = key(6);
    let digest = hash(Domain::Addr, &[secret.public_key().as_bytes()]);
    assert_eq!(secret.address().as_bytes()[..], digest[..20]);
    assert_ne!(key(6).address(), key(7).address());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        let _ = PublicKey::from_bytes(&bytes);
        let _ = Signature::from_bytes(&bytes);
        let _ = String::from_utf8_lossy(&bytes).parse::<PublicKey>();
        let _ = String::from_utf8_lossy(&bytes).parse::<Address>();
        let _ = String::from_utf8_lossy(&bytes).parse::<Signature>();
    }

    #[test]
    fn any_message_signs_and_single_byte_tamper_fails(
        seed in any::<u64>(),
        msg in proptest::collection::vec(any::<u8>(), 1..64),
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let secret = key(seed);
        let signature = secret.sign(Domain::Tx, &msg).unwrap();
        prop_assert_eq!(secret.public_key().verify(Domain::Tx, &msg, &signature), Ok(()));

        let mut tampered_msg = msg.clone();
        tampered_msg[at.index(msg.len())] ^= flip;
        prop_assert_eq!(
            secret.public_key().verify(Domain::Tx, &tampered_msg, &signature),
            Err(Error::BadSignature { domain: "trustband/v1/tx" })
        );

        let mut tampered_sig = signature.to_bytes();
        tampered_sig[at.index(64)] ^= flip;
        match Signature::from_bytes(&tampered_sig) {
            Err(err) => prop_assert!(matches!(err, Error::NonCanonicalScalar { .. }), "{err:?}"),
            Ok(sig) => prop_assert_eq!(
                secret.public_key().verify(Domain::Tx, &msg, &sig),
                Err(Error::BadSignature { domain: "trustband/v1/tx" })
            ),
        }
    }
}
