r"""A user's own snnTorch model by import path (``model=import``), ablated into the run's variant.

``model.target`` names a class or function returning an ``nn.Module``: ``package.module:Name`` (imported
from the current directory or the installed packages) or ``path/to/file.py:Name``; ``model.kwargs``
are passed to it (``model.kwargs.num_hidden=128`` on the command line: a free mapping,
:attr:`ablations.models.Builder.mappings`). The module's ``snn.Leaky`` / ``snn.RLeaky`` /
``snn.Synaptic`` become the package's neurons of the run's variant by :func:`ablations.ablate.ablate`,
exactly as ``ablate(model, variant)`` from Python: each neuron keeps what the user wrote (beta per
layer or per neuron, ``learn_beta``, threshold, ``learn_threshold``, surrogate, the kind of reset),
and the variant sets the leak kind, whether it resets, and the recurrence. In the run's ``neuron``
node these keys read ``model`` (:data:`AS_WRITTEN`, ``conf/model/import_neuron/as_written.yaml``);
a ``neuron.*`` key given on the command line (``neuron.tau=20``, ``neuron.surrogate.name=atan``,
``neuron.surrogate.slope=10`` for the layers whose surrogate has a slope) replaces the value in
every layer (:func:`ablate_arguments`). ``status.json`` ``model_neurons`` says, per layer, each
value and whether it came from the ``model``, an ``override`` or the ``variant``.

Speed: a tutorial-7 ``nn.Sequential`` (``model.call=step``) of stateless layers and neurons with
``init_hidden=True`` runs time-folded (:func:`folding_plan`): its layers once on ``[T*B, ...]``, its
neurons through :func:`ablations.neurons.run_sequence` (the fused scan), pinned to the per-step run
by ``tests/models/test_model_import.py``. Any other model runs step by step, and the log says why, once.
Before training, one dry forward pass on one sample of the data's shape (:meth:`ImportedNetwork.dry_run`)
turns a shape mismatch into one message naming the layer, the input it expects and the one it got.

The user's output convention is declared, not guessed:

* ``model.call``: ``sequence`` (``forward(x[T, B, ...])`` loops over time itself, tutorial 5) or
  ``step`` (``forward(x[t])`` once per step after the hidden states are reset, tutorial 7's
  ``nn.Sequential`` with ``init_hidden=True``; the step outputs are stacked over time).
* ``model.returns``: the names of what ``forward`` returns, in order, each a time-major record
  ``[T, B, classes]``: ``[spikes, membrane]`` (the tutorials' ``spk_rec, mem_rec``), ``spikes``,
  ``membrane`` or ``[membrane, spikes]``.
* ``model.readout``: how a prediction ``[B, classes]`` is read from them (``ablations.network``'s
  decodings): ``spike_count`` (spikes summed over t, divided by T: the tutorials' rate code),
  ``mem_mean``, ``mem_max``, ``mem_last`` (membrane over t, or ``U[T] / T``).

The trained network is an :class:`ImportedNetwork`: ``forward(x[T, B, ...]) -> [B, classes]``, with
``n_classes`` (read off a one-step dry run) and ``probes`` / ``records``: with probes on, every
ablated neuron records its current ``I[t]`` (recurrent current included), spikes and membrane
under its module path in the user's model, and ``readout`` holds the trace of the neuron called
last in each step (the output layer). The suites that read spikes use these records.

Run identity: :func:`source_of` (the file of the target's module and the SHA-256 of its text)
is part of the run's identity (``ablations.results.identity``), so editing the model's source makes
a new run, and the record's ``config.yaml`` keeps ``model.target`` and ``status.json`` the source.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import logging
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from .. import neurons
from ..ablate import AblatedNeuron, ablate, ablated_neurons
from ..errors import UserError
from ..registry import import_file

__all__ = ["AS_WRITTEN", "CALLS", "RETURNS", "READOUTS", "ImportedNetwork", "resolve_target", "source_of",
           "build_imported", "wrap", "ablate_arguments", "without_as_written", "as_written_keys"]

#: the value of a ``neuron.*`` key left to the user's neurons (conf/model/import_neuron/as_written.yaml)
AS_WRITTEN = "model"
CALLS = ("sequence", "step")
RETURNS = ("spikes", "membrane")
READOUTS = ("spike_count", "mem_mean", "mem_max", "mem_last")


def _module_of(target: str):
    module_name, _, attribute = target.rpartition(":")
    if not module_name or not attribute:
        raise UserError(f"model.target={target!r} must be 'package.module:Name' or 'path/to/file.py:Name' "
                        "(a class or function that returns an nn.Module)")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name).expanduser().resolve()
            if not path.is_file():
                raise FileNotFoundError(f"no such file: {path}")
            module = import_file(path, f"ablations_model_{path.stem}")
        else:
            if "" not in sys.path and str(Path.cwd()) not in sys.path:
                sys.path.insert(0, str(Path.cwd()))  # `python -m` finds the user's modules where it runs
            module = importlib.import_module(module_name)
    except UserError:
        raise
    except Exception as error:  # noqa: BLE001 - any failure of the user's module is reported as such
        raise UserError(f"model.target={target!r}: {module_name!r} could not be imported ({type(error).__name__}: "
                        f"{error})") from None
    if not hasattr(module, attribute):
        names = sorted(n for n in vars(module) if not n.startswith("_"))
        raise UserError(f"model.target={target!r}: {module_name!r} has no {attribute!r}; it has: {', '.join(names)}")
    return module, getattr(module, attribute)


def resolve_target(target: str):
    """The class or function ``model.target`` names (a UserError naming what is wrong otherwise)."""
    return _module_of(str(target))[1]


def source_of(target: str) -> dict[str, str]:
    """Where the code of ``model.target`` comes from: the module's file and the SHA-256 of its text."""
    module, _ = _module_of(str(target))
    file = getattr(module, "__file__", None)
    digest = hashlib.sha256(Path(file).read_bytes()).hexdigest() if file and Path(file).is_file() else "unknown"
    return {"target": str(target), "file": str(file), "sha256": digest}


