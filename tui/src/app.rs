//! Dashboard state and input handling, free of I/O so every key and update is unit-testable.
//!
//! Data flow: the runtime ([`crate::run`]) receives [`UiEvent`]s on one channel (data from the
//! node, terminal input from its own thread) and hands them to [`App::handle_batch`]; the app
//! folds data into a [`Feed`] (latest snapshot, bounded waterfall per node, bounded log) and keys
//! into its view state (focus, selection, mode, pause, zoom); `&App` is a ratatui widget
//! ([`crate::view`]) drawn at a bounded frame rate. While paused the app keeps folding data into
//! the live feed but draws a frozen copy.

use std::collections::{BTreeMap, VecDeque};

use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::model::{LogLine, MAX_BINS, Snapshot, Update, WaterfallRow};
use crate::view::ColourDepth;

/// Nodes for which a waterfall is kept at most; beyond that the node with the oldest newest
/// row is evicted (a producer inventing node names cannot grow memory without bound).
pub const MAX_WATERFALL_NODES: usize = 64;

/// Everything the dashboard's event loop consumes, on one channel.
#[derive(Debug, Clone, PartialEq)]
pub enum UiEvent {
    /// A new full snapshot (replaces the previous one).
    Snapshot(Box<Snapshot>),
    /// Waterfall rows of one node, oldest first.
    Rows {
        /// Node that produced them.
        node: String,
        /// Rows, oldest first.
        rows: Vec<WaterfallRow>,
    },
    /// Log lines, oldest first.
    Log(Vec<LogLine>),
    /// The data source is up (text names it, e.g. `127.0.0.1:7040`).
    Connected(String),
    /// The data source went away (text says why); the last data stays on screen, marked stale.
    Disconnected(String),
    /// A local message for the status bar and the log (a skipped malformed line, a retry).
    Notice(String),
    /// Terminal input (keys, resize).
    Input(Event),
    /// Close the dashboard (e.g. `trustband run` finished).
    Quit,
}

impl From<Update> for UiEvent {
    fn from(u: Update) -> Self {
        match u {
            Update::Snapshot(s) => UiEvent::Snapshot(s),
            Update::Rows { node, rows } => UiEvent::Rows { node, rows },
            Update::Log { lines } => UiEvent::Log(lines),
        }
    }
}

/// What the event loop should do after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Nothing visible changed.
    None,
    /// Draw again (at the next frame).
    Redraw,
    /// Restore the terminal and return.
    Quit,
}

impl Action {
    fn max(self, other: Action) -> Action {
        match (self, other) {
            (Action::Quit, _) | (_, Action::Quit) => Action::Quit,
            (Action::Redraw, _) | (_, Action::Redraw) => Action::Redraw,
            _ => Action::None,
        }
    }
}

/// Input mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Panels, keys act on them.
    Normal,
    /// Help overlay shown; Esc, `?` or Enter close it.
    Help,
}

/// The dashboard's panels, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Panel {
    /// PSD of the selected node with channel edges, noise floor and thresholds.
    Spectrum,
    /// PSD history of the selected node.
    Waterfall,
    /// Per-channel decisions, fused decision, auction and lease.
    Channels,
    /// Auctions and leases.
    Market,
    /// Height, interval, difficulty, recent blocks, forks and reorgs.
    Chain,
    /// Trust per node with history.
    Trust,
    /// Event log.
    Log,
}

impl Panel {
    /// All panels in Tab order.
    pub const ALL: [Panel; 7] = [
        Panel::Spectrum,
        Panel::Waterfall,
        Panel::Channels,
        Panel::Market,
        Panel::Chain,
        Panel::Trust,
        Panel::Log,
    ];

    /// Title shown on the panel's border and tab.
    pub fn title(self) -> &'static str {
        match self {
            Panel::Spectrum => "Spectrum",
            Panel::Waterfall => "Waterfall",
            Panel::Channels => "Channels",
            Panel::Chain => "Chain",
            Panel::Trust => "Trust",
            Panel::Market => "Auctions & leases",
            Panel::Log => "Log",
        }
    }

    fn index(self) -> usize {
        Panel::ALL.iter().position(|&p| p == self).unwrap_or(0)
    }

    fn step(self, forward: bool) -> Panel {
        let n = Panel::ALL.len();
        let i = self.index();
        let j = if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        };
        Panel::ALL.get(j).copied().unwrap_or(Panel::Spectrum)
    }
}

