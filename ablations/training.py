"""BPTT training with surrogate gradients, per-epoch atomic checkpoints, resume, divergence.

Losses, on the network output ``y_hat [B, classes]`` (the readout's prediction) and label ``y``:

* ``mse_onehot`` (seed 003 Eq. 5): squared error ``(y_hat_c - onehot(y)_c)^2`` with
  ``y_hat = U_L[T] / T`` for the default ``mem_last`` readout, reduced as ``train.loss_reduction``
  says (see :data:`REDUCTIONS`):

  - ``half_mean``: ``1/2 sum_c (...)^2``, averaged over the batch (seed 003 Eq. 5 per sample);
  - ``sum``: ``sum_b sum_c (...)^2``, summed over the batch and the classes with no 1/2: exactly
    ref [21]'s criterion ``torch.nn.MSELoss(size_average=False)`` (chan8972/
    Enabling_Spikebased_Backpropagation, ``src/cifar10_VGG9.py`` line 87, applied at line 232).
    With a batch of 64 its gradient is 2 x 64 = 128 times that of ``half_mean``.

  The reduction changes the training step only: every loss this package records (metrics,
  evaluation suites) is the per-sample value ``half_mean`` would give, so runs with either
  reduction stay comparable.
* ``ce_rate`` (seed 001, rate decoding): cross-entropy on the output spike counts
  (``y_hat * T`` for the ``spike_count`` readout).
* ``ce_mem`` (seed 001, membrane decoding): cross-entropy on ``y_hat`` as logits.
* ``nll_steps`` (DH-SNN's delayed XOR): ``-y_hat_y``, batch mean; on the ``integrator_softmax``
  readout, whose ``y_hat`` sums per-step log-probabilities, it is the sum over the readout window
  of the per-step cross-entropies (:class:`ablations.network.Readout`).

Every epoch records train loss/accuracy/SSE (running, over the training batches) and test
loss/accuracy/SSE, where SSE is the per-sample sum of squared errors between ``y_hat`` and the
one-hot label, averaged over samples (seed 003 Table 1 rows 2-3). After each epoch the model,
optimizer, scheduler, AMP scaler, RNG states and the metrics so far are saved atomically, so a
run killed at any point resumes from its last completed epoch and continues exactly as it would
have (same data order, same Poisson draws on the CPU).

A non-finite loss stops training and raises :class:`Diverged`; the caller marks the run.

Precision (``train.precision``): ``fp32``; ``bf16`` / ``fp16`` run the forward pass under
``torch.autocast`` (conv/linear products in the low precision; the neuron state is accumulated in
float32 by the fused scan, the loss on float32 outputs; fp16 adds a gradient scaler); ``auto``
picks bf16 on a GPU that supports it (else fp16) and, on a CPU, bf16 only where a bf16 matrix
product measured on this machine runs at least :data:`BF16_MIN_SPEEDUP` times the fp32 rate
(measured once, cached on disk), else fp32. ``null`` keeps the older switch ``train.amp``
(fp16 autocast on CUDA, fp32 on a CPU).

Losses (:data:`LOSSES`), optimizers (:data:`OPTIMIZERS`) and learning-rate schedules
(:data:`SCHEDULES`) are registries of :class:`TrainingChoice` entries: a function and the
``train.*`` keys it reads, as the model builders declare their ``model.*`` keys.
:func:`keys_read` is the set of ``train.*`` keys a training config reads; an override of any other
``train.*`` key changes nothing and is refused before the run starts (:mod:`ablations.config`).

``train.checkpoint_time_steps=K`` runs the hidden layers in checkpointed blocks of K time steps
(:func:`ablations.network.set_time_checkpointing`): same gradients, less memory for long T.
"""

from __future__ import annotations

import functools
import json
import math
import os
import platform
import random
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import nn
from torch.utils.data import DataLoader

from . import faults, network, results, streams, tracking
from .data.bundle import DataBundle, collate
from .errors import UserError
from .registry import Registry

__all__ = ["Diverged", "StopRun", "select_device", "seed_everything", "loss_function", "training_loss", "evaluate",
           "fit", "TrainingChoice", "LOSSES", "REDUCTIONS", "OPTIMIZERS", "SCHEDULES", "PRECISIONS", "Precision",
           "resolve_precision", "precision_of", "bf16_matmul_speedup", "COMMON_KEYS", "keys_read", "readers_of"]


