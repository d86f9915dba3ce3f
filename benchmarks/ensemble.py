"""Batched ensembles on this machine: K members of one small net trained as one stacked model
against K separate models, one training step each (forward + backward + Adam).

    python benchmarks/ensemble.py                          # digits net 64-128FC-10, K = 1 4 16 64
    python benchmarks/ensemble.py --members 1 4 --backend fused --threads 1 --clock cpu

A member is the package's network (``network.build_network``) for the sequential rows. The batched
model stacks the members' weights (``[K, out, in]``, batched matrix products), gives the neuron
layer the K members side by side (width K x N, the members' betas as a per-neuron beta: one scan
call for all K) and draws each member's own input; Adam's state is per element, so per member.
Its readout is the mean over T of the last layer's products (the package's network reads a leaky
membrane: a little more work per member). It measures whether the stacked model pays (speed ratio
batched / sequential); it is not the training path (``train.ensemble`` is not built).
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time

import torch
import torch.nn.functional as F

from ablations import network, neurons
from ablations.neurons import torch_scan as scan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", nargs="+", type=int, default=[1, 4, 16, 64])
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--backend", default="auto", help="neuron backend of both: auto (kernel on CPU) | fused")
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    inputs, hidden, classes = 64, args.hidden, 10
    print(f"# ensembles: {inputs}-{hidden}FC-{classes}, T={args.steps}, batch {args.batch}, backend {args.backend}, "
          f"{args.threads} thread(s), {args.clock} clock, load {os.getloadavg()[0]:.1f}; median of {args.iters}")
    print("| K | sequential ms | batched ms | batched / sequential speed |")
    print("|---|---|---|---|")
    for members in args.members:
        torch.manual_seed(0)
        x = (torch.rand(members, args.steps, args.batch, inputs) < 0.3).float()
        labels = torch.randint(0, classes, (members, args.batch))
        nets = [neurons.set_backend(network.build_network(f"{inputs}-{hidden}FC-{classes}", variant="vanilla",
                                                          neuron={"learn_beta": True}), args.backend)
                for _ in range(members)]
        optimizers = [torch.optim.Adam(net.parameters(), lr=1e-3) for net in nets]

        def sequential():
            for net, optimizer, member_x, member_labels in zip(nets, optimizers, x, labels):
                optimizer.zero_grad(set_to_none=True)
                F.cross_entropy(net(member_x), member_labels).backward()
                optimizer.step()

        cell = copy.deepcopy(nets[0].layers[0].neuron)
        first = torch.nn.Parameter(torch.randn(members, hidden, inputs) / inputs ** 0.5)
        second = torch.nn.Parameter(torch.randn(members, classes, hidden) / hidden ** 0.5)
        betas = torch.nn.Parameter(torch.full((members, 1), float(cell.beta.detach())))
        optimizer = torch.optim.Adam([first, second, betas], lr=1e-3)

        def batched():
            optimizer.zero_grad(set_to_none=True)
            folded = x.reshape(members, -1, inputs)                                   # [K, T*B, in]
            current = torch.bmm(folded, first.transpose(1, 2))                        # [K, T*B, N]
            current = current.reshape(members, args.steps, args.batch, hidden).permute(1, 2, 0, 3)
            current = current.reshape(args.steps, args.batch, members * hidden)       # members side by side
            beta = betas.expand(members, hidden).reshape(-1)
            spikes, _ = scan.fused_scan(cell, None, current, beta=beta)
            spikes = spikes.reshape(args.steps, args.batch, members, hidden).permute(2, 0, 1, 3)
            out = torch.bmm(spikes.reshape(members, -1, hidden), second.transpose(1, 2))
            logits = out.reshape(members, args.steps, args.batch, classes).mean(1)
            F.cross_entropy(logits.reshape(-1, classes), labels.reshape(-1), reduction="sum").div(args.batch).backward()
            optimizer.step()

        times = {"sequential": [], "batched": []}
        sequential(), batched()
        for _ in range(args.iters):
            for name, step in (("sequential", sequential), ("batched", batched)):
                start = clock()
                step()
                times[name].append(1e3 * (clock() - start))
        seq, bat = statistics.median(times["sequential"]), statistics.median(times["batched"])
        print(f"| {members} | {seq:.1f} | {bat:.1f} | {seq / bat:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
