"""Reading datasets, and writing files atomically.

Readers: JSON arrays, JSON Lines and sequences of (pretty-printed) JSON documents, gzip-compressed or
not, UTF-8 with or without BOM, from a path or ``-`` (standard input). The layout is told apart by
content, not by extension:

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

import bisect
import codecs
import gzip
import io
import itertools
import json
import os
import re
import sys
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import msgspec
import orjson

from .errors import DataError
from .jsonout import encode_line

GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
STDIN = "-"

INVALID_JSON = "invalid-json"
UNREADABLE = "unreadable"

_CHUNK = 1 << 20  # characters decoded per refill of the array / document window
_BLOCK = 1 << 20  # bytes of JSON Lines read at a time
_LOOKAHEAD = 12  # a decode error this close to the end of the window may be cured by more text
_WS = re.compile(r"[ \t\r\n]*")
_FIX_UTF8 = "save the file as UTF-8"


class Item(msgspec.Struct, gc=False):
    """One decoded value of a dataset, or the error that kept it from being decoded.

    ``index`` counts items from 0 (undecodable ones included); ``line`` is the 1-based line where
    the item starts (None for values that did not come from a file). For an error item, ``error``
    says what is wrong, ``code`` is its issue code (``invalid-json`` or ``unreadable``), ``column``
    the 1-based column where it was found when known, and ``text`` the raw line of an undecodable
    JSON Lines line (invalid bytes shown as ``\\xNN``), so that it can be quarantined unchanged.
    ``block`` is the `Block` of JSON Lines an item was read from (validation scans blocks at once).
    A msgspec ``Struct``: created once per record, it costs a third of a slotted dataclass. It is
    left out of the cyclic garbage collector (``gc=False``): its fields hold decoded JSON and a
    `Block`, none of which can refer back to an item.
    """

    index: int
    line: int | None
    value: Any = None
    error: str | None = None
    column: int | None = None
    code: str = INVALID_JSON
    text: str | None = None
    block: Block | None = None


@dataclass(frozen=True, slots=True)
class Source:
    """A dataset to read: a path, or ``-`` for standard input."""

    path: str

    @property
    def name(self) -> str:
        return "<stdin>" if self.path == STDIN else self.path


def open_binary(path: str, stdin: IO[bytes] | None = None) -> IO[bytes]:
    """The decompressed bytes of ``path`` (``-`` reads ``stdin``, by default the process's)."""
    if path == STDIN:
        raw: IO[bytes] = stdin if stdin is not None else sys.stdin.buffer
        if not hasattr(raw, "peek"):  # e.g. io.BytesIO: gzip detection needs to look ahead
            raw = io.BufferedReader(raw)  # type: ignore[arg-type]
    else:
        raw = _open_file(path)
    if raw.peek(2)[:2] == GZIP_MAGIC:  # type: ignore[attr-defined]
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


def _open_file(path: str) -> IO[bytes]:
    try:
        return open(path, "rb")  # noqa: SIM115 - closed by the caller
    except FileNotFoundError:
        raise DataError(path, "no such file. Check the path.") from None
    except IsADirectoryError:
        raise DataError(path, "is a folder, not a dataset file.") from None
    except PermissionError:
        raise DataError(path, "permission denied.") from None
    except OSError as exc:
        raise DataError(path, f"cannot be opened: {exc.strerror or exc}.") from None


class DatasetReader:
    """The items of one dataset, in order, with where the reading is (for progress displays).

    ``position`` is the number of (compressed) bytes consumed so far and ``size`` the size of the
    file, both None when unknown (standard input, a pipe). Use as a context manager, or iterate to
    the end: the file is closed either way.
    """

    def __init__(self, path: str | os.PathLike[str], stdin: IO[bytes] | None = None) -> None:
        self.path = os.fspath(path)
        self.name = Source(self.path).name
        self._stream = open_binary(self.path, stdin)
        self._raw = getattr(self._stream, "fileobj", None) or self._stream
        self.size = self._file_size()
        self._start: _Start | None = None

    def _file_size(self) -> int | None:
        try:
            stat = os.fstat(self._raw.fileno())
        except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
            return None
        return stat.st_size if stat.st_size > 0 else None

    @property
    def position(self) -> int | None:
        try:
            return self._raw.tell()
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            return None

    def close(self) -> None:
        if self.path != STDIN:
            self._stream.close()

    def __enter__(self) -> DatasetReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def layout(self) -> str:
        """``jsonl``, ``array``, ``documents``, or ``none`` (empty, or unreadable from the start)."""
        return self._detect().kind

    def _detect(self) -> _Start:
        if self._start is None:
            self._start = _detect(self._stream)
        return self._start

    def __iter__(self) -> Iterator[Item]:
        return self._items()

    def _items(self) -> Iterator[Item]:
        try:
            yield from _items_of(self._detect(), self._stream)
        finally:
            self.close()

    def blocks(self) -> Iterator[Block]:
        """JSON Lines only: the file as `Block` objects of whole lines (a failing read ends with a
        `Block` whose ``error`` says why). For services that process lines in bulk."""
        start = self._detect()
        if start.kind != JSONL:
            raise ValueError(f"{self.name} is not JSON Lines ({start.kind}); iterate over the items instead")
        try:
            yield from _blocks(start.first, self._stream, start.line)
        finally:
            self.close()


def read_items(path: str | os.PathLike[str], stdin: IO[bytes] | None = None) -> Iterator[Item]:
    """Every value of the dataset at ``path`` (``-``: standard input), in order, with its index and line."""
    return iter(DatasetReader(path, stdin))


_IO_ERRORS = (OSError, EOFError, zlib.error)  # truncated gzip, corrupt data, unreadable device ...


def _unreadable(index: int, line: int, exc: BaseException) -> Item:
    return Item(index, line, code=UNREADABLE, error=unreadable_message(exc))


def unreadable_message(exc: BaseException) -> str:
    return (f"the file cannot be read from here on ({_describe_io_error(exc)}); the rest of it was not checked. "
            "Re-download or re-compress it.")


def _describe_io_error(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "the compressed stream ends too early: the file is truncated"
    if isinstance(exc, gzip.BadGzipFile):
        return f"not a valid gzip stream: {exc}"
    if isinstance(exc, zlib.error):
        return f"corrupt compressed data: {exc}"
    return str(exc) or type(exc).__name__


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
        head = stream.peek(4)[:4] if hasattr(stream, "peek") else b""  # type: ignore[attr-defined]
        if head.startswith(UTF16_BOMS):
            error = "the file is UTF-16 text, not UTF-8: convert it (iconv -f UTF-16 -t UTF-8)"
            return _Start(NONE, item=Item(0, 1, error=error))
        lines = iter(stream)
        first = b""
        for raw in lines:
            if blank == 0 and raw.startswith(UTF8_BOM):
                raw = raw[len(UTF8_BOM):]
            if raw.strip():
                first = raw
                break
            blank += 1
        if not first:
            return _Start(NONE)
        start = first.lstrip()
        if start.startswith(b"["):
            ahead = _next_value_line(lines) if _is_json(first) else []
            if ahead and ahead[-1].strip():  # one JSON value per line, each an array: JSON Lines all the same
                return _Start(JSONL, first + b"".join(ahead), blank + 1)
            return _Start(ARRAY, first + b"".join(ahead), blank + 1, lines)
    except _IO_ERRORS as exc:
        return _Start(NONE, item=_unreadable(0, blank + 1, exc))
    kind = DOCUMENTS if _opens_a_document(start) else JSONL
    return _Start(kind, first, blank + 1, lines)


def _is_json(line: bytes) -> bool:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True


def _next_value_line(lines: Iterator[bytes]) -> list[bytes]:
    """The lines up to the next non-blank one (all of them blank when the stream ends first)."""
    ahead = []
    for line in lines:
        ahead.append(line)
        if line.strip():
            break
    return ahead


def _items_of(start: _Start, stream: IO[bytes]) -> Iterator[Item]:
    if start.kind == NONE:
        return iter(() if start.item is None else (start.item,))
    if start.kind == JSONL:
        return _read_lines(_blocks(start.first, stream, start.line))
    if start.kind == ARRAY:
        return _read_array_fast(start.first, stream, start.line)
    chained = itertools.chain((start.first,), start.lines or ())
    return _read_values(chained, line=start.line, array=start.kind == ARRAY)


def _opens_a_document(line: bytes) -> bool:
    """Whether a first line that is not JSON by itself opens a pretty-printed document."""
    if not line.startswith(b"{"):
        return False
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return line.rstrip().endswith((b"{", b"[", b","))
    return False


# -- JSON Lines --------------------------------------------------------------------------------


class Block:
    """Whole lines of JSON Lines bytes, shared by the items read from them.

    Validation scans a block once, at C speed, for what a record might contain (markers, escapes)
    instead of scanning each line in Python; `line_at` maps an offset back to its line number.
    A block whose ``error`` is set ends a stream that could not be read further.

    The records of a JSON array are given blocks too: one row per record (its raw JSON, the
    structural line ends inside it turned into spaces), with ``numbers`` the line where each record
    starts in the file.
    """

    __slots__ = ("data", "first_line", "error", "numbers", "_lines", "_starts", "_ends")

    def __init__(self, data: bytes, first_line: int, error: str | None = None, numbers: list[int] | None = None) -> None:
        self.data = data
        self.first_line = first_line
        self.error = error
        self.numbers = numbers
        self._lines: list[bytes] | None = None
        self._starts: list[int] | None = None
        self._ends: int | None = None

    def lines(self) -> list[bytes]:
        """The lines, without their line ends (a block holds whole lines). Split once, then kept."""
        if self._lines is None:
            lines = self.data.split(b"\n")
            if self.data.endswith(b"\n"):
                lines.pop()
            self._lines = lines
        return self._lines

    def rows(self, starts: list[int]) -> None:
        """Make this the block of an array's records: row ``k`` starts at ``starts[k]`` (and its line
        is ``numbers[k]``), whatever line ends lie inside ``data``. `lines` is for JSON Lines only."""
        self._starts = [*starts, len(self.data) + 1]

    def line_ends(self) -> int:
        """How many line ends the block holds (the next block starts that many lines further)."""
        if self._ends is None:
            self._ends = self.data.count(b"\n")
        return self._ends

    def line_at(self, offset: int) -> int:
        """The line number of the byte at ``offset``."""
        if self._starts is None:
            self._starts = [0, *itertools.accumulate(len(line) + 1 for line in self.lines())]
        row = bisect.bisect_right(self._starts, offset) - 1
        return self.first_line + row if self.numbers is None else self.numbers[row]

    def next_line(self, offset: int) -> int:
        """The offset where the line after the one holding ``offset`` starts."""
        end = self.data.find(b"\n", offset)
        return len(self.data) if end < 0 else end + 1


def blocks_of(stream: IO[bytes], *, strip_bom: bool = False, line: int = 1) -> Iterator[Block]:
    """A stream of JSON Lines (a whole file, or a range of one that starts at a line start) as blocks."""
    first = b""
    if strip_bom:
        first = stream.read(len(UTF8_BOM))
        if first == UTF8_BOM:
            first = b""
    return _blocks(first, stream, line)


def _blocks(first: bytes, stream: IO[bytes], line: int, size: int = 0) -> Iterator[Block]:
    """``first`` (a whole line) and the rest of ``stream``, cut at line ends into blocks of ~``size`` bytes.

    Reads with ``read1`` (one decompression step at a time), so that when the stream breaks (a
    truncated gzip file) every whole line before the break is still read.
    """
    size = size or _BLOCK
    read = getattr(stream, "read1", stream.read)
    pending = first
    error: str | None = None
    while error is None:
        parts = [pending]
        got = 0
        try:
            while got < size:
                chunk = read(size)
                if not chunk:
                    break
                parts.append(chunk)
                got += len(chunk)
        except _IO_ERRORS as exc:
            error = unreadable_message(exc)
        data = b"".join(parts)
        if not got and error is None:  # the end of the stream
            if data:
                yield Block(data, line)
            return
        cut = data.rfind(b"\n") + 1
        if cut:
            block = Block(data[:cut] if cut < len(data) else data, line)
            yield block
            line += block.line_ends()  # after the reader went through the block: its count, if it kept one
        pending = data[cut:]
    yield Block(b"", line, error=error)


decode = msgspec.json.Decoder().decode
"""Decode one JSON value from bytes. msgspec, not orjson, decodes records: orjson reads integers
beyond 64 bits as floats (1.2345678901234568e+29), which would change metadata silently."""
DECODE_ERRORS = (ValueError, RecursionError)
"""What `decode` raises for bytes that are not one JSON value (`undecodable` then says why)."""


def undecodable(index: int, number: int, raw: bytes) -> Item:
    """The item of a JSON Lines line that `decode` refused: its error, located by orjson's decoder."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return line_error(index, number, raw, exc)
    return Item(index, number, value)  # refused by msgspec only (never seen): orjson's value


def _read_lines(blocks: Iterable[Block]) -> Iterator[Item]:
    index = 0
    for block in blocks:
        number = block.first_line
        if block.error is not None:
            yield Item(index, number, error=block.error, code=UNREADABLE)
            return
        data = block.data
        find, size, start = data.find, len(data), 0
        while start < size:  # each line cut out just before it is decoded (split would allocate all at once)
            end = find(b"\n", start)
            if end < 0:
                end = size
            raw = data[start:end]
            try:
                value = decode(raw)
            except DECODE_ERRORS:
                if raw.strip():
                    yield undecodable(index, number, raw)
                    index += 1
            else:
                yield Item(index, number, value, None, None, INVALID_JSON, None, block)
                index += 1
            number += 1
            start = end + 1
        block._ends = number - block.first_line - (0 if data.endswith(b"\n") or not data else 1)


def line_error(index: int, number: int, raw: bytes, exc: json.JSONDecodeError) -> Item:
    """The error item of a JSON Lines line that orjson refused."""
    text = raw.decode("utf-8", "backslashreplace").rstrip("\r\n")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        column = len(raw[: bad.start].decode("utf-8", "replace")) + 1
        return Item(index, number, column=column, text=text,
                    error=f"the line is not UTF-8 text (byte 0x{raw[bad.start]:02x}, column {column}): {_FIX_UTF8}")
    if text.startswith("\ufeff"):
        message = "the line starts with a byte-order mark (U+FEFF); remove it"
    elif text.lstrip().startswith("["):
        message = "a JSON array inside JSON Lines: each line must hold one record"
    elif (getattr(exc, "pos", 0) or 0) >= len(raw.rstrip()) - 1:
        message = "the line ends before the value is complete (a truncated line, or a record split over lines?)"
    else:
        message = _orjson_message(exc)
    column = getattr(exc, "colno", None)
    where = f" (column {column})" if column else ""
    return Item(index, number, error=f"invalid JSON: {message}{where}", column=column, text=text)


def _orjson_message(exc: json.JSONDecodeError) -> str:
    message = getattr(exc, "msg", None) or str(exc)
    return message.rstrip(".")


# -- JSON arrays and documents, streamed through a window of text -------------------------------


class _NotJson(ValueError):
    """A value that Python's decoder accepts but JSON does not (NaN, Infinity)."""


def _reject_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not valid JSON; write null or a string instead")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


class _Window:
    """A sliding window of decoded text over a byte stream, with line and column bookkeeping.

    ``text[pos:]`` is what is left to read. Lines are counted incrementally up to ``pos``; the
    window is only trimmed at the start of the current line, so columns can always be computed.
    Text after an invalid UTF-8 byte is never decoded: the window ends there (``bad_pos``), and an
    error at that point is reported as an encoding error.
    """

    def __init__(self, lines: Iterator[bytes], line: int, column: int = 1) -> None:
        self._lines = lines
        self._column = column - 1  # characters of the first line before the window's text
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self.text = ""
        self.pos = 0
        self.eof = False
        self.index = 0  # index of the next item
        self.line = line  # line number at ``pos``
        self._counted = 0  # ``line`` counts the newlines of text[:_counted]
        self._line_start = 0  # index in ``text`` where the current line starts
        self.bad_pos: int | None = None
        self.bad_byte = 0

    def fill(self, at_least: int = 0) -> None:
        """Append at least ``at_least`` (default: ``_CHUNK``) more characters, or reach the end of the stream."""
        at_least = at_least or _CHUNK
        self.advance(self.pos)
        if self._line_start > len(self.text) // 2:
            cut = self._line_start
            self.text = self.text[cut:]
            self.pos -= cut
            self._counted -= cut
            self._line_start = 0
        parts: list[str] = []
        got = 0
        while got < at_least and not self.eof:
            raw = next(self._lines, None)
            try:
                part = self._decoder.decode(raw or b"", final=raw is None)
            except UnicodeDecodeError as exc:
                part = exc.object[: exc.start].decode("utf-8", "replace")
                self.bad_byte = exc.object[exc.start]
                self.bad_pos = len(self.text) + got + len(part)
                self.eof = True
            parts.append(part)
            got += len(part)
            if raw is None:
                self.eof = True
        self.text += "".join(parts)

    def advance(self, pos: int) -> None:
        """Move to ``pos``, counting the lines passed."""
        text = self.text
        newlines = text.count("\n", self._counted, pos)
        if newlines:
            self.line += newlines
            self._line_start = text.rfind("\n", self._counted, pos) + 1
            self._column = 0
        self._counted = self.pos = pos

    def skip_whitespace(self) -> bool:
        """Skip to the next non-blank character; False at the end of the text."""
        while True:
            end = _WS.match(self.text, self.pos).end()  # type: ignore[union-attr]
            self.advance(end)
            if end < len(self.text):
                return True
            if self.eof:
                return False
            self.fill()

    def peek(self) -> str:
        return self.text[self.pos]

    def where(self, pos: int) -> tuple[int, int]:
        """(line, column) of ``pos`` (at or after the current position)."""
        text = self.text
        newlines = text.count("\n", self._counted, pos)
        if newlines:
            return self.line + newlines, pos - text.rfind("\n", self._counted, pos)
        return self.line, pos - self._line_start + 1 + self._column

    def decode_value(self) -> Any:
        """Decode the JSON value at the current position and move past it; raises `_Malformed`."""
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                cut = _curable(exc, len(self.text))
                if cut and not self.eof:
                    self.fill(max(_CHUNK, len(self.text) - self.pos))
                    continue
                if exc.msg.startswith("Unterminated string") or exc.pos >= len(self.text.rstrip()):
                    message = f"the file ends before the value is complete ({exc.msg.lower()})"
                    raise _Malformed(message, exc.pos, at_end=True) from None
                raise _Malformed(exc.msg, exc.pos) from None
            except RecursionError:
                raise _Malformed("the value is nested too deeply", self.pos) from None
            except ValueError as exc:  # NaN / Infinity, integers too long to convert
                raise _Malformed(str(exc), self.pos) from None
            if end >= len(self.text) and not self.eof:  # a number may go on in the next chunk
                self.fill()
                continue
            self.advance(end)
            return value

    def error(
        self, pos: int, message: str, *, at_end: bool = False, rest_unchecked: bool = True,
        location: tuple[int, int] | None = None,
    ) -> Item:
        """The error item for a problem at ``pos`` (an encoding error when the text stopped there)."""
        if self.bad_pos is not None and (at_end or pos >= self.bad_pos - _LOOKAHEAD):
            pos, location = self.bad_pos, None
            message = f"the text is not UTF-8 (byte 0x{self.bad_byte:02x}): {_FIX_UTF8}"
        line, column = location or self.where(max(pos, self.pos))
        rest_unchecked = rest_unchecked and not at_end
        rest = f"; the rest of the file (from line {line}) was not checked" if rest_unchecked else ""
        return Item(self.index, line, error=f"invalid JSON: {message} (column {column}){rest}", column=column)


class _Malformed(Exception):
    def __init__(self, message: str, pos: int, *, at_end: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos
        self.at_end = at_end


def _curable(exc: json.JSONDecodeError, length: int) -> bool:
    """Whether more text could make the value decode (it was cut by the end of the window)."""
    return exc.msg.startswith("Unterminated string") or exc.pos >= length - _LOOKAHEAD


def _read_values(
    lines: Iterator[bytes], *, line: int, array: bool, index: int = 0, resume: bool = False, column: int = 1,
) -> Iterator[Item]:
    """The items of an array or of concatenated documents, through the window. ``resume``: the text
    starts right after record ``index - 1`` of an array, at ``line`` and ``column`` (where
    `_read_array_fast` handed over)."""
    window = _Window(lines, line, column)
    window.index = index
    try:
        window.fill()
        yield from (_read_array(window, resume=resume) if array else _read_documents(window))
    except _IO_ERRORS as exc:
        yield _unreadable(window.index, window.line, exc)


def _decode_item(window: _Window) -> Item:
    line = window.line
    try:
        value = window.decode_value()
    except _Malformed as exc:
        return window.error(exc.pos, exc.message, at_end=exc.at_end)
    item = Item(window.index, line, value)
    window.index += 1
    return item


def _unclosed(window: _Window, expected: str) -> Item:
    return window.error(window.pos, f"the array is not closed: expected {expected} before the end of the file",
                        at_end=True, rest_unchecked=False)


def _read_array(window: _Window, *, resume: bool = False) -> Iterator[Item]:
    if not resume:
        window.skip_whitespace()
        window.advance(window.pos + 1)  # past "["
        if not window.skip_whitespace():
            yield _unclosed(window, "']'")
            return
        if window.peek() == "]":
            window.advance(window.pos + 1)
            yield from _trailing(window)
            return
    while True:
        if resume:  # the record before was read by _read_array_fast
            resume = False
            item = Item(window.index - 1, window.line)
        else:
            item = _decode_item(window)
            yield item
            if item.error is not None:
                return
        if not window.skip_whitespace():
            yield _unclosed(window, "',' or ']'")
            return
        char = window.peek()
        if char == "]":
            window.advance(window.pos + 1)
            yield from _trailing(window)
            return
        if char != ",":
            yield window.error(window.pos, f"expected ',' or ']' after record {item.index}, found {char!r}")
            return
        comma = window.where(window.pos)
        window.advance(window.pos + 1)
        if not window.skip_whitespace():
            yield _unclosed(window, "a record or ']'")
            return
        if window.peek() == "]":
            yield window.error(window.pos, "a trailing comma before ']' is not allowed in JSON; remove it",
                               rest_unchecked=False, location=comma)
            return


# -- JSON arrays, fast: each record decoded from its own bytes ---------------------------------------

_RECORD_END = re.compile(rb"\}[ \t\r\n]*(?:,[ \t\r\n]*|\])")  # a "}" that may close a record, and what follows
_SEPARATOR = re.compile(rb"[ \t\r\n]*,[ \t\r\n]*")
_BYTES_WS = re.compile(rb"[ \t\r\n]*")
_ARRAY_BATCH = 1 << 20  # bytes read at a time
_ARRAY_RECORD_LIMIT = 64 << 20  # a record still open after this many bytes is left to the window
_RECORD_TRIES = 64  # candidate ends tried per record before the window reads the rest
_ARRAY_RECORDS = 64  # records decoded per batch


def _read_array_fast(head: bytes, stream: IO[bytes], line: int) -> Iterator[Item]:
    """The records of a JSON array (``head`` holds its first line or lines, the rest is in ``stream``).

    Each record that is an object is cut out of the bytes and decoded (`decode`): the candidate ends
    are the ``}`` followed by ``,`` or ``]``, and the first candidate whose bytes decode as one value
    is the record's end (JSON decodes left to right, so a prefix that decodes whole cannot end inside
    a string or inside a nested value). The records read from one batch of bytes share a `Block` of
    their raw JSON, so that validation gates them as it gates JSON Lines.

    Anything else (a value that is not an object, a record `decode` refuses, broken JSON, the end of
    the array) is handed over to the window reader right after the last record read here; it then
    reports exactly what it reports when it reads the whole array itself.
    """
    read = getattr(stream, "read1", stream.read)
    scan = _ArrayScan(head, line)
    eof = False
    failure: BaseException | None = None
    while True:
        items, done = scan.records()
        yield from items
        if len(items) == _ARRAY_RECORDS and not done:
            continue  # a full batch: the buffer may hold more
        if done or eof or failure is not None or scan.open_bytes() > _ARRAY_RECORD_LIMIT:
            break
        scan.drop_read()
        try:
            chunk = read(_ARRAY_BATCH)
        except _IO_ERRORS as exc:
            failure, chunk = exc, b""
        if chunk:
            scan.buffer += chunk
        else:
            eof = True
    rest, line, column = scan.hand_over()
    yield from _read_values(_rest(rest, read, failure, eof), line=line, array=True, index=scan.index,
                            resume=scan.index > 0, column=column)


_GAVE_UP = object()  # `_record_at`: no candidate end decoded within `_RECORD_TRIES`


def _record_at(buffer: bytes, start: int) -> tuple[Any, int, int] | object | None:
    """The object record at ``start``, tried at each candidate end in turn: (value, its end, where the
    next value starts); None when no candidate decodes in the bytes read so far (read more);
    `_GAVE_UP` after `_RECORD_TRIES` failed candidates (the window reads the rest)."""
    search = _RECORD_END.search
    match = search(buffer, start)
    for _ in range(_RECORD_TRIES):
        if match is None:
            return None
        try:
            return decode(buffer[start:match.start() + 1]), match.start() + 1, match.end()
        except DECODE_ERRORS:  # a "}" inside a string or a nested value: try the next one
            match = search(buffer, match.start() + 1)
    return _GAVE_UP


class _ArrayScan:
    """The bytes of a JSON array read so far, and where the fast reader stands in them."""

    def __init__(self, head: bytes, line: int) -> None:
        self.buffer = head
        self.counted, self.line = 0, line  # ``line`` is the line number of buffer[counted]
        self.resume = 0  # offset right after the last record read (0 while none was)
        self.carried = 0  # characters of the current line in bytes dropped before buffer[0]
        self.index = 0  # of the next record

    def records(self) -> tuple[list[Item], bool]:
        """The object records from the last one read on (at most `_ARRAY_RECORDS`: they are decoded
        before the first is used, and a small batch stays in the CPU's cache), and whether the window
        must read what follows ("]", a value that is not an object, broken JSON)."""
        buffer = self.buffer
        size = len(buffer)
        items: list[Item] = []
        if self.index:
            separator = _SEPARATOR.match(buffer, self.resume)
            if separator is None:
                return items, _BYTES_WS.match(buffer, self.resume).end() < size
            start = separator.end()
        else:
            start = _BYTES_WS.match(buffer, _BYTES_WS.match(buffer).end() + 1).end()  # after "["
        if start >= size or buffer[start] != 0x7B:  # "{"
            return items, start < size
        starts: list[int] = []
        numbers: list[int] = []
        block = Block(b"", 0, numbers=numbers)  # its data and rows are set once the batch is read
        first, index, resume = start, self.index, self.resume
        count, find, rfind, add, at, number = buffer.count, buffer.find, buffer.rfind, items.append, starts.append, numbers.append
        follows = _RECORD_END.match
        line = self.line + count(b"\n", self.counted, start)  # the line of ``start``
        last = index + _ARRAY_RECORDS
        by_line = True  # the common layout first: one record per line, its end the line's last "}"
        done = False
        while True:
            end = -1  # found: the record is buffer[start:end], the next one starts at ``following``
            if by_line:
                newline = find(b"\n", start)
                if (0 < newline < size - 1 and buffer[newline + 1] == 0x7B
                        and buffer[newline - 1] == 0x2C and buffer[newline - 2] == 0x7D):  # '},\n{'
                    try:
                        value = decode(buffer[start:newline - 1])
                        end, following, newlines = newline - 1, newline + 1, 1
                    except DECODE_ERRORS:
                        pass
                if end < 0:
                    close = rfind(b"}", start, newline if newline >= 0 else size)
                    match = follows(buffer, close) if close >= 0 else None
                    if match is not None:
                        try:
                            value = decode(buffer[start:close + 1])
                            end, following = close + 1, match.end()
                            newlines = count(b"\n", end, following)  # none inside the record: it is one line
                        except DECODE_ERRORS:
                            pass
                if end < 0:
                    by_line = False  # the rest of this batch: candidate by candidate
            if end < 0:
                found = _record_at(buffer, start)
                if found is None or found is _GAVE_UP:
                    done = found is _GAVE_UP
                    break
                value, end, following = found
                newlines = count(b"\n", start, following)
            add(Item(index, line, value, None, None, INVALID_JSON, None, block))
            at(start - first)
            number(line)
            index += 1
            line += newlines
            resume, start = end, following
            if start >= size or index == last:
                break
            if buffer[start] != 0x7B:  # "]" (the match ends with it), or not an object
                done = True
                break
        if items:
            block.data = buffer[first:resume]
            block.rows(starts)
            self.index, self.counted, self.line, self.resume = index, first + starts[-1], numbers[-1], resume
        return items, done

    def open_bytes(self) -> int:
        """How many bytes were read but belong to no record read yet."""
        return len(self.buffer) - self.resume

    def drop_read(self) -> None:
        """Forget the bytes up to the last record read (all of them stay while none was)."""
        if self.index:
            self._to_resume()
            self.buffer, self.counted, self.resume = self.buffer[self.resume:], 0, 0

    def hand_over(self) -> tuple[bytes, int, int]:
        """What the window reads, from where: (bytes, line, column)."""
        if not self.index:
            return self.buffer, self.line, 1
        self._to_resume()
        return self.buffer[self.resume:], self.line, self.carried + 1

    def _to_resume(self) -> None:
        self.line += self.buffer.count(b"\n", self.counted, self.resume)
        self.counted = self.resume
        self.carried = _chars_on_last_line(self.buffer, self.resume, self.carried)


def _chars_on_last_line(data: bytes, end: int, carried: int) -> int:
    """How many characters the line that ``data[:end]`` ends in has up to ``end`` (``carried`` of them
    came before ``data``). ``data[:end]`` is whole UTF-8 characters."""
    newline = data.rfind(b"\n", 0, end)
    if newline >= 0:
        return len(data[newline + 1:end].decode("utf-8"))
    return carried + len(data[:end].decode("utf-8"))


def _rest(tail: bytes, read: Any, failure: BaseException | None, eof: bool) -> Iterator[bytes]:
    """``tail`` and the rest of the stream (re-raising the read error that stopped the fast reader)."""
    yield tail
    if failure is not None:
        raise failure
    if not eof:
        yield from iter(lambda: read(_ARRAY_BATCH), b"")


def _trailing(window: _Window) -> Iterator[Item]:
    if window.skip_whitespace():
        yield window.error(window.pos, "extra data after the closing ']'; a file holds one JSON array",
                           rest_unchecked=False)
    elif window.bad_pos is not None:
        yield window.error(window.bad_pos, "", rest_unchecked=False)


def _read_documents(window: _Window) -> Iterator[Item]:
    while window.skip_whitespace():
        item = _decode_item(window)
        yield item
        if item.error is not None:
            return
    if window.bad_pos is not None:
        yield window.error(window.bad_pos, "")


# -- writing -----------------------------------------------------------------------------------


class AtomicWriter:
    """A binary file written under a temporary name and renamed into place on success.

    Readers never see a half-written file; on an exception the temporary file is removed and the
    target is left as it was.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        folder = self.path.parent
        try:
            handle, self._tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=folder)
        except OSError as exc:
            raise DataError(str(path), f"cannot be written: {exc.strerror or exc}.") from None
        self.file = os.fdopen(handle, "wb")

    def write(self, data: bytes) -> None:
        self.file.write(data)

    def commit(self) -> None:
        """Close, give the file the permissions a plain ``open`` would (mkstemp makes it private), rename."""
        self.file.close()
        umask = os.umask(0)
        os.umask(umask)
        try:
            os.chmod(self._tmp, 0o666 & ~umask)
        except OSError:
            pass
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        self.file.close()
        try:
            os.unlink(self._tmp)
        except FileNotFoundError:
            pass

    def __enter__(self) -> AtomicWriter:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


class QuarantineWriter:
    """Records that failed validation, unchanged, with their issues: one JSON object per line.

    Each line is ``{"record": <index>, "line": <line>, "issues": [...], "item": <the value as read>}``,
    or ``"text": <the raw line>`` instead of ``"item"`` when the line could not be decoded. The file is
    written atomically (it appears only when the run completes).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._out = AtomicWriter(path)
        self.path = self._out.path
        self.count = 0

    def write(self, item: Item, issues: Iterable[Any]) -> None:
        entry: dict[str, Any] = {"record": item.index, "line": item.line, "issues": list(issues)}
        if item.error is None:
            entry["item"] = item.value
        elif item.text is not None:
            entry["text"] = item.text
        self._out.write(encode_line(entry))
        self.count += 1

    def close(self) -> None:
        self._out.commit()

    def abort(self) -> None:
        self._out.abort()

    def __enter__(self) -> QuarantineWriter:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
