//! Fork-choice scenario tables: blocks added in an order -> expected head (in the style of
//! data-driven fork-choice tests). Each scenario builds a small DAG of real, mined, signed
//! blocks on a devnet; each row inserts them into a fresh `BlockTree` in the row's order and
//! checks the head and which blocks were refused.
//!
//! Accounts of every scenario: 0 has trust 0.9, 1 and 2 have 0.5, 3 has 0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeSet, HashMap};

use chain::block::{Body, tx_root};
use chain::tree::InsertStatus;
use chain::{Block, BlockTree, ChainParams, Error, Hash256, TreeConfig, Verification};
use common::{Dag, devnet, quiet_params};

const TRUSTS: [&str; 4] = ["0.9", "0.5", "0.5", "0"];

fn config() -> TreeConfig {
    TreeConfig {
        verification: Verification::Full { threads: 1 },
        auto_prune: false,
    }
}

/// Equal weight, different miner trust: B1 (trust 0.9) beats A1 (trust 0.5).
fn trust_tie() -> Dag {
    let mut d = Dag::new(devnet(&TRUSTS, 1, quiet_params()));
    d.add("A1", "G", 1, 1000, &[]);
    d.add("B1", "G", 0, 1000, &[]);
    d
}

/// Equal weight and trust, different timestamps: the smaller hash wins, not the earlier
/// timestamp (B1): a miner's own clock must not decide races (issue 9, point 15).
fn timestamp_tie() -> Dag {
    let mut d = Dag::new(devnet(&TRUSTS, 1, quiet_params()));
    d.add("A1", "G", 1, 2000, &[]);
    d.add("B1", "G", 2, 1000, &[]);
    d
}

/// Equal weight, trust and timestamp: the smaller hash wins.
fn hash_tie() -> Dag {
    let mut d = Dag::new(devnet(&TRUSTS, 1, quiet_params()));
    d.add("A1", "G", 1, 1000, &[(2, 3, 1)]);
    d.add("B1", "G", 1, 1000, &[(2, 3, 2)]);
    d
}

/// More work beats trust: A2 (two blocks by a trust-0 miner) beats B1 (trust 0.9).
fn longer_wins() -> Dag {
    let mut d = Dag::new(devnet(&TRUSTS, 1, quiet_params()));
    d.add("A1", "G", 3, 1000, &[]);
    d.add("A2", "A1", 3, 1000, &[]);
    d.add("B1", "G", 0, 1000, &[]);
    d
}

/// Algorithm 1 looks at the first differing block, not the tips: A1 (0.9) -> A2 (0) beats
/// B1 (0.5) -> B2 (0.9).
fn first_difference() -> Dag {
    let mut d = Dag::new(devnet(&TRUSTS, 1, quiet_params()));
    d.add("A1", "G", 0, 1000, &[]);
    d.add("A2", "A1", 3, 1000, &[]);
    d.add("B1", "G", 1, 1000, &[]);
    d.add("B2", "B1", 0, 1000, &[]);
    d
}

/// Unequal weight: retarget every 4 blocks from D_base 16. Fast branch A (0.1 s blocks) gets
/// D_base 64 at height 4 (work 112); slow branch B (20 s blocks) gets 4 (work 60 at height 6).
/// The shorter, heavier A4 wins.
fn heavier_shorter() -> Dag {
    let params = ChainParams {
        retarget_interval: 4,
        ..quiet_params()
    };
    let mut d = Dag::new(devnet(&TRUSTS, 16, params));
    let mut parent = "G".to_owned();
    for i in 1..=4 {
        let label = format!("A{i}");
        d.add(&label, &parent, 1, 100, &[]);
        parent = label;
    }
    let mut parent = "G".to_owned();
    for i in 1..=6 {
        let label = format!("B{i}");
        d.add(&label, &parent, 2, 20_000, &[]);
        parent = label;
    }
    assert_eq!(d.block("A4").header.base_difficulty, 64);
    assert_eq!(d.block("B4").header.base_difficulty, 4);
    d
}

