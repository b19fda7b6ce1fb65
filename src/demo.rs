//! `trustband run`: the testbed's main job.
//!
//! Until the chain and its contracts land, `run` is a cooperative-sensing demo in one process:
//! several sensing nodes each read their own synthetic front end (the same primary users, seen
//! through each node's own noise and path loss), run the energy detector once per round, and
//! the round's per-channel decisions are fused by majority and scored against the scenario's
//! ground truth.
//!
//! Data flow: [`DemoConfig`] (embedded default or `--config` TOML) -> one
//! [`radio::source::synthetic::SyntheticSource`] + [`radio::detector::EnergyDetector`] per node
//! -> per round: decisions per node and channel -> majority -> [`Summary`] (JSON).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use num_complex::Complex32;
use radio::detector::{DetectorConfig, EnergyDetector, WindowReport};
use radio::source::IqSource;
use radio::source::synthetic::{ScenarioConfig, SyntheticSource};
use serde::{Deserialize, Serialize};

use crate::bad_input;

/// The embedded default scenario (`testbed-configs/scenarios/default.toml`).
pub const DEFAULT_SCENARIO: &str = include_str!("../testbed-configs/scenarios/default.toml");

/// Arguments of `trustband run`.
#[derive(Debug, Clone)]
pub struct RunArgs {
    /// Scenario TOML; the embedded default when absent.
    pub config: Option<PathBuf>,
    /// Rounds to run.
    pub rounds: u64,
    /// Seed of the scenario's random streams (overrides the file's).
    pub seed: u64,
    /// Never open the dashboard.
    pub headless: bool,
    /// Where to write the summary JSON; stdout when absent.
    pub summary: Option<PathBuf>,
}

/// A demo scenario: the radio environment, the detector, the nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoConfig {
    /// Scenario name shown in the summary.
    pub name: String,
    /// Sensing window per round, seconds.
    #[serde(default = "default_round_s")]
    pub round_s: f64,
    /// Detector settings (`window_s` is replaced by `round_s`).
    #[serde(default)]
    pub detector: DetectorConfig,
    /// Radio environment: rate, centre, primary users (their channels are the band plan).
    pub environment: ScenarioConfig,
    /// Sensing nodes.
    #[serde(rename = "node")]
    pub nodes: Vec<NodeConfig>,
}

fn default_round_s() -> f64 {
    0.05
}

/// One sensing node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Node name.
    pub name: String,
    /// Position in metres (sets each primary user's SNR at this node by path loss).
    pub position_m: [f64; 2],
}

impl DemoConfig {
    /// Parses a scenario; `origin` names it in errors.
    ///
    /// # Errors
    /// TOML syntax or schema errors, with the file, line and key; an empty node list.
    pub fn parse(text: &str, origin: &str) -> anyhow::Result<Self> {
        let config: Self = toml::from_str(text).map_err(|err| {
            let (line, col) = err
                .span()
                .map(|span| line_col(text, span.start))
                .unwrap_or((0, 0));
            bad_input(format!("{origin}:{line}:{col}: {}", err.message()))
        })?;
        if config.nodes.is_empty() {
            return Err(bad_input(format!(
                "{origin}: `node`: at least one node is needed"
            )));
        }
        if !(config.round_s.is_finite() && config.round_s > 0.0) {
            return Err(bad_input(format!(
                "{origin}: `round_s`: {} is not a positive number of seconds",
                config.round_s
            )));
        }
        Ok(config)
    }

    /// Reads a scenario file.
    ///
    /// # Errors
    /// As [`Self::parse`], plus an unreadable file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad_input(format!("{}: {e}", path.display())))?;
        Self::parse(&text, &path.display().to_string())
    }
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, col)
}

/// Per-node figures in the summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeSummary {
    /// Node name.
    pub name: String,
    /// Roles the node plays.
    pub roles: Vec<String>,
    /// Fraction of its decisions that agreed with the fused decision.
    pub agreement: f64,
}

/// Per-channel figures in the summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelSummary {
    /// Channel name.
    pub name: String,
    /// Rounds whose fused decision was busy.
    pub busy_decisions: u64,
    /// Rounds whose fused decision was idle.
    pub idle_decisions: u64,
    /// Fraction of rounds whose fused decision matched the ground truth.
    pub accuracy: f64,
}

/// What `trustband run` prints at the end.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// Seed used.
    pub seed: u64,
    /// Rounds run.
    pub rounds: u64,
    /// Per node.
    pub nodes: Vec<NodeSummary>,
    /// Per channel.
    pub channels: Vec<ChannelSummary>,
    /// Fused detection probability over all channels and rounds with the primary user on.
    pub pd: f64,
    /// Fused false-alarm probability over all channels and rounds with it off.
    pub pf: f64,
}

struct Node {
    name: String,
    source: SyntheticSource,
    detector: EnergyDetector,
    agreed: u64,
    decided: u64,
}

