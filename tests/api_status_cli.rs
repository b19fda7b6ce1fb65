//! `trustband status` against a fake node's local API served in this test process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_support;

use std::net::SocketAddr;
use std::process::{Command, Output};
use std::sync::Arc;

use api_support::{FakeNode, fake_status};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use trustband::api::server::{ServerConfig, serve};
use trustband::node::events::NodeStatus;

/// Serves the fake node on 127.0.0.1:0 on its own thread until the token is cancelled.
struct Server {
    addr: SocketAddr,
    shutdown: CancellationToken,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start() -> Server {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let (_events, rx) = broadcast::channel(16);
                serve(
                    listener,
                    Arc::new(FakeNode::default()),
                    rx,
                    token,
                    ServerConfig::default(),
                )
                .await
                .unwrap();
            });
        });
        Server {
            addr,
            shutdown,
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

fn status(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trustband"))
        .arg("status")
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn status_prints_a_table() {
    let server = Server::start();
    let addr = server.addr.to_string();
    let out = status(&["--connect", &addr]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for want in [
        "node        n1 (sensor, miner)",
        "height      42",
        "head        0x00ab",
        "state root  0x00cd",
        "peers       2: n2, n3",
        "trust       0.625",
        "balance     1000000",
    ] {
        assert!(stdout.contains(want), "missing {want:?} in\n{stdout}");
    }
    // The decision row: channel, round, energy, noise, threshold, state.
    let row = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("ch-a"))
        .unwrap_or_else(|| panic!("no decision row in\n{stdout}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells,
        vec!["ch-a", "7", "-60.5", "-72.0", "-69.2", "BUSY"],
        "{row}"
    );
}

#[test]
fn status_json_is_the_node_status() {
    let server = Server::start();
    let out = status(&["--connect", &server.addr.to_string(), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "one JSON line: {stdout}");
    let got: NodeStatus = serde_json::from_str(&stdout).unwrap();
    assert_eq!(got, fake_status());
}

#[test]
fn refused_connection_names_the_address_and_exits_1() {
    // A port that was just free: nothing listens there.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let out = status(&["--connect", &addr.to_string()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&addr.to_string()), "{stderr}");
    assert!(stderr.to_lowercase().contains("refused"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_addresses_exit_2() {
    for bad in ["127.0.0.1", "127.0.0.1:99999", "::1]:80"] {
        let out = status(&["--connect", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", text(&out.stderr));
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("bad address") && stderr.contains(bad),
            "{stderr}"
        );
    }
}
