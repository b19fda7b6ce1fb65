//! Deterministic decimal fixed point for consensus-critical maths.
//!
//! Purpose: trust values, fusion weights and PoT cost factors are computed by every node while
//! applying a block, so they must agree bit for bit on x86 and ARM. [`Fx`] is a signed 64-bit
//! integer counting billionths (scale 10^9): the paper's parameters (0.3, 0.6, 0.8, 0.5, 0.9,
//! 0.1) are exact, products and quotients are rounded to nearest (ties away from zero) through
//! 128-bit intermediates, and no floating point is used anywhere in this module (enforced with
//! `clippy::float_arithmetic`). The crate `fixed` was not used: it is binary (0.3 inexact) and has
//! no exponential.
//!
//! Data flow: integers or decimal strings in ([`Fx::from_raw`], [`Fx::from_int`],
//! [`Fx::from_ratio`], `str::parse`) -> saturating/checked arithmetic -> transcendental helpers
//! ([`Fx::exp`], [`Fx::exp_neg`], [`Fx::exp2`], [`Fx::exp2_neg`], [`Fx::from_millidb`]) -> raw
//! integers out ([`Fx::raw`], serde).
//!
//! # Accuracy of the exponentials
//!
//! `2^y` is computed as `2^k · e^(f·ln2)` with `k = floor(y)`, `f = y - k`; the argument is
//! carried at 10^-18 resolution and `e^r`, `r ∈ [0, ln 2)`, by its Taylor series in 10^-18
//! units (all terms positive, truncation error < 3·10^-17). Only the final conversion to 10^-9
//! rounds visibly, so every result is within **1 ulp (10^-9) + 10^-13 × |value|** of the exact
//! value; the test `exp_matches_f64` checks this bound against `f64` over the whole useful range.
//! The functions are monotone (checked by property tests).
#![deny(clippy::float_arithmetic)]

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

/// Internal high-precision scale (10^18) used inside the exponentials.
const Q18: i128 = 1_000_000_000_000_000_000;
/// ln 2 in 10^-18 units (0.693147180559945309417...).
const LN2_Q18: i128 = 693_147_180_559_945_309;
/// log2(e) in 10^-18 units (1.442695040888963407359...).
const LOG2E_Q18: i128 = 1_442_695_040_888_963_407;
/// log2(10) in 10^-18 units (3.321928094887362347870...).
const LOG2_10_Q18: i128 = 3_321_928_094_887_362_348;

/// A signed decimal fixed-point number: `raw / 10^9`.
///
/// Range about ±9.22·10^9, resolution 10^-9. Serialises as its raw `i64` (canonical, integers
/// only); human-readable formats may also give a decimal string such as `"0.3"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Fx(i64);

/// Rounds `n / d` to nearest, ties away from zero. `d` must be positive (all callers pass
/// positive constants or checked denominators).
fn div_round(n: i128, d: i128) -> i128 {
    let q = n / d;
    let r = n % d;
    // |r| < d <= i128::MAX / 2 for every caller, so doubling cannot overflow.
    if r.unsigned_abs() * 2 >= d.unsigned_abs() {
        if n < 0 { q - 1 } else { q + 1 }
    } else {
        q
    }
}

/// Narrows a 128-bit raw value to `Fx`, reporting overflow.
fn narrow(v: i128, op: &'static str) -> Result<Fx, Error> {
    i64::try_from(v).map(Fx).map_err(|_| Error::Overflow { op })
}

/// `e^r` for `r ∈ [0, ln 2]` in 10^-18 units, by its Taylor series (all terms positive).
fn exp_small_q18(r: i128) -> i128 {
    let mut sum = Q18;
    let mut term = Q18;
    let mut n: i128 = 1;
    // r < 0.7, so term n is below 0.7^n/n!: 10^-18 is reached before n = 20.
    while n <= 30 {
        term = term * r / (Q18 * n);
        if term == 0 {
            break;
        }
        sum += term;
        n += 1;
    }
    sum
}

