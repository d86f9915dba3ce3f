"""Studies in one process: definitions, the objective grammar, small real studies on SQLite."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import optuna
import pandas as pd
import pytest
from omegaconf import OmegaConf

from ablations import results, studies, study
from ablations.errors import UserError
from ablations.studies import checks
from ablations.studies.definition import parse_objective
from ablations.studies.worker import BudgetReached

TINY = ["dataset.steps=4", "train.epochs=2", "train.max_batches=3", "progress=false"]


def paths(tmp_path: Path) -> list[str]:
    return [f"paths.runs={tmp_path / 'runs'}", f"paths.studies={tmp_path / 'studies'}",
            f"paths.figures={tmp_path / 'figures'}"]


def write_study(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / "studies"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def load(tmp_path: Path, name: str):
    storage = optuna.storages.RDBStorage(studies.default_storage_url(name, tmp_path / "studies"))
    return optuna.load_study(study_name=name, storage=storage)


# --------------------------------------------------------------------------- definitions
@pytest.mark.parametrize("name", ["leak_tau", "variants", "pareto", "linear_leak"])
def test_shipped_studies_load_and_compose(name):
    definition = studies.load_definition(name)
    base = studies.check_definition(definition)  # composes every parameter at the ends of its range
    assert base.trial.study == name
    assert definition.budget >= 1


def test_shipped_study_contents():
    variants = studies.load_definition("variants")
    assert variants.sampler_name == "grid"
    assert set(variants.grid()["variant"]) >= {"vanilla", "no_leak", "complete_leak", "no_reset", "recurrent",
                                              "linear_leak", "no_leak_recurrent", "no_leak_no_reset_recurrent"}
    assert variants.budget == len(variants.grid()["variant"]) * len(variants.grid()["seed"])
    pareto = studies.load_definition("pareto")
    assert pareto.multi_objective and pareto.sampler_name == "nsgaii" and pareto.suites == ["activity"]
    assert [o.direction for o in pareto.objectives] == ["maximize", "minimize"]
    leak = studies.load_definition("leak_tau")
    tau = next(p for p in leak.space if p.key == "neuron.tau")
    assert tau.log and tau.when == (("variant", "vanilla"),)
    assert "no_leak" in next(p for p in leak.space if p.key == "variant").choices  # IF, tau = inf
    assert leak.suites == ["noise"]
    assert studies.load_definition("linear_leak").pruner_name == "median"


def test_user_file_takes_precedence_and_extends(tmp_path):
    write_study(tmp_path, "variants", """
        extends: linear_leak
        n_trials: 3
        """)
    definition = studies.load_definition("variants", tmp_path / "studies", ["sampler.seed=7"])
    assert definition.name == "variants" and definition.n_trials == 3
    assert definition.sampler_name == "tpe" and definition.sampler["seed"] == 7  # from linear_leak, changed
    assert "variants" in studies.available_studies(tmp_path / "studies")


@pytest.mark.parametrize("text, message", [
    ("objectives: [{metric: accuracy, direction: up}]\nn_trials: 2", "direction: maximize"),
    ("objectives: [{metric: accuracy, direction: maximize}]", "n_trials"),
    ("objectives: [{metric: accuracy, direction: maximize}]\nn_trials: 2\nspace: {x: {type: float, low: 2, high: 1}}",
     "low <= high"),
    ("objectives: [{metric: accuracy, direction: maximize}]\nn_trials: 2\nspace: {x: {type: float, low: 0, high: 1, "
     "log: true}}", "log scale needs low > 0"),
    ("objectives: [{metric: a, direction: maximize}, {metric: b, direction: minimize}]\nn_trials: 2\n"
     "pruner: {name: median}", "pruning needs a single objective"),
    ("objectives: [{metric: accuracy, direction: maximize}]\nn_trials: 2\nsampler: {name: cmaes}", "sampler"),
    ("objectives: [{metric: accuracy, direction: maximize}]\nn_trials: 2\nspace: {a: {type: float, low: 1, high: 2, "
     "when: {b: 1}}, b: {choices: [1, 2]}}", "listed before it"),
    ("objectives: [{metric: accuracy, direction: maximize}]\nn_trails: 2", "unknown study keys"),
])
def test_bad_definitions_say_what_is_wrong(text, message):
    with pytest.raises(UserError, match=message):
        studies.parse_definition(__import__("yaml").safe_load(text), "bad")


def test_parse_args_and_overrides():
    inv = studies.parse_args(["study=x", "storage=sqlite:///a.db", "n_jobs=3", "summary=true", "study.n_trials=20",
                            "train.epochs=5", "variant=no_leak"])
    assert (inv.study, inv.storage, inv.n_jobs, inv.summary) == ("x", "sqlite:///a.db", 3, True)
    assert inv.study_changes == ["n_trials=20"] and inv.run_overrides == ["train.epochs=5", "variant=no_leak"]
    assert studies.parse_args(inv.argv(worker_index=2)).run_overrides == inv.run_overrides
    with pytest.raises(UserError, match="n_jobs"):
        studies.parse_args(["n_jobs=0"])
    assert studies.format_value(float("inf")) == "inf" and studies.format_value(1e-5) == "1e-05"
    assert studies.format_value("a b") == "'a b'" and studies.format_value(True) == "true"
    assert studies.format_value(["noise", "activity"]) == "[noise,activity]"
    definition = studies.load_definition("linear_leak")
    overrides = studies.trial_overrides(definition, ["train.epochs=1", "progress=true"], {"neuron.lam": 0.1}, 4,
                                      ["activity"])
    assert "train.epochs=1" in overrides and "train.epochs=10" not in overrides  # the command line wins
    assert "progress=true" in overrides and "progress=false" not in overrides
    assert overrides[-2:] == ["trial.study=linear_leak", "trial.number=4"]
    assert "eval.suites=[activity]" in overrides and "neuron.lam=0.1" in overrides


# --------------------------------------------------------------------------- objectives
def test_objective_values_from_status_and_eval_tables(tmp_path):
    run_dir = tmp_path / "run"
    results.write_status(run_dir, {"status": "finished", "final": {"accuracy": 0.8, "test_sse": 0.3},
                                   "n_parameters": 1234})
    rows = pd.DataFrame({
        "suite": "noise", "metric": ["accuracy"] * 6 + ["loss"],
        "noise": ["gaussian", "gaussian", "gaussian", "impulse", "gaussian", "gaussian", "gaussian"],
        "scenario": [1, 1, 2, 1, 1, 1, 1], "severity": [5, 5, 5, 5, 4, 5, 5],
        "value": [0.5, 0.7, 0.1, 0.2, 0.9, 0.6, 3.0],
    })
    results.atomic_write_parquet(run_dir / "eval" / "noise.parquet", rows)
    make = lambda **kw: parse_objective({"direction": "maximize", **kw}, "t")  # noqa: E731
    assert studies.objective_value(run_dir, make(metric="accuracy")) == 0.8
    assert studies.objective_value(run_dir, make(metric="n_parameters")) == 1234
    noisy = make(suite="noise", metric="accuracy", where={"noise": "gaussian", "scenario": 1, "severity": 5})
    assert studies.objective_value(run_dir, noisy) == pytest.approx((0.5 + 0.7 + 0.6) / 3)
    assert studies.objective_value(run_dir, make(suite="noise", metric="accuracy", where={"severity": [4, 5]},
                                               reduce="max")) == 0.9
    with pytest.raises(UserError, match="no metric 'spike_rate'.*accuracy, loss"):
        studies.objective_value(run_dir, make(suite="noise", metric="spike_rate"))
    with pytest.raises(UserError, match="no condition column 'epsilon'"):
        studies.objective_value(run_dir, make(suite="noise", metric="accuracy", where={"epsilon": 0.1}))
    with pytest.raises(UserError, match="severity=8.*values there: 4, 5"):
        studies.objective_value(run_dir, make(suite="noise", metric="accuracy", where={"severity": 8}))
    with pytest.raises(UserError, match="no evaluation table adversarial.parquet"):
        studies.objective_value(run_dir, make(suite="adversarial", metric="accuracy"))
    with pytest.raises(UserError, match="records no 'test_acc'"):
        studies.objective_value(run_dir, make(metric="test_acc"))


def test_check_definition_rejects_bad_keys_metrics_and_values(tmp_path, monkeypatch):
    base = {"objectives": [{"metric": "accuracy", "direction": "maximize"}], "n_trials": 2}
    bad_key = studies.parse_definition({**base, "space": {"neuron.tauu": {"low": 1, "high": 2}}}, "k")
    with pytest.raises(UserError, match="search-space key 'neuron.tauu'"):
        studies.check_definition(bad_key)
    bad_value = studies.parse_definition({**base, "space": {"neuron.tau": {"low": -1, "high": 2}}}, "v")
    with pytest.raises(UserError, match="neuron.tau=-1.0"):
        studies.check_definition(bad_value)
    bad_metric = studies.parse_definition({**base, "objectives": [{"metric": "accuracyy", "direction": "maximize"}]})
    with pytest.raises(UserError, match="do not produce metric 'accuracyy'"):
        studies.check_definition(bad_metric)
    monkeypatch.setattr(checks, "known_suites", lambda: {"noise", "activity"})
    bad_suite = studies.parse_definition({**base, "objectives": [{"suite": "nois", "metric": "accuracy",
                                                               "direction": "maximize"}]})
    with pytest.raises(UserError, match=r"(?s)evaluation suite.*'nois'.*suites: .*noise"):
        studies.check_definition(bad_suite)
    searched = studies.parse_definition({**base, "space": {"train.lr": {"low": 0.001, "high": 0.01}}})
    with pytest.raises(UserError, match="train.lr is searched"):
        studies.check_definition(searched, ["train.lr=0.1"])


@pytest.mark.slow
def test_cli_bad_input_exits_2_before_any_trial(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_study(tmp_path, "badkey", """
        space: {train.lrr: {type: float, low: 0.001, high: 0.01}}
        objectives: [{metric: accuracy, direction: maximize}]
        n_trials: 2
        """)
    write_study(tmp_path, "badmetric", """
        objectives: [{metric: synaptic_ops, direction: minimize}]
        n_trials: 2
        """)
    write_study(tmp_path, "fine", """
        objectives: [{metric: accuracy, direction: maximize}]
        n_trials: 2
        """)
    cases = [
        (["study=nope"], "unknown study 'nope'; studies: .*badkey.*leak_tau"),
        (["study=badkey"], "search-space key 'train.lrr'"),
        (["study=badmetric"], "do not produce metric 'synaptic_ops'.*name its suite"),
        (["study=fine", "storage=postgresql://nobody:secret@127.0.0.1:9/none"], "cannot reach study storage"),
        (["study=fine", "storage=nonsense"], "not a valid database URL"),
        (["study=fine", "variant=nope"], "variant=nope: no such variant; the variant options are"),
        (["study=fine", "summary=true"], "does not exist in this storage"),
    ]
    for argv, message in cases:
        assert study.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "Traceback" not in err, err
        import re
        assert re.search(message, err, re.S), (argv, err)
        assert "secret" not in err
    assert not (tmp_path / "runs").exists()  # nothing ran
    assert not (tmp_path / "studies" / "badkey.db").exists()


@pytest.mark.slow
def test_cli_exit_code_in_a_real_process(tmp_path):
    done = subprocess.run([sys.executable, "-m", "ablations.study", "study=does_not_exist"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "error: unknown study 'does_not_exist'" in done.stderr and "Traceback" not in done.stderr


# --------------------------------------------------------------------------- small real studies
@pytest.mark.slow
def test_single_objective_study_prunes_resumes_and_summarises(tmp_path, capsys):
    write_study(tmp_path, "tiny", """
        overrides: [train.epochs=3]
        space:
          variant: {type: categorical, choices: [vanilla, no_leak]}
          neuron.tau: {type: float, low: 2, high: 50, log: true, when: {variant: vanilla}}
          train.lr: {type: float, low: 0.0005, high: 0.02, log: true}
        objectives: [{metric: accuracy, direction: maximize}]
        sampler: {name: tpe, seed: 3, n_startup_trials: 3}
        pruner: {name: median, n_startup_trials: 2, n_warmup_steps: 0}
        n_trials: 4
        """)
    argv = ["study=tiny", *TINY, *paths(tmp_path)]
    assert study.main(argv[:1] + ["study.n_trials=2"] + argv[1:]) == 0
    out = capsys.readouterr().out
    assert "created: 0/2 finished" in out and "best trial" in out
    assert study.main(argv) == 0  # same command, larger budget: resumes
    out = capsys.readouterr().out
    assert "resuming: 2/4 finished" in out and "study tiny: 4/4 finished" in out
    loaded = load(tmp_path, "tiny")
    states = [t.state for t in loaded.trials]
    assert len(states) == 4 and all(s in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
                                    for s in states)
    for trial in loaded.trials:
        status = results.read_status(trial.user_attrs["run_dir"])
        assert status["trial"] == {"study": "tiny", "number": trial.number}
        if trial.state == optuna.trial.TrialState.COMPLETE:
            assert status["status"] == "finished" and trial.value == status["final"]["accuracy"]
            assert len(trial.intermediate_values) == status["epochs_done"] == 2  # one report per epoch
        else:
            assert status["status"] == "pruned"
    table = results.load_results(tmp_path / "runs", kinds=("run",))
    assert sorted(table["trial"].astype(int)) == list(range(4)) and set(table["study"]) == {"tiny"}
    assert (tmp_path / "figures" / "studies" / "tiny" / "optimization_history.png").stat().st_size > 1000
    assert study.main(["study=tiny", "summary=true", *paths(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "state: 4/4 finished" in out and "best trial" in out and "trial 4" not in out


def test_identical_trials_share_a_run_and_read_it(tmp_path, capsys):
    write_study(tmp_path, "same", """
        space:
          seed: {type: categorical, choices: [1]}
        objectives: [{metric: test_sse, direction: minimize}]
        n_trials: 2
        """)
    assert study.main(["study=same", *TINY, *paths(tmp_path)]) == 0
    trials = load(tmp_path, "same").trials
    assert trials[0].user_attrs["run_dir"] == trials[1].user_attrs["run_dir"]
    status = results.read_status(trials[0].user_attrs["run_dir"])
    assert trials[0].value == trials[1].value == status["final"]["test_sse"]
    assert "already finished" in capsys.readouterr().out


@pytest.mark.slow
def test_multi_objective_study_prints_pareto_front_and_figures(tmp_path, capsys):
    write_study(tmp_path, "front", """
        space:
          model.layers: {type: categorical, choices: ["64-8FC-10", "64-32FC-10", "64-128FC-10"]}
          train.lr: {type: float, low: 0.002, high: 0.02, log: true}
        objectives:
          - {metric: accuracy, direction: maximize}
          - {metric: n_parameters, direction: minimize}
        sampler: {name: nsgaii, population_size: 4, seed: 0}
        n_trials: 5
        """)
    assert study.main(["study=front", *TINY, *paths(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Pareto front (" in out and "n_parameters" in out
    front = load(tmp_path, "front").best_trials
    assert front and all(f"{t.number}" in out for t in front)
    figures = tmp_path / "figures" / "studies" / "front"
    for name in ("pareto_front.png", "optimization_history_accuracy.png", "param_importances_accuracy.png"):
        assert (figures / name).stat().st_size > 1000, name


@pytest.mark.slow
def test_eval_objectives_add_their_suite_and_read_the_table(tmp_path, capsys):
    """The activity suite runs because the objective needs it; the objective is its network row."""
    write_study(tmp_path, "ops", """
        space:
          dataset.steps: {type: int, low: 2, high: 6, step: 2}
        objectives:
          - {name: synaptic_ops, suite: activity, metric: synaptic_ops, where: {layer: network}, direction: minimize}
        n_trials: 2
        """)
    tiny = [o for o in TINY if not o.startswith("dataset.steps")] + ["eval.activity.n_samples=40"]
    assert study.main(["study=ops", *tiny, *paths(tmp_path)]) == 0
    for trial in load(tmp_path, "ops").trials:
        run_dir = Path(trial.user_attrs["run_dir"])
        assert list(OmegaConf.load(run_dir / "config.yaml").eval.suites) == ["activity"]  # added for the objective
        rows = pd.read_parquet(run_dir / "eval" / "activity.parquet")
        network = rows[(rows.metric == "synaptic_ops") & (rows.layer.astype(str) == "network")]
        assert len(network) == 1 and trial.value == pytest.approx(float(network.value.iloc[0])) and trial.value > 0


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Heartbeat of storage")
def test_local_dead_worker_trial_is_requeued(tmp_path):
    """A running trial whose worker process on this machine is gone is failed and re-queued at once."""
    definition = studies.parse_definition({"objectives": [{"metric": "accuracy", "direction": "maximize"}],
                                         "space": {"train.lr": {"low": 0.001, "high": 0.01}},
                                         "n_trials": 2, "heartbeat_interval": 60, "grace_period": 600}, "dead")
    storage, retry = studies.open_storage(studies.default_storage_url("dead", tmp_path), definition)
    opened = studies.open_study(storage, definition)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    trial = opened.ask()
    trial.suggest_float("train.lr", 0.001, 0.01)
    host, boot, _ = studies.worker_id().split("/")
    trial.set_user_attr("worker", f"{host}/{boot}/{gone.pid}")
    worker = studies.Worker(opened, storage, retry, definition, [], [])
    worker.reclaim()
    trials = opened.get_trials()
    assert [t.state.name for t in trials] == ["FAIL", "WAITING"]
    assert trials[1].params == trials[0].params and trials[1].system_attrs["failed_trial"] == 0
    alive = opened.ask()  # the re-queued trial, now owned by this (live) process: left alone
    alive.set_user_attr("worker", studies.worker_id())
    worker.reclaim()
    assert opened.get_trials()[1].state.name == "RUNNING"


@pytest.mark.slow
def test_sigterm_requeues_the_running_trial_and_the_same_command_resumes_it(tmp_path, capsys):
    """SIGTERM (or Ctrl-C) mid-trial: the trial is re-queued at once, its run resumes from its checkpoint."""
    import os
    import signal
    import threading
    import time

    write_study(tmp_path, "stop", """
        space:
          train.lr: {type: float, low: 0.001, high: 0.02, log: true}
        objectives: [{metric: accuracy, direction: maximize}]
        n_trials: 1
        """)
    # enough epochs that the watcher thread, polling every 20 ms, sees epoch 1 long before the last
    argv = ["study=stop", *[o for o in TINY if not o.startswith("train.epochs")], "train.epochs=12",
            *paths(tmp_path)]

    def terminate_after_first_epoch():
        deadline = time.time() + 60
        while time.time() < deadline:
            for path in (tmp_path / "runs").rglob("status.json"):
                if (results.read_status(path.parent) or {}).get("epochs_done", 0) >= 1:
                    os.kill(os.getpid(), signal.SIGTERM)
                    return
            time.sleep(0.02)

    killer = threading.Thread(target=terminate_after_first_epoch, daemon=True)
    killer.start()
    assert study.main(argv) == 130
    killer.join()
    assert "re-queued with the same parameters" in capsys.readouterr().out
    trials = load(tmp_path, "stop").trials
    assert [t.state.name for t in trials] == ["FAIL", "WAITING"] and trials[1].params == trials[0].params
    (run_dir,) = [p.parent for p in (tmp_path / "runs").rglob("status.json")]
    assert results.read_status(run_dir)["status"] == "interrupted"
    assert study.main(argv) == 0
    assert f"resuming {run_dir} from epoch" in capsys.readouterr().out
    trials = load(tmp_path, "stop").trials
    assert [t.state.name for t in trials] == ["FAIL", "COMPLETE"]
    assert Path(trials[1].user_attrs["run_dir"]) == run_dir
    assert results.read_status(run_dir)["trial"]["number"] == 1


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")
def test_a_trial_asked_for_after_the_budget_was_taken_runs_nothing(tmp_path, capsys):
    """Two workers asking for the last slot at once: the later trial number is surplus, not a run."""
    definition = studies.parse_definition({"objectives": [{"metric": "accuracy", "direction": "maximize"}],
                                         "n_trials": 1, "heartbeat_interval": 60, "grace_period": 600}, "last")
    storage, retry = studies.open_storage(studies.default_storage_url("last", tmp_path), definition)
    opened = studies.open_study(storage, definition)
    first = opened.ask()  # another worker's trial, running, holding the only slot
    first.set_user_attr("worker", studies.worker_id())
    worker = studies.Worker(opened, storage, retry, definition, paths(tmp_path), [])
    opened.optimize(worker.objective, n_trials=1, catch=(BudgetReached,))
    trials = opened.get_trials()
    assert [t.state.name for t in trials] == ["RUNNING", "FAIL"] and trials[1].user_attrs["surplus"]
    assert not (tmp_path / "runs").exists()
    counts = studies.state_counts(opened)
    assert counts["surplus"] == 1 and "1 surplus" in studies.describe_state(counts, 1)
    assert "other workers took the rest of the budget" in capsys.readouterr().out
