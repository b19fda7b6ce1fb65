//! Trust-Based Compression in the node: a node whose chain holds only the genesis joins late,
//! asks a peer for its confirmed checkpoint, restarts its chain from it (validated: work at the
//! miner's trust, highest-trust miner, state root) once a quorum of peers serves the block or
//! its hash is pinned, and follows the head from there; a checkpoint the other peers do not
//! hold, one peer's unpinned checkpoint, one that is not the pinned hash, or
//! `checkpoint_sync = false`, makes it replay from genesis instead (SPEC 4.6).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chain::net::sim::NodeId;
use trustband::node::NullSink;
use trustband::node::config::TestbedConfig;
use trustband::node::events::NodeEvent;
use trustband::node::ledger::Ledger;
use trustband::node::sim::Simulation;

/// Three miners and one non-mining latecomer `d`; a checkpoint every 10 blocks, confirmed 4
/// blocks deep.
fn testbed(checkpoint_sync: bool) -> TestbedConfig {
    testbed_with(checkpoint_sync, "")
}

/// [`testbed`] with `chain_extra` appended to its `[chain]` section.
fn testbed_with(checkpoint_sync: bool, chain_extra: &str) -> TestbedConfig {
    let text = format!(
        r#"
name = "checkpoint-sync"
[sensing]
channels = [{{ name = "c0", center_hz = 600e6, bandwidth_hz = 2e5 }}]
[chain]
sync_interval_ms = 1000
checkpoint_sync = {checkpoint_sync}
{chain_extra}
[chain.params]
target_interval_ms = 1000
checkpoint_interval = 10
checkpoint_confirmations = 4
[network]
latency_ms = 20
jitter_ms = 10
[[node]]
name = "a"
source = {{ kind = "none" }}
[[node]]
name = "b"
source = {{ kind = "none" }}
[[node]]
name = "c"
source = {{ kind = "none" }}
[[node]]
name = "d"
hash_rate = 0
source = {{ kind = "none" }}
"#
    );
    TestbedConfig::parse(&text, "checkpoint-sync testbed", None).unwrap()
}

/// The four nodes with `d` cut off until 40 s: not mining, it stays at the genesis while the
/// others build a chain (one, or with `split` two: `a` alone and `b`+`c`, each past a confirmed
/// checkpoint with seed 1). Returned just before the heal.
fn latecomer(checkpoint_sync: bool, split: bool) -> Simulation {
    let testbed = testbed(checkpoint_sync);
    let seed = if split { 1 } else { 7 };
    let mut sim = Simulation::new(&testbed, seed, None, false).unwrap();
    let groups = if split {
        vec![vec![0], vec![1, 2], vec![3]]
    } else {
        vec![vec![0, 1, 2], vec![3]]
    };
    sim.partition(0, &groups).unwrap();
    sim.heal(40_000).unwrap();
    sim.run_until(39_999, &mut NullSink).unwrap();
    if split {
        let heads = sim.heads();
        // b+c have a confirmed checkpoint (10 + 4 deep) on a chain a does not share.
        assert!(heads[1].0 >= 14, "{heads:?}");
        assert_ne!(heads[0].1, heads[1].1);
    }
    sim
}

/// Runs until every node has one head (at most 120 s of virtual time after the heal); returns
/// what `d` logged about checkpoints meanwhile.
fn converge(sim: &mut Simulation) -> Vec<String> {
    let mut lines = Vec::new();
    let mut sink = |e: NodeEvent| {
        if let NodeEvent::Log { node, text, .. } = e
            && node == "d"
            && text.contains("checkpoint")
        {
            lines.push(text);
        }
    };
    while !sim.converged() {
        assert!(sim.step(&mut sink).unwrap());
        assert!(sim.now_ms() < 160_000, "no convergence: {:?}", sim.heads());
    }
    lines
}

#[test]
fn a_late_genesis_only_node_starts_from_a_peers_checkpoint() {
    let mut sim = latecomer(true, false);
    let before = sim.heads();
    assert_eq!(before[3].0, 0, "d stayed at the genesis: {before:?}");
    assert!(before[0].0 >= 20, "the others built a chain: {before:?}");
    let log = converge(&mut sim);
    // Offered by one peer, confirmed by another that holds the block.
    assert!(
        log.iter()
            .any(|l| l.starts_with("started from peer") && l.contains("confirmed by peer")),
        "{log:#?}"
    );

    let d = &sim.nodes()[3];
    let a = &sim.nodes()[0];
    let root = d.ledger().tree().root_height();
    assert!(
        root >= 10,
        "d's chain is rooted at a checkpoint, not the genesis (root {root})"
    );
    assert!(root.is_multiple_of(10), "the root is a checkpoint height");
    assert!(
        a.ledger().tree().contains(&d.ledger().tree().root()),
        "d's checkpoint is a block of a's chain"
    );
    assert_eq!(d.ledger().head(), a.ledger().head());
    assert_eq!(
        d.ledger().head_state().root(),
        a.ledger().head_state().root(),
        "same state after following from the checkpoint"
    );
}

