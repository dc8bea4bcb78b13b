//! Incremental, causal technical indicators: the one home of this arithmetic in
//! rltrade (the MA-crossover baseline and [`crate::features`] both use it).
//!
//! Every indicator is fed one value (or one bar) at a time through `update`, which
//! returns `None` until the indicator has seen enough input ("warmed up") and
//! `Some(value)` from then on. An update only reads the inputs given so far, never
//! anything later, so an indicator is causal by construction. Memory is O(period)
//! and allocated once in the constructor: `update` never allocates.
//!
//! Constructors come in two forms: `try_new(period)` returns
//! [`Error::Config`](crate::Error::Config) for a period of 0, and `new(period)`
//! panics on it (for periods that are compile-time constants).
//!
//! Sources: J. Welles Wilder Jr., *New Concepts in Technical Trading Systems*,
//! Trend Research, 1978 (RSI, true range and ATR, and the smoothing they use).

use crate::error::{Error, Result};

/// A standard deviation below this is treated as zero (a constant window).
const STD_EPSILON: f64 = 1e-12;

/// The longest indicator period, bars: every indicator allocates its window up front,
/// and no data file rltrade reads has a million bars of one interval to spare.
pub const MAX_PERIOD: usize = 1_000_000;

/// Checks an indicator period: `1 <= period <= MAX_PERIOD`.
fn check_period(indicator: &str, period: usize) -> Result<()> {
    if !(1..=MAX_PERIOD).contains(&period) {
        return Err(Error::Config {
            field: format!("{indicator}.period"),
            message: format!("the period must be in 1..={MAX_PERIOD} bars (got {period})"),
        });
    }
    Ok(())
}

/// A fixed-capacity ring buffer of the last `capacity` values, allocated once.
///
/// While not yet full the values are `buf[..len]` in order and `next == len`; once
/// full, `buf[next..]` followed by `buf[..next]` is the window oldest first.
#[derive(Clone, Debug)]
struct Window {
    buf: Vec<f64>,
    next: usize,
    len: usize,
}

impl Window {
    fn new(capacity: usize) -> Self {
        Self { buf: vec![0.0; capacity], next: 0, len: 0 }
    }

    fn push(&mut self, x: f64) {
        self.buf[self.next] = x;
        self.next += 1;
        if self.next == self.buf.len() {
            self.next = 0;
        }
        if self.len < self.buf.len() {
            self.len += 1;
        }
    }

    fn is_full(&self) -> bool {
        self.len == self.buf.len()
    }

    /// The values held, oldest first.
    fn chronological(&self) -> impl Iterator<Item = &f64> {
        self.buf[self.next..self.len].iter().chain(self.buf[..self.next].iter())
    }

    fn clear(&mut self) {
        self.next = 0;
        self.len = 0;
    }
}

/// Simple moving average: the plain mean of the last `period` inputs.
///
/// Each update sums the window in chronological order and divides by `period`
/// (no running sum), so the result is exactly
/// `window.iter().sum::<f64>() / period as f64` over the same values, oldest first,
/// and never drifts. Costs O(period) per update. Warm after `period` inputs.
#[derive(Clone, Debug)]
pub struct Sma {
    window: Window,
    value: Option<f64>,
}

impl Sma {
    /// A moving average over the last `period` inputs.
    ///
    /// # Errors
    /// [`Error::Config`] (field `sma.period`) when `period == 0`.
    pub fn try_new(period: usize) -> Result<Self> {
        check_period("sma", period)?;
        Ok(Self { window: Window::new(period), value: None })
    }

    /// Like [`Sma::try_new`], for a period known to be valid.
    ///
    /// # Panics
    /// Panics when `period == 0`.
    pub fn new(period: usize) -> Self {
        assert!(period >= 1, "Sma period must be at least 1");
        Self { window: Window::new(period), value: None }
    }

    /// The number of inputs averaged.
    pub fn period(&self) -> usize {
        self.window.buf.len()
    }

