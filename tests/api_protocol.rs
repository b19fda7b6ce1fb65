//! The local API against a fake node on 127.0.0.1:0: requests and answers, the event stream,
//! malformed input, slow subscribers, connection limits and shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_support;

use std::time::Duration;

use api_support::{Fixture, block_event, fake_account, fake_status, log_event, psd_event, start};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use trustband::api::AccountRef;
use trustband::api::client::{Client, ClientError};
use trustband::api::protocol::{StreamLine, SubscribeParams, Topic, code};
use trustband::api::server::ServerConfig;
use trustband::node::events::NodeEvent;

/// A raw line-oriented connection, for what the typed client will not send.
struct Raw {
    lines: Lines<BufReader<OwnedReadHalf>>,
    w: OwnedWriteHalf,
}

impl Raw {
    async fn connect(f: &Fixture) -> Raw {
        let s = TcpStream::connect(f.addr).await.unwrap();
        let (r, w) = s.into_split();
        Raw {
            lines: BufReader::new(r).lines(),
            w,
        }
    }

    async fn send(&mut self, line: &str) {
        self.w.write_all(line.as_bytes()).await.unwrap();
        self.w.write_all(b"\n").await.unwrap();
    }

    async fn line(&mut self) -> Option<String> {
        tokio::time::timeout(Duration::from_secs(30), self.lines.next_line())
            .await
            .expect("no line from the server")
            .unwrap()
    }

    async fn json(&mut self) -> Value {
        let l = self.line().await.expect("connection closed");
        serde_json::from_str(&l).unwrap()
    }
}

