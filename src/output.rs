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

/// Writes a CSV through a uniquely named temporary file in the same folder (`tempfile`),
/// then renames it over `path`, so a crash never leaves half a file. When the rename
/// fails (`path` is a folder, the folder's permissions) the temporary file is deleted
/// before the error is returned: nothing is left behind.
///
/// # Errors
/// The folder is not writable, or `path` cannot be replaced; the error names `path`.
pub fn write_csv_atomically(
    path: &Path,
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> anyhow::Result<()> {
    let mut tmp = rltrade_env::output_file::beside(path)
        .with_context(|| format!("cannot write a temporary file beside {}", path.display()))?;
    {
        let mut writer = csv::Writer::from_writer(tmp.as_file_mut());
        writer.write_record(header)?;
        for row in rows {
            writer.write_record(&row)?;
        }
        writer.flush().with_context(|| format!("cannot write {}", path.display()))?;
    }
    tmp.persist(path).map_err(|failed| {
        // delete the temporary file now, not whenever the error is dropped
        let tempfile::PersistError { error, file } = failed;
        drop(file);
        anyhow::Error::new(error).context(format!("cannot write {}", path.display()))
    })?;
    Ok(())
}

/// A number for a CSV file: rounded to 12 significant digits (an integer part of more
/// digits is kept whole), trailing zeros dropped, so
/// that `11724.839489999998` (the float noise of a price times `1 − slippage`) is written
/// `11724.83949`. The relative rounding error is below 5e-13.
pub fn csv_number(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return if x == 0.0 { "0".into() } else { x.to_string() };
    }
    let magnitude = x.abs().log10().floor() as i32;
    let decimals = (11 - magnitude).clamp(0, 17) as usize;
    let text = format!("{x:.decimals$}");
    let text = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.') } else { &text };
    if text == "-0" { "0".into() } else { text.to_string() }
}

/// A fraction as a percentage with 2 decimals (`0.2013` → `20.13%`).
pub fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

/// An optional ratio with 3 decimals, `—` when undefined.
pub fn ratio(x: Option<f64>) -> String {
    x.map_or_else(|| "—".into(), |v| format!("{v:.3}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_numbers_drop_float_noise_and_keep_12_significant_digits() {
        assert_eq!(csv_number(11724.839489999998), "11724.83949");
        assert_eq!(csv_number(0.0), "0");
        assert_eq!(csv_number(-0.0), "0");
        assert_eq!(csv_number(1.0), "1");
        assert_eq!(csv_number(-2.5), "-2.5");
        assert_eq!(csv_number(0.000123456789012345), "0.000123456789012");
        assert_eq!(csv_number(123456789012345.0), "123456789012345");
        assert_eq!(csv_number(0.1 + 0.2), "0.3");
        for x in [11724.839489999998, 0.30000000000000004, -1_234.567_8, 1e-6 - 1e-22] {
            let back: f64 = csv_number(x).parse().unwrap();
            assert!((back - x).abs() <= 5e-12 * x.abs(), "{x} → {back}");
        }
    }
}
