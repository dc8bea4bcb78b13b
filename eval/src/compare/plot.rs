//! The plot of a comparison (plotters), as SVG and as PNG: the price with the first RL
//! arm's entries and exits on top; the equity curves in the middle, one line per arm
//! (an RL arm's line is the mean equity over its seeds; each seed is drawn thin behind
//! it) with the starting cash; each arm's drawdown below.
//!
//! The PNG's text is drawn with DejaVu Sans (the `dejavu` crate, embedded in the
//! binary), so no system font is needed; the SVG names `sans-serif` and leaves the
//! font to the viewer.

use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::coord::types::{RangedCoordf64, RangedCoordusize};
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use rltrade_env::Bar;
use rltrade_env::bar::format_time_ms;
use rltrade_exec::trades::TradeSide;

use super::{ArmKind, CompareReport};
use crate::error::{Error, Result};

/// Width and height of the plot in pixels (SVG user units and PNG pixels).
pub const PLOT_SIZE: (u32, u32) = (1000, 960);

const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// The date (`YYYY-MM-DD`) of a time in ms since epoch UTC.
fn day(time_ms: i64) -> String {
    let text = format_time_ms(time_ms);
    text.get(..10).unwrap_or(&text).to_string()
}

/// Readable money ticks: thousands separated (`12,500`), cents only below 100.
fn money(v: f64) -> String {
    if v.abs() < 100.0 {
        return format!("{v:.2}");
    }
    let whole = format!("{:.0}", v.abs());
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if v < 0.0 { format!("-{grouped}") } else { grouped }
}

/// Writes the plot of `report`'s arms at the main fee (see the module docs) to `svg`
/// and `png` ([`PLOT_SIZE`] pixels). `bars` are the bars the report covers (or more:
/// each equity point's close is looked up by its time, ms since epoch UTC); a dashed
/// grey vertical line marks each of `boundaries_ms` (where a walk-forward fold's test
/// window begins; empty for a plain comparison).
///
/// # Errors
/// [`Error::Report`] naming the file when it cannot be drawn or written (no arms,
/// fewer than two bars, arms over different bars, a bar missing from `bars`, I/O).
pub fn write_equity_plot(
    report: &CompareReport,
    bars: &[Bar],
    boundaries_ms: &[i64],
    svg: &Path,
    png: &Path,
) -> Result<()> {
    let plot = Plot::new(report, bars, boundaries_ms).map_err(|e| plot_error(svg, e))?;
    // both backends measure text with the registered font (legends, tick labels)
    register_font().map_err(|e| plot_error(svg, e))?;
    plot.draw(SVGBackend::new(svg, PLOT_SIZE).into_drawing_area()).map_err(|e| plot_error(svg, e))?;
    let (w, h) = PLOT_SIZE;
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    plot.draw(BitMapBackend::with_buffer(&mut rgb, PLOT_SIZE).into_drawing_area()).map_err(|e| plot_error(png, e))?;
    write_png(png, &rgb, PLOT_SIZE).map_err(|e| plot_error(png, e))
}

fn plot_error(path: &Path, message: String) -> Error {
    Error::Report { path: path.to_path_buf(), message: format!("cannot draw the plot: {message}") }
}

/// Registers DejaVu Sans as plotters' `sans-serif`, once: the text of the PNG, and the
/// text measurements (legend boxes, label areas) of both backends.
fn register_font() -> std::result::Result<(), String> {
    static REGISTERED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
                .map_err(|_| "DejaVu Sans is not a valid font".to_string())
        })
        .clone()
}

/// Encodes `rgb` (8-bit RGB rows, top first) as a PNG file, written atomically.
fn write_png(path: &Path, rgb: &[u8], (w, h): (u32, u32)) -> std::result::Result<(), String> {
    let file = rltrade_env::output_file::beside(path).map_err(|e| e.to_string())?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file.as_file()), w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(rgb).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    file.persist(path).map_err(|e| e.error.to_string())?;
    Ok(())
}

/// How an arm's line is drawn: RL arms solid and thick; baselines dashed with their own
/// dash lengths, so that two baselines with equal curves (`ma:auto` choosing 50/200)
/// both stay visible.
#[derive(Clone, Copy)]
enum Stroke {
    Solid(u32),
    Dashed { dash: i32, gap: i32 },
}

