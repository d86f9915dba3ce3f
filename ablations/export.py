"""``python -m ablations.export run=PATH format=nir``: a trained network as a NIR graph.

Arguments are ``key=value``:

==========  ==========================================================================
``run``     a finished run directory (``runs/<dataset>/<model>/<variant>/<hash>-seed<k>``)
``format``  ``nir`` (the only format so far)
``out``     the file to write (default ``<run>/export/model.nir``)
``debug``   ``true`` shows tracebacks for input errors too
==========  ==========================================================================

Variants NIR can express export (vanilla, no_leak as ``nir.IF``, complete_leak, recurrent and
no_leak_recurrent, all with reset zero); the others exit with code 2 and say what NIR lacks. The
mapping and its limits are in :mod:`ablations.interop.nir`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

from .cli import entry, parse as parse_arguments
from .errors import UserError

__all__ = ["export", "main", "FORMATS"]

FORMATS = ("nir",)
_KEYS = ("run", "format", "out", "debug")
_USAGE = "usage: python -m ablations.export run=PATH format=nir [out=FILE] [debug=true]"


def export(argv: Sequence[str]) -> Path:
    """Same as the command line; returns the written file."""
    options, _ = parse_arguments(argv, {key: key for key in _KEYS}, example=_USAGE.removeprefix("usage: "))
    if not options.get("run"):
        raise UserError(f"run= is required\n{_USAGE}")
    fmt = options.get("format", "nir")
    if fmt not in FORMATS:
        raise UserError(f"format={fmt!r} is not supported; formats: {', '.join(FORMATS)}")
    from .interop.nir import export_run

    path = export_run(options["run"], options.get("out"))
    print(f"wrote {path}", flush=True)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    return entry(export, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
