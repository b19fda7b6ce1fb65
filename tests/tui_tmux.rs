//! End to end on a real terminal: `trustband run` inside tmux (120×40) opens the dashboard,
//! every panel shows live values (the height grows between two captures, channels show
//! decisions), and `q` gives the shell back. Skipped, with a note, where tmux is missing (CI
//! installs the `tmux` package).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_support;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use api_support::{FakeNode, block_event};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use trustband::api::server::{ServerConfig, serve};

/// A private tmux server (its own socket), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap()
    }

    fn capture(&self) -> String {
        let out = self.cmd(&["capture-pane", "-p", "-t", "tb"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn type_line(&self, text: &str) {
        assert!(
            self.cmd(&["send-keys", "-t", "tb", "-l", text])
                .status
                .success()
        );
        assert!(
            self.cmd(&["send-keys", "-t", "tb", "Enter"])
                .status
                .success()
        );
    }

    /// Captures until `ok` holds, failing the test after `limit` (a generous bound: the test
    /// checks behaviour, not speed).
    fn wait_for(&self, what: &str, limit: Duration, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.capture();
            if ok(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < limit,
                "waited {limit:?} for {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // tmux leaves its socket file behind; remove it too.
        let socket = self.cmd(&["display-message", "-p", "#{socket_path}"]);
        let _ = self.cmd(&["kill-server"]);
        let path = String::from_utf8_lossy(&socket.stdout).trim().to_owned();
        if !path.is_empty() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The number after `label` on the first line that has it (`height 1202`).
fn number_after(screen: &str, label: &str) -> Option<u64> {
    screen.lines().find_map(|l| {
        let rest = &l[l.find(label)? + label.len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    })
}

/// A tmux session running an interactive `sh` with a known prompt, or `None` (with a note)
/// where tmux is missing.
fn shell(tag: &str) -> Option<Tmux> {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("note: tmux is not installed; skipping the dashboard end-to-end test");
        return None;
    }
    let tmux = Tmux {
        socket: format!("trustband-test-{tag}-{}", std::process::id()),
    };
    let started = tmux.cmd(&[
        "new-session",
        "-d",
        "-x",
        "120",
        "-y",
        "40",
        "-s",
        "tb",
        "env PS1='tb-ready$ ' sh -i",
    ]);
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    // A window that never resizes with a client (there is none) keeps 120×40.
    let _ = tmux.cmd(&["set-option", "-t", "tb", "window-size", "manual"]);
    tmux.wait_for("the shell prompt", Duration::from_secs(30), |s| {
        s.contains("tb-ready$")
    });
    Some(tmux)
}

/// Waits for the shell to be back after the dashboard: `TB_DONE=<code>` printed and the
/// prompt on the last line; returns the screen.
fn wait_for_shell(tmux: &Tmux) -> String {
    let back = tmux.wait_for("the shell after q", Duration::from_secs(60), |s| {
        s.contains("TB_DONE=")
            && s.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .is_some_and(|l| l.trim_end() == "tb-ready$")
    });
    assert!(
        !back.contains("Waterfall"),
        "the dashboard is still on screen:\n{back}"
    );
    back
}

#[test]
fn run_shows_a_live_dashboard_and_q_returns_to_the_shell() {
    let Some(tmux) = shell("run") else {
        return;
    };
    let bin = env!("CARGO_BIN_EXE_trustband");
    tmux.type_line(&format!("'{bin}' run --rounds 1000; echo TB_DONE=$?"));

    // The dashboard is up once the chain panel shows a height.
    let first = tmux.wait_for(
        "the dashboard with a height",
        Duration::from_secs(120),
        |s| s.contains("Chain") && number_after(s, "height ").is_some_and(|h| h > 0),
    );
    let h1 = number_after(&first, "height ").unwrap();
    let second = tmux.wait_for("the height to grow", Duration::from_secs(120), |s| {
        number_after(s, "height ").is_some_and(|h| h > h1)
    });
    let h2 = number_after(&second, "height ").unwrap();
    assert!(h2 > h1);

    // Every panel is drawn, with live values.
    for title in [
        "Spectrum",
        "Waterfall",
        "Channels",
        "Auctions & leases",
        "Chain",
        "Trust",
        "Log",
    ] {
        assert!(second.contains(title), "panel {title:?} missing:\n{second}");
    }
    let screen = tmux.wait_for("channel decisions", Duration::from_secs(120), |s| {
        s.contains("BUSY") || s.contains("idle")
    });
    assert!(
        screen
            .lines()
            .next()
            .is_some_and(|l| l.contains("trustband")),
        "header:\n{screen}"
    );
    assert!(screen.contains("MHz"), "spectrum axis:\n{screen}");
    assert!(
        screen.contains("interval"),
        "chain panel without its interval line:\n{screen}"
    );
    // Nothing else writes over the dashboard (progress lines, logs on stderr).
    assert!(
        !screen
            .lines()
            .any(|l| l.trim_start().starts_with("round ") || l.contains(" WARN trustband")),
        "something wrote over the dashboard:\n{screen}"
    );
    println!("{screen}");

    // `q` closes the dashboard and gives the shell back.
    assert!(tmux.cmd(&["send-keys", "-t", "tb", "q"]).status.success());
    wait_for_shell(&tmux);
}

/// `trustband tui --connect` against a fake node's API served by this test: live heights,
/// "disconnected" once the node is gone, `q` back to the shell with exit code 0.
#[test]
fn tui_connect_follows_a_node_and_shows_when_it_is_gone() {
    let Some(tmux) = shell("connect") else {
        return;
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let (events, rx) = broadcast::channel(1024);
    let shutdown = CancellationToken::new();
    let token = shutdown.clone();
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            serve(
                listener,
                Arc::new(FakeNode::default()),
                rx,
                token,
                ServerConfig::default(),
            )
            .await
            .unwrap();
        });
    });
    // A block every 100 ms until the node goes away.
    let stop = Arc::new(AtomicBool::new(false));
    let publisher = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut h = 1;
            while !stop.load(Ordering::SeqCst) {
                let _ = events.send(block_event("n1", h, 1000, 0));
                h += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let bin = env!("CARGO_BIN_EXE_trustband");
    tmux.type_line(&format!("'{bin}' tui --connect {addr}; echo TB_DONE=$?"));
    let first = tmux.wait_for(
        "the dashboard with a height",
        Duration::from_secs(60),
        |s| s.contains("Chain") && number_after(s, "height ").is_some_and(|h| h > 0),
    );
    let h1 = number_after(&first, "height ").unwrap();
    let second = tmux.wait_for("the height to grow", Duration::from_secs(60), |s| {
        number_after(s, "height ").is_some_and(|h| h > h1)
    });
    assert!(second.contains("live"), "{second}");
    // The fake node's status reached the header: its 2 peers.
    tmux.wait_for("the status in the header", Duration::from_secs(60), |s| {
        s.lines().next().is_some_and(|l| l.contains("2 peers"))
    });
    // The node goes away: the dashboard says so and keeps the last picture.
    stop.store(true, Ordering::SeqCst);
    publisher.join().unwrap();
    shutdown.cancel();
    server.join().unwrap();
    let gone = tmux.wait_for("the disconnected mark", Duration::from_secs(60), |s| {
        s.contains("disconnected")
    });
    assert!(gone.contains("Chain"), "{gone}");
    assert!(tmux.cmd(&["send-keys", "-t", "tb", "q"]).status.success());
    let back = wait_for_shell(&tmux);
    assert!(back.contains("TB_DONE=0"), "{back}");
}
