//! Decision thresholds for a Gamma-law band-power statistic.
//!
//! Under H0 `E_c ≈ σ²·Gamma(n, 1/n)` (see [`super::dof`]), i.e. `2n·E_c/σ² ~ χ²(2n)`, so with a
//! known σ² the threshold for a false-alarm probability P_fa is
//! `λ = σ²/(2n) · Qinv_χ²(2n)(P_fa)` (Kay vol. II). [`chi2_threshold_factor`] returns `λ/σ²`.
//!
//! The detector never knows σ²: it uses an estimate σ̂² that is itself a (Gamma-like) average with
//! `n_ref` effective samples, independent of the window being decided. Then
//! `E_c/σ̂² ~ F(2n, 2n_ref)` and the CFAR threshold is `λ = σ̂² · Qinv_F(2n,2n_ref)(P_fa)`
//! ([`f_threshold_factor`]); it tends to the χ² one as `n_ref → ∞`.

use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};
use statrs::function::beta::checked_beta_reg;

/// `Qinv(p)`: the standard normal upper-tail quantile (`Q(Qinv(p)) = p`).
pub fn q_inv(p: f64) -> f64 {
    match Normal::new(0.0, 1.0) {
        Ok(norm) if p > 0.0 && p < 1.0 => -norm.inverse_cdf(p),
        _ => f64::NAN,
    }
}

/// Wilson–Hilferty: upper P_fa quantile of Gamma(n, 1/n) (mean 1). Used as the large-n fallback.
fn wilson_hilferty(n: f64, pfa: f64) -> f64 {
    let v = 1.0 / (9.0 * n);
    (1.0 - v + q_inv(pfa) * v.sqrt()).powi(3)
}

/// `λ/σ²` for a known noise power: `Qinv_χ²(2n)(P_fa) / (2n)`.
///
/// Uses statrs' χ² inverse CDF and checks it (the survival function at the answer must be
/// within 1 % of P_fa); falls back to the Wilson–Hilferty approximation (large-n form) if the
/// check fails. Returns NaN for n <= 0 or P_fa outside (0, 1).
pub fn chi2_threshold_factor(n: f64, pfa: f64) -> f64 {
    if !(n > 0.0 && n.is_finite() && pfa > 0.0 && pfa < 1.0) {
        return f64::NAN;
    }
    if let Ok(chi) = ChiSquared::new(2.0 * n) {
        let x = chi.inverse_cdf(1.0 - pfa);
        if x.is_finite() && x > 0.0 && ((chi.sf(x) - pfa) / pfa).abs() < 0.01 {
            return x / (2.0 * n);
        }
    }
    wilson_hilferty(n, pfa)
}

/// Paulson's normal approximation to the upper P_fa quantile of F(2n, 2m) (each Gamma
/// cube-root normal, Wilson–Hilferty): accurate to well under 1 % of the quantile for n, m ≥ 5.
fn paulson(n: f64, m: f64, pfa: f64) -> f64 {
    let z = q_inv(pfa);
    let (a, b) = (1.0 / (9.0 * n), 1.0 / (9.0 * m));
    // Solve ((1−b)y − (1−a)) / sqrt(a + b y²) = z for y = F^{1/3} (larger root).
    let qa = (1.0 - b).powi(2) - z * z * b;
    let qb = -2.0 * (1.0 - a) * (1.0 - b);
    let qc = (1.0 - a).powi(2) - z * z * a;
    let disc = qb * qb - 4.0 * qa * qc;
    if qa <= 0.0 || disc < 0.0 {
        return f64::NAN;
    }
    let y = (-qb + disc.sqrt()) / (2.0 * qa);
    y.powi(3)
}

/// `λ/σ̂²` when σ̂² is an independent estimate with `n_ref` effective samples: the upper P_fa
/// quantile of F(2n, 2n_ref). `n_ref = ∞` (or ≥ 10⁴·n) gives [`chi2_threshold_factor`].
///
/// Exact (bisection on statrs' regularised incomplete beta function) while n + n_ref ≤ 400,
/// where its continued fraction converges well inside its iteration cap; Paulson's
/// approximation above that. Returns NaN for invalid arguments.
pub fn f_threshold_factor(n: f64, n_ref: f64, pfa: f64) -> f64 {
    if !(n > 0.0 && n.is_finite() && pfa > 0.0 && pfa < 1.0 && n_ref > 0.0) {
        return f64::NAN;
    }
    if !n_ref.is_finite() || n_ref >= 1e4 * n {
        return chi2_threshold_factor(n, pfa);
    }
    if n + n_ref <= 400.0 {
        // P(F ≤ x) = I_{z}(n, n_ref), z = n x / (n x + n_ref). Bisection on ln x.
        let cdf = |x: f64| checked_beta_reg(n, n_ref, n * x / (n * x + n_ref)).ok();
        let (mut lo, mut hi) = (-30.0f64, 30.0f64);
        for _ in 0..100 {
            let mid = 0.5 * (lo + hi);
            match cdf(mid.exp()) {
                Some(c) if c < 1.0 - pfa => lo = mid,
                Some(_) => hi = mid,
                None => return paulson(n, n_ref, pfa),
            }
        }
        return (0.5 * (lo + hi)).exp();
    }
    let x = paulson(n, n_ref, pfa);
    if x.is_finite() {
        x
    } else {
        // Large-n normal approximation of the ratio.
        1.0 + q_inv(pfa) * (1.0 / n + 1.0 / n_ref).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chi2_known_values() {
        // χ²(2) upper 1 %: −2 ln 0.01 = 9.2103; n = 1.
        assert!((chi2_threshold_factor(1.0, 0.01) - 9.210_340_371_976 / 2.0).abs() < 1e-6);
        // χ²(20) upper 1 % = 37.5662.
        assert!((chi2_threshold_factor(10.0, 0.01) - 37.566_23 / 20.0).abs() < 1e-4);
        // Large n: close to 1 + Qinv/√n.
        let n = 1e6;
        let f = chi2_threshold_factor(n, 0.01);
        assert!((f - (1.0 + 2.326_348 / 1e3)).abs() < 1e-5, "{f}");
        assert!(chi2_threshold_factor(0.0, 0.01).is_nan());
    }

    #[test]
    fn f_known_values_and_continuity() {
        // F(10, 20) upper 1 % = 3.3682 (tables): n = 5, n_ref = 10.
        assert!((f_threshold_factor(5.0, 10.0, 0.01) - 3.3682).abs() < 1e-3);
        // F(20, 40) upper 1 % = 2.3689.
        assert!((f_threshold_factor(10.0, 20.0, 0.01) - 2.3689).abs() < 1e-3);
        // Paulson joins the exact branch smoothly at the switch.
        let exact = f_threshold_factor(100.0, 300.0, 0.01);
        let approx = paulson(100.0, 300.0, 0.01);
        assert!((exact - approx).abs() / exact < 2e-3, "{exact} {approx}");
        // Tends to χ² as n_ref grows and always exceeds it.
        let c = chi2_threshold_factor(500.0, 0.01);
        assert!(f_threshold_factor(500.0, 1e5, 0.01) > c);
        assert!((f_threshold_factor(500.0, 4e6, 0.01) - c).abs() < 1e-3);
    }
}
