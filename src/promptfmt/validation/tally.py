"""The counts of a validation run, kept in one place: every total of the `Report` is updated here.

`Tally` is the base of `promptfmt.validation.validator.Validator`; parallel validation merges the
tallies of its parts into one with `Tally.merge`. (`Validator.quick` and `Validator.check_block`
count clean records inline: they are the hot path.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from .issues import ERROR, Issue

IssueCallback = Callable[[Issue], None]


class PartCounts(Protocol):
    """The totals of a part of a file, validated apart (see `promptfmt.validation.parts`)."""

    records: int
    valid: int
    invalid: int
    clean: int
    swapped: int


class Tally:
    """Items checked (``records``), how they came out, and the issues found (listed up to ``max_issues``)."""

    def __init__(self, max_issues: int | None = None, on_issue: IssueCallback | None = None) -> None:
        self.max_issues = max_issues
        self.on_issue = on_issue
        self.records = self.valid = self.invalid = self.clean = 0
        self.swapped = 0  # records read with their input as the instruction (``swap_when_empty``)
        self.errors = self.warnings = 0
        self.counts: dict[str, int] = {}
        self.issues: list[Issue] = []
        self.issues_omitted = 0

    def count(self, issue: Issue) -> None:
        """Count ``issue`` in the report (and pass it to ``on_issue``)."""
        self.counts[issue.code] = self.counts.get(issue.code, 0) + 1
        if issue.severity == ERROR:
            self.errors += 1
        else:
            self.warnings += 1
        if self.max_issues is None or len(self.issues) < self.max_issues:
            self.issues.append(issue)
        else:
            self.issues_omitted += 1
        if self.on_issue is not None:
            self.on_issue(issue)

    def settle(self, issues: list[Issue]) -> bool:
        """Count one item checked with ``issues`` (already counted one by one); whether it is valid."""
        ok = True
        for issue in issues:
            if issue.severity == ERROR:
                ok = False
                break
        if ok:
            self.valid += 1
        else:
            self.invalid += 1
        if not issues:
            self.clean += 1
        return ok

    def add_clean(self, records: int) -> None:
        """Count ``records`` items checked without any issue."""
        self.records += records
        self.valid += records
        self.clean += records

    def merge(self, part: PartCounts) -> None:
        """Add the item totals of a part checked elsewhere (its issues are counted one by one)."""
        self.records += part.records
        self.valid += part.valid
        self.invalid += part.invalid
        self.clean += part.clean
        self.swapped += part.swapped
