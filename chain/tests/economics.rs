//! Leasing economics (SPEC section 7, paper B): known answers from the SPEC and from 50-digit
//! evaluations of the closed forms (mpmath), the Fig. 4 rows and the service-abandonment
//! crossover, capacity cases, input validation, and property tests (the cubic of
//! Proposition 1, optimality against perturbed and gridded choices, agreement with an `f64`
//! reference over a parameter grid).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chain::Error;
use chain::economics::{
    EconParams, MAX_CAPACITY, Optimum, Regime, abandonment_price, capacity_price, demand, optimum,
    profit, service_price, thresholds,
};
use fusion::Fx;
use proptest::prelude::*;

fn fx(s: &str) -> Fx {
    s.parse().unwrap()
}

fn params(ps: &str, pw: &str, gamma: &str, capacity: Option<&str>) -> EconParams {
    EconParams::new(fx(ps), fx(pw), fx(gamma), capacity.map(fx)).unwrap()
}

fn solve(ps: &str, pw: &str, gamma: &str, capacity: Option<&str>) -> Optimum {
    optimum(&params(ps, pw, gamma, capacity)).unwrap()
}

/// Asserts `|got - want| <= tol` for a decimal `want`.
#[track_caller]
fn near(what: &str, got: Fx, want: f64, tol: f64) {
    let g = got.to_f64();
    assert!(
        (g - want).abs() <= tol,
        "{what}: got {got}, want {want} ± {tol:e}"
    );
}

/// 2 ulp of `Fx`: the documented accuracy of the closed forms and the bisection.
const ULP2: f64 = 2e-9;

// ---- known answers -------------------------------------------------------------------------

#[test]
fn proposition_1_reference_at_ps_015() {
    // SPEC 7: p_M* = 0.313917, Q* = 0.749737, service profit 0.122895, M_l = 0.374869,
    // M_h = 0.411523 (γ = 0.7). 15 digits from mpmath after each.
    let o = solve("0.15", "0.1", "0.7", None);
    assert_eq!(o.regime, Regime::ServiceOnly);
    near("p_M*", o.p_m, 0.313917, 5e-7);
    near("p_M*", o.p_m, 0.313_916_804_843_7, ULP2);
    near("Q*", o.q, 0.749737, 5e-7);
    near("Q*", o.q, 0.749_737_101_379_848, ULP2);
    assert_eq!(o.m, fx("0.7"));
    // Service profit = Π* - p_w·γ.
    let service = o.profit.checked_sub(fx("0.07")).unwrap();
    near("Π_s*", service, 0.122895, 5e-7);
    near("Π_s*", service, 0.122_894_510_130_962, ULP2);
    near("M_l", o.m_l, 0.374869, 5e-7);
    near("M_l", o.m_l, 0.374_868_550_689_924, ULP2);
    near("M_h", o.m_h, 0.411523, 5e-7);
    near("M_h", o.m_h, 0.411_522_633_744_856, ULP2);
    assert_eq!(service_price(fx("0.15")).unwrap(), o.p_m);
    let th = thresholds(fx("0.15"), fx("0.7")).unwrap();
    assert_eq!((th.m_l, th.m_h), (o.m_l, o.m_h));
}

#[test]
fn interior_reference() {
    // SPEC 7: p_s = 0.15, γ = 0.7, p_w = 0.40: p_M* = 0.3043, m* = 0.7210, Q* = 0.7440,
    // Π* = 0.4032.
    let o = solve("0.15", "0.4", "0.7", None);
    assert_eq!(o.regime, Regime::Interior);
    near("p_M*", o.p_m, 0.3043, 5e-5);
    near("m*", o.m, 0.7210, 5e-5);
    near("Q*", o.q, 0.7440, 5e-5);
    near("Π*", o.profit, 0.4032, 5e-5);
    near("p_M*", o.p_m, 0.304_250_832_223_73, ULP2);
    near("m*", o.m, 0.721_000_974_031_789, ULP2);
    near("Q*", o.q, 0.743_997_402_581_895, ULP2);
    near("Π*", o.profit, 0.403_162_608_133_267, ULP2);
    // It beats both corners, and the profit function agrees at the reported point.
    assert!(o.profit > fx("0.4"));
    assert!(o.profit > fx("0.122894510").checked_add(fx("0.28")).unwrap());
    let again = profit(&params("0.15", "0.4", "0.7", None), o.p_m, o.m).unwrap();
    assert!(
        (again.raw() - o.profit.raw()).abs() <= 3,
        "{again} vs {}",
        o.profit
    );
}

