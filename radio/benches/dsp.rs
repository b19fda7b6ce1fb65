//! DSP throughput: `cargo bench -p trustband-radio --bench dsp`.
//!
//! Runs [`radio::detector::bench_dsp`] (Welch PSD with FFT 1024, Hann, 50 % overlap, one
//! channel, noise tracking and decisions, single thread) on 2.4·10⁷ samples of synthetic cu8
//! noise held in memory and prints `msps: N`. Plain `main` rather than criterion: the quantity
//! of interest is one long run's throughput, not a per-iteration distribution.

fn main() {
    let samples: usize = std::env::var("TRUSTBAND_BENCH_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(24_000_000);
    let data = radio::detector::bench_noise_cu8(samples, 1);
    let mut best = 0.0f64;
    for _ in 0..3 {
        match radio::detector::bench_dsp(&data, 2.4e6, 0.1) {
            Ok(r) => {
                println!(
                    "samples {} in {:.3} s: {:.1} MS/s, {} windows, {} busy",
                    r.samples, r.seconds, r.msps, r.windows, r.busy
                );
                best = best.max(r.msps);
            }
            Err(e) => {
                eprintln!("bench_dsp: {e}");
                std::process::exit(1);
            }
        }
    }
    println!("msps: {best:.1}");
}
