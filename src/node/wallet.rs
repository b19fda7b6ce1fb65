//! A node's wallet: its secp256k1 key, the per-task secrets derived from it, and the node's
//! source of randomness ([`NodeRng`]).
//!
//! Data flow: the key comes from a key file (`wallet.key_file`, 64 hex digits, mode 0600,
//! written by `trustband keygen` or created with an OS-random key on first start) or, only in
//! explicitly insecure test modes (`trustband run`, `trustband node --insecure-test-keys`),
//! from a seed text (`wallet.seed`, default the node's name: anyone can derive it). Identity
//! salts and bid secrets are derived from the key and the task or auction
//! (`hash(trustband/v1/key-seed, [label, key, ids])`), so a node that restarts can still open
//! what it committed to. The derivation is a PRF keyed by the 256-bit OS-random secret: the
//! values are as unpredictable as OS randomness to anyone without the key, and reveal nothing
//! of it (why not draw them from the OS: they would have to be persisted next to the key to
//! survive a restart, with no gain in secrecy). Everything else random a real node draws
//! (ring-signature hedges, DLEQ hedges, mining times) comes from [`NodeRng::os`].

use std::path::Path;

use chacha20::ChaCha20Rng;
use chain::Hash256;
use chain::contracts::csc::{Task, prove_reveal};
use chain::crypto::rand_core::{Rng, SeedableRng, TryCryptoRng, TryRng};
use chain::crypto::{Address, BidSecret, DleqProof, Domain, PublicKey, Salt, SecretKey, hash};

use crate::bad_input;

/// A node's source of randomness, injected through [`super::core::NodeSetup`].
///
/// Real nodes (`trustband node`) use [`NodeRng::os`]; only the deterministic simulation
/// (`trustband run`, [`super::sim::Simulation`]) uses [`NodeRng::seeded`], whose whole stream
/// follows from a public seed.
pub enum NodeRng {
    /// The OS's generator (getrandom) on every draw. `fallback` is a ChaCha20 stream keyed from
    /// the OS at start, used only if a later OS call fails (so no draw can panic or block).
    Os {
        /// OS-keyed stream for the (never seen on Linux) case of a failing OS call.
        fallback: ChaCha20Rng,
    },
    /// A ChaCha20 stream from a 64-bit seed: deterministic simulation only, never a real node.
    Seeded(ChaCha20Rng),
}

impl NodeRng {
    /// The OS's generator.
    ///
    /// # Errors
    /// The OS has no randomness to give (getrandom failed).
    pub fn os() -> anyhow::Result<Self> {
        let mut key = zeroize::Zeroizing::new([0u8; 32]);
        getrandom::SysRng
            .try_fill_bytes(key.as_mut_slice())
            .map_err(|e| anyhow::anyhow!("the OS random number generator failed: {e}"))?;
        Ok(Self::Os {
            fallback: ChaCha20Rng::from_seed(*key),
        })
    }

    /// A stream that is a pure function of `seed` (the simulation: same seed, same run).
    #[must_use]
    pub fn seeded(seed: u64) -> Self {
        Self::Seeded(ChaCha20Rng::seed_from_u64(seed))
    }
}

impl TryRng for NodeRng {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut bytes = [0u8; 4];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut bytes = [0u8; 8];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        match self {
            Self::Os { fallback } => {
                if getrandom::SysRng.try_fill_bytes(dst).is_err() {
                    fallback.fill_bytes(dst);
                }
            }
            Self::Seeded(stream) => stream.fill_bytes(dst),
        }
        Ok(())
    }
}

impl TryCryptoRng for NodeRng {}

impl core::fmt::Debug for NodeRng {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The stream state is secret (it would predict every later draw).
        f.write_str(match self {
            Self::Os { .. } => "NodeRng::Os",
            Self::Seeded(_) => "NodeRng::Seeded",
        })
    }
}

/// The key derived from a seed text: `SecretKey::from_seed(hash(key-seed, ["wallet-seed",
/// text]))`. Insecure by design (anyone who knows the text has the key): test modes only.
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

