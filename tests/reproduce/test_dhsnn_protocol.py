"""Seed 001's temporal protocol as its group's code (eva1801/DH-SNN) runs it: delayed XOR drawn
fresh every step, the leaky-integrator softmax readout with a learned leak, its two losses, the
training accuracy over the readout window, and SHD at 1 ms on a file in the native format."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from ablations import faults, figures, network, results
from ablations.errors import UserError
from ablations.config import compose
from ablations.data import build_dataset as build_data
from ablations.figures import learned_leak
from ablations.data.generated import FRESH_STREAM, FreshDelayedXor, make_fresh_delayed_xor
from ablations.pipeline import run_cfg
from ablations.run import run
from ablations.training import StopRun
from ablations.training import loss_function, make_loader

from native_formats import write_shd

XOR = dict(channels=4, pattern_steps=3, delay_steps=6, low_rate=0.2, high_rate=0.6, noise_rate=0.01,
           noise_over_patterns=True)


def test_fresh_samples_depend_on_seed_epoch_and_index_only():
    data = FreshDelayedXor(40, data_seed=3, **XOR)
    first = data.__getitems__(list(range(40)))
    again = data.__getitems__(list(range(39, -1, -1)))[::-1]  # another batch order: the same samples
    assert all(torch.equal(a[0], b[0]) and a[1] == b[1] for a, b in zip(first, again))
    assert torch.equal(data[5][0], first[5][0])
    data.set_epoch(1)
    second_epoch = data.__getitems__(list(range(40)))
    assert sum(torch.equal(a[0], b[0]) for a, b in zip(first, second_epoch)) == 0   # new samples every epoch
    other_seed = FreshDelayedXor(40, data_seed=4, **XOR).__getitems__(list(range(40)))
    assert sum(torch.equal(a[0], b[0]) for a, b in zip(first, other_seed)) == 0
    high_bits = FreshDelayedXor(40, data_seed=3 + 2**40, **XOR).__getitems__(list(range(40)))  # every bit counts
    assert sum(torch.equal(a[0], b[0]) for a, b in zip(first, high_bits)) == 0
    with pytest.raises(IndexError):
        data[40]


def test_fresh_batches_reach_the_loader_as_drawn_equal_to_their_samples_stacked():
    """A fresh batch is handed on as drawn (data.bundle.StackedBatch, collate): the same tensors
    default_collate makes of its samples drawn one at a time, in the shuffled order, for training and
    for the evaluation suites' loaders (a Subset) alike."""
    from torch.utils.data import default_collate

    from ablations.evaluation.common import test_loader

    data = FreshDelayedXor(23, data_seed=2, **XOR)
    data.set_epoch(4)
    loader = make_loader(data, 10, shuffle=True, seed=7)
    order = torch.cat(list(make_loader(list(range(23)), 10, shuffle=True, seed=7))).tolist()  # the same draws
    batches = list(loader)
    assert [len(y) for _, y in batches] == [10, 10, 3]
    x, y = (torch.cat(parts) for parts in zip(*batches))
    one_by_one = default_collate([data[i] for i in order])
    assert torch.equal(x, one_by_one[0]) and torch.equal(y, one_by_one[1]) and x.dtype == torch.uint8
    bundle = build_data(compose(["dataset=delayed_xor_dhsnn", "dataset.fresh=true", "dataset.n_train=30",
                                 "dataset.n_test=10", "dataset.delay_steps=6"]).dataset, "unused")
    bundle.train.set_epoch(1)
    (x_eval, y_eval), = list(test_loader(bundle, None, 0, 30, split="train"))
    expected = default_collate([bundle.train[i] for i in range(30)])
    assert torch.equal(x_eval, expected[0]) and torch.equal(y_eval, expected[1])


