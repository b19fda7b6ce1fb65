//! Prints the chain's throughput figures (release build): `transfers_per_s` (signed transfers
//! validated with 2 signature threads, applied and committed to redb per block) and
//! `ring16_verify_ms`. Same code as `trustband chain bench`.
//!
//! `cargo run --release -p trustband-chain --example chain_bench`

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let report =
        chain::bench::transfer_throughput(dir.path(), &chain::bench::ThroughputConfig::default())?;
    println!("transfers_per_s: {:.0}", report.transfers_per_s);
    println!(
        "ring16_verify_ms: {:.3}",
        chain::crypto::bench::ring16_verify_ms()?
    );
    eprintln!("{report:?}");
    Ok(())
}
