//! The dashboard's aggregator: node events in, `tui::Snapshot` fields out.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use trustband::dashboard::{Aggregator, AggregatorConfig};
use trustband::node::events::{ChannelSpan, NodeEvent, NodeStatus};
use tui::model::{AuctionPhase, LeaseState, Level, Update};

fn agg() -> Aggregator {
    Aggregator::new(AggregatorConfig {
        primary: Some("n1".into()),
        ..AggregatorConfig::default()
    })
}

fn block(node: &str, height: u64, at_ms: u64, hash: &str, reorg_depth: u64) -> NodeEvent {
    NodeEvent::Block {
        node: node.into(),
        at_ms,
        height,
        hash: hash.into(),
        miner: "n2".into(),
        miner_trust: 0.9,
        base_difficulty: 1700,
        txs: 4,
        reorg_depth,
    }
}

fn trust(node: &str, account: &str, value: f64) -> NodeEvent {
    NodeEvent::Trust {
        node: node.into(),
        at_ms: 1,
        account: account.into(),
        trust: value,
    }
}

fn contract(
    node: &str,
    height: u64,
    kind: &str,
    channel: &str,
    detail: serde_json::Value,
) -> NodeEvent {
    NodeEvent::Contract {
        node: node.into(),
        at_ms: height * 1000,
        height,
        kind: kind.into(),
        channel: Some(channel.into()),
        text: format!("{kind} on {channel}"),
        detail,
    }
}

#[test]
fn trust_history_is_bounded_and_follows_the_primary_only() {
    let mut a = Aggregator::new(AggregatorConfig {
        primary: Some("n1".into()),
        trust_history: 3,
        ..AggregatorConfig::default()
    });
    for v in [0.5, 0.4, 0.45, 0.6, 0.55] {
        a.apply(&trust("n1", "n4", v));
    }
    // Another node's view of the same account is not mixed in.
    a.apply(&trust("n2", "n4", 0.99));
    a.apply(&trust("n2", "n7", 0.99));
    let s = a.snapshot();
    assert_eq!(s.trust.len(), 1);
    let n4 = &s.trust[0];
    assert_eq!(n4.node, "n4");
    assert_eq!(n4.value, 0.55);
    assert_eq!(n4.history, vec![0.45, 0.6, 0.55]);
}

#[test]
fn mean_interval_over_the_window_and_the_miner_difficulty() {
    let mut a = Aggregator::new(AggregatorConfig {
        primary: Some("n1".into()),
        interval_window: 4,
        target_interval_ms: Some(1000.0),
        ..AggregatorConfig::default()
    });
    // Intervals 1000, 1000, 2000, 1000, 3000: the last 4 blocks span 6000 ms in 3 gaps.
    let times = [0, 1000, 2000, 4000, 5000, 8000];
    for (i, t) in times.iter().enumerate() {
        let h = i as u64 + 1;
        a.apply(&block("n1", h, *t, &format!("0x{h:02}"), 0));
    }
    let c = a.snapshot().chain;
    assert_eq!(c.height, 6);
    assert_eq!(c.head, "0x06");
    assert_eq!(c.mean_interval_ms, Some(2000.0));
    assert_eq!(c.target_interval_ms, Some(1000.0));
    assert_eq!(c.base_difficulty, 1700);
    assert_eq!(
        c.recent_blocks.iter().map(|b| b.height).collect::<Vec<_>>(),
        vec![6, 5, 4, 3, 2, 1]
    );
    // Trust 0.9 mines 17 times more cheaply (SPEC 4): D_i = 1700 / 17.
    let d = c.recent_blocks[0].difficulty;
    assert!((99..=101).contains(&d), "{d}");
    // One block is not enough for an interval.
    let mut b = agg();
    b.apply(&block("n1", 1, 0, "0x01", 0));
    assert_eq!(b.snapshot().chain.mean_interval_ms, None);
}

