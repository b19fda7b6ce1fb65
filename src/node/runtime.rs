//! `trustband node`: one lab node on the wall clock, over libp2p, persisting to redb.
//!
//! Data flow: [`NodeFile`] + its testbed -> wallet (key file; a seed only under
//! [`KeyPolicy::InsecureTestKeys`]), OS randomness ([`NodeRng::os`]), [`Ledger::stored`] in the
//! data directory (reopened and re-validated on restart: the node resumes from it), the front end
//! ([`Sensor`]: a dongle with feature `soapy`, or a looping recording), a libp2p
//! [`P2pNode`] listening on the node's address and dialing the others -> a tokio loop that feeds
//! the sans-I/O [`Node`] every network event and wakes it at [`Node::next_wakeup_ms`], until the
//! injected [`CancellationToken`] is cancelled (Ctrl-C in the CLI). Events go to
//! [`NodeHooks::events`], the status to [`NodeHooks::status`] and, once a second, to
//! `status.json` in the data directory (atomically replaced; `trustband status` and tests read it).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use chain::net::p2p::{CancellationToken, Multiaddr, P2pConfig, P2pNode};
use tokio::sync::{broadcast, mpsc, watch};

use super::EventSink;
use super::clock::{Clock, WallClock};
use super::config::{NodeFile, Role, TestbedConfig};
use super::core::{MiningWork, Node, NodeSetup};
use super::events::{NodeEvent, NodeStatus};
use super::ledger::Ledger;
use super::sensing::Sensor;
use super::wallet::{NodeRng, Wallet};
use crate::bad_input;

/// Where a running node reports (see [`super`]).
#[derive(Debug, Default)]
pub struct NodeHooks {
    /// Every event of the node.
    pub events: Option<broadcast::Sender<NodeEvent>>,
    /// The node's status, replaced after every input it handles.
    pub status: Option<watch::Sender<NodeStatus>>,
    /// The node's head state, replaced whenever the head moves (account queries of the
    /// local API read it: [`crate::api::head_state_lookup`]).
    pub head: Option<watch::Sender<std::sync::Arc<chain::State>>>,
    /// Print blocks and the main contract events on stderr.
    pub print: bool,
}

/// Name of the status file in the data directory.
pub const STATUS_FILE: &str = "status.json";

struct Sink<'a> {
    hooks: &'a NodeHooks,
}

impl EventSink for Sink<'_> {
    fn emit(&mut self, event: NodeEvent) {
        if self.hooks.print {
            match &event {
                NodeEvent::Block {
                    height,
                    hash,
                    miner,
                    txs,
                    reorg_depth,
                    ..
                } => {
                    let reorg = if *reorg_depth > 0 {
                        format!(" (reorg of {reorg_depth})")
                    } else {
                        String::new()
                    };
                    eprintln!(
                        "block {height} {} by {miner}, {txs} txs{reorg}",
                        hash.get(..12).unwrap_or(hash)
                    );
                }
                NodeEvent::Contract { kind, text, .. }
                    if matches!(
                        kind.as_str(),
                        "fused"
                            | "auction_settled"
                            | "lease_granted"
                            | "lease_suspended"
                            | "lease_expired"
                    ) =>
                {
                    eprintln!("  {text}");
                }
                NodeEvent::Log { level, text, .. } if level != "debug" => {
                    eprintln!("  [{level}] {text}")
                }
                _ => {}
            }
        }
        if let Some(tx) = &self.hooks.events {
            let _ = tx.send(event);
        }
    }
}

fn parse_addrs(list: &[String], what: &str) -> anyhow::Result<Vec<Multiaddr>> {
    list.iter()
        .map(|s| {
            s.parse::<Multiaddr>()
                .map_err(|e| bad_input(format!("{what}: `{s}` is not a multiaddr: {e}")))
        })
        .collect()
}

/// Loads `trustband node --config PATH`: a node file, or a testbed with `name` and `data_dir`
/// given on the command line.
///
/// # Errors
/// Invalid files (exit code 2).
pub fn load(
    path: &Path,
    name: Option<&str>,
    data_dir: Option<&Path>,
) -> anyhow::Result<(NodeFile, TestbedConfig)> {
    let text =
        std::fs::read_to_string(path).map_err(|e| bad_input(format!("{}: {e}", path.display())))?;
    let (mut file, testbed) = if NodeFile::is_node_file(&text) {
        NodeFile::load(path)?
    } else {
        let testbed = TestbedConfig::parse(&text, &path.display().to_string(), path.parent())?;
        let name = name.ok_or_else(|| {
            bad_input(format!(
                "{}: a testbed file needs --name (or use a node file with `testbed = ...`)",
                path.display()
            ))
        })?;
        testbed.node(name)?;
        let dir = data_dir.ok_or_else(|| bad_input("a testbed file needs --data-dir"))?;
        let file = NodeFile {
            testbed: path.to_path_buf(),
            name: name.to_owned(),
            data_dir: dir.to_path_buf(),
            listen: None,
            peers: None,
            api_addr: None,
            status_file: true,
        };
        (file, testbed)
    };
    if let Some(n) = name
        && n != file.name
    {
        testbed.node(n)?;
        file.name = n.to_owned();
    }
    if let Some(dir) = data_dir {
        file.data_dir = dir.to_path_buf();
    }
    Ok((file, testbed))
}

