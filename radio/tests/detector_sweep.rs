//! Sweeping a band plan wider than the front end: hop planning and a detector that decides
//! on whichever channels the current hop covers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use radio::Error;
use radio::detector::{Channel, DetectorConfig, EnergyDetector, plan_sweep};
use radio::source::synthetic::{
    PrimaryUser, ScenarioConfig, Schedule, SignalKind, SyntheticSource,
};
use radio::source::{BlockMeta, IqSource};

const RATE: f64 = 2.4e6;
const CROP: f64 = 0.05;

fn covered(ch: &Channel, centers: &[f64]) -> bool {
    let half = RATE * (0.5 - CROP);
    centers.iter().any(|c| {
        ch.center_hz - ch.bandwidth_hz / 2.0 >= c - half - 1.0
            && ch.center_hz + ch.bandwidth_hz / 2.0 <= c + half + 1.0
    })
}

#[test]
fn gsm900_downlink_needs_thirteen_hops_and_every_channel_fits_one() {
    let plan = radio::bandplan::builtin("gsm900-dl").unwrap();
    let channels = plan.channels();
    let centers = plan_sweep(&channels, RATE, CROP).unwrap();
    // 124 x 200 kHz = 24.8 MHz over 2.16 MHz usable per hop, whole channels only: 10 fit each.
    assert_eq!(centers.len(), 13, "{centers:?}");
    for ch in &channels {
        assert!(covered(ch, &centers), "{} not covered", ch.name);
    }
    assert!(centers.windows(2).all(|w| w[1] > w[0]));
}

#[test]
fn a_plan_that_fits_needs_one_centre() {
    let channels: Vec<Channel> = (0..4)
        .map(|i| Channel {
            name: format!("c{i}"),
            center_hz: 100e6 + f64::from(i) * 400e3,
            bandwidth_hz: 300e3,
        })
        .collect();
    let centers = plan_sweep(&channels, RATE, CROP).unwrap();
    assert_eq!(centers, vec![100.6e6]);
}

#[test]
fn a_channel_wider_than_the_front_end_is_refused() {
    let tv = radio::bandplan::builtin("uhf-tv").unwrap().channels();
    let err = plan_sweep(&tv, RATE, CROP).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidField { field, .. } if field == "channels"),
        "{err}"
    );
    assert!(err.to_string().contains("CH21"), "{err}");
}

#[test]
fn sweeping_detector_decides_on_the_hop_in_view() {
    let channels = vec![
        Channel {
            name: "low".into(),
            center_hz: 99.5e6,
            bandwidth_hz: 200e3,
        },
        Channel {
            name: "high".into(),
            center_hz: 102.5e6,
            bandwidth_hz: 200e3,
        },
    ];
    let centers = plan_sweep(&channels, RATE, CROP).unwrap();
    assert_eq!(centers.len(), 2);
    let config = DetectorConfig {
        window_s: 0.01,
        ..DetectorConfig::default()
    };
    let mut det = EnergyDetector::new_sweep(config, RATE, &centers, channels).unwrap();
    // Two receivers' worth of samples: only the low hop has a primary user in view.
    let source = |center: f64, pu: bool, seed: u64| {
        SyntheticSource::new(ScenarioConfig {
            seed,
            sample_rate_hz: RATE,
            center_hz: center,
            primary_users: if pu {
                vec![PrimaryUser {
                    name: "pu".into(),
                    center_hz: 99.5e6,
                    bandwidth_hz: 150e3,
                    signal: SignalKind::Gaussian,
                    snr_db: 6.0,
                    position_m: None,
                    schedule: Schedule::AlwaysOn,
                }]
            } else {
                Vec::new()
            },
            ..ScenarioConfig::default()
        })
        .unwrap()
    };
    let mut hops = [source(centers[0], true, 1), source(centers[1], false, 2)];
    let (mut index, mut buf, mut out) = (0u64, Vec::new(), Vec::new());
    let window = det.window_len();
    let (mut low_busy, mut low_seen, mut high_busy, mut high_seen) = (0, 0, 0, 0);
    for hop in 0..40 {
        let src = &mut hops[hop % 2];
        src.read_block(window, &mut buf).unwrap().unwrap();
        let meta = BlockMeta {
            sample_index: index,
            sample_rate_hz: RATE,
            center_hz: centers[hop % 2],
            time_s: index as f64 / RATE,
        };
        det.process(&meta, &buf, &mut out).unwrap();
        index += buf.len() as u64;
        for report in out.drain(..) {
            assert_eq!(report.decisions.len(), 1, "one channel per hop");
            let d = &report.decisions[0];
            match d.channel.as_str() {
                "low" => {
                    assert_eq!(report.center_hz, centers[0]);
                    low_seen += 1;
                    low_busy += usize::from(d.busy);
                }
                "high" => {
                    assert_eq!(report.center_hz, centers[1]);
                    high_seen += 1;
                    high_busy += usize::from(d.busy);
                }
                other => panic!("unexpected channel {other}"),
            }
        }
    }
    assert_eq!((low_seen, high_seen), (20, 20));
    assert_eq!(low_busy, 20, "the primary user is always on in the low hop");
    assert!(high_busy <= 2, "{high_busy} false alarms in the quiet hop");
}

#[test]
fn sweep_with_an_uncovered_channel_names_it() {
    let channels = vec![Channel {
        name: "far".into(),
        center_hz: 200e6,
        bandwidth_hz: 200e3,
    }];
    let err =
        EnergyDetector::new_sweep(DetectorConfig::default(), RATE, &[100e6], channels).unwrap_err();
    assert!(
        matches!(&err, Error::ChannelOutsideBand { channel, .. } if channel == "far"),
        "{err}"
    );
}
