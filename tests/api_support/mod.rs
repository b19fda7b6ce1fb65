//! A fake node for the local API tests: fixed status and accounts, events published by hand.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use trustband::api::server::{ServerConfig, serve};
use trustband::api::{AccountInfo, AccountRef, ApiFuture, NodeApi, NodeApiError};
use trustband::node::events::{NodeEvent, NodeStatus};

/// The fake node's status.
pub fn fake_status() -> NodeStatus {
    NodeStatus {
        name: "n1".into(),
        roles: vec!["sensor".into(), "miner".into()],
        height: 42,
        head_hash: "0x00ab".into(),
        state_root: "0x00cd".into(),
        peers: vec!["n2".into(), "n3".into()],
        trust: 0.625,
        balance: 1_000_000,
        last_decisions: vec![NodeEvent::Decision {
            node: "n1".into(),
            at_ms: 9_000,
            round: 7,
            channel: "ch-a".into(),
            energy_dbfs: -60.5,
            noise_dbfs: -72.0,
            threshold_dbfs: -69.25,
            busy: true,
        }],
    }
}

/// The fake node's one account.
pub fn fake_account() -> AccountInfo {
    AccountInfo {
        name: Some("n1".into()),
        address: "0x1111111111111111111111111111111111111111".into(),
        balance: u128::from(u64::MAX) * 1000,
        nonce: 3,
        trust: 0.625,
    }
}

/// A node with a fixed status and one account. It counts the status calls it has answered, so a
/// test can await a status poll that began after some point instead of sleeping.
#[derive(Debug)]
pub struct FakeNode {
    polls: watch::Sender<u64>,
}

impl Default for FakeNode {
    fn default() -> Self {
        Self {
            polls: watch::Sender::new(0),
        }
    }
}

impl FakeNode {
    /// The number of status calls answered so far.
    pub fn polls(&self) -> watch::Receiver<u64> {
        self.polls.subscribe()
    }
}

impl NodeApi for FakeNode {
    fn status(&self) -> ApiFuture<'_, Result<NodeStatus, NodeApiError>> {
        self.polls.send_modify(|n| *n += 1);
        Box::pin(async { Ok(fake_status()) })
    }

    fn account(&self, who: AccountRef) -> ApiFuture<'_, Result<Option<AccountInfo>, NodeApiError>> {
        Box::pin(async move {
            let a = fake_account();
            Ok(match who {
                AccountRef::Name(n) if Some(&n) == a.name.as_ref() => Some(a),
                AccountRef::Address(x) if x == a.address => Some(a),
                AccountRef::Address(x) if !x.starts_with("0x") => {
                    return Err(NodeApiError::Invalid {
                        reason: format!("{x}: not an address"),
                    });
                }
                _ => None,
            })
        })
    }
}

/// A running server on 127.0.0.1:0.
pub struct Fixture {
    pub addr: SocketAddr,
    pub events: broadcast::Sender<NodeEvent>,
    pub shutdown: CancellationToken,
    pub server: JoinHandle<()>,
    /// Status calls the server's aggregator has made of the fake node.
    pub polls: watch::Receiver<u64>,
}

impl Fixture {
    /// Waits until a status poll that started after this call has been applied: the aggregator
    /// polls and applies in one loop, so once the poll after the next one has started, the next
    /// one (which began after this call) has been applied.
    pub async fn await_fresh_status(&mut self) {
        let from = *self.polls.borrow_and_update();
        tokio::time::timeout(
            std::time::Duration::from_secs(60),
            self.polls.wait_for(|&n| n >= from + 2),
        )
        .await
        .expect("the aggregator stopped polling the node's status")
        .unwrap();
    }
}

/// Starts the server on the current runtime.
pub async fn start(config: ServerConfig, capacity: usize) -> Fixture {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (events, rx) = broadcast::channel(capacity);
    let shutdown = CancellationToken::new();
    let token = shutdown.clone();
    let node = FakeNode::default();
    let polls = node.polls();
    let server = tokio::spawn(async move {
        serve(listener, Arc::new(node), rx, token, config)
            .await
            .unwrap();
    });
    Fixture {
        addr,
        events,
        shutdown,
        server,
        polls,
    }
}

/// A log event with a sequence number in its text.
pub fn log_event(node: &str, i: u64, text_len: usize) -> NodeEvent {
    NodeEvent::Log {
        node: node.into(),
        at_ms: i,
        level: "info".into(),
        text: format!("{i} {}", "x".repeat(text_len)),
    }
}

/// A block event of node `node` at `height`, `interval_ms` apart.
pub fn block_event(node: &str, height: u64, interval_ms: u64, reorg_depth: u64) -> NodeEvent {
    NodeEvent::Block {
        node: node.into(),
        at_ms: height * interval_ms,
        height,
        hash: format!("0x{height:064x}"),
        miner: "n2".into(),
        miner_trust: 0.5,
        base_difficulty: 1000,
        txs: 3,
        reorg_depth,
    }
}

/// A PSD frame of `node`.
pub fn psd_event(node: &str, at_ms: u64) -> NodeEvent {
    NodeEvent::Psd {
        node: node.into(),
        at_ms,
        center_hz: 600e6,
        rate_hz: 2.4e6,
        psd_db: vec![-70.0; 64],
        noise_db: vec![-72.0; 64],
        channels: vec![],
    }
}
