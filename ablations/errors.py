"""Errors that speak to the user, and the one path from an error to an exit code.

Every entry point runs its work through :func:`exit_code`: a :class:`UserError` (bad input: an
unknown name, an impossible value, missing files) becomes one line on stderr and exit code 2; a
traceback is shown only when the command line asks for it (``debug=true``). This module sits at
the bottom of the package: it imports nothing from ``ablations``.
"""

from __future__ import annotations

import errno
import sys
import traceback
from typing import Callable, Iterable

__all__ = ["UserError", "USER_ERROR_EXIT", "exit_code", "wants_debug", "parse_bool", "disk_message"]

USER_ERROR_EXIT = 2

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


class UserError(Exception):
    """Bad input: the message says what was wrong, what is allowed and what to do."""


def parse_bool(value: object, key: str) -> bool:
    """``value`` as a bool: accepts booleans and the words true/false, 1/0, yes/no, on/off."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise UserError(f"{key}={value!r} is not a boolean; use {key}=true or {key}=false")


# a full, read-only or forbidden target: the machine's state, not a bug; one clear line, exit code 2
_DISK_ERRORS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT}


def disk_message(error: OSError) -> str:
    """One line for a write that the disk refused; atomic writes leave the previous file intact."""
    target = error.filename or "a file"
    what = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
            errno.EROFS: "the file system is read-only"}.get(error.errno, "permission denied")
    return (f"cannot write {target}: {what} ({error.strerror}). Records already there are unchanged (every "
            "write goes to a temporary file renamed into place). Free space or make the folder writable, or "
            "point paths.runs / out= at another folder, then run the command again.")


def wants_debug(argv: Iterable[str]) -> bool:
    """Whether a command line asks for tracebacks (``debug=true``, any spelling parse_bool accepts)."""
    for argument in argv:
        key, sep, value = argument.replace(" ", "").partition("=")
        if sep and key.lstrip("+~") == "debug" and value.lower() in _TRUE:
            return True
    return False


def exit_code(function: Callable[[], object], debug: bool = False) -> int:
    """Run an entry point's work: a :class:`UserError` becomes one line on stderr and exit code 2
    (with the traceback when ``debug``); otherwise the function's own code (None = 0)."""
    try:
        code = function()
    except UserError as error:
        if debug:
            traceback.print_exc()
        print(f"error: {error}", file=sys.stderr, flush=True)
        return USER_ERROR_EXIT
    except OSError as error:
        if error.errno not in _DISK_ERRORS:
            raise
        if debug:
            traceback.print_exc()
        print(f"error: {disk_message(error)}", file=sys.stderr, flush=True)
        return USER_ERROR_EXIT
    return int(code or 0) if isinstance(code, (int, type(None))) else 0