/// Deep reorg: M1..M5 first, then R1..R6 from genesis.
fn deep_reorg() -> Dag {
    let mut d = Dag::new(devnet(&TRUSTS, 1, quiet_params()));
    d.add_chain("M", "G", 1, 5);
    let mut parent = "G".to_owned();
    for i in 1..=6 {
        let label = format!("R{i}");
        // R's blocks move coins 2 -> 3, so the reorged state is recognisable; they are
        // mined by trust-0 account 3, so M (trust 0.5) wins the tie at equal length (R5
        // against M5) whatever the hashes.
        d.add(&label, &parent, 3, 1500, &[(2, 3, 100)]);
        parent = label;
    }
    d
}

/// One chain C1..C5 delivered out of order.
fn out_of_order() -> Dag {
    let mut d = Dag::new(devnet(&TRUSTS, 1, quiet_params()));
    d.add_chain("C", "G", 1, 5);
    d
}

/// Main chain M1, M2; a longer competing branch X1..X4 whose X2 overspends (invalid), so X2
/// and its descendants are refused and M2 stays the head.
fn invalid_branch() -> Dag {
    let mut d = Dag::new(devnet(&TRUSTS, 1, quiet_params()));
    d.add_chain("M", "G", 1, 2);
    d.add("X1", "G", 2, 1000, &[]);
    // X2: a valid template, then a body whose transfer exceeds the sender's balance.
    let template = d.template("X1", 2, 1000);
    let overspend = d.net.transfer(3, 2, 0, 5_000_000, 1).unwrap();
    let mut header = template.header;
    header.tx_root = tx_root(std::slice::from_ref(&overspend));
    let header = chain::miner::mine(&header, 0, 1, &Default::default()).unwrap();
    let key = &chain::devnet::devnet_key(2).unwrap();
    let x2 = Block::seal(header, Body::Transactions(vec![overspend]), key).unwrap();
    let x1_state = d.state("X1").clone();
    let mut fake_state = x1_state;
    fake_state.meta.height += 1;
    fake_state.meta.timestamp_ms = header.timestamp_ms;
    d.insert_raw("X2", x2, fake_state);
    // Descendants built on X2's claimed header.
    for (label, parent) in [("X3", "X2"), ("X4", "X3")] {
        let template = d.template(parent, 2, 1000);
        let header = chain::miner::mine(&template.header, 0, 1, &Default::default()).unwrap();
        let block = Block::seal(header, template.body.clone(), key).unwrap();
        d.insert_raw(label, block, template.post_state);
    }
    d
}

