//! Crash safety of the chain store: a writer process appends blocks and prints `ack <height>
//! <hash>` after each durable commit; it is killed with SIGKILL at random moments (24 times,
//! delays from a fixed seed); after every kill the store must reopen, re-validate from its root,
//! and hold every acknowledged block on its best chain (or behind a confirmed checkpoint it has
//! pruned to). Finally `chain verify` runs on the result.
//!
//! The writer is the real binary: the hidden `trustband chain crash-writer` command.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use chain::store::DB_FILE;
use chain::{ChainStore, Hash256, TreeConfig, Verification};
use trustband::chain_cmd::{VerifyArgs, verify};

const ROUNDS: usize = 24;

/// splitmix64: the delays' fixed-seed generator.
struct Delays(u64);

impl Delays {
    fn next_ms(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        30 + z % 270
    }
}

/// Complete `ack` lines only: a line cut by the kill has no newline and does not count.
fn read_acks(stdout: impl std::io::Read) -> Vec<(u64, Hash256)> {
    let mut reader = BufReader::new(stdout);
    let mut acks = Vec::new();
    let mut line = Vec::new();
    while reader.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
        if line.ends_with(b"\n")
            && let Ok(text) = std::str::from_utf8(&line)
            && let Some(rest) = text.trim_end().strip_prefix("ack ")
            && let Some((h, hash)) = rest.split_once(' ')
        {
            acks.push((h.parse().unwrap(), hash.parse().unwrap()));
        }
        line.clear();
    }
    acks
}

/// Reopens the store and checks every acknowledged block; returns the head height.
fn check(dir: &Path, acked: &[(u64, Hash256)]) -> u64 {
    let config = TreeConfig {
        verification: Verification::Full { threads: 2 },
        auto_prune: false,
    };
    let store = ChainStore::open(dir, config).expect("store reopens and re-validates");
    let summary = store.summary();
    for (height, hash) in acked {
        if *height > summary.root_height {
            assert_eq!(
                store.stored_hash_at(*height).unwrap(),
                Some(*hash),
                "acknowledged block {hash} at height {height} lost"
            );
            assert!(store.tree().contains(hash));
        } else if *height == summary.root_height {
            assert_eq!(
                summary.root, *hash,
                "checkpoint root is not the acknowledged block"
            );
        }
        // Below the root: pruned behind a confirmed checkpoint that descends from it.
    }
    let top = acked.iter().map(|(h, _)| *h).max().unwrap_or(0);
    assert!(
        summary.height >= top,
        "head {} below acknowledged {top}",
        summary.height
    );
    summary.height
}

#[test]
fn crash_recovery_keeps_every_acknowledged_block() {
    let dir = tempfile::tempdir().unwrap();
    let exe = env!("CARGO_BIN_EXE_trustband");
    let mut delays = Delays(0x7472_7573_7462_616e);
    let mut acked: Vec<(u64, Hash256)> = Vec::new();
    let mut killed = 0;
    for round in 0..ROUNDS {
        let mut child = Command::new(exe)
            .args(["chain", "crash-writer", "--blocks", "1000000", "--data-dir"])
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || read_acks(stdout));
        std::thread::sleep(Duration::from_millis(delays.next_ms()));
        child.kill().unwrap(); // SIGKILL on Unix
        let status = child.wait().unwrap();
        if status.signal() == Some(9) {
            killed += 1;
        }
        let new = reader.join().unwrap();
        // Heights only grow: the writer continues from the durable head.
        if let (Some(last), Some(first)) = (acked.last(), new.first()) {
            assert!(
                first.0 > last.0,
                "round {round}: height {} after {}",
                first.0,
                last.0
            );
        }
        acked.extend(new);
        if acked.is_empty() && !dir.path().join(DB_FILE).exists() {
            continue; // killed before the database was created
        }
        check(dir.path(), &acked);
    }
    assert!(
        killed >= ROUNDS - 2,
        "only {killed} of {ROUNDS} writers were killed mid-run"
    );
    assert!(
        acked.len() >= 50,
        "too little progress: {} blocks acknowledged",
        acked.len()
    );

    // `trustband chain verify` on the survivor.
    let mut out = Vec::new();
    let summary = verify(
        &VerifyArgs {
            data_dir: dir.path().to_owned(),
        },
        &mut out,
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    // ... and through the command line, as a user runs it.
    let cli = Command::new(exe)
        .args(["chain", "verify", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    assert_eq!(String::from_utf8(cli.stdout).unwrap(), text);
    assert!(
        text.contains(&format!("height: {}", summary.height)),
        "{text}"
    );
    assert!(text.contains(&format!("head: {}", summary.head)), "{text}");
    assert!(
        text.contains(&format!("state_root: {}", summary.state_root)),
        "{text}"
    );
    eprintln!(
        "{killed} kills, {} acknowledged blocks, final height {}, root at {}",
        acked.len(),
        summary.height,
        summary.root_height
    );
}