class Diverged(RuntimeError):
    """The training loss became NaN or infinite."""


class StopRun(Exception):
    """Raised by an ``on_epoch`` callback to end a run early with a given status (e.g. ``pruned``).

    The run keeps its record and checkpoint, marked with ``status``; the exception propagates.
    """

    def __init__(self, status: str, message: str = ""):
        super().__init__(message or status)
        self.status = status
        self.run_dir: Path | None = None  # set by the run that stopped


def select_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def _onehot(labels: torch.Tensor, n_classes: int, dtype: torch.dtype) -> torch.Tensor:
    return F.one_hot(labels, n_classes).to(dtype)


def mse_onehot(output: torch.Tensor, labels: torch.Tensor, steps: int, reduction: str = "half_mean") -> torch.Tensor:
    """Seed 003 Eq. 5 on ``output = U_L[T]/T``; ``reduction`` as in :data:`REDUCTIONS`."""
    squared = (output - _onehot(labels, output.shape[1], output.dtype)).pow(2)
    if reduction == "sum":
        return squared.sum()
    return 0.5 * squared.sum(1).mean()


def ce_rate(output: torch.Tensor, labels: torch.Tensor, steps: int) -> torch.Tensor:
    return F.cross_entropy(output * steps, labels)


def ce_mem(output: torch.Tensor, labels: torch.Tensor, steps: int) -> torch.Tensor:
    return F.cross_entropy(output, labels)


def nll_steps(output: torch.Tensor, labels: torch.Tensor, steps: int) -> torch.Tensor:
    return F.nll_loss(output, labels)


@dataclass(frozen=True)
class TrainingChoice:
    """A named choice of ``train.loss``, ``train.optimizer`` or ``train.schedule``: its function and the
    ``train.*`` keys it reads (besides :data:`COMMON_KEYS`, which every run reads)."""

    function: Callable[..., Any]
    keys: tuple[str, ...] = ()


# train.loss -> (output, labels, steps) -> per-sample loss (the value every record uses)
LOSSES: Registry[TrainingChoice] = Registry("train.loss", "losses")
LOSSES.add("mse_onehot", TrainingChoice(mse_onehot, ("loss_reduction",)))
LOSSES.add("ce_rate", TrainingChoice(ce_rate))
LOSSES.add("ce_mem", TrainingChoice(ce_mem))
LOSSES.add("nll_steps", TrainingChoice(nll_steps))


# train.loss_reduction -> what it does; only mse_onehot has a choice (the cross-entropies are batch means)
REDUCTIONS = {
    "half_mean": "1/2 x per-sample sum over classes, averaged over the batch (seed 003 Eq. 5 per sample)",
    "sum": "sum over batch and classes, no 1/2 (ref [21]: MSELoss(size_average=False))",
}


def loss_function(name: str):
    """The per-sample loss ``(output, labels, steps) -> scalar`` every record uses."""
    return LOSSES.get(str(name)).function


def training_loss(name: str, reduction: str = "half_mean"):
    """The loss the optimiser steps on: :func:`loss_function` with ``train.loss_reduction``."""
    function = loss_function(name)
    if reduction not in REDUCTIONS:
        raise UserError(f"train.loss_reduction={reduction!r} is not one of {sorted(REDUCTIONS)} "
                        f"({'; '.join(f'{k}: {v}' for k, v in REDUCTIONS.items())})")
    if reduction == "half_mean":
        return function
    if name != "mse_onehot":
        raise UserError(f"train.loss_reduction={reduction!r} applies to train.loss=mse_onehot only, "
                        f"not {name!r}; use loss_reduction=half_mean with the cross-entropy losses")
    return lambda output, labels, steps: mse_onehot(output, labels, steps, reduction)


