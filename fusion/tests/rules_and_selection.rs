//! Properties of the fusion rules and the selection schemes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fusion::{Candidate, FusionRule, Fx, Report, SelectionScheme, TieBreak, fuse, select};
use proptest::prelude::*;

fn report() -> impl Strategy<Value = Report> {
    (any::<bool>(), -80_000_i32..=80_000, 0_i64..=1_000_000_000).prop_map(|(d, e, t)| Report {
        decision: d,
        energy_mdb: Some(e),
        trust: Fx::from_raw(t),
    })
}

fn tie() -> impl Strategy<Value = TieBreak> {
    prop_oneof![Just(TieBreak::Busy), Just(TieBreak::Idle)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Majority, OR and AND are the k-out-of-n rules they should be.
    #[test]
    fn hard_rules_are_k_out_of_n(reports in prop::collection::vec(report(), 1..30)) {
        let n = u32::try_from(reports.len()).unwrap();
        let k_rule = |k| fuse(&FusionRule::KOutOfN { k }, &reports).unwrap();
        prop_assert_eq!(fuse(&FusionRule::Or, &reports).unwrap(), k_rule(1));
        prop_assert_eq!(fuse(&FusionRule::And, &reports).unwrap(), k_rule(n));
        // Ties busy: at least n/2 rounded up; ties idle: more than n/2.
        let maj_busy = FusionRule::Majority { tie: TieBreak::Busy };
        let maj_idle = FusionRule::Majority { tie: TieBreak::Idle };
        prop_assert_eq!(fuse(&maj_busy, &reports).unwrap(), k_rule(n.div_ceil(2)));
        prop_assert_eq!(fuse(&maj_idle, &reports).unwrap(), k_rule(n / 2 + 1));
    }

    /// Equal trust weights reduce the trust-weighted rule to plain majority.
    #[test]
    fn equal_weights_give_majority(
        reports in prop::collection::vec(report(), 1..30),
        w in 1_i64..=1_000_000_000,
        tie in tie(),
    ) {
        let equal: Vec<Report> = reports.iter().map(|r| Report { trust: Fx::from_raw(w), ..*r }).collect();
        prop_assert_eq!(
            fuse(&FusionRule::TrustWeightedMajority { tie }, &equal).unwrap(),
            fuse(&FusionRule::Majority { tie }, &equal).unwrap()
        );
    }

    /// Turning one idle vote into a busy vote never turns a busy decision idle (every hard
    /// rule), and raising one energy never turns soft combining from busy to idle.
    #[test]
    fn rules_are_monotone(
        reports in prop::collection::vec(report(), 1..30),
        pick in any::<prop::sample::Index>(),
        raise in 0_i32..20_000,
        k in 1_u32..10,
        tie in tie(),
        thr in -20_000_i32..20_000,
    ) {
        let i = pick.index(reports.len());
        let mut louder = reports.clone();
        louder[i].decision = true;
        louder[i].energy_mdb = louder[i].energy_mdb.map(|e| (e + raise).min(80_000));
        for rule in [
            FusionRule::Majority { tie },
            FusionRule::KOutOfN { k },
            FusionRule::Or,
            FusionRule::And,
            FusionRule::TrustWeightedMajority { tie },
            FusionRule::SoftCombining { threshold_mdb: thr },
        ] {
            let before = fuse(&rule, &reports).unwrap();
            let after = fuse(&rule, &louder).unwrap();
            prop_assert!(!before || after, "{rule:?}");
        }
    }

    /// Fusion does not depend on report order.
    #[test]
    fn rules_ignore_order(reports in prop::collection::vec(report(), 1..30), thr in -20_000_i32..20_000) {
        let mut reversed = reports.clone();
        reversed.reverse();
        for rule in [
            FusionRule::default(),
            FusionRule::TrustWeightedMajority { tie: TieBreak::Idle },
            FusionRule::SoftCombining { threshold_mdb: thr },
        ] {
            prop_assert_eq!(fuse(&rule, &reports).unwrap(), fuse(&rule, &reversed).unwrap());
        }
    }
}

fn candidates() -> impl Strategy<Value = Vec<(i64, u64, [u8; 2])>> {
    prop::collection::vec((0_i64..=10, 0_u64..8, any::<[u8; 2]>()), 0..25).prop_map(|v| {
        // Coarse trust and times force plenty of ties.
        v.into_iter()
            .map(|(t, r, k)| (t * 100_000_000, r, k))
            .collect()
    })
}

fn view(owned: &[(i64, u64, [u8; 2])]) -> Vec<Candidate<'_>> {
    owned
        .iter()
        .map(|(t, r, k)| Candidate {
            trust: Fx::from_raw(*t),
            registered_at: *r,
            key: k,
        })
        .collect()
}

fn distinct(v: &[usize]) -> bool {
    let mut s = v.to_vec();
    s.sort_unstable();
    s.dedup();
    s.len() == v.len()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn trust_selection_is_top_k_above_threshold(
        owned in candidates(),
        k in 0_usize..30,
        thr in 0_i64..=10,
    ) {
        let c = view(&owned);
        let threshold = Fx::from_raw(thr * 100_000_000);
        let sel = select(&SelectionScheme::Trust { threshold }, &c, k, &[0; 32]);
        let eligible = c.iter().filter(|x| x.trust >= threshold).count();
        prop_assert_eq!(sel.len(), k.min(eligible));
        prop_assert!(distinct(&sel));
        for w in sel.windows(2) {
            let (a, b) = (c[w[0]], c[w[1]]);
            prop_assert!(a.trust > b.trust || (a.trust == b.trust && (a.key, w[0]) < (b.key, w[1])));
        }
        if let Some(&worst) = sel.last() {
            for (i, x) in c.iter().enumerate() {
                if !sel.contains(&i) && x.trust >= threshold {
                    prop_assert!(
                        (x.trust, std::cmp::Reverse((x.key, i)))
                            < (c[worst].trust, std::cmp::Reverse((c[worst].key, worst)))
                    );
                }
            }
        }
        for &i in &sel {
            prop_assert!(c[i].trust >= threshold);
        }
    }

    #[test]
    fn register_time_selection_is_earliest_k(owned in candidates(), k in 0_usize..30) {
        let c = view(&owned);
        let sel = select(&SelectionScheme::RegisterTime, &c, k, &[0; 32]);
        prop_assert_eq!(sel.len(), k.min(c.len()));
        prop_assert!(distinct(&sel));
        let rank = |i: usize| (c[i].registered_at, c[i].key, i);
        for w in sel.windows(2) {
            prop_assert!(rank(w[0]) < rank(w[1]));
        }
        if let Some(&last) = sel.last() {
            for i in (0..c.len()).filter(|i| !sel.contains(i)) {
                prop_assert!(rank(i) > rank(last));
            }
        }
    }

    #[test]
    fn random_selection_is_a_seeded_prefix_stable_sample(
        owned in candidates(),
        k in 0_usize..30,
        seed in any::<[u8; 32]>(),
    ) {
        let c = view(&owned);
        let sel = select(&SelectionScheme::Random, &c, k, &seed);
        prop_assert_eq!(sel.len(), k.min(c.len()));
        prop_assert!(distinct(&sel));
        prop_assert!(sel.iter().all(|&i| i < c.len()));
        prop_assert_eq!(&sel, &select(&SelectionScheme::Random, &c, k, &seed));
        // Asking for more extends the same draw.
        let more = select(&SelectionScheme::Random, &c, k + 3, &seed);
        prop_assert_eq!(&more[..sel.len()], &sel[..]);
    }
}