/// `2^y` with `y` in 10^-18 units, rounded to 10^-9 units.
fn exp2_q18(y: i128, op: &'static str) -> Result<Fx, Error> {
    let k = y.div_euclid(Q18);
    let f = y.rem_euclid(Q18);
    let mantissa = exp_small_q18(f * LN2_Q18 / Q18); // in [1, 2) · 10^18, < 2^61
    if k >= 0 {
        // 2^33 already exceeds the range of Fx; larger k cannot fit.
        if k > 34 {
            return Err(Error::Overflow { op });
        }
        let shifted = mantissa << k; // < 2^95
        narrow(div_round(shifted, 1_000_000_000), op)
    } else {
        let shift = k.unsigned_abs();
        // mantissa < 2^61, so past 2^-64 the result is below 10^-9 / 2 and rounds to zero.
        if shift > 64 {
            return Ok(Fx::ZERO);
        }
        let denom = 1_000_000_000_i128 << shift; // < 2^94
        narrow(div_round(mantissa, denom), op)
    }
}

impl Fx {
    /// Number of raw units in 1.0.
    pub const SCALE: i64 = 1_000_000_000;
    /// 0.
    pub const ZERO: Fx = Fx(0);
    /// 1.
    pub const ONE: Fx = Fx(Self::SCALE);
    /// 0.5.
    pub const HALF: Fx = Fx(Self::SCALE / 2);
    /// The smallest positive value, 10^-9.
    pub const EPSILON: Fx = Fx(1);
    /// The largest value, about 9.22·10^9.
    pub const MAX: Fx = Fx(i64::MAX);
    /// The most negative value.
    pub const MIN: Fx = Fx(i64::MIN);

    /// Wraps a raw count of 10^-9 units.
    #[must_use]
    pub const fn from_raw(raw: i64) -> Fx {
        Fx(raw)
    }

    /// The raw count of 10^-9 units (the canonical integer form).
    #[must_use]
    pub const fn raw(self) -> i64 {
        self.0
    }

    /// The integer `n` as fixed point (exact; every `i32` fits).
    #[must_use]
    pub const fn from_int(n: i32) -> Fx {
        Fx(n as i64 * Self::SCALE)
    }

    /// `num / den`, rounded to nearest (ties away from zero).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `den` is zero; [`Error::Overflow`] if the quotient does
    /// not fit.
    pub fn from_ratio(num: i64, den: i64) -> Result<Fx, Error> {
        if den == 0 {
            return Err(Error::InvalidParameter {
                field: "den",
                expected: "non-zero denominator",
                got: "0".to_owned(),
            });
        }
        let (n, d) = if den < 0 {
            (-i128::from(num), -i128::from(den))
        } else {
            (i128::from(num), i128::from(den))
        };
        narrow(div_round(n * i128::from(Self::SCALE), d), "from_ratio")
    }

    /// `self + rhs`, or `None` on overflow.
    #[must_use]
    pub fn checked_add(self, rhs: Fx) -> Option<Fx> {
        self.0.checked_add(rhs.0).map(Fx)
    }

    /// `self - rhs`, or `None` on overflow.
    #[must_use]
    pub fn checked_sub(self, rhs: Fx) -> Option<Fx> {
        self.0.checked_sub(rhs.0).map(Fx)
    }

    /// `self × rhs` rounded to nearest, or `None` on overflow.
    #[must_use]
    pub fn checked_mul(self, rhs: Fx) -> Option<Fx> {
        let p = i128::from(self.0) * i128::from(rhs.0);
        i64::try_from(div_round(p, i128::from(Self::SCALE)))
            .ok()
            .map(Fx)
    }

    /// `self / rhs` rounded to nearest, or `None` if `rhs` is zero or on overflow.
    #[must_use]
    pub fn checked_div(self, rhs: Fx) -> Option<Fx> {
        if rhs.0 == 0 {
            return None;
        }
        let n = i128::from(self.0) * i128::from(Self::SCALE);
        let (n, d) = if rhs.0 < 0 {
            (-n, -i128::from(rhs.0))
        } else {
            (n, i128::from(rhs.0))
        };
        i64::try_from(div_round(n, d)).ok().map(Fx)
    }

