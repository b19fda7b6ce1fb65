//! Scaffolding for the contract tests: a seeded lab chain with real blocks (built with
//! `build_block`, mined, sealed and re-validated with `apply_block` at full verification),
//! account-signed calls with tracked nonces and ring-signed anonymous uploads.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;

use chacha20::ChaCha20Rng;
use chain::block::tx_root;
use chain::contracts::csc::{AnonymousUpload, Task};
use chain::contracts::events::{ContractEvent, EventRecord};
use chain::contracts::lease::LeaseParams;
use chain::contracts::sac::{Auction, SacParams};
use chain::contracts::{
    Call, ChannelSpec, ContractParams, GridCell, SensingReport, SkipScope, SlashDestination,
    auction_contract, csc::CscParams, supply, task_contract,
};
use chain::crypto::rand_core::SeedableRng;
use chain::crypto::{Address, IdentityCommitment, Ring, Salt, SecretKey};
use chain::devnet::devnet_key;
use chain::miner::mine;
use chain::transition::{BlockTemplate, build_block};
use chain::tx::{ContractId, TxPayload};
use chain::{
    Block, BlockCtx, ChainParams, Error, GenesisAccount, GenesisConfig, Hash256, Receipt, SignedTx,
    State, UnsignedTx, Verification, apply_block,
};
use fusion::{FusionRule, Fx, SelectionScheme};

/// Trust as a decimal string.
pub fn fx(s: &str) -> Fx {
    s.parse().unwrap()
}

/// Small, fast contract parameters for unit-style tests: windows of one block, deposit 100,
/// K = 3, threshold 0.5, buy-in 50, reward 30; two 2 MHz channels; the MNO is `mno`.
pub fn test_contracts(mno: Address) -> ContractParams {
    ContractParams {
        mno,
        channels: vec![
            ChannelSpec {
                centre_hz: 600_000_000,
                bandwidth_hz: 2_000_000,
            },
            ChannelSpec {
                centre_hz: 610_000_000,
                bandwidth_hz: 2_000_000,
            },
        ],
        skip_scope: SkipScope::AllAccounts,
        csc: CscParams {
            registration_close: 1,
            deadline: 2,
            reveal_end: 3,
            retain: 2,
            deposit: 100,
            k: 3,
            selection: SelectionScheme::Trust {
                threshold: Fx::HALF,
            },
            buy_in: 50,
            fusion: FusionRule::default(),
            reward_per_round: 30,
            slash_to: SlashDestination::RewardPool,
            max_registrations: 8,
        },
        sac: SacParams {
            commit_len: 1,
            reveal_len: 1,
            expiry: 3,
            max_bidders: 2,
            max_commits: 2,
            min_deposit: 10,
            reserve: 20,
        },
        lease: LeaseParams {
            term: 5,
            renew_window: 2,
            heartbeat_interval: 0,
            bandwidth_unit_hz: 1_000_000,
            price_unit: 1_000,
            p_w: fx("0.1"),
            gamma: fx("0.7"),
        },
        ..ContractParams::default()
    }
}

/// Chain parameters around `contracts`: no reward, no retarget, no checkpoints.
pub fn chain_params(contracts: ContractParams) -> ChainParams {
    ChainParams {
        block_reward: 0,
        retarget_interval: 1_000_000,
        checkpoint_interval: 0,
        contracts,
        ..ChainParams::default()
    }
}

/// A block and what it did.
#[derive(Debug)]
pub struct Applied {
    /// The receipt of `apply_block`.
    pub receipt: Receipt,
    /// Candidates `build_block` left out, with why.
    pub rejected: Vec<(Hash256, Error)>,
}

impl Applied {
    /// The events, without origins.
    pub fn events(&self) -> Vec<ContractEvent> {
        self.receipt
            .events
            .iter()
            .map(|r| r.event.clone())
            .collect()
    }

    /// The single failure of an included call.
    pub fn failure(&self) -> Error {
        assert_eq!(self.receipt.failed.len(), 1, "{:?}", self.receipt.failed);
        self.receipt.failed[0].1.clone()
    }

    /// The single rejected candidate's error.
    pub fn rejection(&self) -> Error {
        assert_eq!(self.rejected.len(), 1, "{:?}", self.rejected);
        self.rejected[0].1.clone()
    }
}

/// A lab chain.
pub struct Lab {
    pub keys: Vec<SecretKey>,
    pub params: ChainParams,
    pub state: State,
    pub hash: Hash256,
    /// Key index of the miner of every block.
    pub miner: usize,
    /// How `build_block` checks candidates (`apply_block` always checks everything).
    pub build_verification: Verification,
    /// RNG for salts, bid secrets and ring signatures.
    pub rng: ChaCha20Rng,
    pending: HashMap<Address, u64>,
}

