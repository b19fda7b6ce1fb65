//! Signal processing: windows, Welch PSD, noise-floor estimation, χ² thresholds.

use serde::{Deserialize, Serialize};

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
