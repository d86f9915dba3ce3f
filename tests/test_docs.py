"""The generated reference page (docs/reference.md) matches the shipped configs and registries, and the
README stays a front page."""

import importlib.util
from pathlib import Path

from ablations import evaluation, neurons

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("reference_docs", REPO / "tools" / "reference_docs.py")
docs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(docs)


def test_reference_page_is_up_to_date():
    assert docs.main(["check=true"]) == 0, "docs/reference.md is stale: run `python tools/reference_docs.py`"


def test_reference_names_every_variant_suite_dataset_and_command():
    text = docs.reference()
    for name in list(neurons.VARIANTS) + list(evaluation.SUITES):
        assert f"| `{name}` |" in text
    for path in (docs.CONF / "dataset").glob("*.yaml"):
        assert f"| `{path.stem}` |" in text
    for command in ("run", "evaluate", "study", "figures", "data", "export", "reproduce"):
        assert f"`python -m ablations.{command}`" in text
    assert "`python -m ablations.docs`" not in text  # a development tool, not a command of the package
    assert "| `logger` | `none` |" in text and "| `eval.neurobench.batch_size` | `128` |" in text


def test_a_stale_page_fails_the_check_and_the_rest_is_kept(tmp_path, capsys):
    page = tmp_path / "reference.md"
    text = (REPO / "docs" / "reference.md").read_text()
    stale = text.replace("| `vanilla` | exponential |", "| `vanilla` | linear |").replace("# Reference", "# mine", 1)
    assert stale != text
    page.write_text(stale)
    assert docs.main(["check=true", f"page={page}"]) == 1
    assert "stale" in capsys.readouterr().err
    assert docs.main([f"page={page}"]) == 0
    fixed = page.read_text()
    assert "| `vanilla` | exponential |" in fixed and fixed.startswith("# mine")  # outside the markers: untouched
    assert fixed.replace("# mine", "# Reference", 1) == text


def test_unknown_argument_exits_2(capsys):
    assert docs.main(["bogus=1"]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'bogus'; keys: check" in err and "Traceback" not in err


def test_readme_is_a_front_page_that_links_pages_that_exist():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 400
    for command in ("pip install -e \".[test]\"", "python -m ablations.run", "python -m ablations.run variant=no_reset",
                    "python -m ablations.study study=leak_tau", "python -m ablations.figures",
                    "python -m ablations.reproduce paper=roles", "pytest"):
        assert command in text
    import re

    for link in re.findall(r"\]\((docs/[^)#]+)\)", text):
        assert (REPO / link).is_file(), link
