r"""``spectral`` suite: spectra of input spike trains and of the target output (seed 003 section 4.3).

Conditions: ``clean`` and, for static data, ``noisy``: the noise ``noise`` at severity
``severity`` (seed 003 quotes level 5) injected as each scenario in ``scenarios``
(:mod:`ablations.data.noise`); the columns ``noise``, ``scenario`` and ``severity`` say which
(``none``, 0, 0 for clean). Noisy and clean inputs of a batch share the encoder draws.

Frequencies are in seed 003's unit, a fraction of the sampling rate (one sample per time step):
bin ``k = 0..T/2`` of a ``T``-step train has ``frequency = k / T`` (0.5 = Nyquist). This is the unit
of seed 003's "normalized mean critical frequency" (section 4.3: 0.345 for IF on clean inputs):
a white train (flat spectrum once its mean is removed) reaches 70 % of its power at
``0.7 x 0.5 = 0.35`` (pinned by a test), so seed 003's IF output is white to within 1 %.
Normalised to Nyquist the same train would sit at 0.70; an earlier version of this suite used
that unit, which is not comparable with the paper's numbers.

* ``input_power`` per (condition, ``frequency``) (seed 003 Fig. 4): the single-sided power
  spectrum of every input entry's spike train, ``P_k = c_k |sum_t s[t] e^{-2 pi i k t / T}|^2 / T``
  with ``c_k = 2`` for bins strictly between 0 and Nyquist and 1 otherwise (so the bins sum to
  ``sum_t s[t]^2``), averaged over input entries (pixels or channels) and samples. The DC bin is
  kept: it carries the mean rate.
* ``critical_frequency`` per (condition, ``trace``, ``sample``) with the sample's ``label``
  (seed 003 Fig. 5a-c): the frequency below which ``power_fraction`` (70 %) of the power of the
  target output neuron's trace lies. The target neuron is the readout unit of the sample's
  label. ``trace`` = ``current``: its input current ``I_L[t] = W_L s_{L-1}[t] + b_L``, the spike
  trains the hidden network delivers to it, weighted (the primary measure: it does not depend
  on the readout's own filter); ``trace`` = ``membrane``: its membrane ``U_L[t]`` (the leaky
  integral of the current, the trace seed 003's prediction ``U_L[T]/T`` is read from). Each
  trace's mean over time is removed first (the DC bin would otherwise hold almost all of the
  power of an integrating membrane). The critical frequency is the lowest bin at which the
  cumulative power reaches the fraction, so it takes the values ``k / T``; a trace with
  no variance has none (NaN).

  What the two traces can show. The membrane of a leaky integrator is the current low-pass
  filtered with corner ``~ 1 / (2 pi tau)``; the IF membrane is a running sum (power ``~ 1/f^2``).
  So the ``membrane`` critical frequency falls as tau grows *by construction* (IF lowest), the
  reverse of seed 003's ordering (30 lowest); it measures the readout's own filter, not what the
  network passes. The ``current`` trace carries what the hidden network delivers and is the one
  to set beside seed 003's numbers.
* ``input_critical_frequency`` per (condition, ``sample``) (seed 003 Fig. 4 as a distribution
  over images): the critical frequency of each image's input spectrum (its entries' trains,
  mean removed per entry, power averaged over entries). ``input_power`` above is the mean
  spectrum; this is the per-image spread the paper's histogram shows.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..errors import UserError
from ..data.bundle import DataBundle
from ..data import noise as noise_lib
from .common import batch_generator, device_of, forward_records, params, test_loader, tidy

__all__ = ["spectral", "single_sided_power", "critical_frequency", "white_critical_frequency"]

TRACES = ("current", "membrane")


def single_sided_power(trains: torch.Tensor) -> torch.Tensor:
    """Single-sided power ``[T//2 + 1, ...]`` of time-major ``trains [T, ...]`` (see module doc)."""
    steps = trains.shape[0]
    power = torch.fft.rfft(trains.double(), dim=0).abs().pow(2) / steps
    if steps > 1:
        last = power.shape[0] - 1 if steps % 2 == 0 else power.shape[0]
        power[1:last] *= 2.0
    return power


def normalised_frequencies(steps: int) -> np.ndarray:
    """Bin frequencies as a fraction of the sampling rate: ``k / T`` (seed 003's unit; 0.5 = Nyquist)."""
    return np.arange(steps // 2 + 1) / float(steps)


def critical_frequency(power: np.ndarray, frequencies: np.ndarray, fraction: float = 0.7) -> np.ndarray:
    """Per column of ``power [K, N]``: the lowest frequency bin at which the cumulative power
    reaches ``fraction`` of the column's total (NaN for a column without power)."""
    total = power.sum(0)
    cumulative = np.cumsum(power, axis=0)
    out = np.full(power.shape[1], np.nan)
    has_power = total > 0
    reached = cumulative >= (fraction * total)[None, :] * (1.0 - 1e-12)
    first = np.argmax(reached, axis=0)
    out[has_power] = frequencies[first[has_power]]
    return out


@functools.lru_cache(maxsize=64)
def white_critical_frequency(steps: int, fraction: float = 0.7, n_traces: int = 20000, seed: int = 0) -> float:
    """The mean critical frequency this suite measures on white traces of ``steps`` steps (Gaussian,
    mean removed per trace, as the target neuron's trace): the value a trace with no temporal
    structure gives with this estimator at this T (about 0.35 = 0.7 x Nyquist; seed 003's IF, 0.345,
    sits there). Seeded, so the same for every call."""
    generator = torch.Generator().manual_seed(int(seed))
    traces = torch.randn((int(steps), int(n_traces)), generator=generator, dtype=torch.float64)
    traces = traces - traces.mean(0, keepdim=True)
    values = critical_frequency(single_sided_power(traces).numpy(), normalised_frequencies(int(steps)), fraction)
    return float(np.nanmean(values))


@torch.inference_mode()
def spectral(model: torch.nn.Module, data: DataBundle, cfg: Any) -> pd.DataFrame:
    p = params(cfg, "spectral")
    traces = [str(t) for t in p.traces]
    for trace in traces:
        if trace not in TRACES:
            raise UserError(f"eval.spectral.traces: {trace!r} is not one of {list(TRACES)}")
    fraction = float(p.power_fraction)
    if not 0.0 < fraction < 1.0:
        raise UserError(f"eval.spectral.power_fraction={fraction} must lie in (0, 1)")
    noisy = data.kind == "static"
    conditions = [("clean", "none", 0, 0)]
    if noisy:
        name, severity = str(p.noise), int(p.severity)
        noise_lib.make_noise(name, 1, severity)  # validates name and level
        conditions += [("noisy", name, int(s), severity) for s in p.scenarios]
    device = device_of(model)
    loader = test_loader(data, p.n_samples, int(p.seed), int(p.batch_size))
    indices = list(loader.dataset.indices)
    power_sum: dict[tuple, torch.Tensor] = {}
    critical: list[dict] = []
    n, offset = 0, 0
    frequencies = None
    for index, (x, y) in enumerate(loader):
        x, y = x.to(device), y.to(device)
        generator = batch_generator(int(p.seed), index, device)
        if noisy:
            draws = noise_lib.draw_batch(data.encoder, x, generator)
            inputs = {}
            for condition in conditions:
                _, name, scenario, severity = condition
                if scenario == 0:
                    batch = next(noise_lib.noisy_batches(data.encoder, x, [None], 1, draws=draws))
                else:
                    noise = noise_lib.make_noise(name, scenario, severity)
                    batch = next(noise_lib.noisy_batches(data.encoder, x, [noise], scenario, draws=draws))
                inputs[condition] = batch
        else:
            inputs = {conditions[0]: data.encoder(x, generator=generator)}
        for condition, batch in inputs.items():
            steps = batch.shape[0]
            frequencies = normalised_frequencies(steps)
            trains = batch.reshape(steps, batch.shape[1], -1)
            per_image = single_sided_power(trains).mean(2)  # [K, B]
            power_sum[condition] = power_sum.get(condition, 0) + per_image.sum(1).cpu()
            centred = single_sided_power(trains - trains.mean(0, keepdim=True)).mean(2).cpu().numpy()
            for column, value in enumerate(critical_frequency(centred, frequencies, fraction)):
                critical.append({"metric": "input_critical_frequency", "value": float(value),
                                 "condition": condition[0], "noise": condition[1], "scenario": condition[2],
                                 "severity": condition[3], "trace": "input",
                                 "sample": int(indices[offset + column]), "label": int(y[column])})
            _, records = forward_records(model, batch)
            target = y.view(1, -1, 1).expand(steps, -1, 1)
            for trace in traces:
                signal = records["readout"][trace].float().gather(2, target).squeeze(2)  # [T, B]
                signal = signal - signal.mean(0, keepdim=True)
                values = critical_frequency(single_sided_power(signal).cpu().numpy(), frequencies, fraction)
                for column, value in enumerate(values):
                    critical.append({"metric": "critical_frequency", "value": float(value),
                                     "condition": condition[0], "noise": condition[1], "scenario": condition[2],
                                     "severity": condition[3], "trace": trace,
                                     "sample": int(indices[offset + column]), "label": int(y[column])})
        n += len(y)
        offset += len(y)
    rows = []
    for condition, total in power_sum.items():
        for frequency, value in zip(frequencies, (total / n).tolist()):
            rows.append({"metric": "input_power", "value": value, "condition": condition[0], "noise": condition[1],
                         "scenario": condition[2], "severity": condition[3], "frequency": float(frequency)})
    return tidy(rows + critical, "spectral")
