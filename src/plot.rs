//! Waterfall / heatmap PNG of a sensing run.
//!
//! Data flow: the detector hands one Welch PSD row per sensing window (FFT-shifted, linear
//! power) and the busy flags of every channel to [`Waterfall::push_row`]; the waterfall keeps
//! the rows in dB, bounded in number (beyond [`Waterfall::with_max_rows`] neighbouring rows are
//! merged by taking their maximum, so memory stays bounded and bursts survive).
//! [`Waterfall::render`] then draws a PNG: time running down, frequency across in MHz, an
//! auto-scaled perceptual colour map (viridis, limits at dB percentiles), channel edges as
//! vertical lines, busy stretches outlined in red, a title and a colour bar.
//!
//! Rows and bins are reduced to the image size by max-pooling so that a one-window burst in a
//! long run stays visible. Text uses the DejaVu Sans font embedded in the binary (the `dejavu`
//! crate) through plotters' `ab_glyph` backend, so no system font library is needed.

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Context, anyhow, bail, ensure};
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;
use radio::detector::Channel;

/// Font family name the embedded font is registered under.
const FONT: &str = "sans-serif";
/// Outline colour of busy stretches: red does not occur in viridis.
const BUSY: RGBColor = RGBColor(230, 25, 40);
/// Pixels of the image where no row covers the time.
const NO_DATA: RGBColor = RGBColor(40, 40, 40);
/// Width of the colour-bar panel on the right.
const COLORBAR_PANEL: u32 = 110;
/// Values sampled at most for the colour-scale percentiles.
const PERCENTILE_SAMPLES: usize = 1 << 20;

/// Registers the embedded font once per process.
fn register_font() -> anyhow::Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
    });
    ensure!(ok, "embedded DejaVu Sans font could not be loaded");
    Ok(())
}

/// How to draw a waterfall.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderOptions {
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Title drawn above the plot.
    pub title: String,
    /// Channels whose edges and busy stretches are drawn, in the order of the busy flags
    /// given to [`Waterfall::push_row`].
    pub channels: Vec<Channel>,
    /// Fixed colour-scale limits in dB; `None` scales to the percentiles below.
    pub db_range: Option<(f32, f32)>,
    /// Percentiles (0..100) of the dB values mapped to the ends of the colour scale.
    pub percentiles: (f64, f64),
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            width: 1200,
            height: 800,
            title: "trustband waterfall".to_owned(),
            channels: Vec::new(),
            db_range: None,
            percentiles: (2.0, 99.5),
        }
    }
}

/// Rows being merged into one stored row once the row cap is reached.
#[derive(Debug, Clone)]
struct Pending {
    db: Vec<f32>,
    busy: Vec<bool>,
    t_s: f64,
    count: usize,
}

/// PSD rows over time with per-channel busy flags, ready to draw. See the module docs.
#[derive(Debug, Clone)]
pub struct Waterfall {
    center_hz: f64,
    sample_rate_hz: f64,
    /// PSD bins per row, fixed by the first row.
    bins: usize,
    /// Busy flags per row, fixed by the first row.
    flags: usize,
    /// `rows × bins` dB values, row-major; NaN where the PSD value was not finite.
    db: Vec<f32>,
    /// `rows × flags` busy flags.
    busy: Vec<bool>,
    /// Start time of each stored row.
    t_s: Vec<f64>,
    /// Shortest positive raw row spacing seen (the last row's duration).
    row_dt_s: Option<f64>,
    last_t_s: Option<f64>,
    max_rows: usize,
    /// Raw rows per stored row.
    merge: usize,
    pending: Option<Pending>,
}

fn to_db(p: f32) -> f32 {
    if p.is_finite() && p >= 0.0 {
        10.0 * p.max(1e-30).log10()
    } else {
        f32::NAN
    }
}

/// Maximum that ignores NaN (NaN only when both are).
fn nan_max(a: f32, b: f32) -> f32 {
    if a.is_nan() {
        b
    } else if b.is_nan() {
        a
    } else {
        a.max(b)
    }
}

