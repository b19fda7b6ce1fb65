//! The simulated network: same seed, same run byte for byte; loss within binomial tolerance;
//! latency within its bounds; partitions block delivery (even in flight) and healing resumes
//! it; garbage from a peer is dropped, scored and banned without disturbing the others;
//! request-response sync with timeouts; nodes on both sides of a healed partition converge on
//! one head by syncing blocks over the network.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use chain::codec::Encode;
use chain::devnet::{Devnet, produce_block};
use chain::net::sim::{
    DropCause, FrameKind, Latency, NodeId, Partition, SimConfig, SimNetwork, TraceEvent,
};
use chain::net::{
    NetEvent, NetMessage, Network, Offence, RequestFailure, ScoreConfig, SyncRequest, SyncResponse,
    Topic,
};
use chain::params::Genesis;
use chain::tree::InsertStatus;
use chain::{Block, BlockTree, ChainParams, Error, State, TreeConfig, Verification};
use fusion::Fx;

const N0: NodeId = NodeId(0);
const N1: NodeId = NodeId(1);
const N2: NodeId = NodeId(2);
const N3: NodeId = NodeId(3);

fn devnet(accounts: usize) -> (Devnet, Genesis) {
    let params = ChainParams {
        block_reward: 0,
        retarget_interval: 1_000_000,
        checkpoint_interval: 0,
        ..ChainParams::default()
    };
    let net = Devnet::new(accounts, 1_000_000, |_| Fx::HALF, 1, 1_000_000, params).unwrap();
    let genesis = net.genesis.build().unwrap();
    (net, genesis)
}

/// `n` empty blocks mined by `miner` on top of `parent`, 1 s apart (plus `skew_ms`).
fn extend(
    net: &Devnet,
    genesis: &Genesis,
    parent: (&State, chain::Hash256),
    miner: usize,
    n: usize,
    skew_ms: u64,
) -> Vec<(Block, State)> {
    let (mut state, mut hash) = (parent.0.clone(), parent.1);
    let mut out = Vec::new();
    for _ in 0..n {
        let (block, template) = produce_block(
            &state,
            hash,
            net.key(miner).unwrap(),
            state.meta.timestamp_ms + 1000 + skew_ms,
            &[],
            &genesis.params,
            Verification::Full { threads: 1 },
        )
        .unwrap();
        hash = block.hash();
        state = template.post_state.clone();
        out.push((block, template.post_state));
    }
    out
}

fn config(nodes: usize, seed: u64) -> SimConfig {
    SimConfig {
        nodes,
        seed,
        latency: Latency {
            base_ms: 20,
            jitter_ms: 10,
        },
        loss: 0.0,
        request_timeout_ms: 500,
        scoring: ScoreConfig::default(),
    }
}

fn drain(sim: &mut SimNetwork, node: NodeId) -> Vec<NetEvent<NodeId>> {
    std::iter::from_fn(|| sim.poll_event(node)).collect()
}

fn messages(events: &[NetEvent<NodeId>]) -> Vec<(NodeId, NetMessage)> {
    events
        .iter()
        .filter_map(|e| match e {
            NetEvent::Message { from, msg } => Some((*from, msg.clone())),
            _ => None,
        })
        .collect()
}

