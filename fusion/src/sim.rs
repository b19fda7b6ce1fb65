//! Paper A's trust and cooperative-sensing simulation (SPEC 8, Fig. 11-13), with Bernoulli
//! sensors.
//!
//! Purpose: reproduce the paper's experiments and check the reconstructed trust model against
//! its claims. This is an experiment, not consensus code: it uses `f64` and a seeded RNG, but
//! drives the same fixed-point [`PaperTrust`], [`fuse`] and [`select`] the chain uses.
//!
//! Data flow, each round: the primary user is busy with probability `busy`; every node signs up
//! with its probability (`signup`, or `infrequent_signup` for infrequent nodes) and draws a
//! sensing outcome (reliable, on-off and infrequent nodes: Pd/Pf; lazy: a fair coin; an on-off
//! node flips every `on_off_period`-th report it submits) and a registration time; the
//! participants ([`Participation`]: every sign-up, or K chosen by a [`SelectionScheme`]) report,
//! the reports are fused; participants' trust is updated with "agreed with the fused decision",
//! everyone else skips the round. Out: per-kind mean trust and mean expected mining cost
//! `g(T) = 2^(-κT)` over all rounds, fused Pd/Pf against the true state, and the per-round mean
//! trust of each kind (Fig. 13).
//!
//! All random draws of a round are made in a fixed order whatever the scheme, so runs with the
//! same seed share primary-user states, sign-ups and sensing noise (common random numbers):
//! differences between schemes are not sampling luck.
//!
//! [`majority_probability_exact`] gives the analytic reference: the probability that a majority
//! of K independent sensors says busy, as an exact fraction.

use chacha20::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::rule::{FusionRule, Report, TieBreak, fuse};
use crate::select::{Candidate, SelectionScheme, select};
use crate::trust::{PaperTrust, TrustModel, TrustParams, TrustRecord, mining_cost_factor};

/// The four node types of paper A, VII-B.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// Honest, Pd/Pf sensing, signs up with `signup` (paper: Rnode).
    Reliable,
    /// Pd/Pf sensing, flips every `on_off_period`-th submitted report (paper: OOnode).
    OnOff,
    /// Reports a fair coin without sensing (paper: Lnode).
    Lazy,
    /// Honest, Pd/Pf sensing, signs up with `infrequent_signup` (paper: UAnode).
    Infrequent,
}

impl NodeKind {
    /// All kinds, in the order used by [`SimOutcome::kinds`] and the trajectory.
    pub const ALL: [NodeKind; 4] = [
        NodeKind::Reliable,
        NodeKind::OnOff,
        NodeKind::Lazy,
        NodeKind::Infrequent,
    ];

    fn slot(self) -> usize {
        match self {
            NodeKind::Reliable => 0,
            NodeKind::OnOff => 1,
            NodeKind::Lazy => 2,
            NodeKind::Infrequent => 3,
        }
    }
}

/// The experiment's set-up. `Default` is SPEC 8's: 12 reliable, 3 on-off (period 3), 3 lazy,
/// 2 infrequent (sign-up 0.1), Pd 0.9, Pf 0.15, sign-up 0.5, busy 0.5, 1000 rounds, paper
/// trust parameters, majority fusion with ties busy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimConfig {
    /// Number of reliable nodes.
    pub reliable: usize,
    /// Number of on-off attackers.
    pub on_off: usize,
    /// Number of lazy nodes.
    pub lazy: usize,
    /// Number of infrequent honest nodes.
    pub infrequent: usize,
    /// Detection probability of a sensing node.
    pub pd: f64,
    /// False-alarm probability of a sensing node.
    pub pf: f64,
    /// Per-round sign-up probability (all but infrequent nodes).
    pub signup: f64,
    /// Per-round sign-up probability of infrequent nodes ("rarely"; not given in the paper).
    pub infrequent_signup: f64,
    /// Probability that the primary user is busy in a round.
    pub busy: f64,
    /// Rounds to simulate.
    pub rounds: u32,
    /// An on-off node flips every `on_off_period`-th report it submits (3: "malicious after
    /// every two normal rounds").
    pub on_off_period: u32,
    /// Trust model parameters.
    pub trust: TrustParams,
    /// Fusion rule (must not need energies: the sensors here are Bernoulli).
    pub fusion: FusionRule,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            reliable: 12,
            on_off: 3,
            lazy: 3,
            infrequent: 2,
            pd: 0.9,
            pf: 0.15,
            signup: 0.5,
            infrequent_signup: 0.1,
            busy: 0.5,
            rounds: 1000,
            on_off_period: 3,
            trust: TrustParams::default(),
            fusion: FusionRule::default(),
        }
    }
}

