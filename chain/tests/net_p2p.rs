//! The libp2p transport on 127.0.0.1 (ports picked by the OS): three nodes mesh and gossip a
//! block; request-response syncs a range of blocks into a fresh tree; a peer publishing garbage
//! on the block topic is rejected, scored down, reported and banned while the victim keeps
//! working; shutdown ends the task and releases the port; a 2-node lab publishes at once
//! without stalling. Every wait is bounded; every test stops its nodes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chain::devnet::{Devnet, produce_block};
use chain::net::p2p::{
    CancellationToken, Multiaddr, P2pConfig, P2pNode, PeerId, PublishOutcome, identity,
};
use chain::net::{NetEvent, NetMessage, Network, Offence, SyncRequest, SyncResponse, Topic};
use chain::params::Genesis;
use chain::{Block, BlockTree, ChainParams, Error, TreeConfig, Verification};
use fusion::Fx;
use libp2p::multiaddr::Protocol;
use tokio::time::timeout;

/// Longest wait for any one network event.
const WAIT: Duration = Duration::from_secs(20);

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

fn chain_of(net: &Devnet, genesis: &Genesis, n: usize) -> Vec<Block> {
    let mut state = genesis.state.clone();
    let mut parent = genesis.hash;
    let mut blocks = Vec::new();
    for _ in 0..n {
        let (block, template) = produce_block(
            &state,
            parent,
            net.key(0).unwrap(),
            state.meta.timestamp_ms + 1000,
            &[],
            &genesis.params,
            Verification::Full { threads: 1 },
        )
        .unwrap();
        parent = block.hash();
        state = template.post_state;
        blocks.push(block);
    }
    blocks
}

fn config(peers: Vec<Multiaddr>) -> P2pConfig {
    P2pConfig {
        peers,
        redial_min: Duration::from_millis(200),
        ..P2pConfig::localhost()
    }
}

async fn start(net: &Devnet, i: usize, peers: Vec<Multiaddr>, stop: &CancellationToken) -> P2pNode {
    P2pNode::start(net.key(i).unwrap(), config(peers), stop.child_token())
        .await
        .unwrap()
}

fn addr(node: &P2pNode) -> Multiaddr {
    node.handle().listen_addrs()[0].clone()
}