#[test]
fn bit_exact_snapshot() {
    // The Lease contract records these: any change of rounding is a consensus change.
    let o = solve("0.15", "0.4", "0.7", None);
    let raw = [o.p_m, o.m, o.q, o.profit, o.m_l, o.m_h].map(Fx::raw);
    assert_eq!(
        raw,
        [
            304_250_832,
            721_000_974,
            743_997_403,
            403_162_608,
            374_868_551,
            411_522_634
        ]
    );
}

#[test]
fn figure_4_rows() {
    // SPEC 7 (p_w = 0.1, γ = 0.7): p_s -> p_M*, Π* (4 decimals), then mpmath's values.
    let rows = [
        (
            "0.05",
            0.1711,
            0.3131,
            0.171_107_219_255_619,
            0.313_146_721_248_067,
        ),
        ("0.10", 0.2500, 0.2387, 0.25, 0.23875),
        (
            "0.20",
            0.3702,
            0.1612,
            0.370_156_211_871_642,
            0.161_179_765_663_133,
        ),
        (
            "0.30",
            0.4695,
            0.1208,
            0.469_493_345_951_488,
            0.120_801_307_150_663,
        ),
    ];
    for (ps, p4, pi4, p, pi) in rows {
        let o = solve(ps, "0.1", "0.7", None);
        assert_eq!(o.regime, Regime::ServiceOnly, "p_s = {ps}");
        assert_eq!(o.m, fx("0.7"));
        near(&format!("p_M* at {ps}"), o.p_m, p4, 5e-5);
        // 0.23875 is printed as 0.2387 in the SPEC (truncated), hence 6e-5.
        near(&format!("Π* at {ps}"), o.profit, pi4, 6e-5);
        near(&format!("p_M* at {ps}"), o.p_m, p, ULP2);
        near(&format!("Π* at {ps}"), o.profit, pi, ULP2);
    }
}

#[test]
fn service_abandonment_crossover() {
    // Above p_s ≈ 0.3871 the MO abandons service at p_w = 0.1, γ = 0.7: Π_s*(p_s) = 0.03.
    // mpmath: 0.387065649634225638.
    let cross = abandonment_price(fx("0.1"), fx("0.7")).unwrap();
    near("crossover", cross, 0.387_065_649_634_226, 1e-9);
    let below = Fx::from_raw(cross.raw() - 1);
    let at = solve(&cross.to_string(), "0.1", "0.7", None);
    let under = solve(&below.to_string(), "0.1", "0.7", None);
    assert_eq!(at.regime, Regime::MiningOnly);
    assert_eq!(
        (at.m, at.profit, at.q, at.p_m),
        (Fx::ONE, fx("0.1"), Fx::ZERO, Fx::ZERO)
    );
    assert_eq!(under.regime, Regime::ServiceOnly);
    near("profit just below", under.profit, 0.1, 1e-8);
    // Coarser: the SPEC's 0.3871.
    assert_eq!(
        solve("0.387", "0.1", "0.7", None).regime,
        Regime::ServiceOnly
    );
    assert_eq!(
        solve("0.3872", "0.1", "0.7", None).regime,
        Regime::MiningOnly
    );
    // With no mining reward only p_s -> 1 abandons service; within 2e-6 of 1 the service
    // profit (about (1 - p_s)³) is below the internal 10^-18 resolution and counts as zero.
    let cross = abandonment_price(Fx::ZERO, fx("0.7")).unwrap();
    assert!(cross >= fx("0.999998"), "{cross}");
}

