"""``python tools/reference_docs.py [check=true]``: the reference page ``docs/reference.md``, generated.

A development tool (not part of the installed package). Everything between
``<!-- BEGIN GENERATED REFERENCE -->`` and ``<!-- END GENERATED REFERENCE -->`` in ``docs/reference.md`` is written by this module from what the package ships: every ``python -m``
command (entry points and their docstrings), every dataset (``conf/dataset/`` and where its files
go, :mod:`ablations.data.files`), every neuron variant with its update equation
(:data:`ablations.neurons.VARIANTS`), every evaluation suite and figure (their registries) and
every config group with its options, keys, defaults and comments (``conf/``). The rest of the
page is never touched. ``check=true`` writes nothing and exits with code 1 when the page is
stale (the test suite runs it), so the reference cannot drift from the code.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path
from typing import Any, Sequence

from omegaconf import OmegaConf

from ablations.cli import entry as cli_entry, parse as parse_arguments
from ablations.errors import UserError, parse_bool

__all__ = ["BEGIN", "END", "reference", "update", "main"]

BEGIN = "<!-- BEGIN GENERATED REFERENCE (python tools/reference_docs.py; do not edit by hand) -->"
END = "<!-- END GENERATED REFERENCE -->"
REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "ablations"
CONF = PACKAGE / "conf"
README = REPO / "docs" / "reference.md"
_LINE = re.compile(r"^(?P<indent>\s*)(?P<key>[A-Za-z_][\w.\-]*):(?P<rest>.*)$")


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0] if doc and doc.strip() else ""


def _header_comment(path: Path) -> str:
    """The file's leading comment block (``# @package`` left out) up to its first full stop."""
    lines: list[str] = []
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not stripped.startswith("#"):
            if stripped or lines:
                break
            continue
        text = stripped.lstrip("#").strip()
        if text.startswith("@package"):
            continue
        if not text:
            if lines:
                break
            continue
        lines.append(text)
    block = " ".join(lines)
    match = re.search(r"^(.+?(?<!Eq)(?<!Fig)(?<!Sec)(?<!e\.g)(?<!i\.e)(?<!vs)\.)(\s|$)", block)
    return match[1] if match else block


def _package(path: Path, group: str) -> str:
    """The key prefix of a group option: its ``# @package`` directive, else the group name."""
    for line in path.read_text().splitlines():
        match = re.match(r"^#\s*@package\s+(\S+)", line.strip())
        if match:
            return "" if match[1] == "_global_" else f"{match[1]}."
    return f"{group}."


