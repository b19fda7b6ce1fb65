//! Durable storage: blocks survive reopen (reorgs included), orphans are not acknowledged, and
//! every kind of corruption is reported as a typed error naming the table and key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use chain::block::Body;
use chain::codec::{Decode, Encode};
use chain::store::DB_FILE;
use chain::tree::InsertStatus;
use chain::tx::TxPayload;
use chain::{Block, ChainStore, Error, State, TreeConfig, Verification, verify_store};
use common::{Dag, devnet, quiet_params};
use redb::{Database, TableDefinition};

const BLOCKS: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("blocks");
const HEIGHTS: TableDefinition<u64, [u8; 32]> = TableDefinition::new("heights");
const SNAPSHOTS: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("snapshots");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

fn config() -> TreeConfig {
    TreeConfig {
        verification: Verification::Full { threads: 2 },
        auto_prune: true,
    }
}

/// Main chain M1..M3 with transfers, and a heavier branch R1..R4 from M1.
fn dag() -> Dag {
    let mut d = Dag::new(devnet(&["0.9", "0.5", "0.5"], 1, quiet_params()));
    d.add("M1", "G", 1, 1000, &[(0, 1, 10)]);
    d.add("M2", "M1", 1, 1000, &[(1, 2, 5)]);
    d.add("M3", "M2", 1, 1000, &[(2, 0, 1)]);
    d.add("R2", "M1", 2, 1500, &[(0, 2, 7)]);
    d.add("R3", "R2", 2, 1000, &[]);
    d.add("R4", "R3", 2, 1000, &[(2, 1, 1)]);
    d
}

/// A store holding `dag()` fully inserted (head R4).
fn filled(dir: &Path) -> (Dag, chain::ChainSummary) {
    let d = dag();
    let mut store = ChainStore::create(dir, &d.net.genesis, config()).unwrap();
    for l in ["M1", "M2", "M3", "R2", "R3", "R4"] {
        let outcome = store.insert(d.block(l), None).unwrap();
        assert_eq!(outcome.status, InsertStatus::Connected);
    }
    let summary = store.summary();
    assert_eq!(summary.head, d.hash("R4"));
    (d, summary)
}

#[test]
fn blocks_survive_reopen_after_a_reorg() {
    let dir = tempfile::tempdir().unwrap();
    let (d, summary) = filled(dir.path());
    let mut store = ChainStore::open(dir.path(), config()).unwrap();
    assert_eq!(store.summary(), summary);
    assert_eq!(*store.head_state().unwrap(), *d.state("R4"));
    // The height index follows the reorg; the losing branch is still stored.
    for (h, l) in [(1, "M1"), (2, "R2"), (3, "R3"), (4, "R4")] {
        assert_eq!(
            store.stored_hash_at(h).unwrap(),
            Some(d.hash(l)),
            "height {h}"
        );
    }
    assert_eq!(
        store.stored_block(&d.hash("M3")).unwrap(),
        Some(d.block("M3"))
    );
    assert!(store.tree().contains(&d.hash("M3")));
    // The database is locked while a node has it open.
    assert!(matches!(
        verify_store(dir.path()),
        Err(Error::Storage { .. })
    ));
    drop(store);
    assert_eq!(verify_store(dir.path()).unwrap(), summary);
}

#[test]
fn orphans_are_not_stored_until_connected_and_batches_commit_together() {
    let d = dag();
    let dir = tempfile::tempdir().unwrap();
    let mut store = ChainStore::create(dir.path(), &d.net.genesis, config()).unwrap();
    let outcome = store.insert(d.block("M2"), None).unwrap();
    assert_eq!(
        outcome.status,
        InsertStatus::Orphaned {
            missing: d.hash("M1")
        }
    );
    drop(store);
    let mut store = ChainStore::open(dir.path(), config()).unwrap();
    assert_eq!(store.stored_block(&d.hash("M2")).unwrap(), None);
    let results = store
        .insert_batch(["M1", "M2", "M3"].map(|l| d.block(l)), None)
        .unwrap();
    assert!(results.iter().all(Result::is_ok));
    drop(store);
    assert_eq!(verify_store(dir.path()).unwrap().head, d.hash("M3"));
}