impl Lab {
    /// Key `i` = `devnet_key(i)`, with `trusts[i]` and `balances[i]`.
    pub fn new(params: ChainParams, trusts: &[Fx], balances: &[u128]) -> Self {
        let keys: Vec<SecretKey> = (0..trusts.len())
            .map(|i| devnet_key(i as u64).unwrap())
            .collect();
        let genesis = GenesisConfig {
            timestamp_ms: 1_000_000,
            base_difficulty: 1,
            params,
            accounts: keys
                .iter()
                .zip(trusts.iter().zip(balances))
                .map(|(k, (&trust, &balance))| GenesisAccount {
                    address: k.address(),
                    balance,
                    trust,
                })
                .collect(),
        }
        .build()
        .unwrap();
        Self {
            keys,
            params: genesis.params.clone(),
            state: genesis.state,
            hash: genesis.hash,
            miner: 0,
            build_verification: Verification::Full { threads: 1 },
            rng: ChaCha20Rng::from_seed([42; 32]),
            pending: HashMap::new(),
        }
    }

    pub fn address(&self, i: usize) -> Address {
        self.keys[i].address()
    }

    pub fn balance(&self, i: usize) -> u128 {
        self.state.balance(&self.address(i))
    }

    pub fn trust(&self, i: usize) -> Fx {
        self.state.trust(&self.address(i))
    }

    /// Height of the last applied block (the next block is one more).
    pub fn height(&self) -> u64 {
        self.state.meta.height
    }

    /// A signed call from key `i` with the next free nonce, fee 1.
    pub fn call(&mut self, i: usize, contract: ContractId, call: &Call) -> SignedTx {
        self.call_with_fee(i, contract, call, 1)
    }

    /// A signed call from key `i` with the next free nonce and `fee`.
    pub fn call_with_fee(
        &mut self,
        i: usize,
        contract: ContractId,
        call: &Call,
        fee: u128,
    ) -> SignedTx {
        self.signed(i, fee, TxPayload::Contract(call.to(contract)))
    }

    /// A signed raw payload from key `i` with the next free nonce.
    pub fn signed(&mut self, i: usize, fee: u128, payload: TxPayload) -> SignedTx {
        let key = &self.keys[i];
        let address = key.address();
        let nonce = *self
            .pending
            .entry(address)
            .or_insert_with(|| self.state.nonce(&address));
        self.pending.insert(address, nonce + 1);
        SignedTx::sign(
            UnsignedTx {
                sender: *key.public_key(),
                nonce,
                fee,
                payload,
            },
            key,
            &self.params.chain_id,
        )
        .unwrap()
    }

    /// Forgets nonces handed out for transactions that were not used.
    pub fn reset_nonces(&mut self) {
        self.pending.clear();
    }

    /// Builds, mines, seals and applies the next block with `candidates`; checks that the
    /// validator's post-state and events equal the builder's.
    pub fn block(&mut self, candidates: &[SignedTx]) -> Applied {
        let template = self.template(candidates, self.build_verification);
        let header = mine(&template.header, 0, 1, &AtomicBool::new(false)).unwrap();
        let block = Block::seal(header, template.body.clone(), &self.keys[self.miner]).unwrap();
        let (state, receipt) = self.validate(&block, 1).unwrap();
        assert_eq!(state, template.post_state, "validator and builder disagree");
        assert_eq!(receipt.events, template.events);
        assert_eq!(receipt.failed, template.failed);
        self.state = state;
        self.hash = block.hash();
        self.pending.clear();
        Applied {
            receipt,
            rejected: template.rejected,
        }
    }

    /// The builder's template for the next block from `candidates`, one second after the
    /// head, mined by key `miner`.
    fn template(&self, candidates: &[SignedTx], verification: Verification) -> BlockTemplate {
        build_block(
            &self.state,
            self.hash,
            self.keys[self.miner].public_key(),
            self.state.meta.timestamp_ms + 1000,
            candidates,
            &self.params,
            verification,
        )
        .unwrap()
    }

    /// `apply_block` of `block` on the head with full verification on `threads` threads.
    fn validate(&self, block: &Block, threads: usize) -> Result<(State, Receipt), Error> {
        apply_block(
            &self.state,
            block,
            &BlockCtx {
                params: &self.params,
                parent_hash: self.hash,
                verification: Verification::Full { threads },
            },
        )
    }

    /// `n` empty blocks; their events.
    pub fn skip(&mut self, n: usize) -> Vec<EventRecord> {
        (0..n)
            .flat_map(|_| self.block(&[]).receipt.events)
            .collect()
    }

    /// A block that carries exactly `txs` (bypassing the builder's filter), applied with full
    /// verification; the error if it is invalid. The chain advances only if it is valid.
    pub fn force_block(&mut self, txs: Vec<SignedTx>) -> Result<Receipt, Error> {
        let mut header = self.template(&[], Verification::Full { threads: 1 }).header;
        header.tx_root = tx_root(&txs);
        let header = mine(&header, 0, 1, &AtomicBool::new(false)).unwrap();
        let body = chain::Body::Transactions(txs);
        let block = Block::seal(header, body, &self.keys[self.miner]).unwrap();
        let result = self.validate(&block, 2);
        self.pending.clear();
        result.map(|(state, receipt)| {
            self.state = state;
            self.hash = block.hash();
            receipt
        })
    }

