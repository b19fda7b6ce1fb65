//! Fusion rules: many sensors' reports in, one busy/idle decision out.
//!
//! Purpose: the cooperative sensing contract fuses the selected sensors' reports at the deadline
//! (SPEC 1 step 4, SPEC 5). Data flow: `&[Report]` (decision, optional normalised energy,
//! reporter's trust) + a [`FusionRule`] from the task's configuration -> [`fuse`] -> `true`
//! (channel busy) or `false` (idle). Integer and fixed-point maths only, so every node gets the
//! same answer (`clippy::float_arithmetic` is denied here).
//!
//! Ties default to **busy**: a missed detection lets micro operators transmit over the licence
//! holder, while a false alarm only wastes one round's opportunity, so the conservative side is
//! the one that protects the primary user (IEEE 802.22 likewise puts Pd before Pf).
#![deny(clippy::float_arithmetic)]

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::{Error, Fx};

/// Largest magnitude accepted for reported and threshold energies, in milli-dB (±80 dB keeps
/// linear ratios inside [`Fx`] with room to sum them).
pub const ENERGY_LIMIT_MDB: i32 = 80_000;

/// One sensor's report as the fusion rule sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The sensor's own decision: `true` = primary user present (busy).
    pub decision: bool,
    /// Normalised band energy in milli-dB: the measured in-band energy over the sensor's own
    /// noise-floor estimate (radio's `energy_dbfs - noise_dbfs`, × 1000, rounded). Needed only
    /// by [`FusionRule::SoftCombining`].
    pub energy_mdb: Option<i32>,
    /// The reporter's trust in [0, 1] (weights [`FusionRule::TrustWeightedMajority`]).
    pub trust: Fx,
}

/// Which way an exact tie goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TieBreak {
    /// Busy: protects the primary user (default, see the module docs).
    #[default]
    Busy,
    /// Idle: favours spectrum reuse.
    Idle,
}

impl TieBreak {
    fn decision(self) -> bool {
        matches!(self, TieBreak::Busy)
    }
}

/// How reports are fused. Serialised internally tagged for configs, e.g.
/// `{ rule = "k_out_of_n", k = 2 }` or `{ rule = "majority" }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case", deny_unknown_fields)]
pub enum FusionRule {
    /// Busy iff more than half of the reports say busy; an exact half goes to `tie`.
    /// Paper A's choice.
    Majority {
        /// Decision on an exact half.
        #[serde(default)]
        tie: TieBreak,
    },
    /// Busy iff at least `k` reports say busy (`k >= 1`; with fewer than `k` reports the
    /// result is idle).
    KOutOfN {
        /// Votes needed.
        k: u32,
    },
    /// Busy iff any report says busy (1-out-of-n).
    Or,
    /// Busy iff every report says busy (n-out-of-n).
    And,
    /// Busy iff the summed trust of busy reports exceeds that of idle reports; equal sums
    /// (including all-zero trust) go to `tie`.
    TrustWeightedMajority {
        /// Decision on equal weight.
        #[serde(default)]
        tie: TieBreak,
    },
    /// Equal-gain soft combining: busy iff the mean of the reports' linear energy ratios
    /// `10^(energy_mdb/10000)` is at least `10^(threshold_mdb/10000)`. Every report must
    /// carry `energy_mdb`.
    SoftCombining {
        /// Threshold on the mean normalised energy, milli-dB.
        threshold_mdb: i32,
    },
}

impl Default for FusionRule {
    fn default() -> Self {
        FusionRule::Majority {
            tie: TieBreak::Busy,
        }
    }
}

impl FusionRule {
    /// Checks the rule's own parameters.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for `k = 0` or a soft threshold beyond
    /// ±[`ENERGY_LIMIT_MDB`].
    pub fn validate(&self) -> Result<(), Error> {
        match *self {
            FusionRule::KOutOfN { k: 0 } => Err(Error::InvalidParameter {
                field: "k",
                expected: "k >= 1",
                got: "0".to_owned(),
            }),
            FusionRule::SoftCombining { threshold_mdb }
                if threshold_mdb.unsigned_abs() > ENERGY_LIMIT_MDB.unsigned_abs() =>
            {
                Err(Error::InvalidParameter {
                    field: "threshold_mdb",
                    expected: "|threshold_mdb| <= 80000",
                    got: threshold_mdb.to_string(),
                })
            }
            _ => Ok(()),
        }
    }
}

