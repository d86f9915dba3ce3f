"""From the command line to the config a run uses: compose, check, resolve; build from a config.

The configs live in ``ablations/conf`` (shipped inside the package): one group per component
(``variant``, ``dataset``, ``model``, ``train``, ``eval``, ``experiment``; ``study`` and
``reproduce`` belong to their own commands). :func:`load` is the one way from overrides to a
validated, resolved run config, before anything is written:

1. compose the overrides with Hydra (:func:`compose`; a key Hydra refuses is answered with "did you
   mean ...");
2. import the plugins the config lists (``plugins``), their paths made absolute for the record;
3. refuse what would change nothing (:mod:`ablations.overrides`): a key the config schema does not
   have, a ``train.*`` key the chosen loss / optimizer / schedule / precision does not read, an
   ``eval.<suite>`` parameter of a suite not evaluated or not read on this kind of data;
4. validate every value (:func:`validate`) and the folders (``paths.runs``);
5. write the defaults the neuron spec filled in (tau, lam, the variant label) into the config.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterable

from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from . import evaluation, models, neurons, overrides as override_checks, results, training
from .errors import UserError, exit_code, wants_debug  # re-exported: older callers import them from here
from .registry import load_plugins

__all__ = ["UserError", "exit_code", "wants_debug", "compose", "load", "neuron_spec", "build_model", "validate", "CONF_DIR",
           "group_options", "group_folders", "model_layers", "resolve_neuron_defaults", "check_paths", "RUN_NODES"]

model_layers = models.layered.model_layers  # older callers import it from here

CONF_DIR = Path(__file__).parent / "conf"


def _exponential_only(value: Any, *, _parent_: Any) -> Any:
    """``${exponential_only:10.0}`` in a ``neuron`` node: the value for an exponential leak, else null.

    A paper preset states its tau once; the variants without an exponential leak (no_leak,
    complete_leak, linear_leak) have a fixed leak and take no tau.
    """
    return value if _choice(_parent_, "leak") == "exponential" else None


def _beta_leak_only(value: Any, *, _parent_: Any) -> Any:
    """``${beta_leak_only:one_minus_beta}``: the value for a beta leak (exponential, none, complete),
    else null. A preset gives every variant DH-SNN's ``(1 - beta)`` input; a linear leak has no beta."""
    return value if _choice(_parent_, "leak") in ("exponential", "none", "complete") else None


def _resetting_only(value: Any, *, _parent_: Any) -> Any:
    """``${resetting_only:subtract}``: the value for a variant that resets (its kind of reset), else
    null, so no_reset keeps no reset. A preset states its reset once (DH-SNN's soft reset)."""
    # the variant's own reset (the key this resolver sits on cannot be read while it resolves)
    return value if neurons.VARIANTS.get(str(_parent_.get("variant") or "vanilla")).reset != "none" else None


def _choice(node: Any, key: str) -> str:
    """A slot's choice in a ``neuron`` node: the key when set, else the variant's registration."""
    value = node.get(key)
    if value is None:  # the variant's own choice (its registration is the one source)
        value = getattr(neurons.VARIANTS.get(str(node.get("variant") or "vanilla")), key)
    return str(value)


for _name, _resolver in (("exponential_only", _exponential_only), ("beta_leak_only", _beta_leak_only),
                         ("resetting_only", _resetting_only)):
    if not OmegaConf.has_resolver(_name):
        OmegaConf.register_new_resolver(_name, _resolver)


def group_options(group: str, folder: Path = CONF_DIR) -> list[str]:
    """The options of a config group in one config folder (the package's by default)."""
    return sorted(p.stem for p in (Path(folder) / group).glob("*.yaml"))


def _hydra_compose(overrides: list[str], config_name: str = "config") -> DictConfig:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return hydra_compose(config_name=config_name, overrides=models.hydra_overrides(overrides))
    finally:
        GlobalHydra.instance().clear()


def group_folders(overrides: Iterable[str | override_checks.Override]) -> list[Path]:
    """The config folders of a command line: the package's and those ``hydra.searchpath`` adds."""
    folders = [CONF_DIR]
    parsed = [o if isinstance(o, override_checks.Override) else override_checks.parse([o])[0] for o in overrides]
    for override in parsed:
        if override.key == "hydra.searchpath" and override.value:
            for item in override.value.strip("[]").split(","):
                item = item.strip().strip("'\"")
                if item.startswith("file://"):
                    folders.append(Path(item[len("file://"):]).expanduser())
    return folders


def _schema(parsed: list[override_checks.Override], config_name: str = "config") -> DictConfig:
    """The config composed from the group options (and hydra.* settings) of ``parsed`` alone: the keys
    the shipped configs define for this choice of options."""
    folders = group_folders(parsed)
    groups_only = [o.text for o in parsed if o.is_hydra or (
        "." not in o.key and not o.delete and any((folder / o.key).is_dir() for folder in folders))]
    return _hydra_compose(groups_only, config_name)


