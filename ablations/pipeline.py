"""A run from command line to record: check the config (:func:`ablations.config.check`: composed,
checked, resolved, once), build the data and the model, train (or resume, or skip), evaluate, and record
every step under the run directory. :func:`run` takes overrides (what ``python -m ablations.run``
calls); :func:`run_cfg` takes a composed config (Hydra's multirun, the studies, the tests).
"""

from __future__ import annotations

import math
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from omegaconf import DictConfig, OmegaConf, open_dict

from . import config, faults, models, neurons, results, streams, tracking
from .data import build_dataset
from .errors import UserError, parse_bool
from .config import replayable
from .training import Diverged, StopRun, fit, seed_everything, select_device

__all__ = ["Prepared", "prepare", "run", "run_cfg", "compose_run"]


@dataclass
class Prepared:
    """A validated run: its resolved config (a copy; the caller's is left as it was), spec, data, model."""

    cfg: DictConfig
    spec: neurons.NeuronSpec
    bundle: Any
    model: Any


def prepare(cfg: DictConfig | Iterable[str], overrides: Iterable[str] | None = None) -> Prepared:
    """Check the config and build the data and the model, before anything is written.

    ``cfg`` is a list of command-line overrides, or a config already composed from ``overrides``;
    either way it goes through the one check pass (:func:`ablations.config.check`: every rule once,
    the resolved values, the neuron spec), then the dataset's steps are recorded. Nothing here checks
    again. Works on a copy: the returned ``Prepared.cfg`` is what the run directory and the record are
    derived from.
    """
    if isinstance(cfg, DictConfig):
        checked = config.check(overrides or (), cfg)
    else:
        checked = config.check(list(cfg))
    cfg, spec = checked.cfg, checked.spec
    seed_everything(int(cfg.seed))  # weights are drawn when the model is built
    try:
        bundle = build_dataset(cfg.dataset, cfg.paths.data)
    except ValueError as error:
        raise UserError(str(error)) from None
    with open_dict(cfg):
        cfg.dataset.steps = bundle.steps  # derived for generated data; recorded for every run
    if checked.suites is None and cfg.eval.get("suites"):
        from . import evaluation

        evaluation.check(cfg, bundle.kind)  # the data kind is known only now: a misspelled suite fails before training
    try:
        model = models.build_model(cfg, bundle.input_shape, spec)
    except ValueError as error:
        raise UserError(str(error)) from None
    streams.prepare_model(cfg, model)  # train.rng=paired: weights drawn per module name (ablations/streams.py)
    if model.n_classes != bundle.n_classes:
        fix = (f"give your model's last layer {bundle.n_classes} outputs (e.g. through model.kwargs)"
               if models.builder_of(cfg.model) == "import" else f"end the layer string with -{bundle.n_classes}")
        raise UserError(f"model {cfg.model.name!r} has {model.n_classes} outputs but dataset {bundle.name!r} "
                        f"has {bundle.n_classes} classes; {fix}")
    return Prepared(cfg, spec, bundle, model)


def run_cfg(cfg: DictConfig | Prepared, on_epoch: Callable[[int, dict], None] | None = None,
            overrides: Iterable[str] | None = None) -> Path:
    """Train, resume or skip the run ``cfg`` describes (or that :func:`prepare` made ready); return its
    directory. A :class:`StopRun` from ``on_epoch`` propagates with the run directory attached.
    ``overrides`` (the command line the config was composed from) is checked with it and kept in
    the record, its files made absolute (:func:`ablations.config.replayable`), so the same
    command reproduces the run from any folder and the figures can say which command that is.

    The run folder is locked (:class:`ablations.results.RunLock`) while this process works on it:
    a second process on the same run exits at once with a message naming the first.
    ``train.restart=true`` deletes the run's record first and trains it from scratch.
    """
    prepared = cfg if isinstance(cfg, Prepared) else prepare(cfg, overrides)
    if overrides is not None:
        overrides = replayable(overrides)
    run_dir = results.run_dir_for(prepared.cfg)
    restart = parse_bool(prepared.cfg.train.get("restart", False), "train.restart")
    with results.RunLock(run_dir, purpose="restart" if restart else "training"):
        faults.point("run.start")
        if restart:
            removed = results.clear_run(run_dir)
            if removed:
                print(f"{run_dir}: restart: deleted {', '.join(removed)}", flush=True)
        results.remove_orphans(run_dir)  # temporary files of writes a killed process left behind
        return _train_locked(prepared, run_dir, on_epoch, overrides)


