"""Records and the results of rendering and checking them.

`Record` is the source of truth for `schemas/record.schema.json` (regenerate with
`promptfmt schema --write`). It imports nothing else of promptfmt.

Semantics (docs/architecture.md, "Semantics"):

* A missing ``input`` and ``input == ""`` both mean *no input*; whitespace is an input.
* ``null`` is not a string: strict validation rejects it (and ``5``, ``true`` ...).
* Keys other than the three fields are *metadata*: kept, apart, never lost
  (``record.metadata``), and written back out unchanged by the layouts that carry them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

RECORD_FIELDS = ("instruction", "input", "output")


class Query(BaseModel):
    """An instruction with its optional input and no output: what parsing a prompt alone gives."""

    model_config = ConfigDict(strict=True, extra="allow", title="Query", defer_build=True)

    instruction: str = Field(description="The task for the model.")
    input: str = Field(
        default="",
        description='Context for the task. Missing and "" both mean no input; any other string is rendered.',
    )

    @property
    def metadata(self) -> dict[str, Any]:
        """Keys of the item that are not record fields, in their original order."""
        return dict(self.model_extra or {})

    @property
    def has_input(self) -> bool:
        return self.input != ""

    def fields(self) -> dict[str, str]:
        """The record fields alone, without metadata."""
        return {name: getattr(self, name) for name in RECORD_FIELDS if name in type(self).model_fields}


class Record(Query):
    """One instruction record: ``instruction``, optional ``input``, ``output``, plus metadata."""

    model_config = ConfigDict(
        strict=True,
        extra="allow",
        title="Record",
        defer_build=True,
        json_schema_extra={
            "description": (
                "One promptfmt instruction record. Keys other than instruction, input and output are "
                "metadata: allowed, kept and carried through unchanged."
            )
        },
    )

    output: str = Field(description="The answer the model is trained to produce.")


class LossReason(str, enum.Enum):
    """Why a record cannot survive a render/parse round trip in a format (docs/architecture.md, "Semantics")."""

    MARKER_IN_CONTENT = "marker-in-content"
    SEPARATOR_IN_INSTRUCTION = "separator-in-instruction"
    TRIMMED_WHITESPACE = "trimmed-whitespace"
    DEFAULT_SYSTEM = "default-system"  # a system message equal to the template's default parses back as none
    EMPTY_OUTPUT = "empty-output"  # nothing follows the answer, so an empty one reads back as a prompt
    SYSTEM_UNMARKED = "system-unmarked"  # nothing marks where the system message ends (Gemma 3)
    CONTENT_DEPENDENT = "content-dependent"  # the official template renders an answer holding this otherwise


@dataclass(frozen=True, slots=True)
class Loss:
    """One reason, with the field it concerns and a sentence for people."""

    reason: LossReason
    field: str
    message: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """The losslessness verdict of one record in one format."""

    losses: tuple[Loss, ...] = ()

    @property
    def lossless(self) -> bool:
        return not self.losses

    @property
    def reasons(self) -> frozenset[LossReason]:
        return frozenset(loss.reason for loss in self.losses)

    def __bool__(self) -> bool:  # a verdict is truthy when the record is lossless
        return self.lossless


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered record: ``prompt`` is what the model is given, ``completion`` what it must produce.

    The completion includes the end-of-turn / EOS text that the official template emits after the
    answer. ``text`` is always ``prompt + completion``.
    """

    prompt: str
    completion: str
    text: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", self.prompt + self.completion)

    def as_dict(self) -> dict[str, str]:
        return {"prompt": self.prompt, "completion": self.completion, "text": self.text}
