"""Shared helpers of the fault-injection suite: the commands under test and their references."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: run_records and friends