/// State of the data source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// Nothing received yet.
    Waiting,
    /// Connected (source name).
    Up(String),
    /// Lost (reason).
    Down(String),
}

/// One entry of the dashboard's log: a producer's line or a local notice.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// The line.
    pub line: LogLine,
    /// True for lines the dashboard produced itself (notices, link changes).
    pub local: bool,
}

/// Data the dashboard draws: the latest snapshot, waterfall history per node, log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Feed {
    /// Latest snapshot.
    pub snapshot: Option<Snapshot>,
    /// Waterfall rows per node, oldest first, at most [`AppOptions::waterfall_rows`] each.
    pub waterfall: BTreeMap<String, VecDeque<WaterfallRow>>,
    /// Log, oldest first, at most [`AppOptions::log_lines`].
    pub log: VecDeque<LogEntry>,
    /// Highest producer log sequence number seen.
    last_seq: Option<u64>,
    /// App clock (ms) when the latest snapshot arrived.
    pub received_at_ms: Option<u64>,
}

/// Sizes and looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppOptions {
    /// Waterfall rows kept per node (each terminal cell shows two).
    pub waterfall_rows: usize,
    /// Log lines kept.
    pub log_lines: usize,
    /// Colours the terminal can show.
    pub colour: ColourDepth,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            waterfall_rows: 400,
            log_lines: 1000,
            colour: ColourDepth::TrueColour,
        }
    }
}

/// The dashboard: data plus view state. Draw it with `frame.render_widget(&app, area)`.
#[derive(Debug, Clone)]
pub struct App {
    pub(crate) options: AppOptions,
    pub(crate) mode: Mode,
    pub(crate) focus: Panel,
    pub(crate) zoom: bool,
    pub(crate) paused: bool,
    /// Data events received while paused.
    pub(crate) behind: u64,
    pub(crate) selected_node: Option<String>,
    pub(crate) selected_channel: Option<String>,
    /// Lines scrolled up from the newest in the log (0 follows the tail).
    pub(crate) log_scroll: usize,
    /// Blocks scrolled down from the newest in the chain panel.
    pub(crate) chain_scroll: usize,
    pub(crate) live: Feed,
    pub(crate) frozen: Option<Feed>,
    pub(crate) link: Link,
    /// Monotonic clock of the runtime (ms); only used to age data, 0 in tests.
    pub(crate) clock_ms: u64,
    pub(crate) notice: Option<String>,
    local_seq: u64,
}

impl Default for App {
    fn default() -> Self {
        App::new(AppOptions::default())
    }
}

impl App {
    /// An empty dashboard (every panel shows its "no data" state).
    pub fn new(options: AppOptions) -> App {
        App {
            options: AppOptions {
                waterfall_rows: options.waterfall_rows.max(1),
                log_lines: options.log_lines.max(1),
                colour: options.colour,
            },
            mode: Mode::Normal,
            focus: Panel::Spectrum,
            zoom: false,
            paused: false,
            behind: 0,
            selected_node: None,
            selected_channel: None,
            log_scroll: 0,
            chain_scroll: 0,
            live: Feed::default(),
            frozen: None,
            link: Link::Waiting,
            clock_ms: 0,
            notice: None,
            local_seq: 0,
        }
    }

    /// Current mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Focused panel.
    pub fn focus(&self) -> Panel {
        self.focus
    }

    /// Whether the focused panel fills the screen.
    pub fn zoomed(&self) -> bool {
        self.zoom
    }

    /// Whether the view is frozen.
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// Data source state.
    pub fn link(&self) -> &Link {
        &self.link
    }

    /// Selected node's name (the snapshot's own node until the user picks another).
    pub fn selected_node(&self) -> Option<&str> {
        let snap = self.feed().snapshot.as_ref()?;
        let names: Vec<&str> = node_names(snap);
        resolve(
            &names,
            self.selected_node.as_deref().or(Some(snap.node.as_str())),
        )
    }

    /// Selected channel's name.
    pub fn selected_channel(&self) -> Option<&str> {
        let snap = self.feed().snapshot.as_ref()?;
        let names: Vec<&str> = snap.channels.iter().map(|c| c.name.as_str()).collect();
        resolve(&names, self.selected_channel.as_deref())
    }

