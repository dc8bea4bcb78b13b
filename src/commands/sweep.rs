//! `rltrade sweep`: a thin entry point to `python -m rltrade.sweep` (the Python
//! package's Ray Tune driver). The flags are checked here, then this process becomes
//! the Python one (`exec`), so signals (Ctrl-C stops Tune cleanly), output and the exit
//! status are Python's own.

use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

use anyhow::{Context, bail};

use crate::cli::SweepArgs;

/// The arguments of `python -m rltrade.sweep` for `args`, with `rltrade_bin` the
/// executable the trials run (this one).
fn python_args(args: &SweepArgs, rltrade_bin: &std::path::Path) -> Vec<std::ffi::OsString> {
    let mut out: Vec<std::ffi::OsString> = vec!["-m".into(), "rltrade.sweep".into()];
    let mut flag = |name: &str, value: std::ffi::OsString| {
        out.push(name.into());
        out.push(value);
    };
    if let Some(config) = &args.config {
        flag("--config", config.into());
    }
    if let Some(space) = &args.space {
        flag("--space", space.into());
    }
    if let Some(trials) = args.trials {
        flag("--trials", trials.to_string().into());
    }
    if let Some(address) = &args.address {
        flag("--address", address.into());
    }
    if let Some(folder) = &args.out {
        flag("--out", folder.into());
    }
    if let Some(folder) = &args.resume {
        flag("--resume", folder.into());
    }
    // settings only when given: a resumed sweep keeps its own, and refuses others
    if let Some(cpus) = args.cpus_per_trial {
        flag("--cpus-per-trial", cpus.to_string().into());
    }
    for (name, value) in [
        ("--seed", args.seed),
        ("--grace-period", args.grace_period),
        ("--reduction-factor", args.reduction_factor),
        ("--export-best", args.export_best),
    ] {
        if let Some(value) = value {
            flag(name, value.to_string().into());
        }
    }
    flag("--rltrade-bin", rltrade_bin.into());
    if args.json {
        out.push("--json".into());
    }
    out
}

/// Replaces this process with `<python> -m rltrade.sweep ...`; returns only on error.
///
/// # Errors
/// The running executable's path is unknown, or the Python interpreter (`--python`,
/// `RLTRADE_PYTHON`) cannot be started (naming it).
pub fn run(args: &SweepArgs) -> anyhow::Result<ExitCode> {
    let bin = std::env::current_exe().context("the path of this rltrade executable")?;
    let error = Command::new(&args.python).args(python_args(args, &bin)).exec();
    bail!(
        "--python {}: cannot start it: {error} (the Python with the rltrade package, ray and optuna: `bash scripts/install_python.sh` makes .venv/bin/python; set RLTRADE_PYTHON)",
        args.python.display()
    )
}
