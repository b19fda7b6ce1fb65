//! Transactions: what an account asks the chain to do, signed by that account.
//!
//! Data flow: a wallet builds an [`UnsignedTx`] (sender key, nonce, fee, [`TxPayload`]), signs
//! it into a [`SignedTx`] with [`SignedTx::sign`] (ECDSA over
//! `hash(trustband/v1/tx, chain id || bytes)`: the signature holds on one chain only, so a
//! transaction from one testbed cannot be replayed on another); a miner puts signed
//! transactions in a block; every validator checks the signature
//! ([`SignedTx::verify_signature`] with its chain's id, in parallel across a block)
//! and applies the payload in [`crate::transition`].
//!
//! The payload is an enum: [`TxPayload::Transfer`], [`TxPayload::Contract`] (a call to a
//! contract instance, see [`crate::contracts::Call`]) and [`TxPayload::Upload`], the
//! anonymous sensing report.
//!
//! # Anonymous uploads
//!
//! A report upload must not name its sender, so it is not signed by an account: it is
//! authorised by the LSAG ring signature over the report (see
//! [`crate::contracts::csc::AnonymousUpload`]). It keeps the common envelope so blocks, stores
//! and relays handle one transaction type, but the envelope is fixed: sender
//! [`anonymous_sender`] (the point `hash_to_curve(trustband/v1/anonymous-sender)`, whose
//! discrete logarithm nobody knows, so no account can use it), nonce 0, fee 0 and the constant
//! signature `r = s = 1` ([`ANONYMOUS_SIGNATURE_BYTES`]). Decoding refuses any other envelope
//! for an upload and any other payload from the anonymous sender, so each upload has one
//! encoding. [`SignedTx::verify_signature`] checks the ring signature instead of ECDSA.
//! Relays and mempools must key uploads by transaction id or key image, never by
//! (sender, nonce): every upload shares that pair.
//!
//! # Encoding
//!
//! ```text
//! UnsignedTx = sender (33, compressed key) || nonce u64 || fee u128 || tag u8 || payload
//!   tag 0 Transfer = to (20) || amount u128
//!   tag 1 Contract = contract id (32) || u32 len || call data (<= 64 KiB)
//!   tag 2 Upload   = AnonymousUpload (see crate::contracts::csc), fixed envelope
//! SignedTx   = UnsignedTx || signature (64, r || s, low-S)
//! signed     = ECDSA(hash(trustband/v1/tx, [chain id (32) || UnsignedTx bytes]))
//! tx id      = hash(trustband/v1/tx, [UnsignedTx bytes, signature])
//! ```
//!
//! Fee and nonce live in the envelope rather than in the transfer so every kind of transaction
//! pays and is ordered the same way. The sender is carried as its public key (an address is
//! a hash and cannot verify a signature); its address is `sender.address()`.
#![deny(clippy::float_arithmetic)]

use crate::codec::{Decode, Encode, MAX_CALL_DATA, Put, Reader};
use crate::contracts::csc::AnonymousUpload;
use crate::crypto::keys::{PUBLIC_KEY_LEN, SIGNATURE_LEN};
use crate::crypto::{Address, Domain, PublicKey, SecretKey, Signature, hash};
use crate::digest::Hash256;
use crate::error::Error;

/// RFC 9380 domain separation tag of the anonymous sender's point.
pub const ANONYMOUS_SENDER_DST: &str = "trustband/v1/anonymous-sender";

/// Compressed encoding of `hash_to_curve(ANONYMOUS_SENDER_DST, [])` (checked by a test):
/// the fixed sender of every anonymous upload.
pub const ANONYMOUS_SENDER_BYTES: [u8; PUBLIC_KEY_LEN] = [
    0x02, 0x92, 0x08, 0x69, 0x2b, 0x0a, 0xc2, 0x9d, 0xe5, 0xd3, 0x7f, 0x8a, 0x7a, 0xc4, 0x3e, 0x4d,
    0xa8, 0xd7, 0xe9, 0x1b, 0x31, 0x21, 0x01, 0x2f, 0x10, 0x4b, 0xf9, 0x42, 0xaf, 0x96, 0x15, 0x9f,
    0x53,
];

