"""``embedding`` suite: t-SNE of the last hidden layer's spike counts (seed 001 Fig. 7).

For ``n_samples`` test samples, the feature vector of a sample is the spike count of every
neuron of the last hidden spiking layer over all time steps. scikit-learn's ``TSNE``
(2 components, ``perplexity``, PCA initialisation, ``random_state = seed``) maps them to 2-D.

Rows:

* ``tsne_x``, ``tsne_y`` per ``sample`` (test-split index) with its ``label``;
* ``silhouette`` per ``space``: the silhouette score (scikit-learn, Euclidean) of the labels as
  clusters, in the 2-D t-SNE embedding (``space`` = ``tsne``, what the figure shows) and in the
  spike-count space itself (``space`` = ``spike_counts``, free of t-SNE's randomness). It lies
  in [-1, 1], higher = better separated classes; NaN when it is undefined (fewer than two
  distinct labels, or all samples identical).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from ..errors import UserError
from ..data.bundle import DataBundle
from .common import batch_generator, device_of, forward_records, hidden_layers, params, test_loader, tidy

__all__ = ["embedding", "spike_counts"]


@torch.inference_mode()
def spike_counts(model: torch.nn.Module, data: DataBundle, loader, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Spike counts ``[N, neurons]`` of the last hidden layer, the labels, and the layer's name."""
    device = device_of(model)
    features, labels, layer = [], [], ""
    for index, (x, y) in enumerate(loader):
        x = x.to(device)
        _, records = forward_records(model, data.encoder(x, generator=batch_generator(seed, index, device)))
        layer = hidden_layers(records)[-1]
        spikes = records[layer]["spikes"]
        features.append(spikes.sum(0).reshape(spikes.shape[1], -1).double().cpu().numpy())
        labels.append(y.numpy())
    return np.concatenate(features), np.concatenate(labels), layer


def _silhouette(points: np.ndarray, labels: np.ndarray) -> float:
    from sklearn.metrics import silhouette_score

    if len(np.unique(labels)) < 2 or len(np.unique(labels)) >= len(labels) or np.allclose(points, points[0]):
        return float("nan")
    return float(silhouette_score(points, labels, metric="euclidean"))


def embedding(model: torch.nn.Module, data: DataBundle, cfg: Any) -> pd.DataFrame:
    from sklearn.manifold import TSNE

    p = params(cfg, "embedding")
    loader = test_loader(data, p.n_samples, int(p.seed), int(p.batch_size))
    features, labels, layer = spike_counts(model, data, loader, int(p.seed))
    n = len(labels)
    if n < 3:
        raise UserError(f"eval.embedding needs at least 3 samples, got {n}")
    perplexity = min(float(p.perplexity), (n - 1) / 3.0)
    points = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=int(p.seed),
                  learning_rate="auto").fit_transform(features)
    indices = list(loader.dataset.indices)
    rows = []
    for i in range(n):
        rows.append({"metric": "tsne_x", "value": float(points[i, 0]), "sample": int(indices[i]),
                     "label": int(labels[i]), "layer": layer})
        rows.append({"metric": "tsne_y", "value": float(points[i, 1]), "sample": int(indices[i]),
                     "label": int(labels[i]), "layer": layer})
    rows.append({"metric": "silhouette", "value": _silhouette(points, labels), "space": "tsne", "layer": layer})
    rows.append({"metric": "silhouette", "value": _silhouette(features, labels), "space": "spike_counts",
                 "layer": layer})
    frame = tidy(rows, "embedding")
    for column in ("sample", "label"):
        frame[column] = frame[column].astype("Int64")
    return frame
