"""``python -m ablations.data``: fetch datasets and show what is on disk.

Examples::

    python -m ablations.data info                          # every dataset: present?, size, folder
    python -m ablations.data download dataset=cifar10      # torchvision / tonic download into datasets/cifar10/
    python -m ablations.data download dataset=nmnist paths.data=/scratch/data

Arguments after the verb are run-config overrides (Hydra grammar); ``dataset`` and ``paths.data``
are the ones that matter. Downloads go through the datasets' own torchvision / tonic code
(checksums included). ``download`` of a generated dataset (``digits_events``) generates it now.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..cli import entry
from ..errors import UserError, wants_debug
from ..config import compose

USAGE = """usage: python -m ablations.data {info,download} [overrides]
  info                          list every dataset, whether its files are present, their size and folder
  download dataset=NAME         fetch NAME into <paths.data>/NAME/ (default datasets/NAME/)
overrides: paths.data=DIR (data root), debug=true (tracebacks)"""


def _size(n_bytes: int) -> str:
    size = float(n_bytes)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"  # pragma: no cover


def info_rows(data_root: str | Path) -> list[dict[str, str]]:
    """One row per registered dataset: name, kind of source, status, size on disk, folder."""
    from . import available
    from .files import GENERATED, REMOTES, disk_size, folder, missing

    rows = []
    for name in available():
        base = folder(name, data_root)
        size = disk_size(base) if base.exists() else 0
        if name in REMOTES:
            absent = missing(name, data_root)
            status = "present" if not absent else ("missing" if len(absent) == len(REMOTES[name].files)
                                                   else f"incomplete ({len(absent)} of {len(REMOTES[name].files)} missing)")
            source = REMOTES[name].library
        else:
            status = "generated" if name in GENERATED else "?"
            source = GENERATED.get(name, "registered source")
        rows.append({"dataset": name, "status": status, "size": _size(size) if size else "-",
                     "folder": str(base) if name in REMOTES or size else "-", "source": source})
    return rows


def info(data_root: str | Path) -> str:
    rows = info_rows(data_root)
    columns = ["dataset", "status", "size", "folder", "source"]
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in columns) for r in rows]
    lines.append(f"\ndata root: {Path(data_root).resolve()}  (set paths.data=DIR to change it)")
    lines.append("fetch a missing one with: python -m ablations.data download dataset=NAME")
    return "\n".join(lines)


def download(cfg) -> Path:
    from . import available, build
    from .files import GENERATED, REMOTES, fetch

    name = str(cfg.dataset.name)
    data_root = Path(str(cfg.paths.data))
    if name in REMOTES:
        print(f"downloading {name} into {data_root / name}/ with {REMOTES[name].library} ...", flush=True)
        base = fetch(name, data_root)
        print(f"{name}: files present in {base}/", flush=True)
        return base
    if name in GENERATED:
        build(cfg.dataset, data_root)  # generates and caches what it generates (digits_events)
        print(f"{name}: {GENERATED[name]}; ready", flush=True)
        return data_root / name
    raise UserError(f"dataset {name!r} is not downloadable; datasets: {', '.join(available())}")


def _data(argv: list[str]) -> int:
    if not argv:
        print(USAGE)
        return 2
    verb, overrides = argv[0], argv[1:]
    if verb not in ("info", "download"):
        raise UserError(f"unknown command {verb!r}; commands: info, download\n{USAGE}")
    if verb == "download" and not any(o.split("=", 1)[0].lstrip("+~") == "dataset" for o in overrides):
        raise UserError("say which dataset to download: python -m ablations.data download dataset=NAME "
                        "(`python -m ablations.data info` lists them)")
    cfg = compose(overrides)
    if verb == "info":
        print(info(str(cfg.paths.data)))
        return 0
    try:
        download(cfg)
    except UserError:
        raise
    except Exception as error:  # a failed download (network, checksum) is the user's to retry, not a bug
        if wants_debug(overrides):
            raise
        print(f"error: {verb} failed: {type(error).__name__}: {error}\n(no internet access? run the same "
              "command again to resume, or copy the files into the folder `info` shows)", file=sys.stderr, flush=True)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    return entry(_data, argv, USAGE)


if __name__ == "__main__":
    sys.exit(main())
