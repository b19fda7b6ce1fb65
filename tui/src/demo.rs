//! A synthetic testbed for tests and `--demo`: plausible snapshots and waterfall rows as pure
//! functions of `(seed, t_ms)`, and a thread that streams them into the dashboard.
//!
//! The set-up mirrors `testbed-configs/scenarios/default.toml`: six sensing nodes around four
//! primary users on four 400 kHz channels of a 2.4 MS/s front end at 600 MHz, plus the MNO
//! and two micro operators; rounds of five seconds, one block a second. Nothing here is
//! measured: it only has to look like the real thing and be deterministic.

use std::sync::mpsc::Sender;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::app::UiEvent;
use crate::model::{
    AuctionPhase, AuctionRow, BlockRow, ChainView, ChannelEdge, ChannelRow, LeaseRow, LeaseState,
    Level, LogLine, NodeReading, NodeRow, Role, Snapshot, SpectrumFrame, TrustRow, WaterfallRow,
};

/// Demo round length (ms).
pub const ROUND_MS: u64 = 5_000;
/// Demo block interval (ms).
pub const BLOCK_MS: u64 = 1_000;
const CENTER_HZ: f64 = 600e6;
const RATE_HZ: f64 = 2.4e6;
const BINS: usize = 512;
const NOISE_DB: f32 = -72.0;

/// Channel name, centre, and primary-user schedule (on ms, period ms, phase ms).
const CHANNELS: [(&str, f64, u64, u64, u64); 4] = [
    ("ch-a", 599.2e6, 10_000, 20_000, 0),
    ("ch-b", 599.733_333e6, 4_000, 15_000, 3_000),
    ("ch-c", 600.266_667e6, 300, 2_000, 0),
    ("ch-d", 600.8e6, 6_000, 46_000, 20_000),
];
const BW_HZ: f64 = 400e3;

/// Sensing nodes: name, behaviour class, distance factor (path loss, dB lost).
const SENSORS: [(&str, &str, f32); 6] = [
    ("n1", "reliable", 0.0),
    ("n2", "reliable", 4.0),
    ("n3", "reliable", 8.0),
    ("n4", "on_off", 2.0),
    ("n5", "lazy", 6.0),
    ("n6", "infrequent", 12.0),
];

/// splitmix64 of a few words: a stateless, seedable source of uniform bits.
fn mix(words: &[u64]) -> u64 {
    let mut z: u64 = 0x9E37_79B9_7F4A_7C15;
    for &w in words {
        z = z.wrapping_add(w).wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
    }
    z
}

/// Uniform in [0, 1).
fn uniform(words: &[u64]) -> f64 {
    (mix(words) >> 11) as f64 / (1u64 << 53) as f64
}

