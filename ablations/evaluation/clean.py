"""``clean`` suite: accuracy, loss and SSE on the clean test split.

Rows (``split`` = ``test``, or ``train`` when ``eval.clean.splits`` asks for it):

* ``accuracy``: share of samples whose largest output is the label;
* ``loss``: the run's training loss (``train.loss``), averaged over samples;
* ``sse``: per-sample sum of squared errors between the prediction ``U_L[T]/T`` (the network
  output) and the one-hot label, averaged over samples (seed 003 Table 1 rows 2-3).

The encoder draws come from a generator seeded by ``seed`` and the batch index, so the numbers
are reproducible (they differ from the end-of-training ``test_accuracy`` in ``metrics.csv``,
which used the training run's random stream).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch

from ..data.bundle import DataBundle
from ..training import loss_function, per_sample_sse
from .common import batch_generator, device_of, loss_name, params, test_loader, tidy

__all__ = ["clean", "evaluate_split"]


@torch.inference_mode()
def evaluate_split(model: torch.nn.Module, data: DataBundle, loader, seed: int, loss: str,
                   encode=None) -> dict[str, float]:
    """Accuracy, loss and SSE of ``model`` over ``loader`` with seeded encoder draws."""
    device = device_of(model)
    loss_fn = loss_function(loss)
    total, correct, loss_sum, sse_sum = 0, 0, 0.0, 0.0
    for index, (x, y) in enumerate(loader):
        x, y = x.to(device), y.to(device)
        generator = batch_generator(seed, index, device)
        inputs = data.encoder(x, generator=generator) if encode is None else encode(x, generator)
        output = model(inputs).float()
        loss_sum += float(loss_fn(output, y, data.steps)) * len(y)
        sse_sum += float(per_sample_sse(output, y).sum())
        correct += int((output.argmax(1) == y).sum())
        total += len(y)
    total = max(total, 1)
    return {"accuracy": correct / total, "loss": loss_sum / total, "sse": sse_sum / total}


def clean(model: torch.nn.Module, data: DataBundle, cfg: Any) -> pd.DataFrame:
    p = params(cfg, "clean")
    rows = []
    for split in p.splits:
        loader = test_loader(data, p.n_samples, int(p.seed), int(p.batch_size), split=str(split))
        metrics = evaluate_split(model, data, loader, int(p.seed), loss_name(cfg))
        rows += [{"metric": k, "value": v, "split": str(split), "n_samples": len(loader.dataset)}
                 for k, v in metrics.items()]
    return tidy(rows, "clean")
