//! Trust evaluation (paper A, V-B; SPEC 5, reconstructed) in deterministic fixed point.
//!
//! Purpose: the chain keeps one [`TrustRecord`] per account and updates it when a sensing task
//! settles; trust selects sensors and lowers a miner's PoT difficulty, so every node must get
//! the same bits. Data flow: a task settles -> for each selected sensor
//! [`TrustModel::participate`] with "agreed with the fused decision", for every other account
//! [`TrustModel::skip_round`] -> the record's [`TrustRecord::trust`] feeds selection
//! ([`crate::select()`]) and [`mining_cost_factor`].
//!
//! The paper's equations were lost from the text; [`PaperTrust`] implements SPEC 5's
//! reconstruction exactly, behind the [`TrustModel`] trait so another model can be plugged in:
//!
//! 1. `T~ = (1 - e^(-α R)) · e^(-β W)`, `R` = right outcomes in the window of the last `L`
//!    participations;
//! 2. `W = Σ_j ρ^age_j · wrong_j` (age 0 = latest), evaluated by Horner's rule from the oldest
//!    entry (`W <- ρ·W + wrong`), each product rounded to 10^-9;
//! 3. `f(s)` piecewise linear through the configured points (default (0,1), (2,1), (5,0.9),
//!    (10,0.5), (20,0.1), then flat), `s` = consecutive rounds without participating;
//! 4. on participating `ΔT = T~ - T_last`; `T = T_last + f(s)·ΔT` if `ΔT > 0`, else
//!    `T = T~`; then `T_last = T`, `s = 0`. On a skipped round `s += 1`, `T = f(s)·T_last`.
//!
//! Defaults α = 0.3, β = 0.6, ρ = 0.8, L = 20, T_0 = 0.5. Note what the equations imply: a
//! newcomer at T_0 = 0.5 *loses* trust on its first right reports (`T~ = 1 - e^(-0.3) ≈ 0.26`
//! with R = 1) and needs R >= 3 clean outcomes to pass 0.5. Trust never leaves [0, 1].
#![deny(clippy::float_arithmetic)]

use serde::{Deserialize, Serialize};

use crate::{Error, Fx};

/// Largest window the bit ring holds.
pub const MAX_WINDOW: u8 = 64;

/// κ = log2(17) / 0.9 = 4.541625379167... in 10^-9 units: g(0.9) = 1/17 (paper A, V-C).
pub const KAPPA: Fx = Fx::from_raw(4_541_625_379);

/// The PoT cost factor `g(T) = 2^(-κ T)` (SPEC 4, reconstructed eq. 5): a miner with trust `T`
/// needs `g(T)` times the base number of hashes. Trust outside [0, 1] is clamped first.
#[must_use]
pub fn mining_cost_factor(trust: Fx) -> Fx {
    KAPPA
        .saturating_mul(trust.clamp(Fx::ZERO, Fx::ONE))
        .exp2_neg()
}

/// One point of the inactivity attenuation `f(s)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttenuationPoint {
    /// Consecutive idle rounds `s`.
    pub idle: u32,
    /// `f(s)` in [0, 1].
    pub factor: Fx,
}

/// Parameters of [`PaperTrust`] (SPEC 5). `Default` gives the paper's values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustParams {
    /// α: how fast right outcomes raise trust.
    pub alpha: Fx,
    /// β: how fast (faded) wrong outcomes lower it.
    pub beta: Fx,
    /// ρ: per-participation fading of old mistakes, in [0, 1].
    pub rho: Fx,
    /// L: participations remembered, 1..=64.
    pub window: u8,
    /// T_0: trust of a new account.
    pub initial: Fx,
    /// Breakpoints of `f(s)`: idle strictly increasing from 0, factors in [0, 1], first 1,
    /// non-increasing. Flat after the last point.
    pub attenuation: Vec<AttenuationPoint>,
}