#[test]
fn with_checkpoint_sync_off_the_latecomer_replays_from_genesis() {
    let mut sim = latecomer(false, false);
    assert_eq!(sim.heads()[3].0, 0);
    assert!(converge(&mut sim).is_empty());
    let d = &sim.nodes()[3];
    assert_eq!(d.ledger().tree().root_height(), 0);
    assert_eq!(d.ledger().head(), sim.nodes()[0].ledger().head());
}

#[test]
fn a_checkpoint_the_second_peer_does_not_hold_is_not_taken() {
    // a and b+c built different chains: an offer from one side is not confirmed by a witness
    // from the other. d asks again (the sides merge meanwhile) and ends on the common chain,
    // rooted at the genesis or at a checkpoint of that chain, never of the abandoned one.
    let mut sim = latecomer(true, true);
    let log = converge(&mut sim);
    assert!(
        log.iter().any(|l| l.contains("does not hold checkpoint")),
        "{log:#?}"
    );
    let d = &sim.nodes()[3];
    let b = &sim.nodes()[1];
    assert_eq!(d.ledger().head(), b.ledger().head());
    assert!(
        b.ledger().tree().contains(&d.ledger().tree().root()),
        "d's root is on the common chain: {log:#?}"
    );
    assert_eq!(
        d.ledger().head_state().root(),
        b.ledger().head_state().root()
    );
}

/// A chain of the testbed with a confirmed checkpoint at height 10 (a's view after 40 s).
fn checkpoint_block() -> (TestbedConfig, chain::Block) {
    let testbed = testbed(true);
    let mut sim = Simulation::new(&testbed, 7, None, false).unwrap();
    sim.run_until(30_000, &mut NullSink).unwrap();
    let tree = sim.nodes()[0].ledger().tree();
    let hash = tree.best_at_height(10).unwrap();
    let block = (*tree.block(&hash).unwrap()).clone();
    assert!(matches!(block.body, chain::Body::Checkpoint(_)));
    (testbed, block)
}

#[test]
fn a_stored_chain_restarted_from_a_checkpoint_reopens_from_it() {
    let (testbed, block) = checkpoint_block();
    let genesis = testbed.genesis().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let hash = block.hash();
    {
        let mut ledger = Ledger::stored(dir.path(), &genesis).unwrap();
        assert!(ledger.is_fresh());
        ledger.restart_from_checkpoint(block.clone()).unwrap();
        assert_eq!(ledger.head(), hash);
        assert!(!ledger.is_fresh());
        // A second restart is refused: the chain is no longer genesis-only.
        let err = ledger.restart_from_checkpoint(block).unwrap_err();
        assert!(
            matches!(
                err,
                chain::Error::InvalidConfig {
                    field: "checkpoint",
                    ..
                }
            ),
            "{err}"
        );
    }
    let ledger = Ledger::stored(dir.path(), &genesis).unwrap();
    assert_eq!(ledger.tree().root(), hash);
    assert_eq!(ledger.head_height(), 10);
}

#[test]
fn a_tampered_checkpoint_is_refused_and_the_genesis_store_is_kept() {
    let (testbed, block) = checkpoint_block();
    let genesis = testbed.genesis().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::stored(dir.path(), &genesis).unwrap();
    let genesis_hash = ledger.head();

    // A richer balance in the carried state: the header's state root no longer matches.
    let mut forged = block.clone();
    let chain::Body::Checkpoint(state) = &mut forged.body else {
        unreachable!()
    };
    let (address, account) = state.accounts().next().map(|(a, b)| (*a, *b)).unwrap();
    let mut richer = account;
    richer.balance += 1;
    state.set_account(address, richer);
    let err = ledger.restart_from_checkpoint(forged).unwrap_err();
    assert!(
        matches!(
            err,
            chain::Error::RootMismatch {
                root: "tx_root",
                ..
            }
        ),
        "{err:?}"
    );

    // Claimed trust the carried state does not give the miner: the work check fails.
    let mut lazy = block;
    lazy.header.miner_trust = fusion::Fx::ONE;
    let err = ledger.restart_from_checkpoint(lazy).unwrap_err();
    assert!(
        matches!(
            err,
            chain::Error::HeaderMismatch {
                field: "miner_trust",
                ..
            }
        ),
        "{err:?}"
    );

    assert!(ledger.is_fresh());
    assert_eq!(ledger.head(), genesis_hash);
    drop(ledger);
    let reopened = Ledger::stored(dir.path(), &genesis).unwrap();
    assert_eq!(reopened.head(), genesis_hash);
}

