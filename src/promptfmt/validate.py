"""Validation: every finding about every record of a dataset, with its code, severity and location.

Two ways in:

* `validate` reads a file (or ``-``, or values already in memory) and returns the `Report`;
* `Validator` checks one `Item` at a time (`Validator.check` gives a `Checked`), for services
  that stream records and need each verdict as they go (``convert`` sends the records with an
  error to quarantine); `Validator.end` gives the report.

The checks and their codes are listed in `promptfmt.issues.CHECKS`. A clean record costs no pydantic
and no regex: each block of JSON Lines is scanned once by a `Gate` (C-speed byte searches) for the
lines that might hold a marker, a placeholder or a control character, the fields are tested with
``str`` methods, and duplicates are found through 64-bit hashes (`promptfmt.dedup`).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .content import (
    ALL_CHECKS,
    CONTROL_FLAG,
    MARKER,
    PLACEHOLDER_FLAG,
    Gate,
    MarkerScanner,
    control_character,
    describe_char,
    placeholders,
    shown,
    whitespace_ends,
)
from .dedup import Duplicates
from .errors import PluginError, PromptfmtError
from .format import Format
from .io import (
    DECODE_ERRORS,
    INVALID_JSON,
    JSONL,
    STDIN,
    UNREADABLE,
    Block,
    DatasetReader,
    Item,
    QuarantineWriter,
    decode,
    undecodable,
)
from .issues import CHECKS, ERROR, Issue
from .mapping import FieldMapping
from .models import RECORD_FIELDS, Record
from .records import make_record, not_an_object, problems
from .registry import FormatRegistry, load_registry
from .report import Report

IssueCallback = Callable[[Issue], None]
ProgressCallback = Callable[[int, "int | None", "int | None"], None]
SURROUNDING_WHITESPACE, WHITESPACE_ONLY_INPUT = "surrounding-whitespace", "whitespace-only-input"


class ValidateUsageError(PromptfmtError, ValueError):
    """Options that cannot be used together or at all (an unknown check, the quarantine over the input)."""


_SWAP_HINT = "if the task is in input, swap the two with --map instruction=input --map input=instruction"


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


class Validator:
    """Checks items one by one and keeps the counts of a report.

    * ``registry``: the formats whose markers ``template-marker`` looks for (default: every
      loadable plugin), or any iterable of formats;
    * ``format``: a format (or its name) for ``lossy-in-format``;
    * ``mapping`` / ``profile``: where the record fields are read from (`FieldMapping`, a dict
      field -> key, or ``FIELD=KEY`` strings);
    * ``strict``: every warning becomes an error; ``null_as_empty``: null fields count as "";
    * ``duplicates``: track duplicate records (a hash table of ~20-40 bytes per distinct prompt);
    * ``ignore``: codes not to report (structural codes cannot be ignored);
    * ``max_issues``: how many issues the report lists (all are counted); ``on_issue`` is called
      for every issue as it is found.
    """

    def __init__(
        self,
        *,
        registry: FormatRegistry | Iterable[Format] | None = None,
        format: Format | str | None = None,
        mapping: FieldMapping | Mapping[str, str] | Iterable[str] | None = None,
        profile: str | None = None,
        strict: bool = False,
        null_as_empty: bool = False,
        duplicates: bool = True,
        ignore: Iterable[str] = (),
        max_issues: int | None = None,
        source: str = "<items>",
        on_issue: IssueCallback | None = None,
    ) -> None:
        if registry is None:
            registry, _ = load_registry()
        if isinstance(format, str):
            if not isinstance(registry, FormatRegistry):
                registry = _registry_of(registry)
            format = registry.get(format)
        self.format = format
        self.mapping = mapping if isinstance(mapping, FieldMapping) else FieldMapping.build(profile, mapping or ())
        if isinstance(mapping, FieldMapping) and profile is not None:
            raise ValidateUsageError("give either a FieldMapping or a profile, not both")
        self._ignored = frozenset(ignore)
        for code in self._ignored:
            check = CHECKS.get(code)
            if check is None:
                raise ValidateUsageError(f"unknown check {code!r}; the checks are: {', '.join(CHECKS)}")
            if check.structural:
                raise ValidateUsageError(f"{code} cannot be ignored: such an item is not a record at all")
        self.strict = strict
        self.null_as_empty = null_as_empty
        self.max_issues = max_issues
        self.source = source
        self.on_issue = on_issue
        self._scanner = MarkerScanner(registry)
        self._gate = Gate(self._scanner)
        self._block: Block | None = None  # the JSON Lines block last scanned by the gate ...
        self._suspects: dict[int, int] = {}  # ... and the checks its lines need
        self._duplicates = Duplicates() if duplicates else None
        self._map = None if self.mapping.identity else self.mapping
        self._quick = self._map is None and self.format is None and not duplicates
        # `quick` also settles records whose only findings are padding warnings, when no issue is kept
        # or passed on one by one (it counts them, as `count` would, without building them)
        self._quick_padding = self._quick and not strict and max_issues == 0 and on_issue is None
        self._key = {field: self.mapping.key(field) for field in RECORD_FIELDS}
        self._label = {f: f if k == f else f"{k!r} ({f})" for f, k in self._key.items()}
        self._unknown_messages: dict[str, str] = {}
        self._severity = {code: (ERROR if strict else check.severity) for code, check in CHECKS.items()}
        self.records = self.valid = self.invalid = self.clean = 0
        self.errors = self.warnings = 0
        self.counts: dict[str, int] = {}
        self.issues: list[Issue] = []
        self.issues_omitted = 0
        self._ended = False

    # -- the per-item entry point ------------------------------------------------------------

    def check(self, item: Item) -> Checked:
        """Every issue of ``item``, and its record's fields when it is a record."""
        self.records += 1
        if item.error is not None:
            issues: list[Issue] = []
            self._add(issues, item, item.code, "$", item.error, column=item.column)
            return self._done(item, issues, None, None)
        value = item.value
        shadowed: list[str] = []
        if self._map is not None and type(value) is dict:
            value, shadowed = self._map.apply(value)
        if type(value) is not dict:
            issues = []
            problem = not_an_object(value)
            self._add(issues, item, problem.code, problem.field, problem.message)
            return self._done(item, issues, None, None)
        instruction = value.get("instruction")
        output = value.get("output")
        input = value.get("input", "")
        if self.null_as_empty:
            instruction, input, output = ("" if v is None else v for v in (instruction, input, output))
        if type(instruction) is str and type(output) is str and type(input) is str:
            return self._check_record(item, value, shadowed, instruction, input, output)
        return self._check_broken(item, value, shadowed)

    def check_block(self, block: Block, first_index: int | None = None) -> list[Checked]:
        """Check every line of a JSON Lines `Block`; returns the `Checked` of the records with issues.

        The same verdicts as `check` on each line's item (a test proves it), faster: a clean record
        (three plain strings, no padding, no key besides the fields, not flagged by the block scan)
        is counted without creating an `Item` or a `Checked`; anything else goes through `check`.
        Items are numbered from ``first_index`` (default: the number of items checked so far).
        """
        if block.error is not None:
            index = self.records if first_index is None else first_index
            return [self.check(Item(index, block.first_line, error=block.error, code=UNREADABLE))]
        if block is not self._block:
            self._block, self._suspects = block, self._gate.lines(block)
        suspects = self._suspects
        fast = self._map is None and self.format is None
        duplicates = self._duplicates
        see = duplicates.see if duplicates is not None else None
        flagged: list[Checked] = []
        index = self.records if first_index is None else first_index
        number = block.first_line - 1
        clean = 0  # records counted here without `check`: added to the totals at the end
        for raw in block.lines():
            number += 1
            try:
                value = decode(raw)
            except DECODE_ERRORS:
                if raw.strip():
                    checked = self.check(undecodable(index, number, raw))
                    if checked.issues:
                        flagged.append(checked)
                    index += 1
                continue
            if fast and type(value) is dict and number not in suspects:
                fields = clean_fields(value)
                if fields is not None:
                    duplicate = see(index, *fields, number) if see is not None else None
                    if duplicate is None:
                        clean += 1
                    else:  # its only issue: no need to check it again
                        flagged.append(self._only_duplicate(Item(index, number, value, None, None, INVALID_JSON,
                                                                 None, block), duplicate, fields))
                    index += 1
                    continue
            checked = self.check(Item(index, number, value, None, None, INVALID_JSON, None, block))
            if checked.issues:
                flagged.append(checked)
            index += 1
        self.records += clean
        self.valid += clean
        self.clean += clean
        return flagged

    def quick(self, item: Item) -> tuple[str, str, str] | None:
        """The fields of ``item`` when the cheap test of `check_block` proves it clean, else None.

        For services that stream JSON Lines items and want a clean record's fields without the cost
        of `check`: a clean item is counted as checked, and None means "call `check`" (for any item
        that is not a plain record from a JSON Lines block, and always when duplicates are tracked,
        a field mapping or a format is set). With ``max_issues=0`` and no ``on_issue`` (nothing
        keeps issues), a record whose only findings are padding warnings (``surrounding-whitespace``,
        ``whitespace-only-input``) is settled too: its warnings are counted, its fields returned.
        """
        block = item.block
        value = item.value
        if block is None or not self._quick or type(value) is not dict:
            return None
        if block is not self._block:
            self._block, self._suspects = block, self._gate.lines(block)
        if item.line in self._suspects:
            return None
        fields = clean_fields(value)
        if fields is not None:
            self.records += 1
            self.valid += 1
            self.clean += 1
            return fields
        padded = padded_fields(value) if self._quick_padding else None
        if padded is None:
            return None
        fields, codes = padded
        counts, warned = self.counts, 0
        for code in codes:
            if code not in self._ignored:
                counts[code] = counts.get(code, 0) + 1
                warned += 1
        self.warnings += warned
        self.issues_omitted += warned
        self.records += 1
        self.valid += 1
        self.clean += not warned
        return fields

    def expect(self, records: int) -> None:
        """A hint: about ``records`` records are coming (sizes the duplicate table once, up front)."""
        if self._duplicates is not None:
            self._duplicates.reserve(records)

    def _only_duplicate(self, item: Item, duplicate: tuple[str, int], fields: tuple[str, str, str]) -> Checked:
        self.records += 1
        issues: list[Issue] = []
        self._add_issue(issues, self.duplicate_issue(item, *duplicate))
        return self._done(item, issues, fields, {})

    def _check_record(
        self, item: Item, value: dict[str, Any], shadowed: list[str], instruction: str, input: str, output: str
    ) -> Checked:
        issues: list[Issue] = []
        extra = len(value) != (3 if "input" in value else 2)
        if extra or shadowed:
            self._unknown_fields(issues, item, value, shadowed, (instruction, input, output))
        if not instruction or instruction.strip() is not instruction:
            self._instruction_whitespace(issues, item, instruction, input)
        if not output or output.strip() is not output:
            self._output_whitespace(issues, item, output)
        if input and input.strip() is not input:
            self._input_whitespace(issues, item, input)
        block = item.block
        if block is None:
            checks = ALL_CHECKS
        else:
            if block is not self._block:
                self._block, self._suspects = block, self._gate.lines(block)
            checks = self._suspects.get(item.line, 0)  # type: ignore[arg-type]
        if checks:
            for field, text in (("instruction", instruction), ("input", input), ("output", output)):
                if text:
                    self._scan(issues, item, field, text, checks)
        metadata = {k: v for k, v in value.items() if k not in RECORD_FIELDS} if extra else {}
        record = None
        if self.format is not None:
            record = make_record(instruction, input, output, metadata)
            self._lossless(issues, item, self.format, record)
        if self._duplicates is not None and not any(issue.severity == ERROR for issue in issues):
            duplicate = self._duplicates.see(item.index, instruction, input, output, item.line, not issues)
            if duplicate is not None:  # duplicates are judged among valid records only, last
                self._add_issue(issues, self.duplicate_issue(item, *duplicate))
        checked = self._done(item, issues, (instruction, input, output), metadata)
        checked._record = record
        return checked

    def _check_broken(self, item: Item, value: dict[str, Any], shadowed: list[str]) -> Checked:
        issues: list[Issue] = []
        for problem in problems(value, null_as_empty=self.null_as_empty, names=self._key):
            self._add(issues, item, problem.code, problem.field, problem.message)
        fields = tuple(value.get(f) if type(value.get(f)) is str else None for f in RECORD_FIELDS)
        self._unknown_fields(issues, item, value, shadowed, fields)  # type: ignore[arg-type]
        instruction, input, output = fields
        if instruction is not None:
            self._instruction_whitespace(issues, item, instruction, input or "")
        if output is not None:
            self._output_whitespace(issues, item, output)
        if input:
            self._input_whitespace(issues, item, input)
        for field, text in zip(RECORD_FIELDS, fields):
            if text:
                self._scan(issues, item, field, text, ALL_CHECKS)
        return self._done(item, issues, None, None)

    # -- the checks ----------------------------------------------------------------------------

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
                      f"{key!r} is not used: {key} is read from {self._key[key]!r} (--map/--profile), so this "
                      f"value is left out of the record")

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

    def _scan(self, issues: list[Issue], item: Item, field: str, text: str, checks: int) -> None:
        key, label = self._key[field], self._label[field]
        found = self._scanner.find(text) if checks & MARKER else None
        if found is not None:
            hit, count = found
            more = f" (and {count - 1} other marker(s))" if count > 1 else ""
            self._add(issues, item, "template-marker", key,
                      f"{label} contains {shown(hit.marker, 40)}, a marker of {', '.join(hit.formats)}, at offset "
                      f"{hit.offset}{more}: the text looks templated already, or a model response leaked the "
                      f"template")
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

    # -- bookkeeping -------------------------------------------------------------------------

    def _issue(
        self, item: Item, code: str, field: str, message: str, column: int | None = None, related: int | None = None,
    ) -> Issue | None:
        if code in self._ignored:
            return None
        return Issue(code, self._severity[code], item.index, item.line, field, message, column, related)

    def _add(
        self, issues: list[Issue], item: Item, code: str, field: str, message: str,
        column: int | None = None, related: int | None = None,
    ) -> None:
        self._add_issue(issues, self._issue(item, code, field, message, column, related))

    def _add_issue(self, issues: list[Issue], issue: Issue | None) -> None:
        if issue is not None:
            issues.append(issue)
            self.count(issue)

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

    def _done(
        self, item: Item, issues: list[Issue], fields: tuple[str, str, str] | None, metadata: dict[str, Any] | None
    ) -> Checked:
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
        return Checked(item, issues, ok, fields, metadata)

    def end(self) -> Report:
        """The final report; adds ``empty-dataset`` when no item at all was checked."""
        if not self._ended:
            self._ended = True
            if self.records == 0 and "empty-dataset" not in self._ignored:
                self.count(Issue("empty-dataset", self._severity["empty-dataset"], None, None, "$",
                                  "the file holds no records: is it the right file?"))
        return self.report()

    def report(self) -> Report:
        """The report of what was checked so far."""
        return Report.model_construct(
            source=self.source,
            format=None if self.format is None else self.format.name,
            mapping=dict(self.mapping.sources),
            strict=self.strict,
            records=self.records,
            valid=self.valid,
            invalid=self.invalid,
            clean=self.clean,
            errors=self.errors,
            warnings=self.warnings,
            counts=dict(self.counts),
            issues=list(self.issues),
            issues_omitted=self.issues_omitted,
            ok=self.errors == 0,
        )


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


