//! Window coefficients.

use super::WindowKind;

impl WindowKind {
    /// The `n` coefficients of the window, periodic form (the DFT-even window that Welch and
    /// `scipy.signal.get_window` use, so that 50 % overlapped Hann segments add to a constant).
    pub fn coefficients(self, n: usize) -> Vec<f64> {
        let len = n as f64;
        (0..n)
            .map(|t| {
                let x = std::f64::consts::TAU * t as f64 / len;
                match self {
                    Self::Rect => 1.0,
                    Self::Hann => 0.5 - 0.5 * x.cos(),
                    Self::BlackmanHarris => {
                        0.35875 - 0.48829 * x.cos() + 0.14128 * (2.0 * x).cos()
                            - 0.01168 * (3.0 * x).cos()
                    }
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hann_is_periodic_and_sums_to_half() {
        let w = WindowKind::Hann.coefficients(64);
        assert_eq!(w[0], 0.0);
        assert!((w[32] - 1.0).abs() < 1e-12);
        let s: f64 = w.iter().sum();
        assert!((s - 32.0).abs() < 1e-9, "sum {s}");
        // 50 % overlap-add of the periodic Hann is exactly constant.
        for t in 0..32 {
            assert!((w[t] + w[t + 32] - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn blackman_harris_peak_and_ends() {
        let w = WindowKind::BlackmanHarris.coefficients(128);
        assert!((w[64] - 1.0).abs() < 1e-9);
        assert!(w[0] < 1e-4);
        assert!(WindowKind::Rect.coefficients(8).iter().all(|&v| v == 1.0));
    }
}
