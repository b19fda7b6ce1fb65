//! The ledger state: accounts, contract slots and the consensus counters, with its Merkle root.
//!
//! Data flow: [`crate::params::GenesisConfig`] builds the first [`State`];
//! [`crate::transition::apply_block`] maps a parent state and a block to the next one; the
//! block header commits to [`State::root`]; a light client checks one account with
//! [`State::prove`] and [`verify_proof`]; a checkpoint block carries a whole state as its body
//! ([`Encode`]/[`Decode`]).
//!
//! Balances are `u128` base units: the crypto layer's sealed bids already carry `u128` values,
//! and with fine-grained units (say 10^18 per Sharecoin, as Ethereum does) `u64` would cap a
//! balance at about 18 coins; all arithmetic is checked, so overflow is a typed error rather
//! than a wrap. Trust is fusion's [`TrustRecord`]; PoT reads its [`TrustRecord::trust`].
//!
//! # Merkle layout
//!
//! The state root is [`crate::merkle::root`] over these leaves, in this order:
//!
//! ```text
//! leaf 0            : 0x00 || ConsensusMeta (40 bytes)
//! leaf 1 + i        : 0x01 || address (20) || Account (53 bytes)   accounts by address, ascending
//! then one leaf each: 0x02 || contract id (32) || u32 len || state  contracts by id, ascending
//! ```
//!
//! # Encoding (checkpoint bodies)
//!
//! `ConsensusMeta || u32 n || n × (address || Account) || u32 m || m × (id || u32 len || bytes)`,
//! keys strictly increasing. `Account = balance u128 || nonce u64 || trust record (29 bytes,
//! see [`crate::codec`])`; `ConsensusMeta = height u64 || timestamp_ms u64 || base_difficulty
//! u64 || epoch_anchor_height u64 || epoch_anchor_ms u64`.
#![deny(clippy::float_arithmetic)]

use std::collections::BTreeMap;

use fusion::{Fx, TrustRecord};

use crate::codec::{
    Decode, Encode, MAX_CONTRACT_STATE, MAX_CONTRACTS, MAX_STATE_ACCOUNTS, Put, Reader,
    TRUST_RECORD_LEN, encode_trust_record,
};
use crate::crypto::Address;
use crate::crypto::keys::ADDRESS_LEN;
use crate::digest::Hash256;
use crate::error::Error;
use crate::merkle::{self, MerkleProof};
use crate::tx::ContractId;

/// One account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    /// Sharecoin balance in base units.
    pub balance: u128,
    /// Number of transactions the account has sent (the next one must carry this nonce).
    pub nonce: u64,
    /// Trust record (paper A, V-B); its current trust sets the account's PoT difficulty.
    pub trust: TrustRecord,
}

/// Encoded size of an [`Account`].
pub const ACCOUNT_LEN: usize = 16 + 8 + TRUST_RECORD_LEN;

impl Account {
    /// An empty account with a fresh trust record at `trust`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidTrustRecord`] if `trust` is outside [0, 1].
    pub fn new(balance: u128, trust: Fx, address: Address) -> Result<Self, Error> {
        let trust = TrustRecord::new(trust).map_err(|source| Error::InvalidTrustRecord {
            account: address,
            source,
        })?;
        Ok(Self {
            balance,
            nonce: 0,
            trust,
        })
    }
}

impl Encode for Account {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.put_u128(self.balance);
        out.put_u64(self.nonce);
        encode_trust_record(&self.trust, out);
    }
}

impl Decode for Account {
    const NAME: &'static str = "account";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, Error> {
        Ok(Self {
            balance: r.u128("account.balance")?,
            nonce: r.u64("account.nonce")?,
            trust: r.trust_record("account.trust")?,
        })
    }
}

/// Consensus counters carried in the state, so a state alone (a checkpoint) fixes the next
/// block's height, minimum timestamp and base difficulty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConsensusMeta {
    /// Height of the block that produced this state (0 for genesis).
    pub height: u64,
    /// That block's timestamp (ms since the Unix epoch, as its miner stated it).
    pub timestamp_ms: u64,
    /// That block's base difficulty D_base.
    pub base_difficulty: u64,
    /// Height of the block whose timestamp opens the current retarget window.
    pub epoch_anchor_height: u64,
    /// Its timestamp.
    pub epoch_anchor_ms: u64,
}

