"""``noise`` suite: accuracy under input noise (seed 003 section 3, Algorithm 1, Fig. 3).

For each noise type (``gaussian``, ``impulse``), scenario (1: noise on the pixels before Poisson
sampling, spikes stay binary; 2: noise on the emitted spikes, fresh every step, input layer
only) and severity (0 = clean, 1..8 from the table in :mod:`ablations.data.noise`), the rows
are ``accuracy``, ``loss`` (``train.loss``) and ``sse`` over the evaluated test samples.

Per batch, the encoder's uniform numbers and the noise draws are drawn once and shared by all
severities of both noise types (:func:`ablations.data.noise.noisy_batches`): severity 0 is
exactly the clean input, the clean spikes of scenario 2 are computed once, and only the network
runs once per condition. The draws come from a generator seeded by ``seed`` and the batch
index, so the same command gives the same numbers.

Applies to static (image) data with a Poisson or direct encoder.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch

from .. import tracking
from ..errors import UserError
from ..data.bundle import DataBundle
from ..data import noise as noise_lib
from ..training import loss_function, per_sample_sse
from .common import batch_generator, device_of, loss_name, params, test_loader, tidy

__all__ = ["noise"]


@torch.inference_mode()
def noise(model: torch.nn.Module, data: DataBundle, cfg: Any) -> pd.DataFrame:
    p = params(cfg, "noise")
    names = [str(n) for n in p.noises]
    scenarios = [int(s) for s in p.scenarios]
    severities = [int(s) for s in p.severities]
    for name in names:
        if name not in noise_lib.NOISES:
            raise UserError(f"eval.noise.noises: {name!r} is not one of {list(noise_lib.NOISES)}")
    for scenario in scenarios:
        if scenario not in noise_lib.SCENARIOS:
            raise UserError(f"eval.noise.scenarios: {scenario} is not one of {list(noise_lib.SCENARIOS)}")
    for severity in severities:
        if not 0 <= severity <= noise_lib.N_SEVERITIES:
            raise UserError(f"eval.noise.severities: {severity} must lie in 0..{noise_lib.N_SEVERITIES}")
    device = device_of(model)
    loss_fn = loss_function(loss_name(cfg))
    conditions = [(name, scenario, severity) for name in names for scenario in scenarios for severity in severities]
    sums = {c: [0, 0.0, 0.0] for c in conditions}  # correct, loss sum, sse sum
    total = 0
    loader = test_loader(data, p.n_samples, int(p.seed), int(p.batch_size))
    progress = tracking.Progress("eval noise", total=len(loader), unit="batch", enabled=tracking.progress_enabled(cfg))
    for index, (x, y) in enumerate(loader):
        x, y = x.to(device), y.to(device)
        draws = noise_lib.draw_batch(data.encoder, x, batch_generator(int(p.seed), index, device))
        clean_output = None  # severity 0 is the same input for every noise and scenario: run it once
        for scenario in scenarios:
            batch_conditions = [(name, severity) for name in names for severity in severities if severity > 0]
            noises = [noise_lib.make_noise(name, scenario, severity) for name, severity in batch_conditions]
            if 0 in severities:
                batch_conditions = [(name, 0) for name in names] + batch_conditions
                noises = [None] * len(names) + noises
            inputs = noise_lib.noisy_batches(data.encoder, x, noises, scenario, draws=draws)
            pending = []  # (condition, input) still to run; severity 0 runs once for every noise and scenario
            for condition, batch in zip(batch_conditions, inputs):
                if condition[1] == 0 and clean_output is not None:
                    continue
                pending.append((condition, batch))
            outputs = {}
            for condition, output in _run_stacked(model, pending):
                outputs[condition] = output
                if condition[1] == 0:
                    clean_output = output
            for (name, severity) in batch_conditions:
                output = clean_output if severity == 0 else outputs[(name, severity)]
                stats = sums[(name, scenario, severity)]
                stats[0] += int((output.argmax(1) == y).sum())
                stats[1] += float(loss_fn(output, y, data.steps)) * len(y)
                stats[2] += float(per_sample_sse(output, y).sum())
        total += len(y)
        progress.update(1)
    progress.close()
    rows = []
    for (name, scenario, severity), (correct, loss_sum, sse_sum) in sums.items():
        for metric, value in (("accuracy", correct / total), ("loss", loss_sum / total), ("sse", sse_sum / total)):
            rows.append({"metric": metric, "value": value, "noise": name, "scenario": scenario,
                         "severity": severity})
    return tidy(rows, "noise")


STACK_BYTES = 256 * 2**20  # inputs of several severities stacked into one forward pass up to this size


def _run_stacked(model: torch.nn.Module, pending: list) -> list:
    """Outputs of ``model`` on each ``(condition, input [T, B, ...])``, several inputs stacked along
    the batch into one pass (up to :data:`STACK_BYTES` of input): fewer, larger products, the same
    numbers, since every sample is run independently."""
    results = []
    if not pending:
        return results
    size = pending[0][1].numel() * pending[0][1].element_size()
    per_pass = max(1, STACK_BYTES // max(size, 1))
    for start in range(0, len(pending), per_pass):
        chunk = pending[start:start + per_pass]
        batch = chunk[0][1].shape[1]  # time-major [T, B, ...]
        stacked = chunk[0][1] if len(chunk) == 1 else torch.cat([b for _, b in chunk], dim=1)
        outputs = model(stacked).float().split(batch)
        results.extend((condition, output) for (condition, _), output in zip(chunk, outputs))
    return results