def compose(overrides: Iterable[str] = (), config_name: str = "config") -> DictConfig:
    """The composed run config for Hydra-style ``overrides`` (``["variant=no_reset"]``); a malformed
    override is a UserError, and a key the config does not have says which one was meant."""
    from hydra.errors import HydraException

    overrides = list(overrides)
    try:
        return _hydra_compose(overrides, config_name)
    except (HydraException, OmegaConfBaseException, ValueError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        missing = re.match(r"In '[^']*': Could not find '([^'/]+)/([^']+)'", first)
        if missing and missing.group(1) in override_checks.RUN_GROUPS:  # a study's or a test's composition
            options = group_options(missing.group(1)) + [p.stem for f in group_folders(overrides)[1:]
                                                          for p in (f / missing.group(1)).glob("*.yaml")]
            raise UserError(override_checks.unknown_option_message(missing.group(1), missing.group(2), options)) from None
        if first.startswith("Could not override '") and "No match in the defaults list" not in str(error):
            key = first.split("'")[1]
            try:
                known = override_checks.flat_keys(_schema(override_checks.parse(overrides), config_name))
            except Exception:  # noqa: BLE001 - the schema itself does not compose: Hydra's message stays
                known = []
            typed = next((o for o in overrides if o.partition("=")[0].lstrip("+~") == key), key)
            raise UserError(f"{typed}: {override_checks.unknown_key_message(key, known)}") from None
        raise UserError(f"{error}\nSee `python -m ablations.run --help` for the groups and their options.") from error


# the nodes of a run config that hold keys (a value in their place replaces all of them)
RUN_NODES = ("neuron", "train", "dataset", "model", "eval", "paths")


def load(overrides: Iterable[str] = (), cfg: DictConfig | None = None) -> DictConfig:
    """The validated, resolved run config of command-line ``overrides`` (the module docstring's steps),
    before anything is written. ``cfg`` is the config already composed from them (Hydra's own
    ``main``, a study, a test), else it is composed here. Works on a copy."""
    overrides = [str(o) for o in overrides]
    parsed = override_checks.parse(overrides)
    override_checks.check_groups(parsed, group_folders(parsed))
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
        if any(o.add for o in parsed):
            override_checks.check_known(parsed, set(RUN_NODES) | set(override_checks.RUN_GROUPS), _schema(parsed))
        override_checks.check_read(parsed, cfg)
        spec = validate(cfg, group_folders(parsed)[1:])
        resolve_neuron_defaults(cfg, spec)
        seed = int(cfg.seed)
        if not 0 <= seed < 2**31:  # numpy and the per-epoch data-order seeds need a non-negative 32-bit int
            raise UserError(f"seed={cfg.seed} must be an integer from 0 to {2**31 - 1}")
        check_paths(cfg)
        results.run_dir_for(cfg)  # a dataset, model or variant name that cannot name a folder fails now
    except OmegaConfBaseException as error:  # e.g. an interpolation ${...} that resolves to nothing
        raise UserError(f"the config cannot be resolved: {str(error).splitlines()[0]}") from None
    except (TypeError, ValueError, OverflowError) as error:  # int('abc'), int(1e400) in the checks
        raise UserError(f"an override has a value of the wrong type or range ({error}); see "
                        "`python -m ablations.run --help` for the keys and their defaults") from None
    return cfg


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


def validate(cfg: DictConfig, search_path: Iterable[str | Path] = ()) -> neurons.NeuronSpec:
    """Check a run config before any work; return its resolved NeuronSpec (``search_path``: the
    config folders a plugin adds, whose variant files are checked too)."""
    spec = neuron_spec(cfg, search_path)
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
    ]
    for ok, message in checks:
        if not ok:
            raise UserError(message)
    training.keys_read(train)  # an unknown loss, optimizer or schedule names the valid ones
    training.training_loss(str(train.loss), str(train.get("loss_reduction", "half_mean")))
    if cfg.eval.get("suites") and cfg.dataset.get("kind") is not None:
        evaluation.check(cfg, str(cfg.dataset.kind))  # a misspelled or inapplicable suite fails now
    if str(cfg.device).startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise UserError(f"device={cfg.device} was asked for but no CUDA device is available; use device=auto or cpu")
    return spec


def resolve_neuron_defaults(cfg: DictConfig, spec: neurons.NeuronSpec) -> None:
    """Write the defaults a spec filled in (tau or lam) and the label its physics give back into
    the config, for the record."""
    resolved = spec.resolved()
    kept = models.imported.as_written_keys(cfg.neuron)  # model=import: left to the user's neurons
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
