//! Bad input to `trustband sense` / `plot`: one clear message naming the file and field, exit
//! code 2, no panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

fn trustband(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trustband"))
        .args(args)
        .env_remove("TRUSTBAND_LOG")
        .output()
        .expect("spawn trustband")
}

/// Asserts exit code 2, no panic, and that stderr mentions every `needle`.
fn assert_bad_input(out: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "stderr lacks {needle:?}: {stderr}");
    }
    // One message, not a pile.
    assert!(stderr.lines().count() <= 3, "too chatty: {stderr}");
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn odd_byte_count_names_file_and_format() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.cs16");
    write(&path, &[0u8; 4 * 100 + 3]);
    let out = trustband(&[
        "sense",
        "--input",
        s(&path),
        "--format",
        "ci16_le",
        "--rate",
        "1e6",
        "--center",
        "1e8",
    ]);
    assert_bad_input(&out, &["odd.cs16", "403 bytes", "ci16_le"]);
}

#[test]
fn unknown_format_flag_lists_accepted_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.bin");
    write(&path, &[0u8; 64]);
    let out = trustband(&[
        "sense",
        "--input",
        s(&path),
        "--format",
        "cu12",
        "--rate",
        "1e6",
        "--center",
        "1e8",
    ]);
    assert_bad_input(&out, &["cu12", "cf32_le"]);
}

#[test]
fn unknown_sigmf_datatype_names_meta_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let meta = dir.path().join("rec.sigmf-meta");
    write(&dir.path().join("rec.sigmf-data"), &[0u8; 64]);
    write(
        &meta,
        br#"{"global":{"core:datatype":"cu12_le","core:sample_rate":1000000,"core:version":"1.2.0"},"captures":[{"core:sample_start":0,"core:frequency":1e8}],"annotations":[]}"#,
    );
    let out = trustband(&["sense", "--input", s(&meta)]);
    assert_bad_input(&out, &["rec.sigmf-meta", "core:datatype", "cu12_le"]);
}

#[test]
fn missing_sigmf_data_names_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let meta = dir.path().join("lonely.sigmf-meta");
    write(
        &meta,
        br#"{"global":{"core:datatype":"cf32_le","core:sample_rate":1000000,"core:version":"1.2.0"},"captures":[{"core:sample_start":0,"core:frequency":1e8}],"annotations":[]}"#,
    );
    let out = trustband(&["sense", "--input", s(&meta)]);
    assert_bad_input(&out, &["lonely.sigmf-meta", "lonely.sigmf-data", "missing"]);
}

#[test]
fn invalid_json_gives_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let meta = dir.path().join("broken.sigmf-meta");
    write(&dir.path().join("broken.sigmf-data"), &[0u8; 64]);
    write(
        &meta,
        b"{\n  \"global\": {\n    \"core:datatype\": \"cf32_le\",,\n  }\n}\n",
    );
    let out = trustband(&["sense", "--input", s(&meta)]);
    assert_bad_input(&out, &["broken.sigmf-meta:3:", "invalid JSON"]);
}

#[test]
fn zero_rate_names_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.cu8");
    write(&path, &[127u8; 2048]);
    let out = trustband(&[
        "sense",
        "--input",
        s(&path),
        "--rate",
        "0",
        "--center",
        "1e8",
    ]);
    assert_bad_input(&out, &["--rate", "x.cu8"]);
}

#[test]
fn unknown_band_plan_lists_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g_433.92M_250k.cu8");
    write(&path, &[127u8; 2 * 25_000]);
    let out = trustband(&["sense", "--input", s(&path), "--band-plan", "wifi-7"]);
    assert_bad_input(&out, &["wifi-7", "ism-433", "gsm900-dl"]);
}

#[test]
fn channel_outside_the_captured_band_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g_433.92M_250k.cu8");
    write(&path, &[127u8; 2 * 25_000]);
    let out = trustband(&[
        "sense",
        "--input",
        s(&path),
        "--channel",
        "868000000:200000",
    ]);
    assert_bad_input(&out, &["ch0", "outside the captured band"]);
}

