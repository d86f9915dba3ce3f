"""A full disk or a read-only folder: a clear message, exit code 2, the previous record intact.

With root rights (CI containers) the folder is a real 256 KiB tmpfs, filled up or remounted
read-only; otherwise a folder without write permission stands in for the read-only case.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ablations import results
from ablations.errors import USER_ERROR_EXIT, exit_code


def _mount(folder: Path, options: str) -> bool:
    if os.geteuid() != 0:
        return False
    folder.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                          capture_output=True).returncode == 0


@contextlib.contextmanager
def small_disk(folder: Path):
    if not _mount(folder, "size=256k"):
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def _good_record(run_dir: Path) -> dict:
    status = {"status": "finished", "final": {"accuracy": 0.9}, "config_hash": "abc"}
    results.write_status(run_dir, status)
    return status


def _fill(folder: Path) -> None:
    with contextlib.suppress(OSError), open(folder / "filler", "wb") as handle:
        while True:
            handle.write(b"\0" * 65536)
            handle.flush()


def test_full_disk_keeps_the_previous_record_and_says_so(tmp_path, capsys):
    with small_disk(tmp_path / "disk") as disk:
        run_dir = disk / "run"
        status = _good_record(run_dir)
        _fill(disk)
        big = "x" * 300_000
        code = exit_code(lambda: results.update_status(run_dir, status="running", note=big))
        assert code == USER_ERROR_EXIT
        err = capsys.readouterr().err
        assert err.startswith("error: cannot write") and "disk is full" in err and "unchanged" in err
        assert results.read_status(run_dir) == status  # the previous record, byte for byte in meaning
        assert not list(run_dir.glob(".*.tmp"))  # the failed temporary file is gone


def test_read_only_folder_keeps_the_previous_record_and_says_so(tmp_path, capsys):
    folder = tmp_path / "disk"
    mounted = _mount(folder, "size=256k")
    run_dir = folder / "run"
    status = _good_record(run_dir)
    if mounted:
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        phrase = "read-only"
    elif os.geteuid() != 0:
        run_dir.chmod(0o555)
        phrase = "permission denied"
    else:
        pytest.skip("root without mount: permissions do not stop root")
    try:
        code = exit_code(lambda: results.update_status(run_dir, status="running"))
        assert code == USER_ERROR_EXIT
        err = capsys.readouterr().err
        assert err.startswith("error: cannot write") and phrase in err
        assert results.read_status(run_dir) == status
        if mounted:  # the command line too: one message, exit 2, no traceback
            proc = subprocess.run([sys.executable, "-m", "ablations.run", f"paths.runs={folder / 'runs'}",
                                   "train.epochs=1", "train.max_batches=1", "progress=false"],
                                  capture_output=True, text=True, timeout=300)
            assert proc.returncode == USER_ERROR_EXIT, proc.stderr[-2000:]
            assert "Traceback" not in proc.stderr and "read-only" in proc.stderr
            assert json.loads((run_dir / "status.json").read_text()) == status
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)
        else:
            run_dir.chmod(0o755)