impl Waterfall {
    /// An empty waterfall of FFT-shifted PSD rows around `center_hz`, spanning
    /// `sample_rate_hz`. The first row fixes the number of bins and busy flags. Keeps at most
    /// 4096 rows (see [`Waterfall::with_max_rows`]). The axis values are checked by
    /// [`Waterfall::render`].
    pub fn new(center_hz: f64, sample_rate_hz: f64) -> Self {
        Self {
            center_hz,
            sample_rate_hz,
            bins: 0,
            flags: 0,
            db: Vec::new(),
            busy: Vec::new(),
            t_s: Vec::new(),
            row_dt_s: None,
            last_t_s: None,
            max_rows: 4096,
            merge: 1,
            pending: None,
        }
    }

    /// Caps the stored rows at `max_rows` (at least 2): when the cap is reached, neighbouring
    /// rows are merged pairwise by maximum and later rows are merged likewise.
    #[must_use]
    pub fn with_max_rows(mut self, max_rows: usize) -> Self {
        self.max_rows = max_rows.max(2);
        self
    }

    /// Stored rows (after merging), not counting a partly merged row.
    pub fn rows(&self) -> usize {
        self.t_s.len()
    }

    /// Raw rows per stored row (1 until the row cap was reached).
    pub fn merge_factor(&self) -> usize {
        self.merge
    }

    /// PSD bins per row (0 before the first row).
    pub fn bins(&self) -> usize {
        self.bins
    }

    /// Appends one sensing window: `psd` is the FFT-shifted linear-power Welch PSD (one value
    /// per bin), `busy` one flag per channel (in the order of [`RenderOptions::channels`]),
    /// `t_s` the window's start in seconds.
    ///
    /// # Errors
    /// An empty `psd`; `psd` or `busy` lengths differing from the first row's; a non-finite
    /// `t_s` or one before the previous row's.
    pub fn push_row(&mut self, psd: &[f32], busy: &[bool], t_s: f64) -> anyhow::Result<()> {
        ensure!(!psd.is_empty(), "waterfall row at {t_s} s: empty PSD");
        if self.last_t_s.is_none() {
            self.bins = psd.len();
            self.flags = busy.len();
        }
        ensure!(
            psd.len() == self.bins,
            "waterfall row at {t_s} s: expected {} PSD bins, got {}",
            self.bins,
            psd.len()
        );
        ensure!(
            busy.len() == self.flags,
            "waterfall row at {t_s} s: expected {} busy flags, got {}",
            self.flags,
            busy.len()
        );
        ensure!(t_s.is_finite(), "waterfall row: time {t_s} s is not finite");
        if let Some(last) = self.last_t_s {
            ensure!(
                t_s >= last,
                "waterfall row: time {t_s} s is before the previous row's {last} s"
            );
            let dt = t_s - last;
            if dt > 0.0 {
                self.row_dt_s = Some(self.row_dt_s.map_or(dt, |d| d.min(dt)));
            }
        }
        self.last_t_s = Some(t_s);
        let db: Vec<f32> = psd.iter().map(|&p| to_db(p)).collect();
        match &mut self.pending {
            Some(p) => {
                for (a, b) in p.db.iter_mut().zip(&db) {
                    *a = nan_max(*a, *b);
                }
                for (a, b) in p.busy.iter_mut().zip(busy) {
                    *a |= *b;
                }
                p.count += 1;
            }
            None => {
                self.pending = Some(Pending {
                    db,
                    busy: busy.to_vec(),
                    t_s,
                    count: 1,
                });
            }
        }
        if self.pending.as_ref().is_some_and(|p| p.count >= self.merge)
            && let Some(p) = self.pending.take()
        {
            self.store(p);
        }
        Ok(())
    }

    fn store(&mut self, p: Pending) {
        self.db.extend_from_slice(&p.db);
        self.busy.extend_from_slice(&p.busy);
        self.t_s.push(p.t_s);
        if self.t_s.len() >= self.max_rows {
            self.halve();
        }
    }

