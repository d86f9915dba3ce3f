"""Write examples/quickstart.ipynb from the cells below (outputs stripped): ``python examples/make_quickstart.py``.

The notebook is generated so that its text is reviewed here, as code; tests/test_quickstart.py
executes it and checks that the committed file equals what this script writes.
"""

from pathlib import Path

import nbformat

CELLS = [
    ("markdown", """# snn-ablations quickstart

Train two neuron variants on the embedded `digits` data, compare their robustness to input noise,
run a three-trial Optuna study and draw a figure, all through the package's public Python API.
Runs on a laptop CPU in a couple of minutes; everything lands in the current folder (`runs/`,
`studies/`, `figures/`).

The command line does the same: `python -m ablations.run variant=no_leak`,
`python -m ablations.evaluate run=runs suite=noise`, `python -m ablations.study study=...`,
`python -m ablations.figures figure=noise_robustness`."""),
    ("code", """from pathlib import Path

from ablations import figures, network, neurons, results, study
from ablations.evaluate import evaluate
from ablations.run import run

# small and fast: 6 time steps, 2 epochs of at most 10 batches, tested once at the end
# (the defaults: 16 steps, 10 full epochs, tested after every epoch)
QUICK = ["dataset.steps=6", "train.epochs=2", "train.max_batches=10", "train.eval_every=2", "progress=false", "paths.runs=runs",
         "paths.studies=studies", "paths.figures=figures"]"""),
    ("markdown", """## 1. A neuron on its own

`neurons.build` gives a configured snnTorch neuron; `neurons.simulate` runs it over a time-major
current `[T, B, N]` from a fresh state. Vanilla LIF leaks and resets to zero; `no_reset` keeps its
membrane after a spike."""),
    ("code", """import torch

current = torch.full((10, 1, 1), 0.4)  # constant input, 10 steps
for variant in ("vanilla", "no_leak", "no_reset"):
    spikes, membrane = neurons.simulate(neurons.build(variant), current)
    print(f"{variant:>9}: spikes at t =", (spikes.flatten().nonzero().flatten() + 1).tolist())"""),
    ("markdown", """## 2. Train two variants

`run(overrides)` is the same as `python -m ablations.run ...`: it trains, checkpoints and returns
the run directory (rerunning a finished run skips it)."""),
    ("code", """paths = {variant: run([f"variant={variant}", *QUICK]) for variant in ("vanilla", "no_leak")}
for variant, path in paths.items():
    print(variant, "->", path)"""),
    ("markdown", """## 3. Noise robustness

The `noise` suite adds Gaussian and impulse noise at 8 severities, before Poisson coding
(scenario 1) or on the spikes (scenario 2), and writes tidy rows to `<run>/eval/noise.parquet`."""),
    ("code", """evaluate(["run=runs", "suite=noise", "eval.noise.n_samples=100", "eval.noise.severities=[0,2,4,6,8]"])
table = results.load_results("runs")
noise = table[(table.kind == "eval") & (table.suite == "noise") & (table.metric == "accuracy")]
noise.pivot_table(index=["noise", "scenario", "severity"], columns="variant", values="value").round(3).head(12)"""),
    ("markdown", """## 4. A three-trial study

A study file names the search space and the objectives; every trial is an ordinary run. The
storage is a local SQLite file in `studies/` (open it with `optuna-dashboard sqlite:///studies/quickstart.db`)."""),
    ("code", """Path("studies").mkdir(exist_ok=True)
Path("studies/quickstart.yaml").write_text('''
description: leak time constant and learning rate vs accuracy (quickstart)
space:
  neuron.tau: {type: float, low: 2.0, high: 50.0, log: true}
  train.lr: {type: float, low: 0.002, high: 0.02, log: true}
objectives: [{metric: accuracy, direction: maximize}]
sampler: {name: random, seed: 0}
pruner: {name: none}
n_trials: 3
''')
study.main(["study=quickstart", *QUICK, "train.epochs=1"])"""),
    ("markdown", """## 5. A figure from the stored results

Figures read only the results table; `noise_robustness` regenerates seed 003's Fig. 3 from
whatever runs are there (here: vanilla, tau = 10, and no_leak, IF)."""),
    ("code", """figure = figures.build("noise_robustness", figures.load("runs"))
figure.savefig("noise_robustness.png", dpi=100)
figure"""),
]


def notebook() -> nbformat.NotebookNode:
    cells = [nbformat.v4.new_markdown_cell(text) if kind == "markdown" else nbformat.v4.new_code_cell(text)
             for kind, text in CELLS]
    book = nbformat.v4.new_notebook(cells=cells)
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for index, cell in enumerate(book.cells):
        cell["id"] = f"cell-{index}"
    return book


def text() -> str:
    return nbformat.writes(notebook())


if __name__ == "__main__":
    path = Path(__file__).with_name("quickstart.ipynb")
    path.write_text(text())
    print(f"wrote {path}")
