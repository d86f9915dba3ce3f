"""Hostile input: random override keys, types, NaN / inf / negative / huge values, unicode, path
traversal, in run overrides and study files. Every case ends in a finished run or one clear
error (exit code 2): never a traceback, never a file outside the roots the user chose."""

from __future__ import annotations

import math
import re
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ablations.errors import USER_ERROR_EXIT, UserError, exit_code

KEYS = ["train.epochs", "train.lr", "train.batch_size", "train.optimizer", "train.loss", "train.schedule",
        "train.grad_clip", "train.restart", "neuron.tau", "neuron.beta", "neuron.lam", "neuron.threshold",
        "neuron.reset", "neuron.leak", "neuron.variant", "neuron.surrogate.name", "dataset.name", "dataset.steps",
        "model.name", "model.layers", "seed", "device", "eval.suites", "trial.study", "nonexistent.key", "ключ",
        "train", "neuron"]
TRAVERSAL = ["..", "../..", "../../escaped", "a/../../b", "/tmp/escaped-abs", "./.", "x\\..\\..\\y", "%2e%2e%2f",
             "ok/../../../etc", "~/x", "nul\x01byte", "${oc.env:HOME}", "${nope}", "${paths.runs}/../..", ""]
NUMBERS = st.one_of(st.integers(min_value=-10**30, max_value=10**30),
                    st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from(["nan", "inf", "-inf", "1e400", "-0", "0x10", "1_000"]))
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
VALUES = st.one_of(NUMBERS.map(str), st.sampled_from(TRAVERSAL), TEXT,
                   st.sampled_from(["null", "true", "[]", "[1,2]", "{a: 1}", "'quoted'", "vanilla", "digits"]))
OVERRIDES = st.lists(st.tuples(st.sampled_from(KEYS), VALUES), min_size=1, max_size=3)
BASE = ["dataset.steps=2", "train.epochs=1", "train.max_batches=1", "progress=false", "device=cpu",
        "eval.suites=[]"]


def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")} if folder.exists() else set()


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """cwd deep inside tmp_path; roots runs/ and data/ beside it; ``outside`` must stay empty."""
    work = tmp_path / "outside" / "a" / "b" / "work"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    return tmp_path


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(pairs=OVERRIDES)
def test_random_run_overrides_end_in_a_run_or_a_clear_error(pairs, sandbox, capsys):
    from ablations.run import compose_run, run_cfg

    work = Path.cwd()
    before = _files(sandbox)
    overrides = [*BASE, f"paths.runs={work / 'runs'}", f"paths.data={work / 'data'}",
                 *[f"{key}={value}" for key, value in pairs]]
    code = exit_code(lambda: run_cfg(compose_run(overrides)))  # anything but a UserError propagates: a bug
    assert code in (0, USER_ERROR_EXIT)
    err = capsys.readouterr().err
    if code:
        assert err.startswith("error: ") and "Traceback" not in err
    created = _files(sandbox) - before
    allowed = (work / "runs", work / "data")
    stray = [p for p in created if not any(p == root or root in p.parents for root in allowed)]
    assert not stray, (overrides, stray)
    assert not Path("/tmp/escaped-abs").exists()


def test_crafted_names_never_leave_the_runs_root(sandbox):
    from ablations.config import compose
    from ablations.run import run_cfg

    values = ["../../escaped", "/tmp/escaped-abs", "..", "a/b", "x\x01y"]
    for key in ("dataset.name", "model.name"):
        for value in values:
            with pytest.raises(UserError):
                run_cfg(compose([*BASE, "paths.runs=runs", f"{key}={value}"]))
    for value in values:  # a variant is filed under the name its physics give, never the text given
        try:
            run_dir = run_cfg(compose([*BASE, "paths.runs=runs", f"neuron.variant={value}"]))
        except UserError:
            continue  # a value Hydra's grammar refuses (the control character)
        assert run_dir.parent.name == "vanilla" and (Path("runs").resolve() in run_dir.resolve().parents)
    assert not list(sandbox.glob("**/escaped*"))


def test_the_user_may_point_paths_runs_anywhere_on_purpose(sandbox):
    from ablations.run import run

    run_dir = run([*BASE, "paths.runs=../../chosen"])
    assert (sandbox / "outside" / "a" / "chosen").resolve() in run_dir.resolve().parents


