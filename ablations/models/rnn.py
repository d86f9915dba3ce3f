"""Non-spiking recurrent baselines: ``model=lstm``, ``model=gru``, ``model=rnn`` (seed 001 Table 7, Fig. 6).

PyTorch's own ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` (tanh) run over the same time-major frames the
spiking networks see (``[T, B, ...]``, each step flattened to a vector), with the same training
loop, losses and evaluation suites. The readout is a linear layer on the hidden state ``h[t]``:

* ``last``: logits from ``h[T]`` (seed 001 is silent on its baselines' readout; the usual one),
* ``mean``: the mean over t of ``W h[t] + b``; with ``readout_window: K`` over the last K steps
  only (the delayed XOR answer exists during pattern B alone).

The output is logits: train with ``train.loss=ce_mem`` (cross-entropy on the output) or
``mse_onehot``; ``ce_rate`` (which multiplies the output by T, for spike counts) is refused.
``model.layers`` uses the layer-string grammar for the sizes only: ``288-128-10`` = inputs 288
(checked against the data), one recurrent layer of 128 units, 10 classes; ``288-128-128-10`` = two
stacked layers. ``null`` takes ``dataset.layers``. The neuron variant does not apply to these models.
Suites that apply: clean, noise (where the data allows it), adversarial, generalization,
landscape; the spike-reading suites (activity, embedding, spectral) refuse them with a message.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .. import network
from .layered import model_layers

__all__ = ["RecurrentBaseline", "CELLS", "build_recurrent_baseline"]

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
READOUTS = ("last", "mean")


class RecurrentBaseline(nn.Module):
    """``cell`` layers over ``[T, B, ...]`` inputs, a linear readout; ``forward -> [B, classes]``."""

    def __init__(self, cell: str, input_size: int, hidden: list[int], n_classes: int, readout: str = "last",
                 readout_window: int | None = None, input_shape: tuple[int, ...] = ()):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"recurrent baseline {cell!r} is not one of {sorted(CELLS)}")
        if readout not in READOUTS:
            raise ValueError(f"model.readout={readout!r} is not one of {list(READOUTS)} for model={cell}")
        if readout_window is not None and (readout != "mean" or int(readout_window) < 1):
            raise ValueError(f"model.readout_window={readout_window} needs readout=mean and must be >= 1")
        if not hidden:
            raise ValueError(f"model={cell} needs at least one hidden size in model.layers, e.g. '288-128-10'")
        self.cell = cell
        self.recurrent = nn.ModuleList()
        size = input_size
        for width in hidden:
            self.recurrent.append(CELLS[cell](size, width))
            size = width
        self.head = nn.Linear(size, n_classes)
        self.readout = readout
        self.readout_window = None if readout_window is None else int(readout_window)
        self.input_shape = tuple(input_shape)
        self.probes = False
        self.spiking = False  # evaluation suites that read spikes refuse this model with a clear message
        self.records: dict[str, dict[str, torch.Tensor]] = {}

    @property
    def n_classes(self) -> int:
        return self.head.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 3:
            raise ValueError(f"network input must be time-major [T, B, ...], got shape {tuple(x.shape)}")
        hidden = x.flatten(2)
        for layer in self.recurrent:
            hidden, _ = layer(hidden)
        if self.probes:
            self.records = {"layer1": {"hidden": hidden.detach()}}
        if self.readout == "last":
            return self.head(hidden[-1])
        first = 0 if self.readout_window is None else max(hidden.shape[0] - self.readout_window, 0)
        return self.head(hidden[first:]).mean(0)


def build_recurrent_baseline(cfg: Any, spec, input_shape: tuple[int, ...]):
    """Builder ``recurrent_baseline`` (``model.builder: recurrent_baseline``); ``spec`` is not used."""
    model = cfg.model
    cell = str(model.cell)
    if str(cfg.train.loss) == "ce_rate":
        raise ValueError(f"model={cell} outputs logits, not spike counts: train.loss=ce_rate does not apply; "
                         "use train.loss=ce_mem (cross-entropy on the output) or mse_onehot")
    tokens = network.parse_layers(model_layers(cfg))
    if any(t.kind not in ("input", "fc", "output") for t in tokens):
        raise ValueError(f"model={cell}: model.layers={model_layers(cfg)!r} may hold sizes only, e.g. '288-128-10'")
    input_size = 1
    for dim in input_shape:
        input_size *= int(dim)
    if tokens[0].kind == "input":
        if int(tokens[0].size) != input_size:
            raise ValueError(f"model.layers declares {int(tokens[0].size)} inputs but the data has shape "
                             f"{tuple(input_shape)} ({input_size} values per time step)")
        tokens = tokens[1:]
    hidden = [int(t.size) for t in tokens[:-1]]
    window = model.get("readout_window")
    return RecurrentBaseline(cell, input_size, hidden, int(tokens[-1].size), str(model.readout),
                             None if window is None else int(window), tuple(input_shape))
