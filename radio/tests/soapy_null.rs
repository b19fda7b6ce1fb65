//! SoapySDR source against SoapySDR's built-in `driver=null` device (opens and configures,
//! every read fails with NOT_SUPPORTED) and a driver that does not exist.
#![cfg(feature = "soapy")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use num_complex::Complex32;
use radio::Error;
use radio::source::IqSource;
use radio::source::soapy::{
    Clock, GainMode, MaxAttempts, ReopenPolicy, SoapyConfig, SoapySource, SweepPlan,
};

/// A clock that never sleeps and records the waits asked of it.
#[derive(Clone, Default)]
struct FakeClock {
    sleeps: Arc<Mutex<Vec<Duration>>>,
}

impl Clock for FakeClock {
    fn now(&self) -> Duration {
        self.sleeps.lock().unwrap().iter().sum()
    }

    fn sleep(&self, d: Duration) {
        self.sleeps.lock().unwrap().push(d);
    }
}

fn null_config() -> SoapyConfig {
    SoapyConfig {
        args: "driver=null".into(),
        center_hz: 433.92e6,
        sample_rate_hz: 1.0e6,
        gain: GainMode::Manual { db: 20.0 },
        bandwidth_hz: Some(1.0e6),
        read_timeout_s: 0.01,
        reopen: ReopenPolicy {
            initial_s: 0.01,
            max_s: 0.04,
            max_attempts: MaxAttempts::Limited(3),
        },
        ..SoapyConfig::default()
    }
}

#[test]
fn null_device_opens_and_configures() {
    let src = SoapySource::open(null_config()).expect("driver=null opens");
    assert_eq!(src.facts().driver, "null");
    assert_eq!(src.info().label, "soapy(driver=null)");
    // The null device accepts settings; the source reports what it was asked for or read back.
    assert!(src.info().sample_rate_hz > 0.0);
    assert!(src.info().center_hz > 0.0);
    assert_eq!(src.stats().reopens, 0);
    assert!(src.facts().describe().contains("driver=null"));
}

#[test]
fn null_device_with_sweep_and_agc_opens() {
    let cfg = SoapyConfig {
        gain: GainMode::Agc,
        bandwidth_hz: None,
        sweep: Some(SweepPlan {
            centers_hz: vec![430e6, 431e6, 432e6],
            dwell_samples: 1000,
            settle_s: 0.0,
            discard_samples: 10,
        }),
        ..null_config()
    };
    let src = SoapySource::open(cfg).unwrap();
    assert_eq!(src.config().initial_center_hz(), 430e6);
}

#[test]
fn null_device_reads_fail_with_reopens_then_device_error() {
    let clock = FakeClock::default();
    let mut src = SoapySource::open_with_clock(null_config(), Box::new(clock.clone())).unwrap();
    let mut buf: Vec<Complex32> = Vec::new();
    let err = src.read_block(4096, &mut buf).unwrap_err();
    eprintln!("null device read: {err}");
    match &err {
        Error::Device { args, message } => {
            assert_eq!(args, "driver=null");
            assert!(message.contains("read failed: NotSupported"), "{message}");
            assert!(message.contains("gave up after 3"), "{message}");
        }
        other => panic!("expected Error::Device, got {other:?}"),
    }
    assert!(err.to_string().contains("driver=null"));
    // Three reopen attempts, each succeeding (null opens fine) and failing on the next read,
    // backing off 10, 20, 40 ms (capped at max_s).
    let sleeps = clock.sleeps.lock().unwrap().clone();
    assert_eq!(
        sleeps,
        vec![
            Duration::from_millis(10),
            Duration::from_millis(20),
            Duration::from_millis(40)
        ]
    );
    let stats = *src.stats();
    assert_eq!(stats.reopens, 3);
    assert_eq!(stats.read_errors, 4);
    assert_eq!(stats.overflows, 0);
    assert!(buf.is_empty());
}

#[test]
fn null_device_with_zero_attempts_fails_on_first_read() {
    let mut cfg = null_config();
    cfg.reopen.max_attempts = MaxAttempts::Limited(0);
    let clock = FakeClock::default();
    let mut src = SoapySource::open_with_clock(cfg, Box::new(clock.clone())).unwrap();
    let mut buf = Vec::new();
    assert!(matches!(
        src.read_block(128, &mut buf),
        Err(Error::Device { ref args, .. }) if args == "driver=null"
    ));
    assert!(clock.sleeps.lock().unwrap().is_empty());
}

#[test]
fn nonexistent_driver_is_a_device_error_naming_the_args() {
    let cfg = SoapyConfig {
        args: "driver=nonexistent".into(),
        ..null_config()
    };
    match SoapySource::open(cfg) {
        Err(Error::Device { args, message }) => {
            eprintln!("nonexistent driver: {message}");
            assert_eq!(args, "driver=nonexistent");
            assert!(message.starts_with("open failed"), "{message}");
        }
        other => panic!("expected Error::Device, got {other:?}"),
    }
}

#[test]
fn nul_in_args_is_rejected_before_the_driver_sees_it() {
    let cfg = SoapyConfig {
        args: "driver=null\0x".into(),
        ..null_config()
    };
    assert!(matches!(
        SoapySource::open(cfg),
        Err(Error::InvalidField { ref field, .. }) if field == "args"
    ));
}