def _registry_of(formats: Iterable[Format]) -> FormatRegistry:
    registry = FormatRegistry()
    for fmt in formats:
        registry.register(fmt, plugin="<given>")
    return registry


def validate(
    source: str | os.PathLike[str] | Iterable[Any],
    *,
    stdin: Any = None,
    quarantine: str | os.PathLike[str] | None = None,
    on_progress: ProgressCallback | None = None,
    progress_every: int = 1024,
    workers: int = 1,
    **options: Any,
) -> Report:
    """Validate a dataset and return its `Report`.

    ``source`` is a path (JSON array or JSON Lines, gzip or not), ``-`` for ``stdin`` (default: the
    process's standard input), or an iterable of values (or `Item` objects) already in memory.
    ``quarantine`` names a JSON Lines file that receives every item with an error, unchanged, with
    its issues. ``on_progress(records, position, size)`` is called every ``progress_every`` items
    (``position`` and ``size`` in bytes of the file, None when unknown). The other ``options`` are
    those of `Validator` (``format``, ``mapping``, ``profile``, ``strict``, ``null_as_empty``,
    ``duplicates``, ``ignore``, ``max_issues``, ``registry``, ``on_issue``).

    ``workers`` > 1 validates a plain JSON Lines file in that many processes (cut at line ends), with
    the same report; other inputs, and ``strict`` with duplicates, are validated in this process.

    Raises `promptfmt.errors.DataError` when the file cannot be opened at all, and
    `ValidateUsageError` or `promptfmt.mapping.MappingError` (both ``ValueError``) for unusable options; problems inside the
    file are issues in the report, never exceptions.
    """
    reader: DatasetReader | None = None
    if isinstance(source, (str, os.PathLike)):
        if quarantine is not None and os.fspath(source) != STDIN and _same_file(source, quarantine):
            raise ValidateUsageError(f"the quarantine file {os.fspath(quarantine)!r} is the input file; choose another name")
        reader = DatasetReader(source, stdin)
        items: Iterable[Item] = reader
        options.setdefault("source", reader.name)
    else:
        items = _items_of(source)
    try:
        if options.get("registry") is None:
            options["registry"], _ = load_registry()
        validator = Validator(**options)
        ranges = _ranges(reader, workers, options) if reader is not None else []
    except BaseException:
        if reader is not None:
            reader.close()
        raise
    writer = QuarantineWriter(quarantine) if quarantine is not None else None
    try:
        if len(ranges) > 1:
            from .validate_parts import validate_in_parts  # multiprocessing: imported when used

            assert reader is not None
            reader.close()
            worker_options = {k: v for k, v in options.items() if k not in ("on_issue", "max_issues")}
            validate_in_parts(reader.path, ranges, validator, worker_options, writer, on_progress)
        elif reader is not None and reader.layout == JSONL:
            _run_blocks(validator, reader, writer, on_progress)
        else:
            _run_items(validator, items, reader, writer, on_progress, progress_every)
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    finally:
        if reader is not None:
            reader.close()
    if writer is not None:
        writer.close()
    return validator.end()


