"""Training-step speed and memory: the package beside the plain snnTorch loop, the peers and the floor.

    python benchmarks/train_step.py                         # every case, CPU
    python benchmarks/train_step.py --cases fc fc_recurrent --iters 30
    python benchmarks/train_step.py --device cuda --cases vgg9 --steps 10 25 50 100
    pip install -e ".[bench]"                               # SpikingJelly and Norse rows

Every contender trains the *same* network (same weights, data, T, batch, dtype, device) with one
forward + backward + Adam step on an MSE-to-one-hot loss of the readout ``U_L[T]/T``:

* ``plain loop``: the textbook snnTorch loop, one Python step per time step with every layer
  called per step (``snn.Leaky`` with reset zero, ATan surrogate), as snnTorch's tutorials write it;
* ``package <backend> <precision>``: ``ablations.network`` with ``neuron.backend`` = ``snntorch``,
  ``fused`` (the torch scan) or ``auto`` (the default: the compiled kernel on a CPU where numba is
  installed, ablations/neurons/numba_scan.py; the torch scan elsewhere), fp32 or bf16 autocast;
* ``spikingjelly``: its multi-step ``LIFNode`` (``step_mode='m'``) behind ``SeqToANNContainer``
  layers; ``norse``: its time-major ``LIF`` module (where installed, optional extra ``bench``);
* ``dense floor``: the dense matrix products of the first layer alone (forward + weight gradient,
  the part no spiking network can skip), and ``ops only``: the network's conv/linear/pool ops on
  the folded ``[T*B, ...]`` tensor without any neuron (a lower bound for the whole step).

All contenders run interleaved in one process: after warm-up, each iteration times one step of
every contender in turn (CUDA synchronised); the table gives the median over ``--iters``
iterations, samples/s, the ratio to the plain loop (>1 = faster), the activation memory saved for
the backward pass (bytes of the distinct tensors autograd keeps, on every device) and, on CUDA,
``torch.cuda.max_memory_allocated``. The achieved FLOP/s counts the conv/linear products of the
step (backward = 2x forward, the first layer 1x) and is printed beside a plain matmul's FLOP/s
measured in the same run.
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import snntorch as snn
import torch
import torch.nn.functional as F
from torch import nn

from ablations import network, neurons, sparse, training

CASES = {
    # seed 001's N-MNIST FC net (Table 4), binary input with 15 % of inputs active per step
    "fc": dict(layers="2312-512-10", variant="vanilla", input_shape=(2312,), steps=25, batch=64, density=0.15),
    "fc_recurrent": dict(layers="2312-512-10", variant="recurrent", input_shape=(2312,), steps=25, batch=64,
                         density=0.15),
    # seed 003's VGG9 on CIFAR-10-shaped Poisson input; small T and batch on a CPU
    "vgg9": dict(layers="64C3-64C3-2P-128C3-128C3-2P-256C3-256C3-256C3-2P-1024FC-10", variant="vanilla",
                 input_shape=(3, 32, 32), steps=2, batch=8, density=0.5),
    # the package's default run: digits, 64-128FC-10, T = 16, batch 64
    "digits": dict(layers="64-128FC-10", variant="vanilla", input_shape=(64,), steps=16, batch=64, density=0.3),
    # the delayed XOR net (dataset=delayed_xor_dhsnn model=fc_delayed_xor): 20-16FC-2, T = 200, batch 500,
    # background noise 1 % with two 10-step patterns (~4 % of inputs active); the package's default readout
    "delayed_xor": dict(layers="20-16FC-2", variant="vanilla", input_shape=(20,), steps=200, batch=500,
                        density=0.04),
    # seed 001's FC net on real N-MNIST frames (3 ms windows over 300 ms: T = 100), sparse vs dense input
    "nmnist_real": dict(layers="2312-512-10", variant="vanilla", input_shape=(2, 34, 34), steps=100, batch=32,
                        density=None),
}
SCALING_STEPS = (10, 25, 50, 100)
NMNIST_ROOT = "datasets/nmnist"  # --nmnist-root: a folder holding NMNIST/Train (the package's paths.data layout)


@dataclass
class Contender:
    name: str
    step: Callable[[], torch.Tensor]
    flops: float = 0.0
    times: list | None = None
    saved_bytes: int = 0
    cuda_peak: int = 0
    note: str = ""


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _onehot_mse(output: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return training.mse_onehot(output.float(), labels, 0)


def _trainer(model: nn.Module, forward: Callable[[], torch.Tensor], labels: torch.Tensor,
             autocast_dtype: torch.dtype | None, device: torch.device) -> Callable[[], torch.Tensor]:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        if autocast_dtype is None:
            output = forward()
        else:
            with torch.autocast(device.type, dtype=autocast_dtype):
                output = forward()
        loss = _onehot_mse(output, labels)
        loss.backward()
        optimizer.step()
        return loss.detach()

    return step


# --------------------------------------------------------------------------- contenders
def package_step(net, x, labels, backend, dtype, device, dense_input=False, checkpoint_steps=None):
    model = network.set_time_checkpointing(neurons.set_backend(copy.deepcopy(net), backend), checkpoint_steps)

    def forward():
        if dense_input:
            with sparse.dense_only():
                return model(x)
        return model(x)

    return _trainer(model, forward, labels, dtype, device)


def plain_loop_step(net, x, labels, device):
    """The snnTorch tutorial loop on the same weights: every layer called at every time step."""
    model = copy.deepcopy(net)
    beta = float(net.spec.beta_value)
    cells = [snn.Leaky(beta=beta, threshold=1.0, spike_grad=snn.surrogate.atan(), reset_mechanism="zero",
                       init_hidden=False) for _ in model.layers]
    neurons.release_instances()
    readout_ops = nn.Sequential(*model.readout.ops)
    layer_ops = [nn.Sequential(*layer.ops) for layer in model.layers]
    recurrents = [layer.neuron.recurrent if hasattr(layer.neuron, "recurrent") else None for layer in model.layers]

    def forward() -> torch.Tensor:
        membranes = [None] * len(cells)
        spikes = [None] * len(cells)
        readout = None
        for t in range(x.shape[0]):
            h = x[t]
            for i, (ops, cell, recurrent) in enumerate(zip(layer_ops, cells, recurrents)):
                current = ops(h)
                if recurrent is not None and spikes[i] is not None:
                    current = current + recurrent(spikes[i])
                if membranes[i] is None:
                    membranes[i] = torch.zeros_like(current)
                spikes[i], membranes[i] = cell(current, membranes[i])
                h = spikes[i]
            current = readout_ops(h)
            readout = current if readout is None else beta * readout + current
        return readout / x.shape[0]

    return _trainer(model, forward, labels, None, device)


def spikingjelly_step(net, x, labels, device):
    from spikingjelly.activation_based import functional, layer, neuron, surrogate

    model = copy.deepcopy(net)
    beta = float(net.spec.beta_value)
    blocks = []
    for spiking_layer in model.layers:
        blocks.append(layer.SeqToANNContainer(*spiking_layer.ops))
        blocks.append(neuron.LIFNode(tau=1.0 / (1.0 - beta), decay_input=False, v_threshold=1.0, v_reset=0.0,
                                     surrogate_function=surrogate.ATan(), detach_reset=True, step_mode="m"))
    body = nn.Sequential(*blocks)
    head = layer.SeqToANNContainer(*model.readout.ops)
    container = nn.ModuleList([body, head])

    def forward() -> torch.Tensor:
        functional.reset_net(body)
        current = head(body(x))
        readout = current[0]
        for t in range(1, current.shape[0]):
            readout = beta * readout + current[t]
        return readout / x.shape[0]

    return _trainer(container, forward, labels, None, device)


def norse_step(net, x, labels, device):
    import norse.torch as norse

    model = copy.deepcopy(net)
    beta = float(net.spec.beta_value)
    # Norse's LIF (with its synaptic current) at dt = 1 ms: tau_mem_inv = (1 - beta) / dt
    parameters = norse.LIFParameters(tau_mem_inv=torch.tensor((1.0 - beta) * 1000.0), v_th=torch.tensor(1.0))
    cells = nn.ModuleList([norse.LIF(p=parameters) for _ in model.layers])
    container = nn.ModuleList([model, cells])

    def forward() -> torch.Tensor:
        h = x
        for spiking_layer, cell in zip(model.layers, cells):
            current = network._apply_ops(spiking_layer.ops, h)
            h, _ = cell(current)
        current = network._apply_ops(model.readout.ops, h)
        readout = current[0]
        for t in range(1, current.shape[0]):
            readout = beta * readout + current[t]
        return readout / x.shape[0]

    return _trainer(container, forward, labels, None, device)


def ops_only_step(net, x, labels, device):
    """The network's stateless ops alone, folded over T*B: no neuron, no time loop."""
    model = copy.deepcopy(net)
    ops = nn.Sequential(*[op for layer in model.layers for op in layer.ops], *model.readout.ops)

    def forward() -> torch.Tensor:
        return ops(x.reshape(-1, *x.shape[2:])).reshape(x.shape[0], x.shape[1], -1).mean(0)

    return _trainer(model, forward, labels, None, device)


