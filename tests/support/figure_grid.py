"""The figure grid: tiny real runs (``digits``, four variants, two seeds for the leak ablation, every
evaluation suite with small samples; two ``digits_events`` runs for the event-data figures (event noise included); two runs
tagged as trials of the ``pareto`` study) that the figure and report tests draw from
(``runs_root`` in conftest.py trains it once per session)."""

from __future__ import annotations

from pathlib import Path

BASE = ["dataset.steps=4", "train.epochs=2", "progress=false"]
SMALL_SUITES = [
    "eval.noise.n_samples=120", "eval.noise.severities=[0,2,5]",
    "eval.spectral.n_samples=120",
    "eval.adversarial.n_samples=24", "eval.adversarial.eot_samples=1", "eval.adversarial.epsilons=[0.0,0.1]",
    "eval.adversarial.pgd_steps=2",
    "eval.landscape.grid_size=5", "eval.landscape.n_samples=64",
    "eval.embedding.n_samples=60", "eval.embedding.perplexity=10",
    "eval.coherence.simulate=false", "eval.coherence.n_omega=8",
]
DIGITS_SUITES = "eval.suites=[clean,noise,adversarial,activity,generalization,spectral]"
PER_MODEL_SUITES = ",landscape,embedding"  # drawn for the lowest seed only
# variant -> seeds of the digits grid
DIGITS_GRID = {"vanilla": (0, 1), "no_leak": (0, 1), "no_reset": (0,), "linear_leak": (0,)}
EVENT_VARIANTS = ("vanilla", "no_leak")


def _small(suites: str) -> list[str]:
    """The small-sample parameters of the suites a run evaluates (a parameter of another suite would
    change nothing and is refused)."""
    chosen = suites.split("[", 1)[1].rstrip("]").split(",")
    return [o for o in SMALL_SUITES if o.split(".")[1] in chosen]


def build_grid(folder: Path) -> Path:
    """Train and evaluate the figure grid's runs under ``folder``; returns the runs root."""
    from ablations.run import run

    runs = folder / "runs"
    paths = [f"paths.runs={runs}", f"paths.data={folder / 'datasets'}"]
    for variant, seeds in DIGITS_GRID.items():
        for seed in seeds:
            suites = DIGITS_SUITES
            if seed == 0:
                suites = suites.replace("]", PER_MODEL_SUITES + "]")
            if variant == "vanilla" and seed == 0:
                suites = suites.replace("]", ",coherence]")
            run([*BASE, *paths, *_small(suites), f"variant={variant}", f"seed={seed}", suites])
    # a second vanilla configuration: a line of its own over tau, left out of the per-variant figures
    run([*BASE, *paths, *_small("eval.suites=[noise,activity]"), "variant=vanilla", "neuron.tau=3", "seed=0",
         "eval.suites=[noise,activity]"])
    for number, threshold in enumerate((0.9, 0.8)):
        run(["dataset.steps=4", "train.epochs=1", "progress=false", *paths,
             f"variant={'vanilla' if number == 0 else 'no_leak'}", f"neuron.threshold={threshold}",
             "trial.study=pareto", f"trial.number={number}", "eval.suites=[activity]"])
    for variant in EVENT_VARIANTS:
        run(["dataset=digits_events", "train.epochs=1", "train.max_batches=3", "progress=false", *paths,
             f"variant={variant}", "eval.suites=[adversarial,generalization,event_noise]",
             "eval.adversarial.n_samples=10", "eval.adversarial.max_iterations=3",
             "eval.generalization.time_windows_ms=[1,3,10]", "eval.generalization.n_samples=40",
             "eval.event_noise.n_samples=20", "eval.event_noise.noises=[drop_event,uniform_noise]",
             "eval.event_noise.severities.drop_event=[0,0.5]", "eval.event_noise.severities.uniform_noise=[0,1]"])
    return runs


IMPORT_MODEL = Path(__file__).resolve().parents[2] / "examples" / "snntorch_models.py"


def build_import_grid(folder: Path, data: Path) -> Path:
    """Two runs of a user's own model (``model=import``, the snnTorch tutorial's ``Net``) on event data,
    the activity suite only: the figures' hints must keep ``model=import`` and never propose a suite
    the data cannot take."""
    from ablations.run import run

    runs = folder / "runs"
    for variant in ("vanilla", "no_reset"):
        run(["model=import", f"model.target={IMPORT_MODEL}:Net", "dataset=digits_events",
             "dataset.frame.duration_ms=12", "train.epochs=1", "train.max_batches=2", "progress=false",
             f"paths.runs={runs}", f"paths.data={data}", f"variant={variant}", "seed=0", "eval.suites=[activity]"])
    return runs