#[test]
fn thresholds_bracket_the_regimes() {
    // p_s = 0.15, γ = 0.7: M_l = 0.374869, M_h = 0.411523.
    let cases = [
        ("0", Regime::ServiceOnly),
        ("0.3748", Regime::ServiceOnly),
        ("0.3749", Regime::Interior),
        ("0.4115", Regime::Interior),
        ("0.411523", Regime::MiningOnly),
        ("1", Regime::MiningOnly),
    ];
    for (pw, regime) in cases {
        assert_eq!(solve("0.15", pw, "0.7", None).regime, regime, "p_w = {pw}");
    }
    // At p_w = M_h the interior root is k = 6 p_s (m = 1 - 0.9·0.3 = 0.73) and ties with
    // mining: just below, the interior profit is p_w plus a sliver.
    let o = solve("0.15", "0.41152263", "0.7", None);
    assert_eq!(o.regime, Regime::Interior);
    near("m near M_h", o.m, 0.73, 1e-4);
    assert!(o.profit >= fx("0.41152263"));
    near("profit near M_h", o.profit, 0.41152263, 1e-8);
    // For p_s >= 1/6 there is no interior: service until M_h = Π_s*/(1-γ) < M_l, then mining.
    let th = thresholds(fx("0.2"), fx("0.7")).unwrap();
    assert!(th.m_h < th.m_l);
    let below = Fx::from_raw(th.m_h.raw() - 10);
    let above = Fx::from_raw(th.m_h.raw() + 10);
    assert_eq!(
        solve("0.2", &below.to_string(), "0.7", None).regime,
        Regime::ServiceOnly
    );
    assert_eq!(
        solve("0.2", &above.to_string(), "0.7", None).regime,
        Regime::MiningOnly
    );
}

#[test]
fn capacity_cases() {
    // W = 0.5 < Q* = 0.7497: full quality, price 1 + W - √(W² + 2W) = 0.381966011250105.
    let o = solve("0.15", "0.1", "0.7", Some("0.5"));
    assert_eq!(o.regime, Regime::CapacityBound);
    assert_eq!((o.m, o.q), (fx("0.7"), fx("0.5")));
    near("p_W", o.p_m, 0.381_966_011_250_105, ULP2);
    assert_eq!(capacity_price(fx("0.5")).unwrap(), o.p_m);
    near(
        "Π",
        o.profit,
        (0.381_966_011_250_105 - 0.15) * 0.5 + 0.07,
        ULP2,
    );
    // The demand at that price is the capacity.
    let q = demand(o.p_m, o.m, fx("0.7")).unwrap();
    assert!((q.raw() - fx("0.5").raw()).abs() <= 3, "{q}");
    // A capacity above Q* changes nothing.
    assert_eq!(
        solve("0.15", "0.1", "0.7", Some("0.75")),
        solve("0.15", "0.1", "0.7", None)
    );
    // Capacity-bound with m* > γ (mpmath: p 0.129320644396, m 0.899029491994, Π 0.504175068195).
    let o = solve("0.02", "0.5", "0.5", Some("0.5"));
    assert_eq!(o.regime, Regime::CapacityBound);
    assert_eq!(o.q, fx("0.5"));
    near("p", o.p_m, 0.129_320_644_396, 1e-9);
    near("m", o.m, 0.899_029_491_994, 1e-9);
    near("Π", o.profit, 0.504_175_068_195, 1e-9);
    // p_s = 0 is only meaningful with a capacity: free spectrum, price from the cap.
    let o = solve("0", "0.1", "0.7", Some("2"));
    assert_eq!(o.regime, Regime::CapacityBound);
    assert_eq!(o.q, fx("2"));
    assert!(o.profit > fx("0.1"));
    // Huge capacities stay in range.
    let o = optimum(&EconParams::new(Fx::ZERO, fx("0.1"), fx("0.7"), Some(MAX_CAPACITY)).unwrap())
        .unwrap();
    assert!(o.profit <= fx("0.6"));
}

