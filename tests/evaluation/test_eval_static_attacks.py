"""Static attacks on raw [0, 1] pixels with the normalisation inside the wrapper, PGD at several
step counts, APGD, and the per-sample worst case over attacks."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from ablations import data as datasets
from ablations import evaluation, results
from ablations.evaluation.adversarial import PixelNormalize
from ablations.run import run


def test_zero_mean_normalisation_round_trips_through_raw_pixels():
    torch.manual_seed(0)
    images = torch.rand(5, 1, 8, 8)
    norm = PixelNormalize("zero_mean")
    stored = norm(images)
    raw = norm.raw(stored)
    assert raw.min() >= 0 and raw.max() <= 1
    assert torch.allclose(norm(raw), stored, atol=1e-6)       # the attacked image normalises back exactly
    assert torch.equal(PixelNormalize("unit").raw(images), images)


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("static_attack_runs")
    return run(["dataset=digits", "dataset.normalize=zero_mean", "dataset.signed=true", "train.epochs=3",
                f"paths.runs={root / 'runs'}", "progress=false"])


def test_worst_case_is_at_most_every_attack_and_steps_are_reported(digits_run):
    model, cfg = results.load_model(digits_run)
    cfg.eval = OmegaConf.create({"adversarial": {"n_samples": 60, "batch_size": 60, "epsilons": [0.0, 0.1],
                                                 "eot_samples": 1, "pgd_steps": [2, 6]}})
    frame = evaluation.run_suite("adversarial", model, datasets.build_dataset(cfg.dataset, cfg.paths.data), cfg)
    at = frame[frame["epsilon"] == 0.1]
    pgd = at[at["attack"] == "pgd"].set_index("steps")["value"]
    assert sorted(pgd.index) == [2, 6]
    assert set(at["attack"]) == {"fgsm", "pgd", "apgd", "random_control", "min_over_attacks"}
    worst = float(at.loc[at["attack"] == "min_over_attacks", "value"].iloc[0])
    assert worst <= float(at.loc[at["attack"] != "min_over_attacks", "value"].min())
    clean = frame[frame["epsilon"] == 0.0]
    assert clean["value"].nunique() == 1                      # epsilon 0: every attack leaves the clean accuracy
    assert worst < float(clean["value"].iloc[0])