    /// The data being drawn (frozen copy while paused).
    pub fn feed(&self) -> &Feed {
        self.frozen.as_ref().unwrap_or(&self.live)
    }

    /// The live data (keeps updating while paused).
    pub fn live_feed(&self) -> &Feed {
        &self.live
    }

    /// Sets the runtime's monotonic clock (ms), used to show how old the data is.
    pub fn set_clock(&mut self, ms: u64) {
        self.clock_ms = ms;
    }

    /// Applies a batch of events in order, except that only the last snapshot of the batch
    /// replaces the view (the earlier ones only contribute their spectra as waterfall rows and
    /// their log lines): a slow terminal never falls behind a fast producer, and loses nothing
    /// that has a history. Returns the strongest action (Quit over Redraw over None).
    pub fn handle_batch<I: IntoIterator<Item = UiEvent>>(&mut self, events: I) -> Action {
        let events: Vec<UiEvent> = events.into_iter().collect();
        let last_snapshot = events
            .iter()
            .rposition(|e| matches!(e, UiEvent::Snapshot(_)));
        let mut action = Action::None;
        for (i, ev) in events.into_iter().enumerate() {
            if let UiEvent::Snapshot(s) = &ev
                && Some(i) != last_snapshot
            {
                self.data_event();
                self.ingest_history(s);
                continue;
            }
            action = action.max(self.handle(ev));
            if action == Action::Quit {
                break;
            }
        }
        action
    }

    /// Applies one event.
    pub fn handle(&mut self, event: UiEvent) -> Action {
        match event {
            // Data always redraws: while paused the panels stay frozen but the status bar
            // counts the updates held back.
            UiEvent::Snapshot(s) => {
                self.data_event();
                self.ingest_snapshot(*s);
                Action::Redraw
            }
            UiEvent::Rows { node, rows } => {
                self.data_event();
                self.ingest_rows(&node, rows);
                Action::Redraw
            }
            UiEvent::Log(lines) => {
                self.data_event();
                for line in lines {
                    self.push_log(line, false);
                }
                Action::Redraw
            }
            UiEvent::Connected(source) => {
                self.local_log(crate::model::Level::Info, format!("connected to {source}"));
                self.link = Link::Up(source);
                Action::Redraw
            }
            UiEvent::Disconnected(reason) => {
                self.local_log(crate::model::Level::Warn, format!("disconnected: {reason}"));
                self.link = Link::Down(reason);
                Action::Redraw
            }
            UiEvent::Notice(text) => {
                self.local_log(crate::model::Level::Warn, text.clone());
                self.notice = Some(text);
                Action::Redraw
            }
            UiEvent::Input(Event::Key(key)) => self.handle_key(key),
            UiEvent::Input(Event::Resize(..)) => Action::Redraw,
            UiEvent::Input(_) => Action::None,
            UiEvent::Quit => Action::Quit,
        }
    }

    fn data_event(&mut self) {
        if self.link == Link::Waiting {
            self.link = Link::Up(String::from("in-process"));
        }
        if self.paused {
            self.behind = self.behind.saturating_add(1);
        }
    }

    fn ingest_snapshot(&mut self, snap: Snapshot) {
        self.ingest_history(&snap);
        self.live.received_at_ms = Some(self.clock_ms);
        self.live.snapshot = Some(snap);
    }

    /// The parts of a snapshot that have a history: spectra (as waterfall rows, so a
    /// snapshot-only feed has a waterfall too; rows already received through `Rows` are not
    /// repeated, by time) and log lines (deduplicated by sequence number).
    fn ingest_history(&mut self, snap: &Snapshot) {
        let cap = self.options.waterfall_rows;
        for node in &snap.nodes {
            if let Some(frame) = &node.spectrum {
                push_rows(&mut self.live.waterfall, &node.name, [frame.to_row()], cap);
            }
        }
        for line in &snap.log {
            self.push_log(line.clone(), false);
        }
    }

    fn ingest_rows(&mut self, node: &str, rows: Vec<WaterfallRow>) {
        push_rows(
            &mut self.live.waterfall,
            node,
            rows,
            self.options.waterfall_rows,
        );
    }

    fn push_log(&mut self, line: LogLine, local: bool) {
        let feed = &mut self.live;
        if !local {
            if feed.last_seq.is_some_and(|s| line.seq <= s) {
                return;
            }
            feed.last_seq = Some(line.seq);
        }
        feed.log.push_back(LogEntry { line, local });
        while feed.log.len() > self.options.log_lines {
            feed.log.pop_front();
        }
    }