    /// `self + rhs`, clamped to [`Fx::MIN`, `Fx::MAX`].
    #[must_use]
    pub fn saturating_add(self, rhs: Fx) -> Fx {
        Fx(self.0.saturating_add(rhs.0))
    }

    /// `self - rhs`, clamped to [`Fx::MIN`, `Fx::MAX`].
    #[must_use]
    pub fn saturating_sub(self, rhs: Fx) -> Fx {
        Fx(self.0.saturating_sub(rhs.0))
    }

    /// `self × rhs` rounded to nearest, clamped to [`Fx::MIN`, `Fx::MAX`].
    #[must_use]
    pub fn saturating_mul(self, rhs: Fx) -> Fx {
        self.checked_mul(rhs)
            .unwrap_or(if (self.0 < 0) != (rhs.0 < 0) {
                Fx::MIN
            } else {
                Fx::MAX
            })
    }

    /// `self × n` (exact), clamped to [`Fx::MIN`, `Fx::MAX`].
    #[must_use]
    pub fn saturating_mul_int(self, n: i64) -> Fx {
        Fx(self.0.saturating_mul(n))
    }

    /// `e^self`.
    ///
    /// # Errors
    /// [`Error::Overflow`] if the result exceeds [`Fx::MAX`] (`self` above about 22.9).
    pub fn exp(self) -> Result<Fx, Error> {
        exp2_q18(
            div_round(i128::from(self.0) * LOG2E_Q18, i128::from(Self::SCALE)),
            "exp",
        )
    }

    /// `e^-self`, saturating at [`Fx::MAX`] for very negative `self`; for `self >= 0` the
    /// result lies in [0, 1].
    #[must_use]
    pub fn exp_neg(self) -> Fx {
        // -i64::MIN does not fit i64 but does fit i128.
        let y = div_round(-i128::from(self.0) * LOG2E_Q18, i128::from(Self::SCALE));
        exp2_q18(y, "exp_neg").unwrap_or(Fx::MAX)
    }

    /// `2^self`.
    ///
    /// # Errors
    /// [`Error::Overflow`] if the result exceeds [`Fx::MAX`] (`self` above about 33.1).
    pub fn exp2(self) -> Result<Fx, Error> {
        exp2_q18(i128::from(self.0) * i128::from(Self::SCALE), "exp2")
    }

    /// `2^-self`, saturating at [`Fx::MAX`] for very negative `self`; for `self >= 0` the
    /// result lies in [0, 1].
    #[must_use]
    pub fn exp2_neg(self) -> Fx {
        exp2_q18(-i128::from(self.0) * i128::from(Self::SCALE), "exp2_neg").unwrap_or(Fx::MAX)
    }

    /// The linear power ratio of `mdb` milli-decibels: `10^(mdb / 10000)`.
    ///
    /// # Errors
    /// [`Error::Overflow`] if the ratio exceeds [`Fx::MAX`] (above about 99.6 dB).
    pub fn from_millidb(mdb: i32) -> Result<Fx, Error> {
        exp2_q18(
            div_round(i128::from(mdb) * LOG2_10_Q18, 10_000),
            "from_millidb",
        )
    }

    /// `true` if `0 <= self <= 1`.
    #[must_use]
    pub fn is_unit(self) -> bool {
        (Fx::ZERO..=Fx::ONE).contains(&self)
    }
}

impl fmt::Display for Fx {
    /// Exact decimal, trailing zeros trimmed: `0.3`, `-2`, `0.000000001`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let neg = self.0 < 0;
        let abs = self.0.unsigned_abs();
        let scale = Self::SCALE.unsigned_abs();
        let int = abs / scale;
        let frac = abs % scale;
        let sign = if neg { "-" } else { "" };
        if frac == 0 {
            write!(f, "{sign}{int}")
        } else {
            let digits = format!("{frac:09}");
            write!(f, "{sign}{int}.{}", digits.trim_end_matches('0'))
        }
    }
}

impl FromStr for Fx {
    type Err = Error;

