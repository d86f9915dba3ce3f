"""Speed and memory of the neuron variants: forward + backward (BPTT) through one layer and a net.

    python benchmarks/bench_neurons.py                    # CPU, defaults
    python benchmarks/bench_neurons.py --device cuda --steps 100 --width 1024 --batch 128

Prints one table row per variant and backend (``snntorch``, ``fused``): milliseconds per
forward+backward of a single neuron layer driven by a random current ``[T, B, N]``, and of the
default digits network on a Poisson batch, plus the peak memory (CUDA: max allocated; CPU: the
process's peak resident set size).
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

from ablations import network, neurons
from ablations.data.encoders import PoissonEncoder


def timed(function, repeats: int, device: torch.device) -> float:
    function()  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats * 1e3


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=32, help="time steps T")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--width", type=int, default=512, help="neurons in the single-layer test")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    print(f"device {device}, T={args.steps}, batch {args.batch}, width {args.width}, torch {torch.__version__}")
    print(f"{'variant':28s} {'backend':9s} {'layer fwd+bwd ms':>17s} {'digits net fwd+bwd ms':>22s} {'peak MB':>9s}")
    encoder = PoissonEncoder(args.steps)
    images = torch.rand(args.batch, 1, 8, 8, device=device)
    for variant, backend in [(v, b) for v in neurons.VARIANTS for b in neurons.BACKENDS]:
        neuron = neurons.set_backend(neurons.build(variant, n_neurons=args.width).to(device), backend)
        current = torch.randn(args.steps, args.batch, args.width, device=device, requires_grad=True)

        def layer_step():
            spikes, _ = neurons.run_sequence(neuron, current, record_membrane=False)
            spikes.sum().backward()

        net = neurons.set_backend(network.build("64-128FC-10", variant=variant, input_shape=(1, 8, 8)), backend)
        net.to(device)

        def net_step():
            net.zero_grad(set_to_none=True)
            net(encoder(images)).sum().backward()

        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        layer_ms = timed(layer_step, args.repeats, device)
        net_ms = timed(net_step, args.repeats, device)
        print(f"{variant:28s} {backend:9s} {layer_ms:17.2f} {net_ms:22.2f} {peak_memory_mb(device):9.1f}")


if __name__ == "__main__":
    main()
