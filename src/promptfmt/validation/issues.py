"""Issues: one finding about one record, with a stable code, a severity and a location.

`CHECKS` is the catalogue of codes, each with its default severity and a one-line summary; the
README's table and ``promptfmt validate --help`` are generated from the same words. ``--strict``
makes every warning an error.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field

from ..errors import one_line

Severity = Literal["error", "warning"]
ERROR: Severity = "error"
WARNING: Severity = "warning"


@dataclass(frozen=True)
class Check:
    """A kind of finding: its code, default severity and what it means."""

    code: str
    severity: Severity
    summary: str
    structural: bool = False  # the record cannot be built at all: the check cannot be ignored


CHECKS: dict[str, Check] = {
    check.code: check
    for check in (
        Check("invalid-json", ERROR, "the line or the array is not valid JSON (with line and column)", True),
        Check("unreadable", ERROR, "the file cannot be read past this point (truncated gzip, I/O error)", True),
        Check("too-large", ERROR, "one record is longer than the limit (64 MiB unless --max-record-mb): not read", True),
        Check("invalid-csv", ERROR, "a CSV row with another number of cells than the header, or text that is not CSV", True),
        Check("duplicate-key", ERROR, "a key appears twice in one object: JSON readers keep one value, silently", True),
        Check("not-an-object", ERROR, "the item is not a JSON object", True),
        Check("missing-field", ERROR, "instruction or output is missing (with a hint on keys to --map)", True),
        Check("wrong-type", ERROR, "a record field is not a string; null included, with what to do instead", True),
        Check("empty-instruction", ERROR, "the instruction is empty or only whitespace"),
        Check("empty-output", ERROR, "the output is empty or only whitespace"),
        Check("unknown-field", WARNING, "a key that is not a record field: kept as metadata, not rendered"),
        Check("whitespace-only-input", WARNING, "the input is only whitespace: it is rendered as an input block"),
        Check("surrounding-whitespace", WARNING, "a field starts or ends with whitespace (never stripped)"),
        Check("duplicate-record", WARNING, "same instruction, input and output as an earlier valid record (named)"),
        Check("duplicate-prompt", WARNING, "same instruction and input as an earlier valid record, another output"),
        Check("template-marker", WARNING, "a field contains the markers of a registered format (already templated?)"),
        Check("placeholder", WARNING, "an unfilled template variable such as {{name}} or ###eos_token###"),
        Check("control-character", WARNING, "a control character (or a lone surrogate) inside a field"),
        Check("lossy-in-format", WARNING, "with --format: the format cannot render the record losslessly, and why"),
        Check("empty-dataset", WARNING, "the file holds no records at all"),
        # conversations (messages / sharegpt items)
        Check("tool-turn", ERROR, "a conversation has a tool or function turn", True),
        Check("unknown-role", ERROR, "a message's role is none of system, user, assistant", True),
        Check("unsupported-key", ERROR, "a message has keys besides its role and content", True),
        Check("system-not-first", ERROR, "a system message that is not the first message", True),
        Check("not-starting-with-user", ERROR, "the first message after the system one is not a user one", True),
        Check("consecutive-user", ERROR, "two user messages in a row", True),
        Check("consecutive-assistant", ERROR, "two assistant messages in a row", True),
        Check("empty-conversation", ERROR, "a conversation without a user message", True),
        Check("metadata-collision", ERROR, "a conversation item has a key 'messages' besides its turns", True),
        Check("empty-message", ERROR, "a user or assistant message that is empty or only whitespace"),
        Check("duplicate-conversation", WARNING, "the same messages as an earlier conversation (named)"),
        # promptfmt tokenize
        Check("special-token-text", WARNING, "a message holds the text of a special token of the tokenizer (encoded as plain text)"),
        Check("token-boundary", WARNING, "tokenize: a trained segment starts or ends inside a token (that token is trained)"),
        Check("prefix-mismatch", WARNING, "tokenize: the text before a trained segment, tokenized alone, does not begin the whole text's ids"),
        Check("too-many-tokens", ERROR, "tokenize: more tokens than --max-length, and cutting would lose trained tokens"),
        Check("cut-to-max-length", WARNING, "tokenize: over --max-length, cut where only untrained tokens are lost"),
        Check("not-encodable", ERROR, "tokenize: text the tokenizer cannot encode (a lone surrogate; its own error)"),
        Check("nothing-to-train", ERROR, "tokenize: no token is trained (a conversation ending with a user message)"),
    )
}


# Not frozen: creating a frozen dataclass costs several times more, and a dataset can have millions
# of issues. The Annotated descriptions end up in schemas/report.schema.json.
@dataclass(slots=True)
class Issue:
    """One finding about one record: its code, severity, location and a message that says how to fix it."""

    code: Annotated[str, Field(description="The check that found it: " + ", ".join(CHECKS) + ".")]
    severity: Annotated[Severity, Field(description="error (the record is refused) or warning.")]
    record: Annotated[int | None, Field(description="0-based index of the item in the file; null for the file as a whole.")]
    line: Annotated[int | None, Field(description="1-based line where the item starts (its row in a Parquet or Arrow table); null when not from a file.")]
    field: Annotated[str, Field(description="The key as written in the file, or $ for the item as a whole.")]
    message: Annotated[str, Field(description="What is wrong, and how to fix it.")]
    column: Annotated[int | None, Field(description="1-based column of a JSON syntax error.")] = None
    related: Annotated[int | None, Field(description="For duplicates: the index of the earlier record.")] = None

    def location(self, source: str, unit: str = "line") -> str:
        """``FILE:LINE: record N: field`` as printed by the CLI (escaped: see `one_line`); ``FILE: row N:
        record N: field`` when ``unit`` is ``row`` (a Parquet or Arrow table)."""
        where = located(source, self.line, unit)
        if self.record is not None:
            where += f": record {self.record}"
        return f"{where}: {shown_key(self.field)}"

    def format(self, source: str, unit: str = "line") -> str:
        """The one-line human form: ``FILE:LINE: record N: field: code: message``; keys and text from
        the data are escaped, so no input can start a line of its own (`one_line`, `shown_key`)."""
        return f"{self.location(source, unit)}: {self.code}: {one_line(self.message)}"

    def as_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in _ISSUE_FIELDS}


_ISSUE_FIELDS = tuple(Issue.__dataclass_fields__)

# Keys printed bare: the usual names and JSON paths (``messages.3.content``); any other is quoted.
_PLAIN_KEY = re.compile(r"[\w$][\w.$\[\]-]*")


DUPLICATE_KEY = "duplicate-key"


def duplicate_key_message(key: str) -> str:
    return (f"the key {shown_key(key)} appears more than once in one object: JSON readers keep one of its "
            "values and drop the others without a word; keep one, or rename the others")


def located(source: str, line: int | None, unit: str = "line") -> str:
    """``FILE:LINE``, or ``FILE: row N`` in a table; just ``FILE`` without a line."""
    if line is None:
        return one_line(source)
    return f"{one_line(source)}:{line}" if unit == "line" else f"{one_line(source)}: {unit} {line}"


def shown_key(key: str) -> str:
    """A key as a report line shows it: bare when it is a plain name or path, else quoted JSON-style
    (``""`` for the empty key, ``"a: b"``, ``"x\\ny"``), so that it cannot pass for another field."""
    if _PLAIN_KEY.fullmatch(key):
        return key
    return one_line(json.dumps(key, ensure_ascii=False))
