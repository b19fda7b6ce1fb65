//! Leases (SPEC 6, paper B): the winning MO's right to transmit on a channel for a term,
//! shaped like a CBRS SAS grant (granted -> authorized -> suspended / expired).
//!
//! Data flow: an auction's settlement calls `grant` for the winner: the lease covers heights
//! `s+1 ..= s+term` (`s` the settlement height), records the clearing price, its normalised
//! price per unit bandwidth `p_s` and the MO's optimal service price `p_M*` and mining share
//! `m*` from [`crate::economics::optimum`] (with `p_w`, `γ` from [`LeaseParams`] and the
//! channel's bandwidth as the capacity `W`). Every later fusion on the channel calls
//! `on_decision`: busy suspends the lease, idle lifts a suspension. `on_block_end` expires
//! the lease at the end of its term and starts a queued one. Renewal goes through the next
//! auction: an idle channel is auctioned again only when its lease ends within
//! [`LeaseParams::renew_window`] blocks of the fusion (`blocks_auction`); if the holder wins,
//! its term is extended by `term` (`LeaseRenewed`), otherwise the new lease is queued to start
//! when the current one expires. Heartbeats are optional: with
//! [`LeaseParams::heartbeat_interval`] = 0 a lease is authorized as soon as it starts; with an
//! interval, the holder's [`heartbeat`] authorizes it until `height + interval` and a missed
//! heartbeat returns it to granted (the SAS transmit-expire).
//!
//! `p_s = price × bandwidth_unit_hz / (price_unit × bandwidth_hz)`, clamped to [0, 1]
//! (`price_unit` base units per unit bandwidth is `p_s = 1`); `W = bandwidth_hz /
//! bandwidth_unit_hz`.
//!
//! Encoding of a [`ChannelLeases`]: `current opt Lease || pending opt Lease`, `Lease = holder
//! (20) || auction u64 || start u64 || expires u64 || price u128 || p_s i64 || p_m opt i64 ||
//! m opt i64 || state u8 || transmit_expire u64`. A suspended lease's term keeps running.
#![deny(clippy::float_arithmetic)]

use fusion::Fx;
use serde::{Deserialize, Serialize};

use super::csc::Registry;
use super::events::{ContractEvent, SkipReason};
use super::{ChannelSpec, ExecCtx, HookCtx, get_bool, lease_contract, load, store};
use crate::codec::{Decode, Encode, Put, Reader};
use crate::crypto::{Address, PublicKey};
use crate::economics::{self, EconParams, Optimum};
use crate::error::Error;
use crate::state::State;

/// The lease parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LeaseParams {
    /// Blocks of one lease term (>= 1).
    pub term: u64,
    /// An idle channel whose lease ends more than this many blocks after the fusion is not
    /// auctioned (the holder keeps it; renewal happens near the end of the term).
    pub renew_window: u64,
    /// 0: no heartbeats (authorized from the start); else blocks one heartbeat covers.
    pub heartbeat_interval: u64,
    /// Hz per unit of normalised bandwidth (>= 1).
    pub bandwidth_unit_hz: u64,
    /// Base units per unit bandwidth that make `p_s = 1` (>= 1).
    pub price_unit: u128,
    /// Paper B's mining reward rate `p_w`, in [0, 1].
    pub p_w: Fx,
    /// Paper B's redundant compute `γ`, in [0, 1).
    pub gamma: Fx,
}

impl Default for LeaseParams {
    fn default() -> Self {
        Self {
            term: 20,
            renew_window: 6,
            heartbeat_interval: 0,
            bandwidth_unit_hz: 1_000_000,
            price_unit: 10_000_000_000,
            p_w: Fx::from_raw(100_000_000),
            gamma: Fx::from_raw(700_000_000),
        }
    }
}