    /// Feeds one input (any unit; the mean has the same unit) and returns the mean
    /// of the last `period` inputs, or `None` before `period` inputs were seen.
    pub fn update(&mut self, x: f64) -> Option<f64> {
        self.window.push(x);
        if self.window.is_full() {
            let sum: f64 = self.window.chronological().sum();
            self.value = Some(sum / self.period() as f64);
        }
        self.value
    }

    /// The latest mean, `None` while warming up.
    pub fn value(&self) -> Option<f64> {
        self.value
    }

    /// True once `period` inputs were seen.
    pub fn is_ready(&self) -> bool {
        self.value.is_some()
    }

    /// Forgets every input, as if newly constructed.
    pub fn reset(&mut self) {
        self.window.clear();
        self.value = None;
    }
}

/// Shared warm-up and smoothing of Wilder's averages (RSI gains and losses, ATR).
///
/// The first average is the simple mean of the first `period` inputs; after that
/// `avg = (avg × (period − 1) + x) / period` (Wilder 1978).
#[derive(Clone, Debug)]
struct WilderAverage {
    period: usize,
    /// Inputs seen, counted up to `period` only.
    seen: usize,
    /// Running sum during warm-up; then the current average.
    acc: f64,
}

impl WilderAverage {
    fn new(period: usize) -> Self {
        Self { period, seen: 0, acc: 0.0 }
    }

    /// Feeds one input; the average once `period` inputs were seen.
    fn update(&mut self, x: f64) -> Option<f64> {
        let p = self.period as f64;
        if self.seen < self.period {
            self.acc += x;
            self.seen += 1;
            if self.seen < self.period {
                return None;
            }
            self.acc /= p;
        } else {
            self.acc = (self.acc * (p - 1.0) + x) / p;
        }
        Some(self.acc)
    }

    fn reset(&mut self) {
        self.seen = 0;
        self.acc = 0.0;
    }
}

/// Relative Strength Index (Wilder 1978), in `[0, 100]`.
///
/// From the changes `d = x_t − x_{t−1}` of the input: gain = max(d, 0),
/// loss = max(−d, 0). The first average gain (loss) is the simple mean of the first
/// `period` gains (losses); afterwards each is smoothed with Wilder's
/// `avg = (avg × (period − 1) + x) / period`.
/// `RSI = 100 − 100 / (1 + avg_gain / avg_loss)`; when `avg_loss == 0` the RSI is
/// 100 if `avg_gain > 0` and 50 (no movement at all) otherwise.
///
/// Warm after `period` changes, i.e. `period + 1` inputs.
///
/// Source: J. Welles Wilder Jr., *New Concepts in Technical Trading Systems*, 1978.
#[derive(Clone, Debug)]
pub struct Rsi {
    prev: Option<f64>,
    gain: WilderAverage,
    loss: WilderAverage,
    value: Option<f64>,
}

impl Rsi {
    /// An RSI over `period` changes (Wilder used 14).
    ///
    /// # Errors
    /// [`Error::Config`] (field `rsi.period`) when `period == 0`.
    pub fn try_new(period: usize) -> Result<Self> {
        check_period("rsi", period)?;
        Ok(Self::build(period))
    }

    /// Like [`Rsi::try_new`], for a period known to be valid.
    ///
    /// # Panics
    /// Panics when `period == 0`.
    pub fn new(period: usize) -> Self {
        assert!(period >= 1, "Rsi period must be at least 1");
        Self::build(period)
    }

    fn build(period: usize) -> Self {
        Self { prev: None, gain: WilderAverage::new(period), loss: WilderAverage::new(period), value: None }
    }

    /// The number of changes averaged.
    pub fn period(&self) -> usize {
        self.gain.period
    }

    /// Feeds one input (typically a close, quote currency) and returns the RSI in
    /// `[0, 100]`, or `None` before `period + 1` inputs were seen.
    pub fn update(&mut self, x: f64) -> Option<f64> {
        let prev = self.prev.replace(x)?;
        let change = x - prev;
        let (gain, loss) = if change > 0.0 { (change, 0.0) } else { (0.0, -change) };
        let avg_gain = self.gain.update(gain);
        let avg_loss = self.loss.update(loss);
        if let (Some(g), Some(l)) = (avg_gain, avg_loss) {
            self.value = Some(rsi_from_averages(g, l));
        }
        self.value
    }

