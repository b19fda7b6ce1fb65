//! `trustband econ`: paper B's leasing economics (SPEC section 7) from the command line, and the
//! data series of paper B's Fig. 3 and Fig. 4.
//!
//! Data flow: flags (`f64`) -> range checks ([`crate::BadInput`], exit code 2) -> fixed point
//! ([`fusion::Fx`]) -> [`chain::economics::optimum`] (the deterministic computation the Lease
//! contract records) -> `f64` for display: an aligned table or one JSON object with the keys
//! `p_m`, `m`, `q`, `profit`, `m_l`, `m_h`, `regime`.
//!
//! The figure series ([`figure3`], [`figure4`]) add users' total net utility
//! ([`users_utility`]), a display-only `f64` quantity that never enters consensus.

use std::io::Write;

use chain::economics::{EconParams, Optimum, Regime, optimum, profit, service_price};
use fusion::Fx;

use crate::bad_input;

/// Arguments of `trustband econ`.
#[derive(Debug, Clone)]
pub struct EconArgs {
    /// Clearing price `p_s` per unit bandwidth, in `[0, 1]`.
    pub ps: f64,
    /// Mining reward rate `p_w`, in `[0, 1]`.
    pub pw: f64,
    /// Redundant compute `γ`, in `[0, 1)`.
    pub gamma: f64,
    /// Leased bandwidth `W` capping demand, in `(0, 10^9]`; no cap if absent.
    pub capacity: Option<f64>,
    /// Print one JSON object instead of a table.
    pub json: bool,
}

/// Computes the MO's optimum and prints it to stdout (table, or JSON with `json`).
///
/// # Errors
/// [`crate::BadInput`] (exit 2) for a NaN, infinite or out-of-range input; an I/O error
/// writing stdout.
pub fn econ(args: &EconArgs) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    econ_to(args, &mut stdout.lock()).map(|_| ())
}

/// As [`econ`], writing to `out` and returning the optimum.
///
/// # Errors
/// As [`econ`].
pub fn econ_to(args: &EconArgs, out: &mut dyn Write) -> anyhow::Result<Optimum> {
    let params = params_from(args)?;
    let o = optimum(&params).map_err(|e| bad_input(e.to_string()))?;
    if args.json {
        let value = serde_json::json!({
            "p_m": o.p_m.to_f64(),
            "m": o.m.to_f64(),
            "q": o.q.to_f64(),
            "profit": o.profit.to_f64(),
            "m_l": o.m_l.to_f64(),
            "m_h": o.m_h.to_f64(),
            "regime": o.regime.as_str(),
        });
        writeln!(out, "{value}")?;
    } else {
        for (name, value) in [
            ("p_M*", o.p_m),
            ("m*", o.m),
            ("Q*", o.q),
            ("profit", o.profit),
            ("M_l", o.m_l),
            ("M_h", o.m_h),
        ] {
            writeln!(out, "{name:<8} {:>14.6}", value.to_f64())?;
        }
        writeln!(out, "{:<8} {:>14}", "regime", o.regime.as_str())?;
    }
    Ok(o)
}

/// Converts and range-checks the flags.
///
/// # Errors
/// [`crate::BadInput`] naming the flag, its value and the accepted range.
pub fn params_from(args: &EconArgs) -> anyhow::Result<EconParams> {
    let ps = to_fx("--ps", args.ps, 0.0..=1.0, "a clearing price in [0, 1]")?;
    let pw = to_fx("--pw", args.pw, 0.0..=1.0, "a mining reward in [0, 1]")?;
    let gamma = to_fx(
        "--gamma",
        args.gamma,
        0.0..=1.0,
        "a compute share in [0, 1)",
    )?;
    if gamma == Fx::ONE {
        return Err(bad_input(format!(
            "--gamma {}: expected a compute share in [0, 1) (γ = 1 leaves no compute for service)",
            args.gamma
        )));
    }
    let capacity = args
        .capacity
        .map(|w| {
            if w <= 0.0 {
                return Err(bad_input(format!(
                    "--capacity {w}: expected a bandwidth in (0, 1e9]"
                )));
            }
            to_fx("--capacity", w, 0.0..=1e9, "a bandwidth in (0, 1e9]")
        })
        .transpose()?;
    EconParams::new(ps, pw, gamma, capacity).map_err(|e| bad_input(e.to_string()))
}

fn to_fx(
    flag: &str,
    v: f64,
    range: std::ops::RangeInclusive<f64>,
    expected: &str,
) -> anyhow::Result<Fx> {
    if !v.is_finite() || !range.contains(&v) {
        return Err(bad_input(format!("{flag} {v}: expected {expected}")));
    }
    Ok(Fx::from_f64_lossy(v))
}

