"""Write examples/quickstart.ipynb from the cells below, executed: ``python examples/make_quickstart.py``.

The notebook is generated so that its text is reviewed here, as code, and stored with its outputs
(readable on a code host without running it); tests/run/test_quickstart.py checks that the committed
cells are these, all executed without an error, and executes it again end to end.
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
    ("code", """%matplotlib inline
from pathlib import Path

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
    ("markdown", """## 6. Your own snnTorch model

`ablations.ablate(model, variant)` returns a copy of any `nn.Module` whose `snn.Leaky` /
`snn.RLeaky` are the package's neurons of the variant, with your weights, thresholds, learnable
flags and call signature: your own `forward` runs unchanged. Below, tutorial 5's network, written as
snnTorch writes it (saved to `my_snn.py` so that the command line can import it too)."""),
    ("code", """Path("my_snn.py").write_text('''
import snntorch as snn
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, num_inputs=64, num_hidden=64, num_outputs=10, beta=0.95):
        super().__init__()
        self.fc1 = nn.Linear(num_inputs, num_hidden)
        self.lif1 = snn.Leaky(beta=beta)
        self.fc2 = nn.Linear(num_hidden, num_outputs)
        self.lif2 = snn.Leaky(beta=beta)

    def forward(self, x):  # x: [T, B, ...]
        mem1 = self.lif1.init_leaky()
        mem2 = self.lif2.init_leaky()
        spk2_rec, mem2_rec = [], []
        for step in range(x.size(0)):
            spk1, mem1 = self.lif1(self.fc1(x[step].flatten(1)), mem1)
            spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            spk2_rec.append(spk2)
            mem2_rec.append(mem2)
        return torch.stack(spk2_rec), torch.stack(mem2_rec)
''')
import sys

sys.path.insert(0, ".")
import my_snn

import ablations

torch.manual_seed(0)
mine = my_snn.Net()
x = (torch.rand(20, 4, 64) < 0.3).float()
for variant in ("vanilla", "no_leak", "no_reset", "recurrent"):
    ablated = ablations.ablate(mine, variant)
    spikes, membrane = ablated(x)  # the same forward, the package's neurons inside
    print(f"{variant:>9}: {int(spikes.sum()):3d} output spikes; lif1 = {ablated.lif1.spec.describe()}")"""),
    ("markdown", """The command line trains it like a built-in model: `model=import` names the class by import path
(or file), with its output convention declared (`model.call`, `model.returns`, `model.readout`; see
`ablations/conf/model/import.yaml`). The model's source is part of the run identity, and the
evaluation suites find its spiking layers by their neuron modules (here `lif1` and `lif2`)."""),
    ("code", """imported = {variant: run(["model=import", "model.target=my_snn.py:Net", f"variant={variant}",
                           "eval.suites=[activity]", *QUICK]) for variant in ("vanilla", "no_leak", "no_reset")}
table = results.load_results("runs")
rates = table[(table.kind == "eval") & (table.model == "import") & (table.metric == "spike_rate") & table.neuron.isna()]
rates.pivot_table(index="layer", columns="variant", values="value").round(3)"""),
    ("code", """figure = figures.build("variant_comparison", figures.load("runs"), grid="digits/import")  # runs/ holds two grids
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


def executed(folder: Path, timeout_s: int = 600) -> nbformat.NotebookNode:
    """The notebook run end to end in ``folder`` (nbclient), outputs kept."""
    import nbclient

    book = notebook()
    nbclient.NotebookClient(book, timeout=timeout_s, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}}).execute()
    return book


def sources(book: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source) for cell in book.cells]


if __name__ == "__main__":
    import tempfile

    path = Path(__file__).with_name("quickstart.ipynb")
    with tempfile.TemporaryDirectory() as folder:  # stored executed: outputs readable on a code host
        path.write_text(nbformat.writes(executed(Path(folder))))
    print(f"wrote {path} (executed)")