def test_fresh_generator_draws_the_task_it_claims():
    x, y = make_fresh_delayed_xor([(0, i) for i in range(3000)], channels=20, pattern_steps=10, delay_steps=180, low_rate=0.2,
                                  high_rate=0.6, noise_rate=0.01, noise_over_patterns=True)
    assert x.dtype == torch.uint8 and x.shape == (3000, 200, 20)
    assert abs(y.float().mean() - 0.5) < 0.03
    assert abs(x[:, 10:190].float().mean() - 0.01) < 0.001
    first_high, second_high = x[:, :10].float().mean((1, 2)) > 0.4, x[:, 190:].float().mean((1, 2)) > 0.4
    assert abs(x[first_high, :10].float().mean() - (1 - 0.4 * 0.99)) < 0.01   # pattern ORed into the noise
    assert abs(x[~first_high, :10].float().mean() - (1 - 0.8 * 0.99)) < 0.01
    assert torch.equal((first_high ^ second_high).long(), y)
    quiet, _ = make_fresh_delayed_xor([(1, i) for i in range(200)], channels=4, pattern_steps=3, delay_steps=4, low_rate=0.0,
                                      high_rate=1.0, noise_rate=1.0, noise_over_patterns=False)
    assert set(quiet[:, :3].float().mean((1, 2)).tolist()) <= {0.0, 1.0} and quiet[:, 3:7].all()
    with pytest.raises(ValueError, match="noise_rate"):
        make_fresh_delayed_xor([0], noise_rate=1.5)


def test_fresh_is_reachable_and_off_keeps_earlier_identities():
    fixed = compose(["dataset=delayed_xor_dhsnn", "dataset.n_train=30", "dataset.n_test=10"])
    bundle = build_data(fixed.dataset, "unused")
    assert isinstance(bundle.train, torch.utils.data.TensorDataset) and len(bundle.train) == 30
    assert "fresh" not in results.identity(fixed)["dataset"]                      # fresh=false: the old hash
    fresh = compose(["dataset=delayed_xor_dhsnn", "dataset.fresh=true", "dataset.n_train=30", "dataset.n_test=10"])
    assert results.config_hash(fresh) != results.config_hash(fixed)
    fresh_bundle = build_data(fresh.dataset, "unused")
    assert isinstance(fresh_bundle.train, FreshDelayedXor) and len(fresh_bundle.train) == 30
    assert torch.equal(fresh_bundle.test.tensors[0], bundle.test.tensors[0])     # one held-out test set
    batch = next(iter(make_loader(fresh_bundle.train, 8, shuffle=True, seed=1)))
    assert batch[0].shape == (8, 200, 20) and batch[1].shape == (8,)


def _integrator_reference(current, p, first):
    """DH-SNN's readout written out: output_Neuron_pra (spike_neuron.py lines 108-118), softmax each step."""
    alpha = torch.sigmoid(p)
    mem = torch.zeros_like(current[0])
    probabilities = []
    for t in range(current.shape[0]):
        mem = mem * alpha + (1 - alpha) * current[t]
        if t >= first:
            probabilities.append(F.softmax(mem, dim=1))
    return probabilities


def test_integrator_softmax_readout_is_dhsnn_loss_for_loss():
    torch.manual_seed(0)
    net = network.build("6-5FC-3", readout="integrator_softmax", readout_window=4, neuron={"threshold": 0.2})
    head = net.readout
    p = head.leak_parameter.detach()
    assert p.shape == (3,) and 0 <= float(p.min()) <= float(p.max()) <= 4     # DH-SNN: U(0, 4)
    x = (torch.rand(9, 5, 6) < 0.5).float()
    labels = torch.tensor([0, 2, 1, 1, 0])
    net.probes = True
    output = net(x)
    current = net.records["readout"]["current"]
    probabilities = _integrator_reference(current, head.leak_parameter.detach(), first=5)
    assert len(probabilities) == 4
    # SHD (main_dense_origin.py lines 86-87, 146): CrossEntropyLoss on the summed softmax
    summed = sum(probabilities)
    assert float(loss_function("ce_mem")(output, labels, 9).detach()) == pytest.approx(float(F.cross_entropy(summed, labels)),
                                                                               rel=1e-5)
    assert torch.equal(output.argmax(1), summed.argmax(1))
    # delayed XOR (delayed_xor_snn.py lines 109-113): sum over the window of CrossEntropyLoss(softmax(U[t]))
    per_step = sum(F.cross_entropy(p, labels) for p in probabilities)
    assert float(loss_function("nll_steps")(output, labels, 9)) == pytest.approx(float(per_step), rel=1e-5)
    assert torch.equal(head.window_predictions, torch.stack(probabilities).argmax(-1))
    net.probes = False
    loss_function("nll_steps")(net(x), labels, 9).backward()
    assert head.leak_parameter.grad is not None and head.leak_parameter.grad.abs().sum() > 0   # the leak is learned
    assert "leak_parameter" in dict(net.readout.named_parameters())


