//! Four real `trustband node` processes on 127.0.0.1 (libp2p, redb data directories in a
//! tempdir, each replaying one 433.92 MHz capture): they converge on one head; one is killed
//! with SIGKILL, its store still holds every block it had acknowledged (`trustband chain
//! verify`), it restarts from its data directory at that height and catches up with the others;
//! SIGTERM stops a node cleanly. Every child is killed when the test ends, pass or fail. Every
//! node's key is a fresh one from `trustband keygen` (never derived from its name).
//! A second lab mines for real (`mining = "hash"`: nonce search on worker threads) and a
//! fourth node joins late with an empty data directory: it starts from a peer's confirmed
//! checkpoint, once a second peer confirms holding it, and follows the head. The two labs take turns (one lock) to share the cores.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One lab at a time: each runs four node processes.
static LAB: Mutex<()> = Mutex::new(());

fn captures_dir() -> PathBuf {
    std::env::var_os("TRUSTBAND_CAPTURES").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/iq-captures"),
        PathBuf::from,
    )
}

/// Kills its children when dropped.
struct Nodes {
    children: Vec<Option<Child>>,
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for child in self.children.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn spawn(dir: &Path, i: usize) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("n{i}.log")))
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_trustband"))
        .args(["node", "--config"])
        .arg(dir.join(format!("n{i}.toml")))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn trustband node")
}

#[derive(Debug, Clone, PartialEq)]
struct Head {
    height: u64,
    hash: String,
}

fn status(dir: &Path, i: usize) -> Option<Head> {
    let text = std::fs::read_to_string(dir.join(format!("data/n{i}/status.json"))).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(Head {
        height: v["height"].as_u64()?,
        hash: v["head_hash"].as_str()?.to_owned(),
    })
}