def per_sample_sse(output: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return (output.float() - _onehot(labels, output.shape[1], torch.float32)).pow(2).sum(1)


class _Tally:
    """Running sums of loss, correct predictions and SSE over batches; means per sample."""

    def __init__(self) -> None:
        self.total, self.correct, self.loss, self.sse = 0, 0, 0.0, 0.0

    def add(self, output: torch.Tensor, labels: torch.Tensor, loss: torch.Tensor) -> None:
        self.loss += float(loss) * len(labels)
        self.sse += float(per_sample_sse(output, labels).sum())
        self.correct += int((output.argmax(1) == labels).sum())
        self.total += len(labels)

    def means(self) -> dict[str, float]:
        count = max(self.total, 1)
        return {"loss": self.loss / count, "accuracy": self.correct / count, "sse": self.sse / count}


class _WindowTally:
    """Training accuracy over the readout window, per step (DH-SNN delayed_xor_snn.py lines 114-119:
    every step of the window is one prediction): reads ``model.readout.window_predictions``
    (``[W, B]``, set by the ``integrator_softmax`` readout); ``{}`` for any other readout."""

    def __init__(self, model: nn.Module) -> None:
        self.readout = getattr(model, "readout", None)
        self.correct, self.total = 0, 0

    def add(self, labels: torch.Tensor) -> None:
        predictions = getattr(self.readout, "window_predictions", None)
        if predictions is not None:
            self.correct += int((predictions == labels).sum())
            self.total += predictions.numel()

    def means(self) -> dict[str, float]:
        return {"window_accuracy": self.correct / self.total} if self.total else {}


def make_loader(dataset, batch_size: int, shuffle: bool, seed: int = 0, num_workers: int = 0) -> DataLoader:
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator,
                      num_workers=num_workers, drop_last=False, collate_fn=collate)


PRECISIONS = ("fp32", "bf16", "fp16", "auto")
# assumption: below 1.5x the casts autocast adds around every product eat the gain of a faster
# bf16 matmul (measured: AVX-512 BF16 CPUs run it at about 2-2.5x, AVX2-only ones far below 1x)
BF16_MIN_SPEEDUP = 1.5
_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class Precision:
    """The precision a run trains in: ``name`` (fp32 | bf16 | fp16), the autocast dtype (None for
    fp32) and why it was chosen."""

    name: str
    dtype: torch.dtype | None
    reason: str

    def autocast(self, device: torch.device):
        if self.dtype is None:
            return nullcontext()
        return torch.autocast(device_type=device.type, dtype=self.dtype)


def _speed_cache_path() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "snn-ablations" / "bf16_speed.json"


@functools.cache
def bf16_matmul_speedup(size: int = 512, repeats: int = 20) -> float:
    """How many times faster a bf16 than an fp32 matrix product runs on this CPU (>1 = faster).

    Measured once per machine, torch version and thread count, and cached on disk (a small JSON
    file in the user's cache folder); later processes read the cached answer.
    """
    key = f"{platform.processor() or platform.machine()}|{os.cpu_count()}|{torch.__version__}|{torch.get_num_threads()}"
    path = _speed_cache_path()
    try:
        cached = json.loads(path.read_text())
        if key in cached:
            return float(cached[key])
    except (OSError, ValueError):
        cached = {}

    def rate(dtype: torch.dtype) -> float:
        a, b = torch.randn(size, size).to(dtype), torch.randn(size, size).to(dtype)
        a @ b
        best = math.inf
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(repeats):
                a @ b
            best = min(best, time.perf_counter() - start)
        return best

    with torch.random.fork_rng(devices=[]):  # the measurement must not shift the run's random stream
        speedup = rate(torch.float32) / rate(torch.bfloat16)
    try:
        from .atomic import atomic_write_text

        cached[key] = speedup
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(cached, indent=1))
    except OSError:
        pass  # a read-only home only costs a new measurement next time
    return speedup


def resolve_precision(name: str | None, device: torch.device, amp: bool = False) -> Precision:
    """The :class:`Precision` for ``train.precision`` on ``device`` (module docstring)."""
    if name is None:
        if amp and device.type == "cuda":
            return Precision("fp16", torch.float16, "train.precision=null and train.amp=true on CUDA")
        return Precision("fp32", None, "train.precision=null" + (" (train.amp applies to CUDA only)" if amp else ""))
    name = str(name)
    if name not in PRECISIONS:
        raise UserError(f"train.precision={name!r} is not one of {list(PRECISIONS)} (or null); "
                        "use e.g. train.precision=bf16")
    if name != "auto":
        return Precision(name, _DTYPES[name], f"train.precision={name}")
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return Precision("bf16", torch.bfloat16, "auto: this GPU supports bf16")
        return Precision("fp16", torch.float16, "auto: this GPU has no bf16")
    if device.type != "cpu":
        return Precision("fp32", None, f"auto: no low-precision rule for device {device.type}")
    speedup = bf16_matmul_speedup()
    if speedup >= BF16_MIN_SPEEDUP:
        return Precision("bf16", torch.bfloat16,
                         f"auto: a bf16 matmul ran {speedup:.2f}x the fp32 rate on this CPU (>= {BF16_MIN_SPEEDUP})")
    return Precision("fp32", None,
                     f"auto: a bf16 matmul ran only {speedup:.2f}x the fp32 rate on this CPU (< {BF16_MIN_SPEEDUP})")