# stateless layers whose output for one sample depends on that sample alone, without randomness:
# on the folded [T*B, ...] tensor they compute what they compute on each step's [B, ...]
FOLDABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d,
            nn.AvgPool2d, nn.AvgPool3d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool1d,
            nn.AdaptiveMaxPool2d, nn.Flatten, nn.Unflatten, nn.Identity, nn.LayerNorm, nn.ReLU, nn.LeakyReLU, nn.Sigmoid,
            nn.Tanh, nn.GELU, nn.ELU, nn.SiLU, nn.Hardtanh)

log = logging.getLogger("ablations.models")
_SAID: set[str] = set()


def folding_plan(user: nn.Module, call: str) -> tuple[list[tuple[str, Any]] | None, str]:
    """How a user's model runs time-folded, or None and why it runs step by step.

    Folded: an ``nn.Sequential`` (``model.call=step``) of the stateless layers in :data:`FOLDABLE`
    and ablated neurons with ``init_hidden=True`` (tutorial 7), the neuron that returns its membrane
    (``output=True``) last. Its layers then run once on ``[T*B, ...]`` and each neuron is scanned over
    time by :func:`ablations.neurons.run_sequence` (the fused scan where it covers the neuron), which
    computes what calling it once per step computes (``tests/models/test_model_import.py`` pins spikes equal
    and membranes to float32 rounding). A model whose own ``forward`` loops over time
    (``model.call=sequence``, tutorial 5) runs as written: the package cannot see inside the loop."""
    if call != "step":
        return None, ("model.call=sequence: the model's own forward loops over time, and the package runs it as "
                      "written")
    if not isinstance(user, nn.Sequential) or type(user).forward is not nn.Sequential.forward:
        return None, f"{type(user).__name__} is not an nn.Sequential (its forward is the model's own)"
    plan: list[tuple[str, Any]] = []
    children = list(user.named_children())
    for index, (path, module) in enumerate(children):
        if isinstance(module, AblatedNeuron):
            if not module.init_hidden:
                return None, f"neuron {path!r} has init_hidden=False"
            if module.output and index != len(children) - 1:
                return None, f"neuron {path!r} returns its membrane (output=True) but is not the last layer"
            plan.append(("neuron", (path, module)))
        elif type(module) in FOLDABLE and not (isinstance(module, (nn.Flatten, nn.Unflatten)) and
                                               getattr(module, "start_dim", getattr(module, "dim", 1)) == 0):
            if plan and plan[-1][0] == "ops":
                plan[-1][1].append(module)
            else:
                plan.append(("ops", [module]))
        else:
            return None, (f"layer {path!r} ({type(module).__name__}) is not one the package folds over time "
                          f"(batch statistics, random masks or state of its own, or unknown)")
    if not any(kind == "neuron" for kind, _ in plan):
        return None, "it has no ablated neuron at its top level"
    return plan, ""