/// The fixed signature of every anonymous upload: `r = 1`, `s = 1` (a canonical encoding
/// that verifies for no message).
pub const ANONYMOUS_SIGNATURE_BYTES: [u8; SIGNATURE_LEN] = {
    let mut b = [0u8; SIGNATURE_LEN];
    b[31] = 1;
    b[63] = 1;
    b
};

/// The fixed sender of anonymous uploads.
///
/// # Errors
///
/// None in practice (the constant is a valid point; a test checks it).
pub fn anonymous_sender() -> Result<PublicKey, Error> {
    PublicKey::from_bytes(&ANONYMOUS_SENDER_BYTES)
}

fn anonymous_envelope_error() -> Error {
    Error::InvalidEncoding {
        field: "tx.upload",
        reason: "an anonymous upload has the fixed envelope (anonymous sender, nonce 0, fee 0, fixed signature), and only uploads have it",
    }
}

/// Identifies a contract instance.
pub type ContractId = Hash256;

/// A transfer of Sharecoin to another account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transfer {
    /// Recipient (created with trust 0 if it has no account yet).
    pub to: Address,
    /// Amount in base units.
    pub amount: u128,
}

/// A call to a contract instance ([`crate::contracts::Call`] in canonical bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractCall {
    /// The instance called.
    pub contract: ContractId,
    /// Opaque call data, at most [`MAX_CALL_DATA`] bytes.
    pub data: Vec<u8>,
}

/// What a transaction does.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TxPayload {
    /// Move Sharecoin (tag 0).
    Transfer(Transfer),
    /// Call a contract (tag 1).
    Contract(ContractCall),
    /// Anonymous ring-signed sensing report (tag 2, fixed envelope, see the module docs).
    Upload(Box<AnonymousUpload>),
}

/// A transaction before signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsignedTx {
    /// The paying, signing account's public key.
    pub sender: PublicKey,
    /// Must equal the sender account's nonce (then the nonce increments): no replays.
    pub nonce: u64,
    /// Paid to the block's miner.
    pub fee: u128,
    /// What to do.
    pub payload: TxPayload,
}

/// A transaction with its sender's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTx {
    /// The signed content.
    pub tx: UnsignedTx,
    /// ECDSA signature of `sender` over the encoded `tx`, domain `trustband/v1/tx`.
    pub signature: Signature,
}

/// Smallest encoded signed transaction (used to bound list lengths while decoding).
pub const MIN_SIGNED_TX_LEN: usize = PUBLIC_KEY_LEN + 8 + 16 + 1 + 20 + 16 + SIGNATURE_LEN;

impl UnsignedTx {
    /// A transfer from `sender`.
    #[must_use]
    pub fn transfer(sender: PublicKey, nonce: u64, fee: u128, to: Address, amount: u128) -> Self {
        Self {
            sender,
            nonce,
            fee,
            payload: TxPayload::Transfer(Transfer { to, amount }),
        }
    }

    /// The sender's address.
    #[must_use]
    pub fn sender_address(&self) -> Address {
        self.sender.address()
    }

    /// Whether this is an anonymous upload.
    #[must_use]
    pub fn is_anonymous(&self) -> bool {
        matches!(self.payload, TxPayload::Upload(_))
    }
}

impl SignedTx {
    /// Wraps an anonymous upload in its fixed envelope.
    ///
    /// # Errors
    ///
    /// None in practice (the envelope constants are valid).
    pub fn anonymous(upload: AnonymousUpload) -> Result<Self, Error> {
        Ok(Self {
            tx: UnsignedTx {
                sender: anonymous_sender()?,
                nonce: 0,
                fee: 0,
                payload: TxPayload::Upload(Box::new(upload)),
            },
            signature: Signature::from_bytes(&ANONYMOUS_SIGNATURE_BYTES)?,
        })
    }

    /// Whether the envelope is the anonymous one (sender, nonce, fee, signature).
    fn has_anonymous_envelope(&self) -> bool {
        self.tx.sender.as_bytes() == &ANONYMOUS_SENDER_BYTES
            && self.tx.nonce == 0
            && self.tx.fee == 0
            && self.signature.to_bytes() == ANONYMOUS_SIGNATURE_BYTES
    }

