//! Transactions: what an account asks the chain to do, signed by that account.
//!
//! Data flow: a wallet builds an [`UnsignedTx`] (sender key, nonce, fee, [`TxPayload`]), signs
//! it into a [`SignedTx`] with [`SignedTx::sign`] (ECDSA over `hash(trustband/v1/tx, bytes)`);
//! a miner puts signed transactions in a block; every validator checks the signature
//! ([`SignedTx::verify_signature`], in parallel across a block) and applies the payload in
//! [`crate::transition`].
//!
//! The payload is an enum open for contract calls: [`TxPayload::Contract`] carries an opaque
//! call to a contract instance; this issue's chain rejects it with
//! [`Error::ContractCallUnsupported`] (the contracts arrive with the next issue).
//!
//! # Encoding
//!
//! ```text
//! UnsignedTx = sender (33, compressed key) || nonce u64 || fee u128 || tag u8 || payload
//!   tag 0 Transfer = to (20) || amount u128
//!   tag 1 Contract = contract id (32) || u32 len || call data (<= 64 KiB)
//! SignedTx   = UnsignedTx || signature (64, r || s, low-S)
//! tx id      = hash(trustband/v1/tx, [UnsignedTx bytes, signature])
//! ```
//!
//! Fee and nonce live in the envelope rather than in the transfer so every kind of transaction
//! pays and is ordered the same way. The sender is carried as its public key (an address is
//! a hash and cannot verify a signature); its address is `sender.address()`.
#![deny(clippy::float_arithmetic)]

use crate::codec::{Decode, Encode, MAX_CALL_DATA, Put, Reader};
use crate::crypto::keys::{PUBLIC_KEY_LEN, SIGNATURE_LEN};
use crate::crypto::{Address, Domain, PublicKey, SecretKey, Signature, hash};
use crate::digest::Hash256;
use crate::error::Error;

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

/// A call to a contract instance (extension point: rejected until contracts exist).
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
}

impl SignedTx {
    /// Signs `tx` with `key`.
    ///
    /// # Errors
    ///
    /// [`Error::BadSignature`] (domain `trustband/v1/tx`) if `key` is not the key named as
    /// `tx.sender`; [`Error::SigningFailed`] from the backend.
    pub fn sign(tx: UnsignedTx, key: &SecretKey) -> Result<Self, Error> {
        if *key.public_key() != tx.sender {
            return Err(Error::BadSignature {
                domain: Domain::Tx.tag(),
            });
        }
        let signature = key.sign(Domain::Tx, &tx.to_bytes())?;
        Ok(Self { tx, signature })
    }

    /// Checks the sender's signature over the encoded transaction.
    ///
    /// # Errors
    ///
    /// [`Error::BadSignature`] (domain `trustband/v1/tx`).
    pub fn verify_signature(&self) -> Result<(), Error> {
        self.tx
            .sender
            .verify(Domain::Tx, &self.tx.to_bytes(), &self.signature)
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
            tag => {
                return Err(Error::UnknownTag {
                    field: "tx.payload",
                    tag,
                });
            }
        };
        Ok(Self {
            sender,
            nonce,
            fee,
            payload,
        })
    }
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
        Ok(Self { tx, signature })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn key(i: u8) -> SecretKey {
        SecretKey::from_seed(&[i; 32]).unwrap()
    }

    #[test]
    fn sign_verify_round_trip_and_tamper() {
        let alice = key(1);
        let bob = key(2);
        let tx = UnsignedTx::transfer(*alice.public_key(), 0, 5, bob.address(), 100);
        let signed = SignedTx::sign(tx.clone(), &alice).unwrap();
        signed.verify_signature().unwrap();
        let bytes = signed.to_bytes();
        assert_eq!(bytes.len(), MIN_SIGNED_TX_LEN);
        assert_eq!(SignedTx::from_bytes(&bytes).unwrap(), signed);

        let mut tampered = signed.clone();
        tampered.tx.nonce = 1;
        assert_eq!(
            tampered.verify_signature(),
            Err(Error::BadSignature {
                domain: "trustband/v1/tx"
            })
        );
        assert_ne!(tampered.id(), signed.id());
        // Signing with the wrong key is refused.
        assert!(SignedTx::sign(tx, &bob).is_err());
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
        let signed = SignedTx::sign(tx, &alice).unwrap();
        assert_eq!(SignedTx::from_bytes(&signed.to_bytes()).unwrap(), signed);
    }
}
