"""Random streams of a run: ``train.rng=global`` (every earlier run) or ``paired`` (common random numbers).

With ``train.rng=global`` a run draws everything from the global generators seeded once by
``seed`` before the model is built, as the package always did: its weights, then (in training
order) every Poisson draw and dropout mask. Variants with different parameters (a recurrent
matrix) shift that stream, so two variants trained with the same seed share nothing but the data
order.

With ``train.rng=paired`` every random number comes from a stream named by what it is for, so
every variant of a grid trained with ``seed=k`` sees the same numbers wherever the two share
something (common random numbers; the claims then compare paired differences):

* **weights**: every module that owns parameters (a ``nn.Linear``, ``nn.Conv2d``, ``nn.LSTM``,
  a batch norm) is re-initialised by its own ``reset_parameters`` (then ``model.init``) from a
  generator seeded by ``(seed, the module's name)`` (:func:`pair_parameters`); a layer of the
  same name and shape gets the same weights whatever else the network holds;
* **data order**: already seeded by ``(seed, epoch)`` in either mode (``training.make_loader``);
* **training draws**: batch ``i`` of epoch ``e`` encodes with a generator seeded by
  ``(seed, e, i)`` and reseeds the global generator (dropout masks) from ``(seed, e, i)`` too
  (:func:`training_batch`); a resumed run draws exactly what an uninterrupted one does, since
  every batch's numbers depend only on its position;
* **evaluation draws**: the Poisson draws of a test sample depend only on the run's seed and the
  sample itself (its pixels), not on the batch it falls in or the suite that asks
  (:func:`evaluation_draws`, :func:`ablations.data.encoders.keyed_draws`): the end-of-epoch test
  accuracy in ``status.json``, the ``clean`` suite, severity 0 of the ``noise`` suite and the
  ``neurobench`` suite see one encoded test set and agree on the clean accuracy.

``train.rng`` is part of a run's identity only at ``paired`` (``results.run_identity.IDENTITY_NEUTRAL``): every
run recorded before the key existed keeps its hash and its directory.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

__all__ = ["RNG_MODES", "derive_seed", "evaluation_draws", "mode", "pair_parameters", "paired", "prepare_model",
           "training_batch"]

RNG_MODES = ("global", "paired")


def mode(cfg: Any) -> str:
    """``cfg.train.rng`` (``global`` when the config has no such key); ValueError on another value."""
    train = cfg.get("train") if hasattr(cfg, "get") else None
    value = str(train.get("rng", "global") if train is not None and hasattr(train, "get") else "global")
    if value not in RNG_MODES:
        raise ValueError(f"train.rng={value!r} is not one of {list(RNG_MODES)}; paired gives every variant "
                         "trained with the same seed the same weights and random draws (ablations/streams.py)")
    return value


def paired(cfg: Any) -> bool:
    return mode(cfg) == "paired"


def derive_seed(*parts: Any) -> int:
    """A 63-bit seed named by ``parts`` (stable across processes and machines, unlike ``hash``)."""
    text = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little") & (2**63 - 1)


def pair_parameters(model: nn.Module, seed: int, init: str = "default") -> nn.Module:
    """Re-draw every module's parameters from a generator seeded by ``(seed, module name)``.

    Modules that own parameters directly and have ``reset_parameters`` are re-initialised by it
    (PyTorch's own initialisation, so the distributions are the ones the model had); ``init``
    ``he_normal`` is applied after, as the network builder does. A neuron whose building drew at
    random (a learned leak from ``leak_init``) is redrawn the same way; a parameter no such module
    owns keeps its value (the neurons' other constants are not random). The global generator is left as it was.
    """
    with torch.random.fork_rng(devices=[]):
        for name, module in model.named_modules():
            owns = any(True for _ in module.parameters(recurse=False)) or getattr(module, "random_state", False)
            if not owns or not hasattr(module, "reset_parameters"):
                continue
            torch.manual_seed(derive_seed(int(seed), "weights", name))
            module.reset_parameters()
            if init == "he_normal" and isinstance(module, (nn.Conv2d, nn.Linear)) and not name.endswith(".recurrent"):
                nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
        if init == "joint_recurrent":  # after every module's own draw: the rescale of network.joint_recurrent_
            from .network import joint_recurrent_

            joint_recurrent_(model)
    return model


def training_batch(cfg: Any, epoch: int, index: int, device: torch.device | str = "cpu") -> torch.Generator | None:
    """The encoder's generator for batch ``index`` of ``epoch`` (0-based), after reseeding the global
    generator (dropout masks) for that batch; ``None`` under ``train.rng=global`` (nothing changes)."""
    if not paired(cfg):
        return None
    seed = int(cfg.seed)
    torch.manual_seed(derive_seed(seed, "train-global", epoch, index))
    generator = torch.Generator(device=device)
    generator.manual_seed(derive_seed(seed, "train-encode", epoch, index))
    return generator


@contextlib.contextmanager
def evaluation_draws(cfg: Any) -> Iterator[None]:
    """Inside, under ``train.rng=paired`` (else unchanged): Poisson draws keyed by ``(seed, sample)``,
    and the global generator (a random initial state, ``neuron.init_state=uniform``) seeded by the run's
    seed alone, its state outside restored: an evaluation draws the same numbers each time it runs, and
    two evaluations of one test set in the same batches (the end-of-epoch test, the clean suite at
    ``train.eval_batch_size``) report the same accuracy. Training is untouched (it reseeds the global
    generator per batch: :func:`training_batch`)."""
    if cfg is None or not paired(cfg):
        yield
        return
    from .data.encoders import keyed_draws

    with torch.random.fork_rng(), keyed_draws(derive_seed(int(cfg.seed), "evaluate")):
        torch.manual_seed(derive_seed(int(cfg.seed), "evaluate-global"))
        yield


def prepare_model(cfg: Any, model: nn.Module) -> nn.Module:
    """Check ``train.rng`` (a UserError names the values) and, under ``paired``, re-draw the weights
    (:func:`pair_parameters` with ``model.init``); under ``global`` the model is left as built."""
    from .errors import UserError

    try:
        paired_run = paired(cfg)
    except ValueError as error:
        raise UserError(str(error)) from None
    if paired_run:
        model_cfg = cfg.get("model") or {}
        pair_parameters(model, int(cfg.seed), str(model_cfg.get("init", "default") or "default"))
    return model
