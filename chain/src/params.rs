//! Chain parameters and the genesis configuration.
//!
//! Data flow: an operator writes a [`GenesisConfig`] (TOML/JSON through serde: start time,
//! initial base difficulty, initial balances and trust, and the [`ChainParams`]);
//! [`GenesisConfig::build`] checks it and yields the [`Genesis`]: the first [`State`] and the
//! genesis hash that block 1 points to. The parameters travel with the chain (they are part of
//! the genesis hash and of the store's metadata), so every node applies the same rules.
#![deny(clippy::float_arithmetic)]

use std::collections::BTreeSet;

use fusion::Fx;
use serde::{Deserialize, Serialize};

use crate::codec::{Decode, Encode, MAX_BLOCK_TXS, Put, Reader};
use crate::contracts::ContractParams;
use crate::crypto::{Address, Domain, hash};
use crate::digest::Hash256;
use crate::error::Error;
use crate::state::{Account, ConsensusMeta, State};

/// Default [`ChainParams::min_fee`].
pub const DEFAULT_MIN_FEE: u128 = 1;

/// Default [`ChainParams::account_creation_fee`].
pub const DEFAULT_ACCOUNT_CREATION_FEE: u128 = 1_000_000_000;

/// Consensus parameters (all integer or fixed point).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChainParams {
    /// Sharecoin minted to each block's miner (checkpoint blocks included), in base units.
    pub block_reward: u128,
    /// Ideal block interval τ* in milliseconds (default 1000).
    pub target_interval_ms: u32,
    /// Retarget every this many blocks, N_adj (default 20, at least 2).
    pub retarget_interval: u32,
    /// Every this many blocks a checkpoint block carries the full state, N_c (0 = never).
    /// Only an account of the highest trust may mine it (paper A, V-C), so the chain waits at
    /// checkpoint heights until such a node is online: run one, or set 0.
    pub checkpoint_interval: u64,
    /// A checkpoint this many blocks deep in the best chain is confirmed: blocks before it may
    /// be pruned and forks below it are refused.
    pub checkpoint_confirmations: u64,
    /// Most transactions in one block (at most the codec cap 65,536).
    pub max_block_txs: u32,
    /// Trust record of an account created by receiving a transfer or a reward. Default 0: a
    /// fresh key gains no PoT discount; trust is earned through sensing.
    pub new_account_trust: Fx,
    /// Node policy, not part of `apply_block`: a block stamped more than this far after the
    /// node's clock is refused on arrival (and may be offered again later).
    pub max_future_drift_ms: u64,
    /// Smallest fee an account-signed transaction (transfer or contract call) may carry, base
    /// units (default 1): no transaction is free to send, so spam costs the sender. Anonymous
    /// uploads carry no fee (their task admits only its selected sensors).
    pub min_fee: u128,
    /// Burned (paid to nobody) on top of the fee by a transfer whose recipient has no account
    /// yet, base units (default 10^9, 1/50 of the default block reward): every account is a
    /// leaf of the state root and a line of every checkpoint, so creating one has a price a
    /// miner cannot recycle. A zero-value transfer to a new account is refused outright.
    pub account_creation_fee: u128,
    /// The contracts' parameters: MNO, band plan, trust model, CSC, SAC, leases.
    pub contracts: ContractParams,
    /// The chain's identity, set by [`GenesisConfig::build`] and never read from a config:
    /// `hash(trustband/v1/block, ["chain-id", params bytes with a zero id, genesis state
    /// bytes])`, so it differs whenever the genesis does, and the genesis hash commits to it.
    /// Transaction, ring and reveal signatures are bound to it: none made for one testbed
    /// verifies on another ([`crate::tx::SignedTx::verify_signature`]).
    #[serde(skip)]
    pub chain_id: Hash256,
}

