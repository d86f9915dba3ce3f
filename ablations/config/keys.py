"""Command-line overrides: every one is used or refused.

A run is made from Hydra-style overrides (``train.lr=0.01``, ``variant=no_reset``,
``+train.epoch=3``). :mod:`.compose` composes them; this module judges them against the
composed config, before anything is written:

* **unknown keys** (:func:`check_known`): an override adds (``+key=``) only a key the shipped config
  schema has (the config composed from the same group options without the value overrides), a
  parameter of a suite a plugin registered, or a key a model builder declares (the builder check
  then says which model reads it). Anything else is refused with "did you mean ...";
  :func:`unknown_key_message` says the same for the key Hydra itself refuses without ``+``.
* **overrides that change nothing** (:func:`check_read`): a ``train.*`` key that neither every run
  nor the chosen loss, optimizer, schedule or precision reads (:func:`ablations.training.keys_read`);
  an ``eval.<suite>`` parameter of a suite the run does not evaluate, or one the suite reads only on
  another kind of data (:data:`EVAL_KEYS_BY_KIND`).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from omegaconf import DictConfig, OmegaConf

from .. import evaluation, models, training
from ..errors import UserError

__all__ = ["Override", "parse", "EVAL_KEYS_BY_KIND", "RUN_GROUPS", "OTHER_COMMAND_GROUPS", "flat_keys",
           "did_you_mean", "unknown_key_message", "unknown_option_message", "sweep_values", "check_groups",
           "check_known", "check_read"]

# the config groups a run composes; the others in ablations/conf belong to other commands
RUN_GROUPS = ("variant", "dataset", "model", "train", "eval", "experiment")
OTHER_COMMAND_GROUPS = {"study": "python -m ablations.study study=NAME",
                        "reproduce": "python -m ablations.reproduce NAME"}

# eval.<suite>.<key> that a suite reads on some kinds of data only (it reads its other keys on every
# kind it applies to): the adversarial suite attacks static images with FGSM / PGD / APGD through an
# EOT wrapper and spike inputs with a spike-valued attack (ablations/evaluation/adversarial.py); the
# generalization suite re-bins event data only
EVAL_KEYS_BY_KIND: dict[tuple[str, str], tuple[str, ...]] = {
    ("adversarial", "attacks"): ("static",),
    ("adversarial", "epsilons"): ("static",),
    ("adversarial", "eot_samples"): ("static",),
    ("adversarial", "pgd_steps"): ("static",),
    ("adversarial", "pgd_step_factor"): ("static",),
    ("adversarial", "max_iterations"): ("event", "temporal"),
    ("adversarial", "flip_rate"): ("event", "temporal"),
    ("generalization", "time_windows_ms"): ("event",),
}


@dataclass(frozen=True)
class Override:
    """One command-line override: ``key`` (dotted), ``value`` as typed, and how it applies."""

    text: str
    key: str
    value: str | None
    add: bool = False       # +key=value or ++key=value: may add a key
    delete: bool = False    # ~key

    @property
    def is_hydra(self) -> bool:
        return self.key == "hydra" or self.key.startswith("hydra.") or self.key.startswith("hydra/")


def parse(overrides: Iterable[str]) -> list[Override]:
    """``["+train.epoch=3", ...]`` -> :class:`Override` objects (the text as typed is kept)."""
    parsed = []
    for text in overrides:
        text = str(text)
        head, equals, value = text.partition("=")
        key = head.strip()
        add = key.startswith("+")
        delete = key.startswith("~")
        key = key.lstrip("+~")
        if "@" in key:  # group@package=option
            key = key.split("@", 1)[0]
        parsed.append(Override(text, key, value if equals else None, add=add, delete=delete))
    return parsed


def flat_keys(cfg: Any, prefix: str = "") -> list[str]:
    """Every dotted key of a config (nodes and leaves), unresolved."""
    node = OmegaConf.to_container(cfg, resolve=False) if isinstance(cfg, DictConfig) else cfg
    keys: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            dotted = f"{prefix}.{key}" if prefix else str(key)
            keys.append(dotted)
            keys.extend(flat_keys(value, dotted))
    return keys


def did_you_mean(key: str, known: Iterable[str]) -> str:
    """`` (did you mean train.epochs?)`` for the closest known key, or an empty string."""
    known = list(known)
    parent = key.rsplit(".", 1)[0] if "." in key else ""
    siblings = [k for k in known if (k.rsplit(".", 1)[0] if "." in k else "") == parent]
    for pool in (siblings, known):
        close = difflib.get_close_matches(key, pool, n=1, cutoff=0.6)
        if close:
            return f" (did you mean {' or '.join(close)}?)"
    return ""


def unknown_key_message(key: str, known: Iterable[str]) -> str:
    return (f"unknown key {key}{did_you_mean(key, known)}: the run config has no such key, so it would "
            "change nothing; `python -m ablations.run --cfg job` lists every key and its value")


def unknown_option_message(group: str, option: str, options: Iterable[str]) -> str:
    """``variant=vanila: no such variant (did you mean vanilla?); the variant options are: ...``"""
    options = sorted(set(options))
    close = difflib.get_close_matches(option, options, n=1, cutoff=0.6)
    return (f"{group}={option}: no such {group}{f' (did you mean {close[0]}?)' if close else ''}; "
            f"the {group} options are: {', '.join(options)}")


def sweep_values(value: str) -> list[str]:
    """The values of a Hydra sweep as typed (``a,b`` or ``choice(a,b)``); one value stays one."""
    text = value.strip()
    if text.startswith("choice(") and text.endswith(")"):
        text = text[len("choice("):-1]
    return [item.strip().strip("'\"") for item in text.split(",")] if "(" not in text else []


def check_groups(overrides: Iterable[Override], folders: Iterable[Path] = ()) -> None:
    """A group of another command (``study=``, ``reproduce=``) is refused, naming the command; an option
    of a run group that no config folder (``folders``) has, each value of a sweep too, is refused with
    the options and the closest one."""
    overrides = list(overrides)
    folders = list(folders)
    if any(o.key == "hydra.searchpath" and o.value and any(not item.strip(" '\"").startswith("file://") for item in
                                                          o.value.strip("[]").split(",")) for o in overrides):
        folders = []  # a search path that is not a folder (pkg://): Hydra finds its options, this check cannot
    for override in overrides:
        if override.key in OTHER_COMMAND_GROUPS:
            raise UserError(f"{override.text}: {override.key} is not an option of `python -m ablations.run` (its "
                            f"groups: {', '.join(RUN_GROUPS)}); use `{OTHER_COMMAND_GROUPS[override.key]}`")
        if override.key in RUN_GROUPS and folders and override.value and not override.delete and "${" not in override.value:
            options = {p.stem for folder in folders for p in (Path(folder) / override.key).glob("*.yaml")}
            nested = {p.relative_to(Path(folder) / override.key).with_suffix("").as_posix()  # base configs
                      for folder in folders for p in (Path(folder) / override.key).rglob("*.yaml")}
            for value in sweep_values(override.value):
                if options and value not in nested and value != "null":
                    raise UserError(unknown_option_message(override.key, value, options))


def _plugin_parameter(key: str) -> bool:
    """``eval.<suite>.<key>`` of a registered suite that declares ``<key>`` among its defaults."""
    parts = key.split(".")
    if len(parts) != 3 or parts[0] != "eval" or parts[1] not in evaluation.SUITES:
        return False
    defaults = evaluation.SUITES[parts[1]].defaults
    return isinstance(defaults, (dict, DictConfig)) and parts[2] in defaults


def _model_key(key: str) -> bool:
    """``model.<key>`` that some registered model builder reads, or a key inside a free mapping one
    declares (``model.kwargs.x``); the builder check judges it."""
    parts = key.split(".")
    return (len(parts) == 2 and parts[0] == "model" and any(parts[1] in b.all_keys for b in models.MODELS.values())
            or models.mapping_key(key))


def check_known(overrides: Iterable[Override], groups: Iterable[str], schema: DictConfig | None) -> None:
    """Refuse a ``+key=value`` whose key the config ``schema`` (composed from the same group options,
    without the value overrides) does not have; ``groups`` are the config groups (their overrides are
    options, not keys)."""
    groups = set(groups)
    adds = [o for o in overrides if o.add and not o.is_hydra and o.key not in groups]
    if not adds or schema is None:
        return
    known = set(flat_keys(schema))
    for override in adds:
        if override.key in known or _plugin_parameter(override.key) or _model_key(override.key):
            continue
        raise UserError(f"{override.text}: {unknown_key_message(override.key, known)}")


def _value(cfg: DictConfig, key: str) -> Any:
    return OmegaConf.select(cfg, key, default=None, throw_on_resolution_failure=False)


def _train_refusal(override: Override, cfg: DictConfig, read: dict[str, str]) -> str | None:
    leaf = override.key.split(".")[1]
    if leaf in read:
        return None
    readers = training.readers_of(leaf)
    if not readers:
        return None  # not a key of training at all: the unknown-key check answers for it
    if leaf == "amp":
        return (f"{override.text} changes nothing: train.amp is read only while train.precision=null, and this run "
                f"sets train.precision={cfg.train.precision}; drop train.amp (train.precision=fp16 is what "
                "train.amp=true gave on CUDA)")
    chosen = sorted({reader.split("=", 1)[0] for reader in readers})
    now = ", ".join(f"{key}={_value(cfg, key)}" for key in chosen)
    return (f"{override.text} changes nothing: train.{leaf} is read only with {' or '.join(readers)}, and this run "
            f"has {now}; drop it or choose one of those")


def _eval_refusal(override: Override, cfg: DictConfig, selected: list[str], command: str) -> str | None:
    parts = override.key.split(".")
    suite = parts[1]
    if suite not in evaluation.SUITES:
        return None
    kind = cfg.dataset.get("kind")
    kind = None if kind is None else str(kind)
    if suite not in selected:
        if command == "evaluate":
            return (f"{override.text} changes nothing: suite {suite} is not evaluated by this command (suite="
                    f"{','.join(selected)}); add it (suite={','.join([*selected, suite])}) or drop the override")
        return (f"{override.text} changes nothing: suite {suite} is not evaluated by this run (eval.suites="
                f"{list(cfg.eval.get('suites') or [])}); add it (eval.suites=[{', '.join([*selected, suite])}]) "
                f"or evaluate later with `python -m ablations.evaluate run=PATH suite={suite} {override.text}`")
    if len(parts) >= 3 and kind is not None:
        kinds = EVAL_KEYS_BY_KIND.get((suite, parts[2]))
        if kinds is not None and kind not in kinds:
            same_kind = sorted(k for (s, k), ks in EVAL_KEYS_BY_KIND.items() if s == suite and kind in ks)
            reads = f"; on {kind} data it reads {', '.join(f'eval.{suite}.{k}' for k in same_kind)}" if same_kind else ""
            return (f"{override.text} changes nothing: eval.{suite}.{parts[2]} is read on "
                    f"{'/'.join(kinds)} data only, and dataset {cfg.dataset.name} is {kind} data{reads}")
    return None


def check_read(overrides: Iterable[Override], cfg: DictConfig, train_keys: dict[str, str] | None = None,
               suites: list[str] | None = None, command: str = "run") -> None:
    """Refuse a ``train.*`` or ``eval.<suite>.*`` override that the composed run ``cfg`` never reads.
    ``train_keys`` (:func:`ablations.training.keys_read`) and ``suites`` (the suites evaluated) are
    computed here when the caller does not have them; ``command`` is ``run`` or ``evaluate`` (which
    names its suites with ``suite=``)."""
    if train_keys is None:
        train_keys = training.keys_read(cfg.train)
    if suites is None:
        kind = cfg.dataset.get("kind")
        suites = evaluation.resolve(list(cfg.eval.get("suites") or []), None if kind is None else str(kind))
    for override in overrides:
        if override.delete or override.is_hydra:
            continue
        parts = override.key.split(".")
        message = None
        if parts[0] == "train" and len(parts) >= 2:
            message = _train_refusal(override, cfg, train_keys)
        elif parts[0] == "eval" and len(parts) >= 2 and parts[1] != "suites":
            message = _eval_refusal(override, cfg, suites, command)
        if message:
            raise UserError(message)
