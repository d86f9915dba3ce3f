"""train.rng=paired: variants trained with the same seed share weights, batches and draws
(ablations/streams.py); evaluation draws are one encoded test set for every suite."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from ablations import results, streams
from ablations.data.encoders import PoissonEncoder, keyed_draws
from ablations.pipeline import compose_run, prepare, run_cfg
from ablations.training import StopRun

FAST = ["dataset.steps=6", "train.epochs=2", "train.max_batches=3", "progress=false"]


def _shared_equal(a: torch.nn.Module, b: torch.nn.Module) -> dict[str, bool]:
    sa, sb = a.state_dict(), b.state_dict()
    return {k: torch.equal(sa[k], sb[k]) for k in sa if k in sb and sa[k].shape == sb[k].shape
            and sa[k].is_floating_point() and k.endswith(("weight", "bias"))}


def test_paired_variants_share_every_weight_of_the_same_name():
    vanilla = prepare(compose_run(["train.rng=paired", "variant=vanilla"]))
    recurrent = prepare(compose_run(["train.rng=paired", "variant=recurrent"]))
    shared = _shared_equal(vanilla.model, recurrent.model)
    assert "layers.0.ops.1.weight" in shared and "readout.ops.0.weight" in shared
    assert all(shared.values()), shared
    # the global stream (every earlier run): the recurrent matrix shifts the readout's draw
    before = _shared_equal(prepare(compose_run(["variant=vanilla"])).model,
                           prepare(compose_run(["variant=recurrent"])).model)
    assert before["layers.0.ops.1.weight"] and not before["readout.ops.0.weight"]


def test_paired_weights_differ_between_seeds_and_follow_he_normal():
    a = prepare(compose_run(["train.rng=paired", "seed=0"])).model
    b = prepare(compose_run(["train.rng=paired", "seed=1"])).model
    assert not torch.equal(a.layers[0].ops[1].weight, b.layers[0].ops[1].weight)
    he = prepare(compose_run(["train.rng=paired", "model.init=he_normal", "model.layers=64-512FC-10"])).model
    weight = he.layers[0].ops[-1].weight.detach()
    assert abs(float(weight.std()) - (2 / 64) ** 0.5) < 0.02  # N(0, 2 / fan_in)


def _inputs_seen(overrides: list[str], tmp_path) -> list[torch.Tensor]:
    prepared = prepare(compose_run([*FAST, f"paths.runs={tmp_path}", *overrides]))
    seen: list[torch.Tensor] = []

    def record(module, args):
        if module.training:
            seen.append(args[0].detach().clone())

    prepared.model.register_forward_pre_hook(record)
    run_cfg(prepared)
    return seen


def test_paired_variants_see_identical_batches_and_poisson_draws(tmp_path):
    vanilla = _inputs_seen(["train.rng=paired", "variant=vanilla"], tmp_path)
    recurrent = _inputs_seen(["train.rng=paired", "variant=recurrent"], tmp_path)
    assert len(vanilla) == len(recurrent) == 6
    assert all(torch.equal(a, b) for a, b in zip(vanilla, recurrent))
    unpaired = _inputs_seen(["variant=recurrent"], tmp_path)
    assert not all(torch.equal(a, b) for a, b in zip(_inputs_seen(["variant=vanilla"], tmp_path), unpaired))


def test_train_rng_is_neutral_at_global_and_validated():
    assert results.config_hash(compose_run(["train.rng=global"])) == results.config_hash(compose_run([]))
    assert results.config_hash(compose_run(["train.rng=paired"])) != results.config_hash(compose_run([]))
    from ablations.errors import UserError

    with pytest.raises(UserError, match="train.rng='shared' is not one of"):
        prepare(compose_run(["train.rng=shared"]))


def test_keyed_draws_do_not_depend_on_the_batch_a_sample_falls_in():
    encoder = PoissonEncoder(steps=5, signed=True)
    x = torch.rand(8, 4) * 2 - 1
    with keyed_draws(7):
        whole = encoder(x, generator=torch.Generator().manual_seed(1))
        halves = torch.cat([encoder(x[:3], generator=torch.Generator().manual_seed(2)), encoder(x[3:])], dim=1)
        other = encoder(x)
    assert torch.equal(whole, halves) and torch.equal(whole, other)
    with keyed_draws(8):
        assert not torch.equal(encoder(x), whole)
    assert streams.derive_seed(0, "a") == streams.derive_seed(0, "a") != streams.derive_seed(1, "a")


def test_paired_resume_is_exact(tmp_path):
    args = [*FAST, "train.epochs=3", "train.rng=paired", "dataset.steps=4"]
    straight = results.read_metrics(run_cfg(compose_run([*args, f"paths.runs={tmp_path / 'a'}"])))

    def stop(epoch, row):
        if epoch == 1:
            raise StopRun("interrupted")

    with pytest.raises(StopRun):
        run_cfg(compose_run([*args, f"paths.runs={tmp_path / 'b'}"]), on_epoch=stop)
    resumed = results.read_metrics(run_cfg(compose_run([*args, f"paths.runs={tmp_path / 'b'}"])))
    columns = ["train_loss", "train_accuracy", "test_loss", "test_accuracy"]
    pd.testing.assert_frame_equal(straight[columns], resumed[columns])


@pytest.mark.slow
def test_paired_run_agrees_on_clean_accuracy_in_every_place(tmp_path):
    run_dir = run_cfg(compose_run(["train.rng=paired", "train.epochs=2", "progress=false",
                                   f"paths.runs={tmp_path}", "eval.suites=[clean,noise,neurobench]"]))
    status = results.read_status(run_dir)["final"]["accuracy"]
    clean = pd.read_parquet(run_dir / "eval" / "clean.parquet")
    clean = float(clean[(clean["metric"] == "accuracy") & (clean["split"] == "test")]["value"].iloc[0])
    noise = pd.read_parquet(run_dir / "eval" / "noise.parquet")
    noise0 = noise[(noise["metric"] == "accuracy") & (noise["severity"] == 0)]["value"].astype(float)
    bench = pd.read_parquet(run_dir / "eval" / "neurobench.parquet")
    bench = float(bench[bench["metric"] == "accuracy"]["value"].iloc[0])
    assert status == pytest.approx(clean, abs=1e-9) and bench == pytest.approx(clean, abs=1e-6)  # neurobench: float32
    assert (noise0 - clean).abs().max() < 1e-9