    fn local_log(&mut self, level: crate::model::Level, text: String) {
        self.local_seq += 1;
        let at_ms = self.live.snapshot.as_ref().map_or(0, |s| s.at_ms);
        let line = LogLine {
            seq: self.local_seq,
            at_ms,
            level,
            text,
        };
        self.push_log(line, true);
    }

    /// Handles one key; public so tests and embedders can drive the app without a terminal.
    pub fn handle_key(&mut self, key: KeyEvent) -> Action {
        if key.kind == KeyEventKind::Release {
            return Action::None;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('c') if ctrl => return Action::Quit,
            KeyCode::Char('q') => return Action::Quit,
            _ => {}
        }
        if self.mode == Mode::Help {
            return match key.code {
                KeyCode::Esc | KeyCode::Enter | KeyCode::Char('?') => {
                    self.mode = Mode::Normal;
                    Action::Redraw
                }
                _ => Action::None,
            };
        }
        match key.code {
            KeyCode::Char('?') | KeyCode::F(1) => self.mode = Mode::Help,
            KeyCode::Tab => self.focus = self.focus.step(true),
            KeyCode::BackTab => self.focus = self.focus.step(false),
            KeyCode::Char(c @ '1'..='7') => {
                let i = c.to_digit(10).and_then(|d| usize::try_from(d).ok());
                if let Some(&p) = i.and_then(|i| Panel::ALL.get(i.saturating_sub(1))) {
                    self.focus = p;
                }
            }
            KeyCode::Char('p') | KeyCode::Char(' ') => self.toggle_pause(),
            KeyCode::Char('z') | KeyCode::Enter => self.zoom = !self.zoom,
            KeyCode::Esc if self.zoom => self.zoom = false,
            KeyCode::Right | KeyCode::Char('l') | KeyCode::Char('n') => self.step_node(true),
            KeyCode::Left | KeyCode::Char('h') | KeyCode::Char('N') => self.step_node(false),
            KeyCode::Char('c') => self.step_channel(true),
            KeyCode::Char('C') => self.step_channel(false),
            KeyCode::Down | KeyCode::Char('j') => self.step_in_focus(true, 1),
            KeyCode::Up | KeyCode::Char('k') => self.step_in_focus(false, 1),
            KeyCode::PageDown => self.step_in_focus(true, 10),
            KeyCode::PageUp => self.step_in_focus(false, 10),
            KeyCode::End | KeyCode::Char('G') => {
                self.log_scroll = 0;
                self.chain_scroll = 0;
            }
            KeyCode::Home | KeyCode::Char('g') => {
                self.log_scroll = self.feed().log.len();
                self.chain_scroll = 0;
            }
            _ => return Action::None,
        }
        Action::Redraw
    }

    fn toggle_pause(&mut self) {
        if self.paused {
            self.paused = false;
            self.frozen = None;
            self.behind = 0;
        } else {
            self.paused = true;
            self.frozen = Some(self.live.clone());
        }
    }

    /// ↑/↓ act on the focused list: channels in the spectrum, waterfall, channel and market
    /// panels, nodes in the trust table, scrolling in the chain and the log.
    fn step_in_focus(&mut self, forward: bool, by: usize) {
        match self.focus {
            // Channel lists are short; a page key moves one channel like an arrow.
            Panel::Spectrum | Panel::Waterfall | Panel::Channels | Panel::Market => {
                self.step_channel(forward);
            }
            Panel::Trust => self.step_node(forward),
            Panel::Chain => {
                let n = self
                    .feed()
                    .snapshot
                    .as_ref()
                    .map_or(0, |s| s.chain.recent_blocks.len());
                self.chain_scroll = if forward {
                    (self.chain_scroll + by).min(n.saturating_sub(1))
                } else {
                    self.chain_scroll.saturating_sub(by)
                };
            }
            Panel::Log => {
                let n = self.feed().log.len();
                // Down moves towards the newest line (scroll 0 follows the tail).
                self.log_scroll = if forward {
                    self.log_scroll.saturating_sub(by)
                } else {
                    (self.log_scroll + by).min(n.saturating_sub(1))
                };
            }
        }
    }

