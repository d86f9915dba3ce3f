"""benchmarks/delayed_xor_budget.py end to end on a tiny budget: runs, success counts, the leak figure."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "delayed_xor_budget.py"


def _module():
    spec = importlib.util.spec_from_file_location("delayed_xor_budget", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_emulation_keeps_each_variant_valid():
    budget = _module()
    from ablations.config import compose, neuron_spec

    args = argparse.Namespace(runs="/unused", epochs=1, steps=1, override=[], emulate=True)
    for variant in budget.VARIANTS:
        spec = neuron_spec(compose(budget.overrides(variant, 0, args)))
        scale = 1.0 if variant == "complete_leak" else 100.0
        assert spec.threshold == scale


@pytest.mark.slow
def test_budget_script_counts_successes_and_draws_the_leak(tmp_path, capsys):
    budget = _module()
    assert budget.main(["--runs", str(tmp_path), "--variants", "vanilla", "complete_leak", "--seeds", "1",
                        "--epochs", "1", "--steps", "1", "--jobs", "2", "--nice", "0",
                        "dataset.delay_steps=10", "dataset.n_test=20", "train.eval_batch_size=20"]) == 0
    table = pd.read_csv(tmp_path / "delayed_xor_budget.csv")
    assert list(table["variant"]) == ["vanilla", "complete_leak"]
    assert list(table["seed 001 Table 6 %"]) == [77.5, 50.5]
    assert (table["steps"] == 1).all() and (table["ms/step"] > 0).all()
    assert table["escaped (acc > 0.7)"].str.fullmatch(r"[01]/1").all()
    assert table["solved (acc > 0.9, the claims' success)"].str.fullmatch(r"[01]/1").all()
    leaks = pd.read_csv(tmp_path / "learned_leak.csv")
    assert set(leaks["layer"]) == {"hidden", "readout"} and (tmp_path / "learned_leak.png").stat().st_size > 1000
