"""model=import: a user's snnTorch model by import path, trained and evaluated like a built-in model."""

from __future__ import annotations

import copy
import json
import math
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


USER_MODEL = '''
import snntorch as snn
import torch
from snntorch import surrogate
from torch import nn


class Net(nn.Module):
    def __init__(self, num_inputs=288, num_hidden=32, num_outputs=10):
        super().__init__()
        self.fc1 = nn.Linear(num_inputs, num_hidden)
        self.lif1 = snn.Leaky(beta=0.9, learn_beta=True, spike_grad=surrogate.fast_sigmoid(slope=25))
        self.fc2 = nn.Linear(num_hidden, num_outputs)
        self.lif2 = snn.Leaky(beta=0.8)

    def forward(self, x):
        mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
        spikes, membranes = [], []
        for step in range(x.size(0)):
            spk1, mem1 = self.lif1(self.fc1(x[step].flatten(1)), mem1)
            spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            spikes.append(spk2)
            membranes.append(mem2)
        return torch.stack(spikes), torch.stack(membranes)


def sized(sizes=None, num_outputs=10):
    sizes = dict(sizes or {"inputs": 288, "hidden": 32})
    return nn.Sequential(nn.Flatten(), nn.Linear(sizes["inputs"], sizes["hidden"]), snn.Leaky(beta=0.9, init_hidden=True),
                         nn.Linear(sizes["hidden"], num_outputs), snn.Leaky(beta=0.9, init_hidden=True, output=True))
'''


def test_model_import_trains_the_model_ablate_builds(tmp_path):
    """The two documented paths build one model: the user's beta per layer, learn_beta, surrogate and reset
    are kept by model=import (through the CLI's own function) as by ablate(), and one epoch from one
    seed gives the same parameters; the record says per layer what came from the model."""
    from ablations.data import build_dataset
    from ablations.run import run
    from ablations.training import fit, seed_everything

    source = tmp_path / "user_net.py"
    source.write_text(USER_MODEL)
    overrides = _overrides(f"{source}:Net", f"paths.runs={tmp_path}/runs", f"paths.data={tmp_path}/data")
    run_dir = run(overrides)
    imported, cfg = results.load_model(run_dir)

    seed_everything(int(cfg.seed))  # the Python path, in the order prepare() draws: data, then weights
    bundle = build_dataset(cfg.dataset, cfg.paths.data)
    namespace: dict = {}
    exec(compile(USER_MODEL, str(source), "exec"), namespace)
    network = wrap(namespace["Net"](), "vanilla", call="sequence", input_shape=bundle.input_shape)
    assert isinstance(network.user.lif1.beta, nn.Parameter)
    assert repr(network.user.lif1.spike_grad) == "fast_sigmoid(slope=25.0)"
    fit(cfg, tmp_path / "python_run", bundle, network, torch.device("cpu"))

    expected = network.state_dict()
    trained = imported.state_dict()
    assert trained.keys() == expected.keys()
    for key in expected:
        assert torch.equal(trained[key], expected[key]), key
    assert float(trained["user.lif1.neuron.beta"]) != pytest.approx(0.9)  # learnt, as the model says
    assert float(trained["user.lif2.neuron.beta"]) == pytest.approx(0.8)  # fixed, as the model says

    assert cfg.neuron.tau == "model" and cfg.neuron.threshold == "model" and cfg.neuron.surrogate.name == "model"
    table = {row["path"]: row for row in json.loads((run_dir / results.STATUS_FILE).read_text())["model_neurons"]}
    assert table["lif1"]["beta"] == {"value": 0.9, "from": "model"}
    assert table["lif1"]["learn_beta"] == {"value": True, "from": "model"}
    assert table["lif1"]["surrogate"] == {"value": "fast_sigmoid(slope=25.0)", "from": "model"}
    assert table["lif2"]["beta"] == {"value": 0.8, "from": "model"}
    assert table["lif2"]["reset"] == {"value": "subtract", "from": "model"}


def test_a_neuron_key_given_replaces_the_models_value_and_is_recorded(tmp_path):
    source = tmp_path / "user_net.py"
    source.write_text(USER_MODEL)
    base = _overrides(f"{source}:Net", f"paths.runs={tmp_path}/runs", f"paths.data={tmp_path}/data")
    kept = prepare(compose(base), base)
    given = ["neuron.tau=20", "neuron.surrogate.name=atan", "neuron.reset=zero"]
    changed = prepare(compose(base + given), base + given)
    assert results.config_hash(kept.cfg) != results.config_hash(changed.cfg)
    lif1 = changed.model.user.lif1
    assert float(lif1.beta.detach()) == pytest.approx(math.exp(-1 / 20)) and isinstance(lif1.beta, nn.Parameter)
    assert repr(lif1.spike_grad) == "atan(alpha=2.0)" and lif1.spec.reset == "zero"
    row = changed.model.neuron_table()[0]
    assert row["beta"]["from"] == "override" and row["learn_beta"]["from"] == "model"
    assert row["surrogate"]["from"] == "override" and row["reset"]["from"] == "override"
    assert row["threshold"]["from"] == "model"
    no_reset = prepare(base + ["variant=no_reset"])
    assert no_reset.cfg.neuron.reset == "none" and no_reset.model.neuron_table()[0]["reset"]["from"] == "variant"
    explicit = prepare(compose(base + ["neuron.tau=10"]), base + ["neuron.tau=10"])  # a preset's value, given
    assert float(explicit.model.user.lif2.beta) == pytest.approx(math.exp(-1 / 10))
    assert float(kept.model.user.lif2.beta) == pytest.approx(0.8)