/// `d` joins at 40 s seeing only `a` (b and c are cut off from both): the one peer it can ask
/// offers its confirmed checkpoint. Returns the simulation at 40 s and the checkpoint `a`
/// holds then.
fn single_peer_latecomer(testbed: &TestbedConfig) -> (Simulation, chain::Hash256) {
    let mut sim = Simulation::new(testbed, 7, None, false).unwrap();
    sim.partition(0, &[vec![0, 1, 2], vec![3]]).unwrap();
    sim.partition(40_000, &[vec![0, 3], vec![1, 2]]).unwrap();
    sim.run_until(39_999, &mut NullSink).unwrap();
    let offered = sim.nodes()[0]
        .ledger()
        .tree()
        .confirmed_checkpoint()
        .unwrap();
    (sim, offered)
}

/// Runs `sim` 40 s on; `d`'s checkpoint log lines.
fn run_d(sim: &mut Simulation) -> Vec<String> {
    let mut lines = Vec::new();
    let mut sink = |e: NodeEvent| {
        if let NodeEvent::Log { node, text, .. } = e
            && node == "d"
            && text.contains("checkpoint")
        {
            lines.push(text);
        }
    };
    sim.run_until(80_000, &mut sink).unwrap();
    lines
}

#[test]
fn one_peers_checkpoint_is_not_taken_without_a_quorum() {
    // SPEC 4.6: never on the word of one peer. d stays on its own chain (genesis replay).
    let (mut sim, _) = single_peer_latecomer(&testbed(true));
    let log = run_d(&mut sim);
    assert!(
        log.iter()
            .any(|l| l.starts_with("refused checkpoint") && l.contains("the quorum is 2")),
        "{log:#?}"
    );
    assert!(
        !log.iter().any(|l| l.starts_with("started from")),
        "{log:#?}"
    );
    let d = &sim.nodes()[3];
    assert_eq!(d.ledger().tree().root_height(), 0, "d replays from genesis");
    let height = d.ledger().tree().height_of(&d.ledger().head()).unwrap();
    assert!(
        height > 20,
        "d follows a's chain block by block (height {height})"
    );
}

#[test]
fn a_pinned_checkpoint_is_taken_from_one_peer() {
    let (_, offered) = single_peer_latecomer(&testbed(true));
    let height = {
        let (sim, _) = single_peer_latecomer(&testbed(true));
        sim.nodes()[0]
            .ledger()
            .tree()
            .block(&offered)
            .unwrap()
            .header
            .height
    };
    let pins = format!("checkpoint_pins = [{{ height = {height}, hash = \"{offered}\" }}]");
    let (mut sim, again) = single_peer_latecomer(&testbed_with(true, &pins));
    assert_eq!(
        again, offered,
        "the pin does not change the run before d joins"
    );
    let log = run_d(&mut sim);
    assert!(
        log.iter()
            .any(|l| l.starts_with("started from") && l.contains("pinned in the testbed config")),
        "{log:#?}"
    );
    assert_eq!(sim.nodes()[3].ledger().tree().root(), offered);
}

#[test]
fn a_checkpoint_other_than_the_pinned_one_is_refused_and_its_peer_scored() {
    // a's own, self-consistent checkpoint stands in for a forgery: it is not the pinned hash.
    let (_, offered) = single_peer_latecomer(&testbed(true));
    let height = {
        let (sim, _) = single_peer_latecomer(&testbed(true));
        sim.nodes()[0]
            .ledger()
            .tree()
            .block(&offered)
            .unwrap()
            .header
            .height
    };
    let pinned = chain::Hash256([0x5a; 32]);
    let pins = format!("checkpoint_pins = [{{ height = {height}, hash = \"{pinned}\" }}]");
    let (mut sim, _) = single_peer_latecomer(&testbed_with(true, &pins));
    assert_eq!(sim.network().score(NodeId(3), NodeId(0)), 0);
    let mut refused = Vec::new();
    while refused.is_empty() {
        let mut sink = |e: NodeEvent| {
            if let NodeEvent::Log { node, text, .. } = e
                && node == "d"
                && text.starts_with("refused checkpoint")
            {
                refused.push(text);
            }
        };
        assert!(sim.step(&mut sink).unwrap());
        assert!(sim.now_ms() < 80_000, "no checkpoint offered");
    }
    assert!(refused[0].contains("is pinned to"), "{refused:?}");
    assert!(
        sim.network().score(NodeId(3), NodeId(0)) < 0,
        "the offering peer is scored"
    );
    let log = run_d(&mut sim);
    assert!(
        !log.iter().any(|l| l.starts_with("started from")),
        "{log:#?}"
    );
    let d = &sim.nodes()[3];
    assert_eq!(
        d.ledger().tree().root_height(),
        0,
        "d stays on its own chain"
    );
}
