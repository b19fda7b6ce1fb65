//! Proof-of-Trust properties: the 17x cost factor of trust 0.9, targets, the empirical mining
//! cost, and a virtual-time retarget simulation running the real block builder and
//! `apply_block` (seeded exponential block times).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::AtomicBool;

use chacha20::ChaCha20Rng;
use chain::crypto::rand_core::{Rng, SeedableRng};
use chain::pot::{cost_factor, expected_hashes, target};
use chain::transition::build_block;
use chain::{BlockCtx, ChainParams, Hash256, Verification, apply_block};
use common::{devnet, fx, quiet_params};
use fusion::Fx;

/// Tolerance of `17 · g(0.9) = 1`: κ is rounded to 10^-9 (error < 5·10^-10 in the exponent)
/// and 2^-x is within 1 ulp (10^-9) of the exact value on a result of 0.0588, so the relative
/// error is below 2·10^-8; we allow 5·10^-8.
const G17_TOLERANCE: f64 = 5e-8;

#[test]
fn trust_0_9_mines_17_times_more_cheaply() {
    assert_eq!(cost_factor(Fx::ZERO), Fx::ONE);
    let g = cost_factor(fx("0.9")).to_f64();
    eprintln!("g(0.9) = {g:.12}, 17 g(0.9) - 1 = {:.3e}", 17.0 * g - 1.0);
    assert!(
        (17.0 * g - 1.0).abs() <= G17_TOLERANCE,
        "17 g(0.9) = {}",
        17.0 * g
    );
    // The same ratio in the 256-bit targets: compare their top 128 bits.
    let top = |h: Hash256| u128::from_be_bytes(h.0[..16].try_into().unwrap()) as f64;
    let base = 1 << 20;
    let ratio = top(target(base, fx("0.9"))) / top(target(base, Fx::ZERO));
    assert!(
        (ratio / 17.0 - 1.0).abs() <= G17_TOLERANCE,
        "target ratio {ratio}"
    );
    assert_eq!(expected_hashes(base, Fx::ZERO), u128::from(base));
    assert_eq!(expected_hashes(17_000_000, fx("0.9")), 1_000_000);
}

#[test]
fn cost_factor_is_monotone_and_clamped() {
    let mut previous = Fx::MAX;
    for i in 0..=100 {
        let t = Fx::from_ratio(i, 100).unwrap();
        let g = cost_factor(t);
        assert!(g < previous, "g not decreasing at T = {t}");
        // Against f64: 2^(-κT), κ = log2(17)/0.9.
        let exact = (-(17f64.log2() / 0.9) * t.to_f64()).exp2();
        assert!((g.to_f64() - exact).abs() < 3e-9, "T = {t}");
        previous = g;
    }
    assert_eq!(cost_factor(fx("-1")), Fx::ONE);
    assert_eq!(cost_factor(fx("2")), cost_factor(Fx::ONE));
}

/// Mean hashes to a solution, over many templates, is D_base · g(T) (geometric distribution).
#[test]
fn empirical_mining_cost_follows_trust() {
    let key = chain::devnet::devnet_key(1).unwrap();
    let never = AtomicBool::new(false);
    let mean_hashes = |trust: Fx| {
        let runs = 200u32;
        let mut total = 0u64;
        for r in 0..runs {
            let header = chain::Header {
                height: 1,
                prev_hash: Hash256([r as u8; 32]),
                tx_root: Hash256([(r >> 8) as u8; 32]),
                state_root: Hash256::ZERO,
                miner: *key.public_key(),
                miner_trust: trust,
                timestamp_ms: 1,
                base_difficulty: 1024,
                nonce: 0,
            };
            total += chain::miner::mine(&header, 0, 1, &never).unwrap().nonce + 1;
        }
        total as f64 / f64::from(runs)
    };
    let low = mean_hashes(Fx::ZERO);
    let high = mean_hashes(fx("0.9"));
    // 200 geometric samples: relative standard error about 7 %; tolerance 25 % (> 3 sigma).
    assert!((low / 1024.0 - 1.0).abs() < 0.25, "trust 0: {low}");
    assert!(
        (high / (1024.0 / 17.0) - 1.0).abs() < 0.25,
        "trust 0.9: {high}"
    );
    eprintln!(
        "mean hashes at D_base 1024: trust 0 {low:.0}, trust 0.9 {high:.1}, ratio {:.1}",
        low / high
    );
    assert!(low / high > 10.0, "ratio {}", low / high);
}

/// Result of one simulated chain.
struct Sim {
    /// Block intervals in ms, block 1 first.
    intervals: Vec<u64>,
    /// D_base of every block.
    bases: Vec<u64>,
}

