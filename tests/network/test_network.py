import copy

import pytest
import torch
from torch import nn

from ablations import network, neurons


def test_parse_layer_strings():
    tokens = network.parse_layers("64C3-2P-0.2D-1024FC-10")
    assert [t.kind for t in tokens] == ["conv", "pool", "dropout", "fc", "output"]
    assert tokens[0].size == 64 and tokens[0].kernel == 3 and tokens[2].size == 0.2
    assert [t.kind for t in network.parse_layers("784-512-10")] == ["input", "fc", "output"]
    for bad, message in [("64X3-10", "not understood"), ("64C3-2P", "must end with"), ("", "non-empty")]:
        with pytest.raises(ValueError, match=message):
            network.parse_layers(bad)


def test_conv_network_shapes_and_backward():
    net = network.build("8C3-2P-8C3-2P-32FC-10", variant="vanilla", input_shape=(3, 16, 16))
    x = torch.rand(4, 2, 3, 16, 16)
    out = net(x)
    assert out.shape == (2, 10)
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    assert len(net.layers) == 3  # two conv layers and one FC layer carry neurons


def test_fc_string_declares_input_and_checks_it():
    net = network.build("2312-512FC-10", variant="no_leak")
    assert net.input_shape == (2312,)
    assert network.build("2312-512-10", input_shape=(2, 34, 34)).input_shape == (2, 34, 34)
    with pytest.raises(ValueError, match="declares 784 inputs"):
        network.build("784-512-10", input_shape=(2, 34, 34))


def test_folded_execution_equals_step_by_step():
    torch.manual_seed(0)
    net = network.build("4C3-2P-16FC-5", variant="vanilla", input_shape=(1, 6, 6), readout="mem_last")
    x = (torch.rand(7, 3, 1, 6, 6) < 0.5).float()
    out = net(x)
    conv, pool, fc = net.layers[0].ops[0], net.layers[1].ops[0], net.layers[1].ops[2]
    head = net.readout.ops[-1]
    beta = net.spec.beta_value
    u1 = torch.zeros(3, 4, 6, 6)
    u2 = torch.zeros(3, 16)
    s1, s2 = torch.zeros_like(u1), torch.zeros_like(u2)
    out_mem = torch.zeros(3, 5)
    for t in range(7):
        u1 = beta * (1 - s1) * u1 + conv(x[t])
        s1 = (u1 > 1).float()
        u2 = beta * (1 - s2) * u2 + fc(pool(s1).flatten(1))
        s2 = (u2 > 1).float()
        out_mem = beta * out_mem + head(s2)
    assert torch.allclose(out, out_mem / 7, atol=1e-5)


def test_readouts():
    x = (torch.rand(5, 2, 8) < 0.5).float()
    for readout in network.READOUTS:
        net = network.build("8-16FC-3", variant="vanilla", readout=readout)
        out = net(x)
        assert out.shape == (2, 3)
    counts = network.build("8-16FC-3", readout="spike_count")(x)
    assert ((counts * 5).round() == counts * 5).all() and (counts >= 0).all() and (counts <= 1).all()
    with pytest.raises(ValueError, match="readout"):
        network.build("8-16FC-3", readout="softmax")


def test_complete_leak_readout_has_no_memory():
    net = network.build("4-8FC-2", variant="complete_leak")
    assert net.readout.beta == 0.0
    x = torch.rand(6, 1, 4)
    y = x.clone()
    y[:3] = torch.rand(3, 1, 4)  # change only the early steps
    assert torch.equal(net(x), net(y))


def test_time_dropout_shares_mask_over_time():
    drop = network.TimeDropout(0.5).train()
    out = drop(torch.ones(6, 4, 10))
    assert torch.equal(out[0], out[5])
    assert drop.eval()(torch.ones(2, 2, 2)).eq(1).all()


def test_probes_are_off_by_default_and_record_when_on():
    net = network.build("8-16FC-16FC-3", variant="recurrent")
    x = torch.rand(4, 2, 8)
    net(x)
    assert net.records == {}
    net.probes = True
    net(x)
    assert set(net.records) == {"layer1", "layer2", "readout"}
    rec = net.records["layer1"]
    assert rec["spikes"].shape == (4, 2, 16) and rec["membrane"].shape == (4, 2, 16)
    assert rec["current"].shape == (4, 2, 16) and rec["input"].shape == (4, 2, 8)
    assert isinstance(net.layers[0].neuron, neurons.RecurrentNeuron)


def test_recurrent_conv_is_rejected_with_reason():
    with pytest.raises(ValueError, match="fully connected layers only"):
        network.build("8C3-10", variant="recurrent", input_shape=(1, 4, 4))


def test_wrong_input_shape_is_reported():
    net = network.build("8-4FC-2")
    with pytest.raises(ValueError, match="time-major"):
        net(torch.rand(2, 8))
    with pytest.raises(ValueError, match="built for inputs"):
        net(torch.rand(3, 2, 9))


def test_batch_norm_and_max_pool():
    net = network.build("4C3-2P-8FC-2", input_shape=(1, 4, 4), batch_norm=True, pool="max")
    assert any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    assert any(isinstance(m, nn.MaxPool2d) for m in net.modules())
    assert net(torch.rand(3, 2, 1, 4, 4)).shape == (2, 2)