    fn step_node(&mut self, forward: bool) {
        let Some(snap) = self.feed().snapshot.as_ref() else {
            return;
        };
        let names = node_names(snap);
        let current = self.selected_node();
        if let Some(next) = step_name(&names, current, forward) {
            self.selected_node = Some(next);
        }
    }

    fn step_channel(&mut self, forward: bool) {
        let Some(snap) = self.feed().snapshot.as_ref() else {
            return;
        };
        let names: Vec<&str> = snap.channels.iter().map(|c| c.name.as_str()).collect();
        let current = self.selected_channel();
        if let Some(next) = step_name(&names, current, forward) {
            self.selected_channel = Some(next);
        }
    }
}

/// Node names in display order: the snapshot's node list, else the trust table's.
pub(crate) fn node_names(snap: &Snapshot) -> Vec<&str> {
    if snap.nodes.is_empty() {
        snap.trust.iter().map(|t| t.node.as_str()).collect()
    } else {
        snap.nodes.iter().map(|n| n.name.as_str()).collect()
    }
}

/// `wanted` if it is among `names`, else the first name.
fn resolve<'a>(names: &[&'a str], wanted: Option<&str>) -> Option<&'a str> {
    wanted
        .and_then(|w| names.iter().copied().find(|&n| n == w))
        .or_else(|| names.first().copied())
}

/// The name after (or before) `current`, wrapping around.
fn step_name(names: &[&str], current: Option<&str>, forward: bool) -> Option<String> {
    let n = names.len();
    if n == 0 {
        return None;
    }
    let i = current
        .and_then(|c| names.iter().position(|&x| x == c))
        .unwrap_or(0);
    let j = if forward {
        (i + 1) % n
    } else {
        (i + n - 1) % n
    };
    names.get(j).map(|s| (*s).to_owned())
}

/// Appends rows newer than the node's newest, bounding the bins per row, the rows per node
/// and the number of nodes.
fn push_rows<I: IntoIterator<Item = WaterfallRow>>(
    map: &mut BTreeMap<String, VecDeque<WaterfallRow>>,
    node: &str,
    rows: I,
    cap: usize,
) {
    if !map.contains_key(node) && map.len() >= MAX_WATERFALL_NODES {
        let oldest = map
            .iter()
            .min_by_key(|(_, q)| q.back().map_or(0, |r| r.at_ms))
            .map(|(k, _)| k.clone());
        if let Some(k) = oldest {
            map.remove(&k);
        }
    }
    let queue = map.entry(node.to_owned()).or_default();
    for mut row in rows {
        if queue.back().is_some_and(|last| row.at_ms <= last.at_ms) {
            continue;
        }
        if row.psd_db.len() > MAX_BINS {
            row.psd_db = decimate_max(&row.psd_db, MAX_BINS);
        }
        queue.push_back(row);
        while queue.len() > cap {
            queue.pop_front();
        }
    }
}