fn stroke(kind: ArmKind, baseline_index: usize) -> Stroke {
    match kind {
        ArmKind::Rl => Stroke::Solid(3),
        ArmKind::Baseline => match baseline_index {
            0 => Stroke::Solid(2),
            k => Stroke::Dashed { dash: 4 + 6 * k as i32, gap: 3 + 2 * k as i32 },
        },
    }
}

/// A panel: bar index on x, a value on y.
type Panel<'b, DB> = ChartContext<'b, DB, Cartesian2d<RangedCoordusize, RangedCoordf64>>;

/// One arm's curves.
struct ArmCurves {
    name: String,
    kind: ArmKind,
    /// Equity of each seed's run, per bar.
    seeds: Vec<Vec<f64>>,
    /// Mean equity over the seeds, per bar.
    mean: Vec<f64>,
    /// Drawdown of `mean` from its running peak, in percent (≤ 0).
    drawdown: Vec<f64>,
}

/// An entry or exit of the first RL arm's first seed on the price panel.
struct Marker {
    index: usize,
    price: f64,
    entry: bool,
    side: TradeSide,
}

/// Everything the plot draws, checked once and drawn on any backend.
struct Plot<'a> {
    report: &'a CompareReport,
    times: Vec<i64>,
    closes: Vec<f64>,
    curves: Vec<ArmCurves>,
    markers: Vec<Marker>,
    /// Whose trades the markers are (`ppo (seed 1)`).
    marked: Option<String>,
    boundaries: Vec<usize>,
}

impl<'a> Plot<'a> {
    fn new(report: &'a CompareReport, bars: &[Bar], boundaries_ms: &[i64]) -> std::result::Result<Self, String> {
        let first = report.arms.first().and_then(|a| a.runs.first()).ok_or("no arms")?;
        let times: Vec<i64> = first.equity_curve.iter().map(|p| p.time_ms).collect();
        let n = times.len();
        if n < 2 {
            return Err("fewer than two bars".into());
        }
        let closes = times
            .iter()
            .map(|&t| {
                let i = bars.partition_point(|b| b.time_ms < t);
                bars.get(i)
                    .filter(|b| b.time_ms == t)
                    .map(|b| b.close)
                    .ok_or(format!("no bar at {}", format_time_ms(t)))
            })
            .collect::<std::result::Result<Vec<f64>, String>>()?;
        let mut curves = Vec::new();
        for a in &report.arms {
            let seeds: Vec<Vec<f64>> =
                a.runs.iter().map(|r| r.equity_curve.iter().map(|p| p.equity).collect()).collect();
            if seeds.iter().any(|s| s.len() != n) {
                return Err(format!("{} covers other bars than {}", a.name, report.arms[0].name));
            }
            let mean: Vec<f64> =
                (0..n).map(|i| seeds.iter().map(|s| s[i]).sum::<f64>() / seeds.len().max(1) as f64).collect();
            let mut peak = report.initial_cash;
            let drawdown = mean
                .iter()
                .map(|&e| {
                    peak = peak.max(e);
                    if peak > 0.0 { -(1.0 - e / peak) * 100.0 } else { 0.0 }
                })
                .collect();
            curves.push(ArmCurves { name: a.name.clone(), kind: a.kind, seeds, mean, drawdown });
        }
        let index_of = |t: i64| times.partition_point(|&x| x < t).min(n - 1);
        let rl = report.arms.iter().find(|a| a.kind == ArmKind::Rl).and_then(|a| Some((a, a.runs.first()?)));
        let mut markers = Vec::new();
        if let Some((_, run)) = rl {
            for t in &run.trades {
                markers.push(Marker {
                    index: index_of(t.entry_time_ms),
                    price: t.entry_price,
                    entry: true,
                    side: t.side,
                });
                if let (Some(time), Some(price)) = (t.exit_time_ms, t.exit_price) {
                    markers.push(Marker { index: index_of(time), price, entry: false, side: t.side });
                }
            }
        }
        let marked = rl.map(|(a, _)| match a.seeds.first() {
            Some(seed) if a.seeds.len() > 1 => format!("{} (seed {seed})", a.name),
            _ => a.name.clone(),
        });
        let boundaries = boundaries_ms.iter().map(|&b| index_of(b)).collect();
        Ok(Self { report, times, closes, curves, markers, marked, boundaries })
    }