    /// Signs `tx` with `key` for the chain `chain_id` ([`crate::ChainParams::chain_id`], a
    /// hash of its genesis).
    ///
    /// # Errors
    ///
    /// [`Error::BadSignature`] (domain `trustband/v1/tx`) if `key` is not the key named as
    /// `tx.sender`, or for an anonymous upload (use [`SignedTx::anonymous`]);
    /// [`Error::SigningFailed`] from the backend.
    pub fn sign(tx: UnsignedTx, key: &SecretKey, chain_id: &Hash256) -> Result<Self, Error> {
        if *key.public_key() != tx.sender || tx.is_anonymous() {
            return Err(Error::BadSignature {
                domain: Domain::Tx.tag(),
            });
        }
        let signature = key.sign(Domain::Tx, &signed_bytes(chain_id, &tx))?;
        Ok(Self { tx, signature })
    }

    /// Checks the sender's signature over the encoded transaction for the chain `chain_id`;
    /// for an anonymous upload, its fixed envelope and its ring signature (against the ring it
    /// carries, for that chain; the task checks the ring when the upload is applied).
    ///
    /// # Errors
    ///
    /// [`Error::BadSignature`] (domain `trustband/v1/tx`), also for a transaction signed for
    /// another chain; for uploads
    /// [`Error::InvalidEncoding`] (field `tx.upload`), [`Error::RingLengthMismatch`],
    /// [`Error::BadRingSignature`].
    pub fn verify_signature(&self, chain_id: &Hash256) -> Result<(), Error> {
        match &self.tx.payload {
            TxPayload::Upload(upload) => {
                if !self.has_anonymous_envelope() {
                    return Err(anonymous_envelope_error());
                }
                upload.verify(chain_id)
            }
            _ => self.tx.sender.verify(
                Domain::Tx,
                &signed_bytes(chain_id, &self.tx),
                &self.signature,
            ),
        }
    }

    /// The transaction id: `hash(trustband/v1/tx, [unsigned bytes, signature])`.
    #[must_use]
    pub fn id(&self) -> Hash256 {
        Hash256(hash(
            Domain::Tx,
            &[&self.tx.to_bytes(), &self.signature.to_bytes()],
        ))
    }

    /// The sender's address.
    #[must_use]
    pub fn sender_address(&self) -> Address {
        self.tx.sender_address()
    }
}

impl Encode for UnsignedTx {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.put_raw(self.sender.as_bytes());
        out.put_u64(self.nonce);
        out.put_u128(self.fee);
        match &self.payload {
            TxPayload::Transfer(t) => {
                out.put_u8(0);
                out.put_raw(t.to.as_bytes());
                out.put_u128(t.amount);
            }
            TxPayload::Contract(c) => {
                out.put_u8(1);
                out.put_raw(&c.contract.0);
                out.put_bytes(&c.data);
            }
            TxPayload::Upload(u) => {
                out.put_u8(2);
                u.encode_to(out);
            }
        }
    }
}

impl Decode for UnsignedTx {
    const NAME: &'static str = "tx";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, Error> {
        let sender = r.public_key("tx.sender")?;
        let nonce = r.u64("tx.nonce")?;
        let fee = r.u128("tx.fee")?;
        let payload = match r.u8("tx.payload")? {
            0 => TxPayload::Transfer(Transfer {
                to: r.address("tx.transfer.to")?,
                amount: r.u128("tx.transfer.amount")?,
            }),
            1 => TxPayload::Contract(ContractCall {
                contract: r.hash("tx.contract.id")?,
                data: r.bytes("tx.contract.data", MAX_CALL_DATA)?,
            }),
            2 => TxPayload::Upload(Box::new(AnonymousUpload::decode_from(r)?)),
            tag => {
                return Err(Error::UnknownTag {
                    field: "tx.payload",
                    tag,
                });
            }
        };
        let anonymous_sender = sender.as_bytes() == &ANONYMOUS_SENDER_BYTES;
        let upload = matches!(payload, TxPayload::Upload(_));
        if anonymous_sender != upload || (upload && (nonce != 0 || fee != 0)) {
            return Err(anonymous_envelope_error());
        }
        Ok(Self {
            sender,
            nonce,
            fee,
            payload,
        })
    }
}

