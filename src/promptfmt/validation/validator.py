"""Validation: every finding about every record of a dataset, with its code, severity and location.

Two ways in:

* `validate` reads a file (or ``-``, or values already in memory) and returns the `Report`;
* `Validator` checks one `Item` at a time (`Validator.check` gives a `Checked`), for services
  that stream records and need each verdict as they go (``convert`` sends the records with an
  error to quarantine); `Validator.end` gives the report.

The checks and their codes are listed in `promptfmt.validation.issues.CHECKS`. A clean record costs
no pydantic and no regex: each block of JSON Lines is scanned once by a `Gate` (C-speed byte searches)
for the lines that might hold a marker, a placeholder or a control character, the fields are tested
with ``str`` methods, and duplicates are found through 64-bit hashes (`promptfmt.validation.dedup`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import UsageError
from ..format import Format
from ..io import DECODE_ERRORS, INVALID_JSON, UNREADABLE, Block, Item, decode, limits, odd_item, undecodable
from ..models import RECORD_FIELDS
from ..plugins import FormatRegistry, default_registry
from ..records.fields import make_record, not_an_object, problems
from ..records.layouts import conversation_layout
from ..records.mapping import FieldMapping
from .checked import Checked
from .content import ALL_CHECKS, Gate, MarkerScanner, TokenMarkers
from .conversation_checks import ConversationChecks
from .dedup import Duplicates
from .field_checks import FieldChecks, clean_fields, padded_fields
from .issues import CHECKS, DUPLICATE_KEY, ERROR, Issue, duplicate_key_message
from .report import Report
from .tally import IssueCallback, Tally


class ValidateUsageError(UsageError):
    """Options that cannot be used together or at all (an unknown check, the quarantine over the input)."""



class Validator(FieldChecks, ConversationChecks, Tally):
    """Checks items one by one and keeps the counts of a report.

    * ``registry``: the formats whose markers ``template-marker`` looks for (default: every
      loadable plugin), or any iterable of formats;
    * ``format``: a format (or its name) for ``lossy-in-format``;
    * ``mapping`` / ``profile``: where the record fields are read from (`FieldMapping`, a dict
      field -> key, or ``FIELD=KEY`` strings);
    * ``strict``: every warning becomes an error; ``null_as_empty``: null fields count as "";
    * ``swap_when_empty``: a record whose instruction is empty or missing while its input holds text
      is read with that input as its instruction (and no input); other records are left alone, and
      ``swapped`` counts the records read so (docs/architecture.md, "Semantics");
    * ``duplicates``: track duplicate records (a hash table of ~20-40 bytes per distinct prompt);
    * ``ignore``: codes not to report (structural codes cannot be ignored);
    * ``max_issues``: how many issues the report lists (all are counted); ``on_issue`` is called
      for every issue as it is found; ``special_tokens``: a tokenizer's special-token texts (``special-token-text``).
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
        swap_when_empty: bool = False,
        duplicates: bool = True,
        ignore: Iterable[str] = (),
        max_issues: int | None = None,
        source: str = "<items>",
        on_issue: IssueCallback | None = None,
        special_tokens: Iterable[str] = (),
    ) -> None:
        super().__init__(max_issues, on_issue)
        if registry is None:
            registry = default_registry()
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
        self.swap_when_empty = swap_when_empty
        self.source = source
        self._scanner = MarkerScanner(registry)
        self._specials = MarkerScanner([TokenMarkers(tuple(special_tokens))])  # type: ignore[list-item]
        self._gate = Gate(self._scanner, self._specials)
        self._block: Block | None = None  # the JSON Lines block last scanned by the gate ...
        self._suspects: dict[int, int] = {}  # ... and the checks its lines need
        self._duplicates = Duplicates() if duplicates else None
        self._conversations_seen: dict[int, int] | None = {} if duplicates else None
        self._map = None if self.mapping.identity else self.mapping
        self._quick = self._map is None and self.format is None and not duplicates
        # `quick` also settles records whose only findings are padding warnings, when no issue is kept
        # or passed on one by one (it counts them, as `count` would, without building them)
        self._quick_padding = self._quick and not strict and max_issues == 0 and on_issue is None
        self._key = {field: self.mapping.key(field) for field in RECORD_FIELDS}
        self._label = {f: f if k == f else f"{k!r} ({f})" for f, k in self._key.items()}
        # a swapped record's issues name the keys its text came from: its instruction is the input's
        self._swapped_names = ({**self._key, "instruction": self._key["input"], "input": self._key["instruction"]},
                               {**self._label, "instruction": f"{self._key['input']!r} (instruction)",
                                "input": f"{self._key['instruction']!r} (input)"})
        self._unknown_messages: dict[str, str] = {}
        self._severity = {code: (ERROR if strict else check.severity) for code, check in CHECKS.items()}
        self._ended = False

    # -- the per-item entry point ------------------------------------------------------------

    def check(self, item: Item) -> Checked:
        """Every issue of ``item``, and its record's fields when it is a record."""
        self.records += 1
        if item.error is not None:
            issues: list[Issue] = []
            self._add(issues, item, item.code, "$", item.error, column=item.column)
            return self._done(item, issues, None, None)
        if item.duplicates:
            issues = []
            for key in item.duplicates:
                self._add(issues, item, DUPLICATE_KEY, key, duplicate_key_message(key))
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
        if (self.swap_when_empty and (instruction == "" or "instruction" not in value)
                and type(input) is str and not input.isspace() and input):
            return self._check_swapped(item, value, shadowed, input, output)
        if type(instruction) is str and type(output) is str and type(input) is str:
            return self._check_record(item, value, shadowed, instruction, input, output)
        return self._check_broken(item, value, shadowed)

    def _check_swapped(self, item: Item, value: dict[str, Any], shadowed: list[str], instruction: str,
                       output: Any) -> Checked:
        """`check` of a record read with its input as the instruction (``swap_when_empty``)."""
        self.swapped += 1
        view = {"instruction": instruction, **{k: v for k, v in value.items() if k not in ("instruction", "input")}}
        names = self._key, self._label
        self._key, self._label = self._swapped_names
        try:
            if type(output) is str:
                return self._check_record(item, view, shadowed, instruction, "", output)
            return self._check_broken(item, view, shadowed)
        finally:
            self._key, self._label = names

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
        depth, bom = limits.max_depth, b"\xef\xbb\xbf" in block.data
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
            odd = (odd_item(index, number, raw, value, block, depth, bom)  # its tests first inline: no call
                   if bom or len(raw) > 2 * depth or type(value) is dict and raw.count(b'":') != len(value) else None)
            if odd is not None:
                flagged.append(self.check(odd))
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
        self.add_clean(clean)
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
        if block is None or not self._quick or type(value) is not dict or item.duplicates:
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
        layout = conversation_layout(value) if self._map is None else None
        if layout is not None:  # not a record: a conversation, checked as one
            return self._done(item, self._check_conversation(item, value, layout), None, None)
        issues: list[Issue] = []
        for problem in problems(value, null_as_empty=self.null_as_empty, names=self._key):
            self._add(issues, item, problem.code, problem.field, problem.message + self._swap_hint(problem, value))
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

    def _done(
        self, item: Item, issues: list[Issue], fields: tuple[str, str, str] | None, metadata: dict[str, Any] | None
    ) -> Checked:
        return Checked(item, issues, self.settle(issues), fields, metadata)

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
            swapped=self.swapped,
            errors=self.errors,
            warnings=self.warnings,
            counts=dict(self.counts),
            issues=list(self.issues),
            issues_omitted=self.issues_omitted,
            ok=self.errors == 0,
        )


def _registry_of(formats: Iterable[Format]) -> FormatRegistry:
    registry = FormatRegistry()
    for fmt in formats:
        registry.register(fmt, plugin="<given>")
    return registry