/// Waits (polling the snapshot) until the server's aggregator shows `height`.
async fn wait_for_height(client: &mut Client, height: u64) {
    for _ in 0..3000 {
        let s = client.snapshot().await.unwrap();
        if s.chain.height == height {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the aggregator never reached height {height}");
}

#[tokio::test]
async fn status_query_and_snapshot_round_trip() {
    let config = ServerConfig {
        status_every: Duration::from_millis(20),
        ..ServerConfig::default()
    };
    let mut f = start(config, 1024).await;
    let mut c = Client::connect(f.addr).await.unwrap();
    assert_eq!(c.status().await.unwrap(), fake_status());

    let head = c.head().await.unwrap();
    assert_eq!((head.height, head.hash.as_str()), (42, "0x00ab"));
    assert_eq!(head.state_root, "0x00cd");

    // By name and by address; u128 balances beyond u64 survive the trip.
    let a = c.account(AccountRef::Name("n1".into())).await.unwrap();
    assert_eq!(a, fake_account());
    let by_addr = c
        .account(AccountRef::Address(fake_account().address))
        .await
        .unwrap();
    assert_eq!(by_addr.balance, u128::from(u64::MAX) * 1000);
    match c.account(AccountRef::Name("ghost".into())).await {
        Err(ClientError::Remote { reply, .. }) => {
            assert_eq!(reply.code, code::NOT_FOUND);
            assert!(reply.error.contains("ghost"), "{}", reply.error);
        }
        other => panic!("{other:?}"),
    }
    match c.account(AccountRef::Address("zz".into())).await {
        Err(ClientError::Remote { reply, .. }) => assert_eq!(reply.code, code::INVALID_PARAMS),
        other => panic!("{other:?}"),
    }

    // Blocks and the snapshot come from the event stream (the server's aggregator).
    for h in 1..=5 {
        f.events.send(block_event("n1", h, 1000, 0)).unwrap();
    }
    f.events
        .send(NodeEvent::Trust {
            node: "n1".into(),
            at_ms: 5000,
            account: "n4".into(),
            trust: 0.25,
        })
        .unwrap();
    wait_for_height(&mut c, 5).await;
    let blocks = c.blocks(3).await.unwrap();
    assert_eq!(
        blocks.iter().map(|b| b.height).collect::<Vec<_>>(),
        vec![5, 4, 3]
    );
    assert_eq!(blocks[0].hash, format!("0x{:064x}", 5));
    let snap = c.snapshot().await.unwrap();
    assert_eq!(snap.node, "n1", "the status names the primary node");
    assert_eq!(snap.chain.mean_interval_ms, Some(1000.0));
    let n4 = snap.trust.iter().find(|t| t.node == "n4").unwrap();
    assert_eq!(n4.value, 0.25);
    // The status poll fills in peers and balance of the node itself: await a poll that began
    // after the events were applied (no sleeping and hoping).
    f.await_fresh_status().await;
    let s = c.snapshot().await.unwrap();
    let n1 = s.nodes.into_iter().find(|n| n.name == "n1").unwrap();
    assert_eq!(n1.peers, 2);
    assert_eq!(n1.balance, 1_000_000);
    assert_eq!(n1.height, 42, "the status height is newer than the events'");

    // The id is echoed.
    let mut raw = Raw::connect(&f).await;
    raw.send(r#"{"op":"query","what":"head","id":"h-1"}"#).await;
    let v = raw.json().await;
    assert_eq!(v["id"], "h-1");
    assert_eq!(v["head"]["height"], 42);

    f.shutdown.cancel();
    f.server.await.unwrap();
}

#[tokio::test]
async fn subscriber_receives_its_topics_in_order() {
    let f = start(ServerConfig::default(), 4096).await;
    let sub = Client::connect(f.addr).await.unwrap();
    let mut sub = sub
        .subscribe(SubscribeParams {
            topics: Some(vec![Topic::Log, Topic::Block]),
            psd_hz: None,
        })
        .await
        .unwrap();
    assert_eq!(sub.info().topics, vec![Topic::Block, Topic::Log]);
    let mut expected = Vec::new();
    for i in 1..=300u64 {
        let ev = match i % 3 {
            0 => log_event("n1", i, 10),
            1 => block_event("n2", i, 10, 0),
            _ => NodeEvent::Trust {
                node: "n1".into(),
                at_ms: i,
                account: "n3".into(),
                trust: 0.5,
            },
        };
        if !matches!(ev, NodeEvent::Trust { .. }) {
            expected.push(ev.clone());
        }
        f.events.send(ev).unwrap();
    }
    let mut got = Vec::new();
    while got.len() < expected.len() {
        match tokio::time::timeout(Duration::from_secs(30), sub.next())
            .await
            .unwrap()
            .unwrap()
        {
            Some(StreamLine::Event(e)) => got.push(*e),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(got, expected);
    f.shutdown.cancel();
    f.server.await.unwrap();
}

#[tokio::test]
async fn psd_frames_are_decimated_per_node() {
    let f = start(ServerConfig::default(), 4096).await;
    let mut raw = Raw::connect(&f).await;
    // One frame per 1000 s per node: only each node's first frame passes.
    raw.send(r#"{"op":"subscribe","topics":["psd","log"],"psd_hz":0.001}"#)
        .await;
    let ack = raw.json().await;
    assert_eq!(ack["subscribed"]["psd_hz"], 0.001);
    for i in 0..50 {
        f.events.send(psd_event("n1", i)).unwrap();
        f.events.send(psd_event("n2", i)).unwrap();
    }
    f.events.send(log_event("n1", 99, 1)).unwrap();
    let mut psd_nodes = Vec::new();
    loop {
        let v = raw.json().await;
        match v["type"].as_str() {
            Some("psd") => {
                psd_nodes.push((v["node"].as_str().unwrap().to_owned(), v["at_ms"].clone()))
            }
            Some("log") => break,
            other => panic!("unexpected {other:?}: {v}"),
        }
    }
    assert_eq!(
        psd_nodes,
        vec![("n1".into(), Value::from(0)), ("n2".into(), Value::from(0))]
    );
    f.shutdown.cancel();
    f.server.await.unwrap();
}

#[tokio::test]
async fn malformed_requests_get_error_lines_and_the_connection_survives() {
    let f = start(ServerConfig::default(), 64).await;
    let mut raw = Raw::connect(&f).await;
    let cases: [(&str, i64); 6] = [
        ("{nope", code::PARSE_ERROR),
        ("[1, 2]", code::INVALID_REQUEST),
        (r#"{"op":"launch"}"#, code::UNKNOWN_OP),
        (
            r#"{"op":"subscribe","topics":["radio"]}"#,
            code::INVALID_PARAMS,
        ),
        (r#"{"op":"query","what":"account"}"#, code::INVALID_PARAMS),
        ("\u{feff}\u{1}garbage", code::PARSE_ERROR),
    ];
    for (line, want) in cases {
        raw.send(line).await;
        let v = raw.json().await;
        assert_eq!(v["code"], want, "{line}: {v}");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
    }
    // Invalid UTF-8 is a parse error too.
    raw.w.write_all(b"\xff\xfe{\n").await.unwrap();
    assert_eq!(raw.json().await["code"], code::PARSE_ERROR);
    // An overlong line is skipped whole, not parsed in pieces.
    let long = format!(r#"{{"op":"status","pad":"{}"}}"#, "x".repeat(200_000));
    raw.send(&long).await;
    let v = raw.json().await;
    assert_eq!(v["code"], code::INVALID_REQUEST, "{v}");
    assert!(v["error"].as_str().unwrap().contains("longer than"), "{v}");
    // Blank lines are ignored; the connection still answers.
    raw.send("").await;
    raw.send(r#"{"op":"status","id":5}"#).await;
    let v = raw.json().await;
    assert_eq!(v["id"], 5);
    assert_eq!(v["status"]["name"], "n1");
    f.shutdown.cancel();
    f.server.await.unwrap();
}

/// A subscriber that stops reading loses events (counted, then reported), while the node
/// keeps publishing without waiting and other clients keep getting answers.
#[tokio::test]
async fn slow_subscriber_gets_drops_counted_and_blocks_nobody() {
    let config = ServerConfig {
        queue_len: 4,
        ..ServerConfig::default()
    };
    let f = start(config, 1 << 16).await;
    let mut slow = Raw::connect(&f).await;
    slow.send(r#"{"op":"subscribe","topics":["log"]}"#).await;
    assert!(slow.json().await.get("subscribed").is_some());

    // 20 000 events of 1 KiB: far more than the socket buffers and the queue hold. The
    // publisher yields between sends so the server keeps up with the broadcast; only this
    // connection's queue overflows.
    const N: u64 = 20_000;
    for i in 0..N {
        f.events.send(log_event("n1", i, 1024)).unwrap();
        tokio::task::yield_now().await;
    }
    // Another client is served meanwhile.
    let mut other = Client::connect(f.addr).await.unwrap();
    assert_eq!(other.status().await.unwrap().name, "n1");

    // Now read everything; markers `M<k>` are published until one arrives, so every event
    // before it was either received or counted as dropped.
    let reader = tokio::spawn(async move {
        let mut received = 0u64;
        let mut total_dropped = 0u64;
        let mut notices = 0u64;
        loop {
            let v = slow.json().await;
            match v["type"].as_str() {
                Some("dropped") => {
                    notices += 1;
                    let d = v["dropped"].as_u64().unwrap();
                    let t = v["total"].as_u64().unwrap();
                    assert!(d > 0 && t >= total_dropped + d, "{v}");
                    total_dropped = t;
                }
                Some("log") => {
                    let text = v["text"].as_str().unwrap();
                    if let Some(k) = text.strip_prefix("M") {
                        return (received, total_dropped, notices, k.parse::<u64>().unwrap());
                    }
                    received += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    });
    let mut k = 0u64;
    while !reader.is_finished() {
        f.events
            .send(NodeEvent::Log {
                node: "n1".into(),
                at_ms: N + k,
                level: "info".into(),
                text: format!("M{k}"),
            })
            .unwrap();
        k += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (received, dropped, notices, first_marker) = reader.await.unwrap();
    assert!(
        dropped > 0,
        "nothing was dropped: the test did not stall the reader"
    );
    assert!(notices > 0);
    assert!(received > 0);
    // Exact accounting: every flood event and every earlier marker is received or dropped.
    assert_eq!(
        received + dropped,
        N + first_marker,
        "received {received}, dropped {dropped}"
    );
    f.shutdown.cancel();
    f.server.await.unwrap();
}

#[tokio::test]
async fn shutdown_closes_every_connection() {
    let f = start(ServerConfig::default(), 64).await;
    let mut idle = Raw::connect(&f).await;
    let mut subscribed = Raw::connect(&f).await;
    subscribed.send(r#"{"op":"subscribe"}"#).await;
    assert!(subscribed.json().await.get("subscribed").is_some());
    idle.send(r#"{"op":"status"}"#).await;
    assert!(idle.json().await.get("status").is_some());
    f.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(30), f.server)
        .await
        .expect("serve did not return after shutdown")
        .unwrap();
    assert_eq!(idle.line().await, None);
    assert_eq!(subscribed.line().await, None);
    // And nothing listens any more.
    assert!(TcpStream::connect(f.addr).await.is_err());
}

#[tokio::test]
async fn connections_over_the_limit_are_told_and_closed() {
    let config = ServerConfig {
        max_connections: 1,
        ..ServerConfig::default()
    };
    let f = start(config, 64).await;
    let mut first = Raw::connect(&f).await;
    first.send(r#"{"op":"status"}"#).await;
    assert!(first.json().await.get("status").is_some());
    let mut second = Raw::connect(&f).await;
    let v = second.json().await;
    assert_eq!(v["code"], code::BUSY, "{v}");
    assert_eq!(second.line().await, None);
    // The first one still works.
    first.send(r#"{"op":"snapshot"}"#).await;
    assert!(first.json().await.get("snapshot").is_some());
    f.shutdown.cancel();
    f.server.await.unwrap();
}

#[tokio::test]
async fn a_subscriber_that_closes_its_sending_half_keeps_streaming() {
    let f = start(ServerConfig::default(), 64).await;
    let mut raw = Raw::connect(&f).await;
    raw.send(r#"{"op":"subscribe","topics":["log"]}"#).await;
    raw.w.shutdown().await.unwrap();
    assert!(raw.json().await.get("subscribed").is_some());
    // Give the server a moment to see the half-close before publishing (either order works).
    tokio::task::yield_now().await;
    f.events.send(log_event("n1", 1, 1)).unwrap();
    assert_eq!(raw.json().await["type"], "log");
    f.shutdown.cancel();
    f.server.await.unwrap();
}

#[tokio::test]
async fn start_for_node_serves_the_watched_status_and_lookup() {
    use std::sync::Arc;
    use trustband::api::{AccountLookup, start_for_node};
    let lookup: AccountLookup = Arc::new(|who: &AccountRef| match who {
        AccountRef::Name(n) if n == "n1" => Some(fake_account()),
        _ => None,
    });
    let shutdown = tokio_util::sync::CancellationToken::new();
    let api = start_for_node(
        "127.0.0.1:0",
        "n7",
        Some(lookup),
        shutdown.clone(),
        ServerConfig::default(),
    )
    .await
    .unwrap();
    let mut c = Client::connect(api.local_addr).await.unwrap();
    // Before the node reports: the placeholder with its name.
    let s = c.status().await.unwrap();
    assert_eq!((s.name.as_str(), s.height), ("n7", 0));
    api.status.send_replace(fake_status());
    assert_eq!(c.status().await.unwrap(), fake_status());
    assert_eq!(
        c.account(AccountRef::Name("n1".into())).await.unwrap(),
        fake_account()
    );
    assert!(matches!(
        c.account(AccountRef::Name("n2".into())).await,
        Err(ClientError::Remote { reply, .. }) if reply.code == code::NOT_FOUND
    ));
    let mut sub = Client::connect(api.local_addr)
        .await
        .unwrap()
        .subscribe(SubscribeParams::default())
        .await
        .unwrap();
    api.events.send(log_event("n7", 1, 3)).unwrap();
    assert!(matches!(
        sub.next().await.unwrap(),
        Some(StreamLine::Event(_))
    ));
    shutdown.cancel();
    api.task.await.unwrap().unwrap();
    // A bad address is bad input; a taken one names the address.
    let e = start_for_node(
        "nowhere",
        "n7",
        None,
        shutdown.clone(),
        ServerConfig::default(),
    )
    .await
    .unwrap_err();
    assert!(e.downcast_ref::<trustband::BadInput>().is_some(), "{e:#}");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let e = start_for_node(&addr, "n7", None, shutdown, ServerConfig::default())
        .await
        .unwrap_err();
    assert!(e.to_string().contains(&addr), "{e:#}");
}