/// Standard normal (Box–Muller).
fn normal(words: &[u64]) -> f64 {
    let mut w = words.to_vec();
    w.push(1);
    let u1 = uniform(&w).max(1e-12);
    if let Some(last) = w.last_mut() {
        *last = 2;
    }
    let u2 = uniform(&w);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn pu_on(ch: usize, t_ms: u64) -> bool {
    CHANNELS
        .get(ch)
        .is_some_and(|&(_, _, on, period, phase)| (t_ms + period - phase % period) % period < on)
}

fn sensor_index(node: &str) -> Option<usize> {
    SENSORS.iter().position(|s| s.0 == node)
}

/// PSD (dB per bin, 512 bins over 2.4 MHz at 600 MHz) that `node` sees at `t_ms`, and its
/// noise floor.
fn psd(seed: u64, node: usize, t_ms: u64) -> (Vec<f32>, Vec<f32>) {
    let loss = SENSORS.get(node).map_or(0.0, |s| s.2);
    let offset = (normal(&[seed, node as u64, 99]) * 0.7) as f32;
    let step = RATE_HZ / BINS as f64;
    let low = CENTER_HZ - RATE_HZ / 2.0;
    let tick = t_ms / 100;
    let mut p = Vec::with_capacity(BINS);
    let mut n = Vec::with_capacity(BINS);
    for k in 0..BINS {
        let f = low + (k as f64 + 0.5) * step;
        // Front-end roll-off near the band edges.
        let edge = ((f - CENTER_HZ).abs() / (RATE_HZ / 2.0)) as f32;
        let floor = NOISE_DB + offset - 6.0 * edge.powi(8);
        let mut lin = 10f32.powf(floor / 10.0);
        for (c, &(_, fc, ..)) in CHANNELS.iter().enumerate() {
            if !pu_on(c, t_ms) {
                continue;
            }
            let x = ((f - fc) / (BW_HZ / 2.0)) as f32;
            let snr_db = 24.0 - loss - 3.0 * c as f32;
            let shape = match c {
                // OFDM: flat top, steep skirts.
                0 | 3 => 1.0 / (1.0 + x.abs().powi(16)),
                // FSK: two tones at ±deviation.
                1 => (-(x - 0.25).powi(2) * 60.0).exp() + (-(x + 0.25).powi(2) * 60.0).exp(),
                // OOK: one narrow carrier with sidebands.
                _ => (-x.powi(2) * 120.0).exp() + 0.05 / (1.0 + (x * 4.0).powi(2)),
            };
            lin += 10f32.powf((NOISE_DB + snr_db) / 10.0) * shape;
        }
        // Welch averaging leaves a fraction of a dB of scatter.
        let jitter = (normal(&[seed, node as u64, tick, k as u64]) * 0.6) as f32;
        p.push(10.0 * lin.log10() + jitter);
        n.push(floor);
    }
    (p, n)
}

fn frame(seed: u64, node: usize, t_ms: u64) -> SpectrumFrame {
    let (psd_db, noise_db) = psd(seed, node, t_ms);
    let step = RATE_HZ / BINS as f64;
    let low = CENTER_HZ - RATE_HZ / 2.0;
    let channels = CHANNELS
        .iter()
        .map(|&(name, fc, ..)| {
            let lo = fc - BW_HZ / 2.0;
            let hi = fc + BW_HZ / 2.0;
            let bins: Vec<usize> = (0..BINS)
                .filter(|&k| {
                    let f = low + (k as f64 + 0.5) * step;
                    f >= lo && f <= hi
                })
                .collect();
            let mean = |v: &[f32]| -> f32 {
                let s: f32 = bins
                    .iter()
                    .filter_map(|&k| v.get(k))
                    .map(|&d| 10f32.powf(d / 10.0))
                    .sum();
                10.0 * (s / bins.len().max(1) as f32).log10()
            };
            let energy = mean(&psd_db);
            let noise = mean(&noise_db);
            let threshold = noise + 1.2;
            ChannelEdge {
                name: name.to_owned(),
                low_hz: lo,
                high_hz: hi,
                energy_db: Some(energy),
                noise_db: Some(noise),
                threshold_db: Some(threshold),
                busy: Some(energy > threshold),
            }
        })
        .collect();
    SpectrumFrame {
        at_ms: t_ms,
        center_hz: CENTER_HZ,
        span_hz: RATE_HZ,
        psd_db,
        noise_db,
        channels,
    }
}

/// A waterfall row of `node` at `t_ms` (None for a node that does not sense).
pub fn demo_row(seed: u64, node: &str, t_ms: u64) -> Option<WaterfallRow> {
    let i = sensor_index(node)?;
    let (psd_db, _) = psd(seed, i, t_ms);
    Some(WaterfallRow {
        at_ms: t_ms,
        center_hz: CENTER_HZ,
        span_hz: RATE_HZ,
        psd_db,
    })
}

/// Trust of sensor `i` after round `r`, by behaviour class.
fn trust(seed: u64, i: usize, r: u64) -> f32 {
    let wobble = (normal(&[seed, i as u64, r, 7]) * 0.015) as f32;
    let v = match SENSORS.get(i).map_or("", |s| s.1) {
        "reliable" => 0.62 - 0.04 * i as f32 + wobble,
        // Climbs while behaving, drops on every third round's flipped report.
        "on_off" => 0.18 + 0.08 * (r % 3) as f32 + wobble,
        "lazy" => 0.12 + wobble * 2.0,
        // Sleeps, then participates: decays towards 0.1 and recovers.
        _ => 0.45 * (1.0 - (r % 12) as f32 / 16.0) + wobble,
    };
    v.clamp(0.0, 1.0)
}

fn round_of(t_ms: u64) -> u64 {
    t_ms / ROUND_MS
}

/// Fused decision of channel `c` in round `r` (majority of the sensors' readings at the
/// round's start).
fn fused(seed: u64, c: usize, r: u64) -> bool {
    let t = r * ROUND_MS;
    let busy = (0..SENSORS.len())
        .filter(|&i| reading(seed, i, c, t).1)
        .count();
    busy * 2 > SENSORS.len()
}

/// (energy dB, reported decision) of sensor `i` on channel `c` at `t_ms`: the lazy node
/// reports a coin, the on-off node flips every third round.
fn reading(seed: u64, i: usize, c: usize, t_ms: u64) -> (f32, bool) {
    let f = frame(seed, i, t_ms);
    let ch = f.channels.get(c);
    let energy = ch.and_then(|c| c.energy_db).unwrap_or(NOISE_DB);
    let mut busy = ch.and_then(|c| c.busy).unwrap_or(false);
    match SENSORS.get(i).map_or("", |s| s.1) {
        "lazy" => busy = mix(&[seed, i as u64, c as u64, t_ms]) & 1 == 1,
        "on_off" if round_of(t_ms) % 3 == 2 => busy = !busy,
        _ => {}
    }
    (energy, busy)
}

/// A plausible snapshot of the demo testbed at `t_ms` as seen by node `n1`.
pub fn demo_snapshot(seed: u64, t_ms: u64) -> Snapshot {
    let round = round_of(t_ms);
    let height = 1_000 + t_ms / BLOCK_MS;
    let into_round = t_ms % ROUND_MS;
    let mut nodes: Vec<NodeRow> = SENSORS
        .iter()
        .enumerate()
        .map(|(i, &(name, ..))| NodeRow {
            name: name.to_owned(),
            roles: vec![Role::Sensor, Role::Miner],
            height: height - u64::from(i == 5),
            peers: 7 - u32::from(i == 5) * 3,
            trust: Some(trust(seed, i, round)),
            balance: u128::from(40_000_000 + mix(&[seed, i as u64]) % 9_000_000),
            online: true,
            spectrum: Some(frame(seed, i, t_ms)),
        })
        .collect();
    // The highest-trust sensor issues the round's tasks.
    if let Some(ti) = nodes
        .iter_mut()
        .max_by(|a, b| a.trust.unwrap_or(0.0).total_cmp(&b.trust.unwrap_or(0.0)))
    {
        ti.roles.push(Role::TaskIssuer);
    }
    let ti_name = nodes
        .iter()
        .find(|n| n.roles.contains(&Role::TaskIssuer))
        .map(|n| n.name.clone());
    for (name, role, bal) in [
        ("mno", Role::Mno, 900_000_000u128),
        ("mo-a", Role::Mo, 120_000_000),
        ("mo-b", Role::Mo, 75_000_000),
    ] {
        nodes.push(NodeRow {
            name: name.to_owned(),
            roles: vec![role, Role::Miner],
            height,
            peers: 8,
            trust: None,
            balance: bal,
            online: true,
            spectrum: None,
        });
    }

    let channels: Vec<ChannelRow> = CHANNELS
        .iter()
        .enumerate()
        .map(|(c, &(name, fc, ..))| ChannelRow {
            name: name.to_owned(),
            center_hz: fc,
            bandwidth_hz: BW_HZ,
            per_node: (0..SENSORS.len())
                // The infrequent node reports one round in three.
                .filter(|&i| i != 5 || round.is_multiple_of(3))
                // Readings of the round's sensing window (its first instant), the ones the
                // fused decision is made from.
                .map(|i| {
                    let (energy_db, busy) = reading(seed, i, c, round * ROUND_MS);
                    NodeReading {
                        node: SENSORS.get(i).map_or("", |s| s.0).to_owned(),
                        energy_db,
                        threshold_db: Some(NOISE_DB + 1.2),
                        busy,
                    }
                })
                .collect(),
            fused: (into_round >= 1_000).then(|| fused(seed, c, round)),
            round: Some(round),
        })
        .collect();

    let d_base: u64 = 40_000;
    let miners = ["n1", "n2", "n3", "n4", "mno", "mo-a"];
    let recent_blocks = (0..16u64)
        .filter(|&k| k < height)
        .map(|k| {
            let h = height - k;
            let m = miners
                .get((mix(&[seed, h]) % miners.len() as u64) as usize)
                .copied()
                .unwrap_or("n1");
            let t = sensor_index(m).map_or(0.3, |i| trust(seed, i, h / 5));
            let g = 2f64.powf(-4.54 * f64::from(t));
            BlockRow {
                height: h,
                hash: format!("{:016x}{:016x}", mix(&[seed, h, 1]), mix(&[seed, h, 2])),
                miner: m.to_owned(),
                miner_trust: t,
                difficulty: (d_base as f64 * g) as u64,
                txs: (mix(&[seed, h, 3]) % 24) as u32,
                at_ms: t_ms.saturating_sub(k * BLOCK_MS + t_ms % BLOCK_MS),
                checkpoint: h.is_multiple_of(100),
            }
        })
        .collect();
    let chain = ChainView {
        height,
        head: format!(
            "{:016x}{:016x}",
            mix(&[seed, height, 1]),
            mix(&[seed, height, 2])
        ),
        mean_interval_ms: Some(1_000.0 + normal(&[seed, height, 5]) * 40.0),
        target_interval_ms: Some(1_000.0),
        base_difficulty: d_base,
        recent_blocks,
        forks: height / 37,
        reorgs: height / 151,
        last_reorg_depth: Some(1 + height / 151 % 2),
        checkpoint_height: Some(height / 100 * 100),
        coin_decimals: 6,
    };

    let trust_rows: Vec<TrustRow> = SENSORS
        .iter()
        .enumerate()
        .map(|(i, &(name, class, _))| {
            let mut roles = vec![Role::Sensor, Role::Miner];
            if ti_name.as_deref() == Some(name) {
                roles.push(Role::TaskIssuer);
            }
            TrustRow {
                node: name.to_owned(),
                roles,
                class: Some(class.to_owned()),
                value: trust(seed, i, round),
                history: (0..40u64)
                    .rev()
                    .filter(|&k| k <= round)
                    .map(|k| trust(seed, i, round - k))
                    .collect(),
                selected: trust(seed, i, round) >= 0.3,
            }
        })
        .collect();

    let phase = |r: u64, into: u64, c: usize| -> AuctionPhase {
        if fused(seed, c, r) {
            AuctionPhase::Skipped
        } else if into < 1_000 {
            AuctionPhase::Pending
        } else if into < 3_000 {
            AuctionPhase::Commit
        } else if into < 4_500 {
            AuctionPhase::Reveal
        } else {
            AuctionPhase::Settled
        }
    };
    let price = |r: u64, c: usize| 8_000_000 + u128::from(mix(&[seed, r, c as u64, 9]) % 6_000_000);
    let winner = |r: u64, c: usize| {
        if mix(&[seed, r, c as u64, 8]) & 1 == 0 {
            "mo-a"
        } else {
            "mo-b"
        }
    };
    let round_height = |r: u64| 1_000 + r * ROUND_MS / BLOCK_MS;
    let auctions = (0..CHANNELS.len())
        .map(|c| {
            let p = phase(round, into_round, c);
            let settled = p == AuctionPhase::Settled;
            let commits = match p {
                AuctionPhase::Commit => (into_round / 700) as u32,
                AuctionPhase::Reveal | AuctionPhase::Settled => 3,
                _ => 0,
            };
            AuctionRow {
                channel: CHANNELS.get(c).map_or("", |x| x.0).to_owned(),
                round,
                phase: p,
                commit_end: round_height(round) + 3,
                reveal_end: round_height(round) + 4,
                commits,
                revealed: match p {
                    AuctionPhase::Reveal => ((into_round - 3_000) / 600) as u32,
                    AuctionPhase::Settled => 3,
                    _ => 0,
                },
                reserve: 5_000_000,
                winner: settled.then(|| winner(round, c).to_owned()),
                price: settled.then(|| price(round, c)),
            }
        })
        .collect();
    // A lease lasts three rounds after the auction that granted it; suspended while the
    // primary user is back.
    let mut leases = Vec::new();
    for c in 0..CHANNELS.len() {
        let granted = (1..=3u64)
            .filter(|&k| k <= round)
            .map(|k| round - k)
            .find(|&r| !fused(seed, c, r));
        if let Some(r) = granted {
            let busy_now = pu_on(c, t_ms);
            leases.push(LeaseRow {
                channel: CHANNELS.get(c).map_or("", |x| x.0).to_owned(),
                holder: winner(r, c).to_owned(),
                state: if busy_now {
                    LeaseState::Suspended
                } else {
                    LeaseState::Authorized
                },
                from_height: round_height(r + 1),
                until_height: round_height(r + 4),
                price: price(r, c),
                service_price: Some(0.3139),
                mining_share: Some(0.7),
            });
        }
    }

    let mut log = Vec::new();
    for r in round.saturating_sub(3)..=round {
        let at = r * ROUND_MS;
        let decided: Vec<String> = (0..CHANNELS.len())
            .map(|c| {
                let name = CHANNELS.get(c).map_or("", |x| x.0);
                format!("{name} {}", if fused(seed, c, r) { "BUSY" } else { "idle" })
            })
            .collect();
        log.push(LogLine {
            seq: r * 4,
            at_ms: at + 1_000,
            level: Level::Info,
            text: format!("round {r}: fused {}", decided.join(", ")),
        });
        if r % 3 == 2 {
            log.push(LogLine {
                seq: r * 4 + 1,
                at_ms: at + 1_200,
                level: Level::Warn,
                text: format!("round {r}: n4 disagrees with the fused decision, trust falls"),
            });
        }
        if r % 5 == 0 {
            log.push(LogLine {
                seq: r * 4 + 2,
                at_ms: at + 2_000,
                level: Level::Error,
                text: String::from("n6: soapy read timed out, reopening in 2 s"),
            });
        }
        log.push(LogLine {
            seq: r * 4 + 3,
            at_ms: at + 4_500,
            level: Level::Info,
            text: format!("round {r}: auctions settled, revenue to mno"),
        });
    }
    log.retain(|l| l.at_ms <= t_ms);

    Snapshot {
        at_ms: t_ms,
        node: String::from("n1"),
        nodes,
        channels,
        chain,
        trust: trust_rows,
        trust_threshold: Some(0.3),
        auctions,
        leases,
        log,
    }
}

/// Streams the demo into `tx` until the receiver is dropped: waterfall rows for every sensing
/// node each `row_ms`, a snapshot each second. The demo clock starts at `start_ms` and runs in
/// real time.
pub fn spawn_demo(seed: u64, start_ms: u64, row_ms: u64, tx: Sender<UiEvent>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let row_ms = row_ms.max(10);
        let mut t = start_ms;
        loop {
            for &(name, ..) in &SENSORS {
                let Some(row) = demo_row(seed, name, t) else {
                    continue;
                };
                let ev = UiEvent::Rows {
                    node: name.to_owned(),
                    rows: vec![row],
                };
                if tx.send(ev).is_err() {
                    return;
                }
            }
            if t % 1_000 < row_ms
                && tx
                    .send(UiEvent::Snapshot(Box::new(demo_snapshot(seed, t))))
                    .is_err()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(row_ms));
            t += row_ms;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_is_deterministic_and_seeded() {
        assert_eq!(demo_snapshot(3, 42_000), demo_snapshot(3, 42_000));
        assert_ne!(demo_snapshot(3, 42_000), demo_snapshot(4, 42_000));
    }

    #[test]
    fn demo_detector_sees_the_primary_users() {
        // At t = 1 s ch-a is on (0..10 s of each 20 s), ch-d off (on 20..26 s of each 46 s).
        let s = demo_snapshot(1, 1_000);
        let f = s.nodes[0].spectrum.as_ref().unwrap();
        let busy: Vec<Option<bool>> = f.channels.iter().map(|c| c.busy).collect();
        assert_eq!(busy[0], Some(true), "{busy:?}");
        assert_eq!(busy[3], Some(false), "{busy:?}");
        assert_eq!(f.psd_db.len(), BINS);
        // Energies sit between the floor and the strongest user.
        for c in &f.channels {
            let e = c.energy_db.unwrap();
            assert!((-80.0..-40.0).contains(&e), "{} {e}", c.name);
        }
    }

    #[test]
    fn demo_fused_decision_is_the_majority_of_the_shown_readings() {
        for t in [12_000, 47_000, 203_500] {
            let s = demo_snapshot(2, t);
            for c in &s.channels {
                let busy = c.per_node.iter().filter(|r| r.busy).count();
                // The infrequent node's reading counts even in rounds it does not show.
                if c.per_node.len() == SENSORS.len() {
                    assert_eq!(c.fused, Some(busy * 2 > SENSORS.len()), "{} at {t}", c.name);
                }
            }
        }
    }

    #[test]
    fn demo_json_round_trips() {
        let s = demo_snapshot(9, 77_000);
        let json =
            serde_json::to_string(&crate::model::Update::Snapshot(Box::new(s.clone()))).unwrap();
        let back: crate::model::Update = serde_json::from_str(&json).unwrap();
        assert_eq!(back, crate::model::Update::Snapshot(Box::new(s)));
    }
}