def _ranges(reader: DatasetReader, workers: int, options: dict[str, Any]) -> list[tuple[int, int]]:
    """The byte ranges to validate in parallel (none when the file or the options do not allow it)."""
    if workers < 2 or (options.get("strict") and options.get("duplicates", True)):
        return []
    from .parallel import can_split, ranges  # the same cutting as convert --workers

    if can_split(reader.path) is not None:
        return []
    return ranges(reader.path, workers)


def _run_blocks(
    validator: Validator, reader: DatasetReader, writer: QuarantineWriter | None, on_progress: ProgressCallback | None
) -> None:
    for number, block in enumerate(reader.blocks()):
        if number == 0 and reader.size:
            validator.expect(reader.size * max(len(block.lines()), 1) // max(len(block.data), 1))
        for checked in validator.check_block(block):
            if writer is not None and not checked.ok:
                writer.write(checked.item, [issue.as_dict() for issue in checked.issues])
        if on_progress is not None:
            on_progress(validator.records, reader.position, reader.size)


def _run_items(
    validator: Validator, items: Iterable[Item], reader: DatasetReader | None, writer: QuarantineWriter | None,
    on_progress: ProgressCallback | None, every: int,
) -> None:
    for item in items:
        checked = validator.check(item)
        if writer is not None and not checked.ok:
            writer.write(item, [issue.as_dict() for issue in checked.issues])
        if on_progress is not None and validator.records % every == 0:
            on_progress(validator.records, reader.position if reader else None, reader.size if reader else None)


def _items_of(values: Iterable[Any]) -> Iterable[Item]:
    for index, value in enumerate(values):
        yield value if isinstance(value, Item) else Item(index, None, value)


def _same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)
