"""A hyperparameter search space over rltrade config keys, read from TOML and checked
before anything starts.

One table per config key, its dotted path quoted, with exactly one distribution::

    ["ppo.learning_rate"]
    loguniform = [1e-5, 1e-3]     # low > 0; sampled uniformly in log space
    ["ppo.clip_range"]
    uniform = [0.1, 0.3]
    ["ppo.n_epochs"]
    integer = [4, 16]             # both ends included
    ["env.reward.kind"]
    choice = ["log_return", "differential_sharpe"]

Each key is checked alone against the base config's own schema, with each end of its
range and every choice (an unknown key, or a value of the wrong type or out of the
key's range, names the key); an empty range (``low >= high``), a non-positive
log-uniform low, or an empty choice names the key too. Rules between keys (a batch no
larger than ``n_envs × n_steps``) are checked when a trial's config is resolved.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from typing import Any, Optional, Sequence, Union

from . import _rltrade

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.9 and 3.10
    import tomli as tomllib

PathLike = Union[str, "os.PathLike[str]"]

#: The distributions a key may take.
KINDS = ("uniform", "loguniform", "integer", "choice")


@dataclass(frozen=True)
class Param:
    """One key's distribution.

    Attributes:
        key: the config key (``ppo.learning_rate``).
        kind: ``uniform``, ``loguniform``, ``integer`` or ``choice``.
        low, high: the range's ends (``uniform``, ``loguniform``: floats; ``integer``:
            ints, both included); ``None`` for a choice.
        choices: the values of a ``choice``; empty otherwise.
    """

    key: str
    kind: str
    low: Optional[float] = None
    high: Optional[float] = None
    choices: tuple = ()

    def values_to_check(self) -> Sequence[Any]:
        """The values the schema check tries: both ends, or every choice."""
        return list(self.choices) if self.kind == "choice" else [self.low, self.high]


@dataclass(frozen=True)
class SearchSpace:
    """Every key's distribution, in file order.

    Attributes:
        params: the keys' distributions.
        path: the file it was read from (for errors).
    """

    params: tuple
    path: str

    def keys(self) -> list:
        """The config keys, in file order."""
        return [p.key for p in self.params]


class SpaceError(ValueError):
    """A search space that cannot be used: the message names the file and the key."""


def _range(path: str, key: str, kind: str, value: Any) -> Param:
    if not (isinstance(value, list) and len(value) == 2):
        raise SpaceError(f"{path}: [\"{key}\"] {kind}: expected [low, high], found {value!r}")
    low, high = value
    numbers = (int,) if kind == "integer" else (int, float)
    if not all(isinstance(v, numbers) and not isinstance(v, bool) for v in (low, high)):
        what = "integers" if kind == "integer" else "numbers"
        raise SpaceError(f"{path}: [\"{key}\"] {kind}: low and high must be {what}, found {value!r}")
    if not all(math.isfinite(v) for v in (low, high)):
        raise SpaceError(f"{path}: [\"{key}\"] {kind}: low and high must be finite, found {value!r}")
    if kind == "integer" and low > high or kind != "integer" and low >= high:
        raise SpaceError(f"{path}: [\"{key}\"] {kind}: empty range [{low}, {high}] (low must be below high)")
    if kind == "loguniform" and low <= 0:
        raise SpaceError(f"{path}: [\"{key}\"] loguniform: low must be > 0, found {low}")
    if kind == "integer":
        return Param(key, kind, int(low), int(high))
    return Param(key, kind, float(low), float(high))


def parse_space(text: str, path: str = "<space>", config: Optional[PathLike] = None) -> SearchSpace:
    """Parses and checks a search space (see the module documentation).

    Args:
        text: the TOML.
        path: its file name, for errors.
        config: the base config the keys apply to (``None``: the defaults).

    Raises:
        SpaceError: TOML syntax, a table without exactly one distribution, an empty or
            invalid range, an empty choice, or a key the config does not have or a
            value of the wrong type for it (each naming the file and key).
    """
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise SpaceError(f"{path}: {error}") from None
    if not table:
        raise SpaceError(f"{path}: no key to search (one table per config key, e.g. [\"ppo.learning_rate\"])")
    params = []
    for key, spec in table.items():
        if not isinstance(spec, dict):
            raise SpaceError(f"{path}: \"{key}\" must be a table with one of {', '.join(KINDS)}")
        kinds = [k for k in spec if k in KINDS]
        unknown = [k for k in spec if k not in KINDS]
        if unknown:
            raise SpaceError(f"{path}: [\"{key}\"]: unknown field {unknown[0]!r}; expected one of {', '.join(KINDS)}")
        if len(kinds) != 1:
            raise SpaceError(f"{path}: [\"{key}\"]: give exactly one of {', '.join(KINDS)} ({len(kinds)} given)")
        kind = kinds[0]
        if kind == "choice":
            values = spec[kind]
            if not isinstance(values, list) or not values:
                raise SpaceError(f"{path}: [\"{key}\"] choice: an empty choice; give at least one value")
            param = Param(key, kind, choices=tuple(values))
        else:
            param = _range(path, key, kind, spec[kind])
        for value in param.values_to_check():
            try:
                _rltrade.resolve_config(config, {key: value})
            except ValueError as error:
                raise SpaceError(f"{path}: [\"{key}\"] = {value!r}: {error}") from None
        params.append(param)
    return SearchSpace(tuple(params), path)


def load_space(path: PathLike, config: Optional[PathLike] = None) -> SearchSpace:
    """Reads and checks the search space in the TOML file ``path`` (:func:`parse_space`).

    Raises:
        SpaceError: as :func:`parse_space`; an unreadable file names it.
    """
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as file:
            text = file.read()
    except OSError as error:
        raise SpaceError(f"{name}: {error.strerror}") from None
    return parse_space(text, name, config)
