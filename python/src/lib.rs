//! `rltrade._rltrade`: the Rust side of the Python package `rltrade` (pyo3, abi3).
//! Each item calls the crates (`rltrade-env`, `rltrade-exec`, `rltrade-policy`,
//! `rltrade-config`, `rltrade-eval`) and converts; nothing here computes anything of its own. The
//! package's Python modules (`rltrade/`) wrap these in gymnasium's classes.
//!
//! - `setup`: a config from a TOML file, a data path and `overrides`.
//! - `env`: `RawEnv` (`TradingEnv`) and `RawVecEnv` (`VecEnv`, stepped without the GIL).
//! - `calls`: `load_bars`, `backtest`, `compare`, `read_run`, `resolve_config`, `RawPolicy`.
//! - `convert`: Rust values as Python objects.

mod calls;
mod convert;
mod env;
mod setup;

use pyo3::prelude::*;

/// The extension module.
#[pymodule]
fn _rltrade(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<env::RawEnv>()?;
    module.add_class::<env::RawVecEnv>()?;
    module.add_class::<calls::RawPolicy>()?;
    module.add_function(wrap_pyfunction!(env::reference_rollout, module)?)?;
    module.add_function(wrap_pyfunction!(calls::load_bars, module)?)?;
    module.add_function(wrap_pyfunction!(calls::backtest, module)?)?;
    module.add_function(wrap_pyfunction!(calls::read_run, module)?)?;
    module.add_function(wrap_pyfunction!(calls::read_ledger, module)?)?;
    module.add_function(wrap_pyfunction!(calls::compare, module)?)?;
    module.add_function(wrap_pyfunction!(calls::resolve_config, module)?)?;
    Ok(())
}