#[test]
fn creating_twice_or_with_another_genesis_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (d, _) = filled(dir.path());
    assert!(matches!(
        ChainStore::create(dir.path(), &d.net.genesis, config()),
        Err(Error::InvalidConfig {
            field: "data_dir",
            ..
        })
    ));
    let mut other = d.net.genesis.clone();
    other.timestamp_ms += 1;
    assert!(matches!(
        ChainStore::open_or_create(dir.path(), &other, config()),
        Err(Error::InvalidConfig {
            field: "genesis",
            ..
        })
    ));
    assert!(ChainStore::open_or_create(dir.path(), &d.net.genesis, config()).is_ok());
}

/// Applies `damage` to a filled store's database, then expects `verify_store` to fail with a
/// `CorruptStore` error on `table` whose reason contains `needle`.
fn expect_corrupt(damage: impl FnOnce(&Database, &Dag), table: &str, needle: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (d, _) = filled(dir.path());
    {
        let db = Database::open(dir.path().join(DB_FILE)).unwrap();
        damage(&db, &d);
    }
    match verify_store(dir.path()) {
        Err(Error::CorruptStore {
            table: t,
            key,
            reason,
        }) => {
            assert_eq!(t, table, "key {key}: {reason}");
            assert!(reason.contains(needle), "{table}/{key}: {reason}");
        }
        other => panic!("expected corruption in {table}, got {other:?}"),
    }
}

fn write<K: redb::Key + 'static, V: redb::Value + 'static>(
    db: &Database,
    table: TableDefinition<K, V>,
    f: impl FnOnce(&mut redb::Table<K, V>),
) {
    let txn = db.begin_write().unwrap();
    {
        let mut t = txn.open_table(table).unwrap();
        f(&mut t);
    }
    txn.commit().unwrap();
}

#[test]
fn corruption_is_reported_with_table_key_and_reason() {
    // Garbage where a block should be.
    expect_corrupt(
        |db, d| {
            write(db, BLOCKS, |t| {
                t.insert(d.hash("R3").0, [1u8, 2, 3].as_slice()).unwrap();
            })
        },
        "blocks",
        "truncated",
    );
    // A valid block filed under another block's hash.
    expect_corrupt(
        |db, d| {
            write(db, BLOCKS, |t| {
                t.insert(d.hash("R3").0, d.block("M3").to_bytes().as_slice())
                    .unwrap();
            })
        },
        "blocks",
        "content hashes to",
    );
    // A transfer amount changed inside a stored block: same header hash, body no longer fits.
    expect_corrupt(
        |db, d| {
            let mut block = d.block("R2");
            if let Body::Transactions(txs) = &mut block.body
                && let TxPayload::Transfer(t) = &mut txs[0].tx.payload
            {
                t.amount += 1;
            }
            write(db, BLOCKS, |t| {
                t.insert(d.hash("R2").0, block.to_bytes().as_slice())
                    .unwrap();
            });
        },
        "blocks",
        "tx_root root mismatch",
    );
    // A block missing from the middle of the chain.
    expect_corrupt(
        |db, d| {
            write(db, BLOCKS, |t| {
                t.remove(d.hash("R2").0).unwrap();
            })
        },
        "blocks",
        "is not stored",
    );
    // The head pointer moved to the losing branch.
    expect_corrupt(
        |db, d| {
            write(db, META, |t| {
                t.insert("head", d.hash("M3").0.as_slice()).unwrap();
            })
        },
        "meta",
        "stored head",
    );
    // A height index entry lost.
    expect_corrupt(
        |db, _| {
            write(db, HEIGHTS, |t| {
                t.remove(2).unwrap();
            })
        },
        "heights",
        "entries for a best chain",
    );
    // A height pointing at the losing branch.
    expect_corrupt(
        |db, d| {
            write(db, HEIGHTS, |t| {
                t.insert(3, d.hash("M3").0).unwrap();
            })
        },
        "heights",
        "not the best chain",
    );
    // The genesis snapshot edited (someone minted coins).
    expect_corrupt(
        |db, d| {
            let mut state = d.genesis.state.clone();
            let a = d.net.address(1).unwrap();
            let mut acc = *state.account(&a).unwrap();
            acc.balance += 1;
            state.set_account(a, acc);
            write(db, SNAPSHOTS, |t| {
                t.insert(d.genesis.hash.0, state.to_bytes().as_slice())
                    .unwrap();
            });
        },
        "snapshots",
        "genesis state hashes to",
    );
    // Unknown format tag.
    expect_corrupt(
        |db, _| {
            write(db, META, |t| {
                t.insert("format", b"other".as_slice()).unwrap();
            })
        },
        "meta",
        "expected",
    );
}