def precision_of(train: DictConfig, device: torch.device) -> Precision:
    """The :class:`Precision` of a training config: ``train.precision``, or ``train.amp`` while it is null."""
    return resolve_precision(train.get("precision"), device, bool(train.get("amp", False)))


def unused_iterator(loader: DataLoader) -> None:
    """Make (and drop) one iterator of ``loader`` before the one that is iterated, as the package's
    earlier loop did: tqdm.auto's bar built an iterator of what it wrapped on creation, and a
    DataLoader's iterator draws its base seed when made (from the loader's generator, or torch's
    global one for an unshuffled loader). Keeping that draw keeps every run's data order and random
    stream, so earlier records are reproduced and resumed exactly."""
    iter(loader)


@torch.inference_mode()
def evaluate(model: nn.Module, loader: DataLoader, data: DataBundle, device: torch.device,
             loss_name: str = "mse_onehot", amp: bool = False, progress: bool = False,
             desc: str = "test", precision: Precision | None = None) -> dict[str, float]:
    """Loss, accuracy and SSE of ``model`` over ``loader`` (model in eval mode).

    ``precision`` (a :class:`Precision`) sets the autocast; without it ``amp`` means fp16 on CUDA.
    """
    if precision is None:
        precision = resolve_precision(None, device, amp)
    was_training = model.training
    model.eval()
    loss_fn = loss_function(loss_name)
    tally = _Tally()
    with tracking.Progress(desc, total=len(loader), unit="batch", enabled=progress) as bar:
        unused_iterator(loader)
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            with precision.autocast(device):
                output = model(data.encoder(x))
            output = output.float()
            tally.add(output, y, loss_fn(output, y, data.steps))
            bar.update(1)
    model.train(was_training)
    return tally.means()


def adam(model: nn.Module, train: DictConfig) -> torch.optim.Optimizer:
    return torch.optim.Adam(model.parameters(), lr=float(train.lr), weight_decay=float(train.weight_decay))


def sgd(model: nn.Module, train: DictConfig) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=float(train.lr), momentum=float(train.momentum),
                           weight_decay=float(train.weight_decay))


# train.optimizer -> (model, train cfg) -> optimizer
OPTIMIZERS: Registry[TrainingChoice] = Registry("train.optimizer", "optimizers")
OPTIMIZERS.add("adam", TrainingChoice(adam, ("lr", "weight_decay")))
OPTIMIZERS.add("sgd", TrainingChoice(sgd, ("lr", "momentum", "weight_decay")))


def no_schedule(optimizer: torch.optim.Optimizer, train: DictConfig) -> None:
    return None


def step_schedule(optimizer: torch.optim.Optimizer, train: DictConfig):
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=int(train.step_size), gamma=float(train.gamma))


def multistep_schedule(optimizer: torch.optim.Optimizer, train: DictConfig):
    return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[int(m) for m in (train.milestones or [])],
                                                gamma=float(train.gamma))


def cosine_schedule(optimizer: torch.optim.Optimizer, train: DictConfig):
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=int(train.epochs))


# train.schedule -> (optimizer, train cfg) -> scheduler or None (stepped once per epoch)
SCHEDULES: Registry[TrainingChoice] = Registry("train.schedule", "schedules")
SCHEDULES.add("none", TrainingChoice(no_schedule))
SCHEDULES.add("step", TrainingChoice(step_schedule, ("step_size", "gamma")))
SCHEDULES.add("multistep", TrainingChoice(multistep_schedule, ("milestones", "gamma")))
SCHEDULES.add("cosine", TrainingChoice(cosine_schedule))

