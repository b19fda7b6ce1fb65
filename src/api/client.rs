//! Client side of the local API: connect, ask, subscribe.
//!
//! Data flow: [`Client::connect`] dials the node (with a timeout); each request method writes
//! one line and reads one answer line ([`Client::request`]); [`Client::subscribe`] turns the
//! connection into a [`Subscription`] whose [`Subscription::next`] yields the streamed lines.
//! A subscribed connection is best kept for the stream: open a second [`Client`] for requests
//! (as `trustband tui --connect` does).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tui::Snapshot;
use tui::model::BlockRow;

use super::protocol::{
    self, AccountInfo, AccountRef, ErrorReply, HeadInfo, Query, Reply, ReplyBody, Request,
    StreamLine, SubscribeParams, Subscribed,
};
use crate::node::events::NodeStatus;

/// How long [`Client::connect`] waits for the node to accept.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a request waits for its answer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest answer or stream line accepted (bytes): a snapshot of many nodes with spectra is a
/// few hundred kilobytes.
pub const MAX_REPLY_LINE: usize = 8 << 20;

/// What can go wrong talking to a node.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Nothing accepted the connection (no node there, or its API is off).
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// Address dialled.
        addr: SocketAddr,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// The node did not accept or answer in time.
    #[error("{addr}: no answer within {} s while {action}", .after.as_secs())]
    Timeout {
        /// Address.
        addr: SocketAddr,
        /// What was being done.
        action: &'static str,
        /// The limit.
        after: Duration,
    },
    /// Reading or writing the connection failed.
    #[error("{addr}: {action}: {source}")]
    Io {
        /// Address.
        addr: SocketAddr,
        /// What was being done.
        action: &'static str,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// The node closed the connection before answering.
    #[error("{addr} closed the connection")]
    Closed {
        /// Address.
        addr: SocketAddr,
    },
    /// A line from the node is not a valid answer.
    #[error("{addr}: not a valid answer ({source}): {line}")]
    Protocol {
        /// Address.
        addr: SocketAddr,
        /// The line (shortened).
        line: String,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A line from the node exceeds [`MAX_REPLY_LINE`].
    #[error("{addr}: answer longer than {limit} bytes")]
    TooLong {
        /// Address.
        addr: SocketAddr,
        /// The limit.
        limit: usize,
    },
    /// The node answered with an error.
    #[error("{addr}: {} (code {})", .reply.error, .reply.code)]
    Remote {
        /// Address.
        addr: SocketAddr,
        /// The error answer.
        reply: ErrorReply,
    },
    /// The node answered, but not what was asked.
    #[error("{addr}: expected a {expected} answer, got another kind")]
    Unexpected {
        /// Address.
        addr: SocketAddr,
        /// Kind expected.
        expected: &'static str,
    },
}

/// A request/answer connection to a node's local API.
#[derive(Debug)]
pub struct Client {
    addr: SocketAddr,
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    buf: Vec<u8>,
}

impl Client {
    /// Dials `addr`, waiting at most [`CONNECT_TIMEOUT`].
    ///
    /// # Errors
    /// [`ClientError::Connect`] (refused, unreachable), [`ClientError::Timeout`].
    pub async fn connect(addr: SocketAddr) -> Result<Client, ClientError> {
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| ClientError::Timeout {
                addr,
                action: "connecting",
                after: CONNECT_TIMEOUT,
            })?
            .map_err(|source| ClientError::Connect { addr, source })?;
        let _ = stream.set_nodelay(true);
        let (r, w) = stream.into_split();
        Ok(Client {
            addr,
            reader: BufReader::new(r),
            writer: w,
            buf: Vec::new(),
        })
    }

    /// The node's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sends `request` and waits (at most [`REQUEST_TIMEOUT`]) for its answer.
    ///
    /// # Errors
    /// [`ClientError::Remote`] for an error answer; I/O, timeout, closed and protocol errors.
    pub async fn request(&mut self, request: &Request) -> Result<Reply, ClientError> {
        let addr = self.addr;
        let work = async {
            self.send(request).await?;
            let line = read_line(addr, &mut self.reader, &mut self.buf)
                .await?
                .ok_or(ClientError::Closed { addr })?;
            match protocol::parse_reply(line) {
                Ok(Ok(reply)) => Ok(reply),
                Ok(Err(reply)) => Err(ClientError::Remote { addr, reply }),
                Err(source) => Err(protocol_error(addr, line, source)),
            }
        };
        tokio::time::timeout(REQUEST_TIMEOUT, work)
            .await
            .map_err(|_| ClientError::Timeout {
                addr,
                action: "waiting for an answer",
                after: REQUEST_TIMEOUT,
            })?
    }

    async fn send(&mut self, request: &Request) -> Result<(), ClientError> {
        let mut line = request.to_line(None);
        line.push('\n');
        self.writer
            .write_all(line.as_bytes())
            .await
            .map_err(|source| ClientError::Io {
                addr: self.addr,
                action: "sending a request",
                source,
            })
    }

    /// The node's status.
    ///
    /// # Errors
    /// As [`Client::request`].
    pub async fn status(&mut self) -> Result<NodeStatus, ClientError> {
        match self.request(&Request::Status).await?.body {
            ReplyBody::Status(s) => Ok(s),
            _ => Err(self.unexpected("status")),
        }
    }

    /// The dashboard snapshot the node aggregates.
    ///
    /// # Errors
    /// As [`Client::request`].
    pub async fn snapshot(&mut self) -> Result<Snapshot, ClientError> {
        match self.request(&Request::Snapshot).await?.body {
            ReplyBody::Snapshot(s) => Ok(*s),
            _ => Err(self.unexpected("snapshot")),
        }
    }

    /// One account; [`ClientError::Remote`] with [`protocol::code::NOT_FOUND`] if it does
    /// not exist.
    ///
    /// # Errors
    /// As [`Client::request`].
    pub async fn account(&mut self, who: AccountRef) -> Result<AccountInfo, ClientError> {
        match self
            .request(&Request::Query(Query::Account(who)))
            .await?
            .body
        {
            ReplyBody::Account(a) => Ok(a),
            _ => Err(self.unexpected("account")),
        }
    }

    /// Height, head hash and state root.
    ///
    /// # Errors
    /// As [`Client::request`].
    pub async fn head(&mut self) -> Result<HeadInfo, ClientError> {
        match self.request(&Request::Query(Query::Head)).await?.body {
            ReplyBody::Head(h) => Ok(h),
            _ => Err(self.unexpected("head")),
        }
    }

    /// The latest blocks, newest first.
    ///
    /// # Errors
    /// As [`Client::request`].
    pub async fn blocks(&mut self, limit: usize) -> Result<Vec<BlockRow>, ClientError> {
        match self
            .request(&Request::Query(Query::Blocks { limit }))
            .await?
            .body
        {
            ReplyBody::Blocks(b) => Ok(b),
            _ => Err(self.unexpected("blocks")),
        }
    }

    /// Subscribes; the connection then carries the stream.
    ///
    /// # Errors
    /// As [`Client::request`] (e.g. an unknown topic is a [`ClientError::Remote`]).
    pub async fn subscribe(mut self, params: SubscribeParams) -> Result<Subscription, ClientError> {
        match self.request(&Request::Subscribe(params)).await?.body {
            ReplyBody::Subscribed(info) => Ok(Subscription { client: self, info }),
            _ => Err(self.unexpected("subscribed")),
        }
    }

    fn unexpected(&self, expected: &'static str) -> ClientError {
        ClientError::Unexpected {
            addr: self.addr,
            expected,
        }
    }
}

