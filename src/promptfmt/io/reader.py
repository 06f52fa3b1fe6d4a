"""Reading datasets: the layout of a file told apart by content, and the reader that fits it.

Readers: JSON arrays, JSON Lines and sequences of (pretty-printed) JSON documents, gzip-compressed or
not, UTF-8 with or without BOM, from a path or ``-`` (standard input); Parquet and Arrow files and
``datasets.save_to_disk`` folders (`promptfmt.io.tables`, by their magic bytes); CSV and TSV files
(`promptfmt.io.csvfile`, by their extension); ``hf://datasets/…`` names (`promptfmt.io.hub`). The layout of JSON is told apart by content, not by
extension:

* the first non-blank character ``[`` means a JSON array (unless that line is a whole array and
  another line follows: JSON Lines whose items are arrays);
* a first line that is a JSON value by itself means JSON Lines;
* a first line that opens a value it does not close (``{`` alone, as ``json.dump(indent=2)`` and
  ``jq`` write them) means a sequence of JSON documents, usually a single object.

Everything is streamed, so memory stays flat as the file grows (apart from one record at a time):
JSON Lines in `Block` objects of whole lines (~1 MiB) decoded with msgspec; the object records of
a JSON array cut out of its bytes and decoded the same way; anything else in an array, and
documents, through a sliding window of text with the standard library's decoder (which also
locates every error). Every decoded value comes out as an `Item` that knows its index and the
line where it starts. A malformed line is an `Item` with an ``error``, not the end of the run; a
malformed array or document is one error item with line and column, after the items decoded before
it, and ends the reading (what follows cannot be located reliably). A file that stops being readable
(a truncated gzip stream, an I/O error) gives one ``unreadable`` error item, never an exception.
"""

from __future__ import annotations

import gzip
import io
import itertools
import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, cast

import orjson

from ..errors import DataError, InputPathError, os_reason
from .arrays import read_array_fast
from .csvfile import CSV, csv_delimiter, read_csv
from .hub import HubReader, is_hub_name
from .items import (
    GZIP_MAGIC,
    IO_ERRORS,
    STDIN,
    UNREADABLE,
    UTF8_BOM,
    UTF16_BOMS,
    UTF32_BOMS,
    Block,
    Item,
    Source,
    unreadable_item,
)
from .jsonl import read_blocks, read_lines
from .limits import limits
from .paths import open_input
from .tables import ARROW as ARROW_TABLE
from .tables import TableReader, table_kind
from .window import read_values


def open_binary(path: str, stdin: IO[bytes] | None = None) -> IO[bytes]:
    """The decompressed bytes of ``path`` (``-`` reads ``stdin``, by default the process's)."""
    if path == STDIN:
        if stdin is None and sys.stdin is None:  # started with standard input closed (``<&-``)
            raise InputPathError("<stdin>", "standard input is closed; give a file name instead of -.")
        raw: IO[bytes] = stdin if stdin is not None else sys.stdin.buffer
        if not hasattr(raw, "peek"):  # e.g. io.BytesIO: gzip detection needs to look ahead
            raw = io.BufferedReader(cast(io.RawIOBase, raw))
    else:
        raw = open_input(path)
    try:
        head = raw.peek(2)[:2]  # type: ignore[attr-defined]
    except OSError as exc:
        raw.close()
        raise DataError(Source(path).name, f"cannot be read: {os_reason(exc)}") from None
    if head == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


