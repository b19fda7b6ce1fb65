//! `trustband econ`: paper B's leasing economics from the command line. JSON keys and the
//! SPEC 7 reference numbers at p_s = 0.15; bad flags give exit code 2 and one clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

fn trustband(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trustband"))
        .args(args)
        .env_remove("TRUSTBAND_LOG")
        .output()
        .expect("spawn trustband")
}

fn json(args: &[&str]) -> serde_json::Map<String, serde_json::Value> {
    let out = trustband(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?}: {stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_object().unwrap().clone()
}

#[track_caller]
fn near(obj: &serde_json::Map<String, serde_json::Value>, key: &str, want: f64, tol: f64) {
    let got = obj[key].as_f64().unwrap();
    assert!((got - want).abs() <= tol, "{key}: got {got}, want {want}");
}

#[test]
fn json_keys_and_reference_numbers() {
    let obj = json(&[
        "econ", "--ps", "0.15", "--pw", "0.1", "--gamma", "0.7", "--json",
    ]);
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["m", "m_h", "m_l", "p_m", "profit", "q", "regime"]);
    // SPEC 7: p_M* = 0.313917, Q* = 0.749737, service profit 0.122895 (+ p_w·γ = 0.07),
    // M_l = 0.374869, M_h = 0.411523.
    near(&obj, "p_m", 0.313_917, 5e-7);
    near(&obj, "q", 0.749_737, 5e-7);
    near(&obj, "profit", 0.122_895 + 0.07, 5e-7);
    near(&obj, "m", 0.7, 1e-12);
    near(&obj, "m_l", 0.374_869, 5e-7);
    near(&obj, "m_h", 0.411_523, 5e-7);
    assert_eq!(obj["regime"], "service_only");
}

#[test]
fn interior_and_capacity_cases() {
    // SPEC 7: p_w = 0.40 -> p_M* = 0.3043, m* = 0.7210, Q* = 0.7440, Π* = 0.4032.
    let obj = json(&[
        "econ", "--ps", "0.15", "--pw", "0.4", "--gamma", "0.7", "--json",
    ]);
    assert_eq!(obj["regime"], "interior");
    near(&obj, "p_m", 0.3043, 5e-5);
    near(&obj, "m", 0.7210, 5e-5);
    near(&obj, "q", 0.7440, 5e-5);
    near(&obj, "profit", 0.4032, 5e-5);
    let obj = json(&[
        "econ",
        "--ps",
        "0.15",
        "--pw",
        "0.1",
        "--gamma",
        "0.7",
        "--capacity",
        "0.5",
        "--json",
    ]);
    assert_eq!(obj["regime"], "capacity_bound");
    near(&obj, "q", 0.5, 1e-12);
    near(&obj, "p_m", 1.5 - 1.25_f64.sqrt(), 1e-9);
}

#[test]
fn table_output() {
    let out = trustband(&["econ", "--ps", "0.15", "--pw", "0.1", "--gamma", "0.7"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "p_M*",
        "0.313917",
        "0.749737",
        "0.374869",
        "0.411523",
        "service_only",
    ] {
        assert!(text.contains(needle), "{needle} missing: {text}");
    }
}

/// Asserts exit code 2, no panic, one short message mentioning every needle.
fn assert_bad_input(out: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "stderr lacks {needle:?}: {stderr}");
    }
    assert!(stderr.lines().count() <= 3, "too chatty: {stderr}");
    assert!(out.stdout.is_empty(), "printed a result anyway");
}

#[test]
fn out_of_range_flags_exit_2() {
    let out = trustband(&["econ", "--ps", "1.5", "--pw", "0.1", "--gamma", "0.7"]);
    assert_bad_input(&out, &["--ps", "1.5", "[0, 1]"]);
    let out = trustband(&["econ", "--ps", "0.15", "--pw", "0.1", "--gamma", "1"]);
    assert_bad_input(&out, &["--gamma", "[0, 1)"]);
    let out = trustband(&[
        "econ", "--ps", "0.15", "--pw", "NaN", "--gamma", "0.7", "--json",
    ]);
    assert_bad_input(&out, &["--pw", "NaN"]);
    let out = trustband(&[
        "econ",
        "--ps",
        "0.15",
        "--pw",
        "0.1",
        "--gamma",
        "0.7",
        "--capacity",
        "0",
    ]);
    assert_bad_input(&out, &["--capacity"]);
}

#[test]
fn figures_are_written_as_pngs() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_trustband"))
        .args(["econ", "--figures"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in ["fig3.png", "fig4.png"] {
        let file = std::fs::File::open(dir.path().join(name)).unwrap();
        let reader = png::Decoder::new(std::io::BufReader::new(file))
            .read_info()
            .unwrap();
        assert_eq!(
            (reader.info().width, reader.info().height),
            (1000, 640),
            "{name}"
        );
    }
}