fn write_status(dir: &Path, status: &NodeStatus) -> std::io::Result<()> {
    let tmp: PathBuf = dir.join(format!("{STATUS_FILE}.tmp"));
    let json = serde_json::to_vec_pretty(status).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, json)?;
    std::fs::rename(tmp, dir.join(STATUS_FILE))
}

/// Whether a real node may take a key derived from its name or `wallet.seed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyPolicy {
    /// Only a key file (`wallet.key_file`): the default of `trustband node`.
    #[default]
    KeyFileOnly,
    /// Name- or seed-derived keys allowed (`--insecure-test-keys`): anyone can derive them and
    /// spend the account, so throwaway test networks only.
    InsecureTestKeys,
}

/// The account key of `spec` under `policy`: its key file (created with an OS-random key if
/// missing), or, with [`KeyPolicy::InsecureTestKeys`] only, the key derived from its seed text.
///
/// # Errors
/// No key file under [`KeyPolicy::KeyFileOnly`] ([`crate::BadInput`] naming the node and the
/// fix); an unreadable, malformed or group/other-readable key file.
pub fn node_key(
    testbed: &TestbedConfig,
    spec: &super::config::NodeSpec,
    policy: KeyPolicy,
) -> anyhow::Result<chain::crypto::SecretKey> {
    match (testbed.key_path(spec), policy) {
        (Some(path), _) => super::wallet::load_or_create_key_file(&path),
        (None, KeyPolicy::InsecureTestKeys) => testbed.seeded_key(spec),
        (None, KeyPolicy::KeyFileOnly) => Err(bad_input(format!(
            "node `{name}` has no wallet.key_file: its key would be derived from its {from}, which \
             anyone can do (and then spend its balance). Create a key with `trustband keygen --out \
             {name}.key` and set `wallet = {{ key_file = \"{name}.key\" }}` for node `{name}` in the \
             testbed, or pass --insecure-test-keys for a throwaway test network",
            name = spec.name,
            from = if spec.wallet.seed.is_some() {
                "wallet.seed"
            } else {
                "name"
            },
        ))),
    }
}

