//! Signal processing: windows, Welch PSD, effective degrees of freedom, χ²/F thresholds and
//! noise-floor estimation.
//!
//! Data flow inside one sensing window (driven by [`crate::detector::EnergyDetector`]):
//!
//! ```text
//! samples (Complex32 or cu8 bytes)
//!   └─ segment of N samples ─ × window ─ FFT (in place) ─ |X|² accumulated   [`welch`]
//!        (hop = N − overlap)                 after M segments: ÷ (M·Σw²), FFT-shift
//!   PSD P[k] ─ valid bins (no DC, no edge crop) ─ FCME noise level, shape      [`noise`]
//!             └─ channel bins ─ E_c  vs  λ = σ̂² · quantile(P_fa; n, n_ref)    [`threshold`]
//! ```
//!
//! `n` (the effective number of independent complex samples behind E_c) is computed exactly
//! from the window, the hop, M and the channel's bins in [`dof`].

pub mod dof;
pub mod noise;
pub mod threshold;
pub mod welch;
mod window;

use serde::{Deserialize, Serialize};

pub use dof::effective_dof;
pub use threshold::{chi2_threshold_factor, f_threshold_factor, q_inv};
pub use welch::{CU8_LUT, IqSample, Welch, cu8_to_f32, fft_shift_index};

/// Segment window for the Welch PSD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum WindowKind {
    /// Hann (default).
    #[default]
    Hann,
    /// Rectangular (no window).
    Rect,
    /// Blackman-Harris, 4 terms.
    BlackmanHarris,
}
