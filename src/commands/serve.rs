//! `rltrade serve`: resolves `[serve]` and the flags, then runs the daemon.

use std::process::ExitCode;

use crate::cli::ServeArgs;
use crate::config::Config;

/// Runs the daemon until the replay ends (`--exit-at-end`) or SIGTERM.
///
/// # Errors
/// Bad config, a model that does not fit the feed, a journal of another run.
pub fn run(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let mut config = Config::load(args.config.as_deref())?;
    let serve = &mut config.serve;
    if !args.model.is_empty() {
        serve.models.clone_from(&args.model);
    }
    if !args.baseline.is_empty() {
        serve.baselines.clone_from(&args.baseline);
    }
    if let Some(replay) = &args.replay {
        serve.replay.clone_from(replay);
    }
    if let Some(split) = args.split {
        serve.split = split;
    }
    if let Some(speed) = args.speed {
        serve.speed = speed;
    }
    if let Some(journal) = &args.journal {
        serve.journal.clone_from(journal);
    }
    if let Some(listen) = args.listen {
        serve.listen = listen;
    }
    if let Some(file) = &args.token_file {
        serve.token_file.clone_from(file);
    }
    if let Some(file) = &args.read_token_file {
        serve.read_token_file.clone_from(file);
    }
    if let Some(sync) = args.synchronous {
        serve.synchronous = sync;
    }
    serve.exit_at_end |= args.exit_at_end;
    serve.live |= args.live;
    config.validate()?;
    let replay = if config.serve.replay.as_os_str().is_empty() {
        None
    } else {
        config.data.path.clone_from(&config.serve.replay);
        Some(config.load_series()?)
    };
    let setup = rltrade_serve::daemon::DaemonSetup {
        serve: config.serve.clone(),
        execution: config.execution.clone(),
        risk: config.risk.clone(),
        protect: config.protect,
        actions: config.env.actions.clone(),
        features: config.features.clone(),
        split: config.split.clone(),
        window: config.env.window,
        replay,
    };
    rltrade_serve::daemon::run(setup)?;
    Ok(ExitCode::SUCCESS)
}
