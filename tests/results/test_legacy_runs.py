"""Run directories written by version 0.1.0 (``tests/support/legacy_v0_1_0``: a ``digits`` run of the
default model and one of ``fc_mnist`` whose config names its builder by import path) still load,
evaluate to the numbers they recorded, and keep their directories."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from ablations import data, evaluation, results
from ablations.config import compose
from ablations.run import prepare

LEGACY = Path(__file__).resolve().parents[1] / "support" / "legacy_v0_1_0"
RUNS = {
    "digits/default/vanilla/dba80b5869-seed0": ["model=default"],
    "digits/fc_mnist/vanilla/43d364369d-seed0": ["model=fc_mnist"],
}
COMMON = ["model.layers=64-16-10", "train.epochs=1", "dataset.steps=4", "eval.suites=[clean]"]


@pytest.fixture()
def legacy_root(tmp_path) -> Path:
    root = tmp_path / "runs"
    shutil.copytree(LEGACY, root)
    return root


@pytest.mark.parametrize("relative", list(RUNS))
def test_a_legacy_run_loads_and_evaluates_to_its_recorded_numbers(legacy_root, relative, tmp_path):
    model, cfg = results.load_model(legacy_root / relative)
    bundle = data.build_dataset(cfg.dataset, tmp_path / "data")
    recorded = pd.read_parquet(legacy_root / relative / "eval" / "clean.parquet")
    again = evaluation.run_suite("clean", model, bundle, cfg)
    merged = recorded.merge(again, on=[c for c in recorded.columns if c != "value"], suffixes=("_then", "_now"))
    assert len(merged) == len(recorded) > 0
    # accuracy exactly; loss and SSE to float32 rounding (an integrator summed in another order counts as the same model)
    exact = merged["metric"] == "accuracy"
    assert (merged.loc[exact, "value_then"] == merged.loc[exact, "value_now"]).all()
    assert ((merged["value_then"] - merged["value_now"]).abs() <= 1e-6 * merged["value_then"].abs() + 1e-9).all()


def test_legacy_runs_appear_in_the_results_table(legacy_root):
    table = results.load_results(legacy_root)
    runs = table[table["kind"] == "run"]
    assert len(runs) == 2 and set(runs["status"]) == {"finished"}
    assert set(runs["model"]) == {"default", "fc_mnist"}
    assert (table["kind"] == "eval").sum() >= 2


@pytest.mark.parametrize("relative, overrides", list(RUNS.items()))
def test_the_same_command_still_addresses_the_legacy_run(legacy_root, relative, overrides, tmp_path):
    cfg = compose([*overrides, *COMMON, f"paths.runs={legacy_root}", f"paths.data={tmp_path / 'data'}"])
    assert results.run_dir_for(prepare(cfg).cfg) == legacy_root / relative
