"""Conversion: a dataset from one layout and prompt style to another, losing nothing.

`plan` decides what does not depend on the items (`promptfmt.conversion.plan`); `run` is the
per-item loop (`service`), whose `stages` render or rebuild each record; `convert_parts` runs it in
several processes (`parts`).
"""

from .parts import WorkerError, convert_parts, scratch_folder
from .plan import DETECT_LIMIT, ConvertUsageError, Plan, plan
from .service import IGNORED_CHECKS, LOSSY_CODE, Quarantine, convert, run, validator
from .summary import ConvertSummary

__all__ = [
    "DETECT_LIMIT",
    "IGNORED_CHECKS",
    "LOSSY_CODE",
    "ConvertSummary",
    "ConvertUsageError",
    "Plan",
    "Quarantine",
    "WorkerError",
    "convert",
    "convert_parts",
    "plan",
    "run",
    "scratch_folder",
    "validator",
]
