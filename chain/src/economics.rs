//! Leasing economics of paper B (SPEC section 7): the micro operator's (MO's) service price
//! `p_M` and mining share `m`, in deterministic fixed point.
//!
//! Purpose: the Lease contract records the price and mining share the MO should choose for a
//! leased channel. Every node recomputes them while applying a block, so this module uses
//! integers only (enforced with `clippy::float_arithmetic`): x86 and ARM agree bit for bit.
//!
//! Data flow: [`EconParams`] (clearing price `p_s`, mining reward `p_w`, redundant compute `γ`,
//! optional capacity `W`, all [`Fx`]) -> [`EconParams::validate`] -> [`optimum`] -> [`Optimum`]
//! (price, mining share, demand, profit, the thresholds `M_l`/`M_h` and the [`Regime`]).
//! Building blocks are public too: [`demand`], [`profit`], [`service_price`], [`thresholds`],
//! [`capacity_price`], [`abandonment_price`].
//!
//! # The model (SPEC 7)
//!
//! Users' willingness to pay is `v ~ U[0,1]`; service quality is `k = 1` for `m <= γ` and
//! `k = (1-m)/(1-γ)` beyond. Demand is `Q(p, k) = (k-p)²/(2pk²)` for `p < k` (zero otherwise);
//! the MO maximises `Π = (p - p_s)·Q + p_w·m` subject to `Q <= W`.
//! - For a quality `k`, the best price is `p*(k) = (p_s + √(p_s² + 8k·p_s))/4` (Proposition 1
//!   at `k = 1`) and, by the envelope theorem, `dΠ/dk = g(k) - p_w(1-γ)` with
//!   `g(k) = (p*-p_s)(k-p*)/k³`.
//! - `p_w <= M_l = g(1)/(1-γ)`: `m* = γ` (service only). `p_w >= M_h` (`1/(54 p_s (1-γ))` if
//!   `p_s < 1/6`, else `Π_s*/(1-γ)`): `m* = 1` (mining only). In between (only for
//!   `p_s < 1/6`), `g` falls strictly on `[6p_s, 1]` from `g(6p_s) = M_h(1-γ)` to
//!   `g(1) = M_l(1-γ)`, so the first-order condition `g(k) = p_w(1-γ)` has exactly one root
//!   there (the local maximum), found by bisection; it is kept if its profit beats the corner
//!   `m = 1`. At `p_w = M_h` the root is `k = 6p_s` and both profits are equal, so `M_h` is the
//!   exact switching point (`g` itself peaks higher, near `k = p_s/0.373`, which is why
//!   paper B's sufficiency argument alone would not give it).
//! - Capacity: if the unconstrained optimum's demand exceeds `W`, the constraint binds. At
//!   `k = 1` the price solves `Q = W`: `p_M = 1 + W - √(W² + 2W) = 1/(1 + W + √(W² + 2W))`
//!   (the second form has no cancellation). For general `k` it is `k·φ(kW)` with
//!   `φ(u) = 1/(1 + u + √(u² + 2u))`; along the constraint the profit is concave in `k`
//!   (`u·φ(u)` is concave), so the candidates are `m = 1`, `m = γ` (price raised to meet `W`)
//!   and the one stationary point on the constraint; the best is taken.
//! - Ties go to the larger `m` (mining), as in "m* = 1 iff p_w >= M_h".
//!
//! # Precision
//!
//! Inside, values are `i128` counts of 10^-18: products are rounded to nearest through an exact
//! split multiplication, quotients by exact long division, square roots by `u128::isqrt`
//! rounded to nearest (the discriminant of `p*(k)` is formed exactly in 10^-36 units first);
//! outputs are rounded once to [`Fx`] (10^-9). The first-order condition is solved by
//! bisection down to one 10^-18 unit; it is well conditioned on its bracket (`g` has no
//! stationary point in `[6p_s, 1]`). Measured against 50-digit evaluations (mpmath) over
//! 1,300 cases (`p_s` from 10^-6 to 1, all regimes, with and without capacity) every output
//! is **correctly rounded** (error at most 0.5 ulp = 5·10^-10). The one ill-conditioned
//! quantity is demand at a tiny clearing price: at `p_s = 10^-9`, `Q* ≈ 2.5·10^5` is off by
//! about 50 ulp (relative 2·10^-13). The tests assert 2 ulp against reference values and
//! 10^-7 against an `f64` implementation over a parameter grid.
//!
//! # Domain
//!
//! `p_s, p_w ∈ [0, 1]`, `γ ∈ [0, 1)`, `W ∈ (0, 10^9]` (normalised bandwidth; a larger
//! capacity never binds for `p_s >= 10^-9` since demand is at most `1/(√2·p_s)`). At
//! `p_s = 0` demand at the optimal price is unbounded, so `p_s = 0` needs a capacity.
#![deny(clippy::float_arithmetic)]

