"""Reading datasets: JSON arrays and JSON Lines, gzip or not, UTF-8 with or without BOM.

The layout is told apart by content, not by extension. JSON Lines is streamed line by line
(memory stays flat as the file grows); a JSON array is read whole (a JSON array cannot be
streamed without a streaming parser, and it costs ~6x its size in memory: prefer JSONL for big
data). Every decoded value comes out as an `Item` that knows its index and starting line; a
malformed line is an `Item` with an ``error``, not the end of the run. A malformed JSON array
yields one error item with line and column, after the items decoded before it.
"""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from .errors import DataError

GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
STDIN = "-"
_WHITESPACE = " \t\r\n"


@dataclass(frozen=True, slots=True)
class Item:
    """One decoded value of a dataset, or the error that kept it from being decoded."""

    index: int
    line: int
    value: Any = None
    error: str | None = None
    column: int | None = None


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
    else:
        try:
            raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
        except FileNotFoundError:
            raise DataError(path, "no such file. Check the path.") from None
        except IsADirectoryError:
            raise DataError(path, "is a folder, not a dataset file.") from None
        except PermissionError:
            raise DataError(path, "permission denied.") from None
    head = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    if head == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


def read_items(path: str, stdin: IO[bytes] | None = None) -> Iterator[Item]:
    """Every value of the dataset at ``path``, in order, with its index and line."""
    name = Source(path).name
    stream = open_binary(path, stdin)
    try:
        yield from _read_stream(stream, name)
    except (OSError, EOFError) as exc:  # truncated gzip, unreadable device ...
        raise DataError(name, f"cannot be read: {exc}") from None
    finally:
        if path != STDIN:
            stream.close()


def _read_stream(stream: IO[bytes], name: str) -> Iterator[Item]:
    lines = iter(stream)
    head: list[bytes] = []
    for raw in lines:
        if not head and raw.startswith(UTF8_BOM):
            raw = raw[len(UTF8_BOM):]
        head.append(raw)
        if raw.strip():
            break
    first = head[-1].lstrip() if head else b""
    if first.startswith(b"["):
        data = b"".join(head) + b"".join(lines)
        yield from _read_array(data, name)
    else:
        yield from _read_lines(_chain(head, lines))


def _chain(head: list[bytes], rest: Iterable[bytes]) -> Iterator[bytes]:
    yield from head
    yield from rest


def _read_lines(lines: Iterable[bytes]) -> Iterator[Item]:
    index = 0
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            yield Item(index, number, error=_describe(exc, raw), column=_column(exc))
        else:
            yield Item(index, number, value)
        index += 1


def _read_array(data: bytes, name: str) -> Iterator[Item]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        yield Item(0, line, error=f"not UTF-8 text (byte {exc.start}): save the file as UTF-8")
        return
    if text.startswith("\ufeff"):
        text = text[1:]
    decoder = json.JSONDecoder()
    pos = _skip(text, 0) + 1  # past "["
    line, counted = 1, 0
    index = 0
    pos = _skip(text, pos)
    if text.startswith("]", pos):
        yield from _trailing(text, pos + 1, index)
        return
    while True:
        line += text.count("\n", counted, pos)
        counted = pos
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            yield Item(index, exc.lineno, error=f"invalid JSON in the array: {exc.msg}", column=exc.colno)
            return
        yield Item(index, line, value)
        index += 1
        pos = _skip(text, end)
        if text.startswith(",", pos):
            pos = _skip(text, pos + 1)
            continue
        if text.startswith("]", pos):
            yield from _trailing(text, pos + 1, index)
            return
        err_line, column = _line_column(text, pos)
        expected = "',' or ']'" if pos < len(text) else "']' before the end of the file"
        yield Item(index, err_line, error=f"invalid JSON in the array: expected {expected}", column=column)
        return


def _trailing(text: str, pos: int, index: int) -> Iterator[Item]:
    pos = _skip(text, pos)
    if pos < len(text):
        line, column = _line_column(text, pos)
        yield Item(index, line, error="invalid JSON: extra data after the closing ']'", column=column)


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WHITESPACE:
        pos += 1
    return pos


def _line_column(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


def _column(exc: json.JSONDecodeError) -> int | None:
    return getattr(exc, "colno", None)


def _describe(exc: json.JSONDecodeError, raw: bytes) -> str:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return "invalid JSON: the line is not UTF-8 text; save the file as UTF-8"
    message = getattr(exc, "msg", str(exc))
    return f"invalid JSON: {message}"
