#!/usr/bin/env python3
"""Reads a training run's TensorBoard events with TensorBoard's own reader and checks
them against the run's metrics.jsonl.

    python3 scripts/check_tensorboard.py RUN_DIR [--updates N] [--validations M]

Loads RUN_DIR/tb/ with tensorboard's EventAccumulator (the loader behind TensorBoard's
scalar dashboard; event files of resumed sessions are merged and the events a resume
replaced are purged, as TensorBoard does) and checks that:
  - CleanRL's tags are there (losses/policy_loss, losses/value_loss, losses/entropy,
    losses/approx_kl, losses/clipfrac, charts/learning_rate, charts/SPS);
  - every number of metrics.jsonl (but `update` and `global_step`) is a scalar under its
    key at the line's global_step, once, with the same value (as float32), and no tag
    has other steps;
  - with --updates, metrics.jsonl has N lines and each loss has N points; with
    --validations, validation/total_return has M points;
  - the Text tab's `config` is the run's config.toml, and the HParams plugin holds the
    experiment (a column per hyperparameter, the final validation metrics when the run
    validates), the session start (every leaf of config.toml and the seed, grouped by
    a SHA-256) and, for a finished run
    (--finished), the session end with status SUCCESS.
Prints a one-line summary and exits 0, or lists the problems and exits 1. TensorBoard's
Python package must be importable: `bash scripts/install_tensorboard.sh` installs it into
.tools/py (set PYTHONPATH=.tools/py).
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import api_pb2, metadata as hparams_metadata
from tensorboard.util import tensor_util

REQUIRED_TAGS = [
    "losses/policy_loss",
    "losses/value_loss",
    "losses/entropy",
    "losses/approx_kl",
    "losses/clipfrac",
    "charts/learning_rate",
    "charts/SPS",
]
NOT_SCALARS = {"update", "global_step"}


def expected_scalars(metrics_path):
    """tag -> [(step, value)] from metrics.jsonl, in file order."""
    expected = {}
    lines = metrics_path.read_text().splitlines()
    for number, line in enumerate(lines, start=1):
        record = json.loads(line)
        step = record["global_step"]
        for tag, value in record.items():
            if tag in NOT_SCALARS or value is None or isinstance(value, bool):
                continue
            if isinstance(value, (int, float)):
                expected.setdefault(tag, []).append((step, value))
    return expected, len(lines)


def check_text_and_hparams(acc, run_dir, finished):
    """Problems with the `config` text and the HParams plugin's summaries."""
    problems = []
    config = (run_dir / "config.toml").read_text()
    if "config" not in acc.Tags()["tensors"]:
        problems.append("no `config` text")
    else:
        text = tensor_util.make_ndarray(acc.Tensors("config")[0].tensor_proto).item().decode()
        lines = [line[4:] if line.startswith("    ") else line for line in text.splitlines()]
        if lines != config.splitlines():
            problems.append("the `config` text is not config.toml (as a code block)")
    content = acc.PluginTagToContent(hparams_metadata.PLUGIN_NAME)
    tags = {
        "experiment": hparams_metadata.EXPERIMENT_TAG,
        "start": hparams_metadata.SESSION_START_INFO_TAG,
        "end": hparams_metadata.SESSION_END_INFO_TAG,
    }
    for what in ("experiment", "start") + (("end",) if finished else ()):
        if tags[what] not in content:
            problems.append(f"no HParams {tags[what]}")
    if problems:
        return problems
    experiment = hparams_metadata.parse_experiment_plugin_data(content[tags["experiment"]])
    start = hparams_metadata.parse_session_start_info_plugin_data(content[tags["start"]])
    hparams = dict(start.hparams)
    if "seed" not in hparams or not any(k.startswith("ppo.") for k in hparams):
        problems.append(f"HParams session start lacks the seed or the ppo settings: {sorted(hparams)}")
    columns = {info.name for info in experiment.hparam_infos}
    if columns != set(hparams):
        problems.append(f"HParams columns {sorted(columns)} differ from the session's {sorted(hparams)}")
    metrics = {info.name.tag for info in experiment.metric_infos}
    if "charts/episodic_return" not in metrics:
        problems.append(f"HParams metrics {sorted(metrics)} lack charts/episodic_return")
    validates = "validation/sharpe" in acc.Tags()["scalars"]
    if validates and not {"validation/sharpe", "validation/total_return"} <= metrics:
        problems.append(f"HParams metrics {sorted(metrics)} lack the validation metrics")
    if len(start.group_name) != 64:
        problems.append(f"HParams group {start.group_name!r} is not the config's SHA-256")
    if finished:
        end = hparams_metadata.parse_session_end_info_plugin_data(content[tags["end"]])
        if end.status != api_pb2.STATUS_SUCCESS:
            problems.append(f"HParams session end status {end.status}, expected SUCCESS")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--updates", type=int, help="updates the run must hold")
    parser.add_argument("--validations", type=int, help="validation backtests the run must hold")
    parser.add_argument("--finished", action="store_true", help="the run must have ended successfully")
    args = parser.parse_args()

    tb = args.run_dir / "tb"
    event_files = sorted(p.name for p in tb.glob("*tfevents*"))
    problems = []
    if not event_files:
        problems.append(f"{tb}: no event files")
    acc = event_accumulator.EventAccumulator(
        str(tb), size_guidance={event_accumulator.SCALARS: 0, event_accumulator.TENSORS: 0}
    )
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    expected, lines = expected_scalars(args.run_dir / "metrics.jsonl")

    for tag in REQUIRED_TAGS:
        if tag not in tags:
            problems.append(f"CleanRL tag {tag} is missing")
    for tag in sorted(tags - set(expected)):
        problems.append(f"tag {tag} is in tb/ but has no number in metrics.jsonl")
    for tag, points in sorted(expected.items()):
        if tag not in tags:
            problems.append(f"tag {tag} of metrics.jsonl is not in tb/")
            continue
        seen = [(e.step, e.value) for e in acc.Scalars(tag)]
        steps = [s for s, _ in seen]
        if steps != [s for s, _ in points]:
            problems.append(f"{tag}: steps {steps} in tb/, {[s for s, _ in points]} in metrics.jsonl")
            continue
        for (step, got), (_, want) in zip(seen, points):
            if np.float32(got) != np.float32(want):
                problems.append(f"{tag} at step {step}: {got} in tb/, {want} in metrics.jsonl")
                break
    if args.updates is not None:
        if lines != args.updates:
            problems.append(f"metrics.jsonl has {lines} lines, expected {args.updates}")
        for tag in ("losses/policy_loss", "losses/value_loss"):
            if tag in tags and len(acc.Scalars(tag)) != args.updates:
                problems.append(f"{tag} has {len(acc.Scalars(tag))} points, expected {args.updates}")
    if args.validations is not None:
        got = len(acc.Scalars("validation/total_return")) if "validation/total_return" in tags else 0
        if got != args.validations:
            problems.append(f"validation/total_return has {got} points, expected {args.validations}")

    problems += check_text_and_hparams(acc, args.run_dir, args.finished)

    if problems:
        print(f"{tb}: {len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    steps = [e.step for e in acc.Scalars("losses/value_loss")]
    print(
        f"{tb}: OK: {len(event_files)} event file(s), {len(tags)} tags, "
        f"{len(steps)} updates (steps {steps[0]}..{steps[-1]}), every metrics.jsonl number read back"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
