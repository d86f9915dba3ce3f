"""Every override is used or refused: an override that would change nothing, an unknown key (with or
without ``+``) and a folder that cannot hold runs all end in one clear error before anything is
written."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ablations import config, training
from ablations.errors import USER_ERROR_EXIT, UserError
from ablations.pipeline import run

BASE = ["dataset.steps=2", "train.epochs=1", "train.max_batches=1", "progress=false", "device=cpu"]

# the overrides review found silently accepted, each with the words the refusal must say
SILENT = [
    (["train.schedule=cosine", "train.milestones=[2,4]"],
     r"train.milestones=\[2,4\] changes nothing: train.milestones is read only with train.schedule=multistep"),
    (["train.schedule=cosine", "train.step_size=5"],
     "train.step_size=5 changes nothing: train.step_size is read only with train.schedule=step,"),
    (["train.schedule=cosine", "train.gamma=0.5"],
     "train.gamma is read only with train.schedule=step or train.schedule=multistep, and this run has "
     "train.schedule=cosine"),
    (["train.optimizer=adam", "train.momentum=0.5"],
     "train.momentum is read only with train.optimizer=sgd, and this run has train.optimizer=adam"),
    (["eval.noise.severities=[1,2]"], r"suite noise is not evaluated by this run \(eval.suites=\[\]\)"),
    (["train.precision=bf16", "train.amp=false"], "train.amp is read only while train.precision=null"),
    (["eval.suites=[adversarial]", "eval.adversarial.max_iterations=5"],
     "eval.adversarial.max_iterations is read on event/temporal data only, and dataset digits is static data"),
    (["train.loss=ce_rate", "train.loss_reduction=sum"],
     "train.loss_reduction is read only with train.loss=mse_onehot, and this run has train.loss=ce_rate"),
]


@pytest.mark.parametrize("overrides, message", SILENT)
def test_an_override_that_changes_nothing_is_refused_naming_what_reads_it(overrides, message, tmp_path):
    with pytest.raises(UserError, match=message):
        config.load([*BASE, f"paths.runs={tmp_path}", *overrides])


@pytest.mark.parametrize("overrides", [
    ["train.optimizer=sgd", "train.momentum=0.5"],
    ["train.schedule=step", "train.step_size=3", "train.gamma=0.5"],
    ["train.schedule=multistep", "train.milestones=[2]", "train.gamma=0.5"],
    ["eval.suites=[noise]", "eval.noise.severities=[0,1]"],
    ["train.precision=null", "train.amp=false"],
    ["dataset=digits_events", "eval.suites=[adversarial]", "eval.adversarial.max_iterations=5"],
    ["train.loss_reduction=sum"],
])
def test_the_same_keys_are_accepted_where_they_are_read(overrides, tmp_path):
    config.load([*BASE, f"paths.runs={tmp_path}", *overrides])


def test_every_training_choice_declares_keys_of_the_shipped_config():
    train = config.compose().train
    declared = set(training.COMMON_KEYS) | {"amp"}
    for registry in training.CHOICES.values():
        for choice in registry.values():
            declared |= set(choice.keys)
    assert declared == set(train), set(train) ^ declared  # every key read by someone, none read that is not there


def test_a_silent_override_fails_before_anything_is_written(tmp_path):
    with pytest.raises(UserError, match="train.loss_reduction"):
        run([*BASE, f"paths.runs={tmp_path}", "train.loss=ce_rate", "train.loss_reduction=sum"])
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("override", ["train.epoch=3", "+train.epoch=3"])
def test_an_unknown_key_is_refused_with_or_without_plus(override, tmp_path):
    with pytest.raises(UserError, match=r"unknown key train.epoch \(did you mean train.epochs\?\)"):
        run([*BASE, f"paths.runs={tmp_path}", override])
    assert not any(tmp_path.iterdir())


def test_plus_adds_only_what_the_schema_or_a_builder_knows(tmp_path):
    with pytest.raises(UserError, match=r"unknown key eval.noise.bogus"):
        config.load([*BASE, f"paths.runs={tmp_path}", "+eval.noise.bogus=1"])
    with pytest.raises(UserError, match="not used by model 'vgg9'"):  # a resnet key: the builder check answers
        config.load([*BASE, f"paths.runs={tmp_path}", "model=vgg9", "+model.blocks=[1,1]"])
    with pytest.raises(UserError, match="python -m ablations.study"):
        config.load([*BASE, f"paths.runs={tmp_path}", "+study=leak_tau"])


def test_zero_batches_per_epoch_is_refused(tmp_path):
    with pytest.raises(UserError, match="train.max_batches=0 must be >= 1"):
        run([*BASE, f"paths.runs={tmp_path}", "train.max_batches=0"])
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("runs, words", [
    ("/dev/null/x", "paths.runs=/dev/null/x: /dev/null is not a folder"),
    ("/proc/runs", "cannot make the run folder /proc/runs/digits/"),
])
def test_a_runs_folder_that_cannot_be_made_is_one_clear_error(runs, words):
    with pytest.raises(UserError, match=words):
        run([*BASE, f"paths.runs={runs}"])


@pytest.mark.slow
def test_the_command_line_answers_each_case_with_exit_code_2(tmp_path):
    cases = [(["train.epoch=3"], "did you mean train.epochs"), (["+train.epoch=3"], "did you mean train.epochs"),
             (["train.optimizer=adam", "train.momentum=0.5"], "read only with train.optimizer=sgd"),
             (["paths.runs=/proc/runs"], "cannot make the run folder /proc/runs"),
             (["paths.runs=/dev/null/x"], "/dev/null is not a folder")]
    for overrides, words in cases:
        done = subprocess.run([sys.executable, "-m", "ablations.run", *BASE, f"paths.runs={tmp_path / 'runs'}",
                               *overrides], cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert done.returncode == USER_ERROR_EXIT, (overrides, done.stderr)
        assert words in done.stderr and "Traceback" not in done.stderr, (overrides, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_run_help_lists_only_the_groups_run_accepts(tmp_path):
    done = subprocess.run([sys.executable, "-m", "ablations.run", "--help"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    groups = [line.split()[0] for line in done.stdout.split("Config groups")[1].splitlines()[1:] if line.startswith("  ")]
    assert groups == ["variant", "dataset", "model", "train", "eval", "experiment"]
    assert "study" not in done.stdout.split("Config groups")[1] and "reproduce" not in done.stdout


@pytest.mark.slow
def test_hydra_flags_still_reach_hydra_and_their_overrides_are_checked(tmp_path):
    shown = subprocess.run([sys.executable, "-m", "ablations.run", "--cfg", "job", "train.epochs=3"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0 and "epochs: 3" in shown.stdout, shown.stderr
    typo = subprocess.run([sys.executable, "-m", "ablations.run", "--cfg", "job", "train.epoch=3"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert typo.returncode == USER_ERROR_EXIT and "did you mean train.epochs" in typo.stderr, typo.stderr
