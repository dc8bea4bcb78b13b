//! Writing results: JSON on stdout, tables for people, CSV files written atomically.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// Prints `value` as one JSON object on stdout.
///
/// # Errors
/// Serialization or a closed stdout.
pub fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// A table with a header row, in the terminal's plain style.
pub fn table(header: &[&str]) -> comfy_table::Table {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY).set_header(header.to_vec());
    t
}

/// Writes a CSV through a temporary file in the same folder, then renames it, so a
/// crash never leaves half a file.
///
/// # Errors
/// The folder is not writable.
pub fn write_csv_atomically(
    path: &Path,
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> anyhow::Result<()> {
    let tmp = path.with_extension("csv.tmp");
    {
        let mut writer = csv::Writer::from_path(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
        writer.write_record(header)?;
        for row in rows {
            writer.write_record(&row)?;
        }
        writer.flush().with_context(|| format!("cannot write {}", tmp.display()))?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("cannot move {} to {}", tmp.display(), path.display()))?;
    Ok(())
}

/// A fraction as a percentage with 2 decimals (`0.2013` → `20.13%`).
pub fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

/// An optional ratio with 3 decimals, `—` when undefined.
pub fn ratio(x: Option<f64>) -> String {
    x.map_or_else(|| "—".into(), |v| format!("{v:.3}"))
}