def _fold(ops: Sequence[nn.Module], x: torch.Tensor) -> torch.Tensor:
    steps, batch = x.shape[:2]
    folded = x.reshape(steps * batch, *x.shape[2:])
    for op in ops:
        folded = op(folded)
    return folded.reshape(steps, batch, *folded.shape[1:])


def _has_hooks(user: nn.Module) -> bool:
    from torch.nn.modules import module as torch_module

    if torch_module._global_forward_hooks or torch_module._global_forward_pre_hooks:
        return True
    return any(m._forward_hooks or m._forward_pre_hooks for m in user.modules())


def _returns(value: Any) -> tuple[str, ...]:
    names = (value,) if isinstance(value, str) else tuple(value or ())
    names = tuple(str(n) for n in names)
    if not names or any(n not in RETURNS for n in names) or len(set(names)) != len(names):
        raise UserError(f"model.returns={list(names)} must name what forward returns, in order, from {list(RETURNS)} "
                        "(e.g. [spikes, membrane] for snnTorch's `return spk_rec, mem_rec`)")
    return names


class ImportedNetwork(nn.Module):
    """A user's (ablated) model with the package's network interface: ``forward(x[T, B, ...]) -> [B, classes]``,
    ``n_classes``, ``probes`` and ``records`` (module docstring)."""

    def __init__(self, user: nn.Module, call: str = "sequence", returns: Sequence[str] | str = ("spikes", "membrane"),
                 readout: str = "spike_count", input_shape: Sequence[int] | None = None,
                 source: Mapping[str, str] | None = None):
        super().__init__()
        if call not in CALLS:
            raise UserError(f"model.call={call!r} is not one of {list(CALLS)}: sequence (forward(x[T, B, ...]) loops "
                            "over time) or step (forward(x[t]) once per time step)")
        if readout not in READOUTS:
            raise UserError(f"model.readout={readout!r} is not one of {list(READOUTS)}")
        self.returns = _returns(returns)
        needs = "spikes" if readout == "spike_count" else "membrane"
        if needs not in self.returns:
            raise UserError(f"model.readout={readout} reads the {needs} record, but model.returns={list(self.returns)}")
        if not ablated_neurons(user):
            raise UserError(f"{type(user).__name__} has no snnTorch neuron the package stands in for; ablate() it first")
        self.user = user
        self.call = call
        self.decoding = readout
        self.input_shape = tuple(int(s) for s in input_shape) if input_shape is not None else None
        self.source = dict(source or {})
        self.probes = False
        self.records: dict[str, dict[str, torch.Tensor]] = {}
        self._n_classes: int | None = None
        self.plan, self.per_step_reason = folding_plan(user, call)
        self.folded = self.plan is not None  # False: every call runs the model step by step (per_step_reason)
        if not self.folded and self.per_step_reason not in _SAID:
            _SAID.add(self.per_step_reason)
            log.warning("note: %s runs step by step (%s): correct, slower than the time-folded path of an "
                        "nn.Sequential with init_hidden=True neurons (model.call=step)",
                        self.source.get("target") or type(user).__name__, self.per_step_reason)

    @property
    def n_classes(self) -> int:
        if self._n_classes is None:
            if self.input_shape is None:
                raise UserError("the number of classes of an imported model is read off a dry run, which needs "
                                "input_shape")
            device = next((p.device for p in self.parameters()), torch.device("cpu"))
            with torch.no_grad():
                out = self.dry_run(torch.zeros(1, 1, *self.input_shape, device=device))
            self._n_classes = int(next(iter(out.values())).shape[-1])
        return self._n_classes

    def dry_run(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The records of one forward pass on ``x`` (one sample of the data's shape, before training); a
        failure in a layer is a UserError naming the layer, the input it expects and the one it was given."""
        running: list[tuple[str, nn.Module, tuple]] = []
        hooks = []
        for path, module in self.user.named_modules():
            if path and (isinstance(module, AblatedNeuron) or not any(True for _ in module.children())):
                hooks.append(module.register_forward_pre_hook(
                    lambda module, args, path=path: running.append((path, module, args))))
                hooks.append(module.register_forward_hook(lambda module, args, output: running.pop() and None))
        try:
            return self._records(x)
        except (RuntimeError, ValueError, TypeError, IndexError) as error:
            if isinstance(error, UserError):
                raise
            raise UserError(self._mismatch(running[-1] if running else None, x, error)) from None
        finally:
            for hook in hooks:
                hook.remove()

    def _mismatch(self, failed: tuple[str, nn.Module, tuple] | None, x: torch.Tensor, error: Exception) -> str:
        data = f"the data gives [{', '.join(map(str, x.shape[2:]))}] per sample and time step"
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        source = f"model.target={self.source['target']}" if self.source.get("target") else "the model"
        if failed is None:
            return (f"{source}: its forward fails on one sample of the data ({data}; model.call={self.call}): "
                    f"{type(error).__name__}: {first}. Make the model take inputs of this shape")
        path, module, args = failed
        given = [list(a.shape) for a in args if isinstance(a, torch.Tensor)]
        given_text = str(given[0]) if len(given) == 1 else str(given)
        if isinstance(module, nn.Linear):
            expected = f"[batch, {module.in_features}] (in_features={module.in_features})"
        elif isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            expected = (f"[batch, {module.in_channels}, ...] (in_channels={module.in_channels}, "
                        f"{type(module).__name__[-2]} spatial dimensions)")
        elif isinstance(module, nn.modules.batchnorm._BatchNorm):
            expected = f"[batch, {module.num_features}, ...] (num_features={module.num_features})"
        else:
            expected = None
        what = f"expects {expected} but was given {given_text}" if expected else f"was given {given_text} and failed"
        return (f"{source}: layer {path!r} ({type(module).__name__}) {what}; {data} (model.call={self.call}). "
                f"Give the model the data's input size (e.g. through model.kwargs) or choose the dataset it was "
                f"written for. ({type(error).__name__}: {first})")

    def _folded(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The user's ``nn.Sequential`` run time-folded (:func:`folding_plan`): what calling it once per
        step and stacking the outputs gives."""
        h = x
        out: tuple[torch.Tensor, ...] = ()
        for kind, item in self.plan:
            if kind == "ops":
                h = _fold(item, h)
                out = (h,)
                continue
            _, neuron = item
            spikes, membrane = neurons.run_sequence(neuron.neuron, h, record_membrane=neuron.output)
            h = spikes.view(h.shape)
            out = (h, membrane.view(h.shape)) if neuron.output else (h,)
        return out

    def _records(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The user's time-major records by name (``spikes``, ``membrane``)."""
        if self.folded and not self.probes and not _has_hooks(self.user):
            out = self._folded(x)
        elif self.call == "sequence":
            out = self.user(x)
        else:
            for neuron in ablated_neurons(self.user).values():
                neuron.reset_mem()
            steps = [self.user(x[t]) for t in range(x.shape[0])]
            if isinstance(steps[0], (tuple, list)):
                out = tuple(torch.stack([s[i] for s in steps]) for i in range(len(steps[0])))
            else:
                out = torch.stack(steps)
        out = out if isinstance(out, (tuple, list)) else (out,)
        if len(out) != len(self.returns):
            raise UserError(f"the model's forward returned {len(out)} value(s) but model.returns={list(self.returns)} "
                            f"names {len(self.returns)}; set model.returns to what it returns, in order")
        records = dict(zip(self.returns, out))
        for name, record in records.items():
            if not isinstance(record, torch.Tensor) or record.dim() != 3 or record.shape[0] != x.shape[0]:
                shape = tuple(record.shape) if isinstance(record, torch.Tensor) else type(record).__name__
                raise UserError(f"the model's {name} record has shape {shape}; a time-major [T, B, classes] record with "
                                f"T = {x.shape[0]} is expected (model.call={self.call})")
        return records

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 3:
            raise ValueError(f"network input must be time-major [T, B, ...], got shape {tuple(x.shape)}")
        neurons = ablated_neurons(self.user)
        if self.probes:
            for neuron in neurons.values():
                neuron.trace = []
        try:
            records = self._records(x)
            if self.probes:
                self.records = _probe_records(neurons, x)
        finally:
            for neuron in neurons.values():
                neuron.trace = None
        steps = x.shape[0]
        if self.decoding == "spike_count":
            return records["spikes"].sum(0) / steps
        membrane = records["membrane"].float()
        if self.decoding == "mem_last":
            return membrane[-1] / steps
        return membrane.mean(0) if self.decoding == "mem_mean" else membrane.max(0).values

    def extra_repr(self) -> str:
        return f"call={self.call}, returns={list(self.returns)}, readout={self.decoding}"

    def neuron_table(self) -> list[dict[str, Any]]:
        """Per ablated neuron, what it runs with and where each part comes from (``model``: the user's
        neuron as written; ``override``: a ``neuron.*`` key given; ``variant``): the run record's
        ``model_neurons`` (:meth:`ablations.ablate.AblatedNeuron.provenance`)."""
        return [neuron.provenance() for neuron in ablated_neurons(self.user).values()]

    def describe_neurons(self) -> str:
        """One line per ablated neuron: its module path, its physics, and what came from an override."""
        lines = []
        for path, neuron in ablated_neurons(self.user).items():
            table = neuron.provenance()
            overridden = [key for key, part in table.items() if isinstance(part, dict) and part["from"] != "model"
                          and part["from"] != "variant"]
            lines.append(f"{path}: {neuron.spec.describe()}"
                         + (f" (given: {', '.join(overridden)}; the rest as written in the model)" if overridden
                            else " (as written in the model, the variant's leak kind, reset and recurrence)"))
        return "; ".join(lines)


def _probe_records(neurons: Mapping[str, AblatedNeuron], x: torch.Tensor) -> dict[str, dict[str, torch.Tensor]]:
    records: dict[str, dict[str, torch.Tensor]] = {}
    last = None
    for path, neuron in neurons.items():
        if not neuron.trace:
            continue
        current, spikes, membrane = (torch.stack(parts) for parts in zip(*neuron.trace))
        records[path] = {"current": current, "spikes": spikes, "membrane": membrane}
        last = path  # the output layer: the last neuron in module order that was called
    if last is not None:
        records["readout"] = {"current": records[last]["current"], "membrane": records[last]["membrane"],
                              "input": x.detach()}
    return records


def wrap(model: nn.Module, variant: Any = "vanilla", call: str = "sequence",
         returns: Sequence[str] | str = ("spikes", "membrane"), readout: str = "spike_count",
         input_shape: Sequence[int] | None = None, **neuron_options: Any) -> ImportedNetwork:
    """``ablate(model, variant, **neuron_options)`` as a network the package trains and evaluates (the
    suites read its probes): what ``model=import`` builds, from Python."""
    return ImportedNetwork(ablate(model, variant, **neuron_options), call=call, returns=returns, readout=readout,
                           input_shape=input_shape)


def without_as_written(node: Any) -> Any:
    """A ``neuron`` config node without the keys left to the user's neurons (value ``model``); with the
    surrogate left to them, the whole surrogate block (a parameter given alone is checked by
    :func:`ablations.ablate.ablate` against the surrogates the model has)."""
    if isinstance(node, dict):
        return {key: without_as_written(value) for key, value in node.items() if value != AS_WRITTEN
                and not (isinstance(value, dict) and value.get("name") == AS_WRITTEN)}
    return node


def as_written_keys(node: Any, prefix: str = "") -> set[str]:
    """The dotted keys of a ``neuron`` node left to the user's neurons (``tau``, ``surrogate.name``)."""
    node = OmegaConf.to_container(node, resolve=False) if isinstance(node, DictConfig) else node
    keys: set[str] = set()
    for key, value in (node or {}).items():
        if isinstance(value, dict):
            keys |= as_written_keys(value, f"{prefix}{key}.")
        elif value == AS_WRITTEN:
            keys.add(f"{prefix}{key}")
    return keys


def _neuron_defaults() -> dict[str, Any]:
    """The ``neuron`` node of ``conf/config.yaml``: a key at its default there is the package's default,
    which ``ablate()`` applies anyway (the keys a user's neuron holds read ``model`` instead)."""
    conf = Path(__file__).resolve().parents[1] / "conf"
    defaults = dict(OmegaConf.to_container(OmegaConf.load(conf / "config.yaml")).get("neuron") or {})
    as_written = OmegaConf.to_container(OmegaConf.load(conf / "model" / "import_neuron" / "as_written.yaml"))["neuron"]
    return {key: value for key, value in defaults.items() if key not in as_written}  # a value there is given


def ablate_arguments(neuron_cfg: Any) -> tuple[str, dict[str, Any]]:
    """``(variant, options)`` for :func:`ablations.ablate.ablate` from a run's ``neuron`` node: the
    variant, and only the keys that replace what the user's neurons have (a value other than
    ``model``, :data:`AS_WRITTEN`) or that choose another component than the variant's."""
    node = OmegaConf.to_container(neuron_cfg, resolve=True) if isinstance(neuron_cfg, DictConfig) else dict(neuron_cfg)
    name = str(node.get("variant") or "vanilla")
    variant = name if name in neurons.VARIANTS else "vanilla"  # a label built from choices: every slot key is set
    preset = neurons.VARIANTS[variant]
    options: dict[str, Any] = {}
    defaults = _neuron_defaults()
    for key, value in node.items():
        if key in ("variant", "backend", "surrogate") or value is None or value == AS_WRITTEN:
            continue
        if key in neurons.PHYSICS_KEYS and value == getattr(preset, key) and (key != "reset" or value == "none"):
            continue  # the variant's own choice, written into the record (a reset not `model` is given)
        if key in defaults and defaults[key] == value and not isinstance(value, dict):
            continue  # the package's default for a key the user's neurons do not hold
        options[key] = value
    surrogate = {k: v for k, v in dict(node.get("surrogate") or {}).items() if v is not None and v != AS_WRITTEN}
    name = surrogate.pop("name", None)
    if name is not None:
        allowed = neurons.SURROGATE_PARAMETERS[str(name)]
        options["surrogate"] = str(name)
        options["surrogate_params"] = {k: float(v) for k, v in surrogate.items() if k in allowed}
    elif surrogate:
        options["surrogate_params"] = {k: float(v) for k, v in surrogate.items()}
    return variant, options


def build_imported(cfg: DictConfig, spec, input_shape: tuple[int, ...]) -> ImportedNetwork:
    """``model=import``: the user's ``model.target(**model.kwargs)`` ablated into the run's variant,
    keeping what the user's neurons have except the ``neuron.*`` keys given (:func:`ablate_arguments`;
    ``spec``, the package's reading of the same node, is not used: the user's neurons fill the rest)."""
    model_cfg = cfg.model
    target = model_cfg.get("target")
    if not target:
        raise UserError("model=import needs model.target=package.module:Name (or path/to/file.py:Name), the class or "
                        "function that builds your snnTorch model")
    factory = resolve_target(str(target))
    kwargs = model_cfg.get("kwargs") or {}
    kwargs = OmegaConf.to_container(kwargs, resolve=True) if isinstance(kwargs, DictConfig) else dict(kwargs)
    try:
        user = factory(**kwargs)
    except TypeError as error:
        parameters = inspect.signature(factory).parameters if callable(factory) else {}
        raise UserError(f"model.target={target!r} could not be built with model.kwargs={kwargs} ({error}); it takes: "
                        f"{', '.join(parameters) or 'no arguments'}") from None
    if not isinstance(user, nn.Module):
        raise UserError(f"model.target={target!r} returned a {type(user).__name__}, not a torch.nn.Module")
    variant, options = ablate_arguments(cfg.neuron)
    try:
        ablated = ablate(user, variant, **options)
    except ValueError as error:
        raise UserError(f"model.target={target!r}: {error}") from None
    returns = model_cfg.get("returns") or ["spikes", "membrane"]
    returns = OmegaConf.to_container(returns) if not isinstance(returns, str) and hasattr(returns, "_content") else returns
    network = ImportedNetwork(ablated, call=str(model_cfg.get("call") or "sequence"), returns=returns,
                              readout=str(model_cfg.get("readout") or "spike_count"), input_shape=input_shape,
                              source=source_of(str(target)))
    return network
