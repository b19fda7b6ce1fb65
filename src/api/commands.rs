//! `trustband status` and `trustband tui`: the local API's two command-line clients.
//!
//! Data flow: the address flag -> [`parse_addr`] (a bad one is bad input, exit 2) ->
//! `status`: one [`Client`] request on a small tokio runtime -> a table or the `NodeStatus`
//! JSON on `out`; `tui`: [`crate::dashboard::run_connected`] on this terminal.

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};

use anyhow::Context;

use super::client::Client;
use crate::bad_input;
use crate::dashboard::{DashboardOptions, run_connected};
use crate::node::events::{NodeEvent, NodeStatus};

/// Arguments of `trustband status`.
#[derive(Debug, Clone)]
pub struct StatusArgs {
    /// The node's local API, `HOST:PORT`.
    pub connect: String,
    /// Print the `NodeStatus` JSON instead of a table.
    pub json: bool,
}

/// Arguments of `trustband tui`.
#[derive(Debug, Clone)]
pub struct TuiArgs {
    /// The node's local API, `HOST:PORT`.
    pub connect: String,
    /// Frames per second at most.
    pub fps: u16,
}

/// Resolves `HOST:PORT` (an IP literal or a name such as `localhost`).
///
/// # Errors
/// A [`crate::BadInput`] naming the address if it has no port or does not resolve.
pub fn parse_addr(text: &str) -> anyhow::Result<SocketAddr> {
    if let Ok(a) = text.parse::<SocketAddr>() {
        return Ok(a);
    }
    let bad = |why: String| {
        bad_input(format!(
            "bad address {text:?}: {why} (expected HOST:PORT, e.g. 127.0.0.1:7040)"
        ))
    };
    let mut addrs = text.to_socket_addrs().map_err(|e| bad(e.to_string()))?;
    addrs
        .next()
        .ok_or_else(|| bad(String::from("resolves to no address")))
}

/// Prints a node's status.
///
/// # Errors
/// Bad address (bad input); the connection refused or the node's error answer (naming the
/// address); writing `out`.
pub fn status(args: &StatusArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let addr = parse_addr(&args.connect)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let status = rt.block_on(async {
        let mut client = Client::connect(addr).await?;
        client.status().await
    });
    let status = status.map_err(|e| match e {
        super::ClientError::Connect { .. } => {
            anyhow::anyhow!("{e} (is a node running with its local API there?)")
        }
        e => anyhow::Error::new(e),
    })?;
    if args.json {
        serde_json::to_writer(&mut *out, &status).context("writing the status")?;
        writeln!(out)?;
    } else {
        write_table(&status, out)?;
    }
    out.flush()?;
    Ok(())
}

/// Writes a status as a small report.
///
/// # Errors
/// Writing `out`.
pub fn write_table(s: &NodeStatus, out: &mut dyn Write) -> std::io::Result<()> {
    let roles = if s.roles.is_empty() {
        String::from("-")
    } else {
        s.roles.join(", ")
    };
    writeln!(out, "node        {} ({roles})", s.name)?;
    writeln!(out, "height      {}", s.height)?;
    writeln!(out, "head        {}", s.head_hash)?;
    writeln!(out, "state root  {}", s.state_root)?;
    if s.peers.is_empty() {
        writeln!(out, "peers       0")?;
    } else {
        writeln!(out, "peers       {}: {}", s.peers.len(), s.peers.join(", "))?;
    }
    writeln!(out, "trust       {:.3}", s.trust)?;
    writeln!(out, "balance     {}", s.balance)?;
    let decisions: Vec<&NodeEvent> = s
        .last_decisions
        .iter()
        .filter(|d| matches!(d, NodeEvent::Decision { .. }))
        .collect();
    if decisions.is_empty() {
        writeln!(out, "decisions   none yet")?;
        return Ok(());
    }
    writeln!(out, "decisions")?;
    writeln!(
        out,
        "  {:<12} {:>6} {:>10} {:>10} {:>10}  state",
        "channel", "round", "E dBFS", "noise", "λ"
    )?;
    for d in decisions {
        if let NodeEvent::Decision {
            round,
            channel,
            energy_dbfs,
            noise_dbfs,
            threshold_dbfs,
            busy,
            ..
        } = d
        {
            writeln!(
                out,
                "  {channel:<12} {round:>6} {energy_dbfs:>10.1} {noise_dbfs:>10.1} {threshold_dbfs:>10.1}  {}",
                if *busy { "BUSY" } else { "idle" }
            )?;
        }
    }
    Ok(())
}

/// Opens the dashboard attached to a node's local API.
///
/// # Errors
/// Bad address (bad input); the terminal cannot be used.
pub fn tui(args: &TuiArgs) -> anyhow::Result<()> {
    let addr = parse_addr(&args.connect)?;
    let mut options = DashboardOptions::default();
    options.run.fps = args.fps;
    run_connected(addr, options)
}
