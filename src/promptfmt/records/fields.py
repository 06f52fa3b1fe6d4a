"""From a decoded JSON value to a `Record`, with every schema problem named by field.

The rules are those of the `Record` model and of ``schemas/record.schema.json``: a JSON object whose
``instruction`` and ``output`` are strings and whose ``input``, when present, is a string; any other
key is metadata. A differential property test proves that `to_record`, the pydantic model and the
JSON Schema accept the same documents. The checks here are written out by hand (no pydantic on the
hot path) so that each problem gets a precise message with a hint on how to fix it.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..models import RECORD_FIELDS, Record

REQUIRED_FIELDS = ("instruction", "output")
NULL_HINT = 'use "" for no input, or pass --null-as-empty to treat null as empty'

# Keys that other layouts use for the record fields; used to suggest a mapping.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "instruction": ("prompt", "question", "query", "inputs", "task", "text", "instruct", "human"),
    "input": ("context", "inputs", "passage", "document", "source"),
    "output": ("response", "answer", "completion", "targets", "target", "outputs", "reply", "solution",
               "chosen", "assistant", "gpt"),
}

# Keys that betray a whole other layout, with what to say about it.
LAYOUT_HINTS: tuple[tuple[str, str], ...] = (
    ("conversations", "this looks like a ShareGPT conversation ({\"conversations\": [{\"from\", \"value\"}]}), "
                      "not an instruction record"),
    ("messages", "this looks like an OpenAI chat item ({\"messages\": [{\"role\", \"content\"}]}), "
                 "not an instruction record"),
    ("instances", "this looks like a self-instruct seed task (the inputs and outputs are in \"instances\"), "
                  "not a flat instruction record"),
)

_NO_NAMES: Mapping[str, str] = {}


@dataclass(frozen=True, slots=True)
class Problem:
    """One schema problem of one item: a stable code, the field (``$`` for the item) and a message."""

    code: str
    field: str
    message: str


def make_record(instruction: str, input: str, output: str, metadata: dict[str, Any]) -> Record:
    """A `Record` from values already known to be valid (no validation: the hot path)."""
    record = Record.model_construct(instruction=instruction, input=input, output=output)
    object.__setattr__(record, "__pydantic_extra__", metadata)
    return record


def to_record(value: Any, *, null_as_empty: bool = False) -> Record | list[Problem]:
    """The record of ``value``, or the list of everything wrong with it."""
    if type(value) is dict:
        instruction = value.get("instruction")
        output = value.get("output")
        input = value.get("input", "")
        if null_as_empty:
            instruction, input, output = ("" if v is None else v for v in (instruction, input, output))
        if type(instruction) is str and type(input) is str and type(output) is str:
            extra = {key: item for key, item in value.items() if key not in RECORD_FIELDS}
            return make_record(instruction, input, output, extra)
        return problems(value, null_as_empty=null_as_empty)
    return [not_an_object(value)]


def not_an_object(value: Any) -> Problem:
    hint = ""
    if isinstance(value, list):
        hint = ": one item per record, not a list of records (is the file a JSON array inside JSON Lines?)"
    elif isinstance(value, str):
        hint = ": a bare string is not a record; use {\"instruction\": ..., \"output\": ...}"
    return Problem("not-an-object", "$", f"expected a JSON object with instruction and output, got {kind(value)}{hint}")


def problems(value: dict[str, Any], *, null_as_empty: bool = False,
             names: Mapping[str, str] = _NO_NAMES) -> list[Problem]:
    """Every missing field and every field of the wrong type in ``value`` (a JSON object).

    ``names`` maps record fields to the keys they are read from (``--map``), for the messages.
    """
    found: list[Problem] = []
    for field in RECORD_FIELDS:
        key = names.get(field, field)
        if field not in value:
            if field in REQUIRED_FIELDS:
                found.append(Problem("missing-field", key, _missing(field, key, value, names)))
            continue
        got = value[field]
        if type(got) is str or (got is None and null_as_empty):
            continue
        found.append(Problem("wrong-type", key, wrong_type(field, key, got)))
    return found


def _missing(field: str, key: str, value: dict[str, Any], names: Mapping[str, str]) -> str:
    what = f"the required field {key!r}" if key == field else f"the key {key!r} (mapped to {field})"
    hint = missing_hint(field, value, names)
    return f"{what} is missing{hint}"


def missing_hint(field: str, value: dict[str, Any], names: Mapping[str, str] = _NO_NAMES) -> str:
    """How a missing field might be found: another layout, or a key to map with ``--map``."""
    used = set(names.values()) | set(RECORD_FIELDS)
    keys = [key for key in value if key not in used]
    for marker, sentence in LAYOUT_HINTS:
        if marker in value:
            return f"; {sentence}"
    candidates = [key for key in keys if key.strip().lower() == field]
    candidates += [key for key in keys if key.strip().lower() in SYNONYMS[field] and key not in candidates]
    candidates += [key for key in difflib.get_close_matches(field, keys, n=2, cutoff=0.75) if key not in candidates]
    if candidates:
        return f"; the item has {candidates[0]!r}: read {field} from it with --map {field}={_quote(candidates[0])}"
    if keys:
        shown = ", ".join(repr(key) for key in keys[:6]) + (", ..." if len(keys) > 6 else "")
        return f" (the item has {shown}); map a key to it with --map {field}=KEY"
    return ""


def wrong_type(field: str, key: str, got: Any) -> str:
    name = field if key == field else f"{key!r} ({field})"
    if got is None:
        if field == "input":
            return f'{name} is null, not a string: use "" (or leave the key out) for no input, or pass --null-as-empty'
        return (f'{name} is null, not a string: give it a text, or drop the record; --null-as-empty would treat '
                f'null as "" (which is then reported as empty-{field})')
    if isinstance(got, bool):
        return f"{name} must be a string, got a boolean ({str(got).lower()}): quote it if it is meant as text"
    if isinstance(got, (int, float)):
        return f'{name} must be a string, got a number ({got!r}): quote it ("{got!r}") if it is meant as text'
    if isinstance(got, list):
        return (f"{name} must be a string, got an array of {len(got)} item(s): join the parts into one string, "
                f"or read {field} from another key with --map")
    if isinstance(got, dict):
        keys = ", ".join(repr(k) for k in list(got)[:4])
        return f"{name} must be a string, got an object ({{{keys}}}): read {field} from a text key with --map"
    return f"{name} must be a string, got {kind(got)}"


def _quote(key: str) -> str:
    return f"'{key}'" if not key.replace("_", "").replace("-", "").isalnum() else key


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__

