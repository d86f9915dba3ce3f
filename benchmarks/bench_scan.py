"""The neuron scan alone, forward + backward: the torch scan (``neuron.backend=fused``) beside the
compiled one-pass kernel (``neuron.backend=kernel``, ablations/neurons/numba_scan.py) and snnTorch's step loop.

    python benchmarks/bench_scan.py                        # the three shapes of issue 23, vanilla + recurrent
    python benchmarks/bench_scan.py --shapes 25x64x512 --variants recurrent --iters 50 --threads 1

Each case drives one layer with a random current ``[T, B, N]`` and times the scan forward and its
backward for given random upstream gradients of the spikes and the membrane (the scan alone, no
loss), interleaved (one call of every contender in turn per iteration, after a warm-up that also
compiles the kernel); the table gives the median in milliseconds and the ratio torch scan / kernel
(> 1: the kernel is faster). ``--clock cpu`` times the process's CPU time instead of the wall
clock: on a shared machine it is far steadier (with ``--threads 1`` it is the single-core time). ``--per-neuron-beta``
learns one beta per neuron (what the sigmoid-parameterised beta passes to the scan).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from ablations import neurons
from ablations.neurons import torch_scan as scan

VARIANTS = {"vanilla": dict(leak="exponential", tau=5.0, reset="zero"),
            "recurrent": dict(leak="exponential", tau=5.0, reset="zero", recurrent=True),
            "linear_leak": dict(leak="linear", lam=0.05, reset="subtract")}


def _case(variant: str, steps: int, batch: int, width: int, per_neuron_beta: bool):
    spec = neurons.NeuronSpec(**VARIANTS[variant], learn_beta=variant != "linear_leak", surrogate="atan")
    neuron = neurons.build(spec, n_neurons=width)
    cell = neuron.cell if spec.recurrent else neuron
    recurrent = getattr(neuron, "recurrent", None)
    if recurrent is not None:
        torch.nn.init.normal_(recurrent.weight, std=0.3 / width ** 0.5)
    if per_neuron_beta and spec.leak != "linear":
        cell.beta = torch.nn.Parameter(torch.full((width,), float(cell.beta)))
    torch.manual_seed(0)
    current = (torch.randn(steps, batch, width) * 0.6 + 0.25).requires_grad_(True)
    upstream = (torch.randn(steps, batch, width), torch.randn(steps, batch, width) / (steps * batch))

    def run(backend: str):
        def step():
            current.grad = None
            if backend == "snntorch":
                spikes, membrane = neurons.run_sequence(neurons.set_backend(neuron, "snntorch"), current)
            else:
                spikes, membrane = scan.fused_scan(cell, recurrent, current, backend=backend)
            torch.autograd.backward([spikes, membrane], list(upstream))
        return step

    return {name: run(name) for name in ("snntorch", "fused", "kernel")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", nargs="+", default=["200x500x16", "16x64x128", "25x64x512"], help="TxBxN")
    parser.add_argument("--variants", nargs="+", default=["vanilla", "recurrent"], choices=sorted(VARIANTS))
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--per-neuron-beta", action="store_true")
    parser.add_argument("--no-snntorch", action="store_true", help="leave out snnTorch's step loop (slow)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    print(f"torch {torch.__version__}, {args.threads} thread(s), load {os.getloadavg()[0]:.2f}, "
          f"{'per-neuron' if args.per_neuron_beta else 'scalar'} learnable beta; median of {args.iters} "
          f"forward+backward, ms ({args.clock} clock)")
    print(f"{'variant':<12} {'T x B x N':<12} {'snntorch':>9} {'torch scan':>11} {'kernel':>8} {'ratio':>6}")
    for variant in args.variants:
        for shape in args.shapes:
            steps, batch, width = (int(v) for v in shape.split("x"))
            contenders = _case(variant, steps, batch, width, args.per_neuron_beta)
            if args.no_snntorch:
                contenders.pop("snntorch")
            times = {name: [] for name in contenders}
            for name, step in contenders.items():  # warm-up (compiles the kernel once)
                step()
            for _ in range(args.iters):
                for name, step in contenders.items():
                    start = clock()
                    step()
                    times[name].append(1e3 * (clock() - start))
            median = {name: statistics.median(values) for name, values in times.items()}
            reference = f"{median['snntorch']:9.2f}" if "snntorch" in median else f"{'-':>9}"
            print(f"{variant:<12} {shape:<12} {reference} {median['fused']:11.2f} {median['kernel']:8.2f} "
                  f"{median['fused'] / median['kernel']:6.1f}x", flush=True)


if __name__ == "__main__":
    main()