def dense_floor_step(net, x, device):
    """Layer 1's dense products alone: forward ``X W^T`` and weight gradient ``G^T X``."""
    first = net.layers[0].ops[-1]
    weight = first.weight.detach().clone()
    folded = x.reshape(x.shape[0] * x.shape[1], -1)
    if isinstance(first, nn.Linear):
        gradient = torch.randn(folded.shape[0], weight.shape[0], device=device)

        def step():
            out = folded @ weight.t()
            grad_weight = gradient.t() @ folded
            return out[0, 0] + grad_weight[0, 0]
    else:
        images = x.reshape(-1, *x.shape[2:])
        out_shape = F.conv2d(images, weight, padding=first.padding).shape
        gradient = torch.randn(out_shape, device=device)

        def step():
            out = F.conv2d(images, weight, padding=first.padding)
            grad_weight = torch.nn.grad.conv2d_weight(images, weight.shape, gradient, padding=first.padding)
            return out.flatten()[0] + grad_weight.flatten()[0]

    return step


# --------------------------------------------------------------------------- measurements
def step_flops(net: nn.Module, x: torch.Tensor) -> float:
    """Multiply-add FLOPs of the conv/linear products of one training step (fwd + bwd)."""
    counts: list[float] = []
    hooks = []

    def hook(module, inputs, output):
        if isinstance(module, nn.Linear):
            counts.append(2.0 * output.numel() * module.in_features)
        else:
            kernel = module.weight[0].numel()
            counts.append(2.0 * output.numel() * kernel)

    for module in net.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            hooks.append(module.register_forward_hook(hook))
    with torch.no_grad():
        neurons.set_backend(net, "fused")(x)
    for handle in hooks:
        handle.remove()
    recurrent = sum(2.0 * x.shape[0] * x.shape[1] * m.recurrent.weight.numel()
                    for m in net.modules() if isinstance(m, neurons.RecurrentNeuron))
    forward = sum(counts) + recurrent
    return forward + 2.0 * forward - counts[0]  # backward: weight + input gradient, no input grad at layer 1