# train.* keys every run reads, whatever its loss, optimizer and schedule (train.amp only while
# train.precision is null: :func:`keys_read`)
COMMON_KEYS = ("epochs", "batch_size", "eval_batch_size", "optimizer", "schedule", "loss", "precision",
               "checkpoint_time_steps", "grad_clip", "eval_every", "max_batches", "restart", "num_workers", "progress", "rng")
# which registry each choosing key picks from
CHOICES = {"loss": LOSSES, "optimizer": OPTIMIZERS, "schedule": SCHEDULES}


def keys_read(train: Any) -> dict[str, str]:
    """The ``train.*`` keys a training config reads, each with what reads it (``"train.optimizer=sgd"``)."""
    read = {key: "every run" for key in COMMON_KEYS}
    for choosing, registry in CHOICES.items():
        name = str(train.get(choosing))
        for key in registry.get(name).keys:
            read.setdefault(key, f"train.{choosing}={name}")
    if train.get("precision") is None:
        read["amp"] = "train.precision=null"
    return read


def readers_of(key: str) -> list[str]:
    """The settings under which ``train.<key>`` is read (``["train.optimizer=sgd"]``), for error messages."""
    readers = [f"train.{choosing}={name}" for choosing, registry in CHOICES.items()
               for name, choice in registry.items() if key in choice.keys]
    if key == "amp":
        readers.append("train.precision=null")
    return readers


