//! trustband: the command-line tool that wires the radio, fusion, chain and dashboard crates.

pub mod cli;
