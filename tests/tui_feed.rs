//! The dashboard's feeders without a terminal: what reaches the `UiEvent` channel in-process
//! (`trustband run`) and attached to a node's local API (`trustband tui --connect`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_support;

use std::sync::mpsc;
use std::time::Duration;

use api_support::{block_event, psd_event, start};
use tokio::sync::broadcast;
use trustband::api::server::ServerConfig;
use trustband::dashboard::{AggregatorConfig, feed_connected, feed_in_process};
use tui::UiEvent;

/// Receives the next event, failing the test after a generous wait.
fn next(rx: &mpsc::Receiver<UiEvent>) -> UiEvent {
    rx.recv_timeout(Duration::from_secs(30))
        .expect("no dashboard event")
}

#[tokio::test]
async fn in_process_feed_sends_rows_and_snapshots_then_says_the_run_ended() {
    let (events, rx_events) = broadcast::channel(1024);
    let (tx, rx) = mpsc::channel();
    for h in 1..=3 {
        events.send(block_event("n1", h, 1000, 0)).unwrap();
        events.send(psd_event("n2", h * 1000)).unwrap();
    }
    drop(events);
    // The stream is already closed: the feeder folds everything, sends the last picture and
    // returns.
    feed_in_process(
        rx_events,
        None,
        AggregatorConfig::default(),
        Duration::from_millis(50),
        false,
        tx,
    )
    .await;
    let got: Vec<UiEvent> = rx.try_iter().collect();
    assert_eq!(got.first(), Some(&UiEvent::Connected("in-process".into())));
    let rows: Vec<u64> = got
        .iter()
        .filter_map(|e| match e {
            UiEvent::Rows { node, rows } if node == "n2" => Some(rows.iter().map(|r| r.at_ms)),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(rows, vec![1000, 2000, 3000]);
    let last_snapshot = got
        .iter()
        .rev()
        .find_map(|e| match e {
            UiEvent::Snapshot(s) => Some(s),
            _ => None,
        })
        .unwrap();
    assert_eq!(last_snapshot.chain.height, 3);
    assert_eq!(last_snapshot.node, "n1");
    assert!(
        matches!(got.last(), Some(UiEvent::Disconnected(why)) if why.contains("run finished")),
        "{:?}",
        got.last()
    );
}

#[tokio::test]
async fn in_process_feed_can_close_the_dashboard_when_done() {
    let (events, rx_events) = broadcast::channel(16);
    drop(events);
    let (tx, rx) = mpsc::channel();
    feed_in_process(
        rx_events,
        None,
        AggregatorConfig::default(),
        Duration::from_millis(50),
        true,
        tx,
    )
    .await;
    assert_eq!(rx.try_iter().last(), Some(UiEvent::Quit));
}

#[tokio::test(flavor = "current_thread")]
async fn connected_feed_attaches_streams_rows_and_reports_a_lost_node() {
    let f = start(ServerConfig::default(), 1024).await;
    for h in 1..=4 {
        f.events.send(block_event("n1", h, 1000, 0)).unwrap();
    }
    let (tx, rx) = mpsc::channel();
    let addr = f.addr;
    let stop = tokio_util::sync::CancellationToken::new();
    let stopper = stop.clone();
    // The feeder runs on its own thread and runtime, as `trustband tui --connect` runs it.
    let feeder = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(feed_connected(addr, Duration::from_millis(50), tx, stop));
    });
    let rx = tokio::task::spawn_blocking(move || {
        assert_eq!(next(&rx), UiEvent::Connected(addr.to_string()));
        assert!(matches!(next(&rx), UiEvent::Snapshot(_)));
        rx
    })
    .await
    .unwrap();
    // Frames published now arrive as waterfall rows; snapshots keep coming.
    f.events.send(psd_event("n3", 77)).unwrap();
    let (rx, saw_height) = tokio::task::spawn_blocking(move || {
        let mut saw_row = false;
        let mut saw_height = false;
        while !(saw_row && saw_height) {
            match next(&rx) {
                UiEvent::Rows { node, rows } => {
                    assert_eq!(node, "n3");
                    assert_eq!(rows.iter().map(|r| r.at_ms).collect::<Vec<_>>(), vec![77]);
                    saw_row = true;
                }
                UiEvent::Snapshot(s) => saw_height |= s.chain.height == 4,
                other => panic!("unexpected {other:?}"),
            }
        }
        (rx, saw_height)
    })
    .await
    .unwrap();
    assert!(saw_height);
    // The node goes away: the dashboard is told, with the retry.
    f.shutdown.cancel();
    f.server.await.unwrap();
    let rx = tokio::task::spawn_blocking(move || {
        loop {
            match next(&rx) {
                UiEvent::Disconnected(why) => {
                    assert!(
                        why.starts_with("disconnected")
                            && why.contains(&addr.to_string())
                            && why.contains("retry"),
                        "{why}"
                    );
                    break;
                }
                UiEvent::Snapshot(_) | UiEvent::Rows { .. } => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        rx
    })
    .await
    .unwrap();
    // Quitting the dashboard stops the feeder, even in the middle of its back-off.
    drop(rx);
    stopper.cancel();
    tokio::task::spawn_blocking(move || feeder.join().unwrap())
        .await
        .unwrap();
}
