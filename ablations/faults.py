"""Named kill points for the fault-injection tests (``tests/reliability``).

The package calls :func:`point` at the moments where a crash matters: start-up, each training
batch, the middle of every atomic write (temporary file half written, before the rename) and
just after its rename, a study's trial commit. Normally this is one dictionary lookup and
nothing happens. With the environment variable ::

    ABLATIONS_KILL_AT=<pattern>[@<n>]

the process sends itself SIGKILL at the ``n``-th (default first) point whose name matches the
shell-style ``pattern``, exactly as a ``kill -9``, an out-of-memory kill or a power cut would
end it: no ``finally`` blocks, no atexit handlers, no flushing. Point names:

=============================  ===============================================================
``run.start``                  run lock taken, nothing written yet
``run.running``                status ``running`` and config.yaml written, before training
``train.batch``                after each optimizer step (mid-epoch)
``write:<file>``               an atomic write of ``<file>`` (e.g. ``checkpoint.pt``,
                               ``noise.parquet``): half the bytes in the temporary file
``renamed:<file>``             the same write just after its rename (the next write not done)
``evaluate.start``             ``ablations.evaluate`` has checked its input, nothing written
``study.commit``               a study trial's run finished, its result not yet told to the study
=============================  ===============================================================

This module sits at the bottom of the package: it imports nothing from ``ablations``.
"""

from __future__ import annotations

import fnmatch
import os
import signal

__all__ = ["ENV", "point"]

ENV = "ABLATIONS_KILL_AT"

_SPEC = os.environ.get(ENV, "")
_PATTERN, _, _NTH = _SPEC.partition("@")
_TARGET = int(_NTH) if _NTH.isdigit() else 1
_hits = 0


def point(name: str) -> None:
    """A named moment; SIGKILL this process here when ``ABLATIONS_KILL_AT`` selects it."""
    global _hits
    if not _PATTERN or not fnmatch.fnmatchcase(name, _PATTERN):
        return
    _hits += 1
    if _hits == _TARGET:
        os.kill(os.getpid(), signal.SIGKILL)
