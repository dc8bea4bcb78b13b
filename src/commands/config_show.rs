//! `rltrade config show`: the resolved configuration as TOML, under a comment line with
//! its configuration hash (the trial ledger's `config_hash`).

use std::path::Path;
use std::process::ExitCode;

use crate::config::Config;

/// Prints the config at `path` (or the defaults) with every default filled in, after a
/// TOML comment `# configuration_hash = <hex>` ([`Config::configuration_hash`]).
///
/// # Errors
/// The file cannot be read or parsed, or a value is out of range.
pub fn run(path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let config = Config::load(path)?;
    config.validate()?;
    println!(
        "# configuration_hash = {} (SHA-256 without seed, fold, dates and paths: the trial ledger's config_hash)",
        config.configuration_hash()?
    );
    print!("{}", config.to_toml()?);
    Ok(ExitCode::SUCCESS)
}
