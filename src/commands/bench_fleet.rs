//! `rltrade bench fleet`: many strategies in one engine (see `rltrade_serve::bench::fleet`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::output::{print_json, table};

/// The main job's walk-forward runs (`fold-*/seed-*`), sorted: the default models.
const WALKFORWARD: &str = "checkpoints/btc_1h_ppo-walkforward";

/// Measures and prints a table (or one JSON object).
///
/// # Errors
/// A missing data file or model; no model given and none in the main job's walk-forward.
pub fn run(
    models_from: &[PathBuf],
    models: usize,
    baselines: usize,
    data: &Path,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let dirs = if models_from.is_empty() && models > 0 { walkforward_runs()? } else { models_from.to_vec() };
    let series = rltrade_env::data::load_csv(data)?;
    let scratch = std::env::temp_dir().join(format!("rltrade-bench-fleet-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let bench = rltrade_serve::bench::fleet::run(&dirs, models, baselines, &series, &scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    let bench = bench?;
    if json {
        print_json(&serde_json::to_value(&bench)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let strategies = bench.models + bench.baselines;
    let title = format!(
        "{} models ({} distinct) + {} MA crossovers",
        bench.models,
        dirs.len().min(bench.models),
        bench.baselines
    );
    let mut t = table(&[title.as_str(), "value", "target"]);
    let target = if strategies >= 100 { "≤ 1,000 µs p99" } else { "" };
    t.add_row(vec![
        format!("bar → every order risk-checked ({} bars), p50 / p99", bench.bars),
        format!("{:.0} / {:.0} µs", bench.bar_p50_us, bench.bar_p99_us),
        target.to_owned(),
    ]);
    t.add_row(vec![
        "p99.9 / max".into(),
        format!("{:.0} / {:.0} µs", bench.bar_p999_us, bench.bar_max_us),
        String::new(),
    ]);
    t.add_row(vec![
        "bar → everything journaled (commits included), p50 / p99".into(),
        format!("{:.0} / {:.0} µs", bench.journaled_p50_us, bench.journaled_p99_us),
        String::new(),
    ]);
    t.add_row(vec![
        "p99.9 / max".into(),
        format!("{:.0} / {:.0} µs", bench.journaled_p999_us, bench.journaled_max_us),
        String::new(),
    ]);
    t.add_row(vec![
        "replay, journal NORMAL".into(),
        format!("{:.0} bar × strategy/s", bench.bar_strategies_per_s),
        String::new(),
    ]);
    t.add_row(vec![
        "resident memory per strategy".into(),
        format!("{:.2} MiB", bench.rss_per_strategy_mib),
        String::new(),
    ]);
    t.add_row(vec![
        "resident memory after the replay (growth)".into(),
        format!("{:.0} MiB (+{:.1})", bench.rss_after_mib, bench.rss_growth_mib),
        String::new(),
    ]);
    println!("{t}");
    Ok(ExitCode::SUCCESS)
}

/// Every `fold-*/seed-*` run of the main job's walk-forward, sorted.
fn walkforward_runs() -> anyhow::Result<Vec<PathBuf>> {
    let mut runs = Vec::new();
    let folds = std::fs::read_dir(WALKFORWARD)
        .with_context(|| format!("{WALKFORWARD}: no walk-forward runs (run scripts/main.sh, or pass --model DIR)"))?;
    for fold in folds.flatten().filter(|f| f.file_name().to_string_lossy().starts_with("fold-")) {
        for seed in std::fs::read_dir(fold.path())?.flatten() {
            if seed.file_name().to_string_lossy().starts_with("seed-") {
                runs.push(seed.path());
            }
        }
    }
    runs.sort();
    anyhow::ensure!(!runs.is_empty(), "{WALKFORWARD} holds no fold-*/seed-* run (pass --model DIR)");
    Ok(runs)
}