    /// The latest RSI in `[0, 100]`, `None` while warming up.
    pub fn value(&self) -> Option<f64> {
        self.value
    }

    /// True once `period + 1` inputs were seen.
    pub fn is_ready(&self) -> bool {
        self.value.is_some()
    }

    /// Forgets every input, as if newly constructed.
    pub fn reset(&mut self) {
        self.prev = None;
        self.gain.reset();
        self.loss.reset();
        self.value = None;
    }
}

/// `100 − 100 / (1 + avg_gain / avg_loss)`, with Wilder's convention for
/// `avg_loss == 0`: 100 if anything was gained, else 50.
fn rsi_from_averages(avg_gain: f64, avg_loss: f64) -> f64 {
    if avg_loss == 0.0 {
        if avg_gain > 0.0 { 100.0 } else { 50.0 }
    } else {
        100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
    }
}

/// Average True Range (Wilder 1978), in the unit of the prices (quote currency).
///
/// True range of a bar: `max(high − low, |high − prev_close|, |low − prev_close|)`;
/// it needs the previous bar's close, so the first bar gives no true range. The
/// first ATR is the simple mean of the first `period` true ranges; afterwards
/// `atr = (atr × (period − 1) + tr) / period`.
///
/// Warm after `period + 1` bars.
///
/// Source: J. Welles Wilder Jr., *New Concepts in Technical Trading Systems*, 1978.
#[derive(Clone, Debug)]
pub struct Atr {
    prev_close: Option<f64>,
    tr: WilderAverage,
    value: Option<f64>,
}

impl Atr {
    /// An ATR over `period` true ranges (Wilder used 14).
    ///
    /// # Errors
    /// [`Error::Config`] (field `atr.period`) when `period == 0`.
    pub fn try_new(period: usize) -> Result<Self> {
        check_period("atr", period)?;
        Ok(Self::build(period))
    }

    /// Like [`Atr::try_new`], for a period known to be valid.
    ///
    /// # Panics
    /// Panics when `period == 0`.
    pub fn new(period: usize) -> Self {
        assert!(period >= 1, "Atr period must be at least 1");
        Self::build(period)
    }

    fn build(period: usize) -> Self {
        Self { prev_close: None, tr: WilderAverage::new(period), value: None }
    }

    /// The number of true ranges averaged.
    pub fn period(&self) -> usize {
        self.tr.period
    }

    /// Feeds one bar's high, low and close (quote currency) and returns the ATR
    /// (quote currency), or `None` before `period + 1` bars were seen.
    pub fn update(&mut self, high: f64, low: f64, close: f64) -> Option<f64> {
        let prev_close = self.prev_close.replace(close)?;
        let true_range = (high - low).max((high - prev_close).abs()).max((low - prev_close).abs());
        if let Some(atr) = self.tr.update(true_range) {
            self.value = Some(atr);
        }
        self.value
    }

    /// The latest ATR (quote currency), `None` while warming up.
    pub fn value(&self) -> Option<f64> {
        self.value
    }

    /// True once `period + 1` bars were seen.
    pub fn is_ready(&self) -> bool {
        self.value.is_some()
    }

    /// Forgets every bar, as if newly constructed.
    pub fn reset(&mut self) {
        self.prev_close = None;
        self.tr.reset();
        self.value = None;
    }
}

/// Rolling z-score of the newest input within the last `period` inputs
/// (the newest included): `(x − mean) / std`, dimensionless.
///
/// Mean and population standard deviation (divide by `period`) are computed two-pass
/// over the window, oldest first, on every update (no running sums, no drift). When
/// the standard deviation is below 1e-12 (a constant window, or `period == 1`) the
/// z-score is 0. Warm after `period` inputs.
#[derive(Clone, Debug)]
pub struct RollingZScore {
    window: Window,
    value: Option<f64>,
}