#[test]
fn unreadable_files_are_storage_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        verify_store(dir.path()),
        Err(Error::Storage {
            op: "open database",
            ..
        })
    ));
    std::fs::write(dir.path().join(DB_FILE), vec![0x5a; 8192]).unwrap();
    assert!(matches!(
        verify_store(dir.path()),
        Err(Error::Storage {
            op: "open database",
            ..
        })
    ));
}

#[test]
fn stored_bytes_are_the_canonical_encodings() {
    let dir = tempfile::tempdir().unwrap();
    let (d, _) = filled(dir.path());
    let db = Database::open(dir.path().join(DB_FILE)).unwrap();
    let txn = redb::ReadableDatabase::begin_read(&db).unwrap();
    let blocks = txn.open_table(BLOCKS).unwrap();
    let bytes = blocks
        .get(d.hash("R4").0)
        .unwrap()
        .unwrap()
        .value()
        .to_vec();
    assert_eq!(Block::from_bytes(&bytes).unwrap(), d.block("R4"));
    let snapshots = txn.open_table(SNAPSHOTS).unwrap();
    let genesis = snapshots
        .get(d.genesis.hash.0)
        .unwrap()
        .unwrap()
        .value()
        .to_vec();
    assert_eq!(State::from_bytes(&genesis).unwrap(), d.genesis.state);
}

#[test]
fn reorg_to_a_shorter_heavier_chain_clears_the_higher_heights() {
    // Retarget every 4 blocks from D_base 16: fast branch A reaches D_base 64 at height 4,
    // slow branch B falls to 4, so A4 (work 112) beats B6 (work 60).
    let params = chain::ChainParams {
        retarget_interval: 4,
        ..quiet_params()
    };
    let mut d = Dag::new(devnet(&["0.9", "0.5", "0.5"], 16, params));
    let mut parent = "G".to_owned();
    for i in 1..=6 {
        let label = format!("B{i}");
        d.add(&label, &parent, 2, 20_000, &[]);
        parent = label;
    }
    let mut parent = "G".to_owned();
    for i in 1..=4 {
        let label = format!("A{i}");
        d.add(&label, &parent, 1, 100, &[]);
        parent = label;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut store = ChainStore::create(dir.path(), &d.net.genesis, config()).unwrap();
    let order = ["B1", "B2", "B3", "B4", "B5", "B6", "A1", "A2", "A3", "A4"];
    let results = store.insert_batch(order.map(|l| d.block(l)), None).unwrap();
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(store.summary().head, d.hash("A4"));
    assert_eq!(store.stored_hash_at(4).unwrap(), Some(d.hash("A4")));
    assert_eq!(store.stored_hash_at(5).unwrap(), None);
    drop(store);
    let summary = verify_store(dir.path()).unwrap();
    assert_eq!(
        (summary.head, summary.height, summary.work),
        (d.hash("A4"), 4, 112)
    );
}