    /// Parses an exact decimal with at most 9 fractional digits (`"0.3"`, `"-12"`, `"+1.5"`).
    ///
    /// # Errors
    /// [`Error::ParseFx`] on empty input, a stray character, more than 9 decimals, or a value
    /// outside the range of [`Fx`].
    fn from_str(s: &str) -> Result<Fx, Error> {
        let fail = |reason| Error::ParseFx {
            input: s.to_owned(),
            reason,
        };
        let (neg, body) = match s.as_bytes().first() {
            Some(b'-') => (true, s.get(1..).unwrap_or("")),
            Some(b'+') => (false, s.get(1..).unwrap_or("")),
            _ => (false, s),
        };
        let (int_part, frac_part) = match body.split_once('.') {
            Some((i, f)) => (i, f),
            None => (body, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(fail("no digits"));
        }
        if !int_part
            .bytes()
            .chain(frac_part.bytes())
            .all(|b| b.is_ascii_digit())
        {
            return Err(fail("only digits, one '.', and a leading sign are allowed"));
        }
        if frac_part.len() > 9 {
            return Err(fail("more than 9 decimal places"));
        }
        let mut raw: i128 = 0;
        for b in int_part.bytes() {
            raw = raw * 10 + i128::from(b - b'0');
            if raw > i128::from(i64::MAX) {
                return Err(fail("out of range"));
            }
        }
        let mut frac: i128 = 0;
        for b in frac_part.bytes() {
            frac = frac * 10 + i128::from(b - b'0');
        }
        let pad = 9 - frac_part.len();
        let frac = frac * 10_i128.pow(u32::try_from(pad).unwrap_or(0));
        let total = raw * i128::from(Self::SCALE) + frac;
        let total = if neg { -total } else { total };
        i64::try_from(total)
            .map(Fx)
            .map_err(|_| fail("out of range"))
    }
}

impl Serialize for Fx {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.0)
    }
}

