"""The end of a sweep: each trial's ledger line, the best exports (``best/<rank>/``)
and ``summary.json``."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

from .. import _rltrade
from ..space import SearchSpace
from . import folder
from .folder import SweepError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.9 and 3.10
    import tomli as tomllib

#: Seconds to wait, after Tune returns, for the ledger line of a trial whose ``train``
#: is still exporting (a trial stopped as the sweep ended).
LEDGER_WAIT_S = 180.0


def read_ledger(out: Path) -> dict:
    """The sweep's ledger as ``rltrade compare`` reads it (the Rust reader): each
    trial's last line, by trial id.

    Raises:
        SweepError: a malformed ledger, naming the file and line.
    """
    try:
        return {row["trial_id"]: row for row in _rltrade.read_ledger(out / "trials.jsonl")}
    except (OSError, ValueError) as error:
        raise SweepError(str(error)) from None


def finish(out: Path, manifest: folder.Manifest, space: SearchSpace, trials: list, errors: list) -> dict:
    """Waits for the ledger line of each of Tune's trials that started a run, exports
    the best, writes ``summary.json``."""
    runs = {p.name for p in (out / "trials").iterdir() if p.is_dir()} if (out / "trials").is_dir() else set()
    started = sorted(t for t in trials if t in runs)
    # a run folder Tune does not know: only a trial started against the rule of
    # trial.py (it trains once Tune saved it) could leave one; it is reported
    orphans = sorted(runs - set(trials))
    deadline = time.monotonic() + LEDGER_WAIT_S
    while True:
        ledger = read_ledger(out)
        missing = [t for t in started if f"trials/{t}" not in ledger]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    rows = []
    for trial in started:
        record = ledger.get(f"trials/{trial}", {})
        params = {}
        config = out / "configs" / f"{trial}.toml"
        if config.is_file():
            resolved = tomllib.loads(config.read_text())
            for key in space.keys():
                value = resolved
                for part in key.split("."):
                    value = value.get(part) if isinstance(value, dict) else None
                params[key] = value
        rows.append({
            "trial_id": f"trials/{trial}",
            "status": record.get("status", "unrecorded"),
            "validation_sharpe": record.get("validation_sharpe"),
            "params": params,
        })
    ranked = sorted(
        (r for r in rows if r["validation_sharpe"] is not None and (out / r["trial_id"] / "export").is_dir()),
        key=lambda r: (r["status"] == "finished", r["validation_sharpe"]),
        reverse=True,
    )
    best_dir = out / "best"
    shutil.rmtree(best_dir, ignore_errors=True)
    best = []
    for rank, row in enumerate(ranked[: manifest.export_best], start=1):
        target = best_dir / str(rank)
        shutil.copytree(out / row["trial_id"] / "export", target)
        best.append({"rank": rank, "export": str(target), **row})
    counts = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    summary = {
        "sweep_id": manifest.sweep_id,
        "out": str(out),
        "trials": rows,
        "status_counts": counts,
        "best": best,
        "ledger": str(out / "trials.jsonl"),
        "unrecorded": [r["trial_id"] for r in rows if r["status"] == "unrecorded"],
        "errors": errors,
        "orphans": [f"trials/{t}" for t in orphans],
    }
    folder.write_atomic(out / "summary.json", (json.dumps(summary, indent=2) + "\n").encode())
    return summary
