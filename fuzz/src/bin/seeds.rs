//! Writes small seed corpora for the binary fuzz targets: `seeds <corpus dir>` creates
//! `<dir>/codec`, `<dir>/p2p` and `<dir>/api_protocol` with a few valid inputs each (real
//! signed transactions, mined blocks, a checkpoint, an anonymous upload, sync frames, API
//! lines). The text targets (SigMF, testbed TOML) are seeded from the repository's fixtures
//! by `scripts/fuzz.sh`. Not a fuzz target; nothing here is committed output.

use std::fs;
use std::path::{Path, PathBuf};

use chacha20::ChaCha20Rng;
use chain::block::{Body, Header};
use chain::codec::Encode;
use chain::contracts::csc::{AnonymousUpload, GridCell, SensingReport};
use chain::crypto::rand_core::SeedableRng;
use chain::crypto::{IdentityCommitment, Ring};
use chain::devnet::{Devnet, produce_block};
use chain::net::{HeadInfo, NetMessage, SyncRequest, SyncResponse};
use chain::tx::{ContractCall, TxPayload};
use chain::{Block, ChainParams, Hash256, SignedTx, UnsignedTx, Verification};
use fusion::Fx;
use serde_json::Value;
use trustband::api::protocol::{
    AccountInfo, DroppedNotice, ErrorReply, HeadInfo as ApiHead, Reply, ReplyBody,
    SubscribeParams, Subscribed, code,
};
use trustband::api::{AccountRef, Query, Request, Topic};
use trustband::node::NodeEvent;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn write_all(dir: &Path, name: &str, seeds: &[Vec<u8>]) -> Result<()> {
    let dir = dir.join(name);
    fs::create_dir_all(&dir)?;
    for (i, seed) in seeds.iter().enumerate() {
        fs::write(dir.join(format!("seed-{i:02}")), seed)?;
    }
    println!("{}: {} seeds", dir.display(), seeds.len());
    Ok(())
}

fn tagged(tag: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend_from_slice(bytes);
    out
}

fn frame(tag: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    out
}

struct Chain {
    blocks: Vec<Block>,
    checkpoint: Block,
    txs: Vec<SignedTx>,
    unsigned: UnsignedTx,
    state: chain::State,
}

fn chain_values() -> Result<Chain> {
    let params = ChainParams {
        block_reward: 0,
        retarget_interval: 1_000_000,
        checkpoint_interval: 0,
        ..ChainParams::default()
    };
    let net = Devnet::new(3, 1_000_000, |_| Fx::HALF, 1, 1_000_000, params)?;
    let genesis = net.genesis.build()?;
    let mut txs = vec![net.transfer(0, 1, 0, 10, 1)?, net.transfer(1, 2, 0, 20, 1)?];
    let key = net.key(0)?;
    let call = UnsignedTx {
        sender: *key.public_key(),
        nonce: 1,
        fee: 2,
        payload: TxPayload::Contract(ContractCall {
            contract: Hash256([7; 32]),
            data: vec![0, 1, 2, 3],
        }),
    };
    txs.push(SignedTx::sign(call.clone(), key, &net.chain_id()?)?);
    let ring = Ring::new((0..3).map(|i| net.key(i).map(|k| *k.public_key())).collect::<std::result::Result<Vec<_>, _>>()?)?;
    let report = SensingReport {
        decision: true,
        energy_mdb: 3_000,
        cell: GridCell { x: 1, y: -1 },
        commitment: IdentityCommitment::from_bytes([9; 32]),
    };
    let mut rng = ChaCha20Rng::from_seed([42; 32]);
    let upload = AnonymousUpload::sign(net.key(1)?, &net.chain_id()?, 1, 0, report, ring, &mut rng)?;
    txs.push(SignedTx::anonymous(upload)?);

    let mut state = genesis.state.clone();
    let mut parent = genesis.hash;
    let mut blocks = Vec::new();
    for i in 0..2u64 {
        let candidates = if i == 0 { txs[..2].to_vec() } else { Vec::new() };
        let (block, template) = produce_block(
            &state,
            parent,
            key,
            1_000_000 + 1000 * (i + 1),
            &candidates,
            &genesis.params,
            Verification::Full { threads: 1 },
        )?;
        parent = block.hash();
        state = template.post_state;
        blocks.push(block);
    }
    let header = Header {
        height: 3,
        prev_hash: parent,
        tx_root: state.root(),
        ..blocks[1].header
    };
    let checkpoint = Block::seal(header, Body::Checkpoint(Box::new(state.clone())), key)?;
    Ok(Chain {
        blocks,
        checkpoint,
        txs,
        unsigned: call,
        state,
    })
}

