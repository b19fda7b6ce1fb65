//! Server side of the local API.
//!
//! Data flow: [`serve`] accepts connections on the given listener (one task each, at most
//! [`ServerConfig::max_connections`]) and runs one aggregator task that folds the node's event
//! stream into a [`crate::dashboard::Aggregator`] (for `snapshot` and `blocks`) and polls the
//! node's status once a second. Per connection:
//!
//! ```text
//!  socket ─> reader: line (≤ 64 KiB) ─> parse ─> answer ─> replies (bounded; back-pressures
//!                       │                                  only this connection's reader)
//!                       └─ subscribe ─> forwarder: broadcast::Receiver ─> topic filter ─>
//!                                       PSD decimation ─> events (bounded; full = dropped,
//!                                       counted)
//!  writer: replies first, then events (a `dropped` notice before the next event) ─> socket
//! ```
//!
//! The node is never blocked: it publishes on a broadcast channel, which drops the oldest
//! events for a receiver that lags (counted as dropped too). Shutdown (the token) stops the
//! listener and every connection task; [`serve`] returns once all of them have ended, so
//! every socket is closed by then. The shape follows tokio's mini-redis server.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, broadcast, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::protocol::{
    self, ErrorReply, HeadInfo, MAX_REQUEST_LINE, Query, Reply, ReplyBody, Request,
    SubscribeParams, Subscribed, Topic, code,
};
use super::{NodeApi, NodeApiError};
use crate::dashboard::{Aggregator, AggregatorConfig};
use crate::node::events::NodeEvent;

/// How the server runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Connections served at once; more are answered with [`code::BUSY`] and closed.
    pub max_connections: usize,
    /// Event lines queued per subscribed connection before events are dropped for it.
    pub queue_len: usize,
    /// PSD frames per second per node sent to a subscriber that does not ask for a rate.
    pub psd_hz: f64,
    /// Highest PSD rate a subscriber may ask for.
    pub max_psd_hz: f64,
    /// How often the aggregator refreshes the node's status.
    pub status_every: Duration,
    /// The aggregator behind `snapshot` and `blocks`.
    pub aggregator: AggregatorConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_connections: 64,
            queue_len: 1024,
            psd_hz: 5.0,
            max_psd_hz: 30.0,
            status_every: Duration::from_secs(1),
            aggregator: AggregatorConfig::default(),
        }
    }
}

/// Why the server stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The listener's address could not be read.
    #[error("local API listener: {source}")]
    Listener {
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
}

/// What every connection task shares.
struct Shared {
    node: Arc<dyn NodeApi>,
    /// A receiver kept only to hand out fresh ones (`resubscribe`); never read.
    events: Mutex<broadcast::Receiver<NodeEvent>>,
    aggregator: Mutex<Aggregator>,
    config: ServerConfig,
}

impl Shared {
    fn subscribe(&self) -> broadcast::Receiver<NodeEvent> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .resubscribe()
    }

    fn with_aggregator<T>(&self, f: impl FnOnce(&mut Aggregator) -> T) -> T {
        f(&mut self
            .aggregator
            .lock()
            .unwrap_or_else(PoisonError::into_inner))
    }
}

