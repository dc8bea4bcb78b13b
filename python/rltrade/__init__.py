"""rltrade from Python: a gymnasium trading environment whose fills, fees and risk
checks are the live daemon's, and thin calls into rltrade's backtest, exported
policies and training runs.

- :class:`TradingEnv`, :class:`VecEnv`: the environment (``rltrade.envs``).
- :func:`backtest`, :func:`compare`, :func:`load_bars`, :func:`load_policy`, :func:`read_run`
  (``rltrade.calls``).
- :mod:`rltrade.space`: a sweep's search space over config keys, checked first.
- :mod:`rltrade.sweep`: hyperparameter sweeps on Ray Tune (``rltrade sweep``; imported
  on its own, as it needs ``ray[tune]`` and ``optuna``).

Training stays in the ``rltrade`` binary (PPO on burn); this package links the
environment, execution, policy, config and evaluation crates only.
"""

from . import space
from .calls import Policy, backtest, compare, load_bars, load_policy, read_run
from .envs import RewardFn, TradingEnv, VecEnv

import gymnasium as _gym

# gymnasium.make("rltrade/Trading-v0", config=..., data=..., seed=...)
if "rltrade/Trading-v0" not in _gym.registry:
    _gym.register(id="rltrade/Trading-v0", entry_point="rltrade.envs:TradingEnv")

__all__ = ["Policy", "RewardFn", "TradingEnv", "VecEnv", "backtest", "compare", "load_bars", "load_policy", "read_run", "space"]
__version__ = "0.1.0"
