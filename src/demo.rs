//! `trustband run`: the whole testbed in one process, deterministically.
//!
//! Every node of a testbed (the embedded default: six nodes sensing four channels of a
//! synthetic UHF scene with primary users switching on and off) runs the real node code
//! ([`crate::node::core::Node`]) on the simulated network and one virtual clock
//! ([`crate::node::sim::Simulation`]): the highest-trust node opens a sensing task per channel
//! and round, sensors sense their round's window and upload ring-signed reports, the chain fuses
//! them, idle channels are auctioned and leased, returning primary users suspend leases, and
//! every node mines under PoT with its own difficulty.
//!
//! Data flow: [`RunArgs`] -> [`crate::node::config::TestbedConfig`] (embedded default or
//! `--config`) -> [`crate::node::sim::Simulation`] stepped until the last round is fused and
//! settled on the first node's chain -> mining stops and the network settles -> the
//! [`Summary`] (JSON, stdout or `--summary`), byte-identical for the same seed. A progress line
//! per round goes to stderr (or to [`RunHooks::progress`]); every node's events go to
//! [`RunHooks::events`] (the dashboard's hook).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

use crate::bad_input;
pub use crate::node::config::DEFAULT_TESTBED as DEFAULT_SCENARIO;
use crate::node::config::TestbedConfig;
use crate::node::sim::Simulation;
pub use crate::node::sim::Summary;
use crate::node::{EventSink, NodeEvent};

/// Arguments of `trustband run`.
#[derive(Debug, Clone)]
pub struct RunArgs {
    /// Testbed TOML; the embedded default when absent.
    pub config: Option<PathBuf>,
    /// Rounds to run (per channel).
    pub rounds: u64,
    /// Seed of every random choice (scenario, network, mining).
    pub seed: u64,
    /// Never open the dashboard.
    pub headless: bool,
    /// Where to write the summary JSON; stdout when absent.
    pub summary: Option<PathBuf>,
}

/// One round, as the progress callback sees it (fused on the first node's chain).
#[derive(Debug, Clone, PartialEq)]
pub struct RoundProgress {
    /// Round number (0-based).
    pub round: u64,
    /// Rounds in the run.
    pub rounds: u64,
    /// Head height of the first node.
    pub height: u64,
    /// Virtual time, ms.
    pub virtual_ms: u64,
    /// Per channel: name, fused busy?, busy reports, reports.
    pub channels: Vec<(String, bool, u64, u64)>,
}

impl RoundProgress {
    /// The stderr line: `round   3/30: ch-a BUSY (5/5)  ch-b idle (0/4) ... height 17, 16.2 s`.
    #[must_use]
    pub fn line(&self) -> String {
        let mut line = format!("round {:>4}/{}:", self.round + 1, self.rounds);
        for (name, busy, b, n) in &self.channels {
            line.push_str(&format!(
                "  {name} {} ({b}/{n})",
                if *busy { "BUSY" } else { "idle" }
            ));
        }
        #[allow(clippy::cast_precision_loss)]
        let secs = self.virtual_ms as f64 / 1000.0;
        line.push_str(&format!("  height {}, {secs:.1} s", self.height));
        line
    }
}

/// A per-round progress callback.
pub type ProgressFn = Box<dyn FnMut(&RoundProgress) + Send>;

/// Where `run` reports while it runs (the dashboard's hook).
#[derive(Default)]
pub struct RunHooks {
    /// Every node's events (each names its node).
    pub events: Option<Box<dyn EventSink + Send>>,
    /// Called once per round; `None`: a line on stderr.
    pub progress: Option<ProgressFn>,
    /// Slow virtual time down to at most this many virtual seconds per wall second (for a
    /// watcher); `None`: as fast as possible.
    pub pace: Option<f64>,
}

impl std::fmt::Debug for RunHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunHooks")
            .field("events", &self.events.is_some())
            .field("progress", &self.progress.is_some())
            .field("pace", &self.pace)
            .finish()
    }
}

/// Runs `trustband run` and writes the summary.
///
/// # Errors
/// An invalid testbed (exit code 2), a run that does not finish, an unwritable summary.
pub fn run(args: &RunArgs) -> anyhow::Result<()> {
    if !args.headless && crate::dashboard::terminal_available() {
        // The dashboard takes the terminal: no progress lines; virtual time is paced so the
        // run can be watched.
        let work_args = args.clone();
        let finished = crate::dashboard::with_dashboard(
            move |events| {
                run_with(
                    &work_args,
                    RunHooks {
                        events: Some(Box::new(events)),
                        progress: Some(Box::new(|_| {})),
                        pace: Some(DASHBOARD_PACE),
                    },
                )
            },
            dashboard_options(&load_testbed(args)?),
        )?;
        return match finished {
            Some(summary) => write_summary(args, &summary?),
            // The user quit before the run finished: no summary.
            None => Ok(()),
        };
    }
    let summary = run_with(args, RunHooks::default())?;
    write_summary(args, &summary)
}

