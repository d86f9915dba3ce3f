"""Values between a study and its runs: Python values written as Hydra override values, and
compared across the types that YAML and parquet give."""

from __future__ import annotations

import math
import re
from typing import Any


_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_\-./]*")


def format_value(value: Any) -> str:
    """A Python value as a Hydra override value (``inf``, ``1e-05``, ``true``, ``'a b'``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in ("true", "false", "null", "inf", "nan"):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def same_value(a: Any, b: Any) -> bool:
    """Equality across the types YAML and parquet give (5 == 5.0 == '5'; 'gaussian' == 'gaussian')."""
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)
