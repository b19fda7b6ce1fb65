//! The spectrum panel (braille PSD with channel edges, noise floor and thresholds) and the
//! waterfall (half-block cells, two rows each, newest at the top, colours auto-scaled from
//! recent percentiles). Both use the same frequency axis and left gutter so columns line up.

use std::collections::VecDeque;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line as TextLine, Span};
use ratatui::widgets::Widget;
use ratatui::widgets::canvas::{Canvas, Line};

use super::format;
use crate::app::decimate_max;
use crate::model::{SpectrumFrame, WaterfallRow};

/// Columns left of the plots for dB labels (spectrum) and ages (waterfall).
pub const GUTTER: u16 = 6;

/// Colours the terminal can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColourDepth {
    /// 24-bit RGB (`COLORTERM=truecolor` or `24bit`).
    TrueColour,
    /// The xterm 256-colour palette (`TERM=*-256color`; what most SSH sessions get, since
    /// ssh does not forward `COLORTERM`).
    Indexed256,
    /// The 16 ANSI colours.
    Basic16,
}

impl ColourDepth {
    /// Guesses the depth from `COLORTERM` and `TERM` values.
    pub fn detect(colorterm: Option<&str>, term: Option<&str>) -> ColourDepth {
        let ct = colorterm.unwrap_or("").to_ascii_lowercase();
        if ct.contains("truecolor") || ct.contains("24bit") {
            ColourDepth::TrueColour
        } else if term.unwrap_or("").contains("256") {
            ColourDepth::Indexed256
        } else {
            ColourDepth::Basic16
        }
    }

    /// Guesses the depth from this process's environment.
    pub fn from_env() -> ColourDepth {
        let ct = std::env::var("COLORTERM").ok();
        let term = std::env::var("TERM").ok();
        ColourDepth::detect(ct.as_deref(), term.as_deref())
    }
}

/// Mapping of dB values to waterfall colours: `lo` (and below) darkest, `hi` (and above)
/// brightest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColourScale {
    /// Value mapped to the bottom of the palette (dB).
    pub lo: f32,
    /// Value mapped to the top of the palette (dB).
    pub hi: f32,
}

/// Percentile of the dark end of the scale: high enough that the noise floor (including a
/// front end's rolled-off band edges) sits at the dark end, low enough that a band mostly
/// occupied still has noise below it.
pub const LOW_PERCENTILE: f32 = 0.2;
/// Percentile of the bright end: a few strong bins saturate, the rest keep contrast.
pub const HIGH_PERCENTILE: f32 = 0.995;
/// Smallest range shown (dB), so pure noise is not stretched into a colourful carpet.
pub const MIN_RANGE_DB: f32 = 10.0;

impl ColourScale {
    /// Scale from the 5th and 99.5th percentiles of `values` (non-finite values ignored),
    /// widened upwards to at least [`MIN_RANGE_DB`]. None if no finite value.
    pub fn from_values(values: &[f32]) -> Option<ColourScale> {
        let mut v: Vec<f32> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        let lo = percentile(&mut v, LOW_PERCENTILE);
        let hi = percentile(&mut v, HIGH_PERCENTILE).max(lo + MIN_RANGE_DB);
        Some(ColourScale { lo, hi })
    }

