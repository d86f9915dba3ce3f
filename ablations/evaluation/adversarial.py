r"""``adversarial`` suite: gradient attacks through the surrogate gradient, over all time steps.

Static (image) data: FGSM, PGD and APGD (L-inf), from ``torchattacks``
-----------------------------------------------------------------------
The attacks act on the raw pixels ``u in [0, 1]``, so ``epsilon`` is in pixel units (8/255 =
0.031 is the usual CIFAR-10 budget). :class:`EOTModel` wraps the data's normalisation, the
encoder and the network into the pixel-to-logits model ``torchattacks`` expects: it normalises
``u`` as the dataset does (``normalize: unit`` keeps it; ``zero_mean`` shifts each image to zero
mean and divides by its largest absolute value, seed 003), draws ``eot_samples`` encoder samples
per image in one batch and returns the network outputs averaged over them (expectation over
transformation, EOT). The adversarial image is normalised the same way before it is classified.
The raw image of a ``zero_mean`` sample is recovered as its per-image min-max rescale to [0, 1]
(the normalisation is invariant to a per-image affine map, so this image normalises back to the
stored one exactly; for an image whose raw pixels did not span [0, 1] the budget is relative to
its own contrast). The Poisson coder's comparison ``H(r(x) - X)`` has zero gradient, so the
wrapper passes the gradient of its expectation, ``d E[s] / d x = d r(x) / d x``, straight through
(``s = H(r - X) + r - stop(r)``): stochastic coding cannot mask the gradient, and the gradient
reaches every time step of the network by BPTT through the surrogate.

Attacks (``attacks``): ``fgsm``; ``pgd`` at every step count in ``pgd_steps`` (step size
``pgd_step_factor * epsilon / steps``, random start; rows carry ``steps``, so a reader sees
whether more steps still lower the accuracy: short PGD through one fixed surrogate is known to
overestimate SNN robustness); ``apgd`` (``torchattacks.APGD``, Croce & Hein 2020, cross-entropy,
``max(pgd_steps)`` steps): step sizes adapted from the loss, so it does not depend on a
hand-set step size for the surrogate's gradient scale; ``random_control`` adds
``epsilon * sign(U(-1, 1))`` per pixel (the same L-inf budget in a random direction). Every
attacked (and clean) batch is then classified once with the encoder draws of that batch (the
same draws for every attack and epsilon), so ``epsilon = 0`` rows equal the clean accuracy.

Rows: ``accuracy`` per (``attack``, ``epsilon``, ``steps``), and ``attack = min_over_attacks``:
the share of samples that every attack run (every step count) left correctly classified, the
per-sample worst case, at most the lowest single-attack accuracy.

Event and generated spike data: spike-valued attack (seed 001 Fig. 8-9)
-----------------------------------------------------------------------
The input is already spikes, and an attack must keep it spike-valued. After Liang et al. 2020
("Exploring adversarial attack in spiking neural networks with spike-compatible gradient"),
each iteration takes the gradient of the run's training loss with respect to the input spikes
``[T, ...]`` (BPTT through the surrogate) and turns it into a ternary perturbation
(gradient-to-spike): ``delta = sign(g) * Bernoulli(|g| / max|g|)`` per sample; entries that
would leave the spike range (a ``+1`` on a spike of a binary input, a ``-1`` on a zero) are
dropped. When a sample's gradient vanishes (or nothing is left to flip), a random
``flip_rate`` share of its entries is flipped instead. The attack runs on the correctly classified samples and iterates for each sample until it is
misclassified, within a stated budget of ``max_iterations`` iterations (``budget`` column on
every row; success below 100 % means the budget ran out for some samples). Rows (``attack`` =
``g2s``): ``attack_success_rate`` (misclassified at the end / attacked), ``mean_iterations`` (per
successful sample), the L2 size of the perturbation in two normalisations, each row
carrying the success rate (``success_rate``) and its normalisation (``l2_normalisation``):
``mean_l2_perturbation`` (``rms_per_entry``) = ``||s_adv - s||_2 / sqrt(N)``, ``N = T x`` input
entries per step, the root-mean-square change per entry (the scale of seed 001 Fig. 9's values,
0.008-0.097), and ``mean_l2_norm`` (``none``) = the plain ``||s_adv - s||_2`` (for binary spikes
the square root of the number of flipped entries). Seed 001 does not state its
normalisation, and the material here does not show which one Liang et al. use; both are kept.
Both average the *successful* samples only. ``mean_flipped_spikes`` (changed entries per
successful sample), ``accuracy`` (after the attack, over all samples) and, with ``attack`` =
``none``, the clean ``accuracy``.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import torch
from torch import nn

from .. import tracking
from ..errors import UserError
from ..data.bundle import DataBundle
from ..data.encoders import DirectEncoder, Encoder, PoissonEncoder
from ..training import loss_function
from .common import batch_generator, device_of, loss_name, params, test_loader, tidy

__all__ = ["adversarial", "EOTModel", "PixelNormalize", "differentiable_encode", "spike_attack", "STATIC_ATTACKS"]

STATIC_ATTACKS = ("fgsm", "pgd", "apgd", "random_control")


def differentiable_encode(encoder: Encoder, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Encode ``x [B, ...]`` into ``[T, B, ...]`` with the gradient of the encoder's expectation."""
    if isinstance(encoder, DirectEncoder):
        return encoder(x)
    if not isinstance(encoder, PoissonEncoder):
        raise UserError(f"pixel attacks need a Poisson or direct encoder, not {encoder!r}")
    rates = encoder.rates(x)
    draws = torch.rand((encoder.steps, *x.shape), generator=generator, device=x.device, dtype=x.dtype)
    hard = (rates.unsqueeze(0) > draws).to(x.dtype)
    spikes = hard + (rates - rates.detach()).unsqueeze(0)
    return spikes * torch.sign(x).detach().unsqueeze(0) if encoder.signed else spikes