/// Runs the demo and writes the summary.
///
/// # Errors
/// An invalid scenario (exit code 2) or an unwritable summary path.
pub fn run(args: &RunArgs) -> anyhow::Result<()> {
    let config = match &args.config {
        Some(path) => DemoConfig::load(path)?,
        None => DemoConfig::parse(DEFAULT_SCENARIO, "embedded default scenario")?,
    };
    if !args.headless {
        tracing::info!("the dashboard is not built yet; running headless");
    }
    let summary = simulate(&config, args.rounds, args.seed, |line| eprintln!("{line}"))?;
    let json = serde_json::to_string_pretty(&summary)?;
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

/// Runs `rounds` rounds of the scenario with `seed`, reporting a line per round to `progress`.
///
/// # Errors
/// An invalid scenario (rates, channels, detector settings).
pub fn simulate(
    config: &DemoConfig,
    rounds: u64,
    seed: u64,
    mut progress: impl FnMut(&str),
) -> anyhow::Result<Summary> {
    let mut nodes = Vec::with_capacity(config.nodes.len());
    for (i, node) in config.nodes.iter().enumerate() {
        let env = ScenarioConfig {
            seed,
            noise_seed: Some(
                seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                    .wrapping_add(i as u64 + 1),
            ),
            node_position_m: Some(node.position_m),
            ..config.environment.clone()
        };
        let source = SyntheticSource::new(env)
            .with_context(|| format!("node `{}`: synthetic front end", node.name))?;
        let detector = EnergyDetector::new(
            DetectorConfig {
                window_s: config.round_s,
                ..config.detector.clone()
            },
            source.info().sample_rate_hz,
            source.info().center_hz,
            source.channels(),
        )
        .with_context(|| format!("node `{}`: detector", node.name))?;
        nodes.push(Node {
            name: node.name.clone(),
            source,
            detector,
            agreed: 0,
            decided: 0,
        });
    }
    let channels = nodes
        .first()
        .map(|n| n.source.channels())
        .unwrap_or_default();
    let mut per_channel: Vec<ChannelSummary> = channels
        .iter()
        .map(|c| ChannelSummary {
            name: c.name.clone(),
            busy_decisions: 0,
            idle_decisions: 0,
            accuracy: 0.0,
        })
        .collect();
    let mut correct = vec![0u64; channels.len()];
    let (mut detections, mut on_rounds, mut false_alarms, mut off_rounds) =
        (0u64, 0u64, 0u64, 0u64);
    let mut buf: Vec<Complex32> = Vec::new();
    for round in 0..rounds {
        let mut votes = vec![0usize; channels.len()];
        let mut node_decisions: Vec<Vec<bool>> = Vec::with_capacity(nodes.len());
        let mut truth: Vec<bool> = Vec::new();
        for node in &mut nodes {
            let report = sense_one_window(node, &mut buf)?;
            let decisions: Vec<bool> = report.decisions.iter().map(|d| d.busy).collect();
            for (vote, busy) in votes.iter_mut().zip(&decisions) {
                *vote += usize::from(*busy);
            }
            if truth.is_empty() {
                truth = node
                    .source
                    .window_occupancy(report.sample_start, report.sample_count)
                    .iter()
                    .map(|share| *share >= 0.5)
                    .collect();
            }
            node_decisions.push(decisions);
        }
        let fused: Vec<bool> = votes.iter().map(|v| 2 * v > nodes.len()).collect();
        for (node, decisions) in nodes.iter_mut().zip(&node_decisions) {
            node.decided += decisions.len() as u64;
            node.agreed += decisions.iter().zip(&fused).filter(|(a, b)| a == b).count() as u64;
        }
        let mut line = format!("round {:>4}/{rounds}:", round + 1);
        for (c, (busy, on)) in fused.iter().zip(&truth).enumerate() {
            if let Some(ch) = per_channel.get_mut(c) {
                if *busy {
                    ch.busy_decisions += 1;
                } else {
                    ch.idle_decisions += 1;
                }
                line.push_str(&format!(
                    "  {} {} ({}/{}){}",
                    ch.name,
                    if *busy { "BUSY" } else { "idle" },
                    votes.get(c).copied().unwrap_or(0),
                    nodes.len(),
                    if busy == on { "" } else { " ✗" }
                ));
            }
            if busy == on
                && let Some(n) = correct.get_mut(c)
            {
                *n += 1;
            }
            if *on {
                on_rounds += 1;
                detections += u64::from(*busy);
            } else {
                off_rounds += 1;
                false_alarms += u64::from(*busy);
            }
        }
        progress(&line);
    }
    for (ch, ok) in per_channel.iter_mut().zip(&correct) {
        ch.accuracy = ratio(*ok, rounds);
    }
    Ok(Summary {
        scenario: config.name.clone(),
        seed,
        rounds,
        nodes: nodes
            .iter()
            .map(|n| NodeSummary {
                name: n.name.clone(),
                roles: vec!["sensor".to_owned()],
                agreement: ratio(n.agreed, n.decided),
            })
            .collect(),
        channels: per_channel,
        pd: ratio(detections, on_rounds),
        pf: ratio(false_alarms, off_rounds),
    })
}

/// Reads the node's front end until its detector completes one window.
fn sense_one_window(node: &mut Node, buf: &mut Vec<Complex32>) -> anyhow::Result<WindowReport> {
    let want = node.detector.window_len();
    let mut reports = Vec::with_capacity(1);
    loop {
        let Some(meta) = node.source.read_block(want, buf)? else {
            return Err(bad_input(format!(
                "node `{}`: the scenario's duration ran out",
                node.name
            )));
        };
        node.detector.process(&meta, buf, &mut reports)?;
        if let Some(report) = reports.pop() {
            return Ok(report);
        }
    }
}

fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}