def test_model_kwargs_from_the_command_line_build_the_model_and_are_part_of_its_identity(tmp_path):
    source = tmp_path / "user_net.py"
    source.write_text(USER_MODEL)
    base = _overrides(f"{source}:Net", f"paths.runs={tmp_path}/runs", f"paths.data={tmp_path}/data")
    hashes = set()
    for spelling in ("model.kwargs={num_hidden: 16}", "model.kwargs.num_hidden=16", "+model.kwargs.num_hidden=16"):
        prepared = prepare(base + [spelling])
        assert prepared.model.user.fc1.out_features == 16, spelling
        hashes.add(results.config_hash(prepared.cfg))
    assert len(hashes) == 1  # one run, however it is spelled
    unset = prepare(base)
    assert unset.model.user.fc1.out_features == 32 and results.config_hash(unset.cfg) not in hashes
    assert results.config_hash(unset.cfg) == results.config_hash(prepare(base + ["model.kwargs={}"]).cfg)
    nested = _overrides(f"{source}:sized", "model.call=step", f"paths.runs={tmp_path}/runs", f"paths.data={tmp_path}/data")
    prepared = prepare(nested + ["model.kwargs.sizes={inputs: 288, hidden: 24}"])
    assert prepared.model.user[1].out_features == 24
    prepared = prepare(nested + ["model.kwargs={sizes: {inputs: 288, hidden: 12}, num_outputs: 10}"])
    assert prepared.model.user[1].out_features == 12
    with pytest.raises(UserError, match=r"model.kwargs=\{'num_hidden': 16\}: not used by model 'default'"):
        prepare(["model.kwargs.num_hidden=16", f"paths.runs={tmp_path}/runs"])


def _per_step(network: ImportedNetwork) -> ImportedNetwork:
    twin = copy.deepcopy(network)
    twin.folded = False
    return twin


def _sharpened(model: nn.Module) -> nn.Module:
    with torch.no_grad():  # weights that make every layer spike some, not all, of the time
        for module in model.modules():
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                module.weight.mul_(4)
    return model


def _synaptic_sequential() -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Linear(288, 32), snn.Synaptic(alpha=0.8, beta=0.9, init_hidden=True),
                         nn.Linear(32, 10), snn.Leaky(beta=torch.linspace(0.5, 0.95, 10), learn_beta=True,
                                                      threshold=0.8, init_hidden=True, output=True))


FOLDED_CASES = [(tutorial.fc_sequential, variant) for variant in ("vanilla", "no_leak", "complete_leak", "no_reset",
                                                                   "recurrent", "linear_leak")]
FOLDED_CASES += [(tutorial.conv_sequential, variant) for variant in ("vanilla", "no_reset", "linear_leak")]
FOLDED_CASES += [(_synaptic_sequential, variant) for variant in ("vanilla", "no_reset")]


@pytest.mark.parametrize("factory, variant", FOLDED_CASES)
def test_a_tutorial_sequential_runs_time_folded_as_it_runs_step_by_step(factory, variant):
    torch.manual_seed(0)
    folded = wrap(_sharpened(factory()), variant, call="step", input_shape=(2, 12, 12))
    stepwise = _per_step(folded)
    assert folded.folded, folded.per_step_reason
    x = (torch.rand(16, 6, 2, 12, 12) < 0.3).float()
    records, expected = folded._records(x), stepwise._records(x)
    assert torch.equal(records["spikes"], expected["spikes"])
    assert 0 < float(expected["spikes"].detach().mean()) < 1
    assert torch.allclose(records["membrane"], expected["membrane"], atol=1e-5, rtol=0)
    folded(x).sum().backward()
    stepwise(x).sum().backward()
    gradients = dict(stepwise.named_parameters())
    for name, parameter in folded.named_parameters():
        assert torch.allclose(parameter.grad, gradients[name].grad, atol=1e-5, rtol=1e-4), name


def test_models_that_are_not_folded_say_why_once(caplog):
    from ablations.models import imported

    imported._SAID.clear()
    with caplog.at_level("WARNING", logger="ablations.models"):
        network = wrap(tutorial.Net(), call="sequence", input_shape=(2, 12, 12))
        wrap(tutorial.Net(), call="sequence", input_shape=(2, 12, 12))
    assert not network.folded and "model's own forward loops over time" in network.per_step_reason
    assert sum("runs step by step (model.call=sequence" in r.getMessage() for r in caplog.records) == 1
    batch_norm = nn.Sequential(nn.Flatten(), nn.Linear(288, 10), nn.BatchNorm1d(10),
                               snn.Leaky(beta=0.9, init_hidden=True, output=True))
    assert wrap(batch_norm, call="step").per_step_reason.startswith("layer '2' (BatchNorm1d) is not one the package folds")
    no_hidden = nn.Sequential(nn.Flatten(), nn.Linear(288, 10), snn.Leaky(beta=0.9))
    assert wrap(no_hidden, call="step").per_step_reason == "neuron '2' has init_hidden=False"
