//! `rltrade bench soak`: the daemon against the mock exchange with faults injected (see
//! `rltrade_serve::bench::soak`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use rltrade_serve::bench::soak::{self, SoakConfig, SoakPlan};

use crate::output::{print_json, table};

/// Runs the soak and prints its report; exit code 1 when a check failed (the lanes'
/// folder is then kept and named).
///
/// # Errors
/// A bad `--data` or `--baseline`, a folder that cannot be made, a mock exchange that
/// cannot bind.
pub fn run(plan: SoakPlan, data: &Path, dir: Option<PathBuf>, json: bool) -> anyhow::Result<ExitCode> {
    rltrade_config::serve::parse_baseline(&plan.baseline).context("--baseline")?;
    let series = rltrade_env::data::load_csv(data)?;
    let (dir, temporary) = match dir {
        Some(dir) => (dir, None),
        None => {
            let temp = tempfile::Builder::new().prefix("rltrade-soak-").tempdir()?;
            (temp.path().to_path_buf(), Some(temp))
        }
    };
    let config = SoakConfig {
        exe: std::env::current_exe().context("the rltrade executable")?,
        dir: dir.clone(),
        plan,
        warmup: 100,
        timeout: Duration::from_millis(500),
    };
    let report = soak::run(&config, &series)?;
    if !report.passed {
        // the journals and logs stay for a look
        if let Some(temp) = temporary {
            let _ = temp.keep();
        }
    }
    if json {
        print_json(&serde_json::to_value(&report)?)?;
    } else {
        let lanes: Vec<&str> = report.lanes.iter().map(|l| l.name.as_str()).collect();
        let mut header = vec![format!("{} (seed {})", report.data, report.seed)];
        header.extend(lanes.iter().map(|l| (*l).to_owned()));
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        let mut t = table(&header);
        let row = |name: &str, f: &dyn Fn(&soak::lane::LaneReport) -> String| {
            let mut row = vec![name.to_owned()];
            row.extend(report.lanes.iter().map(f));
            row
        };
        t.add_row(row("bars traded", &|l| format!("{} ({} → {})", l.bars, l.first_bar, l.last_bar)));
        t.add_row(row("bars/s, wall time", &|l| format!("{:.0}, {:.0} s", l.bars_per_s, l.seconds)));
        t.add_row(row("restarts (full-disk failures)", &|l| format!("{} ({})", l.restarts, l.disk_full_failures)));
        let kinds: std::collections::BTreeSet<_> = report.lanes.iter().flat_map(|l| l.faults.keys()).collect();
        for kind in kinds {
            let name = serde_json::to_value(kind)?.as_str().unwrap_or_default().replace('_', " ");
            t.add_row(row(&format!("fault: {name}"), &|l| l.faults.get(kind).map_or("-".into(), u64::to_string)));
        }
        t.add_row(row("lost bars / duplicate client ids", &|l| {
            format!("{} / {}", l.invariants.lost_bars, l.invariants.duplicate_client_ids)
        }));
        t.add_row(row("orders at the exchange (unmatched)", &|l| {
            format!("{} ({})", l.invariants.exchange_orders, l.invariants.unmatched_fills)
        }));
        t.add_row(row("account − exchange: base / quote", &|l| {
            format!("{:.1e} / {:.2e}", l.invariants.position_diff, l.invariants.cash_diff)
        }));
        t.add_row(row("RSS warm → max (process life)", &|l| {
            format!(
                "{:.1} → {:.1} MiB, {:+.1} % ({:.0} s)",
                l.rss.warm_mib, l.rss.max_mib, l.rss.growth_pct, l.rss.process_seconds
            )
        }));
        println!("{t}");
        println!(
            "faulted journal {} the uninterrupted one",
            if report.journals_equal { "equals" } else { "DIFFERS from" }
        );
        for failure in &report.failures {
            println!("FAILED: {failure}");
        }
        if !report.passed {
            println!("journals and daemon logs kept in {}", dir.display());
        }
    }
    Ok(if report.passed { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