#[test]
fn reorgs_and_forks_are_counted_and_the_chain_follows_the_new_branch() {
    let mut a = agg();
    for h in 1..=5 {
        a.apply(&block("n1", h, h * 1000, &format!("0xa{h}"), 0));
    }
    // The primary switches to a branch that forked below height 4: two blocks rolled back.
    a.apply(&block("n1", 4, 6000, "0xb4", 2));
    let c = a.snapshot().chain;
    assert_eq!(c.reorgs, 1);
    assert_eq!(c.last_reorg_depth, Some(2));
    assert_eq!(c.height, 4);
    assert_eq!(c.head, "0xb4");
    assert_eq!(
        c.recent_blocks
            .iter()
            .map(|b| b.hash.as_str())
            .collect::<Vec<_>>(),
        vec!["0xb4", "0xa3", "0xa2", "0xa1"]
    );
    assert_eq!(c.forks, 1, "height 4 has seen two blocks");
    // Another node's competing block is a fork, not a reorg of the primary's chain.
    a.apply(&block("n2", 3, 6100, "0xc3", 0));
    // Seeing a known block again changes nothing.
    a.apply(&block("n2", 4, 6200, "0xb4", 0));
    let s = a.snapshot();
    assert_eq!((s.chain.forks, s.chain.reorgs, s.chain.height), (2, 1, 4));
    let n2 = s.nodes.iter().find(|n| n.name == "n2").unwrap();
    assert_eq!(n2.height, 4);
    // The reorg is in the log as a warning.
    assert!(
        s.log
            .iter()
            .any(|l| l.level == Level::Warn && l.text.contains("2 block(s) rolled back"))
    );
}

#[test]
fn lease_state_follows_its_contract_events() {
    let mut a = agg();
    let holder = |h: &str| json!({ "holder": h });
    a.apply(&contract(
        "n1",
        10,
        "lease_granted",
        "ch-a",
        json!({"channel": 0, "holder": "mo-a", "auction": 3, "start": 11, "expires": 40,
               "price": 1250, "p_s": 500_000_000, "p_m": 314_000_000, "m": 700_000_000}),
    ));
    let state = |a: &Aggregator| {
        let l = a.snapshot().leases;
        assert_eq!(l.len(), 1, "{l:?}");
        l[0].clone()
    };
    let l = state(&a);
    assert_eq!(l.state, LeaseState::Granted);
    assert_eq!((l.from_height, l.until_height, l.price), (11, 40, 1250));
    assert_eq!(l.service_price, Some(0.314));
    assert_eq!(l.mining_share, Some(0.7));
    let steps = [
        ("lease_authorized", LeaseState::Authorized),
        ("lease_suspended", LeaseState::Suspended),
        ("lease_resumed", LeaseState::Authorized),
        ("lease_heartbeat_lapsed", LeaseState::Granted),
        ("lease_heartbeat", LeaseState::Authorized),
    ];
    for (i, (kind, want)) in steps.into_iter().enumerate() {
        a.apply(&contract("n1", 12 + i as u64, kind, "ch-a", holder("mo-a")));
        assert_eq!(state(&a).state, want, "after {kind}");
    }
    // Another node's copy of an event is ignored (it would apply it twice).
    a.apply(&contract(
        "n2",
        20,
        "lease_suspended",
        "ch-a",
        holder("mo-a"),
    ));
    assert_eq!(state(&a).state, LeaseState::Authorized);
    a.apply(&contract(
        "n1",
        30,
        "lease_renewed",
        "ch-a",
        json!({"holder": "mo-a", "auction": 9, "expires": 70, "price": 900}),
    ));
    let l = state(&a);
    assert_eq!(
        (l.until_height, l.price, l.state),
        (70, 900, LeaseState::Authorized)
    );
    a.apply(&contract("n1", 70, "lease_expired", "ch-a", holder("mo-a")));
    assert_eq!(state(&a).state, LeaseState::Expired);

    // A queued lease for another holder is tracked separately.
    a.apply(&contract(
        "n1",
        71,
        "lease_granted",
        "ch-a",
        json!({"holder": "mo-b", "start": 72, "expires": 100, "price": "7"}),
    ));
    a.apply(&contract(
        "n1",
        72,
        "lease_authorized",
        "ch-a",
        holder("mo-b"),
    ));
    let leases = a.snapshot().leases;
    assert_eq!(leases.len(), 2);
    assert_eq!(leases[0].holder, "mo-b", "live leases first");
    assert_eq!(leases[0].state, LeaseState::Authorized);
    assert_eq!(leases[0].price, 7);
    assert_eq!(leases[1].state, LeaseState::Expired);
}

