"""What the commands that read a dataset and write another (convert, tokenize) share: the checks of
OUT and --quarantine, the writing scene (output, quarantine, progress line) and the summary's output."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import OutputError
from ..io import (
    ARROW_OUT,
    JSONL_OUT,
    STDOUT,
    DatasetReader,
    Item,
    QuarantineWriter,
    open_output,
    output_format,
    refuse_overwrite,
    require_input,
)
from ..validation.issues import Issue
from .progress import Progress
from .shared import data_out, warn

SHOWN_QUARANTINED = 20


def check_options(
    file: str, output: str, quarantine: str | None, as_json: bool, asked: str | None, json_array: bool,
) -> str:
    """The kind of output to write, once the options are known to fit together."""
    require_input(file)
    kind = output_format(output, asked, json_array=json_array)
    if quarantine is not None and output_format(quarantine, option="--quarantine") != JSONL_OUT:
        raise OutputError(f"--quarantine {quarantine}: the quarantine is JSON Lines; give it a .jsonl name")
    if as_json and output == STDOUT:
        raise OutputError("--json prints the summary on stdout, which -o - already uses for the data; write OUT to a file")
    if quarantine == STDOUT:
        raise OutputError("the quarantine must be a file, not -")
    if kind == ARROW_OUT:
        refuse_overwrite(file, [("--output", output)], folders=True)
        refuse_overwrite(file, [("--quarantine", quarantine)])
    else:
        refuse_overwrite(file, [("--output", output), ("--quarantine", quarantine)])
    return kind


@dataclass(frozen=True)
class Writing:
    """The scene of one run: where output items go, where refused ones go, and the progress line."""

    sink: Any
    refuse: Callable[[Item, list[Issue]], None]
    progress: Progress
    reader: DatasetReader

    def update(self, read: int) -> None:
        self.progress.update(read, self.reader.position, self.reader.size)


@contextmanager
def writing(reader: DatasetReader, output: str, kind: str, quarantine: str | None, quiet: bool,
            doing: str) -> Iterator[Writing]:
    """OUT opened atomically, the quarantine (a file, or the first refused items listed on stderr) and
    the progress line (``doing`` the reader's file), closed in order whatever happens."""
    progress = Progress(f"{doing} {reader.name}", enabled=False if quiet else None)
    listed = ListedQuarantine(reader.name, reader.unit)
    try:
        with quarantine_file(quarantine) as keep, open_output(output, kind=kind, stdout=data_out().buffer) as sink:
            def refuse(item: Item, issues: list[Issue]) -> None:
                progress.clear()
                (keep or listed)(item, issues)

            yield Writing(sink, refuse, progress, reader)
    finally:
        progress.close()
        listed.finish(quarantine)


@contextmanager
def quarantine_file(path: str | None) -> Iterator[Any]:
    if path is None:
        yield None
        return
    with QuarantineWriter(path) as writer:
        yield lambda item, issues: writer.write(item, [issue.as_dict() for issue in issues])


class ListedQuarantine:
    """Without --quarantine: the first refused items are listed on stderr, the rest counted."""

    def __init__(self, source: str, unit: str) -> None:
        self.source = source
        self.unit = unit
        self.count = 0

    def __call__(self, item: Item, issues: list[Issue]) -> None:
        self.count += 1
        if self.count <= SHOWN_QUARANTINED:
            for issue in issues:
                warn(issue.format(self.source, self.unit))

    def finish(self, quarantine: str | None) -> None:
        if self.count > SHOWN_QUARANTINED:
            warn(f"... and {self.count - SHOWN_QUARANTINED} more item(s) not converted.")
        if self.count and quarantine is None:
            warn("Pass --quarantine FILE to keep the items that were not converted, with their reasons.")


def print_summary(document: dict[str, Any]) -> None:
    """A run's summary as one indented JSON document on stdout (``--json``)."""
    data_out().write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
    data_out().flush()


def counts(counter: Any) -> str:
    """``code n, code n`` by count, largest first."""
    return ", ".join(f"{code} {count:,}" for code, count in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))
