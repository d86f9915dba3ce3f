"""Non-spiking baselines ``model=lstm|gru|rnn``: PyTorch's own modules over the same time-major
frames, the same training loop, and a clear refusal where a loss or suite does not apply."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ablations import evaluation, results
from ablations.errors import UserError
from ablations.config import build_model, compose
from ablations.models.rnn import RecurrentBaseline
from ablations.run import run


@pytest.mark.parametrize("cell, module", [("lstm", nn.LSTM), ("gru", nn.GRU), ("rnn", nn.RNN)])
def test_baselines_are_pytorch_modules_over_time_major_frames(cell, module):
    cfg = compose(["dataset=digits_events", f"model={cell}", "train.loss=ce_mem", "model.layers=288-32-16-10"])
    model = build_model(cfg, (2, 12, 12))
    assert isinstance(model, RecurrentBaseline) and model.n_classes == 10
    assert [type(layer) for layer in model.recurrent] == [module, module]
    assert [layer.hidden_size for layer in model.recurrent] == [32, 16]
    out = model(torch.rand(7, 3, 2, 12, 12))
    assert out.shape == (3, 10)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_mean_readout_over_a_window_ignores_nothing_it_should_see():
    torch.manual_seed(0)
    model = RecurrentBaseline("gru", 4, [8], 2, readout="mean", readout_window=3)
    x = torch.rand(10, 2, 4)
    hidden, _ = model.recurrent[0](x)
    assert torch.allclose(model(x), model.head(hidden[-3:]).mean(0))


def test_wrong_loss_and_sizes_are_user_errors():
    with pytest.raises(UserError, match="ce_rate"):
        build_model(compose(["dataset=digits_events", "model=lstm", "train.loss=ce_rate"]), (2, 12, 12))
    with pytest.raises(UserError, match="288"):
        build_model(compose(["dataset=digits_events", "model=gru", "train.loss=ce_mem", "model.layers=100-16-10"]),
                    (2, 12, 12))
    with pytest.raises(UserError, match="sizes only"):
        build_model(compose(["dataset=digits_events", "model=rnn", "train.loss=ce_mem", "model.layers=288-8C3-10"]),
                    (2, 12, 12))


def test_lstm_learns_digits_events_in_the_same_loop_and_spike_suites_refuse_it(tmp_path):
    path = run(["dataset=digits_events", "model=lstm", "train.loss=ce_mem", "train.epochs=1", "train.max_batches=8",
                "progress=false", f"paths.runs={tmp_path / 'runs'}", f"paths.data={tmp_path / 'data'}"])
    status = results.read_status(path)
    assert status["status"] == "finished" and "/lstm/" in str(path)
    assert status["final"]["accuracy"] > 0.3, status["final"]      # chance is 0.1
    model, cfg = results.load_model(path)
    with pytest.raises(UserError, match="spikes"):
        evaluation.run_suite("activity", model, None, cfg)


def test_table7_names_baseline_rows_by_model():
    import pandas as pd

    from ablations.figures import tables

    rows = []
    for model, variant in (("default", "vanilla"), ("lstm", "vanilla"), ("gru", "vanilla")):
        for window in (1.0, 3.0):
            rows.append({"kind": "eval", "suite": "generalization", "metric": "accuracy", "value": 0.5,
                         "time_window_ms": window, "trained_time_window_ms": 3.0, "dataset": "digits_events",
                         "variant": variant, "model": model, "seed": 0, "run_dir": f"runs/{model}",
                         "config_hash": model, "status": "finished"})
    table = tables.roles_table7(pd.DataFrame(rows))
    ours = table[table["source"] == "ours"]
    assert set(ours["model"]) == {"vanilla LIF", "LSTM", "GRU"}
    published = table[table["source"] == "published"]
    assert {"LSTM", "GRU", "vanilla RNN"} <= set(published["model"])
    order = list(table["model"])
    assert order.index("LSTM") < order.index("GRU") < order.index("vanilla RNN")   # ours beside published, per model
