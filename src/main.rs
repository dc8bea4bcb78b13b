//! The `rltrade` command-line interface: parses arguments, loads the config and calls
//! one function per subcommand. Exit codes: 0 success, 1 error, 2 usage error.

mod cli;
mod commands;
mod interrupt;
mod output;

/// The run configuration (`rltrade-config`), as `crate::config` for the commands.
use rltrade_config as config;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{BenchCommand, Cli, Command, ConfigCommand, DataCommand};

fn main() -> ExitCode {
    let cli = Cli::parse(); // exits 2 on usage errors
    init_logging(cli.log_level());
    let result = match cli.command {
        Command::Data(DataCommand::Check { file, json }) => commands::data_check::run(&file, json),
        Command::Data(DataCommand::Fetch(args)) => commands::data_fetch::run(&args),
        Command::Backtest(args) => commands::backtest::run(&args),
        Command::Train(args) => commands::train::run(&args),
        Command::Export(args) => commands::export::run(&args),
        Command::Compare(args) => commands::compare::run(&args),
        Command::WalkForward(args) => commands::walkforward::run(&args),
        Command::Sweep(args) => commands::sweep::run(&args),
        Command::Config(ConfigCommand::Show { config }) => commands::config_show::run(config.as_deref()),
        Command::Bench(BenchCommand::Env { data, seconds, json }) => commands::bench_env::run(&data, seconds, json),
        Command::Bench(BenchCommand::Serve { model, data, calls, json }) => {
            commands::bench_serve::run(&model, &data, calls, json)
        }
        Command::Serve(args) => commands::serve::run(&args),
        Command::AbReport(args) => commands::ab_report::run(&args),
        Command::Dashboard(args) => commands::dashboard::run(args),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "rltrade",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(BenchCommand::Api { model, data, rate, runs, synchronous, events, json }) => {
            let load = if events { commands::bench_api::Load::Events } else { commands::bench_api::Load::Ab(rate) };
            commands::bench_api::run(&model, &data, load, runs, synchronous, json)
        }
        Command::Bench(BenchCommand::Fleet { models_from, models, baselines, data, json }) => {
            commands::bench_fleet::run(&models_from, models as usize, baselines as usize, &data, json)
        }
        Command::Bench(BenchCommand::Soak {
            duration_s,
            seed,
            fault_every_bars,
            kill_every_bars,
            disk_full_every,
            baseline,
            data,
            dir,
            json,
        }) => commands::bench_soak::run(
            rltrade_serve::bench::soak::SoakPlan {
                duration: std::time::Duration::from_secs(duration_s),
                seed,
                fault_every: fault_every_bars,
                kill_every: kill_every_bars,
                disk_full_every: disk_full_every as u32,
                baseline,
            },
            &data,
            dir,
            json,
        ),
        Command::Bench(BenchCommand::Ppo { data, config, updates, update_threads, json }) => {
            commands::bench_ppo::run(&data, config.as_deref(), updates, update_threads, json)
        }
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", error_chain(&err));
            ExitCode::from(1)
        }
    }
}

/// The error and its causes, `: `-separated, skipping a cause whose text the message
/// before it already holds (errors that print their source themselves).
fn error_chain(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let message = cause.to_string();
        if !text.contains(&message) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&message);
        }
    }
    text
}

/// Logs go to stderr (stdout is for results) at `level` (from `-v`/`-q`); `RUST_LOG`,
/// when set, wins.
fn init_logging(level: tracing::Level) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level.as_str().to_ascii_lowercase()));
    // colours on a terminal only: a log written to a file holds no escape codes
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(ansi)
        .init();
}
