//! trustband's terminal dashboard: what a node senses, decides, mines and leases, live, in a
//! terminal (often over SSH on a lab host).
//!
//! Data flow:
//!
//! ```text
//!  node local API (NDJSON over TCP) ─ wire::connect ─┐
//!  `trustband run` (in-process) ─────────────────────┼─> mpsc<UiEvent> ─> run: App ─> ratatui
//!  demo::spawn_demo ─────────────────────────────────┤     (batched,        (bounded fps)
//!  terminal input thread (keys, resize) ─────────────┘      latest snapshot wins)
//! ```
//!
//! - [`model`]: the serialisable view model ([`Snapshot`], [`Update`]), independent of the
//!   chain's and the radio's own types.
//! - [`App`]: view state and the pure event handler ([`App::handle`], [`App::handle_batch`]);
//!   `&App` is a ratatui widget laying out seven panels (spectrum, waterfall, channels,
//!   chain, trust, auctions & leases, log) as a grid from 110×32, as pages with a tab bar
//!   below that (80×24 included).
//! - [`run`]: the event loop on the real terminal, restored on exit and on panic.
//! - [`wire`]: the NDJSON reader and reconnecting TCP client.
//! - [`demo`]: a deterministic synthetic testbed for tests and `--demo`.
//!
//! # Feeding it
//!
//! In-process (`trustband run`): create `std::sync::mpsc::channel()`, give the testbed a clone
//! of the sender, send a [`UiEvent::Snapshot`] every few hundred ms and, if the radio runs
//! faster, [`UiEvent::Rows`] with each window's PSD ([`SpectrumFrame::from_linear`] turns a
//! detector's linear Welch PSD into decimated dB; `to_row` makes it a waterfall row), then
//! call [`run`] on the main thread with the channel's other sender and its receiver. Send
//! [`UiEvent::Quit`] to close it from the testbed's side.
//!
//! Over the local API: the node writes one [`Update`] per line as JSON (`{"type":"snapshot",
//! ...}`, `{"type":"rows",...}`, `{"type":"log",...}`; amounts as decimal strings) to each
//! client of its TCP port on 127.0.0.1; the dashboard side is [`wire::connect`]`(addr, tx)`
//! followed by [`run`]. Missing fields take their defaults, so a node can start with a
//! partial snapshot.
//!
//! Keys: Tab / Shift-Tab or 1–7 move between panels; ←/→ select the node; ↑/↓ move in the
//! focused list (channel, or node in the trust table, or scroll the chain and log); `z`
//! zooms the focused panel; `p` pauses (freezes the view, keeps receiving); `?` help; `q` or
//! Ctrl-C quit.

pub mod app;
pub mod demo;
pub mod model;
pub mod runtime;
pub mod view;
pub mod wire;

pub use app::{Action, App, AppOptions, Feed, Link, Mode, Panel, UiEvent};
pub use demo::{demo_row, demo_snapshot, spawn_demo};
pub use model::{Snapshot, SpectrumFrame, Update, WaterfallRow};
pub use runtime::{RunOptions, chain_panic_hook, event_loop, run};
pub use view::{ColourDepth, ColourScale, LayoutKind, ScreenLayout, screen_layout};

/// Everything that can go wrong in the dashboard.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Setting up, drawing to or restoring the terminal failed.
    #[error("terminal: {action}: {source}")]
    Terminal {
        /// What was being done.
        action: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Reading the local API's stream failed.
    #[error("{source_name}: line {line}: read failed: {source}")]
    Read {
        /// Stream (address or file).
        source_name: String,
        /// Line being read (1-based).
        line: u64,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A line of the local API is not a valid update.
    #[error("{source_name}: line {line}, column {column}: not a dashboard update: {source}")]
    Json {
        /// Stream (address or file).
        source_name: String,
        /// Line (1-based).
        line: u64,
        /// Column of the error within the line (1-based; 0 when the parser cannot tell, as
        /// for a field of the wrong type inside a tagged message).
        column: usize,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A line of the local API exceeds [`wire::MAX_LINE`].
    #[error("{source_name}: line {line} is longer than {limit} bytes; skipped")]
    LineTooLong {
        /// Stream (address or file).
        source_name: String,
        /// Line (1-based).
        line: u64,
        /// The limit (bytes).
        limit: usize,
    },
    /// A thread panicked while the dashboard had the terminal; the panic hook restored the
    /// terminal and printed the panic, and the dashboard stopped drawing.
    #[error("a thread panicked while the dashboard was running (terminal restored)")]
    Panicked,
    /// Terminal input can no longer be read, so the dashboard could not be quit.
    #[error("terminal input stopped: {reason}")]
    InputStopped {
        /// Why.
        reason: String,
    },
}
