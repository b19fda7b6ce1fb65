//! The event loop: one channel in, frames out, terminal always restored.
//!
//! Data flow: producers (the node's local API through [`crate::wire::connect`], `trustband
//! run` in-process, [`crate::demo::spawn_demo`]) and the input thread (keys and resizes read
//! with crossterm) all send [`UiEvent`]s on one `std::sync::mpsc` channel. The loop waits for
//! the first event of a batch, drains whatever else is queued without blocking (keeping only
//! the batch's latest snapshot), folds the batch into the [`App`] and draws at most `fps`
//! times a second, and at least once a second so data ages stay right. A producer is never
//! blocked by a slow terminal (the channel is unbounded and drained every frame).
//!
//! The terminal is restored (raw mode off, main screen, cursor shown) when [`run`] returns,
//! by a guard's `Drop` on error paths, and by a panic hook that restores first and then calls
//! the previously installed hook, so the panic message lands on a usable terminal.

use std::io::stdout;
use std::sync::Arc;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::{Backend, CrosstermBackend};
use ratatui::crossterm::cursor::Show;
use ratatui::crossterm::event::{self, Event};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};

use crate::Error;
use crate::app::{Action, App, AppOptions, UiEvent};
use crate::view::ColourDepth;

/// Events folded into one frame at most; a flood beyond it is handled over several frames
/// (keys included, so `q` still gets through).
pub const MAX_BATCH: usize = 10_000;

/// How the dashboard runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOptions {
    /// Frames per second at most (clamped to 1..=60). 10 keeps an SSH session light.
    pub fps: u16,
    /// Buffer sizes and colours.
    pub app: AppOptions,
}

impl Default for RunOptions {
    /// 10 fps, default buffers, colour depth guessed from `COLORTERM`/`TERM`.
    fn default() -> Self {
        RunOptions {
            fps: 10,
            app: AppOptions {
                colour: ColourDepth::from_env(),
                ..AppOptions::default()
            },
        }
    }
}

/// Runs the dashboard on the process's terminal until `q`, Ctrl-C, or a [`UiEvent::Quit`].
///
/// `tx` is a sender of the same channel as `rx`: the input thread uses it for keys and
/// resizes. Producers keep their own clones.
///
/// # Errors
/// [`Error::Terminal`] if the terminal cannot be set up or drawn to;
/// [`Error::InputStopped`] if reading keys fails (the dashboard could no longer be quit);
/// [`Error::Panicked`] if another thread panicked meanwhile (the terminal is restored and
/// the panic message printed before this returns).
pub fn run(tx: Sender<UiEvent>, rx: Receiver<UiEvent>, options: RunOptions) -> Result<(), Error> {
    install_restore_hook();
    let guard = TerminalGuard::enter()?;
    let mut terminal =
        Terminal::new(CrosstermBackend::new(stdout())).map_err(|source| Error::Terminal {
            action: "create",
            source,
        })?;
    let stop = Arc::new(AtomicBool::new(false));
    let input = spawn_input(tx, Arc::clone(&stop));
    let mut app = App::new(options.app);
    let result = event_loop(&mut terminal, &mut app, &rx, options.fps, Some(&input));
    stop.store(true, Ordering::SeqCst);
    drop(guard);
    // The input thread polls every 100 ms, so this returns promptly.
    let _ = input.join();
    result
}

/// The loop behind [`run`], on any backend (tests drive it with `TestBackend`). Returns when
/// the app says quit, when every sender is gone, or when `input` (the input thread) has ended.
///
/// # Errors
/// [`Error::Terminal`] if drawing fails; [`Error::InputStopped`] if `input` has ended;
/// [`Error::Panicked`] if a thread panicked while [`run`] had the terminal.
pub fn event_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    rx: &Receiver<UiEvent>,
    fps: u16,
    input: Option<&JoinHandle<()>>,
) -> Result<(), Error> {
    let frame = Duration::from_millis(1000 / u64::from(fps.clamp(1, 60)));
    let idle = Duration::from_secs(1);
    let start = Instant::now();
    let mut dirty = true;
    let mut next_frame = start;
    let mut last_draw = start;
    loop {
        let now = Instant::now();
        let wait = if dirty {
            next_frame.saturating_duration_since(now)
        } else {
            idle.saturating_sub(now.duration_since(last_draw))
        };
        let mut batch = Vec::new();
        let mut senders_gone = false;
        match rx.recv_timeout(wait) {
            Ok(ev) => batch.push(ev),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => senders_gone = true,
        }
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(ev) => batch.push(ev),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    senders_gone = true;
                    break;
                }
            }
        }
        let elapsed = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        app.set_clock(elapsed);
        match app.handle_batch(batch) {
            Action::Quit => return Ok(()),
            Action::Redraw => dirty = true,
            Action::None => {}
        }
        let now = Instant::now();
        if now.duration_since(last_draw) >= idle {
            dirty = true;
        }
        // Never draw on a terminal the panic hook has handed back.
        if dirty && now >= next_frame && !RESTORED_BY_PANIC.load(Ordering::SeqCst) {
            terminal
                .draw(|f| f.render_widget(&*app, f.area()))
                .map_err(|e| Error::Terminal {
                    action: "draw",
                    source: std::io::Error::other(e.to_string()),
                })?;
            dirty = false;
            last_draw = now;
            next_frame = now + frame;
        }
        if senders_gone {
            return Ok(());
        }
        if RESTORED_BY_PANIC.swap(false, Ordering::SeqCst) {
            return Err(Error::Panicked);
        }
        if input.is_some_and(JoinHandle::is_finished) {
            return Err(Error::InputStopped {
                reason: String::from("the terminal input thread ended"),
            });
        }
    }
}