def _rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@dataclass
class Trainer:
    """What one run trains with, and what its checkpoint saves and restores: the model, optimizer,
    scheduler and gradient scaler, the precision, the losses, and the epochs done so far."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    precision: Precision
    loss_fn: Callable[..., torch.Tensor]      # what the optimizer steps on (train.loss_reduction)
    record_loss: Callable[..., torch.Tensor]  # per sample, whatever the reduction: what records hold
    history: list[dict]
    start_epoch: int = 0
    elapsed_before: float = 0.0  # training seconds of earlier processes (resumed runs)


def make_trainer(train: DictConfig, model: nn.Module, device: torch.device) -> Trainer:
    """A fresh :class:`Trainer` for ``model`` as ``train`` says (the model moved to ``device``)."""
    precision = precision_of(train, device)
    model.to(device)
    try:
        network.set_time_checkpointing(model, train.get("checkpoint_time_steps"))
    except ValueError as error:
        raise UserError(str(error)) from None
    optimizer = OPTIMIZERS.get(str(train.optimizer)).function(model, train)
    return Trainer(
        model=model, optimizer=optimizer, scheduler=SCHEDULES.get(str(train.schedule)).function(optimizer, train),
        scaler=torch.amp.GradScaler(device.type, enabled=precision.dtype == torch.float16), precision=precision,
        loss_fn=training_loss(str(train.loss), str(train.get("loss_reduction", "half_mean"))),
        record_loss=loss_function(str(train.loss)), history=[])


def save_checkpoint(path: Path, trainer: Trainer, data: DataBundle, train_time_s: float) -> None:
    """Everything a resumed run needs to continue exactly as it would have, written atomically."""
    results.atomic_save_torch(path, {
        "model": trainer.model.state_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "scheduler": trainer.scheduler.state_dict() if trainer.scheduler is not None else None,
        "scaler": trainer.scaler.state_dict() if trainer.scaler.is_enabled() else None,
        "rng": _rng_state(),
        "history": trainer.history,
        "epoch": len(trainer.history),
        "input_shape": list(data.input_shape),
        "train_time_s": train_time_s,
    })


def resume(path: Path, trainer: Trainer, device: torch.device) -> None:
    """Restore ``trainer`` (and the random number generators) from the checkpoint at ``path``."""
    try:
        state = torch.load(path, map_location=device, weights_only=False)
    except Exception as error:
        raise UserError(f"checkpoint {path} cannot be read ({type(error).__name__}: {error}); "
                        "run the same command with train.restart=true to train this run from scratch") from None
    trainer.model.load_state_dict(state["model"])
    trainer.optimizer.load_state_dict(state["optimizer"])
    if trainer.scheduler is not None and state.get("scheduler") is not None:
        trainer.scheduler.load_state_dict(state["scheduler"])
    if state.get("scaler") is not None:
        trainer.scaler.load_state_dict(state["scaler"])
    _set_rng_state(state["rng"])
    trainer.history = list(state["history"])
    trainer.start_epoch = int(state["epoch"])
    trainer.elapsed_before = float(state.get("train_time_s", 0.0))


#: batches of a run's first epoch not timed for its expected duration: the first batch compiles
#: (numba kernel, torch's first-call set-up) and can take several times a later one
ETA_WARMUP_BATCHES = 1
#: batches timed after the warm-up before a run states its expected duration
ETA_BATCHES = 3
#: an expected training time beyond this on a CPU gets the advice to use a CPU-sized setting
CPU_PATIENCE_S = 2 * 3600.0

_duration = tracking.format_duration


def expected_duration(elapsed_s: float, batches: int, batches_per_epoch: int, epochs: int, device: Any,
                      warmup: int = ETA_WARMUP_BATCHES) -> str:
    """``expected: ...`` from the wall time of ``batches`` batches timed after ``warmup`` untimed ones
    (the test pass and evaluation suites not counted); on a CPU, past :data:`CPU_PATIENCE_S`, the
    advice of a CPU-sized setting (README)."""
    per_epoch = elapsed_s / max(batches, 1) * batches_per_epoch
    after = f"after {warmup} warm-up batch(es)" if warmup else "from the start"
    line = (f"  expected: about {_duration(per_epoch)} per epoch, {_duration(per_epoch * epochs)} for {epochs} "
            f"epoch(s) (timed on {batches} batch(es) {after}; test passes not counted)")
    if str(device).startswith("cpu") and per_epoch * epochs > CPU_PATIENCE_S:
        line += ("\n  this will not fit a CPU in reasonable time: use a GPU (device=cuda), or a CPU-sized setting such "
                 "as dataset.steps=20 train.max_batches=50 model=vgg6 (docs/user-guide.md: Datasets)")
    return line


class EtaClock:
    """Times a run's training batches after a warm-up and states the expected duration once.

    ``tick()`` after every training batch (across epochs): the first ``warmup`` batches are not
    timed (compilation, caches); after ``measure`` more, :meth:`per_batch` is known and the
    ``expected: ...`` line is written. A run with fewer batches in all states it at its last batch,
    from what it could time. Data loading is included (the first epoch of event data also fills the
    frame cache, so the estimate errs long there)."""

    def __init__(self, batches_per_epoch: int, epochs: int, device: Any, warmup: int = ETA_WARMUP_BATCHES,
                 measure: int = ETA_BATCHES, say: Callable[[str], None] | None = None,
                 now: Callable[[], float] = time.perf_counter):
        self.batches_per_epoch, self.epochs, self.device = int(batches_per_epoch), int(epochs), device
        total = self.batches_per_epoch * self.epochs
        self.warmup = min(int(warmup), max(total - 1, 0))  # at least one batch timed where there is one
        self.measure = max(1, min(int(measure), self.batches_per_epoch, total - self.warmup))  # at most an epoch
        self.say = say or tracking.write
        self.now = now
        self.seen, self.timed, self.per_batch = 0, 0.0, None
        self.last = 0.0

    def start(self) -> None:
        """Call as each epoch's batches begin: time between epochs (test pass, checkpoint) is not timed."""
        self.last = self.now()

    def tick(self) -> None:
        """After every training batch."""
        now = self.now()
        self.seen += 1
        if self.seen > self.warmup and self.per_batch is None:
            self.timed += now - self.last
            if self.seen == self.warmup + self.measure:
                self.per_batch = self.timed / self.measure
                self.say(expected_duration(self.timed, self.measure, self.batches_per_epoch, self.epochs, self.device,
                                           self.warmup))
        self.last = now

    def per_epoch(self) -> float | None:
        """Seconds of one epoch's training batches, once timed."""
        return None if self.per_batch is None else self.per_batch * self.batches_per_epoch