    /// The task `id`'s stored state.
    pub fn task(&self, id: u64) -> Option<Task> {
        use chain::codec::Decode;
        self.state
            .contract_state(&task_contract(id))
            .map(|b| Task::from_bytes(b).unwrap())
    }

    /// The auction `id`'s stored state.
    pub fn auction(&self, id: u64) -> Option<Auction> {
        use chain::codec::Decode;
        self.state
            .contract_state(&auction_contract(id))
            .map(|b| Auction::from_bytes(b).unwrap())
    }

    /// A fresh salt.
    pub fn salt(&mut self) -> Salt {
        Salt::generate(&mut self.rng)
    }

    /// Key `i`'s anonymous upload of `decision` for `task`, committing to its own address
    /// under `salt`, signed over the task's ring.
    pub fn upload(&mut self, i: usize, task: u64, decision: bool, salt: &Salt) -> SignedTx {
        let t = self.task(task).expect("task exists");
        let ring = Ring::from_bytes(&t.ring.concat()).expect("task has a ring");
        self.upload_over(i, task, t.round, ring, decision, salt)
    }

    /// As [`Lab::upload`] with an explicit round and ring.
    pub fn upload_over(
        &mut self,
        i: usize,
        task: u64,
        round: u64,
        ring: Ring,
        decision: bool,
        salt: &Salt,
    ) -> SignedTx {
        let report = SensingReport {
            decision,
            energy_mdb: if decision { 3_000 } else { -500 },
            cell: GridCell {
                x: i as i32,
                y: -(i as i32),
            },
            commitment: IdentityCommitment::new(task, &self.address(i), salt),
        };
        let upload = AnonymousUpload::sign(
            &self.keys[i],
            &self.params.chain_id,
            task,
            round,
            report,
            ring,
            &mut self.rng,
        )
        .unwrap();
        SignedTx::anonymous(upload).unwrap()
    }

    /// Key `i`'s reveal of `salt` for `task`, with its DLEQ proof over the task's ring (a
    /// well-formed proof that verifies nothing if the task or its ring is gone).
    pub fn reveal(&mut self, i: usize, task: u64, salt: Salt) -> SignedTx {
        let proof = self
            .task(task)
            .and_then(|t| {
                chain::contracts::csc::prove_reveal(
                    &self.keys[i],
                    &self.params.chain_id,
                    &t,
                    &mut self.rng,
                )
                .ok()
            })
            .unwrap_or_else(|| chain::crypto::DleqProof::from_bytes(&[1; 64]).unwrap());
        self.call(i, task_contract(task), &Call::Reveal { salt, proof })
    }

    /// Total Sharecoin (balances plus contract-held funds).
    pub fn supply(&self) -> u128 {
        supply(&self.state).unwrap()
    }
}

impl Lab {
    /// Key index of the current task issuer.
    pub fn issuer_index(&self) -> usize {
        let issuer = chain::contracts::task_issuer(&self.state).unwrap();
        self.keys
            .iter()
            .position(|k| k.address() == issuer)
            .unwrap()
    }

    /// The id the next opened task will get.
    pub fn next_task(&self) -> u64 {
        chain::contracts::Registry::load(&self.state, &self.params.contracts)
            .unwrap()
            .next_task
    }

    /// One sensing round on `channel`: the issuer opens a task with `sensors` registering in
    /// the same block, selection passes, every sensor uploads `busy`; returns the task id and
    /// the blocks' events. Assumes windows of one block (registration close 1, deadline 2)
    /// and that every sensor is selected. After it the task is fused.
    pub fn sensed(
        &mut self,
        channel: u32,
        sensors: &[usize],
        busy: bool,
    ) -> (u64, Vec<ContractEvent>) {
        let task = self.next_task();
        let issuer = self.issuer_index();
        let mut txs = vec![self.call(issuer, chain::contracts::REGISTRY, &Call::Open { channel })];
        for &s in sensors {
            txs.push(self.call(s, task_contract(task), &Call::Register));
        }
        let mut events = self.block(&txs).events();
        events.extend(self.block(&[]).events());
        let salts: Vec<Salt> = sensors.iter().map(|_| self.salt()).collect();
        let uploads: Vec<SignedTx> = sensors
            .iter()
            .zip(&salts)
            .map(|(&s, salt)| self.upload(s, task, busy, salt))
            .collect();
        let applied = self.block(&uploads);
        assert!(applied.rejected.is_empty(), "{:?}", applied.rejected);
        events.extend(applied.events());
        (task, events)
    }
}
