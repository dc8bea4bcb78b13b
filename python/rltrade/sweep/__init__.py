"""Hyperparameter sweeps on a Ray cluster: Ray Tune with Optuna's TPE sampler and ASHA
early stopping on the validation Sharpe, each trial an ordinary ``rltrade train`` run
recorded in the sweep's trial ledger (``trials.jsonl``), so that ``rltrade compare``
and ``rltrade walkforward`` deflate their verdicts by every configuration tried.

Run it as ``rltrade sweep ...`` or ``python -m rltrade.sweep ...``; from Python,
:func:`run_sweep`. Needs ``ray[tune]`` and ``optuna`` (``scripts/install_python.sh``
pins them).
"""

from .folder import SweepError
from .run import SweepRequest, run_sweep
from .search import max_validations

__all__ = ["SweepError", "SweepRequest", "max_validations", "run_sweep"]