#[test]
fn malformed_channel_flag_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g_433.92M_250k.cu8");
    write(&path, &[127u8; 2 * 25_000]);
    let out = trustband(&["sense", "--input", s(&path), "--channel", "433.9e6"]);
    assert_bad_input(&out, &["--channel", "CENTER_HZ:BW_HZ"]);
}

#[test]
fn raw_file_without_rate_asks_for_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("capture.cu8");
    write(&path, &[127u8; 2048]);
    let out = trustband(&["sense", "--input", s(&path), "--center", "1e8"]);
    assert_bad_input(&out, &["capture.cu8", "--rate"]);
}

#[test]
fn missing_input_file_is_bad_input() {
    let out = trustband(&[
        "sense",
        "--input",
        "/nonexistent/dir/none.cu8",
        "--rate",
        "1e6",
        "--center",
        "1e8",
    ]);
    assert_bad_input(&out, &["/nonexistent/dir/none.cu8"]);
}

#[test]
fn device_without_soapy_feature_or_device_failure_is_clear() {
    let out = trustband(&[
        "sense",
        "--device",
        "driver=nonexistent",
        "--rate",
        "1e6",
        "--center",
        "1e8",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("driver=nonexistent"), "{stderr}");
}

#[test]
fn record_from_a_device_that_cannot_stream_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let out_name = dir.path().join("rec");
    let out = trustband(&[
        "record",
        "--device",
        "driver=null",
        "--center",
        "433.92e6",
        "--rate",
        "250e3",
        "--duration",
        "0.5",
        "--out",
        s(&out_name),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    // With the feature: SoapySDR's null device opens but cannot stream; without it: how to
    // rebuild. Either way the message names what to look at, and no half-written files stay.
    if cfg!(feature = "soapy") {
        assert!(stderr.contains("driver=null"), "{stderr}");
    } else {
        assert!(stderr.contains("--features soapy"), "{stderr}");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// A cf32 file of `n` samples of small noise-like values with `bad` written at sample `at`.
fn cf32_with(path: &Path, n: usize, at: usize, bad: f32) {
    let mut bytes = Vec::with_capacity(n * 8);
    for i in 0..n {
        let v = if i == at {
            bad
        } else {
            ((i * 7919 % 1000) as f32 / 1000.0 - 0.5) * 0.01
        };
        bytes.extend_from_slice(&v.to_le_bytes());
        bytes.extend_from_slice(&(v * 0.5).to_le_bytes());
    }
    write(path, &bytes);
}

#[test]
fn non_finite_samples_are_bad_input_not_an_idle_channel() {
    // NaN and ±inf used to give −300 dBFS and `busy: false`: every channel idle.
    let dir = tempfile::tempdir().unwrap();
    for (name, bad) in [
        ("nan.cf32", f32::NAN),
        ("inf.cf32", f32::INFINITY),
        ("ninf.cf32", f32::NEG_INFINITY),
    ] {
        let path = dir.path().join(name);
        cf32_with(&path, 20_000, 12_345, bad);
        let out = trustband(&[
            "sense",
            "--input",
            s(&path),
            "--format",
            "cf32_le",
            "--rate",
            "1e6",
            "--center",
            "1e8",
        ]);
        assert_bad_input(&out, &[name, "sample 12345", "not a finite number"]);
    }
}

#[test]
fn overflowing_samples_are_bad_input() {
    // Finite samples whose power |x|² overflows f32.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.cf32");
    cf32_with(&path, 20_000, 5_400, 3.0e38);
    let out = trustband(&[
        "sense",
        "--input",
        s(&path),
        "--format",
        "cf32_le",
        "--rate",
        "1e6",
        "--center",
        "1e8",
        "--window-ms",
        "1",
    ]);
    assert_bad_input(
        &out,
        &["huge.cf32", "window starting at sample 5000", "overflows"],
    );
}

/// A one-node testbed (no front end, no peers) whose node `solo` has the `wallet` line given.
fn solo_testbed(dir: &Path, wallet: &str) -> std::path::PathBuf {
    let path = dir.join("testbed.toml");
    write(
        &path,
        format!(
            "name = \"solo\"\n[sensing]\nchannels = [{{ name = \"c0\", center_hz = 600e6, bandwidth_hz = 2e5 }}]\n\
             [chain]\ngenesis_timestamp_ms = 1_700_000_000_000\n\
             [[node]]\nname = \"solo\"\naddr = \"/ip4/127.0.0.1/tcp/0\"\nsource = {{ kind = \"none\" }}\n{wallet}"
        )
        .as_bytes(),
    );
    path
}

#[test]
fn node_with_a_name_derived_key_is_refused_unless_insecure_test_keys() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for (wallet, from) in [
        ("", "its name"),
        ("wallet = { seed = \"lab\" }\n", "its wallet.seed"),
    ] {
        let testbed = solo_testbed(dir.path(), wallet);
        let out = trustband(&[
            "node",
            "--config",
            s(&testbed),
            "--name",
            "solo",
            "--data-dir",
            s(&data),
        ]);
        assert_bad_input(
            &out,
            &[
                "node `solo`",
                "wallet.key_file",
                from,
                "trustband keygen --out",
                "--insecure-test-keys",
            ],
        );
        assert!(!data.exists(), "refused before anything was written");
    }

    // With the flag the same node starts: it writes its status file, then is stopped.
    let testbed = solo_testbed(dir.path(), "");
    let mut child = Command::new(env!("CARGO_BIN_EXE_trustband"))
        .args(["node", "--insecure-test-keys", "--quiet", "--config"])
        .arg(&testbed)
        .args(["--name", "solo", "--data-dir"])
        .arg(&data)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !data.join("status.json").exists() {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            panic!(
                "node exited with {status}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "no status.json with --insecure-test-keys"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// `trustband keygen --out PATH`: (exit status, the address it printed, stderr).
fn keygen(path: &Path) -> (Option<i32>, Option<String>, String) {
    let out = trustband(&["keygen", "--out", s(path)]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let address = stdout
        .lines()
        .find_map(|l| l.strip_prefix("address "))
        .map(str::to_owned);
    (
        out.status.code(),
        address,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn keygen_writes_a_fresh_private_loadable_key_and_never_overwrites() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("keys/a.key"), dir.path().join("b.key"));
    let (code, address_a, stderr) = keygen(&a);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, address_b, stderr) = keygen(&b);
    assert_eq!(code, Some(0), "{stderr}");
    for path in [&a, &b] {
        let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", path.display());
    }
    let key_a = trustband::node::wallet::load_key_file(&a).unwrap();
    let key_b = trustband::node::wallet::load_key_file(&b).unwrap();
    assert_eq!(Some(key_a.address().to_string()), address_a);
    assert_eq!(Some(key_b.address().to_string()), address_b);
    assert_ne!(key_a.address(), key_b.address(), "two keygens gave one key");
    assert_ne!(*key_a.to_bytes(), *key_b.to_bytes());

    // A second keygen onto an existing key is refused and leaves it as it was.
    let before = std::fs::read(&a).unwrap();
    let out = trustband(&["keygen", "--out", s(&a)]);
    assert_bad_input(&out, &["a.key", "refusing to overwrite"]);
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read(&a).unwrap(), before);
}

#[test]
fn node_refuses_a_key_file_readable_by_others() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("solo.key");
    write(&key, format!("{}\n", "11".repeat(32)).as_bytes());
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let testbed = solo_testbed(dir.path(), "wallet = { key_file = \"solo.key\" }\n");
    let data = dir.path().join("data");
    let out = trustband(&[
        "node",
        "--config",
        s(&testbed),
        "--name",
        "solo",
        "--data-dir",
        s(&data),
    ]);
    assert_bad_input(&out, &["solo.key", "0644", "chmod 600"]);
}