impl RollingZScore {
    /// A z-score over the last `period` inputs.
    ///
    /// # Errors
    /// [`Error::Config`] (field `zscore.period`) when `period == 0`.
    pub fn try_new(period: usize) -> Result<Self> {
        check_period("zscore", period)?;
        Ok(Self { window: Window::new(period), value: None })
    }

    /// Like [`RollingZScore::try_new`], for a period known to be valid.
    ///
    /// # Panics
    /// Panics when `period == 0`.
    pub fn new(period: usize) -> Self {
        assert!(period >= 1, "RollingZScore period must be at least 1");
        Self { window: Window::new(period), value: None }
    }

    /// The number of inputs in the window.
    pub fn period(&self) -> usize {
        self.window.buf.len()
    }

    /// Feeds one input and returns its z-score within the last `period` inputs, or
    /// `None` before `period` inputs were seen.
    pub fn update(&mut self, x: f64) -> Option<f64> {
        self.window.push(x);
        if self.window.is_full() {
            let n = self.period() as f64;
            let mean = self.window.chronological().sum::<f64>() / n;
            let var = self.window.chronological().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
            let std = var.sqrt();
            self.value = Some(if std < STD_EPSILON { 0.0 } else { (x - mean) / std });
        }
        self.value
    }

    /// The latest z-score, `None` while warming up.
    pub fn value(&self) -> Option<f64> {
        self.value
    }

    /// True once `period` inputs were seen.
    pub fn is_ready(&self) -> bool {
        self.value.is_some()
    }

    /// Forgets every input, as if newly constructed.
    pub fn reset(&mut self) {
        self.window.clear();
        self.value = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * (1.0 + a.abs().max(b.abs()))
    }

    #[test]
    fn zero_periods_are_config_errors() {
        let cases: [(&str, Result<()>); 4] = [
            ("sma.period", Sma::try_new(0).map(|_| ())),
            ("rsi.period", Rsi::try_new(0).map(|_| ())),
            ("atr.period", Atr::try_new(0).map(|_| ())),
            ("zscore.period", RollingZScore::try_new(0).map(|_| ())),
        ];
        for (name, result) in cases {
            match result {
                Err(Error::Config { field, .. }) => assert_eq!(field, name),
                other => panic!("{name}: expected a config error, got {other:?}"),
            }
        }
        assert!(Sma::try_new(1).is_ok());
    }

    #[test]
    fn sma_small_sequence() {
        let mut sma = Sma::new(3);
        let got: Vec<Option<f64>> = [1.0, 2.0, 3.0, 4.0, 5.0].iter().map(|&x| sma.update(x)).collect();
        assert_eq!(got, [None, None, Some(2.0), Some(3.0), Some(4.0)]);
        assert_eq!(sma.value(), Some(4.0));
    }

    #[test]
    fn sma_equals_straightforward_mean_exactly() {
        // Values of very different magnitudes, so the summation order matters.
        let xs: Vec<f64> = (0..500)
            .map(|i| {
                let i = i as f64;
                (i * 0.618_033_988_7).sin() * 10f64.powi((i as i32 % 7) - 3) + 0.1 * i
            })
            .collect();
        for period in [1, 2, 3, 7, 20, 50] {
            let mut sma = Sma::new(period);
            for (t, &x) in xs.iter().enumerate() {
                let got = sma.update(x);
                if t + 1 < period {
                    assert_eq!(got, None, "period {period}, t {t}");
                } else {
                    let window = &xs[t + 1 - period..=t];
                    let expected = window.iter().sum::<f64>() / period as f64;
                    assert_eq!(got.map(f64::to_bits), Some(expected.to_bits()), "period {period}, t {t}");
                }
            }
        }
    }

