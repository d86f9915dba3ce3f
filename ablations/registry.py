"""One registry mechanism for every named concept: variants, datasets, models, suites, figures.

A :class:`Registry` is a read-only mapping from a name to an entry, filled next to the
implementation (``@SUITES.register("noise")`` or ``SUITES.add("noise", entry)``) and read through
one lookup, :meth:`Registry.get`, that raises :class:`~ablations.errors.UserError` listing the
valid names on a miss. Plugins outside the package register the same way; a module named in the
config key ``plugins`` (a list of importable modules or ``.py`` files) is imported before the
config is validated, so its names are valid on the command line (:func:`load_plugins`).

An entry may be given lazily as a ``"package.module:function"`` string, imported on first use (so
that an optional dependency of one entry never breaks another): :func:`resolve_target` is the one
place such strings are resolved (data sources, evaluation suites, figures, download functions).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable, Generic, Iterable, Iterator, TypeVar

from .errors import UserError

__all__ = ["Registry", "load_plugins", "import_file", "resolve_target"]

T = TypeVar("T")


class Registry(Mapping, Generic[T]):
    """Named entries of one kind (``kind`` is the word errors use: "variant", "dataset", ...)."""

    def __init__(self, kind: str, plural: str | None = None) -> None:
        self.kind = kind
        self.plural = plural or f"{kind}s"
        self._entries: dict[str, T] = {}

    # -- filling
    def add(self, name: str, entry: T, replace: bool = False) -> T:
        if not isinstance(name, str) or not name or not name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"{self.kind} name {name!r} must be a non-empty word of letters, digits, _ and -")
        if name in self._entries and not replace and self._entries[name] is not entry:
            raise ValueError(f"{self.kind} {name!r} is already registered; pick another name "
                             "(or pass replace=True to override it on purpose)")
        self._entries[name] = entry
        return entry

    def register(self, name: str | None = None, replace: bool = False) -> Callable[[T], T]:
        """Decorator: ``@REGISTRY.register("name")`` (the function's own name when omitted)."""
        def decorate(entry: T) -> T:
            self.add(name or getattr(entry, "__name__"), entry, replace=replace)
            return entry
        return decorate

    def remove(self, name: str) -> None:
        self._entries.pop(name, None)

    # -- reading
    def get(self, name: str, default: Any = None) -> T:  # type: ignore[override]
        """The entry called ``name``; an unknown name is a UserError listing the valid ones."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise UserError(f"unknown {self.kind} {name!r}; valid {self.plural}: {', '.join(self._entries)}") from None

    def __getitem__(self, name: str) -> T:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        return list(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._entries)})"


def resolve_target(target: str | Callable[..., Any], package: str | None = None) -> Callable[..., Any]:
    """The object a lazy ``"package.module:name"`` target names (a callable is returned as it is).

    ``package`` completes a module name without dots (``"leak:noise_panels"`` inside
    ``ablations.figures``). A malformed string or a missing name is a UserError naming the target;
    an ImportError of the module (e.g. an optional dependency that is not installed) propagates.
    """
    if callable(target):
        return target
    module_name, colon, name = str(target).partition(":")
    if not colon or not module_name or not name:
        raise UserError(f"{target!r} is not a 'package.module:function' target")
    if package is not None and "." not in module_name:
        module_name = f"{package}.{module_name}"
    module = importlib.import_module(module_name)
    try:
        return getattr(module, name)
    except AttributeError:
        raise UserError(f"{target!r}: module {module_name} has no {name!r}") from None


def import_file(path: Path, module_name: str) -> Any:
    """Import the Python file ``path`` as module ``module_name`` (registered in ``sys.modules``)."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[module_name] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def load_plugins(modules: Iterable[str]) -> list[Any]:
    """Import plugin modules (dotted names, or paths of ``.py`` files) so that they register
    their entries; an unimportable one is a UserError naming it."""
    loaded = []
    for name in modules or ():
        name = str(name)
        try:
            if name.endswith(".py"):
                path = Path(name).expanduser().resolve()
                if not path.is_file():
                    raise FileNotFoundError(f"no such file: {path}")
                module_name = f"ablations_plugin_{path.stem}"
                if module_name in sys.modules and getattr(sys.modules[module_name], "__file__", None) == str(path):
                    loaded.append(sys.modules[module_name])
                    continue
                module = import_file(path, module_name)
            else:
                module = importlib.import_module(name)
        except UserError:
            raise
        except Exception as error:  # noqa: BLE001 - any failure of a user's plugin is reported as such
            raise UserError(f"plugin {name!r} could not be imported ({type(error).__name__}: {error}); "
                            "list importable module names or .py files in plugins=[...]") from None
        loaded.append(module)
    return loaded
