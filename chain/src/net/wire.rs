//! What travels between nodes: gossip messages, sync requests and responses, as canonical bytes
//! inside a small versioned envelope.
//!
//! Data flow: a node builds a [`NetMessage`] (a transaction or a block) and the transport
//! publishes `msg.to_bytes()` on [`NetMessage::topic`]; a receiver decodes with
//! [`NetMessage::decode_on`], which also checks that the kind matches the topic. Sync requests
//! ([`SyncRequest`]) and responses ([`SyncResponse`]) are framed the same way. Decoding
//! untrusted bytes never panics: every failure is a typed [`Error`], which the transport turns
//! into a peer penalty ([`crate::net::score`]).
//!
//! # Envelope
//!
//! ```text
//! envelope = version u8 (= 1) || kind u8 || body
//!
//! gossip messages                          topic
//!   0x01 Tx     body = SignedTx            trustband/v1/tx
//!   0x02 Block  body = Block               trustband/v1/block
//! sync requests (protocol /trustband/sync/1)
//!   0x10 BlocksFrom   body = height u64 || max u32       (max <= 256)
//!   0x11 BlockByHash  body = hash (32)
//!   0x12 Checkpoint   body = empty
//!   0x13 Head         body = empty
//! sync responses
//!   0x20 Blocks       body = head_height u64 || u32 count (<= 256) || Block*
//!   0x21 Block        body = present u8 (0/1) || Block?
//!   0x22 Checkpoint   body = present u8 (0/1) || Block?
//!   0x23 Head         body = height u64 || hash (32) || work u128
//! ```
//!
//! Every integer is big-endian and every inner value uses the chain's canonical encoding
//! ([`crate::codec`]). The kinds of messages, requests and responses occupy disjoint tag
//! ranges, so a frame sent to the wrong decoder fails with [`Error::UnknownTag`] rather than
//! decoding to something else. A node that receives an envelope of another version fails with
//! [`Error::UnsupportedVersion`]; a future version bump changes the gossip topics and the sync
//! protocol name too, so old and new nodes do not penalise each other.

use crate::block::{Block, HEADER_LEN};
use crate::codec::{Decode, Encode, Put, Reader};
use crate::crypto::keys::SIGNATURE_LEN;
use crate::digest::Hash256;
use crate::error::Error;
use crate::tx::SignedTx;

/// The envelope version this node speaks.
pub const WIRE_VERSION: u8 = 1;

/// Most blocks in one [`SyncResponse::Blocks`] (and the largest `max` a request may ask for).
pub const MAX_SYNC_BLOCKS: u32 = 256;

/// Smallest encoded block: header, signature, body tag and an empty transaction count.
const MIN_BLOCK_LEN: usize = HEADER_LEN + SIGNATURE_LEN + 1 + 4;

const KIND_TX: u8 = 0x01;
const KIND_BLOCK: u8 = 0x02;
const KIND_REQ_BLOCKS_FROM: u8 = 0x10;
const KIND_REQ_BLOCK_BY_HASH: u8 = 0x11;
const KIND_REQ_CHECKPOINT: u8 = 0x12;
const KIND_REQ_HEAD: u8 = 0x13;
const KIND_RESP_BLOCKS: u8 = 0x20;
const KIND_RESP_BLOCK: u8 = 0x21;
const KIND_RESP_CHECKPOINT: u8 = 0x22;
const KIND_RESP_HEAD: u8 = 0x23;

/// A gossip topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    /// Signed transactions: `trustband/v1/tx`.
    Tx,
    /// Blocks: `trustband/v1/block`.
    Block,
}

impl Topic {
    /// Every topic a node subscribes to.
    pub const ALL: [Topic; 2] = [Topic::Tx, Topic::Block];

    /// The topic's name on the wire.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Topic::Tx => "trustband/v1/tx",
            Topic::Block => "trustband/v1/block",
        }
    }

    /// The topic named `name`, if it is one of ours.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }
}

impl core::fmt::Display for Topic {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// A gossip message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetMessage {
    /// A signed transaction for the mempool (kind 0x01, topic `trustband/v1/tx`).
    Tx(SignedTx),
    /// A newly mined block (kind 0x02, topic `trustband/v1/block`).
    Block(Block),
}

impl NetMessage {
    /// The topic this message is published on.
    #[must_use]
    pub fn topic(&self) -> Topic {
        match self {
            NetMessage::Tx(_) => Topic::Tx,
            NetMessage::Block(_) => Topic::Block,
        }
    }

