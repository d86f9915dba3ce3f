"""Datasets: one registry, one factory, one module per source.

``build_dataset(dataset_cfg, data_root) -> DataBundle``. A bundle holds the train and test splits
(torch ``Dataset`` objects yielding ``(x, y)``), the encoder that turns a loaded batch into the
time-major network input ``[T, B, ...]``, the per-step input shape and the number of classes.

Kinds of data:

* ``static``: images ``[C, H, W]`` (``digits``; ``mnist``, ``cifar10``, ``svhn`` via torchvision),
  encoded by Poisson rate coding or direct coding into ``[T, B, C, H, W]``.
* ``event``: frames ``[T, C, H, W]`` binned from events (``nmnist``, ``dvs_gesture``, ``shd``,
  ``ssc`` via tonic; ``digits_events`` generated) and moved to time-major.
* ``temporal``: generated spike trains ``[T, N]`` (``delayed_xor``, ``delayed_xor_dhsnn``) moved to time-major.

Sources are registered by name as ``"module:function"`` and imported on first use
(:func:`ablations.registry.resolve_target`), so a missing optional dependency of one source never
breaks another. :class:`DataBundle` lives in :mod:`.bundle`, which the sources import.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from ..registry import Registry, resolve_target
from .bundle import DataBundle

__all__ = ["DataBundle", "SOURCES", "build_dataset", "register", "available", "source"]


# name -> the source function, or "module:function" imported on first use (so that a run on digits
# never imports tonic or torchvision's datasets); each takes (dataset_cfg, data_root: Path) -> DataBundle
SOURCES: Registry[str | Callable[..., "DataBundle"]] = Registry("dataset")
for _name, _target in {
    "digits": "ablations.data.embedded:digits",
    "delayed_xor": "ablations.data.generated:delayed_xor",
    "delayed_xor_dhsnn": "ablations.data.generated:delayed_xor",
    "mnist": "ablations.data.vision:mnist",
    "cifar10": "ablations.data.vision:cifar10",
    "svhn": "ablations.data.vision:svhn",
    "nmnist": "ablations.data.events:nmnist",
    "dvs_gesture": "ablations.data.events:dvs_gesture",
    "shd": "ablations.data.events:shd",
    "ssc": "ablations.data.events:ssc",
    "digits_events": "ablations.data.saccades:digits_events",
}.items():
    SOURCES.add(_name, _target)


def register(name: str, target: str | Callable[..., "DataBundle"], replace: bool = False) -> None:
    """Register a source under ``name``: a function ``(dataset_cfg, data_root) -> DataBundle`` or its
    ``"package.module:function"``; a plugin adds ``conf/dataset/<name>.yaml`` beside it."""
    SOURCES.add(name, target, replace=replace)


def available() -> list[str]:
    return sorted(SOURCES)


def source(name: str) -> Callable[..., DataBundle]:
    """The source function registered as ``name``; an unknown name is a UserError listing the valid ones."""
    return resolve_target(SOURCES.get(name))


def build_dataset(dataset_cfg: Any, data_root: str | Path = "datasets") -> DataBundle:
    """The data bundle for ``dataset_cfg`` (a mapping with at least ``name``)."""
    return source(str(dataset_cfg["name"]))(dataset_cfg, Path(data_root))