/// Users' total net utility `U = ∫₀¹ max(0, v·ln(1 + k·b*(v)) - p_M·b*(v)) dv` for
/// `v ~ U[0,1]`, with `b*(v) = max(0, v/p_M - 1/k)`.
///
/// With `a = p_M/k`, users with `v > a` buy and get `v·ln(v/a) - v + a`; integrating,
/// `U = a - a²/4 - ln(a)/2 - 3/4` for `a < 1` (paper B's eq. (6)) and 0 otherwise. No service
/// (`p_M = 0` as reported for mining only, or `k = 0`) gives 0. Display only (`f64`).
#[must_use]
pub fn users_utility(p_m: f64, m: f64, gamma: f64) -> f64 {
    let k = if m <= gamma {
        1.0
    } else {
        (1.0 - m) / (1.0 - gamma)
    };
    if p_m <= 0.0 || k <= 0.0 {
        return 0.0;
    }
    let a = p_m / k;
    if a >= 1.0 {
        0.0
    } else {
        a - a * a / 4.0 - 0.5 * a.ln() - 0.75
    }
}

/// One point of paper B's Fig. 3: the MO's choice and its users' utility at a mining reward.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Fig3Row {
    /// Mining reward rate `p_w`.
    pub p_w: f64,
    /// Optimal mining share `m*`.
    pub m: f64,
    /// Optimal service price `p_M*` (0 when no service).
    pub p_m: f64,
    /// The MO's profit `Π*`.
    pub profit: f64,
    /// Users' total net utility ([`users_utility`]).
    pub users_utility: f64,
    /// Regime of the optimum.
    pub regime: Regime,
}

/// Paper B's Fig. 3: users' total net utility and the MO's choice against `p_w` (the paper uses
/// `p_s = 0.15`, `γ = 0.7`), one row per value of `pw_values`, no capacity.
///
/// # Errors
/// [`crate::BadInput`] for any parameter out of range.
pub fn figure3(ps: f64, gamma: f64, pw_values: &[f64]) -> anyhow::Result<Vec<Fig3Row>> {
    pw_values
        .iter()
        .map(|&pw| {
            let args = EconArgs {
                ps,
                pw,
                gamma,
                capacity: None,
                json: false,
            };
            let o = optimum(&params_from(&args)?).map_err(|e| bad_input(e.to_string()))?;
            Ok(Fig3Row {
                p_w: pw,
                m: o.m.to_f64(),
                p_m: o.p_m.to_f64(),
                profit: o.profit.to_f64(),
                users_utility: users_utility(o.p_m.to_f64(), o.m.to_f64(), gamma),
                regime: o.regime,
            })
        })
        .collect()
}

/// One point of paper B's Fig. 4: the MO's profit with and without mining at a clearing price.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Fig4Row {
    /// Clearing price `p_s`.
    pub p_s: f64,
    /// `Π*` when the MO also mines (the optimum).
    pub profit_with_mining: f64,
    /// `Π_s*`: service only, no mining (`m = 0`, Proposition 1's price).
    pub profit_without_mining: f64,
    /// Optimal service price `p_M*` with mining (0 when the MO abandons service).
    pub p_m: f64,
    /// Regime of the optimum with mining.
    pub regime: Regime,
}

/// Paper B's Fig. 4: the MO's profit with and without mining against `p_s` (the paper uses
/// `p_w = 0.1`, `γ = 0.7`), one row per value of `ps_values` (each in `(0, 1]`), no capacity.
///
/// # Errors
/// [`crate::BadInput`] for any parameter out of range (including `p_s = 0`).
pub fn figure4(pw: f64, gamma: f64, ps_values: &[f64]) -> anyhow::Result<Vec<Fig4Row>> {
    ps_values
        .iter()
        .map(|&ps| {
            let args = EconArgs {
                ps,
                pw,
                gamma,
                capacity: None,
                json: false,
            };
            let params = params_from(&args)?;
            let o = optimum(&params).map_err(|e| bad_input(e.to_string()))?;
            let no_mining = EconParams {
                p_w: Fx::ZERO,
                ..params
            };
            let price = service_price(params.p_s).map_err(|e| bad_input(e.to_string()))?;
            let without = if price > Fx::ZERO {
                profit(&no_mining, price, Fx::ZERO).map_err(|e| bad_input(e.to_string()))?
            } else {
                Fx::ZERO
            };
            Ok(Fig4Row {
                p_s: ps,
                profit_with_mining: o.profit.to_f64(),
                profit_without_mining: without.to_f64(),
                p_m: o.p_m.to_f64(),
                regime: o.regime,
            })
        })
        .collect()
}

