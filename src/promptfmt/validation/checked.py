"""`Checked`: the verdict of `promptfmt.validation.validator.Validator` on one item."""

from __future__ import annotations

from typing import Any

from ..io import Item
from ..models import Record
from ..records.fields import make_record
from .issues import Issue


class Checked:
    """The verdict on one item: its issues, whether it has an error, and its record when one can be built.

    ``fields`` is ``(instruction, input, output)`` (after mapping), ``metadata`` the other keys;
    both are None when the item is not a record at all (invalid JSON, not an object, a missing field
    or one of the wrong type). ``record`` builds the `Record` on first use.
    """

    __slots__ = ("item", "issues", "ok", "fields", "metadata", "_record")

    def __init__(
        self, item: Item, issues: list[Issue], ok: bool,
        fields: tuple[str, str, str] | None = None, metadata: dict[str, Any] | None = None,
    ) -> None:
        self.item = item
        self.issues = issues
        self.ok = ok
        self.fields = fields
        self.metadata = metadata
        self._record: Record | None = None

    @property
    def record(self) -> Record | None:
        if self.fields is None:
            return None
        if self._record is None:
            self._record = make_record(*self.fields, self.metadata if self.metadata is not None else {})
        return self._record

    def __repr__(self) -> str:
        return f"Checked(index={self.item.index}, ok={self.ok}, issues={[i.code for i in self.issues]})"
