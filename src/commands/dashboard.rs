//! `rltrade dashboard`: the web dashboard over training runs, reports and a finished
//! journal, without a daemon ([`rltrade_serve::dashboard`]).

use std::process::ExitCode;

use rltrade_serve::dashboard::{DashboardSetup, run as serve_dashboard};

use crate::cli::DashboardArgs;

/// Serves the dashboard until SIGTERM or Ctrl-C.
///
/// # Errors
/// Bad flags (each error names its flag), or a listen address that cannot be bound.
pub fn run(args: DashboardArgs) -> anyhow::Result<ExitCode> {
    if !rltrade_serve::api::page::charts_bundled() {
        tracing::warn!(
            "built without lightweight-charts: run {} and build again to draw charts",
            rltrade_serve::api::page::INSTALL_CHARTS
        );
    }
    serve_dashboard(DashboardSetup { runs: args.runs, journal: args.journal, listen: args.listen })?;
    Ok(ExitCode::SUCCESS)
}
