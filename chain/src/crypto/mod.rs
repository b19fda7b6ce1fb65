//! Cryptography of the trustband chain: domain-separated hashing, account keys and signatures,
//! LSAG ring signatures for sensing reports, and commit-reveal hashes.
//!
//! Data flow: a node's [`SecretKey`] signs transactions and blocks ([`SecretKey::sign`], checked
//! by [`PublicKey::verify`]); its [`Address`] names its account. A selected sensor signs its
//! report with [`ring::sign`] over the CSC's [`Ring`] for the task's [`Event`]; the CSC checks it
//! with [`ring::verify`] and stores the [`KeyImage`] to accept one report per signer. The report
//! carries an [`IdentityCommitment`] the sensor opens after fusion, with a [`DleqProof`]
//! ([`dleq::prove`], checked by [`dleq::verify`]) that its account key and the report's key
//! image share one secret over the ring's [`EventBase`]; MOs bid with [`BlindedBid`]s.
//! Every hash goes through [`hash()`] with a [`Domain`] tag.
//!
//! All types are plain data (`Send + Sync`), so verification can run on worker threads. Callers
//! pass in their own RNG ([`rand_core::CryptoRng`], re-exported here as [`rand_core`] so callers
//! use the same trait version); library code never picks one.
//!
//! ```
//! use chain::crypto::{Event, Ring, SecretKey, ring};
//! use chain::crypto::rand_core::SeedableRng;
//!
//! # fn main() -> Result<(), chain::Error> {
//! let mut rng = chacha20::ChaCha20Rng::from_seed([7; 32]); // use an OS-seeded RNG in a node
//! let sensors: Vec<SecretKey> = (0..4).map(|_| SecretKey::generate(&mut rng)).collect();
//! let ring = Ring::new(sensors.iter().map(|s| *s.public_key()))?;
//! let event = Event { task_id: 1, round: 0, chain_id: chain::Hash256([9; 32]) };
//!
//! let report = b"channel 5 busy";
//! let signature = ring::sign(&sensors[2], &ring, &event, report, &mut rng)?;
//! ring::verify(&ring, &event, report, &signature)?;
//! assert_eq!(*signature.key_image(), ring::key_image(&sensors[2], &ring, &event)?);
//! # Ok(())
//! # }
//! ```

pub mod bench;
pub mod commit;
pub mod dleq;
pub mod hash;
pub mod keys;
pub mod ring;
pub(crate) mod text;

pub use commit::{BidSecret, BlindedBid, IdentityCommitment, Salt};
pub use dleq::DleqProof;
pub use hash::{Domain, HASH_LEN, hash};
pub use keys::{Address, PublicKey, SecretKey, Signature};
pub use rand_core;
pub use ring::{Event, EventBase, KeyImage, Ring, RingSignature};
