//! Command-line interface: flag parsing and dispatch. Each subcommand's work lives in its own
//! module of this crate; this file only turns flags into their argument structs and errors into
//! exit codes.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::sense::{OutputFormat, SenseArgs, SourceArgs};

/// Exit code for bad input: a malformed file, flag or config.
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit code for a failure at run time (device lost, I/O error on output).
pub const EXIT_FAILURE: u8 = 1;

/// trustband: an SDR-in-the-loop cognitive radio testbed.
#[derive(Debug, Parser)]
#[command(name = "trustband", version, about, long_about = None)]
struct Cli {
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info`, `trustband=debug`. Gossipsub's
    /// warning on re-publishing a message it already has is expected (transactions are
    /// re-sent until mined) and kept out of the default.
    #[arg(
        long,
        global = true,
        env = "TRUSTBAND_LOG",
        default_value = "warn,libp2p_gossipsub::behaviour=error"
    )]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the testbed: the embedded synthetic scenario by default.
    Run(RunFlags),
    /// Run one lab node: a dongle or a recording, libp2p to its peers, the chain in its data
    /// directory (restart resumes from it), until Ctrl-C.
    Node(NodeFlags),
    /// Write a fresh OS-random account key to a file (mode 0600) for `wallet.key_file`; prints
    /// its address and public key.
    Keygen(KeygenFlags),
    /// Energy-detect channels in a recording (or live, with `--device`).
    Sense(SenseFlags),
    /// Record IQ from a SoapySDR device to a SigMF recording.
    Record(RecordFlags),
    /// Draw a waterfall PNG of a recording with channel edges and detections.
    Plot(PlotFlags),
    /// Benchmarks that print machine-readable figures.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Paper B's leasing economics: the micro operator's optimal price and mining share.
    Econ(EconFlags),
    /// The Proof-of-Trust chain: verify a store, benchmark validation.
    #[command(subcommand)]
    Chain(ChainCommand),
    /// A running node's status over its local API: height, head, peers, trust, decisions.
    Status(StatusFlags),
    /// The dashboard, attached to a running node's local API.
    Tui(TuiFlags),
}

#[derive(Debug, Args)]
struct StatusFlags {
    /// The node's local API, HOST:PORT.
    #[arg(long, default_value = crate::api::DEFAULT_ADDR)]
    connect: String,
    /// Print the node's status JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct TuiFlags {
    /// The node's local API, HOST:PORT.
    #[arg(long, default_value = crate::api::DEFAULT_ADDR)]
    connect: String,
    /// Frames per second at most (1-60).
    #[arg(long, default_value_t = 10)]
    fps: u16,
}

#[derive(Debug, Args)]
struct EconFlags {
    /// Clearing price p_s per unit bandwidth, in [0, 1].
    #[arg(
        long,
        allow_negative_numbers = true,
        required_unless_present = "figures"
    )]
    ps: Option<f64>,
    /// Mining reward rate p_w, in [0, 1].
    #[arg(
        long,
        allow_negative_numbers = true,
        required_unless_present = "figures"
    )]
    pw: Option<f64>,
    /// Redundant compute share γ (mining up to it costs no service), in [0, 1).
    #[arg(
        long,
        allow_negative_numbers = true,
        required_unless_present = "figures"
    )]
    gamma: Option<f64>,
    /// Leased bandwidth W capping demand, in (0, 1e9] (no cap if absent).
    #[arg(long, allow_negative_numbers = true)]
    capacity: Option<f64>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Instead: write paper B's Fig. 3 and Fig. 4 as PNGs into this directory.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["ps", "pw", "gamma", "capacity", "json"])]
    figures: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum ChainCommand {
    /// Re-validate a stored chain from genesis or its checkpoint; print height, head, state root.
    Verify {
        /// The node's data directory.
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Signed transfers validated, applied and committed per second; ring-16 verify time.
    Bench {
        /// Transfers in total.
        #[arg(long, default_value_t = crate::chain_cmd::BenchArgs::default().transfers)]
        transfers: usize,
        /// Transfers per block (one storage commit each).
        #[arg(long, default_value_t = crate::chain_cmd::BenchArgs::default().per_block)]
        per_block: usize,
        /// Funded accounts.
        #[arg(long, default_value_t = crate::chain_cmd::BenchArgs::default().accounts)]
        accounts: usize,
        /// Signature-checking threads.
        #[arg(long, default_value_t = crate::chain_cmd::BenchArgs::default().threads)]
        threads: usize,
    },
    /// Test aid: appends blocks to a store, printing `ack <height> <hash>` after each commit
    /// (the crash test kills it at random moments).
    #[command(hide = true)]
    CrashWriter {
        /// Data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// Blocks to append.
        #[arg(long, default_value_t = 1000)]
        blocks: u64,
        /// Transfers per block.
        #[arg(long, default_value_t = 4)]
        txs_per_block: usize,
    },
}

#[derive(Debug, Args)]
struct NodeFlags {
    /// Node file (`testbed = ...`, `name`, `data_dir`), or a testbed with --name and --data-dir.
    #[arg(long)]
    config: PathBuf,
    /// The node's name in the testbed (overrides the node file's).
    #[arg(long)]
    name: Option<String>,
    /// Data directory (overrides the node file's).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Print nothing on stderr but errors (events still reach the API and status.json).
    #[arg(long)]
    quiet: bool,
    /// Allow a key derived from the node's name or `wallet.seed` (no `wallet.key_file`).
    /// Anyone can derive such a key and spend the account: throwaway test networks only.
    #[arg(long)]
    insecure_test_keys: bool,
}

#[derive(Debug, Args)]
struct KeygenFlags {
    /// Key file to write (64 hex digits, mode 0600); an existing file is never overwritten.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, Args)]
struct RunFlags {
    /// Testbed TOML (default: the embedded synthetic scenario).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Rounds to run (each: one sensing task per channel).
    #[arg(long, default_value_t = 20)]
    rounds: u64,
    /// Seed for every random choice of the scenario.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// No dashboard, progress lines only.
    #[arg(long)]
    headless: bool,
    /// Where to write the summary JSON (stdout if absent).
    #[arg(long)]
    summary: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct SourceFlags {
    /// IQ input: a raw file (`cu8`, `ci8`/`cs8`, `ci16_le`, `cf32_le`) or a `.sigmf-meta`.
    #[arg(long, required_unless_present = "device")]
    input: Option<PathBuf>,
    /// Sample format of a raw input (default: from the file name).
    #[arg(long)]
    format: Option<String>,
    /// Sample rate in Hz of a raw input (default: from the file name, e.g. `_250k`).
    #[arg(long)]
    rate: Option<f64>,
    /// RF centre frequency in Hz of a raw input (default: from the file name, e.g. `_433.92M`).
    #[arg(long)]
    center: Option<f64>,
    /// Sense live from a SoapySDR device instead (`driver=rtlsdr`; needs `--features soapy`).
    #[arg(long, conflicts_with = "input")]
    device: Option<String>,
    /// Tuner gain in dB for `--device` (AGC if absent).
    #[arg(long, requires = "device")]
    gain: Option<f64>,
    /// Seconds to sense from `--device` (until Ctrl-C if absent).
    #[arg(long, requires = "device")]
    duration: Option<f64>,
    /// Replay a file at its sample rate (as a dongle would deliver it) instead of at full speed.
    #[arg(long, conflicts_with = "device")]
    realtime: bool,
}

#[derive(Debug, Args)]
struct DetectorFlags {
    /// Band plan: a built-in name (`ism-433`, `adsb-1090`, `gsm900-dl`, `lte-b20-dl`, `uhf-tv`,
    /// `cbrs`) or a TOML path.
    #[arg(long, conflicts_with = "channel")]
    band_plan: Option<String>,
    /// A channel as `CENTER_HZ:BW_HZ` (repeatable). Default: the central 80 % of the band.
    #[arg(long, value_name = "CENTER_HZ:BW_HZ")]
    channel: Vec<String>,
    /// Sensing window in milliseconds (one decision per channel per window).
    #[arg(long, default_value_t = 100.0)]
    window_ms: f64,
    /// Target false-alarm probability per decision.
    #[arg(long, default_value_t = 0.01)]
    pfa: f64,
    /// FFT size (default: 1024, smaller when the window is short).
    #[arg(long)]
    fft: Option<usize>,
    /// Segment overlap fraction in [0, 1).
    #[arg(long, default_value_t = 0.5)]
    overlap: f64,
}

#[derive(Debug, Args)]
struct SenseFlags {
    #[command(flatten)]
    source: SourceFlags,
    #[command(flatten)]
    detector: DetectorFlags,
    /// Output: `jsonl` (stdout), `csv` (rtl_power format, stdout) or `sigmf` (annotations
    /// written beside the recording).
    #[arg(long, default_value = "jsonl")]
    output: OutputFormat,
}

#[derive(Debug, Args)]
struct RecordFlags {
    /// SoapySDR device args, e.g. `driver=rtlsdr`.
    #[arg(long)]
    device: String,
    /// Centre frequency in Hz.
    #[arg(long)]
    center: f64,
    /// Sample rate in Hz.
    #[arg(long)]
    rate: f64,
    /// Gain in dB (AGC if absent).
    #[arg(long)]
    gain: Option<f64>,
    /// Seconds to record.
    #[arg(long)]
    duration: f64,
    /// Output name: writes NAME.sigmf-data and NAME.sigmf-meta.
    #[arg(long)]
    out: PathBuf,
    /// Latitude in degrees for `core:geolocation`.
    #[arg(long, requires = "lon")]
    lat: Option<f64>,
    /// Longitude in degrees for `core:geolocation`.
    #[arg(long, requires = "lat")]
    lon: Option<f64>,
    /// Altitude in metres for `core:geolocation`.
    #[arg(long, requires = "lat")]
    alt: Option<f64>,
}

#[derive(Debug, Args)]
struct PlotFlags {
    #[command(flatten)]
    source: SourceFlags,
    #[command(flatten)]
    detector: DetectorFlags,
    /// PNG to write.
    #[arg(long, default_value = "waterfall.png")]
    out: PathBuf,
    /// Image width in pixels.
    #[arg(long, default_value_t = 1200)]
    width: u32,
    /// Image height in pixels.
    #[arg(long, default_value_t = 800)]
    height: u32,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// PSD + per-channel power + decision on cu8 input, single thread; last line `msps: N`.
    Dsp(BenchDspFlags),
}

#[derive(Debug, Args)]
struct BenchDspFlags {
    /// cu8 file to process (default: synthetic noise generated in memory).
    #[arg(long)]
    input: Option<PathBuf>,
    /// Complex samples to generate when no input is given.
    #[arg(long, default_value_t = 24_000_000)]
    samples: u64,
    /// Also write the generated cu8 data here (to feed `scripts/welch_reference.py`).
    #[arg(long)]
    write: Option<PathBuf>,
}

impl SourceFlags {
    fn into_args(self) -> SourceArgs {
        SourceArgs {
            input: self.input,
            format: self.format,
            rate: self.rate,
            center: self.center,
            device: self.device,
            gain: self.gain,
            duration: self.duration,
            realtime: self.realtime,
        }
    }
}

impl DetectorFlags {
    fn into_sense_args(self, source: SourceFlags, output: OutputFormat) -> SenseArgs {
        SenseArgs {
            source: source.into_args(),
            band_plan: self.band_plan,
            channels: self.channel,
            window_ms: self.window_ms,
            pfa: self.pfa,
            fft: self.fft,
            overlap: self.overlap,
            output,
        }
    }
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli.log);
    match dispatch(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that stopped early (`| head`) is not a failure of ours.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(exit_code(&err))
        }
    }
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // A second init (tests calling main twice) is harmless: keep the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // stderr, or the dashboard's log file while a dashboard is open (so log lines do not
        // draw over it).
        .with_writer(crate::dashboard::log_writer)
        .with_ansi(false)
        .try_init();
}

fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Run(f) => crate::demo::run(&crate::demo::RunArgs {
            config: f.config,
            rounds: f.rounds,
            seed: f.seed,
            headless: f.headless,
            summary: f.summary,
        }),
        Command::Node(f) => node_command(&f),
        Command::Keygen(f) => keygen_command(&f),
        Command::Sense(f) => crate::sense::sense(&f.detector.into_sense_args(f.source, f.output)),
        Command::Record(f) => crate::record::record_command(&crate::record::RecordArgs {
            device: f.device,
            center_hz: f.center,
            rate_hz: f.rate,
            gain_db: f.gain,
            duration_s: f.duration,
            out: f.out,
            lat: f.lat,
            lon: f.lon,
            alt: f.alt,
        }),
        Command::Plot(f) => {
            let sense = f.detector.into_sense_args(f.source, OutputFormat::Jsonl);
            crate::sense::plot(&sense, &f.out, f.width, f.height)
        }
        Command::Chain(c) => chain_command(c),
        Command::Status(f) => crate::api::commands::status(
            &crate::api::commands::StatusArgs {
                connect: f.connect,
                json: f.json,
            },
            &mut std::io::stdout().lock(),
        ),
        Command::Tui(f) => crate::api::commands::tui(&crate::api::commands::TuiArgs {
            connect: f.connect,
            fps: f.fps,
        }),
        Command::Econ(f) => match (f.figures, f.ps, f.pw, f.gamma) {
            (Some(dir), ..) => {
                for path in crate::econ::write_figures(&dir)? {
                    eprintln!("wrote {}", path.display());
                }
                Ok(())
            }
            (None, Some(ps), Some(pw), Some(gamma)) => crate::econ::econ(&crate::econ::EconArgs {
                ps,
                pw,
                gamma,
                capacity: f.capacity,
                json: f.json,
            }),
            _ => Err(crate::bad_input(
                "econ needs --ps, --pw and --gamma (or --figures DIR)",
            )),
        },
        Command::Bench(BenchCommand::Dsp(f)) => crate::bench::dsp(&crate::bench::DspArgs {
            input: f.input,
            samples: f.samples,
            write: f.write,
        }),
    }
}

/// `trustband keygen --out FILE`: a fresh OS-random key, mode 0600, never over an existing file.
fn keygen_command(f: &KeygenFlags) -> anyhow::Result<()> {
    let key = crate::node::wallet::create_key_file(&f.out)?;
    eprintln!("wrote {} (mode 0600)", f.out.display());
    println!("address {}", key.address());
    println!("public_key {}", key.public_key());
    Ok(())
}

/// `trustband node`: a multi-threaded tokio runtime (the libp2p task keeps running while the
/// node senses), Ctrl-C and SIGTERM cancel the node's shutdown token.
fn node_command(f: &NodeFlags) -> anyhow::Result<()> {
    let (file, testbed) =
        crate::node::runtime::load(&f.config, f.name.as_deref(), f.data_dir.as_deref())?;
    let keys = if f.insecure_test_keys {
        crate::node::runtime::KeyPolicy::InsecureTestKeys
    } else {
        crate::node::runtime::KeyPolicy::KeyFileOnly
    };
    // Refuse a name-derived key before anything listens (run checks it again).
    crate::node::runtime::node_key(&testbed, testbed.node(&file.name)?, keys)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let shutdown = crate::node::runtime::shutdown_on_signals();
        let mut hooks = crate::node::runtime::NodeHooks {
            print: !f.quiet,
            ..Default::default()
        };
        // The local API, when the node file asks for one: it streams the node's events and
        // answers `status` from the hooks.
        let mut api_task = None;
        if let Some(addr) = &file.api_addr {
            // Account queries read the head state the node publishes on every new head
            // (genesis until the node starts).
            let (head_tx, head_rx) =
                tokio::sync::watch::channel(std::sync::Arc::new(testbed.genesis()?.build()?.state));
            let lookup = crate::api::head_state_lookup(testbed.account_names(), head_rx);
            hooks.head = Some(head_tx);
            let api = crate::api::start_for_node(
                addr,
                &file.name,
                Some(lookup),
                shutdown.clone(),
                crate::api::ServerConfig::default(),
            )
            .await?;
            if !f.quiet {
                eprintln!("local API on {}", api.local_addr);
            }
            hooks.events = Some(api.events);
            hooks.status = Some(api.status);
            api_task = Some(api.task);
        }
        let result =
            crate::node::runtime::run(&file, &testbed, keys, hooks, shutdown.clone()).await;
        shutdown.cancel();
        if let Some(task) = api_task {
            let _ = task.await;
        }
        result
    })
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn chain_command(command: ChainCommand) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match command {
        ChainCommand::Verify { data_dir } => {
            crate::chain_cmd::verify(&crate::chain_cmd::VerifyArgs { data_dir }, &mut out)
                .map(|_| ())
        }
        ChainCommand::Bench {
            transfers,
            per_block,
            accounts,
            threads,
        } => crate::chain_cmd::bench(
            &crate::chain_cmd::BenchArgs {
                transfers,
                per_block,
                accounts,
                threads,
            },
            &mut out,
        ),
        ChainCommand::CrashWriter {
            data_dir,
            blocks,
            txs_per_block,
        } => crate::chain_cmd::crash_writer(
            &crate::chain_cmd::CrashWriterArgs {
                data_dir,
                blocks,
                txs_per_block,
            },
            &mut out,
        ),
    }
}

/// Maps an error to the process exit code: 2 for bad input (files, flags, configs), 1 otherwise.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if cause.downcast_ref::<crate::BadInput>().is_some() {
            return EXIT_BAD_INPUT;
        }
        if let Some(radio_err) = cause.downcast_ref::<radio::Error>() {
            return if is_bad_input(radio_err) {
                EXIT_BAD_INPUT
            } else {
                EXIT_FAILURE
            };
        }
    }
    EXIT_FAILURE
}

fn is_bad_input(err: &radio::Error) -> bool {
    use radio::Error as E;
    match err {
        E::Io { source, .. } => matches!(
            source.kind(),
            std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
        ),
        E::Device { .. } => false,
        _ => true,
    }
}
