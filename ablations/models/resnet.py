r"""Spiking ResNet-18 for 32x32 images (seed 001 Table 4: CIFAR-10 on ResNet-18).

Seed 001 names the network but not its details; this is the CIFAR variant of ResNet-18 (He et al.
2016) with every ReLU replaced by a spiking neuron of the chosen variant:

* **Stem** (CIFAR style): one 3x3 convolution, 64 channels, stride 1, padding 1, + BN + neuron;
  no 7x7 convolution and no max-pool, so 32x32 inputs keep their resolution into stage 1.
* **Stages**: ``blocks = [2, 2, 2, 2]`` basic blocks of ``widths = [64, 128, 256, 512]`` channels,
  strides 1, 2, 2, 2 (feature maps 32, 16, 8, 4).
* **Basic block** (input spikes ``x``; ``N`` = neuron scanned over time; ``BN`` batch norm)::

      s1  = N( BN(conv3x3(x)) )
      out = N( BN(conv3x3(s1)) + shortcut(x) )      shortcut = x, or BN(conv1x1, stride 2)(x)
                                                     when the shape changes

  The residual is added to the second neuron's input current, so every block passes spikes on
  (the "spiking ResNet" form; no spike addition).
* **Normalisation**: ``BatchNorm2d`` on the time-folded tensor ``[T*B, C, H, W]``: one set of
  batch statistics and affine parameters shared by all time steps. Convolutions have no bias when
  BN follows them. ``model.batch_norm: false`` removes every BN (then convolutions get a bias).
* **Head**: global average pooling of the last block's spikes, optional dropout
  (``model.dropout``), a linear layer to the classes, and the configured readout (``model.readout``,
  :class:`ablations.network.Readout`).

Recurrent variants are defined for fully connected layers only and are rejected here. With
probes on (``net.probes = True``) every neuron records ``input``, ``current``, ``spikes`` and
``membrane`` in ``net.records`` under ``stem``, ``stage<i>.block<j>.conv1`` / ``.conv2``, and the
readout under ``readout``, as for layer-string networks.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import torch
from torch import nn

from .. import neurons
from ..network import Readout, SpikingLayer, SpikingNetwork, TimeDropout, _apply_ops

__all__ = ["ResidualSpikingLayer", "BasicBlock", "SpikingResNet", "resnet", "build_resnet"]


class ResidualSpikingLayer(SpikingLayer):
    """A spiking layer whose current is ``ops(x) + shortcut(residual)``."""

    def __init__(self, name: str, ops: Sequence[nn.Module], neuron: nn.Module, shortcut: Sequence[nn.Module]):
        super().__init__(name, ops, neuron)
        self.shortcut = nn.ModuleList(shortcut)

    def forward(self, x: torch.Tensor, record: dict | None = None, residual: torch.Tensor | None = None):
        current = _apply_ops(self.ops, x)
        residual = x if residual is None else residual
        current = current + (_apply_ops(self.shortcut, residual) if len(self.shortcut) else residual)
        spikes, membrane = neurons.run_sequence(self.neuron, current, record_membrane=record is not None)
        if record is not None:
            record[self.name] = {"input": x.detach(), "current": current.detach(), "spikes": spikes.detach(),
                                 "membrane": membrane.detach()}
        return spikes


def _conv(in_channels: int, out_channels: int, kernel: int, stride: int, batch_norm: bool) -> list[nn.Module]:
    ops: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2,
                                      bias=not batch_norm)]
    if batch_norm:
        ops.append(nn.BatchNorm2d(out_channels))
    return ops


class BasicBlock(nn.Module):
    """Two spiking 3x3 conv layers with a residual current into the second."""

    def __init__(self, name: str, in_channels: int, out_channels: int, stride: int, spec, batch_norm: bool):
        super().__init__()
        self.name = name
        self.conv1 = SpikingLayer(f"{name}.conv1", _conv(in_channels, out_channels, 3, stride, batch_norm),
                                  neurons.build(spec))
        shortcut = [] if stride == 1 and in_channels == out_channels else _conv(in_channels, out_channels, 1, stride,
                                                                                 batch_norm)
        self.conv2 = ResidualSpikingLayer(f"{name}.conv2", _conv(out_channels, out_channels, 3, 1, batch_norm),
                                          neurons.build(spec), shortcut)

    def forward(self, x: torch.Tensor, record: dict | None = None) -> torch.Tensor:
        return self.conv2(self.conv1(x, record), record, residual=x)


class SpikingResNet(SpikingNetwork):
    """Stem + basic blocks (in ``layers``) + readout; ``forward(x [T, B, C, H, W]) -> [B, classes]``."""


def resnet(spec, input_shape: Sequence[int], n_classes: int = 10, blocks: Sequence[int] = (2, 2, 2, 2),
           widths: Sequence[int] = (64, 128, 256, 512), readout: str = "mem_last",
           readout_beta: float | None = None, batch_norm: bool = True, bias: bool = True,
           dropout: float | None = None) -> SpikingResNet:
    """A spiking ResNet (``blocks=(2, 2, 2, 2)``: ResNet-18) for inputs ``[C, H, W]`` per step."""
    spec = neurons.spec_for(spec)
    if spec.recurrent:
        raise ValueError(f"variant {spec.variant!r} is recurrent, which this package defines for fully connected "
                         "layers only (seed 001 Eq. 4); the ResNet is convolutional. Use a non-recurrent variant")
    if len(tuple(input_shape)) != 3:
        raise ValueError(f"the ResNet needs image inputs [C, H, W], got {tuple(input_shape)}")
    if len(blocks) != len(widths) or not blocks or min(blocks) < 1 or min(widths) < 1:
        raise ValueError(f"model.blocks={list(blocks)} and model.widths={list(widths)} must be non-empty lists of "
                         "positive integers of the same length")
    if dropout is not None and not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"model.dropout={dropout} must lie in [0, 1), or be null")
    channels = int(input_shape[0])
    layers: list[nn.Module] = [SpikingLayer("stem", _conv(channels, int(widths[0]), 3, 1, batch_norm),
                                            neurons.build(spec))]
    in_channels = int(widths[0])
    for stage, (count, width) in enumerate(zip(blocks, widths), start=1):
        for index in range(int(count)):
            stride = 2 if stage > 1 and index == 0 else 1
            layers.append(BasicBlock(f"stage{stage}.block{index + 1}", in_channels, int(width), stride, spec,
                                     batch_norm))
            in_channels = int(width)
    head: list[nn.Module] = [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    if dropout:
        head.append(TimeDropout(float(dropout)))
    head.append(nn.Linear(in_channels, int(n_classes), bias=bias))
    if readout_beta is None:  # as network.build_network: the hidden neurons' beta, 1 where the leak has none
        readout_beta = spec.beta_value if spec.beta_value is not None else 1.0
    spiking = neurons.build(dataclasses.replace(spec, recurrent=False)) if readout == "spike_count" else None
    depth = 2 + 2 * sum(int(b) for b in blocks)
    return SpikingResNet(layers, Readout(head, readout, readout_beta, spiking), spec, f"resnet{depth}",
                         tuple(int(s) for s in input_shape))


def build_resnet(cfg: Any, spec, input_shape: tuple[int, ...]) -> SpikingResNet:
    """Builder ``resnet`` (``model.builder: resnet``); classes from the dataset's layer string."""
    model = cfg.model
    classes = model.get("n_classes") or _classes_of(cfg)
    return resnet(
        spec, input_shape, n_classes=int(classes),
        blocks=[int(b) for b in model.get("blocks", (2, 2, 2, 2))],
        widths=[int(w) for w in model.get("widths", (64, 128, 256, 512))],
        readout=str(model.readout), readout_beta=model.get("readout_beta"),
        batch_norm=bool(model.get("batch_norm", True)), bias=bool(model.get("bias", True)),
        dropout=model.get("dropout"),
    )


def _classes_of(cfg: Any) -> int:
    """The number of classes: the last token of the dataset's default layer string (``...-10``)."""
    layers = cfg.dataset.get("layers")
    tail = str(layers).split("-")[-1].strip() if layers else ""
    if not tail.isdigit():
        raise ValueError(f"set model.n_classes: dataset {cfg.dataset.name!r} names no default layer string "
                         "ending in its number of classes")
    return int(tail)