impl Encode for ConsensusMeta {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.put_u64(self.height);
        out.put_u64(self.timestamp_ms);
        out.put_u64(self.base_difficulty);
        out.put_u64(self.epoch_anchor_height);
        out.put_u64(self.epoch_anchor_ms);
    }
}

impl Decode for ConsensusMeta {
    const NAME: &'static str = "consensus_meta";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, Error> {
        Ok(Self {
            height: r.u64("meta.height")?,
            timestamp_ms: r.u64("meta.timestamp_ms")?,
            base_difficulty: r.u64("meta.base_difficulty")?,
            epoch_anchor_height: r.u64("meta.epoch_anchor_height")?,
            epoch_anchor_ms: r.u64("meta.epoch_anchor_ms")?,
        })
    }
}

/// The whole ledger state after some block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct State {
    /// Consensus counters.
    pub meta: ConsensusMeta,
    accounts: BTreeMap<Address, Account>,
    contracts: BTreeMap<ContractId, Vec<u8>>,
}

const LEAF_META: u8 = 0;
const LEAF_ACCOUNT: u8 = 1;
const LEAF_CONTRACT: u8 = 2;

fn account_leaf(address: &Address, account: &Account) -> Hash256 {
    let mut bytes = Vec::with_capacity(1 + ADDRESS_LEN + ACCOUNT_LEN);
    bytes.put_u8(LEAF_ACCOUNT);
    bytes.put_raw(address.as_bytes());
    account.encode_to(&mut bytes);
    merkle::leaf_hash(&bytes)
}

impl State {
    /// A state with the given counters and no accounts.
    #[must_use]
    pub fn new(meta: ConsensusMeta) -> Self {
        Self {
            meta,
            ..Self::default()
        }
    }

    /// The account at `address`, if any.
    #[must_use]
    pub fn account(&self, address: &Address) -> Option<&Account> {
        self.accounts.get(address)
    }

    /// Mutable access for the state transition.
    pub(crate) fn account_mut(&mut self, address: &Address) -> Option<&mut Account> {
        self.accounts.get_mut(address)
    }

    /// Mutable access to every account (trust updates when a sensing task settles).
    pub(crate) fn accounts_mut(&mut self) -> impl Iterator<Item = (&Address, &mut Account)> {
        self.accounts.iter_mut()
    }

    /// Inserts or replaces an account.
    pub fn set_account(&mut self, address: Address, account: Account) {
        self.accounts.insert(address, account);
    }

    /// Every account, by address.
    pub fn accounts(&self) -> impl ExactSizeIterator<Item = (&Address, &Account)> {
        self.accounts.iter()
    }

    /// Number of accounts.
    #[must_use]
    pub fn account_count(&self) -> usize {
        self.accounts.len()
    }

    /// Balance of `address` (0 without an account).
    #[must_use]
    pub fn balance(&self, address: &Address) -> u128 {
        self.accounts.get(address).map_or(0, |a| a.balance)
    }

    /// Next nonce of `address` (0 without an account).
    #[must_use]
    pub fn nonce(&self, address: &Address) -> u64 {
        self.accounts.get(address).map_or(0, |a| a.nonce)
    }

    /// Current trust of `address`; an address without an account has trust 0 (so a fresh key
    /// mines at the full base difficulty).
    #[must_use]
    pub fn trust(&self, address: &Address) -> Fx {
        self.accounts
            .get(address)
            .map_or(Fx::ZERO, |a| a.trust.trust())
    }

    /// The highest trust of any account (0 without accounts): a checkpoint's miner must have it.
    #[must_use]
    pub fn highest_trust(&self) -> Fx {
        self.accounts
            .values()
            .map(|a| a.trust.trust())
            .max()
            .unwrap_or(Fx::ZERO)
    }

