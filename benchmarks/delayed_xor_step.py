"""Milliseconds per training step of seed 001's delayed XOR (``experiment=roles_delayed_xor``: 20-16-2,
batch 500, T = 200, a fresh batch every step), one thread, every contender in the same run:

* ``package CLI``: ``python -m ablations.run experiment=roles_delayed_xor variant=V`` as a user runs it,
  two epochs of ``--steps`` steps; the second epoch's training time per step, as the run records it
  (``epoch_time_s``: fresh batch, forward, backward, optimiser). ``--other DIR`` times another tree of
  the package the same way (e.g. ``git archive main | tar -x -C /tmp/main``: before and after in one run);
* ``snnTorch loop``: the same network written as snnTorch's tutorials do (``snn.Leaky`` with a
  learnable per-neuron beta and subtractive reset, an ``snn.Leaky`` readout without reset, ATan: snnTorch
  has no multi-Gaussian surrogate), a Python step per time step, the same fresh batches and the
  summed cross-entropy of the softmax over steps 191-199;
* ``DH-SNN loop``: the authors' own layers and loop (``/work/shared/tools/dhsnn_xor.py``), where
  ``DHSNN_DIR`` points at an extracted ``delayed_xor/`` folder of eva1801/DH-SNN (its ms per step
  includes one forward pass over 2 000 test samples at the end, spread over ``--steps`` steps).

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python benchmarks/delayed_xor_step.py --variant vanilla
    python benchmarks/delayed_xor_step.py --other /tmp/main --repeats 3

Prints ``uptime`` before and after (the load: on a shared machine every number moves with it; compare
rows of one run only) and the median over ``--repeats``.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DHSNN_TOOL = Path("/work/shared/tools/dhsnn_xor.py")
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return f"load average {os.getloadavg()}"


def cli_ms_per_step(tree: Path, variant: str, steps: int) -> float:
    """One CLI run of the package in ``tree``: two epochs of ``steps`` steps; the second epoch's training
    time (``epoch_time_s`` in its metrics.csv: fresh batches, forward, backward, optimiser; not the test
    evaluation) per step. The first epoch pays for loading the compiled kernel and measuring the
    sparse crossover, which a 15 000-step run pays once."""
    with tempfile.TemporaryDirectory() as runs:
        command = [sys.executable, "-m", "ablations.run", "experiment=roles_delayed_xor", f"variant={variant}",
                   "train.epochs=2", f"dataset.n_train={steps * 500}", "progress=false", f"paths.runs={runs}"]
        env = {**os.environ, **ONE_THREAD, "PYTHONPATH": str(tree), "NUMBA_CACHE_DIR": str(Path(runs) / "numba"),
               "PYTHONDONTWRITEBYTECODE": "1"}
        done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed in {tree}:\n{done.stderr[-2000:]}")
        (metrics,) = Path(runs).glob("*/*/*/*/metrics.csv")
        with open(metrics) as handle:
            rows = list(csv.DictReader(handle))
    return float(rows[-1]["epoch_time_s"]) / steps * 1e3


def snntorch_ms_per_step(variant: str, steps: int) -> float:
    """The plain snnTorch loop of the same network (module docstring), in this process."""
    import snntorch as snn
    import torch
    import torch.nn.functional as F
    from snntorch import surrogate

    from ablations.data.generated import make_fresh_delayed_xor

    torch.set_num_threads(1)
    torch.manual_seed(0)
    params = dict(channels=20, pattern_steps=10, delay_steps=180, low_rate=0.2, high_rate=0.6, noise_rate=0.01,
                  noise_over_patterns=True)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = torch.nn.Linear(20, 16), torch.nn.Linear(16, 2)
            self.recurrent = torch.nn.Linear(16, 16, bias=False) if variant == "recurrent" else None
            reset = "none" if variant == "no_reset" else "subtract"
            self.lif = snn.Leaky(beta=torch.rand(16), learn_beta=True, spike_grad=surrogate.atan(),
                                 reset_mechanism=reset, init_hidden=False)
            self.out = snn.Leaky(beta=torch.rand(2), learn_beta=True, reset_mechanism="none", init_hidden=False)

        def forward(self, x, y):
            mem1, mem2 = self.lif.init_leaky(), self.out.init_leaky()
            spk = torch.zeros(x.shape[1], 16)
            loss = 0.0
            for t in range(x.shape[0]):
                current = self.fc1(x[t]) + (self.recurrent(spk) if self.recurrent is not None else 0.0)
                spk, mem1 = self.lif(current, mem1)
                _, mem2 = self.out(self.fc2(spk), mem2)
                if t > x.shape[0] - 10:
                    loss = loss + F.cross_entropy(F.softmax(mem2, dim=1), y)
            return loss

    net = Net()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)

    def step(index):
        x, y = make_fresh_delayed_xor([(0, 0, index * 500 + i) for i in range(500)], **params)
        loss = net(x.transpose(0, 1).float(), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step(0)
    start = time.perf_counter()
    for index in range(1, steps + 1):
        step(index)
    return (time.perf_counter() - start) / steps * 1e3


def dhsnn_ms_per_step(variant: str, steps: int) -> float | None:
    if not os.environ.get("DHSNN_DIR") or not DHSNN_TOOL.exists():
        return None
    variant = {"vanilla": "vanilla", "no_reset": "no_reset", "recurrent": "recurrent"}.get(variant)
    if variant is None:
        return None
    done = subprocess.run([sys.executable, str(DHSNN_TOOL), "--variant", variant, "--steps", str(steps)],
                          env={**os.environ, **ONE_THREAD}, capture_output=True, text=True)
    for line in done.stdout.splitlines():
        if line.startswith("result "):
            return float(line.rsplit("ms_per_step=", 1)[1])
    raise SystemExit(f"dhsnn_xor.py gave no result:\n{done.stderr[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", default="vanilla", choices=["vanilla", "no_reset", "recurrent"])
    parser.add_argument("--steps", type=int, default=40, help="training steps timed per contender and repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--other", type=Path, action="append", default=[],
                        help="another tree of the package to time the same way (before/after)")
    parser.add_argument("--no-loops", action="store_true", help="the CLI rows only")
    options = parser.parse_args()
    print("before:", uptime(), flush=True)
    trees = [("package CLI (this tree)", REPO)] + [(f"package CLI ({tree})", tree) for tree in options.other]
    rows: dict[str, list[float]] = {}
    for _ in range(options.repeats):  # interleaved: each repeat times every contender once
        for name, tree in trees:
            rows.setdefault(name, []).append(cli_ms_per_step(tree, options.variant, options.steps))
        if not options.no_loops:
            rows.setdefault("snnTorch loop", []).append(snntorch_ms_per_step(options.variant, options.steps))
            dhsnn = dhsnn_ms_per_step(options.variant, options.steps)
            if dhsnn is not None:
                rows.setdefault("DH-SNN loop", []).append(dhsnn)
        print(" ".join(f"{name}: {values[-1]:.1f}" for name, values in rows.items()), flush=True)
    print("after: ", uptime())
    print(f"\nms per training step, variant={options.variant}, one thread, median of {options.repeats}")
    for name, values in rows.items():
        print(f"  {name:<45} {statistics.median(values):8.1f}   ({', '.join(f'{v:.1f}' for v in values)})")
    if not os.environ.get("DHSNN_DIR"):
        print("  (DH-SNN loop: set DHSNN_DIR to an extracted delayed_xor/ folder of eva1801/DH-SNN)")


if __name__ == "__main__":
    main()
