"""A sweep from start to end: check the input, connect to Ray, run Tune (Optuna's TPE
sampler, ASHA early stopping on the validation Sharpe), wait for every trial's ledger
line, export the best trials and write the summary.

- TPE: J. Bergstra, R. Bardenet, Y. Bengio and B. Kégl, "Algorithms for
  Hyper-Parameter Optimization", NeurIPS 2011 (``optuna.samplers.TPESampler``).
- ASHA: L. Li, K. Jamieson, A. Rostamizadeh, E. Gonina, J. Ben-tzur, M. Hardt,
  B. Recht and A. Talwalkar, "A System for Massively Parallel Hyperparameter Tuning",
  MLSys 2020 (``ray.tune.schedulers.ASHAScheduler``); its time unit here is one
  validation (``train.validation_every`` updates).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .. import _rltrade
from ..space import SearchSpace, SpaceError, load_space
from . import folder
from .cluster import connect, require_packages
from .folder import SweepError
from .search import max_validations, optuna_space
from .summary import finish
from .trial import METRIC, TrialSetup, make_trainable


#: The settings of a new sweep whose flags are not given.
DEFAULTS = {"cpus_per_trial": 1.0, "seed": 0, "grace_period": 2, "reduction_factor": 2, "export_best": 3}


@dataclass(frozen=True)
class SweepRequest:
    """``rltrade sweep``'s flags (see ``python -m rltrade.sweep --help``).

    Attributes:
        config: the base config (new sweep; optional with ``resume``).
        space: the search space TOML (new sweep; optional with ``resume``).
        trials: the number of trials, at least 1 (new sweep; optional with ``resume``).
        address: ``auto``, ``HOST:PORT`` of a running cluster, or ``None`` for a Ray
            started in this process for this machine.
        cpus_per_trial: CPUs Ray reserves per trial (> 0).

    The settings (``cpus_per_trial``, ``seed``, ``grace_period``,
    ``reduction_factor``, ``export_best``) are ``None`` when not given: a new sweep
    takes :data:`DEFAULTS`, a resumed one its own, and refuses a given one that differs.
        out: the new sweep's folder.
        resume: the folder of a sweep to continue.
        rltrade_bin: the ``rltrade`` executable the trials run.
        seed: TPE's seed.
        grace_period: ASHA's minimum validations before a trial may be stopped (≥ 1).
        reduction_factor: ASHA's reduction factor (≥ 2).
        export_best: how many of the best trials to copy to ``best/`` (≥ 0).
    """

    config: Optional[Path]
    space: Optional[Path]
    trials: Optional[int]
    address: Optional[str]
    cpus_per_trial: Optional[float]
    out: Optional[Path]
    resume: Optional[Path]
    rltrade_bin: str
    seed: Optional[int] = None
    grace_period: Optional[int] = None
    reduction_factor: Optional[int] = None
    export_best: Optional[int] = None


def run_sweep(request: SweepRequest) -> dict:
    """Runs (or continues) a sweep; returns its summary (also ``<out>/summary.json``).

    Raises:
        SweepError: bad input (a missing or invalid config, a space with an unknown
            key or empty range, ``--out`` not empty, ``--resume`` on a folder that is
            not this sweep's), a cluster that cannot be reached, or an ``rltrade``
            executable that is missing.
    """
    require_packages()
    if not Path(request.rltrade_bin).is_file():
        raise SweepError(f"--rltrade-bin {request.rltrade_bin}: no such file")
    if request.resume is not None:
        # errors name the folder as given
        manifest = folder.load(request.resume)
        folder.check_same_sweep(request.resume, manifest, request.config, request.space, request.trials)
        folder.check_same_settings(request.resume, manifest, _given_settings(request))
        out = request.resume.resolve()
        try:
            space = load_space(out / folder.SPACE, out / folder.BASE_CONFIG)
        except SpaceError as error:
            raise SweepError(str(error)) from None
        connect(request.address)
    else:
        _check_new(request)
        # connected first: a cluster that cannot be reached leaves no folder behind
        connect(request.address)
        manifest, out = _start(request)
        space = load_space(out / folder.SPACE, out / folder.BASE_CONFIG)
    try:
        trials, errors = _fit(out, manifest, space, request.rltrade_bin, request.resume is not None)
    finally:
        import ray

        ray.shutdown()
    return finish(out, manifest, space, trials, errors)


def _given_settings(request: SweepRequest) -> dict:
    """The settings flags given (not ``None``), by manifest field."""
    given = {
        "cpus_per_trial": request.cpus_per_trial,
        "seed": request.seed,
        "grace_period": request.grace_period,
        "reduction_factor": request.reduction_factor,
        "export_best": request.export_best,
    }
    return {k: v for k, v in given.items() if v is not None}


def _check_new(request: SweepRequest) -> None:
    for flag, value in (("--config", request.config), ("--space", request.space), ("--trials", request.trials),
                        ("--out", request.out)):
        if value is None:
            raise SweepError(f"{flag} is required for a new sweep (or continue one with --resume DIR)")
    settings = {**DEFAULTS, **_given_settings(request)}
    if request.trials < 1:
        raise SweepError(f"--trials {request.trials}: must be at least 1")
    cpus = settings["cpus_per_trial"]
    if not (isinstance(cpus, (int, float)) and math.isfinite(cpus) and cpus > 0):
        raise SweepError(f"--cpus-per-trial {cpus}: must be a number above 0")
    if not 0 <= settings["seed"] < 2**32:
        raise SweepError(f"--seed {settings['seed']}: must be in 0..=4294967295 (Optuna's sampler seed)")
    if settings["grace_period"] < 1:
        raise SweepError(f"--grace-period {settings['grace_period']}: must be at least 1")
    if settings["reduction_factor"] < 2:
        raise SweepError(f"--reduction-factor {settings['reduction_factor']}: must be at least 2")
    if settings["export_best"] < 0:
        raise SweepError(f"--export-best {settings['export_best']}: must be at least 0")
    if not request.config.is_file():
        raise SweepError(f"--config {request.config}: no such file")
    if not request.space.is_file():
        raise SweepError(f"--space {request.space}: no such file")
    out = request.out.resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise SweepError(
            f"--out {request.out}: exists and is not an empty folder; continue a sweep with --resume {request.out}, "
            "or give a new folder"
        )
    try:
        _rltrade.resolve_config(request.config)
        load_space(request.space, request.config)
    except SpaceError as error:
        raise SweepError(str(error)) from None
    except ValueError as error:
        raise SweepError(f"--config {request.config}: {error}") from None


def _start(request: SweepRequest) -> tuple:
    out = request.out.resolve()
    manifest = folder.create(
        out,
        request.config,
        request.space,
        trials=request.trials,
        workdir=os.getcwd(),
        **{**DEFAULTS, **_given_settings(request)},
    )
    return manifest, out


def _fit(out: Path, manifest: folder.Manifest, space: SearchSpace, rltrade_bin: str, resuming: bool) -> tuple:
    """Runs (or restores and continues) Tune; returns Tune's trial ids and the errors
    of the trials that failed, as strings naming the trial."""
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.optuna import OptunaSearch
    import optuna

    import ray

    distributions, encoded = optuna_space(space)
    # Tune lets a search algorithm have one trial pending at a time: a trial's actor
    # would start only once the one before runs (seconds each); as many as fit at once
    slots = int(ray.cluster_resources().get("CPU", 1) // manifest.cpus_per_trial)
    os.environ.setdefault("TUNE_MAX_PENDING_TRIALS_PG", str(max(1, slots)))
    # Tune saves its experiment (what --resume restores) at most this often; a trial
    # trains only once it is in a saved state (trial.py), so a short period starts
    # trials sooner
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "1")
    setup = TrialSetup(
        out=str(out),
        base_config=str(out / folder.BASE_CONFIG),
        rltrade_bin=str(Path(rltrade_bin).resolve()),
        workdir=manifest.workdir,
        choice_json=encoded,
        ort_dylib_path=os.environ.get("ORT_DYLIB_PATH"),
    )
    trainable = tune.with_resources(make_trainable(setup), {"cpu": manifest.cpus_per_trial})
    experiment = out / folder.TUNE_DIR
    restorable = tune.Tuner.can_restore(str(experiment)) and any(experiment.glob("experiment_state-*.json"))
    if resuming and restorable:
        tuner = tune.Tuner.restore(str(experiment), trainable=trainable, resume_unfinished=True)
    else:
        if experiment.exists():
            # killed before Tune saved a first state: no trial trained (trials wait for
            # one), so the sweep starts over; the old folder is kept aside
            experiment.rename(experiment.with_name(f"{folder.TUNE_DIR}.unsaved-{int(time.time())}"))
        max_t = max_validations(out / folder.BASE_CONFIG, space)
        searcher = OptunaSearch(
            space=distributions,
            metric=METRIC,
            mode="max",
            sampler=optuna.samplers.TPESampler(seed=manifest.seed),
        )
        scheduler = ASHAScheduler(
            time_attr="training_iteration",
            max_t=max_t,
            grace_period=min(manifest.grace_period, max_t),
            reduction_factor=manifest.reduction_factor,
        )
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(
                search_alg=searcher,
                scheduler=scheduler,
                num_samples=manifest.trials,
                metric=METRIC,
                mode="max",
                reuse_actors=False,
            ),
            run_config=tune.RunConfig(
                name=folder.TUNE_DIR,
                storage_path=str(out),
                verbose=1,
                # a trial whose node was lost is restarted once (it resumes its run)
                failure_config=tune.FailureConfig(max_failures=1),
                # the trials' run folders are their checkpoints (see trial.py)
                checkpoint_config=tune.CheckpointConfig(checkpoint_frequency=0, checkpoint_at_end=False),
            ),
        )
    try:
        grid = tuner.fit()
    except Exception as error:  # Tune's own failures (TuneError and others)
        raise SweepError(f"{experiment}: Ray Tune failed: {error}") from error
    trials = [(result.metrics or {}).get("trial_id") or Path(result.path).name.split("_")[1] for result in grid]
    errors = [f"{Path(result.path).name}: {result.error}" for result in grid if result.error is not None]
    return trials, errors