impl LeaseParams {
    /// Checks the parameters against the band plan.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] naming the first bad field.
    pub fn validate(&self, channels: &[ChannelSpec]) -> Result<(), Error> {
        let bad = |field, reason: String| Err(Error::InvalidConfig { field, reason });
        if self.term == 0 {
            return bad("contracts.lease.term", "must be at least 1".to_owned());
        }
        if self.bandwidth_unit_hz == 0 {
            return bad(
                "contracts.lease.bandwidth_unit_hz",
                "must be at least 1".to_owned(),
            );
        }
        if self.price_unit == 0 {
            return bad(
                "contracts.lease.price_unit",
                "must be at least 1".to_owned(),
            );
        }
        for c in channels {
            let w = capacity(c, self)?;
            if let Err(e) = EconParams::new(Fx::ZERO, self.p_w, self.gamma, Some(w)) {
                return bad("contracts.lease", e.to_string());
            }
        }
        if channels.is_empty()
            && let Err(e) = EconParams::new(Fx::HALF, self.p_w, self.gamma, None)
        {
            return bad("contracts.lease", e.to_string());
        }
        Ok(())
    }
}

/// The normalised bandwidth `W = bandwidth_hz / bandwidth_unit_hz` of a channel.
///
/// # Errors
///
/// [`Error::InvalidConfig`] if it is not representable.
pub fn capacity(channel: &ChannelSpec, params: &LeaseParams) -> Result<Fx, Error> {
    let bad = || Error::InvalidConfig {
        field: "contracts.channels",
        reason: "bandwidth / bandwidth_unit_hz must lie in (0, 10^9]".to_owned(),
    };
    let num = i64::try_from(channel.bandwidth_hz).map_err(|_| bad())?;
    let den = i64::try_from(params.bandwidth_unit_hz).map_err(|_| bad())?;
    let w = Fx::from_ratio(num, den).map_err(|_| bad())?;
    if w <= Fx::ZERO || w > economics::MAX_CAPACITY {
        return Err(bad());
    }
    Ok(w)
}

/// The clearing price per unit bandwidth, normalised: `p_s` in [0, 1] (see the module docs).
#[must_use]
pub fn normalised_price(price: u128, channel: &ChannelSpec, params: &LeaseParams) -> Fx {
    let scale = u128::try_from(Fx::SCALE).unwrap_or(1);
    let num = price
        .checked_mul(u128::from(params.bandwidth_unit_hz))
        .and_then(|x| x.checked_mul(scale));
    let den = params
        .price_unit
        .checked_mul(u128::from(channel.bandwidth_hz));
    let raw = match (num, den) {
        (Some(n), Some(d)) if d > 0 => (n / d).min(scale),
        // Overflow only for prices far above p_s = 1: clamp.
        _ => scale,
    };
    Fx::from_raw(i64::try_from(raw).unwrap_or(Fx::SCALE))
}

/// `p_s` and the MO's optimum for a lease of `channel` at `price` (`None` if the economics
/// has no solution for these inputs).
#[must_use]
pub fn terms(price: u128, channel: &ChannelSpec, params: &LeaseParams) -> (Fx, Option<Optimum>) {
    let p_s = normalised_price(price, channel, params);
    let optimum = capacity(channel, params).ok().and_then(|w| {
        EconParams::new(p_s, params.p_w, params.gamma, Some(w))
            .and_then(|e| economics::optimum(&e))
            .ok()
    });
    (p_s, optimum)
}

/// A lease's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaseState {
    /// Granted, not transmitting (awaiting its start or a heartbeat) (tag 0).
    Granted,
    /// May transmit (tag 1).
    Authorized,
    /// The primary user is back: may not transmit (tag 2).
    Suspended,
}

/// One lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// The MO.
    pub holder: Address,
    /// The auction it was (last) won in.
    pub auction: u64,
    /// First height of the term.
    pub start: u64,
    /// Last height of the term (it expires at the end of this block).
    pub expires: u64,
    /// Last clearing price paid.
    pub price: u128,
    /// Normalised price per unit bandwidth.
    pub p_s: Fx,
    /// The MO's optimal service price p_M*.
    pub p_m: Option<Fx>,
    /// The MO's optimal mining share m*.
    pub m: Option<Fx>,
    /// State.
    pub state: LeaseState,
    /// With heartbeats: last height the latest heartbeat covers.
    pub transmit_expire: u64,
}

/// A channel's leases: the one in force and at most one queued behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChannelLeases {
    /// The lease in force.
    pub current: Option<Lease>,
    /// The lease that starts when `current` expires.
    pub pending: Option<Lease>,
}

fn put_opt_fx(out: &mut Vec<u8>, v: Option<Fx>) {
    match v {
        None => out.put_u8(0),
        Some(x) => {
            out.put_u8(1);
            out.put_i64(x.raw());
        }
    }
}

