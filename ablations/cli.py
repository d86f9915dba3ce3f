"""The command-line plumbing every ``python -m ablations.<verb>`` entry point shares.

:func:`entry` runs a verb's work: ``-h``/``--help`` prints its usage, a :class:`UserError` becomes
one line on stderr and exit code 2 (a traceback only with ``debug=true``), anything else that
escapes is a bug and shows its traceback. :func:`parse` reads ``key=value`` arguments against the
keys a verb accepts (Hydra's grammar, where the verb is not itself a Hydra app): an unknown key or
a bare word is a UserError that lists the valid keys. Booleans accept true/false, 1/0, yes/no,
on/off (:func:`ablations.errors.parse_bool`) everywhere.
"""

from __future__ import annotations

import sys
from typing import Callable, Iterable, Mapping, Sequence

from .errors import UserError, exit_code, parse_bool, wants_debug

__all__ = ["entry", "parse", "parse_bool", "wants_help"]

HELP_WORDS = ("-h", "--help", "help")


def wants_help(argv: Iterable[str]) -> bool:
    return any(argument in HELP_WORDS for argument in argv)


def entry(work: Callable[[list[str]], object], argv: Sequence[str] | None, usage: str | Callable[[], str]) -> int:
    """Run ``work(argv)`` as a command: help, errors and exit codes handled the same for every verb."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if wants_help(arguments):
        print(usage() if callable(usage) else usage)
        return 0
    return exit_code(lambda: work(arguments), wants_debug(arguments))


def parse(argv: Iterable[str], keys: Mapping[str, str], defaults: Mapping[str, object] | None = None,
          passthrough: Callable[[str], bool] | None = None, example: str = "") -> tuple[dict, list[str]]:
    """``key=value`` arguments -> ``(options, rest)``.

    ``keys`` maps each accepted spelling to its option name (aliases allowed); ``passthrough(key)``
    says which other keys are handed back untouched in ``rest`` (e.g. run overrides); a leading
    ``+`` on a key is ignored. Anything else is a UserError naming the valid keys.
    """
    options: dict = dict(defaults or {})
    rest: list[str] = []
    valid = ", ".join(sorted(set(keys)))
    hint = f"\ne.g. {example}" if example else ""
    for argument in argv:
        if "=" not in argument:
            raise UserError(f"argument {argument!r} is not key=value; keys: {valid}{hint}")
        key, value = argument.split("=", 1)
        key = key.strip().lstrip("+")
        if key in keys:
            options[keys[key]] = value
        elif passthrough is not None and passthrough(key):
            rest.append(argument)
        else:
            raise UserError(f"unknown key {key!r}; keys: {valid}{hint}")
    return options, rest