impl Default for TrustParams {
    fn default() -> Self {
        let p = |idle, raw| AttenuationPoint {
            idle,
            factor: Fx::from_raw(raw),
        };
        TrustParams {
            alpha: Fx::from_raw(300_000_000),
            beta: Fx::from_raw(600_000_000),
            rho: Fx::from_raw(800_000_000),
            window: 20,
            initial: Fx::HALF,
            attenuation: vec![
                p(0, 1_000_000_000),
                p(2, 1_000_000_000),
                p(5, 900_000_000),
                p(10, 500_000_000),
                p(20, 100_000_000),
            ],
        }
    }
}

fn invalid(field: &'static str, expected: &'static str, got: impl ToString) -> Error {
    Error::InvalidParameter {
        field,
        expected,
        got: got.to_string(),
    }
}

impl TrustParams {
    /// Checks every parameter's domain.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad field: α or β negative or above 100,
    /// ρ or T_0 outside [0, 1], L outside 1..=64, or attenuation points that are empty, do not
    /// start at (0, 1), have idle counts not strictly increasing, or factors outside [0, 1] or
    /// increasing.
    pub fn validate(&self) -> Result<(), Error> {
        let hundred = Fx::from_int(100);
        if !(Fx::ZERO..=hundred).contains(&self.alpha) {
            return Err(invalid("alpha", "0 <= alpha <= 100", self.alpha));
        }
        if !(Fx::ZERO..=hundred).contains(&self.beta) {
            return Err(invalid("beta", "0 <= beta <= 100", self.beta));
        }
        if !self.rho.is_unit() {
            return Err(invalid("rho", "0 <= rho <= 1", self.rho));
        }
        if !(1..=MAX_WINDOW).contains(&self.window) {
            return Err(invalid("window", "1 <= window <= 64", self.window));
        }
        if !self.initial.is_unit() {
            return Err(invalid("initial", "0 <= initial <= 1", self.initial));
        }
        let Some(first) = self.attenuation.first() else {
            return Err(invalid("attenuation", "at least one point", "[]"));
        };
        if first.idle != 0 || first.factor != Fx::ONE {
            return Err(invalid(
                "attenuation[0]",
                "the point (0, 1)",
                format!("({}, {})", first.idle, first.factor),
            ));
        }
        for pair in self.attenuation.windows(2) {
            if let [a, b] = pair {
                if b.idle <= a.idle {
                    return Err(invalid(
                        "attenuation.idle",
                        "strictly increasing",
                        format!("{} after {}", b.idle, a.idle),
                    ));
                }
                if !b.factor.is_unit() || b.factor > a.factor {
                    return Err(invalid(
                        "attenuation.factor",
                        "in [0, 1] and non-increasing",
                        format!("{} after {}", b.factor, a.factor),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The inactivity attenuation `f(s)` (eq. 3), linearly interpolated between the points
    /// and rounded to nearest; flat after the last point. Assumes validated points.
    #[must_use]
    pub fn attenuation(&self, idle: u32) -> Fx {
        let mut prev: Option<&AttenuationPoint> = None;
        for p in &self.attenuation {
            if idle <= p.idle {
                return match prev {
                    None => p.factor,
                    Some(a) => {
                        let dy = i128::from(p.factor.raw()) - i128::from(a.factor.raw());
                        let dx = i128::from(p.idle - a.idle);
                        let t = i128::from(idle - a.idle);
                        let step = dy * t;
                        // Round to nearest, ties away from zero; dx > 0 by validation.
                        let q = (step.abs() * 2 + dx) / (dx * 2);
                        let q = if step < 0 { -q } else { q };
                        Fx::from_raw(
                            i64::try_from(i128::from(a.factor.raw()) + q).unwrap_or(a.factor.raw()),
                        )
                    }
                };
            }
            prev = Some(p);
        }
        self.attenuation.last().map_or(Fx::ONE, |p| p.factor)
    }
}

/// One account's trust state, as the chain stores it (integers only, canonical).
///
/// Serde form: `{ window, len, last, idle, trust }`; deserialising checks canonical form
/// (no stray window bits, trust values in [0, 1]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawTrustRecord", into = "RawTrustRecord")]
pub struct TrustRecord {
    /// Bit `j` = outcome of the participation `j` participations ago (1 = right).
    window: u64,
    /// Valid bits in `window`.
    len: u8,
    /// Trust at the last participation, `T_last`.
    last: Fx,
    /// Consecutive rounds without participating, `s`.
    idle: u32,
    /// Current trust `T`.
    trust: Fx,
}

/// The serialised shape of [`TrustRecord`], checked on the way in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrustRecord {
    window: u64,
    len: u8,
    last: Fx,
    idle: u32,
    trust: Fx,
}

impl From<TrustRecord> for RawTrustRecord {
    fn from(r: TrustRecord) -> Self {
        RawTrustRecord {
            window: r.window,
            len: r.len,
            last: r.last,
            idle: r.idle,
            trust: r.trust,
        }
    }
}

impl TryFrom<RawTrustRecord> for TrustRecord {
    type Error = Error;
    fn try_from(r: RawTrustRecord) -> Result<Self, Error> {
        TrustRecord::from_parts(r.window, r.len, r.last, r.idle, r.trust)
    }
}

fn record_err(field: &'static str, expected: &'static str, got: impl ToString) -> Error {
    Error::InvalidRecord {
        field,
        expected,
        got: got.to_string(),
    }
}

fn window_mask(len: u8) -> u64 {
    if len >= 64 {
        u64::MAX
    } else {
        (1_u64 << len) - 1
    }
}

impl TrustRecord {
    /// A fresh account's record: empty window, `T = T_last = initial`, `s = 0`.
    ///
    /// # Errors
    /// [`Error::InvalidRecord`] if `initial` is outside [0, 1].
    pub fn new(initial: Fx) -> Result<Self, Error> {
        Self::from_parts(0, 0, initial, 0, initial)
    }

    /// Rebuilds a record from its stored fields, checking canonical form.
    ///
    /// # Errors
    /// [`Error::InvalidRecord`] if `len > 64`, `window` has bits at or above `len`, or
    /// `last`/`trust` are outside [0, 1].
    pub fn from_parts(window: u64, len: u8, last: Fx, idle: u32, trust: Fx) -> Result<Self, Error> {
        if len > MAX_WINDOW {
            return Err(record_err("len", "len <= 64", len));
        }
        if window & !window_mask(len) != 0 {
            return Err(record_err("window", "no bits at or above len", window));
        }
        if !last.is_unit() {
            return Err(record_err("last", "0 <= last <= 1", last));
        }
        if !trust.is_unit() {
            return Err(record_err("trust", "0 <= trust <= 1", trust));
        }
        Ok(TrustRecord {
            window,
            len,
            last,
            idle,
            trust,
        })
    }

    /// Current trust `T` in [0, 1].
    #[must_use]
    pub fn trust(&self) -> Fx {
        self.trust
    }

    /// Trust at the last participation, `T_last`.
    #[must_use]
    pub fn last_participation_trust(&self) -> Fx {
        self.last
    }

    /// Consecutive rounds without participating, `s`.
    #[must_use]
    pub fn idle_rounds(&self) -> u32 {
        self.idle
    }

    /// Outcomes remembered (at most the model's window).
    #[must_use]
    pub fn window_len(&self) -> u8 {
        self.len
    }

    /// The raw window bits (bit `j` = participation `j` ago was right).
    #[must_use]
    pub fn window_bits(&self) -> u64 {
        self.window
    }

    /// Outcome of the participation `age` participations ago (0 = latest): `Some(true)` =
    /// right, `None` beyond the window.
    #[must_use]
    pub fn outcome(&self, age: u8) -> Option<bool> {
        (age < self.len).then(|| (self.window >> age) & 1 == 1)
    }

    /// Right outcomes in the window, `R`.
    #[must_use]
    pub fn right_count(&self) -> u32 {
        self.window.count_ones()
    }

    /// Wrong outcomes in the window.
    #[must_use]
    pub fn wrong_count(&self) -> u32 {
        u32::from(self.len) - self.window.count_ones()
    }

    /// Applies one participation through `model` (see [`TrustModel::participate`]).
    pub fn participate(&mut self, model: &(impl TrustModel + ?Sized), right: bool) {
        model.participate(self, right);
    }

    /// Applies one round without participation through `model`.
    pub fn skip_round(&mut self, model: &(impl TrustModel + ?Sized)) {
        model.skip_round(self);
    }
}

/// A trust update rule over [`TrustRecord`]s. Implementations must be deterministic (integer
/// or fixed-point only) and keep trust in [0, 1].
pub trait TrustModel {
    /// The record of a new account.
    fn initial_record(&self) -> TrustRecord;
    /// The account took part in a round; `right` = its report agreed with the fused decision.
    fn participate(&self, record: &mut TrustRecord, right: bool);
    /// The account did not take part in a round.
    fn skip_round(&self, record: &mut TrustRecord);
}

/// SPEC 5's reconstruction of paper A's trust model (see the module docs). `Default` uses the
/// paper's parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PaperTrust {
    params: TrustParams,
}

impl PaperTrust {
    /// Builds the model after validating `params`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] as [`TrustParams::validate`].
    pub fn new(params: TrustParams) -> Result<Self, Error> {
        params.validate()?;
        Ok(PaperTrust { params })
    }

    /// The parameters in use.
    #[must_use]
    pub fn params(&self) -> &TrustParams {
        &self.params
    }

    /// The faded wrong count `W` (eq. 2) of a window, by Horner's rule from the oldest entry.
    #[must_use]
    pub fn faded_wrong(&self, window: u64, len: u8) -> Fx {
        let mut w = Fx::ZERO;
        for age in (0..len.min(MAX_WINDOW)).rev() {
            w = w.saturating_mul(self.params.rho);
            if (window >> age) & 1 == 0 {
                w = w.saturating_add(Fx::ONE);
            }
        }
        w
    }

    /// The unattenuated trust `T~` (eq. 1) of a window.
    #[must_use]
    pub fn raw_trust(&self, window: u64, len: u8) -> Fx {
        let len = len.min(MAX_WINDOW);
        let r = i64::from((window & window_mask(len)).count_ones());
        let gain = Fx::ONE.saturating_sub(self.params.alpha.saturating_mul_int(r).exp_neg());
        let loss = self
            .params
            .beta
            .saturating_mul(self.faded_wrong(window, len))
            .exp_neg();
        gain.saturating_mul(loss).clamp(Fx::ZERO, Fx::ONE)
    }
}

impl TrustModel for PaperTrust {
    fn initial_record(&self) -> TrustRecord {
        let t = self.params.initial.clamp(Fx::ZERO, Fx::ONE);
        TrustRecord {
            window: 0,
            len: 0,
            last: t,
            idle: 0,
            trust: t,
        }
    }

    fn participate(&self, record: &mut TrustRecord, right: bool) {
        let l = self.params.window.clamp(1, MAX_WINDOW);
        let window = ((record.window << 1) | u64::from(right)) & window_mask(l);
        let len = record.len.saturating_add(1).min(l);
        let target = self.raw_trust(window, len);
        let last = record.last.clamp(Fx::ZERO, Fx::ONE);
        let delta = target.saturating_sub(last);
        let trust = if delta > Fx::ZERO {
            // A gain is damped by the sleep before it (eq. 4).
            last.saturating_add(self.params.attenuation(record.idle).saturating_mul(delta))
        } else {
            target
        }
        .clamp(Fx::ZERO, Fx::ONE);
        *record = TrustRecord {
            window,
            len,
            last: trust,
            idle: 0,
            trust,
        };
    }

    fn skip_round(&self, record: &mut TrustRecord) {
        record.idle = record.idle.saturating_add(1);
        record.trust = self
            .params
            .attenuation(record.idle)
            .saturating_mul(record.last)
            .clamp(Fx::ZERO, Fx::ONE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attenuation_known_answers() {
        let p = TrustParams::default();
        let f = |s| p.attenuation(s).raw();
        assert_eq!(f(0), 1_000_000_000);
        assert_eq!(f(1), 1_000_000_000);
        assert_eq!(f(2), 1_000_000_000);
        assert_eq!(f(3), 966_666_667);
        assert_eq!(f(4), 933_333_333);
        assert_eq!(f(5), 900_000_000);
        assert_eq!(f(7), 740_000_000);
        assert_eq!(f(10), 500_000_000);
        assert_eq!(f(15), 300_000_000);
        assert_eq!(f(20), 100_000_000);
        assert_eq!(f(21), 100_000_000);
        assert_eq!(f(u32::MAX), 100_000_000);
    }

    #[test]
    fn params_validation() {
        assert!(TrustParams::default().validate().is_ok());
        let bad = |edit: fn(&mut TrustParams), field: &str| {
            let mut p = TrustParams::default();
            edit(&mut p);
            match PaperTrust::new(p) {
                Err(Error::InvalidParameter { field: f, .. }) => assert_eq!(f, field),
                other => panic!("expected {field} error, got {other:?}"),
            }
        };
        bad(|p| p.alpha = Fx::from_int(-1), "alpha");
        bad(|p| p.beta = Fx::from_int(101), "beta");
        bad(|p| p.rho = Fx::from_raw(1_000_000_001), "rho");
        bad(|p| p.window = 0, "window");
        bad(|p| p.window = 65, "window");
        bad(|p| p.initial = Fx::from_int(2), "initial");
        bad(|p| p.attenuation.clear(), "attenuation");
        bad(|p| p.attenuation[0].factor = Fx::HALF, "attenuation[0]");
        bad(|p| p.attenuation[2].idle = 2, "attenuation.idle");
        bad(|p| p.attenuation[3].factor = Fx::ONE, "attenuation.factor");
    }

    #[test]
    fn first_participations_known_answers() {
        let m = PaperTrust::default();
        let mut r = m.initial_record();
        assert_eq!(r.trust(), Fx::HALF);
        // R = 1, W = 0: T~ = 1 - e^-0.3 = 0.259181779...; a loss from 0.5, taken in full.
        r.participate(&m, true);
        assert_eq!(r.trust().raw(), 259_181_779);
        r.participate(&m, true);
        // R = 2: 1 - e^-0.6 = 0.451188364.
        assert_eq!(r.trust().raw(), 451_188_364);
        r.participate(&m, true);
        // R = 3: 1 - e^-0.9 = 0.593430340.
        assert_eq!(r.trust().raw(), 593_430_340);
        // A wrong outcome: R = 3, W = 1: 0.593430340 × e^-0.6 = 0.325681...
        r.participate(&m, false);
        assert_eq!(r.trust().raw(), 325_681_476);
        assert_eq!(r.right_count(), 3);
        assert_eq!(r.wrong_count(), 1);
        assert_eq!(r.outcome(0), Some(false));
        assert_eq!(r.outcome(1), Some(true));
        assert_eq!(r.outcome(4), None);
    }

    #[test]
    fn skip_then_gain_is_damped() {
        let m = PaperTrust::default();
        let mut r = m.initial_record();
        for _ in 0..5 {
            r.participate(&m, true);
        }
        let t5 = r.trust(); // 1 - e^-1.5 = 0.776869840
        assert_eq!(t5.raw(), 776_869_840);
        for _ in 0..10 {
            r.skip_round(&m);
        }
        assert_eq!(r.idle_rounds(), 10);
        assert_eq!(r.trust().raw(), 388_434_920); // f(10) = 0.5
        assert_eq!(r.last_participation_trust(), t5);
        // R = 6: T~ = 1 - e^-1.8 = 0.834701112; gain 0.057831272 damped by f(10) = 0.5.
        r.participate(&m, true);
        assert_eq!(r.trust().raw(), 776_869_840 + 28_915_636);
        assert_eq!(r.idle_rounds(), 0);
    }

    #[test]
    fn window_is_bounded() {
        let params = TrustParams {
            window: 3,
            ..TrustParams::default()
        };
        let m = PaperTrust::new(params).unwrap();
        let mut r = m.initial_record();
        for right in [false, true, true, true] {
            r.participate(&m, right);
        }
        // The wrong outcome fell out of the 3-slot window.
        assert_eq!(
            (r.window_len(), r.window_bits(), r.wrong_count()),
            (3, 0b111, 0)
        );
        let mut full = PaperTrust::new(TrustParams {
            window: 64,
            ..TrustParams::default()
        })
        .unwrap()
        .initial_record();
        let m64 = PaperTrust::new(TrustParams {
            window: 64,
            ..TrustParams::default()
        })
        .unwrap();
        for _ in 0..70 {
            full.participate(&m64, true);
        }
        assert_eq!((full.window_len(), full.right_count()), (64, 64));
        assert!(full.trust() <= Fx::ONE);
    }

    #[test]
    fn record_canonical_form() {
        let m = PaperTrust::default();
        let mut r = m.initial_record();
        r.participate(&m, true);
        r.participate(&m, false);
        r.skip_round(&m);
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(
            json,
            r#"{"window":2,"len":2,"last":142241976,"idle":1,"trust":142241976}"#
        );
        assert_eq!(serde_json::from_str::<TrustRecord>(&json).unwrap(), r);
        for bad in [
            r#"{"window":4,"len":2,"last":0,"idle":0,"trust":0}"#,
            r#"{"window":0,"len":65,"last":0,"idle":0,"trust":0}"#,
            r#"{"window":0,"len":0,"last":-1,"idle":0,"trust":0}"#,
            r#"{"window":0,"len":0,"last":0,"idle":0,"trust":1000000001}"#,
            r#"{"window":0,"len":0,"last":0,"idle":0,"trust":0,"x":1}"#,
        ] {
            assert!(serde_json::from_str::<TrustRecord>(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            TrustRecord::from_parts(4, 2, Fx::ZERO, 0, Fx::ZERO),
            Err(Error::InvalidRecord {
                field: "window",
                ..
            })
        ));
        assert!(TrustRecord::from_parts(u64::MAX, 64, Fx::ONE, 0, Fx::ONE).is_ok());
        assert!(TrustRecord::new(Fx::from_int(2)).is_err());
    }

    #[test]
    fn params_from_toml() {
        let text = r#"
            alpha = "0.3"
            beta = "0.6"
            rho = 800000000
            window = 20
            initial = "0.5"
            attenuation = [
                { idle = 0, factor = "1" },
                { idle = 2, factor = "1" },
                { idle = 5, factor = "0.9" },
                { idle = 10, factor = "0.5" },
                { idle = 20, factor = "0.1" },
            ]
        "#;
        let p: TrustParams = toml::from_str(text).unwrap();
        assert_eq!(p, TrustParams::default());
        assert!(toml::from_str::<TrustParams>(&text.replace("rho", "roh")).is_err());
        let back: TrustParams = toml::from_str(&toml::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn mining_cost_known_answers() {
        assert_eq!(mining_cost_factor(Fx::ZERO), Fx::ONE);
        // g(0.9) = 1/17 = 0.0588235294...
        assert_eq!(
            mining_cost_factor(Fx::from_raw(900_000_000)).raw(),
            58_823_529
        );
        // g(1) = 2^-4.541625379 = 0.0429...; clamped above 1.
        assert_eq!(
            mining_cost_factor(Fx::from_int(5)),
            mining_cost_factor(Fx::ONE)
        );
        assert_eq!(mining_cost_factor(Fx::from_int(-1)), Fx::ONE);
    }
}
