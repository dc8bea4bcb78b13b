"""``rltrade sweep`` on the two-node loopback cluster of ``conftest.py``: a sweep to its
end, and a sweep killed with SIGKILL and resumed with ``--resume``; then the ledger
holds every trial exactly once, consistent with Tune's trials and the run folders."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import DATA

SPACE = """\
["ppo.learning_rate"]
loguniform = [1e-4, 3e-3]
["ppo.n_epochs"]
integer = [1, 4]
["ppo.clip_range"]
uniform = [0.1, 0.3]
"""


def _config(work: Path, total_steps: int, validation_every: int) -> Path:
    path = work / "base.toml"
    path.write_text(
        "[ppo]\nn_envs = 2\nn_steps = 256\nbatch_size = 128\nenv_threads = 1\nupdate_threads = 1\n"
        f"total_steps = {total_steps}\n[train]\nvalidation_every = {validation_every}\n"
        f'[data]\npath = "{DATA}"\n'
    )
    (work / "space.toml").write_text(SPACE)
    return path


def _sweep(work: Path, *args: str, **popen) -> subprocess.Popen:
    env = {**os.environ, "RLTRADE_PYTHON": sys.executable}
    return subprocess.Popen([os.environ["RLTRADE_BIN"], "sweep", *args], cwd=work, env=env, **popen)


def _ledger_lines(out: Path) -> list:
    return [json.loads(line) for line in (out / "trials.jsonl").read_text().splitlines() if line.strip()]


def _ledger(out: Path) -> dict:
    """The ledger as `rltrade compare` reads it: the last line of a trial id wins."""
    return {row["trial_id"]: row for row in _ledger_lines(out)}


def _tune_trials(out: Path) -> set:
    """Tune's own trial ids (its trial folders are named `TrainRun_<id>_...`)."""
    return {p.name.split("_")[1] for p in (out / "tune").iterdir() if p.is_dir() and p.name.startswith("TrainRun_")}


def _starts(out: Path, trial: str) -> list:
    """The `rltrade train` commands a trial ran, from its log."""
    return [line for line in (out / "logs" / f"{trial}.log").read_text().splitlines() if " start: " in line]


def _check_complete(out: Path, trials: int) -> dict:
    ledger = _ledger(out)
    runs = {p.name for p in (out / "trials").iterdir() if p.is_dir()}
    assert len(runs) == trials, runs
    assert set(ledger) == {f"trials/{r}" for r in runs}, (sorted(ledger), sorted(runs))
    # every run belongs to a trial of Tune's; a kill may leave a Tune trial folder of a
    # trial it cut before Tune saved it, which never trained (no run, no ledger line)
    assert runs <= _tune_trials(out), (runs, _tune_trials(out))
    for trial_id, row in ledger.items():
        assert row["status"] in ("finished", "stopped_early"), row
        assert (out / trial_id / "export" / "policy.onnx").is_file(), trial_id
        assert (out / "configs" / f"{trial_id.split('/')[1]}.toml").is_file()
    # every configuration differs (TPE sampled three continuous or integer keys)
    assert len({row["config_hash"] for row in ledger.values()}) == trials
    return ledger


