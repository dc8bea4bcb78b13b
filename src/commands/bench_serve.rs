//! `rltrade bench serve`: the daemon's latency and throughput (see `rltrade_serve::bench`).

use std::path::Path;
use std::process::ExitCode;

use crate::output::{print_json, table};

/// Measures and prints a table (or one JSON object).
///
/// # Errors
/// A missing model or data file.
pub fn run(model: &Path, data: &Path, calls: u64, json: bool) -> anyhow::Result<ExitCode> {
    let series = rltrade_env::data::load_csv(data)?;
    let scratch = std::env::temp_dir().join(format!("rltrade-bench-serve-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let bench = rltrade_serve::bench::run(model, &series, &scratch, calls);
    let _ = std::fs::remove_dir_all(&scratch);
    let bench = bench?;
    if json {
        print_json(&serde_json::to_value(&bench)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows = vec![
        vec![
            format!("inference (ort, 1 thread, {} calls)", bench.inference_calls),
            format!("{:.1} µs", bench.inference_p50_us),
            format!("{:.1} µs", bench.inference_p99_us),
            format!("{:.1} µs", bench.inference_p999_us),
            "≤ 20 µs p99".into(),
        ],
        vec![
            format!("bar → risk-checked order ({} bars)", bench.bar_to_order_bars),
            format!("{:.1} µs", bench.bar_to_order_p50_us),
            format!("{:.1} µs", bench.bar_to_order_p99_us),
            String::new(),
            "≤ 100 µs p99".into(),
        ],
        vec![
            format!("replay, journal NORMAL ({} bars, the model)", bench.replay_bars),
            format!("{:.0} bars/s", bench.replay_bars_per_s),
            String::new(),
            String::new(),
            "≥ 50,000 bars/s".into(),
        ],
        vec![
            "replay, journal NORMAL, model + ma:50:200 (A/B)".into(),
            format!("{:.0} bars/s", bench.replay_ab_bars_per_s),
            String::new(),
            String::new(),
            String::new(),
        ],
        vec![
            "replay, journal NORMAL, ma:50:200 alone".into(),
            format!("{:.0} bars/s", bench.replay_ma_bars_per_s),
            String::new(),
            String::new(),
            String::new(),
        ],
        vec![
            format!("replay, journal FULL ({} bars, the model, commit per bar)", bench.replay_full_bars),
            format!("{:.0} bars/s", bench.replay_full_bars_per_s),
            String::new(),
            String::new(),
            String::new(),
        ],
    ];
    let mut t = table(&["case", "p50 / rate", "p99", "p99.9", "target"]);
    for row in rows {
        t.add_row(row);
    }
    println!("{t}");
    Ok(ExitCode::SUCCESS)
}
