//! The event stream agrees with the chain: a viewer that keeps the last `Trust` event per
//! account (the dashboard's trust table) shows, when a block arrives, exactly the trust its
//! header carries for its miner (the miner's trust in the parent state), inactivity decay
//! included.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use trustband::node::config::TestbedConfig;
use trustband::node::events::NodeEvent;
use trustband::node::sim::Simulation;

#[test]
fn trust_events_match_every_block_headers_miner_trust() {
    let testbed = TestbedConfig::embedded_default().unwrap();
    let mut sim = Simulation::new(&testbed, 1, Some(25), false).unwrap();
    let mut shown: BTreeMap<String, f64> = BTreeMap::new();
    let (mut checked, mut moved, mut mismatches) = (0, 0, Vec::new());
    let mut sink = |e: NodeEvent| match e {
        NodeEvent::Block {
            node,
            height,
            miner,
            miner_trust,
            reorg_depth,
            ..
        } if node == "n1" && reorg_depth == 0 => {
            // Genesis trust until a first event says otherwise.
            let panel = shown.get(&miner).copied().unwrap_or(0.5);
            checked += 1;
            if (panel - miner_trust).abs() > 1e-9 {
                mismatches.push(format!(
                    "h{height} {miner}: header {miner_trust}, panel {panel}"
                ));
            }
        }
        NodeEvent::Trust {
            node,
            account,
            trust,
            ..
        } if node == "n1" => {
            let before = shown.insert(account, trust);
            moved += usize::from(before.is_some_and(|old| old != trust));
        }
        _ => {}
    };
    sim.run_until(100_000, &mut sink).unwrap();
    assert!(checked >= 30, "{checked} blocks checked");
    assert!(moved >= 10, "trust moved only {moved} times");
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}
