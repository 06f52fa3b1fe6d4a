"""JSON Lines: a stream cut into `Block` objects of whole lines, and the items decoded from them."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

import msgspec
import orjson

from .depth import too_deep, too_deep_message
from .items import (
    DECODE_ERRORS,
    FIX_UTF8,
    INVALID_JSON,
    IO_ERRORS,
    TOO_LONG,
    UNREADABLE,
    UTF8_BOM,
    Block,
    Item,
    decode,
    duplicate_keys,
    too_large_item,
    too_long_marker,
    unreadable_message,
)
from .limits import limits

BLOCK_BYTES = 1 << 20  # bytes of JSON Lines read at a time
SKIP_FACTOR = 16  # a line this many times the record limit ends the reading: no end is coming


def blocks_of(stream: IO[bytes], *, strip_bom: bool = False, line: int = 1) -> Iterator[Block]:
    """A stream of JSON Lines (a whole file, or a range of one that starts at a line start) as blocks."""
    first = b""
    if strip_bom:
        first = stream.read(len(UTF8_BOM))
        if first == UTF8_BOM:
            first = b""
    return read_blocks(first, stream, line)


def read_blocks(first: bytes, stream: IO[bytes], line: int, size: int = 0) -> Iterator[Block]:
    """``first`` (the start of a line) and the rest of ``stream``, cut at line ends into blocks of ~``size`` bytes.

    Reads with ``read1`` (one decompression step at a time), so that when the stream breaks (a
    truncated gzip file) every whole line before the break is still read. A line longer than
    `limits.max_record_bytes` is never held: it is read through and stands in its block as a short
    marker line, which `undecodable` turns into a ``too-large`` item; memory stays within the bound.
    """
    size = size or BLOCK_BYTES
    limit = limits.max_record_bytes
    read = getattr(stream, "read1", stream.read)
    ready, pending, held = _whole_lines(first, limit)  # whole lines not in a block yet; the unfinished one
    while True:
        chunks, got, error = _read_some(read, size)
        if not got:
            if ready:
                yield (block := Block(ready, line))
                line += block.line_ends()
            if held and error is None:
                yield Block(b"".join(pending), line) if held <= limit else Block(too_long_marker(held), line)
            break
        data = b"".join(chunks)
        end = data.find(b"\n")
        if (end >= 0 and held + end > limit or end < 0 and held + len(data) > limit) and ready:
            yield (block := Block(ready, line))  # the whole lines before a line too long
            line += block.line_ends()
            ready = b""
        if end >= 0 and held + end > limit:  # the unfinished line ends here, too long
            yield Block(too_long_marker(held + end + 1), line)
            line += 1
            data, pending, held = data[end + 1:], [], 0
            end = data.find(b"\n")
        cut = data.rfind(b"\n") + 1
        if cut:
            block = Block(b"".join((ready, *pending, _bounded(data[:cut], limit))), line)
            ready = b""
            yield block
            line += block.line_ends()  # after the reader went through the block: its count, if it kept one
            pending, held = [data[cut:]], len(data) - cut
        else:
            pending.append(data)
            held += len(data)
        if held > limit and error is None:
            skipped, rest, ended, error = _skip_line(read, size)
            yield Block(too_long_marker(held + skipped), line)
            line += 1
            ready, pending, held = _whole_lines(rest, limit)
            if ended:
                return
        if error is not None:
            break
    if error is not None:
        yield Block(b"", line, error=error)


def _whole_lines(data: bytes, limit: int) -> tuple[bytes, list[bytes], int]:
    """``data`` as its whole lines (a line over ``limit`` replaced by its marker), and the pieces
    and length of the unfinished line after them."""
    cut = data.rfind(b"\n") + 1
    return _bounded(data[:cut], limit), [data[cut:]], len(data) - cut


def _bounded(whole: bytes, limit: int) -> bytes:
    """Whole lines, each one over ``limit`` replaced by its marker (only a chunk longer than the
    limit can hold one: with the default bound of 64 MiB and 1 MiB reads, never)."""
    if len(whole) <= limit:
        return whole
    return b"".join(line + b"\n" if len(line) <= limit else too_long_marker(len(line) + 1)
                    for line in whole.split(b"\n")[:-1])


def _read_some(read: Callable[[int], bytes], size: int) -> tuple[list[bytes], int, str | None]:
    """About ``size`` bytes from the stream: the chunks, their length, and why the stream broke."""
    chunks: list[bytes] = []
    got = 0
    try:
        while got < size:
            chunk = read(size)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
    except IO_ERRORS as exc:
        return chunks, got, unreadable_message(exc)
    return chunks, got, None


def _skip_line(read: Callable[[int], bytes], size: int) -> tuple[int, bytes, bool, str | None]:
    """Read through the rest of a line too long to hold: the bytes skipped, what follows its line
    end, whether the stream ended inside the line, and why the stream broke."""
    skipped = 0
    while True:
        try:
            chunk = read(size)
        except IO_ERRORS as exc:
            return skipped, b"", False, unreadable_message(exc)
        if not chunk:
            return skipped, b"", True, None
        end = chunk.find(b"\n")
        if end >= 0:
            return skipped + end + 1, chunk[end + 1:], False, None
        skipped += len(chunk)
        if skipped > SKIP_FACTOR * limits.max_record_bytes:  # an endless stream (/dev/zero), not JSON Lines
            return skipped, b"", False, (f"no line end in {skipped:,} bytes: this is not JSON Lines, and the rest "
                                         "of the stream was not read")



def undecodable(index: int, number: int, raw: bytes) -> Item:
    """The item of a JSON Lines line that `decode` refused: its error, located by orjson's decoder."""
    if raw.startswith(TOO_LONG):
        return too_large_item(index, number, raw)
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        lenient = lenient_loads(raw)
        if lenient is not REFUSED:
            return Item(index, number, lenient)
        return line_error(index, number, raw, exc)
    return Item(index, number, value)  # refused by msgspec only (never seen): orjson's value


