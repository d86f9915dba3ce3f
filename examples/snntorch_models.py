"""Three snnTorch models written the way snnTorch's tutorials write them (tutorials 5-7), for
``ablations.ablate`` and ``model=import``. Nothing here knows about the package.

* :func:`fc_sequential`: a fully connected ``nn.Sequential`` with ``init_hidden=True`` and an
  ``output=True`` last layer, run step by step after ``utils.reset(net)`` (tutorial 7).
* :class:`Net`: a custom module that loops over time and passes ``mem`` explicitly (tutorial 5);
  ``forward(x[T, B, ...])`` returns the output layer's spike and membrane records.
* :func:`conv_sequential`: a small convolutional ``nn.Sequential`` (tutorial 6: conv, max pool,
  Leaky).

Inputs are time-major ``[T, B, 2, 12, 12]`` (the ``digits_events`` frames) or anything whose
trailing dimensions flatten to ``num_inputs``.
"""

from __future__ import annotations

import snntorch as snn
import torch
from snntorch import utils
from torch import nn


def fc_sequential(num_inputs: int = 288, num_hidden: int = 64, num_outputs: int = 10, beta: float = 0.9
                  ) -> nn.Sequential:
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(num_inputs, num_hidden),
        snn.Leaky(beta=beta, init_hidden=True),
        nn.Linear(num_hidden, num_outputs),
        snn.Leaky(beta=beta, init_hidden=True, output=True),
    )


def forward_pass(net: nn.Module, data: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Tutorial 7's loop: reset the hidden states, call the network once per time step."""
    spk_rec, mem_rec = [], []
    utils.reset(net)
    for step in range(data.size(0)):
        spk_out, mem_out = net(data[step])
        spk_rec.append(spk_out)
        mem_rec.append(mem_out)
    return torch.stack(spk_rec), torch.stack(mem_rec)


class Net(nn.Module):
    """Tutorial 5's network: ``forward(x[T, B, ...]) -> (spike record, membrane record)`` of the output layer."""

    def __init__(self, num_inputs: int = 288, num_hidden: int = 64, num_outputs: int = 10, beta: float = 0.95):
        super().__init__()
        self.fc1 = nn.Linear(num_inputs, num_hidden)
        self.lif1 = snn.Leaky(beta=beta)
        self.fc2 = nn.Linear(num_hidden, num_outputs)
        self.lif2 = snn.Leaky(beta=beta)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mem1 = self.lif1.init_leaky()
        mem2 = self.lif2.init_leaky()
        spk2_rec, mem2_rec = [], []
        for step in range(x.size(0)):
            cur1 = self.fc1(x[step].flatten(1))
            spk1, mem1 = self.lif1(cur1, mem1)
            cur2 = self.fc2(spk1)
            spk2, mem2 = self.lif2(cur2, mem2)
            spk2_rec.append(spk2)
            mem2_rec.append(mem2)
        return torch.stack(spk2_rec, dim=0), torch.stack(mem2_rec, dim=0)


def conv_sequential(in_channels: int = 2, beta: float = 0.5, num_outputs: int = 10, size: int = 12) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, 8, 3, padding=1),
        nn.MaxPool2d(2),
        snn.Leaky(beta=beta, init_hidden=True),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.MaxPool2d(2),
        snn.Leaky(beta=beta, init_hidden=True),
        nn.Flatten(),
        nn.Linear(16 * (size // 4) ** 2, num_outputs),
        snn.Leaky(beta=beta, init_hidden=True, output=True),
    )
