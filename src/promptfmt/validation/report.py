"""The validation report: totals, counts per code and the issues themselves.

`Report` is the source of truth for ``schemas/report.schema.json`` (regenerate with
``promptfmt schema --write``); ``promptfmt validate --json`` prints one `Report` document.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from .issues import CHECKS, ERROR, WARNING, Issue, Severity


class Report(BaseModel):
    """What validating one dataset found."""

    model_config = ConfigDict(
        title="ValidationReport",
        extra="forbid",
        json_schema_extra={
            "description": (
                "The report of 'promptfmt validate --json': totals, issues counted per code, and the issues "
                "with their locations (record index from 0, line from 1, the field as written in the file)."
            )
        },
    )

    source: str = Field(description="The file validated ('<stdin>' for standard input, '<items>' for values).")
    format: str | None = Field(default=None, description="The format checked for losslessness (--format), if any.")
    mapping: dict[str, str] = Field(
        default_factory=dict, description="Record fields read from other keys (--profile, --map): field -> key."
    )
    strict: bool = Field(default=False, description="Whether warnings were counted as errors (--strict).")
    records: int = Field(ge=0, description="Items read, undecodable ones included.")
    valid: int = Field(ge=0, description="Records without any error.")
    invalid: int = Field(ge=0, description="Records with at least one error (the ones --quarantine writes).")
    clean: int = Field(ge=0, description="Records without any issue at all.")
    swapped: int = Field(
        default=0, ge=0,
        description="Records read with their input as the instruction, their instruction being empty or missing "
        "(--swap-when-empty); 0 without it.",
    )
    errors: int = Field(ge=0, description="Issues of severity error.")
    warnings: int = Field(ge=0, description="Issues of severity warning.")
    counts: dict[str, int] = Field(default_factory=dict, description="Number of issues per code.")
    issues: list[Issue] = Field(default_factory=list, description="The issues, in file order.")
    issues_omitted: int = Field(default=0, ge=0, description="Issues counted but not listed (--max-issues).")
    ok: bool = Field(description="True when there is no error: the exit code of 'promptfmt validate' is then 0.")

    def severity(self, code: str) -> Severity:
        """The severity that issues of ``code`` had in this run."""
        if self.strict:
            return ERROR
        check = CHECKS.get(code)
        return check.severity if check is not None else WARNING

    def summary(self) -> list[tuple[str, Severity, int]]:
        """(code, severity, count) rows: errors first, then by decreasing count."""
        rows = [(code, self.severity(code), count) for code, count in self.counts.items()]
        return sorted(rows, key=lambda row: (row[1] != ERROR, -row[2], row[0]))

    def as_dict(self) -> dict[str, Any]:
        """The report as plain JSON values (fast: no pydantic serialization of the issues)."""
        data = {name: getattr(self, name) for name in type(self).model_fields}
        data["issues"] = [issue.as_dict() for issue in self.issues]
        data["mapping"] = dict(self.mapping)
        data["counts"] = dict(self.counts)
        return data

    def to_json(self, *, indent: bool = False) -> bytes:
        option = orjson.OPT_INDENT_2 if indent else 0
        return orjson.dumps(self.as_dict(), option=option)


def issue_json(issue: Issue) -> bytes:
    """One issue as JSON, the way it appears in the report's ``issues`` array."""
    return orjson.dumps(issue.as_dict())