def test_integrator_window_product_is_the_step_by_step_integrator():
    torch.manual_seed(1)
    head = network.Readout([torch.nn.Linear(4, 3)], "integrator_softmax", 0.0, None, window=5)
    with torch.no_grad():
        head.leak_parameter.copy_(torch.tensor([-3.0, 0.5, 6.0]))   # alpha 0.05, 0.62, 0.998
    current = torch.randn(40, 6, 3)
    fast = head._leaky_window(current, 35)
    slow = head._leaky_integrate(current)[35:]
    assert torch.allclose(fast, slow, atol=1e-5)
    x = torch.rand(40, 6, 4)
    fast_out = head(x)
    head.CLOSED_FORM_MAX = 0                                         # force the step-by-step path
    assert torch.allclose(fast_out, head(x), atol=1e-5)
    grads = []
    for limit in (1 << 16, 0):
        head.CLOSED_FORM_MAX = limit
        head.zero_grad()
        head(x)[:, 0].sum().backward()
        grads.append(head.leak_parameter.grad.clone())
    assert torch.allclose(grads[0], grads[1], atol=1e-5, rtol=1e-4)


def test_other_readouts_have_no_leak_parameter():
    net = network.build("6-5FC-3", readout="mem_mean")
    assert net.readout.leak_parameter is None and net.readout.alpha is None
    assert "readout.leak_parameter" not in net.state_dict()


def _tiny_xor(tmp_path, epochs):
    return ["experiment=roles_delayed_xor", f"paths.runs={tmp_path}", "progress=false", "eval.suites=[]",
            f"train.epochs={epochs}", "train.batch_size=20", "train.eval_batch_size=20", "dataset.n_train=40",
            "dataset.n_test=20", "dataset.delay_steps=10", "model.readout_window=4", "train.step_size=1"]


def test_fresh_xor_run_reports_window_accuracy_and_its_learned_leak(tmp_path):
    run_dir = run(_tiny_xor(tmp_path, 2))
    history = pd.read_csv(run_dir / results.METRICS_FILE)
    assert list(history["epoch"]) == [1, 2]
    for column in ["train_window_accuracy", "train_accuracy", "test_accuracy"]:
        assert history[column].between(0, 1).all()
    rows = learned_leak.leak_rows([run_dir], {str(run_dir): "vanilla"})
    readout, hidden = rows[rows["layer"] == "readout"], rows[rows["layer"] == "hidden"]
    assert len(readout) == 2 and readout["alpha"].between(0, 1).all() and set(rows["variant"]) == {"vanilla"}
    state = torch.load(run_dir / results.CHECKPOINT_FILE, weights_only=False)["model"]
    assert np.allclose(sorted(readout["alpha"]), sorted(torch.sigmoid(state["readout.leak_parameter"]).tolist()))
    # DH-SNN's hidden neuron: one learned beta = sigmoid(p) per neuron (the scalar beta buffer is not read)
    assert np.allclose(hidden["alpha"], torch.sigmoid(state["layers.0.neuron.leak_logit"]).numpy()) and len(hidden) == 16
    assert learned_leak.asked_variant(run_dir, "recorded") == "recorded"           # no variant= on its command line
    figure = learned_leak.learned_leak(figures.load(tmp_path))
    assert [axis.get_title().split(" (")[0] for axis in figure.axes] == ["hidden neurons", "readout neurons"]