use fusion::Fx;
use serde::{Deserialize, Serialize};

use crate::Error;

/// Largest capacity accepted: 10^9 normalised bandwidth units.
pub const MAX_CAPACITY: Fx = Fx::from_raw(1_000_000_000_000_000_000);

/// The market and the MO's machine: inputs of [`optimum`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EconParams {
    /// Clearing price per unit bandwidth the MO pays the MNO, in `[0, 1]`.
    pub p_s: Fx,
    /// Mining reward rate (profit of `m = 1`), in `[0, 1]`.
    pub p_w: Fx,
    /// Redundant compute `γ`: mining up to this share does not degrade service, in `[0, 1)`.
    pub gamma: Fx,
    /// Leased bandwidth `W` capping demand, in `(0, 10^9]`; `None` for no cap.
    pub capacity: Option<Fx>,
}

impl EconParams {
    /// Validated parameters.
    ///
    /// # Errors
    /// [`Error::InvalidEconomics`] naming the first parameter out of range (see
    /// [`EconParams::validate`]).
    pub fn new(p_s: Fx, p_w: Fx, gamma: Fx, capacity: Option<Fx>) -> Result<Self, Error> {
        let params = Self {
            p_s,
            p_w,
            gamma,
            capacity,
        };
        params.validate()?;
        Ok(params)
    }

    /// Checks every parameter's range.
    ///
    /// # Errors
    /// [`Error::InvalidEconomics`] if `p_s` or `p_w` is outside `[0, 1]`, `γ` outside `[0, 1)`,
    /// the capacity outside `(0, 10^9]`, or `p_s = 0` without a capacity.
    pub fn validate(&self) -> Result<(), Error> {
        check_unit("p_s", self.p_s)?;
        check_unit("p_w", self.p_w)?;
        check_gamma(self.gamma)?;
        match self.capacity {
            Some(w) if w <= Fx::ZERO || w > MAX_CAPACITY => {
                Err(invalid("capacity", w, "0 < W <= 1000000000"))
            }
            None if self.p_s == Fx::ZERO => Err(invalid(
                "p_s",
                self.p_s,
                "0 < p_s <= 1 without a capacity (at p_s = 0 demand is unbounded)",
            )),
            _ => Ok(()),
        }
    }
}

/// Which corner or interior of the MO's problem the optimum lies in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Regime {
    /// `m* = γ`: full service, mining only on redundant compute (`p_w <= M_l`).
    ServiceOnly,
    /// `γ < m* < 1`: service degraded for more mining (`M_l < p_w < M_h`, `p_s < 1/6`).
    Interior,
    /// `m* = 1`: no service, all compute mines (`p_w >= M_h`); `p_m` and `q` are 0.
    MiningOnly,
    /// Service with demand capped at the capacity (`q = W`); `m*` may exceed `γ`.
    CapacityBound,
}

impl Regime {
    /// The serde name (`service_only`, `interior`, `mining_only`, `capacity_bound`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Regime::ServiceOnly => "service_only",
            Regime::Interior => "interior",
            Regime::MiningOnly => "mining_only",
            Regime::CapacityBound => "capacity_bound",
        }
    }
}

/// The MO's optimal choice, rounded to [`Fx`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Optimum {
    /// Service price `p_M*` per unit bandwidth (0 when no service is offered).
    pub p_m: Fx,
    /// Mining share `m*` of the MO's compute.
    pub m: Fx,
    /// Total demand `Q*` served (bandwidth units).
    pub q: Fx,
    /// Profit `Π* = (p_M* - p_s)·Q* + p_w·m*`.
    pub profit: Fx,
    /// Threshold `M_l` (Proposition 3; ignores capacity).
    pub m_l: Fx,
    /// Threshold `M_h` (Proposition 2; ignores capacity; saturates at [`Fx::MAX`]).
    pub m_h: Fx,
    /// The regime of the optimum.
    pub regime: Regime,
}

