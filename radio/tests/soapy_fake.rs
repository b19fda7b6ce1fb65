//! SoapySDR source streaming logic against a scripted stand-in device: sweeping with settle
//! and discard, sample-index jumps over overflows and reopen gaps, timeouts, a pulled dongle.
#![cfg(feature = "soapy")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use num_complex::Complex32;
use radio::Error;
use radio::source::IqSource;
use radio::source::soapy::{
    Clock, DeviceFacts, DeviceOpener, MaxAttempts, ReopenPolicy, RxDevice, SoapyConfig,
    SoapySource, SweepPlan,
};
use soapysdr::ErrorCode;

const RATE: f64 = 1.0e6;

/// What the device does on one read.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Deliver up to this many samples.
    Data(usize),
    Timeout,
    /// Report an overflow; this many samples were lost in the driver.
    Overflow(u64),
    /// The dongle is gone.
    Fail,
}

/// Device, clock and opener share one timeline: stream time advances with every sample the
/// device produces (delivered or lost) and with every sleep.
#[derive(Debug)]
struct World {
    t_s: f64,
    /// Samples produced since the first open (index of the next one).
    produced: u64,
    center_hz: f64,
    /// Samples still carrying the previous centre after a retune.
    stale: u64,
    stale_center_hz: f64,
    /// Samples stale after each retune.
    stale_after_retune: u64,
    script: VecDeque<Step>,
    /// Results of the next open attempts (true = opens); empty = opens.
    opens: VecDeque<bool>,
    open_count: u32,
    sleeps: Vec<Duration>,
    hardware_time: bool,
    last_block_ns: i64,
    /// A device handle is open (samples produced while closed are lost).
    open: bool,
}

type Shared = Arc<Mutex<World>>;

fn world(stale_after_retune: u64, hardware_time: bool) -> Shared {
    Arc::new(Mutex::new(World {
        t_s: 0.0,
        produced: 0,
        center_hz: 0.0,
        stale: 0,
        stale_center_hz: 0.0,
        stale_after_retune,
        script: VecDeque::new(),
        opens: VecDeque::new(),
        open_count: 0,
        sleeps: Vec::new(),
        hardware_time,
        last_block_ns: 0,
        open: false,
    }))
}

struct FakeDevice(Shared);

impl Drop for FakeDevice {
    fn drop(&mut self) {
        self.0.lock().unwrap().open = false;
    }
}

fn soapy_err(code: ErrorCode) -> soapysdr::Error {
    soapysdr::Error {
        code,
        message: String::new(),
    }
}

impl RxDevice for FakeDevice {
    fn read(&mut self, buf: &mut [Complex32], _timeout_us: i64) -> Result<usize, soapysdr::Error> {
        let mut w = self.0.lock().unwrap();
        let step = w.script.pop_front().unwrap_or(Step::Data(256));
        match step {
            Step::Data(n) => {
                let n = n.min(buf.len());
                w.last_block_ns = (w.t_s * 1e9).round() as i64;
                for s in buf.iter_mut().take(n) {
                    let c = if w.stale > 0 {
                        w.stale -= 1;
                        w.stale_center_hz
                    } else {
                        w.center_hz
                    };
                    // re: centre in MHz; im: the sample's index in the device's timeline.
                    *s = Complex32::new((c / 1e6) as f32, w.produced as f32);
                    w.produced += 1;
                }
                w.t_s += n as f64 / RATE;
                Ok(n)
            }
            Step::Timeout => Err(soapy_err(ErrorCode::Timeout)),
            Step::Overflow(lost) => {
                w.produced += lost;
                w.t_s += lost as f64 / RATE;
                Err(soapy_err(ErrorCode::Overflow))
            }
            Step::Fail => Err(soapy_err(ErrorCode::StreamError)),
        }
    }

    fn set_center(&mut self, center_hz: f64) -> Result<(), soapysdr::Error> {
        let mut w = self.0.lock().unwrap();
        w.stale_center_hz = w.center_hz;
        w.stale = w.stale_after_retune;
        w.center_hz = center_hz;
        Ok(())
    }

    fn time_ns(&self) -> Option<i64> {
        let w = self.0.lock().unwrap();
        w.hardware_time.then_some(w.last_block_ns)
    }
}

struct FakeClock(Shared);

