//! End to end on a real terminal: `trustband run` inside tmux (120×40) opens the dashboard,
//! every panel shows live values (the height grows between two captures, channels show
//! decisions), and `q` gives the shell back. Skipped, with a note, where tmux is missing (CI
//! installs the `tmux` package).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant};

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
        let _ = self.cmd(&["kill-server"]);
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

#[test]
fn run_shows_a_live_dashboard_and_q_returns_to_the_shell() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("note: tmux is not installed; skipping the dashboard end-to-end test");
        return;
    }
    let tmux = Tmux {
        socket: format!("trustband-test-{}", std::process::id()),
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
}
