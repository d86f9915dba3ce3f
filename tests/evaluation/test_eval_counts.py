"""Counting and spectral measures of the evaluation suites on hand-built inputs (no training)."""

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from ablations import network
from ablations.data import DataBundle
from ablations.data.encoders import SequenceEncoder
from ablations.evaluation import activity as A
from ablations.evaluation import spectral as S

# Input spikes of one sample, T = 3 steps, 4 inputs: 2 + 0 + 4 = 6 spikes.
SPIKES = torch.tensor([[1.0, 0, 1, 0], [0, 0, 0, 0], [1, 1, 1, 1]])


def _bundle(spikes: torch.Tensor) -> DataBundle:
    x = spikes.unsqueeze(0)  # [B=1, T, 4]
    data = TensorDataset(x, torch.zeros(1, dtype=torch.long))
    return DataBundle("hand", "temporal", data, data, SequenceEncoder(spikes.shape[0]), (spikes.shape[1],),
                      2, spikes.shape[0])


def _hand_net(variant="no_leak"):
    net = network.build("4-3FC-2", variant=variant, bias=False)
    with torch.no_grad():
        first = net.layers[0].ops[-1]
        first.weight.fill_(2.0)
        first.weight[0, 3] = 0.0  # input 3 reaches only 2 of the 3 neurons
        net.readout.ops[-1].weight.fill_(0.5)
    return net.eval()


def _rows(frame, metric):
    rows = frame[(frame.metric == metric) & frame.neuron.isna() & frame.time_step.isna()]
    return dict(zip(rows.layer, rows.value))


def test_synaptic_ops_of_a_two_layer_net_equal_the_hand_count():
    net = _hand_net()
    frame = A.activity(net, _bundle(SPIKES), cfg=None)
    # layer 1 (IF, threshold 1): every neuron fires at t=1 and t=3 (currents 4, 6 or 8), not at t=2
    ops = _rows(frame, "synaptic_ops")
    # inputs 0, 1, 2 fan out to 3 neurons, input 3 to 2: t1: 3 + 3, t3: 3 + 3 + 3 + 2
    assert ops["layer1"] == 17
    # 6 hidden spikes, each to 2 readout units
    assert ops["readout"] == 12
    assert ops["network"] == 29
    dense = _rows(frame, "dense_macs")
    assert dense["layer1"] == 3 * 4 * 3 and dense["readout"] == 3 * 3 * 2 and dense["network"] == 54
    rates = _rows(frame, "spike_rate")
    assert rates["layer1"] == pytest.approx(6 / 9)
    assert _rows(frame, "activation_sparsity")["layer1"] == pytest.approx(3 / 9)
    assert _rows(frame, "input_rate")["input"] == pytest.approx(6 / 12)
    enwsi = frame[frame.metric == "enwsi"].sort_values("time_step").value.tolist()
    assert enwsi == pytest.approx([4 * 3 ** 0.5, 0.0, float(np.linalg.norm([6, 8, 8]))])
    per_neuron = frame[(frame.metric == "spike_rate") & frame.neuron.notna()]
    assert per_neuron.neuron.tolist() == [0, 1, 2] and per_neuron.value.tolist() == pytest.approx([2 / 3] * 3)


