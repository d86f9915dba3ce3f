"""Atomic file writes: a temporary file in the same folder, flushed and fsynced, then renamed over
the target. A crash (or a full disk) at any point leaves either the previous file or the new one,
never a half-written file. Records get the usual permissions of the user's umask.

This module sits at the bottom of the package: it imports only :mod:`ablations.faults` (the
named kill points of the fault-injection tests, a no-op otherwise).
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

from . import faults

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_save_torch", "atomic_write_parquet"]


def _file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _file_mode()


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the writer's pid in the name: a temporary file of a killed writer can be told from a live one's
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, _FILE_MODE)  # mkstemp makes 0600; records get the usual permissions
        with os.fdopen(fd, "wb") as handle:
            handle.write(data[: len(data) // 2])
            handle.flush()
            faults.point(f"write:{path.name}")  # fault-injection tests: killed with half the bytes written
            handle.write(data[len(data) // 2:])
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        faults.point(f"renamed:{path.name}")
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_save_torch(path: str | Path, obj: Any) -> Path:
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return atomic_write_bytes(path, buffer.getvalue())


def atomic_write_parquet(path: str | Path, frame: Any) -> Path:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return atomic_write_bytes(path, buffer.getvalue())