/// Writes paper B's figures as PNGs into `dir`: `fig3.png` (the MO's mining share, profit and
/// the users' total net utility against `p_w` at `p_s = 0.15`, `γ = 0.7`) and `fig4.png` (the
/// MO's profit with and without mining against `p_s` at `p_w = 0.1`, `γ = 0.7`). Returns the
/// files written.
///
/// # Errors
/// An uncreatable directory or unwritable files.
pub fn write_figures(dir: &std::path::Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    use crate::plot::{Series, line_chart};
    std::fs::create_dir_all(dir)
        .map_err(|e| bad_input(format!("{}: cannot create: {e}", dir.display())))?;
    let grid = |lo: f64, hi: f64, n: u32| -> Vec<f64> {
        (0..=n)
            .map(|i| lo + (hi - lo) * f64::from(i) / f64::from(n))
            .collect()
    };
    let fig3 = figure3(0.15, 0.7, &grid(0.0, 0.6, 120))?;
    let series3 = vec![
        Series {
            label: "mining share m*".into(),
            points: fig3.iter().map(|r| (r.p_w, r.m)).collect(),
        },
        Series {
            label: "MO profit Π*".into(),
            points: fig3.iter().map(|r| (r.p_w, r.profit)).collect(),
        },
        Series {
            label: "users' total net utility".into(),
            points: fig3.iter().map(|r| (r.p_w, r.users_utility)).collect(),
        },
    ];
    let path3 = dir.join("fig3.png");
    line_chart(
        &path3,
        "Paper B Fig. 3: the MO's choice against the mining reward (p_s = 0.15, γ = 0.7)",
        "mining reward rate p_w",
        "value",
        &series3,
        (1000, 640),
    )?;
    let fig4 = figure4(0.1, 0.7, &grid(0.01, 0.6, 118))?;
    let series4 = vec![
        Series {
            label: "profit with mining".into(),
            points: fig4.iter().map(|r| (r.p_s, r.profit_with_mining)).collect(),
        },
        Series {
            label: "profit without mining".into(),
            points: fig4
                .iter()
                .map(|r| (r.p_s, r.profit_without_mining))
                .collect(),
        },
    ];
    let path4 = dir.join("fig4.png");
    line_chart(
        &path4,
        "Paper B Fig. 4: MO profit against the leasing price (p_w = 0.1, γ = 0.7)",
        "clearing price p_s",
        "MO profit",
        &series4,
        (1000, 640),
    )?;
    Ok(vec![path3, path4])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn args(ps: f64, pw: f64, gamma: f64, capacity: Option<f64>, json: bool) -> EconArgs {
        EconArgs {
            ps,
            pw,
            gamma,
            capacity,
            json,
        }
    }

    /// Composite Simpson on `[lo, 1]` of the users' net utility integrand.
    fn utility_numeric(p: f64, k: f64) -> f64 {
        let f = |v: f64| {
            let b = (v / p - 1.0 / k).max(0.0);
            (v * (1.0 + k * b).ln() - p * b).max(0.0)
        };
        let lo = (p / k).min(1.0);
        let n = 20_000;
        let h = (1.0 - lo) / f64::from(n);
        let mut sum = f(lo) + f(1.0);
        for i in 1..n {
            let w = if i % 2 == 1 { 4.0 } else { 2.0 };
            sum += w * f(lo + h * f64::from(i));
        }
        sum * h / 3.0
    }

    #[test]
    fn users_utility_matches_the_integral() {
        for (p, m, gamma) in [
            (0.313_917, 0.7, 0.7),
            (0.304_25, 0.721, 0.7),
            (0.05, 0.2, 0.5),
            (0.6, 0.9, 0.5),
            (0.9, 0.1, 0.3),
        ] {
            let k = if m <= gamma {
                1.0
            } else {
                (1.0 - m) / (1.0 - gamma)
            };
            let closed = users_utility(p, m, gamma);
            let numeric = utility_numeric(p, k);
            assert!(
                (closed - numeric).abs() < 1e-9,
                "p {p} m {m}: {closed} vs {numeric}"
            );
        }
        assert_eq!(users_utility(0.0, 1.0, 0.7), 0.0);
        assert_eq!(users_utility(0.5, 0.9, 0.7), 0.0); // k = 1/3 < p: nobody buys
    }

    #[test]
    fn table_and_json_output() {
        let mut buf = Vec::new();
        let o = econ_to(&args(0.15, 0.1, 0.7, None, false), &mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert_eq!(o.regime, Regime::ServiceOnly);
        assert!(text.contains("p_M*") && text.contains("0.313917"), "{text}");
        assert!(
            text.contains("0.374869") && text.contains("0.411523"),
            "{text}"
        );
        assert!(
            text.lines().last().unwrap().ends_with("service_only"),
            "{text}"
        );
        // Aligned: every value ends in the same column.
        let widths: Vec<usize> = text.lines().map(str::len).collect();
        assert!(widths.iter().all(|&w| w == widths[0]), "{text}");

        let mut buf = Vec::new();
        econ_to(&args(0.15, 0.4, 0.7, None, true), &mut buf).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        let obj = v.as_object().unwrap();
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["m", "m_h", "m_l", "p_m", "profit", "q", "regime"]);
        assert_eq!(obj["regime"], "interior");
        assert!((obj["m"].as_f64().unwrap() - 0.721_000_974).abs() < 1e-9);
    }

    #[test]
    fn bad_flags_are_bad_input() {
        for a in [
            args(f64::NAN, 0.1, 0.7, None, false),
            args(0.15, f64::INFINITY, 0.7, None, false),
            args(1.5, 0.1, 0.7, None, false),
            args(-0.1, 0.1, 0.7, None, false),
            args(0.15, 0.1, 1.0, None, false),
            args(0.15, 0.1, 0.999_999_999_9, None, false), // rounds to 1
            args(0.15, 0.1, 0.7, Some(0.0), false),
            args(0.15, 0.1, 0.7, Some(2e9), false),
            args(0.0, 0.1, 0.7, None, false),
        ] {
            let err = econ_to(&a, &mut Vec::new()).unwrap_err();
            assert!(
                err.downcast_ref::<crate::BadInput>().is_some(),
                "{a:?}: {err}"
            );
        }
        let err = params_from(&args(1.5, 0.1, 0.7, None, false)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--ps 1.5: expected a clearing price in [0, 1]"
        );
    }

    #[test]
    fn figure3_shape() {
        let pws: Vec<f64> = (0..=50).map(|i| f64::from(i) * 0.01).collect();
        let rows = figure3(0.15, 0.7, &pws).unwrap();
        let service_utility = rows[0].users_utility;
        // U at p_M* = 0.313917: a - a²/4 - ln(a)/2 - 3/4.
        assert!(
            (service_utility - 0.118_594_505).abs() < 1e-8,
            "{service_utility}"
        );
        let mut last = f64::INFINITY;
        for r in &rows {
            match r.regime {
                Regime::ServiceOnly => {
                    assert!(r.p_w <= 0.374_869);
                    assert!((r.users_utility - service_utility).abs() < 1e-12);
                }
                Regime::Interior => {
                    assert!(r.p_w > 0.374_868 && r.p_w < 0.411_523);
                    assert!(r.users_utility < service_utility && r.users_utility > 0.0);
                }
                Regime::MiningOnly => {
                    assert!(r.p_w >= 0.411_522);
                    assert_eq!(r.users_utility, 0.0);
                }
                Regime::CapacityBound => panic!("no capacity here"),
            }
            // Utility never rises with the mining reward; the MO's profit never falls.
            assert!(r.users_utility <= last + 1e-12);
            last = r.users_utility;
        }
        assert!(rows.windows(2).all(|w| w[1].profit >= w[0].profit));
        assert!(rows.iter().any(|r| r.regime == Regime::Interior));
    }

    #[test]
    fn figure4_shape() {
        let ps: Vec<f64> = (1..=50).map(|i| f64::from(i) * 0.01).collect();
        let rows = figure4(0.1, 0.7, &ps).unwrap();
        for r in &rows {
            assert!(r.profit_with_mining >= r.profit_without_mining - 1e-9);
            if r.regime == Regime::ServiceOnly {
                // Mining on the redundant compute adds exactly p_w·γ = 0.07.
                let gain = r.profit_with_mining - r.profit_without_mining;
                assert!((gain - 0.07).abs() < 2e-9, "{r:?}");
            }
            let abandons = r.p_s > 0.387_066;
            assert_eq!(r.regime == Regime::MiningOnly, abandons, "{r:?}");
        }
        let at = |p: f64| rows.iter().find(|r| (r.p_s - p).abs() < 1e-12).unwrap();
        assert!((at(0.05).profit_with_mining - 0.3131).abs() < 1e-4);
        assert!((at(0.30).p_m - 0.4695).abs() < 1e-4);
        assert!((at(0.45).profit_with_mining - 0.1).abs() < 1e-12);
    }
}
