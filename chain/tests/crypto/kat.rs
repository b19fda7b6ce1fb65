//! Known-answer tests: hash encoding, key derivation, ECDSA and LSAG bytes pinned.

use chacha20::ChaCha20Rng;
use chain::crypto::bench::RingFixture;
use chain::crypto::{Domain, PublicKey, SecretKey, hash};
use rand_core::SeedableRng;

#[test]
fn hash_encoding_known_answers() {
    assert_eq!(
        hex::encode(hash(Domain::Tx, &[b"abc"])),
        "61842e6641b0893c3277cd6e62e19e3819a77db8ceded2742a3e9bd5e0e15ec3"
    );
    assert_eq!(
        hex::encode(hash(Domain::Tx, &[])),
        "3d3b36c96f1c2ffac05d70b6520995747502282f7f20f54249c569dc68c56594"
    );
    assert_eq!(
        hex::encode(hash(Domain::Tx, &[b"a", b"bc"])),
        "e3297df8bc111a3c40cd8d51e03047da8439b2a42626e34d35e43b64a53907b8"
    );
    assert_eq!(
        hex::encode(hash(Domain::Block, &[b"abc"])),
        "e56fc11964b8187c7c16892b20e5dc1eee363b1e92a3dcf0323eef7aa5a47ee4"
    );
}

#[test]
fn domain_tags_are_versioned_and_distinct() {
    let tags: std::collections::BTreeSet<&str> = Domain::ALL.iter().map(|d| d.tag()).collect();
    assert_eq!(tags.len(), Domain::ALL.len());
    assert!(tags.iter().all(|t| t.starts_with("trustband/v1/")));
    assert_eq!(Domain::RingH2c.tag(), "trustband/v1/ring-h2c");
    assert_eq!(Domain::MerkleLeaf.to_string(), "trustband/v1/merkle-leaf");
}

#[test]
fn key_from_fixed_seed_rng() {
    let mut rng = ChaCha20Rng::from_seed([1u8; 32]);
    let secret = SecretKey::generate(&mut rng);
    assert_eq!(
        hex::encode(*secret.to_bytes()),
        "023f37203a2476c42566a61cc55c3ca875dbb4cc41c0deb789f8e7bf88183638"
    );
    assert_eq!(
        secret.public_key().to_string(),
        "0x02fa1f7356482c094a11420cba35bd3ff76d184b8002f06cfcc9e06867d359eee2"
    );
    assert_eq!(
        secret.address().to_string(),
        "0xf687957cc478888bda42efd486e815cb79159792"
    );
}

#[test]
fn key_from_seed_and_ecdsa_signature() {
    let secret = SecretKey::from_seed(&[0u8; 32]).unwrap();
    assert_eq!(
        hex::encode(*secret.to_bytes()),
        "20a55b76d557b2bcde29fa921f1480bc250ffcd3792dbe16185abd4f8c95bf59"
    );
    assert_eq!(
        secret.public_key().to_string(),
        "0x022e415db90a4685c774cd1a9faf50e36770970c8fb143d03ad78126745f14e414"
    );
    assert_eq!(
        secret.address().to_string(),
        "0x08cae30dc754c2753163703f90b09f3f6e15ec3e"
    );
    // RFC 6979: same key and message give the same bytes (matches OpenSSL's deterministic ECDSA
    // after low-S normalisation).
    let signature = secret.sign(Domain::Tx, b"transfer 5 sharecoin").unwrap();
    assert_eq!(
        signature.to_string(),
        "0x7238c139c23acd6eb2661426bbae3e60aa9e758cea55d96fca75b0c80ed9f9ec\
         3b1e96151730507c3e68cccc492572593c151d1341e9628b9df9cc9ff2b9d7c5"
    );
    secret
        .public_key()
        .verify(Domain::Tx, b"transfer 5 sharecoin", &signature)
        .unwrap();
}

#[test]
fn ring_signature_known_answer() {
    let mut fixture = RingFixture::new(4).unwrap();
    assert_eq!(
        hex::encode(fixture.ring.as_bytes()),
        "022e415db90a4685c774cd1a9faf50e36770970c8fb143d03ad78126745f14e414\
         02337132f424dfb817eb61f8bcc8f932990cc79af1c7d9c81e42acb0452269a396\
         023db3eb4c4caf5006f3e405f8c6adf76b04db3860c4b6be225cab1e5f6d94c0d3\
         03e56dd0754597370cc3835b62d88cba8282953315b4f1b65f99b0543a2ec59def"
    );
    // Re-pinned when the nonce and decoys became hedged (hash of secret, RNG bytes and the
    // whole transcript, ring.rs module docs) and again when the event took the chain id (zero
    // here); tests/data/kat_crosscheck.py re-signs in plain Python and gets these bytes.
    let signature = fixture.sign_as(2).unwrap();
    assert_eq!(
        signature.to_string(),
        "0xb44fa9247f1c3210c0a88614bf9d0de6ee74dc6ee29c00d4cb37dbc14ee94064\
         03cb09331f884d14c127878963fd751d8becf3227de2bf70f883decde48f4a6d94\
         103cbc2ad44aca3fb10ac074991702ac3593ec12f4afc77642e309ef5769127d\
         c08fdbb1c033aed907ca7f62fb9eacb58e2ccb6cd65da9764ccf91b3d3e07b3c\
         f3398bd0d8b0c9de6811070eda7191c2a0caf69c3eedcfb07e37560dd55bef0f\
         ea2e8fd94f32731688ada9b0b2654815c9f3ec0b6086b72a4bdb5576cc95c582"
    );
    assert_eq!(
        signature.key_image().to_string(),
        "0x03cb09331f884d14c127878963fd751d8becf3227de2bf70f883decde48f4a6d94"
    );
    fixture.verify(&signature).unwrap();
    // The pinned member 0 is the key from the all-zero seed.
    assert_eq!(
        fixture.ring.members()[0],
        *SecretKey::from_seed(&[0u8; 32]).unwrap().public_key()
    );
    let parsed: PublicKey = "022e415db90a4685c774cd1a9faf50e36770970c8fb143d03ad78126745f14e414"
        .parse()
        .unwrap();
    assert_eq!(fixture.ring.position(&parsed), Some(0));
}