/// The dashboard's options for watching `testbed`: the first node's chain view, the ideal
/// block interval τ* of its chain parameters and the CSC's trust threshold (trust selection
/// only). Sharecoin amounts are whole base units (the chain defines no decimal places).
#[must_use]
pub fn dashboard_options(testbed: &TestbedConfig) -> crate::dashboard::DashboardOptions {
    let params = &testbed.chain.params;
    let mut options = crate::dashboard::DashboardOptions::default();
    options.aggregator.primary = testbed.nodes.first().map(|n| n.name.clone());
    options.aggregator.target_interval_ms = Some(f64::from(params.target_interval_ms));
    options.aggregator.trust_threshold = match params.contracts.csc.selection {
        #[allow(clippy::cast_possible_truncation)]
        fusion::SelectionScheme::Trust { threshold } => Some(threshold.to_f64() as f32),
        _ => None,
    };
    options.aggregator.coin_decimals = 0;
    options
}

/// Virtual seconds per wall second while the dashboard watches a run.
pub const DASHBOARD_PACE: f64 = 5.0;

/// Writes the summary JSON where `args` says.
///
/// # Errors
/// An unwritable path or stdout.
pub fn write_summary(args: &RunArgs, summary: &Summary) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(summary)?;
    match &args.summary {
        Some(path) => std::fs::write(path, json + "\n")
            .with_context(|| format!("writing the summary to {}", path.display()))?,
        None => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{json}")?;
        }
    }
    Ok(())
}

/// Loads the testbed `args` names.
///
/// # Errors
/// An invalid file (exit code 2).
pub fn load_testbed(args: &RunArgs) -> anyhow::Result<TestbedConfig> {
    match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| bad_input(format!("{}: {e}", path.display())))?;
            if crate::node::config::NodeFile::is_node_file(&text) {
                return Err(bad_input(format!(
                    "{}: this is a node file (it names a testbed); `run` takes the testbed itself",
                    path.display()
                )));
            }
            TestbedConfig::parse(&text, &path.display().to_string(), path.parent())
        }
        None => TestbedConfig::embedded_default(),
    }
}

/// Records the first node's task openings and fusions, for progress lines, and forwards
/// every event to the user's sink.
struct Tee {
    first: String,
    inner: Option<Box<dyn EventSink + Send>>,
    rounds_of_task: BTreeMap<u64, u64>,
    fused: BTreeMap<u64, BTreeMap<String, (bool, u64, u64)>>,
    height: u64,
}

