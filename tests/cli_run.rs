//! `trustband run` on its embedded default (six nodes, four channels, the simulated network with
//! loss and a partition): after 30 rounds every node is on one head and state root, every
//! channel's fused decisions match the scenario's ground truth, idle channels were auctioned
//! and leased, a returning primary user suspended a lease, the sensing-to-decision latency is
//! at most 3 blocks, and the same seed gives a byte-identical summary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn run(rounds: &str, seed: &str, summary: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_trustband"))
        .args([
            "run",
            "--headless",
            "--rounds",
            rounds,
            "--seed",
            seed,
            "--summary",
        ])
        .arg(summary)
        .output()
        .expect("spawn trustband")
}

#[test]
fn thirty_rounds_converge_fuse_accurately_lease_and_replay_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a.json"),
        dir.path().join("b.json"),
        dir.path().join("c.json"),
    );
    for path in [&a, &b] {
        let out = run("30", "7", path);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // One progress line per round on stderr.
        let progress = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            progress.lines().filter(|l| l.starts_with("round")).count(),
            30,
            "{progress}"
        );
    }
    let text_a = std::fs::read(&a).unwrap();
    assert_eq!(text_a, std::fs::read(&b).unwrap(), "same seed, same bytes");
    let out = run("3", "8", &c);
    assert!(out.status.success());
    let other: serde_json::Value = serde_json::from_slice(&std::fs::read(&c).unwrap()).unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&text_a).unwrap();
    assert_ne!(
        other["nodes"][0]["head_hash"], summary["nodes"][0]["head_hash"],
        "another seed, another chain"
    );

    assert_eq!(summary["rounds"], 30);
    assert_eq!(summary["converged"], true);
    // Five blocks per round, plus the last auctions' settlement.
    let blocks = summary["blocks"].as_u64().unwrap();
    assert!((150..=200).contains(&blocks), "{blocks} blocks");
    let nodes = summary["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 6);
    for node in nodes {
        assert!(
            node["name"].is_string() && node["roles"].is_array(),
            "{node}"
        );
        assert_eq!(node["height"].as_u64(), Some(blocks), "{node}");
        assert_eq!(node["head_hash"], nodes[0]["head_hash"], "{node}");
        assert_eq!(node["state_root"], nodes[0]["state_root"], "{node}");
        let trust = node["trust"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&trust), "{node}");
        assert!(node["balance"].as_u64().unwrap() > 0, "{node}");
        assert!(
            node["mined"].as_u64().unwrap() > 0,
            "every node mines: {node}"
        );
    }
    let roles: Vec<String> = nodes
        .iter()
        .flat_map(|n| n["roles"].as_array().unwrap().iter())
        .map(|r| r.as_str().unwrap().to_owned())
        .collect();
    for role in ["sensor", "mo", "mno", "miner", "task_issuer"] {
        assert!(
            roles.iter().any(|r| r == role),
            "nobody plays {role}: {roles:?}"
        );
    }
    let channels = summary["channels"].as_array().unwrap();
    assert_eq!(channels.len(), 4);
    for ch in channels {
        let busy = ch["busy_decisions"].as_u64().unwrap();
        let idle = ch["idle_decisions"].as_u64().unwrap();
        assert_eq!(busy + idle, 30, "{ch}");
        assert!(busy > 0 && idle > 0, "every primary user switches: {ch}");
        assert!(ch["accuracy"].as_f64().unwrap() >= 0.95, "{ch}");
    }
    assert!(summary["pd"].as_f64().unwrap() >= 0.95);
    assert!(summary["pf"].as_f64().unwrap() <= 0.05);
    let auctions = &summary["auctions"];
    assert!(auctions["settled"].as_u64().unwrap() >= 4, "{auctions}");
    assert!(auctions["won"].as_u64().unwrap() >= 4, "{auctions}");
    let leases = &summary["leases"];
    assert!(leases["granted"].as_u64().unwrap() >= 4, "{leases}");
    assert!(
        leases["suspended"].as_u64().unwrap() >= 1,
        "a primary user came back during a lease: {leases}"
    );
    // Samples in -> fused decision in a block: at most 3 block intervals.
    let latency = &summary["latency_blocks"];
    assert!(latency["samples"].as_u64().unwrap() >= 300, "{latency}");
    assert!(latency["max"].as_f64().unwrap() <= 3.0, "{latency}");
}

#[test]
fn bad_testbed_file_names_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "name = \"x\"\n[sensing]\nwindow_s = 0.05\nrounds_per_block = 3\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_trustband"))
        .args(["run", "--headless", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("bad.toml:4:"), "{stderr}");
    assert!(stderr.contains("sensing.rounds_per_block"), "{stderr}");
}