impl SimConfig {
    /// Checks probabilities, counts and the nested parameters.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the field: a probability outside [0, 1] (or NaN),
    /// no nodes, `on_off_period` zero, soft-combining fusion, or bad trust parameters.
    pub fn validate(&self) -> Result<(), Error> {
        for (field, p) in [
            ("pd", self.pd),
            ("pf", self.pf),
            ("signup", self.signup),
            ("infrequent_signup", self.infrequent_signup),
            ("busy", self.busy),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(Error::InvalidParameter {
                    field,
                    expected: "a probability in [0, 1]",
                    got: p.to_string(),
                });
            }
        }
        if self.nodes() == 0 {
            return Err(Error::InvalidParameter {
                field: "reliable+on_off+lazy+infrequent",
                expected: "at least one node",
                got: "0".to_owned(),
            });
        }
        if self.on_off_period == 0 {
            return Err(Error::InvalidParameter {
                field: "on_off_period",
                expected: ">= 1",
                got: "0".to_owned(),
            });
        }
        if matches!(self.fusion, FusionRule::SoftCombining { .. }) {
            return Err(Error::InvalidParameter {
                field: "fusion",
                expected: "a hard-decision rule (Bernoulli sensors carry no energy)",
                got: format!("{:?}", self.fusion),
            });
        }
        self.fusion.validate()?;
        self.trust.validate()
    }

    /// Total number of nodes.
    #[must_use]
    pub fn nodes(&self) -> usize {
        self.reliable + self.on_off + self.lazy + self.infrequent
    }

    fn kinds(&self) -> Vec<NodeKind> {
        let mut v = Vec::with_capacity(self.nodes());
        v.extend(std::iter::repeat_n(NodeKind::Reliable, self.reliable));
        v.extend(std::iter::repeat_n(NodeKind::OnOff, self.on_off));
        v.extend(std::iter::repeat_n(NodeKind::Lazy, self.lazy));
        v.extend(std::iter::repeat_n(NodeKind::Infrequent, self.infrequent));
        v
    }
}

/// Who reports in a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "participation", rename_all = "snake_case")]
pub enum Participation {
    /// Every node that signed up reports and is scored (Fig. 11).
    AllSignedUp,
    /// Up to `k` of the signed-up nodes, chosen by `scheme`, make the decision (Fig. 12);
    /// `scoring` says whose trust is updated against what.
    Select {
        /// Selection scheme.
        scheme: SelectionScheme,
        /// Sensors wanted.
        k: usize,
        /// Trust evaluation.
        scoring: Scoring,
    },
}

/// Whose trust a selection run updates, and against which decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scoring {
    /// Only the selected sensors report, and they are scored against their own fused decision
    /// (what the contract does). At K = 1 a sensor always agrees with itself, so trust cannot
    /// tell good from bad there.
    Selected,
    /// Every sign-up senses and is scored against the fusion of all sign-ups (paper A's VII-B
    /// trust process); the K selected are fused separately for Pd/Pf.
    AllSignedUp,
}

/// Per-kind results of one run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KindStats {
    /// The node kind.
    pub kind: NodeKind,
    /// How many nodes of this kind.
    pub nodes: usize,
    /// Mean trust over nodes and rounds (after each round's update).
    pub mean_trust: f64,
    /// Mean expected mining cost `g(T) = 2^(-κT)` over nodes and rounds (1 = base difficulty).
    pub mean_cost: f64,
    /// Mean trust after the last round.
    pub final_trust: f64,
}