impl Default for ChainParams {
    fn default() -> Self {
        Self {
            block_reward: 50_000_000_000,
            target_interval_ms: 1000,
            retarget_interval: 20,
            checkpoint_interval: 1000,
            checkpoint_confirmations: 12,
            max_block_txs: 10_000,
            new_account_trust: Fx::ZERO,
            max_future_drift_ms: 15_000,
            min_fee: DEFAULT_MIN_FEE,
            account_creation_fee: DEFAULT_ACCOUNT_CREATION_FEE,
            contracts: ContractParams::default(),
            chain_id: Hash256::ZERO,
        }
    }
}

impl ChainParams {
    /// Checks the parameters' domains.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] naming the first bad field (including the contracts'
    /// parameters, [`ContractParams::validate`]).
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |field, reason: &str| {
            Err(Error::InvalidConfig {
                field,
                reason: reason.to_owned(),
            })
        };
        if self.target_interval_ms == 0 {
            return bad("target_interval_ms", "must be positive");
        }
        if self.retarget_interval < 2 {
            return bad("retarget_interval", "must be at least 2");
        }
        if self.checkpoint_interval == 1 {
            return bad("checkpoint_interval", "must be 0 (off) or at least 2");
        }
        if self.max_block_txs == 0 || self.max_block_txs > MAX_BLOCK_TXS {
            return bad("max_block_txs", "must be in 1..=65536");
        }
        if self.min_fee == 0 {
            return bad("min_fee", "must be at least 1 (no transaction is free)");
        }
        if !self.new_account_trust.is_unit() {
            return bad("new_account_trust", "must be in [0, 1]");
        }
        self.contracts.validate()
    }

    /// Whether the block at `height` must be a checkpoint.
    #[must_use]
    pub fn is_checkpoint_height(&self, height: u64) -> bool {
        self.checkpoint_interval >= 2
            && height > 0
            && height.is_multiple_of(self.checkpoint_interval)
    }
}

impl Encode for ChainParams {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.put_u128(self.block_reward);
        out.put_u32(self.target_interval_ms);
        out.put_u32(self.retarget_interval);
        out.put_u64(self.checkpoint_interval);
        out.put_u64(self.checkpoint_confirmations);
        out.put_u32(self.max_block_txs);
        out.put_i64(self.new_account_trust.raw());
        out.put_u64(self.max_future_drift_ms);
        out.put_u128(self.min_fee);
        out.put_u128(self.account_creation_fee);
        self.contracts.encode_to(out);
        out.put_raw(&self.chain_id.0);
    }
}

impl Decode for ChainParams {
    const NAME: &'static str = "chain_params";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, Error> {
        let params = Self {
            block_reward: r.u128("params.block_reward")?,
            target_interval_ms: r.u32("params.target_interval_ms")?,
            retarget_interval: r.u32("params.retarget_interval")?,
            checkpoint_interval: r.u64("params.checkpoint_interval")?,
            checkpoint_confirmations: r.u64("params.checkpoint_confirmations")?,
            max_block_txs: r.u32("params.max_block_txs")?,
            new_account_trust: r.fx("params.new_account_trust")?,
            max_future_drift_ms: r.u64("params.max_future_drift_ms")?,
            min_fee: r.u128("params.min_fee")?,
            account_creation_fee: r.u128("params.account_creation_fee")?,
            contracts: ContractParams::decode_from(r)?,
            chain_id: Hash256(r.array("params.chain_id")?),
        };
        params.validate()?;
        Ok(params)
    }
}

/// One initial account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisAccount {
    /// Its address (`0x` + 40 hex digits).
    pub address: Address,
    /// Initial balance in base units.
    pub balance: u128,
    /// Initial trust in [0, 1] (raw 10^-9 units or a decimal string such as `"0.5"`).
    pub trust: Fx,
}

/// The genesis configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisConfig {
    /// Genesis time, ms since the Unix epoch (block 1 must be later).
    pub timestamp_ms: u64,
    /// Initial base difficulty D_base(0): expected hashes per block at trust 0.
    pub base_difficulty: u64,
    /// Consensus parameters.
    #[serde(default)]
    pub params: ChainParams,
    /// Initial accounts.
    #[serde(default)]
    pub accounts: Vec<GenesisAccount>,
}

