"""A grid that learned nothing (1 epoch of 2 optimizer steps, real training on tiny data) gives no
verdict on any paper for any claim: every claim is "stand-in only" (its regime check did not pass,
with the measured value) or "not measured"."""

from __future__ import annotations

import pandas as pd
import pytest

from ablations.reproduce import reproduce, stats

TINY = "[train.epochs=1, train.max_batches=2, train.batch_size=16, dataset.steps=4]"
GRIDS = {
    "leak": f"""
paper: leak
title: leak, learned nothing
figures: []
tables: []
scales:
  quick:
    description: digits, T = 4, 1 epoch of 2 steps
    seeds: [0, 1]
    overrides: [dataset=digits, train.rng=paired, "eval.noise.severities=[0,5,6,7,8]", eval.noise.n_samples=32,
                eval.activity.n_samples=32, eval.spectral.n_samples=32]
    suites: [clean, noise, activity, spectral, generalization]   # coherence: analytic, 45 s a run; its regime is pinned in test_reproduce
    groups:
      - name: tau
        overrides: {TINY}
        sweep: {{neuron.tau: [2, inf]}}
""",
    "linear_leak": f"""
paper: linear_leak
title: linear leak, learned nothing
figures: []
tables: []
scales:
  quick:
    description: digits, T = 4, 1 epoch of 2 steps
    seeds: [0, 1]
    overrides: [dataset=digits, train.rng=paired, "eval.noise.severities=[0,5,6,7,8]", eval.noise.n_samples=32,
                eval.activity.n_samples=32]
    suites: [clean, noise, activity]
    groups:
      - name: baselines
        overrides: {TINY}
        sweep: {{variant: [vanilla, no_leak]}}
      - name: linear
        overrides: {TINY[:-1]}, variant=linear_leak]
        sweep: {{neuron.lam: [0.02, 0.1]}}
""",
    "roles": f"""
paper: roles
title: roles, learned nothing
figures: []
tables: []
scales:
  quick:
    description: delayed XOR (DH-SNN's task cut to T = 30, 200 samples) and digits, 1 epoch of 2 steps
    seeds: [0, 1]
    overrides: [train.rng=paired]
    suites: [clean, activity]   # the spike attack takes 20-120 s a run on delayed XOR: the attack regime is pinned in test_reproduce
    groups:
      - name: delayed_xor
        overrides: [experiment=roles_delayed_xor, train.epochs=1, train.batch_size=100, dataset.n_train=200,
                    dataset.n_test=50, train.eval_batch_size=50, dataset.delay_steps=10, model.readout_window=5]
        sweep: {{variant: [vanilla, no_leak, complete_leak, no_reset, recurrent]}}
      - name: digits
        overrides: {TINY[:-1]}, dataset=digits, model.readout=spike_count, train.loss=ce_rate]
        sweep: {{variant: [vanilla, no_leak, complete_leak, no_reset, recurrent]}}
""",
}


@pytest.mark.slow
@pytest.mark.parametrize("paper", sorted(GRIDS))
def test_a_grid_that_learned_nothing_gives_no_verdict_on_the_paper(paper, tmp_path):
    path = tmp_path / f"{paper}.yaml"
    path.write_text(GRIDS[paper])
    result = reproduce(paper, "quick", common=[f"paths.runs={tmp_path / 'runs'}", "device=cpu"], grid_path=path,
                       figures_root=tmp_path / "figures", draw=False, progress=False, jobs=1, log=lambda *a, **k: None)
    assert not result.failed and result.trained == len(result.grid.points)
    verdicts = result.verdicts
    assert set(verdicts["verdict"]) <= {stats.STANDIN, stats.NOT_MEASURED}, verdicts[["claim", "verdict"]]
    judged = verdicts[verdicts["result"].isin([stats.HOLDS, stats.FAILS, stats.INCONCLUSIVE])
                      & (verdicts["dataset"] != "(its parts)")]
    assert len(judged) >= 3  # the checks ran on the stand-in: results exist, verdicts on the paper do not
    assert (judged["regime_reached"] == "no").all() and judged["regime_value"].str.len().gt(0).all()
    table = (tmp_path / "figures" / "reproduce" / paper / "table.md").read_text()
    assert "verdict on the paper: **stand-in only**" in table and "Verdicts:" not in table
    rows = pd.read_csv(tmp_path / "figures" / "reproduce" / paper / "table.csv", keep_default_na=False)
    assert set(rows["version"].astype(str)) == {str(rows["version"].iloc[0])}


@pytest.mark.slow
def test_stored_delayed_xor_runs_are_judged_without_training_and_without_the_manifest(tmp_path):
    """``reproduce ... groups=delayed_xor train=false paths.runs=DIR``: the runs of the group, trained
    earlier (here by a first pass), are found from their records alone and judged; nothing trains."""
    path = tmp_path / "roles.yaml"
    path.write_text(GRIDS["roles"])
    common = [f"paths.runs={tmp_path / 'runs'}", "device=cpu"]
    first = reproduce("roles", "quick", common=common, grid_path=path, groups=["delayed_xor"],
                      figures_root=tmp_path / "figures", draw=False, progress=False, jobs=1, log=lambda *a, **k: None)
    assert first.trained == 10
    for manifest in (tmp_path / "runs" / ".reproduce").glob("*.json"):
        manifest.unlink()
    again = reproduce("roles", "quick", common=common, grid_path=path, groups=["delayed_xor"], train=False,
                      figures_root=tmp_path / "figures", draw=False, progress=False, log=lambda *a, **k: None)
    assert again.trained == 0 and again.skipped == 10 and again.missing == 0
    row = again.verdicts.set_index("claim").loc["roles.xor_no_reset_beats_vanilla"]
    assert row["dataset"] == "delayed_xor_dhsnn" and row["regime_reached"] == "no"
    assert "optimizer steps 2 of the paper's 15000" in row["regime_value"]
