//! Effective number of independent complex samples behind a Welch band-power statistic.
//!
//! `E_c = 1/(K·M·Σw²) Σ_{k∈C} Σ_m |X_{k,m}|²`, with `X_{k,m}` the DFT of segment m (hop H).
//! Under H0 (white circular complex Gaussian noise, variance σ²) the `X` are jointly circular
//! Gaussian with
//!
//! ```text
//! E[X_{k,m} X*_{k',m'}] = σ² e^{…} R_d(k−k'),   R_d(Δ) = Σ_t w(t) w(t−d) e^{−j2πΔt/N},  d = (m'−m)·H
//! ```
//!
//! and `Cov(|X_a|², |X_b|²) = |E[X_a X_b*]|²`, so
//!
//! ```text
//! Var[E_c] = σ⁴ / (K·M·Σw²)² · Σ_Δ c(Δ) Σ_{|l|<M, |l|H<N} (M−|l|) |R_{|l|H}(Δ)|²
//! ```
//!
//! where `c(Δ)` counts bin pairs of C at circular distance Δ. `E[E_c] = σ²`, and the effective
//! number of samples is `n = E[E_c]² / Var[E_c]`: the shape parameter of the moment-matched Gamma
//! law of `E_c` (so `2n·E_c/σ² ≈ χ²(2n)`). This counts both the correlation of overlapping
//! segments and that of neighbouring bins of a tapered window. Rectangular window without
//! overlap gives `n = K·M` exactly.

use num_complex::Complex64;
use rustfft::FftPlanner;

/// Effective number of independent complex samples behind the mean of a Welch PSD over the
/// (natural- or shifted-order, it does not matter: only circular differences count) FFT bins
/// `bins` and `segments` segments of `window` taken every `hop` samples.
///
/// Returns 0 when there is nothing to average (no bins, no segments, zero window or hop).
pub fn effective_dof(window: &[f64], hop: usize, segments: usize, bins: &[usize]) -> f64 {
    if hop == 0 {
        return 0.0;
    }
    let offsets: Vec<usize> = (0..segments).map(|m| m * hop).collect();
    effective_dof_offsets(window, &offsets, bins)
}

/// As [`effective_dof`] for segments starting at arbitrary sample `offsets` (sorted ascending;
/// the detector adds a last segment flush with the window's end when the regular hops leave
/// a tail uncovered).
pub fn effective_dof_offsets(window: &[f64], offsets: &[usize], bins: &[usize]) -> f64 {
    let n = window.len();
    let segments = offsets.len();
    if n == 0 || segments == 0 {
        return 0.0;
    }
    let mut planner = FftPlanner::<f64>::new();
    let fft = planner.plan_fft_forward(n);
    let ifft = planner.plan_fft_inverse(n);

    // c(Δ): circular autocorrelation of the bin indicator, via FFT (rounded: exact counts).
    let mut ind = vec![Complex64::default(); n];
    for &k in bins {
        if let Some(v) = ind.get_mut(k % n) {
            *v = Complex64::new(1.0, 0.0);
        }
    }
    let k_count = ind.iter().filter(|v| v.re > 0.0).count();
    if k_count == 0 {
        return 0.0;
    }
    fft.process(&mut ind);
    for v in &mut ind {
        *v = Complex64::new(v.norm_sqr(), 0.0);
    }
    ifft.process(&mut ind);
    let pair_count: Vec<f64> = ind.iter().map(|v| (v.re / n as f64).round()).collect();

    // Ordered segment pairs per lag d = |o_m' − o_m| < N (lag 0: the M pairs m = m').
    let mut lags: std::collections::BTreeMap<usize, f64> = std::collections::BTreeMap::new();
    for (i, &a) in offsets.iter().enumerate() {
        *lags.entry(0).or_default() += 1.0;
        for &b in offsets.get(i + 1..).unwrap_or_default() {
            let d = b.abs_diff(a);
            if d >= n {
                break;
            }
            *lags.entry(d).or_default() += 2.0;
        }
    }

    // Σ_pairs |R_d(Δ)|² for every Δ.
    let mut weight = vec![0.0f64; n];
    let mut prod = vec![Complex64::default(); n];
    for (&d, &count) in &lags {
        for (t, p) in prod.iter_mut().enumerate() {
            let v = match t.checked_sub(d) {
                Some(s) => {
                    window.get(t).copied().unwrap_or(0.0) * window.get(s).copied().unwrap_or(0.0)
                }
                None => 0.0,
            };
            *p = Complex64::new(v, 0.0);
        }
        fft.process(&mut prod);
        for (wgt, r) in weight.iter_mut().zip(&prod) {
            *wgt += count * r.norm_sqr();
        }
    }
    let var_sum: f64 = pair_count.iter().zip(&weight).map(|(c, w)| c * w).sum();
    let sum_w2: f64 = window.iter().map(|w| w * w).sum();
    let mean = k_count as f64 * segments as f64 * sum_w2;
    if var_sum > 0.0 {
        mean * mean / var_sum
    } else {
        0.0
    }
}