/// What a transaction's signature covers: `chain id (32) || UnsignedTx bytes` (fixed-length
/// prefix, so the split is unambiguous).
fn signed_bytes(chain_id: &Hash256, tx: &UnsignedTx) -> Vec<u8> {
    let mut out = chain_id.0.to_vec();
    tx.encode_to(&mut out);
    out
}

impl Encode for SignedTx {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.tx.encode_to(out);
        out.put_raw(&self.signature.to_bytes());
    }
}

impl Decode for SignedTx {
    const NAME: &'static str = "signed_tx";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, Error> {
        let tx = UnsignedTx::decode_from(r)?;
        let signature = r.signature("tx.signature")?;
        if tx.is_anonymous() && signature.to_bytes() != ANONYMOUS_SIGNATURE_BYTES {
            return Err(anonymous_envelope_error());
        }
        Ok(Self { tx, signature })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const CHAIN: Hash256 = Hash256([7; 32]);

    fn key(i: u8) -> SecretKey {
        SecretKey::from_seed(&[i; 32]).unwrap()
    }

    #[test]
    fn sign_verify_round_trip_and_tamper() {
        let alice = key(1);
        let bob = key(2);
        let tx = UnsignedTx::transfer(*alice.public_key(), 0, 5, bob.address(), 100);
        let signed = SignedTx::sign(tx.clone(), &alice, &CHAIN).unwrap();
        signed.verify_signature(&CHAIN).unwrap();
        // Another chain: refused.
        assert_eq!(
            signed.verify_signature(&Hash256([8; 32])),
            Err(Error::BadSignature {
                domain: "trustband/v1/tx"
            })
        );
        let bytes = signed.to_bytes();
        assert_eq!(bytes.len(), MIN_SIGNED_TX_LEN);
        assert_eq!(SignedTx::from_bytes(&bytes).unwrap(), signed);

        let mut tampered = signed.clone();
        tampered.tx.nonce = 1;
        assert_eq!(
            tampered.verify_signature(&CHAIN),
            Err(Error::BadSignature {
                domain: "trustband/v1/tx"
            })
        );
        assert_ne!(tampered.id(), signed.id());
        // Signing with the wrong key is refused.
        assert!(SignedTx::sign(tx, &bob, &CHAIN).is_err());
        // Unknown payload tag.
        let mut bad = bytes.clone();
        bad[PUBLIC_KEY_LEN + 24] = 9;
        assert_eq!(
            SignedTx::from_bytes(&bad),
            Err(Error::UnknownTag {
                field: "tx.payload",
                tag: 9
            })
        );
    }

    #[test]
    fn anonymous_sender_is_the_hash_to_curve_point() {
        use k256::elliptic_curve::group::GroupEncoding;
        let point = crate::crypto::hash::hash_to_curve(ANONYMOUS_SENDER_DST, &[])
            .unwrap()
            .to_affine();
        let bytes: [u8; PUBLIC_KEY_LEN] = point.to_bytes().as_slice().try_into().unwrap();
        assert_eq!(bytes, ANONYMOUS_SENDER_BYTES);
        anonymous_sender().unwrap();
        Signature::from_bytes(&ANONYMOUS_SIGNATURE_BYTES).unwrap();
    }

    #[test]
    fn contract_call_round_trip() {
        let alice = key(1);
        let tx = UnsignedTx {
            sender: *alice.public_key(),
            nonce: 3,
            fee: 1,
            payload: TxPayload::Contract(ContractCall {
                contract: Hash256([7; 32]),
                data: vec![1, 2, 3],
            }),
        };
        let signed = SignedTx::sign(tx, &alice, &CHAIN).unwrap();
        assert_eq!(SignedTx::from_bytes(&signed.to_bytes()).unwrap(), signed);
    }
}
