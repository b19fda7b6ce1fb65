//! # trustband-radio
//!
//! Everything between an antenna (or a recording of one) and a busy/idle decision.
//!
//! Data flow:
//!
//! ```text
//!  SoapySDR device ─┐
//!  raw IQ file ─────┼─> IqSource ──blocks of Complex32──> EnergyDetector
//!  SigMF recording ─┤         (rate, centre, index,          │  Welch PSD (window, FFT, overlap)
//!  synthetic scene ─┘          timestamp per block)          │  DC / edge crop, per-channel power
//!                                                            │  noise-floor tracking
//!                                                            │  χ² threshold for a target P_fa
//!                                                            v
//!                                                  WindowReport { decisions per channel }
//! ```
//!
//! Sources implement [`source::IqSource`]; the file and synthetic sources are always compiled,
//! the SoapySDR one sits behind the `soapy` cargo feature. Band plans ([`bandplan`]) say which
//! channels the detector ([`detector`]) decides on.
//!
//! This crate depends on no other trustband crate.

pub mod bandplan;
pub mod detector;
pub mod dsp;
mod error;
pub mod source;
pub mod toml_location;

pub use error::{Error, Result};
