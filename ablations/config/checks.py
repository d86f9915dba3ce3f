"""The one check pass: from command-line overrides to a validated, resolved run config and its
neuron spec, before anything is written. Every entry point (``run``, ``evaluate``, ``study``,
``reproduce``) goes through :func:`check`; each rule below runs once per call and is declared by
the reader of its keys (model builders: ``models.MODELS``; losses, optimizers and schedules:
``training.CHOICES``; neuron components and surrogates: ``neurons``; suites: ``evaluation.SUITES``):

1. a group of another command is refused (:func:`.keys.check_groups`);
2. the overrides are composed once with Hydra (:func:`.compose.compose`); a ``+key=value`` is
   checked against the config composed without it (:func:`.keys.check_known`) and then added;
3. the plugins the config lists are imported, their paths made absolute for the record;
4. what would change nothing is refused (:func:`.keys.check_read`): a ``train.*`` key the chosen
   loss / optimizer / schedule / precision does not read, an ``eval.<suite>`` parameter of a suite
   not evaluated or not read on this kind of data;
5. every value is validated (:func:`validate_values`): the neuron spec, the model keys, numbers,
   names, the suites for the data kind; then the folders (``paths.runs``);
6. the defaults the neuron spec filled in (tau, lam, the variant label) are written into the config.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from .. import evaluation, models, neurons, results, training
from ..errors import UserError
from ..registry import load_plugins
from . import keys as override_keys
from .compose import CONF_DIR, compose, group_folders

__all__ = ["Checked", "check", "load", "neuron_spec", "build_model", "validate", "validate_values",
           "resolve_neuron_defaults", "check_paths", "RUN_NODES"]

# the nodes of a run config that hold keys (a value in their place replaces all of them)
RUN_NODES = ("neuron", "train", "dataset", "model", "eval", "paths")


@dataclass(frozen=True)
class Checked:
    """What the check pass returns: the resolved config (a copy), its neuron spec, and the suites
    it evaluates (``None`` where the data kind is known only once the data are built)."""

    cfg: DictConfig
    spec: neurons.NeuronSpec
    suites: list[str] | None


def _adds(parsed: list[override_keys.Override]) -> list[override_keys.Override]:
    """The ``+key=value`` / ``++key=value`` overrides of keys (not groups, not Hydra's own)."""
    folders = group_folders(parsed)
    return [o for o in parsed if o.add and not o.is_hydra and o.value is not None
            and not any((folder / o.key).is_dir() for folder in folders)]


def _apply_adds(cfg: DictConfig, adds: list[override_keys.Override]) -> None:
    """Add ``+key=value`` as Hydra would (its grammar types the value): ``+`` on a key that holds a
    value is refused as Hydra refuses it, ``++`` sets it either way."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    with open_dict(cfg):
        for override in adds:
            value = parser.parse_overrides([override.text])[0].value()
            if not override.text.startswith("++") and OmegaConf.select(cfg, override.key, default=None) is not None:
                raise UserError(f"{override.text}: {override.key} is already in the config; set it without the + "
                                f"({override.text.lstrip('+')}), or with ++ to add or override it")
            OmegaConf.update(cfg, override.key, value, merge=True, force_add=True)


def check(overrides: Iterable[str] = (), cfg: DictConfig | None = None) -> Checked:
    """The module docstring's steps for command-line ``overrides``; ``cfg`` is the config already
    composed from them (Hydra's own ``main``, a study), else it is composed here. Works on a copy."""
    overrides = [str(o) for o in overrides]
    parsed = override_keys.parse(overrides)
    override_keys.check_groups(parsed, group_folders(parsed))
    adds = _adds(parsed)
    if adds:  # the config without them is the schema the added keys are judged against
        base = compose([o.text for o in parsed if o not in adds])
        load_plugins(list(base.get("plugins") or []))  # a plugin's suites and models declare keys too
        override_keys.check_known(adds, set(RUN_NODES) | set(override_keys.RUN_GROUPS), base)
        if cfg is None:
            cfg = base
            _apply_adds(cfg, adds)
        else:
            cfg = cfg.copy()
    else:
        cfg = compose(overrides) if cfg is None else cfg.copy()
    plugins = list(cfg.get("plugins") or [])
    load_plugins(plugins)
    with open_dict(cfg):
        cfg.plugins = [str(Path(p).expanduser().resolve()) if str(p).endswith(".py") else str(p) for p in plugins]
    for node in RUN_NODES:
        if not isinstance(cfg.get(node), DictConfig):
            raise UserError(f"{node}={cfg.get(node)!r} replaces the whole {node} settings with a value; set one "
                            f"of its keys instead ({node}.<key>=VALUE; `python -m ablations.run --cfg job` lists them)")
    try:
        train_keys = training.keys_read(cfg.train)  # an unknown loss, optimizer or schedule names the valid ones
        kind = cfg.dataset.get("kind")
        suites = evaluation.check(cfg, str(kind)) if kind is not None else None
        override_keys.check_read(parsed, cfg, train_keys, suites)
        spec = validate_values(cfg, group_folders(parsed)[1:], train_keys)
        resolve_neuron_defaults(cfg, spec)
        check_paths(cfg)
        results.run_dir_for(cfg)  # a dataset, model or variant name that cannot name a folder fails now
    except OmegaConfBaseException as error:  # e.g. an interpolation ${...} that resolves to nothing
        raise UserError(f"the config cannot be resolved: {str(error).splitlines()[0]}") from None
    except (TypeError, ValueError, OverflowError) as error:  # int('abc'), int(1e400) in the checks
        raise UserError(f"an override has a value of the wrong type or range ({error}); see "
                        "`python -m ablations.run --help` for the keys and their defaults") from None
    return Checked(cfg, spec, suites)


def load(overrides: Iterable[str] = (), cfg: DictConfig | None = None) -> DictConfig:
    """The validated, resolved run config of ``overrides`` (:func:`check`'s config)."""
    return check(overrides, cfg).cfg


def check_paths(cfg: DictConfig) -> None:
    """``paths.runs`` must be a folder this process can make and write: its nearest existing part
    is a folder with write access (the run folder itself is made later, under the run lock, which
    answers for what only trying can tell, e.g. ``/proc``)."""
    value = str(cfg.paths.runs or "").strip()
    if not value:  # Path("") is the working directory: run folders would land wherever the command runs
        raise UserError(f"paths.runs={cfg.paths.runs!r} is empty; set it to the folder for run records (default: runs)")
    path = Path(value).expanduser()
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"paths.runs={value}: {existing} is not a folder, so no run folder can be made under it; "
                        "set paths.runs to a folder you can write to")
    if not os.access(existing, os.W_OK | os.X_OK):
        read_only = bool(os.statvfs(existing).f_flag & os.ST_RDONLY)
        why = "is on a read-only file system" if read_only else "is not writable by this user"
        raise UserError(f"paths.runs={value}: {existing} {why}; set paths.runs to a folder you can write to")


def neuron_spec(cfg: DictConfig, search_path: Iterable[str | Path] = ()) -> neurons.NeuronSpec:
    """The validated NeuronSpec of ``cfg.neuron`` (raises UserError with the reason). A variant YAML
    found in the package's config folder or ``search_path`` (a plugin's) that sets a physics key the
    registered variant disagrees with is refused: the registration is the one source of physics."""
    node = OmegaConf.to_container(cfg.neuron, resolve=True)
    if models.builder_of(cfg.model) == "import":  # the keys left to the user's neurons (value `model`)
        node = models.imported.without_as_written(node)
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
    try:
        return models.build_model(cfg, tuple(input_shape), neuron_spec(cfg))
    except ValueError as error:
        raise UserError(str(error)) from None


def validate_values(cfg: DictConfig, search_path: Iterable[str | Path] = (),
                    train_keys: dict[str, str] | None = None) -> neurons.NeuronSpec:
    """Check every value of a run config; return its resolved NeuronSpec (``search_path``: the
    config folders a plugin adds, whose variant files are checked too; ``train_keys``: what
    :func:`ablations.training.keys_read` gave, when the caller has it)."""
    spec = neuron_spec(cfg, search_path)
    models.check_keys(cfg.model)
    train = cfg.train
    checks = [
        (int(train.epochs) >= 1, f"train.epochs={train.epochs} must be >= 1"),
        (1 <= int(train.batch_size) < 2**31, f"train.batch_size={train.batch_size} must be from 1 to {2**31 - 1}"),
        (1 <= int(train.get("eval_batch_size", 1)) < 2**31,
         f"train.eval_batch_size={train.get('eval_batch_size')} must be from 1 to {2**31 - 1}"),
        (float(train.lr) > 0, f"train.lr={train.lr} must be > 0"),
        (str(train.loss) != "nll_steps" or cfg.model.get("readout") == "integrator_softmax",
         f"train.loss=nll_steps needs model.readout=integrator_softmax (per-step log-probabilities), not "
         f"{cfg.model.get('readout')!r}; use train.loss=ce_mem or ce_rate with this readout"),
        (str(cfg.device) in ("auto", "cpu", "cuda") or str(cfg.device).startswith("cuda:"),
         f"device={cfg.device!r} is not one of ['auto', 'cpu', 'cuda', 'cuda:N']"),
        (int(cfg.dataset.steps) >= 1 if cfg.dataset.get("steps") is not None else True,
         f"dataset.steps={cfg.dataset.get('steps')} must be >= 1"),
        (train.get("grad_clip") is None or float(train.grad_clip) > 0,
         f"train.grad_clip={train.get('grad_clip')} must be > 0 (the largest gradient norm; null = no clipping)"),
        (train.get("max_batches") is None or int(train.max_batches) >= 1,
         f"train.max_batches={train.get('max_batches')} must be >= 1 (or null for every batch); "
         "0 batches would train nothing and record a run at chance"),
        (train.get("precision") is None or str(train.precision) in training.PRECISIONS,
         f"train.precision={train.get('precision')!r} is not one of {list(training.PRECISIONS)} (or null)"),
        (0 <= int(cfg.seed) < 2**31,  # numpy and the per-epoch data-order seeds need a non-negative 32-bit int
         f"seed={cfg.seed} must be an integer from 0 to {2**31 - 1}"),
    ]
    for ok, message in checks:
        if not ok:
            raise UserError(message)
    if train_keys is None:
        training.keys_read(train)  # an unknown loss, optimizer or schedule names the valid ones
    training.training_loss(str(train.loss), str(train.get("loss_reduction", "half_mean")))
    if str(cfg.device).startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise UserError(f"device={cfg.device} was asked for but no CUDA device is available; use device=auto or cpu")
    return spec


def validate(cfg: DictConfig, search_path: Iterable[str | Path] = ()) -> neurons.NeuronSpec:
    """Check every value of a composed config and its suites (no overrides to judge); return its spec."""
    spec = validate_values(cfg, search_path)
    if cfg.eval.get("suites") and cfg.dataset.get("kind") is not None:
        evaluation.check(cfg, str(cfg.dataset.kind))  # a misspelled or inapplicable suite fails now
    return spec


def resolve_neuron_defaults(cfg: DictConfig, spec: neurons.NeuronSpec) -> None:
    """Write the defaults a spec filled in (tau or lam) and the label its physics give back into
    the config, for the record."""
    resolved = spec.resolved()
    kept = models.imported.as_written_keys(cfg.neuron)  # model=import: left to the user's neurons
    if resolved.reset == "none":
        kept.discard("reset")  # a variant without reset (no_reset): the record says none, as it runs
    with open_dict(cfg):
        cfg.neuron.tau = cfg.neuron.tau if "tau" in kept else resolved.tau
        cfg.neuron.lam = resolved.lam
        cfg.neuron.variant = resolved.variant
        for key in neurons.PHYSICS_KEYS:  # every slot's choice, as the record shows it
            if key in cfg.neuron and key not in kept:
                cfg.neuron[key] = getattr(resolved, key)
        for slot in neurons.SLOTS.values():  # a plugin's slots: where chosen (other runs' identities stay)
            if slot.key not in neurons.PHYSICS_KEYS:
                choice = dict(resolved.extra).get(slot.name, slot.default)
                if choice != slot.default or slot.key in cfg.neuron:
                    cfg.neuron[slot.key] = choice
