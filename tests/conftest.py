"""Shared fixtures: what several test modules need, built once per test session.

The tests mirror the package (``tests/neurons`` for ``ablations/neurons``, ``tests/config`` for
``ablations/config``, ...); what several of them share (the figure grid, run records of every state,
native dataset files, the table of neuron cases, the records of version 0.1.0) is in ``tests/support``.

Tiers: ``pytest -m "not slow"`` is the inner loop; tests that start subprocesses or run a whole
command end to end carry ``@pytest.mark.slow`` and run in CI with everything else.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "support"))
from figure_grid import build_grid  # noqa: E402


@pytest.fixture(scope="session")
def runs_root(tmp_path_factory) -> Path:
    """The figure grid's runs root, trained once per session."""
    return build_grid(tmp_path_factory.mktemp("figure-grid"))


# Fixtures whose tests are end to end by nature: they train real runs before the test body.
SLOW_FIXTURES = {"runs_root", "event_run", "root"}


def pytest_collection_modifyitems(config, items):
    """Tests that train through a session fixture (the figure grid, the evaluation runs) are ``slow``;
    ``pytest -m "not slow"`` leaves them out. The fault-injection sweep (``reliability``) runs only
    when the -m expression names it (``pytest -m reliability tests/reliability``, as .ci/run does)."""
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    if "reliability" not in (config.option.markexpr or ""):
        kept = [item for item in items if item.get_closest_marker("reliability") is None]
        if len(kept) != len(items):
            config.hook.pytest_deselected(items=[item for item in items if item not in kept])
            items[:] = kept