    /// A short name of the kind, for logs and errors.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            NetMessage::Tx(_) => "tx",
            NetMessage::Block(_) => "block",
        }
    }

    /// Decodes a message received on `topic`.
    ///
    /// # Errors
    ///
    /// As [`Decode::from_bytes`]; [`Error::WrongTopic`] if the message's kind belongs to another
    /// topic.
    pub fn decode_on(topic: Topic, bytes: &[u8]) -> Result<Self, Error> {
        let msg = Self::from_bytes(bytes)?;
        if msg.topic() == topic {
            Ok(msg)
        } else {
            Err(Error::WrongTopic {
                topic: topic.name(),
                kind: msg.kind(),
            })
        }
    }
}

impl Encode for NetMessage {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.put_u8(WIRE_VERSION);
        match self {
            NetMessage::Tx(tx) => {
                out.put_u8(KIND_TX);
                tx.encode_to(out);
            }
            NetMessage::Block(block) => {
                out.put_u8(KIND_BLOCK);
                block.encode_to(out);
            }
        }
    }
}

impl Decode for NetMessage {
    const NAME: &'static str = "net.message";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, Error> {
        match envelope(r, Self::NAME)? {
            KIND_TX => Ok(NetMessage::Tx(SignedTx::decode_from(r)?)),
            KIND_BLOCK => Ok(NetMessage::Block(Block::decode_from(r)?)),
            tag => Err(Error::UnknownTag {
                field: Self::NAME,
                tag,
            }),
        }
    }
}

/// A sync request (protocol `/trustband/sync/1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncRequest {
    /// Blocks of the responder's best chain from `height` upward, at most `max` (capped at
    /// [`MAX_SYNC_BLOCKS`]).
    BlocksFrom {
        /// First height wanted.
        height: u64,
        /// Most blocks wanted.
        max: u32,
    },
    /// One block by its hash (to fill in an orphan's missing parent).
    BlockByHash(Hash256),
    /// The responder's latest confirmed checkpoint block (a new node syncs from it with
    /// [`crate::ChainStore::create_from_checkpoint`]).
    Checkpoint,
    /// The responder's head.
    Head,
}

impl Encode for SyncRequest {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.put_u8(WIRE_VERSION);
        match self {
            SyncRequest::BlocksFrom { height, max } => {
                out.put_u8(KIND_REQ_BLOCKS_FROM);
                out.put_u64(*height);
                out.put_u32(*max);
            }
            SyncRequest::BlockByHash(hash) => {
                out.put_u8(KIND_REQ_BLOCK_BY_HASH);
                out.put_raw(&hash.0);
            }
            SyncRequest::Checkpoint => out.put_u8(KIND_REQ_CHECKPOINT),
            SyncRequest::Head => out.put_u8(KIND_REQ_HEAD),
        }
    }
}

impl Decode for SyncRequest {
    const NAME: &'static str = "net.request";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, Error> {
        match envelope(r, Self::NAME)? {
            KIND_REQ_BLOCKS_FROM => {
                let height = r.u64("net.request.height")?;
                let max = r.u32("net.request.max")?;
                if max > MAX_SYNC_BLOCKS {
                    return Err(Error::LengthOverCap {
                        field: "net.request.max",
                        cap: u64::from(MAX_SYNC_BLOCKS),
                        got: u64::from(max),
                    });
                }
                Ok(SyncRequest::BlocksFrom { height, max })
            }
            KIND_REQ_BLOCK_BY_HASH => Ok(SyncRequest::BlockByHash(r.hash("net.request.hash")?)),
            KIND_REQ_CHECKPOINT => Ok(SyncRequest::Checkpoint),
            KIND_REQ_HEAD => Ok(SyncRequest::Head),
            tag => Err(Error::UnknownTag {
                field: Self::NAME,
                tag,
            }),
        }
    }
}

/// A head summary: where a node's best chain ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadInfo {
    /// Height of the head block.
    pub height: u64,
    /// Hash of the head block.
    pub hash: Hash256,
    /// Cumulative nominal work of the best chain (the fork-choice weight).
    pub work: u128,
}

/// A sync response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncResponse {
    /// Answer to [`SyncRequest::BlocksFrom`]: consecutive blocks of the responder's best chain
    /// (possibly none) and the responder's head height, so the requester knows whether to ask
    /// again.
    Blocks {
        /// The responder's head height.
        head_height: u64,
        /// The blocks, in height order, at most [`MAX_SYNC_BLOCKS`].
        blocks: Vec<Block>,
    },
    /// Answer to [`SyncRequest::BlockByHash`] (`None` if unknown).
    Block(Option<Block>),
    /// Answer to [`SyncRequest::Checkpoint`] (`None` if the responder has none confirmed).
    Checkpoint(Option<Block>),
    /// Answer to [`SyncRequest::Head`].
    Head(HeadInfo),
}

