"""The nesting-depth bound: how deep a value may nest, and where an over-deep one ends.

msgspec and the standard library decode nested values recursively and give up with a
RecursionError near Python's recursion limit (1,000 frames, fewer when called deep in a stack);
orjson stops at 1,024 levels. `MAX_DEPTH` stays well below all three, so a value within the bound
always decodes, whatever the caller's stack; real records nest a few levels.

A value nested deeper is one located error item, and the reading goes on after it: its end is
found by matching brackets (strings skipped), which needs no recursion whatever the depth.
"""

from __future__ import annotations

import re
from typing import AnyStr

MAX_DEPTH = 512
"""The default bound: levels of arrays and objects one value may nest (``{"a": [1]}`` is 2)."""

_PATTERN = r'"(?:[^"\\]++|\\.)*+"|(?P<open>[\[{])|(?P<close>[\]}])|(?P<unclosed>")'  # strings are skipped whole
_BYTE_TOKENS = re.compile(_PATTERN.encode(), re.DOTALL)
_TEXT_TOKENS = re.compile(_PATTERN, re.DOTALL)


def _tokens(data: AnyStr) -> re.Pattern[AnyStr]:
    return _BYTE_TOKENS if isinstance(data, bytes) else _TEXT_TOKENS


def too_deep(data: AnyStr, start: int, end: int, limit: int) -> bool:
    """Whether the value ``data[start:end]`` nests more than ``limit`` levels. Cheap for the usual
    record: a value with no more than ``limit`` brackets in all cannot nest deeper (C-speed counts);
    only one with more is walked bracket by bracket."""
    if end - start <= 2 * limit:
        return False
    opening: tuple[AnyStr, AnyStr] = (b"{", b"[") if isinstance(data, bytes) else ("{", "[")
    if data.count(opening[0], start, end) + data.count(opening[1], start, end) <= limit:
        return False
    return depth_of(data, start, end, limit) > limit


def depth_of(data: AnyStr, start: int, end: int, limit: int) -> int:
    """How deep ``data[start:end]`` nests, counted up to ``limit + 1`` (then it stops looking)."""
    depth = deepest = 0
    for match in _tokens(data).finditer(data, start, end):
        kind = match.lastgroup
        if kind == "open":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        elif kind == "close":
            depth -= 1
    return deepest


def value_end(data: AnyStr, start: int) -> int | None:
    """Where the array or object that opens at ``start`` ends (brackets matched, strings skipped);
    None when ``data`` ends first. Malformed content inside is not judged: only its brackets count."""
    depth = 0
    for match in _tokens(data).finditer(data, start):
        kind = match.lastgroup
        if kind == "open":
            depth += 1
        elif kind == "close":
            depth -= 1
            if depth <= 0:
                return match.end()
        elif kind == "unclosed":
            return None  # a string that the data ends inside
    return None


def too_deep_message(limit: int, column: int | None = None) -> str:
    """The error text of an over-deep value (the issue code is ``invalid-json``)."""
    where = f" (column {column})" if column is not None else ""
    return (f"invalid JSON: the value is nested too deeply, more than {limit} levels{where}; "
            "it was skipped and the reading went on after it")
