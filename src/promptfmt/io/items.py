"""The units a dataset is read in: `Item` (one decoded value, or why it could not be decoded) and
`Block` (whole lines of JSON Lines bytes), with the decoder and the error texts they share."""

from __future__ import annotations

import bisect
import functools
import gzip
import itertools
import json
import os
import zlib
from dataclasses import dataclass
from typing import Any

import msgspec

from ..errors import one_line
from .limits import limits

GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
UTF32_BOMS = (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")
STDIN = "-"

INVALID_JSON = "invalid-json"
UNREADABLE = "unreadable"
TOO_LARGE = "too-large"
# Stands for a line not held: never valid UTF-8 nor JSON, and with a token of this process's (forked
# workers share it) so that no line of a file can pass for one.
TOO_LONG = b"\xffpromptfmt:too-long:" + os.urandom(8).hex().encode() + b":"
FIX_UTF8 = "save the file as UTF-8"


class Item(msgspec.Struct, gc=False):
    """One decoded value of a dataset, or the error that kept it from being decoded.

    ``index`` counts items from 0 (undecodable ones included); ``line`` is the 1-based line where
    the item starts (None for values that did not come from a file). For an error item, ``error``
    says what is wrong, ``code`` is its issue code (``invalid-json`` or ``unreadable``), ``column``
    the 1-based column where it was found when known, and ``text`` the raw line of an undecodable
    JSON Lines line (invalid bytes shown as ``\\xNN``), so that it can be quarantined unchanged.
    ``block`` is the `Block` of JSON Lines an item was read from (validation scans blocks at once).
    ``duplicates`` names the keys that occur twice in one object of the item (`duplicate_keys`).
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
    duplicates: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Source:
    """A dataset to read: a path, or ``-`` for standard input."""

    path: str

    @property
    def name(self) -> str:
        """The name shown in messages: control characters of the path escaped, so that no file
        name can forge a line of a report."""
        return "<stdin>" if self.path == STDIN else one_line(self.path)



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



decode = msgspec.json.Decoder().decode
"""Decode one JSON value from bytes. msgspec, not orjson, decodes records: orjson reads integers
beyond 64 bits as floats (1.2345678901234568e+29), which would change metadata silently."""
DECODE_ERRORS = (ValueError, RecursionError)
"""What `decode` raises for bytes that are not one JSON value (`undecodable` then says why)."""


def duplicate_keys(raw: bytes | bytearray, value: Any, start: int = 0, end: int | None = None) -> tuple[str, ...]:
    """The keys that occur more than once in one object of ``raw[start:end]`` (decoded as ``value``,
    where only the last of each survived). A count of ``":`` settles the common case; only an item
    whose count disagrees with its keys is parsed again, keeping every pair."""
    end = len(raw) if end is None else end
    found = raw.count(b'":', start, end)
    if type(value) is dict and found == len(value) or found == _keys(value):
        return ()
    seen: list[str] = []
    try:
        json.loads(bytes(raw[start:end]), object_pairs_hook=functools.partial(noting_repeats, seen))
    except (ValueError, RecursionError):
        return ()
    return tuple(seen)


def noting_repeats(seen: list[str], pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An ``object_pairs_hook`` (with ``seen`` bound): the object, its keys that occur more than once
    added to ``seen`` (the dict keeps the last value of each)."""
    value = dict(pairs)
    if len(value) != len(pairs):
        keys = [key for key, _ in pairs]
        seen.extend(key for key in value if keys.count(key) > 1 and key not in seen)
    return value


def _keys(value: Any) -> int:
    if type(value) is dict:
        return len(value) + sum(_keys(v) for v in value.values() if type(v) in (dict, list))
    if type(value) is list:
        return sum(_keys(v) for v in value if type(v) in (dict, list))
    return 0


IO_ERRORS = (OSError, EOFError, zlib.error)  # truncated gzip, corrupt data, unreadable device ...


def too_long_marker(size: int) -> bytes:
    """The line that stands for a line of ``size`` bytes too long to hold."""
    return TOO_LONG + str(size).encode() + b"\n"


def too_large_item(index: int, line: int, marker: bytes) -> Item:
    """The ``too-large`` error item of the line that ``marker`` stands for."""
    size = int(marker[len(TOO_LONG):].strip() or 0)
    megabytes = limits.max_record_bytes / (1 << 20)
    error = (f"the line is {size:,} bytes long, over the limit of {megabytes:g} MiB for one record, and was not "
             "read; if the record is real, raise the limit (--max-record-mb), else look for missing line ends")
    return Item(index, line, code=TOO_LARGE, error=error)


def unreadable_item(index: int, line: int, exc: BaseException) -> Item:
    """The ``unreadable`` error item of a stream that broke at item ``index``, line ``line``."""
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

