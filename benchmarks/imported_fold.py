"""Epoch time of a user's own snnTorch model (``model=import``): step by step against time-folded.

    python benchmarks/imported_fold.py                                   # digits_events
    python benchmarks/imported_fold.py --realdata ../shared/realdata     # and the N-MNIST subset

The model is snnTorch's tutorial 7 form (``examples/snntorch_models.py:fc_sequential``: an
``nn.Sequential`` of ``nn.Linear`` and ``snn.Leaky(init_hidden=True)``, ``model.call=step``), built by
the run pipeline (:func:`ablations.pipeline.prepare`) as ``python -m ablations.run model=import``
builds it. The same network, twice from the same weights and seed, trains one epoch through
:func:`ablations.training.fit` (training and one test pass, as a run's epoch): once step by step
(the user's forward once per time step, ``ImportedNetwork.folded = False``) and once time-folded
(the layers on ``[T*B, ...]``, the neurons through ``neurons.run_sequence``). The two run in one
process, one after the other, in an order that alternates over ``--repeats``; the table gives the
median epoch time of each and their ratio (an epoch also loads the data and runs the test pass, the
same on both paths), and a line per case the model alone: forward and backward of one test batch. Before training, the output spikes of both on one test
batch are compared (equal, or the count that differs), and after it the largest parameter
difference (float32 rounding adds up over an epoch of Adam steps).

Print ``uptime`` beside the numbers: the machine may be shared.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ablations.pipeline import prepare  # noqa: E402
from ablations.training import fit, seed_everything  # noqa: E402

MODEL = str(ROOT / "examples" / "snntorch_models.py") + ":fc_sequential"


def _data_root(realdata: Path, scratch: Path) -> Path:
    """A data root whose nmnist/NMNIST links into the read-only subset (the frame cache goes to scratch)."""
    root = scratch / "data"
    (root / "nmnist").mkdir(parents=True, exist_ok=True)
    link = root / "nmnist" / "NMNIST"
    if not link.exists():
        os.symlink(realdata / "nmnist" / "NMNIST", link)
    return root


def case(name: str, overrides: list[str], repeats: int, scratch: Path) -> dict:
    base = ["model=import", f"model.target={MODEL}", "model.call=step", "train.epochs=1", "progress=false",
            "device=cpu", "eval.suites=[]", f"paths.runs={scratch / 'runs'}", *overrides]
    prepared = prepare(base)
    folded = prepared.model
    assert folded.folded, folded.per_step_reason
    stepwise = copy.deepcopy(folded)
    stepwise.folded = False
    batch = torch.utils.data.default_collate([prepared.bundle.test[i] for i in range(min(32, len(prepared.bundle.test)))])
    x = prepared.bundle.encoder(batch[0])  # the time-major network input [T, B, ...]
    with torch.no_grad():
        spikes = [network._records(x.float())["spikes"] for network in (stepwise, folded)]
    differing = int((spikes[0] != spikes[1]).sum())
    step_s = {}
    for label, network in (("step by step", stepwise), ("time-folded", folded)):  # the model alone: one batch
        model = copy.deepcopy(network)
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            model(x.float()).sum().backward()
            runs.append(time.perf_counter() - start)
        step_s[label] = statistics.median(runs[1:])
    times: dict[str, list[float]] = {"step by step": [], "time-folded": []}
    trained = {}
    for repeat in range(repeats):
        order = [("step by step", stepwise), ("time-folded", folded)]
        for label, network in (order if repeat % 2 == 0 else order[::-1]):
            model = copy.deepcopy(network)
            seed_everything(int(prepared.cfg.seed))
            start = time.perf_counter()
            fit(prepared.cfg, scratch / f"{name}-{label.replace(' ', '_')}-{repeat}", prepared.bundle, model,
                torch.device("cpu"))
            times[label].append(time.perf_counter() - start)
            trained[label] = model
    after = dict(trained["step by step"].named_parameters())
    drift = max(float((p - after[n]).abs().max().detach()) for n, p in trained["time-folded"].named_parameters())
    return {"case": name, "T": int(prepared.bundle.steps), "train samples": len(prepared.bundle.train),
            "step by step s": statistics.median(times["step by step"]),
            "time-folded s": statistics.median(times["time-folded"]),
            "spikes differing": f"{differing} of {spikes[0].numel()}", "parameter drift": drift, "times": times,
            "batch": int(x.shape[1]), "forward+backward s": step_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--realdata", type=Path, default=None, help="shared/realdata (adds the N-MNIST subset)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--nmnist-windows-ms", type=float, nargs="+", default=[10.0],
                        help="frame widths of the N-MNIST case (10 ms: T = 30; 3 ms, seed 001's: T = 100)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        cases = [("digits_events", ["dataset=digits_events"])]
        if args.realdata:
            root = _data_root(args.realdata.resolve(), scratch)
            for window in args.nmnist_windows_ms:
                cases.append((f"nmnist subset, {window:g} ms frames", [
                    "dataset=nmnist", f"dataset.frame.time_window_ms={window:g}", "model.kwargs.num_inputs=2312",
                    f"paths.data={root}", f"paths.cache={scratch / 'cache'}"]))
        rows = [case(name, overrides, args.repeats, scratch) for name, overrides in cases]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); "
          f"load: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print(f"{'case':<30} {'T':>4} {'train':>6} {'step by step s':>15} {'time-folded s':>14} {'ratio':>6} "
          f"{'spikes differing':>20} {'param drift':>12}")
    for row in rows:
        print(f"{row['case']:<30} {row['T']:>4} {row['train samples']:>6} {row['step by step s']:>15.2f} "
              f"{row['time-folded s']:>14.2f} {row['step by step s'] / row['time-folded s']:>6.1f} "
              f"{row['spikes differing']:>20} {row['parameter drift']:>12.2e}")
    for row in rows:
        model = row["forward+backward s"]
        print(f"{row['case']}: the model alone, forward + backward of one batch of {row['batch']} (median of 4): "
              f"step by step {model['step by step']:.3f} s, time-folded {model['time-folded']:.3f} s, ratio "
              f"{model['step by step'] / model['time-folded']:.1f}")
        print(f"{row['case']}: every epoch, s: " + "; ".join(
            f"{label} {', '.join(f'{t:.2f}' for t in times)}" for label, times in row["times"].items()))


if __name__ == "__main__":
    main()