    /// The textbook RSI written as a plain loop over a whole slice (the reference).
    fn reference_rsi(xs: &[f64], period: usize) -> Vec<Option<f64>> {
        let mut out = vec![None; xs.len()];
        let p = period as f64;
        let (mut avg_gain, mut avg_loss) = (0.0, 0.0);
        for t in 1..xs.len() {
            let d = xs[t] - xs[t - 1];
            let (g, l) = (d.max(0.0), (-d).max(0.0));
            if t < period {
                continue;
            }
            if t == period {
                let changes: Vec<f64> = (1..=period).map(|k| xs[k] - xs[k - 1]).collect();
                avg_gain = changes.iter().map(|d| d.max(0.0)).sum::<f64>() / p;
                avg_loss = changes.iter().map(|d| (-d).max(0.0)).sum::<f64>() / p;
            } else {
                avg_gain = (avg_gain * (p - 1.0) + g) / p;
                avg_loss = (avg_loss * (p - 1.0) + l) / p;
            }
            out[t] = Some(if avg_loss == 0.0 {
                if avg_gain > 0.0 { 100.0 } else { 50.0 }
            } else {
                100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
            });
        }
        out
    }

    #[test]
    fn rsi_known_sequence() {
        // Changes: +1, -0.5, +1.5, -1, +0.5, +1.5.
        let xs = [10.0, 11.0, 10.5, 12.0, 11.0, 11.5, 13.0];
        let mut rsi = Rsi::new(3);
        let got: Vec<Option<f64>> = xs.iter().map(|&x| rsi.update(x)).collect();
        assert_eq!(&got[..3], &[None, None, None]);
        // First averages: gain 2.5/3, loss 0.5/3, RS = 5 -> 100 - 100/6.
        assert!(close(got[3].unwrap_or(f64::NAN), 100.0 - 100.0 / 6.0), "{got:?}");
        // Then gain (2.5/3·2 + 0)/3 = 5/9, loss (0.5/3·2 + 1)/3 = 4/9, RS = 1.25.
        assert!(close(got[4].unwrap_or(f64::NAN), 100.0 - 100.0 / 2.25), "{got:?}");
        let reference = reference_rsi(&xs, 3);
        for (t, (g, r)) in got.iter().zip(&reference).enumerate() {
            match (g, r) {
                (Some(g), Some(r)) => assert!(close(*g, *r), "t {t}: {g} vs {r}"),
                (None, None) => {}
                _ => panic!("t {t}: {g:?} vs {r:?}"),
            }
        }
    }

    #[test]
    fn rsi_matches_reference_on_a_long_sequence() {
        let xs: Vec<f64> = (0..400).map(|i| 100.0 + (i as f64 * 0.37).sin() * 5.0 + (i as f64 * 0.05)).collect();
        for period in [1, 2, 14] {
            let mut rsi = Rsi::new(period);
            let reference = reference_rsi(&xs, period);
            for (t, &x) in xs.iter().enumerate() {
                let got = rsi.update(x);
                assert_eq!(got.is_some(), reference[t].is_some(), "period {period}, t {t}");
                if let (Some(g), Some(r)) = (got, reference[t]) {
                    assert!(close(g, r), "period {period}, t {t}: {g} vs {r}");
                    assert!((0.0..=100.0).contains(&g));
                }
            }
        }
    }

    #[test]
    fn rsi_edge_cases() {
        let mut up = Rsi::new(3);
        let mut flat = Rsi::new(3);
        let mut down = Rsi::new(3);
        for i in 0..6 {
            up.update(i as f64);
            flat.update(7.0);
            down.update(-(i as f64));
        }
        assert_eq!(up.value(), Some(100.0));
        assert_eq!(flat.value(), Some(50.0));
        assert_eq!(down.value(), Some(0.0));
    }

    /// The textbook ATR written as a plain loop (the reference).
    fn reference_atr(bars: &[(f64, f64, f64)], period: usize) -> Vec<Option<f64>> {
        let p = period as f64;
        let trs: Vec<f64> = (1..bars.len())
            .map(|t| {
                let (h, l, _) = bars[t];
                let pc = bars[t - 1].2;
                (h - l).max((h - pc).abs()).max((l - pc).abs())
            })
            .collect();
        let mut out = vec![None; bars.len()];
        let mut atr = 0.0;
        for k in (period - 1)..trs.len() {
            atr = if k == period - 1 { trs[..period].iter().sum::<f64>() / p } else { (atr * (p - 1.0) + trs[k]) / p };
            out[k + 1] = Some(atr);
        }
        out
    }