/// Results of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimOutcome {
    /// One entry per kind present, in [`NodeKind::ALL`] order.
    pub kinds: Vec<KindStats>,
    /// Fused detection probability: busy decisions / busy rounds with a decision.
    pub pd: f64,
    /// Fused false-alarm probability: busy decisions / idle rounds with a decision.
    pub pf: f64,
    /// Rounds with the primary user busy and a fused decision.
    pub busy_rounds: u32,
    /// Rounds with the primary user idle and a fused decision.
    pub idle_rounds: u32,
    /// Rounds in which nobody reported (no decision; excluded from Pd/Pf).
    pub undecided_rounds: u32,
    /// Mean trust of each kind after every round, in [`NodeKind::ALL`] order (NaN for an
    /// absent kind).
    pub trajectory: Vec<[f64; 4]>,
}

impl SimOutcome {
    /// The stats of `kind`, if it was present.
    #[must_use]
    pub fn kind(&self, kind: NodeKind) -> Option<&KindStats> {
        self.kinds.iter().find(|k| k.kind == kind)
    }
}

/// One row of the selection sweep (Fig. 12).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SweepRow {
    /// Selection scheme.
    pub scheme: SelectionScheme,
    /// Sensors selected per round.
    pub k: usize,
    /// Fused detection probability.
    pub pd: f64,
    /// Fused false-alarm probability.
    pub pf: f64,
    /// Rounds with a fused decision (the Pd/Pf sample size).
    pub decided: u32,
}

/// Uniform draw in [0, 1) with 53 random bits.
fn unit(rng: &mut ChaCha20Rng) -> f64 {
    #[allow(clippy::cast_precision_loss)] // 53-bit integers are exact in f64.
    let v = (rng.next_u64() >> 11) as f64;
    v / (1_u64 << 53) as f64
}

