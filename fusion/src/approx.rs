//! Floating-point views of [`Fx`] for display, plots and experiments.
//!
//! Purpose: the simulation and the dashboard want `f64`; consensus code must never take this
//! path, which is why these conversions live outside the `#![deny(clippy::float_arithmetic)]`
//! modules. Data flow: `Fx` -> `f64` (exact to about 1e-16 relative) and `f64` -> `Fx`
//! (rounded, saturating).

use crate::Fx;

impl Fx {
    /// The value as `f64` (for display and experiments only).
    #[must_use]
    #[allow(clippy::cast_precision_loss)] // |raw| < 2^63: the loss is below f64's resolution.
    pub fn to_f64(self) -> f64 {
        self.raw() as f64 / Fx::SCALE as f64
    }

    /// The nearest fixed-point value to `v`, saturating at the range ends; NaN maps to zero.
    /// For experiments and tests only: consensus code builds `Fx` from integers or strings.
    #[must_use]
    #[allow(clippy::cast_possible_truncation)] // `as` from f64 saturates, which is the intent.
    pub fn from_f64_lossy(v: f64) -> Fx {
        Fx::from_raw((v * Fx::SCALE as f64).round() as i64)
    }
}
