"""One sweep trial: an ordinary ``rltrade train`` run in a subprocess, followed through
its ``metrics.jsonl`` and reported to Ray Tune at every validation (a Tune class
trainable: one ``step`` per validation).

- The trial's run folder is ``<out>/trials/<trial id>``, its config
  ``<out>/configs/<trial id>.toml`` (the base config with the trial's parameters), and
  ``train --trial-of <out>`` records it in the sweep's ledger (finished, stopped_early
  or failed).
- No Tune checkpoints: the run folder is the checkpoint. A trial Tune restarts (a
  resumed sweep) starts from its first validation in Tune's eyes, and reports again,
  from ``metrics.jsonl``, the validations its run already made before training on
  (ASHA keeps one result per trial and rung, so nothing counts twice). A checkpoint per
  validation made Tune snapshot its experiment at every one, which cost the trials
  about a tenth of their CPU.
- When Tune stops the trial (ASHA, or the sweep's end), ``cleanup`` sends ``train``
  SIGTERM and waits: ``train`` finishes the update under way, exports its best
  checkpoint and records the trial ``stopped_early``.
- When the sweep's driver is killed, Ray ends the trial's worker and its child
  processes (SIGTERM first): ``train`` finishes its update and records itself
  stopped_early, or, killed harder, loses at most the update under way (every update's
  checkpoint is saved atomically) and records nothing.
- A restarted trial (a resumed sweep) continues its run with ``train --resume``. A run
  the ledger already has as finished is not trained again: its validations are
  reported from ``metrics.jsonl``.
- A trial starts ``train`` only once a saved experiment state of Tune names it (it
  waits up to ``SAVED_WAIT_S``, then trains anyway with a line in its log), so that a
  sweep killed at any moment restores every trial that has a run folder.
- One ``train`` at a time per trial: the child holds an exclusive ``flock`` on
  ``<out>/trials/<trial id>.lock`` until it exits, and a restarted trial waits for it.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from .folder import write_atomic
from .search import num_updates

#: Seconds between two reads of ``metrics.jsonl``.
POLL_S = 0.2
#: Seconds a stopped ``train`` gets to finish its update and export before SIGKILL.
STOP_GRACE_S = 120.0
#: Seconds a restarted trial waits for the previous ``train`` of its run to exit.
LOCK_WAIT_S = 300.0
#: Seconds a trial waits for Tune's saved experiment to name it before it trains.
SAVED_WAIT_S = 60.0
#: The metric reported to Tune and optimized (higher is better).
METRIC = "validation_sharpe"


@dataclass(frozen=True)
class TrialSetup:
    """What every trial of one sweep shares.

    Attributes:
        out: the sweep folder (absolute).
        base_config: the base config file (absolute; the sweep folder's copy).
        rltrade_bin: the ``rltrade`` executable.
        workdir: the folder ``train`` runs in (absolute).
        choice_json: the keys whose choices are JSON-encoded for Optuna (lists,
            tables), decoded here.
        ort_dylib_path: the sweep driver's ``ORT_DYLIB_PATH`` (ONNX Runtime, which
            ``train`` exports with), given to a trial whose worker has none.
    """

    out: str
    base_config: str
    rltrade_bin: str
    workdir: str
    choice_json: tuple = ()
    ort_dylib_path: Optional[str] = None


def trial_overrides(params: dict, choice_json: tuple) -> dict:
    """The config overrides of a trial's parameters (Tune's ``config``): JSON-encoded
    choices decoded, numpy scalars made Python numbers."""
    overrides = {}
    for key, value in params.items():
        if key in choice_json:
            value = json.loads(value)
        elif hasattr(value, "item"):
            value = value.item()
        overrides[key] = value
    return overrides


def make_trainable(setup: TrialSetup) -> type:
    """The Tune class trainable of one sweep's trials (a ``tune.Trainable`` subclass,
    made here so that ``ray`` is imported only by the sweep)."""
    from ray import tune

    from .. import _rltrade

    class TrainRun(tune.Trainable):
        """One trial: ``step`` returns at each validation of ``rltrade train``;
        ``cleanup`` (Tune's stop, ASHA's or the sweep's end) sends SIGTERM and waits
        for ``train`` to finish its update, export and record the trial."""

        def setup(self, config: dict) -> None:
            self._params = config
            self._reported = 0
            self._child: Optional[subprocess.Popen] = None
            self._follower: Optional[_Follower] = None
            out = Path(setup.out)
            trial = self.trial_id
            self._run_dir = out / "trials" / trial
            self._config_path = out / "configs" / f"{trial}.toml"
            self._log_path = out / "logs" / f"{trial}.log"
            self._ledger_id = f"trials/{trial}"
            for folder in (self._run_dir.parent, self._config_path.parent, self._log_path.parent):
                folder.mkdir(parents=True, exist_ok=True)

        def step(self) -> dict:
            if self._follower is None:
                self._start()
            row = self._follower.next_validation(self._reported)
            if row is None:
                # the run ended without a validation after the last one reported
                self._wait_success()
                raise RuntimeError(f"trial {self.trial_id}: `rltrade train` ended without its final validation")
            self._reported = row["update"]
            result = _result(row)
            if row["update"] >= self._num_updates:
                # the final validation: wait for the export and the ledger line
                self._wait_success()
                result["done"] = True
            return result

        def cleanup(self) -> None:
            if self._child is not None:
                _stop(self._child)
            if self._follower is not None:
                self._follower.close()

        def _start(self) -> None:
            if not self._config_path.is_file():
                overrides = trial_overrides(self._params, setup.choice_json)
                try:
                    resolved = _rltrade.resolve_config(setup.base_config, overrides)
                except ValueError as error:
                    raise RuntimeError(f"trial {self.trial_id}: parameters {overrides}: {error}") from None
                write_atomic(self._config_path, resolved.encode())
            ppo = _toml(self._config_path)["ppo"]
            self._num_updates = num_updates(ppo["total_steps"], ppo["n_envs"], ppo["n_steps"])
            metrics = self._run_dir / "metrics.jsonl"
            # a run folder appears only for a trial that Tune's saved experiment holds:
            # a sweep killed before Tune saved a new trial restores without it, and
            # would leave its run behind as an orphan
            _wait_until_saved(Path(setup.out) / "tune", self.trial_id, self._log_path)
            lock = _wait_for_lock(self._run_dir.with_suffix(".lock"))
            try:
                if _finished_in_ledger(Path(setup.out), self._ledger_id):
                    # the sweep was killed after this run finished but before Tune
                    # saved it: its validations are reported from its file, no training
                    self._follower = _Follower(metrics, None)
                    return
                stale = None
                if (self._run_dir / "config.toml").is_file():
                    # `train --resume` recovers a checkpoint save cut between its renames,
                    # and starts over a run killed before its first checkpoint
                    command = ["train", "--resume", str(self._run_dir)]
                    stale = _inode(metrics)
                else:
                    shutil.rmtree(self._run_dir, ignore_errors=True)  # killed before its config
                    command = ["train", "--config", str(self._config_path), "--out", str(self._run_dir)]
                self._command = [*command, "--trial-of", setup.out, "--json"]
                with open(self._log_path, "ab") as log:
                    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                    log.write(f"\n# {stamp} start: rltrade {' '.join(self._command)}\n".encode())
                    log.flush()
                    env = dict(os.environ)
                    if setup.ort_dylib_path and not env.get("ORT_DYLIB_PATH"):
                        env["ORT_DYLIB_PATH"] = setup.ort_dylib_path
                    self._child = subprocess.Popen(
                        [setup.rltrade_bin, *self._command],
                        cwd=setup.workdir,
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=log,
                        pass_fds=(lock,),
                    )
            finally:
                # the child holds the lock now (its inherited descriptor), until it exits
                os.close(lock)
            # the killed run's file until `train --resume` cuts it back (a new file)
            self._follower = _Follower(metrics, self._child, skip_inode=stale)

        def _wait_success(self) -> None:
            if self._child is None:
                return
            status = self._child.wait()
            if status != 0:
                raise RuntimeError(
                    f"trial {self.trial_id}: `rltrade {' '.join(self._command)}` exited with {status}:\n"
                    f"{_tail(self._log_path)}"
                )

    return TrainRun


class _Follower:
    """Reads a run's ``metrics.jsonl`` as ``train`` appends to it, across the rewrite
    of ``train --resume`` (which cuts it back to its checkpoint: a new file)."""

    def __init__(self, path: Path, child: Optional[subprocess.Popen], skip_inode: Optional[int] = None):
        self._path = path
        self._child = child
        self._skip_inode = skip_inode
        self._handle = None
        self._pending = b""
        self._rows: list = []

    def next_validation(self, after_update: int) -> Optional[dict]:
        """The next validation line with an update above ``after_update``; ``None``
        when the child exited (or, with no child, the file ended) without one."""
        while True:
            while self._rows:
                row = self._rows.pop(0)
                if "validation/sharpe" in row and isinstance(row.get("update"), int) and row["update"] > after_update:
                    return row
            done = self._child is None or self._child.poll() is not None
            self._read()
            if self._rows:
                continue
            if done:
                self.close()
                return None
            time.sleep(POLL_S)

    def close(self) -> None:
        """Closes the file (reading again reopens it)."""
        if self._handle is not None:
            self._handle.close()
            self._handle, self._pending = None, b""

    def _read(self) -> None:
        if self._handle is not None and _replaced(self._handle, self._path):
            self._handle.close()
            self._handle, self._pending = None, b""
        if self._handle is None:
            inode = _inode(self._path)
            if inode is None or inode == self._skip_inode:
                return
            self._handle = open(self._path, "rb")
        self._pending += self._handle.read()
        *lines, self._pending = self._pending.split(b"\n")
        self._rows.extend(row for row in map(_parse, lines) if row is not None)


def _result(row: dict) -> dict:
    sharpe = row["validation/sharpe"]
    return {
        # an undefined Sharpe (a policy that never trades: flat equity) ranks as 0
        METRIC: float(sharpe) if isinstance(sharpe, (int, float)) and math.isfinite(sharpe) else 0.0,
        "validation_sharpe_defined": sharpe is not None,
        "validation_total_return": row.get("validation/total_return"),
        "update": row["update"],
        "global_step": row.get("global_step"),
    }


def _toml(path: Path) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.9 and 3.10
        import tomli as tomllib
    return tomllib.loads(path.read_text())


def _parse(line: bytes) -> Optional[dict]:
    try:
        row = json.loads(line)
    except ValueError:
        return None
    return row if isinstance(row, dict) else None


def _inode(path: Path) -> Optional[int]:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


def _replaced(handle: Any, path: Path) -> bool:
    try:
        return os.stat(path).st_ino != os.fstat(handle.fileno()).st_ino
    except FileNotFoundError:
        return True


def _stop(child: subprocess.Popen) -> None:
    """SIGTERM: ``train`` finishes its update, exports, records stopped_early."""
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _wait_until_saved(experiment: Path, trial_id: str, log: Path) -> None:
    """Waits until a saved experiment state of Tune (``experiment_state-*.json``)
    names ``trial_id``; after ``SAVED_WAIT_S`` goes on with a line in the trial's log."""
    deadline = time.monotonic() + SAVED_WAIT_S
    needle = trial_id.encode()
    while time.monotonic() < deadline:
        for state in experiment.glob("experiment_state-*.json"):
            try:
                if needle in state.read_bytes():
                    return
            except OSError:
                pass  # replaced while read: the next poll reads the new one
        time.sleep(POLL_S)
    with open(log, "ab") as file:
        file.write(f"# no saved Tune state names trial {trial_id} after {SAVED_WAIT_S:.0f} s; training anyway\n".encode())


def _wait_for_lock(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.set_inheritable(fd, True)
            return fd
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                raise RuntimeError(f"{path}: another `rltrade train` of this trial still runs after {LOCK_WAIT_S:.0f} s")
            time.sleep(POLL_S)


def _finished_in_ledger(out: Path, trial_id: str) -> bool:
    """The ledger's line of ``trial_id`` (its last) says finished."""
    from .summary import read_ledger

    return read_ledger(out).get(trial_id, {}).get("status") == "finished"


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path} unreadable)"