/// The thresholds on `p_w` of Propositions 2 and 3 (no capacity).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Thresholds {
    /// `M_l = (p* - p_s)(1 - p*)/(1 - γ)`: at or below it, `m* = γ`.
    pub m_l: Fx,
    /// `M_h`: at or above it, `m* = 1`; saturates at [`Fx::MAX`] (`p_s = 0`, or tiny `p_s` and
    /// `1 - γ`).
    pub m_h: Fx,
}

/// The MO's optimal price and mining share (SPEC section 7).
///
/// # Errors
/// [`Error::InvalidEconomics`] for parameters out of range; [`Error::Overflow`] only if an
/// internal bound were exceeded (not expected inside the validated domain).
pub fn optimum(params: &EconParams) -> Result<Optimum, Error> {
    params.validate()?;
    let ps = Wide::from_fx(params.p_s);
    let pw = Wide::from_fx(params.p_w);
    let gamma = Wide::from_fx(params.gamma);
    let market = Market::new(ps, pw, gamma)?;
    let th = market.thresholds()?;

    let best = match (market.service.as_ref(), params.capacity) {
        (Some(_), None) => market.unconstrained()?,
        (Some(_), Some(w)) => {
            let free = market.unconstrained()?;
            if free.q <= Wide::from_fx(w) {
                free
            } else {
                market.constrained(Wide::from_fx(w))?
            }
        }
        (None, Some(w)) => market.constrained(Wide::from_fx(w))?,
        // validate() rejects p_s = 0 without a capacity.
        (None, None) => {
            return Err(invalid(
                "p_s",
                params.p_s,
                "0 < p_s <= 1 without a capacity (at p_s = 0 demand is unbounded)",
            ));
        }
    };
    Ok(Optimum {
        p_m: best.p.to_fx()?,
        m: best.m.to_fx()?,
        q: best.q.to_fx()?,
        profit: best.profit.to_fx()?,
        m_l: th.m_l,
        m_h: th.m_h,
        regime: best.regime,
    })
}

/// Proposition 1: the optimal service price at full quality,
/// `p_M* = (p_s + √(p_s² + 8 p_s))/4`, the root in `[p_s, 1]` of
/// `2p³ - (2 + p_s)p² + p_s = 0`.
///
/// # Errors
/// [`Error::InvalidEconomics`] if `p_s` is outside `[0, 1]`.
pub fn service_price(p_s: Fx) -> Result<Fx, Error> {
    check_unit("p_s", p_s)?;
    best_price(Wide::from_fx(p_s), Wide::ONE)?.to_fx()
}

/// The thresholds `M_l` and `M_h` on the mining reward (Propositions 2 and 3, no capacity).
///
/// # Errors
/// [`Error::InvalidEconomics`] if `p_s` is outside `[0, 1]` or `γ` outside `[0, 1)`.
pub fn thresholds(p_s: Fx, gamma: Fx) -> Result<Thresholds, Error> {
    check_unit("p_s", p_s)?;
    check_gamma(gamma)?;
    Market::new(Wide::from_fx(p_s), Wide::ZERO, Wide::from_fx(gamma))?.thresholds()
}

/// Users' total demand `Q(p_M, m) = (k - p_M)²/(2 p_M k²)` (0 when `p_M >= k`).
///
/// # Errors
/// [`Error::InvalidEconomics`] if `p_M` is outside `(0, 1]`, `m` outside `[0, 1]` or `γ`
/// outside `[0, 1)`; [`Error::Overflow`] if the demand exceeds the range of [`Fx`] (tiny
/// `p_M`).
pub fn demand(p_m: Fx, m: Fx, gamma: Fx) -> Result<Fx, Error> {
    check_price(p_m)?;
    check_unit("m", m)?;
    check_gamma(gamma)?;
    let k = quality(Wide::from_fx(m), Wide::from_fx(gamma))?;
    demand_at(Wide::from_fx(p_m), k)?.to_fx()
}

