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
mapping and its limits are in :mod:`ablations.nir_export`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

from .errors import UserError, exit_code, wants_debug

__all__ = ["export", "main", "FORMATS"]

FORMATS = ("nir",)
_KEYS = ("run", "format", "out", "debug")
_USAGE = "usage: python -m ablations.export run=PATH format=nir [out=FILE] [debug=true]"


def export(argv: Sequence[str]) -> Path:
    """Same as the command line; returns the written file."""
    options: dict[str, str] = {}
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep:
            raise UserError(f"argument {arg!r} is not key=value\n{_USAGE}")
        if key.strip() not in _KEYS:
            raise UserError(f"unknown argument {key!r}; valid: {', '.join(_KEYS)}\n{_USAGE}")
        options[key.strip()] = value
    if not options.get("run"):
        raise UserError(f"run= is required\n{_USAGE}")
    fmt = options.get("format", "nir")
    if fmt not in FORMATS:
        raise UserError(f"format={fmt!r} is not supported; formats: {', '.join(FORMATS)}")
    from .nir_export import export_run

    path = export_run(options["run"], options.get("out"))
    print(f"wrote {path}", flush=True)
    return path


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help", "help") for a in argv):
        print(__doc__)
        return
    code = exit_code(lambda: export(argv), wants_debug(argv))
    if code:
        sys.exit(code)


if __name__ == "__main__":
    main()
