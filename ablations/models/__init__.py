"""The papers' networks as named models (``model=NAME``, ``conf/model/NAME.yaml``).

A model config names a registered ``builder`` (default ``layered``) that :func:`build_model` calls
as ``builder(cfg, spec, input_shape)``; it returns a network whose ``forward`` takes ``[T, B, ...]``
and returns ``[B, classes]`` and that has ``n_classes``, ``probes`` and ``records``.
:func:`build_model` is the one path from a run config to its network: the config layer
(:func:`ablations.config.build_model`) and a recorded run (:func:`ablations.results.load_model`)
both build through it.

* ``layered`` (:mod:`ablations.models.layered`): any layer-string network (seed 003's VGG nets
  ``vgg9``, ``vgg6``; seed 001's FC nets ``fc_nmnist``, ``fc_dvs_gesture``, ``fc_mnist``,
  ``fc_shd``) with ``model.dropout`` as a switch.
* ``resnet`` (:mod:`ablations.models.resnet`): a spiking ResNet-18 for CIFAR-10 (seed 001).
* ``import`` (:mod:`ablations.models.imported`): a user's own snnTorch model by import path
  (``model.target=pkg.mod:Net``), its neurons ablated into the run's variant.
* ``recurrent_baseline`` (:mod:`ablations.models.rnn`): PyTorch's LSTM / GRU / RNN over the same
  frames (seed 001 Table 7's non-spiking baselines ``lstm``, ``gru``, ``rnn``).

Each builder declares the ``model.*`` keys it reads (:class:`Builder`); setting another key is an
error that lists them, never a silent no-op. A plugin adds a builder with
``MODELS.add("name", Builder(function, keys))`` and a ``conf/model/NAME.yaml`` with
``builder: name``. Runs recorded when configs named builders by import path
(``ablations.models.layered:build``) still load: those paths map to the registered names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf

from .. import neurons
from ..errors import UserError
from ..registry import Registry
from . import imported, layered, resnet, rnn

__all__ = ["Builder", "MODELS", "LEGACY_BUILDERS", "builder_of", "check_keys", "build_model", "mapping_key",
           "hydra_overrides"]

# keys every model config has, whatever its builder
COMMON_KEYS = ("name", "builder")


@dataclass(frozen=True)
class Builder:
    """``function(cfg, spec, input_shape) -> network``, the ``model.*`` keys it reads, and ``mappings``:
    those of its keys whose value is a free mapping handed on to the user's code (``model.kwargs``),
    whose sub-keys (``model.kwargs.num_hidden``) no config file can list."""

    function: Callable[..., Any]
    keys: tuple[str, ...]
    mappings: tuple[str, ...] = ()

    @property
    def all_keys(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(COMMON_KEYS + self.keys))


MODELS: Registry[Builder] = Registry("model builder")
MODELS.add("layered", Builder(layered.build_layered_network, ("layers", "readout", "readout_beta", "readout_window", "pool",
                                              "batch_norm", "bias", "dropout", "dropout_position", "init",
                                              "pool_threshold")))
MODELS.add("resnet", Builder(resnet.build_resnet, ("readout", "readout_beta", "pool", "batch_norm", "bias", "dropout",
                                            "blocks", "widths", "n_classes")))
MODELS.add("recurrent_baseline", Builder(rnn.build_recurrent_baseline, ("cell", "layers", "readout", "readout_window")))
MODELS.add("import", Builder(imported.build_imported, ("target", "kwargs", "call", "returns", "readout"),
                             mappings=("kwargs",)))

# how configs recorded before builders had names spelled them (the functions have been renamed since;
# these spellings are only read from old records, never imported)
LEGACY_BUILDERS = {
    "ablations.models.layered:build": "layered",
    "ablations.models.resnet:build": "resnet",
}


def builder_of(model_cfg: Any) -> str:
    """The registered builder name of a model config (``layered`` when it names none)."""
    name = str(model_cfg.get("builder") or "layered")
    return LEGACY_BUILDERS.get(name, name)


def mapping_key(key: str) -> bool:
    """``model.<mapping>`` or a key inside it (``model.kwargs.num_hidden``), for a mapping some
    registered builder declares (:attr:`Builder.mappings`)."""
    parts = key.lstrip("+~").split(".")
    return len(parts) >= 2 and parts[0] == "model" and any(parts[1] in b.mappings for b in MODELS.values())


def hydra_overrides(overrides: list[str]) -> list[str]:
    """The command-line overrides as Hydra composes them: ``model.kwargs={num_hidden: 128}`` and
    ``model.kwargs.num_inputs=2048`` are written ``++model.kwargs...`` (set or add), because Hydra's
    struct check knows only the keys a config file lists and a free mapping's keys are the user's.
    ``+model.kwargs.x=...`` (add) and ``~`` (delete) are left as typed."""
    return [f"++{o}" if not o.startswith(("+", "~")) and "=" in o and mapping_key(o.partition("=")[0]) else o
            for o in overrides]


def check_keys(model_cfg: Any) -> Builder:
    """The model's builder; a key it does not read, set to a value, is a UserError naming the valid keys."""
    name = builder_of(model_cfg)
    builder = MODELS.get(name)
    unused = sorted(key for key, value in model_cfg.items() if key not in builder.all_keys and value is not None)
    if unused:
        settings = ", ".join(f"model.{key}={model_cfg.get(key)}" for key in unused)
        raise UserError(f"{settings}: not used by model {model_cfg.get('name')!r} (builder {name!r}), so it would "
                        f"change nothing; its keys are: {', '.join(builder.all_keys)}")
    return builder


def build_model(cfg: Any, input_shape: tuple[int, ...], spec: "neurons.NeuronSpec | None" = None):
    """The network a run config describes, for inputs of ``input_shape`` per time step: neurons of
    ``spec`` (by default the spec of ``cfg.neuron``), the builder ``cfg.model`` names, and the neuron
    backend ``cfg.neuron.backend``. A config it cannot build is a ValueError or UserError saying why."""
    if spec is None:
        neuron = cfg.neuron
        node = OmegaConf.to_container(neuron, resolve=True) if isinstance(neuron, DictConfig) else dict(neuron)
        if builder_of(cfg.model) == "import":  # the keys left to the user's neurons (value `model`)
            node = imported.without_as_written(node)
        spec = neurons.spec_from_config(node)
    network = MODELS.get(builder_of(cfg.model)).function(cfg, spec, tuple(input_shape))  # keys: the check pass
    return neurons.set_backend(network, str(cfg.neuron.get("backend") or "auto"))
