"""A small cached set of real run records, and every state a ``runs/`` folder can be in.

:func:`base_runs` trains three tiny ``digits`` runs once per process (vanilla with the noise and
activity suites, no_leak with the activity suite, no_reset without any suite). :data:`STATES`
turns a copy of one of them into each state a researcher's ``runs/`` may hold: finished with or
without evaluation rows, running, failed, diverged, written by an earlier package version, a
foreign folder, and the corrupt cases (status.json not JSON, config.yaml not YAML or no longer
valid, a truncated checkpoint, eval parquet truncated or of other columns, metrics.csv garbage).
:func:`materialize` lays out any mixture of states under a root.
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from pathlib import Path
from typing import Callable

BASE = ["dataset.steps=4", "train.epochs=2", "train.max_batches=2", "progress=false", "device=cpu"]
SMALL_NOISE = ["eval.noise.n_samples=60", "eval.noise.severities=[0,5]", "eval.noise.scenarios=[1]"]
SMALL_ACTIVITY = ["eval.activity.n_samples=60"]  # suite parameters only where the suite runs (else refused)


@functools.lru_cache(maxsize=1)
def base_runs() -> dict[str, Path]:
    """``{"vanilla" | "no_leak" | "no_reset": run folder}``: real records, trained once per process."""
    from ablations.run import run

    folder = Path(tempfile.mkdtemp(prefix="ablations-records-"))
    atexit.register(shutil.rmtree, folder, True)
    runs = folder / "runs"
    common = [*BASE, f"paths.runs={runs}", f"paths.data={folder / 'datasets'}"]
    return {
        "vanilla": run([*common, *SMALL_NOISE, *SMALL_ACTIVITY, "variant=vanilla", "eval.suites=[noise,activity]"]),
        "no_leak": run([*common, *SMALL_ACTIVITY, "variant=no_leak", "eval.suites=[activity]"]),
        "no_reset": run([*common, "variant=no_reset"]),
    }


def _status(run_dir: Path, **changes) -> None:
    path = run_dir / "status.json"
    status = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            status.pop(key, None)
        else:
            status[key] = value
    path.write_text(json.dumps(status))


def _drop_eval(run_dir: Path) -> None:
    shutil.rmtree(run_dir / "eval", ignore_errors=True)


def _running(d: Path) -> None:
    _drop_eval(d)
    _status(d, status="running", final=None, finished=None)


def _failed(d: Path) -> None:
    _drop_eval(d)
    _status(d, status="failed", error="RuntimeError: CUDA out of memory", final=None)


def _diverged(d: Path) -> None:
    _drop_eval(d)
    _status(d, status="diverged", error="loss became nan at epoch 1, batch 2", final=None)


def _previous_version(d: Path) -> None:
    """An earlier release's record: fewer status keys, a config without the newer nodes."""
    import yaml

    _status(d, config_hash=None, beta_value=None, versions=None, wall_time_s=None, trial=None)
    config = yaml.safe_load((d / "config.yaml").read_text())
    config.pop("trial", None)
    config.get("dataset", {}).pop("steps", None)
    config.get("dataset", {}).pop("kind", None)
    config.get("neuron", {}).pop("variant", None)
    (d / "config.yaml").write_text(yaml.safe_dump(config))


def _status_not_json(d: Path) -> None:
    (d / "status.json").write_text('{"status": "finished", "final": {"accur')


def _status_foreign_json(d: Path) -> None:
    (d / "status.json").write_text("[1, 2, 3]")


def _config_not_yaml(d: Path) -> None:
    (d / "config.yaml").write_text("dataset: {name: digits\n  - : [unclosed")


def _config_invalid(d: Path) -> None:
    """Valid YAML that no longer validates: an unknown leak and a layer string that cannot build."""
    text = (d / "config.yaml").read_text()
    (d / "config.yaml").write_text(text.replace("leak: exponential", "leak: quadratic")
                                   .replace("leak: none", "leak: quadratic"))