fn put_optional_block(out: &mut Vec<u8>, block: Option<&Block>) {
    match block {
        None => out.put_u8(0),
        Some(block) => {
            out.put_u8(1);
            block.encode_to(out);
        }
    }
}

fn optional_block(r: &mut Reader<'_>, field: &'static str) -> Result<Option<Block>, Error> {
    match r.u8(field)? {
        0 => Ok(None),
        1 => Ok(Some(Block::decode_from(r)?)),
        tag => Err(Error::UnknownTag { field, tag }),
    }
}

impl Encode for SyncResponse {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.put_u8(WIRE_VERSION);
        match self {
            SyncResponse::Blocks {
                head_height,
                blocks,
            } => {
                out.put_u8(KIND_RESP_BLOCKS);
                out.put_u64(*head_height);
                out.put_len(blocks.len());
                for block in blocks {
                    block.encode_to(out);
                }
            }
            SyncResponse::Block(block) => {
                out.put_u8(KIND_RESP_BLOCK);
                put_optional_block(out, block.as_ref());
            }
            SyncResponse::Checkpoint(block) => {
                out.put_u8(KIND_RESP_CHECKPOINT);
                put_optional_block(out, block.as_ref());
            }
            SyncResponse::Head(head) => {
                out.put_u8(KIND_RESP_HEAD);
                out.put_u64(head.height);
                out.put_raw(&head.hash.0);
                out.put_u128(head.work);
            }
        }
    }
}

impl Decode for SyncResponse {
    const NAME: &'static str = "net.response";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, Error> {
        match envelope(r, Self::NAME)? {
            KIND_RESP_BLOCKS => {
                let head_height = r.u64("net.response.head_height")?;
                let n = r.len("net.response.blocks", MAX_SYNC_BLOCKS, MIN_BLOCK_LEN)?;
                let blocks = (0..n)
                    .map(|_| Block::decode_from(r))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(SyncResponse::Blocks {
                    head_height,
                    blocks,
                })
            }
            KIND_RESP_BLOCK => Ok(SyncResponse::Block(optional_block(
                r,
                "net.response.block",
            )?)),
            KIND_RESP_CHECKPOINT => Ok(SyncResponse::Checkpoint(optional_block(
                r,
                "net.response.checkpoint",
            )?)),
            KIND_RESP_HEAD => Ok(SyncResponse::Head(HeadInfo {
                height: r.u64("net.response.head.height")?,
                hash: r.hash("net.response.head.hash")?,
                work: r.u128("net.response.head.work")?,
            })),
            tag => Err(Error::UnknownTag {
                field: Self::NAME,
                tag,
            }),
        }
    }
}

/// Reads the envelope's version and kind bytes.
fn envelope(r: &mut Reader<'_>, field: &'static str) -> Result<u8, Error> {
    let version = r.u8(field)?;
    if version != WIRE_VERSION {
        return Err(Error::UnsupportedVersion {
            field,
            got: version,
            supported: WIRE_VERSION,
        });
    }
    r.u8(field)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn request_known_answers() {
        assert_eq!(SyncRequest::Head.to_bytes(), vec![1, 0x13]);
        assert_eq!(SyncRequest::Checkpoint.to_bytes(), vec![1, 0x12]);
        let req = SyncRequest::BlocksFrom { height: 2, max: 3 };
        assert_eq!(
            req.to_bytes(),
            vec![1, 0x10, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 3]
        );
        assert_eq!(SyncRequest::from_bytes(&req.to_bytes()).unwrap(), req);
    }

    #[test]
    fn envelope_errors_are_typed() {
        assert_eq!(
            SyncRequest::from_bytes(&[2, 0x13]),
            Err(Error::UnsupportedVersion {
                field: "net.request",
                got: 2,
                supported: 1
            })
        );
        // A response tag is not a request.
        assert_eq!(
            SyncRequest::from_bytes(&[1, 0x23]),
            Err(Error::UnknownTag {
                field: "net.request",
                tag: 0x23
            })
        );
        assert!(matches!(
            NetMessage::from_bytes(&[]),
            Err(Error::Truncated { .. })
        ));
        assert_eq!(
            SyncRequest::from_bytes(&[1, 0x13, 0]),
            Err(Error::TrailingBytes {
                field: "net.request",
                count: 1
            })
        );
    }
}