    /// Merges stored rows pairwise by maximum and doubles the merge factor.
    fn halve(&mut self) {
        let (nb, nc) = (self.bins, self.flags);
        let rows = self.t_s.len();
        let mut db = Vec::with_capacity(self.db.len() / 2 + nb);
        let mut busy = Vec::with_capacity(self.busy.len() / 2 + nc);
        let mut t = Vec::with_capacity(rows / 2 + 1);
        for (i, chunk) in self.db.chunks(2 * nb).enumerate() {
            let (a, b) = chunk.split_at(nb.min(chunk.len()));
            if b.is_empty() {
                db.extend_from_slice(a);
            } else {
                db.extend(a.iter().zip(b).map(|(x, y)| nan_max(*x, *y)));
            }
            if let Some(&ti) = self.t_s.get(2 * i) {
                t.push(ti);
            }
        }
        if nc > 0 {
            for chunk in self.busy.chunks(2 * nc) {
                let (a, b) = chunk.split_at(nc.min(chunk.len()));
                if b.is_empty() {
                    busy.extend_from_slice(a);
                } else {
                    busy.extend(a.iter().zip(b).map(|(x, y)| *x || *y));
                }
            }
        }
        self.db = db;
        self.busy = busy;
        self.t_s = t;
        self.merge = self.merge.saturating_mul(2);
    }

    /// Frequency of the left edge of bin 0 and the bin width, Hz. With an FFT-shifted PSD,
    /// bin k is centred on `center - rate/2 + k·rate/bins`.
    fn freq_axis(&self) -> (f64, f64) {
        #[allow(clippy::cast_precision_loss)]
        let df = self.sample_rate_hz / self.bins as f64;
        (self.center_hz - self.sample_rate_hz / 2.0 - df / 2.0, df)
    }

    /// Start time of every stored row and the end of the last one.
    fn time_edges(&self) -> Vec<f64> {
        let mut edges = self.t_s.clone();
        if let Some(&last) = self.t_s.last() {
            let dt = self.row_dt_s.unwrap_or(1.0)
                * f64::from(u32::try_from(self.merge).unwrap_or(u32::MAX));
            edges.push(last + dt);
        }
        edges
    }

    fn row(&self, r: usize) -> &[f32] {
        self.db
            .get(r * self.bins..(r + 1) * self.bins)
            .unwrap_or(&[])
    }

    fn busy_at(&self, r: usize, c: usize) -> bool {
        self.busy.get(r * self.flags + c).copied().unwrap_or(false)
    }

    /// Reduces the stored dB rows to a `width × height` grid (row-major, top row first) by
    /// max-pooling: each output cell takes the maximum over every bin and row whose extent
    /// overlaps it (nearest bin/row when the grid is finer than the data). NaN marks cells no
    /// row covers.
    pub fn pooled(&self, width: usize, height: usize) -> Vec<f32> {
        let mut out = vec![f32::NAN; width * height];
        let edges = self.time_edges();
        let (Some(&t0), Some(&t1)) = (edges.first(), edges.last()) else {
            return out;
        };
        if width == 0 || height == 0 || self.t_s.is_empty() {
            return out;
        }
        // Column → bin range.
        let nb = self.bins;
        let cols: Vec<(usize, usize)> = (0..width)
            .map(|x| {
                let lo = x * nb / width;
                let hi = ((x + 1) * nb).div_ceil(width).clamp(lo + 1, nb.max(lo + 1));
                (lo.min(nb - 1), hi.min(nb))
            })
            .collect();
        // Each row first pooled across columns.
        let rows = self.t_s.len();
        let mut by_col = vec![f32::NAN; rows * width];
        for r in 0..rows {
            let src = self.row(r);
            for (x, &(lo, hi)) in cols.iter().enumerate() {
                let m = src
                    .get(lo..hi)
                    .unwrap_or(&[])
                    .iter()
                    .fold(f32::NAN, |a, &b| nan_max(a, b));
                if let Some(cell) = by_col.get_mut(r * width + x) {
                    *cell = m;
                }
            }
        }
        // Then across the rows overlapping each pixel row's time span.
        let span = (t1 - t0).max(f64::MIN_POSITIVE);
        #[allow(clippy::cast_precision_loss)]
        let hf = height as f64;
        for y in 0..height {
            #[allow(clippy::cast_precision_loss)]
            let (a, b) = (t0 + span * y as f64 / hf, t0 + span * (y + 1) as f64 / hf);
            // Rows [first, last) with start < b and end > a.
            let first = edges
                .get(1..)
                .unwrap_or(&[])
                .partition_point(|&end| end <= a);
            let last = self.t_s.partition_point(|&start| start < b);
            let (first, last) = if first < last {
                (first, last)
            } else {
                // Finer than the data: the row containing the pixel's start.
                let r = self.t_s.partition_point(|&s| s <= a).saturating_sub(1);
                (r, (r + 1).min(rows))
            };
            for x in 0..width {
                let mut m = f32::NAN;
                for r in first..last {
                    if let Some(&v) = by_col.get(r * width + x) {
                        m = nan_max(m, v);
                    }
                }
                if let Some(cell) = out.get_mut(y * width + x) {
                    *cell = m;
                }
            }
        }
        out
    }

