//! `rltrade data check FILE [--json]`: validation and the data-quality report.

use std::path::Path;
use std::process::ExitCode;

use rltrade_env::data::load_csv;
use rltrade_env::quality::quality_report;

use crate::output::print_json;

/// Loads `file` (a hard error is returned, naming file and line) and prints its report.
///
/// # Errors
/// A hard data error or an unreadable file.
pub fn run(file: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let series = load_csv(file)?;
    let report = quality_report(&series);
    if json {
        print_json(&serde_json::to_value(&report)?)?;
    } else {
        print!("{report}");
    }
    Ok(ExitCode::SUCCESS)
}
