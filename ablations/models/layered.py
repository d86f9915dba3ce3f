"""Layer-string networks with dropout as a switch (builder of ``vgg9``, ``vgg6``, ``fc_*``).

``model.dropout: p`` (null or 0 = off) inserts the layer-string token ``pD`` after every hidden
weighted layer (conv ``64C3``, fully connected ``1024FC`` or a bare width in the middle of the
string), after the pooling that follows it if any, and before the next weighted layer or the
readout. Seed 003's CIFAR-10 net with ``dropout: 0.2`` becomes::

    64C3-0.2D-64C3-2P-0.2D-128C3-0.2D-128C3-2P-0.2D-256C3-0.2D-256C3-0.2D-256C3-2P-0.2D-1024FC-0.2D-10

``model.dropout_position: before_pool`` puts the token right after the weighted layer instead,
in front of its pooling: ref [21] (chan8972/Enabling_Spikebased_Backpropagation,
``src/cifar10_VGG9.py`` lines 540 and 549) multiplies each conv layer's spikes by its dropout
mask and then pools them::

    64C3-0.2D-64C3-0.2D-2P-128C3-0.2D-128C3-0.2D-2P-256C3-0.2D-256C3-0.2D-256C3-0.2D-2P-1024FC-0.2D-10

(the same string where no pooling follows a layer). A dropout token already in ``model.layers``
is kept and gets no second one. Dropout draws one
mask per sample, shared by all time steps (:class:`ablations.network.TimeDropout`), acting on the
spikes of the layer before. The string is then built by :func:`ablations.network.build_network`.
"""

from __future__ import annotations

import re
from typing import Any

from .. import network
from ..errors import UserError

__all__ = ["with_dropout", "model_layers", "build_layered_network", "DROPOUT_POSITIONS"]

_WEIGHTED = re.compile(r"^(\d+C\d+|\d+FC|\d+)$")
_LAYER = re.compile(r"^(\d+C\d+|\d+FC)$")
_POOL = re.compile(r"^\d+P$")
_DROPOUT = re.compile(r"^(0?\.\d+|0|1)D$")


DROPOUT_POSITIONS = ("after_pool", "before_pool")


def with_dropout(layers: str, p: float | None, position: str = "after_pool") -> str:
    """``layers`` with a ``pD`` token after each hidden weighted layer (see the module docstring)."""
    if position not in DROPOUT_POSITIONS:
        raise ValueError(f"model.dropout_position={position!r} is not one of {list(DROPOUT_POSITIONS)}")
    if p is None or float(p) == 0.0:
        return layers
    p = float(p)
    if not 0.0 < p < 1.0:
        raise ValueError(f"model.dropout={p} must lie in (0, 1), or be null / 0 for no dropout")
    tokens = [t.strip() for t in layers.split("-") if t.strip()]
    token = f"{p:g}D" if p >= 0.001 else f"{p:f}D"
    if not _DROPOUT.match(token):
        raise ValueError(f"model.dropout={p} cannot be written as a layer token")
    result = list(tokens)
    for index in range(len(tokens) - 2, -1, -1):  # right to left, so insertions keep the indices valid
        hidden = _LAYER.match(tokens[index]) if index == 0 else _WEIGHTED.match(tokens[index])
        if not hidden:  # a bare number first is the input size, not a layer
            continue
        insert = index + 1
        while position == "after_pool" and insert < len(tokens) - 1 and _POOL.match(tokens[insert]):
            insert += 1
        if not _DROPOUT.match(tokens[insert]):
            result.insert(insert, token)
    return "-".join(result)


def model_layers(cfg: Any) -> str:
    """The layer string: ``model.layers``, or the dataset's own (``dataset.layers``) when it is null."""
    layers = cfg.model.get("layers") or cfg.dataset.get("layers")
    if not layers:
        raise UserError(f"model {cfg.model.name!r} has no layers and dataset {cfg.dataset.name!r} no default; "
                        "set model.layers='...' (e.g. '64-128FC-10')")
    return str(layers)


def build_layered_network(cfg: Any, spec, input_shape: tuple[int, ...]):
    """Builder ``layered`` (``model.builder: layered``)."""
    model = cfg.model
    layers = with_dropout(model_layers(cfg), model.get("dropout"), str(model.get("dropout_position", "after_pool")))
    return network.build_network(
        layers,
        variant=spec,
        input_shape=input_shape,
        readout=str(model.readout),
        readout_beta=model.get("readout_beta"),
        pool=str(model.get("pool", "avg")),
        batch_norm=bool(model.get("batch_norm", False)),
        bias=bool(model.get("bias", True)),
        init=str(model.get("init", "default")),
        pool_threshold=float(model.get("pool_threshold", 0.75)),
        readout_window=None if model.get("readout_window") is None else int(model.readout_window),
    )
