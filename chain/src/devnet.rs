//! A deterministic development network: seeded keys, a genesis funding them, and one-call
//! block production. The throughput benchmark, the crash-test writer, the CLI and the tests use
//! it to build real, fully valid chains without any network.
//!
//! Data flow: [`Devnet::new`] derives key `i` from the seed `"devnet" || le64(i)` (zero padded)
//! and writes a [`GenesisConfig`] giving each key a balance and a trust; [`Devnet::transfer`]
//! signs transfers between them; [`produce_block`] assembles, mines and seals the child of a
//! parent state.

#![deny(clippy::float_arithmetic)]

use std::sync::OnceLock;
use std::sync::atomic::AtomicBool;

use fusion::Fx;

use crate::block::Block;
use crate::crypto::{Address, SecretKey};
use crate::digest::Hash256;
use crate::error::Error;
use crate::miner::mine;
use crate::params::{ChainParams, GenesisAccount, GenesisConfig};
use crate::state::State;
use crate::transition::{BlockTemplate, Verification, build_block};
use crate::tx::{SignedTx, UnsignedTx};

/// Seeded keys and the genesis that funds them.
#[derive(Debug)]
pub struct Devnet {
    /// Key `i` of the network.
    pub keys: Vec<SecretKey>,
    /// Genesis funding every key.
    pub genesis: GenesisConfig,
    /// The chain id of `genesis` ([`ChainParams::chain_id`]), computed on first signing.
    chain_id: OnceLock<Hash256>,
}

/// The deterministic key number `i`.
///
/// # Errors
///
/// [`Error::InvalidSecretKey`] with probability 2^-256.
pub fn devnet_key(i: u64) -> Result<SecretKey, Error> {
    let mut seed = [0u8; 32];
    seed[..6].copy_from_slice(b"devnet");
    seed[6..14].copy_from_slice(&i.to_le_bytes());
    SecretKey::from_seed(&seed)
}

impl Devnet {
    /// `accounts` keys, each with `balance` and trust `trust(i)`, genesis at `timestamp_ms`
    /// with base difficulty `base_difficulty`.
    ///
    /// # Errors
    ///
    /// Key derivation errors (negligible).
    pub fn new(
        accounts: usize,
        balance: u128,
        trust: impl Fn(usize) -> Fx,
        base_difficulty: u64,
        timestamp_ms: u64,
        params: ChainParams,
    ) -> Result<Self, Error> {
        let keys = (0..accounts)
            .map(|i| devnet_key(u64::try_from(i).unwrap_or(u64::MAX)))
            .collect::<Result<Vec<_>, _>>()?;
        let genesis = GenesisConfig {
            timestamp_ms,
            base_difficulty,
            params,
            accounts: keys
                .iter()
                .enumerate()
                .map(|(i, k)| GenesisAccount {
                    address: k.address(),
                    balance,
                    trust: trust(i),
                })
                .collect(),
        };
        Ok(Self {
            keys,
            genesis,
            chain_id: OnceLock::new(),
        })
    }

    /// The chain id transactions are signed for: that of `genesis` as it was on first use
    /// (change `genesis` before signing anything).
    ///
    /// # Errors
    ///
    /// An invalid genesis ([`GenesisConfig::build`]).
    pub fn chain_id(&self) -> Result<Hash256, Error> {
        if let Some(id) = self.chain_id.get() {
            return Ok(*id);
        }
        let id = self.genesis.build()?.params.chain_id;
        Ok(*self.chain_id.get_or_init(|| id))
    }

    /// Address of key `i`.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownAccount`] (zero address) if there is no key `i`.
    pub fn address(&self, i: usize) -> Result<Address, Error> {
        self.key(i).map(SecretKey::address)
    }

    /// Key `i`.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownAccount`] (zero address) if there is no key `i`.
    pub fn key(&self, i: usize) -> Result<&SecretKey, Error> {
        self.keys.get(i).ok_or(Error::UnknownAccount {
            account: Address::from_bytes([0; 20]),
        })
    }

    /// A signed transfer of `amount` from key `from` to key `to`.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownAccount`] for a missing key; signing errors.
    pub fn transfer(
        &self,
        from: usize,
        to: usize,
        nonce: u64,
        amount: u128,
        fee: u128,
    ) -> Result<SignedTx, Error> {
        let sender = self.key(from)?;
        let tx = UnsignedTx::transfer(*sender.public_key(), nonce, fee, self.address(to)?, amount);
        SignedTx::sign(tx, sender, &self.chain_id()?)
    }
}

/// Builds, mines (from nonce 0 on `threads` threads) and seals the child of `parent`.
///
/// # Errors
///
/// As [`build_block`] and [`mine`]; signing errors.
pub fn produce_block(
    parent: &State,
    parent_hash: Hash256,
    miner: &SecretKey,
    timestamp_ms: u64,
    candidates: &[SignedTx],
    params: &ChainParams,
    verification: Verification,
) -> Result<(Block, BlockTemplate), Error> {
    let template = build_block(
        parent,
        parent_hash,
        miner.public_key(),
        timestamp_ms,
        candidates,
        params,
        verification,
    )?;
    let threads = match verification {
        Verification::Full { threads } => threads,
        Verification::Trusted => 1,
    };
    let header = mine(&template.header, 0, threads, &AtomicBool::new(false))?;
    let block = Block::seal(header, template.body.clone(), miner)?;
    Ok((block, template))
}
