//! # trustband
//!
//! The command-line tool of the trustband testbed. It wires the workspace's libraries together:
//!
//! ```text
//! radio (IQ sources, energy detector) ──> sense / plot / record / bench commands
//! radio + fusion + chain ──> node (sans-I/O: sensing, wallet, chain, roles)
//!            ├──> `run` (demo.rs): every node of a testbed on a simulated network, virtual time
//!            └──> `node`: one lab node over libp2p, redb storage, wall clock
//! ```
//!
//! Binaries stay thin: `src/main.rs` only calls [`cli::main`]. Each subcommand lives in its own
//! module with a plain argument struct, so tests call the same code the CLI does.

pub mod api;
pub mod bench;
pub mod chain_cmd;
pub mod cli;
pub mod dashboard;
pub mod demo;
pub mod econ;
pub mod node;
pub mod plot;
pub mod record;
pub mod sense;

/// An error in what the user gave us (flags, files, configs) rather than in the run itself;
/// the CLI exits with code 2 for these.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// Builds a [`BadInput`] error as an `anyhow::Error`.
pub fn bad_input(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(BadInput(message.into()))
}
