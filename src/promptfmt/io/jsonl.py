"""JSON Lines: a stream cut into `Block` objects of whole lines, and the items decoded from them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import IO

import orjson

from .items import (
    DECODE_ERRORS,
    FIX_UTF8,
    INVALID_JSON,
    IO_ERRORS,
    UNREADABLE,
    UTF8_BOM,
    Block,
    Item,
    decode,
    unreadable_message,
)

BLOCK_BYTES = 1 << 20  # bytes of JSON Lines read at a time


def blocks_of(stream: IO[bytes], *, strip_bom: bool = False, line: int = 1) -> Iterator[Block]:
    """A stream of JSON Lines (a whole file, or a range of one that starts at a line start) as blocks."""
    first = b""
    if strip_bom:
        first = stream.read(len(UTF8_BOM))
        if first == UTF8_BOM:
            first = b""
    return read_blocks(first, stream, line)


def read_blocks(first: bytes, stream: IO[bytes], line: int, size: int = 0) -> Iterator[Block]:
    """``first`` (a whole line) and the rest of ``stream``, cut at line ends into blocks of ~``size`` bytes.

    Reads with ``read1`` (one decompression step at a time), so that when the stream breaks (a
    truncated gzip file) every whole line before the break is still read.
    """
    size = size or BLOCK_BYTES
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
        except IO_ERRORS as exc:
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



def undecodable(index: int, number: int, raw: bytes) -> Item:
    """The item of a JSON Lines line that `decode` refused: its error, located by orjson's decoder."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return line_error(index, number, raw, exc)
    return Item(index, number, value)  # refused by msgspec only (never seen): orjson's value


def read_lines(blocks: Iterable[Block]) -> Iterator[Item]:
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
        at = len(raw[: bad.start].decode("utf-8", "replace")) + 1
        return Item(index, number, column=at, text=text,
                    error=f"the line is not UTF-8 text (byte 0x{raw[bad.start]:02x}, column {at}): {FIX_UTF8}")
    if text.startswith("\ufeff"):
        message = "the line starts with a byte-order mark (U+FEFF); remove it"
    elif text.lstrip().startswith("["):
        message = "a JSON array inside JSON Lines: each line must hold one record"
    elif (getattr(exc, "pos", 0) or 0) >= len(raw.rstrip()) - 1:
        message = "the line ends before the value is complete (a truncated line, or a record split over lines?)"
    else:
        message = _orjson_message(exc)
    column: int | None = getattr(exc, "colno", None)
    where = f" (column {column})" if column else ""
    return Item(index, number, error=f"invalid JSON: {message}{where}", column=column, text=text)


def _orjson_message(exc: json.JSONDecodeError) -> str:
    message = getattr(exc, "msg", None) or str(exc)
    return message.rstrip(".")