/// The MO's profit `Π = (p_M - p_s)·Q(p_M, m) + p_w·m` at any price and mining share,
/// ignoring the capacity (callers check `Q <= W` with [`demand`]).
///
/// # Errors
/// [`Error::InvalidEconomics`] if `p_s`, `p_w`, `γ`, `p_M` or `m` is out of range (as in
/// [`EconParams::validate`] and [`demand`]; `p_s = 0` is allowed); [`Error::Overflow`] as in
/// [`demand`].
pub fn profit(params: &EconParams, p_m: Fx, m: Fx) -> Result<Fx, Error> {
    // Profit at a given price is finite even at p_s = 0, so only the ranges are checked.
    check_unit("p_s", params.p_s)?;
    check_unit("p_w", params.p_w)?;
    check_gamma(params.gamma)?;
    check_price(p_m)?;
    check_unit("m", m)?;
    let ps = Wide::from_fx(params.p_s);
    let pw = Wide::from_fx(params.p_w);
    let p = Wide::from_fx(p_m);
    let mw = Wide::from_fx(m);
    let k = quality(mw, Wide::from_fx(params.gamma))?;
    let q = demand_at(p, k)?;
    p.sub(ps)?.mul(q)?.add(pw.mul(mw)?)?.to_fx()
}

/// The full-quality price at which demand equals the capacity `W`:
/// `1 + W - √(W² + 2W)`, computed as `1/(1 + W + √(W² + 2W))`.
///
/// # Errors
/// [`Error::InvalidEconomics`] if `W` is outside `(0, 10^9]`.
pub fn capacity_price(w: Fx) -> Result<Fx, Error> {
    if w <= Fx::ZERO || w > MAX_CAPACITY {
        return Err(invalid("capacity", w, "0 < W <= 1000000000"));
    }
    cap_price(Wide::ONE, Wide::from_fx(w))?.to_fx()
}

/// The smallest clearing price `p_s` at which the MO abandons service for mining
/// (`p_w >= M_h(p_s)`, no capacity), to 10^-9. `M_h` decreases strictly in `p_s` from `+∞`
/// to 0 at `p_s = 1`, so the crossover is unique; it is found by bisection on raw values.
/// Paper B's Fig. 4 setting (`p_w = 0.1`, `γ = 0.7`) gives about 0.387066.
///
/// # Errors
/// [`Error::InvalidEconomics`] if `p_w` is outside `[0, 1]` or `γ` outside `[0, 1)`.
pub fn abandonment_price(p_w: Fx, gamma: Fx) -> Result<Fx, Error> {
    check_unit("p_w", p_w)?;
    check_gamma(gamma)?;
    let pw = Wide::from_fx(p_w);
    let g = Wide::from_fx(gamma);
    // Invariant: mining does not win at `lo`, wins at `hi` (M_h(1) = 0 <= p_w).
    let (mut lo, mut hi) = (0_i64, Fx::SCALE);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        let market = Market::new(Wide::from_fx(Fx::from_raw(mid)), pw, g)?;
        if market.mining_wins()? {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(Fx::from_raw(hi))
}

// ---------------------------------------------------------------------------------------------
// Validation helpers

fn invalid(field: &'static str, value: Fx, expected: &'static str) -> Error {
    Error::InvalidEconomics {
        field,
        value: value.to_string(),
        expected,
    }
}

fn check_unit(field: &'static str, v: Fx) -> Result<(), Error> {
    if v.is_unit() {
        Ok(())
    } else {
        Err(invalid(field, v, "a value in [0, 1]"))
    }
}

fn check_gamma(gamma: Fx) -> Result<(), Error> {
    if gamma >= Fx::ZERO && gamma < Fx::ONE {
        Ok(())
    } else {
        Err(invalid("gamma", gamma, "a value in [0, 1)"))
    }
}

fn check_price(p_m: Fx) -> Result<(), Error> {
    if p_m > Fx::ZERO && p_m <= Fx::ONE {
        Ok(())
    } else {
        Err(invalid("p_m", p_m, "a value in (0, 1]"))
    }
}

// ---------------------------------------------------------------------------------------------
// The optimisation, in 10^-18 fixed point

/// One candidate solution.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    p: Wide,
    m: Wide,
    q: Wide,
    profit: Wide,
    regime: Regime,
}

/// Full-quality service figures (`p_s > 0`).
#[derive(Debug, Clone, Copy)]
struct Service {
    /// `p*(1)`.
    price: Wide,
    /// `Q(p*(1), 1)`.
    demand: Wide,
    /// `Π_s* = (p* - p_s)·Q*`.
    profit: Wide,
    /// `g(1) = (p* - p_s)(1 - p*)`.
    slope: Wide,
}

/// Parameters in wide fixed point with the derived quantities every path needs.
#[derive(Debug, Clone, Copy)]
struct Market {
    ps: Wide,
    pw: Wide,
    gamma: Wide,
    /// `1 - γ` (positive).
    spare: Wide,
    /// `c = p_w(1 - γ)`, the marginal mining reward per unit of quality given up (exact).
    c: Wide,
    /// `None` at `p_s = 0`.
    service: Option<Service>,
}