/// Reads terminal events on their own thread and forwards keys and resizes until `stop` is
/// set or the receiver is gone. Polls so that `stop` is seen within 100 ms.
fn spawn_input(tx: Sender<UiEvent>, stop: Arc<AtomicBool>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            match event::poll(Duration::from_millis(100)) {
                Ok(false) => {}
                Ok(true) => match event::read() {
                    Ok(ev @ (Event::Key(_) | Event::Resize(..))) => {
                        if tx.send(UiEvent::Input(ev)).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let _ = tx.send(UiEvent::Notice(format!("terminal input: {e}")));
                        return;
                    }
                },
                Err(e) => {
                    let _ = tx.send(UiEvent::Notice(format!("terminal input: {e}")));
                    return;
                }
            }
        }
    })
}

/// True while this process has the terminal in raw mode on the alternate screen.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// Set by the panic hook when it restored the terminal: a producer thread (say, the in-process
/// testbed) panicked, and drawing on must stop because the screen is no longer ours.
static RESTORED_BY_PANIC: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

/// Puts the terminal back: raw mode off, main screen, cursor visible. Errors are ignored:
/// this runs on the way out, often inside a panic.
fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = execute!(stdout(), LeaveAlternateScreen, Show);
}

/// Installs (once per process) a panic hook that restores the terminal if the dashboard has
/// it, then runs the hook that was installed before.
fn install_restore_hook() {
    HOOK.call_once(|| {
        chain_panic_hook(|| {
            if ACTIVE.swap(false, Ordering::SeqCst) {
                restore_terminal();
                RESTORED_BY_PANIC.store(true, Ordering::SeqCst);
            }
        });
    });
}

/// Replaces the panic hook with one that calls `first`, then the previous hook (so its
/// message, backtrace and any reporter still work, on a restored terminal).
pub fn chain_panic_hook<F: Fn() + Send + Sync + 'static>(first: F) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        first();
        previous(info);
    }));
}

/// Raw mode and the alternate screen for as long as it lives.
struct TerminalGuard;

impl TerminalGuard {
    fn enter() -> Result<TerminalGuard, Error> {
        enable_raw_mode().map_err(|source| Error::Terminal {
            action: "enable raw mode",
            source,
        })?;
        ACTIVE.store(true, Ordering::SeqCst);
        // From here on the guard restores, even if entering the alternate screen fails.
        let guard = TerminalGuard;
        execute!(stdout(), EnterAlternateScreen).map_err(|source| Error::Terminal {
            action: "enter the alternate screen",
            source,
        })?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        if ACTIVE.swap(false, Ordering::SeqCst) {
            restore_terminal();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::demo_snapshot;
    use ratatui::backend::TestBackend;
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use std::sync::mpsc;

    fn buffer_text(t: &Terminal<TestBackend>) -> String {
        let buf = t.backend().buffer();
        let mut s = String::new();
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                s.push_str(buf[(x, y)].symbol());
            }
            s.push('\n');
        }
        s
    }

    #[test]
    fn loop_draws_the_latest_snapshot_then_quits_on_q() {
        let (tx, rx) = mpsc::channel();
        let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
        let mut app = App::default();
        for t in [1_000, 2_000, 61_000] {
            tx.send(UiEvent::Snapshot(Box::new(demo_snapshot(1, t))))
                .unwrap();
        }
        tx.send(UiEvent::Input(Event::Key(KeyEvent::new(
            KeyCode::Char('q'),
            KeyModifiers::NONE,
        ))))
        .unwrap();
        event_loop(&mut terminal, &mut app, &rx, 60, None).unwrap();
        assert_eq!(app.feed().snapshot.as_ref().map(|s| s.at_ms), Some(61_000));
    }

    #[test]
    fn loop_ends_when_every_sender_is_gone_and_draws_first() {
        let (tx, rx) = mpsc::channel();
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        let mut app = App::default();
        tx.send(UiEvent::Snapshot(Box::new(demo_snapshot(1, 30_000))))
            .unwrap();
        drop(tx);
        event_loop(&mut terminal, &mut app, &rx, 10, None).unwrap();
        let text = buffer_text(&terminal);
        assert!(text.contains("trustband"), "{text}");
        assert!(text.contains("Spectrum"), "{text}");
    }

    #[test]
    fn loop_reports_a_dead_input_thread() {
        let (_tx, rx) = mpsc::channel::<UiEvent>();
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        let mut app = App::default();
        let dead = std::thread::spawn(|| {});
        while !dead.is_finished() {
            std::thread::yield_now();
        }
        let r = event_loop(&mut terminal, &mut app, &rx, 60, Some(&dead));
        assert!(matches!(r, Err(Error::InputStopped { .. })), "{r:?}");
    }
}
