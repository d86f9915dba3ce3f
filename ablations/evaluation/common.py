"""Helpers the evaluation suites share: parameters, test subsets, seeded encoding, tidy rows.

Every suite draws its random numbers from ``torch.Generator`` objects seeded from the suite's
``seed`` parameter and the batch index (:func:`batch_generator`), and evaluates a fixed subset of
the test split (:func:`test_loader`), so the same command gives the same numbers.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Iterable

import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.utils.data import DataLoader, Subset

from ..errors import UserError
from ..data.bundle import DataBundle, collate

__all__ = [
    "DEFAULTS_FILE", "suite_defaults", "params", "device_of", "subset_indices", "test_indices", "test_loader",
    "batch_generator", "tidy", "loss_name", "forward_records", "hidden_layers", "spiking_neurons",
]

DEFAULTS_FILE = Path(__file__).resolve().parent.parent / "conf" / "eval" / "default.yaml"


@functools.lru_cache(maxsize=1)
def _defaults_yaml() -> str:
    return DEFAULTS_FILE.read_text()


def suite_defaults(suite: str) -> DictConfig:
    """The documented defaults of ``cfg.eval.<suite>`` (from ``conf/eval/default.yaml``)."""
    node = OmegaConf.create(_defaults_yaml()).get(suite)
    if node is None:  # a suite registered from outside the package documents its own defaults
        from . import SUITES

        entry = SUITES[suite] if suite in SUITES else None
        node = OmegaConf.create(dict(entry.defaults or {})) if entry is not None else None
    return node if node is not None else OmegaConf.create({})


def params(cfg: Any, suite: str) -> DictConfig:
    """``cfg.eval.<suite>`` over the documented defaults; an unknown key is a UserError."""
    defaults = suite_defaults(suite)
    given = None
    if cfg is not None:
        eval_node = cfg.get("eval") if hasattr(cfg, "get") else None
        if eval_node is not None:
            given = eval_node.get(suite)
    if given is None:
        return defaults
    given = given if isinstance(given, DictConfig) else OmegaConf.create(given)
    unknown = sorted(set(given.keys()) - set(defaults.keys()))
    if unknown:
        raise UserError(f"eval.{suite} has no parameter(s) {unknown}; valid parameters: {sorted(defaults.keys())} "
                        f"(documented in ablations/conf/eval/default.yaml)")
    return OmegaConf.merge(defaults, given)


def device_of(model: nn.Module | None) -> torch.device:
    if model is None:
        return torch.device("cpu")
    for tensor in model.parameters():
        return tensor.device
    return torch.device("cpu")


def subset_indices(total: int, n_samples: int | None, seed: int) -> list[int]:
    """``n_samples`` of ``range(total)`` drawn by ``seed``, sorted (all of them if null or larger)."""
    if n_samples is None or int(n_samples) >= total:
        return list(range(total))
    if int(n_samples) < 1:
        raise UserError(f"n_samples={n_samples} must be >= 1 (or null for the whole split)")
    generator = torch.Generator().manual_seed(int(seed))
    return sorted(torch.randperm(total, generator=generator)[: int(n_samples)].tolist())


def test_indices(data: DataBundle, n_samples: int | None, seed: int) -> list[int]:
    """A fixed subset of the test split (see :func:`subset_indices`)."""
    return subset_indices(len(data.test), n_samples, seed)


def test_loader(data: DataBundle, n_samples: int | None, seed: int, batch_size: int,
                split: str = "test") -> DataLoader:
    """A loader over a fixed subset of ``split`` (``test`` or ``train``), in index order."""
    if split not in ("test", "train"):
        raise UserError(f"split={split!r} is not one of ['test', 'train']")
    dataset = data.test if split == "test" else data.train
    indices = subset_indices(len(dataset), n_samples, seed)
    return DataLoader(Subset(dataset, indices), batch_size=int(batch_size), shuffle=False, collate_fn=collate)


def batch_generator(seed: int, index: int, device: torch.device | str = "cpu") -> torch.Generator:
    """The generator of batch ``index``: the same numbers for every condition evaluated on that batch."""
    generator = torch.Generator(device=device)
    generator.manual_seed(int(seed) * 1_000_003 + int(index))
    return generator


def loss_name(cfg: Any) -> str:
    try:
        return str(cfg.train.loss)
    except Exception:  # noqa: BLE001 - a config without train.loss: the package default
        return "mse_onehot"


def spiking_neurons(model: nn.Module) -> dict[str, nn.Module]:
    """The neuron module of every spiking layer, by the name the suites give the layer: a
    :class:`ablations.network.SpikingLayer`'s neuron by its layer name (``layer1``, ``stage1.block1.conv1``),
    an ablated snnTorch neuron (:mod:`ablations.ablate`) by its module path in the user's model
    (``lif1``, ``2``), and a spiking readout as ``readout``."""
    from ..ablate import AblatedNeuron
    from ..network import SpikingLayer

    found: dict[str, nn.Module] = {}
    user = getattr(model, "user", None)  # a user's model the package wraps (ablations.models.imported)
    prefix = "user." if isinstance(user, nn.Module) else ""
    for path, module in model.named_modules():
        if isinstance(module, SpikingLayer):
            found[module.name] = module.neuron
        elif isinstance(module, AblatedNeuron):
            found[path[len(prefix):] if path.startswith(prefix) else path] = module
    spiking = getattr(getattr(model, "readout", None), "spiking", None)
    if isinstance(spiking, nn.Module):
        found["readout"] = spiking
    return found


@torch.inference_mode()
def forward_records(model: nn.Module, inputs: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """The output and the probe records (per-layer input, current, spikes, membrane) of one batch."""
    if not hasattr(model, "probes"):
        has_neurons = bool(spiking_neurons(model))
        raise UserError(
            f"this suite reads the spikes of each layer, which a {type(model).__name__} does not record"
            + (": it has snnTorch neurons but no declared call convention. Wrap it with "
               "ablations.models.imported.wrap(model, variant, call='sequence'|'step', returns=[spikes, membrane]) "
               "(model=import on the command line)" if has_neurons else
               "; it has no spiking neurons the package knows (snn.Leaky / snn.RLeaky ablated by ablations.ablate, "
               "or a network the package built)"))
    previous = model.probes
    model.probes = True
    try:
        output = model(inputs)
        records = model.records
    finally:
        model.probes = previous
        model.records = {}
    return output, records


def hidden_layers(records: dict) -> list[str]:
    return [name for name in records if name != "readout"]


def tidy(rows: Iterable[dict] | pd.DataFrame, suite: str) -> pd.DataFrame:
    """A tidy frame: ``suite``, ``metric``, ``value`` first, then the condition columns."""
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    if frame.empty:
        frame = pd.DataFrame(columns=["suite", "metric", "value"])
    frame = frame.copy()
    frame["suite"] = suite
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce").astype("float64")
    first = ["suite", "metric", "value"]
    return frame[first + [c for c in frame.columns if c not in first]].reset_index(drop=True)
