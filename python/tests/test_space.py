"""The search space of a sweep: read from TOML, every key checked against the config's
schema before anything starts, every bad table named by file and key."""

from __future__ import annotations

import pytest

from rltrade.space import Param, SpaceError, load_space, parse_space

from conftest import CONFIG

GOOD = """
["ppo.learning_rate"]
loguniform = [1e-5, 1e-3]
["ppo.clip_range"]
uniform = [0.1, 0.3]
["ppo.n_epochs"]
integer = [4, 16]
["env.reward.kind"]
choice = ["log_return", "differential_sharpe"]
"""


def test_a_space_reads_every_kind_in_file_order():
    space = parse_space(GOOD, "space.toml", CONFIG)
    assert space.keys() == ["ppo.learning_rate", "ppo.clip_range", "ppo.n_epochs", "env.reward.kind"]
    assert space.params[0] == Param("ppo.learning_rate", "loguniform", 1e-5, 1e-3)
    assert space.params[2] == Param("ppo.n_epochs", "integer", 4, 16)
    assert space.params[3].choices == ("log_return", "differential_sharpe")


@pytest.mark.parametrize(
    "text, message",
    [
        ('["ppo.learnin_rate"]\nuniform = [0.1, 0.2]\n', r'\["ppo.learnin_rate"\] = 0.1: .*unknown field `learnin_rate`'),
        ('["nosuch.key"]\nuniform = [0.1, 0.2]\n', r'\["nosuch.key"\] = 0.1: .*unknown field `nosuch`'),
        ('["ppo.n_epochs"]\nuniform = [0.5, 2.5]\n', r'\["ppo.n_epochs"\] = 0.5: .*invalid type'),
        ('["ppo.clip_range"]\nuniform = [0.3, 0.3]\n', r'\["ppo.clip_range"\] uniform: empty range \[0.3, 0.3\]'),
        ('["ppo.n_epochs"]\ninteger = [9, 4]\n', r'\["ppo.n_epochs"\] integer: empty range \[9, 4\]'),
        ('["ppo.learning_rate"]\nloguniform = [0.0, 0.1]\n', r"loguniform: low must be > 0"),
        ('["env.reward.kind"]\nchoice = []\n', r'\["env.reward.kind"\] choice: an empty choice'),
        ('["env.reward.kind"]\nchoice = ["log_return", "sharpe_ish"]\n', r'= \'sharpe_ish\': .*unknown variant'),
        ('["ppo.clip_range"]\nuniform = [0.1, 0.2]\ninteger = [1, 2]\n', r"give exactly one of"),
        ('["ppo.clip_range"]\nnormal = [0.1, 0.2]\n', r"unknown field 'normal'"),
        ('["ppo.n_epochs"]\ninteger = [1.5, 4]\n', r"must be integers"),
        ("", r"no key to search"),
        ('["ppo.clip_range"\n', r"space.toml: "),
    ],
)
def test_a_bad_space_is_refused_naming_the_file_and_key(text, message):
    with pytest.raises(SpaceError, match=message) as error:
        parse_space(text, "space.toml", CONFIG)
    assert str(error.value).startswith("space.toml: "), str(error.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(SpaceError, match="missing.toml"):
        load_space(tmp_path / "missing.toml")
    good = tmp_path / "space.toml"
    good.write_text(GOOD)
    assert len(load_space(good, CONFIG).params) == 4