fn codec_seeds(c: &Chain) -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for block in c.blocks.iter().chain([&c.checkpoint]) {
        seeds.push(tagged(0, &block.to_bytes()));
    }
    for tx in &c.txs {
        seeds.push(tagged(1, &tx.to_bytes()));
    }
    seeds.push(tagged(2, &c.unsigned.to_bytes()));
    seeds.push(tagged(3, &c.blocks[0].header.to_bytes()));
    seeds.push(tagged(4, &c.state.to_bytes()));
    seeds
}

fn p2p_seeds(c: &Chain) -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for tx in &c.txs {
        seeds.push(tagged(0, &NetMessage::Tx(tx.clone()).to_bytes()));
    }
    seeds.push(tagged(1, &NetMessage::Block(c.blocks[0].clone()).to_bytes()));
    for request in [
        SyncRequest::BlocksFrom { height: 1, max: 64 },
        SyncRequest::BlockByHash(c.blocks[0].hash()),
        SyncRequest::Checkpoint,
        SyncRequest::Head,
    ] {
        seeds.push(frame(2, &request.to_bytes()));
    }
    for response in [
        SyncResponse::Blocks {
            head_height: 2,
            blocks: c.blocks.clone(),
        },
        SyncResponse::Block(Some(c.blocks[1].clone())),
        SyncResponse::Block(None),
        SyncResponse::Checkpoint(Some(c.checkpoint.clone())),
        SyncResponse::Head(HeadInfo {
            height: 2,
            hash: c.blocks[1].hash(),
            work: 12_345,
        }),
    ] {
        seeds.push(frame(3, &response.to_bytes()));
    }
    seeds
}

fn api_seeds() -> Result<Vec<Vec<u8>>> {
    let id = Value::from(7);
    let mut lines = vec![
        Request::Status.to_line(None),
        Request::Snapshot.to_line(Some(&id)),
        Request::Subscribe(SubscribeParams::default()).to_line(None),
        Request::Subscribe(SubscribeParams {
            topics: Some(vec![Topic::Psd, Topic::Block, Topic::Log]),
            psd_hz: Some(2.5),
        })
        .to_line(Some(&Value::from("a"))),
        Request::Query(Query::Head).to_line(None),
        Request::Query(Query::Blocks { limit: 5 }).to_line(None),
        Request::Query(Query::Account(AccountRef::Name("n1".into()))).to_line(None),
        Request::Query(Query::Account(AccountRef::Address(
            "0x0102030405060708090a0b0c0d0e0f1011121314".into(),
        )))
        .to_line(None),
    ];
    let replies = [
        ReplyBody::Account(AccountInfo {
            name: Some("n1".into()),
            address: "0x01".into(),
            balance: u128::MAX,
            nonce: 3,
            trust: 0.25,
        }),
        ReplyBody::Head(ApiHead {
            height: 4,
            hash: "0xab".into(),
            state_root: "0xcd".into(),
        }),
        ReplyBody::Blocks(Vec::new()),
        ReplyBody::Subscribed(Subscribed {
            topics: Topic::ALL.to_vec(),
            psd_hz: 5.0,
            queue: 256,
        }),
        ReplyBody::Snapshot(Box::default()),
        ReplyBody::Snapshot(Box::new(tui::demo_snapshot(1, 90_000))),
    ];
    for body in replies {
        lines.push(
            Reply {
                id: Some(id.clone()),
                body,
            }
            .to_line(),
        );
    }
    lines.push(ErrorReply::new(code::NOT_FOUND, "no account").to_line());
    lines.push(DroppedNotice::new(3, 10).to_line());
    lines.push(serde_json::to_string(&NodeEvent::Log {
        node: "n1".into(),
        at_ms: 5,
        level: "info".into(),
        text: "hi".into(),
    })?);
    Ok(lines.into_iter().map(String::into_bytes).collect())
}

fn main() -> Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .ok_or("usage: seeds <corpus dir>")?;
    let c = chain_values()?;
    write_all(&dir, "codec", &codec_seeds(&c))?;
    write_all(&dir, "p2p", &p2p_seeds(&c))?;
    write_all(&dir, "api_protocol", &api_seeds()?)?;
    Ok(())
}