    /// Colour-scale limits: `percentiles` of the finite dB values (sampled when many).
    fn db_limits(&self, percentiles: (f64, f64)) -> Option<(f32, f32)> {
        let stride = (self.db.len() / PERCENTILE_SAMPLES).max(1);
        let mut v: Vec<f32> = self
            .db
            .iter()
            .step_by(stride)
            .copied()
            .filter(|x| x.is_finite())
            .collect();
        if v.is_empty() {
            return None;
        }
        v.sort_unstable_by(f32::total_cmp);
        let pick = |p: f64| {
            #[allow(clippy::cast_precision_loss)]
            let idx = (p.clamp(0.0, 100.0) / 100.0 * (v.len() - 1) as f64).round();
            // In [0, len-1] after the clamp: the cast is exact.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let i = idx as usize;
            v.get(i).copied()
        };
        let lo = pick(percentiles.0)?;
        let hi = pick(percentiles.1)?;
        Some((lo, if hi > lo { hi } else { lo + 1.0 }))
    }

    /// Runs of busy rows per channel: `(channel, first_row, end_row)`.
    fn busy_runs(&self) -> Vec<(usize, usize, usize)> {
        let mut runs = Vec::new();
        for c in 0..self.flags {
            let mut start = None;
            for r in 0..=self.t_s.len() {
                let b = r < self.t_s.len() && self.busy_at(r, c);
                match (b, start) {
                    (true, None) => start = Some(r),
                    (false, Some(s)) => {
                        runs.push((c, s, r));
                        start = None;
                    }
                    _ => {}
                }
            }
        }
        runs
    }

    /// Draws the waterfall to a PNG at `path`.
    ///
    /// # Errors
    /// No rows pushed, an image too small for the axes, or the PNG cannot be written.
    pub fn render(&self, path: &Path, opts: &RenderOptions) -> anyhow::Result<()> {
        if self.t_s.is_empty() && self.pending.is_none() {
            bail!("waterfall {}: no rows to plot", path.display());
        }
        ensure!(
            opts.width >= COLORBAR_PANEL + 200 && opts.height >= 200,
            "waterfall {}: image {}x{} is too small (at least {}x200)",
            path.display(),
            opts.width,
            opts.height,
            COLORBAR_PANEL + 200
        );
        ensure!(
            self.center_hz.is_finite(),
            "waterfall {}: centre frequency {} Hz is not finite",
            path.display(),
            self.center_hz
        );
        ensure!(
            self.sample_rate_hz.is_finite() && self.sample_rate_hz > 0.0,
            "waterfall {}: sample rate {} Hz must be positive",
            path.display(),
            self.sample_rate_hz
        );
        ensure!(
            opts.channels.len() == self.flags,
            "waterfall {}: {} channels given but rows carry {} busy flags",
            path.display(),
            opts.channels.len(),
            self.flags
        );
        for c in &opts.channels {
            ensure!(
                c.center_hz.is_finite() && c.bandwidth_hz.is_finite() && c.bandwidth_hz > 0.0,
                "waterfall {}: channel `{}` has centre {} Hz and bandwidth {} Hz",
                path.display(),
                c.name,
                c.center_hz,
                c.bandwidth_hz
            );
        }
        register_font()?;
        // A partly merged last row is drawn too.
        let mut this = self.clone();
        if let Some(p) = this.pending.take() {
            this.db.extend_from_slice(&p.db);
            this.busy.extend_from_slice(&p.busy);
            this.t_s.push(p.t_s);
        }
        this.draw(path, opts)
            .with_context(|| format!("drawing waterfall {}", path.display()))
    }