impl Clock for FakeClock {
    fn now(&self) -> Duration {
        Duration::from_secs_f64(self.0.lock().unwrap().t_s)
    }

    fn sleep(&self, d: Duration) {
        let mut w = self.0.lock().unwrap();
        w.sleeps.push(d);
        w.t_s += d.as_secs_f64();
        // An open device buffers what it produces meanwhile; a closed one loses it.
        if !w.open {
            w.produced += (d.as_secs_f64() * RATE).round() as u64;
        }
    }
}

fn opener(shared: Shared) -> DeviceOpener {
    Box::new(move |config: &SoapyConfig, center_hz: f64| {
        let ok = {
            let mut w = shared.lock().unwrap();
            w.open_count += 1;
            w.opens.pop_front().unwrap_or(true)
        };
        if !ok {
            return Err("open failed: Other: no device".to_owned());
        }
        let hardware_time = {
            let mut w = shared.lock().unwrap();
            w.center_hz = center_hz;
            w.stale = 0;
            w.open = true;
            w.hardware_time
        };
        Ok((
            Box::new(FakeDevice(shared.clone())) as Box<dyn RxDevice>,
            DeviceFacts {
                driver: "fake".into(),
                hardware: "fake".into(),
                hardware_info: vec![],
                sample_rate_hz: config.sample_rate_hz,
                center_hz,
                gain_db: None,
                hardware_time,
            },
        ))
    })
}

fn config() -> SoapyConfig {
    SoapyConfig {
        args: "driver=fake".into(),
        center_hz: 100e6,
        sample_rate_hz: RATE,
        reopen: ReopenPolicy {
            initial_s: 0.01,
            max_s: 0.04,
            max_attempts: MaxAttempts::Limited(3),
        },
        max_consecutive_timeouts: 4,
        ..SoapyConfig::default()
    }
}

fn open(cfg: SoapyConfig, w: &Shared) -> SoapySource {
    SoapySource::open_with(cfg, Box::new(FakeClock(w.clone())), opener(w.clone())).unwrap()
}

/// Checks that every sample's device index equals its block's `sample_index` + offset:
/// `sample_index` accounts for every discarded and lost sample.
fn assert_indices(meta: &radio::source::BlockMeta, buf: &[Complex32]) {
    for (k, s) in buf.iter().enumerate() {
        assert_eq!(
            s.im as u64,
            meta.sample_index + k as u64,
            "sample {k} of {meta:?}"
        );
    }
}

#[test]
fn sweep_hops_settles_and_discards_stale_samples() {
    let w = world(50, false);
    let cfg = SoapyConfig {
        sweep: Some(SweepPlan {
            centers_hz: vec![100e6, 102e6, 104e6],
            dwell_samples: 1000,
            settle_s: 0.002,
            discard_samples: 64,
        }),
        ..config()
    };
    let mut src = open(cfg, &w);
    let mut buf = Vec::new();
    let mut per_center: Vec<(f64, u64)> = Vec::new();
    while per_center.len() < 4 || per_center.last().unwrap().1 < 1000 {
        let meta = src.read_block(300, &mut buf).unwrap().unwrap();
        assert!(buf.len() <= 300 && !buf.is_empty());
        assert_indices(&meta, &buf);
        // Every delivered sample was taken at the block's centre: stale ones were discarded.
        for s in &buf {
            assert_eq!(f64::from(s.re), meta.center_hz / 1e6, "{meta:?}");
        }
        match per_center.last_mut() {
            Some((c, n)) if *c == meta.center_hz => *n += buf.len() as u64,
            _ => per_center.push((meta.center_hz, buf.len() as u64)),
        }
    }
    assert_eq!(
        per_center,
        vec![(100e6, 1000), (102e6, 1000), (104e6, 1000), (100e6, 1000)]
    );
    let st = *src.stats();
    assert_eq!(st.retunes, 3);
    // 64 after the first tune and after each retune.
    assert_eq!(st.discarded_samples, 4 * 64);
    // Settle sleeps only (no back-off).
    assert_eq!(w.lock().unwrap().sleeps, vec![Duration::from_millis(2); 3]);
    assert_eq!(st.reopens, 0);
}