/// Fuses `reports` under `rule`: `true` = busy.
///
/// # Errors
/// [`Error::EmptyReports`] for an empty slice; [`Error::InvalidParameter`] if the rule is
/// invalid ([`FusionRule::validate`]); [`Error::InvalidReport`] if a report's trust is outside
/// [0, 1] (trust-weighted rule) or its energy is missing or beyond ±[`ENERGY_LIMIT_MDB`] (soft
/// combining).
pub fn fuse(rule: &FusionRule, reports: &[Report]) -> Result<bool, Error> {
    rule.validate()?;
    if reports.is_empty() {
        return Err(Error::EmptyReports);
    }
    let n = reports.len();
    let busy = reports.iter().filter(|r| r.decision).count();
    match *rule {
        FusionRule::Majority { tie } => Ok(match (2 * busy).cmp(&n) {
            Ordering::Greater => true,
            Ordering::Less => false,
            Ordering::Equal => tie.decision(),
        }),
        FusionRule::KOutOfN { k } => Ok(u64::try_from(busy).unwrap_or(u64::MAX) >= u64::from(k)),
        FusionRule::Or => Ok(busy > 0),
        FusionRule::And => Ok(busy == n),
        FusionRule::TrustWeightedMajority { tie } => {
            // Trust is in [0, 1] (checked), so i128 sums cannot overflow.
            let (mut for_busy, mut for_idle) = (0_i128, 0_i128);
            for (index, r) in reports.iter().enumerate() {
                if !r.trust.is_unit() {
                    return Err(Error::InvalidReport {
                        index,
                        field: "trust",
                        expected: "0 <= trust <= 1",
                        got: r.trust.to_string(),
                    });
                }
                if r.decision {
                    for_busy += i128::from(r.trust.raw());
                } else {
                    for_idle += i128::from(r.trust.raw());
                }
            }
            Ok(match for_busy.cmp(&for_idle) {
                Ordering::Greater => true,
                Ordering::Less => false,
                Ordering::Equal => tie.decision(),
            })
        }
        FusionRule::SoftCombining { threshold_mdb } => {
            let mut sum = 0_i128;
            for (index, r) in reports.iter().enumerate() {
                let e = match r.energy_mdb {
                    Some(e) if e.unsigned_abs() <= ENERGY_LIMIT_MDB.unsigned_abs() => e,
                    other => {
                        return Err(Error::InvalidReport {
                            index,
                            field: "energy_mdb",
                            expected: "Some(e) with |e| <= 80000",
                            got: format!("{other:?}"),
                        });
                    }
                };
                sum += i128::from(Fx::from_millidb(e)?.raw());
            }
            let thr = i128::from(Fx::from_millidb(threshold_mdb)?.raw());
            let n = i128::try_from(n).map_err(|_| Error::Overflow {
                op: "soft_combining",
            })?;
            // mean >= thr  <=>  sum >= n·thr, exactly in integers.
            Ok(sum >= n * thr)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn votes(v: &[bool]) -> Vec<Report> {
        v.iter()
            .map(|&decision| Report {
                decision,
                energy_mdb: None,
                trust: Fx::HALF,
            })
            .collect()
    }

    #[test]
    fn hard_rules_known_answers() {
        let maj = FusionRule::default();
        let maj_idle = FusionRule::Majority {
            tie: TieBreak::Idle,
        };
        assert_eq!(fuse(&maj, &votes(&[true, false, true])), Ok(true));
        assert_eq!(fuse(&maj, &votes(&[true, false, false])), Ok(false));
        assert_eq!(fuse(&maj, &votes(&[true, false])), Ok(true));
        assert_eq!(fuse(&maj_idle, &votes(&[true, false])), Ok(false));
        let two = FusionRule::KOutOfN { k: 2 };
        assert_eq!(fuse(&two, &votes(&[true, false, false])), Ok(false));
        assert_eq!(fuse(&two, &votes(&[true, false, true])), Ok(true));
        assert_eq!(
            fuse(&FusionRule::KOutOfN { k: 5 }, &votes(&[true; 3])),
            Ok(false)
        );
        assert_eq!(
            fuse(&FusionRule::Or, &votes(&[false, false, true])),
            Ok(true)
        );
        assert_eq!(fuse(&FusionRule::Or, &votes(&[false, false])), Ok(false));
        assert_eq!(
            fuse(&FusionRule::And, &votes(&[true, true, false])),
            Ok(false)
        );
        assert_eq!(fuse(&FusionRule::And, &votes(&[true, true])), Ok(true));
    }

    #[test]
    fn errors_are_typed() {
        for rule in [
            FusionRule::default(),
            FusionRule::Or,
            FusionRule::And,
            FusionRule::KOutOfN { k: 1 },
            FusionRule::TrustWeightedMajority {
                tie: TieBreak::Busy,
            },
            FusionRule::SoftCombining { threshold_mdb: 0 },
        ] {
            assert_eq!(fuse(&rule, &[]), Err(Error::EmptyReports), "{rule:?}");
        }
        assert!(matches!(
            fuse(&FusionRule::KOutOfN { k: 0 }, &votes(&[true])),
            Err(Error::InvalidParameter { field: "k", .. })
        ));
        assert!(matches!(
            fuse(
                &FusionRule::SoftCombining {
                    threshold_mdb: 90_000
                },
                &votes(&[true])
            ),
            Err(Error::InvalidParameter {
                field: "threshold_mdb",
                ..
            })
        ));
        let mut bad = votes(&[true, false]);
        bad[1].trust = Fx::from_raw(1_000_000_001);
        assert!(matches!(
            fuse(
                &FusionRule::TrustWeightedMajority {
                    tie: TieBreak::Busy
                },
                &bad
            ),
            Err(Error::InvalidReport {
                index: 1,
                field: "trust",
                ..
            })
        ));
        let soft = FusionRule::SoftCombining { threshold_mdb: 0 };
        assert!(matches!(
            fuse(&soft, &votes(&[true])),
            Err(Error::InvalidReport {
                index: 0,
                field: "energy_mdb",
                ..
            })
        ));
        let mut loud = votes(&[true]);
        loud[0].energy_mdb = Some(80_001);
        assert!(matches!(
            fuse(&soft, &loud),
            Err(Error::InvalidReport {
                index: 0,
                field: "energy_mdb",
                ..
            })
        ));
    }

    #[test]
    fn trust_weighted_known_answers() {
        let rule = FusionRule::TrustWeightedMajority {
            tie: TieBreak::Idle,
        };
        let r = |decision, t: i64| Report {
            decision,
            energy_mdb: None,
            trust: Fx::from_raw(t),
        };
        // One trusted idle vote outweighs two weak busy votes.
        assert_eq!(
            fuse(
                &rule,
                &[
                    r(true, 300_000_000),
                    r(true, 300_000_000),
                    r(false, 700_000_000)
                ]
            ),
            Ok(false)
        );
        assert_eq!(
            fuse(
                &rule,
                &[
                    r(true, 400_000_000),
                    r(true, 400_000_000),
                    r(false, 700_000_000)
                ]
            ),
            Ok(true)
        );
        // Exactly equal weight and all-zero weight are ties.
        assert_eq!(
            fuse(&rule, &[r(true, 500_000_000), r(false, 500_000_000)]),
            Ok(false)
        );
        assert_eq!(fuse(&rule, &[r(true, 0), r(false, 0)]), Ok(false));
        let busy_tie = FusionRule::TrustWeightedMajority {
            tie: TieBreak::Busy,
        };
        assert_eq!(fuse(&busy_tie, &[r(true, 0), r(false, 0)]), Ok(true));
    }

    #[test]
    fn soft_combining_known_answers() {
        let e = |mdb| Report {
            decision: false,
            energy_mdb: Some(mdb),
            trust: Fx::ONE,
        };
        // Linear mean of 0 dB (1) and 10 dB (10) is 5.5 = 7.40 dB: above 7.4 dB, below 7.41 dB.
        let pair = [e(0), e(10_000)];
        assert_eq!(
            fuse(
                &FusionRule::SoftCombining {
                    threshold_mdb: 7_400
                },
                &pair
            ),
            Ok(true)
        );
        assert_eq!(
            fuse(
                &FusionRule::SoftCombining {
                    threshold_mdb: 7_410
                },
                &pair
            ),
            Ok(false)
        );
        // Equality counts as busy: mean of 3 dB and 3 dB is 3 dB.
        assert_eq!(
            fuse(
                &FusionRule::SoftCombining {
                    threshold_mdb: 3_000
                },
                &[e(3_000), e(3_000)]
            ),
            Ok(true)
        );
        // One loud sensor can carry the mean: decisions are ignored by this rule.
        assert_eq!(
            fuse(
                &FusionRule::SoftCombining {
                    threshold_mdb: 5_000
                },
                &[e(-3_000), e(-3_000), e(13_000)]
            ),
            Ok(true)
        );
        assert_eq!(
            fuse(
                &FusionRule::SoftCombining {
                    threshold_mdb: -80_000
                },
                &[e(-80_000)]
            ),
            Ok(true)
        );
    }

    #[test]
    fn serde_config_forms() {
        let r: FusionRule = toml::from_str("rule = \"majority\"").unwrap();
        assert_eq!(r, FusionRule::default());
        let r: FusionRule = toml::from_str("rule = \"k_out_of_n\"\nk = 2").unwrap();
        assert_eq!(r, FusionRule::KOutOfN { k: 2 });
        let r: FusionRule =
            toml::from_str("rule = \"trust_weighted_majority\"\ntie = \"idle\"").unwrap();
        assert_eq!(
            r,
            FusionRule::TrustWeightedMajority {
                tie: TieBreak::Idle
            }
        );
        let r: FusionRule =
            toml::from_str("rule = \"soft_combining\"\nthreshold_mdb = 3000").unwrap();
        assert_eq!(
            r,
            FusionRule::SoftCombining {
                threshold_mdb: 3000
            }
        );
        assert!(toml::from_str::<FusionRule>("rule = \"median\"").is_err());
        assert!(toml::from_str::<FusionRule>("rule = \"majority\"\nties = \"idle\"").is_err());
        for rule in [
            FusionRule::Or,
            FusionRule::And,
            FusionRule::KOutOfN { k: 3 },
        ] {
            let json = serde_json::to_string(&rule).unwrap();
            assert_eq!(serde_json::from_str::<FusionRule>(&json).unwrap(), rule);
        }
    }
}
