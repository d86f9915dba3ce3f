"""The README's generated reference matches the shipped configs and registries."""

import subprocess

import pytest
import sys
from pathlib import Path

from ablations import docs, evaluation, neurons

REPO = Path(__file__).resolve().parents[1]


def test_readme_reference_is_up_to_date():
    assert docs.main(["check=true"]) == 0, "README reference is stale: run `python -m ablations.docs`"


def test_reference_names_every_variant_suite_dataset_and_command():
    text = docs.reference()
    for name in list(neurons.VARIANTS) + list(evaluation.SUITES):
        assert f"| `{name}` |" in text
    for path in (docs.CONF / "dataset").glob("*.yaml"):
        assert f"| `{path.stem}` |" in text
    for command in ("run", "evaluate", "study", "figures", "data", "export", "docs"):
        assert f"`python -m ablations.{command}`" in text
    assert "| `logger` | `none` |" in text and "| `eval.neurobench.batch_size` | `128` |" in text


def test_a_stale_readme_fails_the_check_and_the_rest_is_kept(tmp_path, capsys):
    readme = tmp_path / "README.md"
    text = (REPO / "README.md").read_text()
    stale = text.replace("| `vanilla` | exponential |", "| `vanilla` | linear |").replace("# snn-ablations", "# mine", 1)
    assert stale != text
    readme.write_text(stale)
    assert docs.main(["check=true", f"readme={readme}"]) == 1
    assert "stale" in capsys.readouterr().err
    assert docs.main([f"readme={readme}"]) == 0
    fixed = readme.read_text()
    assert "| `vanilla` | exponential |" in fixed and fixed.startswith("# mine")  # outside the markers: untouched
    assert fixed.replace("# mine", "# snn-ablations", 1) == text


@pytest.mark.slow
def test_unknown_argument_exits_2():
    result = subprocess.run([sys.executable, "-m", "ablations.docs", "bogus=1"], cwd=REPO, capture_output=True,
                            text=True)
    assert result.returncode == 2 and "unknown key 'bogus'; keys: check" in result.stderr and "Traceback" not in result.stderr