#[test]
fn auctions_move_through_their_phases() {
    let mut a = agg();
    a.apply(&contract(
        "n1",
        20,
        "auction_opened",
        "ch-d",
        json!({"auction": 5, "channel": 3, "commit_end": 23, "reveal_end": 26, "expiry": 40,
               "reserve": 100, "min_deposit": 10}),
    ));
    for _ in 0..3 {
        a.apply(&contract(
            "n1",
            21,
            "bid_committed",
            "ch-d",
            json!({"auction": 5}),
        ));
    }
    let row = |a: &Aggregator| a.snapshot().auctions[0].clone();
    let r = row(&a);
    assert_eq!(
        (r.phase, r.commits, r.commit_end, r.reveal_end),
        (AuctionPhase::Commit, 3, 23, 26)
    );
    assert_eq!((r.round, r.reserve), (5, 100));
    // The commit window closes with the primary's block past commit_end.
    a.apply(&block("n1", 24, 24_000, "0x24", 0));
    assert_eq!(row(&a).phase, AuctionPhase::Reveal);
    a.apply(&contract(
        "n1",
        25,
        "bids_revealed",
        "ch-d",
        json!({"auction": 5, "bids": 2}),
    ));
    assert_eq!(row(&a).revealed, 2);
    a.apply(&contract(
        "n1",
        27,
        "auction_settled",
        "ch-d",
        json!({"auction": 5, "channel": 3, "winner": "mo-a", "price": 150}),
    ));
    let r = row(&a);
    assert_eq!(r.phase, AuctionPhase::Settled);
    assert_eq!((r.winner.as_deref(), r.price), (Some("mo-a"), Some(150)));
    // No valid bid: void, no price. Skipped channels show too.
    a.apply(&contract(
        "n1",
        30,
        "auction_opened",
        "ch-a",
        json!({"auction": 6, "commit_end": 33, "reveal_end": 36, "reserve": 100}),
    ));
    a.apply(&contract(
        "n1",
        37,
        "auction_settled",
        "ch-a",
        json!({"auction": 6, "winner": null, "price": 0}),
    ));
    a.apply(&contract(
        "n1",
        37,
        "auction_skipped",
        "ch-b",
        json!({"task": 7}),
    ));
    let all = a.snapshot().auctions;
    let by_round = |id: u64| all.iter().find(|r| r.round == id).unwrap();
    assert_eq!(by_round(6).phase, AuctionPhase::Void);
    assert_eq!(by_round(6).price, None);
    assert_eq!(by_round(7).phase, AuctionPhase::Skipped);
}

#[test]
fn ended_auctions_and_leases_are_bounded() {
    let mut a = Aggregator::new(AggregatorConfig {
        primary: Some("n1".into()),
        max_ended_auctions: 2,
        max_ended_leases: 1,
        ..AggregatorConfig::default()
    });
    for id in 0..10u64 {
        a.apply(&contract(
            "n1",
            id,
            "auction_opened",
            "ch-a",
            json!({"auction": id}),
        ));
        a.apply(&contract(
            "n1",
            id,
            "auction_settled",
            "ch-a",
            json!({"auction": id, "winner": null}),
        ));
        a.apply(&contract(
            "n1",
            id,
            "lease_granted",
            &format!("ch-{id}"),
            json!({"holder": "mo"}),
        ));
        a.apply(&contract(
            "n1",
            id,
            "lease_expired",
            &format!("ch-{id}"),
            json!({"holder": "mo"}),
        ));
    }
    let s = a.snapshot();
    // The latest ended one per channel plus at most two more.
    assert_eq!(
        s.auctions.iter().map(|r| r.round).collect::<Vec<_>>(),
        vec![9, 8, 7]
    );
    assert_eq!(s.leases.len(), 1);
    assert_eq!(s.leases[0].channel, "ch-9");
}