/// Runs the experiment once.
///
/// # Errors
/// [`Error::InvalidParameter`] from [`SimConfig::validate`], or for `k = 0`.
pub fn simulate(
    config: &SimConfig,
    participation: Participation,
    seed: u64,
) -> Result<SimOutcome, Error> {
    config.validate()?;
    if let Participation::Select { k: 0, .. } = participation {
        return Err(Error::InvalidParameter {
            field: "k",
            expected: "k >= 1",
            got: "0".to_owned(),
        });
    }
    let model = PaperTrust::new(config.trust.clone())?;
    let kinds = config.kinds();
    let n = kinds.len();
    let mut records: Vec<TrustRecord> = vec![model.initial_record(); n];
    let mut reports_sent = vec![0_u32; n];
    let keys: Vec<[u8; 4]> = (0..n)
        .map(|i| u32::try_from(i).unwrap_or(u32::MAX).to_be_bytes())
        .collect();
    let mut count = [0_usize; 4];
    for k in &kinds {
        count[k.slot()] += 1;
    }
    let mut trust_sum = [0.0_f64; 4];
    let mut cost_sum = [0.0_f64; 4];
    let mut trajectory = Vec::with_capacity(usize::try_from(config.rounds).unwrap_or(0));
    let (mut busy_rounds, mut idle_rounds, mut undecided) = (0_u32, 0_u32, 0_u32);
    let (mut detections, mut false_alarms) = (0_u32, 0_u32);
    let mut rng = ChaCha20Rng::seed_from_u64(seed);

    let mut signed = Vec::with_capacity(n);
    let mut sensed = vec![false; n];
    let mut arrival = vec![0_u64; n];
    let mut participating = vec![false; n];
    for _ in 0..config.rounds {
        // Draws in a fixed order, independent of the scheme (common random numbers).
        let pu_busy = unit(&mut rng) < config.busy;
        signed.clear();
        for (i, kind) in kinds.iter().enumerate() {
            let p_signup = if *kind == NodeKind::Infrequent {
                config.infrequent_signup
            } else {
                config.signup
            };
            let signs = unit(&mut rng) < p_signup;
            let u = unit(&mut rng);
            sensed[i] = match kind {
                NodeKind::Lazy => u < 0.5,
                _ if pu_busy => u < config.pd,
                _ => u < config.pf,
            };
            arrival[i] = rng.next_u64();
            if signs {
                signed.push(i);
            }
        }
        let mut sel_seed = [0_u8; 32];
        rng.fill_bytes(&mut sel_seed);

        let chosen: Vec<usize> = match participation {
            Participation::AllSignedUp => signed.clone(),
            Participation::Select { scheme, k, .. } => {
                let cands: Vec<Candidate<'_>> = signed
                    .iter()
                    .filter_map(|&i| {
                        Some(Candidate {
                            trust: records.get(i)?.trust(),
                            registered_at: *arrival.get(i)?,
                            key: keys.get(i)?,
                        })
                    })
                    .collect();
                select(&scheme, &cands, k, &sel_seed)
                    .into_iter()
                    .filter_map(|j| signed.get(j).copied())
                    .collect()
            }
        };

        // Who reports (and counts a report towards the on-off period) and who is scored.
        let scored: &[usize] = match participation {
            Participation::Select {
                scoring: Scoring::AllSignedUp,
                ..
            } => &signed,
            _ => &chosen,
        };
        participating.iter_mut().for_each(|p| *p = false);
        let mut decision_of = vec![None; n];
        for &i in scored {
            let (Some(kind), Some(sent), Some(&honest), Some(slot), Some(p)) = (
                kinds.get(i),
                reports_sent.get_mut(i),
                sensed.get(i),
                decision_of.get_mut(i),
                participating.get_mut(i),
            ) else {
                continue;
            };
            *sent = sent.saturating_add(1);
            let flip = *kind == NodeKind::OnOff && *sent % config.on_off_period == 0;
            *slot = Some(honest != flip);
            *p = true;
        }
        let reports_of = |set: &[usize]| -> Vec<Report> {
            set.iter()
                .filter_map(|&i| {
                    Some(Report {
                        decision: (*decision_of.get(i)?)?,
                        energy_mdb: None,
                        trust: records.get(i)?.trust(),
                    })
                })
                .collect()
        };
        let decided = reports_of(&chosen);
        let scoring_reports = reports_of(scored);

        if decided.is_empty() {
            undecided += 1;
        } else {
            let fused = fuse(&config.fusion, &decided)?;
            if pu_busy {
                busy_rounds += 1;
                detections += u32::from(fused);
            } else {
                idle_rounds += 1;
                false_alarms += u32::from(fused);
            }
        }
        if !scoring_reports.is_empty() {
            let reference = fuse(&config.fusion, &scoring_reports)?;
            for (rec, decision) in records.iter_mut().zip(&decision_of) {
                if let Some(d) = decision {
                    model.participate(rec, *d == reference);
                }
            }
        }
        for (rec, &p) in records.iter_mut().zip(&participating) {
            if !p {
                model.skip_round(rec);
            }
        }

        let mut round_trust = [0.0_f64; 4];
        for (rec, kind) in records.iter().zip(&kinds) {
            let t = rec.trust().to_f64();
            let slot = kind.slot();
            round_trust[slot] += t;
            trust_sum[slot] += t;
            cost_sum[slot] += mining_cost_factor(rec.trust()).to_f64();
        }
        for (slot, sum) in round_trust.iter_mut().enumerate() {
            *sum = if count[slot] == 0 {
                f64::NAN
            } else {
                *sum / count[slot] as f64
            };
        }
        trajectory.push(round_trust);
    }

    let rounds = f64::from(config.rounds.max(1));
    let kinds_out = NodeKind::ALL
        .iter()
        .filter(|k| count[k.slot()] > 0)
        .map(|&kind| {
            let slot = kind.slot();
            let nodes = count[slot];
            let denom = nodes as f64 * rounds;
            let final_trust = trajectory.last().map_or(f64::NAN, |t: &[f64; 4]| t[slot]);
            KindStats {
                kind,
                nodes,
                mean_trust: trust_sum[slot] / denom,
                mean_cost: cost_sum[slot] / denom,
                final_trust,
            }
        })
        .collect();
    Ok(SimOutcome {
        kinds: kinds_out,
        pd: f64::from(detections) / f64::from(busy_rounds.max(1)),
        pf: f64::from(false_alarms) / f64::from(idle_rounds.max(1)),
        busy_rounds,
        idle_rounds,
        undecided_rounds: undecided,
        trajectory,
    })
}

/// Runs [`simulate`] for every scheme and K (Fig. 12), each run with the same `seed` and
/// `scoring`.
///
/// # Errors
/// As [`simulate`].
pub fn selection_sweep(
    config: &SimConfig,
    schemes: &[SelectionScheme],
    ks: &[usize],
    scoring: Scoring,
    seed: u64,
) -> Result<Vec<SweepRow>, Error> {
    let mut rows = Vec::with_capacity(schemes.len() * ks.len());
    for &scheme in schemes {
        for &k in ks {
            let out = simulate(config, Participation::Select { scheme, k, scoring }, seed)?;
            rows.push(SweepRow {
                scheme,
                k,
                pd: out.pd,
                pf: out.pf,
                decided: out.busy_rounds + out.idle_rounds,
            });
        }
    }
    Ok(rows)
}