class DatasetReader:
    """The items of one dataset, in order, with where the reading is (for progress displays).

    ``position`` is the number of (compressed) bytes consumed so far and ``size`` the size of the
    file, both None when unknown (standard input, a pipe). Use as a context manager, or iterate to
    the end: the file is closed either way.
    """

    def __init__(self, path: str | os.PathLike[str], stdin: IO[bytes] | None = None) -> None:
        self.path = os.fspath(path)
        self.name = Source(self.path).name
        self._start: _Start | None = None
        self._table: TableReader | HubReader | None = None
        self._delimiter: str | None = None
        if is_hub_name(self.path):  # streamed by datasets, rows as a table's
            self._table = HubReader(self.path)
            self.size = self._table.rows
            return
        if self.path != STDIN and os.path.isdir(self.path):  # a datasets.save_to_disk folder
            self._table = TableReader(self.path, ARROW_TABLE)
            self.size = self._table.rows
            return
        self._stream = open_binary(self.path, stdin)
        self._raw = getattr(self._stream, "fileobj", None) or self._stream
        self.size = self._file_size()
        kind = table_kind(self.path, _peek(self._raw, 8))
        if kind is not None and self.path == STDIN:  # one located issue, like any other bytes there
            error = (f"{kind.capitalize()} data cannot be read from standard input (it is read from its end); "
                     "give the file's name instead of -")
            self._start = _Start(NONE, item=Item(0, 1, code=UNREADABLE, error=error))
        elif kind is not None:
            self.close()
            self._table = TableReader(self.path, kind)
            self.size = self._table.rows
        elif self.path != STDIN:
            self._delimiter = csv_delimiter(self.path)

    def _file_size(self) -> int | None:
        try:
            stat = os.fstat(self._raw.fileno())
        except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
            return None
        return stat.st_size if stat.st_size > 0 else None

    @property
    def position(self) -> int | None:
        """Bytes read so far; rows, for a table (then ``size`` is the number of rows)."""
        if self._table is not None:
            return self._table.position
        try:
            return self._raw.tell()
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            return None

    def close(self) -> None:
        if self._table is not None:
            self._table.close()
        elif self.path != STDIN:
            self._stream.close()

    def __enter__(self) -> DatasetReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def layout(self) -> str:
        """``jsonl``, ``array``, ``documents``, ``parquet``, ``arrow``, ``csv``, ``hub``, or ``none`` (empty,
        or unreadable from the start)."""
        if self._table is not None:
            return self._table.kind
        if self._delimiter is not None:
            return CSV
        return self._detect().kind

    @property
    def unit(self) -> str:
        """What ``Item.line`` counts: ``line`` in a text file, ``row`` in a table."""
        return "row" if self._table is not None else "line"

    def _detect(self) -> _Start:
        if self._start is None:
            self._start = _detect(self._stream)
        return self._start

    def __iter__(self) -> Iterator[Item]:
        return self._items()

    def _items(self) -> Iterator[Item]:
        if self._table is not None:
            yield from self._table
            return
        try:
            if self._delimiter is not None:
                yield from read_csv(self._stream, self.path, self._delimiter)
                return
            yield from _items_of(self._detect(), self._stream)
        finally:
            self.close()

    def blocks(self) -> Iterator[Block]:
        """JSON Lines only: the file as `Block` objects of whole lines (a failing read ends with a
        `Block` whose ``error`` says why). For services that process lines in bulk."""
        start = self._detect() if self.layout == JSONL else _Start(self.layout)
        if start.kind != JSONL:
            raise ValueError(f"{self.name} is not JSON Lines ({start.kind}); iterate over the items instead")
        try:
            yield from read_blocks(start.first, self._stream, start.line)
        finally:
            self.close()


def input_unit(path: str) -> str:
    """What locations in ``path`` count: ``row`` for a table (Parquet, Arrow, a ``save_to_disk``
    folder, a Hub name), else ``line``. Reads the first bytes of a regular file only (never of a pipe)."""
    if path == STDIN:
        return "line"
    if os.path.isdir(path) or is_hub_name(path):
        return "row"
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return "line"
        with open(path, "rb") as file:
            return "row" if table_kind(path, file.read(8)) is not None else "line"
    except OSError:
        return "line"


def _peek(stream: IO[bytes], size: int) -> bytes:
    try:
        return bytes(stream.peek(size)[:size])  # type: ignore[attr-defined]
    except (OSError, AttributeError, ValueError):
        return b""


def read_items(path: str | os.PathLike[str], stdin: IO[bytes] | None = None) -> Iterator[Item]:
    """Every value of the dataset at ``path`` (``-``: standard input), in order, with its index and line."""
    return iter(DatasetReader(path, stdin))



