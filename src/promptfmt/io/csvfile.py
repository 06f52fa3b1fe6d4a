"""Reading CSV and TSV files (told by their extension: ``.csv``, ``.tsv``, gzip-compressed or not).

The first row names the columns; every other row is an item whose keys are those names and whose
values are the cells, always as text (``""`` for an empty cell: CSV has neither numbers nor null),
so that nothing is guessed. Cells may span lines (quoted); ``Item.line`` is the line where the row
starts. A row with another number of cells than the header is an ``invalid-csv`` error item and the
reading goes on; text that is not UTF-8 ends it with one such item.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import IO

from ..errors import DataError
from .items import IO_ERRORS, Item, Source, unreadable_item
from .limits import limits

CSV = "csv"
INVALID_CSV = "invalid-csv"
DELIMITERS = {".csv": ",", ".tsv": "\t"}


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
    rows = csv.reader(_lines(stream), delimiter=delimiter, strict=True)
    index = 0
    line = 1
    try:
        header = _header(rows, path)
        if header is None:
            return
        line = rows.line_num + 1
        for row in rows:
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
    except csv.Error as exc:
        yield Item(index, line, code=INVALID_CSV, error=f"not readable as CSV from here on ({exc}); the rest of "
                   "the file was not read. Check the quoting.")
    except UnicodeDecodeError as exc:
        yield Item(index, line, code=INVALID_CSV, error=f"not UTF-8 text ({exc.reason} at byte {exc.start} of the line); "
                   "the rest of the file was not read. Save the file as UTF-8.")
    except IO_ERRORS as exc:
        yield unreadable_item(index, line, exc)


def _lines(stream: IO[bytes]) -> Iterator[str]:
    """The text of each line (ending kept, as ``newline=""`` gives it), decoded one line at a time:
    a decoder reading ahead would fail before the rows that precede a bad byte, and at the wrong line."""
    first = True
    for raw in stream:
        for piece in raw.splitlines(keepends=True):  # a lone CR ends a line too
            text = piece.decode("utf-8")
            if first:
                text, first = text.removeprefix("\ufeff"), False
            yield text


def _header(rows: Iterator[list[str]], path: str) -> list[str] | None:
    for row in rows:
        if row:
            repeated = sorted({name for name in row if row.count(name) > 1})
            if repeated:
                raise DataError(Source(path).name, f"the header names the column(s) {', '.join(map(repr, repeated))} "
                                "more than once; rename them so that each column has its own name", 1)
            return row
    return None
