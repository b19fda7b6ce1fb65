#![allow(clippy::unwrap_used, clippy::expect_used)]
use trustband::node::config::TestbedConfig;
use trustband::node::sim::Simulation;
use trustband::node::NodeEvent;

#[test]
#[ignore]
fn scratch() {
    let seed: u64 = std::env::var("SEED").unwrap().parse().unwrap();
    let until: u64 = std::env::var("UNTIL").unwrap_or("200000".into()).parse().unwrap();
    let who = std::env::var("WHO").unwrap_or("n4".into());
    let t = TestbedConfig::embedded_default().unwrap();
    let mut sim = Simulation::new(&t, seed, Some(30), false).unwrap();
    let mut sink = |e: NodeEvent| match &e {
        NodeEvent::Log { node, at_ms, level, text } if *node == who || level != "debug" => {
            eprintln!("{} {node} [{level}] {text}", at_ms - 1_700_000_000_000)
        }
        NodeEvent::Contract { node, at_ms, height, text, .. } if *node == who => {
            eprintln!("{} {node} h{height} {text}", at_ms - 1_700_000_000_000)
        }
        NodeEvent::Block { node, at_ms, height, miner, reorg_depth, txs, .. } if *node == who => {
            eprintln!("{} {node} BLOCK {height} by {miner} txs {txs} reorg {reorg_depth}", at_ms - 1_700_000_000_000)
        }
        _ => {}
    };
    while sim.now_ms() < until {
        if !sim.step(&mut sink).unwrap() { break; }
    }
    for (i, n) in sim.nodes().iter().enumerate() {
        eprintln!("{i} {:?}", n.status());
    }
}
