//! A node's wallet: its secp256k1 key, and the per-task secrets derived from it.
//!
//! Data flow: the key comes from a seed text (test networks, `wallet.seed`) or a key file
//! (`wallet.key_file`, 64 hex digits, created with an OS-random key on first start). Identity
//! salts and bid secrets are derived from the key and the task or auction
//! (`hash(trustband/v1/key-seed, [label, key, ids])`), so a node that restarts can still open
//! what it committed to; the derivation is one-way, so they reveal nothing of the key.

use std::path::Path;

use chacha20::ChaCha20Rng;
use chain::contracts::csc::{Task, prove_reveal};
use chain::crypto::rand_core::SeedableRng;
use chain::crypto::{Address, BidSecret, DleqProof, Domain, PublicKey, Salt, SecretKey, hash};

use crate::bad_input;

/// The key derived from a seed text: `SecretKey::from_seed(hash(key-seed, ["wallet-seed",
/// text]))`.
///
/// # Errors
/// Negligible (an invalid derived scalar).
pub fn key_from_seed(seed: &str) -> Result<SecretKey, chain::Error> {
    let digest = hash(
        Domain::KeySeed,
        &[b"trustband/wallet-seed", seed.as_bytes()],
    );
    SecretKey::from_seed(&digest)
}

/// Reads a key file (64 hex digits, surrounding whitespace ignored).
///
/// # Errors
/// An unreadable file or malformed key ([`crate::BadInput`] naming the file).
pub fn load_key_file(path: &Path) -> anyhow::Result<SecretKey> {
    let text =
        std::fs::read_to_string(path).map_err(|e| bad_input(format!("{}: {e}", path.display())))?;
    let hex_text = text.trim().trim_start_matches("0x");
    let bytes = hex::decode(hex_text)
        .map_err(|e| bad_input(format!("{}: not a hex key: {e}", path.display())))?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
        bad_input(format!(
            "{}: a key is 32 bytes (64 hex digits), got {}",
            path.display(),
            b.len()
        ))
    })?;
    SecretKey::from_bytes(&bytes)
        .map_err(|e| bad_input(format!("{}: invalid key: {e}", path.display())))
}

/// Reads a key file, creating it with a fresh random key (mode 0600 on Unix) if missing.
///
/// # Errors
/// I/O errors; a malformed existing file.
pub fn load_or_create_key_file(path: &Path) -> anyhow::Result<SecretKey> {
    if path.exists() {
        return load_key_file(path);
    }
    let mut seed = [0u8; 32];
    rand::fill(&mut seed);
    let key = SecretKey::from_seed(&seed)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = format!("{}\n", hex::encode(key.to_bytes().as_slice()));
    write_private(path, text.as_bytes())?;
    Ok(key)
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// A node's key and the secrets derived from it.
#[derive(Debug)]
pub struct Wallet {
    key: SecretKey,
    address: Address,
}

impl Wallet {
    /// Wraps a key.
    #[must_use]
    pub fn new(key: SecretKey) -> Self {
        let address = key.address();
        Self { key, address }
    }

    /// The key.
    #[must_use]
    pub fn key(&self) -> &SecretKey {
        &self.key
    }

    /// The public key.
    #[must_use]
    pub fn public_key(&self) -> &PublicKey {
        self.key.public_key()
    }

    /// The account address.
    #[must_use]
    pub fn address(&self) -> Address {
        self.address
    }

    fn derive(&self, label: &[u8], a: u64, b: u64) -> [u8; 32] {
        let secret = self.key.to_bytes();
        hash(
            Domain::KeySeed,
            &[
                b"trustband/node-secret",
                label,
                secret.as_slice(),
                &a.to_be_bytes(),
                &b.to_be_bytes(),
            ],
        )
    }

    /// The identity salt of this node's report for `task`.
    #[must_use]
    pub fn salt(&self, task: u64) -> Salt {
        Salt::from_bytes(self.derive(b"salt", task, 0))
    }

    /// The DLEQ proof of this node's reveal in `task` (its key made its report's key image).
    ///
    /// The RNG is seeded from the key and the task so plans stay a pure function of the state;
    /// that is safe because [`chain::crypto::dleq::prove`] hedges its nonce with the key and the
    /// whole statement (ring, round, context), so distinct statements never share a nonce.
    ///
    /// # Errors
    /// [`chain::Error::EmptyRing`] if the task has no ring (it then holds no reports either).
    pub fn reveal_proof(&self, task: &Task) -> Result<DleqProof, chain::Error> {
        let mut rng = ChaCha20Rng::from_seed(self.derive(b"reveal-proof", task.id, 0));
        prove_reveal(&self.key, task, &mut rng)
    }

    /// The secret of commit `index` in `auction`.
    #[must_use]
    pub fn bid_secret(&self, auction: u64, index: u64) -> BidSecret {
        BidSecret::from_bytes(self.derive(b"bid", auction, index))
    }

    /// A uniform number in [0, 1) for `(label, a, b)`, fixed for this key.
    #[must_use]
    pub fn unit(&self, label: &[u8], a: u64, b: u64) -> f64 {
        let bytes = self.derive(label, a, b);
        let mut top = [0u8; 8];
        top.copy_from_slice(bytes.get(..8).unwrap_or(&[0; 8]));
        #[allow(clippy::cast_precision_loss)]
        let u = (u64::from_be_bytes(top) >> 11) as f64 / (1u64 << 53) as f64;
        u
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn derived_secrets_are_stable_and_distinct() {
        let a = Wallet::new(key_from_seed("n1").unwrap());
        let b = Wallet::new(key_from_seed("n1").unwrap());
        let c = Wallet::new(key_from_seed("n2").unwrap());
        assert_eq!(a.address(), b.address());
        assert_ne!(a.address(), c.address());
        assert_eq!(a.salt(3), b.salt(3));
        assert_ne!(a.salt(3), a.salt(4));
        assert_ne!(a.salt(3), c.salt(3));
        assert_ne!(a.bid_secret(1, 0), a.bid_secret(1, 1));
        let u = a.unit(b"value", 1, 0);
        assert!((0.0..1.0).contains(&u));
        assert_eq!(u, b.unit(b"value", 1, 0));
    }

    #[test]
    fn key_file_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k/node.key");
        let k1 = load_or_create_key_file(&path).unwrap();
        let k2 = load_or_create_key_file(&path).unwrap();
        assert_eq!(k1.address(), k2.address());
        std::fs::write(dir.path().join("bad.key"), "xyz").unwrap();
        assert!(load_key_file(&dir.path().join("bad.key")).is_err());
    }
}