/// Serves the local API on `listener` until `shutdown` is cancelled, then closes every
/// connection and returns.
///
/// `events` is a receiver of the node's event broadcast: the server keeps it for its
/// aggregator and derives one receiver per subscriber from it. Accept errors (out of file
/// descriptors, a connection reset before accept) are logged and retried after a pause.
///
/// # Errors
/// [`ServerError::Listener`] if the listener's local address cannot be read.
pub async fn serve(
    listener: TcpListener,
    node: Arc<dyn NodeApi>,
    events: broadcast::Receiver<NodeEvent>,
    shutdown: CancellationToken,
    config: ServerConfig,
) -> Result<(), ServerError> {
    let local = listener
        .local_addr()
        .map_err(|source| ServerError::Listener { source })?;
    tracing::info!(%local, "local API listening");
    let shared = Arc::new(Shared {
        node,
        events: Mutex::new(events.resubscribe()),
        aggregator: Mutex::new(Aggregator::new(config.aggregator.clone())),
        config,
    });
    let tracker = TaskTracker::new();
    tracker.spawn(aggregate(Arc::clone(&shared), events, shutdown.clone()));
    let slots = Arc::new(Semaphore::new(shared.config.max_connections.max(1)));
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            r = listener.accept() => r,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "local API: accept failed; retrying");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_millis(100)) => continue,
                }
            }
        };
        let _ = stream.set_nodelay(true);
        match Arc::clone(&slots).try_acquire_owned() {
            Ok(permit) => {
                let shared = Arc::clone(&shared);
                let token = shutdown.child_token();
                tracker.spawn(async move {
                    connection(stream, peer, shared, token).await;
                    drop(permit);
                });
            }
            Err(_) => {
                tracker.spawn(refuse(stream));
            }
        }
    }
    drop(listener);
    tracker.close();
    tracker.wait().await;
    tracing::info!(%local, "local API stopped");
    Ok(())
}

/// Tells a connection over the limit why it is closed.
async fn refuse(mut stream: TcpStream) {
    let mut line = ErrorReply::new(code::BUSY, "too many connections; try again later").to_line();
    line.push('\n');
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(line.as_bytes())).await;
}

/// Folds the event stream into the aggregator and refreshes the node's status.
async fn aggregate(
    shared: Arc<Shared>,
    mut events: broadcast::Receiver<NodeEvent>,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(shared.config.status_every.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut open = true;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            r = events.recv(), if open => match r {
                Ok(ev) => shared.with_aggregator(|a| a.apply(&ev)),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    shared.with_aggregator(|a| a.note_lagged(n));
                }
                // The node stopped publishing; keep answering requests until shutdown.
                Err(broadcast::error::RecvError::Closed) => open = false,
            },
            _ = tick.tick() => {
                if let Ok(s) = shared.node.status().await {
                    // Every event already queued was published before this status was taken:
                    // fold them in first, so an older block event never overwrites the newer
                    // status (the status poll and the stream are two views of one node).
                    if open {
                        open = drain(&shared, &mut events);
                    }
                    shared.with_aggregator(|a| a.apply_status(&s));
                }
            }
        }
    }
}

/// Applies every event queued on `events` without waiting; false once the stream is closed.
fn drain(shared: &Shared, events: &mut broadcast::Receiver<NodeEvent>) -> bool {
    loop {
        match events.try_recv() {
            Ok(ev) => shared.with_aggregator(|a| a.apply(&ev)),
            Err(broadcast::error::TryRecvError::Lagged(n)) => {
                shared.with_aggregator(|a| a.note_lagged(n));
            }
            Err(broadcast::error::TryRecvError::Empty) => return true,
            Err(broadcast::error::TryRecvError::Closed) => return false,
        }
    }
}

/// Events lost for one subscriber: since the last notice, and in total.
#[derive(Debug, Default)]
struct Drops {
    pending: AtomicU64,
    total: AtomicU64,
}

impl Drops {
    fn add(&self, n: u64) {
        self.pending.fetch_add(n, Ordering::Relaxed);
        self.total.fetch_add(n, Ordering::Relaxed);
    }
}