    /// The stored state of a contract instance (see [`crate::contracts`]).
    #[must_use]
    pub fn contract_state(&self, id: &ContractId) -> Option<&[u8]> {
        self.contracts.get(id).map(Vec::as_slice)
    }

    /// Stores a contract instance's state; an empty state removes the instance.
    ///
    /// # Errors
    ///
    /// [`Error::LimitExceeded`] above [`MAX_CONTRACT_STATE`] bytes.
    pub fn set_contract_state(&mut self, id: ContractId, state: Vec<u8>) -> Result<(), Error> {
        let len = u64::try_from(state.len()).unwrap_or(u64::MAX);
        if len > u64::from(MAX_CONTRACT_STATE) {
            return Err(Error::LimitExceeded {
                what: "contract state bytes",
                limit: u64::from(MAX_CONTRACT_STATE),
                got: len,
            });
        }
        if state.is_empty() {
            self.contracts.remove(&id);
        } else {
            self.contracts.insert(id, state);
        }
        Ok(())
    }

    /// Every contract instance, by id.
    pub fn contracts(&self) -> impl ExactSizeIterator<Item = (&ContractId, &Vec<u8>)> {
        self.contracts.iter()
    }

    /// The Merkle leaf hashes, in the order of the module docs.
    #[must_use]
    pub fn leaves(&self) -> Vec<Hash256> {
        let mut leaves = Vec::with_capacity(1 + self.accounts.len() + self.contracts.len());
        let mut meta = vec![LEAF_META];
        self.meta.encode_to(&mut meta);
        leaves.push(merkle::leaf_hash(&meta));
        leaves.extend(self.accounts.iter().map(|(a, acc)| account_leaf(a, acc)));
        leaves.extend(self.contracts.iter().map(|(id, data)| {
            let mut bytes = vec![LEAF_CONTRACT];
            bytes.put_raw(&id.0);
            bytes.put_bytes(data);
            merkle::leaf_hash(&bytes)
        }));
        leaves
    }

    /// The state root the block header commits to.
    #[must_use]
    pub fn root(&self) -> Hash256 {
        merkle::root(&self.leaves())
    }

    /// An inclusion proof of `address`'s account under [`State::root`].
    ///
    /// # Errors
    ///
    /// [`Error::UnknownAccount`] if there is no such account.
    pub fn prove(&self, address: &Address) -> Result<MerkleProof, Error> {
        if !self.accounts.contains_key(address) {
            return Err(Error::UnknownAccount { account: *address });
        }
        let index = 1 + self.accounts.range(..*address).count();
        merkle::prove(&self.leaves(), index).ok_or(Error::UnknownAccount { account: *address })
    }
}

/// Checks that `account` is `address`'s account in the state whose root is `root`.
///
/// # Errors
///
/// [`Error::RootMismatch`] (root `merkle_proof`) if the proof does not lead to `root`;
/// [`Error::InvalidEncoding`] if the proof's shape is impossible.
pub fn verify_proof(
    root: &Hash256,
    address: &Address,
    account: &Account,
    proof: &MerkleProof,
) -> Result<(), Error> {
    if proof.index == 0 {
        // Leaf 0 is the consensus counters, never an account.
        return Err(Error::InvalidEncoding {
            field: "merkle_proof",
            reason: "index 0 is not an account leaf",
        });
    }
    merkle::verify(root, &account_leaf(address, account), proof)
}

impl Encode for State {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.meta.encode_to(out);
        out.put_len(self.accounts.len());
        for (address, account) in &self.accounts {
            out.put_raw(address.as_bytes());
            account.encode_to(out);
        }
        out.put_len(self.contracts.len());
        for (id, data) in &self.contracts {
            out.put_raw(&id.0);
            out.put_bytes(data);
        }
    }
}

