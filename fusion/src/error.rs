//! The crate's one error type.
//!
//! Purpose: every fallible function in `fusion` returns [`enum@Error`]; each variant names the input
//! (field, index) and what was expected against what was got, so a contract can reject a bad
//! transaction with a precise reason.

use thiserror::Error;

/// Everything that can go wrong in fusion, trust, selection and the simulation.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// `fuse` was given no reports: there is no decision to make.
    #[error("fusion over an empty set of reports")]
    EmptyReports,

    /// A rule, model or experiment parameter is out of its domain.
    #[error("invalid parameter `{field}`: expected {expected}, got {got}")]
    InvalidParameter {
        /// Parameter name, e.g. `k`, `alpha`, `attenuation[2].idle`.
        field: &'static str,
        /// The domain it must lie in.
        expected: &'static str,
        /// The offending value, rendered.
        got: String,
    },

    /// One report does not carry what the rule needs or carries an out-of-range value.
    #[error("report {index}: field `{field}`: expected {expected}, got {got}")]
    InvalidReport {
        /// Position of the report in the slice given to `fuse`.
        index: usize,
        /// Field name (`energy_mdb`, `trust`).
        field: &'static str,
        /// What the rule requires.
        expected: &'static str,
        /// The offending value, rendered (`None` when missing).
        got: String,
    },

    /// A fixed-point operation left the representable range.
    #[error("fixed-point overflow in {op}")]
    Overflow {
        /// The operation, e.g. `exp2`, `mul`.
        op: &'static str,
    },

    /// A decimal string could not be parsed as a fixed-point number.
    #[error("cannot parse {input:?} as a fixed-point decimal: {reason}")]
    ParseFx {
        /// The input text.
        input: String,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// A stored trust record is not in canonical form (the chain decodes it from state).
    #[error("trust record field `{field}`: expected {expected}, got {got}")]
    InvalidRecord {
        /// Field name of the record.
        field: &'static str,
        /// The canonical domain.
        expected: &'static str,
        /// The offending value, rendered.
        got: String,
    },
}
