//! The shipped testbed configs: every file in testbed-configs/ parses (scenarios, the replay
//! testbed, the lab testbed and its node files), schema errors name file, line and key, and the
//! replay of the seven real 433.92 MHz captures runs the whole flow with decisions matching the
//! recordings' ground truth.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use trustband::demo::{RunArgs, RunHooks, run_with};
use trustband::node::config::{NodeFile, TestbedConfig};

fn configs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testbed-configs")
}

fn captures_present() -> bool {
    let dir = std::env::var_os("TRUSTBAND_CAPTURES").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/iq-captures"),
        PathBuf::from,
    );
    dir.join("ism-433").is_dir()
}

#[test]
fn shipped_testbeds_and_node_files_parse() {
    let default = TestbedConfig::load(&configs().join("scenarios/default.toml")).unwrap();
    assert_eq!(default.nodes.len(), 6);
    assert_eq!(default.channels().unwrap().len(), 4);
    let embedded = TestbedConfig::embedded_default().unwrap();
    assert_eq!(embedded.nodes, default.nodes);

    let replay = TestbedConfig::load(&configs().join("replay-ism433.toml")).unwrap();
    assert_eq!(replay.nodes.len(), 7);
    let names: Vec<String> = replay
        .channels()
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["LPD33", "LPD34", "LPD35", "LPD36"]);
    replay.genesis().unwrap();

    // The lab takes its keys from key files (never from the public node names): until they
    // are generated, loading it names the missing file and the fix. A copy of the lab with
    // generated keys, as its testbed.toml instructs, builds one genesis on every node.
    let lab = tempfile::tempdir().unwrap();
    for name in ["testbed.toml", "n1.toml", "n2.toml", "n3.toml", "n4.toml"] {
        std::fs::copy(configs().join("lab").join(name), lab.path().join(name)).unwrap();
    }
    let err = NodeFile::load(&lab.path().join("n1.toml")).unwrap_err();
    assert!(err.is::<trustband::BadInput>(), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("keys/n1.key") && text.contains("trustband keygen --out"),
        "{text}"
    );
    let addresses: Vec<_> = (1..=4)
        .map(|i| {
            let key = lab.path().join(format!("keys/n{i}.key"));
            trustband::node::wallet::create_key_file(&key)
                .unwrap()
                .address()
        })
        .collect();
    let genesis_of = |i: usize| {
        let (_, testbed) = NodeFile::load(&lab.path().join(format!("n{i}.toml"))).unwrap();
        testbed.genesis().unwrap().build().unwrap().hash
    };
    for i in 1..=4 {
        let (file, testbed) = NodeFile::load(&lab.path().join(format!("n{i}.toml"))).unwrap();
        assert_eq!(file.name, format!("n{i}"));
        assert_eq!(testbed.nodes.len(), 4);
        let spec = testbed.node(&file.name).unwrap();
        assert!(spec.addr.is_some());
        assert!(
            spec.wallet.key_file.is_some() && spec.wallet.seed.is_none(),
            "lab node `{}` must use a key file",
            spec.name
        );
        assert_eq!(testbed.address_of(spec).unwrap(), addresses[i - 1]);
        // Every node builds the same genesis.
        assert_eq!(genesis_of(i), genesis_of(1));
    }
}

#[test]
fn semantic_errors_name_file_line_and_key() {
    const CHANNEL: &str =
        "[sensing]\nchannels = [{ name = \"c\", center_hz = 1e6, bandwidth_hz = 1e4 }]\n";
    // (what is wrong, the file after `name = "x"`, what the message must contain)
    let cases: [(&str, String, &[&str]); 7] = [
        (
            "a sensor without a front end, on the node's line",
            "[[node]]\nname = \"a\"\nroles = [\"sensor\"]\nsource = { kind = \"none\" }\n".into(),
            &["t.toml:2:", "node[0].source"],
        ),
        (
            "a synthetic source without an environment",
            format!("{CHANNEL}[[node]]\nname = \"a\"\nroles = [\"sensor\"]\n"),
            &["t.toml:4:", "environment"],
        ),
        (
            "a bad chain parameter",
            format!(
                "{CHANNEL}[chain.params.contracts.csc]\ndeadline = 1\nregistration_close = 2\n[[node]]\nname = \"a\"\n"
            ),
            &["chain.params", "deadline"],
        ),
        (
            "an unknown node in a partition",
            format!(
                "{CHANNEL}[[network.partition]]\nat_s = 1\nheal_s = 2\ngroups = [[\"zz\"]]\n[[node]]\nname = \"a\"\n"
            ),
            &["t.toml:4:", "zz"],
        ),
        (
            "an unknown mining mode (serde names the variants)",
            format!("{CHANNEL}[[node]]\nname = \"a\"\nmining = \"quantum\"\n"),
            &["t.toml:6:", "quantum", "hash"],
        ),
        (
            "no mining worker threads",
            format!("{CHANNEL}[[node]]\nname = \"a\"\nmining = \"hash\"\nmining_threads = 0\n"),
            &["t.toml:4:", "node[0].mining_threads"],
        ),
        (
            "an absurd genesis timestamp (u64::MAX made `run` spin forever)",
            format!(
                "{CHANNEL}[chain]\ngenesis_timestamp_ms = {}\n[[node]]\nname = \"a\"\n",
                u64::MAX
            ),
            &["t.toml:5:", "chain.genesis_timestamp_ms", "2100"],
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.toml");
    for (what, body, expected) in cases {
        std::fs::write(&path, format!("name = \"x\"\n{body}")).unwrap();
        let msg = format!("{:#}", TestbedConfig::load(&path).unwrap_err());
        for part in expected {
            assert!(msg.contains(part), "{what}: `{part}` not in {msg}");
        }
    }
}

#[test]
fn replay_of_real_captures_fuses_auctions_and_suspends() {
    if !captures_present() {
        eprintln!("note: iq-captures not found; set TRUSTBAND_CAPTURES to run the replay test");
        return;
    }
    let args = RunArgs {
        config: Some(configs().join("replay-ism433.toml")),
        rounds: 16,
        seed: 1,
        headless: true,
        summary: None,
    };
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = std::sync::Arc::clone(&lines);
    let hooks = RunHooks {
        progress: Some(Box::new(move |p| sink.lock().unwrap().push(p.line()))),
        ..RunHooks::default()
    };
    let summary = run_with(&args, hooks).unwrap();
    assert_eq!(lines.lock().unwrap().len(), 16);
    assert!(summary.converged);
    assert_eq!(summary.nodes.len(), 7);
    for ch in &summary.channels {
        // Windows 0-13 of each loop are idle, 14-24 busy (the burst train).
        assert_eq!(ch.busy_decisions + ch.idle_decisions, 16, "{ch:?}");
        assert!(ch.accuracy.unwrap() >= 0.9, "{ch:?}");
    }
    assert!(summary.auctions.won >= 4, "{:?}", summary.auctions);
    assert!(summary.leases.granted >= 4, "{:?}", summary.leases);
    assert!(summary.leases.suspended >= 1, "{:?}", summary.leases);
    assert!(
        summary.latency_blocks.max <= 3.0,
        "{:?}",
        summary.latency_blocks
    );
    eprintln!(
        "replay: pd {:.3} pf {:.3}, accuracy {:?}, latency {:?}",
        summary.pd,
        summary.pf,
        summary
            .channels
            .iter()
            .map(|c| c.accuracy)
            .collect::<Vec<_>>(),
        summary.latency_blocks
    );
}
