"""Composing a run config: Hydra's compose API over the configs shipped in ``ablations/conf`` (one
group per component: ``variant``, ``dataset``, ``model``, ``train``, ``eval``, ``experiment``;
``study`` and ``reproduce`` belong to their own commands), the config search path a plugin adds
(``hydra.searchpath``), and the resolvers the shipped presets use. A key Hydra refuses is answered
with "did you mean ..." (:func:`compose`). Nothing here judges a value: :mod:`.check` does.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from .. import models, neurons
from ..errors import UserError
from . import keys as override_keys

__all__ = ["CONF_DIR", "compose", "group_options", "group_folders", "schema"]

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


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


def group_folders(overrides: Iterable[str | override_keys.Override]) -> list[Path]:
    """The config folders of a command line: the package's and those ``hydra.searchpath`` adds."""
    folders = [CONF_DIR]
    parsed = [o if isinstance(o, override_keys.Override) else override_keys.parse([o])[0] for o in overrides]
    for override in parsed:
        if override.key == "hydra.searchpath" and override.value:
            for item in override.value.strip("[]").split(","):
                item = item.strip().strip("'\"")
                if item.startswith("file://"):
                    folders.append(Path(item[len("file://"):]).expanduser())
    return folders


def schema(parsed: list[override_keys.Override], config_name: str = "config") -> DictConfig:
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
        if missing and missing.group(1) in override_keys.RUN_GROUPS:  # a study's or a test's composition
            options = [p.stem for folder in group_folders(overrides) for p in (folder / missing.group(1)).glob("*.yaml")]
            raise UserError(override_keys.unknown_option_message(missing.group(1), missing.group(2), options)) from None
        if first.startswith("Could not override '") and "No match in the defaults list" not in str(error):
            key = first.split("'")[1]
            try:
                known = override_keys.flat_keys(schema(override_keys.parse(overrides), config_name))
            except Exception:  # noqa: BLE001 - the schema itself does not compose: Hydra's message stays
                known = []
            typed = next((o for o in overrides if o.partition("=")[0].lstrip("+~") == key), key)
            raise UserError(f"{typed}: {override_keys.unknown_key_message(key, known)}") from None
        raise UserError(f"{error}\nSee `python -m ablations.run --help` for the groups and their options.") from error
