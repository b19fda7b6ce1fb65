//! A node's libp2p identity is its chain key.
//!
//! The libp2p key pair is built from the same 32 secret bytes as the node's secp256k1 account
//! key ([`crate::crypto::SecretKey`]), so the `PeerId` and the chain address name the same
//! holder. A secp256k1 public key's protobuf encoding (37 bytes) is short enough that libp2p
//! inlines it in the `PeerId` (identity multihash), so any peer's chain public key and address
//! can be read back from its `PeerId` without asking it ([`chain_public_key`]).

use libp2p::PeerId;
use libp2p::identity::{self, Keypair};
use libp2p::multihash::Multihash;
use zeroize::Zeroizing;

use crate::crypto::{Address, PublicKey, SecretKey};
use crate::error::Error;

/// Multihash code of the identity "hash" (the digest is the input itself).
const IDENTITY_MULTIHASH: u64 = 0x00;

/// The libp2p key pair of a chain key (same secret scalar).
///
/// # Errors
///
/// [`Error::InvalidSecretKey`] if libp2p refuses the scalar (it cannot, for a valid key).
pub fn keypair(key: &SecretKey) -> Result<Keypair, Error> {
    let mut bytes = Zeroizing::new(*key.to_bytes());
    let secret = identity::secp256k1::SecretKey::try_from_bytes(&mut bytes[..])
        .map_err(|_| Error::InvalidSecretKey)?;
    Ok(Keypair::from(identity::secp256k1::Keypair::from(secret)))
}

/// The `PeerId` of a chain public key.
///
/// # Errors
///
/// [`Error::InvalidPoint`] if libp2p refuses the key (it cannot, for a decoded key).
pub fn peer_id(key: &PublicKey) -> Result<PeerId, Error> {
    let public = identity::secp256k1::PublicKey::try_from_bytes(key.as_bytes()).map_err(|_| {
        Error::InvalidPoint {
            field: "public_key",
            index: 0,
        }
    })?;
    Ok(PeerId::from_public_key(&identity::PublicKey::from(public)))
}

/// The chain public key inlined in a `PeerId`, if it is a secp256k1 identity.
#[must_use]
pub fn chain_public_key(peer: &PeerId) -> Option<PublicKey> {
    let multihash = Multihash::<64>::from_bytes(&peer.to_bytes()).ok()?;
    if multihash.code() != IDENTITY_MULTIHASH {
        return None;
    }
    let public = identity::PublicKey::try_decode_protobuf(multihash.digest()).ok()?;
    let secp = public.try_into_secp256k1().ok()?;
    PublicKey::from_bytes(&secp.to_bytes()).ok()
}

/// The chain address of a peer, if its `PeerId` carries a secp256k1 key.
#[must_use]
pub fn chain_address(peer: &PeerId) -> Option<Address> {
    chain_public_key(peer).map(|k| k.address())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn peer_id_and_address_are_tied_to_the_chain_key() {
        let key = SecretKey::from_seed(&[7; 32]).unwrap();
        let kp = keypair(&key).unwrap();
        let from_keypair = kp.public().to_peer_id();
        assert_eq!(from_keypair, peer_id(key.public_key()).unwrap());
        assert_eq!(
            chain_public_key(&from_keypair).as_ref(),
            Some(key.public_key())
        );
        assert_eq!(chain_address(&from_keypair), Some(key.address()));
        // A different key gives a different peer.
        let other = SecretKey::from_seed(&[8; 32]).unwrap();
        assert_ne!(peer_id(other.public_key()).unwrap(), from_keypair);
        // An ed25519-style or hashed peer id carries no chain key.
        let hashed =
            PeerId::from_multihash(Multihash::<64>::wrap(0x12, &[0u8; 32]).unwrap()).unwrap();
        assert_eq!(chain_address(&hashed), None);
    }
}