#[test]
fn channels_spectra_and_waterfall_rows() {
    let mut a = Aggregator::new(AggregatorConfig {
        primary: Some("n1".into()),
        keep_rows: true,
        max_pending_rows: 2,
        ..AggregatorConfig::default()
    });
    let spans = vec![
        ChannelSpan {
            name: "ch-b".into(),
            low_hz: 600.0e6,
            high_hz: 600.4e6,
        },
        ChannelSpan {
            name: "ch-a".into(),
            low_hz: 599.0e6,
            high_hz: 599.4e6,
        },
    ];
    let mut psd = vec![-72.0f32; 5000];
    psd[1234] = -30.0;
    for t in 0..3u64 {
        a.apply(&NodeEvent::Psd {
            node: "n3".into(),
            at_ms: t * 100,
            center_hz: 600e6,
            rate_hz: 2.4e6,
            psd_db: psd.clone(),
            noise_db: vec![-72.0; 5000],
            channels: spans.clone(),
        });
    }
    for (node, busy, e) in [("n3", true, -50.0), ("n4", false, -71.0)] {
        a.apply(&NodeEvent::Decision {
            node: node.into(),
            at_ms: 300,
            round: 4,
            channel: "ch-a".into(),
            energy_dbfs: e,
            noise_dbfs: -72.0,
            threshold_dbfs: -69.0,
            busy,
        });
    }
    // An older round's decision does not replace a newer one.
    a.apply(&NodeEvent::Decision {
        node: "n3".into(),
        at_ms: 310,
        round: 3,
        channel: "ch-a".into(),
        energy_dbfs: -99.0,
        noise_dbfs: -72.0,
        threshold_dbfs: -69.0,
        busy: false,
    });
    a.apply(&contract(
        "n1",
        9,
        "fused",
        "ch-a",
        json!({"busy": true, "reports": 2}),
    ));
    let s = a.snapshot();
    assert_eq!(
        s.channels
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        vec!["ch-a", "ch-b"],
        "ordered by frequency"
    );
    let ch_a = &s.channels[0];
    assert!((ch_a.center_hz - 599.2e6).abs() < 1.0);
    assert!((ch_a.bandwidth_hz - 0.4e6).abs() < 1.0);
    assert_eq!((ch_a.fused, ch_a.round), (Some(true), Some(4)));
    let readings: Vec<(&str, bool, f32)> = ch_a
        .per_node
        .iter()
        .map(|r| (r.node.as_str(), r.busy, r.energy_db))
        .collect();
    assert_eq!(readings, vec![("n3", true, -50.0), ("n4", false, -71.0)]);
    let n3 = s.nodes.iter().find(|n| n.name == "n3").unwrap();
    let spec = n3.spectrum.as_ref().unwrap();
    assert_eq!(spec.psd_db.len(), tui::model::DEFAULT_BINS);
    assert_eq!(spec.noise_db.len(), tui::model::DEFAULT_BINS);
    assert!(spec.psd_db.contains(&-30.0), "the peak survives decimation");
    assert_eq!(
        (spec.center_hz, spec.span_hz, spec.at_ms),
        (600e6, 2.4e6, 200)
    );
    let edge = spec.channels.iter().find(|e| e.name == "ch-a").unwrap();
    assert_eq!(
        (edge.busy, edge.energy_db, edge.threshold_db),
        (Some(true), Some(-50.0), Some(-69.0))
    );
    assert!(n3.roles.contains(&tui::model::Role::Sensor));
    // Waterfall rows: the newest `max_pending_rows`, then nothing until new frames arrive.
    let rows = a.take_rows();
    let [Update::Rows { node, rows }] = rows.as_slice() else {
        panic!("{rows:?}")
    };
    assert_eq!(node, "n3");
    assert_eq!(
        rows.iter().map(|r| r.at_ms).collect::<Vec<_>>(),
        vec![100, 200]
    );
    assert!(a.take_rows().is_empty());
}