impl Decode for State {
    const NAME: &'static str = "state";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, Error> {
        let meta = ConsensusMeta::decode_from(r)?;
        let n = r.len(
            "state.accounts",
            MAX_STATE_ACCOUNTS,
            ADDRESS_LEN + ACCOUNT_LEN,
        )?;
        let mut accounts = BTreeMap::new();
        let mut previous: Option<Address> = None;
        for _ in 0..n {
            let address = r.address("state.accounts.address")?;
            if previous.is_some_and(|p| p >= address) {
                return Err(Error::InvalidEncoding {
                    field: "state.accounts",
                    reason: "addresses not strictly increasing",
                });
            }
            previous = Some(address);
            let account = Account::decode_from(r).map_err(|e| match e {
                Error::InvalidTrustRecord { source, .. } => Error::InvalidTrustRecord {
                    account: address,
                    source,
                },
                other => other,
            })?;
            accounts.insert(address, account);
        }
        let m = r.len("state.contracts", MAX_CONTRACTS, 32 + 4)?;
        let mut contracts = BTreeMap::new();
        let mut previous: Option<ContractId> = None;
        for _ in 0..m {
            let id = r.hash("state.contracts.id")?;
            if previous.is_some_and(|p| p >= id) {
                return Err(Error::InvalidEncoding {
                    field: "state.contracts",
                    reason: "ids not strictly increasing",
                });
            }
            previous = Some(id);
            let data = r.bytes("state.contracts.state", MAX_CONTRACT_STATE)?;
            if data.is_empty() {
                return Err(Error::InvalidEncoding {
                    field: "state.contracts.state",
                    reason: "empty contract state (removed instances are not stored)",
                });
            }
            contracts.insert(id, data);
        }
        Ok(Self {
            meta,
            accounts,
            contracts,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn addr(i: u8) -> Address {
        Address::from_bytes([i; ADDRESS_LEN])
    }

    fn sample() -> State {
        let mut s = State::new(ConsensusMeta {
            height: 3,
            timestamp_ms: 1000,
            base_difficulty: 7,
            epoch_anchor_height: 0,
            epoch_anchor_ms: 10,
        });
        for i in 1..=5u8 {
            s.set_account(
                addr(i),
                Account::new(u128::from(i) * 10, Fx::HALF, addr(i)).unwrap(),
            );
        }
        s.set_contract_state(Hash256([9; 32]), vec![1, 2]).unwrap();
        s
    }

    #[test]
    fn encoding_round_trips_and_is_canonical() {
        let s = sample();
        let bytes = s.to_bytes();
        assert_eq!(State::from_bytes(&bytes).unwrap(), s);
        // Swap the first two accounts' addresses: order violated.
        let mut swapped = bytes.clone();
        let first = 40 + 4;
        let second = first + ADDRESS_LEN + ACCOUNT_LEN;
        swapped[first..first + ADDRESS_LEN].copy_from_slice(&[2; ADDRESS_LEN]);
        swapped[second..second + ADDRESS_LEN].copy_from_slice(&[1; ADDRESS_LEN]);
        assert!(matches!(
            State::from_bytes(&swapped),
            Err(Error::InvalidEncoding {
                field: "state.accounts",
                ..
            })
        ));
    }

    #[test]
    fn proofs_for_every_account() {
        let s = sample();
        let root = s.root();
        for (a, acc) in s.accounts() {
            let p = s.prove(a).unwrap();
            verify_proof(&root, a, acc, &p).unwrap();
            let mut richer = *acc;
            richer.balance += 1;
            assert!(matches!(
                verify_proof(&root, a, &richer, &p),
                Err(Error::RootMismatch { .. })
            ));
        }
        assert_eq!(
            s.prove(&addr(77)),
            Err(Error::UnknownAccount { account: addr(77) })
        );
    }

    #[test]
    fn root_covers_meta_accounts_and_contracts() {
        let s = sample();
        let mut t = s.clone();
        t.meta.height += 1;
        assert_ne!(s.root(), t.root());
        let mut t = s.clone();
        t.set_contract_state(Hash256([9; 32]), vec![1, 3]).unwrap();
        assert_ne!(s.root(), t.root());
        let mut t = s.clone();
        t.account_mut(&addr(1)).unwrap().nonce = 1;
        assert_ne!(s.root(), t.root());
    }
}