def test_conv_synaptic_ops_count_the_real_fan_out_at_borders():
    conv = nn.Conv2d(1, 2, 3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        conv.weight[0, 0, 1, 1] = 0.0  # a zero synapse triggers nothing (as in NeuroBench)
    x = torch.zeros((1, 1, 1, 4, 4))  # [T, B, C, H, W]
    x[0, 0, 0, 0, 0] = 1.0  # corner: reaches 4 outputs per channel, one of them through the zero tap
    x[0, 0, 0, 1, 1] = 1.0  # interior: reaches 9 outputs per channel, one through the zero tap
    assert float(A.synaptic_ops(conv, x)[0]) == (3 + 4) + (8 + 9)
    # dense: 4 corners x 4 taps + 8 edges x 6 taps + 4 interior x 9 taps, per output channel
    assert A.dense_macs(conv, x) == 2 * (4 * 4 + 8 * 6 + 4 * 9)


def test_pooling_in_front_of_a_layer_counts_non_zero_pooled_inputs():
    net = network.build("4C3-2P-5FC-2", variant="vanilla", input_shape=(1, 4, 4))
    layer2 = net.layers[1]
    spikes = torch.zeros((2, 1, 4, 4, 4))
    spikes[0, 0, 0, 0, 0] = 1.0  # one spike, in the top-left pooling window of channel 0
    spikes[1, 0, 3, 3, 3] = 1.0
    spikes[1, 0, 3, 3, 2] = 1.0  # two spikes in one pooling window: one non-zero pooled input
    ops, dense = A.layer_ops(layer2.ops, spikes)
    assert float(ops[0]) == 2 * 5 and dense == 2 * 16 * 5


def test_recurrent_layers_add_the_accumulates_of_the_previous_steps_spikes():
    net = _hand_net("recurrent")
    with torch.no_grad():
        net.layers[0].neuron.recurrent.weight.fill_(0.1)
        net.layers[0].neuron.recurrent.weight[0, 1] = 0.0  # neuron 1 reaches 2 of 3 neurons
    frame = A.activity(net, _bundle(SPIKES), cfg=None)
    ops = _rows(frame, "synaptic_ops")
    _, records = A.forward_records(net, SPIKES.unsqueeze(1))
    spikes = records["layer1"]["spikes"][:-1, 0]  # S[t-1] for t = 2..T
    fan_out = torch.tensor([3.0, 2.0, 3.0])
    assert ops["layer1.recurrent"] == float((spikes * fan_out).sum())
    assert ops["network"] == ops["layer1"] + ops["readout"] + ops["layer1.recurrent"]


def test_single_sided_power_keeps_parseval_and_finds_a_tone():
    steps = 16
    t = torch.arange(steps, dtype=torch.float64)
    trains = torch.stack([torch.cos(2 * np.pi * 3 * t / steps), (torch.rand(steps) > 0.5).double()], 1)
    power = S.single_sided_power(trains)
    torch.testing.assert_close(power.sum(0), trains.pow(2).sum(0))
    frequencies = S.normalised_frequencies(steps)
    assert frequencies[-1] == 0.5  # Nyquist, as a fraction of the sampling rate (seed 003's unit)
    assert S.critical_frequency(power[:, :1].numpy(), frequencies)[0] == pytest.approx(3 / 16)


def test_critical_frequency_is_lower_for_a_low_pass_trace():
    generator = torch.Generator().manual_seed(0)
    white = torch.randn((32, 500), generator=generator, dtype=torch.float64)
    smooth = white.cumsum(0)
    frequencies = S.normalised_frequencies(32)
    white_cf = S.critical_frequency(S.single_sided_power(white - white.mean(0)).numpy(), frequencies)
    smooth_cf = S.critical_frequency(S.single_sided_power(smooth - smooth.mean(0)).numpy(), frequencies)
    assert np.mean(white_cf) == pytest.approx(0.35, abs=0.025)  # 0.7 x Nyquist = 0.35 of the sampling rate
    assert np.mean(smooth_cf) < 0.5 * np.mean(white_cf)
    assert np.isnan(S.critical_frequency(np.zeros((17, 1)), frequencies)[0])


def test_activity_counts_every_connection_of_a_residual_network():
    from ablations.data.encoders import PoissonEncoder
    from ablations.models.resnet import resnet

    net = resnet("vanilla", (1, 8, 8), n_classes=3, blocks=(1, 1), widths=(4, 8)).eval()
    images = torch.rand((5, 1, 8, 8), generator=torch.Generator().manual_seed(0))
    data = TensorDataset(images, torch.zeros(5, dtype=torch.long))
    bundle = DataBundle("tiny", "static", data, data, PoissonEncoder(4), (1, 8, 8), 3, 4)
    frame = A.activity(net, bundle, cfg=None)
    ops = _rows(frame, "synaptic_ops")
    assert {"stem", "stage1.block1.conv1", "stage1.block1.conv2", "stage2.block1.conv1",
            "stage2.block1.conv2", "stage2.block1.conv2.shortcut", "readout", "network"} <= set(ops)
    assert ops["network"] == pytest.approx(sum(v for k, v in ops.items() if k != "network"))
    from ablations.evaluation.common import batch_generator

    inputs = bundle.encoder(images, generator=batch_generator(0, 0))
    expected = A.synaptic_ops(net.layers[0].ops[0], inputs).mean()
    assert ops["stem"] == pytest.approx(float(expected))
    # 8x8 "same" 3x3 conv: 4 corners x 4 taps + 24 edge positions x 6 + 36 interior x 9, 4 channels, T = 4
    assert _rows(frame, "dense_macs")["stem"] == 4 * 4 * (4 * 4 + 24 * 6 + 36 * 9)
