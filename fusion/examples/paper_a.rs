//! Prints paper A's Fig. 11-12 figures from the simulation (SPEC 8).
//!
//! Usage: `cargo run -p trustband-fusion --release --example paper_a [seed]`.

use fusion::sim::{NodeKind, Participation, Scoring, SimConfig, selection_sweep, simulate};
use fusion::{Fx, SelectionScheme};

fn main() -> Result<(), fusion::Error> {
    let seed = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_u64);
    let config = SimConfig::default();
    let all = simulate(&config, Participation::AllSignedUp, seed)?;
    println!("seed {seed}: every sign-up reports (Fig. 11)");
    println!(
        "{:<11} {:>5} {:>10} {:>10} {:>10}",
        "kind", "nodes", "mean T", "final T", "mean cost"
    );
    for k in &all.kinds {
        println!(
            "{:<11} {:>5} {:>10.4} {:>10.4} {:>10.4}",
            format!("{:?}", k.kind),
            k.nodes,
            k.mean_trust,
            k.final_trust,
            k.mean_cost
        );
    }
    if let Some(r) = all.kind(NodeKind::Reliable) {
        for k in all.kinds.iter().filter(|k| k.kind != NodeKind::Reliable) {
            println!(
                "cost ratio reliable/{:?}: {:.3}",
                k.kind,
                r.mean_cost / k.mean_cost
            );
        }
    }
    println!("fused Pd {:.4} Pf {:.4}", all.pd, all.pf);
    let schemes = [
        SelectionScheme::Random,
        SelectionScheme::RegisterTime,
        SelectionScheme::Trust {
            threshold: Fx::ZERO,
        },
        SelectionScheme::Trust {
            threshold: Fx::HALF,
        },
    ];
    for scoring in [Scoring::Selected, Scoring::AllSignedUp] {
        println!();
        println!("selection sweep (Fig. 12), majority fusion, scoring {scoring:?}");
        let rows = selection_sweep(&config, &schemes, &[1, 3, 5, 7, 9], scoring, seed)?;
        println!(
            "{:<14} {:>2} {:>8} {:>8} {:>8}",
            "scheme", "K", "Pd", "Pf", "decided"
        );
        for r in rows {
            let name = match r.scheme {
                SelectionScheme::Random => "random".to_owned(),
                SelectionScheme::RegisterTime => "register_time".to_owned(),
                SelectionScheme::Trust { threshold } => format!("trust>={threshold}"),
            };
            println!(
                "{:<14} {:>2} {:>8.4} {:>8.4} {:>8}",
                name, r.k, r.pd, r.pf, r.decided
            );
        }
    }
    Ok(())
}
