//! Rust values as Python objects: JSON values (results, cards, metrics rows) as dicts
//! and lists, and a step's [`StepInfo`] as the info dict of the env.

use pyo3::IntoPyObjectExt;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use rltrade_env::trading_env::StepInfo;

/// A JSON value as the Python object `json.loads` would give.
pub fn json_to_py(py: Python<'_>, value: &serde_json::Value) -> PyResult<Py<PyAny>> {
    use serde_json::Value;
    Ok(match value {
        Value::Null => py.None(),
        Value::Bool(b) => b.into_py_any(py)?,
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.into_py_any(py)?,
            (None, Some(f)) => f.into_py_any(py)?,
            _ => n.to_string().into_py_any(py)?,
        },
        Value::String(s) => s.into_py_any(py)?,
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_py(py, item)?)?;
            }
            list.into_py_any(py)?
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (key, item) in map {
                dict.set_item(key, json_to_py(py, item)?)?;
            }
            dict.into_py_any(py)?
        }
    })
}

/// A step's info as a dict, the keys of [`StepInfo`]: `index`, `time_ms` (ms since
/// epoch UTC), `equity` and `cash` (quote currency), `position` (base units),
/// `exposure` (fraction of equity), `fill` (`None` or `{side, quantity, price, fee,
/// reference_price, time_ms}`), and `no_fill`, `refusal`, `state_change`,
/// `exit_reason` (`None` or a name).
pub fn info_dict<'py>(py: Python<'py>, info: &StepInfo) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item(intern!(py, "index"), info.index)?;
    dict.set_item(intern!(py, "time_ms"), info.time_ms)?;
    dict.set_item(intern!(py, "equity"), info.equity)?;
    dict.set_item(intern!(py, "cash"), info.cash)?;
    dict.set_item(intern!(py, "position"), info.position)?;
    dict.set_item(intern!(py, "exposure"), info.exposure)?;
    match &info.fill {
        Some(fill) => {
            let f = PyDict::new(py);
            let side = match fill.side {
                rltrade_exec::Side::Buy => intern!(py, "buy"),
                rltrade_exec::Side::Sell => intern!(py, "sell"),
            };
            f.set_item(intern!(py, "side"), side)?;
            f.set_item(intern!(py, "quantity"), fill.quantity)?;
            f.set_item(intern!(py, "price"), fill.price)?;
            f.set_item(intern!(py, "reference_price"), fill.reference_price)?;
            f.set_item(intern!(py, "fee"), fill.fee)?;
            f.set_item(intern!(py, "time_ms"), fill.time_ms)?;
            dict.set_item(intern!(py, "fill"), f)?;
        }
        None => dict.set_item(intern!(py, "fill"), py.None())?,
    }
    let no_fill = info.no_fill.map(|r| format!("{r:?}"));
    dict.set_item(intern!(py, "no_fill"), no_fill)?;
    dict.set_item(intern!(py, "refusal"), info.refusal.as_ref().map(|r| r.name()))?;
    let change = info.state_change.as_ref().map(|c| format!("{:?} -> {:?}", c.from, c.to));
    dict.set_item(intern!(py, "state_change"), change)?;
    dict.set_item(intern!(py, "exit_reason"), info.exit_reason.map(|r| r.name()))?;
    Ok(dict)
}