/// Reads a key file (64 hex digits, surrounding whitespace ignored). On Unix the file must not
/// be readable or writable by group or others (like ssh's private keys): a key others can read
/// is a key others can spend with.
///
/// # Errors
/// An unreadable file, a file open to group or others, or a malformed key
/// ([`crate::BadInput`] naming the file).
pub fn load_key_file(path: &Path) -> anyhow::Result<SecretKey> {
    check_private(path)?;
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

#[cfg(unix)]
fn check_private(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta =
        std::fs::metadata(path).map_err(|e| bad_input(format!("{}: {e}", path.display())))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(bad_input(format!(
            "{}: key file has mode {mode:04o}, readable or writable by others; run `chmod 600 {}`",
            path.display(),
            path.display()
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> anyhow::Result<()> {
    Ok(())
}

/// A fresh key from the OS's generator.
///
/// # Errors
/// The OS has no randomness to give.
pub fn os_key() -> anyhow::Result<SecretKey> {
    Ok(SecretKey::generate(&mut NodeRng::os()?))
}

/// Writes a fresh OS-random key to `path` (mode 0600 on Unix, parent directories created) and
/// returns it. Never overwrites: an existing file is an error, so a key cannot be lost.
///
/// # Errors
/// `path` exists ([`crate::BadInput`] naming it); other I/O errors; no OS randomness.
pub fn create_key_file(path: &Path) -> anyhow::Result<SecretKey> {
    if path.exists() {
        return Err(bad_input(format!(
            "{}: already exists; refusing to overwrite a key (move it away or pick another --out)",
            path.display()
        )));
    }
    let key = os_key()?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| bad_input(format!("{}: {e}", dir.display())))?;
    }
    let text = zeroize::Zeroizing::new(format!("{}\n", hex::encode(key.to_bytes().as_slice())));
    write_private(path, text.as_bytes()).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            bad_input(format!(
                "{}: already exists; refusing to overwrite a key",
                path.display()
            ))
        } else {
            bad_input(format!("{}: {e}", path.display()))
        }
    })?;
    Ok(key)
}

/// Reads a key file, creating it with a fresh OS-random key (mode 0600 on Unix) if missing.
///
/// # Errors
/// I/O errors; a malformed existing file or one open to others.
pub fn load_or_create_key_file(path: &Path) -> anyhow::Result<SecretKey> {
    if path.exists() {
        return load_key_file(path);
    }
    create_key_file(path)
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
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
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

    /// The DLEQ proof of this node's reveal in `task` on the chain `chain_id` (its key made its
    /// report's key image).
    ///
    /// The RNG is seeded from the key and the task so plans stay a pure function of the state;
    /// that is safe because [`chain::crypto::dleq::prove`] hedges its nonce with the key and the
    /// whole statement (ring, round, context), so distinct statements never share a nonce.
    ///
    /// # Errors
    /// [`chain::Error::EmptyRing`] if the task has no ring (it then holds no reports either).
    pub fn reveal_proof(&self, task: &Task, chain_id: &Hash256) -> Result<DleqProof, chain::Error> {
        let mut rng = ChaCha20Rng::from_seed(self.derive(b"reveal-proof", task.id, 0));
        prove_reveal(&self.key, chain_id, task, &mut rng)
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
    fn os_rng_draws_differ_and_seeded_streams_repeat() {
        let mut a = NodeRng::os().unwrap();
        let mut b = NodeRng::os().unwrap();
        let (x, y) = (a.next_u64(), b.next_u64());
        let mut block = [0u8; 32];
        a.fill_bytes(&mut block);
        assert_ne!(block, [0u8; 32]);
        assert!(
            x != y || a.next_u64() != b.next_u64(),
            "two OS draws repeat"
        );
        assert_eq!(NodeRng::seeded(5).next_u64(), NodeRng::seeded(5).next_u64());
        assert_ne!(NodeRng::seeded(5).next_u64(), NodeRng::seeded(6).next_u64());
        assert_eq!(format!("{a:?}"), "NodeRng::Os");
    }

    #[cfg(unix)]
    #[test]
    fn key_files_are_private_and_never_overwritten() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/n1.key");
        let key = create_key_file(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(load_key_file(&path).unwrap().address(), key.address());
        let err = create_key_file(&path).unwrap_err();
        assert!(err.is::<crate::BadInput>(), "{err}");
        assert!(err.to_string().contains("refusing to overwrite"), "{err}");
        assert_eq!(load_key_file(&path).unwrap().address(), key.address());
        let other = create_key_file(&dir.path().join("n2.key")).unwrap();
        assert_ne!(other.address(), key.address());
        // Readable by others: refused, naming the file and the fix.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_key_file(&path).unwrap_err();
        assert!(err.is::<crate::BadInput>(), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("n1.key") && text.contains("chmod 600"),
            "{text}"
        );
    }

    #[test]
    fn key_file_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k/node.key");
        let k1 = load_or_create_key_file(&path).unwrap();
        let k2 = load_or_create_key_file(&path).unwrap();
        assert_eq!(k1.address(), k2.address());
        let bad = dir.path().join("bad.key");
        std::fs::write(&bad, "xyz").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let err = load_key_file(&bad).unwrap_err();
        assert!(err.to_string().contains("not a hex key"), "{err}");
    }
}
