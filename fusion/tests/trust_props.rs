//! Properties of the fixed-point trust model (SPEC 5).
//!
//! What is tested, precisely:
//! - range: after any sequence of participations (right/wrong) and skipped rounds, under any
//!   valid parameters, `0 <= T <= 1` and `0 <= T_last <= 1`;
//! - equations: the fixed-point trust stays within 1e-6 of an independent `f64` evaluation of
//!   equations (1)-(4) after any sequence (so the fixed point implements SPEC 5 exactly, up to
//!   rounding);
//! - outcome order: from the same state, participating with a right outcome gives trust `>=`
//!   participating with a wrong one (a right outcome can still lower trust, e.g. a newcomer's
//!   first report: the equations say so);
//! - inactivity: `n` skipped rounds give exactly `T = f(n) · T_last` (fixed-point product), a
//!   non-increasing sequence, and `idle = n`;
//! - damping: after `s` idle rounds a gain is `T_last + f(s)·(T~ - T_last)`, never above `T~`;
//! - on-off attack: a node that is wrong on every third report (right otherwise), with any
//!   phase and any idle gaps between reports, has `T < 0.5` (the default selection threshold)
//!   after its first report and `T < 0.47` from its 20th report on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fusion::Fx;
use fusion::trust::{AttenuationPoint, PaperTrust, TrustModel, TrustParams, TrustRecord};
use proptest::prelude::*;

#[derive(Debug, Clone, Copy)]
enum Op {
    Right,
    Wrong,
    Skip,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![Just(Op::Right), Just(Op::Wrong), Just(Op::Skip)]
}

fn apply(m: &PaperTrust, r: &mut TrustRecord, op: Op) {
    match op {
        Op::Right => r.participate(m, true),
        Op::Wrong => r.participate(m, false),
        Op::Skip => r.skip_round(m),
    }
}

fn params() -> impl Strategy<Value = TrustParams> {
    (
        0_i64..=5_000_000_000,
        0_i64..=5_000_000_000,
        0_i64..=1_000_000_000,
        1_u8..=64,
        0_i64..=1_000_000_000,
    )
        .prop_map(|(a, b, rho, window, t0)| TrustParams {
            alpha: Fx::from_raw(a),
            beta: Fx::from_raw(b),
            rho: Fx::from_raw(rho),
            window,
            initial: Fx::from_raw(t0),
            ..TrustParams::default()
        })
}

/// Independent `f64` evaluation of SPEC 5 equations (1)-(4).
struct Reference {
    alpha: f64,
    beta: f64,
    rho: f64,
    window: usize,
    points: Vec<(f64, f64)>,
    outcomes: Vec<bool>, // newest first, true = right
    last: f64,
    idle: u32,
    trust: f64,
}

impl Reference {
    fn new(p: &TrustParams) -> Self {
        Reference {
            alpha: p.alpha.to_f64(),
            beta: p.beta.to_f64(),
            rho: p.rho.to_f64(),
            window: usize::from(p.window),
            points: p
                .attenuation
                .iter()
                .map(|AttenuationPoint { idle, factor }| (f64::from(*idle), factor.to_f64()))
                .collect(),
            outcomes: Vec::new(),
            last: p.initial.to_f64(),
            idle: 0,
            trust: p.initial.to_f64(),
        }
    }

    fn f(&self, s: u32) -> f64 {
        let s = f64::from(s);
        for w in self.points.windows(2) {
            let ((x0, y0), (x1, y1)) = (w[0], w[1]);
            if s <= x1 {
                return y0 + (y1 - y0) * (s - x0) / (x1 - x0);
            }
        }
        self.points.last().unwrap().1
    }

    fn participate(&mut self, right: bool) {
        self.outcomes.insert(0, right);
        self.outcomes.truncate(self.window);
        let r = self.outcomes.iter().filter(|&&o| o).count() as f64;
        let w: f64 = self
            .outcomes
            .iter()
            .enumerate()
            .filter(|(_, o)| !**o)
            .map(|(age, _)| self.rho.powi(age as i32))
            .sum();
        let target = (1.0 - (-self.alpha * r).exp()) * (-self.beta * w).exp();
        let delta = target - self.last;
        let t = if delta > 0.0 {
            self.last + self.f(self.idle) * delta
        } else {
            target
        };
        self.last = t;
        self.trust = t;
        self.idle = 0;
    }

