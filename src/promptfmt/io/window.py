"""JSON arrays and concatenated documents, streamed through a sliding window of text.

The standard library's decoder reads each value and locates every error (line and column); the
window is the reference reader, and takes over from the fast array reader (`promptfmt.io.arrays`)
wherever that one stops.
"""

from __future__ import annotations

import codecs
import functools
import json
import re
from collections.abc import Iterator
from typing import Any

from .depth import MAX_DEPTH, too_deep, too_deep_message, value_end
from .items import FIX_UTF8, IO_ERRORS, Item, noting_repeats, unreadable_item

_CHUNK = 1 << 20  # characters decoded per refill of the window
_LOOKAHEAD = 12  # a decode error this close to the end of the window may be cured by more text
_WS = re.compile(r"[ \t\r\n]*")


class _NotJson(ValueError):
    """A value that Python's decoder accepts but JSON does not (NaN, Infinity)."""


def _reject_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not valid JSON; write null or a string instead")


_TWICE: list[str] = []  # the keys found twice in one object of the value decoded last
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, object_pairs_hook=functools.partial(noting_repeats, _TWICE))


class _Window:
    """A sliding window of decoded text over a byte stream, with line and column bookkeeping.

    ``text[pos:]`` is what is left to read. Lines are counted incrementally up to ``pos``, and the
    characters of the current line that were trimmed away (``_column``), so columns can always be
    computed: the text read is dropped once it is half the window, even inside one long line (a
    one-line array), which keeps the window's size and the work of reading linear.
    Text after an invalid UTF-8 byte is never decoded: the window ends there (``bad_pos``), and an
    error at that point is reported as an encoding error.
    """

    def __init__(self, lines: Iterator[bytes], line: int, column: int = 1, max_depth: int = MAX_DEPTH) -> None:
        self._lines = lines
        self.max_depth = max_depth
        self._column = column - 1  # characters of the current line before text[_line_start]
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
        cut = self.pos
        if cut > len(self.text) // 2:  # half of it read: drop that half (each character is copied O(1) times)
            self.text = self.text[cut:]
            self.pos = self._counted = 0
            self._column += cut - self._line_start
            self._line_start = 0
            if self.bad_pos is not None:
                self.bad_pos -= cut
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
                raise _TooDeep(self._deep_end()) from None
            except ValueError as exc:  # NaN / Infinity, integers too long to convert
                raise _Malformed(str(exc), self.pos) from None
            if end >= len(self.text) and not self.eof:  # a number may go on in the next chunk
                self.fill()
                continue
            if too_deep(self.text, self.pos, end, self.max_depth):
                raise _TooDeep(end)
            self.advance(end)
            return value

    def _deep_end(self) -> int:
        """Where the value at the current position, too deep to decode, ends (filling as needed)."""
        while True:
            end = value_end(self.text, self.pos)
            if end is not None:
                return end
            if self.eof:
                raise _Malformed("the value is nested too deeply", self.pos)
            self.fill(max(_CHUNK, len(self.text) - self.pos))

    def error(
        self, pos: int, message: str, *, at_end: bool = False, rest_unchecked: bool = True,
        location: tuple[int, int] | None = None,
    ) -> Item:
        """The error item for a problem at ``pos`` (an encoding error when the text stopped there)."""
        if self.bad_pos is not None and (at_end or pos >= self.bad_pos - _LOOKAHEAD):
            pos, location = self.bad_pos, None
            message = f"the text is not UTF-8 (byte 0x{self.bad_byte:02x}): {FIX_UTF8}"
        line, column = location or self.where(max(pos, self.pos))
        rest_unchecked = rest_unchecked and not at_end
        rest = f"; the rest of the file (from line {line}) was not checked" if rest_unchecked else ""
        return Item(self.index, line, error=f"invalid JSON: {message} (column {column}){rest}", column=column)


class _TooDeep(Exception):
    """A value nested deeper than the bound: one error item, and the reading goes on at ``end``."""

    def __init__(self, end: int) -> None:
        super().__init__(end)
        self.end = end


class _Malformed(Exception):
    def __init__(self, message: str, pos: int, *, at_end: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos
        self.at_end = at_end


def _curable(exc: json.JSONDecodeError, length: int) -> bool:
    """Whether more text could make the value decode (it was cut by the end of the window)."""
    return exc.msg.startswith("Unterminated string") or exc.pos >= length - _LOOKAHEAD


def read_values(
    lines: Iterator[bytes], *, line: int, array: bool, index: int = 0, resume: bool = False, column: int = 1,
    max_depth: int = MAX_DEPTH,
) -> Iterator[Item]:
    """The items of an array or of concatenated documents, through the window. ``resume``: the text
    starts right after record ``index - 1`` of an array, at ``line`` and ``column`` (where
    `read_array_fast` handed over). A value nested more than ``max_depth`` levels is one error item,
    and the reading goes on after it."""
    window = _Window(lines, line, column, max_depth)
    window.index = index
    try:
        window.fill()
        yield from (_read_array(window, resume=resume) if array else _read_documents(window))
    except IO_ERRORS as exc:
        yield unreadable_item(window.index, window.line, exc)


def _decode_item(window: _Window) -> tuple[Item, bool]:
    """The next item, and whether it ends the reading (broken JSON does; an over-deep value does not)."""
    line = window.line
    _TWICE.clear()
    try:
        value = window.decode_value()
    except _TooDeep as deep:
        column = window.where(window.pos)[1]
        item = Item(window.index, line, error=too_deep_message(window.max_depth, column), column=column)
        window.index += 1
        window.advance(deep.end)
        return item, False
    except _Malformed as exc:
        return window.error(exc.pos, exc.message, at_end=exc.at_end), True
    item = Item(window.index, line, value, duplicates=tuple(_TWICE))
    window.index += 1
    return item, False


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
        if resume:  # the record before was read by read_array_fast
            resume = False
            item = Item(window.index - 1, window.line)
        else:
            item, fatal = _decode_item(window)
            yield item
            if fatal:
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




def _trailing(window: _Window) -> Iterator[Item]:
    if window.skip_whitespace():
        yield window.error(window.pos, "extra data after the closing ']'; a file holds one JSON array",
                           rest_unchecked=False)
    elif window.bad_pos is not None:
        yield window.error(window.bad_pos, "", rest_unchecked=False)


def _read_documents(window: _Window) -> Iterator[Item]:
    while window.skip_whitespace():
        item, fatal = _decode_item(window)
        yield item
        if fatal:
            return
    if window.bad_pos is not None:
        yield window.error(window.bad_pos, "")