def read_lines(blocks: Iterable[Block]) -> Iterator[Item]:
    index = 0
    depth = limits.max_depth
    for block in blocks:
        number = block.first_line
        if block.error is not None:
            yield Item(index, number, error=block.error, code=UNREADABLE)
            return
        data = block.data
        find, size, start = data.find, len(data), 0
        bom = UTF8_BOM in data
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
                odd = (odd_item(index, number, raw, value, block, depth, bom)  # the tests of `odd_item`, first inline
                       if bom or len(raw) > 2 * depth or type(value) is dict and raw.count(b'":') != len(value) else None)
                yield Item(index, number, value, None, None, INVALID_JSON, None, block) if odd is None else odd
                index += 1
            number += 1
            start = end + 1
        block._ends = number - block.first_line - (0 if data.endswith(b"\n") or not data else 1)


def odd_item(index: int, number: int, raw: bytes, value: Any, block: Block, depth: int, bom: bool = False) -> Item | None:
    """The item of a decoded line that holds more than its value shows: one nested deeper than
    ``depth`` or opening with a byte-order mark (``bom``: the block holds one somewhere), both error
    items, or an object with a key twice; None for the usual line (a length test, one byte count)."""
    if bom and raw.startswith(UTF8_BOM):  # msgspec skips it: the line would pass for clean
        text = raw.decode("utf-8", "backslashreplace")
        return Item(index, number, error="invalid JSON: the line starts with a byte-order mark (U+FEFF), which "
                    "belongs at most at the start of the file; remove it", column=1, text=text)
    if len(raw) > 2 * depth and too_deep(raw, 0, len(raw), depth):
        return Item(index, number, error=too_deep_message(depth))
    if type(value) is dict and raw.count(b'":') != len(value):
        twice = duplicate_keys(raw, value)
        if twice:
            return Item(index, number, value, None, None, INVALID_JSON, None, block, twice)
    return None


