"""Reading CSV and TSV files (told by their extension: ``.csv``, ``.tsv``, gzip-compressed or not).

The first row names the columns; every other row is an item whose keys are those names and whose
values are the cells, always as text (``""`` for an empty cell: CSV has neither numbers nor null),
so that nothing is guessed. Cells may span lines (quoted); ``Item.line`` is the line where the row
starts. A row with another number of cells than the header is an ``invalid-csv`` error item and the
reading goes on; text that is not UTF-8 ends it with one such item. A row longer than
``--max-record-mb`` ends it with one ``too-large`` item, before more than that bound is held (a file
without line ends, or a quote left open, is read in chunks, never as one line).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import IO

from ..errors import DataError
from .items import IO_ERRORS, TOO_LARGE, Item, Source, unreadable_item
from .limits import limits

CSV = "csv"
INVALID_CSV = "invalid-csv"
DELIMITERS = {".csv": ",", ".tsv": "\t"}
_CHUNK = 1 << 20  # bytes read at a time


def csv_delimiter(path: str) -> str | None:
    """The delimiter a file's extension announces (``.csv``, ``.tsv``, with ``.gz`` or not), else None."""
    name = path.lower().removesuffix(".gz")
    for extension, delimiter in DELIMITERS.items():
        if name.endswith(extension):
            return delimiter
    return None


def read_csv(stream: IO[bytes], path: str, delimiter: str) -> Iterator[Item]:
    """The rows of a CSV stream after its header, as items of text cells."""
    csv.field_size_limit(limits.max_record_bytes)
    lines = _Lines(stream, limits.max_record_bytes)
    rows = csv.reader(lines, delimiter=delimiter, strict=True)
    index = 0
    line = 1
    try:
        header = _header(rows, path)
        if header is None:
            return
        line = rows.line_num + 1
        lines.row_bytes = 0
        for row in rows:
            lines.row_bytes = 0
            if not row:  # a blank line
                line = rows.line_num + 1
                continue
            if len(row) != len(header):
                yield Item(index, line, code=INVALID_CSV, text=delimiter.join(row), error=(
                    f"the row has {len(row)} cell(s) but the header names {len(header)} column(s); quote cells that "
                    "hold the delimiter, or fix the row"))
            else:
                yield Item(index, line, dict(zip(header, row)))
            index += 1
            line = rows.line_num + 1
    except _TooLarge as exc:
        megabytes = limits.max_record_bytes / (1 << 20)
        yield Item(index, line, code=TOO_LARGE, error=(
            f"the row is longer than the limit of {megabytes:g} MiB for one record ({exc.size:,} bytes read of it); the "
            "rest of the file was not read. If the row is real, raise the limit (--max-record-mb), else look for "
            "missing line ends or a quote left open."))
    except csv.Error as exc:
        yield Item(index, line, code=INVALID_CSV, error=f"not readable as CSV from here on ({exc}); the rest of "
                   "the file was not read. Check the quoting.")
    except UnicodeDecodeError as exc:
        yield Item(index, line, code=INVALID_CSV, error=f"not UTF-8 text ({exc.reason} at byte {exc.start} of the line); "
                   "the rest of the file was not read. Save the file as UTF-8.")
    except IO_ERRORS as exc:
        yield unreadable_item(index, line, exc)


class _TooLarge(Exception):
    def __init__(self, size: int) -> None:
        self.size = size


class _Lines:
    """The lines of a stream as text (ending kept, as ``newline=""`` gives it; a lone CR ends a line
    too), decoded one line at a time: a decoder reading ahead would fail before the rows that precede
    a bad byte, and at the wrong line. Read in chunks: the row being read (``row_bytes``, which the
    reader sets to 0 at each row) never holds more than ``limit`` bytes, else `_TooLarge`."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self._read = getattr(stream, "read1", stream.read)
        self.limit = limit
        self.row_bytes = 0
        self._first = True

    def __iter__(self) -> Iterator[str]:
        held: list[bytes] = []  # the start of a line whose end is not read yet
        size = 0
        while chunk := self._read(_CHUNK):
            if b"\n" not in chunk and b"\r" not in chunk:
                held.append(chunk)
                size += len(chunk)
                if self.row_bytes + size > self.limit:
                    raise _TooLarge(self.row_bytes + size)
                continue
            lines = (b"".join(held) + chunk if held else chunk).splitlines(keepends=True)
            held, size = [], 0
            if not lines[-1].endswith(b"\n"):  # unfinished, or a CR whose LF may come in the next chunk
                held, size = [lines[-1]], len(lines[-1])
                del lines[-1]
            for line in lines:
                yield self._text(line)
        if held:
            yield self._text(b"".join(held))

    def _text(self, line: bytes) -> str:
        self.row_bytes += len(line)
        if self.row_bytes > self.limit:
            raise _TooLarge(self.row_bytes)
        text = line.decode("utf-8")
        if self._first:
            text, self._first = text.removeprefix("\ufeff"), False
        return text


def _header(rows: Iterator[list[str]], path: str) -> list[str] | None:
    for row in rows:
        if row:
            repeated = sorted({name for name in row if row.count(name) > 1})
            if repeated:
                raise DataError(Source(path).name, f"the header names the column(s) {', '.join(map(repr, repeated))} "
                                "more than once; rename them so that each column has its own name", 1)
            return row
    return None
