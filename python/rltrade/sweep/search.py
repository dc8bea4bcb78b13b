"""The search: the space as Optuna distributions (TPE's), and the most validations a
trial can make (ASHA's ``max_t``)."""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

from .. import _rltrade
from ..space import SearchSpace

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.9 and 3.10
    import tomli as tomllib

#: The keys that set how many validations a run makes.
_LENGTH_KEYS = ("ppo.total_steps", "ppo.n_envs", "ppo.n_steps", "train.validation_every")


def num_updates(total_steps: int, n_envs: int, n_steps: int) -> int:
    """PPO updates of a run: ``total_steps // (n_envs × n_steps)``, at least 1 (as
    ``rltrade train`` counts them, ``PpoConfig::num_updates``)."""
    return max(1, total_steps // max(1, n_envs * n_steps))


def optuna_space(space: SearchSpace) -> tuple:
    """Optuna distributions for the space; choices that are not scalars travel as
    JSON strings (returned: the distributions, and the keys so encoded)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    distributions, encoded = {}, []
    for p in space.params:
        if p.kind == "uniform":
            distributions[p.key] = FloatDistribution(p.low, p.high)
        elif p.kind == "loguniform":
            distributions[p.key] = FloatDistribution(p.low, p.high, log=True)
        elif p.kind == "integer":
            distributions[p.key] = IntDistribution(int(p.low), int(p.high))
        elif all(c is None or isinstance(c, (bool, int, float, str)) for c in p.choices):
            distributions[p.key] = CategoricalDistribution(list(p.choices))
        else:
            distributions[p.key] = CategoricalDistribution([json.dumps(c) for c in p.choices])
            encoded.append(p.key)
    return distributions, tuple(encoded)


def max_validations(base: Path, space: SearchSpace) -> int:
    """The most validations any trial can make: over the corners of the space's
    length keys (``ppo.total_steps``, ``ppo.n_envs``, ``ppo.n_steps``,
    ``train.validation_every``), the others at the base config's values, counted from
    the raw numbers (a corner need not be a valid config: validations only fall as
    ``n_envs``, ``n_steps`` or ``validation_every`` grow, so no point inside the space
    has more). ASHA's ``max_t``, so that no trial is cut short by it.
    """
    config = tomllib.loads(_rltrade.resolve_config(base))
    values = {key: config[key.split(".")[0]][key.split(".")[1]] for key in _LENGTH_KEYS}
    corners = [[(p.key, v) for v in p.values_to_check()] for p in space.params if p.key in _LENGTH_KEYS]
    best = 1
    for combination in itertools.product(*corners):
        v = {**values, **dict(combination)}
        updates = num_updates(int(v["ppo.total_steps"]), int(v["ppo.n_envs"]), int(v["ppo.n_steps"]))
        every = max(1, int(v["train.validation_every"]))
        best = max(best, updates // every + (1 if updates % every else 0))
    return best