def test_a_sweep_runs_to_its_end_and_its_ledger_deflates_compare(cluster, tmp_path):
    # 8 validations a trial (40 updates, one every 5); ASHA's rungs at 2 and 4
    config = _config(tmp_path, total_steps=20_480, validation_every=5)
    sweep = _sweep(tmp_path, "--config", str(config), "--space", "space.toml", "--trials", "6", "--address", cluster,
                   "--out", "sweep", "--json", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = sweep.communicate(timeout=600)
    assert sweep.returncode == 0, stderr[-4000:]
    summary = json.loads(stdout)
    out = tmp_path / "sweep"
    ledger = _check_complete(out, 6)
    assert not summary["unrecorded"] and not summary["orphans"] and not summary["errors"], summary
    assert summary["status_counts"] == {
        s: n for s in ("finished", "stopped_early") if (n := sum(r["status"] == s for r in ledger.values()))
    }
    # ASHA stopped some trials early (after SIGTERM, `train` recorded them so)
    assert any(r["status"] == "stopped_early" for r in ledger.values()), ledger
    for row in ledger.values():
        if row["status"] == "stopped_early":
            metrics = (out / row["trial_id"] / "metrics.jsonl").read_text().splitlines()
            assert len(metrics) < 40, row["trial_id"]
    # the three best are exported, best first
    assert [b["rank"] for b in summary["best"]] == [1, 2, 3]
    assert (out / "best" / "1" / "policy.onnx").is_file() and (out / "best" / "1" / "model_card.json").is_file()
    best = summary["best"][0]
    assert best["trial_id"] == max(
        ledger.values(), key=lambda r: (r["status"] == "finished", r["validation_sharpe"] or float("-inf"))
    )["trial_id"]
    # `compare` deflates the best trial by all six configurations tried
    done = subprocess.run(
        [os.environ["RLTRADE_BIN"], "compare", "--models", str(out / best["trial_id"]), "--ledger",
         str(out / "trials.jsonl"), "--resamples", "100", "--out", str(tmp_path / "cmp"), "--json"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    compare = json.loads(done.stdout)
    assert compare["trials"]["n_trials"] == 6, compare["trials"]
    assert compare["arms"][0]["deflated_sharpe"]["n_trials"] == 6


def test_a_killed_sweep_resumes_and_its_ledger_holds_each_trial_once(cluster, tmp_path):
    # 8 validations a trial, 160 updates: a trial runs for seconds, long enough to be
    # killed in the middle of
    config = _config(tmp_path, total_steps=81_920, validation_every=20)
    log = open(tmp_path / "first.log", "wb")
    sweep = _sweep(tmp_path, "--config", str(config), "--space", "space.toml", "--trials", "6", "--address", cluster,
                   "--out", "sweep", stdout=log, stderr=subprocess.STDOUT)
    out = tmp_path / "sweep"
    deadline = time.monotonic() + 300
    # kill it once a trial finished and another one is training
    while True:
        assert sweep.poll() is None, (tmp_path / "first.log").read_text()[-4000:]
        assert time.monotonic() < deadline, "no trial finished while another trained, in 300 s"
        ledger = _ledger(out) if (out / "trials.jsonl").exists() else {}
        running = [p for p in (out / "trials").glob("*/metrics.jsonl") if f"trials/{p.parent.name}" not in ledger] \
            if (out / "trials").is_dir() else []
        if any(r["status"] == "finished" for r in ledger.values()) and running:
            break
        time.sleep(0.2)
    sweep.send_signal(signal.SIGKILL)
    sweep.wait()
    # the trials' `train` processes get SIGTERM from the kernel (their worker died):
    # each finishes its update, exports and records itself stopped_early
    deadline = time.monotonic() + 120
    while subprocess.run(["pgrep", "-f", "rltrade train"], capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, "train processes outlived the killed sweep by 120 s"
        time.sleep(0.2)
    before = _ledger(out)
    done_before = {t for t, r in before.items() if r["status"] == "finished"}
    assert done_before and before, before

    resumed = subprocess.run(
        [os.environ["RLTRADE_BIN"], "sweep", "--resume", "sweep", "--address", cluster, "--json"],
        cwd=tmp_path, env={**os.environ, "RLTRADE_PYTHON": sys.executable}, capture_output=True, text=True,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    summary = json.loads(resumed.stdout)
    ledger = _check_complete(out, 6)
    assert len(summary["trials"]) == 6 and not summary["unrecorded"] and not summary["orphans"]
    for trial_id in done_before:
        # finished before the kill: not trained again
        assert ledger[trial_id] == before[trial_id]
        assert len(_starts(out, trial_id.split("/")[1])) == 1, trial_id
    for trial_id in ledger:
        starts = _starts(out, trial_id.split("/")[1])
        # at most one start, and one `--resume` of its own run after the kill
        assert len(starts) <= 2 and all("--resume" in s for s in starts[1:]), starts
    # a trial the kill interrupted went on from its checkpoint (whether ASHA stopped it
    # later or it finished)
    continued = [t for t in ledger if len(_starts(out, t.split("/")[1])) == 2]
    assert continued, {t: _starts(out, t.split("/")[1]) for t in ledger}
    # every line of the ledger file is a whole record, and each trial's last says how it ended
    lines = _ledger_lines(out)
    assert {row["trial_id"] for row in lines} == set(ledger)
