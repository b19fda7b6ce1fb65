//! Testbed TOML on hostile text: `TestbedConfig::parse` (syntax, unknown keys, types and the
//! semantic checks of `validate`), then what `trustband run` / `node` derive from a parsed
//! testbed (channels, chain parameters, genesis, account names), and the node-file parser.
//!
//! Nothing may panic; a testbed that parses must also yield its channels, chain parameters
//! and genesis (validation has checked them). TOML has no canonical form and the config has
//! no writer, so there is no round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trustband::node::config::{NodeFile, TestbedConfig};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = NodeFile::is_node_file(text);
    let Ok(config) = TestbedConfig::parse(text, "fuzz.toml", None) else {
        return;
    };
    if let Err(e) = config.channels() {
        panic!("a validated testbed has channels: {e:#}");
    }
    if let Err(e) = config.chain_params() {
        panic!("a validated testbed has chain parameters: {e:#}");
    }
    // Key files (if any) are not there in the fuzzer's working directory: an error, not a
    // panic, is fine for the genesis.
    let _ = config.genesis();
    let _ = config.account_names();
});