#[test]
fn mining_only_at_the_extremes() {
    // p_s = 1: service cannot earn anything, so any reward (even 0: ties go to mining) mines.
    for pw in ["0", "0.2"] {
        let o = solve("1", pw, "0.3", None);
        assert_eq!(o.regime, Regime::MiningOnly);
        assert_eq!(o.profit, fx(pw));
    }
    // No reward: service with m = γ.
    let o = solve("0.15", "0", "0.7", None);
    assert_eq!(o.regime, Regime::ServiceOnly);
    assert_eq!(o.m, fx("0.7"));
}

// ---- validation ----------------------------------------------------------------------------

#[track_caller]
fn assert_invalid(r: Result<impl std::fmt::Debug, Error>, field: &str) {
    match r {
        Err(Error::InvalidEconomics { field: f, .. }) => assert_eq!(f, field),
        other => panic!("expected InvalidEconomics {{ field: {field} }}, got {other:?}"),
    }
}

#[test]
fn validation_rejects_out_of_range_inputs() {
    let ok = |s: &str| fx(s);
    let new = |ps: &str, pw: &str, g: &str, w: Option<&str>| {
        EconParams::new(ok(ps), ok(pw), ok(g), w.map(ok))
    };
    assert_invalid(new("1.5", "0.1", "0.7", None), "p_s");
    assert_invalid(new("-0.1", "0.1", "0.7", None), "p_s");
    assert_invalid(new("0", "0.1", "0.7", None), "p_s");
    assert_invalid(new("0.15", "1.000000001", "0.7", None), "p_w");
    assert_invalid(new("0.15", "-0.000000001", "0.7", None), "p_w");
    assert_invalid(new("0.15", "0.1", "1", None), "gamma");
    assert_invalid(new("0.15", "0.1", "-0.2", None), "gamma");
    assert_invalid(new("0.15", "0.1", "0.7", Some("0")), "capacity");
    assert_invalid(new("0.15", "0.1", "0.7", Some("-3")), "capacity");
    assert_invalid(
        new("0.15", "0.1", "0.7", Some("1000000000.000000001")),
        "capacity",
    );
    assert!(new("0.15", "0.1", "0.7", Some("1000000000")).is_ok());
    assert!(new("0", "0", "0", Some("0.000000001")).is_ok());
    assert!(new("1", "1", "0.999999999", None).is_ok());
    // optimum() validates parameters built by hand.
    let bad = EconParams {
        p_s: ok("0.15"),
        p_w: ok("0.1"),
        gamma: Fx::ONE,
        capacity: None,
    };
    assert_invalid(optimum(&bad), "gamma");
    // The message names the field, the value and the range.
    let msg = new("1.5", "0.1", "0.7", None).unwrap_err().to_string();
    assert!(
        msg.contains("p_s") && msg.contains("1.5") && msg.contains("[0, 1]"),
        "{msg}"
    );
    // Building blocks.
    assert_invalid(service_price(ok("2")), "p_s");
    assert_invalid(thresholds(ok("0.1"), ok("1")), "gamma");
    assert_invalid(demand(Fx::ZERO, ok("0.5"), ok("0.5")), "p_m");
    assert_invalid(demand(ok("1.1"), ok("0.5"), ok("0.5")), "p_m");
    assert_invalid(demand(ok("0.3"), ok("1.1"), ok("0.5")), "m");
    assert_invalid(capacity_price(Fx::ZERO), "capacity");
    assert_invalid(abandonment_price(ok("1.1"), ok("0.5")), "p_w");
    let p = params("0.15", "0.1", "0.7", None);
    assert_invalid(profit(&p, ok("0.3"), ok("-0.1")), "m");
}

