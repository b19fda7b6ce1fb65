//! Hash commitments: the sensing report's identity commitment and the sealed bid's blinding.
//!
//! - Identity (commit-reveal, paper A V-D): a ring-signed report carries
//!   `c = hash(trustband/v1/commit, [be64 task, address, salt])`. After fusion the sensor sends
//!   an ordinary signed reveal `(task, salt)`; the contract recomputes `c` with the revealing
//!   account's address ([`IdentityCommitment::verify_opening`]) and so links report to account.
//! - Sealed bid (Solidity "blind auction"): a bidder commits
//!   `hash(trustband/v1/bid, [be128 value, fake as one byte 0/1, secret])`, possibly several
//!   times with fake bids to hide the real one, and later reveals `(value, fake, secret)`.
//!   The blinding binds no bidder: the auction contract must reject a commit whose blinded
//!   hash it already holds, or a copied commit could be revealed after the original.
//!
//! Salts and bid secrets are 32 random bytes, zeroized on drop and redacted in `Debug`.

use core::fmt;
use core::str::FromStr;

use rand_core::CryptoRng;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::hash::{Domain, HASH_LEN, hash};
use super::keys::Address;
use super::text::{decode_hex_array, serde_via_str, write_hex};
use crate::error::Error;

/// Length of a [`Salt`] or [`BidSecret`].
pub const OPENING_SECRET_LEN: usize = 32;

macro_rules! opening_secret {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
        pub struct $name([u8; OPENING_SECRET_LEN]);

        impl $name {
            /// Draws 32 random bytes from the caller's cryptographic RNG.
            pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
                let mut bytes = [0u8; OPENING_SECRET_LEN];
                rng.fill_bytes(&mut bytes);
                Self(bytes)
            }

            /// Wraps 32 bytes (e.g. from a reveal transaction).
            #[must_use]
            pub const fn from_bytes(bytes: [u8; OPENING_SECRET_LEN]) -> Self {
                Self(bytes)
            }

            /// Borrows the 32 bytes.
            #[must_use]
            pub const fn as_bytes(&self) -> &[u8; OPENING_SECRET_LEN] {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

opening_secret!(
    /// The random salt hiding a sensor's address inside its identity commitment until the reveal.
    Salt
);

opening_secret!(
    /// The random secret blinding a sealed bid until the reveal.
    BidSecret
);

macro_rules! commitment {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; HASH_LEN]);

        impl $name {
            /// Wraps 32 bytes received on chain.
            #[must_use]
            pub const fn from_bytes(bytes: [u8; HASH_LEN]) -> Self {
                Self(bytes)
            }

            /// Borrows the 32 bytes.
            #[must_use]
            pub const fn as_bytes(&self) -> &[u8; HASH_LEN] {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_hex(f, &self.0)
            }
        }

        impl FromStr for $name {
            type Err = Error;

            fn from_str(s: &str) -> Result<Self, Error> {
                decode_hex_array($field, s).map(Self)
            }
        }

        serde_via_str!($name);
    };
}

commitment!(
    /// `hash(trustband/v1/commit, [be64 task, address, salt])`, carried by a sensing report.
    IdentityCommitment,
    "identity_commitment"
);

commitment!(
    /// `hash(trustband/v1/bid, [be128 value, fake, secret])`, a sealed bid.
    BlindedBid,
    "blinded_bid"
);

impl IdentityCommitment {
    /// Commits to `address` for `task_id` under `salt`.
    #[must_use]
    pub fn new(task_id: u64, address: &Address, salt: &Salt) -> Self {
        Self(hash(
            Domain::Commit,
            &[&task_id.to_be_bytes(), address.as_bytes(), salt.as_bytes()],
        ))
    }

    /// Checks a reveal `(task_id, address, salt)` against this commitment.
    ///
    /// # Errors
    ///
    /// [`Error::CommitmentMismatch`] (kind `identity`) if any part differs.
    pub fn verify_opening(
        &self,
        task_id: u64,
        address: &Address,
        salt: &Salt,
    ) -> Result<(), Error> {
        if Self::new(task_id, address, salt) == *self {
            Ok(())
        } else {
            Err(Error::CommitmentMismatch { kind: "identity" })
        }
    }
}

impl BlindedBid {
    /// Blinds a bid of `value` (real if `fake` is false) under `secret`.
    #[must_use]
    pub fn new(value: u128, fake: bool, secret: &BidSecret) -> Self {
        Self(hash(
            Domain::Bid,
            &[&value.to_be_bytes(), &[u8::from(fake)], secret.as_bytes()],
        ))
    }

    /// Checks a reveal `(value, fake, secret)` against this blinded bid.
    ///
    /// # Errors
    ///
    /// [`Error::CommitmentMismatch`] (kind `bid`) if any part differs.
    pub fn verify_opening(&self, value: u128, fake: bool, secret: &BidSecret) -> Result<(), Error> {
        if Self::new(value, fake, secret) == *self {
            Ok(())
        } else {
            Err(Error::CommitmentMismatch { kind: "bid" })
        }
    }
}
