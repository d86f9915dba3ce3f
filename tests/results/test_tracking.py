"""Trackers (logger=none|csv|tensorboard) mirror the run record; optuna-dashboard opens a study's storage."""

import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from ablations import results, studies, study
from ablations.errors import UserError
from ablations.run import run

TINY = ["dataset.steps=4", "train.epochs=2", "train.max_batches=3", "progress=false"]


def test_csv_logger_mirrors_metrics_and_config(tmp_path):
    path = run([*TINY, "logger=csv", f"paths.runs={tmp_path}"])
    logged = pd.read_csv(path / "logs" / "csv" / "metrics.csv")
    record = pd.read_csv(path / results.METRICS_FILE)
    assert logged.epoch.tolist() == [1, 2]
    pd.testing.assert_series_equal(logged.test_accuracy, record.test_accuracy)
    hparams = (path / "logs" / "csv" / "hparams.yaml").read_text()
    assert "neuron.variant: vanilla" in hparams and "dataset.steps: 4" in hparams


def test_logger_does_not_change_the_run_identity(tmp_path):
    plain = run([*TINY, f"paths.runs={tmp_path}"])
    logged = run([*TINY, "logger=csv", f"paths.runs={tmp_path}"])  # same run: finished, skipped
    assert plain == logged


def test_tensorboard_logger_writes_scalars_and_hparams(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    path = run([*TINY, "logger=tensorboard", f"paths.runs={tmp_path}"])
    events = EventAccumulator(str(path / "logs" / "tensorboard"))
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"train/loss", "train/accuracy", "test/accuracy", "test/sse", "lr"} <= scalars
    steps = [event.step for event in events.Scalars("test/accuracy")]
    assert steps == [1, 2]
    metrics = pd.read_csv(path / "metrics.csv")
    assert events.Scalars("test/accuracy")[-1].value == pytest.approx(metrics.test_accuracy.iloc[-1])
    plugin = events.PluginTagToContent("hparams")
    assert "_hparams_/session_start_info" in plugin  # the resolved config as hparams


def test_tensorboard_on_a_finished_run_writes_its_recorded_history(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    path = run([*TINY, f"paths.runs={tmp_path}"])
    assert not (path / "logs").exists()
    assert run([*TINY, "logger=tensorboard", f"paths.runs={tmp_path}"]) == path  # finished: not retrained
    assert "wrote its recorded history (2 epoch(s))" in capsys.readouterr().out
    events = EventAccumulator(str(path / "logs" / "tensorboard"))
    events.Reload()
    metrics = pd.read_csv(path / results.METRICS_FILE)
    assert [e.value for e in events.Scalars("test/accuracy")] == pytest.approx(metrics.test_accuracy.tolist())
    run([*TINY, "logger=tensorboard", f"paths.runs={tmp_path}"])
    assert "already holds this run's log; left as it is" in capsys.readouterr().out


def test_unknown_logger_is_a_user_error(tmp_path):
    from ablations import tracking

    with pytest.raises(UserError, match="not one of .*tensorboard"):
        tracking.start({"logger": "wandb"}, tmp_path)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_optuna_dashboard_serves_a_real_study(tmp_path):
    pytest.importorskip("optuna_dashboard")
    folder = tmp_path / "studies"
    folder.mkdir()
    (folder / "tiny.yaml").write_text(textwrap.dedent("""
        space:
          train.lr: {type: float, low: 0.001, high: 0.01, log: true}
        objectives: [{metric: accuracy, direction: maximize}]
        sampler: {name: random, seed: 0}
        pruner: {name: none}
        n_trials: 1
        """))
    argv = ["study=tiny", *TINY, f"paths.runs={tmp_path / 'runs'}", f"paths.studies={folder}",
            f"paths.figures={tmp_path / 'figures'}"]
    assert study.main(argv) == 0
    storage = studies.default_storage_url("tiny", folder)
    port = _free_port()
    dashboard = Path(sys.executable).with_name("optuna-dashboard")
    command = [str(dashboard)] if dashboard.exists() else [sys.executable, "-m", "optuna_dashboard"]
    server = subprocess.Popen(command + [storage, "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        body = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=5) as response:
                    body = response.read().decode()
            except OSError:
                assert server.poll() is None, server.stdout.read().decode()
                time.sleep(0.5)
        assert body is not None, "optuna-dashboard did not answer within 60 s"
        assert '"study_name": "tiny"' in body or '"study_name":"tiny"' in body
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/dashboard", timeout=5) as response:
            assert response.status == 200 and b"<html" in response.read().lower()
    finally:
        server.terminate()
        server.wait(timeout=10)
