"""Replayable records: the overrides a run records name its plugin files, its config search path
(``hydra.searchpath``) and its folders (``paths.*``) by absolute path, so that the same command
from any folder reproduces the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from .keys import parse

__all__ = ["replayable"]


def _absolute(path: str, cwd: Path) -> str:
    return str((cwd / Path(path).expanduser()).resolve()) if path else path


def _list_items(value: str) -> list[str] | None:
    text = value.strip()
    if not (text.startswith("[") and text.endswith("]")):
        return None
    return [item.strip().strip("'\"") for item in text[1:-1].split(",") if item.strip()]


def replayable(overrides: Iterable[str], cwd: str | Path | None = None) -> list[str]:
    """The overrides with every file they name made absolute (plugin ``.py`` files, ``file://``
    entries of ``hydra.searchpath``, ``paths.*`` folders), so that they replay from any folder."""
    cwd = Path.cwd() if cwd is None else Path(cwd)
    out = []
    for override in parse(overrides):
        head = override.text.partition("=")[0]
        value = override.value
        if value is None or "${" in value:
            out.append(override.text)
            continue
        if override.key == "plugins":
            items = _list_items(value)
            items = [value] if items is None else items
            items = [_absolute(i, cwd) if i.endswith(".py") else i for i in items]
            out.append(f"{head}=[{','.join(items)}]")
        elif override.key == "hydra.searchpath":
            items = _list_items(value) or [value]
            items = [f"file://{_absolute(i[len('file://'):], cwd)}" if i.startswith("file://") else i for i in items]
            out.append(f"{head}=[{','.join(items)}]")
        elif override.key.startswith("paths.") and value not in ("", "null"):
            out.append(f"{head}={_absolute(value, cwd)}")
        else:
            out.append(override.text)
    return out
