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


# --- progress: bars on a terminal only, plain lines in a log ---

from ablations import evaluation, tracking  # noqa: E402


def test_progress_in_a_log_is_plain_lines(capsys):
    """Under pytest the streams are not terminals: no bar, a line per interval with what is done and left."""
    with tracking.Progress("eval noise", total=4, unit="batch", every_s=0) as progress:
        for _ in range(4):
            progress.update(1, acc="0.900")
    out, err = capsys.readouterr()
    assert progress.bar is None and "\r" not in out + err and err == ""
    lines = out.splitlines()
    assert lines[0].startswith("  eval noise: 1/4 batches (25 %), 0 s; about 0 s left, acc 0.900")
    assert lines[-1].startswith("  eval noise: 4/4 batches (100 %)") and "left" not in lines[-1]
    with tracking.Progress("quiet", total=4, enabled=False, every_s=0) as progress:
        progress.update(4)
    assert capsys.readouterr() == ("", "")


def test_heartbeat_reports_work_of_unknown_length(capsys):
    with tracking.Heartbeat("eval landscape", every_s=0.01) as beat:
        beat.tick(3)
        time.sleep(0.1)
    out = capsys.readouterr().out
    assert "  eval landscape: still running, 0 s (3 forward passes so far)" in out.splitlines()


def test_a_run_logged_to_a_file_has_lines_not_bars(tmp_path, capsys):
    """progress=true (the default) in a non-interactive log: per-epoch lines, no bar frozen at 0/N."""
    run(["dataset.steps=4", "train.epochs=2", "train.max_batches=3", f"paths.runs={tmp_path}"])
    out, err = capsys.readouterr()
    assert "\r" not in out + err and "0/3" not in err and "it/s" not in err
    assert "  epoch 1/2: train loss" in out and "  epoch 2/2: train loss" in out
    assert "(timed on 3 batch(es) after 1 warm-up batch(es); test passes not counted)" in out


def test_every_evaluation_suite_reports_progress(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(tracking, "LINE_EVERY_S", 0.0)
    path = run(["dataset.steps=4", "train.epochs=1", "train.max_batches=2", f"paths.runs={tmp_path}", "progress=false"])
    capsys.readouterr()
    model, cfg = results.load_model(path)
    cfg.progress = True
    cfg.eval = {"noise": {"n_samples": 40, "batch_size": 20, "severities": [0, 4]},
                "activity": {"n_samples": 40, "batch_size": 20},
                "adversarial": {"n_samples": 20, "batch_size": 20, "attacks": ["fgsm", "random_control"],
                                "epsilons": [0.0, 0.1], "eot_samples": 1}}
    monkeypatch.setattr(tracking, "LINE_EVERY_S", 0.001)
    evaluation.run_suites(path, ["noise", "activity", "adversarial"], cfg, model=model)
    out = capsys.readouterr().out
    assert "  eval noise: 1/2 batches (50 %)" in out  # a suite with its own count
    assert "  eval adversarial: 1/4 attacks (25 %)" in out and "epsilon 0, attack fgsm" in out
    assert "  eval activity: still running" in out    # any other suite: a heartbeat with its forward passes


def test_a_small_test_set_is_named_with_its_binomial_step(tmp_path, capsys):
    """90 test samples: accuracies in steps of 1.11 pp, said at the end of the run and after a suite."""
    path = run(["dataset.steps=4", "dataset.test_fraction=0.05", "train.epochs=1", "train.max_batches=2",
                f"paths.runs={tmp_path}", "progress=false"])
    out = capsys.readouterr().out
    assert "  note: the test set has 90 sample(s): an accuracy moves in steps of 1/90 = 1.11 percentage points" in out
    assert "95 % interval of" in out
    model, cfg = results.load_model(path)
    cfg.eval = {"clean": {"n_samples": 20}}
    evaluation.run_suites(path, ["clean"], cfg, model=model)
    assert "note: the clean suite's test subset has 20 sample(s): an accuracy moves in steps of 1/20 = 5 " in \
        capsys.readouterr().out
    assert tracking.small_sample_note(tracking.SMALL_SAMPLE) is None  # 1 pp or finer: nothing to say