#[derive(Debug, Clone, Copy)]
enum Head {
    Is(&'static str),
    SmallerHashOf(&'static str, &'static str),
}

struct Case {
    name: &'static str,
    build: fn() -> Dag,
    order: &'static [&'static str],
    head: Head,
    /// Blocks that must be refused (directly or as orphans that turned out invalid).
    refused: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        name: "trust tie-break, low first",
        build: trust_tie,
        order: &["A1", "B1"],
        head: Head::Is("B1"),
        refused: &[],
    },
    Case {
        name: "trust tie-break, high first",
        build: trust_tie,
        order: &["B1", "A1"],
        head: Head::Is("B1"),
        refused: &[],
    },
    Case {
        name: "timestamp ignored in tie-break, late first",
        build: timestamp_tie,
        order: &["A1", "B1"],
        head: Head::SmallerHashOf("A1", "B1"),
        refused: &[],
    },
    Case {
        name: "timestamp ignored in tie-break, early first",
        build: timestamp_tie,
        order: &["B1", "A1"],
        head: Head::SmallerHashOf("A1", "B1"),
        refused: &[],
    },
    Case {
        name: "hash tie-break, A first",
        build: hash_tie,
        order: &["A1", "B1"],
        head: Head::SmallerHashOf("A1", "B1"),
        refused: &[],
    },
    Case {
        name: "hash tie-break, B first",
        build: hash_tie,
        order: &["B1", "A1"],
        head: Head::SmallerHashOf("A1", "B1"),
        refused: &[],
    },
    Case {
        name: "equal trust, more work wins",
        build: longer_wins,
        order: &["B1", "A1", "A2"],
        head: Head::Is("A2"),
        refused: &[],
    },
    Case {
        name: "more work wins over trust",
        build: longer_wins,
        order: &["A1", "A2", "B1"],
        head: Head::Is("A2"),
        refused: &[],
    },
    Case {
        name: "tie decided at first differing block",
        build: first_difference,
        order: &["B1", "B2", "A1", "A2"],
        head: Head::Is("A2"),
        refused: &[],
    },
    Case {
        name: "tie decided at first differing block, A first",
        build: first_difference,
        order: &["A1", "A2", "B1", "B2"],
        head: Head::Is("A2"),
        refused: &[],
    },
    Case {
        name: "unequal weight: shorter heavier chain wins",
        build: heavier_shorter,
        order: &["B1", "B2", "B3", "B4", "B5", "B6", "A1", "A2", "A3", "A4"],
        head: Head::Is("A4"),
        refused: &[],
    },
    Case {
        name: "unequal weight: heavier first stays",
        build: heavier_shorter,
        order: &["A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4", "B5", "B6"],
        head: Head::Is("A4"),
        refused: &[],
    },
    Case {
        name: "deep reorg (5 blocks)",
        build: deep_reorg,
        order: &[
            "M1", "M2", "M3", "M4", "M5", "R1", "R2", "R3", "R4", "R5", "R6",
        ],
        head: Head::Is("R6"),
        refused: &[],
    },
    Case {
        name: "deep reorg, branch arrives reversed",
        build: deep_reorg,
        order: &[
            "M1", "M2", "M3", "M4", "M5", "R6", "R5", "R4", "R3", "R2", "R1",
        ],
        head: Head::Is("R6"),
        refused: &[],
    },
    Case {
        name: "out of order: reversed",
        build: out_of_order,
        order: &["C5", "C4", "C3", "C2", "C1"],
        head: Head::Is("C5"),
        refused: &[],
    },
    Case {
        name: "out of order: shuffled",
        build: out_of_order,
        order: &["C3", "C1", "C5", "C2", "C4"],
        head: Head::Is("C5"),
        refused: &[],
    },
    Case {
        name: "out of order: tip first",
        build: out_of_order,
        order: &["C5", "C1", "C2", "C3", "C4"],
        head: Head::Is("C5"),
        refused: &[],
    },
    Case {
        name: "invalid block in competing branch",
        build: invalid_branch,
        order: &["M1", "M2", "X1", "X2", "X3", "X4"],
        head: Head::Is("M2"),
        refused: &["X2", "X3", "X4"],
    },
    Case {
        name: "invalid branch arrives first, out of order",
        build: invalid_branch,
        order: &["X4", "X3", "X2", "X1", "M1", "M2"],
        head: Head::Is("M2"),
        refused: &["X2", "X3", "X4"],
    },
];

/// Inserts `order` into a fresh tree; returns the tree and the labels refused.
fn run(dag: &Dag, order: &[&str]) -> (BlockTree, BTreeSet<String>) {
    let by_hash: HashMap<Hash256, String> = order
        .iter()
        .map(|l| (dag.hash(l), (*l).to_owned()))
        .collect();
    let mut tree = BlockTree::new(&dag.genesis, config());
    let mut refused = BTreeSet::new();
    for label in order {
        match tree.insert(dag.block(label), None) {
            Ok(outcome) => {
                for (hash, _) in &outcome.rejected {
                    refused.insert(by_hash[hash].clone());
                }
            }
            Err(_) => {
                refused.insert((*label).to_owned());
            }
        }
    }
    (tree, refused)
}

fn expected_head(dag: &Dag, head: Head) -> Hash256 {
    match head {
        Head::Is(l) => dag.hash(l),
        Head::SmallerHashOf(a, b) => dag.hash(a).min(dag.hash(b)),
    }
}

#[test]
fn fork_choice_table() {
    for case in CASES {
        let dag = (case.build)();
        let (tree, refused) = run(&dag, case.order);
        assert_eq!(
            tree.head(),
            expected_head(&dag, case.head),
            "{}: head at height {}",
            case.name,
            tree.head_height()
        );
        let want: BTreeSet<String> = case.refused.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(refused, want, "{}: refused blocks", case.name);
        assert_eq!(tree.orphan_count(), 0, "{}: orphans left", case.name);
    }
}

