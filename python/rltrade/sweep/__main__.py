"""``python -m rltrade.sweep``: the command ``rltrade sweep`` runs (see
:mod:`rltrade.sweep`). Prints the trials and the best exports; ``--json`` prints the
summary as one JSON object instead. Exit status 0, 1 on an error (``error: ...`` on
stderr), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Optional, Sequence


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rltrade sweep",
        description="Hyperparameter sweep on Ray Tune (Optuna TPE, ASHA on the validation Sharpe); "
        "each trial is an `rltrade train` run recorded in <out>/trials.jsonl.",
    )
    p.add_argument("--config", type=Path, help="the base config TOML (new sweep)")
    p.add_argument("--space", type=Path, help="the search space TOML (new sweep)")
    p.add_argument("--trials", type=int, help="the number of trials, at least 1 (new sweep)")
    p.add_argument("--address", help="auto, or HOST:PORT of the Ray head [default: a Ray on this machine]")
    p.add_argument("--cpus-per-trial", type=float, help="CPUs reserved per trial [default: 1]")
    p.add_argument("--out", type=Path, help="the sweep folder, new or empty (new sweep)")
    p.add_argument("--resume", type=Path, metavar="DIR", help="continue the sweep in DIR")
    p.add_argument("--seed", type=int, help="the TPE sampler's seed [default: 0]")
    p.add_argument("--grace-period", type=int, help="ASHA: validations before a trial may be stopped [default: 2]")
    p.add_argument("--reduction-factor", type=int, help="ASHA's reduction factor [default: 2]")
    p.add_argument("--export-best", type=int, help="best trials copied to <out>/best/ [default: 3]")
    p.add_argument("--rltrade-bin", default=shutil.which("rltrade"),
                   help="the rltrade executable the trials run [default: rltrade on PATH]")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parses ``argv`` and runs the sweep; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.resume is not None and args.out is not None:
        _parser().error("--resume and --out: give one (--resume continues the sweep in its own folder)")
    if args.rltrade_bin is None:
        _parser().error("--rltrade-bin: no rltrade on PATH; give the executable")
    from . import SweepError, SweepRequest, run_sweep
    request = SweepRequest(
        config=args.config, space=args.space, trials=args.trials, address=args.address,
        cpus_per_trial=args.cpus_per_trial, out=args.out, resume=args.resume, rltrade_bin=args.rltrade_bin,
        seed=args.seed, grace_period=args.grace_period, reduction_factor=args.reduction_factor,
        export_best=args.export_best,
    )
    # with --json, stdout holds the summary only: Ray's and Tune's output go to stderr
    stdout = os.dup(1) if args.json else None
    if stdout is not None:
        sys.stdout.flush()
        os.dup2(2, 1)
    try:
        summary = run_sweep(request)
    except SweepError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        if stdout is not None:
            sys.stdout.flush()
            os.dup2(stdout, 1)
            os.close(stdout)
    if args.json:
        print(json.dumps(summary))
    else:
        _print(summary)
    return 0


def _print(summary: dict) -> None:
    rows = sorted(summary["trials"], key=lambda r: -(r["validation_sharpe"] if r["validation_sharpe"] is not None
                                                      else float("-inf")))
    print(f"sweep {summary['out']}: {len(rows)} trials, "
          + ", ".join(f"{n} {status}" for status, n in sorted(summary["status_counts"].items())))
    print(f"{'trial':<28} {'status':<14} {'val. Sharpe':>11}  parameters")
    for r in rows:
        sharpe = "-" if r["validation_sharpe"] is None else f"{r['validation_sharpe']:.4f}"
        params = " ".join(f"{k}={v}" for k, v in r["params"].items())
        print(f"{r['trial_id']:<28} {r['status']:<14} {sharpe:>11}  {params}")
    for b in summary["best"]:
        print(f"best {b['rank']}: {b['trial_id']} -> {b['export']}")
    print(f"ledger: {summary['ledger']} (`rltrade compare --ledger` deflates by these trials)")
    for error in summary["errors"]:
        print(f"warning: trial failed: {error}", file=sys.stderr)
    if summary["orphans"]:
        print(f"warning: run folders no trial of Tune's owns: {', '.join(summary['orphans'])}", file=sys.stderr)
    if summary["unrecorded"]:
        print(f"warning: no ledger line for {', '.join(summary['unrecorded'])}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
