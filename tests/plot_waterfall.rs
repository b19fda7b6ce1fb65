//! Waterfall PNG: renders synthetic PSD rows, decodes the PNG and checks what a person would
//! look for: the size, busy stretches outlined, a one-window burst in a long run still
//! visible (max-pooling), nothing bright where there is only noise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use radio::detector::Channel;
use trustband::plot::{RenderOptions, Waterfall};

const BINS: usize = 1024;
const CENTER: f64 = 433.92e6;
const RATE: f64 = 2.0e6;

/// Deterministic exponential(1) noise: the per-bin power of complex Gaussian noise.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f32 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let u = (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
        (-(1.0 - u).ln()) as f32
    }
}

fn channels() -> Vec<Channel> {
    [("ch0", -500e3), ("ch1", 0.0), ("ch2", 500e3)]
        .iter()
        .map(|(n, off)| Channel {
            name: (*n).to_owned(),
            center_hz: CENTER + off,
            bandwidth_hz: 200e3,
        })
        .collect()
}

/// Bins (FFT-shifted) inside a channel.
fn bins_of(ch: &Channel) -> std::ops::Range<usize> {
    let df = RATE / BINS as f64;
    let lo = ((ch.center_hz - ch.bandwidth_hz / 2.0 - (CENTER - RATE / 2.0)) / df).ceil() as usize;
    let hi = ((ch.center_hz + ch.bandwidth_hz / 2.0 - (CENTER - RATE / 2.0)) / df).floor() as usize;
    lo..hi
}

/// `rows` windows of 10 ms; channel 1 occupied (+20 dB) on rows `block`, channel 2 on the
/// single row `burst` (+30 dB). `flags` says whether busy flags are set for them.
fn waterfall(
    rows: usize,
    block: Option<std::ops::Range<usize>>,
    burst: Option<usize>,
    flags: bool,
) -> Waterfall {
    let chans = channels();
    let mut noise = Noise(0x9E37_79B9_7F4A_7C15);
    let mut wf = Waterfall::new(CENTER, RATE);
    for r in 0..rows {
        let mut psd: Vec<f32> = (0..BINS).map(|_| noise.next()).collect();
        let mut busy = vec![false; chans.len()];
        if block.as_ref().is_some_and(|b| b.contains(&r)) {
            for k in bins_of(&chans[1]) {
                psd[k] += 100.0;
            }
            busy[1] = flags;
        }
        if burst == Some(r) {
            for k in bins_of(&chans[2]) {
                psd[k] += 1000.0;
            }
            busy[2] = flags;
        }
        wf.push_row(&psd, &busy, r as f64 * 0.01).unwrap();
    }
    wf
}

struct Image {
    width: u32,
    height: u32,
    rgb: Vec<[u8; 3]>,
}

fn decode(path: &Path) -> Image {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bytes = &buf[..info.buffer_size()];
    let rgb = match info.color_type {
        png::ColorType::Rgb => bytes.chunks(3).map(|c| [c[0], c[1], c[2]]).collect(),
        png::ColorType::Rgba => bytes.chunks(4).map(|c| [c[0], c[1], c[2]]).collect(),
        other => panic!("unexpected colour type {other:?}"),
    };
    Image {
        width: info.width,
        height: info.height,
        rgb,
    }
}

/// Pixels of the busy outline colour.
fn red(img: &Image) -> usize {
    img.rgb
        .iter()
        .filter(|p| p[0] > 200 && p[1] < 60 && p[2] < 70)
        .count()
}

/// Pixels at the bright (yellow) end of viridis, left of the colour bar.
fn bright(img: &Image) -> usize {
    let w = img.width as usize;
    img.rgb
        .iter()
        .enumerate()
        .filter(|(i, p)| i % w < w - 120 && p[0] > 150 && p[1] > 200 && p[2] < 80)
        .count()
}

fn render(wf: &Waterfall, name: &str, db_range: Option<(f32, f32)>) -> Image {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    let opts = RenderOptions {
        width: 1000,
        height: 700,
        title: format!("test {name}"),
        channels: channels(),
        db_range,
        ..RenderOptions::default()
    };
    wf.render(&path, &opts).unwrap();
    // Set TRUSTBAND_KEEP_PLOTS=DIR to look at the images.
    if let Ok(keep) = std::env::var("TRUSTBAND_KEEP_PLOTS") {
        std::fs::copy(&path, Path::new(&keep).join(name)).unwrap();
    }
    decode(&path)
}

#[test]
fn busy_stretch_is_outlined_and_stands_out() {
    let img = render(
        &waterfall(300, Some(100..150), Some(220), true),
        "busy.png",
        None,
    );
    assert_eq!((img.width, img.height), (1000, 700));
    assert_eq!(img.rgb.len(), 1000 * 700);
    // Two outlined stretches: ch1 for 50 rows (~95 px tall, ~95 px wide), ch2 one row.
    assert!(red(&img) > 400, "red outline pixels: {}", red(&img));
    assert!(bright(&img) > 1000, "bright pixels: {}", bright(&img));

    // Same power, no busy flags: no outline.
    let unflagged = render(
        &waterfall(300, Some(100..150), Some(220), false),
        "unflagged.png",
        None,
    );
    assert_eq!(red(&unflagged), 0);
}

#[test]
fn one_window_burst_in_a_long_run_survives_downsampling() {
    // 3000 rows onto ~600 pixel rows: five rows per pixel; the burst is one row.
    let range = Some((-5.0, 25.0));
    let quiet = render(&waterfall(3000, None, None, false), "quiet.png", range);
    assert_eq!(
        bright(&quiet),
        0,
        "noise alone must not reach the top of the scale"
    );
    let burst = render(&waterfall(3000, None, Some(2200), true), "burst.png", range);
    // ~100 bins wide in ~840 px for 1024 bins: about 80 px across, at least one pixel row.
    assert!(bright(&burst) >= 60, "bright pixels: {}", bright(&burst));
    assert!(red(&burst) > 0);
}

#[test]
fn mismatched_channels_and_empty_waterfalls_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.png");
    let empty = Waterfall::new(CENTER, RATE);
    let err = empty.render(&path, &RenderOptions::default()).unwrap_err();
    assert!(err.to_string().contains("no rows"), "{err}");
    let wf = waterfall(10, None, None, false);
    let opts = RenderOptions {
        channels: channels()[..2].to_vec(),
        ..RenderOptions::default()
    };
    assert!(wf.render(&path, &opts).is_err());
    let opts = RenderOptions {
        channels: channels(),
        width: 100,
        ..RenderOptions::default()
    };
    assert!(wf.render(&path, &opts).is_err());
    assert!(!path.exists());
}
