"""The per-field checks of `promptfmt.validation.validator.Validator`, and the fast tests that clear
clean records without them.

Each check adds `Issue` objects with a message that says how to fix the problem; the messages name
the key as written in the file (after ``--map``).
"""

from __future__ import annotations

import difflib
from typing import Any

from ..errors import PluginError
from ..format import Format
from ..io import Item
from ..models import RECORD_FIELDS, Record
from ..records.fields import Problem
from ..records.mapping import FieldMapping
from .content import (
    CONTROL_FLAG,
    MARKER,
    PLACEHOLDER_FLAG,
    MarkerScanner,
    control_character,
    describe_char,
    placeholders,
    shown,
    whitespace_ends,
)
from .issues import Issue

SURROUNDING_WHITESPACE, WHITESPACE_ONLY_INPUT = "surrounding-whitespace", "whitespace-only-input"
# Swapping the two keys with --map would swap every record, the good ones too: the option reads input as
# the instruction only where the instruction is empty or missing.
_SWAP_HINT = "if the task is in input, pass --swap-when-empty to read it as the instruction (in such records only)"


class FieldChecks:
    """The checks on a record's keys and field values (a mixin: `Validator` provides the bookkeeping)."""

    mapping: FieldMapping
    swap_when_empty: bool
    _ignored: frozenset[str]
    _key: dict[str, str]
    _label: dict[str, str]
    _unknown_messages: dict[str, str]
    _scanner: MarkerScanner
    _specials: MarkerScanner

    def _add(self, issues: list[Issue], item: Item, code: str, field: str, message: str,
             column: int | None = None, related: int | None = None) -> None:
        raise NotImplementedError

    def _issue(self, item: Item, code: str, field: str, message: str, column: int | None = None,
               related: int | None = None) -> Issue | None:
        raise NotImplementedError

    def _unknown_fields(
        self, issues: list[Issue], item: Item, value: dict[str, Any], shadowed: list[str],
        fields: tuple[str | None, str | None, str | None],
    ) -> None:
        if "unknown-field" in self._ignored:
            return
        for key, item_value in value.items():
            if key in RECORD_FIELDS:
                continue
            message = self._unknown_message(key)
            if type(item_value) is str and item_value:
                message += self._unknown_value_note(item_value, fields)
            self._add(issues, item, "unknown-field", key, message)
        for key in shadowed:
            self._add(issues, item, "unknown-field", key,
                      f"{key!r} is not used: {key} is read from {self.mapping.key(key)!r} (--map/--profile), so "
                      f"this value is left out of the record")

    def _unknown_message(self, key: str) -> str:
        message = self._unknown_messages.get(key)
        if message is None:
            message = f"unknown field {key!r}: kept as metadata, not rendered"
            close = [f for f in RECORD_FIELDS if key.strip().lower() == f]
            close = close or difflib.get_close_matches(key.strip().lower(), RECORD_FIELDS, n=1, cutoff=0.8)
            if close:
                message += f"; did you mean {close[0]!r}? (to read it: --map {close[0]}={key})"
            elif key != key.strip() or " " in key:
                message += "; the name contains spaces"
            if len(self._unknown_messages) < 10_000:
                self._unknown_messages[key] = message
        return message

    def _unknown_value_note(self, text: str, fields: tuple[str | None, str | None, str | None]) -> str:
        for field, value in (("output", fields[2]), ("instruction", fields[0]), ("input", fields[1])):
            if value and text == value:
                return f"; its value equals {field}"
        found = self._scanner.find(text)
        if found is not None:
            return f"; it holds text with markers of format {', '.join(found[0].formats)} (already templated?)"
        return ""

    def _instruction_whitespace(self, issues: list[Issue], item: Item, instruction: str, input: str) -> None:
        hint = f"; the input holds text: {_SWAP_HINT}" if not instruction and input.strip() else ""
        self._required_text(issues, item, "instruction", instruction, "every record needs a task" + hint)

    def _swap_hint(self, problem: Problem, value: dict[str, Any]) -> str:
        """The hint for a missing instruction when the input holds text (none once the option is on)."""
        input = value.get("input")
        if (not self.swap_when_empty and problem.code == "missing-field" and problem.field == self._key["instruction"]
                and type(input) is str and input.strip()):
            return f"; the input holds text: {_SWAP_HINT}"
        return ""

    def _output_whitespace(self, issues: list[Issue], item: Item, output: str) -> None:
        self._required_text(issues, item, "output", output,
                            "the model would learn to answer nothing; fill it in or drop the record")

    def _required_text(self, issues: list[Issue], item: Item, field: str, text: str, why: str) -> None:
        """``empty-instruction`` / ``empty-output`` for an empty or blank field, else its padding."""
        if not text or text.isspace():
            what = "is empty" if not text else f"is only whitespace ({shown(text)})"
            self._add(issues, item, f"empty-{field}", self._key[field], f"{self._label[field]} {what}: {why}")
        else:
            self._surrounding(issues, item, field, text)

    def _input_whitespace(self, issues: list[Issue], item: Item, input: str) -> None:
        if input.isspace():
            self._add(issues, item, WHITESPACE_ONLY_INPUT, self._key["input"],
                      f'{self._label["input"]} is only whitespace ({shown(input)}): it is rendered as an input '
                      f'block; use "" for no input')
        else:
            self._surrounding(issues, item, "input", input)

    def _surrounding(self, issues: list[Issue], item: Item, field: str, text: str) -> None:
        leading, trailing = whitespace_ends(text)
        if not (leading or trailing):
            return
        parts = [f"{side} {shown(ws)}" for side, ws in (("leading", leading), ("trailing", trailing)) if ws]
        self._add(issues, item, SURROUNDING_WHITESPACE, self._key[field],
                  f"{self._label[field]} has {' and '.join(parts)} whitespace: kept as is (promptfmt never "
                  f"strips text); trim it at the source if it is not meant")

    def _scan(self, issues: list[Issue], item: Item, field: str, text: str, checks: int,
              key: str | None = None) -> None:
        """The content checks of ``text``: markers, placeholders, control characters. ``key``: where
        it is in the item when it is not a record field (a message's content)."""
        key, label = (key, key) if key is not None else (self._key[field], self._label[field])
        found = self._scanner.find(text) if checks & MARKER else None
        if found is not None:
            hit, count = found
            more = f" (and {count - 1} other marker(s))" if count > 1 else ""
            self._add(issues, item, "template-marker", key,
                      f"{label} contains {shown(hit.marker, 40)}, a marker of {', '.join(hit.formats)}, at offset "
                      f"{hit.offset}{more}: the text looks templated already, or a model response leaked the "
                      f"template")
        special = self._specials.find(text) if checks & MARKER and self._specials.groups else None
        if special is not None:
            self._add(issues, item, "special-token-text", key,
                      f"{label} contains {shown(special[0].marker, 40)}, a special token of the tokenizer, at offset "
                      f"{special[0].offset}: promptfmt tokenize encodes it as plain text; a tokenizer called on the "
                      "text makes it the control token")
        matches = placeholders(text) if checks & PLACEHOLDER_FLAG else None
        if matches:
            names = list(dict.fromkeys(m.group(0) for m in matches))
            more = f" ({len(matches)} in all: {', '.join(names[:4])})" if len(matches) > 1 else ""
            self._add(issues, item, "placeholder", key,
                      f"{label} contains the unfilled template variable {matches[0].group(0)!r} at offset "
                      f"{matches[0].start()}{more}: substitute it before training")
        control = control_character(text) if checks & CONTROL_FLAG else None
        if control is not None:
            self._add(issues, item, "control-character", key,
                      f"{label} contains {describe_char(control.group(0))} at offset {control.start()}: remove "
                      f"it, or check the encoding the file was written in")

    def duplicate_issue(self, item: Item, code: str, first: int) -> Issue | None:
        """The (not yet counted) issue of a duplicate of record ``first``; None when the check is ignored."""
        if code == "duplicate-record":
            message = f"same instruction, input and output as record {first}: the pair is trained twice"
        else:
            message = (f"same instruction and input as record {first}, but another output: contradictory or "
                       f"alternative answers")
        return self._issue(item, code, "$", message, related=first)

    def _lossless(self, issues: list[Issue], item: Item, fmt: Format, record: Record) -> None:
        try:
            verdict = fmt.check(record)
        except Exception as exc:  # a plugin's bug: report it by name, do not crash
            raise PluginError(getattr(fmt, "name", repr(fmt)), exc) from exc
        for loss in verdict.losses:
            field = self._key.get(loss.field, loss.field)
            self._add(issues, item, "lossy-in-format", field,
                      f"format {fmt.name} cannot render this record losslessly: {loss.message} ({loss.reason.value})")