def _checkpoint_truncated(d: Path) -> None:
    data = (d / "checkpoint.pt").read_bytes()
    (d / "checkpoint.pt").write_bytes(data[: len(data) // 3])


def _eval_other_columns(d: Path) -> None:
    import pandas as pd

    (d / "eval").mkdir(exist_ok=True)
    pd.DataFrame({"foo": [1, 2], "bar": ["x", "y"]}).to_parquet(d / "eval" / "activity.parquet")


def _eval_truncated(d: Path) -> None:
    for path in (d / "eval").glob("*.parquet"):
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])


def _metrics_garbage(d: Path) -> None:
    (d / "metrics.csv").write_bytes(b"\x00\xff\xfe garbage \x00\n\x01,\x02\n")


def _orphans(d: Path) -> None:
    """Temporary files of atomic writes a killed process left behind."""
    (d / ".status.json.abc123.tmp").write_text('{"status": "finished", "fin')
    (d / ".checkpoint.pt.def456.tmp").write_bytes(b"PK\x03\x04 half a checkpoint")


# state name -> (base run, how to change a copy of it, how many records load_results must skip)
STATES: dict[str, tuple[str, Callable[[Path], None] | None, int]] = {
    "finished_eval": ("vanilla", None, 0),
    "finished_activity": ("no_leak", None, 0),
    "finished_no_eval": ("no_reset", None, 0),
    "running": ("vanilla", _running, 0),
    "failed": ("no_leak", _failed, 0),
    "diverged": ("no_reset", _diverged, 0),
    "previous_version": ("vanilla", _previous_version, 0),
    "orphaned_temporaries": ("no_leak", _orphans, 0),
    "status_not_json": ("vanilla", _status_not_json, 1),
    "status_foreign_json": ("no_reset", _status_foreign_json, 1),
    "config_not_yaml": ("no_leak", _config_not_yaml, 1),
    "config_invalid": ("vanilla", _config_invalid, 0),
    "checkpoint_truncated": ("vanilla", _checkpoint_truncated, 0),
    "eval_other_columns": ("no_leak", _eval_other_columns, 1),
    "eval_truncated": ("vanilla", _eval_truncated, 2),
    "metrics_garbage": ("no_reset", _metrics_garbage, 1),
}
CORRUPT_STATES = [name for name, (_, _, skipped) in STATES.items() if skipped]


def materialize(root: Path, states: list[str], foreign: bool = False) -> list[Path]:
    """Lay out one run folder per entry of ``states`` under ``root`` (the same state twice gives
    two runs with different seeds); ``foreign`` adds folders and files no run wrote."""
    runs = base_runs()
    root.mkdir(parents=True, exist_ok=True)
    made = []
    for index, state in enumerate(states):
        base, change, _ = STATES[state]
        source = runs[base]
        target = root / source.relative_to(source.parents[3]).parent / f"{source.name.split('-seed')[0]}-seed{100 + index}"
        shutil.copytree(source, target)
        _status(target, seed=100 + index)
        config = target / "config.yaml"
        config.write_text("".join(f"seed: {100 + index}\n" if line.startswith("seed:") else line
                                  for line in config.read_text().splitlines(keepends=True)))
        if change is not None:
            change(target)
        made.append(target)
    if foreign:
        (root / "notes").mkdir(exist_ok=True)
        (root / "notes" / "README.txt").write_text("my notes, not a run")
        (root / ".sweeps" / "2026-01-01_00-00-00").mkdir(parents=True, exist_ok=True)
        (root / "other_tool" / "job7").mkdir(parents=True, exist_ok=True)
        (root / "other_tool" / "job7" / "status.json").write_text('{"state": "done", "exit": 0}')
        (root / "stray.parquet").write_bytes(b"not parquet")
    return made


def skipped_expected(states: list[str], foreign: bool = False) -> int:
    """How many records load_results must leave out (the foreign status.json counts as one)."""
    return sum(STATES[s][2] for s in states) + int(foreign)