/// Runs the node until `shutdown` is cancelled; its key follows `keys` ([`node_key`]).
///
/// # Errors
/// Invalid configuration (a name-derived key under [`KeyPolicy::KeyFileOnly`] among them), a
/// store that cannot be opened, a front end that cannot be opened, a network that cannot start.
pub async fn run(
    file: &NodeFile,
    testbed: &TestbedConfig,
    keys: KeyPolicy,
    hooks: NodeHooks,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let spec = testbed.node(&file.name)?;
    let index = testbed
        .nodes
        .iter()
        .position(|n| n.name == file.name)
        .unwrap_or(0);
    std::fs::create_dir_all(&file.data_dir)
        .with_context(|| format!("creating {}", file.data_dir.display()))?;
    let key = node_key(testbed, spec, keys)?;
    let genesis = testbed.genesis()?;
    let ledger = Ledger::stored(&file.data_dir, &genesis)
        .with_context(|| format!("opening the chain in {}", file.data_dir.display()))?;
    let scene_seed = testbed.environment.as_ref().map_or(1, |e| e.seed);
    let sensor = if spec.roles.contains(&Role::Sensor) {
        Sensor::open(testbed, spec, index, scene_seed)?
    } else {
        None
    };
    let listen = match &file.listen {
        Some(l) => parse_addrs(l, "listen")?,
        None => parse_addrs(spec.addr.as_slice(), &format!("node `{}`.addr", spec.name))?,
    };
    if listen.is_empty() {
        return Err(bad_input(format!(
            "node `{}` has no address to listen on: set `addr` in the testbed or `listen` in the node file",
            spec.name
        )));
    }
    let peers = match &file.peers {
        Some(p) => parse_addrs(p, "peers")?,
        None => {
            let others: Vec<String> = testbed
                .nodes
                .iter()
                .filter(|n| n.name != spec.name)
                .filter_map(|n| n.addr.clone())
                .collect();
            parse_addrs(&others, "testbed addr")?
        }
    };
    let channels = testbed.channels()?;
    let channel_names: Vec<String> = channels.iter().map(|c| c.name.clone()).collect();
    let bid_channels = spec
        .bid
        .channels
        .iter()
        .filter_map(|n| channel_names.iter().position(|c| c == n))
        .filter_map(|p| u32::try_from(p).ok())
        .collect();
    let clock = WallClock;
    let wallet = Wallet::new(key);
    // Never a seeded stream here: the hedges of ring signatures and DLEQ proofs and the mining
    // times come from the OS.
    let rng = NodeRng::os()?;
    let p2p_config = P2pConfig {
        listen,
        peers,
        ..P2pConfig::default()
    };
    let mut p2p = P2pNode::start(wallet.key(), p2p_config, shutdown.clone()).await?;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let window_ms = (testbed.sensing.window_s * 1000.0)
        .round()
        .clamp(1.0, 1.0e9) as u64;
    let mut node: Node<chain::net::p2p::PeerId> = Node::new(NodeSetup {
        name: spec.name.clone(),
        roles: spec.roles.clone(),
        wallet,
        ledger,
        sensor,
        rng,
        hash_rate: spec.hash_rate,
        mining: spec.mining,
        fee: testbed.chain.fee,
        sync_interval_ms: testbed.chain.sync_interval_ms,
        checkpoint_sync: testbed.chain.checkpoint_sync,
        checkpoint_pins: testbed.chain.checkpoint_pins.clone(),
        checkpoint_quorum: testbed.chain.checkpoint_quorum_for(testbed.nodes.len()),
        window_ms,
        grid_m: testbed.sensing.grid_m,
        position_m: spec.position_m,
        bid: spec.bid.clone(),
        bid_channels,
        channel_names,
        names: testbed.account_names(),
        max_rounds: None,
        emit_psd: hooks.events.is_some(),
    });
    let mut sink = Sink { hooks: &hooks };
    for addr in p2p.handle().listen_addrs() {
        sink.emit(NodeEvent::Log {
            node: spec.name.clone(),
            at_ms: clock.now_ms(),
            level: "info".to_owned(),
            text: format!("listening on {addr}"),
        });
    }
    node.start(clock.now_ms(), &mut p2p, &mut sink);
    let mut miner = NonceSearch::new(spec.mining_threads);
    let mut last_status = std::time::Instant::now()
        .checked_sub(Duration::from_secs(2))
        .unwrap_or_else(std::time::Instant::now);
    loop {
        let now = clock.now_ms();
        let wait = node
            .next_wakeup_ms()
            .map_or(1_000, |w| w.saturating_sub(now))
            .min(1_000);
        let event = tokio::select! {
            () = shutdown.cancelled() => break,
            ev = p2p.next_event() => match ev {
                Some(ev) => Some(ev),
                None => break,
            },
            Some((id, found)) = miner.found.recv() => {
                match found {
                    Ok(header) => node.on_mined(clock.now_ms(), id, header, &mut p2p, &mut sink),
                    Err(chain::Error::MiningStopped { reason: "cancelled" }) => {}
                    Err(e) => tracing::warn!(node = %spec.name, error = %e, "nonce search failed"),
                }
                None
            }
            () = tokio::time::sleep(Duration::from_millis(wait)) => None,
        };
        if let Some(event) = event {
            node.on_net_event(clock.now_ms(), event, &mut p2p, &mut sink);
        }
        node.on_tick(clock.now_ms(), &mut p2p, &mut sink);
        if let Some(work) = node.mining_work(clock.now_ms(), &mut sink) {
            miner.apply(work);
        }
        if let Some(tx) = &hooks.status {
            tx.send_replace(node.status());
        }
        if let Some(tx) = &hooks.head {
            let state = node.ledger().head_state();
            tx.send_if_modified(|old| {
                let moved = !std::sync::Arc::ptr_eq(old, state);
                if moved {
                    *old = std::sync::Arc::clone(state);
                }
                moved
            });
        }
        if file.status_file && last_status.elapsed() >= Duration::from_secs(1) {
            last_status = std::time::Instant::now();
            if let Err(e) = write_status(&file.data_dir, &node.status()) {
                tracing::warn!(error = %e, "status.json not written");
            }
        }
    }
    miner.stop();
    if file.status_file {
        let _ = write_status(&file.data_dir, &node.status());
    }
    p2p.join().await?;
    Ok(())
}

/// The nonce search of `mining = "hash"`: one search at a time on a blocking thread (its
/// crossbeam workers inside), cancelled when the node hands out a new template or stops.
struct NonceSearch {
    threads: usize,
    cancel: Option<Arc<AtomicBool>>,
    sender: mpsc::UnboundedSender<(u64, Result<chain::Header, chain::Error>)>,
    found: mpsc::UnboundedReceiver<(u64, Result<chain::Header, chain::Error>)>,
}

impl NonceSearch {
    fn new(threads: usize) -> Self {
        let (sender, found) = mpsc::unbounded_channel();
        Self {
            threads,
            cancel: None,
            sender,
            found,
        }
    }

    fn stop(&mut self) {
        if let Some(cancel) = self.cancel.take() {
            cancel.store(true, Ordering::Relaxed);
        }
    }

    fn apply(&mut self, work: MiningWork) {
        self.stop();
        let MiningWork::Start(template) = work else {
            return;
        };
        let cancel = Arc::new(AtomicBool::new(false));
        self.cancel = Some(Arc::clone(&cancel));
        let sender = self.sender.clone();
        let threads = self.threads;
        tokio::task::spawn_blocking(move || {
            let found = chain::miner::mine(&template.header, 0, threads, &cancel);
            // The loop may have ended: nobody waits for the result then.
            let _ = sender.send((template.id, found));
        });
    }
}

/// A token cancelled by Ctrl-C (and SIGTERM on Unix). Call inside a tokio runtime.
#[must_use]
pub fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {},
                        _ = term.recv() => {},
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        cancel.cancel();
    });
    token
}
