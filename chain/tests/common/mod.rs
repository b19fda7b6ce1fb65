//! Shared test scaffolding: a seeded development network and a labelled block DAG built on it.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::HashMap;

use chain::devnet::{Devnet, produce_block};
use chain::params::Genesis;
use chain::transition::build_block;
use chain::{Block, ChainParams, Hash256, SignedTx, State, Verification};
use fusion::Fx;

/// Trust as a decimal string.
pub fn fx(s: &str) -> Fx {
    s.parse().unwrap()
}

/// Parameters with no retarget, no checkpoints and no reward, unless overridden.
pub fn quiet_params() -> ChainParams {
    ChainParams {
        block_reward: 0,
        retarget_interval: 1_000_000,
        checkpoint_interval: 0,
        ..ChainParams::default()
    }
}

/// Devnet with the given trusts (one account per entry), balance 1_000_000 each.
pub fn devnet(trusts: &[&str], base_difficulty: u64, params: ChainParams) -> Devnet {
    let trusts: Vec<Fx> = trusts.iter().map(|t| fx(t)).collect();
    Devnet::new(
        trusts.len(),
        1_000_000,
        |i| trusts[i],
        base_difficulty,
        1_000_000,
        params,
    )
    .unwrap()
}

/// A labelled DAG of valid blocks over one genesis. "G" is genesis.
pub struct Dag {
    pub net: Devnet,
    pub genesis: Genesis,
    blocks: HashMap<String, (Block, State)>,
}

impl Dag {
    pub fn new(net: Devnet) -> Self {
        let genesis = net.genesis.build().unwrap();
        Self {
            net,
            genesis,
            blocks: HashMap::new(),
        }
    }

    pub fn params(&self) -> &ChainParams {
        &self.genesis.params
    }

    pub fn state(&self, label: &str) -> &State {
        if label == "G" {
            &self.genesis.state
        } else {
            &self.blocks[label].1
        }
    }

    pub fn hash(&self, label: &str) -> Hash256 {
        if label == "G" {
            self.genesis.hash
        } else {
            self.blocks[label].0.hash()
        }
    }

    pub fn block(&self, label: &str) -> Block {
        self.blocks[label].0.clone()
    }

    /// Signed transfers `(from, to, amount)` with nonces from `parent`'s state (in order, so
    /// repeated senders get consecutive nonces), fee 1.
    pub fn transfers(&self, parent: &str, txs: &[(usize, usize, u128)]) -> Vec<SignedTx> {
        let state = self.state(parent);
        let mut next: HashMap<usize, u64> = HashMap::new();
        txs.iter()
            .map(|&(from, to, amount)| {
                let n = next
                    .entry(from)
                    .or_insert_with(|| state.nonce(&self.net.address(from).unwrap()));
                let tx = self.net.transfer(from, to, *n, amount, 1).unwrap();
                *n += 1;
                tx
            })
            .collect()
    }

    /// Adds a valid child of `parent` mined by account `miner`, `dt_ms` after the parent,
    /// carrying `txs` transfers.
    pub fn add(
        &mut self,
        label: &str,
        parent: &str,
        miner: usize,
        dt_ms: u64,
        txs: &[(usize, usize, u128)],
    ) -> Block {
        let txs = self.transfers(parent, txs);
        let state = self.state(parent).clone();
        let (block, template) = produce_block(
            &state,
            self.hash(parent),
            self.net.key(miner).unwrap(),
            state.meta.timestamp_ms + dt_ms,
            &txs,
            self.params(),
            Verification::Full { threads: 1 },
        )
        .unwrap();
        assert_eq!(
            template.included,
            txs.len(),
            "{label}: {:?}",
            template.rejected
        );
        self.blocks
            .insert(label.to_owned(), (block.clone(), template.post_state));
        block
    }

    /// Adds a chain of `n` children, labels `{prefix}1..{prefix}n`, each 1 s apart.
    pub fn add_chain(&mut self, prefix: &str, parent: &str, miner: usize, n: usize) {
        let mut p = parent.to_owned();
        for i in 1..=n {
            let label = format!("{prefix}{i}");
            self.add(&label, &p, miner, 1000, &[]);
            p = label;
        }
    }

    /// Stores an arbitrary (possibly invalid) block under a label, with `state` standing for
    /// its post-state (used only to build children).
    pub fn insert_raw(&mut self, label: &str, block: Block, state: State) {
        self.blocks.insert(label.to_owned(), (block, state));
    }

    /// A block template on `parent` (for hand-made invalid blocks).
    pub fn template(
        &self,
        parent: &str,
        miner: usize,
        dt_ms: u64,
    ) -> chain::transition::BlockTemplate {
        let state = self.state(parent);
        build_block(
            state,
            self.hash(parent),
            self.net.key(miner).unwrap().public_key(),
            state.meta.timestamp_ms + dt_ms,
            &[],
            self.params(),
            Verification::Full { threads: 1 },
        )
        .unwrap()
    }
}
