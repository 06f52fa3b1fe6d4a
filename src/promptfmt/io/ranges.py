"""Cutting a file into parts that processes read on their own: JSON Lines at line ends, a JSON array at a
comma between two records. Only plain (uncompressed) files can be cut: `can_split` says whether one can."""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from typing import IO, Any

from ..errors import PromptfmtError
from .hub import is_hub_name
from .items import GZIP_MAGIC, STDIN
from .reader import ARRAY, JSONL, DatasetReader

PART_BUFFER = 1 << 20


def can_split(path: str, *, arrays: bool = False) -> str | None:
    """None when ``path`` can be converted in parts (JSON Lines; JSON arrays too with ``arrays``),
    else why not (for a message)."""
    if path == STDIN:
        return "standard input cannot be cut into parts"
    if is_hub_name(path):
        return "a Hugging Face Hub dataset is streamed, it cannot be cut into parts"
    try:
        with open(path, "rb") as file:
            if file.read(2) == GZIP_MAGIC:
                return "a gzip file cannot be cut into parts"
        with DatasetReader(path) as reader:
            layout = reader.layout
    except (OSError, PromptfmtError) as exc:
        return str(exc)
    if layout == JSONL or (arrays and layout == ARRAY):
        return None
    return f"only JSON Lines{' and JSON array' if arrays else ''} files can be cut into parts, not a {layout} file"


def auto_workers(path: str, *, min_bytes: int, most: int, arrays: bool = False) -> int:
    """One process per usable CPU (at most ``most``) for a file of ``min_bytes`` or more that
    `can_split`, else 1."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    if cpus < 2 or path == STDIN or not os.path.isfile(path) or os.path.getsize(path) < min_bytes:
        return 1
    return min(cpus, most) if can_split(path, arrays=arrays) is None else 1


def offsets(size: int, parts: int, *, shrinking: bool = False) -> list[int]:
    """Where to cut ``size`` bytes into ``parts``: evenly, or ``shrinking`` (each part a little smaller
    than the one before, the last ones small), so that when processes take parts one at a time,
    the last parts, which decide when the slowest process ends, are short."""
    if not shrinking:
        return [size * k // parts for k in range(1, parts)]
    return [size - size * (parts - k) ** 2 // parts**2 for k in range(1, parts)]


def ranges(path: str, parts: int, *, shrinking: bool = False) -> list[tuple[int, int]]:
    """``parts`` byte ranges of about the same size (or `offsets` ``shrinking``), each starting at the
    start of a line."""
    size = os.path.getsize(path)
    starts = [0]
    with open(path, "rb") as file:
        for offset in offsets(size, parts, shrinking=shrinking):
            position = _next_line_start(file, offset, size)
            if starts[-1] < position < size:
                starts.append(position)
    return list(zip(starts, [*starts[1:], size]))


def _next_line_start(file: IO[bytes], offset: int, size: int) -> int:
    """Where the line after the one holding ``offset`` starts (``size`` when none does), read in
    chunks: a file without line ends is never read into memory at once."""
    file.seek(offset)
    while chunk := file.read(_CUT_SEARCH):
        end = chunk.find(b"\n")
        if end >= 0:
            return offset + end + 1
        offset += len(chunk)
    return size


_ARRAY_CUT = re.compile(rb"\}[ \t\r\n]*,[ \t\r\n]*\{")  # "}, {": maybe between two records of an array
_CUT_SEARCH = 1 << 20


@dataclass(frozen=True)
class Cut:
    """One part of a file: the bytes ``[start, stop)``, read with ``prefix`` before and ``suffix`` after."""

    start: int
    stop: int
    prefix: bytes = b""
    suffix: bytes = b""


def cuts(path: str, parts: int) -> tuple[str, list[Cut]]:
    """The layout of ``path`` (which `can_split` with arrays) and up to ``parts`` parts of it, each
    smaller than the one before (`offsets`).

    JSON Lines is cut at line starts (`ranges`). A JSON array is cut at a ``,`` between two records
    (``}, {``), and each part made an array of its own (``[`` ... ``]``). That comma may be inside a
    string or a nested value: then the part before it is not valid JSON, which `convert_parts`
    notices (an ``invalid-json`` item) and converts the file in one process instead. A part that
    reads as a whole array proves its cut: JSON decodes left to right.
    """
    with DatasetReader(path) as reader:
        layout = reader.layout
    if layout != ARRAY:
        return layout, [Cut(start, stop) for start, stop in ranges(path, parts, shrinking=True)]
    size = os.path.getsize(path)
    commas: list[int] = []
    with open(path, "rb") as file:
        for offset in offsets(size, parts, shrinking=True):
            file.seek(offset)
            found = _ARRAY_CUT.search(file.read(_CUT_SEARCH))
            if found is not None:
                comma = offset + found.start() + found.group().index(b",")
                if not commas or comma > commas[-1]:
                    commas.append(comma)
    if not commas:
        return layout, [Cut(0, size)]
    starts = [0, *(comma + 1 for comma in commas)]
    stops = [*commas, size]
    last = len(starts) - 1
    return layout, [
        Cut(start, stop, b"[" if k else b"", b"]" if k < last else b"")
        for k, (start, stop) in enumerate(zip(starts, stops))
    ]


def open_range(path: str, start: int, stop: int, prefix: bytes = b"", suffix: bytes = b"") -> io.BufferedReader:
    """A buffered binary stream of the bytes ``[start, stop)`` of ``path`` (see `ranges`), after
    ``prefix`` and before ``suffix``; its ``raw`` is the `ByteRange`."""
    return io.BufferedReader(ByteRange(path, start, stop, prefix, suffix), buffer_size=PART_BUFFER)


class ByteRange(io.RawIOBase):
    """The bytes ``[start, stop)`` of a file (after ``prefix``, before ``suffix``), counting how
    many of the file's were read (``consumed``)."""

    def __init__(self, path: str, start: int, stop: int, prefix: bytes = b"", suffix: bytes = b"") -> None:
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115 - closed in close()
        self._file.seek(start)
        self._left = stop - start
        self._prefix, self._suffix = prefix, suffix
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        if self._prefix:
            size = _copy(self._prefix, view)
            self._prefix = self._prefix[size:]
            return size
        if self._left > 0:
            got = self._file.readinto(view[: min(len(view), self._left)]) or 0
            if got:
                self._left -= got
                self.consumed += got
                return got
            self._left = 0  # the file is shorter than it was: end here
        size = _copy(self._suffix, view)
        self._suffix = self._suffix[size:]
        return size

    def close(self) -> None:
        self._file.close()
        super().close()


def _copy(data: bytes, view: memoryview) -> int:
    """Copy the start of ``data`` into ``view``; how many bytes."""
    size = min(len(view), len(data))
    view[:size] = data[:size]
    return size