/// Virtual-time mining: miners of trust 0.9, 0.5, 0 with fixed hash rates (hashes/s, scaled by
/// `rate_scale(height)`). At each height the time to the next block is exponential with rate
/// sum_i h_i / (D_base · g(T_i)); the winner is drawn in proportion to its rate. Blocks are
/// built with the real `build_block` at the drawn timestamp and checked with `apply_block`, so
/// the retarget in the chain's own code sets every D_base.
fn simulate(seed: u64, blocks: usize, start_factor: f64, rate_scale: impl Fn(usize) -> f64) -> Sim {
    let trusts = ["0.9", "0.5", "0"];
    let rates = [2.0e5, 5.0e5, 1.0e6];
    let g: Vec<f64> = trusts.iter().map(|t| cost_factor(fx(t)).to_f64()).collect();
    // D_base giving exactly 1 s blocks: sum h_i / (D g_i) = 1.
    let ideal: f64 = rates.iter().zip(&g).map(|(h, g)| h / g).sum();
    let params = ChainParams {
        retarget_interval: 20,
        ..quiet_params()
    };
    let net = devnet(&trusts, (ideal / start_factor) as u64, params.clone());
    let genesis = net.genesis.build().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut uniform = move || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let mut state = genesis.state.clone();
    let mut parent = genesis.hash;
    let mut sim = Sim {
        intervals: Vec::new(),
        bases: Vec::new(),
    };
    for height in 1..=blocks {
        let d = state.meta.base_difficulty as f64;
        let scale = rate_scale(height);
        let lambdas: Vec<f64> = rates
            .iter()
            .zip(&g)
            .map(|(h, g)| scale * h / (d * g))
            .collect();
        let total: f64 = lambdas.iter().sum();
        let dt_ms = ((-(1.0 - uniform()).ln() / total) * 1000.0)
            .round()
            .max(1.0) as u64;
        let mut pick = uniform() * total;
        let miner = lambdas
            .iter()
            .position(|l| {
                pick -= l;
                pick <= 0.0
            })
            .unwrap_or(2);
        let template = build_block(
            &state,
            parent,
            net.key(miner).unwrap().public_key(),
            state.meta.timestamp_ms + dt_ms,
            &[],
            &params,
            Verification::Trusted,
        )
        .unwrap();
        // Sealing needs no real work here: PoT is skipped in this virtual-time run.
        let block =
            chain::Block::seal(template.header, template.body, net.key(miner).unwrap()).unwrap();
        let ctx = BlockCtx {
            params: &params,
            parent_hash: parent,
            verification: Verification::Trusted,
        };
        let (next, receipt) = apply_block(&state, &block, &ctx).unwrap();
        assert_eq!(next, template.post_state);
        sim.intervals.push(dt_ms);
        sim.bases.push(block.header.base_difficulty);
        parent = receipt.block_hash;
        state = next;
    }
    sim
}

fn mean(xs: &[u64]) -> f64 {
    xs.iter().sum::<u64>() as f64 / xs.len() as f64
}

/// The lead's figure: starting 3x too easy, after 100 blocks of adaptation the mean interval
/// of the next 200 blocks is within 10 % of τ* = 1 s; then the hash rate doubles and the
/// retarget brings it back.
#[test]
fn retarget_holds_mean_interval_near_target() {
    let sim = simulate(7, 300, 3.0, |_| 1.0);
    let early = mean(&sim.intervals[..19]);
    let held = mean(&sim.intervals[100..300]);
    eprintln!("first window {early:.0} ms, blocks 101-300 mean {held:.1} ms");
    assert!(
        early < 600.0,
        "the first window is fast ({early} ms): the test starts off target"
    );
    assert!(
        (held - 1000.0).abs() <= 100.0,
        "mean interval over 200 blocks: {held} ms"
    );
    // D_base only changes at multiples of 20, by at most 4x.
    for (i, w) in sim.bases.windows(2).enumerate() {
        let height = i + 2;
        if height % 20 != 0 {
            assert_eq!(w[0], w[1], "height {height}");
        } else {
            assert!(w[1] <= w[0] * 4 && w[1] >= w[0] / 4, "height {height}");
        }
    }

    // The hash rate doubles at block 200: blocks come twice as fast until the next retarget
    // (height 220), then settle again. Averaged over 10 seeds to keep the check tight (5 %).
    let runs: Vec<Sim> = (0..10)
        .map(|seed| simulate(50 + seed, 400, 1.0, |h| if h > 200 { 2.0 } else { 1.0 }))
        .collect();
    let during = runs
        .iter()
        .map(|s| mean(&s.intervals[200..219]))
        .sum::<f64>()
        / 10.0;
    let after = runs
        .iter()
        .map(|s| mean(&s.intervals[240..400]))
        .sum::<f64>()
        / 10.0;
    eprintln!("hash rate x2 at block 200: blocks 201-219 {during:.0} ms, 241-400 {after:.1} ms");
    assert!(during < 650.0, "blocks 201-219: {during} ms");
    assert!(
        (after - 1000.0).abs() <= 50.0,
        "after the hash rate doubled: {after} ms"
    );
}

/// Over 30 seeds: the grand mean is within 3 % of τ*, and at least 90 % of the 200-block means
/// are within 10 % (simulation of the rule gives about 97 %).
#[test]
fn retarget_is_unbiased_across_seeds() {
    let means: Vec<f64> = (0..30)
        .map(|seed| mean(&simulate(1000 + seed, 300, 3.0, |_| 1.0).intervals[100..300]))
        .collect();
    let grand = means.iter().sum::<f64>() / means.len() as f64;
    let within = means
        .iter()
        .filter(|m| (*m - 1000.0).abs() <= 100.0)
        .count();
    eprintln!("30 seeds: grand mean {grand:.1} ms, {within}/30 within 10 %");
    assert!((grand - 1000.0).abs() <= 30.0, "grand mean {grand} ms");
    assert!(within >= 27, "{within}/30 runs within 10 %: {means:?}");
}