#[test]
fn demand_formula_and_regime_names() {
    // k = 1: Q = 1/(2p) - 1 + p/2; at p = 0.5: 0.25.
    assert_eq!(demand(fx("0.5"), fx("0.3"), fx("0.7")).unwrap(), fx("0.25"));
    // m = 0.85, γ = 0.7: k = 0.5; p = 0.25: (0.25)²/(2·0.25·0.25) = 0.5.
    assert_eq!(
        demand(fx("0.25"), fx("0.85"), fx("0.7")).unwrap(),
        fx("0.5")
    );
    // p >= k: nobody buys.
    assert_eq!(demand(fx("0.5"), fx("0.85"), fx("0.7")).unwrap(), Fx::ZERO);
    assert_eq!(demand(fx("0.1"), Fx::ONE, fx("0.7")).unwrap(), Fx::ZERO);
    let json = serde_json::to_string(&Regime::CapacityBound).unwrap();
    assert_eq!(json, "\"capacity_bound\"");
    for r in [
        Regime::ServiceOnly,
        Regime::Interior,
        Regime::MiningOnly,
        Regime::CapacityBound,
    ] {
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            format!("\"{}\"", r.as_str())
        );
    }
}

// ---- f64 reference (test only) -------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct RefOpt {
    p: f64,
    m: f64,
    q: f64,
    profit: f64,
}

fn best_price(ps: f64, k: f64) -> f64 {
    (ps + (ps * ps + 8.0 * k * ps).sqrt()) / 4.0
}

fn ref_demand(p: f64, k: f64) -> f64 {
    if p >= k {
        0.0
    } else {
        (k - p).powi(2) / (2.0 * p * k * k)
    }
}

fn cap_price(k: f64, w: f64) -> f64 {
    let u = k * w;
    k / (1.0 + u + (u * u + 2.0 * u).sqrt())
}

/// SPEC 7's closed forms and FOC (bisection in f64), without capacity.
fn ref_unconstrained(ps: f64, pw: f64, g: f64) -> RefOpt {
    let p1 = best_price(ps, 1.0);
    let q1 = ref_demand(p1, 1.0);
    let pis = (p1 - ps) * q1;
    let ml = (p1 - ps) * (1.0 - p1) / (1.0 - g);
    let mh = if ps < 1.0 / 6.0 {
        1.0 / (54.0 * ps * (1.0 - g))
    } else {
        pis / (1.0 - g)
    };
    let mining = RefOpt {
        p: 0.0,
        m: 1.0,
        q: 0.0,
        profit: pw,
    };
    if pw >= mh {
        return mining;
    }
    if pw <= ml {
        return RefOpt {
            p: p1,
            m: g,
            q: q1,
            profit: pis + pw * g,
        };
    }
    let c = pw * (1.0 - g);
    let slope = |k: f64| {
        let p = best_price(ps, k);
        (p - ps) * (k - p) / k.powi(3) - c
    };
    let (mut lo, mut hi) = (6.0 * ps, 1.0);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if slope(mid) > 0.0 { lo = mid } else { hi = mid }
    }
    let k = lo;
    let p = best_price(ps, k);
    let q = ref_demand(p, k);
    let m = 1.0 - k * (1.0 - g);
    let profit = (p - ps) * q + pw * m;
    if profit > pw {
        RefOpt { p, m, q, profit }
    } else {
        mining
    }
}

/// Profit at quality `k` with the best feasible price.
fn ref_at_k(ps: f64, pw: f64, g: f64, w: f64, k: f64) -> RefOpt {
    let m = 1.0 - k * (1.0 - g);
    if k <= ps {
        return RefOpt {
            p: 0.0,
            m,
            q: 0.0,
            profit: pw * m,
        };
    }
    let p = best_price(ps, k);
    let q = ref_demand(p, k);
    let (p, q) = if q > w { (cap_price(k, w), w) } else { (p, q) };
    RefOpt {
        p,
        m,
        q,
        profit: (p - ps) * q + pw * m,
    }
}

