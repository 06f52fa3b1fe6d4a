"""JSON arrays, fast: each object record cut out of the bytes and decoded on its own."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from typing import IO, Any

import msgspec

from .depth import MAX_DEPTH, too_deep, too_deep_message, value_end
from .items import DECODE_ERRORS, INVALID_JSON, IO_ERRORS, Block, Item, decode, duplicate_keys
from .window import read_values

# -- JSON arrays, fast: each record decoded from its own bytes ---------------------------------------

_SEPARATOR = re.compile(rb"[ \t\r\n]*,[ \t\r\n]*")
_BYTES_WS = re.compile(rb"[ \t\r\n]*")
_TRAILING = re.compile(r"trailing characters \(byte (\d+)\)")  # msgspec: a value, then more (1-based)
_SKIP = msgspec.json.Decoder(msgspec.Raw).decode  # checks a value's bytes without building it
_ARRAY_BATCH = 1 << 20  # bytes read at a time (more while one record is longer)
_ARRAY_RECORD_LIMIT = 64 << 20  # a record still open after this many bytes is left to the window
_ARRAY_RECORDS = 64  # records decoded per batch
_PIECE = 1 << 16  # bytes decoded at a time to count the characters before a column

# What `_ArrayScan.records` found after its batch: more records in the buffer, the need of more
# bytes, or something only the window reader reads ("]", a value that is not an object, broken JSON).
_MORE, _NEED, _DONE = "more", "need", "done"
_DEEP = "deep"  # `_ArrayScan._find`: a value nested deeper than the bound
# How a record's end is looked for: the last "}" of its line (one record per line, the usual
# layout), the first "}" after its start (flat records), or by decoding (anything).
_BY_LINE, _BY_BRACE, _EXACT = 0, 1, 2


def read_array_fast(head: bytes, stream: IO[bytes], line: int, *, max_depth: int = MAX_DEPTH) -> Iterator[Item]:
    """The records of a JSON array (``head`` holds its first bytes, the rest is in ``stream``).

    Each record that is an object is cut out of the bytes and decoded (`decode`). Where it ends is
    guessed from the layout and confirmed by decoding; when the guess is wrong, msgspec's own error
    ("trailing characters (byte N)") tells where the value ends. Every step costs time in proportion
    to the record, never to the buffer: a one-line array (``json.dump``'s default) reads as fast as
    JSON Lines, in memory bounded by what was read and not yet used (``_ARRAY_BATCH`` and the
    longest record). The records read from one batch of bytes share a `Block` of their raw JSON, so
    that validation gates them as it gates JSON Lines.

    A value nested more than ``max_depth`` levels is one located error item, and the reading goes
    on after it. Anything else (a value that is not an object, a record `decode` refuses, broken
    JSON, the end of the array) is handed over to the window reader right after the last record
    read here; it then reports exactly what it reports when it reads the whole array itself.
    """
    read = getattr(stream, "read1", stream.read)
    scan = _ArrayScan(head, line, max_depth)
    eof = False
    failure: BaseException | None = None
    while True:
        items, status = scan.records()
        yield from items
        if status == _MORE:
            continue
        if status == _DONE or eof or failure is not None or scan.open_bytes() > _ARRAY_RECORD_LIMIT:
            break
        scan.drop_read()
        chunk, failure = _read_more(read, max(_ARRAY_BATCH, scan.open_bytes()))
        if chunk:
            scan.buffer += chunk
        else:
            eof = failure is None
    rest, line, column = scan.hand_over()
    yield from read_values(_rest(rest, read, failure, eof), line=line, array=True, index=scan.index,
                           resume=scan.index > 0, column=column, max_depth=max_depth)


def _read_more(read: Any, size: int) -> tuple[bytes, BaseException | None]:
    """At least ``size`` more bytes (fewer at the end of the stream), joined once: a record longer
    than a batch grows the buffer geometrically, not a batch at a time. A read error ends the
    reading but keeps what was read before it."""
    parts: list[bytes] = []
    got = 0
    try:
        while got < size:
            chunk = read(size - got)
            if not chunk:
                break
            parts.append(chunk)
            got += len(chunk)
    except IO_ERRORS as exc:
        return b"".join(parts), exc
    return b"".join(parts), None


def _decode_to(view: memoryview, start: int, stop: int) -> tuple[Any, int] | None:
    """The value that starts at ``start``, if ``view[start:stop]`` holds it: decoded as is, or up to
    where msgspec says it ends (then decoded again). None when it does not hold the whole value."""
    try:
        return decode(view[start:stop]), stop
    except msgspec.DecodeError as exc:
        trailing = _TRAILING.search(str(exc))
        if trailing is None:
            return None
        end = _strip_end(view, start + int(trailing.group(1)) - 1)
    except RecursionError:
        return None
    try:
        return decode(view[start:end]), end
    except DECODE_ERRORS:
        return None


def _exact(view: memoryview, start: int) -> tuple[Any, int] | str:
    """The value at ``start``, wherever it ends: (value, end); `_NEED` when the bytes read so far end
    inside it or right after it, `_DONE` for broken JSON, `_DEEP` for a value too deep to decode."""
    try:
        _SKIP(view[start:])
    except msgspec.DecodeError as exc:
        message = str(exc)
        trailing = _TRAILING.search(message)
        if trailing is None:
            return _NEED if "truncated" in message else _DONE
        stop = _strip_end(view, start + int(trailing.group(1)) - 1)
    except RecursionError:
        return _DEEP
    else:
        return _NEED  # it runs to the end of the buffer: what follows it is still to come
    try:
        return decode(view[start:stop]), stop
    except RecursionError:
        return _DEEP
    except DECODE_ERRORS:
        return _DONE  # the window reader says what is wrong, and where


def _strip_end(view: memoryview, end: int) -> int:
    """``end`` moved back over the whitespace before it."""
    while view[end - 1] in b" \t\r\n":
        end -= 1
    return end


def _batch() -> tuple[list[Item], list[int], list[int]]:
    """A batch of records being read: the items, their offsets in the block, their lines."""
    return [], [], []


class _ArrayScan:
    """The bytes of a JSON array read so far, and where the fast reader stands in them."""

    def __init__(self, head: bytes, line: int, max_depth: int) -> None:
        self.buffer = head
        self.max_depth = max_depth
        self.counted, self.line = 0, line  # ``line`` is the line number of buffer[counted]
        self.resume = 0  # offset right after the last record read (0 while none was)
        self.carried = 0  # characters of the current line in bytes dropped before buffer[0]
        self.index = 0  # of the next record
        self.newline = -1  # the first "\n" at or after ``searched``; -1: none before len(buffer)
        self.searched = 0
        self.long_line = False  # the line that ends at ``newline`` holds more than one record
        self._items: list[Item] = []  # the batch being read (see `records`)
        self._starts: list[int] = []
        self._numbers: list[int] = []

    def records(self) -> tuple[list[Item], str]:
        """The object records from the last one read on (at most `_ARRAY_RECORDS`: they are decoded
        before the first is used, and a small batch stays in the CPU's cache), and what follows."""
        buffer, size = self.buffer, len(self.buffer)
        start = self._next_start()
        if start < 0:  # no comma after the last record (yet): "]", broken JSON, or more to read
            return [], _DONE if _skip_ws(buffer, self.resume) < size else _NEED
        if start >= size or buffer[start] != 0x7B:  # "{"
            return [], _NEED if start >= size else _DONE
        view = memoryview(buffer)
        items, starts, numbers = self._items, self._starts, self._numbers = _batch()
        block = Block(b"", 0, numbers=numbers)  # its data and rows are set once the batch is read
        first, index, resume, mode = start, self.index, self.resume, _BY_LINE
        line = self.line + buffer.count(b"\n", self.counted, start)  # the line of ``start``
        newline = self._newline_after(start)
        last, bound, status = index + _ARRAY_RECORDS, 2 * self.max_depth, _MORE
        while True:
            if mode == _BY_LINE:  # the usual layout first: a run of records one per line
                start, index, line, resume = self._line_records(start, index, line, last, block, first, resume)
                if index == last:
                    break
            end = -1
            if mode == _BY_BRACE:  # the hot path of a one-line array: the first "}" ends a flat record
                close = buffer.find(b"}", start) + 1
                try:
                    value, end = decode(view[start:close]), close
                except DECODE_ERRORS:
                    mode = _EXACT
            if end < 0 or (end - start > bound and too_deep(buffer, start, end, self.max_depth)):
                found = self._find(view, start, mode) if end < 0 else _DEEP
                if isinstance(found, str):
                    if found == _DEEP and not items:
                        return self._deep(start, line)
                    status = _MORE if found == _DEEP else found  # a deep value starts the next batch
                    break
                value, end, mode = found
            twice = (duplicate_keys(buffer, value, start, end)
                     if type(value) is dict and buffer.count(b'":', start, end) != len(value) else ())
            items.append(Item(index, line, value, None, None, INVALID_JSON, None, block, twice))
            starts.append(start - first)
            numbers.append(line)
            index, resume = index + 1, end
            separator = _SEPARATOR.match(buffer, end)
            if separator is None:  # "]", the end of the bytes read, or what the window reports
                status = _DONE if _skip_ws(buffer, end) < size else _NEED
                break
            following = separator.end()
            if 0 <= newline < following:  # line ends are counted only where there are some
                line += buffer.count(b"\n", start, following)
                newline = self._newline_after(following)
            start = following
            if start >= size:
                status = _NEED
                break
            if index == last:
                break
            if buffer[start] != 0x7B:  # not an object: the window reads it
                status = _DONE
                break
        if items:
            self._read(block, first, resume, starts)
        return items, status

    def _line_records(self, start: int, index: int, line: int, last: int, block: Block, first: int, resume: int,
                      ) -> tuple[int, int, int, int]:
        """Records laid out one per line, each ending in ``},\\n{``, read while they last (up to
        index ``last``) into ``block``: the next start, index and line, and where the last one read
        ends (``resume`` when none was). The loop of the usual array: no call but the decoder's."""
        buffer, size, bound = self.buffer, len(self.buffer), 2 * self.max_depth
        numbers, starts, items = self._numbers, self._starts, self._items
        while index < last:
            newline = buffer.find(b"\n", start)
            if not (0 < newline < size - 1 and buffer[newline + 1] == 0x7B and buffer[newline - 1] == 0x2C
                    and buffer[newline - 2] == 0x7D and newline - 1 - start <= bound):
                break
            try:
                value = decode(buffer[start:newline - 1])
            except DECODE_ERRORS:
                break
            twice = (duplicate_keys(buffer, value, start, newline - 1)
                     if type(value) is dict and buffer.count(b'":', start, newline) != len(value) else ())
            items.append(Item(index, line, value, None, None, INVALID_JSON, None, block, twice))
            starts.append(start - first)
            numbers.append(line)
            index, resume, line, start = index + 1, newline - 1, line + 1, newline + 1
        return start, index, line, resume

    def _find(self, view: memoryview, start: int, mode: int) -> tuple[Any, int, int] | str:
        """The record at ``start``: (value, end, the mode for the next record), or `_NEED`, `_DONE`
        or `_DEEP`. A guess that decodes as is keeps its mode; a wrong one moves on to the next."""
        buffer = self.buffer
        found: tuple[Any, int] | str | None = None
        if mode == _BY_LINE:
            newline = self._newline_after(start)
            close = buffer.rfind(b"}", start, newline) if newline >= 0 and not self.long_line else -1
            found = _decode_to(view, start, close + 1) if close >= 0 else None
            if found is None or found[1] != close + 1:
                mode, self.long_line = _BY_BRACE, True  # not this line's last "}": guess no more on it
        if found is None and mode == _BY_BRACE:
            close = buffer.find(b"}", start)
            found = _decode_to(view, start, close + 1) if close >= 0 else None
            if found is None:
                mode = _EXACT
        if found is None:
            found = _exact(view, start)
        if isinstance(found, str):
            return found
        value, end = found
        if too_deep(buffer, start, end, self.max_depth):
            return _DEEP
        return value, end, mode

    def _deep(self, start: int, line: int) -> tuple[list[Item], str]:
        """The error item of the over-deep value at ``start``, read past; `_NEED` while it is open."""
        end = value_end(self.buffer, start)
        if end is None:
            return [], _NEED
        column = _chars_on_last_line(self.buffer, start, self.carried) + 1
        item = Item(self.index, line, error=too_deep_message(self.max_depth, column), column=column)
        self.index += 1
        self.counted, self.line, self.resume = start, line, end
        return [item], _MORE

    def _newline_after(self, start: int) -> int:
        """The first line end at or after ``start`` (-1: none in the buffer). Each byte is searched
        once, however many records a line holds."""
        if self.newline < start:
            found = self.buffer.find(b"\n", max(start, self.searched))
            self.newline, self.searched = found, len(self.buffer) if found < 0 else found
            self.long_line = False
        return self.newline

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
            cut = self.resume
            self.buffer, self.counted, self.resume = self.buffer[cut:], 0, 0
            self.newline = self.newline - cut if self.newline >= cut else -1
            self.searched = max(self.searched - cut, 0)

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
        return _chars(memoryview(data)[newline + 1:end])
    return carried + _chars(memoryview(data)[:end])


def _chars(view: memoryview) -> int:
    """How many UTF-8 characters ``view`` holds, decoded 64 KiB at a time (never a copy of it all)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    return sum(len(decoder.decode(view[at:at + _PIECE])) for at in range(0, len(view), _PIECE))


def _rest(tail: bytes, read: Any, failure: BaseException | None, eof: bool) -> Iterator[bytes]:
    """``tail`` and the rest of the stream (re-raising the read error that stopped the fast reader)."""
    yield tail
    if failure is not None:
        raise failure
    if not eof:
        yield from iter(lambda: read(_ARRAY_BATCH), b"")
