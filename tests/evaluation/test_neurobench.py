"""The ``neurobench`` suite (NeuroBench's own Benchmark) against our ``activity`` suite on the same runs.

Same trained model, same seeded test subset, same encoded inputs: where the definitions agree the
numbers must agree (relative tolerance 1e-9, i.e. floating-point summation order only). The
remaining differences are by construction, and named in ``test_what_only_one_suite_reports``.
"""

import pytest
from omegaconf import OmegaConf

pytest.importorskip("neurobench")
pytestmark = pytest.mark.slow  # trains three small runs

from ablations import data as datasets  # noqa: E402
from ablations import evaluation, results  # noqa: E402
from ablations.run import run  # noqa: E402

TOLERANCE = 1e-9
N_SAMPLES = 64

CASES = {
    # Poisson-coded digits, membrane readout: every input binary -> all ACs
    "digits": ["dataset=digits"],
    # event frames hold counts (graded) -> first layer MACs; recurrent V sees spikes -> ACs
    "digits_events": ["dataset=digits_events", "variant=recurrent", "dataset.frame.time_window_ms=10"],
    # direct coding, spikes after average pooling (graded) and a spiking readout
    "conv_direct_spiking_readout": ["dataset=digits", "dataset.encoder=direct", "model.layers=4C3-2P-16FC-10",
                                    "model.readout=spike_count", "dataset.steps=6"],
}


@pytest.fixture(scope="module", params=sorted(CASES))
def both(request, tmp_path_factory):
    root = tmp_path_factory.mktemp("neurobench")
    path = run(["train.epochs=1", f"paths.runs={root}", f"paths.data={root / 'data'}", "progress=false"]
               + CASES[request.param])
    model, cfg = results.load_model(path)
    cfg.eval = OmegaConf.create({"activity": {"n_samples": N_SAMPLES, "batch_size": 32},
                                 "neurobench": {"n_samples": N_SAMPLES, "batch_size": 32}})
    data = datasets.build_dataset(cfg.dataset, cfg.paths.data)
    ours = evaluation.run_suite("activity", model, data, cfg)
    theirs = evaluation.run_suite("neurobench", model, data, cfg)
    return request.param, ours, theirs


def _ours(frame, metric, layer="network"):
    rows = frame[(frame.metric == metric) & (frame.layer == layer) & frame.neuron.isna() & frame.time_step.isna()]
    assert len(rows) == 1, (metric, layer)
    return float(rows.value.iloc[0])


def _theirs(frame, metric, layer="network"):
    rows = frame[(frame.metric == metric) & (frame.layer == layer)]
    assert len(rows) == 1, (metric, layer)
    return float(rows.value.iloc[0])


def test_synaptic_operations_equal_neurobench(both):
    case, ours, theirs = both
    assert _ours(ours, "synaptic_acs") == pytest.approx(_theirs(theirs, "effective_acs"), rel=TOLERANCE)
    assert _ours(ours, "synaptic_macs") == pytest.approx(_theirs(theirs, "effective_macs"), rel=TOLERANCE)
    assert _ours(ours, "dense_macs") == pytest.approx(_theirs(theirs, "dense_synaptic_ops"), rel=TOLERANCE)
    assert _ours(ours, "synaptic_ops") == pytest.approx(
        _theirs(theirs, "effective_acs") + _theirs(theirs, "effective_macs"), rel=TOLERANCE)
    if case == "digits":  # Poisson spikes everywhere: accumulates only
        assert _theirs(theirs, "effective_macs") == 0 and _theirs(theirs, "effective_acs") > 0
    else:  # graded inputs somewhere (event counts, analog pixels, pooled spikes)
        assert _theirs(theirs, "effective_macs") > 0 and _theirs(theirs, "effective_acs") > 0


def test_activation_sparsity_equals_neurobench_per_layer_and_network(both):
    case, ours, theirs = both
    layers = set(theirs[(theirs.metric == "activation_sparsity") & (theirs.layer != "network")].layer)
    expected = {"layer1", "readout"} if case == "conv_direct_spiking_readout" else {"layer1"}
    assert expected <= layers
    if case == "conv_direct_spiking_readout":
        assert "layer2" in layers
    for layer in layers | {"network"}:
        assert _ours(ours, "activation_sparsity", layer) == pytest.approx(
            _theirs(theirs, "activation_sparsity", layer), rel=TOLERANCE), layer


def test_what_only_one_suite_reports(both):
    """Named differences: NeuroBench-only static metrics and neuron-state counts; ours per layer."""
    _, ours, theirs = both
    only_theirs = {"footprint_bytes", "connection_sparsity", "accuracy", "membrane_updates"}
    assert only_theirs <= set(theirs.metric)
    assert _theirs(theirs, "footprint_bytes") > 0 and 0 <= _theirs(theirs, "connection_sparsity") <= 1
    only_ours = {"spike_rate", "input_rate", "enwsi"}
    assert only_ours <= set(ours.metric) and not only_ours & set(theirs.metric)
    # per-layer operation counts exist only in ours; they sum to NeuroBench's network totals
    layer_rows = ours[(ours.metric == "synaptic_ops") & (ours.layer != "network")]
    assert layer_rows.value.sum() == pytest.approx(
        _theirs(theirs, "effective_acs") + _theirs(theirs, "effective_macs"), rel=TOLERANCE)
