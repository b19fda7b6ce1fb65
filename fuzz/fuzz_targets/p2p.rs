//! Peer-to-peer messages on hostile bytes: gossip payloads (`NetMessage::decode_on`, as the
//! libp2p driver decodes them) and sync-protocol streams (`FrameCodec`'s length-prefixed
//! frames, then `SyncRequest` / `SyncResponse`).
//!
//! The first byte picks the path. Nothing may panic; a frame the codec accepts is written back
//! byte for byte, and a message that decodes re-encodes to exactly its bytes (canonical).
#![no_main]

use chain::codec::{Decode, Encode};

/// Transaction signatures are bound to a chain id; any fixed one exercises the same checks.
const FUZZ_CHAIN: chain::Hash256 = chain::Hash256([7; 32]);
use chain::net::p2p::P2pConfig;
use chain::net::p2p::codec::{FrameCodec, SYNC_PROTOCOL};
use chain::net::{NetMessage, SyncRequest, SyncResponse, Topic};
use futures::executor::block_on;
use futures::io::Cursor;
use libfuzzer_sys::fuzz_target;
use libp2p::request_response::Codec;

/// Decodes `bytes` as `T`; on success asserts the canonical round trip.
fn canonical<T: Decode + Encode>(bytes: &[u8]) -> Option<T> {
    let value = T::from_bytes(bytes).ok()?;
    assert_eq!(value.to_bytes(), bytes, "{} is not canonical", T::NAME);
    Some(value)
}

/// The sync codec with the node's default caps.
fn frame_codec() -> FrameCodec {
    let config = P2pConfig::default();
    FrameCodec {
        max_request: config.max_request_bytes,
        max_response: config.max_response_bytes,
    }
}

/// Reads one frame from `stream` (as a request or a response), decodes it with `decode` and
/// checks that writing the frame back gives the bytes read.
fn sync_stream(stream: &[u8], response: bool) {
    let mut codec = frame_codec();
    let mut io = Cursor::new(stream);
    let frame = block_on(async {
        if response {
            codec.read_response(&SYNC_PROTOCOL, &mut io).await
        } else {
            codec.read_request(&SYNC_PROTOCOL, &mut io).await
        }
    });
    let Ok(frame) = frame else {
        return;
    };
    let consumed = usize::try_from(io.position()).unwrap_or(usize::MAX);
    let mut written = Cursor::new(Vec::new());
    let write = block_on(async {
        if response {
            codec
                .write_response(&SYNC_PROTOCOL, &mut written, frame.clone())
                .await
        } else {
            codec
                .write_request(&SYNC_PROTOCOL, &mut written, frame.clone())
                .await
        }
    });
    assert!(write.is_ok(), "a frame read under the cap must be writable");
    assert_eq!(written.get_ref().as_slice(), &stream[..consumed]);
    if response {
        let _ = canonical::<SyncResponse>(&frame);
    } else {
        let _ = canonical::<SyncRequest>(&frame);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, bytes)) = data.split_first() else {
        return;
    };
    match kind % 4 {
        0 | 1 => {
            let topic = if kind % 4 == 0 { Topic::Tx } else { Topic::Block };
            if let Ok(msg) = NetMessage::decode_on(topic, bytes) {
                assert_eq!(msg.topic(), topic);
                assert_eq!(msg.to_bytes(), bytes, "net.message is not canonical");
                match &msg {
                    NetMessage::Tx(tx) => {
                        let _ = tx.verify_signature(&FUZZ_CHAIN);
                    }
                    NetMessage::Block(block) => {
                        let _ = block.verify_signature();
                        let _ = block.body.root();
                    }
                    _ => {}
                }
            }
        }
        2 => sync_stream(bytes, false),
        _ => sync_stream(bytes, true),
    }
});
