//! Trust-Based Compression (paper A, V-C): checkpoint blocks every N_c blocks carrying the full
//! state, mined by the highest-trust node, checked against each node's own state; pruning
//! behind confirmed checkpoints; starting a node from a checkpoint.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chain::block::{Body, tx_root};
use chain::transition::build_block;
use chain::{
    Block, BlockCtx, BlockTree, ChainParams, ChainStore, Error, TreeConfig, Verification,
    apply_block,
};
use common::{Dag, devnet, quiet_params};

/// Checkpoints every 5 blocks, confirmed at depth 2; account 0 has the highest trust.
fn dag(blocks: usize) -> Dag {
    let params = ChainParams {
        checkpoint_interval: 5,
        checkpoint_confirmations: 2,
        block_reward: 10,
        ..quiet_params()
    };
    let mut d = Dag::new(devnet(&["0.9", "0.5", "0.5"], 1, params));
    let mut parent = "G".to_owned();
    for h in 1..=blocks {
        let label = format!("B{h}");
        let (miner, txs): (usize, &[(usize, usize, u128)]) = if h % 5 == 0 {
            (0, &[])
        } else {
            (1 + h % 2, &[(1, 2, 3), (2, 0, 4)])
        };
        d.add(&label, &parent, miner, 1000, txs);
        parent = label;
    }
    d
}

fn config(auto_prune: bool) -> TreeConfig {
    TreeConfig {
        verification: Verification::Full { threads: 1 },
        auto_prune,
    }
}

fn ctx<'a>(d: &'a Dag, parent: &str) -> BlockCtx<'a> {
    BlockCtx {
        params: d.params(),
        parent_hash: d.hash(parent),
        verification: Verification::Full { threads: 1 },
    }
}

#[test]
fn checkpoint_body_is_the_parent_state() {
    let d = dag(6);
    let cp = d.block("B5");
    let Body::Checkpoint(body) = &cp.body else {
        panic!("block 5 is not a checkpoint");
    };
    assert_eq!(**body, *d.state("B4"));
    assert_eq!(cp.header.tx_root, d.state("B4").root());
    assert!(!d.block("B4").is_checkpoint() && !d.block("B6").is_checkpoint());
    // Reward still minted to the checkpoint's miner.
    let a0 = d.net.address(0).unwrap();
    assert_eq!(d.state("B5").balance(&a0), d.state("B4").balance(&a0) + 10);
}

#[test]
fn checkpoint_rules_are_enforced() {
    let d = dag(5);
    let parent = d.state("B4");
    let good = d.block("B5");
    apply_block(parent, &good, &ctx(&d, "B4")).unwrap();

    // A miner without the highest trust cannot even build it...
    let low = d.net.key(1).unwrap();
    assert!(matches!(
        build_block(
            parent,
            d.hash("B4"),
            low.public_key(),
            parent.meta.timestamp_ms + 1,
            &[],
            d.params(),
            Verification::Full { threads: 1 }
        ),
        Err(Error::CheckpointMinerNotTrusted { .. })
    ));
    // ...and validators refuse one it made anyway.
    let mut header = good.header;
    header.miner = *low.public_key();
    header.miner_trust = parent.trust(&low.address());
    let forged = Block::seal(header, good.body.clone(), low).unwrap();
    match apply_block(parent, &forged, &ctx(&d, "B4")).unwrap_err() {
        Error::CheckpointMinerNotTrusted {
            miner,
            trust,
            highest,
        } => {
            assert_eq!(miner, low.address());
            assert_eq!((trust, highest), (common::fx("0.5"), common::fx("0.9")));
        }
        other => panic!("unexpected {other}"),
    }

    // A body that is not the validator's own parent state.
    let key0 = d.net.key(0).unwrap();
    let Body::Checkpoint(body) = &good.body else {
        panic!()
    };
    let mut lie = (**body).clone();
    let a1 = d.net.address(1).unwrap();
    let mut account = *lie.account(&a1).unwrap();
    account.balance += 1_000;
    lie.set_account(a1, account);
    let mut header = good.header;
    header.tx_root = lie.root();
    let tampered = Block::seal(header, Body::Checkpoint(Box::new(lie)), key0).unwrap();
    assert!(matches!(
        apply_block(parent, &tampered, &ctx(&d, "B4")),
        Err(Error::RootMismatch {
            root: "checkpoint_body",
            ..
        })
    ));

    // Transactions where a checkpoint belongs.
    let mut header = good.header;
    header.tx_root = tx_root(&[]);
    let plain = Block::seal(header, Body::Transactions(vec![]), key0).unwrap();
    assert_eq!(
        apply_block(parent, &plain, &ctx(&d, "B4")).unwrap_err(),
        Error::WrongBlockKind {
            height: 5,
            expected: "checkpoint"
        }
    );
}