class PixelNormalize(nn.Module):
    """The dataset's per-image normalisation as a differentiable map of raw pixels ``u in [0, 1]``."""

    def __init__(self, mode: str = "unit"):
        super().__init__()
        if mode not in ("unit", "zero_mean"):
            raise UserError(f"dataset.normalize={mode!r}: pixel attacks know 'unit' and 'zero_mean'")
        self.mode = mode

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        if self.mode == "unit":
            return u
        dims = tuple(range(1, u.dim()))
        centred = u - u.mean(dim=dims, keepdim=True)
        return centred / centred.abs().amax(dim=dims, keepdim=True).clamp_min(1e-8)

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        """Raw pixels in [0, 1] whose normalisation is ``x`` (see the module docstring)."""
        if self.mode == "unit":
            return x.clamp(0.0, 1.0)
        dims = tuple(range(1, x.dim()))
        low = x.amin(dim=dims, keepdim=True)
        return (x - low) / (x.amax(dim=dims, keepdim=True) - low).clamp_min(1e-8)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"


class EOTModel(nn.Module):
    """Raw pixels ``u in [0, 1]`` -> normalised -> network outputs averaged over ``eot_samples`` encoder samples."""

    def __init__(self, network: nn.Module, encoder: Encoder, normalize: PixelNormalize | None = None,
                 eot_samples: int = 4, generator: torch.Generator | None = None):
        super().__init__()
        if int(eot_samples) < 1:
            raise UserError(f"eval.adversarial.eot_samples={eot_samples} must be >= 1")
        self.network = network
        self.encoder = encoder
        self.normalize = normalize if normalize is not None else PixelNormalize("unit")
        self.eot_samples = int(eot_samples)
        self.generator = generator

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        x = self.normalize(u)
        batch = x.shape[0]
        repeated = x.repeat(self.eot_samples, *([1] * (x.dim() - 1)))
        out = self.network(differentiable_encode(self.encoder, repeated, self.generator))
        return out.view(self.eot_samples, batch, -1).mean(0)

    def extra_repr(self) -> str:
        return f"eot_samples={self.eot_samples}"


def _step_counts(value: Any) -> list[int]:
    try:
        counts = [int(v) for v in ([value] if isinstance(value, (int, float, str)) else list(value))]
    except (TypeError, ValueError):
        counts = []
    if not counts or any(c < 1 for c in counts):
        raise UserError(f"eval.adversarial.pgd_steps={value} must be a step count >= 1 or a list of them, e.g. [10, 50]")
    return sorted(set(counts))