    fn skip(&mut self) {
        self.idle += 1;
        self.trust = self.f(self.idle) * self.last;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn trust_stays_in_unit_interval(p in params(), ops in prop::collection::vec(op(), 0..200)) {
        let m = PaperTrust::new(p).unwrap();
        let mut r = m.initial_record();
        for o in ops {
            apply(&m, &mut r, o);
            prop_assert!(r.trust().is_unit(), "{r:?}");
            prop_assert!(r.last_participation_trust().is_unit(), "{r:?}");
        }
    }

    #[test]
    fn fixed_point_follows_the_equations(p in params(), ops in prop::collection::vec(op(), 0..150)) {
        let m = PaperTrust::new(p.clone()).unwrap();
        let mut r = m.initial_record();
        let mut reference = Reference::new(&p);
        for o in ops {
            apply(&m, &mut r, o);
            match o {
                Op::Right => reference.participate(true),
                Op::Wrong => reference.participate(false),
                Op::Skip => reference.skip(),
            }
            let diff = (r.trust().to_f64() - reference.trust).abs();
            prop_assert!(diff <= 1e-6, "{o:?}: fx {} f64 {} ({r:?})", r.trust(), reference.trust);
            prop_assert_eq!(r.idle_rounds(), reference.idle);
        }
    }

    #[test]
    fn right_never_below_wrong(p in params(), ops in prop::collection::vec(op(), 0..120)) {
        let m = PaperTrust::new(p).unwrap();
        let mut r = m.initial_record();
        for o in ops {
            apply(&m, &mut r, o);
        }
        let (mut right, mut wrong) = (r, r);
        right.participate(&m, true);
        wrong.participate(&m, false);
        prop_assert!(right.trust() >= wrong.trust(), "right {} wrong {}", right.trust(), wrong.trust());
    }

    #[test]
    fn inactivity_follows_f(ops in prop::collection::vec(op(), 0..60), n in 1_u32..40) {
        let m = PaperTrust::default();
        let mut r = m.initial_record();
        for o in ops {
            apply(&m, &mut r, o);
        }
        // Reach a participation state, then sleep n rounds.
        r.participate(&m, true);
        let last = r.last_participation_trust();
        let mut prev = r.trust();
        for s in 1..=n {
            r.skip_round(&m);
            let expected = m.params().attenuation(s).checked_mul(last).unwrap();
            prop_assert_eq!(r.trust(), expected);
            prop_assert!(r.trust() <= prev);
            prop_assert_eq!(r.idle_rounds(), s);
            prop_assert_eq!(r.last_participation_trust(), last);
            prev = r.trust();
        }
    }

    #[test]
    fn gains_are_damped_by_sleep(ops in prop::collection::vec(op(), 0..60), s in 0_u32..30) {
        let m = PaperTrust::default();
        let mut r = m.initial_record();
        for o in ops {
            apply(&m, &mut r, o);
        }
        for _ in 0..s {
            r.skip_round(&m);
        }
        let last = r.last_participation_trust();
        let idle = r.idle_rounds(); // trailing skips in `ops` count too
        let window = ((r.window_bits() << 1) | 1) & ((1 << 20) - 1);
        let len = (r.window_len() + 1).min(20);
        let target = m.raw_trust(window, len);
        r.participate(&m, true);
        if target > last {
            let gain = m.params().attenuation(idle).checked_mul(target.checked_sub(last).unwrap()).unwrap();
            prop_assert_eq!(r.trust(), last.checked_add(gain).unwrap());
            prop_assert!(r.trust() <= target);
        } else {
            prop_assert_eq!(r.trust(), target);
        }
    }

    #[test]
    fn on_off_attacker_stays_below_threshold(
        phase in 0_usize..3,
        gaps in prop::collection::vec(0_u32..25, 60..120),
    ) {
        let m = PaperTrust::default();
        let mut r = m.initial_record();
        let mut worst_after_burn_in = Fx::ZERO;
        for (report, gap) in gaps.iter().enumerate() {
            for _ in 0..*gap {
                r.skip_round(&m);
                prop_assert!(report == 0 || r.trust() < Fx::HALF);
            }
            let wrong = (report + phase) % 3 == 2;
            r.participate(&m, !wrong);
            prop_assert!(r.trust() < Fx::HALF, "report {report}: {}", r.trust());
            if report >= 19 {
                worst_after_burn_in = worst_after_burn_in.max(r.trust());
            }
        }
        prop_assert!(worst_after_burn_in < Fx::from_raw(470_000_000), "{worst_after_burn_in}");
    }
}

/// The on-off attacker against an always-right node, both reporting every round (Fig. 13):
/// the attacker's steady state stays below 0.47 while the honest node passes 0.9.
#[test]
fn on_off_trajectory_against_reliable() {
    let m = PaperTrust::default();
    let (mut attacker, mut honest) = (m.initial_record(), m.initial_record());
    let mut attacker_max = Fx::ZERO;
    for round in 0..60 {
        attacker.participate(&m, round % 3 != 2);
        honest.participate(&m, true);
        if round >= 20 {
            attacker_max = attacker_max.max(attacker.trust());
        }
    }
    println!(
        "on-off max after 20 rounds: {attacker_max}, honest: {}",
        honest.trust()
    );
    assert!(attacker_max < Fx::from_raw(470_000_000));
    assert!(honest.trust() > Fx::from_raw(990_000_000));
}