/// Serves one connection until the client goes away or shutdown.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    token: CancellationToken,
) {
    tracing::debug!(%peer, "local API: connection");
    let (read, write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let (reply_tx, reply_rx) = mpsc::channel::<String>(16);
    let (event_tx, event_rx) = mpsc::channel::<String>(shared.config.queue_len.max(1));
    let drops = Arc::new(Drops::default());
    let mut writer = tokio::spawn(write_lines(
        write,
        reply_rx,
        event_rx,
        Arc::clone(&drops),
        token.clone(),
    ));
    let mut writer_finished = false;
    let mut forwarder: Option<JoinHandle<()>> = None;
    let mut buf = Vec::new();
    loop {
        let read = tokio::select! {
            () = token.cancelled() => break,
            r = read_request(&mut reader, &mut buf) => r,
        };
        let answer = match read {
            Ok(ReadLine::Line) => {
                if buf.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                answer(&buf, &shared, &event_tx, &drops, &mut forwarder, &token).await
            }
            Ok(ReadLine::TooLong) => ErrorReply::new(
                code::INVALID_REQUEST,
                format!("request longer than {MAX_REQUEST_LINE} bytes; skipped"),
            )
            .to_line(),
            // The client closed its side (or reset). A subscriber may only have closed its
            // sending half (`nc -N`): keep streaming until the writer fails or shutdown.
            Ok(ReadLine::Eof) | Err(_) => {
                if forwarder.is_some() {
                    tokio::select! {
                        () = token.cancelled() => {}
                        _ = &mut writer => writer_finished = true,
                    }
                }
                break;
            }
        };
        let sent = tokio::select! {
            () = token.cancelled() => break,
            r = reply_tx.send(answer) => r,
        };
        if sent.is_err() {
            break;
        }
    }
    // Let the writer flush the answers already queued (unless shutting down), then stop.
    drop(reply_tx);
    if let Some(f) = forwarder.take() {
        f.abort();
    }
    drop(event_tx);
    if !writer_finished {
        let _ = writer.await;
    }
    tracing::debug!(%peer, "local API: connection closed");
}

/// Answers one request line; a `subscribe` also (re)starts this connection's forwarder.
async fn answer(
    line: &[u8],
    shared: &Arc<Shared>,
    event_tx: &mpsc::Sender<String>,
    drops: &Arc<Drops>,
    forwarder: &mut Option<JoinHandle<()>>,
    token: &CancellationToken,
) -> String {
    let (id, request) = match protocol::parse_request(line) {
        Ok(r) => r,
        Err(e) => return e.to_line(),
    };
    let body = match request {
        Request::Status => shared.node.status().await.map(ReplyBody::Status),
        Request::Snapshot => Ok(ReplyBody::Snapshot(Box::new(
            shared.with_aggregator(|a| a.snapshot()),
        ))),
        Request::Query(Query::Head) => shared.node.status().await.map(|s| {
            ReplyBody::Head(HeadInfo {
                height: s.height,
                hash: s.head_hash,
                state_root: s.state_root,
            })
        }),
        Request::Query(Query::Blocks { limit }) => Ok(ReplyBody::Blocks(
            shared.with_aggregator(|a| a.recent_blocks(limit)),
        )),
        Request::Query(Query::Account(who)) => match shared.node.account(who.clone()).await {
            Ok(Some(a)) => Ok(ReplyBody::Account(a)),
            Ok(None) => {
                let mut e = ErrorReply::new(code::NOT_FOUND, format!("no account with {who}"));
                e.id = id;
                return e.to_line();
            }
            Err(e) => Err(e),
        },
        Request::Subscribe(params) => {
            let info = subscription(&params, &shared.config);
            if let Some(old) = forwarder.take() {
                old.abort();
            }
            *forwarder = Some(tokio::spawn(forward(
                shared.subscribe(),
                info.clone(),
                event_tx.clone(),
                Arc::clone(drops),
                token.clone(),
            )));
            Ok(ReplyBody::Subscribed(info))
        }
    };
    match body {
        Ok(body) => Reply { id, body }.to_line(),
        Err(e) => {
            let code = match e {
                NodeApiError::Invalid { .. } => code::INVALID_PARAMS,
                _ => code::UNAVAILABLE,
            };
            let mut reply = ErrorReply::new(code, e.to_string());
            reply.id = id;
            reply.to_line()
        }
    }
}

/// What a subscription gets: its topics (sorted, deduplicated) and PSD rate.
fn subscription(params: &SubscribeParams, config: &ServerConfig) -> Subscribed {
    let mut topics = params.topics.clone().unwrap_or_else(|| Topic::ALL.to_vec());
    topics.sort();
    topics.dedup();
    let max = if config.max_psd_hz.is_finite() && config.max_psd_hz > 0.0 {
        config.max_psd_hz
    } else {
        1.0
    };
    let psd_hz = params
        .psd_hz
        .unwrap_or(config.psd_hz)
        .clamp(f64::MIN_POSITIVE, max);
    Subscribed {
        topics,
        psd_hz,
        queue: config.queue_len.max(1),
    }
}

/// Copies wanted events from the broadcast into this connection's bounded queue, never
/// waiting: a full queue drops the event (counted).
async fn forward(
    mut events: broadcast::Receiver<NodeEvent>,
    info: Subscribed,
    queue: mpsc::Sender<String>,
    drops: Arc<Drops>,
    token: CancellationToken,
) {
    let gap = Duration::from_secs_f64(1.0 / info.psd_hz);
    let mut last_psd: HashMap<String, Instant> = HashMap::new();
    loop {
        let r = tokio::select! {
            () = token.cancelled() => return,
            r = events.recv() => r,
        };
        let event = match r {
            Ok(e) => e,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                drops.add(n);
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if !info.topics.contains(&Topic::of(&event)) {
            continue;
        }
        if let NodeEvent::Psd { node, .. } = &event {
            let now = Instant::now();
            match last_psd.get_mut(node) {
                Some(t) if now.duration_since(*t) < gap => continue,
                Some(t) => *t = now,
                // Bounded by the nodes the node reports on.
                None => {
                    if last_psd.len() < 4096 {
                        last_psd.insert(node.clone(), now);
                    }
                }
            }
        }
        let Ok(line) = serde_json::to_string(&event) else {
            continue;
        };
        match queue.try_send(line) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => drops.add(1),
            Err(mpsc::error::TrySendError::Closed(_)) => return,
        }
    }
}

/// Writes answers (first) and events to the socket, one line each; before an event, a
/// `dropped` notice if events were lost since the last one.
async fn write_lines(
    mut socket: OwnedWriteHalf,
    mut replies: mpsc::Receiver<String>,
    mut events: mpsc::Receiver<String>,
    drops: Arc<Drops>,
    token: CancellationToken,
) {
    let mut out = Vec::with_capacity(4096);
    loop {
        out.clear();
        tokio::select! {
            biased;
            () = token.cancelled() => break,
            Some(r) = replies.recv() => {
                out.extend_from_slice(r.as_bytes());
                out.push(b'\n');
            }
            Some(e) = events.recv() => {
                let lost = drops.pending.swap(0, Ordering::Relaxed);
                if lost > 0 {
                    let total = drops.total.load(Ordering::Relaxed);
                    out.extend_from_slice(protocol::DroppedNotice::new(lost, total).to_line().as_bytes());
                    out.push(b'\n');
                }
                out.extend_from_slice(e.as_bytes());
                out.push(b'\n');
            }
            else => break,
        }
        let written = tokio::select! {
            () = token.cancelled() => break,
            r = socket.write_all(&out) => r,
        };
        if written.is_err() {
            break;
        }
    }
    let _ = socket.shutdown().await;
}

enum ReadLine {
    /// A line (without its newline) is in the buffer.
    Line,
    /// A line longer than [`MAX_REQUEST_LINE`] was skipped.
    TooLong,
    /// End of stream.
    Eof,
}

/// Reads one request line into `buf`, skipping (not buffering) the rest of an overlong line.
async fn read_request<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
) -> std::io::Result<ReadLine> {
    buf.clear();
    let mut too_long = false;
    loop {
        let chunk = reader.fill_buf().await?;
        if chunk.is_empty() {
            return Ok(if too_long {
                ReadLine::TooLong
            } else if buf.is_empty() {
                ReadLine::Eof
            } else {
                ReadLine::Line
            });
        }
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (chunk.len(), false),
        };
        if !too_long {
            if buf.len() + take > MAX_REQUEST_LINE {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(chunk.get(..take).unwrap_or_default());
            }
        }
        reader.consume(if done { take + 1 } else { take });
        if done {
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            return Ok(if too_long {
                ReadLine::TooLong
            } else {
                ReadLine::Line
            });
        }
    }
}
