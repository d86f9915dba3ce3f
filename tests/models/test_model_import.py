"""model=import: a user's snnTorch model by import path, trained and evaluated like a built-in model."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import snntorch as snn
import torch
from torch import nn

from ablations import ablate, results
from ablations.config import compose
from ablations.errors import UserError
from ablations.evaluation.common import forward_records, spiking_neurons
from ablations.evaluation.neurobench import spiking_cells
from ablations.models.imported import ImportedNetwork, wrap
from ablations.pipeline import prepare

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
sys.path.insert(0, str(EXAMPLES))
import snntorch_models as tutorial  # noqa: E402


def _overrides(target: str, *extra: str) -> list[str]:
    return ["model=import", f"model.target={target}", "dataset=digits_events", "dataset.frame.duration_ms=12",
            "train.epochs=1", "train.max_batches=2", "progress=false", *extra]


def test_wrapped_models_record_their_neurons_for_the_suites():
    x = (torch.rand(6, 3, 2, 12, 12) < 0.3).float()
    for network in (wrap(tutorial.Net(), "recurrent", call="sequence", input_shape=(2, 12, 12)),
                    wrap(tutorial.fc_sequential(), "no_leak", call="step", input_shape=(2, 12, 12)),
                    wrap(tutorial.conv_sequential(), "no_reset", call="step", input_shape=(2, 12, 12))):
        assert network.n_classes == 10
        output, records = forward_records(network, x)
        assert output.shape == (3, 10)
        neurons = spiking_neurons(network)
        assert set(records) == set(neurons) | {"readout"}
        for name in neurons:
            assert records[name]["spikes"].shape[0] == 6 and records[name]["membrane"].shape == records[name]["spikes"].shape
        last = list(neurons)[-1]
        assert torch.equal(records["readout"]["membrane"], records[last]["membrane"])
        assert set(spiking_cells(network)) == set(neurons)  # NeuroBench's activation layers
    assert set(spiking_neurons(wrap(tutorial.Net(), input_shape=(2, 12, 12)))) == {"lif1", "lif2"}


def test_a_users_module_without_a_wrapper_gets_a_clear_error():
    with pytest.raises(UserError, match="no declared call convention. Wrap it with ablations.models.imported.wrap"):
        forward_records(ablate(tutorial.Net()), torch.zeros(2, 1, 288))
    with pytest.raises(UserError, match="no spiking neurons the package knows"):
        forward_records(nn.Linear(2, 2), torch.zeros(2, 1, 2))


def test_declared_conventions_are_checked():
    with pytest.raises(UserError, match="model.returns=\\['spikes'\\] names 1"):
        wrap(tutorial.Net(), returns="spikes", input_shape=(2, 12, 12)).n_classes
    with pytest.raises(UserError, match="reads the membrane record, but model.returns=\\['spikes'\\]"):
        wrap(tutorial.Net(), returns="spikes", readout="mem_mean")
    with pytest.raises(UserError, match="model.call='loop' is not one of"):
        ImportedNetwork(ablate(tutorial.Net()), call="loop")


def test_config_errors_name_the_problem(tmp_path):
    for target, message in [("nope_module:Net", "'nope_module' could not be imported"),
                            (f"{EXAMPLES}/snntorch_models.py:Nope", "has no 'Nope'; it has: .*Net"),
                            ("snntorch_models", "must be 'package.module:Name'")]:
        with pytest.raises(UserError, match=message):
            prepare(compose(_overrides(target, f"paths.runs={tmp_path}", f"paths.data={tmp_path}/data")))


def test_the_models_source_is_part_of_the_run_identity(tmp_path):
    source = tmp_path / "user_models.py"
    shutil.copy(EXAMPLES / "snntorch_models.py", source)
    cfg = compose(_overrides(f"{source}:Net"))
    before = results.config_hash(cfg)
    assert results.config_hash(cfg) == before
    source.write_text(source.read_text() + "\n# an edit\n")
    assert results.config_hash(cfg) != before


@pytest.mark.slow
def test_cli_trains_and_evaluates_an_imported_model(tmp_path):
    from ablations.run import run

    source = tmp_path / "user_models.py"
    shutil.copy(EXAMPLES / "snntorch_models.py", source)
    path = run(_overrides(f"{source}:fc_sequential", "model.call=step", "variant=no_leak",
                          "eval.suites=[activity]", f"paths.runs={tmp_path}/runs", f"paths.data={tmp_path}/data"))
    status = json.loads((path / results.STATUS_FILE).read_text())
    assert status["status"] == "finished" and status["model_source"]["file"] == str(source)
    assert len(status["model_source"]["sha256"]) == 64
    model, _ = results.load_model(path)
    assert isinstance(model, ImportedNetwork) and isinstance(model.user[2].neuron, torch.nn.Module)
    assert model.user[2].spec.leak == "none"
    rates = results.load_results(tmp_path / "runs")
    layers = set(rates[(rates["metric"] == "spike_rate")]["layer"].dropna())
    assert {"2", "4", "network"} <= layers
