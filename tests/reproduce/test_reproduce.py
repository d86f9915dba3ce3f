"""Verdict logic of the reproductions: statistics and claims over small synthetic results tables
(pure computation over DataFrames shaped like ``results.load_results``), grids and the command line."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ablations.errors import UserError
from ablations.reproduce import claims, grid, stats
from ablations.reproduce.__main__ import main as reproduce_main
from ablations.reproduce.__main__ import parse


# --------------------------------------------------------------------------- statistics
def test_difference_holds_fails_and_is_inconclusive():
    assert stats.difference([10, 11, 12], [1, 2, 3], "greater", 1.0).verdict == stats.HOLDS
    assert stats.difference([1, 2, 3], [10, 11, 12], "greater", 1.0).verdict == stats.FAILS
    noisy = stats.difference([1, 9, 5], [4, 6, 2], "greater", 1.0)
    assert noisy.verdict == stats.INCONCLUSIVE and "inside the noise" in noisy.evidence
    assert stats.difference([1, 2, 3], [10, 11, 12], "less", 1.0).verdict == stats.HOLDS


def test_difference_needs_the_margin_not_just_the_sign():
    # a clear but tiny difference: above zero with confidence, yet far below the claimed 5 units
    test = stats.difference([1.10, 1.11, 1.12], [1.00, 1.01, 1.02], "greater", 5.0)
    assert test.verdict == stats.FAILS
    assert "margin 5" in test.evidence


def test_one_seed_is_never_enough():
    test = stats.difference([10], [1, 2, 3], "greater", 0.0)
    assert test.verdict == stats.INCONCLUSIVE and "fewer than 2 seeds" in test.evidence


def test_evidence_states_mean_sd_and_seeds():
    test = stats.difference([2.0, 4.0], [1.0, 1.0], "greater", 0.0, names=("a", "b"))
    assert "a 3 ± 1.4 (n=2)" in test.evidence and "b 1 ± 0 (n=2)" in test.evidence


def test_equivalence_and_levels():
    assert stats.equivalence([90.1, 90.2, 90.0], [90.0, 90.1, 90.2], 1.5).verdict == stats.HOLDS
    assert stats.equivalence([80.0, 80.5, 80.2], [90.0, 90.1, 90.2], 1.5).verdict == stats.FAILS
    assert stats.below([50.1, 49.8, 50.3], 55.0).verdict == stats.HOLDS
    assert stats.below([70.0, 72.0, 71.0], 55.0).verdict == stats.FAILS
    assert stats.above([100, 100, 99], 90).verdict == stats.HOLDS


def test_trend_direction():
    x = [0.02, 0.02, 0.05, 0.05, 0.1, 0.1]
    assert stats.trend(x, [9.0, 9.2, 6.0, 6.1, 2.0, 2.2], "less").verdict == stats.HOLDS
    assert stats.trend(x, [2.0, 2.2, 6.0, 6.1, 9.0, 9.2], "less").verdict == stats.FAILS
    assert stats.trend([1, 1], [1, 2], "less").verdict == stats.INCONCLUSIVE


def test_combine():
    assert stats.combine([stats.HOLDS, stats.HOLDS]) == stats.HOLDS
    assert stats.combine([stats.HOLDS, stats.FAILS, stats.INCONCLUSIVE]) == stats.FAILS
    assert stats.combine([stats.HOLDS, stats.NOT_MEASURED]) == stats.INCONCLUSIVE
    assert stats.combine([stats.NOT_MEASURED]) == stats.NOT_MEASURED


# --------------------------------------------------------------------------- synthetic results tables
def _run(run_dir, dataset, variant, seed, accuracy, leak="exponential", tau=None, lam=None, kind="static",
         epochs_done=None):
    return {"kind": "run", "run_dir": run_dir, "status": "finished", "dataset": dataset, "data_kind": kind,
            "variant": variant, "leak": leak, "tau": tau, "lam": lam, "seed": seed, "accuracy": accuracy,
            "reset": "zero", "recurrent": False, "epochs_done": epochs_done}


def _noise_rows(run_dir, clean, drop_per_level):
    rows = []
    for noise in ("gaussian", "impulse"):
        for scenario in (1, 2):
            for severity in range(9):
                rows.append({"kind": "eval", "run_dir": run_dir, "suite": "noise", "metric": "accuracy",
                             "noise": noise, "scenario": float(scenario), "severity": float(severity),
                             "value": clean - drop_per_level * severity})
    return rows


def _leak_table(leak_drop_if: float = 0.05, spikes=(0.09, 0.05)) -> pd.DataFrame:
    """Three seeds at tau 6 and tau inf: IF loses ``leak_drop_if`` accuracy per severity, LIF 0.005."""
    rows, identity = [], {}
    for seed in range(3):
        for tau, drop, spike in ((6.0, 0.005, spikes[0]), (math.inf, leak_drop_if, spikes[1])):
            run_dir = f"runs/digits/tau{tau}-seed{seed}"
            leak = "exponential" if math.isfinite(tau) else "none"
            variant = "vanilla" if math.isfinite(tau) else "no_leak"
            identity[run_dir] = {"dataset": "digits", "variant": variant, "leak": leak, "tau": tau, "seed": seed}
            rows.append(_run(run_dir, "digits", variant, seed, 0.95 + 0.001 * seed, leak=leak, tau=tau))
            rows += _noise_rows(run_dir, 0.95, drop)
            rows.append({"kind": "eval", "run_dir": run_dir, "suite": "activity", "metric": "spike_rate",
                         "layer": "network", "value": spike + 0.001 * seed})
            rows.append({"kind": "eval", "run_dir": run_dir, "suite": "activity", "metric": "synaptic_ops",
                         "layer": "network", "value": 1e6 * spike + 10 * seed})
    table = pd.DataFrame(rows)
    for column in ("dataset", "variant", "leak", "tau", "seed"):
        table[column] = [identity[r][column] for r in table["run_dir"]]
    table["status"] = "finished"
    return table


def _verdict(frame: pd.DataFrame, claim: str) -> str:
    rows = frame[frame["claim"] == claim]
    assert len(rows) == 1, rows
    return rows.iloc[0]["verdict"]


def test_leak_claims_on_a_table_where_leak_is_robust():
    verdicts = claims.evaluate("leak", _leak_table())
    assert _verdict(verdicts, "leak.noise_gaussian_scenario1") == stats.HOLDS
    assert _verdict(verdicts, "leak.noise_impulse_scenario2") == stats.HOLDS
    assert _verdict(verdicts, "leak.spikes_higher_with_leak") == stats.HOLDS
    assert _verdict(verdicts, "leak.baseline_accuracy_similar") == stats.HOLDS
    # no spectral / coherence / epoch rows: not measured, with what would measure it
    spectral = verdicts[verdicts["claim"] == "leak.critical_frequency_lower_with_leak"].iloc[0]
    assert spectral["verdict"] == stats.NOT_MEASURED and "spectral" in spectral["evidence"]
    assert _verdict(verdicts, "leak.diverges_below_tau30") == stats.NOT_MEASURED
    # the abstract's sparsity sentence is made of two measured parts that hold
    assert _verdict(verdicts, "leak.abstract_sparsity") == stats.HOLDS
    # robustness also needs the unmeasured generalisation part: not a clean "holds"
    assert _verdict(verdicts, "leak.abstract_robustness") == stats.INCONCLUSIVE


def test_leak_claims_do_not_hold_when_the_data_say_otherwise():
    verdicts = claims.evaluate("leak", _leak_table(leak_drop_if=0.0, spikes=(0.03, 0.08)))
    assert _verdict(verdicts, "leak.noise_gaussian_scenario1") == stats.FAILS
    assert _verdict(verdicts, "leak.spikes_higher_with_leak") == stats.FAILS
    assert _verdict(verdicts, "leak.abstract_sparsity") == stats.FAILS


def test_every_claim_of_every_paper_has_a_row_on_an_empty_table():
    empty = pd.DataFrame(columns=["kind", "run_dir", "status", "dataset", "variant"])
    for paper, paper_claims in claims.PAPERS.items():
        verdicts = claims.evaluate(paper, empty)
        assert set(verdicts["claim"]) == {c.id for c in paper_claims}
        assert set(verdicts["verdict"]) == {stats.NOT_MEASURED}


@pytest.mark.parametrize("dataset", ["delayed_xor_dhsnn", "delayed_xor"])  # seed 001's regime and the short task
def test_roles_xor_claims(dataset):
    rows = []
    accuracy = {"vanilla": 0.75, "no_reset": 0.95, "recurrent": 0.97, "no_leak": 0.50, "complete_leak": 0.51}
    for variant, value in accuracy.items():
        for seed in range(5):  # Fisher's exact test needs 4 successes against 0 (p = 1/70); 3 vs 0 gives p = 0.05
            rows.append(_run(f"r/{variant}/{seed}", dataset, variant, seed, value + 0.005 * seed,
                             kind="temporal"))
    verdicts = claims.evaluate("roles", pd.DataFrame(rows))
    for claim in ("roles.xor_no_reset_beats_vanilla", "roles.xor_recurrent_beats_vanilla",
                  "roles.xor_no_leak_near_chance", "roles.xor_complete_leak_near_chance", "roles.suggest_temporal"):
        assert _verdict(verdicts, claim) == stats.HOLDS, claim
    assert _verdict(verdicts, "roles.speech_complete_leak_fails") == stats.NOT_MEASURED
    assert "scale=full" in verdicts[verdicts["claim"] == "roles.speech_complete_leak_fails"].iloc[0]["evidence"]


def test_xor_claims_below_the_papers_budget_say_the_regime_is_not_reached():
    rows = [_run(f"r/{v}/{s}", "delayed_xor_dhsnn", v, s, 0.5 + 0.01 * s, kind="temporal", epochs_done=20)
            for v in ("vanilla", "no_reset", "recurrent", "no_leak", "complete_leak") for s in range(3)]
    verdicts = claims.evaluate("roles", pd.DataFrame(rows))
    for claim in ("roles.xor_no_reset_beats_vanilla", "roles.xor_no_leak_near_chance"):
        row = verdicts[verdicts["claim"] == claim].iloc[0]
        assert row["verdict"] == stats.NOT_REACHED and "20 of seed 001's 100 epochs" in row["evidence"], row["evidence"]


def test_fisher_success_counts_and_the_seeds_it_needs():
    held = stats.success_counts([95, 96, 97, 98], [70, 75, 72, 71], 90.0)
    assert held.verdict == stats.HOLDS and held.p == pytest.approx(1 / 70) and held.method == "Fisher"
    three = stats.success_counts([95, 96, 97], [70, 75, 72], 90.0)
    assert three.verdict == stats.INCONCLUSIVE and three.p == pytest.approx(0.05)
    assert three.seeds_needed >= 4 and "seeds per side would decide it" in three.evidence


def test_linear_rate_trend_claim():
    rows, activity = [], []
    for seed in range(3):
        for lam, rate in ((0.02, 0.12), (0.05, 0.08), (0.1, 0.03)):
            run_dir = f"r/linear/{lam}/{seed}"
            rows.append(_run(run_dir, "digits", "linear_leak", seed, 0.9, leak="linear", lam=lam))
            activity.append({"kind": "eval", "run_dir": run_dir, "suite": "activity", "metric": "spike_rate",
                             "layer": "network", "value": rate + 0.002 * seed, "dataset": "digits"})
    table = pd.concat([pd.DataFrame(rows), pd.DataFrame(activity)], ignore_index=True)
    verdicts = claims.evaluate("linear_leak", table)
    assert _verdict(verdicts, "linear_leak.rate_falls_with_tau_m") == stats.HOLDS


def test_claims_have_sentences_sources_and_unique_ids():
    ids = [c.id for paper in claims.PAPERS.values() for c in paper]
    assert len(ids) == len(set(ids))
    for paper in claims.PAPERS.values():
        known = {c.id for c in paper}
        for claim in paper:
            assert claim.sentence.endswith(".") and claim.source
            assert set(claim.parts) <= known


# --------------------------------------------------------------------------- grids and the command line
@pytest.mark.parametrize("paper", grid.papers())
@pytest.mark.parametrize("scale", [pytest.param(s, marks=[] if s == "quick" else [pytest.mark.slow])
                                   for s in grid.SCALES])
def test_every_shipped_grid_composes(paper, scale):
    """Every grid point of every shipped grid composes (quick in the inner loop, sample/full in CI)."""
    from ablations.config import compose

    loaded = grid.load_grid(paper, scale)
    assert loaded.points and set(loaded.figures) | set(loaded.tables)
    seen = set()
    for point in loaded.points:
        if point.overrides in seen:
            continue
        seen.add(point.overrides)
        cfg = compose(point.all_overrides())
        assert int(cfg.seed) == point.seed


def test_grid_points_and_extra_overrides():
    loaded = grid.load_grid("linear_leak", "quick", extra=["train.epochs=1"], seeds=[0, 1])
    assert loaded.seeds == [0, 1]
    assert len(loaded.points) == 2 * 5
    assert all(p.overrides[-1] == "train.epochs=1" for p in loaded.points)
    assert any("neuron.lam=0.05" in p.overrides for p in loaded.points)
    assert grid.format_value(math.inf) == "inf" and grid.format_value([1, 2]) == "[1,2]"


def test_groups_keep_only_the_named_groups():
    whole = grid.load_grid("roles", "sample")
    only = grid.load_grid("roles", "sample", groups=["nmnist"])
    assert {p.group for p in only.points} == {"nmnist"}
    assert len(only.points) == sum(p.group == "nmnist" for p in whole.points)
    assert "only the group(s) nmnist of nmnist, mnist" in only.description
    with pytest.raises(UserError, match="has the groups nmnist, mnist"):
        grid.load_grid("roles", "sample", groups=["cifar"])
    assert reproduce_main(["paper=roles", "scale=sample", "groups=cifar", "list=true"]) == 2


def test_bad_input_is_a_user_error():
    with pytest.raises(UserError, match="scale"):
        grid.load_grid("leak", "huge")
    with pytest.raises(UserError, match="paper"):
        grid.load_grid("nope", "quick")
    with pytest.raises(UserError, match="unknown key"):
        parse(["paper=leak", "bogus=1"])
    assert parse(["paper=leak", "train.epochs=1"])[1] == ["train.epochs=1"]
    assert reproduce_main(["paper=nope"]) == 2
    assert reproduce_main(["paper=leak", "scale=huge"]) == 2


def test_list_prints_the_run_commands(capsys):
    assert reproduce_main(["paper=leak", "scale=quick", "list=true"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 15 and all(line.startswith("python -m ablations.run ") for line in lines)  # 3 taus x 5 seeds
    assert any("neuron.tau=inf" in line for line in lines)
    assert all("train.rng=paired" in line for line in lines)


def test_measures_ignore_unfinished_runs():
    from ablations.reproduce import measures

    table = pd.DataFrame([_run("a", "digits", "vanilla", 0, 0.9), dict(_run("b", "digits", "vanilla", 1, 0.1),
                                                                         status="failed")])
    assert list(measures.accuracy(table).index) == ["a"]
    assert np.isclose(measures.accuracy(table)["a"], 90.0)


def test_manifest_entries_merge_and_completeness(tmp_path):
    import json

    from ablations.reproduce import launch

    path = tmp_path / ".reproduce" / "leak-quick.json"
    launch._write_manifest(path, {"a": {"run_dir": "x"}})
    launch._write_manifest(path, {"b": {"run_dir": "y"}})  # a second process adds its own point
    assert set(launch.read_manifest(path)) == {"a", "b"}
    run_dir = tmp_path / "run"
    (run_dir / "eval").mkdir(parents=True)
    (run_dir / "status.json").write_text(json.dumps({"status": "finished"}))
    entry = {"run_dir": str(run_dir), "suites_resolved": ["clean", "noise"]}
    (run_dir / "eval" / "clean.parquet").write_bytes(b"")
    assert not launch._complete(entry, ["clean", "noise"])  # noise rows missing: evaluate again
    (run_dir / "eval" / "noise.parquet").write_bytes(b"")
    assert launch._complete(entry, ["clean", "noise"])
    (run_dir / "status.json").write_text(json.dumps({"status": "running"}))
    assert not launch._complete(entry, ["clean", "noise"])


def test_a_claim_over_every_variant_is_not_judged_on_one_variant():
    rows = [_run(f"r/{v}/{s}", "digits", v, s, 0.9 + 0.001 * s) for v in ("vanilla", "no_reset") for s in range(3)]
    verdicts = claims.evaluate("roles", pd.DataFrame(rows))
    row = verdicts[(verdicts["claim"] == "roles.spatial_variants_similar")].iloc[0]
    assert row["verdict"] == stats.INCONCLUSIVE and "no finished recurrent runs" in row["evidence"]


def test_paired_seeds_decide_what_welch_cannot():
    """The same numbers: a shared seed effect (common random numbers) hides the difference from
    Welch's bounds but not from the paired differences."""
    a = {0: 10.0, 1: 14.0, 2: 18.0}
    b = {0: 9.0, 1: 13.1, 2: 16.8}
    welch = stats.difference(stats.by_seed(a, False), stats.by_seed(b, False), "greater", 0.0)
    paired = stats.difference(stats.by_seed(a, True), stats.by_seed(b, True), "greater", 0.0)
    assert welch.verdict == stats.INCONCLUSIVE and welch.method == "Welch" and welch.seeds_needed > 3
    assert "seeds per side would decide it" in welch.evidence
    assert paired.verdict == stats.HOLDS and paired.method == "paired t" and "paired by seed" in paired.evidence
    # only the seeds both sides have are paired; one side unpaired falls back to Welch
    assert stats.difference(stats.by_seed(a, True), stats.by_seed(b, False), "greater", 0.0).method == "Welch"


