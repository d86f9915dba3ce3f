"""End to end: real training runs, run records, resume after SIGKILL, the command line."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import OmegaConf

from ablations import results
from ablations.errors import UserError
from ablations.run import run

TINY = ["dataset.steps=4", "train.epochs=2", "progress=false"]


def cli(*args, cwd, timeout=180):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", "ablations.run", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_run_writes_a_complete_record(tmp_path, capsys):
    path = run([*TINY, f"paths.runs={tmp_path}", "variant=no_reset"])
    assert path.parent.name == "no_reset" and path.name.endswith("-seed0")
    status = results.read_status(path)
    assert status["status"] == "finished"
    assert 0.0 <= status["final"]["accuracy"] <= 1.0
    assert status["versions"]["torch"] and status["device"] == "cpu" and status["seed"] == 0
    cfg = OmegaConf.load(path / "config.yaml")
    assert cfg.neuron.variant == "no_reset" and cfg.neuron.tau == 10.0  # default made explicit
    metrics = pd.read_csv(path / "metrics.csv")
    assert metrics["epoch"].tolist() == [1, 2]
    assert metrics["lr"].tolist() == pytest.approx([0.005, 0.0025])  # the rate each epoch trained at (cosine over 2)
    assert {"train_loss", "test_accuracy", "train_sse", "test_sse", "data_time_s"} <= set(metrics.columns)
    assert (path / "checkpoint.pt").exists()
    assert not list(path.glob(".*.tmp"))  # no temporary files left behind

    mtime = (path / "status.json").stat().st_mtime_ns
    capsys.readouterr()
    assert run([*TINY, f"paths.runs={tmp_path}", "variant=no_reset"]) == path
    assert "already finished" in capsys.readouterr().out
    assert (path / "status.json").stat().st_mtime_ns == mtime

    model, loaded_cfg = results.load_model(path)
    assert loaded_cfg.neuron.variant == "no_reset" and model.n_classes == 10


def test_identity_ignores_seed_and_paths_but_not_neuron(tmp_path):
    a = run([*TINY, f"paths.runs={tmp_path}", "train.epochs=1"])
    b = run([*TINY, f"paths.runs={tmp_path}", "train.epochs=1", "seed=1"])
    c = run([*TINY, f"paths.runs={tmp_path}", "train.epochs=1", "neuron.tau=30"])
    assert a.name.split("-")[0] == b.name.split("-")[0] and a != b
    assert a.name.split("-")[0] != c.name.split("-")[0]
    table = results.load_results(tmp_path)
    runs = table[table.kind == "run"].sort_values("run_dir")
    assert len(runs) == 3 and runs["accuracy"].notna().all()
    assert sorted(runs["tau"].tolist()) == [10.0, 10.0, 30.0]
    epochs = table[table.kind == "epoch"]
    assert len(epochs) == 3 and epochs["test_accuracy"].notna().all()


def test_divergence_marks_the_run(tmp_path):
    path = run([*TINY, f"paths.runs={tmp_path}", "train.optimizer=sgd", "train.lr=1e38", "train.schedule=none"])
    status = results.read_status(path)
    assert status["status"] == "diverged" and "loss became" in status["error"]


def test_bad_values_raise_user_errors(tmp_path):
    for overrides, message in [
        (["neuron.tau=-1"], "must be > 0"),
        (["neuron.tau=30", "neuron.beta=0.5"], "both given"),
        (["train.epochs=0"], "train.epochs"),
        (["variant=no_leak", "neuron.tau=30"], "only apply"),
        (["model.layers=64-128FC-7"], "10 classes"),
        (["train.loss=hinge"], "train.loss"),
    ]:
        with pytest.raises(UserError, match=message):
            run([*TINY, f"paths.runs={tmp_path}", *overrides])
    assert not any(tmp_path.iterdir())  # nothing written


@pytest.mark.slow
def test_cli_rejects_bad_input_at_once(tmp_path):
    bad = cli("variant=does_not_exist", cwd=tmp_path)
    assert bad.returncode != 0
    assert "variant=does_not_exist: no such variant; the variant options are:" in bad.stderr + bad.stdout
    assert "no_reset" in bad.stderr + bad.stdout
    unknown = cli("not_a_key=1", cwd=tmp_path)
    assert unknown.returncode != 0 and "not_a_key" in unknown.stderr + unknown.stdout
    tau = cli("neuron.tau=-1", cwd=tmp_path)
    assert tau.returncode == 2 and "neuron.tau=-1.0 is not allowed" in tau.stderr
    assert "Traceback" not in tau.stderr
    both = cli("neuron.tau=30", "neuron.beta=0.9", cwd=tmp_path)
    assert both.returncode == 2 and "both given" in both.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no runs/, no outputs/


@pytest.mark.slow
def test_multirun_grid_leaves_no_litter(tmp_path):
    done = cli("-m", "variant=vanilla,complete_leak", "dataset.steps=4", "train.epochs=1", "progress=false",
               cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]
    table = results.load_results(tmp_path / "runs", kinds=("run",))
    assert sorted(table["variant"]) == ["complete_leak", "vanilla"]
    assert (table["status"] == "finished").all()


@pytest.mark.slow
def test_sigkill_mid_run_resumes_from_checkpoint(tmp_path):
    args = ["dataset.steps=8", "train.epochs=20", "train.max_batches=4", "progress=false",
            f"paths.runs={tmp_path / 'runs'}"]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "ablations.run", *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 120
    run_dir = None
    try:
        while time.time() < deadline:
            found = results.find_runs(tmp_path / "runs")
            if found:
                status = results.read_status(found[0]) or {}
                if status.get("epochs_done", 0) >= 3:
                    run_dir = found[0]
                    break
            time.sleep(0.02)
        assert run_dir is not None, "the run never reached epoch 3"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    killed = results.read_status(run_dir)
    assert killed["status"] == "running" and 3 <= killed["epochs_done"] < 20
    assert killed["wall_time_s"] > 0   # kept per epoch: the killed session's time is not lost
    resumed = cli(*args, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stdout and "from epoch" in resumed.stdout
    final = results.read_status(run_dir)
    assert final["status"] == "finished" and final["epochs_done"] == 20
    # both sessions counted: at least the training time of both (checkpointed), more than the first alone
    assert final["wall_time_s"] >= final["final"]["train_time_s"] and final["wall_time_s"] > killed["wall_time_s"]
    metrics = pd.read_csv(run_dir / "metrics.csv")
    assert metrics["epoch"].tolist() == list(range(1, 21))
    # the resumed run continues exactly as an uninterrupted one (same data order and Poisson draws)
    reference = run([a for a in args if not a.startswith("paths.runs")] + [f"paths.runs={tmp_path / 'ref'}"])
    expected = pd.read_csv(Path(reference) / "metrics.csv")
    assert metrics["test_accuracy"].tolist() == pytest.approx(expected["test_accuracy"].tolist())
    assert metrics["train_loss"].tolist() == pytest.approx(expected["train_loss"].tolist(), rel=1e-5)


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    args = [*TINY, f"paths.runs={tmp_path}", "train.epochs=1"]
    path = run(args)
    status = results.read_status(path)
    status["status"] = "running"  # as if killed after the checkpoint was written
    results.write_status(path, status)
    (path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="cannot be read.*train.restart=true"):
        run(args)
    assert results.read_status(path)["status"] == "failed"


def test_unknown_suite_fails_before_training(tmp_path):
    with pytest.raises(UserError, match="suite"):
        run([*TINY, f"paths.runs={tmp_path}", "eval.suites=[clean,no_such_suite]"])
    assert not any(tmp_path.iterdir())


def test_atomic_writes_keep_usual_permissions(tmp_path):
    path = results.atomic_write_text(tmp_path / "a" / "b.txt", "hello")
    assert path.read_text() == "hello"
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in path.parent.iterdir()] == ["b.txt"]


@pytest.mark.slow
def test_delayed_xor_needs_memory(tmp_path):
    """Seed 001's delayed XOR with the default config: no reset carries pattern A across the
    delay, complete leak (beta = 0) cannot and stays at chance (50 %)."""
    accuracy = {}
    for variant in ("no_reset", "complete_leak"):
        path = run(["dataset=delayed_xor", f"variant={variant}", "progress=false", f"paths.runs={tmp_path}"])
        accuracy[variant] = results.read_status(path)["final"]["accuracy"]
    assert abs(accuracy["complete_leak"] - 0.5) < 0.08, accuracy
    assert accuracy["no_reset"] > accuracy["complete_leak"] + 0.15, accuracy