impl<'de> Deserialize<'de> for Fx {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Fx, D::Error> {
        struct FxVisitor;
        impl Visitor<'_> for FxVisitor {
            type Value = Fx;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a raw i64 count of 1e-9 units or a decimal string like \"0.3\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Fx, E> {
                Ok(Fx(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Fx, E> {
                i64::try_from(v)
                    .map(Fx)
                    .map_err(|_| E::custom("raw fixed-point value out of i64 range"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Fx, E> {
                v.parse().map_err(E::custom)
            }
        }
        if deserializer.is_human_readable() {
            deserializer.deserialize_any(FxVisitor)
        } else {
            deserializer.deserialize_i64(FxVisitor)
        }
    }
}

/// Compares two fixed-point values as `a·x` against `b·y` without rounding (128-bit).
#[must_use]
pub fn cmp_scaled(a: Fx, x: i64, b: Fx, y: i64) -> Ordering {
    (i128::from(a.0) * i128::from(x)).cmp(&(i128::from(b.0) * i128::from(y)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        assert_eq!(Fx::from_ratio(3, 10).unwrap(), "0.3".parse().unwrap());
        assert_eq!(Fx::from_ratio(1, 3).unwrap().raw(), 333_333_333);
        assert_eq!(Fx::from_ratio(2, 3).unwrap().raw(), 666_666_667);
        assert_eq!(Fx::from_ratio(-2, 3).unwrap().raw(), -666_666_667);
        assert_eq!(Fx::from_ratio(1, -2).unwrap(), Fx::from_raw(-500_000_000));
        assert!(Fx::from_ratio(1, 0).is_err());
        assert_eq!(
            Fx::HALF.checked_mul(Fx::HALF),
            Some(Fx::from_raw(250_000_000))
        );
        // 1e-9 × 0.5 = 0.5e-9: ties round away from zero.
        assert_eq!(Fx::EPSILON.checked_mul(Fx::HALF), Some(Fx::EPSILON));
        assert_eq!(
            Fx::from_raw(-1).checked_mul(Fx::HALF),
            Some(Fx::from_raw(-1))
        );
        assert_eq!(
            Fx::ONE.checked_div(Fx::from_int(3)),
            Some(Fx::from_raw(333_333_333))
        );
        assert_eq!(Fx::ONE.checked_div(Fx::ZERO), None);
        assert_eq!(Fx::MAX.checked_mul(Fx::from_int(2)), None);
        assert_eq!(Fx::MAX.saturating_mul(Fx::from_int(2)), Fx::MAX);
        assert_eq!(Fx::MAX.saturating_mul(Fx::from_int(-2)), Fx::MIN);
        assert_eq!(Fx::ZERO.exp(), Ok(Fx::ONE));
        assert_eq!(Fx::ZERO.exp2_neg(), Fx::ONE);
        assert_eq!(Fx::ONE.exp2(), Ok(Fx::from_int(2)));
        assert_eq!(Fx::from_int(-3).exp2(), Ok(Fx::from_raw(125_000_000)));
        assert_eq!(Fx::ONE.exp_neg().raw(), 367_879_441); // e^-1 = 0.36787944117
        assert_eq!(Fx::ONE.exp().unwrap().raw(), 2_718_281_828); // e = 2.71828182846
        assert_eq!(Fx::from_millidb(10_000), Ok(Fx::from_int(10)));
        assert_eq!(Fx::from_millidb(-30_000), Ok(Fx::from_raw(1_000_000)));
        assert_eq!(Fx::from_millidb(3_010).unwrap().raw(), 1_999_861_870); // 10^0.301 = 1.99986186963
        assert!(matches!(
            Fx::from_int(23).exp(),
            Err(Error::Overflow { op: "exp" })
        ));
        assert!(Fx::from_int(34).exp2().is_err());
        assert!(Fx::from_int(33).exp2().is_ok());
        assert_eq!(Fx::from_int(-40).exp2_neg(), Fx::MAX);
        assert_eq!(Fx::from_int(40).exp_neg(), Fx::ZERO);
        assert_eq!(Fx::MAX.exp_neg(), Fx::ZERO);
        assert_eq!(Fx::MIN.exp_neg(), Fx::MAX);
        assert_eq!(Fx::MIN.exp2_neg(), Fx::MAX);
        assert_eq!(Fx::MAX.exp2_neg(), Fx::ZERO);
    }

    #[test]
    fn parse_and_display() {
        for (s, raw) in [
            ("0.3", 300_000_000),
            ("-12", -12_000_000_000),
            ("+1.5", 1_500_000_000),
            (".25", 250_000_000),
            ("7.", 7_000_000_000),
            ("0.000000001", 1),
        ] {
            assert_eq!(s.parse::<Fx>().unwrap().raw(), raw, "{s}");
        }
        for bad in [
            "",
            "-",
            ".",
            "1.2.3",
            "abc",
            "1e3",
            "0.0000000001",
            "99999999999",
        ] {
            assert!(
                matches!(bad.parse::<Fx>(), Err(Error::ParseFx { .. })),
                "{bad}"
            );
        }
        assert_eq!(Fx::from_raw(-1).to_string(), "-0.000000001");
        assert_eq!(Fx::from_raw(300_000_000).to_string(), "0.3");
        assert_eq!(Fx::from_int(-2).to_string(), "-2");
        assert_eq!(Fx::MIN.to_string().parse::<Fx>().unwrap(), Fx::MIN);
    }

    #[test]
    fn serde_forms() {
        let fx: Fx = serde_json::from_str("300000000").unwrap();
        assert_eq!(fx, Fx::from_raw(300_000_000));
        let fx: Fx = serde_json::from_str("\"0.3\"").unwrap();
        assert_eq!(fx, Fx::from_raw(300_000_000));
        assert_eq!(serde_json::to_string(&fx).unwrap(), "300000000");
        assert!(serde_json::from_str::<Fx>("\"0.3x\"").is_err());
        assert!(serde_json::from_str::<Fx>("0.3").is_err());
    }

    #[test]
    fn cmp_scaled_is_exact() {
        assert_eq!(cmp_scaled(Fx::ONE, 3, Fx::from_int(3), 1), Ordering::Equal);
        assert_eq!(cmp_scaled(Fx::MAX, 2, Fx::MAX, 1), Ordering::Greater);
    }
}
