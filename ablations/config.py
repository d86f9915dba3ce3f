"""Config helpers shared by every entry point: composing, validating, building from a config.

The configs live in ``ablations/conf`` (shipped inside the package): one group per component
(``variant``, ``dataset``, ``model``, ``train``, ``eval``, ``experiment``, ``study``). Entry points
compose them with Hydra; :func:`compose` does the same from Python (tests, studies, notebooks).
"""

from __future__ import annotations

import importlib
import math
from pathlib import Path
from typing import Any, Iterable

from omegaconf import DictConfig, OmegaConf, open_dict

from . import neurons
from .errors import UserError, exit_code, wants_debug  # re-exported: older callers import them from here

__all__ = ["UserError", "exit_code", "wants_debug", "compose", "neuron_spec", "build_model", "validate", "CONF_DIR", "group_options"]

CONF_DIR = Path(__file__).parent / "conf"




def group_options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def compose(overrides: Iterable[str] = (), config_name: str = "config") -> DictConfig:
    """The resolved run config for Hydra-style ``overrides`` (``["variant=no_reset"]``)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = hydra_compose(config_name=config_name, overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as error:
        raise UserError(f"{error}\nSee `python -m ablations.run --help` for the groups and their options.") from error
    finally:
        GlobalHydra.instance().clear()
    return cfg


def _float_or_none(value: Any, key: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, str) and value.lower() in ("inf", "+inf", "infinity"):
        return math.inf
    try:
        return float(value)
    except (TypeError, ValueError):
        raise UserError(f"{key}={value!r} is not a number") from None


def neuron_spec(cfg: DictConfig) -> neurons.NeuronSpec:
    """The validated NeuronSpec of ``cfg.neuron`` (raises UserError with the reason)."""
    node = cfg.neuron
    surrogate = OmegaConf.to_container(node.surrogate, resolve=True) if "surrogate" in node else {"name": "atan"}
    name = str(surrogate.pop("name", "atan"))
    # the chosen surrogate's own parameters; straight_through's threshold is the neuron's
    allowed = set(neurons.SURROGATE_PARAMETERS.get(name, ())) - {"threshold"}
    params = {k: float(v) for k, v in surrogate.items() if k in allowed and v is not None}
    try:
        return neurons.NeuronSpec(
            leak=str(node.leak),
            tau=_float_or_none(node.get("tau"), "neuron.tau"),
            beta=_float_or_none(node.get("beta"), "neuron.beta"),
            lam=_float_or_none(node.get("lam"), "neuron.lam"),
            reset=str(node.reset),
            recurrent=bool(node.recurrent),
            threshold=float(node.threshold),
            surrogate=name,
            surrogate_params=params,
            learn_beta=bool(node.get("learn_beta", False)),
            variant=str(node.variant),
        )
    except ValueError as error:
        raise UserError(str(error)) from None


def model_layers(cfg: DictConfig) -> str:
    layers = cfg.model.get("layers") or cfg.dataset.get("layers")
    if not layers:
        raise UserError(f"model {cfg.model.name!r} has no layers and dataset {cfg.dataset.name!r} no default; "
                        "set model.layers='...' (e.g. '64-128FC-10')")
    return str(layers)


def build_model(cfg: DictConfig, input_shape: tuple[int, ...]):
    """The SpikingNetwork a config describes, for inputs of ``input_shape`` per time step."""
    spec = neuron_spec(cfg)
    # the layer-string builder unless the model names its own (e.g. the ResNet)
    builder = str(cfg.model.get("builder") or "ablations.models.layered:build")
    module_name, function = builder.split(":")
    try:
        model = getattr(importlib.import_module(module_name), function)(cfg, spec, tuple(input_shape))
        return neurons.set_backend(model, str(cfg.neuron.get("backend") or "auto"))
    except ValueError as error:
        raise UserError(str(error)) from None


def validate(cfg: DictConfig) -> neurons.NeuronSpec:
    """Check a run config before any work; return its resolved NeuronSpec."""
    spec = neuron_spec(cfg)
    train = cfg.train
    checks = [
        (int(train.epochs) >= 1, f"train.epochs={train.epochs} must be >= 1"),
        (int(train.batch_size) >= 1, f"train.batch_size={train.batch_size} must be >= 1"),
        (float(train.lr) > 0, f"train.lr={train.lr} must be > 0"),
        (str(train.optimizer) in ("adam", "sgd"), f"train.optimizer={train.optimizer!r} is not one of ['adam', 'sgd']"),
        (str(train.schedule) in ("none", "step", "multistep", "cosine"),
         f"train.schedule={train.schedule!r} is not one of ['none', 'step', 'multistep', 'cosine']"),
        (str(train.loss) in ("mse_onehot", "ce_rate", "ce_mem"),
         f"train.loss={train.loss!r} is not one of ['mse_onehot', 'ce_rate', 'ce_mem']"),
        (str(cfg.device) in ("auto", "cpu", "cuda") or str(cfg.device).startswith("cuda:"),
         f"device={cfg.device!r} is not one of ['auto', 'cpu', 'cuda', 'cuda:N']"),
        (int(cfg.dataset.steps) >= 1 if cfg.dataset.get("steps") is not None else True,
         f"dataset.steps={cfg.dataset.get('steps')} must be >= 1"),
    ]
    for ok, message in checks:
        if not ok:
            raise UserError(message)
    if str(cfg.device).startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise UserError(f"device={cfg.device} was asked for but no CUDA device is available; use device=auto or cpu")
    return spec


def resolve_neuron_defaults(cfg: DictConfig, spec: neurons.NeuronSpec) -> None:
    """Write the defaults a spec filled in (tau or lam) back into the config, for the record."""
    resolved = spec.resolved()
    with open_dict(cfg):
        cfg.neuron.tau = resolved.tau
        cfg.neuron.lam = resolved.lam