/// Waits until every node in `which` reports the same head at `min_height` or above.
fn wait_converged(dir: &Path, which: &[usize], min_height: u64, timeout: Duration) -> Head {
    let start = Instant::now();
    loop {
        let heads: Vec<Option<Head>> = which.iter().map(|&i| status(dir, i)).collect();
        if let Some(Some(first)) = heads.first()
            && first.height >= min_height
            && heads.iter().all(|h| h.as_ref() == Some(first))
        {
            return first.clone();
        }
        assert!(
            start.elapsed() < timeout,
            "no common head at >= {min_height} within {timeout:?}: {heads:?}\n{}",
            logs(dir)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn logs(dir: &Path) -> String {
    (1..=4)
        .map(|i| {
            let text = std::fs::read_to_string(dir.join(format!("n{i}.log"))).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            format!(
                "--- n{i} ---\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// SIGKILLs node `n{i}` (Child::kill sends SIGKILL on Unix), then runs `trustband chain
/// verify` on its data directory.
fn kill_and_verify(nodes: &mut Nodes, dir: &Path, i: usize) -> std::process::Output {
    let mut child = nodes.children[i - 1].take().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    Command::new(env!("CARGO_BIN_EXE_trustband"))
        .args(["chain", "verify", "--data-dir"])
        .arg(dir.join(format!("data/n{i}")))
        .output()
        .unwrap()
}

fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// One request line to a node's local API, one JSON reply.
fn api_request(port: u16, line: &str) -> serde_json::Value {
    use std::io::{BufRead, BufReader, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(format!("{line}\n").as_bytes()).unwrap();
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply).unwrap();
    serde_json::from_str(&reply).unwrap()
}

fn write_lab(dir: &Path, captures: &Path, ports: &[u16], api_port: u16) {
    let mut testbed = String::from(
        r#"name = "lab test"
[sensing]
window_s = 0.02
band_plan = "ism-433"
band_low_hz = 433_860_000.0
band_high_hz = 433_965_000.0
[sensing.detector]
fft_size = 512
[chain]
genesis_timestamp_ms = 1_700_000_000_000
base_difficulty = 16
sync_interval_ms = 500
[chain.params]
target_interval_ms = 500
retarget_interval = 10
[chain.params.contracts]
skip_scope = "registered"
[chain.params.contracts.csc]
registration_close = 2
deadline = 4
reveal_end = 6
retain = 2
k = 4
[chain.params.contracts.sac]
commit_len = 2
reveal_len = 2
expiry = 6
[chain.params.contracts.lease]
bandwidth_unit_hz = 25_000
"#,
    );
    let roles = [
        "\"sensor\", \"mno\"",
        "\"sensor\"",
        "\"sensor\", \"mo\"",
        "\"sensor\", \"mo\"",
    ];
    for (i, port) in ports.iter().enumerate() {
        let file = captures.join(format!("ism-433/radiohead_g00{}_433.92M_250k.cu8", i + 1));
        testbed.push_str(&format!(
            "[[node]]\nname = \"n{n}\"\nroles = [{r}]\naddr = \"/ip4/127.0.0.1/tcp/{port}\"\nsource = {{ kind = \"file\", path = {path:?} }}\n{wallet}",
            n = i + 1,
            r = roles[i],
            path = file.display().to_string(),
            wallet = keygen(dir, i + 1),
        ));
        // n1 serves the local API (account queries are checked against it).
        let api = if i == 0 {
            format!("api_addr = \"127.0.0.1:{api_port}\"\n")
        } else {
            String::new()
        };
        write_node_file(dir, i + 1, &api);
    }
    std::fs::write(dir.join("testbed.toml"), testbed).unwrap();
}

/// Writes node `n{n}`'s key with `trustband keygen` (OS-random, mode 0600) into `keys/`, and
/// returns the testbed line that points the node at it: the lab never uses name-derived keys.
fn keygen(dir: &Path, n: usize) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_trustband"))
        .args(["keygen", "--out"])
        .arg(dir.join(format!("keys/n{n}.key")))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "keygen: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!("wallet = {{ key_file = \"keys/n{n}.key\" }}\n")
}

/// `n{n}.toml`: node `n{n}` of `testbed.toml`, data in `data/n{n}`, plus `extra` lines.
fn write_node_file(dir: &Path, n: usize, extra: &str) {
    std::fs::write(
        dir.join(format!("n{n}.toml")),
        format!("testbed = \"testbed.toml\"\nname = \"n{n}\"\ndata_dir = \"data/n{n}\"\n{extra}"),
    )
    .unwrap();
}

#[test]
fn four_nodes_converge_survive_sigkill_and_catch_up() {
    let _lab = LAB
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let captures = captures_dir();
    if !captures.join("ism-433").is_dir() {
        eprintln!(
            "note: {} not found; set TRUSTBAND_CAPTURES to run the lab test",
            captures.display()
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ports = free_ports(5);
    write_lab(dir, &captures, &ports[..4], ports[4]);
    let mut nodes = Nodes {
        children: (1..=4).map(|i| Some(spawn(dir, i))).collect(),
    };
    let all = [1, 2, 3, 4];
    let first = wait_converged(dir, &all, 8, Duration::from_secs(120));
    eprintln!("converged at height {} ({})", first.height, first.hash);

    // Account queries on a running node: by name, then by the address that answer gave; an
    // unknown name is "not found".
    let by_name = api_request(ports[4], r#"{"op":"query","what":"account","name":"n3"}"#);
    let account = &by_name["account"];
    assert_eq!(account["name"], "n3", "{by_name}");
    let address = account["address"].as_str().unwrap();
    assert!(
        address.starts_with("0x") && address.len() == 42,
        "{by_name}"
    );
    let balance: u128 = account["balance"].as_str().unwrap().parse().unwrap();
    assert!(balance > 0, "{by_name}");
    let trust = account["trust"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&trust), "{by_name}");
    let by_address = api_request(
        ports[4],
        &format!(r#"{{"op":"query","what":"account","address":"{address}"}}"#),
    );
    assert_eq!(by_address["account"]["name"], "n3", "{by_address}");
    assert_eq!(by_address["account"]["address"], address, "{by_address}");
    let missing = api_request(
        ports[4],
        r#"{"op":"query","what":"account","name":"nobody"}"#,
    );
    assert_eq!(missing["code"], -32001, "{missing}");

    // SIGKILL n2 (Child::kill sends SIGKILL on Unix).
    let before = status(dir, 2).unwrap();
    let verify = kill_and_verify(&mut nodes, dir, 2);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let stored: u64 = String::from_utf8_lossy(&verify.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("height: "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    eprintln!(
        "n2 killed: status said {}, store holds {stored}",
        before.height
    );
    assert!(
        stored >= before.height,
        "acknowledged blocks lost: status {} > stored {stored}",
        before.height
    );

    // The others go on without it.
    wait_converged(dir, &[1, 3, 4], stored + 4, Duration::from_secs(90));

    // Restart from the data directory: it resumes at the stored height and catches up.
    nodes.children[1] = Some(spawn(dir, 2));
    let start = Instant::now();
    let resumed = loop {
        let log = std::fs::read_to_string(dir.join("n2.log")).unwrap_or_default();
        if let Some(h) = log
            .lines()
            .filter_map(|l| l.split("started at height ").nth(1))
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
        {
            break h.parse::<u64>().unwrap();
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "n2 did not restart:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(resumed, stored, "restarted from its data directory");
    let others = status(dir, 1).unwrap().height;
    let last = wait_converged(dir, &all, others + 2, Duration::from_secs(120));
    eprintln!(
        "n2 resumed at {resumed}, all four at {} ({})",
        last.height, last.hash
    );

    // SIGTERM: a clean stop (the shutdown token), exit code 0.
    let mut n1 = nodes.children[0].take().unwrap();
    let term = Command::new("kill")
        .args(["-TERM", &n1.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let start = Instant::now();
    let code = loop {
        if let Some(status) = n1.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = n1.kill();
            panic!("n1 did not stop on SIGTERM\n{}", logs(dir));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(code.success(), "{code:?}\n{}", logs(dir));
}

/// Three hashing miners (no front ends) and a latecomer, n4; a checkpoint every 10 blocks.
fn write_hash_lab(dir: &Path, ports: &[u16]) {
    let mut testbed = String::from(
        r#"name = "hashing lab"
[sensing]
channels = [{ name = "c0", center_hz = 600e6, bandwidth_hz = 2e5 }]
[chain]
genesis_timestamp_ms = 1_700_000_000_000
base_difficulty = 20_000
sync_interval_ms = 1_000
[chain.params]
target_interval_ms = 1_000
retarget_interval = 10
checkpoint_interval = 10
checkpoint_confirmations = 3
"#,
    );
    for (i, port) in ports.iter().enumerate() {
        testbed.push_str(&format!(
            "[[node]]\nname = \"n{n}\"\nmining = \"hash\"\naddr = \"/ip4/127.0.0.1/tcp/{port}\"\nsource = {{ kind = \"none\" }}\n{wallet}",
            n = i + 1,
            wallet = keygen(dir, i + 1),
        ));
        write_node_file(dir, i + 1, "");
    }
    std::fs::write(dir.join("testbed.toml"), testbed).unwrap();
}

#[test]
fn hashing_miners_and_a_latecomer_that_starts_from_a_checkpoint() {
    let _lab = LAB
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ports = free_ports(4);
    write_hash_lab(dir, &ports);
    let mut nodes = Nodes {
        children: (1..=3).map(|i| Some(spawn(dir, i))).collect(),
    };
    let early = wait_converged(dir, &[1, 2, 3], 25, Duration::from_secs(120));
    eprintln!("three hashing miners at height {}", early.height);

    nodes.children.push(Some(spawn(dir, 4)));
    let start = Instant::now();
    let checkpoint: u64 = loop {
        let log = std::fs::read_to_string(dir.join("n4.log")).unwrap_or_default();
        if let Some(h) = log
            .lines()
            .filter(|l| l.contains("checkpoint"))
            .find_map(|l| l.split(" at height ").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
        {
            break h.parse().unwrap();
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "n4 did not start from a checkpoint:\n{}",
            logs(dir)
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        checkpoint >= 10 && checkpoint.is_multiple_of(10),
        "{checkpoint}"
    );
    let n4_log = std::fs::read_to_string(dir.join("n4.log")).unwrap_or_default();
    assert!(
        n4_log
            .lines()
            .any(|l| l.contains("started from peer") && l.contains("confirmed by peer")),
        "the checkpoint was confirmed by a second peer:\n{n4_log}"
    );
    let now = status(dir, 1).unwrap().height;
    let all = wait_converged(dir, &[1, 2, 3, 4], now + 3, Duration::from_secs(120));
    eprintln!(
        "n4 started from the checkpoint at {checkpoint}; all four at {} ({})",
        all.height, all.hash
    );

    // n4's store is rooted at that checkpoint and re-validates (every header's nonce against
    // its target, signatures, state roots).
    let verify = kill_and_verify(&mut nodes, dir, 4);
    let out = String::from_utf8_lossy(&verify.stdout);
    assert!(
        verify.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    // Rooted at that checkpoint, or at a later one it has pruned to since.
    let root: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("root: checkpoint "))
        .and_then(|rest| rest.split("(height ").nth(1))
        .and_then(|h| h.trim_end_matches(')').parse().ok())
        .unwrap_or_else(|| panic!("no checkpoint root:\n{out}"));
    assert!(root >= checkpoint && root.is_multiple_of(10), "{out}");

    // Blocks are found by real work: over 20 s the miners' pace follows the retargeted
    // difficulty (printed, not asserted: wall-clock speed is the machine's).
    let (h0, t0) = (status(dir, 1).unwrap().height, Instant::now());
    std::thread::sleep(Duration::from_secs(20));
    let h1 = status(dir, 1).unwrap().height;
    eprintln!(
        "hashing lab: {} blocks in {:.1} s (target interval 1 s)",
        h1 - h0,
        t0.elapsed().as_secs_f64()
    );
}