# -- telling layouts apart ---------------------------------------------------------------------


JSONL, ARRAY, DOCUMENTS, NONE = "jsonl", "array", "documents", "none"


@dataclass(slots=True)
class _Start:
    """What the beginning of a stream showed: the layout, its first non-blank line and where."""

    kind: str
    first: bytes = b""
    line: int = 1
    lines: Iterator[bytes] | None = None
    item: Item | None = None  # the one error item of a stream that could not be read at all


def _detect(stream: IO[bytes]) -> _Start:
    """The layout that the first non-blank line announces."""
    blank = 0
    try:
        peek = getattr(stream, "peek", None)
        encoding = wide_encoding(peek(4)[:4] if peek is not None else b"")
        if encoding is not None:
            error = f"the file is {encoding} text, not UTF-8: convert it (iconv -f {encoding} -t UTF-8)"
            return _Start(NONE, item=Item(0, 1, error=error))
        lines = _pieces(stream)
        first = b""
        for raw in lines:
            if blank == 0 and raw.startswith(UTF8_BOM):
                raw = raw[len(UTF8_BOM):]
            if raw.strip():
                first = raw
                break
            blank += raw.endswith(b"\n")
        if not first:
            return _Start(NONE)
        start = first.lstrip()
        if start.startswith(b"["):
            ahead = _next_value_line(lines) if _is_json(first) else []
            if ahead and ahead[-1].strip():  # one JSON value per line, each an array: JSON Lines all the same
                return _Start(JSONL, first + b"".join(ahead), blank + 1)
            return _Start(ARRAY, first + b"".join(ahead), blank + 1, lines)
    except IO_ERRORS as exc:
        return _Start(NONE, item=unreadable_item(0, blank + 1, exc))
    kind = DOCUMENTS if _opens_a_document(start) else JSONL
    return _Start(kind, first, blank + 1, lines)


_PIECE = 1 << 20


def _pieces(stream: IO[bytes]) -> Iterator[bytes]:
    """The stream's lines, a line longer than 1 MiB in pieces: no line is ever held whole here."""
    read = stream.readline
    while piece := read(_PIECE):
        yield piece


def wide_encoding(head: bytes) -> str | None:
    """UTF-32 or UTF-16 told by its byte-order mark, or by the zero bytes around ASCII without one."""
    for name, marks in (("UTF-32", UTF32_BOMS), ("UTF-16", UTF16_BOMS)):
        if head.startswith(marks):
            return name
    if len(head) < 4:
        return None
    zeros = tuple(byte == 0 for byte in head)
    if zeros in ((False, True, True, True), (True, True, True, False)):  # "{" as 4 bytes, either order
        return "UTF-32"
    if zeros in ((False, True, False, True), (True, False, True, False)):  # '{"' as 2 + 2 bytes
        return "UTF-16"
    return None


def _is_json(line: bytes) -> bool:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True


def _next_value_line(lines: Iterator[bytes]) -> list[bytes]:
    """The lines up to the next non-blank one (all of them blank when the stream ends first); the
    blank ones kept as their line ends only, so that a sea of blank lines costs no memory."""
    ends = 0
    for line in lines:
        if line.strip():
            return [b"\n" * ends, line]
        ends += line.count(b"\n")
    return [b"\n" * ends]


def _items_of(start: _Start, stream: IO[bytes]) -> Iterator[Item]:
    if start.kind == NONE:
        return iter(() if start.item is None else (start.item,))
    if start.kind == JSONL:
        return read_lines(read_blocks(start.first, stream, start.line))
    if start.kind == ARRAY:
        return read_array_fast(start.first, stream, start.line, max_depth=limits.max_depth)
    chained = itertools.chain((start.first,), start.lines or ())
    return read_values(chained, line=start.line, array=False, max_depth=limits.max_depth)  # documents


def _opens_a_document(line: bytes) -> bool:
    """Whether a first line that is not JSON by itself opens a pretty-printed document."""
    if not line.startswith(b"{"):
        return False
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return line.rstrip().endswith((b"{", b"[", b","))
    return False