/// The reference: the closed forms, or with a binding capacity an independent search over the
/// quality `k` (grid, then golden section around the best grid point).
fn reference(ps: f64, pw: f64, g: f64, w: Option<f64>) -> RefOpt {
    if ps > 0.0 {
        let free = ref_unconstrained(ps, pw, g);
        if w.is_none_or(|w| free.q <= w) {
            return free;
        }
    }
    let w = w.unwrap();
    let n = 4000;
    let at = |k: f64| ref_at_k(ps, pw, g, w, k);
    let mut best_i = 0;
    let mut best = at(0.0);
    for i in 1..=n {
        let r = at(f64::from(i) / f64::from(n));
        if r.profit > best.profit {
            best = r;
            best_i = i;
        }
    }
    let (mut a, mut b) = (
        f64::from(best_i.max(1) - 1) / f64::from(n),
        f64::from((best_i + 1).min(n)) / f64::from(n),
    );
    let phi = 0.5 * (5f64.sqrt() - 1.0);
    for _ in 0..100 {
        let x1 = b - phi * (b - a);
        let x2 = a + phi * (b - a);
        if at(x1).profit >= at(x2).profit {
            b = x2
        } else {
            a = x1
        }
    }
    let refined = at(0.5 * (a + b));
    let mut best = if refined.profit > best.profit {
        refined
    } else {
        best
    };
    if best.m >= 1.0 - 1e-12 {
        best = RefOpt {
            p: 0.0,
            m: 1.0,
            q: 0.0,
            profit: pw,
        };
    }
    best
}

#[test]
fn agrees_with_f64_reference_over_a_grid() {
    let ps_grid = [
        "0.01", "0.03", "0.05", "0.1", "0.15", "0.2", "0.3", "0.5", "0.8", "1",
    ];
    let pw_grid = [
        "0", "0.05", "0.1", "0.2", "0.3", "0.35", "0.4", "0.45", "0.6", "1",
    ];
    let gamma_grid = ["0", "0.3", "0.7", "0.95"];
    let cap_grid = [None, Some("0.05"), Some("0.5"), Some("3")];
    let mut worst = 0.0_f64;
    let mut counts = std::collections::BTreeMap::new();
    for ps in ps_grid {
        for pw in pw_grid {
            for g in gamma_grid {
                for w in cap_grid {
                    let o = solve(ps, pw, g, w);
                    *counts.entry(o.regime.as_str()).or_insert(0) += 1;
                    let f = |s: &str| s.parse::<f64>().unwrap();
                    let r = reference(f(ps), f(pw), f(g), w.map(f));
                    let case = format!("p_s {ps} p_w {pw} γ {g} W {w:?}: {o:?} vs {r:?}");
                    // The grid-searched capacity reference pins m and p only to ~1e-7.
                    let tol = if o.regime == Regime::CapacityBound {
                        1e-6
                    } else {
                        1e-7
                    };
                    for (got, want, t) in [
                        (o.profit, r.profit, 1e-9 + 1e-9),
                        (o.m, r.m, tol),
                        (o.p_m, r.p, tol),
                        (o.q, r.q, tol * (1.0 + r.q)),
                    ] {
                        let d = (got.to_f64() - want).abs();
                        worst = worst.max(d);
                        assert!(d <= t.max(1e-9), "{case}");
                    }
                }
            }
        }
    }
    // Every regime is exercised.
    assert_eq!(counts.len(), 4, "{counts:?}");
    assert!(worst <= 1e-6, "worst {worst:e}");
}

// ---- properties ----------------------------------------------------------------------------

fn unit_raw() -> impl Strategy<Value = i64> {
    0..=Fx::SCALE
}

