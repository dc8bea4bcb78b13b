"""A sweep's folder: what it was started with (``sweep.json`` and copies of the base
config and the search space), so that ``--resume`` continues the same sweep and refuses
any other.

Layout of ``--out DIR``::

    DIR/sweep.json         this sweep's identity and settings (written once)
    DIR/base.toml          the base config, as given
    DIR/space.toml         the search space, as given
    DIR/tune/              Ray Tune's experiment (its own restore state)
    DIR/configs/<id>.toml  each trial's resolved config
    DIR/trials/<id>/       each trial's run folder (an ordinary ``rltrade train`` run)
    DIR/logs/<id>.log      each trial's ``rltrade train`` output
    DIR/trials.jsonl       the trial ledger (one line per trial, kept by ``train``)
    DIR/best/<rank>/       the best trials' exports, after the sweep
    DIR/summary.json       every trial's status, parameters and validation Sharpe
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

#: The manifest's format tag.
FORMAT = "rltrade-sweep/1"
#: The manifest's file name in the sweep folder.
MANIFEST = "sweep.json"
#: The sweep folder's copy of the base config.
BASE_CONFIG = "base.toml"
#: The sweep folder's copy of the search space.
SPACE = "space.toml"
#: Ray Tune's experiment folder inside the sweep folder.
TUNE_DIR = "tune"


class SweepError(Exception):
    """A sweep that cannot start or continue: the message names the file, folder,
    flag or address at fault. The command prints it and exits with status 1."""


@dataclass(frozen=True)
class Manifest:
    """What a sweep was started with.

    Attributes:
        sweep_id: a random id, fixed at the start.
        trials: the number of trials (``--trials``).
        cpus_per_trial: CPUs Ray reserves for each trial.
        config_sha256, space_sha256: hex SHA-256 of the base config and space bytes.
        workdir: the absolute folder the sweep was started in; trials run there, so
            that a config's relative paths (``data.path``) mean what they meant.
        seed: the TPE sampler's seed.
        grace_period, reduction_factor: ASHA's (in validations).
        export_best: how many of the best trials are exported to ``best/``.
    """

    sweep_id: str
    trials: int
    cpus_per_trial: float
    config_sha256: str
    space_sha256: str
    workdir: str
    seed: int
    grace_period: int
    reduction_factor: int
    export_best: int


def sha256_file(path: Path) -> str:
    """The hex SHA-256 of a file's bytes.

    Raises:
        SweepError: the file cannot be read (naming it).
    """
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as error:
        raise SweepError(f"{path}: {error.strerror}") from None


def create(out: Path, config: Path, space: Path, **settings) -> Manifest:
    """Starts a sweep folder: ``out`` must not exist or be empty. Copies the config and
    space into it and writes ``sweep.json`` (atomically).

    Raises:
        SweepError: ``out`` is a file or a non-empty folder; a file cannot be read or
            written.
    """
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise SweepError(
            f"--out {out}: exists and is not an empty folder; continue a sweep with --resume {out}, "
            "or give a new folder"
        )
    out.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(
        sweep_id=uuid.uuid4().hex,
        config_sha256=sha256_file(config),
        space_sha256=sha256_file(space),
        **settings,
    )
    for source, name in ((config, BASE_CONFIG), (space, SPACE)):
        write_atomic(out / name, source.read_bytes())
    write_atomic(out / MANIFEST, (json.dumps({"format": FORMAT, **asdict(manifest)}, indent=2) + "\n").encode())
    return manifest


def load(out: Path) -> Manifest:
    """Reads the manifest of the sweep in ``out`` (for ``--resume``).

    Raises:
        SweepError: ``out`` is missing, holds no ``sweep.json`` (not a sweep's folder:
            a training run, a walk-forward), or one that is unreadable or of another
            format; or its copies of the config and space were changed since.
    """
    if not out.is_dir():
        raise SweepError(f"--resume {out}: no such folder")
    path = out / MANIFEST
    if not path.is_file():
        raise SweepError(
            f"--resume {out}: not a sweep folder (no {MANIFEST}; `rltrade sweep --out` makes one)"
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict) or raw.pop("format", None) != FORMAT:
            raise ValueError(f"not an object with format {FORMAT}")
        manifest = Manifest(**raw)
        for field, kind in (("sweep_id", str), ("trials", int), ("cpus_per_trial", (int, float)),
                            ("config_sha256", str), ("space_sha256", str), ("workdir", str), ("seed", int),
                            ("grace_period", int), ("reduction_factor", int), ("export_best", int)):
            if not isinstance(getattr(manifest, field), kind) or isinstance(getattr(manifest, field), bool):
                raise ValueError(f"{field} = {getattr(manifest, field)!r} is of the wrong type")
    except (OSError, ValueError, TypeError) as error:
        raise SweepError(f"{path}: not a readable sweep manifest: {error}") from None
    for name, digest in ((BASE_CONFIG, manifest.config_sha256), (SPACE, manifest.space_sha256)):
        if sha256_file(out / name) != digest:
            raise SweepError(f"{out / name}: changed since the sweep started (its SHA-256 differs from {path})")
    return manifest


def check_same_sweep(out: Path, manifest: Manifest, config: Optional[Path], space: Optional[Path],
                     trials: Optional[int]) -> None:
    """With ``--resume``, flags given again must name the sweep in ``out``: the same
    config and space bytes and the same number of trials.

    Raises:
        SweepError: naming the flag that differs and the folder's own copy.
    """
    for flag, given, name, digest in (
        ("--config", config, BASE_CONFIG, manifest.config_sha256),
        ("--space", space, SPACE, manifest.space_sha256),
    ):
        if given is not None and sha256_file(given) != digest:
            raise SweepError(
                f"{flag} {given}: differs from the sweep in {out} (started with {out / name}); "
                f"--resume continues that sweep: leave {flag} out, or start a new sweep with --out"
            )
    if trials is not None and trials != manifest.trials:
        raise SweepError(f"--trials {trials}: the sweep in {out} was started with --trials {manifest.trials}")


#: The flag of each setting, for errors.
_FLAGS = {"cpus_per_trial": "--cpus-per-trial", "seed": "--seed", "grace_period": "--grace-period",
          "reduction_factor": "--reduction-factor", "export_best": "--export-best"}


def check_same_settings(out: Path, manifest: Manifest, given: dict) -> None:
    """With ``--resume``, a setting given again (``given``: manifest field to value)
    must be the sweep's own.

    Raises:
        SweepError: naming the flag, the value given and the sweep's.
    """
    for field, value in given.items():
        if value != getattr(manifest, field):
            raise SweepError(
                f"{_FLAGS[field]} {value}: the sweep in {out} was started with {_FLAGS[field]} "
                f"{getattr(manifest, field)}; --resume keeps a sweep's settings (leave it out)"
            )


def write_atomic(path: Path, data: bytes) -> None:
    """Writes `data` to `path` through a temporary file and a rename (never half a file).

    Raises:
        SweepError: naming the path.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except OSError as error:
        raise SweepError(f"{path}: {error.strerror}") from None


