"""Run identities are the addresses of stored results: a change of the package must not move them."""

import pytest

from ablations import results
from ablations.config import compose
from ablations.run import prepare

# Directories of runs recorded by earlier versions of the package (computed with version 0.1.0).
RECORDED = {
    (): "digits/default/vanilla/b3ce1cfa23-seed0",
    ("variant=no_reset",): "digits/default/no_reset/274b8795cb-seed0",
    ("dataset=delayed_xor", "variant=recurrent"): "delayed_xor/default/recurrent/0591555dc5-seed0",
    ("dataset=digits_events",): "digits_events/default/vanilla/114a5163ba-seed0",
}


@pytest.mark.parametrize("overrides", list(RECORDED))
def test_recorded_run_identities_are_unchanged(overrides, tmp_path):
    cfg = compose([*overrides, f"paths.runs={tmp_path}", f"paths.data={tmp_path / 'data'}"])
    prepared = prepare(cfg)
    assert results.run_dir_for(prepared.cfg) == tmp_path / RECORDED[overrides]


def test_a_key_at_its_neutral_value_stays_out_of_the_identity():
    cfg = compose(["model=vgg9"])
    assert "dropout" not in results.identity(cfg)["model"]
    changed = compose(["model=vgg9", "model.dropout=0.2"])
    assert results.identity(changed)["model"]["dropout"] == 0.2
    assert results.config_hash(changed) != results.config_hash(cfg)
    assert "builder" not in results.identity(cfg)["model"]
