//! Consensus across a partition in the deterministic simulation: four mining nodes split 2/2
//! build two chains; once the partition heals, gossip and head polls bring every node to one
//! head within 10 blocks (fork choice: more nominal work, then paper A's Algorithm 1).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use trustband::node::NullSink;
use trustband::node::config::TestbedConfig;
use trustband::node::sim::Simulation;

/// Four miners with equal hash rates, no sensors (the chain still runs its task issuer), a
/// lossy network.
const TESTBED: &str = r#"
name = "partition"
[sensing]
channels = [{ name = "c0", center_hz = 600e6, bandwidth_hz = 2e5 }]
[chain]
sync_interval_ms = 1000
[chain.params]
target_interval_ms = 1000
[network]
latency_ms = 20
jitter_ms = 20
loss = 0.02
request_timeout_ms = 1000
[[node]]
name = "a"
source = { kind = "none" }
[[node]]
name = "b"
source = { kind = "none" }
[[node]]
name = "c"
source = { kind = "none" }
[[node]]
name = "d"
source = { kind = "none" }
"#;

#[test]
fn two_by_two_partition_heals_to_one_head_within_ten_blocks() {
    let testbed = TestbedConfig::parse(TESTBED, "partition testbed", None).unwrap();
    for seed in 1..=3u64 {
        let mut sim = Simulation::new(&testbed, seed, None, false).unwrap();
        sim.partition(10_000, &[vec![0, 1], vec![2, 3]]).unwrap();
        sim.heal(40_000).unwrap();
        sim.run_until(39_999, &mut NullSink).unwrap();
        let heads = sim.heads();
        // Each side built its own chain.
        assert_eq!(heads[0].1, heads[1].1, "seed {seed}: {heads:?}");
        assert_eq!(heads[2].1, heads[3].1, "seed {seed}: {heads:?}");
        assert_ne!(
            heads[0].1, heads[2].1,
            "seed {seed}: the partition forked the chain"
        );
        let top_at_heal = heads.iter().map(|h| h.0).max().unwrap();
        assert!(top_at_heal >= 15, "seed {seed}: {heads:?}");
        while !sim.converged() {
            assert!(sim.step(&mut NullSink).unwrap());
            assert!(
                sim.now_ms() < 100_000,
                "seed {seed}: no convergence by 100 s"
            );
        }
        let top = sim.heads()[0].0;
        let after = top - top_at_heal;
        eprintln!(
            "seed {seed}: healed at height {top_at_heal}, one head at {top} after {after} blocks, {:.1} s",
            (sim.now_ms() - 40_000) as f64 / 1000.0
        );
        assert!(after <= 10, "seed {seed}: {after} blocks to converge");
        // And it stays one chain while mining goes on.
        sim.set_mining(false);
        let t = sim.now_ms() + 5_000;
        sim.run_until(t, &mut NullSink).unwrap();
        assert!(sim.converged(), "seed {seed}: {:?}", sim.heads());
    }
}