def test_seeds_needed_matches_the_power_formula():
    # two independent samples: n ~ 2 (z_.95 + z_.80)^2 (sigma / Delta)^2 = 12.4 (sigma / Delta)^2 for large n
    assert stats.seeds_needed(1.0, 0.1, paired=False) == pytest.approx(1237, rel=0.02)
    assert stats.seeds_needed(1.0, 0.1, paired=True) == pytest.approx(620, rel=0.02)
    assert stats.seeds_needed(1.0, 1.0, paired=True) == 8  # small n: the t quantiles at n - 1 df
    assert stats.seeds_needed(1.0, 0.0, paired=True) == math.inf


def test_holm_adjusts_and_demotes_a_hold_that_only_holds_alone():
    assert stats.holm([0.01, 0.04, 0.03, math.nan]) == pytest.approx([0.03, 0.06, 0.06, math.nan], nan_ok=True)
    rows = [{"p": p, "verdict": stats.HOLDS, "evidence": "", "n": 3} for p in (0.001, 0.03, 0.04)]
    claims._holm(rows)
    assert [r["verdict"] for r in rows] == [stats.HOLDS, stats.INCONCLUSIVE, stats.INCONCLUSIVE]
    assert "not after Holm's correction over 3 claims" in rows[1]["evidence"]
    assert rows[1]["seeds_needed"] > 3 and "seeds per side would pass it" in rows[1]["evidence"]
    verdicts = claims.evaluate("leak", _leak_table())
    assert {"p", "p_holm", "seeds_needed"} <= set(verdicts.columns)
    judged = verdicts[verdicts["p"].notna()]
    assert (judged["p_holm"] >= judged["p"] - 1e-12).all()