def _static(model: nn.Module, data: DataBundle, cfg: Any, p: Any) -> list[dict]:
    import torchattacks

    attacks = [str(a) for a in p.attacks]
    for attack in attacks:
        if attack not in STATIC_ATTACKS:
            raise UserError(f"eval.adversarial.attacks: {attack!r} is not one of {list(STATIC_ATTACKS)}")
    epsilons = [float(e) for e in p.epsilons]
    if any(e < 0 for e in epsilons):
        raise UserError(f"eval.adversarial.epsilons={epsilons} must be >= 0")
    step_counts = _step_counts(p.pgd_steps)
    device = device_of(model)
    seed = int(p.seed)
    loader = test_loader(data, p.n_samples, seed, int(p.batch_size))
    normalize = PixelNormalize(str(cfg.dataset.get("normalize", "unit") if hasattr(cfg, "dataset") else "unit"))
    wrapper = EOTModel(model, data.encoder, normalize, int(p.eot_samples))
    runs: list[tuple[str, int]] = []  # (attack, steps)
    for attack in attacks:
        if attack == "pgd":
            runs += [("pgd", steps) for steps in step_counts]
        else:
            runs.append((attack, {"fgsm": 1, "apgd": max(step_counts), "random_control": 0}[attack]))
    correct = {(a, n, e): 0 for a, n in runs for e in epsilons}
    worst = {e: 0 for e in epsilons}
    total = 0
    devices = [device] if device.type == "cuda" else []
    progress = tracking.Progress("eval adversarial", total=len(loader) * len(epsilons) * len(runs), unit="attack",
                                 enabled=tracking.progress_enabled(cfg))
    for index, (x, y) in enumerate(loader):
        x, y = x.to(device), y.to(device)
        u = normalize.raw(x)
        wrapper.generator = batch_generator(seed + 7919, index, device)
        for epsilon in epsilons:
            robust = torch.ones_like(y, dtype=torch.bool)
            for attack, steps in runs:
                if epsilon == 0.0 and attack != "fgsm":
                    adv = u  # what PGD, APGD and the control return at epsilon 0 (FGSM runs: a check)
                elif attack == "random_control":
                    noise_generator = batch_generator(seed + 104729, index, device)
                    direction = torch.rand(u.shape, generator=noise_generator, device=device, dtype=u.dtype) - 0.5
                    adv = (u + epsilon * torch.sign(direction)).clamp(0.0, 1.0)
                else:
                    with torch.random.fork_rng(devices=devices):
                        torch.manual_seed(seed * 1_000_003 + index)
                        if attack == "fgsm":
                            method = torchattacks.FGSM(wrapper, eps=epsilon)
                        elif attack == "pgd":
                            alpha = float(p.pgd_step_factor) * epsilon / steps
                            method = torchattacks.PGD(wrapper, eps=epsilon, alpha=alpha, steps=steps, random_start=True)
                        else:
                            method = torchattacks.APGD(wrapper, norm="Linf", eps=epsilon, steps=steps, n_restarts=1,
                                                       loss="ce", seed=seed)
                        adv = method(u, y)
                with torch.no_grad():
                    inputs = data.encoder(normalize(adv), generator=batch_generator(seed, index, device))
                    right = model(inputs).argmax(1) == y
                correct[(attack, steps, epsilon)] += int(right.sum())
                robust &= right
                progress.update(1, batch=f"{index + 1}/{len(loader)}", epsilon=f"{epsilon:g}",
                                attack=attack if attack != "pgd" else f"pgd-{steps}")
            worst[epsilon] += int(robust.sum())
        total += len(y)
    progress.close()
    rows = [{"metric": "accuracy", "value": count / total, "attack": attack, "steps": steps, "epsilon": epsilon,
             "eot_samples": int(p.eot_samples)} for (attack, steps, epsilon), count in correct.items()]
    rows += [{"metric": "accuracy", "value": count / total, "attack": "min_over_attacks", "epsilon": epsilon,
              "eot_samples": int(p.eot_samples)} for epsilon, count in worst.items()]
    return rows