/// A busy scenario: 5 nodes, 10 % loss, every node gossips a transaction every 50 ms, node 4
/// asks node 0 for its head every 100 ms and node 0 answers, a partition at 400 ms healed at
/// 900 ms.
fn busy_run(seed: u64) -> SimNetwork {
    let (net, _) = devnet(5);
    let mut sim = SimNetwork::new(SimConfig {
        loss: 0.1,
        ..config(5, seed)
    })
    .unwrap();
    sim.schedule_partition(400, Partition::groups(vec![vec![N0, N1], vec![N2]]))
        .unwrap();
    sim.schedule_partition(900, Partition::healed()).unwrap();
    let mut nonce = [0u64; 5];
    for t in (0..1200).step_by(50) {
        sim.run_until(t);
        for (i, nonce) in nonce.iter_mut().enumerate() {
            let node = NodeId(u32::try_from(i).unwrap());
            let tx = net.transfer(i, (i + 1) % 5, *nonce, 1, 1).unwrap();
            *nonce += 1;
            sim.publish(node, &NetMessage::Tx(tx)).unwrap();
            for event in drain(&mut sim, node) {
                if let NetEvent::Request { reply, .. } = event {
                    let head = chain::net::HeadInfo {
                        height: t,
                        hash: chain::Hash256([7; 32]),
                        work: u128::from(t),
                    };
                    sim.respond(node, reply, &SyncResponse::Head(head)).unwrap();
                }
            }
        }
        if t % 100 == 0 {
            sim.request(NodeId(4), N0, SyncRequest::Head).unwrap();
        }
    }
    sim.run_until(3000);
    sim
}

#[test]
fn same_seed_gives_the_same_trace_byte_for_byte() {
    let a = busy_run(42);
    let b = busy_run(42);
    assert!(
        a.trace().len() > 600,
        "trace too short: {}",
        a.trace().len()
    );
    assert_eq!(a.trace_bytes(), b.trace_bytes());
    assert_eq!(a.trace(), b.trace());
    assert_eq!(a.stats(), b.stats());
    // Every kind of outcome happened, so the comparison covers them all.
    let stats = a.stats();
    assert!(stats.lost > 0 && stats.partitioned > 0 && stats.delivered > 0);
    // Another seed gives another run.
    let c = busy_run(43);
    assert_ne!(a.trace_bytes(), c.trace_bytes());
}

#[test]
fn loss_rate_is_within_binomial_tolerance() {
    // 2 nodes, p = 0.25, n = 8000 frames: delivered ~ Binomial(8000, 0.75), mean 6000,
    // sd = sqrt(8000 * 0.25 * 0.75) = 38.7. Tolerance: 4 sd (two-sided p about 6e-5).
    let (net, _) = devnet(2);
    let tx = net.transfer(0, 1, 0, 1, 1).unwrap();
    let bytes = NetMessage::Tx(tx).to_bytes();
    for seed in [1u64, 2, 3] {
        let mut sim = SimNetwork::new(SimConfig {
            loss: 0.25,
            ..config(2, seed)
        })
        .unwrap();
        for _ in 0..8000 {
            sim.publish_raw(N0, Topic::Tx, bytes.clone()).unwrap();
        }
        sim.run_until(10_000);
        let stats = sim.stats();
        assert_eq!(stats.sent, 8000);
        assert_eq!(stats.lost + stats.delivered, 8000);
        let delivered = i64::try_from(stats.delivered).unwrap();
        assert!(
            (delivered - 6000).abs() <= 155,
            "seed {seed}: delivered {delivered}, expected 6000 +- 155"
        );
        assert_eq!(
            messages(&drain(&mut sim, N1)).len(),
            usize::try_from(stats.delivered).unwrap()
        );
    }
    // The extremes are exact.
    for (loss, expected) in [(0.0, 500u64), (1.0, 0)] {
        let mut sim = SimNetwork::new(SimConfig {
            loss,
            ..config(2, 9)
        })
        .unwrap();
        for _ in 0..500 {
            sim.publish_raw(N0, Topic::Tx, bytes.clone()).unwrap();
        }
        sim.run_until(10_000);
        assert_eq!(sim.stats().delivered, expected, "loss {loss}");
    }
    assert!(matches!(
        SimNetwork::new(SimConfig {
            loss: 1.5,
            ..config(2, 0)
        }),
        Err(Error::InvalidConfig {
            field: "sim.loss",
            ..
        })
    ));
}