fn get_opt_fx(r: &mut Reader<'_>, field: &'static str) -> Result<Option<Fx>, Error> {
    Ok(if get_bool(r, field)? {
        Some(r.fx(field)?)
    } else {
        None
    })
}

fn put_lease(out: &mut Vec<u8>, lease: Option<&Lease>) {
    let Some(l) = lease else {
        out.put_u8(0);
        return;
    };
    out.put_u8(1);
    out.put_raw(l.holder.as_bytes());
    out.put_u64(l.auction);
    out.put_u64(l.start);
    out.put_u64(l.expires);
    out.put_u128(l.price);
    out.put_i64(l.p_s.raw());
    put_opt_fx(out, l.p_m);
    put_opt_fx(out, l.m);
    out.put_u8(match l.state {
        LeaseState::Granted => 0,
        LeaseState::Authorized => 1,
        LeaseState::Suspended => 2,
    });
    out.put_u64(l.transmit_expire);
}

fn get_lease(r: &mut Reader<'_>) -> Result<Option<Lease>, Error> {
    if !get_bool(r, "lease")? {
        return Ok(None);
    }
    Ok(Some(Lease {
        holder: r.address("lease.holder")?,
        auction: r.u64("lease.auction")?,
        start: r.u64("lease.start")?,
        expires: r.u64("lease.expires")?,
        price: r.u128("lease.price")?,
        p_s: r.fx("lease.p_s")?,
        p_m: get_opt_fx(r, "lease.p_m")?,
        m: get_opt_fx(r, "lease.m")?,
        state: match r.u8("lease.state")? {
            0 => LeaseState::Granted,
            1 => LeaseState::Authorized,
            2 => LeaseState::Suspended,
            tag => {
                return Err(Error::UnknownTag {
                    field: "lease.state",
                    tag,
                });
            }
        },
        transmit_expire: r.u64("lease.transmit_expire")?,
    }))
}

impl Encode for ChannelLeases {
    fn encode_to(&self, out: &mut Vec<u8>) {
        put_lease(out, self.current.as_ref());
        put_lease(out, self.pending.as_ref());
    }
}

impl Decode for ChannelLeases {
    const NAME: &'static str = "channel_leases";

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, Error> {
        Ok(Self {
            current: get_lease(r)?,
            pending: get_lease(r)?,
        })
    }
}

fn load_leases(state: &State, channel: u32) -> Result<ChannelLeases, Error> {
    Ok(load::<ChannelLeases>(state, &lease_contract(channel))?.unwrap_or_default())
}

fn save_leases(state: &mut State, channel: u32, leases: &ChannelLeases) -> Result<(), Error> {
    if leases.current.is_none() && leases.pending.is_none() {
        state.set_contract_state(lease_contract(channel), Vec::new())
    } else {
        store(state, lease_contract(channel), leases)
    }
}

/// Whether the channel's latest fused decision was busy.
fn channel_busy(state: &State, channel: u32, ctx: &HookCtx<'_>) -> Result<bool, Error> {
    let registry = Registry::load(state, &ctx.params.contracts)?;
    Ok(usize::try_from(channel)
        .ok()
        .and_then(|i| registry.channels.get(i))
        .and_then(|r| r.last_decision)
        .is_some_and(|(_, busy)| busy))
}

/// The state a lease starts in.
fn starting_state(busy: bool, params: &LeaseParams) -> LeaseState {
    if busy {
        LeaseState::Suspended
    } else if params.heartbeat_interval == 0 {
        LeaseState::Authorized
    } else {
        LeaseState::Granted
    }
}

/// Why an idle channel must not be auctioned now, if it must not.
pub(crate) fn blocks_auction(
    state: &State,
    channel: u32,
    ctx: &HookCtx<'_>,
) -> Result<Option<SkipReason>, Error> {
    let leases = load_leases(state, channel)?;
    if leases.pending.is_some() {
        return Ok(Some(SkipReason::LeasePending));
    }
    match leases.current {
        Some(l)
            if l.expires
                > ctx
                    .height
                    .saturating_add(ctx.params.contracts.lease.renew_window) =>
        {
            Ok(Some(SkipReason::Leased { until: l.expires }))
        }
        _ => Ok(None),
    }
}