def line_error(index: int, number: int, raw: bytes, exc: json.JSONDecodeError) -> Item:
    """The error item of a JSON Lines line that orjson refused."""
    text = raw.decode("utf-8", "backslashreplace").rstrip("\r\n")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        at = len(raw[: bad.start].decode("utf-8", "replace")) + 1
        return Item(index, number, column=at, text=text,
                    error=f"the line is not UTF-8 text (byte 0x{raw[bad.start]:02x}, column {at}): {FIX_UTF8}")
    reason = _orjson_message(exc)
    if text.startswith("\ufeff"):
        message = "the line starts with a byte-order mark (U+FEFF); remove it"
    elif "depth" in reason or "recursion" in reason:
        message = f"the value is nested too deeply, more than {limits.max_depth} levels"
    elif "\r" in text:
        message = (f"{reason}, at a carriage return: the lines seem to end with CR alone (classic Mac OS); "
                   "convert them to LF line ends (tr '\\r' '\\n')")
    elif "infinity" in reason:
        message = ("a number too large to keep exactly (beyond 1e308, or an integer of more than 4,000 "
                   "digits); write it as a string")
    elif text.lstrip().startswith("["):
        message = "a JSON array inside JSON Lines: each line must hold one record"
    elif (getattr(exc, "pos", 0) or 0) >= len(raw.rstrip()) - 1:
        message = "the line ends before the value is complete (a truncated line, or a record split over lines?)"
    else:
        message = reason
    column: int | None = getattr(exc, "colno", None)
    where = f" (column {column})" if column else ""
    return Item(index, number, error=f"invalid JSON: {message}{where}", column=column, text=text)


REFUSED = object()
_LONGEST_INT = 4000  # digits: Python refuses to convert longer ones (sys.get_int_max_str_digits)


def lenient_loads(raw: bytes) -> Any:
    """What msgspec and orjson refuse but JSON allows: a lone surrogate escaped in a string (a
    ``control-character`` warning later), an integer too long for them (kept exactly, as raw JSON,
    up to `_LONGEST_INT` digits); `REFUSED` for anything else."""
    try:  # strict UTF-8, finite numbers: what JSON allows, no more
        return json.loads(raw.decode("utf-8"), parse_int=_exact_int, parse_float=_finite, parse_constant=_refuse)
    except (ValueError, RecursionError, TypeError):
        return REFUSED


def _exact_int(digits: str) -> Any:
    if len(digits) > _LONGEST_INT:
        raise ValueError("too long")
    return int(digits) if len(digits) < 19 else msgspec.Raw(digits.encode("ascii"))


def _finite(digits: str) -> float:
    number = float(digits)
    if math.isinf(number):  # 1e400: msgspec and orjson refuse it too
        raise ValueError("infinity")
    return number


def _refuse(name: str) -> Any:
    raise ValueError(name)


def _orjson_message(exc: json.JSONDecodeError) -> str:
    message = getattr(exc, "msg", None) or str(exc)
    return message.rstrip(".")



_LINES = msgspec.json.Decoder()


def own_lines(data: bytes) -> list[Any]:
    """The values of whole JSON Lines that promptfmt wrote itself (a worker's part file): decoded at
    once, or line by line when one of them needs `lenient_loads` (an escaped lone surrogate)."""
    try:
        return _LINES.decode_lines(data)
    except DECODE_ERRORS:
        return [own_line(line) for line in data.splitlines()]


def own_line(line: bytes) -> Any:
    """One line that promptfmt wrote itself; anything but JSON there is a bug, not the user's data."""
    try:
        return decode(line)
    except DECODE_ERRORS:
        value = lenient_loads(line)
    if value is REFUSED:
        raise AssertionError(f"a part file holds a line that is not JSON: {line[:80]!r}")
    return value
