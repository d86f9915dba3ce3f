"""Corrupt or foreign files in a run: a clear message naming ``train.restart=true``, the restart
trains the run from scratch, and load_results leaves such records out and says which."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from ablations import results
from ablations.errors import UserError
from ablations.run import run

BASE = ["dataset.steps=2", "train.epochs=2", "train.max_batches=1", "progress=false", "device=cpu",
        "eval.suites=[]"]


@pytest.fixture
def fresh(tmp_path):
    args = [*BASE, f"paths.runs={tmp_path / 'runs'}"]
    return args, run(args)


def _unfinish(run_dir):
    status = json.loads((run_dir / "status.json").read_text())
    status["status"] = "running"
    (run_dir / "status.json").write_text(json.dumps(status))


def test_truncated_checkpoint_names_the_restart_and_the_restart_retrains(fresh):
    args, run_dir = fresh
    expected = results.read_metrics(run_dir).drop(columns=["epoch_time_s", "data_time_s"])
    _unfinish(run_dir)
    data = (run_dir / "checkpoint.pt").read_bytes()
    (run_dir / "checkpoint.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match=r"checkpoint .* cannot be read .*train\.restart=true"):
        run(args)
    assert (run_dir / "checkpoint.pt").read_bytes() == data[: len(data) // 2]  # nothing else touched
    assert not (run_dir / results.LOCK_FILE).exists()
    run([*args, "train.restart=true"])
    assert results.read_status(run_dir)["status"] == "finished"
    pd.testing.assert_frame_equal(results.read_metrics(run_dir).drop(columns=["epoch_time_s", "data_time_s"]),
                                  expected)  # from scratch: the same numbers as the first time


def test_status_not_json_names_the_restart(fresh):
    args, run_dir = fresh
    (run_dir / "status.json").write_text('{"status": "fin')
    with pytest.raises(UserError, match=r"status\.json is not readable JSON.*train\.restart=true"):
        run(args)
    run([*args, "train.restart=true"])
    assert results.read_status(run_dir)["status"] == "finished"


def test_config_that_no_longer_validates_is_left_out_of_evaluate_and_restartable(fresh):
    from ablations.evaluate import evaluate

    args, run_dir = fresh
    text = (run_dir / "config.yaml").read_text()
    (run_dir / "config.yaml").write_text(text.replace("leak: exponential", "leak: quadratic"))
    with pytest.raises(UserError, match="train.restart=true"):
        evaluate([f"run={run_dir}", "suite=activity"])
    with pytest.raises(UserError, match="train.restart=true"):
        results.load_model(run_dir)
    run([*args, "train.restart=true"])
    assert "leak: exponential" in (run_dir / "config.yaml").read_text()


def test_foreign_eval_table_is_skipped_and_reported(fresh):
    args, run_dir = fresh
    (run_dir / "eval").mkdir()
    pd.DataFrame({"foo": [1]}).to_parquet(run_dir / "eval" / "noise.parquet")
    seen = []
    table = results.load_results(run_dir.parents[3], on_skip=seen.extend)
    assert (table["kind"] == "run").sum() == 1 and "suite" not in table.columns
    assert len(seen) == 1 and "noise.parquet has no metric, value column" in seen[0]["reason"]
    assert "overwrite=true" in seen[0]["reason"]


@pytest.mark.slow
def test_corrupt_status_at_the_command_line_exits_2_without_traceback(fresh):
    args, run_dir = fresh
    (run_dir / "status.json").write_text("\x00\x01 not json")
    proc = subprocess.run([sys.executable, "-m", "ablations.run", *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "train.restart=true" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "ablations.run", *args, "train.restart=true"], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "restart: deleted" in proc.stdout
