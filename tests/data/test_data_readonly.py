"""Data as users have it: read-only data roots (frame cache elsewhere, `paths.cache`), subsets of
torchvision datasets (`dataset.verify=false`), and what `python -m ablations.data info` reports.

Tiny native-format files written here; the real subsets are exercised in test_realdata.py."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import torchvision

from ablations import data
from ablations.config import compose
from ablations.data import files
from ablations.data.__main__ import info_rows, main as data_main
from ablations.data.frames import cache_folder
from ablations.errors import UserError
from ablations.run import run

from native_formats import write_cifar10, write_mnist, write_nmnist, write_svhn

EVENTS = [(1, 2, 0, 1), (1, 2, 500, 1), (3, 4, 2500, 0), (33, 33, 9000, 0)]


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path below ``root`` (following links) with its kind, size, mtime and mode."""
    seen = {}
    for folder, dirs, names in os.walk(root, followlinks=True):
        for name in dirs + names:
            path = os.path.join(folder, name)
            info = os.stat(path)
            seen[os.path.relpath(path, root)] = (stat.S_IFMT(info.st_mode), info.st_size, info.st_mtime_ns,
                                                 info.st_mode)
    return seen


def make_read_only(root: Path) -> None:
    """``chmod a-w`` on the folders and files below ``root``; links and what they point to are left alone."""
    for folder, dirs, names in os.walk(root):
        for name in names:
            if not os.path.islink(os.path.join(folder, name)):
                os.chmod(os.path.join(folder, name), 0o444)
        os.chmod(folder, 0o555)


def make_writable(root: Path) -> None:
    for folder, dirs, names in os.walk(root):
        os.chmod(folder, 0o755)


@pytest.fixture
def read_only_nmnist(tmp_path):
    root = tmp_path / "shared-data"
    write_nmnist(root, {"Train": [(d, EVENTS) for d in range(4)], "Test": [(5, EVENTS[2:])]})
    make_read_only(root)
    yield root
    make_writable(root)


def test_event_dataset_runs_from_a_read_only_data_root_and_leaves_it_untouched(read_only_nmnist, tmp_path,
                                                                                monkeypatch):
    # chmod binds ordinary users; root passes every permission test, so the snapshot is what shows
    # that nothing below the data root was written, whoever runs this.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    before = snapshot(read_only_nmnist)
    assert not files.writable(read_only_nmnist / "nmnist")
    run_dir = run(["dataset=nmnist", "model=fc_nmnist", "dataset.frame.time_window_ms=1", "dataset.frame.duration_ms=10",
                   "train.epochs=1", "train.batch_size=2", "progress=false", "eval.suites=[]",
                   f"paths.data={read_only_nmnist}", f"paths.runs={tmp_path / 'runs'}"])
    assert (run_dir / "status.json").exists()
    assert snapshot(read_only_nmnist) == before
    cached = list((tmp_path / "user-cache" / "snn-ablations" / "nmnist" / "frames").glob("tw1ms-*/*/*.i32"))
    assert len(cached) == 5  # 4 train + 1 test samples, in the user cache folder


def test_paths_cache_places_the_frames_and_keeps_data_roots_apart(tmp_path):
    events_a, events_b = [(1, 1, 0, 1)], [(2, 2, 0, 0)]
    for root, events in (("a", events_a), ("b", events_b)):
        write_nmnist(tmp_path / root, {"Train": [(1, events)], "Test": [(1, events)]})
    frames = {}
    for root in ("a", "b"):
        cfg = compose(["dataset=nmnist", f"paths.data={tmp_path / root}", f"paths.cache={tmp_path / 'cache'}",
                       "dataset.frame.time_window_ms=1", "dataset.frame.duration_ms=2"])
        bundle = data.build_dataset(cfg.dataset, cfg.paths.data)
        frames[root] = bundle.train[0][0]
        assert Path(bundle.meta["frame_cache"]).parent == tmp_path / "cache" / "nmnist" / "frames"
        assert not (tmp_path / root / "nmnist" / "frames").exists()
    # the same file names under two data roots: two caches, each sample's own events
    assert frames["a"][0, 1, 1, 1] == 1 and frames["b"][0, 0, 2, 2] == 1
    assert len(list((tmp_path / "cache" / "nmnist" / "frames").iterdir())) == 2


def test_a_writable_data_root_keeps_its_frame_cache_inside(tmp_path):
    write_nmnist(tmp_path, {"Train": [(1, EVENTS)], "Test": [(1, EVENTS)]})
    cfg = compose(["dataset=nmnist", f"paths.data={tmp_path}"])
    assert cache_folder("nmnist", cfg.dataset, tmp_path) == (tmp_path / "nmnist" / "frames", False)