#[test]
fn status_names_the_primary_and_fills_its_row() {
    let mut a = Aggregator::new(AggregatorConfig::default());
    a.apply(&block("n9", 3, 3000, "0x03", 0));
    assert_eq!(a.primary(), Some("n9"), "the first node with chain events");
    a.apply_status(&NodeStatus {
        name: "n1".into(),
        roles: vec!["sensor".into(), "task_issuer".into(), "bogus".into()],
        height: 12,
        head_hash: "0x0c".into(),
        state_root: "0x00".into(),
        peers: vec!["n2".into()],
        trust: 0.7,
        balance: 55,
        last_decisions: vec![],
    });
    let s = a.snapshot();
    assert_eq!(s.node, "n1");
    let n1 = s.nodes.iter().find(|n| n.name == "n1").unwrap();
    assert_eq!((n1.height, n1.peers, n1.balance), (12, 1, 55));
    assert_eq!(
        n1.roles,
        vec![tui::model::Role::Sensor, tui::model::Role::TaskIssuer]
    );
    assert_eq!(n1.trust, Some(0.7));
    // No block events from n1 yet: the chain view falls back to the status.
    assert_eq!((s.chain.height, s.chain.head.as_str()), (12, "0x0c"));
}

#[test]
fn log_lines_are_sequenced_bounded_and_offline_nodes_marked() {
    let mut a = Aggregator::new(AggregatorConfig {
        primary: Some("n1".into()),
        log_lines: 3,
        offline_after_ms: 10_000,
        ..AggregatorConfig::default()
    });
    for (i, level) in ["info", "warn", "error", "debug", "shout"]
        .iter()
        .enumerate()
    {
        a.apply(&NodeEvent::Log {
            node: "n2".into(),
            at_ms: i as u64,
            level: (*level).into(),
            text: format!("line {i}"),
        });
    }
    a.apply(&NodeEvent::Log {
        node: "n1".into(),
        at_ms: 20_000,
        level: "info".into(),
        text: "late".into(),
    });
    let s = a.snapshot();
    let got: Vec<(u64, Level, &str)> = s
        .log
        .iter()
        .map(|l| (l.seq, l.level, l.text.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (4, Level::Debug, "n2: line 3"),
            (5, Level::Info, "n2: line 4"),
            (6, Level::Info, "n1: late")
        ]
    );
    let online = |name: &str| s.nodes.iter().find(|n| n.name == name).unwrap().online;
    assert!(online("n1"));
    assert!(!online("n2"), "silent for 16 s of event time");
}

#[test]
fn snapshot_is_a_valid_dashboard_update() {
    let mut a = agg();
    a.apply(&block("n1", 1, 0, "0x01", 0));
    a.apply(&trust("n1", "n1", 0.5));
    a.apply(&contract(
        "n1",
        1,
        "lease_granted",
        "ch-a",
        json!({"holder": "mo-a", "price": 3}),
    ));
    let snap = a.snapshot();
    let line = serde_json::to_string(&Update::Snapshot(Box::new(snap.clone()))).unwrap();
    let back: Update = serde_json::from_str(&line).unwrap();
    assert_eq!(back, Update::Snapshot(Box::new(snap)));
}

