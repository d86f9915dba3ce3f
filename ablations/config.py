"""Config helpers shared by every entry point: composing, validating, building from a config.

The configs live in ``ablations/conf`` (shipped inside the package): one group per component
(``variant``, ``dataset``, ``model``, ``train``, ``eval``, ``experiment``, ``study``). Entry points
compose them with Hydra; :func:`compose` does the same from Python (tests, studies, notebooks).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from omegaconf import DictConfig, OmegaConf, open_dict

from . import models, neurons, training
from .errors import UserError, exit_code, wants_debug  # re-exported: older callers import them from here

__all__ = ["UserError", "exit_code", "wants_debug", "compose", "neuron_spec", "build_model", "validate", "CONF_DIR", "group_options",
           "model_layers", "resolve_neuron_defaults"]

model_layers = models.layered.model_layers  # older callers import it from here

CONF_DIR = Path(__file__).parent / "conf"


def _exponential_only(value: Any, *, _parent_: Any) -> Any:
    """``${exponential_only:10.0}`` in a ``neuron`` node: the value for an exponential leak, else null.

    A paper preset states its tau once; the variants without an exponential leak (no_leak,
    complete_leak, linear_leak) have a fixed leak and take no tau.
    """
    leak = _parent_.get("leak")
    if leak is None:  # the variant's own leak (its registration is the one source)
        variant = neurons.VARIANTS.get(str(_parent_.get("variant") or "vanilla"))
        leak = variant.leak
    return value if str(leak) == "exponential" else None


if not OmegaConf.has_resolver("exponential_only"):
    OmegaConf.register_new_resolver("exponential_only", _exponential_only)


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


def neuron_spec(cfg: DictConfig, search_path: Iterable[str | Path] = ()) -> neurons.NeuronSpec:
    """The validated NeuronSpec of ``cfg.neuron`` (raises UserError with the reason). A variant YAML
    found in the package's config folder or ``search_path`` (a plugin's) that sets a physics key the
    registered variant disagrees with is refused: the registration is the one source of physics."""
    node = OmegaConf.to_container(cfg.neuron, resolve=True)
    name = str(node.get("variant") or "vanilla")
    for folder in [CONF_DIR, *search_path]:
        path = Path(str(folder).removeprefix("file://")) / "variant" / f"{name}.yaml"
        if path.is_file():
            conflicts = neurons.variant_file_conflicts(name, OmegaConf.to_container(OmegaConf.load(path)) or {})
            if conflicts:
                raise UserError(f"variant file {path} sets {'; '.join(conflicts)}: a variant's physics live in its "
                                "registration (neurons.register_variant); remove these keys from the YAML, or register "
                                "a variant of its own for the other physics")
    try:
        return neurons.spec_from_config(node)
    except ValueError as error:
        raise UserError(str(error)) from None


def build_model(cfg: DictConfig, input_shape: tuple[int, ...]):
    """The SpikingNetwork a config describes, for inputs of ``input_shape`` per time step."""
    spec = neuron_spec(cfg)
    try:
        model = models.build(cfg, spec, tuple(input_shape))
        return neurons.set_backend(model, str(cfg.neuron.get("backend") or "auto"))
    except ValueError as error:
        raise UserError(str(error)) from None


def validate(cfg: DictConfig) -> neurons.NeuronSpec:
    """Check a run config before any work; return its resolved NeuronSpec."""
    spec = neuron_spec(cfg)
    models.check_keys(cfg.model)
    train = cfg.train
    checks = [
        (int(train.epochs) >= 1, f"train.epochs={train.epochs} must be >= 1"),
        (1 <= int(train.batch_size) < 2**31, f"train.batch_size={train.batch_size} must be from 1 to {2**31 - 1}"),
        (1 <= int(train.get("eval_batch_size", 1)) < 2**31,
         f"train.eval_batch_size={train.get('eval_batch_size')} must be from 1 to {2**31 - 1}"),
        (float(train.lr) > 0, f"train.lr={train.lr} must be > 0"),
        (str(train.optimizer) in training.OPTIMIZERS,
         f"train.optimizer={train.optimizer!r} is not one of {list(training.OPTIMIZERS)}"),
        (str(train.schedule) in training.SCHEDULES,
         f"train.schedule={train.schedule!r} is not one of {list(training.SCHEDULES)}"),
        (str(train.loss) in training.LOSSES, f"train.loss={train.loss!r} is not one of {list(training.LOSSES)}"),
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
    """Write the defaults a spec filled in (tau or lam) and the label its physics give back into
    the config, for the record."""
    resolved = spec.resolved()
    with open_dict(cfg):
        cfg.neuron.tau = resolved.tau
        cfg.neuron.lam = resolved.lam
        cfg.neuron.variant = resolved.variant
        for key in neurons.PHYSICS_KEYS:  # every slot's choice, as the record shows it
            if key in cfg.neuron:
                cfg.neuron[key] = getattr(resolved, key)