/// Every arrival order of a scenario's blocks gives the same head (Algorithm 1 is a total
/// order over chains).
#[test]
fn head_independent_of_arrival_order() {
    fn permutations(items: &[&'static str]) -> Vec<Vec<&'static str>> {
        if items.len() <= 1 {
            return vec![items.to_vec()];
        }
        let mut out = Vec::new();
        for i in 0..items.len() {
            let mut rest = items.to_vec();
            let first = rest.remove(i);
            for mut p in permutations(&rest) {
                p.insert(0, first);
                out.push(p);
            }
        }
        out
    }
    type Scenario = (fn() -> Dag, &'static [&'static str]);
    let scenarios: [Scenario; 3] = [
        (hash_tie, &["A1", "B1"]),
        (first_difference, &["A1", "A2", "B1", "B2"]),
        (invalid_branch, &["M1", "M2", "X1", "X2", "X3"]),
    ];
    for (build, blocks) in scenarios {
        let dag = build();
        let reference = run(&dag, blocks).0.head();
        for order in permutations(blocks) {
            assert_eq!(run(&dag, &order).0.head(), reference, "order {order:?}");
        }
    }
}

#[test]
fn deep_reorg_reports_rollback_and_switches_state() {
    let dag = deep_reorg();
    let mut tree = BlockTree::new(&dag.genesis, config());
    for l in ["M1", "M2", "M3", "M4", "M5", "R1", "R2", "R3", "R4", "R5"] {
        let outcome = tree.insert(dag.block(l), None).unwrap();
        assert!(outcome.head_change.is_some() == l.starts_with('M'), "{l}");
    }
    let outcome = tree.insert(dag.block("R6"), None).unwrap();
    let change = outcome.head_change.unwrap();
    assert_eq!(change.fork_point, dag.genesis.hash);
    let m: Vec<Hash256> = ["M5", "M4", "M3", "M2", "M1"]
        .iter()
        .map(|l| dag.hash(l))
        .collect();
    let r: Vec<Hash256> = (1..=6).map(|i| dag.hash(&format!("R{i}"))).collect();
    assert_eq!(change.reverted, m);
    assert_eq!(change.applied, r);
    // The head state is R6's: six transfers of 100 (+ fee 1, to miner 3) from account 2 to 3.
    let state = tree.head_state().unwrap();
    let a2 = dag.net.address(2).unwrap();
    let a3 = dag.net.address(3).unwrap();
    assert_eq!(state.balance(&a2), 1_000_000 - 6 * 101);
    assert_eq!(state.balance(&a3), 1_000_000 + 600 + 6);
    assert_eq!(*state, *dag.state("R6"));
}

#[test]
fn invalid_blocks_give_typed_errors_and_are_remembered() {
    let dag = invalid_branch();
    let mut tree = BlockTree::new(&dag.genesis, config());
    tree.insert(dag.block("X1"), None).unwrap();
    let err = tree.insert(dag.block("X2"), None).unwrap_err();
    match err {
        Error::TxRejected {
            index: 0, source, ..
        } => {
            assert!(
                matches!(*source, Error::InsufficientFunds { .. }),
                "{source}"
            );
        }
        other => panic!("unexpected {other}"),
    }
    // Offered again: refused without re-validation.
    assert!(matches!(
        tree.insert(dag.block("X2"), None),
        Err(Error::InvalidAncestor { .. })
    ));
    assert_eq!(
        tree.insert(dag.block("X3"), None).unwrap_err(),
        Error::InvalidAncestor {
            block: dag.hash("X3"),
            ancestor: dag.hash("X2"),
        }
    );
    // Duplicates and orphans are reported as such.
    assert_eq!(
        tree.insert(dag.block("X1"), None).unwrap().status,
        InsertStatus::Duplicate
    );
    let dag2 = out_of_order();
    let mut tree2 = BlockTree::new(&dag2.genesis, config());
    assert_eq!(
        tree2.insert(dag2.block("C2"), None).unwrap().status,
        InsertStatus::Orphaned {
            missing: dag2.hash("C1")
        }
    );
    let outcome = tree2.insert(dag2.block("C1"), None).unwrap();
    assert_eq!(outcome.connected, vec![dag2.hash("C1"), dag2.hash("C2")]);
}

#[test]
fn future_blocks_are_refused_but_not_blacklisted() {
    let dag = out_of_order();
    let mut tree = BlockTree::new(&dag.genesis, config());
    let c1 = dag.block("C1");
    let now = c1.header.timestamp_ms - dag.params().max_future_drift_ms - 1;
    assert!(matches!(
        tree.insert(c1.clone(), Some(now)),
        Err(Error::BadTimestamp {
            reason: "too far in the future",
            ..
        })
    ));
    tree.insert(c1, Some(now + 1)).unwrap();
    assert_eq!(tree.head(), dag.hash("C1"));
}