def train_epoch(trainer: Trainer, loader: DataLoader, n_batches: int, data: DataBundle, device: torch.device,
                grad_clip: float | None, epoch: int, bar_desc: str, progress: bool,
                clock: EtaClock | None = None,
                draws: Callable[[int, int], torch.Generator | None] | None = None) -> tuple[dict[str, float], float]:
    """One epoch of BPTT over the first ``n_batches`` batches of ``loader``: the running train
    metrics (per sample) and the seconds spent waiting for data. Raises :class:`Diverged`.
    ``clock.tick()`` after each batch (the expected duration, :class:`EtaClock`).
    ``draws(epoch, index)``: the encoder's generator of a batch (``streams.training_batch``; None = global)."""
    model, optimizer, scaler = trainer.model, trainer.optimizer, trainer.scaler
    model.train()
    tally = _Tally()
    window = _WindowTally(model)  # per-step accuracy over a readout window, where the readout has one
    data_time = 0.0
    fetch_start = time.perf_counter()
    batch_bar = tracking.Progress(bar_desc, total=n_batches, unit="batch", enabled=progress)
    unused_iterator(loader)
    for index, (x, y) in enumerate(loader):
        if index >= n_batches:
            break
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        data_time += time.perf_counter() - fetch_start
        generator = draws(epoch, index) if draws is not None else None
        with trainer.precision.autocast(device):
            output = model(data.encoder(x, generator=generator))
        output = output.float()
        loss = trainer.loss_fn(output, y, data.steps)
        if not torch.isfinite(loss):
            batch_bar.close()
            raise Diverged(f"loss became {float(loss.detach())} at epoch {epoch + 1}, batch {index + 1}")
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if grad_clip:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), float(grad_clip))
        scaler.step(optimizer)
        scaler.update()
        faults.point("train.batch")  # fault-injection tests: killed mid-epoch
        with torch.no_grad():
            tally.add(output.detach(), y, trainer.record_loss(output.detach(), y, data.steps))
            window.add(y)
        running = tally.means()
        if clock is not None:
            clock.tick()
        batch_bar.update(1, loss=f"{running['loss']:.4f}", acc=f"{running['accuracy']:.3f}")
        fetch_start = time.perf_counter()
    batch_bar.close()
    return {**tally.means(), **window.means()}, data_time


def time_left(epoch_walls: list[float], epochs_left: int, timed_epoch_s: float | None = None,
              test_pass_s: float = 0.0) -> float:
    """Seconds the remaining ``epochs_left`` epochs should take: the mean wall time of the epochs
    after the first (the first pays the warm-up), or, after the first only, the timed batches'
    epoch (``timed_epoch_s``, :class:`EtaClock`) plus its test pass, else the first epoch's time."""
    if len(epoch_walls) > 1:
        per_epoch = sum(epoch_walls[1:]) / len(epoch_walls[1:])
    elif timed_epoch_s is not None:
        per_epoch = timed_epoch_s + test_pass_s
    else:
        per_epoch = epoch_walls[0] if epoch_walls else 0.0
    return per_epoch * max(int(epochs_left), 0)


def final_metrics(history: list[dict], train_time_s: float) -> dict[str, Any]:
    """The last epoch's finite numbers, ``accuracy`` (the test accuracy) and the training time."""
    final = dict(history[-1]) if history else {}
    final = {k: v for k, v in final.items() if isinstance(v, (int, float)) and math.isfinite(v)}
    final["accuracy"] = final.get("test_accuracy")
    final["train_time_s"] = train_time_s
    return final


