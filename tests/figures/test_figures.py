"""Figures and tables drawn from a small real results table.

The session builds real run records (tiny ``digits`` runs of four variants, two seeds for the leak
ablation, every evaluation suite with small samples; two ``digits_events`` runs for the event-data
figures; two runs tagged as trials of the ``pareto`` study) and every test draws from them.
"""

from __future__ import annotations

import math
import re
import shlex
import subprocess
import sys
import time

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from figure_grid import DIGITS_GRID, EVENT_VARIANTS  # noqa: E402

from ablations import figures, neurons, results  # noqa: E402
from ablations.config import compose, group_options, resolve_neuron_defaults, validate  # noqa: E402
from ablations.errors import UserError  # noqa: E402
from ablations.figures import missing, select, settings, style  # noqa: E402
from ablations.figures.__main__ import main as figures_main  # noqa: E402
from ablations.figures.layout import notes  # noqa: E402

@pytest.fixture(scope="session")
def table(runs_root) -> pd.DataFrame:
    return figures.load(runs_root)


@pytest.fixture(scope="session")
def rendered(runs_root, table, tmp_path_factory):
    out = tmp_path_factory.mktemp("figures")
    start = time.perf_counter()
    outcome = figures.render(table, out, formats=("png",), log=None)
    return out, outcome, time.perf_counter() - start


def _legend_texts(figure) -> list[str]:
    texts = [t.get_text() for legend in figure.legends for t in legend.get_texts()]
    for ax in figure.axes:
        if ax.get_legend() is not None:
            texts += [t.get_text() for t in ax.get_legend().get_texts()]
    return texts


def _data_axes(figure) -> list:
    """Visible panels, colour bars excluded."""
    return [ax for ax in figure.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]


# --------------------------------------------------------------------------- registry and style
def test_registry_names_docstrings_and_errors():
    assert len(set(figures.names())) == len(figures.FIGURES) >= 20
    for name, spec in figures.FIGURES.items():
        doc = spec.function().__doc__ or ""
        assert re.search(r"[Ss]eed 00[123]|[Ss]tud|[Aa]ny grid", doc), f"{name}: docstring must name the paper figure"
    assert set(figures.names("table")) == {"leak_table1", "leak_critical_frequency", "roles_table6", "roles_table7",
                                           "xor_table6"}
    with pytest.raises(UserError, match="valid figures: coherence, noise_robustness"):
        figures.get("nope")


def test_palette_covers_every_variant_preset_with_distinct_colours():
    assert set(style.VARIANTS) == set(group_options("variant"))
    colours = [style.variant_color(v) for v in style.VARIANTS]
    assert len(set(colours)) == len(colours) == len(neurons.VARIANTS)
    assert set(style.VARIANT_MARKERS) == set(style.VARIANTS) == set(style.VARIANT_LABELS)
    assert style.tau_color(math.inf) == style.VARIANT_COLORS["no_leak"]
    assert style.tau_color(0.0) == style.VARIANT_COLORS["complete_leak"]
    dark, light = style.tau_color(30.0, [30.0, 100.0]), style.tau_color(100.0, [30.0, 100.0])
    assert dark != light  # more leak, darker shade of the vanilla blue


# --------------------------------------------------------------------------- everything from the grid
GRID_FIGURES = ("variant_comparison", "variant_heatmap", "variant_learning_curves")
# the figure grid has no delayed-XOR runs: these say so (tests/reproduce/test_roles_delayed_xor.py draws them)
XOR_FIGURES = ("xor_escape", "xor_table6")


def test_every_figure_and_table_is_written(rendered, table, tmp_path):
    out, outcome, seconds = rendered
    # the grid figures draw one grid (dataset, model): this runs folder holds two, so they list them
    assert set(outcome.skipped) == set(GRID_FIGURES + XOR_FIGURES), {k: str(v) for k, v in outcome.skipped.items()}
    assert all(isinstance(outcome.skipped[name], settings.AmbiguousGrid) for name in GRID_FIGURES)
    chosen = figures.render(settings.filter_grid(table, "digits/default"), out, GRID_FIGURES, formats=("png",),
                            log=None)
    assert not chosen.skipped, {k: str(v) for k, v in chosen.skipped.items()}
    for name, spec in figures.FIGURES.items():
        if name in XOR_FIGURES:
            continue
        if spec.per == "study":
            stem = out / "studies" / "pareto" / name
        else:
            stem = out / name
        suffixes = (".csv", ".md") if spec.kind == "table" else (".png",)
        for suffix in suffixes:
            path = stem.with_suffix(suffix)
            assert path.exists() and path.stat().st_size > 500, path