/// Grants (or renews, or queues) the lease of `channel` to the auction's winner.
pub(crate) fn grant(
    state: &mut State,
    channel: u32,
    holder: Address,
    auction: u64,
    price: u128,
    ctx: &HookCtx<'_>,
    events: &mut Vec<ContractEvent>,
) -> Result<(), Error> {
    let cp = &ctx.params.contracts;
    let lp = &cp.lease;
    let spec = usize::try_from(channel)
        .ok()
        .and_then(|i| cp.channels.get(i))
        .ok_or(Error::UnknownChannel {
            channel,
            channels: cp.channel_count(),
        })?;
    let (p_s, optimum) = terms(price, spec, lp);
    let (p_m, m) = (optimum.map(|o| o.p_m), optimum.map(|o| o.m));
    let mut leases = load_leases(state, channel)?;
    let busy = channel_busy(state, channel, ctx)?;
    let overflow = || Error::Overflow { what: "lease term" };
    match (&mut leases.current, &mut leases.pending) {
        (Some(current), _) if current.holder == holder => {
            current.expires = current.expires.checked_add(lp.term).ok_or_else(overflow)?;
            current.auction = auction;
            current.price = price;
            current.p_s = p_s;
            current.p_m = p_m;
            current.m = m;
            events.push(ContractEvent::LeaseRenewed {
                channel,
                holder,
                auction,
                expires: current.expires,
                price,
            });
        }
        (current, pending) => {
            // A lease queued behind one in force starts when it ends and is decided then (busy
            // or idle at that point); otherwise it starts with the next block.
            let queued = current.is_some();
            let after = current.as_ref().map_or(ctx.height, |c| c.expires);
            let start = after.checked_add(1).ok_or_else(overflow)?;
            let expires = after.checked_add(lp.term).ok_or_else(overflow)?;
            let lease_state = if queued {
                LeaseState::Granted
            } else {
                starting_state(busy, lp)
            };
            let lease = Lease {
                holder,
                auction,
                start,
                expires,
                price,
                p_s,
                p_m,
                m,
                state: lease_state,
                transmit_expire: 0,
            };
            if queued {
                *pending = Some(lease);
            } else {
                *current = Some(lease);
            }
            events.push(ContractEvent::LeaseGranted {
                channel,
                holder,
                auction,
                start,
                expires,
                price,
                p_s,
                p_m,
                m,
            });
            if !queued && lease_state == LeaseState::Authorized {
                events.push(ContractEvent::LeaseAuthorized { channel, holder });
            }
        }
    }
    save_leases(state, channel, &leases)
}

/// A fused decision on `channel`: busy suspends the lease in force, idle lifts a suspension.
pub(crate) fn on_decision(
    state: &mut State,
    channel: u32,
    task: u64,
    busy: bool,
    ctx: &HookCtx<'_>,
    events: &mut Vec<ContractEvent>,
) -> Result<(), Error> {
    let mut leases = load_leases(state, channel)?;
    let Some(current) = leases.current.as_mut() else {
        return Ok(());
    };
    let holder = current.holder;
    match (busy, current.state) {
        (true, LeaseState::Granted | LeaseState::Authorized) => {
            current.state = LeaseState::Suspended;
            events.push(ContractEvent::LeaseSuspended {
                channel,
                holder,
                task,
            });
        }
        (false, LeaseState::Suspended) => {
            current.state = starting_state(false, &ctx.params.contracts.lease);
            events.push(ContractEvent::LeaseResumed {
                channel,
                holder,
                task,
            });
        }
        _ => return Ok(()),
    }
    save_leases(state, channel, &leases)
}

