"""``promptfmt validate``: every problem of a dataset, located, before a training run finds it.

The library (`promptfmt.validation`) decides; this module reads the options and presents the report:
one line per issue (``FILE:LINE: record N: field: code: message``, capped by ``--max-issues``; a
warning repeated on one key is summarised after its first `FOLD_AFTER` lines) and a summary table, or one JSON document (``--json``) that follows ``schemas/report.schema.json``.
Exit codes: 0 without errors, 1 with errors, 2 for usage errors, 3 when a plugin fails.
"""

from __future__ import annotations

import json
from typing import TextIO

import orjson
import typer

from ...errors import OutputError
from ...io import STDIN, Source, input_unit, refuse_overwrite, require_input
from ...io.ranges import auto_workers
from ...records.mapping import FieldMapping
from ...tokens import load_tokenizer
from ...validation import CHECKS, Issue, Report
from ...validation import validate as run
from ...validation.issues import ERROR, located, one_line
from ...validation.report import issue_json
from ..progress import Progress
from ..shared import (
    DATASET_HELP,
    EXIT_DATA,
    FORMAT_FILE_OPTION,
    MAP_OPTION,
    PROFILE_OPTION,
    QUIET_OPTION,
    SWAP_OPTION,
    data_out,
    load_format,
    load_formats,
    parse_workers,
    plugin_command,
    terminated_as_interrupt,
    warn,
)

HUMAN_MAX_ISSUES = 200
FOLD_AFTER = 3  # a warning of one code on one key is listed this many times, then only counted
AUTO_MIN_BYTES = 32 << 20  # below this, forking costs more than it saves
AUTO_MAX_WORKERS = 4

_CHECKS_HELP = "; ".join(f"{c.code} ({c.severity})" for c in CHECKS.values())
def validate(
    file: str = typer.Argument(..., help=DATASET_HELP),
    format_name: str | None = typer.Option(
        None, "--format", "-f", help="Also report records this format cannot render losslessly (lossy-in-format)."
    ),
    maps: list[str] = MAP_OPTION,
    profile: str | None = PROFILE_OPTION,
    swap_when_empty: bool = SWAP_OPTION,
    strict: bool = typer.Option(False, "--strict", help="Count every warning as an error (exit 1)."),
    null_as_empty: bool = typer.Option(False, "--null-as-empty", help='Treat null in a field as "" instead of wrong-type.'),
    no_duplicates: bool = typer.Option(
        False, "--no-duplicates", help="Do not look for duplicates (saves ~40 MB per million records)."
    ),
    ignore: list[str] = typer.Option([], "--ignore", metavar="CODE", help=f"Do not report this check (repeatable). Checks: {_CHECKS_HELP}."),
    max_issues: int | None = typer.Option(
        None, "--max-issues", min=0,
        help=f"List at most this many issues (default {HUMAN_MAX_ISSUES}; --json: all). The summary counts all. "
        f"A warning of one code on one key is listed for its first {FOLD_AFTER} records, then summarised in one line.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON report (schemas/report.schema.json) on stdout."),
    quarantine: str | None = typer.Option(
        None, "--quarantine", metavar="FILE",
        help="Write every record with an error, unchanged, with its issues, to this JSON Lines file.",
    ),
    workers: str = typer.Option(
        "auto", "--workers", "-w", metavar="N|auto",
        help="Validate a plain JSON Lines file in N processes (same report). auto: one per CPU (at most "
        f"{AUTO_MAX_WORKERS}) for files over {AUTO_MIN_BYTES >> 20} MiB, else 1.",
    ),
    tokenizer: str | None = typer.Option(
        None, "--tokenizer", "-t", metavar="PATH",
        help="Also report text holding a special token of this tokenizer (special-token-text): a tokenizer.json, its "
        "folder, or a tiktoken BPE file.",
    ),
    quiet: bool = QUIET_OPTION,
    format_files: list[str] = FORMAT_FILE_OPTION,
) -> None:
    """Check a dataset: JSON syntax, record schema, empty and padded fields, duplicates, templated text.

    Prints FILE:LINE: record N: field: code: message for each issue (a warning repeated on one key:
    its first 3, then one summary line), then counts per code.
    Exit 0 when there is no error, 1 when there is, 2 for usage errors.
    """
    _check_paths(file, quarantine)
    processes = _processes(file, workers)
    mapping = FieldMapping.build(profile, maps)
    fmt = load_format(format_name, format_files) if format_name else None
    registry, _ = load_formats(format_files, report_failures=fmt is None)
    special_tokens = tuple(load_tokenizer(tokenizer).special) if tokenizer is not None else ()

    source = Source(file).name
    out = data_out()
    limit = max_issues if max_issues is not None else (None if as_json else HUMAN_MAX_ISSUES)
    progress = Progress(f"validating {source}", enabled=False if quiet else None)
    printer = _JsonIssues(out, limit) if as_json else _HumanIssues(out, source, limit, progress, input_unit(file))
    try:
        with terminated_as_interrupt():  # the quarantine's temporary file is removed, workers stopped
            report = run(
                file, registry=registry, format=fmt, mapping=mapping, strict=strict, null_as_empty=null_as_empty,
                swap_when_empty=swap_when_empty,
                duplicates=not no_duplicates, ignore=ignore, max_issues=0, quarantine=quarantine,
                special_tokens=special_tokens,
                on_issue=printer.issue, on_progress=progress.update, workers=processes,
            )
    finally:
        progress.close()
    printer.finish(report)
    if quarantine is not None:
        warn(f"{report.invalid} record(s) with errors written to {quarantine}")
    if not report.ok:
        raise typer.Exit(EXIT_DATA)


