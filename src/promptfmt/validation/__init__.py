"""Validation: every finding about every record of a dataset, with its code, severity and location.

From the bottom up: `issues` (the checks and `Issue`), `report` (`Report`), `content` (markers,
placeholders, control characters, and the `Gate` that clears clean lines of a block at C speed),
`dedup`, `tally` (the counts), `field_checks`, `validator` (`Validator`: one item at a time),
`parts` (one file in several processes) and `service` (`validate`: a whole dataset).
"""

from .issues import CHECKS, ERROR, WARNING, Check, Issue
from .report import Report
from .service import validate
from .validator import Checked, ValidateUsageError, Validator

__all__ = ["CHECKS", "ERROR", "WARNING", "Check", "Checked", "Issue", "Report", "ValidateUsageError", "Validator", "validate"]
