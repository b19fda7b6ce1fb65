//! Welch PSD accumulator: window, FFT in place, |X|² summed over segments.
//!
//! Steady state allocates nothing: the FFT plan, its scratch, the segment buffer and the
//! accumulator are made once in [`Welch::new`] and reused for every segment.
//!
//! Normalisation: `P[k] = Σ_m |Σ_t w(t) x_m(t) e^{-j2πkt/N}|² / (M · Σ_t w(t)²)`, so white complex
//! noise of variance σ² per sample gives `E[P[k]] = σ²` in every bin, and for any signal
//! `mean_k P[k] = mean power in the segment weighted by w²/mean(w²)` (Parseval).

use std::sync::Arc;

use num_complex::Complex32;
use rustfft::{Fft, FftPlanner};

use super::WindowKind;

/// `cu8` byte to sample value: `(v − 127.5) / 128` (SPEC 2.1).
pub const fn cu8_to_f32(v: u8) -> f32 {
    (v as f32 - 127.5) / 128.0
}

const fn make_cu8_lut() -> [f32; 256] {
    let mut lut = [0.0f32; 256];
    let mut i = 0;
    while i < 256 {
        lut[i] = cu8_to_f32(i as u8);
        i += 1;
    }
    lut
}

/// Lookup table for [`cu8_to_f32`]: converting a byte is one load.
pub static CU8_LUT: [f32; 256] = make_cu8_lut();

/// A complex sample the Welch accumulator can read directly: `Complex32`, or an interleaved
/// `cu8` pair `[I, Q]` (converted through [`CU8_LUT`] on the fly, so no f32 copy is made).
pub trait IqSample: Copy {
    /// The sample as complex f32.
    fn to_complex(self) -> Complex32;
}

impl IqSample for Complex32 {
    #[inline(always)]
    fn to_complex(self) -> Complex32 {
        self
    }
}

impl IqSample for [u8; 2] {
    #[inline(always)]
    fn to_complex(self) -> Complex32 {
        Complex32::new(CU8_LUT[usize::from(self[0])], CU8_LUT[usize::from(self[1])])
    }
}

/// Position in the FFT-shifted spectrum (lowest frequency first) of natural-order bin `k`.
pub fn fft_shift_index(k: usize, n: usize) -> usize {
    (k + n / 2) % n
}

/// Welch PSD accumulator for one FFT size and window.
pub struct Welch {
    n: usize,
    window: Vec<f32>,
    sum_w2: f64,
    fft: Arc<dyn Fft<f32>>,
    buf: Vec<Complex32>,
    scratch: Vec<Complex32>,
    acc: Vec<f32>,
    segments: usize,
}

impl std::fmt::Debug for Welch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Welch")
            .field("n", &self.n)
            .field("segments", &self.segments)
            .finish_non_exhaustive()
    }
}

impl Welch {
    /// Plans an `n`-point forward FFT and allocates every buffer. `n` must be >= 1 (the
    /// detector validates sizes before calling this).
    pub fn new(n: usize, kind: WindowKind) -> Self {
        let n = n.max(1);
        let w64 = kind.coefficients(n);
        let sum_w2 = w64.iter().map(|w| w * w).sum();
        let fft = FftPlanner::<f32>::new().plan_fft_forward(n);
        let scratch = vec![Complex32::default(); fft.get_inplace_scratch_len()];
        Self {
            n,
            window: w64.iter().map(|&w| w as f32).collect(),
            sum_w2,
            fft,
            buf: vec![Complex32::default(); n],
            scratch,
            acc: vec![0.0; n],
            segments: 0,
        }
    }

    /// FFT size.
    pub fn fft_size(&self) -> usize {
        self.n
    }

    /// Σ w(t)², the PSD normalisation.
    pub fn sum_w2(&self) -> f64 {
        self.sum_w2
    }

    /// Segments accumulated since the last [`Welch::reset`].
    pub fn segments(&self) -> usize {
        self.segments
    }

    /// Forgets the accumulated segments.
    pub fn reset(&mut self) {
        self.acc.fill(0.0);
        self.segments = 0;
    }

    /// Adds one segment of N samples.
    pub fn add_segment<S: IqSample>(&mut self, seg: &[S]) {
        self.add_segment_split::<S, S>(seg, &[]);
    }

    /// Adds one segment given as two consecutive pieces (`a` then `b`, N samples together),
    /// so a segment that straddles two input blocks needs no copy. Missing samples (if the
    /// pieces hold fewer than N) count as zeros; extra ones are ignored.
    pub fn add_segment_split<A: IqSample, B: IqSample>(&mut self, a: &[A], b: &[B]) {
        let n_a = a.len().min(self.n);
        let (buf_a, buf_b) = self.buf.split_at_mut(n_a);
        let (win_a, win_b) = self.window.split_at(n_a);
        for ((o, &w), &s) in buf_a.iter_mut().zip(win_a).zip(a) {
            let c = s.to_complex();
            *o = Complex32::new(c.re * w, c.im * w);
        }
        let n_b = b.len().min(buf_b.len());
        for ((o, &w), &s) in buf_b.iter_mut().zip(win_b).zip(b) {
            let c = s.to_complex();
            *o = Complex32::new(c.re * w, c.im * w);
        }
        if let Some(rest) = buf_b.get_mut(n_b..) {
            rest.fill(Complex32::default());
        }
        self.fft
            .process_with_scratch(&mut self.buf, &mut self.scratch);
        for (acc, x) in self.acc.iter_mut().zip(&self.buf) {
            *acc += x.re * x.re + x.im * x.im;
        }
        self.segments += 1;
    }

    /// Writes the averaged, normalised PSD, FFT-shifted (index 0 = −fs/2), into `out`
    /// (`out.len()` should be N; extra entries are left alone). All zeros before any segment.
    pub fn finish_into(&self, out: &mut [f32]) {
        let denom = self.segments as f64 * self.sum_w2;
        let scale = if denom > 0.0 {
            (1.0 / denom) as f32
        } else {
            0.0
        };
        let half = self.n / 2;
        // Natural bin k goes to (k + N/2) mod N: the upper half of the natural order (negative
        // frequencies) comes first.
        let (pos, neg) = self.acc.split_at(self.n - half);
        for (o, &v) in out.iter_mut().zip(neg.iter().chain(pos)) {
            *o = v * scale;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lut_matches_formula() {
        assert_eq!(CU8_LUT[0], -127.5 / 128.0);
        assert_eq!(CU8_LUT[255], 127.5 / 128.0);
        assert_eq!(
            [128u8, 127u8].to_complex(),
            Complex32::new(0.5 / 128.0, -0.5 / 128.0)
        );
    }

    #[test]
    fn shift_index_puts_dc_in_the_middle() {
        assert_eq!(fft_shift_index(0, 8), 4);
        assert_eq!(fft_shift_index(7, 8), 3);
        assert_eq!(fft_shift_index(4, 8), 0);
        assert_eq!(fft_shift_index(0, 7), 3);
    }

    #[test]
    fn split_segment_equals_whole() {
        let x: Vec<Complex32> = (0..32)
            .map(|t| Complex32::new((t as f32 * 0.37).sin(), (t as f32 * 0.11).cos()))
            .collect();
        let mut a = Welch::new(32, WindowKind::Hann);
        let mut b = Welch::new(32, WindowKind::Hann);
        a.add_segment(&x);
        b.add_segment_split(&x[..13], &x[13..]);
        let (mut pa, mut pb) = (vec![0.0; 32], vec![0.0; 32]);
        a.finish_into(&mut pa);
        b.finish_into(&mut pb);
        assert_eq!(pa, pb);
    }
}
