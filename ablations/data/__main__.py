"""``python -m ablations.data``: fetch datasets and show what is on disk.

Examples::

    python -m ablations.data info                          # every dataset: present? (samples per split), size, folder
    python -m ablations.data download dataset=cifar10      # torchvision / tonic download into datasets/cifar10/
    python -m ablations.data download dataset=nmnist paths.data=/scratch/data

Arguments after the verb are run-config overrides (Hydra grammar); ``dataset`` and ``paths.data``
are the ones that matter. Downloads go through the datasets' own torchvision / tonic code
(checksums included). ``download`` of a generated dataset (``digits_events``) generates it now.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

from ..cli import entry
from ..errors import UserError, wants_debug
from ..config import compose

USAGE = """usage: python -m ablations.data {info,download} [overrides]
  info                          list every dataset: opened with its reader (samples per split), size, folder
  download dataset=NAME         fetch NAME into <paths.data>/NAME/ (default datasets/NAME/)
overrides: paths.data=DIR (data root), debug=true (tracebacks)"""


def human_size(n_bytes: int) -> str:
    size = float(n_bytes)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"  # pragma: no cover


def _open_splits(name: str, base: Path, verify: bool) -> dict:
    """The train and test splits of ``name`` as the package's loaders read them (no frames, no
    transform): the torchvision / tonic classes of :mod:`ablations.data.vision` / ``events``."""
    if name in ("mnist", "cifar10", "svhn"):
        from .vision import open_split

        return {split: open_split(name, base, split == "train", verify) for split in ("train", "test")}
    from . import events

    reader = {"nmnist": events.NMNIST, "dvs_gesture": events.DVSGesture, "shd": events.SHD}[name]
    return {split: reader(str(base), train=split == "train") for split in ("train", "test")}


def probe(name: str, data_root: str | Path) -> str:
    """Status of a dataset whose files are present, from opening it with its real reader (counts
    per split and one sample): ``present (train N, test M)``, ``present, unverified (...)`` where
    the checksums of the official release do not match, or ``unreadable: why``."""
    from .files import folder

    base = folder(name, data_root)
    status = "present"
    try:
        try:
            splits = _open_splits(name, base, verify=True)
        except UserError:  # torchvision's checksum test failed: a subset, or a corrupted copy
            splits, status = _open_splits(name, base, verify=False), "present, unverified"
        for split in splits.values():
            if len(split):
                split[0]  # one sample, parsed the way training reads it
    except (UserError, OSError, RuntimeError, ValueError, KeyError, IndexError, EOFError, pickle.UnpicklingError) as error:
        # what a reader raises on bad files: `info` reports it and goes on (a bug still raises)
        return f"unreadable: {str(error).splitlines()[0][:120]}"
    return f"{status} ({', '.join(f'{split} {len(dataset)}' for split, dataset in splits.items())})"


def info_rows(data_root: str | Path) -> list[dict[str, str]]:
    """One row per registered dataset: name, kind of source, status, size on disk, folder.

    A dataset whose files are all there is opened with its real reader (:func:`probe`); sizes
    count the files symbolic links point to."""
    from . import available
    from .files import GENERATED, REMOTES, disk_size, folder, missing

    rows = []
    for name in available():
        base = folder(name, data_root)
        size = disk_size(base) if base.exists() else 0
        if name in REMOTES:
            absent = missing(name, data_root)
            status = probe(name, data_root) if not absent else (
                "missing" if len(absent) == len(REMOTES[name].files)
                else f"incomplete ({len(absent)} of {len(REMOTES[name].files)} missing)")
            source = REMOTES[name].library
        else:
            status = "generated" if name in GENERATED else "?"
            source = GENERATED.get(name, "registered source")
        rows.append({"dataset": name, "status": status, "size": human_size(size) if size else "-",
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
    if any("unverified" in r["status"] for r in rows):
        lines.append("unverified: the files do not match the checksums of the official release (a subset, or a "
                     "broken download); runs read a subset with dataset.verify=false")
    return "\n".join(lines)


def download(cfg) -> Path:
    from . import available, build_dataset
    from .files import GENERATED, REMOTES, fetch

    name = str(cfg.dataset.name)
    data_root = Path(str(cfg.paths.data))
    if name in REMOTES:
        print(f"downloading {name} into {data_root / name}/ with {REMOTES[name].library} ...", flush=True)
        base = fetch(name, data_root)
        print(f"{name}: files present in {base}/", flush=True)
        return base
    if name in GENERATED:
        build_dataset(cfg.dataset, data_root)  # generates and caches what it generates (digits_events)
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
