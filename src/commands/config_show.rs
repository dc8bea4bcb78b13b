//! `rltrade config show`: the resolved configuration as TOML.

use std::path::Path;
use std::process::ExitCode;

use crate::config::Config;

/// Prints the config at `path` (or the defaults) with every default filled in.
///
/// # Errors
/// The file cannot be read or parsed, or a value is out of range.
pub fn run(path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let config = Config::load(path)?;
    config.validate()?;
    print!("{}", config.to_toml()?);
    Ok(ExitCode::SUCCESS)
}