def test_torchvision_subset_is_rejected_with_both_ways_out_then_read_unverified(tmp_path):
    written = write_cifar10(tmp_path)  # not the official files: torchvision's md5 test fails
    with pytest.raises(UserError) as error:
        data.build_dataset(compose(["dataset=cifar10"]).dataset, tmp_path)
    message = str(error.value)
    assert "dataset.verify=false" in message and "python -m ablations.data download dataset=cifar10" in message
    with pytest.warns(UserWarning, match="without checksum test"):
        bundle = data.build_dataset(compose(["dataset=cifar10", "dataset.verify=false"]).dataset, tmp_path)
    assert isinstance(bundle.train, torchvision.datasets.CIFAR10)  # torchvision's own reader, md5 test skipped
    assert len(bundle.train) == 10 and len(bundle.test) == 3 and bundle.meta["verified"] is False
    image, label = bundle.test[0]
    assert image.shape == (3, 32, 32) and label == written["test"][1][0]


def test_svhn_subset_reads_unverified(tmp_path):
    write_svhn(tmp_path)
    with pytest.raises(UserError, match="dataset.verify=false"):
        data.build_dataset(compose(["dataset=svhn"]).dataset, tmp_path)
    with pytest.warns(UserWarning):
        bundle = data.build_dataset(compose(["dataset=svhn", "dataset.verify=no"]).dataset, tmp_path)
    assert (len(bundle.train), len(bundle.test)) == (5, 3)


def test_verify_takes_booleans_only(tmp_path):
    write_cifar10(tmp_path)
    with pytest.raises(UserError, match="dataset.verify"):
        data.build_dataset(compose(["dataset=cifar10", "dataset.verify=maybe"]).dataset, tmp_path)


def test_run_record_says_the_data_were_not_verified(tmp_path):
    write_cifar10(tmp_path / "data", per_batch=2, n_test=2)
    overrides = ["dataset=cifar10", "model.layers=3072-10", "dataset.steps=2", "train.epochs=1", "progress=false",
                 "eval.suites=[]", f"paths.data={tmp_path / 'data'}", f"paths.runs={tmp_path / 'runs'}"]
    with pytest.raises(UserError, match="verify=false"):
        run(overrides)
    assert not (tmp_path / "runs").exists()
    with pytest.warns(UserWarning):
        run_dir = run([*overrides, "dataset.verify=false"])
    assert "verify: false" in (run_dir / "config.yaml").read_text()


def test_info_opens_each_dataset_and_follows_symlinks(tmp_path, capsys):
    real = tmp_path / "elsewhere"
    write_mnist(real, n_train=6, n_test=4)
    write_cifar10(real)
    write_nmnist(real, {"Train": [(d, EVENTS) for d in range(3)], "Test": [(5, EVENTS)]})
    root = tmp_path / "root"
    (root / "nmnist").mkdir(parents=True)
    os.symlink(real / "mnist", root / "mnist")                    # a dataset folder that is a link
    os.symlink(real / "cifar10", root / "cifar10")
    os.symlink(real / "nmnist" / "NMNIST", root / "nmnist" / "NMNIST")  # a link inside the folder
    rows = {row["dataset"]: row for row in info_rows(root)}
    assert rows["mnist"]["status"] == "present (train 6, test 4)"
    assert rows["cifar10"]["status"] == "present, unverified (train 10, test 3)"
    assert rows["nmnist"]["status"] == "present (train 3, test 1)"
    assert rows["svhn"]["status"] == "missing"
    assert rows["mnist"]["size"] == files_size(real / "mnist") and rows["mnist"]["size"] != "-"
    assert rows["nmnist"]["size"] != "-"
    assert data_main(["info", f"paths.data={root}"]) == 0
    assert "dataset.verify=false" in capsys.readouterr().out


def test_info_reports_unreadable_files_and_goes_on(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "mnist" / "MNIST" / "raw" / "t10k-images-idx3-ubyte").write_bytes(b"\0\0\x08\x03garbage")
    rows = {row["dataset"]: row for row in info_rows(tmp_path)}
    assert rows["mnist"]["status"].startswith("unreadable")


def files_size(path: Path) -> str:
    from ablations.data.__main__ import human_size

    return human_size(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()))


def test_disk_size_counts_a_linked_file_once(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x").write_bytes(b"0" * 100)
    os.symlink(tmp_path / "a", tmp_path / "b")
    os.symlink(tmp_path / "a" / "x", tmp_path / "a" / "y")
    os.symlink(tmp_path, tmp_path / "a" / "loop")  # a cycle ends
    assert files.disk_size(tmp_path) == 100