/// Segment start offsets in a window of `len` samples: every `hop` while a whole segment
/// fits, plus one flush with the window's end if the regular ones leave a tail uncovered (so
/// every sample of the window is seen).
pub fn segment_offsets(len: usize, fft_size: usize, hop: usize) -> Vec<usize> {
    let regular = segment_count(len, fft_size, hop);
    let mut out: Vec<usize> = (0..regular).map(|m| m * hop).collect();
    if let Some(&last) = out.last()
        && last + fft_size < len
    {
        out.push(len - fft_size);
    }
    out
}

/// Segments of `fft_size` samples, every `hop`, that fit in `len` samples.
pub fn segment_count(len: usize, fft_size: usize, hop: usize) -> usize {
    if hop == 0 || len < fft_size {
        0
    } else {
        (len - fft_size) / hop + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::WindowKind;

    #[test]
    fn rect_without_overlap_is_bins_times_segments() {
        let w = WindowKind::Rect.coefficients(64);
        let bins: Vec<usize> = (10..30).collect();
        let n = effective_dof(&w, 64, 7, &bins);
        assert!((n - 140.0).abs() < 1e-6, "{n}");
    }

    #[test]
    fn hann_single_segment_wide_band_matches_closed_form() {
        // Hann: w² has DFT coefficients 3N/8, −N/4, N/16 at Δ = 0, ±1, ±2, so for all N bins
        // Σ|R|² = N·N²(9/64 + 2/16 + 2/256) and n = (N·3N/8)² / that = N / (1 + 2(4/9) + 2(1/36)).
        let n_fft = 128;
        let w = WindowKind::Hann.coefficients(n_fft);
        let bins: Vec<usize> = (0..n_fft).collect();
        let n = effective_dof(&w, n_fft, 1, &bins);
        let expect = n_fft as f64 / (1.0 + 8.0 / 9.0 + 2.0 / 36.0);
        assert!((n - expect).abs() < 1e-6, "{n} vs {expect}");
    }

    #[test]
    fn overlap_reduces_dof_below_segment_count() {
        let w = WindowKind::Hann.coefficients(64);
        let n0 = effective_dof(&w, 64, 10, &[5]);
        let n50 = effective_dof(&w, 32, 10, &[5]);
        assert!((n0 - 10.0).abs() < 1e-9, "{n0}");
        assert!(n50 < 10.0 && n50 > 8.0, "{n50}");
    }

    #[test]
    fn tail_segment_covers_the_window_and_counts_its_overlap() {
        assert_eq!(
            segment_offsets(250, 64, 32),
            vec![0, 32, 64, 96, 128, 160, 186]
        );
        assert_eq!(
            segment_offsets(256, 64, 32),
            vec![0, 32, 64, 96, 128, 160, 192]
        );
        let w = WindowKind::Hann.coefficients(64);
        let regular = effective_dof(&w, 32, 7, &[3]);
        let offsets = segment_offsets(256, 64, 32);
        assert!((effective_dof_offsets(&w, &offsets, &[3]) - regular).abs() < 1e-9);
        // A tail segment overlapping its neighbour by 38 of 64 samples adds less than one.
        let six = effective_dof(&w, 32, 6, &[3]);
        let seven = effective_dof_offsets(&w, &segment_offsets(250, 64, 32), &[3]);
        assert!(seven > six && seven < six + 1.0, "{six} {seven}");
    }

    #[test]
    fn segment_count_edges() {
        assert_eq!(segment_count(1024, 1024, 512), 1);
        assert_eq!(segment_count(1535, 1024, 512), 1);
        assert_eq!(segment_count(1536, 1024, 512), 2);
        assert_eq!(segment_count(100, 1024, 512), 0);
    }
}
