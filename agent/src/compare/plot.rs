//! The equity-curve plot of a comparison (SVG, plotters): one line per arm (an RL arm's
//! line is the mean equity over its seeds; each seed is drawn thin behind it), the
//! starting cash, and a drawdown panel below.

use std::path::Path;

use plotters::element::DashedPathElement;
use plotters::prelude::*;
use rltrade_env::bar::format_time_ms;

use super::{ArmKind, CompareReport};
use crate::error::{Error, Result};

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

/// Writes the equity curves of `report`'s arms at the main fee to `path` (SVG,
/// 1000×720 px): above, the equity in quote currency against the bar's open time, with
/// the starting cash as a grey line; below, each arm's drawdown from its running peak
/// (a fraction, drawn as a negative percentage).
///
/// # Errors
/// [`Error::Io`]-like [`Error::Export`] naming the file when it cannot be drawn or written.
pub fn write_equity_svg(report: &CompareReport, path: &Path) -> Result<()> {
    write_equity_svg_with_boundaries(report, path, &[])
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

/// [`write_equity_svg`] with a dashed grey vertical line at each of `boundaries_ms` (bar
/// open times, ms since epoch UTC: where a walk-forward fold's test window begins).
///
/// # Errors
/// As [`write_equity_svg`].
pub fn write_equity_svg_with_boundaries(report: &CompareReport, path: &Path, boundaries_ms: &[i64]) -> Result<()> {
    let fail = |e: String| Error::Export { path: path.to_path_buf(), message: format!("cannot draw the plot: {e}") };
    let Some(times) = report
        .arms
        .first()
        .and_then(|a| a.runs.first())
        .map(|r| r.equity_curve.iter().map(|p| p.time_ms).collect::<Vec<i64>>())
    else {
        return Err(fail("no arms".into()));
    };
    let n = times.len();
    // (name, kind, seed curves, mean curve, drawdown of the mean)
    let mut curves = Vec::new();
    for a in &report.arms {
        let seeds: Vec<Vec<f64>> = a.runs.iter().map(|r| r.equity_curve.iter().map(|p| p.equity).collect()).collect();
        if seeds.iter().any(|s| s.len() != n) {
            return Err(fail(format!("{} covers other bars than {}", a.name, report.arms[0].name)));
        }
        let mean: Vec<f64> =
            (0..n).map(|i| seeds.iter().map(|s| s[i]).sum::<f64>() / seeds.len().max(1) as f64).collect();
        let mut peak = report.initial_cash;
        let drawdown: Vec<f64> = mean
            .iter()
            .map(|&e| {
                peak = peak.max(e);
                if peak > 0.0 { -(1.0 - e / peak) * 100.0 } else { 0.0 }
            })
            .collect();
        curves.push((a.name.clone(), a.kind, seeds, mean, drawdown));
    }
    let (lo, hi) = curves
        .iter()
        .flat_map(|c| c.2.iter().flatten())
        .chain([&report.initial_cash])
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    if n < 2 || !lo.is_finite() || !hi.is_finite() {
        return Err(fail("fewer than two bars".into()));
    }
    let deepest = curves.iter().flat_map(|c| c.4.iter()).fold(0.0f64, |m, &d| m.min(d));
    let pad = ((hi - lo) * 0.05).max(1e-9);
    let root = SVGBackend::new(path, (1000, 720)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
    let (top, bottom) = root.split_vertically(500);
    let title = format!(
        "{} equity, {} to {} ({} bps fee, {} bps slippage)",
        report.symbol,
        day(report.first_bar_ms),
        day(report.last_bar_ms),
        report.fee_bps,
        report.slippage_bps
    );
    let mut chart = ChartBuilder::on(&top)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d(0..n - 1, (lo - pad)..(hi + pad))
        .map_err(|e| fail(e.to_string()))?;
    chart
        .configure_mesh()
        .x_labels(8)
        .x_label_formatter(&|i| day(times[(*i).min(n - 1)]))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .y_desc("equity")
        .draw()
        .map_err(|e| fail(e.to_string()))?;
    let mut dd = ChartBuilder::on(&bottom)
        .margin(15)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d(0..n - 1, (deepest * 1.05 - 1e-9)..0.0)
        .map_err(|e| fail(e.to_string()))?;
    dd.configure_mesh()
        .x_labels(8)
        .x_label_formatter(&|i| day(times[(*i).min(n - 1)]))
        .y_label_formatter(&|v| format!("{v:.0}%"))
        .y_desc("drawdown")
        .draw()
        .map_err(|e| fail(e.to_string()))?;
    let grey = RGBColor(120, 120, 120);
    chart
        .draw_series(LineSeries::new([(0, report.initial_cash), (n - 1, report.initial_cash)], grey.stroke_width(1)))
        .map_err(|e| fail(e.to_string()))?
        .label(format!("starting cash {:.0}", report.initial_cash))
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], grey.stroke_width(1)));
    for &b in boundaries_ms {
        let i = times.partition_point(|&t| t < b).min(n - 1);
        chart
            .draw_series(DashedLineSeries::new([(i, lo - pad), (i, hi + pad)], 6, 4, grey.stroke_width(1)))
            .map_err(|e| fail(e.to_string()))?;
        dd.draw_series(DashedLineSeries::new([(i, deepest * 1.05), (i, 0.0)], 6, 4, grey.stroke_width(1)))
            .map_err(|e| fail(e.to_string()))?;
    }
    let mut baselines = 0;
    for (k, (name, kind, seeds, mean, drawdown)) in curves.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        let line = stroke(*kind, baselines);
        if *kind == ArmKind::Baseline {
            baselines += 1;
        }
        if *kind == ArmKind::Rl && seeds.len() > 1 {
            for (j, s) in seeds.iter().enumerate() {
                let thin = color.mix(0.3).stroke_width(1);
                let drawn = chart
                    .draw_series(LineSeries::new(s.iter().enumerate().map(|(i, &v)| (i, v)), thin))
                    .map_err(|e| fail(e.to_string()))?;
                if j == 0 {
                    drawn
                        .label(format!("{name}: each of {} seeds", seeds.len()))
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], thin));
                }
            }
        }
        let label = if *kind == ArmKind::Rl && seeds.len() > 1 {
            format!("{name} (mean of {} seeds)", seeds.len())
        } else {
            name.clone()
        };
        let points = |v: &[f64]| v.iter().enumerate().map(|(i, &y)| (i, y)).collect::<Vec<_>>();
        match line {
            Stroke::Solid(width) => {
                let style = color.stroke_width(width);
                chart
                    .draw_series(LineSeries::new(points(mean), style))
                    .map_err(|e| fail(e.to_string()))?
                    .label(label)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
                dd.draw_series(LineSeries::new(points(drawdown), style)).map_err(|e| fail(e.to_string()))?;
            }
            Stroke::Dashed { dash, gap } => {
                let style = color.stroke_width(2);
                chart
                    .draw_series(DashedLineSeries::new(points(mean), dash, gap, style))
                    .map_err(|e| fail(e.to_string()))?
                    .label(label)
                    .legend(move |(x, y)| DashedPathElement::new(vec![(x, y), (x + 24, y)], dash / 2, gap / 2, style));
                dd.draw_series(DashedLineSeries::new(points(drawdown), dash, gap, style))
                    .map_err(|e| fail(e.to_string()))?;
            }
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(|e| fail(e.to_string()))?;
    root.present().map_err(|e| fail(e.to_string()))?;
    Ok(())
}