    fn draw(&self, path: &Path, opts: &RenderOptions) -> anyhow::Result<()> {
        let (db_lo, db_hi) = match opts.db_range {
            Some((lo, hi)) if lo.is_finite() && hi.is_finite() && hi > lo => (lo, hi),
            Some((lo, hi)) => bail!("colour range [{lo}, {hi}] dB is empty or not finite"),
            None => self.db_limits(opts.percentiles).unwrap_or((-1.0, 0.0)),
        };
        let (f_edge, df) = self.freq_axis();
        #[allow(clippy::cast_precision_loss)]
        let f_hi = f_edge + df * self.bins as f64;
        let (x_lo, x_hi) = (f_edge / 1e6, f_hi / 1e6);
        let edges = self.time_edges();
        let t0 = edges.first().copied().unwrap_or(0.0);
        let t1 = edges.last().copied().unwrap_or(1.0).max(t0 + 1e-9);

        let root = BitMapBackend::new(path, (opts.width, opts.height)).into_drawing_area();
        root.fill(&WHITE)?;
        let (main, bar) = root.split_horizontally(opts.width - COLORBAR_PANEL);
        let mut chart = ChartBuilder::on(&main)
            .caption(&opts.title, (FONT, 22))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(65)
            // Time runs down: y is -t, so t0 is at the top.
            .build_cartesian_2d(x_lo..x_hi, -t1..-t0)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("Frequency (MHz)")
            .y_desc("Time (s)")
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 16))
            .x_label_formatter(&|v| format!("{v:.3}"))
            // `+ 0.0` turns -0.0 into 0.0.
            .y_label_formatter(&|v| format!("{:.1}", -v + 0.0))
            .draw()?;

        // Heatmap pixels.
        let (px_range, py_range) = chart.plotting_area().get_pixel_range();
        let pw = usize::try_from(px_range.end - px_range.start).unwrap_or(0);
        let ph = usize::try_from(py_range.end - py_range.start).unwrap_or(0);
        let grid = self.pooled(pw, ph);
        let area = chart.plotting_area().strip_coord_spec();
        let scale = db_hi - db_lo;
        for (i, v) in grid.iter().enumerate() {
            let (x, y) = (i % pw.max(1), i / pw.max(1));
            let color = if v.is_finite() {
                ViridisRGB::get_color(((v - db_lo) / scale).clamp(0.0, 1.0))
            } else {
                NO_DATA
            };
            let (Ok(x), Ok(y)) = (i32::try_from(x), i32::try_from(y)) else {
                continue;
            };
            area.draw_pixel((x, y), &color)?;
        }

        // Channel edges.
        let edge_style = WHITE.mix(0.75).stroke_width(1);
        for c in &opts.channels {
            for f in [
                c.center_hz - c.bandwidth_hz / 2.0,
                c.center_hz + c.bandwidth_hz / 2.0,
            ] {
                let x = f / 1e6;
                if (x_lo..=x_hi).contains(&x) {
                    chart.draw_series(std::iter::once(PathElement::new(
                        vec![(x, -t0), (x, -t1)],
                        edge_style,
                    )))?;
                }
            }
        }
        // Busy stretches, outlined just outside the pixels the pooling gave them, so that
        // even a one-pixel burst stays visible inside its outline.
        let busy_style = BUSY.stroke_width(1);
        let span_t = t1 - t0;
        let span_f = x_hi - x_lo;
        #[allow(clippy::cast_precision_loss)]
        let (pwf, phf) = (pw as f64, ph as f64);
        let cell = |frac: f64, n: f64, up: bool| -> i32 {
            let v = if up {
                (frac * n).ceil() - 1.0
            } else {
                (frac * n).floor()
            };
            // Clamped to the plot area, whose size fits an i32.
            #[allow(clippy::cast_possible_truncation)]
            let v = v.clamp(0.0, (n - 1.0).max(0.0)) as i32;
            v
        };
        for (c, r0, r1) in self.busy_runs() {
            let Some(ch) = opts.channels.get(c) else {
                continue;
            };
            let fa = ((ch.center_hz - ch.bandwidth_hz / 2.0) / 1e6).clamp(x_lo, x_hi);
            let fb = ((ch.center_hz + ch.bandwidth_hz / 2.0) / 1e6).clamp(x_lo, x_hi);
            if fb <= fa {
                continue;
            }
            let ta = edges.get(r0).copied().unwrap_or(t0);
            let tb = edges.get(r1).copied().unwrap_or(t1);
            let x0 = px_range.start + cell((fa - x_lo) / span_f, pwf, false);
            let x1 =
                px_range.start + cell((fb - x_lo) / span_f, pwf, true).max(x0 - px_range.start);
            let y0 = py_range.start + cell((ta - t0) / span_t, phf, false);
            let y1 = py_range.start + cell((tb - t0) / span_t, phf, true).max(y0 - py_range.start);
            for d in 1..=2 {
                root.draw(&Rectangle::new(
                    [(x0 - d, y0 - d), (x1 + d, y1 + d)],
                    busy_style,
                ))?;
            }
        }
        // Channel names along the top where they fit.
        let label = TextStyle::from((FONT, 12).into_font()).color(&WHITE);
        for c in &opts.channels {
            let (xa, _) = chart.backend_coord(&(c.center_hz / 1e6 - c.bandwidth_hz / 2e6, -t0));
            let (xb, _) = chart.backend_coord(&(c.center_hz / 1e6 + c.bandwidth_hz / 2e6, -t0));
            let room = xb - xa;
            let need = i32::try_from(c.name.chars().count() * 7 + 4).unwrap_or(i32::MAX);
            let x = c.center_hz / 1e6;
            if room >= need && (x_lo..=x_hi).contains(&x) {
                let (bx, by) = chart.backend_coord(&(x, -t0));
                root.draw(&Text::new(
                    c.name.clone(),
                    (bx - need / 2 + 2, by + 3),
                    label.clone(),
                ))?;
            }
        }

        // Colour bar aligned with the plot area.
        let top = py_range.start;
        let bottom = i32::try_from(opts.height).unwrap_or(i32::MAX) - py_range.end;
        let mut cb = ChartBuilder::on(&bar)
            .margin_top(top)
            .margin_bottom(bottom)
            .margin_left(8)
            .margin_right(4)
            .set_label_area_size(LabelAreaPosition::Right, 60)
            .build_cartesian_2d(0f32..1f32, db_lo..db_hi)?;
        cb.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_desc("Power (dB)")
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()?;
        let steps = 256u16;
        cb.draw_series((0..steps).map(|i| {
            let a = f32::from(i) / f32::from(steps);
            let b = f32::from(i + 1) / f32::from(steps);
            Rectangle::new(
                [(0.0, db_lo + a * scale), (1.0, db_lo + b * scale)],
                ViridisRGB::get_color(a).filled(),
            )
        }))?;
        root.present()
            .map_err(|e| anyhow!("writing {}: {e}", path.display()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rejects_wrong_lengths_and_time_going_back() {
        let mut w = Waterfall::new(100e6, 1e6);
        assert!(w.push_row(&[], &[false], 0.0).is_err());
        w.push_row(&[1.0; 8], &[false], 1.0).unwrap();
        assert_eq!(w.bins(), 8);
        assert!(w.push_row(&[1.0; 7], &[false], 2.0).is_err());
        assert!(w.push_row(&[1.0; 8], &[], 2.0).is_err());
        assert!(w.push_row(&[1.0; 8], &[false], f64::NAN).is_err());
        assert!(w.push_row(&[1.0; 8], &[false], 0.5).is_err());
        assert_eq!(w.rows(), 1);
        // Rendering checks the channel count against the flags.
        let dir = tempfile::tempdir().unwrap();
        let err = w
            .render(&dir.path().join("x.png"), &RenderOptions::default())
            .unwrap_err();
        assert!(err.to_string().contains("busy flags"), "{err}");
    }

    #[test]
    fn pooling_keeps_a_one_row_one_bin_burst() {
        let mut w = Waterfall::new(0.0, 1e6);
        for r in 0..1000 {
            let mut row = vec![1.0f32; 1000];
            if r == 537 {
                row[321] = 1000.0; // +30 dB, one bin, one row
            }
            w.push_row(&row, &[], f64::from(r) * 0.1).unwrap();
        }
        let g = w.pooled(100, 50);
        let max = g.iter().copied().fold(f32::NAN, nan_max);
        assert!((max - 30.0).abs() < 1e-4, "{max}");
        // Exactly one cell holds it: row 537 of 1000 → pixel row 26, bin 321 → column 32.
        let hot: Vec<usize> = (0..g.len()).filter(|&i| g[i] > 1.0).collect();
        assert_eq!(hot, vec![26 * 100 + 32]);
    }

    #[test]
    fn pooling_upsamples_by_nearest() {
        let mut w = Waterfall::new(0.0, 1e6);
        w.push_row(&[1.0, 10.0], &[], 0.0).unwrap();
        w.push_row(&[100.0, 1000.0], &[], 1.0).unwrap();
        let g = w.pooled(4, 4);
        assert_eq!(
            g,
            vec![
                0.0, 0.0, 10.0, 10.0, 0.0, 0.0, 10.0, 10.0, 20.0, 20.0, 30.0, 30.0, 20.0, 20.0,
                30.0, 30.0
            ]
        );
    }

    #[test]
    fn row_cap_merges_by_maximum() {
        let mut w = Waterfall::new(0.0, 1e6).with_max_rows(4);
        for r in 0..16 {
            let p = if r == 5 { 100.0 } else { 1.0 };
            w.push_row(&[p; 4], &[r == 9], f64::from(r)).unwrap();
        }
        assert!(w.rows() <= 4, "{}", w.rows());
        assert_eq!(w.merge_factor() * w.rows(), 16);
        assert!(w.db.iter().any(|&v| (v - 20.0).abs() < 1e-5));
        assert_eq!(w.busy.iter().filter(|&&b| b).count(), 1);
    }

    #[test]
    fn percentile_limits() {
        let mut w = Waterfall::new(0.0, 1e6);
        let row: Vec<f32> = (0..100).map(|i| 10f32.powf(i as f32 / 10.0)).collect();
        w.push_row(&row, &[], 0.0).unwrap();
        let (lo, hi) = w.db_limits((2.0, 99.5)).unwrap();
        assert!(
            (lo - 2.0).abs() < 1e-3 && (hi - 99.0).abs() < 1e-3,
            "{lo} {hi}"
        );
    }
}

/// One named curve of a [`line_chart`].
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// Points `(x, y)` in drawing order.
    pub points: Vec<(f64, f64)>,
}

