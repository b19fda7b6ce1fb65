//! Runs the dashboard on this terminal, fed by the synthetic demo or by a node's local API.
//!
//! ```sh
//! cargo run -p trustband-tui --example dashboard                       # demo, seed 1
//! cargo run -p trustband-tui --example dashboard -- --seed 7 --fps 15
//! cargo run -p trustband-tui --example dashboard -- --connect 127.0.0.1:7040
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::mpsc;

use tui::{RunOptions, run, spawn_demo, wire};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut seed = 1u64;
    let mut connect: Option<SocketAddr> = None;
    let mut options = RunOptions::default();
    while let Some(a) = args.next() {
        let value = args.next();
        let parsed = match (a.as_str(), value.as_deref()) {
            ("--seed", Some(v)) => v.parse().map(|s| seed = s).map_err(|e| e.to_string()),
            ("--fps", Some(v)) => v
                .parse()
                .map(|f| options.fps = f)
                .map_err(|e| e.to_string()),
            ("--connect", Some(v)) => v
                .parse()
                .map(|a| connect = Some(a))
                .map_err(|e: std::net::AddrParseError| e.to_string()),
            _ => Err(String::from(
                "usage: dashboard [--seed N] [--fps N] [--connect ADDR]",
            )),
        };
        if let Err(e) = parsed {
            eprintln!("{a}: {e}");
            return ExitCode::from(2);
        }
    }
    let (tx, rx) = mpsc::channel();
    match connect {
        Some(addr) => drop(wire::connect(addr, tx.clone())),
        // Start 200 s in, so trust histories and the chain have some past.
        None => drop(spawn_demo(seed, 200_000, 100, tx.clone())),
    }
    match run(tx, rx, options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dashboard: {e}");
            ExitCode::FAILURE
        }
    }
}
