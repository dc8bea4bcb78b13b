"""Thin calls into the crates: bars, backtests, exported policies and a run's metrics,
with the CLI's errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import rltrade

from conftest import CONFIG, DATA


def test_bars_come_through_the_rust_loader():
    bars = rltrade.load_bars(DATA)
    assert list(bars.columns) == ["open", "high", "low", "close", "volume"]
    assert bars.index.name == "time_ms" and bars.index.is_monotonic_increasing
    assert bars.attrs == {"symbol": "BTCUSD", "interval_ms": 3_600_000}
    assert (bars["high"] >= bars["low"]).all() and len(bars) > 20_000


def test_a_baseline_backtest_returns_its_metrics_trades_and_equity():
    result = rltrade.backtest(config=CONFIG, data=DATA, strategy="ma-crossover", fast=50, slow=200, split="test")
    assert result["strategy"] == "ma:50:200"
    metrics = result["metrics"]
    numbers = [v for v in metrics.values() if isinstance(v, float)]
    assert len(numbers) >= 5 and all(np.isfinite(numbers)), metrics
    equity = result["equity"]
    assert isinstance(equity, pd.DataFrame) and len(equity) > 100
    assert equity["equity"].iloc[-1] == pytest.approx(metrics["final_equity"])
    hold = rltrade.backtest(config=CONFIG, data=DATA, strategy="buy-and-hold")
    assert hold["strategy"] != result["strategy"] and len(hold["trades"]) == 1
    with pytest.raises(ValueError, match=r"backtest.strategy"):
        rltrade.backtest(config=CONFIG, data=DATA, strategy="momentum")
    with pytest.raises(ValueError, match="needs model=DIR"):
        rltrade.backtest(config=CONFIG, data=DATA, strategy="model")


def test_an_exported_policy_acts_as_its_card_says(trained_run):
    policy = rltrade.load_policy(trained_run)
    assert policy.obs_dim == policy.card["obs_dim"] == 259
    env = rltrade.TradingEnv(config=CONFIG, data=DATA, seed=1)
    obs, _ = env.reset(seed=1)
    probs = policy.probs(obs)
    assert probs.shape == (policy.n_actions,) and probs.sum() == pytest.approx(1.0, abs=1e-5)
    assert policy.act(obs) == int(np.argmax(probs))
    batch = np.stack([obs, obs])
    assert policy.act(batch).tolist() == [policy.act(obs)] * 2
    with pytest.raises(ValueError, match="takes 259"):
        policy.act(np.zeros(10, dtype=np.float32))
    result = rltrade.backtest(model=trained_run)
    assert result["strategy"] and len(result["equity"]) > 0


def test_a_missing_or_corrupt_export_is_refused_by_name(tmp_path, trained_run):
    with pytest.raises(ValueError, match="nowhere"):
        rltrade.load_policy(tmp_path / "nowhere")
    export = tmp_path / "export"
    export.mkdir()
    card = json.loads((trained_run / "export" / "model_card.json").read_text())
    card["obs_dim"] = 7
    (export / "model_card.json").write_text(json.dumps(card))
    (export / "policy.onnx").write_bytes((trained_run / "export" / "policy.onnx").read_bytes())
    with pytest.raises(ValueError, match="model_card.json"):
        rltrade.load_policy(export)


def test_a_runs_metrics_are_a_dataframe_and_bad_lines_are_named(trained_run, tmp_path):
    metrics = rltrade.read_run(trained_run)
    assert len(metrics) >= 1 and "update" in metrics.columns
    bad = tmp_path / "run"
    bad.mkdir()
    (bad / "metrics.jsonl").write_text('{"update": 1}\n{"update": \n')
    with pytest.raises(ValueError, match=r"metrics.jsonl: line 2"):
        rltrade.read_run(bad)
    with pytest.raises(OSError):
        rltrade.read_run(tmp_path / "none")


def test_a_comparison_gives_arms_verdicts_and_the_equity_curves(trained_run, tmp_path):
    result = rltrade.compare([trained_run], config=CONFIG, data=DATA, baselines=["buy-and-hold", "ma:50:200"],
                             resamples=200, out=tmp_path / "compare")
    names = [arm["name"] for arm in result["arms"]]
    assert len(names) == 3 and "buy-and-hold" in names and "ma:50:200" in names
    assert {d["baseline"] for d in result["differences"]} == {"buy-and-hold", "ma:50:200"}
    assert all(d["verdict"] for d in result["differences"])
    assert result["split"] == "test" and result["bars"] > 100
    assert isinstance(result["equity"], pd.DataFrame) and len(result["equity"]) > 100
    assert (tmp_path / "compare" / "report.md").is_file() and (tmp_path / "compare" / "compare.json").is_file()
    with pytest.raises(ValueError, match=r"baselines\[0\]"):
        rltrade.compare([trained_run], config=CONFIG, data=DATA, baselines=["ma:9:3"])
    with pytest.raises(ValueError, match="nowhere"):
        rltrade.compare([tmp_path / "nowhere"], config=CONFIG, data=DATA)
    for bad, field in [({"resamples": 0}, "resamples"), ({"resamples": 10**7}, "resamples"),
                       ({"fee_bps": -1.0}, "fee_bps"), ({"fee_levels": [float("nan")]}, "fee_levels"),
                       ({"block_len": 0.5}, "block_len")]:
        with pytest.raises(ValueError, match=f"config `{field}`"):
            rltrade.compare([trained_run], config=CONFIG, data=DATA, **bad)