# --------------------------------------------------------------------------- study files
STUDY_KEYS = ["description", "overrides", "space", "objectives", "sampler", "pruner", "n_trials", "seed",
              "heartbeat_interval", "grace_period", "bogus", "ключ"]
SCALARS = st.one_of(NUMBERS, TEXT, st.none(), st.booleans(), st.sampled_from(TRAVERSAL))
LEAVES = st.recursive(SCALARS, lambda children: st.one_of(st.lists(children, max_size=3),
                                                          st.dictionaries(TEXT, children, max_size=3)), max_leaves=6)
GOOD = {"objectives": [{"metric": "accuracy", "direction": "maximize"}], "n_trials": 2,
        "space": {"seed": {"type": "categorical", "choices": [0, 1]}}}


@settings(max_examples=150, deadline=None, derandomize=True)
@given(changes=st.dictionaries(st.sampled_from(STUDY_KEYS), LEAVES, max_size=3),
       space=st.dictionaries(st.one_of(st.sampled_from(["neuron.tau", "train.lr", "../x", "seed"]), TEXT),
                             st.dictionaries(st.sampled_from(["type", "low", "high", "choices", "log", "step"]),
                                             LEAVES, max_size=4), max_size=2))
def test_random_study_definitions_are_accepted_or_refused_clearly(changes, space):
    from ablations import studies, study

    data = {**GOOD, **changes}
    if space:
        data["space"] = space
    try:
        definition = studies.parse_definition(data)
        studies.check_definition(definition)
    except UserError as error:
        assert str(error)


