"""train.precision: resolution, the cached bf16 speed measurement, identity, and bf16 vs fp32 on digits."""

from __future__ import annotations

import json

import pytest
import torch
from omegaconf import OmegaConf

from ablations import results, training
from ablations.config import compose
from ablations.errors import UserError
from ablations.run import run


def test_precision_names_and_legacy_amp():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert training.resolve_precision(None, cpu, amp=True).dtype is None  # amp is a CUDA switch
    assert training.resolve_precision(None, cuda, amp=True).dtype == torch.float16
    assert training.resolve_precision("fp32", cpu).dtype is None
    assert training.resolve_precision("bf16", cpu).dtype == torch.bfloat16
    with pytest.raises(UserError, match="train.precision='fp64' is not one of"):
        training.resolve_precision("fp64", cpu)


def test_auto_follows_the_measured_bf16_speed_and_caches_it(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    training.bf16_matmul_speedup.cache_clear()
    chosen = training.resolve_precision("auto", torch.device("cpu"))
    cache = json.loads((tmp_path / "snn-ablations" / "bf16_speed.json").read_text())
    (speedup,) = cache.values()
    assert (chosen.name == "bf16") == (speedup >= training.BF16_MIN_SPEEDUP)
    assert f"{speedup:.2f}x" in chosen.reason
    # a later process reads the cached answer instead of measuring again
    key = next(iter(cache))
    (tmp_path / "snn-ablations" / "bf16_speed.json").write_text(json.dumps({key: 0.01}))
    training.bf16_matmul_speedup.cache_clear()
    assert training.resolve_precision("auto", torch.device("cpu")).name == "fp32"
    training.bf16_matmul_speedup.cache_clear()


def test_new_train_keys_leave_the_default_identity_unchanged():
    cfg = compose([])
    before = OmegaConf.to_container(cfg, resolve=True)
    del before["train"]["precision"], before["train"]["checkpoint_time_steps"]
    assert results.config_hash(cfg) == results.config_hash(before)
    assert results.config_hash(compose(["train.checkpoint_time_steps=4"])) == results.config_hash(cfg)
    assert results.config_hash(compose(["train.precision=bf16"])) != results.config_hash(cfg)


@pytest.mark.slow
def test_bf16_training_on_digits_within_one_point_of_fp32(tmp_path):
    common = ["train.epochs=3", "progress=false", f"paths.runs={tmp_path}", "eval.suites=[]"]
    accuracy = {}
    for precision in ("fp32", "bf16"):
        path = run([*common, f"train.precision={precision}"])
        accuracy[precision] = results.read_status(path)["final"]["accuracy"]
    assert accuracy["fp32"] > 0.5  # it learned
    assert abs(accuracy["bf16"] - accuracy["fp32"]) <= 0.01, accuracy