/// Draws `series` as lines on shared axes (ranges fitted to the data with a 5 % margin) with a
/// legend, to a PNG of `width` x `height`.
///
/// # Errors
/// No points at all, non-finite values, or failures writing the PNG.
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    (width, height): (u32, u32),
) -> anyhow::Result<()> {
    register_font()?;
    let all = || series.iter().flat_map(|s| s.points.iter().copied());
    ensure!(all().next().is_some(), "{title}: nothing to draw");
    ensure!(
        all().all(|(x, y)| x.is_finite() && y.is_finite()),
        "{title}: non-finite point"
    );
    let (x0, x1) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (x, _)| {
        (a.min(x), b.max(x))
    });
    let (y0, y1) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (_, y)| {
        (a.min(y), b.max(y))
    });
    let pad = |lo: f64, hi: f64| {
        let m = ((hi - lo) * 0.05).max(1e-9);
        (lo - m, hi + m)
    };
    let ((x0, x1), (y0, y1)) = (pad(x0, x1), pad(y0, y1));
    let root = BitMapBackend::new(path, (width, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .draw()?;
    for (i, s) in series.iter().enumerate() {
        let colour = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(
                s.points.iter().copied(),
                colour.stroke_width(2),
            ))?
            .label(s.label.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    Ok(())
}
