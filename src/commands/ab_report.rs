//! `rltrade ab-report`: the live A/B table of a daemon's journal.

use std::process::ExitCode;

use anyhow::Context;
use rltrade_serve::journal::Journal;

use crate::cli::AbReportArgs;
use crate::output::print_json;

/// Prints the A/B table (or its JSON) of the journal.
///
/// # Errors
/// A missing or corrupt journal.
pub fn run(args: &AbReportArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.journal.is_file(), "journal {} does not exist", args.journal.display());
    // read-only and without the daemon's lock: works while a daemon writes the journal,
    // and on a read-only filesystem
    let journal = Journal::open_read_only(&args.journal)?;
    let report =
        rltrade_serve::ab::report(&journal, None).with_context(|| format!("reading {}", args.journal.display()))?;
    if args.json {
        print_json(&serde_json::to_value(&report)?)?;
    } else {
        print!("{}", rltrade_serve::ab::render(&report));
    }
    Ok(ExitCode::SUCCESS)
}