def clean_fields(value: dict[str, Any]) -> tuple[str, str, str] | None:
    """``(instruction, input, output)`` of a record with nothing for the field checks to report, else None.

    Clean means: the three fields are strings (``input`` may be absent), no other key, instruction
    and output not empty, no field padded with whitespace. The content checks (markers,
    placeholders, control characters) are the `Gate`'s, on the raw line; duplicates are not looked at.
    """
    get = value.get
    instruction, output, input = get("instruction"), get("output"), get("input", "")
    if (
        type(instruction) is str and type(output) is str and type(input) is str
        and len(value) == (3 if "input" in value else 2)
        and instruction and instruction.strip() is instruction
        and output and output.strip() is output
        and (not input or input.strip() is input)
    ):
        return instruction, input, output
    return None


def padded_fields(value: dict[str, Any]) -> tuple[tuple[str, str, str], tuple[str, ...]] | None:
    """For a record `clean_fields` refused: its fields and the codes of its padding warnings, when
    padding is all the field checks find (whitespace around a field, an input of whitespace only);
    else None (a key besides the fields, a field that is not a string, an empty instruction or output).
    Like `clean_fields`, it leaves the content checks to the `Gate`."""
    get = value.get
    instruction, output, input = get("instruction"), get("output"), get("input", "")
    if not (
        type(instruction) is str and type(output) is str and type(input) is str
        and len(value) == (3 if "input" in value else 2)
        and instruction and not instruction.isspace() and output and not output.isspace()
    ):
        return None
    codes = []
    if instruction.strip() is not instruction:
        codes.append(SURROUNDING_WHITESPACE)
    if input and input.strip() is not input:
        codes.append(WHITESPACE_ONLY_INPUT if input.isspace() else SURROUNDING_WHITESPACE)
    if output.strip() is not output:
        codes.append(SURROUNDING_WHITESPACE)
    return (instruction, input, output), tuple(codes)


