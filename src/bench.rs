//! `trustband bench ...`: benchmarks that print machine-readable figures (`key: value` lines),
//! so scripts and the README can quote them.

use std::path::PathBuf;

use anyhow::Context;

/// Arguments of `trustband bench dsp`.
#[derive(Debug, Clone)]
pub struct DspArgs {
    /// cu8 file to process; synthetic noise when absent.
    pub input: Option<PathBuf>,
    /// Complex samples to generate when no input is given.
    pub samples: u64,
    /// Where to write the generated cu8 data (for the scipy reference script).
    pub write: Option<PathBuf>,
}

/// Sample rate the benchmark pretends the data has (an RTL-SDR's usual 2.4 MS/s); it only
/// sets how many samples make a 100 ms sensing window.
const BENCH_RATE_HZ: f64 = 2.4e6;
/// Sensing window of the benchmark.
const BENCH_WINDOW_S: f64 = 0.1;
/// Seed of the generated noise.
const BENCH_SEED: u64 = 2024;

/// Runs the DSP benchmark: Welch PSD (FFT 1024, Hann, 50 % overlap) + per-channel power +
/// noise tracking + decision on cu8 input, one thread. Prints figures; the last line is
/// `msps: N`.
///
/// # Errors
/// An unreadable input or an unwritable `--write` path.
pub fn dsp(args: &DspArgs) -> anyhow::Result<()> {
    let data = match &args.input {
        Some(path) => std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        None => {
            let samples = usize::try_from(args.samples)
                .map_err(|_| crate::bad_input("--samples does not fit this machine"))?;
            radio::detector::bench_noise_cu8(samples, BENCH_SEED)
        }
    };
    if let Some(path) = &args.write {
        std::fs::write(path, &data).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote: {}", path.display());
    }
    // Warm the caches and the FFT planner once, so the figure is the steady state.
    let warm = data.len().min(2 * 1_000_000);
    radio::detector::bench_dsp(
        data.get(..warm).unwrap_or(&data),
        BENCH_RATE_HZ,
        BENCH_WINDOW_S,
    )?;
    let result = radio::detector::bench_dsp(&data, BENCH_RATE_HZ, BENCH_WINDOW_S)?;
    println!(
        "fft: 1024 hann overlap 0.5, window {BENCH_WINDOW_S} s at {BENCH_RATE_HZ} Hz, 1 thread"
    );
    println!("samples: {}", result.samples);
    println!("windows: {} (busy {})", result.windows, result.busy);
    println!("seconds: {:.3}", result.seconds);
    println!("msps: {:.1}", result.msps);
    Ok(())
}
