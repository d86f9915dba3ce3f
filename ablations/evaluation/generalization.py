"""``generalization`` suite: train vs test error over training; event data at other frame windows.

Rows:

* per ``epoch`` (from the run's ``metrics.csv``, recorded by the training loop): ``train_sse``,
  ``test_sse`` (seed 003 Table 1 rows 2-3 and Fig. 5d-e: SSE per sample between ``U_L[T]/T`` and
  the one-hot label), ``train_loss``, ``test_loss``, ``train_accuracy``, ``test_accuracy``. The
  train values are running averages over the epoch's training batches (the weights change
  during the epoch), the test values are measured after the epoch. Epochs without a test
  evaluation (``train.eval_every`` > 1) have no test rows.
* event data only (seed 001 Table 7: trained on 3 ms frames, tested on 1, 2, 3, 5 and 10 ms):
  ``accuracy``, ``loss`` and ``sse`` per ``time_window_ms`` in ``time_windows_ms``, the test split
  re-binned by :func:`ablations.data.build_dataset` with ``dataset.frame.time_window_ms`` changed; the
  window the network was trained on is in ``trained_time_window_ms``, the number of frames at
  the tested window in ``window_steps``. Event data binned by a
  fixed number of bins (no ``frame.time_window_ms``) gets no such rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import torch
from omegaconf import OmegaConf, open_dict

from .. import results
from ..errors import UserError
from ..data.bundle import DataBundle
from ..data import build_dataset as build_data
from .clean import evaluate_split
from .common import loss_name, params, test_loader, tidy

__all__ = ["generalization", "EPOCH_METRICS"]

EPOCH_METRICS = ("train_sse", "test_sse", "train_loss", "test_loss", "train_accuracy", "test_accuracy")


def _epoch_rows(run_dir: Path | None, cfg: Any) -> list[dict]:
    if run_dir is None:
        run_dir = results.run_dir_for(cfg)
    metrics = results.read_metrics(run_dir)
    rows = []
    if metrics.empty:
        return rows
    for _, record in metrics.iterrows():
        for metric in EPOCH_METRICS:
            if metric in record and pd.notna(record[metric]):
                rows.append({"metric": metric, "value": float(record[metric]), "epoch": int(record["epoch"])})
    return rows


def _frame_windows(model: torch.nn.Module, data: DataBundle, cfg: Any, p: Any) -> list[dict]:
    frame = cfg.dataset.get("frame") if hasattr(cfg.dataset, "get") else None
    if frame is None or frame.get("time_window_ms") is None:
        return []
    trained = float(frame.time_window_ms)
    rows = []
    for window in p.time_windows_ms:
        window = float(window)
        if window <= 0:
            raise UserError(f"eval.generalization.time_windows_ms: {window} must be > 0")
        if window == trained:
            bundle = data
        else:
            dataset_cfg = OmegaConf.create(OmegaConf.to_container(cfg.dataset, resolve=True))
            with open_dict(dataset_cfg):
                dataset_cfg.frame.time_window_ms = window
                dataset_cfg.steps = None  # derived from the frame node again
            try:
                bundle = build_data(dataset_cfg, cfg.paths.data)
            except ValueError as error:
                raise UserError(f"test data at time_window_ms={window:g}: {error}") from None
        if tuple(bundle.input_shape) != tuple(data.input_shape):
            raise UserError(f"frames at time_window_ms={window:g} have shape {bundle.input_shape}, "
                            f"the network was trained on {data.input_shape}")
        loader = test_loader(bundle, p.n_samples, int(p.seed), int(p.batch_size))
        metrics = evaluate_split(model, bundle, loader, int(p.seed), loss_name(cfg))
        rows += [{"metric": k, "value": v, "time_window_ms": window, "trained_time_window_ms": trained,
                  "window_steps": int(bundle.steps)} for k, v in metrics.items()]
    return rows


def generalization(model: torch.nn.Module, data: DataBundle, cfg: Any,
                   run_dir: str | Path | None = None) -> pd.DataFrame:
    p = params(cfg, "generalization")
    rows = _epoch_rows(Path(run_dir) if run_dir is not None else None, cfg)
    if data is not None and data.kind == "event":
        rows += _frame_windows(model, data, cfg, p)
    frame = tidy(rows, "generalization")
    if "epoch" in frame.columns:
        frame["epoch"] = frame["epoch"].astype("Int64")
    return frame