@pytest.mark.slow
def test_fresh_xor_run_killed_after_an_epoch_resumes_exactly(tmp_path):
    whole = pd.read_csv(run(_tiny_xor(tmp_path / "whole", 2)) / results.METRICS_FILE)
    args = _tiny_xor(tmp_path / "split", 2)
    env = dict(os.environ, **{faults.ENV: f"renamed:{results.CHECKPOINT_FILE}@1"})
    killed = subprocess.run([sys.executable, "-m", "ablations.run", *args], env=env, capture_output=True, text=True,
                            timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    split = pd.read_csv(run(args) / results.METRICS_FILE)
    columns = ["train_loss", "train_accuracy", "train_window_accuracy", "test_loss", "test_accuracy"]
    pd.testing.assert_frame_equal(whole[columns], split[columns])


def test_a_random_initial_state_gives_every_evaluation_of_the_test_set_one_accuracy(tmp_path):
    """neuron.init_state=uniform draws a state per batch; under train.rng=paired the end-of-epoch test and
    the clean suite draw the same states, so a network at chance reports one accuracy, not two."""
    args = [*_tiny_xor(tmp_path, 1), "train.rng=paired", "eval.suites=[clean]", "dataset.n_test=200",
            "eval.clean.batch_size=20"]   # the preset sets it to train.eval_batch_size (500); _tiny_xor's is 20
    run_dir = run(args)
    test = float(pd.read_csv(run_dir / results.METRICS_FILE)["test_accuracy"].iloc[-1])
    clean = pd.read_parquet(run_dir / results.EVAL_DIR / "clean.parquet")
    assert float(clean.loc[clean["metric"] == "accuracy", "value"].iloc[0]) == test
    assert results.read_status(run_dir)["final"]["accuracy"] == test
    assert compose(["experiment=roles_delayed_xor"]).eval.clean.batch_size == 500 == \
        compose(["experiment=roles_delayed_xor"]).train.eval_batch_size


def test_a_fresh_xor_record_resumes_only_on_the_stream_it_was_trained_on(tmp_path):
    def stop_after_one(epoch, row):
        raise StopRun("interrupted")

    with pytest.raises(StopRun) as stopped:
        run_cfg(compose(_tiny_xor(tmp_path, 2)), on_epoch=stop_after_one)
    run_dir = stopped.value.run_dir
    status = results.read_status(run_dir)
    assert status["sample_stream"] == FRESH_STREAM and status["epochs_done"] == 1
    files = [results.STATUS_FILE, results.METRICS_FILE, results.CHECKPOINT_FILE]
    for recorded in (None, "another stream"):   # a record from a version that drew other samples, or did not say
        changed = {key: value for key, value in status.items() if key != "sample_stream"}
        if recorded:
            changed["sample_stream"] = recorded
        results.write_status(run_dir, changed)
        before = {name: (run_dir / name).read_bytes() for name in files}
        with pytest.raises(UserError, match="two different draws of the task.*train.restart=true"):
            run(_tiny_xor(tmp_path, 2))
        assert {name: (run_dir / name).read_bytes() for name in files} == before   # refused before any write
    results.write_status(run_dir, status)                                          # its own stream: it resumes
    run(_tiny_xor(tmp_path, 2))
    assert results.read_status(run_dir)["epochs_done"] == 2
    fixed = run([*_tiny_xor(tmp_path, 1), "dataset.fresh=false"])                # samples drawn once: no stream
    assert "sample_stream" not in results.read_status(fixed)


def test_shd_at_1ms_on_the_native_file(tmp_path):
    times = [0.0, 0.0004, 0.0008, 0.0015, 0.9995]   # three spikes in the first 1 ms bin of unit 5
    write_shd(tmp_path / "data", {"train": [(3, times, [5, 5, 5, 6, 699]), (11, [0.2, 0.3], [1, 2])],
                                  "test": [(7, [0.0, 0.5], [10, 20])]})
    overrides = ["experiment=roles_shd", f"paths.data={tmp_path / 'data'}", f"paths.runs={tmp_path / 'runs'}",
                 "progress=false", "eval.suites=[]", "train.epochs=1", "train.batch_size=2"]
    cfg = compose(overrides)
    bundle = build_data(cfg.dataset, tmp_path / "data")
    assert (bundle.steps, bundle.input_shape, bundle.n_classes) == (1000, (700,), 20)
    frames, label = bundle.train[0]
    assert label == 3 and frames.shape == (1000, 700)
    assert frames[0, 5] == 1 and frames[1, 6] == 1 and frames[999, 699] == 1 and frames.sum() == 3   # binary bins
    run_dir = run(overrides)
    history = pd.read_csv(run_dir / results.METRICS_FILE)
    assert history["train_window_accuracy"].between(0, 1).all() and history["test_accuracy"].between(0, 1).all()


def test_nll_steps_needs_the_integrator_softmax_readout(tmp_path):
    with pytest.raises(UserError, match="nll_steps needs model.readout=integrator_softmax"):
        run(["dataset=delayed_xor", "train.loss=nll_steps", f"paths.runs={tmp_path}", "progress=false"])
    assert not any(tmp_path.iterdir())                                        # nothing written