fn overflow_gap(hardware_time: bool) {
    let w = world(0, hardware_time);
    w.lock().unwrap().script.extend([
        Step::Data(1000),
        Step::Data(1000),
        Step::Overflow(5000),
        Step::Data(1000),
    ]);
    let mut src = open(config(), &w);
    let mut buf = Vec::new();
    let m1 = src.read_block(4096, &mut buf).unwrap().unwrap();
    assert_eq!((m1.sample_index, buf.len()), (0, 1000));
    let m2 = src.read_block(4096, &mut buf).unwrap().unwrap();
    assert_eq!(m2.sample_index, 1000);
    assert!((m2.time_s - 0.001).abs() < 1e-9, "{m2:?}");
    let m3 = src.read_block(4096, &mut buf).unwrap().unwrap();
    assert_indices(&m3, &buf);
    assert_eq!(m3.sample_index, 7000, "{m3:?}");
    assert!((m3.time_s - 0.007).abs() < 1e-9, "{m3:?}");
    let st = *src.stats();
    assert_eq!((st.overflows, st.dropped_samples, st.reopens), (1, 5000, 0));
}

#[test]
fn overflow_gap_is_skipped_in_sample_index_by_clock() {
    overflow_gap(false);
}

#[test]
fn overflow_gap_is_skipped_in_sample_index_by_hardware_time() {
    overflow_gap(true);
}

#[test]
fn timeouts_are_counted_and_a_run_of_them_reopens() {
    let w = world(0, false);
    w.lock().unwrap().script.extend([
        Step::Timeout,
        Step::Timeout,
        Step::Timeout,
        Step::Data(10),
        Step::Timeout,
        Step::Timeout,
        Step::Timeout,
        Step::Timeout,
        Step::Data(10),
    ]);
    let mut src = open(config(), &w);
    let mut buf = Vec::new();
    src.read_block(100, &mut buf).unwrap().unwrap();
    assert_eq!((src.stats().timeouts, src.stats().reopens), (3, 0));
    let m = src.read_block(100, &mut buf).unwrap().unwrap();
    assert_eq!((src.stats().timeouts, src.stats().reopens), (7, 1));
    assert_indices(&m, &buf);
    assert_eq!(w.lock().unwrap().open_count, 2);
}

#[test]
fn pulled_dongle_is_reopened_with_backoff_and_streaming_resumes() {
    let w = world(0, false);
    {
        let mut g = w.lock().unwrap();
        g.script.extend([Step::Data(500), Step::Fail]);
        // First reopen attempt fails (still unplugged), the second works.
        g.opens.extend([true, false, true]);
    }
    let mut src = open(config(), &w);
    let mut buf = Vec::new();
    let m1 = src.read_block(500, &mut buf).unwrap().unwrap();
    assert_eq!(m1.sample_index, 0);
    let m2 = src.read_block(500, &mut buf).unwrap().unwrap();
    assert_indices(&m2, &buf);
    // 10 ms + 20 ms of back-off at 1 MS/s: 30 000 samples lost.
    assert_eq!(m2.sample_index, 500 + 30_000);
    let st = *src.stats();
    assert_eq!(
        (st.reopens, st.read_errors, st.dropped_samples),
        (1, 1, 30_000)
    );
    let g = w.lock().unwrap();
    assert_eq!(
        g.sleeps,
        vec![Duration::from_millis(10), Duration::from_millis(20)]
    );
    assert_eq!(g.open_count, 3);
}

#[test]
fn dongle_that_stays_away_gives_up_naming_the_args() {
    let w = world(0, false);
    {
        let mut g = w.lock().unwrap();
        g.script.extend([Step::Data(100), Step::Fail]);
        g.opens.extend([true, false, false, false, false]);
    }
    let mut src = open(config(), &w);
    let mut buf = Vec::new();
    src.read_block(100, &mut buf).unwrap().unwrap();
    match src.read_block(100, &mut buf) {
        Err(Error::Device { args, message }) => {
            assert_eq!(args, "driver=fake");
            assert!(message.contains("no device"), "{message}");
            assert!(message.contains("gave up after 3"), "{message}");
        }
        other => panic!("expected Error::Device, got {other:?}"),
    }
    let g = w.lock().unwrap();
    assert_eq!(
        g.sleeps,
        vec![
            Duration::from_millis(10),
            Duration::from_millis(20),
            Duration::from_millis(40)
        ]
    );
    assert_eq!(src.stats().reopens, 0);
}