def _check_paths(file: str, quarantine: str | None) -> None:
    require_input(file)
    if quarantine == STDIN:
        raise OutputError("the quarantine must be a file, not -")
    refuse_overwrite(file, [("--quarantine", quarantine)])


def _processes(file: str, workers: str) -> int:
    asked = parse_workers(workers)
    if asked is None:
        return auto_workers(file, min_bytes=AUTO_MIN_BYTES, most=AUTO_MAX_WORKERS)
    return asked


class _HumanIssues:
    """One line per issue (up to ``limit``; a warning repeated on one key only its first `FOLD_AFTER`
    times, then summarised by `_Repeats`), then the summary table and the totals."""

    def __init__(self, out: TextIO, source: str, limit: int | None, progress: Progress, unit: str) -> None:
        self.out, self.source, self.limit, self.progress, self.unit = out, source, limit, progress, unit
        self.shown = 0
        self.total = 0
        self.repeats = _Repeats(source, unit)

    def issue(self, issue: Issue) -> None:
        self.total += 1
        if issue.severity != ERROR and self.repeats.fold(issue):
            return
        if self.limit is None or self.shown < self.limit:
            self.progress.clear()
            self.out.write(issue.format(self.source, self.unit) + "\n")
            self.shown += 1

    def finish(self, report: Report) -> None:
        write = self.out.write
        write(self.repeats.summary())
        if self.total > self.shown + self.repeats.folded:
            write(f"... {self.total - self.shown - self.repeats.folded} more issue(s) not listed (--max-issues "
                  f"{self.limit}; --json lists them all). The summary below counts every issue.\n")
        if self.total:
            write("\n" + summary_table(report))
        write(totals(report) + "\n")


MAX_REPEATS = 10_000  # keys tracked; past them (a key per record?) warnings are listed as they come


class _Repeat:
    __slots__ = ("issues", "records", "last", "first")

    def __init__(self) -> None:
        self.issues = self.records = 0
        self.last: int | None = -1
        self.first: list[str] = []


class _Repeats:
    """Warnings of one code on one key: one per record on a whole file (an extra column) would drown
    the report, so after the first `FOLD_AFTER` they are counted and summarised in one line each."""

    def __init__(self, source: str, unit: str) -> None:
        self.source = source
        self.unit = unit
        self.repeats: dict[tuple[str, str], _Repeat] = {}
        self.folded = 0

    def fold(self, issue: Issue) -> bool:
        """Count ``issue``; whether it is folded into its summary line rather than listed."""
        key = (issue.code, issue.field)
        repeat = self.repeats.get(key)
        if repeat is None:
            if len(self.repeats) >= MAX_REPEATS:
                return False
            repeat = self.repeats[key] = _Repeat()
        repeat.issues += 1
        if issue.record != repeat.last or issue.record is None:
            repeat.records += 1
            repeat.last = issue.record
        if repeat.issues <= FOLD_AFTER:
            where = located(self.source, issue.line, self.unit) if issue.line is not None else f"record {issue.record}"
            repeat.first.append(where)
            return False
        self.folded += 1
        return True

    def summary(self) -> str:
        lines = []
        for (code, field), repeat in self.repeats.items():
            if repeat.issues <= FOLD_AFTER:
                continue
            on = "the item ($)" if field == "$" else "key " + one_line(json.dumps(field, ensure_ascii=False))
            count = (f"{repeat.records:,} records" if repeat.records == repeat.issues
                     else f"{repeat.issues:,} issues in {repeat.records:,} records")
            lines.append(f"{code} on {on}: {count} (first: {', '.join(repeat.first)})\n")
        if not lines:
            return ""
        return (f"\nRepeated warnings, each listed {FOLD_AFTER} times above (--json lists every one):\n"
                + "".join(lines))


def summary_table(report: Report) -> str:
    rows = report.summary()
    width = max(len("code"), *(len(code) for code, _, _ in rows))
    lines = [f"{'code':<{width}}  {'severity':<8}  {'count':>7}"]
    lines += [f"{code:<{width}}  {severity:<8}  {count:>7,}" for code, severity, count in rows]
    return "\n".join(lines) + "\n\n"


def totals(report: Report) -> str:
    swapped = (f"\n{report.swapped:,} record(s) read with their input as the instruction (--swap-when-empty)."
               if report.swapped else "")
    if not report.errors and not report.warnings:
        return f"{report.source}: {report.records:,} record(s), no issues.{swapped}"
    verdict = "FAILED" if not report.ok else "passed with warnings"
    return (
        f"{report.source}: {report.records:,} record(s): {report.valid:,} valid, {report.invalid:,} with errors, "
        f"{report.clean:,} without any issue; {report.errors:,} error(s), {report.warnings:,} warning(s). "
        f"{verdict}.{swapped}"
    )


class _JsonIssues:
    """Streams the report as one JSON document: the issues first (as found), then the totals."""

    def __init__(self, out: TextIO, limit: int | None) -> None:
        self.out, self.limit = out, limit
        self.shown = 0
        self.total = 0
        self.out.write('{"issues":[')

    def issue(self, issue: Issue) -> None:
        self.total += 1
        if self.limit is None or self.shown < self.limit:
            self.out.write(("\n" if self.shown == 0 else ",\n") + issue_json(issue).decode("utf-8"))
            self.shown += 1

    def finish(self, report: Report) -> None:
        rest = report.as_dict()
        del rest["issues"]
        rest["issues_omitted"] = self.total - self.shown
        members = orjson.dumps(rest, option=orjson.OPT_INDENT_2).decode("utf-8")
        self.out.write("\n]," + members[1:] + "\n")  # the other members, after the '{'


def register(app: typer.Typer) -> None:
    app.command("validate")(plugin_command(validate))