/// The exact probability that a majority of `k` independent sensors, each saying busy with
/// probability `p_num / p_den`, says busy (an exact half counts as busy iff `tie` is busy):
/// returns `(numerator, p_den^k)`.
///
/// # Errors
/// [`Error::InvalidParameter`] if `k = 0`, `p_den = 0` or `p_num > p_den`;
/// [`Error::Overflow`] if `p_den^k · 2^k` does not fit in 128 bits.
pub fn majority_probability_exact(
    k: u32,
    p_num: u64,
    p_den: u64,
    tie: TieBreak,
) -> Result<(u128, u128), Error> {
    if k == 0 || p_den == 0 || p_num > p_den {
        return Err(Error::InvalidParameter {
            field: "k, p_num, p_den",
            expected: "k >= 1, 0 < p_den, p_num <= p_den",
            got: format!("k={k}, p={p_num}/{p_den}"),
        });
    }
    let overflow = Error::Overflow {
        op: "majority_probability_exact",
    };
    let (p, q) = (u128::from(p_num), u128::from(p_den - p_num));
    let den = u128::from(p_den)
        .checked_pow(k)
        .ok_or_else(|| overflow.clone())?;
    let mut num: u128 = 0;
    let mut binom: u128 = 1; // C(k, x)
    for x in 0..=k {
        if x > 0 {
            binom = binom
                .checked_mul(u128::from(k - x + 1))
                .ok_or_else(|| overflow.clone())?
                / u128::from(x);
        }
        let counts = match (2 * x).cmp(&k) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Equal => tie == TieBreak::Busy,
            std::cmp::Ordering::Less => false,
        };
        if counts {
            let term = binom
                .checked_mul(p.checked_pow(x).ok_or_else(|| overflow.clone())?)
                .and_then(|t| t.checked_mul(q.checked_pow(k - x)?))
                .ok_or_else(|| overflow.clone())?;
            num = num.checked_add(term).ok_or_else(|| overflow.clone())?;
        }
    }
    Ok((num, den))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_majority_small_cases() {
        // K = 3, p = 9/10: 3·81·1 + 729 = 972 over 1000.
        assert_eq!(
            majority_probability_exact(3, 9, 10, TieBreak::Busy),
            Ok((972, 1000))
        );
        // K = 2, p = 1/2: ties busy -> 3/4, ties idle -> 1/4.
        assert_eq!(
            majority_probability_exact(2, 1, 2, TieBreak::Busy),
            Ok((3, 4))
        );
        assert_eq!(
            majority_probability_exact(2, 1, 2, TieBreak::Idle),
            Ok((1, 4))
        );
        assert!(majority_probability_exact(0, 1, 2, TieBreak::Busy).is_err());
        assert!(majority_probability_exact(3, 3, 2, TieBreak::Busy).is_err());
        assert!(matches!(
            majority_probability_exact(40, 1, 1000, TieBreak::Busy),
            Err(Error::Overflow { .. })
        ));
    }

    #[test]
    fn config_validation() {
        let mut c = SimConfig {
            pd: 1.5,
            ..SimConfig::default()
        };
        assert!(matches!(
            c.validate(),
            Err(Error::InvalidParameter { field: "pd", .. })
        ));
        c.pd = f64::NAN;
        assert!(c.validate().is_err());
        c.pd = 0.9;
        c.fusion = FusionRule::SoftCombining { threshold_mdb: 0 };
        assert!(matches!(
            c.validate(),
            Err(Error::InvalidParameter {
                field: "fusion",
                ..
            })
        ));
        let empty = SimConfig {
            reliable: 0,
            on_off: 0,
            lazy: 0,
            infrequent: 0,
            ..SimConfig::default()
        };
        assert!(empty.validate().is_err());
        assert!(
            simulate(
                &SimConfig::default(),
                Participation::Select {
                    scheme: SelectionScheme::Random,
                    k: 0,
                    scoring: Scoring::Selected,
                },
                1
            )
            .is_err()
        );
    }
}
