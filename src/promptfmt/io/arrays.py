"""JSON arrays, fast: each object record cut out of the bytes and decoded on its own."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, Any

from .items import DECODE_ERRORS, INVALID_JSON, IO_ERRORS, Block, Item, decode
from .window import read_values

# -- JSON arrays, fast: each record decoded from its own bytes ---------------------------------------

_RECORD_END = re.compile(rb"\}[ \t\r\n]*(?:,[ \t\r\n]*|\])")  # a "}" that may close a record, and what follows
_SEPARATOR = re.compile(rb"[ \t\r\n]*,[ \t\r\n]*")
_BYTES_WS = re.compile(rb"[ \t\r\n]*")
_ARRAY_BATCH = 1 << 20  # bytes read at a time
_ARRAY_RECORD_LIMIT = 64 << 20  # a record still open after this many bytes is left to the window
_RECORD_TRIES = 64  # candidate ends tried per record before the window reads the rest
_ARRAY_RECORDS = 64  # records decoded per batch


def read_array_fast(head: bytes, stream: IO[bytes], line: int) -> Iterator[Item]:
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
        except IO_ERRORS as exc:
            failure, chunk = exc, b""
        if chunk:
            scan.buffer += chunk
        else:
            eof = True
    rest, line, column = scan.hand_over()
    yield from read_values(_rest(rest, read, failure, eof), line=line, array=True, index=scan.index,
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
        start = self._next_start()
        if start < 0 or start >= size or buffer[start] != 0x7B:  # "{"
            return items, start < size if start >= 0 else _skip_ws(buffer, self.resume) < size
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
                if not isinstance(found, tuple):  # None: read more; _GAVE_UP: the window reads the rest
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
            self._read(block, first, resume, starts)
        return items, done

    def _read(self, block: Block, first: int, resume: int, starts: list[int]) -> None:
        """Settle a batch: its block holds ``buffer[first:resume]``, row k from ``starts[k]``."""
        numbers = block.numbers
        assert numbers is not None
        block.data = self.buffer[first:resume]
        block.rows(starts)
        self.index += len(starts)
        self.counted, self.line, self.resume = first + starts[-1], numbers[-1], resume

    def _next_start(self) -> int:
        """Where the next value starts: after "[" or after the comma that follows the last record
        read; -1 when the bytes after that record hold no comma (yet)."""
        buffer = self.buffer
        if not self.index:
            return _skip_ws(buffer, _skip_ws(buffer, 0) + 1)  # after "["
        separator = _SEPARATOR.match(buffer, self.resume)
        return -1 if separator is None else separator.end()

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


def _skip_ws(data: bytes, pos: int) -> int:
    """Where the whitespace that starts at ``pos`` ends."""
    match = _BYTES_WS.match(data, pos)
    return pos if match is None else match.end()


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