#[test]
fn addresses_are_shown_by_the_names_the_node_gave() {
    let mut a = agg();
    // Learned from an event whose one-liner starts with its actor's name...
    a.apply(&NodeEvent::Contract {
        node: "n1".into(),
        at_ms: 1,
        height: 1,
        kind: "registered".into(),
        channel: Some("ch-a".into()),
        text: "n6 registered for task 1".into(),
        detail: json!({"account": "0xabc", "task": 1}),
    });
    // ... or from an explicit map.
    a.apply(&contract(
        "n1",
        2,
        "auction_opened",
        "ch-a",
        json!({"auction": 1, "commit_end": 3, "reveal_end": 4}),
    ));
    a.apply(&contract(
        "n1",
        5,
        "auction_settled",
        "ch-a",
        json!({"auction": 1, "winner": "0xdef", "price": 9, "names": {"0xdef": "mo-b"}}),
    ));
    a.apply(&contract(
        "n1",
        5,
        "lease_granted",
        "ch-a",
        json!({"holder": "0xabc", "start": 6, "expires": 9}),
    ));
    a.apply(&contract(
        "n1",
        6,
        "selected",
        "ch-b",
        json!({"sensors": ["0xabc", "0x999"]}),
    ));
    // Unknown addresses stay as they are.
    a.apply(&contract(
        "n1",
        6,
        "lease_granted",
        "ch-b",
        json!({"holder": "0x777", "start": 6, "expires": 9}),
    ));
    a.apply(&trust("n1", "n6", 0.5));
    let s = a.snapshot();
    assert_eq!(s.auctions[0].winner.as_deref(), Some("mo-b"));
    let holders: Vec<&str> = s.leases.iter().map(|l| l.holder.as_str()).collect();
    assert_eq!(holders, vec!["n6", "0x777"]);
    assert!(s.trust.iter().find(|t| t.node == "n6").unwrap().selected);
}

/// A real simulation (the embedded default testbed, a few rounds) fed into the aggregator:
/// contract events carry `detail.names` for the addresses they mention, and the dashboard's
/// leases and trust rows show node names, never raw addresses.
#[test]
fn a_real_run_names_accounts_in_contract_events_and_the_dashboard() {
    use std::sync::{Arc, Mutex};
    use trustband::demo::{RunArgs, RunHooks, run_with};

    let args = RunArgs {
        config: None,
        rounds: 6,
        seed: 1,
        headless: true,
        summary: None,
    };
    let testbed = trustband::demo::load_testbed(&args).unwrap();
    let node_names: Vec<String> = testbed.nodes.iter().map(|n| n.name.clone()).collect();
    let aggregator = Arc::new(Mutex::new(agg()));
    let named = Arc::new(Mutex::new((0usize, Vec::<String>::new())));
    let (a, n) = (Arc::clone(&aggregator), Arc::clone(&named));
    let sink = move |event: NodeEvent| {
        if let NodeEvent::Contract { detail, .. } = &event
            && let Some(map) = detail.get("names").and_then(serde_json::Value::as_object)
        {
            let mut n = n.lock().unwrap();
            n.0 += 1;
            for (addr, name) in map {
                assert!(addr.starts_with("0x"), "{detail}");
                n.1.push(name.as_str().unwrap().to_owned());
            }
        }
        a.lock().unwrap().apply(&event);
    };
    let hooks = RunHooks {
        events: Some(Box::new(sink)),
        progress: Some(Box::new(|_| {})),
        pace: None,
    };
    run_with(&args, hooks).unwrap();
    let (count, names) = named.lock().unwrap().clone();
    assert!(count > 0, "no contract event carried names");
    for name in &names {
        assert!(
            node_names.contains(name),
            "{name} is not a node of the testbed"
        );
    }
    let snap = aggregator.lock().unwrap().snapshot();
    assert!(
        !snap.leases.is_empty(),
        "no lease in {} rounds",
        args.rounds
    );
    for lease in &snap.leases {
        assert!(node_names.contains(&lease.holder), "{lease:?}");
    }
    for row in &snap.trust {
        assert!(!row.node.starts_with("0x"), "{row:?}");
    }
}