def test_spikes_kept_for_backward_as_bool_give_the_same_gradients(monkeypatch):
    """Layers fed by big spike tensors keep them for the weight gradient as bool: same gradients as the
    float product, and no float tensor of the hidden spikes' size is saved for backward."""
    monkeypatch.setattr(network, "PACK_SPIKES_MIN", 0)  # small tensors keep their float spikes (no copy)
    torch.manual_seed(0)
    net = network.build("30-40FC-24FC-5", variant="vanilla", input_shape=(30,))
    x = (torch.rand(12, 6, 30) < 0.4).float()
    plain = copy.deepcopy(net)
    for module in plain.modules():
        if hasattr(module, "binary_input"):
            module.binary_input = False
    saved = {}

    def pack(tensor):
        saved.setdefault(tensor.dtype, []).append(tuple(tensor.shape))
        return tensor

    gradients = []
    for model in (net, plain):
        saved.clear()
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = model(x).square().sum()
        loss.backward()
        gradients.append([p.grad.clone() for p in model.parameters()])
        if model is net:
            assert (72, 40) in saved[torch.bool] and (72, 24) in saved[torch.bool]  # [T*B, N] spikes as bool
            assert (72, 40) not in saved.get(torch.float32, []) and (72, 24) not in saved.get(torch.float32, [])
    for mine, reference in zip(*gradients):
        assert torch.allclose(mine, reference, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("variant", ["vanilla", "complete_leak", "no_leak"])
def test_mem_last_readout_in_one_product_equals_the_integrator(variant):
    torch.manual_seed(0)
    net = network.build("10-16FC-3", variant=variant, input_shape=(10,))
    x = torch.rand(9, 4, 10)
    direct = net(x)
    net.probes = True  # the recorded path runs the step-by-step integrator
    stepped = net(x)
    assert torch.allclose(direct, stepped, rtol=1e-5, atol=1e-6)
    assert torch.allclose(stepped, net.records["readout"]["membrane"][-1] / 9, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("init_state", ["zero", "uniform"])
def test_integrator_readout_window_pass_equals_its_step_by_step_definition(init_state):
    """integrator_softmax over a window, computed class-major in one pass (W S^T, the closed form, the
    softmax over classes), against the step-by-step integrator of the same spikes (the path a probe
    runs): the same output, predictions and gradients."""
    torch.manual_seed(0)
    model = network.build("6-8FC-3", variant="vanilla", readout="integrator_softmax", readout_window=4,
                          neuron={"init_state": init_state})
    head = model.readout
    head.binary_input = True
    spikes = (torch.rand(20, 5, 8) < 0.3).float()
    results = []
    for record in (None, {}):
        x = spikes.clone().requires_grad_(True)
        head.zero_grad()
        torch.manual_seed(3)  # the same readout start for both
        out = head(x, record)
        out.sum().backward()
        results.append((out.detach(), head.window_predictions.clone(), x.grad,
                        [p.grad.clone() for p in head.parameters()]))
    (fast, fast_votes, fast_input, fast_params), (slow, slow_votes, slow_input, slow_params) = results
    assert fast.shape == (5, 3)
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-6)
    assert torch.equal(fast_votes, slow_votes)
    torch.testing.assert_close(fast_input, slow_input, rtol=1e-5, atol=1e-6)
    for mine, reference in zip(fast_params, slow_params):
        torch.testing.assert_close(mine, reference, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(2, 9, 500), (5, 3, 7), (1, 4, 4)])
def test_window_predictions_are_argmax_over_classes_ties_to_the_first(shape):
    from ablations.network import _argmax_first_dim

    values = torch.randint(0, 3, shape).float()  # many ties
    assert torch.equal(_argmax_first_dim(values), values.argmax(0))


@pytest.mark.parametrize("variant,learn_beta", [("vanilla", True), ("recurrent", True), ("vanilla", False),
                                                ("no_leak", True)])
def test_one_minus_beta_folded_into_the_weights_gives_the_scaled_current(monkeypatch, variant, learn_beta):
    """``(1 - beta) (W x + b)`` computed as ``((1 - beta) W) x + (1 - beta) b``: the same spikes and, to
    float32 rounding, the same gradients as scaling the current."""
    torch.manual_seed(0)
    spec = neurons.spec_for(variant, input_scale="one_minus_beta", learn_beta=learn_beta)
    net = network.build("20-16FC-12FC-2", variant=spec, input_shape=(20,))
    layer = net.layers[0]
    assert network._folds_into(layer.ops, layer.neuron) == (variant != "no_leak")  # no leak: factor 1, nothing to fold
    x = (torch.rand(30, 8, 20) < 0.3).float()
    results = []
    for fold in (True, False):
        monkeypatch.setattr(network, "FOLD_INPUT_SCALE", fold)
        model = copy.deepcopy(net)
        out = model(x)
        out.square().sum().backward()
        results.append((out.detach(), [p.grad.clone() for p in model.parameters()]))
    (folded, folded_grads), (scaled, scaled_grads) = results
    assert torch.equal(folded, scaled)
    for mine, reference in zip(folded_grads, scaled_grads):
        torch.testing.assert_close(mine, reference, rtol=1e-5, atol=1e-6)