impl EventSink for Tee {
    fn emit(&mut self, event: NodeEvent) {
        if let NodeEvent::Contract {
            node,
            kind,
            channel,
            detail,
            height,
            ..
        } = &event
            && *node == self.first
        {
            let field = |k: &str| detail.get(k).and_then(serde_json::Value::as_u64);
            match kind.as_str() {
                "task_opened" => {
                    if let (Some(task), Some(round)) = (field("task"), field("round")) {
                        self.rounds_of_task.insert(task, round);
                    }
                }
                "fused" => {
                    if let (Some(task), Some(ch)) = (field("task"), channel) {
                        let busy = detail.get("busy").and_then(serde_json::Value::as_bool);
                        if let (Some(&round), Some(busy)) = (self.rounds_of_task.get(&task), busy) {
                            self.fused.entry(round).or_default().insert(
                                ch.clone(),
                                (
                                    busy,
                                    field("busy_reports").unwrap_or(0),
                                    field("reports").unwrap_or(0),
                                ),
                            );
                            self.height = *height;
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(inner) = self.inner.as_mut() {
            inner.emit(event);
        }
    }
}

/// Runs the simulation with `hooks` and returns its summary.
///
/// # Errors
/// As [`run`], without writing.
pub fn run_with(args: &RunArgs, mut hooks: RunHooks) -> anyhow::Result<Summary> {
    let testbed = load_testbed(args)?;
    if args.rounds == 0 {
        return Err(bad_input("--rounds must be at least 1"));
    }
    let emit_psd = hooks.events.is_some();
    let mut sim = Simulation::new(&testbed, args.seed, Some(args.rounds), emit_psd)?;
    let channels = sim.channel_names().to_vec();
    let first = testbed
        .nodes
        .first()
        .map(|n| n.name.clone())
        .unwrap_or_default();
    let mut tee = Tee {
        first,
        inner: hooks.events.take(),
        rounds_of_task: BTreeMap::new(),
        fused: BTreeMap::new(),
        height: 0,
    };
    let interval = u64::from(testbed.chain.params.target_interval_ms.max(1));
    let blocks_per_round = testbed
        .chain
        .params
        .contracts
        .csc
        .deadline
        .saturating_add(1);
    // Generous: ten times the nominal duration, plus a minute.
    let limit_ms = args
        .rounds
        .saturating_mul(blocks_per_round)
        .saturating_mul(interval)
        .saturating_mul(10)
        .saturating_add(60_000);
    let started = std::time::Instant::now();
    let mut printed: BTreeSet<u64> = BTreeSet::new();
    let mut next_round = 0u64;
    let mut progress = hooks.progress.take();
    let mut report = |p: &RoundProgress| match progress.as_mut() {
        Some(f) => f(p),
        None => eprintln!("{}", p.line()),
    };
    let mut done_checked = None;
    loop {
        if !sim.step(&mut tee)? {
            return Err(anyhow::anyhow!(
                "the simulation stalled at {} ms",
                sim.now_ms()
            ));
        }
        while next_round < args.rounds
            && tee
                .fused
                .get(&next_round)
                .is_some_and(|m| m.len() >= channels.len())
        {
            if printed.insert(next_round) {
                let m = tee.fused.get(&next_round).cloned().unwrap_or_default();
                report(&RoundProgress {
                    round: next_round,
                    rounds: args.rounds,
                    height: tee.height,
                    virtual_ms: sim.now_ms(),
                    channels: channels
                        .iter()
                        .map(|c| {
                            let (busy, b, n) = m.get(c).copied().unwrap_or((true, 0, 0));
                            (c.clone(), busy, b, n)
                        })
                        .collect(),
                });
            }
            next_round += 1;
        }
        if let Some(pace) = hooks.pace
            && pace > 0.0
        {
            #[allow(clippy::cast_precision_loss)]
            let ahead = sim.now_ms() as f64 / 1000.0 / pace - started.elapsed().as_secs_f64();
            if ahead > 0.0 {
                std::thread::sleep(std::time::Duration::from_secs_f64(ahead.min(1.0)));
            }
        }
        let head = sim.nodes().first().map(|n| n.ledger().head());
        if head != done_checked {
            done_checked = head;
            if sim.rounds_done(0) {
                break;
            }
        }
        if sim.now_ms() > limit_ms {
            return Err(anyhow::anyhow!(
                "the run did not finish {} rounds within {} s of virtual time",
                args.rounds,
                limit_ms / 1000
            ));
        }
    }
    // Rounds whose line was skipped by a reorg are reported now, in order.
    for round in next_round..args.rounds {
        if printed.insert(round) {
            report(&RoundProgress {
                round,
                rounds: args.rounds,
                height: tee.height,
                virtual_ms: sim.now_ms(),
                channels: Vec::new(),
            });
        }
    }
    // Stop mining and let gossip and head polls bring every node to one head.
    sim.set_mining(false);
    let stop = sim.now_ms();
    let settle_ms = testbed.chain.sync_interval_ms.saturating_mul(3).max(3_000);
    sim.run_until(stop.saturating_add(settle_ms), &mut tee)?;
    let mut extra = 0;
    while !sim.converged() && extra < 20 {
        let t = sim
            .now_ms()
            .saturating_add(testbed.chain.sync_interval_ms.max(500));
        sim.run_until(t, &mut tee)?;
        extra += 1;
    }
    sim.summary(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn dashboard_options_follow_the_testbed() {
        let default = dashboard_options(&TestbedConfig::embedded_default().unwrap());
        assert_eq!(default.aggregator.primary.as_deref(), Some("n1"));
        assert_eq!(default.aggregator.target_interval_ms, Some(1_000.0));
        assert_eq!(default.aggregator.trust_threshold, Some(0.5));

        // Another τ*, threshold and first node; a scheme without a threshold shows none.
        let text = DEFAULT_SCENARIO
            .replace("target_interval_ms = 1_000", "target_interval_ms = 2_500")
            .replace("threshold = \"0.5\"", "threshold = \"0.75\"")
            .replacen("name = \"n1\"", "name = \"alpha\"", 1);
        let other = dashboard_options(&TestbedConfig::parse(&text, "test", None).unwrap());
        assert_eq!(other.aggregator.primary.as_deref(), Some("alpha"));
        assert_eq!(other.aggregator.target_interval_ms, Some(2_500.0));
        assert_eq!(other.aggregator.trust_threshold, Some(0.75));
        let text = DEFAULT_SCENARIO.replace(
            "selection = { scheme = \"trust\", threshold = \"0.5\" }",
            "selection = { scheme = \"random\" }",
        );
        let random = dashboard_options(&TestbedConfig::parse(&text, "test", None).unwrap());
        assert_eq!(random.aggregator.trust_threshold, None);
    }
}