def _train_locked(prepared: Prepared, run_dir: Path, on_epoch, overrides) -> Path:
    cfg, spec, bundle, model = prepared.cfg, prepared.spec, prepared.bundle, prepared.model
    status = results.read_status(run_dir)  # CorruptRecord (exit 2) names train.restart=true
    device = select_device(str(cfg.device))
    if device.type == "cpu":
        threads = _cpu_threads(cfg, model, bundle, status)
    if status and status.get("status") in ("finished", "diverged"):
        final = status.get("final") if isinstance(status.get("final"), dict) else {}
        print(f"{run_dir}: already {status['status']} (accuracy {final.get('accuracy')}); "
              "skipping training", flush=True)
        if status["status"] == "finished":
            _evaluate(cfg, run_dir, bundle, device, model=None)
            mirrored = tracking.mirror_record(cfg, run_dir, results.read_metrics(run_dir).to_dict("records"), final)
            if mirrored:
                print(f"{run_dir}: {mirrored}", flush=True)
        return run_dir
    stream = (bundle.meta or {}).get("sample_stream")
    _check_same_stream(run_dir, status, stream)
    run_dir.mkdir(parents=True, exist_ok=True)
    results.atomic_write_text(run_dir / results.CONFIG_FILE, OmegaConf.to_yaml(cfg, resolve=True))
    previous = status or {}
    results.write_status(run_dir, {
        **previous,
        "status": "running",
        "config_hash": results.config_hash(cfg),
        "variant": str(cfg.neuron.variant),
        "dataset": str(cfg.dataset.name),
        "model": str(cfg.model.name),
        "seed": int(cfg.seed),
        "neuron": _neurons_in_words(model, spec),
        "beta_value": None if hasattr(model, "neuron_table") else spec.beta_value,  # model=import: model_neurons
        "n_parameters": sum(p.numel() for p in model.parameters()),
        "device": str(device),
        **({"threads": threads[0], "threads_reason": threads[1]} if device.type == "cpu" else {}),
        "versions": results.versions(),
        **({"model_source": dict(model.source)} if getattr(model, "source", None) else {}),  # model=import
        **({"model_neurons": model.neuron_table()} if hasattr(model, "neuron_table") else {}),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": previous.get("started") or time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "trial": OmegaConf.to_container(cfg.trial) if cfg.get("trial") else None,
        "overrides": list(overrides) if overrides is not None else previous.get("overrides"),
        # False: the files were read without the checksum test (dataset.verify=false, e.g. a subset)
        "data_verified": (bundle.meta or {}).get("verified", True),
        **({"sample_stream": stream} if stream else {}),  # samples drawn during training (fresh batches)
    })
    faults.point("run.running")
    cpu = f", {threads[0]} thread(s) ({threads[1]})" if device.type == "cpu" else ""
    print(f"run {run_dir}\n  {_neurons_in_words(model, spec)}\n  device {device}{cpu}", flush=True)
    # the run's wall time over all its sessions (a resumed run's earlier ones kept by fit in its status)
    wall_origin = time.perf_counter() - float(previous.get("wall_time_s") or 0.0)
    try:
        final = fit(cfg, run_dir, bundle, model, device, on_epoch=on_epoch, wall_origin=wall_origin)
    except Diverged as error:
        results.update_status(run_dir, status="diverged", error=str(error))
        print(f"{run_dir}: diverged ({error}); the record is kept with status 'diverged'", flush=True)
        return run_dir
    except StopRun as stop:
        results.update_status(run_dir, status=stop.status, error=str(stop))
        stop.run_dir = run_dir
        raise
    except KeyboardInterrupt:
        results.update_status(run_dir, status="interrupted")
        print(f"\ninterrupted; run the same command again to resume {run_dir}", flush=True)
        raise
    except UserError as error:  # a corrupt checkpoint: the record stays as it was, the message says what to do
        results.update_status(run_dir, status="failed", error=str(error))
        raise
    except BaseException as error:
        try:
            results.update_status(run_dir, status="failed", error=f"{type(error).__name__}: {error}")
        except OSError:
            pass  # a full or read-only disk: the original error is the one to report
        raise
    finally:
        neurons.release_instances()
    _evaluate(cfg, run_dir, bundle, device, model=model)
    results.update_status(run_dir, status="finished", final=final,
                          finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                          wall_time_s=time.perf_counter() - wall_origin)
    print(f"{run_dir}: finished, test accuracy {final.get('accuracy', float('nan')):.4f}", flush=True)
    return run_dir