def test_study_cli_with_hostile_files_exits_2_without_traceback(tmp_path):
    (tmp_path / "studies").mkdir()
    files = {
        "binary": b"\x00\xff\xfe\x00garbage",
        "notyaml": b"objectives: [unclosed\n  - {",
        "alist": b"- 1\n- 2\n",
        "nan_budget": yaml.safe_dump({**GOOD, "n_trials": math.nan}).encode(),
        "negative_budget": yaml.safe_dump({**GOOD, "n_trials": -(10**40)}).encode(),
        "traversal_space": yaml.safe_dump({**GOOD, "space": {"../../x": {"type": "float", "low": 0, "high": 1}}}).encode(),
        "unicode": "objectives: [{metric: точность, direction: maximize}]\nn_trials: 2\n".encode(),
    }
    for name, data in files.items():
        (tmp_path / "studies" / f"{name}.yaml").write_bytes(data)
    for argv in [[f"study={name}"] for name in files] + [["study=../../etc/passwd"], ["study=\u202e"],
                                                         ["study=binary", "n_jobs=-3"]]:
        proc = subprocess.run([sys.executable, "-m", "ablations.study", *argv, "paths.runs=runs"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert proc.returncode == USER_ERROR_EXIT, (argv, proc.stdout[-1500:], proc.stderr[-1500:])
        assert "Traceback" not in proc.stderr and proc.stderr.startswith("error: "), (argv, proc.stderr[-1500:])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["studies"]


# --------------------------------------------------------------------------- command lines
CLI_CASES = [
    ("ablations.run", ["foo=1"]),
    ("ablations.run", ["train.epochs=1e400"]),
    ("ablations.run", ["train.lr=${nope}"]),
    ("ablations.run", ["seed=abc"]),
    ("ablations.run", ["model.name=../../../escaped"]),
    ("ablations.run", ["dataset.name=/tmp/escaped-abs"]),
    ("ablations.run", ["train.epochs=-1"]),
    ("ablations.run", ["neuron.tau=nan"]),
    ("ablations.run", ["variant=../../x"]),
    ("ablations.run", ["train.restart=maybe"]),
    ("ablations.evaluate", ["run=../../no-such-folder", "suite=noise"]),
    ("ablations.evaluate", ["run=runs", "suite=../../x"]),
    ("ablations.evaluate", ["run=\u00e9\u202e", "suite=all"]),
    ("ablations.figures", ["figure=../../x"]),
    ("ablations.figures", ["format=exe"]),
    ("ablations.figures", ["bogus"]),
    ("ablations.report", ["figure=nope"]),
    ("ablations.study", ["study=nope", "n_jobs=NaN"]),
]


@pytest.mark.slow
@pytest.mark.parametrize("module,argv", CLI_CASES)
def test_hostile_command_lines_exit_2_without_traceback(module, argv, tmp_path):
    proc = subprocess.run([sys.executable, "-m", module, *argv, *(["train.max_batches=1"] if module == "ablations.run"
                                                                  else [])],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == USER_ERROR_EXIT, (proc.stdout[-1500:], proc.stderr[-1500:])
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stderr.startswith("error: ") or "\nerror: " in proc.stderr
    assert not list(tmp_path.rglob("*")), list(tmp_path.rglob("*"))


# --------------------------------------------------------------------------- the user's own mistakes
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_a_model_that_does_not_fit_the_data_is_one_message_naming_the_layer(sandbox, capsys):
    from ablations.run import run

    work = Path.cwd()
    cases = [(["model.target=" + str(EXAMPLES / "snntorch_models.py:Net"), "model.kwargs.num_inputs=100"],
              r"layer 'fc1' \(Linear\) expects \[batch, 100\] \(in_features=100\) but was given \[1, 288\]; the data "
              r"gives \[2, 12, 12\] per sample"),
             (["model.target=" + str(EXAMPLES / "snntorch_models.py:conv_sequential"), "model.call=step",
               "model.kwargs.in_channels=3"],
              r"layer '0' \(Conv2d\) expects \[batch, 3, \.\.\.\] \(in_channels=3, 2 spatial dimensions\) but was "
              r"given \[1, 2, 12, 12\]")]
    for extra, message in cases:
        overrides = ["model=import", "dataset=digits_events", *extra, *BASE[1:], f"paths.runs={work / 'runs'}"]
        assert exit_code(lambda: run(overrides)) == USER_ERROR_EXIT
        err = capsys.readouterr().err
        assert err.startswith("error: model.target=") and err.count("\n") == 1 and "Traceback" not in err
        assert re.search(message, err), err
    assert not (work / "runs").exists()


@pytest.mark.parametrize("argv", [["variant=vanila"], ["-m", "variant=vanila,no_reset"],
                                  ["-m", "variant=choice(no_reset,vanila)", "seed=0,1"]])
def test_a_variant_typo_in_a_run_or_a_grid_names_the_choices_and_the_closest(argv, sandbox, capsys):
    from ablations.run import cli

    with pytest.raises(SystemExit) as stop:
        cli([*argv, "train.max_batches=1", f"paths.runs={Path.cwd() / 'runs'}"])
    assert stop.value.code == USER_ERROR_EXIT
    err = capsys.readouterr().err
    assert err.startswith("error: variant=vanila: no such variant (did you mean vanilla?); the variant options are: ")
    assert "no_reset" in err and "HYDRA_FULL_ERROR" not in err and "Traceback" not in err
    assert not (Path.cwd() / "runs").exists()


def test_a_variant_typo_in_a_study_names_the_choices_and_the_closest(sandbox, capsys):
    from ablations import study

    (Path.cwd() / "studies").mkdir()
    (Path.cwd() / "studies" / "typo.yaml").write_text(yaml.safe_dump(
        {**GOOD, "space": {"variant": {"type": "categorical", "choices": ["vanila", "no_reset"]}}}))
    assert study.main(["study=typo", "paths.runs=runs"]) == USER_ERROR_EXIT
    assert "variant=vanila: no such variant (did you mean vanilla?)" in capsys.readouterr().err
    assert study.main(["study=variants", "variant=no_rest", "paths.runs=runs"]) == USER_ERROR_EXIT
    assert "variant=no_rest: no such variant (did you mean no_reset?)" in capsys.readouterr().err
    assert not (Path.cwd() / "runs").exists()


@pytest.mark.parametrize("override, message", [
    ("train.grad_clip=-1", r"^error: train.grad_clip=-1 must be > 0 \(the largest gradient norm; null = no clipping\)\n$"),
    ("paths.runs=", r"^error: paths.runs='' is empty; set it to the folder for run records \(default: runs\)\n$"),
    ("paths.runs=null", r"^error: paths.runs=None is empty"),
])
def test_a_negative_gradient_clip_and_an_empty_runs_folder_are_refused(override, message, sandbox, capsys):
    from ablations.run import run

    before = _files(sandbox)
    assert exit_code(lambda: run([*BASE, f"paths.data={sandbox / 'data'}", override])) == USER_ERROR_EXIT
    assert re.search(message, capsys.readouterr().err)
    assert _files(sandbox) == before
