"""Every state of ``runs/`` is valid input for load_results, the figures, the report and evaluate.

Built from real records (``tests/support/run_records.py``): empty, runs without any eval suite, only
running / failed / diverged runs, one variant, an earlier version's records, foreign folders, and
corrupt files. Each figure is drawn or skipped with the command that produces its results; no
state ends in a traceback. A hypothesis property test draws random mixtures of the states.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import run_records as rr  # noqa: E402
from ablations import figures, results  # noqa: E402
from ablations.errors import UserError  # noqa: E402
from ablations.figures import FIGURES  # noqa: E402
from ablations.figures.__main__ import main as figures_main  # noqa: E402
from ablations.report import build_report  # noqa: E402
from ablations.report import main as report_main  # noqa: E402

# named run-folder states: each a list of record states (tests/support/run_records.py), plus a foreign flag
FOLDER_STATES = {
    "empty": ([], False),
    "missing_folder": (None, False),
    "no_eval_suites": (["finished_no_eval"], False),
    "only_running": (["running"], False),
    "only_failed": (["failed"], False),
    "only_diverged": (["diverged"], False),
    "running_failed_diverged": (["running", "failed", "diverged"], False),
    "one_variant": (["finished_eval"], False),
    "previous_version": (["previous_version", "previous_version"], False),
    "foreign_folder_only": ([], True),
    "foreign_and_runs": (["finished_eval", "finished_activity"], True),
    "orphaned_temporaries": (["orphaned_temporaries"], False),
    **{f"corrupt_{name}": ([name, "finished_eval"], False) for name in rr.CORRUPT_STATES},
    "config_invalid": (["config_invalid"], False),
    "checkpoint_truncated": (["checkpoint_truncated"], False),
    "everything": (list(rr.STATES), True),
}


def _layout(root: Path, state: str) -> Path:
    records, foreign = FOLDER_STATES[state]
    if records is None:
        return root / "does-not-exist"
    rr.materialize(root, records, foreign=foreign)
    return root


@pytest.fixture(scope="module")
def records():
    return rr.base_runs()


# figures that read different parts of the table: eval rows, epoch rows, run rows, tables, trials
SAMPLE_FIGURES = ["noise_robustness", "sse_generalization", "learning_curves", "enwsi", "roles_table6",
                  "leak_table1", "linear_leak_rate", "study_pareto"]


def _check_render(table: pd.DataFrame, which) -> None:
    """Draw ``which`` in memory: each figure is drawn, or skipped with the command that produces it."""
    outcome = figures.render(table, None, which, log=None)
    for name in which:
        drawn = any(key == name or key.endswith(f"/{name}") for key in outcome.produced)
        assert drawn != (name in outcome.skipped), name
        if name in outcome.skipped:
            assert any("python -m ablations." in c for c in outcome.skipped[name].commands), outcome.skipped[name]


def _check_report(table: pd.DataFrame, out: Path, which) -> str:
    """Build the report of ``which``: every figure is drawn or listed as skipped with a command."""
    page = build_report(table, out, which, log=None).read_text()
    for name in which:
        drawn = f"<h3>{name} &mdash;" in page
        skipped = f"<li><b>{name}</b>" in page
        assert drawn != skipped, name
        if skipped:
            after = page.split(f"<li><b>{name}</b>", 1)[1].split("</li>", 1)[0]
            assert "python -m ablations." in after, after
    return page


@pytest.mark.parametrize("state", list(FOLDER_STATES))
def test_load_results_and_figures_accept_every_state(state, records, tmp_path):
    root = _layout(tmp_path / "runs", state)
    seen = []
    table = results.load_results(root, on_skip=seen.extend)
    records_, foreign = FOLDER_STATES[state]
    assert len(table.attrs["skipped"]) == rr.skipped_expected(records_ or [], foreign), table.attrs["skipped"]
    assert seen == table.attrs["skipped"]
    for problem in seen:  # each names its file and what to do
        assert problem["path"] in problem["reason"]
        assert "restart=true" in problem["reason"] or "overwrite=true" in problem["reason"]
    assert {"kind", "run_dir", "status"} <= set(table.columns)
    table.attrs["runs_root"] = str(root)
    _check_render(table, SAMPLE_FIGURES)


def test_cli_figures_report_and_evaluate_on_every_state_together(records, tmp_path, capsys):
    """The whole zoo in one folder, through the command lines: exit 0, no traceback, skipped named."""
    root = _layout(tmp_path / "runs", "everything")
    out = tmp_path / "figures"
    assert figures_main([f"runs={root}", f"out={out}", "format=png"]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    assert "warning: skipped" in captured.err and "status.json is not readable JSON" in captured.err
    assert report_main([f"runs={root}", f"out={out}"]) == 0
    page = (out / "report.html").read_text()
    assert "Unreadable records left out" in page and "eval_other" not in page
    from ablations.evaluate import evaluate

    written = evaluate([f"run={root}", "suite=activity", "device=cpu"])
    captured = capsys.readouterr()
    assert "skipping" in captured.out  # the unusable finished runs are named and left alone
    assert written  # the usable finished runs are evaluated
    # every run evaluated now has a readable activity table
    assert all((run / "eval" / "activity.parquet").exists() for run in written)


@pytest.mark.parametrize("state", ["empty", "missing_folder", "only_running", "only_failed", "foreign_folder_only"])
def test_evaluate_on_folders_without_finished_runs_is_a_user_error(state, records, tmp_path):
    from ablations.evaluate import evaluate

    root = _layout(tmp_path / "runs", state)
    with pytest.raises(UserError) as error:
        evaluate([f"run={root}", "suite=activity"])
    assert str(root) in str(error.value)


@pytest.mark.parametrize("state", ["checkpoint_truncated", "config_invalid"])
def test_evaluate_one_corrupt_run_names_the_restart(state, records, tmp_path):
    from ablations.evaluate import evaluate

    root = _layout(tmp_path / "runs", state)
    (run,) = results.find_runs(root)
    with pytest.raises(UserError) as error:
        evaluate([f"run={run}", "suite=activity", "overwrite=true"])
    assert "train.restart=true" in str(error.value)


def test_report_and_figures_cli_on_an_empty_folder(tmp_path, capsys):
    (tmp_path / "runs").mkdir()
    assert figures_main([f"runs={tmp_path / 'runs'}", f"out={tmp_path / 'out'}", "figure=noise_robustness"]) == 0
    text = capsys.readouterr().out
    assert "0 run(s)" in text and "python -m ablations.run" in text
    assert report_main([f"runs={tmp_path / 'runs'}", f"out={tmp_path / 'out'}", "figure=noise_robustness"]) == 0
    assert "No finished runs" in (tmp_path / "out" / "report.html").read_text()


# --------------------------------------------------------------------------- property
_FIGURE_NAMES = sorted(FIGURES)


@settings(max_examples=10, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(states=st.lists(st.sampled_from(sorted(rr.STATES)), max_size=6),
       foreign=st.booleans(),
       which=st.lists(st.sampled_from(_FIGURE_NAMES), min_size=1, max_size=4, unique=True))
def test_random_mixtures_of_records_draw_or_skip(states, foreign, which, records, tmp_path_factory):
    root = tmp_path_factory.mktemp("mix") / "runs"
    rr.materialize(root, states, foreign=foreign)
    table = results.load_results(root, on_skip=None)
    assert len(table.attrs["skipped"]) == rr.skipped_expected(states, foreign)
    finished = [s for s in states if s.startswith("finished") or s in ("previous_version", "orphaned_temporaries",
                                                                         "config_invalid", "checkpoint_truncated",
                                                                         "eval_other_columns", "eval_truncated",
                                                                         "metrics_garbage")]
    assert int(((table["kind"] == "run") & (table["status"] == "finished")).sum()) == len(finished) \
        if "kind" in table.columns and len(table) else not finished
    table.attrs["runs_root"] = str(root)
    _check_report(table, root.parent / "report", which)
    shutil.rmtree(root.parent)