fn arb_params() -> impl Strategy<Value = EconParams> {
    (
        1_000_000..=Fx::SCALE, // p_s >= 0.001
        unit_raw(),
        0..=990_000_000_i64,
        prop::option::of(10_000_000..=5_000_000_000_i64),
    )
        .prop_map(|(ps, pw, g, w)| EconParams {
            p_s: Fx::from_raw(ps),
            p_w: Fx::from_raw(pw),
            gamma: Fx::from_raw(g),
            capacity: w.map(Fx::from_raw),
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Proposition 1's price solves 2p³ - (2 + p_s)p² + p_s = 0 and lies in [p_s, 1].
    #[test]
    fn service_price_solves_the_cubic(ps in 1..=Fx::SCALE) {
        let ps = Fx::from_raw(ps);
        let p = service_price(ps).unwrap();
        prop_assert!(p >= ps && p <= Fx::ONE);
        let (p, s) = (p.to_f64(), ps.to_f64());
        let residual = 2.0 * p.powi(3) - (2.0 + s) * p * p + s;
        // dp/dresidual is at most about 1/(2p) here, so 1 ulp of p gives < 3e-9.
        prop_assert!(residual.abs() <= 3e-9, "residual {residual:e} at p_s {s}");
    }

    /// No feasible (p_M, m) on a grid or near the optimum does better.
    #[test]
    fn optimum_beats_perturbed_and_gridded_choices(params in arb_params()) {
        let o = optimum(&params).unwrap();
        let slack = 3; // ulp: each profit is rounded once
        let feasible = |p: Fx, m: Fx| {
            params.capacity.is_none_or(|w| demand(p, m, params.gamma).unwrap() <= w)
        };
        let mut tried = Vec::new();
        for i in 0..=32 {
            for j in 1..=32 {
                tried.push((Fx::from_ratio(j, 32).unwrap(), Fx::from_ratio(i, 32).unwrap()));
            }
        }
        if o.p_m > Fx::ZERO {
            for dp in [-10_000_000_i64, -100_000, -1_000, 1_000, 100_000, 10_000_000, 0] {
                for dm in [-10_000_000_i64, -100_000, -1_000, 1_000, 100_000, 10_000_000, 0] {
                    tried.push((
                        Fx::from_raw(o.p_m.raw() + dp),
                        Fx::from_raw(o.m.raw() + dm),
                    ));
                }
            }
            // The reported point itself reproduces the reported profit.
            let again = profit(&params, o.p_m, o.m).unwrap();
            prop_assert!((again.raw() - o.profit.raw()).abs() <= slack, "{again} vs {o:?}");
        }
        for (p, m) in tried {
            if p <= Fx::ZERO || p > Fx::ONE || !m.is_unit() || !feasible(p, m) {
                continue;
            }
            let v = profit(&params, p, m).unwrap();
            prop_assert!(
                v.raw() <= o.profit.raw() + slack,
                "({p}, {m}) gives {v} > {o:?} for {params:?}"
            );
        }
        // Mining everything is always feasible.
        prop_assert!(o.profit >= params.p_w);
    }

    /// Without capacity the regime follows the thresholds; the interior satisfies the FOC.
    #[test]
    fn regime_follows_thresholds(params in arb_params()) {
        let params = EconParams { capacity: None, ..params };
        let o = optimum(&params).unwrap();
        let (pw, ml, mh) = (params.p_w.raw(), o.m_l.raw(), o.m_h.raw());
        if pw + 1 < ml.min(mh) {
            prop_assert_eq!(o.regime, Regime::ServiceOnly);
            prop_assert_eq!(o.m, params.gamma);
        }
        if pw > mh + 1 {
            prop_assert_eq!(o.regime, Regime::MiningOnly);
        }
        if ml + 1 < pw && pw + 1 < mh {
            prop_assert_eq!(o.regime, Regime::Interior);
            prop_assert!(params.p_s.raw() * 6 < Fx::SCALE);
        }
        if o.regime == Regime::Interior {
            let g = params.gamma.to_f64();
            let k = (1.0 - o.m.to_f64()) / (1.0 - g);
            let (p, s) = (o.p_m.to_f64(), params.p_s.to_f64());
            let foc = (p - s) * (k - p) / k.powi(3) - params.p_w.to_f64() * (1.0 - g);
            prop_assert!(foc.abs() <= 1e-7, "FOC residual {foc:e}");
            prop_assert!(o.m > params.gamma && o.m < Fx::ONE);
        }
    }
}
