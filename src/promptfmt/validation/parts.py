"""Validating one JSON Lines file in several processes, with exactly the report of one process.

The file is cut at line ends into one byte range per process (`promptfmt.io.ranges.ranges`). This
process validates the first range itself; each other range goes to a worker of the
`promptfmt.pool.WorkerPool` (forked: Python's string hashes agree because the hash secret is
inherited). A worker checks everything but duplicates: for each record without an error it sends
back the record's two 64-bit hashes, and this process runs them through its own duplicate table,
in file order. Indexes and line numbers are counted from the start of each range and shifted once
the ranges before it are known; issues are merged in file order. A property test proves the result
equal to the one-process report. ``--strict`` with duplicates stays in one process (a duplicate
would then be an error, changing which records are quarantined).

Workers keep everything in memory (nothing of theirs is on disk); the run removes the part folders
that convert runs killed outright left next to the quarantine (`promptfmt.scratch.sweep`).
"""

from __future__ import annotations

import heapq
import os
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.sharedctypes import Synchronized
from typing import Any, Union

from ..io import Item, QuarantineWriter, blocks_of
from ..io.ranges import open_range
from ..pool import WorkerPool
from ..scratch import sweep
from .issues import Issue
from .validator import Validator

Progress = Union[Callable[[int], None], "Synchronized[int]", None]  # a callback, or a counter the parent reads
ProgressCallback = Callable[[int, "int | None", "int | None"], None]


@dataclass
class _Candidates:
    """Records of a range that may repeat earlier ones: where they are, their hashes, whether clean."""

    indexes: array = field(default_factory=lambda: array("q"))
    lines: array = field(default_factory=lambda: array("q"))
    prompts: array = field(default_factory=lambda: array("q"))
    outputs: array = field(default_factory=lambda: array("q"))
    clean: array = field(default_factory=lambda: array("b"))

    def see(self, index: int, instruction: str, input: str, output: str, line: int | None = None,
            clean: bool = True) -> None:
        """Stands in for `promptfmt.validation.dedup.Duplicates.see` in a worker: remember, judge nothing."""
        self.indexes.append(index)
        self.lines.append(line or 0)
        self.prompts.append(hash((instruction, input)) or 1)
        self.outputs.append(hash(output))
        self.clean.append(clean)


@dataclass
class _Part:
    """What validating one range gave, numbered from the start of the range."""

    records: int = 0
    lines: int = 0
    valid: int = 0
    invalid: int = 0
    clean: int = 0
    swapped: int = 0
    issues: list[Issue] = field(default_factory=list)
    quarantine: list[tuple[Item, list[dict[str, Any]]]] = field(default_factory=list)
    candidates: _Candidates = field(default_factory=_Candidates)


def _validate_range(path: str, start: int, stop: int, options: dict[str, Any], keep_items: bool,
                    progress: Progress = None) -> _Part:
    validator = Validator(**{**options, "duplicates": False, "max_issues": None, "on_issue": None})
    candidates = validator._duplicates = _Candidates()  # type: ignore[assignment]
    part = _Part(candidates=candidates)
    with open_range(path, start, stop) as stream:
        for block in blocks_of(stream, strip_bom=start == 0):
            for checked in validator.check_block(block):
                if keep_items and not checked.ok:
                    part.quarantine.append((checked.item, [issue.as_dict() for issue in checked.issues]))
            part.lines = block.first_line - 1 + block.line_ends()
            if callable(progress):
                progress(validator.records)
            elif progress is not None:  # a shared counter the parent reads
                progress.value = validator.records
    part.records, part.valid, part.invalid, part.clean, part.swapped = (
        validator.records, validator.valid, validator.invalid, validator.clean, validator.swapped)
    part.issues = validator.issues
    return part


def validate_in_parts(
    path: str,
    ranges: list[tuple[int, int]],
    validator: Validator,
    options: dict[str, Any],
    writer: QuarantineWriter | None,
    on_progress: ProgressCallback | None,
) -> None:
    """Validate ``path`` cut into ``ranges``; ``validator`` ends up holding the report of the whole file."""
    size = os.path.getsize(path)
    keep = writer is not None
    if writer is not None:
        sweep(str(writer.path.parent))
    with WorkerPool[_Part]() as pool:
        counters = [pool.context.Value("q", 0, lock=False) for _ in ranges[1:]]
        for (start, stop), counter in zip(ranges[1:], counters):
            pool.start(_validate_range, path, start, stop, options, keep, counter)

        def tick(records: int = 0) -> None:
            if on_progress is not None:
                on_progress(records + sum(counter.value for counter in counters), None, size)

        first = _validate_range(path, *ranges[0], options, keep, tick)
        validator.expect(len(first.candidates.indexes) * len(ranges))
        shift = _merge(validator, first, writer, (0, 0))
        del first
        for part in pool.results(lambda: tick(validator.records)):
            shift = _merge(validator, part, writer, shift)
            del part


def _merge(validator: Validator, part: _Part, writer: QuarantineWriter | None, shift: tuple[int, int]) -> tuple[int, int]:
    """Count one part (the parts come in file order) as one run would: its numbers shifted by the
    (items, lines) before it, its duplicates judged against everything before. Returns the next shift."""
    index_before, line_before = shift
    for issue in part.issues:
        if issue.record is not None:
            issue.record += index_before
        if issue.line is not None:
            issue.line += line_before
    if writer is not None:
        for item, issues in part.quarantine:
            item.index += index_before
            item.line = None if item.line is None else item.line + line_before
            writer.write(item, [{**issue, "record": item.index, "line": item.line} for issue in issues])
    validator.merge(part)
    duplicates = _judge_duplicates(validator, part.candidates, index_before, line_before)
    # In file order; a record's duplicate issue comes after its other issues (merge keeps ties in order).
    for issue in heapq.merge(part.issues, duplicates, key=_record_of):
        validator.count(issue)
    return index_before + part.records, line_before + part.lines


def _record_of(issue: Issue) -> int:
    return -1 if issue.record is None else issue.record


def _judge_duplicates(validator: Validator, candidates: _Candidates, index_before: int,
                      line_before: int) -> list[Issue]:
    table = validator._duplicates
    if table is None:
        return []
    found: list[Issue] = []
    see = table.see_hashes
    for index, line, prompt, output, clean in zip(candidates.indexes, candidates.lines, candidates.prompts,
                                                  candidates.outputs, candidates.clean):
        duplicate = see(index + index_before, prompt, output)
        if duplicate is None:
            continue
        issue = validator.duplicate_issue(Item(index + index_before, line + line_before), *duplicate)
        if issue is not None:
            found.append(issue)
            if clean:
                validator.clean -= 1
    return found
