//! Paper A's experiments (SPEC 8) with the default set-up, fixed seeds and stated tolerances.
//!
//! - Fig. 11 (every sign-up reports; seeds 1, 2, 3): reliable nodes' mean trust exceeds every
//!   other kind's; reliable mean mining cost `g(T)` is at most 0.5 × the mean cost of all other
//!   nodes pooled, and at most 0.5 × that of the on-off and the lazy kind each (SPEC: about 0.3).
//! - Fig. 12 at K = 5 (seeds 1, 2, 3, both scorings): trust selection (threshold 0) has higher
//!   fused Pd *and* lower fused Pf than random selection.
//! - Reference: majority of K reliable sensors (Pd 0.9, Pf 0.15), K = 1, 3, 5, 7, 9, matches
//!   SPEC's table exactly (analytic binomial sums as exact fractions, within half a unit of the
//!   table's last digit) and by simulation (20 reliable nodes, all signing up, random
//!   selection, 6000 rounds) within 4 standard deviations of the reference.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fusion::sim::{
    NodeKind, Participation, Scoring, SimConfig, majority_probability_exact, selection_sweep,
    simulate,
};
use fusion::{Fx, SelectionScheme, TieBreak};

const SEEDS: [u64; 3] = [1, 2, 3];

#[test]
fn fig11_reliable_nodes_are_trusted_and_mine_cheaply() {
    let config = SimConfig::default();
    for seed in SEEDS {
        let out = simulate(&config, Participation::AllSignedUp, seed).unwrap();
        let reliable = *out.kind(NodeKind::Reliable).unwrap();
        let others: Vec<_> = out
            .kinds
            .iter()
            .filter(|k| k.kind != NodeKind::Reliable)
            .collect();
        for k in &out.kinds {
            println!(
                "seed {seed} {:?}: mean trust {:.4}, mean cost {:.4}",
                k.kind, k.mean_trust, k.mean_cost
            );
        }
        for k in &others {
            assert!(reliable.mean_trust > k.mean_trust, "seed {seed}: {k:?}");
        }
        let pooled_nodes: usize = others.iter().map(|k| k.nodes).sum();
        let pooled_cost = others
            .iter()
            .map(|k| k.mean_cost * k.nodes as f64)
            .sum::<f64>()
            / pooled_nodes as f64;
        let ratio = reliable.mean_cost / pooled_cost;
        println!("seed {seed}: cost ratio reliable/others {ratio:.3}");
        assert!(ratio <= 0.5, "seed {seed}: ratio {ratio}");
        for kind in [NodeKind::OnOff, NodeKind::Lazy] {
            let k = out.kind(kind).unwrap();
            assert!(
                reliable.mean_cost <= 0.5 * k.mean_cost,
                "seed {seed}: {k:?}"
            );
        }
        // Sanity against SPEC 5's "about 0.6" and "0.05-0.35" (loose: a reconstruction).
        assert!((0.55..=0.8).contains(&reliable.mean_trust), "{reliable:?}");
        assert_eq!(out.trajectory.len(), 1000);
        assert_eq!(
            out.busy_rounds + out.idle_rounds + out.undecided_rounds,
            1000
        );
    }
}

#[test]
fn fig12_trust_selection_beats_random_at_k5() {
    let config = SimConfig::default();
    let schemes = [
        SelectionScheme::Trust {
            threshold: Fx::ZERO,
        },
        SelectionScheme::Random,
    ];
    for scoring in [Scoring::Selected, Scoring::AllSignedUp] {
        for seed in SEEDS {
            let rows = selection_sweep(&config, &schemes, &[5], scoring, seed).unwrap();
            let (trust, random) = (rows[0], rows[1]);
            println!("{scoring:?} seed {seed}: trust {trust:?} random {random:?}");
            assert!(trust.decided >= 990 && random.decided >= 990);
            assert!(trust.pd > random.pd, "{scoring:?} seed {seed}");
            assert!(trust.pf < random.pf, "{scoring:?} seed {seed}");
        }
    }
}

/// SPEC 8's reference table (majority of K reliable sensors).
const REFERENCE: [(u32, &str, &str); 5] = [
    (1, "0.900", "0.150"),
    (3, "0.972", "0.0607"),
    (5, "0.9914", "0.0266"),
    (7, "0.9973", "0.0121"),
    (9, "0.9991", "0.0056"),
];

/// `|num/den - table| <= 0.5 · 10^-digits`, decided in exact integer arithmetic.
fn matches_table(num: u128, den: u128, table: &str) -> bool {
    let (_, frac) = table.split_once('.').unwrap();
    let digits = u32::try_from(frac.len()).unwrap();
    let scale = 10_u128.pow(digits);
    let t: u128 = frac.parse().unwrap(); // all table values are below 1
    let lhs = (num * scale).abs_diff(t * den) * 2;
    lhs <= den
}

#[test]
fn reference_table_analytic_exact() {
    for (k, pd, pf) in REFERENCE {
        let (dn, dd) = majority_probability_exact(k, 90, 100, TieBreak::Busy).unwrap();
        let (fn_, fd) = majority_probability_exact(k, 15, 100, TieBreak::Busy).unwrap();
        println!(
            "K={k}: Pd {dn}/{dd} = {:.6}, Pf {fn_}/{fd} = {:.6}",
            dn as f64 / dd as f64,
            fn_ as f64 / fd as f64
        );
        assert!(matches_table(dn, dd, pd), "K={k} Pd");
        assert!(matches_table(fn_, fd, pf), "K={k} Pf");
    }
    // The comparison can fail: a wrong table entry is caught.
    let (n, d) = majority_probability_exact(5, 90, 100, TieBreak::Busy).unwrap();
    assert!(!matches_table(n, d, "0.9924"));
}

#[test]
fn reference_table_by_simulation() {
    let config = SimConfig {
        reliable: 20,
        on_off: 0,
        lazy: 0,
        infrequent: 0,
        signup: 1.0,
        rounds: 6000,
        ..SimConfig::default()
    };
    let ks: Vec<usize> = REFERENCE.iter().map(|r| r.0 as usize).collect();
    let rows = selection_sweep(
        &config,
        &[SelectionScheme::Random],
        &ks,
        Scoring::Selected,
        7,
    )
    .unwrap();
    for (row, (k, pd, pf)) in rows.iter().zip(REFERENCE) {
        let (pd, pf): (f64, f64) = (pd.parse().unwrap(), pf.parse().unwrap());
        // About half the rounds are busy: sd = sqrt(p(1-p) / 3000).
        let tol = |p: f64| 4.0 * (p * (1.0 - p) / 3000.0).sqrt();
        println!(
            "K={k}: sim Pd {:.4} Pf {:.4} (ref {pd} {pf})",
            row.pd, row.pf
        );
        assert_eq!(row.decided, 6000);
        assert!((row.pd - pd).abs() <= tol(pd), "K={k} Pd {}", row.pd);
        assert!((row.pf - pf).abs() <= tol(pf), "K={k} Pf {}", row.pf);
    }
}