/// A subscribed connection.
#[derive(Debug)]
pub struct Subscription {
    client: Client,
    info: Subscribed,
}

impl Subscription {
    /// What the server agreed to stream.
    pub fn info(&self) -> &Subscribed {
        &self.info
    }

    /// The next line: `Ok(None)` once the node closed the connection. Cancel safe only
    /// between lines (a line half-read when the future is dropped is lost).
    ///
    /// # Errors
    /// I/O errors; [`ClientError::Protocol`] for a line that is no stream line (the
    /// connection stays usable).
    pub async fn next(&mut self) -> Result<Option<StreamLine>, ClientError> {
        let addr = self.client.addr;
        let Some(line) = read_line(addr, &mut self.client.reader, &mut self.client.buf).await?
        else {
            return Ok(None);
        };
        protocol::parse_stream_line(line)
            .map(Some)
            .map_err(|source| protocol_error(addr, line, source))
    }

    /// Sends another request on the subscribed connection; its answer arrives as a
    /// [`StreamLine::Reply`] or [`StreamLine::Error`] among the events.
    ///
    /// # Errors
    /// [`ClientError::Io`] if writing fails.
    pub async fn send(&mut self, request: &Request) -> Result<(), ClientError> {
        self.client.send(request).await
    }
}

fn protocol_error(addr: SocketAddr, line: &[u8], source: serde_json::Error) -> ClientError {
    let text = String::from_utf8_lossy(line);
    let line = match text.char_indices().nth(200) {
        Some((i, _)) => format!("{}...", text.get(..i).unwrap_or_default()),
        None => text.into_owned(),
    };
    ClientError::Protocol { addr, line, source }
}

/// Reads one line (without its newline) into `buf`; `None` at end of stream.
async fn read_line<'b>(
    addr: SocketAddr,
    reader: &mut BufReader<OwnedReadHalf>,
    buf: &'b mut Vec<u8>,
) -> Result<Option<&'b [u8]>, ClientError> {
    use tokio::io::AsyncReadExt;
    buf.clear();
    let limit = u64::try_from(MAX_REPLY_LINE + 1).unwrap_or(u64::MAX);
    let n = (&mut *reader)
        .take(limit)
        .read_until(b'\n', buf)
        .await
        .map_err(|source| ClientError::Io {
            addr,
            action: "reading",
            source,
        })?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    } else if buf.len() > MAX_REPLY_LINE {
        return Err(ClientError::TooLong {
            addr,
            limit: MAX_REPLY_LINE,
        });
    }
    Ok(Some(buf.as_slice()))
}