/// Waits (bounded) for the first event satisfying `pick`, skipping others.
async fn wait_for<T>(
    node: &mut P2pNode,
    what: &str,
    mut pick: impl FnMut(NetEvent<PeerId>) -> Option<T>,
) -> T {
    let found = timeout(WAIT, async {
        loop {
            let event = node.next_event().await.expect("p2p task ended");
            if let Some(found) = pick(event) {
                return found;
            }
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

async fn wait_connected(node: &mut P2pNode, peers: &[PeerId]) {
    let mut missing: Vec<PeerId> = peers.to_vec();
    while !missing.is_empty() {
        let peer = wait_for(node, "peer connections", |e| match e {
            NetEvent::PeerConnected { peer } => Some(peer),
            _ => None,
        })
        .await;
        missing.retain(|p| *p != peer);
    }
}

async fn wait_block(node: &mut P2pNode) -> (PeerId, Block) {
    wait_for(node, "a block", |e| match e {
        NetEvent::Message {
            from,
            msg: NetMessage::Block(block),
        } => Some((from, block)),
        _ => None,
    })
    .await
}

async fn stop_all(stop: CancellationToken, nodes: Vec<P2pNode>) {
    stop.cancel();
    for node in nodes {
        timeout(WAIT, node.join()).await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn three_nodes_mesh_and_gossip_a_block() {
    let (net, genesis) = devnet(3);
    let blocks = chain_of(&net, &genesis, 1);
    let stop = CancellationToken::new();
    let mut n0 = start(&net, 0, vec![], &stop).await;
    let mut n1 = start(&net, 1, vec![addr(&n0)], &stop).await;
    let mut n2 = start(&net, 2, vec![addr(&n0), addr(&n1)], &stop).await;
    let ids: Vec<PeerId> = [&n0, &n1, &n2]
        .iter()
        .map(|n| n.handle().local_peer_id())
        .collect();
    // Peer ids are the chain keys.
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(identity::chain_address(id), Some(net.address(i).unwrap()));
    }
    wait_connected(&mut n0, &[ids[1], ids[2]]).await;
    wait_connected(&mut n1, &[ids[0], ids[2]]).await;
    wait_connected(&mut n2, &[ids[0], ids[1]]).await;

    let outcome = n2
        .handle()
        .publish(&NetMessage::Block(blocks[0].clone()))
        .await
        .unwrap();
    assert!(matches!(
        outcome,
        PublishOutcome::Sent | PublishOutcome::Queued
    ));
    for node in [&mut n0, &mut n1] {
        let (_, block) = wait_block(node).await;
        assert_eq!(block, blocks[0]);
    }
    // The same block again is one gossip message (content-addressed id).
    assert_eq!(
        n2.handle()
            .publish(&NetMessage::Block(blocks[0].clone()))
            .await
            .unwrap(),
        PublishOutcome::AlreadyKnown
    );
    // A transaction through the non-blocking Network interface.
    let tx = net.transfer(1, 2, 0, 5, 1).unwrap();
    Network::publish(&mut n1, &NetMessage::Tx(tx.clone())).unwrap();
    let got = wait_for(&mut n0, "a transaction", |e| match e {
        NetEvent::Message {
            msg: NetMessage::Tx(tx),
            ..
        } => Some(tx),
        _ => None,
    })
    .await;
    assert_eq!(got, tx);
    let stats = n0.handle().stats().await.unwrap();
    assert_eq!(stats.connected.len(), 2);
    assert!(stats.gossip_scores.iter().all(|(_, s)| *s >= 0.0));
    stop_all(stop, vec![n0, n1, n2]).await;
}

#[tokio::test]
async fn request_response_syncs_a_range_of_blocks() {
    let (net, genesis) = devnet(2);
    let blocks = chain_of(&net, &genesis, 6);
    let stop = CancellationToken::new();
    let server = start(&net, 0, vec![], &stop).await;
    let server_id = server.handle().local_peer_id();
    let mut client = start(&net, 1, vec![addr(&server)], &stop).await;

    // The server answers from its chain until the test stops it.
    let (handle, mut events, task) = server.into_parts();
    let chain = blocks.clone();
    let responder = tokio::spawn(async move {
        let mut served = 0;
        while let Some(event) = events.recv().await {
            let NetEvent::Request { req, reply, .. } = event else {
                continue;
            };
            let resp = match req {
                SyncRequest::BlocksFrom { height, max } => SyncResponse::Blocks {
                    head_height: 6,
                    blocks: chain
                        .iter()
                        .filter(|b| b.header.height >= height)
                        .take(usize::try_from(max).unwrap())
                        .cloned()
                        .collect(),
                },
                SyncRequest::BlockByHash(hash) => {
                    SyncResponse::Block(chain.iter().find(|b| b.hash() == hash).cloned())
                }
                _ => SyncResponse::Checkpoint(None),
            };
            handle.respond(reply, &resp).await.unwrap();
            served += 1;
            // A reply handle answers once.
            assert!(matches!(
                handle.respond(reply, &resp).await,
                Err(Error::UnknownReply { .. })
            ));
        }
        served
    });

    wait_connected(&mut client, &[server_id]).await;
    let mut tree = BlockTree::new(&genesis, TreeConfig::default());
    let mut next = 1;
    while next <= 6 {
        let id = client
            .handle()
            .request(
                server_id,
                SyncRequest::BlocksFrom {
                    height: next,
                    max: 4,
                },
            )
            .await
            .unwrap();
        let resp = wait_for(&mut client, "a sync response", |e| match e {
            NetEvent::Response {
                from,
                id: got,
                resp,
            } if got == id => {
                assert_eq!(from, server_id);
                Some(resp)
            }
            NetEvent::RequestFailed { reason, .. } => panic!("request failed: {reason}"),
            _ => None,
        })
        .await;
        let SyncResponse::Blocks { blocks, .. } = resp else {
            panic!("unexpected response {resp:?}");
        };
        assert!(!blocks.is_empty() && blocks.len() <= 4);
        for block in blocks {
            next = block.header.height + 1;
            tree.insert(block, None).unwrap();
        }
    }
    assert_eq!(tree.head(), blocks[5].hash());
    assert_eq!(tree.head_height(), 6);

    // One block by hash, through the non-blocking interface.
    let id = Network::request(
        &mut client,
        &server_id,
        SyncRequest::BlockByHash(blocks[2].hash()),
    )
    .unwrap();
    let resp = wait_for(&mut client, "a block response", |e| match e {
        NetEvent::Response { id: got, resp, .. } if got == id => Some(resp),
        _ => None,
    })
    .await;
    assert_eq!(resp, SyncResponse::Block(Some(blocks[2].clone())));

    stop.cancel();
    timeout(WAIT, task).await.unwrap().unwrap();
    let served = timeout(WAIT, responder).await.unwrap().unwrap();
    assert_eq!(served, 3);
    timeout(WAIT, client.join()).await.unwrap().unwrap();
}

#[tokio::test]
async fn garbage_on_the_block_topic_is_rejected_scored_and_banned() {
    let (net, genesis) = devnet(3);
    let blocks = chain_of(&net, &genesis, 1);
    let stop = CancellationToken::new();
    let mut victim = start(&net, 0, vec![], &stop).await;
    let mut honest = start(&net, 1, vec![addr(&victim)], &stop).await;
    let mut attacker = start(&net, 2, vec![addr(&victim)], &stop).await;
    let (victim_id, honest_id, attacker_id) = (
        victim.handle().local_peer_id(),
        honest.handle().local_peer_id(),
        attacker.handle().local_peer_id(),
    );
    wait_connected(&mut victim, &[honest_id, attacker_id]).await;
    wait_connected(&mut attacker, &[victim_id]).await;

    // First garbage: dropped, penalised, reported; the attacker stays connected.
    attacker
        .handle()
        .publish_raw(Topic::Block, b"not a block at all".to_vec())
        .await
        .unwrap();
    let (peer, reason, score, banned) = wait_for(&mut victim, "misbehaviour", |e| match e {
        NetEvent::Misbehaviour {
            peer,
            reason,
            score,
            banned,
        } => Some((peer, reason, score, banned)),
        NetEvent::Message { .. } => panic!("garbage reached the node"),
        _ => None,
    })
    .await;
    assert_eq!(peer, attacker_id);
    assert!(matches!(reason, Offence::MalformedMessage(_)));
    assert_eq!((score, banned), (-50, false));
    // Gossipsub scored the attacker down too (invalid message penalty plus our score).
    let stats = victim.handle().stats().await.unwrap();
    let gossip_score = stats
        .gossip_scores
        .iter()
        .find(|(p, _)| *p == attacker_id)
        .map(|(_, s)| *s)
        .expect("attacker still connected");
    assert!(gossip_score <= -50.0, "gossipsub score {gossip_score}");

    // Second garbage (different bytes, so not a duplicate): banned and disconnected.
    attacker
        .handle()
        .publish_raw(Topic::Block, vec![1, 0x02, 0xff])
        .await
        .unwrap();
    let (score, banned) = wait_for(&mut victim, "a ban", |e| match e {
        NetEvent::Misbehaviour {
            peer,
            score,
            banned,
            ..
        } if peer == attacker_id => Some((score, banned)),
        _ => None,
    })
    .await;
    assert_eq!((score, banned), (-100, true));
    wait_for(&mut victim, "the attacker's disconnection", |e| match e {
        NetEvent::PeerDisconnected { peer } if peer == attacker_id => Some(()),
        _ => None,
    })
    .await;
    let stats = victim.handle().stats().await.unwrap();
    assert_eq!(stats.banned, vec![attacker_id]);
    assert!(!stats.connected.contains(&attacker_id));

    // The victim keeps working: a valid block from the honest node arrives.
    honest
        .handle()
        .publish(&NetMessage::Block(blocks[0].clone()))
        .await
        .unwrap();
    let (from, block) = wait_block(&mut victim).await;
    assert_eq!((from, block), (honest_id, blocks[0].clone()));
    // The honest node never saw the garbage: the victim did not forward it.
    while let Some(event) = honest.poll_event() {
        assert!(
            !matches!(
                event,
                NetEvent::Misbehaviour { .. } | NetEvent::Message { .. }
            ),
            "honest node got {event:?}"
        );
    }
    stop_all(stop, vec![victim, honest, attacker]).await;
}

#[tokio::test]
async fn shutdown_ends_the_task_and_releases_the_port() {
    let (net, _) = devnet(2);
    let stop = CancellationToken::new();
    let node = start(&net, 0, vec![], &stop).await;
    let port = node.handle().listen_addrs()[0]
        .iter()
        .find_map(|p| match p {
            Protocol::Tcp(port) => Some(port),
            _ => None,
        })
        .unwrap();
    assert_ne!(port, 0);
    let peer = start(&net, 1, vec![addr(&node)], &stop).await;
    let handle = node.handle().clone();
    stop.cancel();
    timeout(WAIT, node.join()).await.unwrap().unwrap();
    timeout(WAIT, peer.join()).await.unwrap().unwrap();
    // The task is gone: commands fail with a typed error, and the port can be bound again.
    assert!(matches!(
        handle.stats().await,
        Err(Error::NetworkStopped { .. })
    ));
    std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
}

#[tokio::test]
async fn configured_peers_are_redialed_until_they_come_up_and_after_they_restart() {
    let (net, _) = devnet(2);
    let key = net.key(0).unwrap();
    // Learn a free port for node A, then stop A so the address is dead.
    let first = CancellationToken::new();
    let a = P2pNode::start(key, config(vec![]), first.clone())
        .await
        .unwrap();
    let a_id = a.handle().local_peer_id();
    let a_addr = addr(&a);
    let port = a_addr
        .iter()
        .find_map(|p| match p {
            Protocol::Tcp(port) => Some(port),
            _ => None,
        })
        .unwrap();
    first.cancel();
    timeout(WAIT, a.join()).await.unwrap().unwrap();
    let restart = |token: CancellationToken| {
        let listen = Multiaddr::from(std::net::Ipv4Addr::LOCALHOST).with(Protocol::Tcp(port));
        P2pNode::start(
            key,
            P2pConfig {
                listen: vec![listen],
                ..config(vec![])
            },
            token,
        )
    };

    // B keeps dialing the dead address (with back-off) ...
    let stop = CancellationToken::new();
    let mut b = start(&net, 1, vec![a_addr], &stop).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(b.handle().stats().await.unwrap().connected.is_empty());
    // ... and connects once A is back on the same port with the same key.
    let second = CancellationToken::new();
    let a = restart(second.clone()).await.unwrap();
    wait_connected(&mut b, &[a_id]).await;
    // A goes away again: B notices and re-dials the restarted A.
    second.cancel();
    timeout(WAIT, a.join()).await.unwrap().unwrap();
    wait_for(&mut b, "the disconnection", |e| match e {
        NetEvent::PeerDisconnected { peer } if peer == a_id => Some(()),
        _ => None,
    })
    .await;
    let a = restart(stop.child_token()).await.unwrap();
    wait_connected(&mut b, &[a_id]).await;
    stop_all(stop, vec![a, b]).await;
}

#[tokio::test]
async fn a_two_node_lab_publishes_without_stalling() {
    let (net, genesis) = devnet(2);
    let blocks = chain_of(&net, &genesis, 20);
    let stop = CancellationToken::new();
    let mut a = start(&net, 0, vec![], &stop).await;
    // Publish before anyone is connected: queued, not lost.
    let first = a
        .handle()
        .publish(&NetMessage::Block(blocks[0].clone()))
        .await
        .unwrap();
    assert_eq!(first, PublishOutcome::Queued);
    let mut b = start(&net, 1, vec![addr(&a)], &stop).await;
    // The rest right away, while the connection and subscriptions are still forming.
    for block in &blocks[1..] {
        a.handle()
            .publish(&NetMessage::Block(block.clone()))
            .await
            .unwrap();
    }
    let mut got = Vec::new();
    while got.len() < blocks.len() {
        let (_, block) = wait_block(&mut b).await;
        got.push(block);
    }
    got.sort_by_key(|b| b.header.height);
    assert_eq!(got, blocks);
    let stats = a.handle().stats().await.unwrap();
    assert_eq!(stats.queued_publishes, 0);
    assert_eq!(stats.dropped_publishes, 0);
    assert_eq!(stats.published, 20);
    // And back the other way.
    let tx = net.transfer(1, 0, 0, 1, 1).unwrap();
    b.handle()
        .publish(&NetMessage::Tx(tx.clone()))
        .await
        .unwrap();
    let got = wait_for(&mut a, "a transaction", |e| match e {
        NetEvent::Message {
            msg: NetMessage::Tx(tx),
            ..
        } => Some(tx),
        _ => None,
    })
    .await;
    assert_eq!(got, tx);
    stop_all(stop, vec![a, b]).await;
}
