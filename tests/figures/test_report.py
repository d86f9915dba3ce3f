"""The one-page HTML report, built from the same small real results table as the figure tests."""

from __future__ import annotations

import re

import pytest

from ablations import figures
from ablations.report import build_report, headline_table, main


@pytest.fixture(scope="module")
def table(runs_root):
    return figures.load(runs_root)


def test_report_is_self_contained_with_figures_tables_runs_and_versions(table, tmp_path):
    path = build_report(table, tmp_path, log=None)
    assert path == tmp_path / "report.html"
    page = path.read_text()
    # every figure embedded as an image, nothing linked; the grid figures draw one grid, and this folder holds
    # several: they are listed under "Not drawn" with the command that draws each grid, never merged
    grid_figures = [name for name, spec in figures.FIGURES.items() if str(spec.target).startswith("grid:")]
    not_here = grid_figures + ["xor_escape", "xor_table6"]  # ... and the grid has no delayed-XOR runs
    n_figures = sum(1 for spec in figures.FIGURES.values() if spec.kind == "figure") - len(grid_figures) - 1
    assert page.count("src='data:image/png;base64,") == n_figures
    assert not re.search(r"src=['\"](?!data:)", page)
    # tables with the published numbers beside ours
    assert page.count("<tr class=\"published\">") >= 6 + 5 + 10
    assert "94.76" in page and "±" in page
    # the runs behind the figures: identities, configs, versions
    for config_hash in table.loc[table["kind"] == "run", "config_hash"].unique():
        assert config_hash in page
    assert "snntorch" in page and "torch" in page and "dataset.steps=4" in page
    not_drawn = page.split("Not drawn", 1)[1].split("</ul>", 1)[0]
    assert all(name in not_drawn for name in grid_figures) and "grid=digits/" in not_drawn
    assert sum(f"<b>{name}</b>" in not_drawn for name in figures.FIGURES) == len(not_here)  # every other figure drawn


def test_headline_has_one_row_per_dataset_and_variant(table):
    headline = headline_table(table)
    digits = headline[headline["dataset"] == "digits"]
    assert len(digits) == 5 and set(digits["n_seeds"]) == {1, 2}  # vanilla at tau 10 and tau 3
    assert "vanilla LIF (tau=3)" in set(digits["variant"])
    assert {"accuracy_pct", "noise_accuracy_pct", "spikes_pct", "synaptic_ops"} <= set(headline.columns)
    events = headline[headline["dataset"] == "digits_events"]
    assert events["attack_success_pct"].notna().all()


@pytest.mark.slow
def test_report_command_without_runs_lists_what_to_run(tmp_path, capsys):
    assert main([f"runs={tmp_path / 'none'}", f"out={tmp_path}"]) == 0
    page = (tmp_path / "report.html").read_text()
    assert "Not drawn: missing results" in page and "python -m ablations.run -m" in page
    assert "membrane_traces" in page  # drawn without runs
    assert main(["figure=nope", f"out={tmp_path}"]) == 2
    assert "valid figures" in capsys.readouterr().err
