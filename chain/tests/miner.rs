//! The miner inside a node: a background search is cancelled when a new head arrives and the
//! node restarts on the new head; searches are deterministic given (template, start nonce).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::AtomicBool;

use chain::miner::{MiningJob, mine};
use chain::transition::build_block;
use chain::{Block, BlockTree, Error, TreeConfig, Verification};
use common::{Dag, devnet, quiet_params};

fn config() -> TreeConfig {
    TreeConfig {
        verification: Verification::Full { threads: 1 },
        auto_prune: false,
    }
}

#[test]
fn new_head_cancels_mining_and_the_miner_restarts_on_it() {
    // D_base 2^16: our node (account 1, trust 0) expects 65,536 hashes, the competitor
    // (account 0, trust 0.9) about 3,900.
    let mut d = Dag::new(devnet(&["0.9", "0"], 1 << 16, quiet_params()));
    let competitor = d.add("E1", "G", 0, 1000, &[]);
    let mut tree = BlockTree::new(&d.genesis, config());
    let ours = d.net.key(1).unwrap();

    let template = d.template("G", 1, 1500);
    let job = MiningJob::spawn(template.header, 0, 2);
    let (head_tx, head_rx) = crossbeam::channel::unbounded();

    // The competitor's block arrives: the head moves, the node is told.
    let change = tree.insert(competitor, None).unwrap().head_change.unwrap();
    head_tx.send(change.new_head).unwrap();
    crossbeam::select! {
        recv(job.receiver()) -> found => {
            // Our search may have won the race; its block is stale now either way.
            assert_eq!(found.unwrap().unwrap().prev_hash, d.genesis.hash);
        }
        recv(head_rx) -> head => {
            assert_eq!(head.unwrap(), d.hash("E1"));
            job.cancel();
            match job.wait() {
                Err(e) => assert_eq!(e, Error::MiningStopped { reason: "cancelled" }),
                Ok(stale) => assert_eq!(stale.prev_hash, d.genesis.hash),
            }
        }
    }

    // Restart on the new head.
    let parent = tree.head_state().unwrap();
    let template = build_block(
        &parent,
        tree.head(),
        ours.public_key(),
        parent.meta.timestamp_ms + 1000,
        &[],
        d.params(),
        Verification::Full { threads: 1 },
    )
    .unwrap();
    let header = mine(&template.header, 0, 2, &AtomicBool::new(false)).unwrap();
    let block = Block::seal(header, template.body, ours).unwrap();
    tree.insert(block.clone(), None).unwrap();
    assert_eq!((tree.head(), tree.head_height()), (block.hash(), 2));
}

#[test]
fn background_and_foreground_searches_agree() {
    let d = Dag::new(devnet(&["0.9", "0.5"], 4096, quiet_params()));
    let template = d.template("G", 1, 1000);
    let background = MiningJob::spawn(template.header, 0, 2).wait().unwrap();
    let foreground = mine(&template.header, 0, 1, &AtomicBool::new(false)).unwrap();
    assert_eq!(background, foreground);
    let block = Block::seal(background, template.body, d.net.key(1).unwrap()).unwrap();
    let mut tree = BlockTree::new(&d.genesis, config());
    tree.insert(block.clone(), None).unwrap();
    assert_eq!(tree.head(), block.hash());
}