def fit(cfg: DictConfig, run_dir: Path, data: DataBundle, model: nn.Module, device: torch.device,
        on_epoch: Callable[[int, dict], None] | None = None, wall_origin: float | None = None) -> dict[str, Any]:
    """Train ``model`` as ``cfg.train`` says, checkpointing into ``run_dir``; resume if a checkpoint exists.

    ``on_epoch(epoch, metrics)`` is called after every completed epoch (studies use it to report
    and prune). ``wall_origin``: the ``time.perf_counter()`` at which the run's wall time over all its
    sessions was zero; each epoch's status update then keeps ``wall_time_s``, so a run killed and
    resumed counts all of it. Returns the final metrics. Raises :class:`Diverged` on a non-finite loss.
    """
    train = cfg.train
    seed, epochs = int(cfg.seed), int(train.epochs)
    progress = bool(cfg.get("progress", True)) and bool(train.get("progress", True))
    trainer = make_trainer(train, model, device)
    checkpoint_path = run_dir / results.CHECKPOINT_FILE
    if checkpoint_path.exists():
        resume(checkpoint_path, trainer, device)
        print(f"resuming {run_dir} from epoch {trainer.start_epoch}/{epochs}", flush=True)
    test_loader = make_loader(data.test, int(train.get("eval_batch_size") or train.batch_size), shuffle=False,
                              num_workers=int(train.num_workers))
    max_batches = train.get("max_batches")
    eval_every = max(1, int(train.get("eval_every", 1)))
    started = time.perf_counter()
    tracker = tracking.start(cfg, run_dir)  # logger=none|csv|tensorboard mirrors each epoch's row
    # progress=true: bars on a terminal, else one line per epoch and a line every so often within one
    epoch_bar = tracking.Progress(f"{cfg.neuron.variant} epochs", total=epochs, unit="epoch", enabled=progress,
                                  initial=trainer.start_epoch, leave=True, lines=False)
    first_epoch = trainer.start_epoch
    clock = None
    epoch_walls: list[float] = []
    first_test_s = 0.0
    for epoch in range(trainer.start_epoch, epochs):
        if hasattr(data.train, "set_epoch"):  # generated data drawn fresh each epoch (data/generated.py)
            data.train.set_epoch(epoch)
        loader = make_loader(data.train, int(train.batch_size), shuffle=True, seed=seed * 100_003 + epoch,
                             num_workers=int(train.num_workers))
        n_batches = len(loader) if max_batches is None else min(len(loader), int(max_batches))
        epoch_start = time.perf_counter()
        if clock is None:  # the run states its expected duration after its first batches (past a warm-up)
            clock = EtaClock(n_batches, epochs - first_epoch, device)
        clock.start()
        lr = trainer.optimizer.param_groups[0]["lr"]  # the rate this epoch trains at (recorded before the scheduler steps)
        means, data_time = train_epoch(trainer, loader, n_batches, data, device, train.get("grad_clip"), epoch,
                                       f"epoch {epoch + 1}/{epochs}", progress, clock,
                                       draws=lambda e, i: streams.training_batch(cfg, e, i, device))  # train.rng
        if trainer.scheduler is not None:
            trainer.scheduler.step()
        row: dict[str, Any] = {
            "epoch": epoch + 1,
            "lr": lr,
            **{f"train_{key}": value for key, value in means.items()},
            "epoch_time_s": time.perf_counter() - epoch_start,
            "data_time_s": data_time,
        }
        if (epoch + 1) % eval_every == 0 or epoch + 1 == epochs:
            test_start = time.perf_counter()
            with streams.evaluation_draws(cfg):  # train.rng=paired: the suites' encoded test set
                test = evaluate(model, test_loader, data, device, str(train.loss), progress=progress,
                                precision=trainer.precision)
            row.update({"test_loss": test["loss"], "test_accuracy": test["accuracy"], "test_sse": test["sse"]})
            if epoch == first_epoch:
                first_test_s = time.perf_counter() - test_start
        trainer.history.append(row)
        epoch_walls.append(time.perf_counter() - epoch_start)
        epoch_bar.update(1, test_acc=f"{row.get('test_accuracy', float('nan')):.3f}")
        if epoch_bar.bar is None:  # no bar drawn (progress=false, or not a terminal): one line per epoch
            left = time_left(epoch_walls, epochs - epoch - 1, clock.per_epoch(), first_test_s)
            test_part = f", test accuracy {row['test_accuracy']:.3f}" if "test_accuracy" in row else ""
            print(f"  epoch {epoch + 1}/{epochs}: train loss {row['train_loss']:.4f}, accuracy {row['train_accuracy']:.3f}"
                  f"{test_part}, {row['epoch_time_s']:.0f} s; about {_duration(left)} left", flush=True)
        save_checkpoint(checkpoint_path, trainer, data, trainer.elapsed_before + time.perf_counter() - started)
        results.write_metrics(run_dir, trainer.history)
        results.update_status(run_dir, epochs_done=epoch + 1,
                              **({} if wall_origin is None else {"wall_time_s": time.perf_counter() - wall_origin}))
        tracker.log_epoch(epoch + 1, row)
        if on_epoch is not None:
            on_epoch(epoch + 1, row)
    epoch_bar.close()
    if trainer.history and trainer.start_epoch >= epochs:  # killed after the last checkpoint, before its metrics
        results.write_metrics(run_dir, trainer.history)
        results.update_status(run_dir, epochs_done=len(trainer.history))
    final = final_metrics(trainer.history, trainer.elapsed_before + time.perf_counter() - started)
    tracker.close(final)
    note = tracking.small_sample_note(len(data.test), final.get("accuracy"))
    if note and final.get("accuracy") is not None:  # a 3-sample test set resolves accuracy in steps of 33 pp
        print(note, flush=True)
    return final