    #[test]
    fn atr_known_sequence() {
        // True ranges from the 2nd bar: 2, 2.5, 1.5, 2.5.
        let bars = [(10.0, 8.0, 9.0), (11.0, 9.0, 10.0), (12.0, 9.5, 11.0), (11.5, 10.0, 10.5), (13.0, 12.0, 12.5)];
        let mut atr = Atr::new(2);
        let got: Vec<Option<f64>> = bars.iter().map(|&(h, l, c)| atr.update(h, l, c)).collect();
        assert_eq!(got, [None, None, Some(2.25), Some(1.875), Some(2.1875)]);
        assert_eq!(got, reference_atr(&bars, 2));
        // A gap: the true range uses the previous close, not just high − low.
        let mut gap = Atr::new(1);
        gap.update(10.0, 10.0, 10.0);
        assert_eq!(gap.update(20.0, 19.0, 19.5), Some(10.0));
    }

    #[test]
    fn atr_matches_reference_on_a_long_sequence() {
        let bars: Vec<(f64, f64, f64)> = (0..300)
            .map(|i| {
                let c = 100.0 + (i as f64 * 0.21).sin() * 8.0;
                (c + 1.0 + (i % 5) as f64 * 0.3, c - 1.0 - (i % 3) as f64 * 0.2, c)
            })
            .collect();
        for period in [1, 3, 14] {
            let mut atr = Atr::new(period);
            let reference = reference_atr(&bars, period);
            for (t, &(h, l, c)) in bars.iter().enumerate() {
                let got = atr.update(h, l, c);
                assert_eq!(got.is_some(), reference[t].is_some(), "period {period}, t {t}");
                if let (Some(g), Some(r)) = (got, reference[t]) {
                    assert!(close(g, r), "period {period}, t {t}: {g} vs {r}");
                }
            }
        }
    }

    #[test]
    fn zscore_small_sequence() {
        let mut z = RollingZScore::new(3);
        assert_eq!(z.update(1.0), None);
        assert_eq!(z.update(2.0), None);
        // Window [1, 2, 3]: mean 2, population std sqrt(2/3).
        assert!(close(z.update(3.0).unwrap_or(f64::NAN), 1.5f64.sqrt()));
        // Window [2, 3, 6]: mean 11/3, variance 78/27.
        let expected = (7.0 / 3.0) / (78.0f64 / 27.0).sqrt();
        assert!(close(z.update(6.0).unwrap_or(f64::NAN), expected));
        // Window [3, 6, 0]: mean 3, variance 6.
        assert!(close(z.update(0.0).unwrap_or(f64::NAN), -3.0 / 6.0f64.sqrt()));
    }

    #[test]
    fn zscore_of_a_constant_window_is_zero() {
        let mut z = RollingZScore::new(4);
        for _ in 0..10 {
            z.update(0.1);
        }
        assert_eq!(z.value(), Some(0.0));
        let mut one = RollingZScore::new(1);
        assert_eq!(one.update(42.0), Some(0.0));
    }

    #[test]
    fn reset_forgets_everything() {
        let xs = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0];
        let mut sma = Sma::new(3);
        let mut rsi = Rsi::new(3);
        let mut atr = Atr::new(3);
        let mut z = RollingZScore::new(3);
        let run = |sma: &mut Sma, rsi: &mut Rsi, atr: &mut Atr, z: &mut RollingZScore| {
            xs.iter()
                .map(|&x| (sma.update(x), rsi.update(x), atr.update(x + 1.0, x - 1.0, x), z.update(x)))
                .collect::<Vec<_>>()
        };
        let first = run(&mut sma, &mut rsi, &mut atr, &mut z);
        sma.reset();
        rsi.reset();
        atr.reset();
        z.reset();
        assert_eq!((sma.value(), rsi.value(), atr.value(), z.value()), (None, None, None, None));
        assert!(!sma.is_ready() && !rsi.is_ready() && !atr.is_ready() && !z.is_ready());
        let second = run(&mut sma, &mut rsi, &mut atr, &mut z);
        assert_eq!(first, second);
    }
}
