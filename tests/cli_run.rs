//! `trustband run` on its embedded default: the summary's shape, accuracy against the
//! scenario's ground truth, and byte-identical output for the same seed.
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
fn default_scenario_summary_is_accurate_and_deterministic() {
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
            30
        );
    }
    let text_a = std::fs::read(&a).unwrap();
    assert_eq!(text_a, std::fs::read(&b).unwrap(), "same seed, same bytes");
    let out = run("30", "8", &c);
    assert!(out.status.success());
    assert_ne!(
        text_a,
        std::fs::read(&c).unwrap(),
        "another seed, another run"
    );

    let summary: serde_json::Value = serde_json::from_slice(&text_a).unwrap();
    assert_eq!(summary["rounds"], 30);
    let nodes = summary["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 6);
    for node in nodes {
        assert!(node["name"].is_string() && node["roles"].is_array());
    }
    let channels = summary["channels"].as_array().unwrap();
    assert_eq!(channels.len(), 4);
    for ch in channels {
        let busy = ch["busy_decisions"].as_u64().unwrap();
        let idle = ch["idle_decisions"].as_u64().unwrap();
        assert_eq!(busy + idle, 30);
        assert!(busy > 0 && idle > 0, "every primary user switches: {ch}");
        assert!(ch["accuracy"].as_f64().unwrap() >= 0.95, "{ch}");
    }
    assert!(summary["pd"].as_f64().unwrap() >= 0.95);
    assert!(summary["pf"].as_f64().unwrap() <= 0.05);
}

#[test]
fn bad_scenario_file_names_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "name = \"x\"\nround_s = 0.05\nrounds_per_block = 3\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_trustband"))
        .args(["run", "--headless", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("bad.toml:3:"), "{stderr}");
    assert!(stderr.contains("rounds_per_block"), "{stderr}");
}
