"""The hostile-input corpus: about a hundred kinds of bad input, each a small generator that writes
its case into a temporary folder when the test runs (nothing large is checked in).

`CASES` lists them all; `runner.run_case` runs one through the real console script and returns the
promises it broke (exit code, no traceback, located messages, bounds, read = written + quarantined,
nothing left behind). tests/test_hostile.py runs them.
"""

from __future__ import annotations

from . import data, files, options, plugins, tables
from .case import Case

CASES: list[Case] = [*data.cases(), *files.cases(), *plugins.cases(), *options.cases(), *tables.cases()]

__all__ = ["CASES", "Case"]