impl Market {
    fn new(ps: Wide, pw: Wide, gamma: Wide) -> Result<Self, Error> {
        let spare = Wide::ONE.sub(gamma)?;
        let service = if ps.0 > 0 {
            let price = best_price(ps, Wide::ONE)?;
            let demand = demand_at(price, Wide::ONE)?;
            let margin = price.sub(ps)?;
            Some(Service {
                price,
                demand,
                profit: margin.mul(demand)?,
                slope: margin.mul(Wide::ONE.sub(price)?)?,
            })
        } else {
            None
        };
        Ok(Self {
            ps,
            pw,
            gamma,
            spare,
            c: pw.mul(spare)?,
            service,
        })
    }

    /// `p_s < 1/6`, decided exactly on the 10^-18 raw value.
    fn low_cost(&self) -> bool {
        self.ps.0.checked_mul(6).is_some_and(|v| v < WS)
    }

    /// `p_w >= M_h`, decided exactly where possible.
    fn mining_wins(&self) -> Result<bool, Error> {
        let Some(service) = self.service else {
            return Ok(false); // M_h = +inf at p_s = 0
        };
        if self.low_cost() {
            // p_w >= 1/(54 p_s (1-γ))  <=>  54·p_s·(1-γ)·p_w >= 1: exact with 10^-18 operands
            // split into 10^-9 parts (inputs come from Fx, so they are multiples of 10^9).
            let prod = [self.ps, self.spare, self.pw]
                .iter()
                .try_fold(54_i128, |acc, w| acc.checked_mul(w.0 / FX_UNIT));
            let one = 10_i128.pow(27);
            prod.map(|p| p >= one)
                .ok_or(overflow("economics: M_h test"))
        } else {
            Ok(self.c >= service.profit)
        }
    }

    fn thresholds(&self) -> Result<Thresholds, Error> {
        let Some(service) = self.service else {
            return Ok(Thresholds {
                m_l: Fx::ZERO,
                m_h: Fx::MAX,
            });
        };
        let m_l = service.slope.div(self.spare)?.to_fx()?;
        let m_h = if self.low_cost() {
            Wide::ONE.div(Wide::int(54).mul(self.ps)?.mul(self.spare)?)?
        } else {
            service.profit.div(self.spare)?
        };
        Ok(Thresholds {
            m_l,
            m_h: m_h.to_fx().unwrap_or(Fx::MAX),
        })
    }

    fn mining(&self) -> Candidate {
        Candidate {
            p: Wide::ZERO,
            m: Wide::ONE,
            q: Wide::ZERO,
            profit: self.pw,
            regime: Regime::MiningOnly,
        }
    }

    /// Mining share for quality `k`: `1 - k(1-γ)` (exactly `γ` at `k = 1`).
    fn share(&self, k: Wide) -> Result<Wide, Error> {
        Wide::ONE.sub(k.mul(self.spare)?)
    }

