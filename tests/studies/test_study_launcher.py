"""Grids beyond one process without a study: Hydra's submitit launcher (local executor) runs a multirun."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ablations import results

pytestmark = pytest.mark.slow  # worker processes and launchers: end to end


@pytest.mark.slow
def test_multirun_through_the_submitit_local_launcher(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher",
                        reason="hydra-submitit-launcher is not installed (pip install hydra-submitit-launcher)")
    done = subprocess.run(
        [sys.executable, "-m", "ablations.run", "-m", "hydra/launcher=submitit_local",
         "hydra.launcher.timeout_min=10", "variant=vanilla,no_leak", "train.epochs=1", "dataset.steps=4",
         "train.max_batches=2", "progress=false", f"paths.runs={tmp_path / 'runs'}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    table = results.load_results(tmp_path / "runs", kinds=("run",))
    assert sorted(table["variant"]) == ["no_leak", "vanilla"]
    assert set(table["status"]) == {"finished"}
    logs = list((tmp_path / "runs" / ".sweeps").rglob("*_log.out"))
    assert len(logs) == 2  # each job ran as its own submitit job