    /// Position of `v` on the scale, in [0, 1].
    pub fn position(&self, v: f32) -> f32 {
        let range = (self.hi - self.lo).max(f32::EPSILON);
        if v.is_finite() {
            ((v - self.lo) / range).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// Colour of `v` at the given depth.
    pub fn colour(&self, v: f32, depth: ColourDepth) -> Color {
        palette(self.position(v), depth)
    }
}

/// The `q`-quantile (nearest rank) of `v`, reordering it.
fn percentile(v: &mut [f32], q: f32) -> f32 {
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    // Rank in [0, n-1]; the float-to-usize cast saturates and is clamped.
    let rank = ((q.clamp(0.0, 1.0) * (n - 1) as f32).round() as usize).min(n - 1);
    let (_, x, _) = v.select_nth_unstable_by(rank, f32::total_cmp);
    *x
}

/// Palette stops: navy, blue, cyan, yellow, red (the gqrx-style ramp radio people read
/// without a legend).
const STOPS: [(f32, [u8; 3]); 5] = [
    (0.0, [0, 0, 40]),
    (0.3, [0, 40, 210]),
    (0.55, [0, 200, 210]),
    (0.8, [250, 220, 0]),
    (1.0, [255, 30, 0]),
];

/// Colour at position `t` in [0, 1].
pub fn palette(t: f32, depth: ColourDepth) -> Color {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let rgb = ramp(t);
    match depth {
        ColourDepth::TrueColour => Color::Rgb(rgb[0], rgb[1], rgb[2]),
        ColourDepth::Indexed256 => {
            // xterm 6×6×6 cube: 16 + 36r + 6g + b, levels 0, 95, 135, 175, 215, 255.
            let level = |c: u8| -> u8 {
                if c < 48 {
                    0
                } else if c < 115 {
                    1
                } else {
                    (c - 35) / 40
                }
            };
            Color::Indexed(16 + 36 * level(rgb[0]) + 6 * level(rgb[1]) + level(rgb[2]))
        }
        ColourDepth::Basic16 => {
            if t < 0.15 {
                Color::Black
            } else if t < 0.42 {
                Color::Blue
            } else if t < 0.67 {
                Color::Cyan
            } else if t < 0.9 {
                Color::Yellow
            } else {
                Color::Red
            }
        }
    }
}

fn ramp(t: f32) -> [u8; 3] {
    let mut prev = STOPS[0];
    for stop in STOPS {
        if t <= stop.0 {
            let span = (stop.0 - prev.0).max(f32::EPSILON);
            let f = ((t - prev.0) / span).clamp(0.0, 1.0);
            let mix = |a: u8, b: u8| -> u8 {
                let v = f32::from(a) + (f32::from(b) - f32::from(a)) * f;
                // v is within [0, 255] by construction.
                v.round().clamp(0.0, 255.0) as u8
            };
            return [
                mix(prev.1[0], stop.1[0]),
                mix(prev.1[1], stop.1[1]),
                mix(prev.1[2], stop.1[2]),
            ];
        }
        prev = stop;
    }
    STOPS[4].1
}

/// True for a finite, non-empty frequency range.
fn valid_range(lo: f64, hi: f64) -> bool {
    lo.is_finite() && hi.is_finite() && hi > lo
}

/// Writes `text` centred in `area` (dim), for "no data" states.
pub fn placeholder(text: &str, area: Rect, buf: &mut Buffer) {
    if area.is_empty() {
        return;
    }
    let width = u16::try_from(text.chars().count()).unwrap_or(u16::MAX);
    let x = area.x + area.width.saturating_sub(width) / 2;
    let y = area.y + area.height.saturating_sub(1) / 2;
    buf.set_stringn(
        x,
        y,
        text,
        usize::from(area.width),
        Style::default().fg(Color::DarkGray),
    );
}

/// dB range of the spectrum plot: rounded to 10 dB, at least 30 dB tall.
fn y_range(frame: &SpectrumFrame) -> (f64, f64) {
    let mut lo = f32::INFINITY;
    let mut hi = f32::NEG_INFINITY;
    let thresholds = frame.channels.iter().filter_map(|c| c.threshold_db);
    for v in frame
        .psd_db
        .iter()
        .chain(frame.noise_db.iter())
        .copied()
        .chain(thresholds)
        .filter(|v| v.is_finite() && *v > -199.0)
    {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() || !hi.is_finite() {
        return (-120.0, 0.0);
    }
    let lo = (f64::from(lo) - 3.0).div_euclid(10.0) * 10.0;
    let hi = ((f64::from(hi) + 3.0) / 10.0).ceil() * 10.0;
    if hi - lo < 30.0 {
        (hi - 30.0, hi)
    } else {
        (lo, hi)
    }
}

/// Draws the spectrum of one frame into `area` (inside the panel's border). `selected` is the
/// selected channel's name.
pub fn render_spectrum(
    frame: &SpectrumFrame,
    selected: Option<&str>,
    area: Rect,
    buf: &mut Buffer,
) {
    if area.width < GUTTER + 8 || area.height < 3 {
        placeholder("(too small)", area, buf);
        return;
    }
    let (f_lo, f_hi) = (frame.low_hz(), frame.high_hz());
    if frame.psd_db.is_empty() || !valid_range(f_lo, f_hi) {
        placeholder("empty spectrum frame", area, buf);
        return;
    }
    let plot = Rect {
        x: area.x + GUTTER,
        y: area.y,
        width: area.width - GUTTER,
        height: area.height - 1,
    };
    let (lo, hi) = y_range(frame);
    // dB labels: top, middle, bottom of the plot.
    let label_style = Style::default().fg(Color::DarkGray);
    let mid = (lo + hi) / 2.0;
    for (y, v) in [
        (plot.y, hi),
        (plot.y + plot.height / 2, mid),
        (plot.bottom().saturating_sub(1), lo),
    ] {
        buf.set_stringn(area.x, y, format!("{v:>5.0}"), 5, label_style);
    }
    // Frequency axis under the plot.
    let axis_y = area.bottom().saturating_sub(1);
    let res = frame.span_hz / f64::from(plot.width.max(1));
    let left = format::mhz(f_lo, res);
    let right = format::mhz(f_hi, res);
    let centre = format!("{} MHz", format::mhz(frame.center_hz, res));
    buf.set_stringn(plot.x, axis_y, &left, usize::from(plot.width), label_style);
    let cw = u16::try_from(centre.len()).unwrap_or(0);
    let cx = plot.x + plot.width.saturating_sub(cw) / 2;
    buf.set_stringn(cx, axis_y, &centre, usize::from(plot.width), label_style);
    let rw = u16::try_from(right.len()).unwrap_or(0);
    if plot.width > rw + cw + 2 {
        buf.set_string(plot.right().saturating_sub(rw), axis_y, &right, label_style);
    }
    buf.set_stringn(area.x, axis_y, "  MHz", 5, label_style);

    // Peak-hold the PSD down to the braille resolution so narrow bursts stay visible.
    let dots = usize::from(plot.width) * 2;
    let psd = decimate_max(&frame.psd_db, dots);
    let noise = if frame.noise_db.len() == frame.psd_db.len() {
        decimate_mean(&frame.noise_db, dots)
    } else {
        Vec::new()
    };
    let x_of = |i: usize, n: usize| f_lo + (i as f64 + 0.5) * (f_hi - f_lo) / n.max(1) as f64;
    let canvas = Canvas::default()
        .marker(Marker::Braille)
        .x_bounds([f_lo, f_hi])
        .y_bounds([lo, hi])
        .paint(|ctx| {
            // Channel edges.
            for ch in &frame.channels {
                let sel = selected == Some(ch.name.as_str());
                let c = if sel { Color::Cyan } else { Color::DarkGray };
                for x in [ch.low_hz, ch.high_hz] {
                    ctx.draw(&Line::new(x, lo, x, hi, c));
                }
            }
            ctx.layer();
            // Noise floor: per bin when sent, else per channel.
            if noise.is_empty() {
                for ch in &frame.channels {
                    if let Some(n) = ch.noise_db {
                        let n = f64::from(n);
                        ctx.draw(&Line::new(ch.low_hz, n, ch.high_hz, n, Color::Blue));
                    }
                }
            } else {
                let n = noise.len();
                for (i, w) in noise.windows(2).enumerate() {
                    let (a, b) = (f64::from(w[0]), f64::from(w[1]));
                    ctx.draw(&Line::new(x_of(i, n), a, x_of(i + 1, n), b, Color::Blue));
                }
            }
            // Thresholds, red where the detector says busy.
            for ch in &frame.channels {
                if let Some(t) = ch.threshold_db {
                    let t = f64::from(t);
                    let c = if ch.busy == Some(true) {
                        Color::Red
                    } else {
                        Color::Yellow
                    };
                    ctx.draw(&Line::new(ch.low_hz, t, ch.high_hz, t, c));
                }
            }
            ctx.layer();
            let n = psd.len();
            if n == 1 {
                let v = f64::from(psd[0]);
                ctx.draw(&Line::new(f_lo, v, f_hi, v, Color::Green));
            }
            for (i, w) in psd.windows(2).enumerate() {
                let (a, b) = (f64::from(w[0]), f64::from(w[1]));
                ctx.draw(&Line::new(x_of(i, n), a, x_of(i + 1, n), b, Color::Green));
            }
            // Channel names along the top, coloured by decision.
            for ch in &frame.channels {
                let sel = selected == Some(ch.name.as_str());
                let mut style = match ch.busy {
                    Some(true) => Style::default().fg(Color::Red),
                    Some(false) => Style::default().fg(Color::Green),
                    None => Style::default().fg(Color::Gray),
                };
                if sel {
                    style = style.add_modifier(Modifier::BOLD | Modifier::REVERSED);
                }
                let x = ch.low_hz.max(f_lo);
                ctx.print(x, hi, TextLine::from(Span::styled(ch.name.clone(), style)));
            }
        });
    canvas.render(plot, buf);
}

/// Mean-decimation to `out` points.
fn decimate_mean(v: &[f32], out: usize) -> Vec<f32> {
    let n = v.len();
    if out == 0 || n <= out {
        return v.to_vec();
    }
    (0..out)
        .map(|j| {
            let a = j * n / out;
            let b = ((j + 1) * n / out).max(a + 1);
            let s = v.get(a..b).unwrap_or(&[]);
            s.iter().sum::<f32>() / s.len().max(1) as f32
        })
        .collect()
}

/// One waterfall row resampled onto `cols` columns covering `[f_lo, f_hi)`: the maximum of the
/// bins each column overlaps (the nearest bin when columns are narrower than bins); None where
/// the row does not cover the column.
pub fn resample(row: &WaterfallRow, f_lo: f64, f_hi: f64, cols: usize) -> Vec<Option<f32>> {
    let n = row.psd_db.len();
    let mut out = vec![None; cols];
    let (low, high) = (
        row.center_hz - row.span_hz / 2.0,
        row.center_hz + row.span_hz / 2.0,
    );
    if n == 0 || cols == 0 || !valid_range(low, high) || !valid_range(f_lo, f_hi) {
        return out;
    }
    let step = row.span_hz / n as f64;
    let width = (f_hi - f_lo) / cols as f64;
    for (c, slot) in out.iter_mut().enumerate() {
        let fa = f_lo + c as f64 * width;
        let fb = fa + width;
        let ka = ((fa - low) / step).floor();
        let kb = ((fb - low) / step).ceil();
        let ka = ka.max(0.0);
        let kb = kb.min(n as f64);
        if ka < kb {
            // Both bounds are within [0, n] here.
            let (a, b) = (ka as usize, kb as usize);
            *slot = row
                .psd_db
                .get(a..b)
                .and_then(|s| s.iter().copied().reduce(f32::max));
        }
    }
    out
}

/// Draws the waterfall: newest row at the top, two rows per terminal cell (`▀` with the newer
/// row as foreground, the older as background). Returns the colour scale used (None when
/// nothing was drawn).
pub fn render_waterfall(
    rows: &VecDeque<WaterfallRow>,
    axis: Option<(f64, f64)>,
    depth: ColourDepth,
    area: Rect,
    buf: &mut Buffer,
) -> Option<ColourScale> {
    if area.width < GUTTER + 4 || area.height < 1 {
        placeholder("(too small)", area, buf);
        return None;
    }
    let newest = rows.back()?;
    let own = (
        newest.center_hz - newest.span_hz / 2.0,
        newest.center_hz + newest.span_hz / 2.0,
    );
    let (f_lo, f_hi) = axis.filter(|&(a, b)| valid_range(a, b)).unwrap_or(own);
    let plot = Rect {
        x: area.x + GUTTER,
        width: area.width - GUTTER,
        ..area
    };
    let cols = usize::from(plot.width);
    let visible = usize::from(plot.height) * 2;
    let lines: Vec<(u64, Vec<Option<f32>>)> = rows
        .iter()
        .rev()
        .take(visible)
        .map(|r| (r.at_ms, resample(r, f_lo, f_hi, cols)))
        .collect();
    let all: Vec<f32> = lines
        .iter()
        .flat_map(|(_, l)| l.iter().flatten().copied())
        .collect();
    let scale = ColourScale::from_values(&all)?;
    let colour = |v: Option<f32>| v.map_or(Color::Reset, |v| scale.colour(v, depth));
    let label_style = Style::default().fg(Color::DarkGray);
    for cy in 0..plot.height {
        let top = lines.get(usize::from(cy) * 2);
        let bottom = lines.get(usize::from(cy) * 2 + 1);
        let Some(top) = top else { break };
        for cx in 0..plot.width {
            let i = usize::from(cx);
            let fg = colour(top.1.get(i).copied().flatten());
            let bg = bottom.map_or(Color::Reset, |b| colour(b.1.get(i).copied().flatten()));
            if let Some(cell) = buf.cell_mut((plot.x + cx, plot.y + cy)) {
                cell.set_char('▀').set_fg(fg).set_bg(bg);
            }
        }
        // Age labels every fourth cell row.
        if cy % 4 == 0 {
            let age = newest.at_ms.saturating_sub(top.0);
            let text = if cy == 0 {
                String::from("now")
            } else if age < 10_000 {
                format!("-{:.1}s", age as f64 / 1000.0)
            } else {
                format!("-{}", format::age(age))
            };
            buf.set_stringn(area.x, plot.y + cy, format!("{text:>5}"), 5, label_style);
        }
    }
    Some(scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_comes_from_percentiles_not_extremes() {
        // 1000 noise values at -90..-80 plus 3 strong outliers at 0 dB.
        let mut v: Vec<f32> = (0..1000).map(|i| -90.0 + (i % 100) as f32 / 10.0).collect();
        v.extend([0.0, 0.0, 0.0, f32::NAN, f32::NEG_INFINITY]);
        let s = ColourScale::from_values(&v).unwrap();
        // 20th percentile of -90.0..-80.1 in steps of 0.1: -88.0.
        assert!((s.lo - (-88.0)).abs() < 0.11, "lo {}", s.lo);
        // The 99.5th percentile of 1003 finite values is still noise (-80.1), so the range is
        // the minimum one and the outliers saturate.
        assert!((s.hi - (s.lo + MIN_RANGE_DB)).abs() < 1e-4, "hi {}", s.hi);
        assert_eq!(s.position(0.0), 1.0);
        assert_eq!(s.position(-200.0), 0.0);
        assert_eq!(s.position(f32::NAN), 0.0);
        // Flat input keeps a minimum range instead of dividing by zero.
        let flat = ColourScale::from_values(&[-50.0; 10]).unwrap();
        assert_eq!(flat.hi - flat.lo, MIN_RANGE_DB);
        assert_eq!(flat.position(-50.0), 0.0);
        assert!(ColourScale::from_values(&[f32::NAN]).is_none());
    }

    #[test]
    fn palette_is_monotonic_in_brightness_and_has_its_ends() {
        assert_eq!(palette(0.0, ColourDepth::TrueColour), Color::Rgb(0, 0, 40));
        assert_eq!(
            palette(1.0, ColourDepth::TrueColour),
            Color::Rgb(255, 30, 0)
        );
        assert_eq!(
            palette(7.0, ColourDepth::TrueColour),
            Color::Rgb(255, 30, 0)
        );
        assert_eq!(palette(0.0, ColourDepth::Indexed256), Color::Indexed(16));
        assert_eq!(palette(1.0, ColourDepth::Indexed256), Color::Indexed(196));
        assert_eq!(palette(0.0, ColourDepth::Basic16), Color::Black);
        assert_eq!(palette(1.0, ColourDepth::Basic16), Color::Red);
        // Luma rises from navy to yellow.
        let luma = |t: f32| match palette(t, ColourDepth::TrueColour) {
            Color::Rgb(r, g, b) => 0.3 * f32::from(r) + 0.59 * f32::from(g) + 0.11 * f32::from(b),
            _ => unreachable!(),
        };
        let mut prev = -1.0;
        for i in 0..=16 {
            let l = luma(i as f32 * 0.8 / 16.0);
            assert!(l >= prev, "luma falls at {i}");
            prev = l;
        }
    }

    #[test]
    fn colour_depth_detection() {
        assert_eq!(
            ColourDepth::detect(Some("truecolor"), Some("xterm")),
            ColourDepth::TrueColour
        );
        assert_eq!(
            ColourDepth::detect(None, Some("xterm-256color")),
            ColourDepth::Indexed256
        );
        assert_eq!(
            ColourDepth::detect(None, Some("vt100")),
            ColourDepth::Basic16
        );
        assert_eq!(ColourDepth::detect(None, None), ColourDepth::Basic16);
    }

    #[test]
    fn resample_takes_column_maxima_and_leaves_uncovered_columns_empty() {
        let row = WaterfallRow {
            at_ms: 0,
            center_hz: 1000.0,
            span_hz: 800.0, // 600..1400, 8 bins of 100 Hz
            psd_db: vec![1.0, 2.0, 3.0, 9.0, 4.0, 5.0, 6.0, 7.0],
        };
        // 4 columns over 600..1400: two bins each.
        let r = resample(&row, 600.0, 1400.0, 4);
        assert_eq!(r, vec![Some(2.0), Some(9.0), Some(5.0), Some(7.0)]);
        // Axis wider than the row: outer columns uncovered.
        let r = resample(&row, 200.0, 1800.0, 4);
        assert_eq!(r, vec![None, Some(9.0), Some(7.0), None]);
        // More columns than bins: each column takes its overlapping bin.
        let r = resample(&row, 600.0, 1400.0, 16);
        assert_eq!(r[6], Some(9.0));
        assert_eq!(r[7], Some(9.0));
        assert_eq!(r.iter().filter(|x| x.is_none()).count(), 0);
    }

    #[test]
    fn waterfall_colours_follow_the_scale_and_time_runs_down() {
        // Two rows: the older one quiet (-90), the newest with one hot column (-30).
        let mut rows = VecDeque::new();
        for (t, hot) in [(1000u64, false), (2000, true)] {
            let mut psd = vec![-90.0f32; 40];
            if hot {
                psd[0..4].fill(-30.0);
            }
            rows.push_back(WaterfallRow {
                at_ms: t,
                center_hz: 0.0,
                span_hz: 40.0,
                psd_db: psd,
            });
        }
        let area = Rect::new(0, 0, GUTTER + 10, 3);
        let mut buf = Buffer::empty(area);
        let scale = render_waterfall(&rows, None, ColourDepth::TrueColour, area, &mut buf).unwrap();
        let cell = &buf[(GUTTER, 0)];
        assert_eq!(cell.symbol(), "▀");
        // Top half = newest row (hot column, clipped to the top of the scale: red); bottom half
        // = older row (quiet: the bottom of the scale).
        assert_eq!(cell.fg, palette(1.0, ColourDepth::TrueColour));
        assert_eq!(cell.bg, scale.colour(-90.0, ColourDepth::TrueColour));
        assert_eq!(cell.bg, palette(0.0, ColourDepth::TrueColour));
        let cold = &buf[(GUTTER + 5, 0)];
        assert_eq!(cold.fg, palette(0.0, ColourDepth::TrueColour));
        // Only one cell row of data: the second row is untouched.
        assert_eq!(buf[(GUTTER, 1)].symbol(), " ");
        let label: String = (0..5).map(|x| buf[(x, 0)].symbol().to_owned()).collect();
        assert_eq!(label, "  now");
    }
}