def _comments(path: Path) -> dict[str, str]:
    """``{dotted.key: trailing comment}`` of a YAML file (block style, as our configs are)."""
    out: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in path.read_text().splitlines():
        match = _LINE.match(line)
        if not match or line.lstrip().startswith("#"):
            continue
        indent = len(match["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        key = ".".join([k for _, k in stack] + [match["key"]])
        rest = match["rest"]
        comment = ""
        if " #" in rest:
            rest, comment = rest.split(" #", 1)
        if not rest.strip():
            stack.append((indent, match["key"]))
        out[key] = comment.strip()
    return out


def _flat(node: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(node, dict):
        if not node and prefix:
            out[prefix] = {}
        for key, value in node.items():
            if key == "defaults" and not prefix:
                continue
            out.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
    else:
        out[prefix] = node
    return out


def _value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "`[" + ", ".join(str(v) for v in value) + "]`"
    if isinstance(value, dict):
        return "`{}`" if not value else "`" + str(value) + "`"
    return f"`{value}`"


def _keys_table(path: Path, prefix: str) -> list[str]:
    values = _flat(OmegaConf.to_container(OmegaConf.load(path), resolve=False))
    comments = _comments(path)
    lines = ["| key | default | meaning |", "|---|---|---|"]
    for key, value in values.items():
        if key.split(".")[0] == "hydra":
            continue  # Hydra's own settings: output folders, not user options
        lines.append(f"| `{prefix}{key}` | {_cell(_value(value))} | {_cell(comments.get(key, ''))} |")
    return lines


# --------------------------------------------------------------------------- sections
def _commands() -> list[str]:
    entries = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        if "__main__" not in text or ("if __name__ == \"__main__\"" not in text and path.name != "__main__.py"):
            continue
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        module = module.removesuffix(".__main__")
        entries.append((module, _first_line(ast.get_docstring(ast.parse(text)))))
    lines = ["### Commands", "", "Every command takes `--help`; bad input exits with code 2 and one message.", "",
             "| command | what it does |", "|---|---|"]
    for module, doc in entries:
        doc = re.sub(r"^``python -m [^`]*``:\s*", "", doc)
        lines.append(f"| `python -m {module}` | {_cell(doc)} |")
    return lines


def _datasets() -> list[str]:
    from ablations.data import files

    lines = ["### Datasets", "", "| dataset | kind | what it is | files |", "|---|---|---|---|"]
    for path in sorted((CONF / "dataset").glob("*.yaml")):
        cfg = OmegaConf.load(path)
        name = str(cfg.get("name", path.stem))
        if name in files.REMOTES:
            remote = files.REMOTES[name]
            where = (f"`datasets/{name}/` ({', '.join(f'`{p}`' for p in remote.files[:2])}"
                     f"{', ...' if len(remote.files) > 2 else ''}) from {remote.origin} via `{remote.library}`; "
                     f"`python -m ablations.data download dataset={name}`")
        elif name == "digits_events":
            where = f"generated into `datasets/{name}/` on first use (no download)"
        else:
            where = "built in (no download)"
        lines.append(f"| `{name}` | {cfg.get('kind', '')} | {_cell(_header_comment(path))} | {_cell(where)} |")
    return lines


def _equation(spec) -> str:
    if spec.leak == "linear":
        leak = "L({})"
    elif spec.leak == "none":
        leak = "{}"
    elif spec.leak == "complete":
        leak = "0 * {}"
    else:
        leak = "beta {}"
    previous = {"zero": "(1 - S[t-1]) U[t-1]", "subtract": "U[t-1]", "none": "U[t-1]"}[spec.reset]
    update = leak.format(previous)
    if spec.leak == "complete":
        update = "0"
    current = "I[t] + V S[t-1]" if spec.recurrent else "I[t]"
    if spec.synapse == "current":
        current = "Y[t]" if not spec.recurrent else "Y[t]"
    if spec.input_scale == "one_minus_beta":
        current = f"(1 - beta) {current}" if " " not in current else f"(1 - beta) ({current})"
    extra = " - theta S[t-1]" if spec.reset == "subtract" else ""
    equation = f"U[t] = {update} + {current}{extra}" if update != "0" else f"U[t] = {current}{extra}"
    if spec.synapse == "current":
        recurrent = " + V S[t-1]" if spec.recurrent else ""
        equation += f", Y[t] = a Y[t-1] + I[t]{recurrent}"
    if spec.adaptation == "alif":
        equation += ", S[t] = H(U[t] - theta - b A[t]), A[t] = rho A[t-1] + S[t-1]"
    return equation


def _variants() -> list[str]:
    from ablations import neurons

    lines = ["### Neuron variants", "",
             "`I[t] = W x[t] + b` (the layer's input current), `S[t] = H(U[t] - theta)`, `beta = exp(-1/tau)`, "
             "`L(u) = sign(u) max(|u| - lam, 0)`; equations and sources in `ablations/neurons/` (components: "
             "`ablations/neurons/components.py`). Every slot can be changed by its key on any variant "
             "(`neuron.reset=subtract`, `neuron.input_scale=one_minus_beta`, `neuron.adaptation=alif`, ...).", "",
             "| variant | leak | reset | recurrent | other components | update |", "|---|---|---|---|---|---|"]
    for name in neurons.VARIANTS:
        spec = neurons.VARIANTS[name]
        others = [f"{neurons.SLOTS[slot].key}={component.name}" for slot, component in spec.components().items()
                  if slot not in ("leak", "reset", "recurrence") and component.name != neurons.SLOTS[slot].default]
        lines.append(f"| `{name}` | {spec.leak} | {spec.reset} | {'yes' if spec.recurrent else 'no'} | "
                     f"{', '.join(others) or '-'} | `{_cell(_equation(spec))}` |")
    return lines


def _suites() -> list[str]:
    from ablations import evaluation

    lines = ["### Evaluation suites", "", "| suite | data | measures |", "|---|---|---|"]
    for name in evaluation.SUITES:
        suite = evaluation.SUITES[name]
        lines.append(f"| `{name}` | {', '.join(suite.kinds)} | {_cell(suite.description)} |")
    return lines


def _figures() -> list[str]:
    from ablations import figures

    lines = ["### Figures and tables", "", "| name | kind | regenerates |", "|---|---|---|"]
    for name in figures.FIGURES:
        spec = figures.FIGURES[name]
        lines.append(f"| `{name}` | {spec.kind} | {_cell(spec.paper)} |")
    return lines


def _groups() -> list[str]:
    root = OmegaConf.load(CONF / "config.yaml")
    defaults: dict[str, str | None] = {}
    for entry in root.get("defaults", []):
        if isinstance(entry, str) or OmegaConf.is_config(entry) and len(entry) != 1:
            continue
        (group, option), = entry.items()
        if "/" not in str(group) and not str(group).startswith("override"):
            defaults[str(group)] = None if option is None else str(option)
    lines = ["### Configuration", "", "Top-level keys (`ablations/conf/config.yaml`), each settable as `key=value`:", ""]
    lines += _keys_table(CONF / "config.yaml", "")
    for group in sorted(p.name for p in CONF.iterdir() if p.is_dir()):
        options = sorted((CONF / group).glob("*.yaml"))
        default = defaults.get(group)
        lines += ["", f"#### `{group}=`", "", f"Options (default: {f'`{default}`' if default else 'none'}):", "", "| option | description |",
                  "|---|---|"]
        lines += [f"| `{p.stem}` | {_cell(_header_comment(p))} |" for p in options]
        if default and (CONF / group / f"{default}.yaml").exists() and group != "study":
            package = _package(CONF / group / f"{default}.yaml", group)
            lines += ["", f"Keys of `{group}={default}`:", ""]
            lines += _keys_table(CONF / group / f"{default}.yaml", package)
    return lines


def reference() -> str:
    """The generated reference (without the markers)."""
    parts = [["## Reference", "",
              "Generated from the shipped configs and registries by `python tools/reference_docs.py`; "
              "`tests/test_docs.py` fails when this section is stale."],
             _commands(), _datasets(), _variants(), _suites(), _figures(), _groups()]
    return "\n\n".join("\n".join(part) for part in parts) + "\n"


def update(text: str) -> str:
    """``text`` (the reference page) with the generated block replaced, or appended when it has no markers."""
    block = f"{BEGIN}\n{reference()}{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        return head + block + tail
    if BEGIN in text or END in text:
        raise UserError(f"the page has only one of the markers {BEGIN!r} / {END!r}; restore both")
    return text.rstrip("\n") + "\n\n" + block + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    def work(argv: list[str]) -> int:
        options, _ = parse_arguments(argv, {"check": "check", "page": "page", "debug": "debug"},
                                     example="python tools/reference_docs.py [check=true] [page=PATH]")
        path = Path(options.get("page", README))
        if not path.exists():
            raise UserError(f"readme={path}: no such file")
        current = path.read_text()
        wanted = update(current)
        if parse_bool(options.get("check", "false"), "check"):
            if wanted != current:
                print(f"{path} is stale: run `python tools/reference_docs.py`", file=sys.stderr)
                return 1
            print(f"{path} is up to date")
            return 0
        if wanted != current:
            from ablations.atomic import atomic_write_text

            atomic_write_text(path, wanted)
            print(f"updated the reference in {path}")
        else:
            print(f"{path} is up to date")
        return 0

    return cli_entry(work, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
