"""`python -m ablations.data` (info, download), missing files at run time, and short end-to-end
runs on real loaders."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from ablations import data
from ablations.errors import UserError
from ablations.config import compose
from ablations.data import files
from ablations.data.__main__ import main as data_main
from ablations.run import run

from native_formats import write_cifar10, write_mnist, write_nmnist, write_shd

REPO = Path(__file__).resolve().parents[2]


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.mark.slow
def test_run_on_missing_dataset_fails_at_once_and_writes_nothing(tmp_path):
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "ablations.run", "dataset=cifar10"], cwd=tmp_path,
                            capture_output=True, text=True, env=_env(), timeout=120)
    elapsed = time.perf_counter() - started
    assert result.returncode == 2, result.stderr
    message = result.stderr
    assert "datasets/cifar10" in message and "cifar-10-batches-py/data_batch_1" in message
    assert "python -m ablations.data download dataset=cifar10" in message
    assert "Traceback" not in message
    assert list(tmp_path.iterdir()) == []  # no runs/, no datasets/, nothing
    assert elapsed < 60


def test_info_lists_every_dataset_with_status_size_and_folder(tmp_path, capsys):
    write_mnist(tmp_path)
    assert data_main(["info", f"paths.data={tmp_path}"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines()[1:] if line.strip() and not line.startswith(("data", "fetch"))}
    assert set(data.available()) <= set(rows)
    assert " present " in rows["mnist"] and str(tmp_path / "mnist") in rows["mnist"] and "kB" in rows["mnist"]
    assert " missing " in rows["cifar10"] and str(tmp_path / "cifar10") in rows["cifar10"]
    assert " generated " in rows["digits_events"]
    assert "python -m ablations.data download dataset=NAME" in out


def test_download_needs_a_dataset_and_rejects_unknown_ones(tmp_path, capsys):
    assert data_main(["download", f"paths.data={tmp_path}"]) == 2
    assert "dataset=NAME" in capsys.readouterr().err
    assert data_main(["download", "dataset=nope", f"paths.data={tmp_path}"]) == 2
    assert "digits_events" in capsys.readouterr().err  # Hydra lists the valid choices
    assert data_main(["fetch"]) == 2


@pytest.mark.slow
def test_download_goes_through_torchvision_download_code(tmp_path, monkeypatch, capsys):
    """CIFAR10(download=True) runs with its network call replaced by writing the extracted files."""
    import torchvision.datasets.cifar as cifar
    from torchvision.datasets.utils import check_integrity

    calls = []

    def fake_download_and_extract(url, download_root, filename=None, md5=None, **kwargs):
        calls.append((url, filename, md5))
        write_cifar10(Path(download_root).parent)

    monkeypatch.setattr(cifar, "download_and_extract_archive", fake_download_and_extract)
    monkeypatch.setattr(cifar, "check_integrity", lambda fpath, md5=None: check_integrity(fpath, None))
    assert data_main(["download", "dataset=cifar10", f"paths.data={tmp_path}"]) == 0
    assert calls == [(cifar.CIFAR10.url, cifar.CIFAR10.filename, cifar.CIFAR10.tgz_md5)]
    assert files.missing("cifar10", tmp_path) == []
    assert len(data.build_dataset(compose(["dataset=cifar10"]).dataset, tmp_path).train) == 10


def test_download_goes_through_tonic_download_code(tmp_path, monkeypatch):
    """tonic.datasets.SHD downloads (archive + extraction) when its files are absent."""
    import tonic.dataset

    urls = []

    def fake_download_and_extract(url, download_root, filename=None, md5=None, **kwargs):
        urls.append(url)
        Path(download_root).mkdir(parents=True, exist_ok=True)
        Path(download_root, filename).write_bytes(b"zip")  # tonic's check wants the archive next to the .h5
        split = "train" if "train" in filename else "test"
        write_shd(Path(download_root).parents[1], {split: [(1, [0.0], [3])]})

    monkeypatch.setattr(tonic.dataset, "download_and_extract_archive", fake_download_and_extract)
    files.fetch("shd", tmp_path)
    assert urls == ["https://zenkelab.org/datasets/shd_train.h5.zip", "https://zenkelab.org/datasets/shd_test.h5.zip"]
    assert files.missing("shd", tmp_path) == []


def test_fetch_that_leaves_files_missing_is_reported(tmp_path, monkeypatch):
    import ablations.data.vision as vision

    monkeypatch.setattr(vision, "fetch_mnist", lambda folder: None)
    with pytest.raises(UserError, match="still lacks"):
        files.fetch("mnist", tmp_path)
    with pytest.raises(UserError, match="nothing to download"):
        files.fetch("digits", tmp_path)


def _metrics(run_dir: Path) -> pd.DataFrame:
    return pd.read_csv(run_dir / "metrics.csv")


def test_end_to_end_run_on_tiny_nmnist_files(tmp_path):
    events = [(1, 2, 0, 1), (5, 5, 700, 0), (20, 30, 1500, 1), (33, 0, 2900, 1)]
    write_nmnist(tmp_path / "data", {"Train": [(d, events) for d in range(10)], "Test": [(3, events), (4, events)]})
    run_dir = run(["dataset=nmnist", "model=fc_nmnist", "dataset.frame.time_window_ms=1",
                   "dataset.frame.duration_ms=4", "train.epochs=2", "train.batch_size=4", "progress=false",
                   f"paths.data={tmp_path / 'data'}", f"paths.runs={tmp_path / 'runs'}"])
    metrics = _metrics(run_dir)
    assert len(metrics) == 2 and "data_time_s" in metrics and metrics["test_accuracy"].notna().all()
    frames = tmp_path / "data" / "nmnist" / "frames"
    assert len(list(frames.glob("tw1ms-*/train/*.i32"))) == 10 and len(list(frames.glob("tw1ms-*/test/*.i32"))) == 2
    assert "steps: 4" in (run_dir / "config.yaml").read_text()  # the derived T is recorded


@pytest.mark.slow
def test_end_to_end_run_on_digits_events(tmp_path):
    run_dir = run(["dataset=digits_events", "train.epochs=2", "train.max_batches=2", "progress=false",
                   f"paths.data={tmp_path / 'data'}", f"paths.runs={tmp_path / 'runs'}"])
    metrics = _metrics(run_dir)
    assert len(metrics) == 2 and (metrics["data_time_s"] > 0).all()
    assert 0.0 <= metrics["test_accuracy"].iloc[-1] <= 1.0
