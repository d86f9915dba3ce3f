"""``python -m ablations.report [key=value ...]``: one self-contained HTML page of the results.

The page (``<paths.figures>/report.html``) holds, from the run records alone:

* a summary: runs by status, datasets, variants, seeds, and the headline numbers per dataset and
  variant (clean accuracy, accuracy under noise, spike rate, synaptic operations, attack success);
* every figure of :mod:`ablations.figures` that the results support (PNG embedded as base64),
  with its caption and notes, and the skipped ones with the command that would produce them;
* the tables, ours beside the papers' published numbers (``ablations/reference/*.csv``);
* the runs behind them: identity, status, timings, the config overrides of each configuration
  and its full resolved ``config.yaml``, and the software versions recorded in ``status.json``.

Keys: ``runs=PATH`` (default ``runs``; also ``paths.runs``), ``out=PATH`` (default ``figures``;
also ``paths.figures``), ``paths.studies=PATH``, ``figure=NAME[,NAME]`` (only these figures),
``debug=true``. Nothing but the page is written.
"""

from __future__ import annotations

import base64
import html
import inspect
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .cli import entry
from .errors import UserError

__all__ = ["build_report", "headline_table", "main"]

REPORT_FILE = "report.html"
EMBED_DPI = 130

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
h3{margin-bottom:.3em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0 1em}th,td{border:1px solid #ddd;padding:3px 7px;
text-align:right}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
tr.published td{color:#555;background:#fafafa;font-style:italic}
figure{margin:1em 0 2em}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.88em;color:#333;margin-top:.4em}.note{font-size:.82em;color:#555}
code,pre{font-family:SFMono-Regular,Consolas,monospace;font-size:.82em}pre{background:#f6f6f6;padding:.6em;
overflow-x:auto}.skipped li{margin-bottom:.4em}.meta{color:#555;font-size:.9em}
details{margin:.3em 0}summary{cursor:pointer}
"""


# --------------------------------------------------------------------------- helpers
def _esc(value: Any) -> str:
    return html.escape(str(value))


def _caption(function) -> str:
    """The first paragraph of a figure function's docstring, on one line."""
    import re

    text = inspect.getdoc(function) or ""
    text = " ".join(text.split("\n\n")[0].split())
    text = re.sub(r":\w+:`~?([^`]+)`", r"\1", text)
    return text.replace("``", "")


def _png(figure) -> str:
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=EMBED_DPI)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _html_table(table: pd.DataFrame, source_column: str | None = "source") -> str:
    from .figures.tables import display_table

    shown = display_table(table) if table.attrs.get("pm") is not None else table
    rows = ["<table><thead><tr>" + "".join(f"<th>{_esc(c)}</th>" for c in shown.columns) + "</tr></thead><tbody>"]
    for index, row in shown.iterrows():
        css = ""
        if source_column and source_column in table.columns and table.at[index, source_column] == "published":
            css = ' class="published"'
        cells = "".join(f"<td>{_esc(_cell(v))}</td>" for v in row)
        rows.append(f"<tr{css}>{cells}</tr>")
    rows.append("</tbody></table>")
    return "".join(rows)


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _read_status(run_dir: str) -> dict:
    try:
        return json.loads((Path(run_dir) / "status.json").read_text())
    except (OSError, ValueError):
        return {}


# --------------------------------------------------------------------------- summary
def headline_table(results: pd.DataFrame) -> pd.DataFrame:
    """Per dataset and variant configuration: seeds, clean accuracy, accuracy under Gaussian noise
    of severity 5 (scenario 1), network spike rate, synaptic operations and attack success,
    mean ± s.d. over seeds (columns absent when no run has the suite)."""
    from .figures import select

    runs = select.run_rows(results)
    if runs.empty:
        return pd.DataFrame()
    runs = select.add_series(runs)
    per_run = runs[["run_dir", "dataset", "series", "variant"]].copy()
    per_run["accuracy_pct"] = 100.0 * pd.to_numeric(runs["accuracy"], errors="coerce")

    def metric(suite: str, name: str, scale: float = 1.0, **where) -> pd.Series:
        rows = select.eval_rows(results, suite, name)
        for column, value in where.items():
            if rows.empty or column not in rows.columns:
                return pd.Series(dtype=float)
            rows = rows[pd.to_numeric(rows[column], errors="coerce") == value] if isinstance(value, (int, float)) \
                else rows[rows[column] == value]
        return rows.groupby("run_dir")["value"].mean() * scale if not rows.empty else pd.Series(dtype=float)

    columns = {
        "noise_accuracy_pct": metric("noise", "accuracy", 100.0, noise="gaussian", scenario=1, severity=5),
        "spikes_pct": metric("activity", "spike_rate", 100.0, layer="network"),
        "synaptic_ops": metric("activity", "synaptic_ops", layer="network"),
        "attack_success_pct": metric("adversarial", "attack_success_rate", 100.0),
        "pgd_accuracy_pct": metric("adversarial", "accuracy", 100.0, attack="pgd", epsilon=0.05),
    }
    measures = ["accuracy_pct"]
    for name, values in columns.items():
        if not values.empty:
            per_run[name] = per_run["run_dir"].map(values)
            measures.append(name)
    grouped = per_run.groupby(["dataset", "series", "variant"], sort=False)
    table = pd.concat([grouped.size().rename("n_seeds"), grouped[measures].mean(),
                       grouped[measures].std(ddof=1).add_suffix("_sd")], axis=1).reset_index()
    from .figures import style

    rank = {v: i for i, v in enumerate(style.VARIANTS)}
    table = table.assign(_rank=[rank.get(v, 99) for v in table["variant"]]).sort_values(["dataset", "_rank", "series"])
    ordered = ["dataset", "series", "n_seeds"] + [c for m in measures for c in (m, f"{m}_sd")]
    table = table[ordered].rename(columns={"series": "variant"}).reset_index(drop=True)
    table.attrs["pm"] = {m: f"{m}_sd" for m in measures}
    return table


HEADLINE_NAMES = {"n_seeds": "seeds", "accuracy_pct": "accuracy (%)",
                  "noise_accuracy_pct": "accuracy, Gaussian noise sev. 5 (%)", "spikes_pct": "spikes (%)",
                  "synaptic_ops": "synaptic ops / sample", "attack_success_pct": "spike attack success (%)",
                  "pgd_accuracy_pct": "PGD accuracy, eps 0.05 (%)"}


def _runs_section(results: pd.DataFrame) -> str:
    from .figures import missing

    runs = results[results["kind"] == "run"] if "kind" in results.columns else pd.DataFrame()
    if runs.empty:
        return "<p>No runs.</p>"
    keep = [c for c in ("dataset", "variant", "seed", "status", "accuracy", "epochs_done", "wall_time_s",
                        "config_hash", "study", "trial", "device", "run_dir") if c in runs.columns]
    listing = runs[keep].sort_values([c for c in ("dataset", "variant", "seed") if c in keep]).reset_index(drop=True)
    summary = (f"{len(listing)} run(s): identity, status, final accuracy, epochs, wall time (s), config hash, "
               "run folder")
    parts = [f"<details><summary>{summary}</summary>{_html_table(listing, source_column=None)}</details>"]
    parts.append("<h3>Configurations</h3><p class='meta'>One entry per configuration (config hash): the "
                 "overrides against the shipped defaults of its dataset, the neuron, and the full resolved config "
                 "every seed of it used.</p>")
    for config_hash, group in runs.groupby("config_hash", sort=True):
        first = group.iloc[0]
        overrides = missing.base_overrides(group)
        status = _read_status(str(first["run_dir"]))
        neuron = status.get("neuron", "")
        config_path = Path(str(first["run_dir"])) / "config.yaml"
        config_text = config_path.read_text() if config_path.exists() else "(config.yaml missing)"
        seeds = ", ".join(str(int(s)) for s in sorted(group["seed"].dropna().unique()))
        parts.append(
            f"<details><summary><code>{_esc(config_hash)}</code>: {_esc(first.get('dataset'))} / "
            f"{_esc(first.get('variant'))}, seeds {seeds}: <code>{_esc(' '.join(overrides) or '(defaults)')}</code>"
            f"; {_esc(neuron)}</summary><pre>{_esc(config_text)}</pre></details>")
    versions: dict[str, set] = {}
    for run_dir in runs["run_dir"]:
        for key, value in (_read_status(str(run_dir)).get("versions") or {}).items():
            versions.setdefault(key, set()).add(str(value))
    if versions:
        parts.append("<h3>Software versions recorded by the runs</h3><table><tbody>" + "".join(
            f"<tr><td>{_esc(k)}</td><td>{_esc(', '.join(sorted(v)))}</td></tr>" for k, v in sorted(versions.items()))
            + "</tbody></table>")
    return "".join(parts)


def reproductions_section(out_dir: Path) -> str:
    """One part per reproduction under ``<out_dir>/reproduce/`` (``python -m ablations.reproduce``):
    its scale and every claim with its verdict and evidence."""
    from .reproduce.table import SCALE_NOTE, read_all

    found = read_all(out_dir / "reproduce")
    if not found:
        return ("<h2>Reproductions</h2><p class='meta'>None yet: <code>python -m ablations.reproduce paper=leak|roles|"
                "linear_leak scale=quick</code> writes one.</p>")
    parts = [("<h2>Reproductions</h2><p class='meta'>Every claim of the papers: the regime check (a positive "
              "control from the same runs), the result on what was run, and the verdict on the paper, given only where "
              "the regime check passes (else \"stand-in only\" or \"regime not reached\"), from "
              "<code>python -m ablations.reproduce</code>; the full tables, with what was run and the papers' tables "
              "beside ours, are in <code>reproduce/&lt;paper&gt;/table.md</code>.</p>")]
    for paper, rows in found.items():
        scale = str(rows["scale"].iloc[0]) if "scale" in rows.columns and len(rows) else "?"
        changed = str(rows["overrides"].iloc[0]) if "overrides" in rows.columns and len(rows) else ""
        if changed:
            scale += f"; every run also with: {changed}"
        version = f" Claims version {rows['version'].iloc[0]}." if "version" in rows.columns and len(rows) else ""
        shown = rows[[c for c in ("claim", "dataset", "verdict", "regime_reached", "regime_value", "result", "sentence",
                                  "evidence") if c in rows.columns]]
        shown = shown.rename(columns={"verdict": "verdict on the paper", "regime_reached": "regime reached",
                                      "regime_value": "regime check (measured)", "result": "result on what we ran"})
        note = SCALE_NOTE.get(scale.split(";")[0], "")
        parts.append(f"<h3>{_esc(paper)} (scale {_esc(scale)})</h3><p class='meta'>{_esc(note)}{_esc(version)}</p>"
                     + _html_table(shown, source_column=None))
    return "".join(parts)


# --------------------------------------------------------------------------- the page
def build_report(results: pd.DataFrame, out_dir: str | Path, which: Sequence[str] | None = None,
                 log=print) -> Path:
    """Render the figures and tables of ``results`` in memory and write ``<out_dir>/report.html``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import __version__
    from .figures import FIGURES, readable, render
    from .figures.layout import notes
    from .figures.tables import reference_source
    from .results import atomic_write_text

    start = time.perf_counter()
    outcome = render(results, None, which, keep=True, log=None)
    root = results.attrs.get("runs_root", "runs")
    runs = results[results["kind"] == "run"] if "kind" in results.columns else pd.DataFrame()
    counts = runs["status"].value_counts().to_dict() if not runs.empty else {}
    datasets = sorted(map(str, runs["dataset"].dropna().unique())) if not runs.empty else []
    variants = sorted(map(str, runs["variant"].dropna().unique())) if not runs.empty else []
    seeds = sorted(int(s) for s in runs["seed"].dropna().unique()) if not runs.empty else []
    head = [f"<h1>snn-ablations: results report</h1><p class='meta'>Generated "
            f"{_esc(time.strftime('%Y-%m-%d %H:%M'))} by snn-ablations {_esc(__version__)} from "
            f"<code>{_esc(root)}</code>: {len(runs)} run(s) ("
            + ", ".join(f"{_esc(n)} {_esc(s)}" for s, n in sorted(counts.items())) + f"); datasets "
            f"{_esc(', '.join(datasets) or '-')}; variants {_esc(', '.join(variants) or '-')}; seeds "
            f"{_esc(', '.join(map(str, seeds)) or '-')}. Regenerate with <code>python -m ablations.report "
            f"runs={_esc(root)}</code>; figure files with <code>python -m ablations.figures runs={_esc(root)}</code>."
            "</p>"]
    body = ["<h2>Summary</h2>"]
    headline = headline_table(results)
    if headline.empty:
        body.append("<p>No finished runs.</p>")
    else:
        body.append("<p class='meta'>Per dataset and variant, mean ± s.d. over seeds of finished runs (study trials "
                    "excluded): test accuracy; accuracy under Gaussian noise of severity 5, scenario 1 "
                    "(noise suite); spikes per neuron and step in % and synaptic operations per sample over the "
                    "whole network (activity suite); spike-attack success (event data) and PGD accuracy at "
                    "&epsilon; = 0.05 (image data) (adversarial suite).</p>")
        from .figures.tables import display_table

        body.append(_html_table(display_table(headline).rename(columns=HEADLINE_NAMES), source_column=None))
    figures_html, tables_html = [], []
    for key, made in outcome.objects.items():
        name = key.split("/")[-1]
        spec = FIGURES[name]
        caption = _caption(spec.function())
        title = f"{_esc(key)} &mdash; {_esc(spec.paper)}"
        if spec.kind == "table":
            extra = "".join(f"<li class='note'>{_esc(n)}</li>" for n in made.attrs.get("notes") or [])
            tables_html.append(f"<h3>{title}</h3><p class='meta'>{_esc(caption)}</p>{_html_table(made)}"
                               f"<ul>{extra}</ul>")
        else:
            extra = "".join(f"<br><span class='note'>{_esc(n)}</span>" for n in notes(made))
            figures_html.append(f"<figure><h3>{title}</h3><img alt='{_esc(key)}' src='data:image/png;base64,"
                                f"{_png(made)}'><figcaption>{_esc(caption)}{extra}</figcaption></figure>")
            plt.close(made)
    body.append("<h2>Figures</h2>" + ("".join(figures_html) or "<p>None could be drawn.</p>"))
    body.append("<h2>Tables: ours beside the published numbers</h2><p class='meta'>Published rows in grey italics, "
                "from the numbers shipped in <code>ablations/reference/</code>. Ours: mean ± s.d. over seeds.</p>"
                + ("".join(tables_html) or "<p>None could be built.</p>"))
    if outcome.skipped:
        items = "".join(
            f"<li><b>{_esc(name)}</b> ({_esc(FIGURES[name].paper)}): {_esc(missing.reason)}"
            + "".join(f"<br><code>{_esc(c)}</code>" for c in missing.commands) + "</li>"
            for name, missing in outcome.skipped.items())
        body.append(f"<h2>Not drawn: missing results</h2><ul class='skipped'>{items}</ul>")
    body.append(reproductions_section(Path(out_dir)))
    skipped_records = results.attrs.get("skipped") or []
    if skipped_records:
        items = "".join(f"<li><code>{_esc(p.get('path'))}</code>: {_esc(p.get('reason'))}</li>" for p in skipped_records)
        body.append(f"<h2>Unreadable records left out</h2><p class='meta'>{len(skipped_records)} file(s) under "
                    f"<code>{_esc(root)}</code> could not be read and are not in any figure or table.</p>"
                    f"<ul class='skipped'>{items}</ul>")
    body.append("<h2>Runs, configurations and versions</h2>" + _runs_section(results))
    sources = "".join(f"<li>{_esc(reference_source(n))}</li>" for n in
                      ("leak_table1", "leak_critical_frequency", "roles_table6", "roles_table7", "roles_fig9_attack"))
    body.append(f"<h2>Published numbers</h2><ul>{sources}</ul>")
    page = ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>snn-ablations report</title>"
            f"<style>{_CSS}</style></head><body>{''.join(head + body)}</body></html>")
    path = readable(atomic_write_text(Path(out_dir) / REPORT_FILE, page))
    if log is not None:
        log(f"report: {len(figures_html)} figure(s), {len(tables_html)} table(s), {len(outcome.skipped)} skipped "
            f"-> {path} ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - start:.1f} s", flush=True)
    return path


# --------------------------------------------------------------------------- command line
def main(argv: Sequence[str] | None = None) -> int:
    return entry(_report, argv, __doc__)


def _report(argv: Sequence[str]) -> None:
    from .figures import get, load
    from .figures.__main__ import parse

    options = parse(argv)
    if options.get("format", "png,pdf") != "png,pdf":
        raise UserError("format= does not apply to the report (figures are embedded as PNG)")
    which = [n.strip() for n in options["figure"].split(",") if n.strip()] or None
    for name in which or []:
        get(name)  # unknown name -> UserError listing the valid ones, before any work
    results = load(options["runs"])
    results.attrs["studies_dir"] = options["studies"]
    build_report(results, options["out"], which)


if __name__ == "__main__":
    sys.exit(main())