#[test]
fn tree_prunes_behind_a_confirmed_checkpoint() {
    let d = dag(7);
    let mut tree = BlockTree::new(&d.genesis, config(true));
    for h in 1..=6 {
        let outcome = tree.insert(d.block(&format!("B{h}")), None).unwrap();
        assert!(outcome.pruned.is_none(), "pruned too early at {h}");
    }
    // Head 7: checkpoint 5 is 2 deep -> confirmed -> the tree re-roots there.
    let outcome = tree.insert(d.block("B7"), None).unwrap();
    let report = outcome.pruned.unwrap();
    assert_eq!(report.new_root, d.hash("B5"));
    assert_eq!(report.root_height, 5);
    assert_eq!(report.removed.len(), 5); // genesis and blocks 1-4
    assert_eq!(tree.root(), d.hash("B5"));
    assert_eq!(tree.len(), 3);
    assert_eq!(
        tree.best_chain(),
        vec![d.hash("B5"), d.hash("B6"), d.hash("B7")]
    );
    assert_eq!(*tree.head_state().unwrap(), *d.state("B7"));
    // Forks below the confirmed checkpoint are refused.
    let mut d2 = dag(4);
    let fork = d2.add("F3", "B2", 2, 5000, &[]);
    assert!(matches!(
        tree.insert(fork, None),
        Err(Error::BelowRoot {
            height: 3,
            root_height: 5,
            ..
        })
    ));
}

#[test]
fn node_starts_from_a_checkpoint() {
    let d = dag(9);
    let mut tree =
        BlockTree::from_checkpoint(d.block("B5"), d.params().clone(), config(false)).unwrap();
    assert_eq!(tree.root(), d.hash("B5"));
    for h in 6..=9 {
        tree.insert(d.block(&format!("B{h}")), None).unwrap();
    }
    assert_eq!(tree.head(), d.hash("B9"));
    assert_eq!(*tree.head_state().unwrap(), *d.state("B9"));
    // A non-checkpoint block cannot be a starting point.
    assert!(matches!(
        BlockTree::from_checkpoint(d.block("B6"), d.params().clone(), config(false)),
        Err(Error::WrongBlockKind { .. })
    ));
}

#[test]
fn store_prunes_and_reopens_from_its_checkpoint() {
    let d = dag(12);
    let dir = tempfile::tempdir().unwrap();
    let mut store = ChainStore::create(dir.path(), &d.net.genesis, config(true)).unwrap();
    for h in 1..=12 {
        store.insert(d.block(&format!("B{h}")), None).unwrap();
    }
    let summary = store.summary();
    assert_eq!(summary.root, d.hash("B10"));
    assert!(summary.root_is_checkpoint);
    assert_eq!((summary.height, summary.head), (12, d.hash("B12")));
    assert_eq!(store.stored_block(&d.hash("B3")).unwrap(), None);
    assert_eq!(store.stored_hash_at(3).unwrap(), None);
    assert_eq!(store.stored_hash_at(11).unwrap(), Some(d.hash("B11")));
    drop(store);

    let reopened = chain::verify_store(dir.path()).unwrap();
    assert_eq!(reopened, summary);
    assert_eq!(reopened.state_root, d.state("B12").root());

    // A second node syncs from the checkpoint and follows.
    let dir2 = tempfile::tempdir().unwrap();
    let mut node = ChainStore::create_from_checkpoint(
        dir2.path(),
        d.block("B10"),
        d.params().clone(),
        config(true),
    )
    .unwrap();
    for h in 11..=12 {
        node.insert(d.block(&format!("B{h}")), None).unwrap();
    }
    assert_eq!(node.summary().head, d.hash("B12"));
    assert_eq!(*node.head_state().unwrap(), *d.state("B12"));
}