/// The holder's heartbeat: authorizes the lease until `height + heartbeat_interval` (until
/// its expiry without heartbeats).
///
/// # Errors
///
/// [`Error::NotLeaseHolder`] (no lease in force, or another holder; a queued lease takes
/// heartbeats once it is in force); [`Error::LeaseInactive`] (suspended).
pub fn heartbeat(
    state: &mut State,
    sender: &PublicKey,
    channel: u32,
    ctx: &ExecCtx<'_>,
) -> Result<Vec<ContractEvent>, Error> {
    let who = sender.address();
    let mut leases = load_leases(state, channel)?;
    let Some(current) = leases.current.as_mut().filter(|l| l.holder == who) else {
        return Err(Error::NotLeaseHolder {
            channel,
            holder: leases.current.map(|l| l.holder),
            got: who,
        });
    };
    if current.state == LeaseState::Suspended {
        return Err(Error::LeaseInactive {
            channel,
            state: "suspended",
        });
    }
    let interval = ctx.params.contracts.lease.heartbeat_interval;
    current.transmit_expire = if interval == 0 {
        current.expires
    } else {
        ctx.height.saturating_add(interval).min(current.expires)
    };
    let mut events = Vec::new();
    if current.state == LeaseState::Granted {
        current.state = LeaseState::Authorized;
        events.push(ContractEvent::LeaseAuthorized {
            channel,
            holder: who,
        });
    }
    events.push(ContractEvent::LeaseHeartbeat {
        channel,
        holder: who,
        transmit_expire: current.transmit_expire,
    });
    save_leases(state, channel, &leases)?;
    Ok(events)
}

/// Expiry, queued start and heartbeat lapse at the end of block `ctx.height`.
pub(crate) fn on_block_end(
    state: &mut State,
    channel: u32,
    ctx: &HookCtx<'_>,
    events: &mut Vec<ContractEvent>,
) -> Result<(), Error> {
    let lp = &ctx.params.contracts.lease;
    let mut leases = load_leases(state, channel)?;
    let before = leases;
    let h = ctx.height;
    if let Some(current) = leases.current
        && h >= current.expires
    {
        events.push(ContractEvent::LeaseExpired {
            channel,
            holder: current.holder,
        });
        leases.current = leases.pending.take();
        if let Some(next) = leases.current.as_mut() {
            next.state = starting_state(channel_busy(state, channel, ctx)?, lp);
            if next.state == LeaseState::Authorized {
                events.push(ContractEvent::LeaseAuthorized {
                    channel,
                    holder: next.holder,
                });
            }
        }
    }
    if lp.heartbeat_interval > 0
        && let Some(current) = leases.current.as_mut()
        && current.state == LeaseState::Authorized
        && h >= current.transmit_expire
    {
        current.state = LeaseState::Granted;
        events.push(ContractEvent::LeaseHeartbeatLapsed {
            channel,
            holder: current.holder,
        });
    }
    if leases != before {
        save_leases(state, channel, &leases)?;
    }
    Ok(())
}

/// The leases of `channel` in `state`.
///
/// # Errors
///
/// Codec errors on a corrupt record.
pub fn leases(state: &State, channel: u32) -> Result<ChannelLeases, Error> {
    load_leases(state, channel)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn normalised_price_and_terms() {
        let p = LeaseParams::default();
        let ch = ChannelSpec {
            centre_hz: 100_000_000,
            bandwidth_hz: 2_000_000,
        };
        // 2 MHz = 2 units; price_unit 1e10 per unit: 3e9 -> p_s = 3e9 / 2e10 = 0.15.
        assert_eq!(
            normalised_price(3_000_000_000, &ch, &p),
            Fx::from_raw(150_000_000)
        );
        assert_eq!(normalised_price(u128::MAX, &ch, &p), Fx::ONE);
        assert_eq!(normalised_price(0, &ch, &p), Fx::ZERO);
        let (p_s, opt) = terms(3_000_000_000, &ch, &p);
        assert_eq!(p_s, Fx::from_raw(150_000_000));
        // SPEC 7: p_s = 0.15 -> p_M* = 0.313917 (capacity 2 does not bind: Q* = 0.7497).
        let opt = opt.unwrap();
        assert_eq!((opt.p_m.raw() + 500) / 1000, 313_917);
        assert_eq!(opt.m, p.gamma);
    }

    #[test]
    fn lease_record_round_trip() {
        let l = Lease {
            holder: Address::from_bytes([3; 20]),
            auction: 4,
            start: 5,
            expires: 25,
            price: 77,
            p_s: Fx::from_raw(1),
            p_m: None,
            m: Some(Fx::HALF),
            state: LeaseState::Suspended,
            transmit_expire: 9,
        };
        let leases = ChannelLeases {
            current: Some(l),
            pending: None,
        };
        assert_eq!(
            ChannelLeases::from_bytes(&leases.to_bytes()).unwrap(),
            leases
        );
    }
}
