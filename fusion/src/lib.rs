//! trustband-fusion: cooperative-sensing maths for trustband.
//!
//! Purpose: everything between "sensors sent their reports" and "the chain knows who to trust":
//! fusing reports into one busy/idle decision, paper A's trust model (SPEC 5, reconstructed),
//! choosing which sensors sense, and the paper-A simulation that checks it all (SPEC 8). The
//! chain's contracts call the first three from consensus-critical code, so those are integer /
//! fixed-point only and give the same bits on every platform; this crate depends on no sibling.
//!
//! Data flow of one round, as the cooperative sensing contract drives it:
//! 1. registered sensors -> [`select()`] with a [`SelectionScheme`] (trust from each account's
//!    [`TrustRecord`]) -> the K sensors that sense;
//! 2. their [`Report`]s -> [`fuse`] with a [`FusionRule`] -> the channel's decision;
//! 3. each participant's agreement with the decision -> [`TrustModel::participate`], everyone
//!    else [`TrustModel::skip_round`] ([`PaperTrust`] by default) -> new trust, which also sets
//!    the account's PoT cost factor [`mining_cost_factor`].
//!
//! Modules:
//! - [`fixed`]: [`Fx`], decimal fixed point (10^-9) with deterministic `exp`, `2^x`, dB;
//! - [`rule`]: fusion rules; [`trust`]: the trust model and records; [`mod@select`]: selection;
//! - [`sim`]: the simulation (`f64`, seeded RNG; an experiment, never consensus).
//!
//! The consensus modules (`fixed`, `rule`, `trust`, `select`) deny `clippy::float_arithmetic`;
//! `f64` views of [`Fx`] ([`Fx::to_f64`]) live apart, for display and experiments.
//!
//! Errors: every fallible function returns the crate's one error type, [`Error`].

mod approx;
pub mod error;
pub mod fixed;
pub mod rule;
pub mod select;
pub mod sim;
pub mod trust;

pub use error::Error;
pub use fixed::Fx;
pub use rule::{ENERGY_LIMIT_MDB, FusionRule, Report, TieBreak, fuse};
pub use select::{Candidate, SelectionScheme, select};
pub use trust::{
    AttenuationPoint, KAPPA, PaperTrust, TrustModel, TrustParams, TrustRecord, mining_cost_factor,
};
