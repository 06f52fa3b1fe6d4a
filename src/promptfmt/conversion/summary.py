"""The counts of one conversion: ``read == written + quarantined``, always."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..records.layouts import RENDERED_LAYOUTS
from .plan import Plan


@dataclass
class ConvertSummary:
    """The counts of one conversion. ``read == written + quarantined`` always."""

    input_layout: str
    output_layout: str
    source_format: str | None
    target_format: str | None
    strict: bool = False
    read: int = 0
    written: int = 0
    quarantined: int = 0
    lossy_records: int = 0
    conversations: int = 0  # items written as conversations (several turns, or a system message)
    swapped: int = 0  # records read with their input as the instruction (``swap_when_empty``)
    ignored: tuple[str, ...] = ()  # checks not applied (``ignore``)
    bos: str | None = None  # the BOS text every written text or prompt starts with (None: none, or stripped)
    lossy: Counter[str] = field(default_factory=Counter)  # records per loss reason
    quarantined_by_code: Counter[str] = field(default_factory=Counter)  # quarantined records per issue code
    warnings: Counter[str] = field(default_factory=Counter)  # validation warnings per code

    @classmethod
    def of(cls, plan: Plan) -> ConvertSummary:
        """The empty summary of a conversion planned as ``plan``."""
        return cls(
            input_layout=plan.input_layout,
            output_layout=plan.output_layout,
            source_format=plan.source.name if plan.source is not None else None,
            target_format=plan.target.name if plan.target is not None else None,
            strict=plan.strict,
            ignored=plan.ignore,
            bos=_written_bos(plan),
        )

    def close(self, read: int, written: int, lossy_records: int) -> ConvertSummary:
        """Set the final counts; nothing is lost (docs/architecture.md, "Semantics"), or this raises."""
        self.read, self.written, self.lossy_records = read, written, lossy_records
        if read != written + self.quarantined:
            raise AssertionError(f"read {read} != written {written} + quarantined {self.quarantined}")
        return self

    @property
    def ok(self) -> bool:
        """True when every record read was written."""
        return self.quarantined == 0

    def merge(self, other: ConvertSummary) -> None:
        """Add the counts of ``other`` (a part of the same conversion) to these."""
        for name in ("read", "written", "quarantined", "lossy_records", "conversations", "swapped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("lossy", "quarantined_by_code", "warnings"):
            getattr(self, name).update(getattr(other, name))

    def as_dict(self) -> dict[str, Any]:
        return {
            "input_layout": self.input_layout,
            "output_layout": self.output_layout,
            "from": self.source_format,
            "to": self.target_format,
            "strict": self.strict,
            "read": self.read,
            "written": self.written,
            "quarantined": self.quarantined,
            "quarantined_by_code": dict(sorted(self.quarantined_by_code.items())),
            "lossy": {"records": self.lossy_records, "by_reason": dict(sorted(self.lossy.items()))},
            "conversations": self.conversations,
            "swapped": self.swapped,
            "ignored": list(self.ignored),
            "bos": self.bos if self.written else None,
            "warnings": dict(sorted(self.warnings.items())),
            "ok": self.ok,
        }



def _written_bos(plan: Plan) -> str | None:
    """The BOS text the written texts (or prompts) start with, when a trainer might add another."""
    target = plan.target
    if target is None or not target.bos or plan.strip_bos or plan.output_layout not in RENDERED_LAYOUTS:
        return None
    return target.bos