/// A checked genesis: the first state, its hash and the parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Genesis {
    /// The state at height 0.
    pub state: State,
    /// What block 1's `prev_hash` must be:
    /// `hash(trustband/v1/block, ["genesis", params bytes, state bytes])`.
    pub hash: Hash256,
    /// The chain's parameters.
    pub params: ChainParams,
}

impl Genesis {
    /// The genesis hash of `state` under `params`.
    #[must_use]
    pub fn hash_of(params: &ChainParams, state: &State) -> Hash256 {
        Hash256(hash(
            Domain::Block,
            &[b"genesis", &params.to_bytes(), &state.to_bytes()],
        ))
    }
}

impl GenesisConfig {
    /// Checks the config and builds the genesis state.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for bad parameters, a zero base difficulty or a duplicate
    /// address; [`Error::InvalidTrustRecord`] for a trust outside [0, 1].
    pub fn build(&self) -> Result<Genesis, Error> {
        self.params.validate()?;
        if self.base_difficulty == 0 {
            return Err(Error::InvalidConfig {
                field: "base_difficulty",
                reason: "must be at least 1".to_owned(),
            });
        }
        let mut state = State::new(ConsensusMeta {
            height: 0,
            timestamp_ms: self.timestamp_ms,
            base_difficulty: self.base_difficulty,
            epoch_anchor_height: 0,
            epoch_anchor_ms: self.timestamp_ms,
        });
        let mut seen = BTreeSet::new();
        for a in &self.accounts {
            if !seen.insert(a.address) {
                return Err(Error::InvalidConfig {
                    field: "accounts",
                    reason: format!("duplicate address {}", a.address),
                });
            }
            state.set_account(a.address, Account::new(a.balance, a.trust, a.address)?);
        }
        // The id hashes the whole genesis (parameters with a zero id, and the state), then
        // goes into the parameters the genesis hash covers.
        let mut params = self.params.clone();
        params.chain_id = Hash256::ZERO;
        params.chain_id = Hash256(hash(
            Domain::Block,
            &[b"chain-id", &params.to_bytes(), &state.to_bytes()],
        ));
        Ok(Genesis {
            hash: Genesis::hash_of(&params, &state),
            state,
            params,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn params_round_trip_and_validate() {
        let p = ChainParams::default();
        assert_eq!(ChainParams::from_bytes(&p.to_bytes()).unwrap(), p);
        let bad = ChainParams {
            retarget_interval: 1,
            ..ChainParams::default()
        };
        assert!(matches!(
            bad.validate(),
            Err(Error::InvalidConfig {
                field: "retarget_interval",
                ..
            })
        ));
        assert!(ChainParams::from_bytes(&bad.to_bytes()).is_err());
        assert!(p.is_checkpoint_height(1000));
        assert!(!p.is_checkpoint_height(0));
        assert!(!p.is_checkpoint_height(999));
    }

    #[test]
    fn genesis_from_toml_and_duplicates() {
        let text = r#"
            timestamp_ms = 1000
            base_difficulty = 16
            [params]
            retarget_interval = 10
            [[accounts]]
            address = "0x0101010101010101010101010101010101010101"
            balance = 500
            trust = "0.9"
        "#;
        let config: GenesisConfig = toml::from_str(text).unwrap();
        let g = config.build().unwrap();
        let a = Address::from_bytes([1; 20]);
        assert_eq!(g.state.balance(&a), 500);
        assert_eq!(g.state.trust(&a), "0.9".parse().unwrap());
        assert_eq!(g.params.retarget_interval, 10);
        assert_eq!(g.hash, Genesis::hash_of(&g.params, &g.state));

        let mut dup = config.clone();
        dup.accounts.push(dup.accounts[0].clone());
        assert!(matches!(
            dup.build(),
            Err(Error::InvalidConfig {
                field: "accounts",
                ..
            })
        ));
        let mut untrusting = config;
        untrusting.accounts[0].trust = Fx::from_int(2);
        assert!(matches!(
            untrusting.build(),
            Err(Error::InvalidTrustRecord { .. })
        ));
    }
}