    /// The optimum without capacity (requires `p_s > 0`).
    fn unconstrained(&self) -> Result<Candidate, Error> {
        let Some(service) = self.service else {
            return Err(overflow("economics: unbounded demand at p_s = 0"));
        };
        if self.mining_wins()? {
            return Ok(self.mining());
        }
        if self.c <= service.slope || !self.low_cost() {
            // p_w <= M_l; for p_s >= 1/6, M_h <= M_l, so not mining means this branch too.
            return Ok(Candidate {
                p: service.price,
                m: self.gamma,
                q: service.demand,
                profit: service.profit.add(self.pw.mul(self.gamma)?)?,
                regime: Regime::ServiceOnly,
            });
        }
        // M_l < p_w < M_h, p_s < 1/6: g(6p_s) = 1/(54 p_s) > c > g(1) and g decreases on
        // [6p_s, 1]. Invariant: g(lo) > c >= g(hi).
        let mut lo = self.ps.mul(Wide::int(6))?;
        let mut hi = Wide::ONE;
        for _ in 0..BISECTION_STEPS {
            if hi.0 - lo.0 <= 1 {
                break;
            }
            let mid = Wide(lo.0 + (hi.0 - lo.0) / 2);
            if self.slope_exceeds(mid)? {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let k = lo;
        let p = best_price(self.ps, k)?;
        let q = demand_at(p, k)?;
        let m = self.share(k)?;
        let profit = p.sub(self.ps)?.mul(q)?.add(self.pw.mul(m)?)?;
        if profit > self.pw {
            Ok(Candidate {
                p,
                m,
                q,
                profit,
                regime: Regime::Interior,
            })
        } else {
            Ok(self.mining())
        }
    }

    /// `g(k) > c` with `g(k) = (p* - p_s)(k - p*)/k³`: more quality still pays. Dividing each
    /// factor by `k` first keeps every intermediate near the size of `c` (k may be small).
    fn slope_exceeds(&self, k: Wide) -> Result<bool, Error> {
        let p = best_price(self.ps, k)?;
        let g = p.sub(self.ps)?.div(k)?.mul(k.sub(p)?.div(k)?)?.div(k)?;
        Ok(g > self.c)
    }

    /// The optimum when the capacity `w` binds at the unconstrained optimum (or `p_s = 0`).
    fn constrained(&self, w: Wide) -> Result<Candidate, Error> {
        // Candidates in order of decreasing m, so ties go to mining.
        let mut candidates = vec![self.mining()];

        // Stationary point along Q = W: profit (kφ(kW) - p_s)·W + p_w(1 - k(1-γ)) is concave in
        // k with slope W·ψ'(kW) - c, ψ'(u) = 2/((u + 2 + r)(1 + u + r)), r = √(u² + 2u).
        if self.along_cap_rises(Wide::ZERO, w)? && !self.along_cap_rises(Wide::ONE, w)? {
            // Invariant: the slope is positive at lo, not at hi.
            let (mut lo, mut hi) = (Wide::ZERO, Wide::ONE);
            for _ in 0..BISECTION_STEPS {
                if hi.0 - lo.0 <= 1 {
                    break;
                }
                let mid = Wide(lo.0 + (hi.0 - lo.0) / 2);
                if self.along_cap_rises(mid, w)? {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let k = lo;
            let p = cap_price(k, w)?;
            // Only a stationary point of the true problem if the cap binds there.
            if k.0 > 0 && p >= best_price(self.ps, k)? {
                let m = self.share(k)?;
                candidates.push(Candidate {
                    p,
                    m,
                    q: w,
                    profit: p.sub(self.ps)?.mul(w)?.add(self.pw.mul(m)?)?,
                    regime: Regime::CapacityBound,
                });
            }
        }

        // Full quality, m = γ, price raised to meet the cap if needed.
        let mining_on_spare = self.pw.mul(self.gamma)?;
        let p_cap = cap_price(Wide::ONE, w)?;
        match self.service {
            Some(s) if s.demand <= w => candidates.push(Candidate {
                p: s.price,
                m: self.gamma,
                q: s.demand,
                profit: s.profit.add(mining_on_spare)?,
                regime: Regime::ServiceOnly,
            }),
            _ => candidates.push(Candidate {
                p: p_cap,
                m: self.gamma,
                q: w,
                profit: p_cap.sub(self.ps)?.mul(w)?.add(mining_on_spare)?,
                regime: Regime::CapacityBound,
            }),
        }

        let mut best = self.mining();
        for cand in candidates {
            if cand.profit > best.profit {
                best = cand;
            }
        }
        Ok(best)
    }

    /// Along `Q = W`, does profit still rise with quality at `k`? `2W > c·(u+2+r)(1+u+r)`.
    fn along_cap_rises(&self, k: Wide, w: Wide) -> Result<bool, Error> {
        let u = k.mul(w)?;
        let r = cap_root(u)?;
        let a = u.add(Wide::int(2))?.add(r)?;
        let b = Wide::ONE.add(u)?.add(r)?;
        Ok(w.mul(Wide::int(2))? > self.c.mul(a)?.mul(b)?)
    }
}

/// Bisection steps: the bracket has length at most 10^18 units, so 64 halvings reach 1 unit.
const BISECTION_STEPS: usize = 80;

/// Quality `k = 1` for `m <= γ`, else `(1-m)/(1-γ)`.
fn quality(m: Wide, gamma: Wide) -> Result<Wide, Error> {
    if m <= gamma {
        Ok(Wide::ONE)
    } else {
        Wide::ONE.sub(m)?.div(Wide::ONE.sub(gamma)?)
    }
}

/// `p*(k) = (p_s + √(p_s² + 8k·p_s))/4`.
///
/// The discriminant `p_s·(p_s + 8k)` is formed exactly in 10^-36 units and its root taken
/// there: rounding it to 10^-18 first would cost half its digits when `p_s` is tiny.
fn best_price(ps: Wide, k: Wide) -> Result<Wide, Error> {
    let sum = ps.add(k.mul(Wide::int(8))?)?;
    let disc = u128::try_from(ps.0)
        .ok()
        .zip(u128::try_from(sum.0).ok())
        .and_then(|(a, b)| a.checked_mul(b))
        .ok_or(overflow("economics: discriminant"))?;
    let root = Wide::sqrt_raw(disc)?;
    ps.add(root)?.div(Wide::int(4))
}

/// `Q(p, k) = ((k-p)/k)²/(2p)`, 0 for `p >= k`.
fn demand_at(p: Wide, k: Wide) -> Result<Wide, Error> {
    if p >= k {
        return Ok(Wide::ZERO);
    }
    if p.0 <= 0 {
        return Err(overflow("economics: demand at a zero price"));
    }
    let x = k.sub(p)?.div(k)?;
    x.mul(x)?.div(p.mul(Wide::int(2))?)
}

/// `√(u² + 2u)` without forming `u²` for large `u`.
fn cap_root(u: Wide) -> Result<Wide, Error> {
    if u <= Wide::ONE {
        u.mul(u.add(Wide::int(2))?)?.sqrt()
    } else {
        u.mul(Wide::ONE.add(Wide::int(2).div(u)?)?.sqrt()?)
    }
}

/// The price at quality `k` at which demand equals `w`: `k/(1 + u + √(u² + 2u))`, `u = kW`.
fn cap_price(k: Wide, w: Wide) -> Result<Wide, Error> {
    let u = k.mul(w)?;
    k.div(Wide::ONE.add(u)?.add(cap_root(u)?)?)
}

fn overflow(what: &'static str) -> Error {
    Error::Overflow { what }
}

// ---------------------------------------------------------------------------------------------
// 10^-18 fixed point

/// Units of 10^-18 in 1.
const WS: i128 = 1_000_000_000_000_000_000;
/// `WS` as `u128`.
const WS_U: u128 = 1_000_000_000_000_000_000;
/// 10^-18 units per [`Fx`] unit.
const FX_UNIT: i128 = 1_000_000_000;

/// A signed count of 10^-18: the internal precision of this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Wide(i128);

impl Wide {
    const ZERO: Wide = Wide(0);
    const ONE: Wide = Wide(WS);

    /// Exact: every `i64` times 10^9 fits `i128`.
    fn from_fx(x: Fx) -> Wide {
        Wide(i128::from(x.raw()) * FX_UNIT)
    }

    fn int(n: i32) -> Wide {
        Wide(i128::from(n) * WS)
    }

    /// Rounds to nearest (ties away from zero).
    fn to_fx(self) -> Result<Fx, Error> {
        let q = self.0 / FX_UNIT;
        let r = self.0 % FX_UNIT;
        let q = if r.abs() * 2 >= FX_UNIT {
            q + self.0.signum()
        } else {
            q
        };
        i64::try_from(q)
            .map(Fx::from_raw)
            .map_err(|_| overflow("economics: result beyond the range of Fx"))
    }

    fn add(self, rhs: Wide) -> Result<Wide, Error> {
        self.0
            .checked_add(rhs.0)
            .map(Wide)
            .ok_or(overflow("economics: add"))
    }

    fn sub(self, rhs: Wide) -> Result<Wide, Error> {
        self.0
            .checked_sub(rhs.0)
            .map(Wide)
            .ok_or(overflow("economics: sub"))
    }

    /// `self·rhs` rounded to nearest. Splitting each operand into integer and fractional
    /// parts keeps every partial product in range; only `frac·frac/10^18` is rounded.
    fn mul(self, rhs: Wide) -> Result<Wide, Error> {
        let neg = (self.0 < 0) != (rhs.0 < 0);
        let (a, b) = (self.0.unsigned_abs(), rhs.0.unsigned_abs());
        let (ah, al) = (a / WS_U, a % WS_U);
        let (bh, bl) = (b / WS_U, b % WS_U);
        // al, bl < 10^18, so al·bl + 10^18/2 < 2^120.
        let low = (al * bl + WS_U / 2) / WS_U;
        let total = ah
            .checked_mul(bh)
            .and_then(|v| v.checked_mul(WS_U))
            .and_then(|v| v.checked_add(ah.checked_mul(bl)?))
            .and_then(|v| v.checked_add(al.checked_mul(bh)?))
            .and_then(|v| v.checked_add(low))
            .and_then(|v| i128::try_from(v).ok())
            .ok_or(overflow("economics: mul"))?;
        Ok(Wide(if neg { -total } else { total }))
    }

    /// `self/rhs` rounded to nearest, by long division in two steps of 10^9 (the divisor stays
    /// below 3·10^29 units, so no partial remainder overflows).
    fn div(self, rhs: Wide) -> Result<Wide, Error> {
        if rhs.0 == 0 {
            return Err(overflow("economics: division by zero"));
        }
        let neg = (self.0 < 0) != (rhs.0 < 0);
        let (a, b) = (self.0.unsigned_abs(), rhs.0.unsigned_abs());
        let step = 1_000_000_000_u128;
        let (q0, r0) = (a / b, a % b);
        let t1 = r0.checked_mul(step).ok_or(overflow("economics: div"))?;
        let (q1, r1) = (t1 / b, t1 % b);
        let t2 = r1.checked_mul(step).ok_or(overflow("economics: div"))?;
        let (q2, r2) = (t2 / b, t2 % b);
        // r2 < b < 2^127, so doubling fits.
        let round = u128::from(r2 * 2 >= b);
        let total = q0
            .checked_mul(WS_U)
            .and_then(|v| v.checked_add(q1 * step + q2 + round))
            .and_then(|v| i128::try_from(v).ok())
            .ok_or(overflow("economics: div"))?;
        Ok(Wide(if neg { -total } else { total }))
    }

    /// `√self` rounded to nearest (`self` up to about 340).
    fn sqrt(self) -> Result<Wide, Error> {
        let a = u128::try_from(self.0).map_err(|_| overflow("economics: sqrt of a negative"))?;
        Wide::sqrt_raw(a.checked_mul(WS_U).ok_or(overflow("economics: sqrt"))?)
    }

    /// The root, in 10^-18 units, of `n` 10^-36 units, rounded to nearest.
    fn sqrt_raw(n: u128) -> Result<Wide, Error> {
        let r = n.isqrt();
        // r² <= n < (r+1)²; n > (r + 1/2)² = r² + r + 1/4 iff n - r² > r.
        let r = if n - r * r > r { r + 1 } else { r };
        i128::try_from(r)
            .map(Wide)
            .map_err(|_| overflow("economics: sqrt"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_arithmetic_rounds_to_nearest() {
        let third = Wide::ONE.div(Wide::int(3)).unwrap();
        assert_eq!(third.0, 333_333_333_333_333_333);
        let two_thirds = Wide::int(2).div(Wide::int(3)).unwrap();
        assert_eq!(two_thirds.0, 666_666_666_666_666_667);
        assert_eq!(
            Wide::int(-2).div(Wide::int(3)).unwrap().0,
            -666_666_666_666_666_667
        );
        assert_eq!(Wide(1).mul(Wide(WS / 2)).unwrap().0, 1); // 0.5 ulp rounds away from zero
        assert_eq!(Wide(-1).mul(Wide(WS / 2)).unwrap().0, -1);
        assert_eq!(Wide::int(3).mul(Wide::int(-4)).unwrap(), Wide::int(-12));
        let big = Wide::int(1_000_000_000);
        assert_eq!(big.mul(big).unwrap(), Wide(WS * 1_000_000_000_000_000_000));
        assert!(big.mul(big).unwrap().mul(big).is_err());
        assert_eq!(Wide::int(2).sqrt().unwrap().0, 1_414_213_562_373_095_049); // √2 = 1.41421356237309504880
        assert_eq!(Wide::int(9).sqrt().unwrap(), Wide::int(3));
        assert!(Wide(-1).sqrt().is_err());
        assert!(Wide::ONE.div(Wide::ZERO).is_err());
        assert_eq!(Wide(1_499_999_999).to_fx().unwrap().raw(), 1);
        assert_eq!(Wide(1_500_000_000).to_fx().unwrap().raw(), 2);
        assert_eq!(Wide(-1_500_000_000).to_fx().unwrap().raw(), -2);
    }

    #[test]
    fn cap_root_is_continuous_at_one() {
        let below = cap_root(Wide(WS - 1)).unwrap();
        let at = cap_root(Wide::ONE).unwrap();
        let above = cap_root(Wide(WS + 1)).unwrap();
        assert_eq!(at.0, 1_732_050_807_568_877_294); // √3
        assert!(below <= at && at <= above);
        assert!((above.0 - below.0).abs() <= 4);
    }
}