def _check_same_stream(run_dir: Path, status: dict | None, stream: str | None) -> None:
    """A run whose training samples are drawn as it trains (``sample_stream`` in the data's meta, e.g.
    fresh delayed XOR batches) resumes only on the stream it was trained on: the config identity
    names the task, not how its samples are drawn, so a record trained by another version would
    otherwise go on with other samples and say nothing. Refused before anything is written."""
    done = int((status or {}).get("epochs_done") or 0)
    if not stream or done == 0 or status.get("sample_stream") == stream:
        return
    recorded = status.get("sample_stream")
    was = (f"samples from the stream {recorded!r}" if recorded else
           "samples from a stream its record does not name (a version that did not record it)")
    raise UserError(
        f"{run_dir} trained {done} epoch(s) on {was}; this version draws them from {stream!r}, so resuming "
        "would train one run on two different draws of the task. Resume it with the version that started it, "
        "or train it again from scratch with train.restart=true (deletes this record), or choose another "
        "paths.runs.")


def _cpu_threads(cfg: DictConfig, model, bundle, status: dict | None) -> tuple[int, str]:
    """torch's threads for this run (:func:`ablations.parallel.choose_threads`, timing a forward and
    backward pass of a copy of the network on a random batch of the run's shape, the run's random
    streams untouched); a resumed run keeps the threads it started with, so that its sums are added
    up the same way."""
    import copy

    import torch

    from .parallel import choose_threads

    if status and status.get("threads") and "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(int(status["threads"]))
        return int(status["threads"]), "as when the run started"
    steps = int(cfg.dataset.get("steps") or 1)
    batch = max(1, min(int(cfg.train.batch_size), 2**22 // max(1, steps * math.prod(bundle.input_shape))))
    probe = copy.deepcopy(model).train()
    for module in probe.modules():  # the copy times the network only: hooks on the run's model (probes, a
        for hooks in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks"):
            getattr(module, hooks, {}).clear()  # caller's recorder) stay with that model

    def step() -> None:
        x = torch.rand(steps, batch, *bundle.input_shape)
        out = probe(x)
        out = out[0] if isinstance(out, (tuple, list)) else out
        out.float().sum().backward()

    with torch.random.fork_rng(devices=[]):
        try:
            return choose_threads(step)
        except Exception as error:  # noqa: BLE001 - a network that cannot take a random batch: keep torch's choice
            return torch.get_num_threads(), f"not measured ({type(error).__name__}); torch's default"

def _neurons_in_words(model, spec: neurons.NeuronSpec) -> str:
    """The neurons a run trains, in words: the spec, or per layer for a user's own model (model=import)."""
    return model.describe_neurons() if hasattr(model, "describe_neurons") else spec.describe()


def _evaluate(cfg: DictConfig, run_dir: Path, bundle, device, model=None) -> None:
    """Run the evaluation suites listed in ``eval.suites`` that the run does not have yet."""
    suites = list(cfg.eval.get("suites") or [])
    if not suites:
        return
    from . import evaluation

    evaluation.run_suites(run_dir, suites, cfg=cfg, data=bundle, model=model, device=device)


def compose_run(overrides: Iterable[str]) -> DictConfig:
    """The composed run config of ``overrides`` (:func:`ablations.config.compose`), not yet checked."""
    return config.compose(list(overrides))


def run(overrides: Iterable[str] = (), on_epoch: Callable[[int, dict], None] | None = None) -> Path:
    """Same as the command line: ``run(["variant=no_reset", "train.epochs=1"])`` -> run directory."""
    overrides = [str(o) for o in overrides]
    return run_cfg(prepare(overrides), on_epoch=on_epoch, overrides=overrides)