def test_no_figure_loads_a_checkpoint(table, monkeypatch, tmp_path):
    import torch

    def refuse(*args, **kwargs):
        raise AssertionError("a figure loaded a checkpoint")

    monkeypatch.setattr(results, "load_model", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    outcome = figures.render(table, None, log=None)
    assert set(outcome.skipped) == set(GRID_FIGURES + XOR_FIGURES)  # two grids: listed, not drawn; no delayed XOR


def test_noise_robustness_has_one_line_per_tau_in_every_panel(table):
    figure = figures.build("noise_robustness", table)
    panels = _data_axes(figure)
    assert len(panels) == 4  # scenario {1, 2} x {gaussian, impulse} x digits
    labels = set(_legend_texts(figure))
    assert labels == {style.tau_label(3.0), style.tau_label(10.0), style.tau_label(math.inf)}
    for ax in panels:
        lines = [line for line in ax.get_lines() if len(line.get_xdata()) == 3]  # severities 0, 2, 5
        assert len(lines) == 3
    # error bands over the two seeds
    assert all(len(ax.collections) >= 2 for ax in panels)
    plt.close(figure)


def test_learning_curves_and_linear_leak_noise_series(table):
    figure = figures.build("learning_curves", table)
    labels = set(_legend_texts(figure))
    assert labels == {style.variant_label(v) for v in DIGITS_GRID}  # one configuration per variant
    assert len(_data_axes(figure)) == 4  # (loss, accuracy) x (digits, digits_events)
    assert "not drawn: digits: neuron.tau=3 (vanilla 1 run(s))" in " ".join(notes(figure))  # one setting for all
    plt.close(figure)
    figure = figures.build("linear_leak_noise", table)
    assert set(_legend_texts(figure)) == {style.variant_label(v) for v in ("linear_leak", "vanilla", "no_leak")}
    plt.close(figure)


def test_per_variant_panels(table):
    figure = figures.build("loss_landscapes", table)
    titles = {ax.get_title(loc="left") for ax in _data_axes(figure)}
    assert titles == {style.variant_label(v) for v in DIGITS_GRID}
    plt.close(figure)
    figure = figures.build("tsne", table)
    titles = {ax.get_title(loc="left").split("\n")[0] for ax in _data_axes(figure)}
    assert titles == {style.variant_label(v) for v in DIGITS_GRID}
    assert all("silhouette" in ax.get_title(loc="left") for ax in _data_axes(figure))
    plt.close(figure)
    figure = figures.build("spike_rate_histograms", table)
    with_reset, without_reset = _data_axes(figure)
    assert set(_legend_texts(figure)) == {"vanilla LIF", "no reset"}
    for ax, variant in ((with_reset, "vanilla"), (without_reset, "no_reset")):
        means = [t for t in ax.texts if t.get_text().startswith("mean ")]
        assert len(means) == 1 and means[0].get_color() == style.variant_color(variant)
    plt.close(figure)


def test_leak_figures_one_series_per_tau(table):
    expected = {style.tau_label(10.0), style.tau_label(math.inf)}
    for name in ("sse_generalization", "enwsi"):
        figure = figures.build(name, table)
        assert expected <= set(_legend_texts(figure)), name
        plt.close(figure)
    figure = figures.build("critical_frequency", table)
    titles = [ax.get_title(loc="left") for ax in _data_axes(figure)]
    assert len(titles) == 2 and any("infty" in t for t in titles)
    assert {"clean"} < set(_legend_texts(figure))
    plt.close(figure)


def test_event_figures_and_attack_overlay(table):
    figure = figures.build("attack", table)
    success, _perturbation = _data_axes(figure)
    assert [t.get_text() for t in success.get_xticklabels()] == [style.variant_label(v) for v in EVENT_VARIANTS]
    # seed 001's Fig. 9 values are N-MNIST's: not drawn on a digits_events panel (tests/evaluation/test_eval_attack_budget.py
    # checks they appear on an N-MNIST one)
    assert not any("published" in text for text in _legend_texts(figure))
    plt.close(figure)


def test_figures_without_runs_and_the_coherence_source(table):
    empty = pd.DataFrame()
    figure = figures.build("membrane_traces", empty)
    panels = _data_axes(figure)
    assert len(panels) == 6
    spikes = {ax.get_title(loc="left").split(":")[0]: int(ax.get_title(loc="left").split(": ")[1].split()[0])
              for ax in panels[1:]}
    assert spikes["complete leak"] <= spikes["vanilla LIF"] <= spikes["no leak (IF)"] < spikes["no reset"]
    plt.close(figure)
    computed = figures.build("coherence", empty)
    assert "computed analytically" in " ".join(notes(computed))
    assert len(computed.axes[0].get_lines()) >= 3
    from_runs = figures.build("coherence", table)
    assert "coherence suite of 1 run" in " ".join(notes(from_runs))
    assert len([t for t in _legend_texts(from_runs) if t.startswith(("IF", "LIF"))]) == 3
    plt.close("all")


def test_tables_hold_ours_beside_published(table, rendered):
    leak = figures.build("leak_table1", table)
    ours = leak[(leak["source"] == "ours") & (leak["dataset"] == "digits") & (leak["tau"] != "3")]
    assert set(ours["tau"]) == {"10", "inf"} and set(ours["n_seeds"]) == {2}
    assert ours[["accuracy_pct", "sse_test", "sse_train", "spikes_pct", "synaptic_ops"]].notna().all().all()
    assert (ours["accuracy_pct_sd"] >= 0).all()
    assert len(leak[leak["source"] == "published"]) == 6
    six = figures.build("roles_table6", table)
    assert set(six.loc[six["source"] == "ours", "variant"]) == set(DIGITS_GRID)
    assert six.loc[six["source"] == "ours", "digits"].notna().all()
    assert six.loc[(six["variant"] == "vanilla") & (six["source"] == "published"), "nmnist"].item() == 94.76
    seven = figures.build("roles_table7", table)
    mine = seven[seven["source"] == "ours"]
    assert set(mine["variant"]) == set(EVENT_VARIANTS)
    assert mine[["w1ms", "w3ms", "w10ms"]].notna().all().all()
    assert {"LSTM", "GRU"} <= set(seven["model"])
    out, _outcome, _seconds = rendered
    markdown = (out / "leak_table1.md").read_text()
    assert "±" in markdown and "published" in markdown and "| dataset | tau |" in markdown
    assert pd.read_csv(out / "roles_table6.csv")["source"].isin(["ours", "published"]).all()


def test_study_figures_come_from_the_trial_records(table):
    from ablations.figures.studies import trial_table

    trials, objectives, _params = trial_table(table, "pareto")
    assert list(trials["trial"]) == [0, 1]
    assert [o["name"] for o in objectives] == ["accuracy", "synaptic_ops"]
    assert trials[["accuracy", "synaptic_ops"]].notna().all().all()
    figure = figures.build("study_pareto", table)
    assert any("Pareto front" in text for text in _legend_texts(figure))
    plt.close(figure)
    # trials never enter the paper figures
    assert select.paper_rows(table)["study"].isna().all()


# --------------------------------------------------------------------------- missing results
def test_missing_results_name_the_command_that_produces_them(table, tmp_path):
    no_noise = table[~((table["kind"] == "eval") & (table["suite"] == "noise"))].copy()
    no_noise.attrs.update(table.attrs)
    with pytest.raises(missing.MissingResults) as caught:
        figures.build("noise_robustness", no_noise)
    commands = caught.value.commands
    assert commands[0].startswith(f"python -m ablations.evaluate run={table.attrs['runs_root']}/digits suite=noise")
    only_vanilla = table[table["variant"] == "vanilla"].copy()
    only_vanilla.attrs.update(table.attrs)
    with pytest.raises(missing.MissingResults) as caught:
        figures.build("spike_rate_histograms", only_vanilla)
    command = caught.value.commands[-1]
    assert command.startswith("python -m ablations.run -m dataset=digits variant=no_reset seed=0,1")
    # the command's overrides rebuild the same run identity as the grid's runs (finished runs are not retrained)
    words = [w for w in shlex.split(command)[4:] if not w.startswith(("eval.suites", "seed=", "variant="))]
    cfg = compose([*words, "variant=vanilla", "seed=0"])
    resolve_neuron_defaults(cfg, validate(cfg))  # as ablations.run does before naming the run
    runs = select.run_rows(table)
    expected = runs[(runs["variant"] == "vanilla") & (runs["seed"] == 0) & (runs["dataset"] == "digits")
                    & (runs["tau"] == 10.0)]
    expected = expected["config_hash"].item()
    assert results.config_hash(cfg) == expected


@pytest.mark.slow
def test_cli_without_runs_skips_with_commands(tmp_path, capsys):
    out = tmp_path / "figures"
    assert figures_main([f"runs={tmp_path / 'none'}", f"out={out}"]) == 0
    printed = capsys.readouterr().out
    assert (out / "membrane_traces.png").exists() and (out / "coherence.pdf").exists()
    assert not (out / "noise_robustness.png").exists()
    assert "skipped" in printed and "python -m ablations.run -m dataset=digits variant=vanilla,no_leak" in printed
    assert "python -m ablations.study study=pareto" in printed


@pytest.mark.slow
def test_cli_one_figure_and_bad_input(runs_root, tmp_path, capsys):
    out = tmp_path / "one"
    assert figures_main([f"runs={runs_root}", f"paths.figures={out}", "figure=enwsi,leak_table1"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["enwsi.pdf", "enwsi.png", "leak_table1.csv", "leak_table1.md"]
    assert (out / "enwsi.pdf").read_bytes().startswith(b"%PDF")
    assert figures_main(["figure=nope"]) == 2
    error = capsys.readouterr().err
    assert "unknown figure 'nope'" in error and "noise_robustness" in error
    assert figures_main(["colour=red"]) == 2
    # a grid figure asked for by name on a folder of two grids: exit 2 listing them, nothing drawn
    grids = tmp_path / "grids"
    assert figures_main([f"runs={runs_root}", f"out={grids}", "figure=variant_comparison"]) == 2
    error = capsys.readouterr().err
    assert "2 grids under" in error and "grid=digits/default: 7 run(s)" in error and "grid=digits_events/default" in error
    assert not grids.exists()
    assert figures_main([f"runs={runs_root}", f"out={grids}", "grid=digits_events", "figure=variant_comparison",
                         "format=png"]) == 0
    assert (grids / "variant_comparison.png").exists()
    assert figures_main([f"runs={runs_root}", "grid=mnist/default", "figure=variant_comparison"]) == 2
    assert "grid=mnist/default is not a grid of these runs" in capsys.readouterr().err
    completed = subprocess.run([sys.executable, "-m", "ablations.figures", "figure=nope"], check=False, capture_output=True,
                               text=True, timeout=120)
    assert completed.returncode == 2 and "valid figures:" in completed.stderr and "Traceback" not in completed.stderr


# --------------------------------------------------------------------------- every hint is a command that runs
def _sweep_values(value: str) -> list[str]:
    """A Hydra sweep ``a,b,c`` -> its values; a list ``[a,b]`` or a quoted value stays one value."""
    depth, parts, current = 0, [], ""
    for char in value:
        depth += char in "[{(" 
        depth -= char in "]})"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return parts + [current]


def _check_run_hint(words: list[str]) -> None:
    """Load each end of the sweep as ``python -m ablations.run`` does before training (config, data, model)."""
    from ablations.pipeline import prepare

    assert words[:4] == ["python", "-m", "ablations.run", "-m"], words
    sweeps = [(w.partition("=")[0], _sweep_values(w.partition("=")[2])) for w in words[4:]]
    for overrides in {tuple(f"{key}={values[pick]}" for key, values in sweeps) for pick in (0, -1)}:
        prepare(list(overrides))


def _check_evaluate_hint(words: list[str]) -> None:
    """The folder exists, holds finished runs, and every suite applies to each run's data."""
    from ablations import evaluate, evaluation

    options = evaluate.parse(words[3:])
    for run_dir in evaluate._finished_runs(options["run"]):
        cfg = evaluate._run_config(run_dir, options)
        evaluation.resolve(options["suite"], evaluate._kind(cfg))


def _check_study_hint(words: list[str]) -> None:
    from ablations.studies.checks import check_definition
    from ablations.studies.definition import load_definition
    from ablations.studies.trials import DEFAULT_RUN_OVERRIDES, merge_overrides
    from ablations.studies.launch import parse_args

    invocation = parse_args(words[3:])
    plain = compose(merge_overrides(DEFAULT_RUN_OVERRIDES, invocation.run_overrides))
    definition = load_definition(invocation.study, plain.paths.studies, invocation.study_changes)
    check_definition(definition, invocation.run_overrides)


def _check_figures_hint(words: list[str]) -> None:
    """The options parse, the figures exist, the grid is one of the folder's and leaves one grid."""
    from ablations.figures.__main__ import parse

    options = parse(words[3:])
    names = [name for name in options["figure"].split(",") if name]
    for name in names:
        figures.get(name)
    chosen = settings.filter_grid(figures.load(options["runs"]), options["grid"])
    settings.choose_grid(select.run_rows(chosen), chosen, ",".join(names))


def _hints(frame: pd.DataFrame, which=None) -> dict[str, list[str]]:
    outcome = figures.render(frame, None, which, log=None)
    return {name: skipped.commands for name, skipped in outcome.skipped.items()}


def _subset(table: pd.DataFrame, keep) -> pd.DataFrame:
    rows = table[keep].copy()
    rows.attrs.update(table.attrs)
    return rows


@pytest.mark.slow
def test_every_hint_a_figure_prints_is_a_command_that_runs(table, runs_root, tmp_path):
    from figure_grid import build_import_grid

    imported = figures.load(build_import_grid(tmp_path / "imported", runs_root.parent / "datasets"))
    cases = {  # (rows, the figures to try: all, or those that skip there; drawing the others costs time)
        "event data only": (_subset(table, table["dataset"] == "digits_events"), None),
        "vanilla only": (_subset(table, table["variant"] == "vanilla"),
                         ["spike_rate_histograms", "linear_leak_noise", "linear_leak_rate"]),
        "two grids": (table, GRID_FIGURES),
        "an imported model": (imported, None),
    }
    checked = set()
    for case, (frame, which) in cases.items():
        hints = _hints(frame, which)
        assert hints, case
        for name, commands in hints.items():
            assert commands, f"{case}: {name} skipped without a command"
            for command in commands:
                if command in checked:
                    continue
                checked.add(command)
                words = shlex.split(command)
                try:
                    if words[2] == "ablations.run":
                        _check_run_hint(words)
                    elif words[2] == "ablations.evaluate":
                        _check_evaluate_hint(words)
                    elif words[2] == "ablations.study":
                        _check_study_hint(words)
                    elif words[2] == "ablations.figures":
                        _check_figures_hint(words)
                    else:
                        raise AssertionError(f"unknown command {command}")
                except UserError as error:
                    raise AssertionError(f"{case}: {name}: the hint `{command}` is refused: {error}") from None
    run_hints = " ".join(c for c in checked if "ablations.run" in c)
    assert "model=import" in run_hints  # the user's model stays in what the hints propose
    noise = [c for c in checked if "suite=noise" in c or "[noise]" in c]
    assert noise and all("digits_events" not in c for c in noise)  # noise is for image data only
    # an imported model's spike rates (its own layer names) are drawn: vanilla beside no_reset
    figure = figures.build("spike_rate_histograms", imported)
    assert set(_legend_texts(figure)) == {"vanilla LIF", "no reset"}
    assert "lif1" in " ".join(notes(figure))
    plt.close(figure)