def saved_bytes(step_forward: Callable[[], None], exclude: torch.Tensor | None = None) -> int:
    """Bytes of the distinct tensors autograd saves for backward while ``step_forward`` runs
    (``exclude``: a tensor whose storage is not counted, e.g. the input batch)."""
    storages: dict[int, int] = {}
    skip = None if exclude is None else exclude.untyped_storage().data_ptr()

    def pack(tensor):
        if skip is not None and tensor.untyped_storage().data_ptr() == skip:
            return tensor
        try:
            storage = tensor.untyped_storage()
            storages[storage.data_ptr()] = storage.nbytes()
        except (RuntimeError, NotImplementedError):
            pass
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        step_forward()
    return sum(storages.values())


def matmul_flops(device: torch.device, size: int = 1024, repeats: int = 10) -> float:
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    a @ b
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    _sync(device)
    return 2.0 * size**3 * repeats / (time.perf_counter() - start)


def real_nmnist(root: str, steps: int, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch`` real N-MNIST training samples as 3 ms frames (event counts) ``[T, B, 2, 34, 34]``."""
    from ablations.data.events import NMNIST
    from ablations.data.frames import FrameDataset, FrameSpec

    frames = FrameDataset(NMNIST(root, train=True), FrameSpec((34, 34, 2), steps=steps, time_window_us=3000.0), None)
    samples = [frames[i] for i in range(0, len(frames), max(1, len(frames) // batch))][:batch]
    x = torch.stack([torch.as_tensor(sample[0]) for sample in samples], 1).float()
    return x, torch.tensor([int(sample[1]) for sample in samples])


def run_case(name: str, spec: dict, steps: int, args, device: torch.device, bf16: torch.dtype | None) -> None:
    torch.manual_seed(0)
    batch = args.batch or spec["batch"]
    net = network.build(spec["layers"], variant=spec["variant"], input_shape=spec["input_shape"]).to(device)
    if spec["density"] is None:
        if not (Path(args.nmnist_root) / "NMNIST" / "Train").is_dir():
            print(f"\n# {name}: skipped, no real N-MNIST in {args.nmnist_root} (--nmnist-root: a folder holding "
                  "NMNIST/Train, e.g. the N-MNIST subset of the real-data folder)")
            return
        x, labels = real_nmnist(args.nmnist_root, steps, batch)
        x, labels = x.to(device), labels.to(device)
        spec = dict(spec, density=float((x != 0).float().mean()))
    else:
        x = (torch.rand(steps, batch, *spec["input_shape"], device=device) < spec["density"]).float()
        labels = torch.randint(0, int(spec["layers"].split("-")[-1]), (batch,), device=device)  # the classes
    first = net.layers[0].ops[-1]
    if isinstance(first, nn.Linear):
        crossover = sparse.crossover_density(first.in_features, first.out_features, str(device))
        print(f"\n# {name}: sparse first-layer product below density {crossover:.1%} (measured); "
              f"this input: {spec['density']:.1%} -> {'sparse' if spec['density'] < crossover else 'dense'}")
    contenders = [
        Contender("plain loop (snnTorch tutorial)", plain_loop_step(net, x, labels, device)),
        Contender("package snntorch fp32", package_step(net, x, labels, "snntorch", None, device)),
        Contender("package fused fp32 (torch scan)", package_step(net, x, labels, "fused", None, device)),
        Contender("package auto fp32 (default; kernel on CPU)", package_step(net, x, labels, "auto", None, device)),
    ]
    if name == "nmnist_real":
        contenders.append(Contender("package fused fp32, dense input", package_step(
            net, x, labels, "auto", None, device, dense_input=True)))
    if bf16 is not None:
        contenders.append(Contender("package fused bf16", package_step(net, x, labels, "auto", bf16, device)))
    if spec["variant"] == "vanilla":  # the peers' multi-step LIF has no recurrent matrix
        for peer, builder in (("spikingjelly", spikingjelly_step), ("norse", norse_step)):
            try:
                contenders.append(Contender(f"{peer} multi-step LIF", builder(net, x, labels, device)))
            except ImportError:
                print(f"  ({peer} not installed: pip install -e '.[bench]')")
    contenders.append(Contender("ops only (no neuron)", ops_only_step(net, x, labels, device)))
    contenders.append(Contender("dense floor (layer-1 fwd + weight grad)", dense_floor_step(net, x, device)))
    flops = step_flops(copy.deepcopy(net), x)
    for contender in contenders:
        for _ in range(args.warmup):
            contender.step()
        contender.times = []
        contender.flops = flops if "floor" not in contender.name else 0.0
        if "floor" not in contender.name:
            contender.saved_bytes = saved_bytes(lambda c=contender: c.step())
    for _ in range(args.iters):
        for contender in contenders:
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            _sync(device)
            start = args.clock()
            contender.step()
            _sync(device)
            contender.times.append(args.clock() - start)
            if device.type == "cuda":
                contender.cuda_peak = max(contender.cuda_peak, torch.cuda.max_memory_allocated(device))
    plain = statistics.median(contenders[0].times)
    print(f"\n## {name}: {spec['layers']}, variant {spec['variant']}, T={steps}, batch {batch}, "
          f"input density {spec['density']:.0%}, {args.iters} iterations (median)")
    header = f"| {'contender':42s} | {'ms/step':>9s} | {'samples/s':>10s} | {'vs plain':>8s} | {'GFLOP/s':>8s} | {'saved MB':>9s} |"
    if device.type == "cuda":
        header += " peak MB |"
    print(header)
    print("|" + "|".join("-" * (len(part)) for part in header.split("|")[1:-1]) + "|")
    for contender in contenders:
        median = statistics.median(contender.times)
        gflops = f"{contender.flops / median / 1e9:8.1f}" if contender.flops else f"{'':8s}"
        saved = f"{contender.saved_bytes / 2**20:9.1f}" if contender.saved_bytes else f"{'':9s}"
        row = (f"| {contender.name:42s} | {median * 1e3:9.2f} | {batch / median:10.0f} | {plain / median:7.2f}x"
               f" | {gflops} | {saved} |")
        if device.type == "cuda":
            row += f" {contender.cuda_peak / 2**20:7.0f} |"
        print(row)


def run_scaling(args, device: torch.device) -> None:
    """Time and activation memory against T (FC net), and what time checkpointing saves.

    Memory: bytes autograd keeps for backward at the end of the forward pass, without the input
    batch itself. A checkpointed block keeps its input (a view of the batch) and the neuron
    state at its start (``T/K`` states of ``[B, N]``, not counted here) instead of its saved
    tensors. The plain loop's number includes its backward (the step is one call)."""
    spec = CASES["fc"]
    batch = args.batch or 16
    block = 10
    print(f"\n## scaling with T: {spec['layers']}, batch {batch}, density {spec['density']:.0%}, "
          f"{args.iters} iterations (median); checkpoint = train.checkpoint_time_steps={block}")
    print("| T | plain loop ms | package ms | plain saved MB* | package saved MB* | checkpointed saved MB* | checkpointed / package | max abs grad diff |")
    print("|---|---|---|---|---|---|---|---|")
    for steps in args.steps or SCALING_STEPS:
        torch.manual_seed(0)
        net = network.build(spec["layers"], variant=spec["variant"], input_shape=spec["input_shape"]).to(device)
        x = (torch.rand(steps, batch, *spec["input_shape"], device=device) < spec["density"]).float()
        labels = torch.randint(0, 10, (batch,), device=device)
        plain = plain_loop_step(net, x, labels, device)
        package = package_step(net, x, labels, "auto", None, device)
        times = {"plain": [], "package": []}
        for _ in range(args.iters):
            for key, step in (("plain", plain), ("package", package)):
                _sync(device)
                start = time.perf_counter()
                step()
                _sync(device)
                times[key].append(time.perf_counter() - start)
        memory, gradients = {}, {}
        for label, checkpoint_steps in (("package", None), ("checkpointed", block)):
            model = network.set_time_checkpointing(copy.deepcopy(net), checkpoint_steps)
            losses = []
            memory[label] = saved_bytes(lambda: losses.append(_onehot_mse(model(x), labels)), exclude=x)
            losses[0].backward()
            gradients[label] = [p.grad for p in model.parameters()]
        contender_saved = saved_bytes(lambda: plain(), exclude=x)
        difference = max(float((a - b).abs().max()) for a, b in zip(gradients["package"], gradients["checkpointed"]))
        print(f"| {steps} | {statistics.median(times['plain']) * 1e3:.1f} | {statistics.median(times['package']) * 1e3:.1f}"
              f" | {contender_saved / 2**20:.1f} | {memory['package'] / 2**20:.1f} | {memory['checkpointed'] / 2**20:.1f}"
              f" | {memory['checkpointed'] / memory['package']:.0%} | {difference:.1e} |")
    print("\n*saved for backward at the end of the forward pass, without the input batch; a checkpointed block "
          "keeps instead its input (a view of the batch) and its start state (T/K x [B, N], not counted)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cases", nargs="+", default=[*CASES, "scaling"], choices=[*CASES, "scaling"])
    parser.add_argument("--nmnist-root", default=NMNIST_ROOT, help="folder holding NMNIST/Train (real N-MNIST)")
    parser.add_argument("--steps", nargs="+", type=int, default=None, help="time steps T (default: the case's own)")
    parser.add_argument("--batch", type=int, default=None, help="batch size (default: the case's own)")
    parser.add_argument("--iters", type=int, default=20, help="timed iterations per contender (>= 20)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="cpu: the process's CPU time (steadier on a shared machine; use with --threads 1)")
    args = parser.parse_args()
    clock_name = args.clock
    args.clock = time.perf_counter if args.clock == "wall" else time.process_time
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    precision = training.resolve_precision("auto", device)
    bf16 = torch.bfloat16 if precision.dtype == torch.bfloat16 else None
    print(f"# train_step benchmark: torch {torch.__version__}, device {device}"
          f" ({torch.cuda.get_device_name(device) if device.type == 'cuda' else platform.processor() or platform.machine()}),"
          f" {torch.get_num_threads()} threads, {clock_name} clock, load {os.getloadavg()[0]:.1f}")
    print(f"# precision auto -> {precision.name}: {precision.reason}")
    print(f"# plain fp32 matmul 1024^3 in this run: {matmul_flops(device) / 1e9:.1f} GFLOP/s")
    for name in args.cases:
        if name == "scaling":
            run_scaling(args, device)
            continue
        for steps in (args.steps or [CASES[name]["steps"]]):
            run_case(name, CASES[name], steps, args, device, bf16)


if __name__ == "__main__":
    main()
