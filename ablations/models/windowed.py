"""Layer-string networks read out over the last ``model.readout_window`` steps (``fc_delayed_xor``).

The delayed XOR answer exists only while pattern B is shown, so seed 001's group reads the network
and computes the loss during that pattern alone (repository ``eva1801/DH-SNN``,
``delayed_xor/delayed_xor_snn.py`` lines 100-111: loss and accuracy only at steps inside the
second pattern). ``model.readout_window: K`` decodes the readout (``mem_mean``, ``mem_max`` or
``spike_count``) over the last K steps; the rest is :func:`ablations.models.layered.build`.
"""

from __future__ import annotations

from typing import Any

from .. import network
from ..config import model_layers
from .layered import with_dropout

__all__ = ["build"]


def build(cfg: Any, spec, input_shape: tuple[int, ...]):
    """Builder hook (``model.builder: ablations.models.windowed:build``)."""
    model = cfg.model
    window = model.get("readout_window")
    return network.build(
        with_dropout(model_layers(cfg), model.get("dropout")),
        variant=spec,
        input_shape=input_shape,
        readout=str(model.readout),
        readout_beta=model.get("readout_beta"),
        pool=str(model.get("pool", "avg")),
        batch_norm=bool(model.get("batch_norm", False)),
        bias=bool(model.get("bias", True)),
        readout_window=None if window is None else int(window),
    )