/// Peak-preserving decimation to `out` bins.
pub(crate) fn decimate_max(v: &[f32], out: usize) -> Vec<f32> {
    let n = v.len();
    if out == 0 || n <= out {
        return v.to_vec();
    }
    (0..out)
        .map(|j| {
            let a = j * n / out;
            let b = ((j + 1) * n / out).max(a + 1);
            v.get(a..b)
                .unwrap_or(&[])
                .iter()
                .copied()
                .fold(f32::NEG_INFINITY, f32::max)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::demo_snapshot;

    fn key(code: KeyCode) -> UiEvent {
        UiEvent::Input(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
    }

    fn app_with_demo() -> App {
        let mut app = App::default();
        app.handle(UiEvent::Snapshot(Box::new(demo_snapshot(1, 10_000))));
        app
    }

    #[test]
    fn tab_cycles_focus_both_ways() {
        let mut app = App::default();
        let mut seen = vec![app.focus()];
        for _ in 0..Panel::ALL.len() {
            assert_eq!(app.handle(key(KeyCode::Tab)), Action::Redraw);
            seen.push(app.focus());
        }
        assert_eq!(&seen[..7], &Panel::ALL[..]);
        assert_eq!(seen[7], Panel::Spectrum, "wraps after the last panel");
        app.handle(key(KeyCode::BackTab));
        assert_eq!(app.focus(), Panel::Log, "Shift-Tab wraps backwards");
        app.handle(key(KeyCode::Char('5')));
        assert_eq!(app.focus(), Panel::Chain);
    }

    #[test]
    fn p_toggles_pause_and_freezes_the_view() {
        let mut app = app_with_demo();
        let before = app.feed().snapshot.as_ref().map(|s| s.at_ms);
        app.handle(key(KeyCode::Char('p')));
        assert!(app.paused());
        app.handle(UiEvent::Snapshot(Box::new(demo_snapshot(1, 20_000))));
        assert_eq!(app.feed().snapshot.as_ref().map(|s| s.at_ms), before);
        assert_eq!(
            app.live_feed().snapshot.as_ref().map(|s| s.at_ms),
            Some(20_000),
            "keeps receiving while paused"
        );
        assert_eq!(app.behind, 1);
        app.handle(key(KeyCode::Char('p')));
        assert!(!app.paused());
        assert_eq!(app.feed().snapshot.as_ref().map(|s| s.at_ms), Some(20_000));
    }

    #[test]
    fn help_opens_and_closes_and_swallows_keys() {
        let mut app = App::default();
        app.handle(key(KeyCode::Char('?')));
        assert_eq!(app.mode(), Mode::Help);
        assert_eq!(app.handle(key(KeyCode::Tab)), Action::None);
        assert_eq!(
            app.focus(),
            Panel::Spectrum,
            "keys do not leak through the overlay"
        );
        app.handle(key(KeyCode::Esc));
        assert_eq!(app.mode(), Mode::Normal);
    }

    #[test]
    fn q_and_ctrl_c_quit_in_any_mode() {
        let mut app = App::default();
        assert_eq!(app.handle(key(KeyCode::Char('q'))), Action::Quit);
        app.handle(key(KeyCode::Char('?')));
        assert_eq!(app.handle(key(KeyCode::Char('q'))), Action::Quit);
        let ctrl_c = UiEvent::Input(Event::Key(KeyEvent::new(
            KeyCode::Char('c'),
            KeyModifiers::CONTROL,
        )));
        assert_eq!(app.handle(ctrl_c), Action::Quit);
        assert_eq!(App::default().handle(UiEvent::Quit), Action::Quit);
    }

    #[test]
    fn node_and_channel_selection_wrap() {
        let mut app = app_with_demo();
        let snap = demo_snapshot(1, 10_000);
        let nodes: Vec<String> = snap.nodes.iter().map(|n| n.name.clone()).collect();
        let chans: Vec<String> = snap.channels.iter().map(|c| c.name.clone()).collect();
        // Starts on the snapshot's own node.
        assert_eq!(app.selected_node(), Some(snap.node.as_str()));
        let start = nodes.iter().position(|n| *n == snap.node).unwrap();
        for k in 1..=nodes.len() {
            app.handle(key(KeyCode::Right));
            let want = &nodes[(start + k) % nodes.len()];
            assert_eq!(app.selected_node(), Some(want.as_str()));
        }
        app.handle(key(KeyCode::Left));
        assert_eq!(
            app.selected_node(),
            Some(nodes[(start + nodes.len() - 1) % nodes.len()].as_str())
        );
        // Channels: ↑ from the first wraps to the last (Spectrum focused).
        assert_eq!(app.selected_channel(), Some(chans[0].as_str()));
        app.handle(key(KeyCode::Up));
        assert_eq!(app.selected_channel(), chans.last().map(String::as_str));
        app.handle(key(KeyCode::Down));
        assert_eq!(app.selected_channel(), Some(chans[0].as_str()));
        // In the trust table ↑/↓ move the node selection instead.
        app.handle(key(KeyCode::Char('6')));
        assert_eq!(app.focus(), Panel::Trust);
        let before = app.selected_node().map(str::to_owned);
        app.handle(key(KeyCode::Down));
        assert_ne!(app.selected_node().map(str::to_owned), before);
        assert_eq!(app.selected_channel(), Some(chans[0].as_str()));
    }

    #[test]
    fn selection_without_data_is_a_no_op() {
        let mut app = App::default();
        app.handle(key(KeyCode::Right));
        app.handle(key(KeyCode::Down));
        assert_eq!(app.selected_node(), None);
        assert_eq!(app.selected_channel(), None);
    }

    #[test]
    fn batch_applies_only_the_last_snapshot_but_every_row() {
        let mut app = App::default();
        let row = |t| WaterfallRow {
            at_ms: t,
            center_hz: 1e6,
            span_hz: 1e5,
            psd_db: vec![-50.0; 8],
        };
        let mut s1 = demo_snapshot(1, 1_000);
        s1.node = "first".into();
        let s2 = demo_snapshot(1, 2_000);
        let batch = vec![
            UiEvent::Snapshot(Box::new(s1)),
            UiEvent::Rows {
                node: "x".into(),
                rows: vec![row(1), row(2)],
            },
            UiEvent::Snapshot(Box::new(s2.clone())),
            UiEvent::Rows {
                node: "x".into(),
                rows: vec![row(2), row(3)],
            },
        ];
        assert_eq!(app.handle_batch(batch), Action::Redraw);
        assert_eq!(app.feed().snapshot.as_ref(), Some(&s2));
        let times: Vec<u64> = app.feed().waterfall["x"].iter().map(|r| r.at_ms).collect();
        assert_eq!(times, vec![1, 2, 3], "duplicate row 2 dropped");
        // The skipped snapshot still left its spectra in the waterfall.
        let n = &s2.nodes[0].name;
        let times: Vec<u64> = app.feed().waterfall[n].iter().map(|r| r.at_ms).collect();
        assert_eq!(times, vec![1_000, 2_000]);
    }

    #[test]
    fn waterfall_and_log_are_bounded() {
        let mut app = App::new(AppOptions {
            waterfall_rows: 5,
            log_lines: 3,
            ..AppOptions::default()
        });
        let rows = (1..=20)
            .map(|t| WaterfallRow {
                at_ms: t,
                psd_db: vec![0.0; MAX_BINS * 2 + 3],
                ..WaterfallRow::default()
            })
            .collect();
        app.handle(UiEvent::Rows {
            node: "a".into(),
            rows,
        });
        let q = &app.feed().waterfall["a"];
        assert_eq!(q.len(), 5);
        assert_eq!(q.front().map(|r| r.at_ms), Some(16));
        assert!(q.iter().all(|r| r.psd_db.len() == MAX_BINS));
        for node in 0..(MAX_WATERFALL_NODES + 10) {
            app.handle(UiEvent::Rows {
                node: format!("n{node}"),
                rows: vec![WaterfallRow {
                    at_ms: 100 + node as u64,
                    ..WaterfallRow::default()
                }],
            });
        }
        assert_eq!(app.feed().waterfall.len(), MAX_WATERFALL_NODES);
        let line = |seq| LogLine {
            seq,
            at_ms: seq,
            level: crate::model::Level::Info,
            text: format!("l{seq}"),
        };
        app.handle(UiEvent::Log((1..=10).map(line).collect()));
        app.handle(UiEvent::Log(vec![line(4), line(11)]));
        let seqs: Vec<u64> = app.feed().log.iter().map(|e| e.line.seq).collect();
        assert_eq!(
            seqs,
            vec![9, 10, 11],
            "bounded, and seq 4 dropped as a duplicate"
        );
    }

    #[test]
    fn link_state_follows_connect_and_disconnect() {
        let mut app = App::default();
        assert_eq!(app.link(), &Link::Waiting);
        app.handle(UiEvent::Connected("127.0.0.1:7040".into()));
        assert_eq!(app.link(), &Link::Up("127.0.0.1:7040".into()));
        app.handle(UiEvent::Disconnected("reset by peer".into()));
        assert_eq!(app.link(), &Link::Down("reset by peer".into()));
        assert!(
            app.feed()
                .log
                .iter()
                .any(|e| e.local && e.line.text.contains("reset by peer"))
        );
    }

    #[test]
    fn zoom_toggles_and_escape_leaves_it() {
        let mut app = App::default();
        app.handle(key(KeyCode::Char('z')));
        assert!(app.zoomed());
        app.handle(key(KeyCode::Esc));
        assert!(!app.zoomed());
        assert_eq!(app.handle(key(KeyCode::Esc)), Action::None);
    }

    #[test]
    fn decimate_max_keeps_peaks() {
        assert_eq!(
            decimate_max(&[1.0, 5.0, 2.0, 3.0, 0.0, 9.0], 3),
            vec![5.0, 3.0, 9.0]
        );
        assert_eq!(decimate_max(&[1.0, 2.0], 4), vec![1.0, 2.0]);
    }
}