def _spectral_rows(run_dir, clean, noisy):
    return [{"kind": "eval", "run_dir": run_dir, "suite": "spectral", "metric": "critical_frequency",
             "trace": "current", "condition": condition, "noise": noise, "scenario": scenario, "severity": severity,
             "value": value} for condition, noise, scenario, severity, value in
            (("clean", "none", 0, 0, clean), ("noisy", "gaussian", 1, 5, noisy))]


@pytest.mark.parametrize("if_clean, expected", [(0.41, stats.NOT_COMPARABLE), (0.345, stats.HOLDS)])
def test_critical_frequency_is_judged_only_where_the_clean_if_is_white(if_clean, expected):
    table = _leak_table()
    extra = []
    for run_dir in table.loc[table["kind"] == "run", "run_dir"]:
        seed = int(run_dir[-1])
        clean = (if_clean if "inf" in run_dir else if_clean - 0.06) + 0.001 * seed
        extra += _spectral_rows(run_dir, clean, clean + 0.02)
    table = pd.concat([table, pd.DataFrame(extra)], ignore_index=True)
    table["steps"] = 20
    identity = table[table["kind"] == "run"].set_index("run_dir")
    for column in ("dataset", "variant", "leak", "tau", "seed"):
        table[column] = [identity.loc[r, column] for r in table["run_dir"]]
    row = claims.evaluate("leak", table).set_index("claim").loc["leak.critical_frequency_lower_with_leak"]
    assert row["verdict"] == expected, row["evidence"]
    if expected == stats.NOT_COMPARABLE:
        assert "0.063 above the white-noise value 0.348 at T = 20" in row["evidence"]


def test_the_critical_frequency_standin_grid_composes():
    from ablations.config import compose

    path = grid.CONF_DIR / "standins" / "leak_critical_frequency.yaml"
    loaded = grid.load_grid("leak", "quick", path=path)
    assert len(loaded.points) == 9
    cfg = compose(loaded.points[0].all_overrides())
    assert float(cfg.neuron.threshold) == 6.0 and str(cfg.train.rng) == "paired"
