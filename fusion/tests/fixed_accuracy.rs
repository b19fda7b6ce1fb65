//! The fixed-point exponentials against `f64`, within the bound documented in `fusion::fixed`:
//! |fx - exact| <= 1 ulp (1e-9) + 1e-13 · |exact|. `f64`'s own error (about 1e-16 relative, plus
//! the input conversion) is far inside that bound.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fusion::Fx;
use proptest::prelude::*;

const ULP: f64 = 1e-9;

fn within_bound(got: Fx, exact: f64) -> bool {
    (got.to_f64() - exact).abs() <= ULP + 1e-13 * exact.abs()
}

/// Raw inputs covering exp's whole finite range (-22 .. 22.9).
fn exp_arg() -> impl Strategy<Value = i64> {
    -22_000_000_000_i64..22_900_000_000
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn exp_matches_f64(raw in exp_arg()) {
        let x = Fx::from_raw(raw);
        let exact = x.to_f64().exp();
        let got = x.exp().unwrap();
        prop_assert!(within_bound(got, exact), "exp({x}) = {got}, f64 {exact}");
        prop_assert!(within_bound(Fx::from_raw(-raw).exp_neg(), exact));
    }

    #[test]
    fn exp2_matches_f64(raw in -40_000_000_000_i64..33_000_000_000) {
        let x = Fx::from_raw(raw);
        let exact = x.to_f64().exp2();
        prop_assert!(within_bound(x.exp2().unwrap(), exact), "2^{x}");
        prop_assert!(within_bound(Fx::from_raw(-raw).exp2_neg(), exact), "2^-(-{x})");
    }

    #[test]
    fn millidb_matches_f64(mdb in -80_000_i32..=80_000) {
        let exact = 10_f64.powf(f64::from(mdb) / 10_000.0);
        prop_assert!(within_bound(Fx::from_millidb(mdb).unwrap(), exact), "{mdb} mdB");
    }

    #[test]
    fn exponentials_are_monotone(raw in exp_arg(), step in 1_i64..1_000_000) {
        let (a, b) = (Fx::from_raw(raw), Fx::from_raw(raw + step));
        prop_assert!(a.exp().unwrap() <= b.exp().unwrap());
        prop_assert!(a.exp_neg() >= b.exp_neg());
        prop_assert!(a.exp2_neg() >= b.exp2_neg());
    }

    #[test]
    fn mul_div_round_to_nearest(a in -4_000_000_000_000_i64..4_000_000_000_000, b in -4_000_000_000_000_i64..4_000_000_000_000) {
        let (x, y) = (Fx::from_raw(a), Fx::from_raw(b));
        let exact = i128::from(a) * i128::from(b);
        let got = i128::from(x.checked_mul(y).unwrap().raw());
        // |got·1e9 - a·b| <= 0.5e9 (rounded to nearest).
        prop_assert!((got * 1_000_000_000 - exact).abs() <= 500_000_000);
        if b != 0 {
            let q = i128::from(x.checked_div(y).unwrap().raw());
            let n = i128::from(a) * 1_000_000_000;
            prop_assert!((q * i128::from(b) - n).abs() * 2 <= i128::from(b).abs());
        }
    }

    #[test]
    fn display_parse_round_trip(raw in any::<i64>()) {
        let x = Fx::from_raw(raw);
        prop_assert_eq!(x.to_string().parse::<Fx>().unwrap(), x);
        prop_assert_eq!(serde_json::from_str::<Fx>(&serde_json::to_string(&x).unwrap()).unwrap(), x);
    }
}

/// A dense sweep of exp(-x) over the trust model's range, reporting the worst error in ulps.
#[test]
fn exp_neg_sweep_error_is_within_one_ulp() {
    let mut worst = 0.0_f64;
    let mut raw = 0_i64;
    while raw <= 30_000_000_000 {
        let x = Fx::from_raw(raw);
        let err = (x.exp_neg().to_f64() - (-x.to_f64()).exp()).abs() / ULP;
        worst = worst.max(err);
        raw += 999_983; // a prime step, so the sweep does not align with the reduction.
    }
    println!("exp_neg worst error over [0, 30]: {worst:.3} ulp");
    assert!(worst <= 1.0, "{worst} ulp");
}