#[test]
fn latency_stays_within_base_plus_jitter() {
    let (net, _) = devnet(3);
    let mut sim = SimNetwork::new(SimConfig {
        latency: Latency {
            base_ms: 40,
            jitter_ms: 10,
        },
        ..config(3, 5)
    })
    .unwrap();
    let tx = net.transfer(0, 1, 0, 1, 1).unwrap();
    for t in 0..1000u64 {
        sim.run_until(t);
        sim.publish(N0, &NetMessage::Tx(tx.clone())).unwrap();
    }
    sim.run_until(5000);
    let latencies: Vec<u64> = sim
        .trace()
        .iter()
        .filter_map(|e| match e.event {
            TraceEvent::Delivered { sent_at_ms, .. } => Some(e.at_ms - sent_at_ms),
            _ => None,
        })
        .collect();
    assert_eq!(latencies.len(), 2000);
    assert!(latencies.iter().all(|&l| (40..=50).contains(&l)));
    // Both ends of the jitter range occur (each is missed with probability (10/11)^2000).
    assert_eq!(latencies.iter().min(), Some(&40));
    assert_eq!(latencies.iter().max(), Some(&50));
    // Events are processed in time order.
    let times: Vec<u64> = sim.trace().iter().map(|e| e.at_ms).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn partition_blocks_delivery_and_healing_resumes_it() {
    let (net, _) = devnet(4);
    let mut sim = SimNetwork::new(config(4, 11)).unwrap();
    for node in sim.node_ids().collect::<Vec<_>>() {
        assert_eq!(
            drain(&mut sim, node).len(),
            3,
            "initial PeerConnected events"
        );
    }
    sim.schedule_partition(100, Partition::groups(vec![vec![N0, N1], vec![N2, N3]]))
        .unwrap();
    sim.schedule_partition(300, Partition::healed()).unwrap();
    let tx = |nonce| NetMessage::Tx(net.transfer(0, 1, nonce, 1, 1).unwrap());

    // Sent at 90 ms, due at 110-120 ms: the partition at 100 ms cuts it in flight for 2 and 3.
    sim.run_until(90);
    sim.publish(N0, &tx(0)).unwrap();
    sim.run_until(150);
    assert_eq!(messages(&drain(&mut sim, N1)).len(), 1);
    for node in [N2, N3] {
        let events = drain(&mut sim, node);
        assert!(messages(&events).is_empty());
        assert!(events.contains(&NetEvent::PeerDisconnected { peer: N0 }));
        assert!(events.contains(&NetEvent::PeerDisconnected { peer: N1 }));
        assert!(!events.contains(&NetEvent::PeerDisconnected { peer: N2 }));
    }
    let in_flight_cuts = sim
        .trace()
        .iter()
        .filter(|e| {
            matches!(
                e.event,
                TraceEvent::Dropped {
                    cause: DropCause::Partitioned,
                    ..
                }
            ) && e.at_ms > 100
        })
        .count();
    assert_eq!(in_flight_cuts, 2);

    // During the partition: only the own side hears.
    sim.run_until(200);
    sim.publish(N0, &tx(1)).unwrap();
    sim.publish(N3, &tx(2)).unwrap();
    sim.run_until(299);
    assert_eq!(messages(&drain(&mut sim, N1)).len(), 1);
    let at2 = messages(&drain(&mut sim, N2));
    assert_eq!(at2.len(), 1);
    assert_eq!(at2[0].0, N3);
    assert!(!sim.connected(N0, N2));

    // Healed: connections come back and everyone hears everyone.
    sim.run_until(300);
    let events = drain(&mut sim, N2);
    assert!(events.contains(&NetEvent::PeerConnected { peer: N0 }));
    assert!(events.contains(&NetEvent::PeerConnected { peer: N1 }));
    sim.publish(N0, &tx(3)).unwrap();
    sim.run_until(400);
    for node in [N1, N2, N3] {
        assert_eq!(messages(&drain(&mut sim, node)).len(), 1, "{node}");
    }
    assert!(sim.connected(N0, N3));
}

#[test]
fn garbage_is_dropped_scored_and_banned_without_harming_the_rest() {
    let (net, _) = devnet(4);
    let mut sim = SimNetwork::new(SimConfig {
        scoring: ScoreConfig {
            ban_ms: 1000,
            ..ScoreConfig::default()
        },
        ..config(4, 3)
    })
    .unwrap();
    for node in sim.node_ids().collect::<Vec<_>>() {
        drain(&mut sim, node);
    }
    // Node 3 sends garbage on the block topic, and a transaction on the block topic.
    sim.publish_raw(N3, Topic::Block, vec![0xde, 0xad, 0xbe, 0xef])
        .unwrap();
    sim.run_until(100);
    for node in [N0, N1, N2] {
        let events = drain(&mut sim, node);
        assert_eq!(events.len(), 1, "{node}: {events:?}");
        let NetEvent::Misbehaviour {
            peer,
            reason,
            score,
            banned,
        } = &events[0]
        else {
            panic!("{node}: expected misbehaviour, got {events:?}");
        };
        assert_eq!(*peer, N3);
        assert_eq!(
            *reason,
            Offence::MalformedMessage(Error::UnsupportedVersion {
                field: "net.message",
                got: 0xde,
                supported: 1
            })
        );
        assert_eq!((*score, *banned), (-50, false));
    }
    let tx = NetMessage::Tx(net.transfer(3, 0, 0, 1, 1).unwrap());
    sim.publish_raw(N3, Topic::Block, tx.to_bytes()).unwrap();
    sim.run_until(200);
    let events = drain(&mut sim, N0);
    assert!(matches!(
        &events[0],
        NetEvent::Misbehaviour {
            peer: N3,
            reason: Offence::MalformedMessage(Error::WrongTopic { .. }),
            score: -100,
            banned: true,
        }
    ));
    assert!(events.contains(&NetEvent::PeerDisconnected { peer: N3 }));
    assert!(drain(&mut sim, N3).contains(&NetEvent::PeerDisconnected { peer: N0 }));
    assert!(!sim.connected(N0, N3));
    assert_eq!(sim.score(N0, N3), -100);

    // Banned: even valid messages from node 3 are dropped; the others still talk.
    sim.publish(N3, &tx).unwrap();
    sim.publish(N1, &NetMessage::Tx(net.transfer(1, 0, 0, 1, 1).unwrap()))
        .unwrap();
    sim.run_until(300);
    let at0 = messages(&drain(&mut sim, N0));
    assert_eq!(at0.len(), 1);
    assert_eq!(at0[0].0, N1);
    assert!(sim.stats().banned >= 3);

    // The ban ends after 1 s: the peer reconnects and is heard again.
    sim.run_until(1200);
    assert!(drain(&mut sim, N0).contains(&NetEvent::PeerConnected { peer: N3 }));
    sim.publish(N3, &tx).unwrap();
    sim.run_until(1300);
    assert_eq!(messages(&drain(&mut sim, N0)).len(), 1);
}

#[test]
fn requests_get_responses_timeouts_and_malformed_answers_are_reported() {
    let (net, genesis) = devnet(2);
    let chain = extend(&net, &genesis, (&genesis.state, genesis.hash), 0, 6, 0);
    let blocks: Vec<Block> = chain.iter().map(|(b, _)| b.clone()).collect();
    let mut sim = SimNetwork::new(config(3, 8)).unwrap();
    for node in sim.node_ids().collect::<Vec<_>>() {
        drain(&mut sim, node);
    }

    // Node 1 syncs blocks 2.. from node 0 through the Network trait.
    let id = sim
        .endpoint(N1)
        .unwrap()
        .request(&N0, SyncRequest::BlocksFrom { height: 2, max: 3 })
        .unwrap();
    sim.run_until(50);
    let mut ep0 = sim.endpoint(N0).unwrap();
    let Some(NetEvent::Request { from, req, reply }) = ep0.poll_event() else {
        panic!("no request");
    };
    assert_eq!(
        (from, req),
        (N1, SyncRequest::BlocksFrom { height: 2, max: 3 })
    );
    ep0.respond(
        reply,
        SyncResponse::Blocks {
            head_height: 6,
            blocks: blocks[1..4].to_vec(),
        },
    )
    .unwrap();
    // A reply handle is used once.
    assert_eq!(
        ep0.respond(reply, SyncResponse::Block(None)),
        Err(Error::UnknownReply { handle: reply.0 })
    );
    sim.run_until(100);
    let got = sim.endpoint(N1).unwrap().poll_event();
    assert_eq!(
        got,
        Some(NetEvent::Response {
            from: N0,
            id,
            resp: SyncResponse::Blocks {
                head_height: 6,
                blocks: blocks[1..4].to_vec()
            }
        })
    );

    // A request to a partitioned node times out exactly request_timeout_ms later.
    sim.schedule_partition(100, Partition::groups(vec![vec![N2]]))
        .unwrap();
    sim.run_until(100);
    drain(&mut sim, N1);
    let lost = sim.request(N1, N2, SyncRequest::Head).unwrap();
    sim.run_until(599);
    assert!(drain(&mut sim, N1).is_empty());
    sim.run_until(600);
    assert_eq!(
        drain(&mut sim, N1),
        vec![NetEvent::RequestFailed {
            peer: N2,
            id: lost,
            reason: RequestFailure::Timeout
        }]
    );

    // A malformed response fails the request and penalises the responder.
    let id = sim.request(N1, N0, SyncRequest::Checkpoint).unwrap();
    sim.run_until(700);
    let reply = drain(&mut sim, N0)
        .into_iter()
        .find_map(|e| match e {
            NetEvent::Request { reply, .. } => Some(reply),
            _ => None,
        })
        .expect("no request");
    sim.respond_raw(N0, reply, vec![1, 0x22, 7]).unwrap();
    sim.run_until(800);
    let events = drain(&mut sim, N1);
    assert!(matches!(
        &events[0],
        NetEvent::RequestFailed {
            peer: N0,
            id: got,
            reason: RequestFailure::Malformed(Error::UnknownTag { .. })
        } if *got == id
    ));
    assert!(matches!(
        &events[1],
        NetEvent::Misbehaviour {
            peer: N0,
            reason: Offence::MalformedResponse(_),
            ..
        }
    ));
    // A malformed request penalises the requester at the responder, which never sees it.
    sim.request_raw(N1, N0, vec![1, 0x10, 0]).unwrap();
    sim.run_until(900);
    assert!(matches!(
        drain(&mut sim, N0).as_slice(),
        [NetEvent::Misbehaviour {
            peer: N1,
            reason: Offence::MalformedRequest(Error::Truncated { .. }),
            ..
        }]
    ));
    // Unknown peers are refused.
    assert!(matches!(
        sim.request(N1, NodeId(9), SyncRequest::Head),
        Err(Error::UnknownPeer { .. })
    ));
    assert!(sim.request(N1, N1, SyncRequest::Head).is_err());
    assert!(sim.trace().iter().any(|e| matches!(
        e.event,
        TraceEvent::Sent {
            frame: FrameKind::Request(_),
            ..
        }
    )));
}

/// A minimal sync node over the `Network` trait: files gossiped blocks in its tree, asks a
/// newly connected peer (and the sender of a block whose parent it lacks) for its blocks,
/// retries failed requests while the peer is connected, answers `BlocksFrom` from its best
/// chain.
struct SyncNode {
    tree: BlockTree,
    peers: std::collections::BTreeSet<NodeId>,
}

const ALL_BLOCKS: SyncRequest = SyncRequest::BlocksFrom {
    height: 1,
    max: 256,
};

impl SyncNode {
    fn handle(&mut self, net: &mut impl Network<Peer = NodeId>) {
        while let Some(event) = net.poll_event() {
            match event {
                NetEvent::Message {
                    from,
                    msg: NetMessage::Block(block),
                } => {
                    let outcome = self.tree.insert(block, None).unwrap();
                    if matches!(outcome.status, InsertStatus::Orphaned { .. }) {
                        net.request(&from, ALL_BLOCKS).unwrap();
                    }
                }
                NetEvent::PeerConnected { peer } => {
                    self.peers.insert(peer);
                    net.request(&peer, ALL_BLOCKS).unwrap();
                }
                NetEvent::PeerDisconnected { peer } => {
                    self.peers.remove(&peer);
                }
                NetEvent::RequestFailed { peer, .. } if self.peers.contains(&peer) => {
                    net.request(&peer, ALL_BLOCKS).unwrap();
                }
                NetEvent::Request {
                    req: SyncRequest::BlocksFrom { height, max },
                    reply,
                    ..
                } => {
                    let blocks = self
                        .tree
                        .best_chain()
                        .iter()
                        .filter_map(|h| self.tree.block(h))
                        .filter(|b| b.header.height >= height)
                        .take(usize::try_from(max).unwrap())
                        .map(|b| (*b).clone())
                        .collect();
                    let resp = SyncResponse::Blocks {
                        head_height: self.tree.head_height(),
                        blocks,
                    };
                    net.respond(reply, resp).unwrap();
                }
                NetEvent::Response {
                    resp: SyncResponse::Blocks { blocks, .. },
                    ..
                } => {
                    for block in blocks {
                        let _ = self.tree.insert(block, None);
                    }
                }
                _ => {}
            }
        }
    }
}

#[test]
fn nodes_converge_on_one_head_after_a_partition_heals() {
    let (net, genesis) = devnet(4);
    let mut sim = SimNetwork::new(SimConfig {
        loss: 0.05,
        ..config(4, 21)
    })
    .unwrap();
    let mut nodes: Vec<SyncNode> = (0..4)
        .map(|_| SyncNode {
            tree: BlockTree::new(&genesis, TreeConfig::default()),
            peers: std::collections::BTreeSet::new(),
        })
        .collect();
    sim.schedule_partition(10, Partition::groups(vec![vec![N0, N1], vec![N2, N3]]))
        .unwrap();
    sim.schedule_partition(5_000, Partition::healed()).unwrap();
    // Each side mines its own fork: node 0 mines 4 blocks, node 2 mines 3.
    let a = extend(&net, &genesis, (&genesis.state, genesis.hash), 0, 4, 0);
    let b = extend(&net, &genesis, (&genesis.state, genesis.hash), 2, 3, 7);
    let mut schedule: BTreeMap<u64, (NodeId, Block)> = BTreeMap::new();
    for (i, (block, _)) in a.iter().enumerate() {
        schedule.insert(100 + 500 * i as u64, (N0, block.clone()));
    }
    for (i, (block, _)) in b.iter().enumerate() {
        schedule.insert(120 + 500 * i as u64, (N2, block.clone()));
    }
    let mut t = 0;
    while t <= 8_000 {
        sim.run_until(t);
        if let Some((miner, block)) = schedule.remove(&t) {
            let _ = nodes[miner.0 as usize].tree.insert(block.clone(), None);
            sim.publish(miner, &NetMessage::Block(block)).unwrap();
        }
        for (i, node) in nodes.iter_mut().enumerate() {
            let mut ep = sim.endpoint(NodeId(u32::try_from(i).unwrap())).unwrap();
            node.handle(&mut ep);
        }
        t += 10;
    }
    let heads: Vec<_> = nodes.iter().map(|n| n.tree.head()).collect();
    assert!(
        heads.iter().all(|h| *h == heads[0]),
        "heads differ: {heads:?}"
    );
    // The longer fork (4 blocks of equal nominal work) wins everywhere.
    assert_eq!(heads[0], a[3].0.hash());
    assert!(nodes.iter().all(|n| n.tree.head_height() == 4));
}