    fn day_at(&self, i: usize) -> String {
        day(self.times[i.min(self.times.len() - 1)])
    }

    /// A panel over every bar (dates on the x axis) and `y`, its mesh drawn, with
    /// `y_desc` and `y_ticks` on the y axis.
    fn panel<'b, DB: DrawingBackend>(
        &self,
        area: &'b DrawingArea<DB, Shift>,
        y: std::ops::Range<f64>,
        y_desc: &str,
        y_ticks: &dyn Fn(&f64) -> String,
    ) -> std::result::Result<Panel<'b, DB>, String> {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        let mut chart = ChartBuilder::on(area)
            .margin(12)
            .x_label_area_size(25)
            .y_label_area_size(80)
            .build_cartesian_2d(0..self.times.len() - 1, y)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_labels(8)
            .x_label_formatter(&|i| self.day_at(*i))
            .y_label_formatter(y_ticks)
            .y_desc(y_desc)
            .draw()
            .map_err(err)?;
        Ok(chart)
    }

    /// Draws the three panels on `root` and presents it.
    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>) -> std::result::Result<(), String> {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        let report = self.report;
        let n = self.times.len();
        root.fill(&WHITE).map_err(err)?;
        let title = format!(
            "{} equity, {} to {} ({} bps fee, {} bps slippage)",
            report.symbol,
            day(report.first_bar_ms),
            day(report.last_bar_ms),
            report.fee_bps,
            report.slippage_bps
        );
        let root = root.titled(&title, ("sans-serif", 20)).map_err(err)?;
        let (price_area, rest) = root.split_vertically(250);
        let (equity_area, dd_area) = rest.split_vertically(440);
        let grey = RGBColor(120, 120, 120);

        // price with the first RL arm's trades
        let (plo, phi) = bounds(self.closes.iter().chain(self.markers.iter().map(|m| &m.price)));
        let ppad = ((phi - plo) * 0.05).max(1e-9);
        let mut price = self.panel(&price_area, (plo - ppad)..(phi + ppad), "close", &|v| money(*v))?;
        let black = RGBColor(40, 40, 40);
        price
            .draw_series(LineSeries::new(self.closes.iter().enumerate().map(|(i, &c)| (i, c)), black.stroke_width(1)))
            .map_err(err)?
            .label(format!("{} close", report.symbol))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], black.stroke_width(1)));
        if let Some(who) = &self.marked {
            let (green, red) = (RGBColor(0, 150, 60), RGBColor(200, 30, 30));
            let entries = self.markers.iter().filter(|m| m.entry);
            price
                .draw_series(entries.map(|m| {
                    let up = m.side == TradeSide::Long;
                    let (dy, color) = if up { (7, green) } else { (-7, red) };
                    EmptyElement::at((m.index, m.price)) + Polygon::new(vec![(0, 0), (-5, dy), (5, dy)], color.filled())
                }))
                .map_err(err)?
                .label(format!("{who}: entries (▲ long, ▼ short)"))
                .legend(move |(x, y)| {
                    Polygon::new(vec![(x + 10, y - 4), (x + 5, y + 4), (x + 15, y + 4)], green.filled())
                });
            let exits = self.markers.iter().filter(|m| !m.entry);
            price
                .draw_series(exits.map(|m| Cross::new((m.index, m.price), 4, black.stroke_width(2))))
                .map_err(err)?
                .label(format!("{who}: exits"))
                .legend(move |(x, y)| Cross::new((x + 10, y), 4, black.stroke_width(2)));
        }
        price
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(err)?;

        // equity and drawdown
        let (lo, hi) = bounds(self.curves.iter().flat_map(|c| c.seeds.iter().flatten()).chain([&report.initial_cash]));
        let pad = ((hi - lo) * 0.05).max(1e-9);
        let deepest = self.curves.iter().flat_map(|c| c.drawdown.iter()).fold(0.0f64, |m, &d| m.min(d));
        let mut chart = self.panel(&equity_area, (lo - pad)..(hi + pad), "equity", &|v| money(*v))?;
        let mut dd = self.panel(&dd_area, (deepest * 1.05 - 1e-9)..0.0, "drawdown", &|v| format!("{v:.0}%"))?;
        chart
            .draw_series(LineSeries::new(
                [(0, report.initial_cash), (n - 1, report.initial_cash)],
                grey.stroke_width(1),
            ))
            .map_err(err)?
            .label(format!("starting cash {}", money(report.initial_cash)))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], grey.stroke_width(1)));
        for &i in &self.boundaries {
            chart
                .draw_series(DashedLineSeries::new([(i, lo - pad), (i, hi + pad)], 6, 4, grey.stroke_width(1)))
                .map_err(err)?;
            dd.draw_series(DashedLineSeries::new([(i, deepest * 1.05), (i, 0.0)], 6, 4, grey.stroke_width(1)))
                .map_err(err)?;
            price
                .draw_series(DashedLineSeries::new([(i, plo - ppad), (i, phi + ppad)], 6, 4, grey.stroke_width(1)))
                .map_err(err)?;
        }
        let mut baselines = 0;
        let labels = labels(&self.curves);
        for (k, (c, label)) in self.curves.iter().zip(labels).enumerate() {
            let color = COLORS[k % COLORS.len()];
            let line = stroke(c.kind, baselines);
            if c.kind == ArmKind::Baseline {
                baselines += 1;
            }
            if c.kind == ArmKind::Rl && c.seeds.len() > 1 {
                for (j, s) in c.seeds.iter().enumerate() {
                    let thin = color.mix(0.3).stroke_width(1);
                    let drawn = chart
                        .draw_series(LineSeries::new(s.iter().enumerate().map(|(i, &v)| (i, v)), thin))
                        .map_err(err)?;
                    if j == 0 {
                        drawn
                            .label(format!("{}: each of {} seeds", c.name, c.seeds.len()))
                            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], thin));
                    }
                }
            }
            let points = |v: &[f64]| v.iter().enumerate().map(|(i, &y)| (i, y)).collect::<Vec<_>>();
            match line {
                Stroke::Solid(width) => {
                    let style = color.stroke_width(width);
                    chart
                        .draw_series(LineSeries::new(points(&c.mean), style))
                        .map_err(err)?
                        .label(label)
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
                    dd.draw_series(LineSeries::new(points(&c.drawdown), style)).map_err(err)?;
                }
                Stroke::Dashed { dash, gap } => {
                    let style = color.stroke_width(2);
                    chart
                        .draw_series(DashedLineSeries::new(points(&c.mean), dash, gap, style))
                        .map_err(err)?
                        .label(label)
                        .legend(move |(x, y)| {
                            DashedPathElement::new(vec![(x, y), (x + 24, y)], dash / 2, gap / 2, style)
                        });
                    dd.draw_series(DashedLineSeries::new(points(&c.drawdown), dash, gap, style)).map_err(err)?;
                }
            }
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
        Ok(())
    }
}

/// Legend labels: an RL arm with several seeds says so, and an arm whose mean curve
/// equals an earlier arm's says which (`ma:50:200 (same curve as ma:auto)`), so that a
/// line drawn exactly under another is still accounted for.
fn labels(curves: &[ArmCurves]) -> Vec<String> {
    curves
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let mut label = if c.kind == ArmKind::Rl && c.seeds.len() > 1 {
                format!("{} (mean of {} seeds)", c.name, c.seeds.len())
            } else {
                c.name.clone()
            };
            if let Some(twin) = curves[..k].iter().find(|o| o.mean == c.mean) {
                label.push_str(&format!(" (same curve as {})", twin.name));
            }
            label
        })
        .collect()
}

/// (min, max) of finite values; (0, 1) when there are none.
fn bounds<'v>(values: impl Iterator<Item = &'v f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_ticks_group_thousands() {
        assert_eq!(money(6000.0), "6,000");
        assert_eq!(money(1_234_567.4), "1,234,567");
        assert_eq!(money(-12_500.0), "-12,500");
        assert_eq!(money(99.5), "99.50");
        assert_eq!(money(100.0), "100");
    }
}
