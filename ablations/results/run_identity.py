"""The identity of a run: which config keys define what is trained, its hash, its folder.

The hash covers everything that changes what is trained (variant, neuron, dataset, model, train)
and nothing that does not (seed, which is in the name; paths; device; progress bars; evaluation
suites; study bookkeeping; the neuron backend, which computes the same update). Keys added after
runs were first recorded stay out of the identity at the value that does what the package did
before (:data:`IDENTITY_NEUTRAL`), so every earlier run keeps its hash and its folder.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf

from ..errors import UserError
from ..models import LEGACY_BUILDERS

__all__ = ["IDENTITY_EXCLUDE", "IDENTITY_NEUTRAL", "identity", "config_hash", "safe_name", "run_dir_for"]

# top-level keys (and dotted sub-keys) that do not change what is trained
IDENTITY_EXCLUDE = ("seed", "paths", "device", "debug", "progress", "logger", "eval", "trial",
                    "train.progress", "train.restart", "train.num_workers", "train.eval_every", "neuron.backend",
                    "train.checkpoint_time_steps", "plugins")
# Keys added after runs were first recorded: key -> (the value that does what the package did before
# the key existed, which configs did not have it). At that value, in those configs, the key stays out
# of the identity, so every earlier run keeps its hash (and its directory) while a run that sets
# another value gets a new one.
IDENTITY_NEUTRAL: dict[str, tuple[Any, Callable[[dict], bool]]] = {
    # model=default had no dropout key (the other models had `dropout: null` from the start)
    "model.dropout": (None, lambda identity: identity.get("model", {}).get("name") == "default"),
    # seed 003 fidelity (ref [21]'s protocol) added these; their defaults train what was trained before
    "neuron.gradient": ("exact", lambda identity: True),
    "train.loss_reduction": ("half_mean", lambda identity: True),
    "model.init": ("default", lambda identity: True),
    "model.pool_threshold": (0.75, lambda identity: True),
    "model.dropout_position": ("after_pool", lambda identity: True),
    # seed 001 fidelity (DH-SNN's delayed XOR reads out during the second pattern only)
    "model.readout_window": (None, lambda identity: True),
    "dataset.noise_over_patterns": (False, lambda identity: True),
    # seed 001 protocol: generated data drawn fresh each epoch; false = the fixed set runs had
    "dataset.fresh": (False, lambda identity: True),
    # real-data subsets: reading the official files with their checksums tested is what runs did before
    "dataset.verify": (True, lambda identity: True),
    # speed: train.precision=null is the precision every run had before (train.amp decides)
    "train.precision": (None, lambda identity: True),
    # paired seeds (ablations/streams.py): global is the one random stream every earlier run drew from
    "train.rng": ("global", lambda identity: True),
    # neuron components: at these values a neuron is what it was before they existed
    "neuron.input_scale": ("none", lambda identity: True),
    "neuron.leak_shape": ("scalar", lambda identity: True),
    "neuron.leak_init": (None, lambda identity: True),
    "neuron.reset_grad": (False, lambda identity: True),
    "neuron.init_state": ("zero", lambda identity: True),
    "neuron.synapse": ("none", lambda identity: True),
    "neuron.syn_alpha": (None, lambda identity: True),
    "neuron.adaptation": ("none", lambda identity: True),
    "neuron.adapt_tau": (None, lambda identity: True),
    "neuron.adapt_scale": (None, lambda identity: True),
    "neuron.surrogate.sigma": (0.5, lambda identity: True),
    "neuron.surrogate.scale": (6.0, lambda identity: True),
    "neuron.surrogate.height": (0.15, lambda identity: True),
    "neuron.surrogate.gamma": (0.5, lambda identity: True),
}
_BUILDER_SPELLING = {name: path for path, name in LEGACY_BUILDERS.items()}


def _container(cfg: DictConfig | dict) -> dict:
    if isinstance(cfg, DictConfig):
        return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    return json.loads(json.dumps(cfg, default=str))


def identity(cfg: DictConfig | dict) -> dict:
    """The part of a config that defines what is trained."""
    data = _container(cfg)
    for key in IDENTITY_EXCLUDE:
        node, *rest = key.split(".")
        if not rest:
            data.pop(node, None)
        elif isinstance(data.get(node), dict):
            data[node].pop(rest[0], None)
    _fill_variant_physics(data.get("neuron"))
    model = data.get("model")
    if isinstance(model, dict) and model.get("builder") in _BUILDER_SPELLING:
        # identities keep the spelling runs were first recorded with (an import path)
        model["builder"] = _BUILDER_SPELLING[model["builder"]]
    if isinstance(model, dict) and model.get("builder") == "import" and model.get("target"):
        from ..models.imported import source_of  # the user's model source: editing it makes a new run

        model["source_sha256"] = source_of(str(model["target"]))["sha256"]
    for key, (neutral, applies) in IDENTITY_NEUTRAL.items():
        if not applies(data):
            continue
        *parents, leaf = key.split(".")
        node = data
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and leaf in node and node[leaf] == neutral:
            del node[leaf]
    return data


def _fill_variant_physics(node: Any) -> None:
    """A slot key left null takes the variant's choice (conf/config.yaml): the identity holds the choice,
    so a composed config and the resolved record of the same run hash alike."""
    from .. import neurons

    if not isinstance(node, dict) or str(node.get("variant")) not in neurons.VARIANTS:
        return
    preset = neurons.VARIANTS[str(node["variant"])]
    for key in neurons.PHYSICS_KEYS:
        if key in node and node[key] is None:
            node[key] = getattr(preset, key)


def config_hash(cfg: DictConfig | dict, length: int = 10) -> str:
    text = json.dumps(identity(cfg), sort_keys=True, default=str, allow_nan=True)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:length]


_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+=-]{0,99}")


def safe_name(value: Any, key: str) -> str:
    """``value`` as one folder name of a run path; a UserError for anything that could leave the
    runs root or make an odd folder (``..``, a separator, a control character, an empty name)."""
    text = str(value)
    if not _SAFE_NAME.fullmatch(text) or ".." in text:
        raise UserError(f"{key}={text!r} cannot name a run folder: use letters, digits and _ . + = - "
                        "(at most 100, starting with a letter or digit, no '..' and no '/')")
    return text


def run_dir_for(cfg: DictConfig) -> Path:
    """``<paths.runs>/<dataset>/<model>/<variant>/<config-hash>-seed<k>``; a name that could
    leave ``paths.runs`` (``..``, ``/``) is refused with a UserError."""
    try:
        seed = int(cfg.seed)
    except (TypeError, ValueError):
        raise UserError(f"seed={cfg.seed!r} is not an integer") from None
    return (Path(cfg.paths.runs) / safe_name(cfg.dataset.name, "dataset.name") / safe_name(cfg.model.name, "model.name")
            / safe_name(cfg.neuron.variant, "neuron.variant") / f"{config_hash(cfg)}-seed{seed}")
