//! The equity-curve plot of a comparison (SVG, plotters): one line per arm (an RL arm's
//! line is the mean equity over its seeds; each seed is drawn thin behind it).

use std::path::Path;

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
/// 1000×600 px): x is the bar's open time, y the equity in quote currency.
///
/// # Errors
/// [`Error::Io`]-like [`Error::Export`] naming the file when it cannot be drawn or written.
pub fn write_equity_svg(report: &CompareReport, path: &Path) -> Result<()> {
    write_equity_svg_with_boundaries(report, path, &[])
}

/// [`write_equity_svg`] with a dashed grey vertical line at each of `boundaries_ms` (bar
/// open times, ms since epoch UTC: where a walk-forward fold's test window begins).
///
/// # Errors
/// As [`write_equity_svg`].
pub fn write_equity_svg_with_boundaries(report: &CompareReport, path: &Path, boundaries_ms: &[i64]) -> Result<()> {
    let fail = |e: String| Error::Export { path: path.to_path_buf(), message: format!("cannot draw the plot: {e}") };
    let curves: Vec<(String, ArmKind, Vec<Vec<f64>>)> = report
        .arms
        .iter()
        .map(|a| {
            let seeds = a.runs.iter().map(|r| r.equity_curve.iter().map(|p| p.equity).collect()).collect();
            (a.name.clone(), a.kind, seeds)
        })
        .collect();
    let Some(times) = report
        .arms
        .first()
        .and_then(|a| a.runs.first())
        .map(|r| r.equity_curve.iter().map(|p| p.time_ms).collect::<Vec<i64>>())
    else {
        return Err(fail("no arms".into()));
    };
    let n = times.len();
    let (lo, hi) = curves
        .iter()
        .flat_map(|(_, _, s)| s.iter().flatten())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    if n < 2 || !lo.is_finite() || !hi.is_finite() {
        return Err(fail("fewer than two bars".into()));
    }
    let pad = ((hi - lo) * 0.05).max(1e-9);
    let root = SVGBackend::new(path, (1000, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
    let title = format!(
        "{} equity, {} to {} ({} bps fee, {} bps slippage)",
        report.symbol,
        day(report.first_bar_ms),
        day(report.last_bar_ms),
        report.fee_bps,
        report.slippage_bps
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0..n - 1, (lo - pad)..(hi + pad))
        .map_err(|e| fail(e.to_string()))?;
    chart
        .configure_mesh()
        .x_labels(8)
        .x_label_formatter(&|i| day(times[(*i).min(n - 1)]))
        .y_desc("equity")
        .draw()
        .map_err(|e| fail(e.to_string()))?;
    for &b in boundaries_ms {
        let i = times.partition_point(|&t| t < b).min(n - 1);
        chart
            .draw_series(DashedLineSeries::new(
                [(i, lo - pad), (i, hi + pad)],
                6,
                4,
                RGBColor(120, 120, 120).stroke_width(1),
            ))
            .map_err(|e| fail(e.to_string()))?;
    }
    for (k, (name, kind, seeds)) in curves.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        if *kind == ArmKind::Rl && seeds.len() > 1 {
            for s in seeds {
                chart
                    .draw_series(LineSeries::new(
                        s.iter().enumerate().map(|(i, &v)| (i, v)),
                        color.mix(0.25).stroke_width(1),
                    ))
                    .map_err(|e| fail(e.to_string()))?;
            }
        }
        let mean: Vec<f64> = (0..n).map(|i| seeds.iter().map(|s| s[i]).sum::<f64>() / seeds.len() as f64).collect();
        let label = if *kind == ArmKind::Rl && seeds.len() > 1 {
            format!("{name} (mean of {} seeds)", seeds.len())
        } else {
            name.clone()
        };
        chart
            .draw_series(LineSeries::new(mean.iter().enumerate().map(|(i, &v)| (i, v)), color.stroke_width(2)))
            .map_err(|e| fail(e.to_string()))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
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
