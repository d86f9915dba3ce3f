"""Datasets: one registry, one factory, one module per source.

``build(dataset_cfg, data_root) -> DataBundle``. A bundle holds the train and test splits (torch
``Dataset`` objects yielding ``(x, y)``), the encoder that turns a loaded batch into the
time-major network input ``[T, B, ...]``, the per-step input shape and the number of classes.

Kinds of data:

* ``static``: images ``[C, H, W]`` (``digits``; ``mnist``, ``cifar10``, ``svhn`` via torchvision),
  encoded by Poisson rate coding or direct coding into ``[T, B, C, H, W]``.
* ``event``: frames ``[T, C, H, W]`` binned from events (``nmnist``, ``dvs_gesture``, ``shd``,
  ``ssc`` via tonic; ``digits_events`` generated) and moved to time-major.
* ``temporal``: generated spike trains ``[T, N]`` (``delayed_xor``, ``delayed_xor_dhsnn``) moved to time-major.

Sources are registered by name as ``"module:function"`` and imported on first use, so a
missing optional dependency of one source never breaks another.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from torch.utils.data import Dataset

from ..registry import Registry
from .encoders import Encoder

__all__ = ["DataBundle", "SOURCES", "build", "register", "available"]


@dataclass
class DataBundle:
    name: str
    kind: str  # static | event | temporal
    train: Dataset
    test: Dataset
    encoder: Encoder
    input_shape: tuple[int, ...]  # one time step of one sample, as the network sees it
    n_classes: int
    steps: int
    meta: dict[str, Any] | None = None


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


def _resolve(name: str) -> Callable[..., DataBundle]:
    if name not in SOURCES:
        raise ValueError(f"unknown dataset {name!r}; valid datasets: {', '.join(available())}")
    target = SOURCES[name]
    if callable(target):
        return target
    module_name, function = target.split(":")
    return getattr(importlib.import_module(module_name), function)


def build(dataset_cfg: Any, data_root: str | Path = "datasets") -> DataBundle:
    """The data bundle for ``dataset_cfg`` (a mapping with at least ``name``)."""
    return _resolve(str(dataset_cfg["name"]))(dataset_cfg, Path(data_root))
