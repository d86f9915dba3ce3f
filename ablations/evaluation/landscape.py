r"""``landscape`` suite: 2-D loss surface around the trained weights (seed 001 Fig. 6).

Following Li et al. 2018 ("Visualizing the loss landscape of neural nets"), two random
directions ``d1``, ``d2`` are drawn (standard normal, seeded) with the shape of the weights
and filter-normalised: for every weight tensor with two or more dimensions, each filter (an
output channel of a conv, a row of a linear or recurrent matrix) of the direction is rescaled
to the norm of the same filter of the trained weights; biases, batch-norm parameters and other
one-dimensional parameters get a zero direction. The suite evaluates

    L(x, y) = loss(theta + x d1 + y d2)       x, y in linspace(-span, span, grid_size)

on a fixed subset of ``n_samples`` test samples with the same encoder draws at every grid point
(so the surface is smooth in ``x``, ``y`` rather than re-sampled), and restores the weights.

Rows: ``loss`` (the run's ``train.loss``) and ``accuracy`` per (``x``, ``y``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..errors import UserError
from ..data.bundle import DataBundle
from ..training import loss_function
from .common import batch_generator, device_of, loss_name, params, test_loader, tidy

__all__ = ["landscape", "filter_normalised_direction"]


def filter_normalised_direction(model: nn.Module, generator: torch.Generator) -> list[torch.Tensor]:
    """A random direction per parameter, filter-normalised (Li et al. 2018); zero for 1-D parameters."""
    direction = []
    for parameter in model.parameters():
        if parameter.dim() <= 1:
            direction.append(torch.zeros_like(parameter))
            continue
        d = torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype).to(parameter.device)
        d_flat, w_flat = d.reshape(d.shape[0], -1), parameter.detach().reshape(parameter.shape[0], -1)
        scale = w_flat.norm(dim=1, keepdim=True) / d_flat.norm(dim=1, keepdim=True).clamp_min(1e-12)
        direction.append((d_flat * scale).reshape(parameter.shape))
    return direction


@torch.no_grad()
def landscape(model: nn.Module, data: DataBundle, cfg: Any) -> pd.DataFrame:
    p = params(cfg, "landscape")
    size, span = int(p.grid_size), float(p.span)
    if size < 2:
        raise UserError(f"eval.landscape.grid_size={size} must be >= 2")
    if not span > 0:
        raise UserError(f"eval.landscape.span={span} must be > 0")
    device = device_of(model)
    generator = torch.Generator().manual_seed(int(p.seed))
    first = filter_normalised_direction(model, generator)
    second = filter_normalised_direction(model, generator)
    loss_fn = loss_function(loss_name(cfg))
    loader = test_loader(data, p.n_samples, int(p.seed), int(p.batch_size))
    batches = []
    for index, (x, y) in enumerate(loader):  # encode once: the same inputs at every grid point
        x, y = x.to(device), y.to(device)
        batches.append((data.encoder(x, generator=batch_generator(int(p.seed), index, device)), y))
    original = [parameter.detach().clone() for parameter in model.parameters()]
    coordinates = np.linspace(-span, span, size)
    rows = []
    try:
        for a in coordinates:
            for b in coordinates:
                for parameter, theta, d1, d2 in zip(model.parameters(), original, first, second):
                    parameter.copy_(theta + float(a) * d1 + float(b) * d2)
                total, correct, loss_sum = 0, 0, 0.0
                for inputs, y in batches:
                    output = model(inputs).float()
                    loss_sum += float(loss_fn(output, y, data.steps)) * len(y)
                    correct += int((output.argmax(1) == y).sum())
                    total += len(y)
                rows.append({"metric": "loss", "value": loss_sum / total, "x": float(a), "y": float(b)})
                rows.append({"metric": "accuracy", "value": correct / total, "x": float(a), "y": float(b)})
    finally:
        for parameter, theta in zip(model.parameters(), original):
            parameter.copy_(theta)
    return tidy(rows, "landscape")
