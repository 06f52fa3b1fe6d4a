"""From a decoded JSON value to a `Record`, with every schema problem named by field.

The fast path builds the record directly when the three fields are plain strings (the common
case); anything else goes through pydantic so that every problem comes with its location. The
JSON Schema in ``schemas/record.schema.json`` and these rules accept the same documents (a
differential property test proves it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from .models import RECORD_FIELDS, Record

NULL_HINT = 'use "" for no input, or pass --null-as-empty to treat null as empty'


@dataclass(frozen=True, slots=True)
class Problem:
    """One schema problem of one item: a stable code, the field (``$`` for the item) and a message."""

    code: str
    field: str
    message: str


def to_record(value: Any, *, null_as_empty: bool = False) -> Record | list[Problem]:
    """The record of ``value``, or the list of everything wrong with it."""
    if type(value) is dict:
        instruction = value.get("instruction")
        output = value.get("output")
        input = value.get("input", "")
        if null_as_empty:
            instruction, input, output = ("" if v is None else v for v in (instruction, input, output))
        if type(instruction) is str and type(input) is str and type(output) is str:
            record = Record.model_construct(instruction=instruction, input=input, output=output)
            extra = {key: item for key, item in value.items() if key not in RECORD_FIELDS}
            object.__setattr__(record, "__pydantic_extra__", extra)
            return record
    elif not isinstance(value, dict):
        return [Problem("not-an-object", "$", f"expected a JSON object with instruction and output, got {_kind(value)}")]
    return _problems(value, null_as_empty)


def _problems(value: dict[str, Any], null_as_empty: bool) -> Record | list[Problem]:
    if null_as_empty:
        value = {key: ("" if key in RECORD_FIELDS and item is None else item) for key, item in value.items()}
    try:
        return Record.model_validate(value)
    except ValidationError as exc:
        return [_problem(error, value) for error in exc.errors()]


def _problem(error: Any, value: dict[str, Any]) -> Problem:
    field = ".".join(str(part) for part in error["loc"]) or "$"
    kind = error["type"]
    if kind == "missing":
        return Problem("missing-field", field, f"the required field {field!r} is missing")
    got = value.get(field) if field in value else error.get("input")
    if got is None:
        return Problem("wrong-type", field, f"{field} is null, not a string: {NULL_HINT}")
    return Problem("wrong-type", field, f"{field} must be a string, got {_kind(got)}")


def _kind(value: Any) -> str:
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