def g2s(grad: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Gradient-to-spike: ternary ``sign(g) * Bernoulli(|g| / max|g|)``, per sample (dim 1 is the batch)."""
    magnitude = grad.abs()
    peak = magnitude.transpose(0, 1).reshape(grad.shape[1], -1).amax(1)
    shape = [1, grad.shape[1]] + [1] * (grad.dim() - 2)
    probability = magnitude / peak.clamp_min(torch.finfo(grad.dtype).tiny).view(shape)
    draws = torch.rand(grad.shape, generator=generator, device=grad.device, dtype=grad.dtype)
    return torch.sign(grad) * (draws < probability).to(grad.dtype)


def spike_attack(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, loss: str, max_iterations: int,
                 flip_rate: float, generator: torch.Generator | None = None) -> dict[str, Any]:
    """Spike-valued attack on time-major ``inputs [T, B, ...]``; see the module docstring.

    Returns the adversarial inputs and per-sample tensors: ``attacked`` (correct before),
    ``success`` (attacked and misclassified after), ``correct_after``, ``iterations`` (iterations
    a successful sample took; 0 otherwise).
    """
    loss_fn = loss_function(loss)
    steps = inputs.shape[0]
    binary = bool(((inputs == 0) | (inputs == 1)).all())
    adv = inputs.detach().clone()
    with torch.no_grad():
        attacked = model(adv).argmax(1) == labels
    active = attacked.clone()
    success = torch.zeros_like(attacked)
    iterations = torch.zeros(attacked.shape, dtype=torch.long, device=attacked.device)
    if int(max_iterations) < 1:
        raise UserError(f"eval.adversarial.max_iterations={max_iterations} must be >= 1 (the attack's iteration budget)")
    for iteration in range(int(max_iterations)):
        if not bool(active.any()):
            break
        where = active.nonzero().squeeze(1)
        current = adv[:, where]
        probe = current.clone().requires_grad_(True)
        with torch.enable_grad():
            cost = loss_fn(model(probe).float(), labels[where], steps)
            grad = torch.autograd.grad(cost, probe)[0]
        delta = g2s(grad, generator)
        if binary:
            delta = torch.where((delta > 0) & (current >= 1), torch.zeros_like(delta), delta)
        delta = torch.where((delta < 0) & (current <= 0), torch.zeros_like(delta), delta)
        empty = delta.transpose(0, 1).reshape(len(where), -1).abs().sum(1) == 0
        if bool(empty.any()):
            flips = torch.rand(current.shape, generator=generator, device=current.device) < float(flip_rate)
            flips &= empty.view([1, -1] + [1] * (current.dim() - 2))
            toggled = torch.where(current > 0, -torch.ones_like(current), torch.ones_like(current))
            delta = torch.where(flips, toggled, delta)
        adv[:, where] = current + delta
        with torch.no_grad():
            fooled = model(adv[:, where]).argmax(1) != labels[where]
        success[where[fooled]] = True
        iterations[where[fooled]] = iteration + 1
        active[where[fooled]] = False
    with torch.no_grad():
        correct_after = model(adv).argmax(1) == labels
    return {"adversarial": adv, "attacked": attacked, "success": success, "correct_after": correct_after,
            "iterations": iterations}


def _spikes(model: nn.Module, data: DataBundle, cfg: Any, p: Any) -> list[dict]:
    device = device_of(model)
    seed = int(p.seed)
    if not 0.0 <= float(p.flip_rate) <= 1.0:
        raise UserError(f"eval.adversarial.flip_rate={p.flip_rate} must lie in [0, 1]")
    loader = test_loader(data, p.n_samples, seed, int(p.batch_size))
    total, clean_correct, after_correct, attacked, successes = 0, 0, 0, 0, 0
    l2_sum, l2_raw_sum, flips_sum, iterations_sum = 0.0, 0.0, 0.0, 0.0
    progress = tracking.Progress("eval adversarial (g2s)", total=len(loader), unit="batch",
                                 enabled=tracking.progress_enabled(cfg))
    for index, (x, y) in enumerate(loader):
        x, y = x.to(device), y.to(device)
        generator = batch_generator(seed, index, device)
        inputs = data.encoder(x, generator=generator)
        out = spike_attack(model, inputs, y, loss_name(cfg), int(p.max_iterations), float(p.flip_rate), generator)
        change = (out["adversarial"] - inputs).transpose(0, 1).reshape(len(y), -1)
        won = out["success"]
        entries = change.shape[1]
        l2_sum += float((change[won].norm(dim=1) / math.sqrt(entries)).sum())
        l2_raw_sum += float(change[won].norm(dim=1).sum())
        iterations_sum += float(out["iterations"][won].sum())
        flips_sum += float((change[won] != 0).sum())
        successes += int(won.sum())
        attacked += int(out["attacked"].sum())
        clean_correct += int(out["attacked"].sum())
        after_correct += int(out["correct_after"].sum())
        total += len(y)
        progress.update(1, success=f"{successes}/{attacked}")
    progress.close()
    nan = float("nan")
    budget = int(p.max_iterations)
    rate = successes / attacked if attacked else nan

    def per_success(value: float) -> float:
        return value / successes if successes else nan

    g2s_rows = [
        {"metric": "accuracy", "value": after_correct / total},
        {"metric": "attack_success_rate", "value": rate},
        {"metric": "mean_iterations", "value": per_success(iterations_sum)},
        {"metric": "mean_l2_perturbation", "value": per_success(l2_sum), "l2_normalisation": "rms_per_entry"},
        {"metric": "mean_l2_norm", "value": per_success(l2_raw_sum), "l2_normalisation": "none"},
        {"metric": "mean_flipped_spikes", "value": per_success(flips_sum)},
    ]
    return [{"metric": "accuracy", "value": clean_correct / total, "attack": "none"}] + [
        {**row, "attack": "g2s", "budget": budget, "success_rate": rate, "n_attacked": attacked} for row in g2s_rows]


def adversarial(model: nn.Module, data: DataBundle, cfg: Any) -> pd.DataFrame:
    p = params(cfg, "adversarial")
    was_training = model.training
    model.eval()
    try:
        rows = _static(model, data, cfg, p) if data.kind == "static" else _spikes(model, data, cfg, p)
    finally:
        model.train(was_training)
    return tidy(rows, "adversarial")
