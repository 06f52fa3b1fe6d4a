"""Looking inside field values: format markers, unfilled placeholders, control characters, whitespace.

Validation looks at every field of every record, so each check has a cheap gate that clears almost
all clean text before any regex runs:

* `Gate` looks at the raw JSON Lines bytes of a record: single-byte ``in`` tests (memchr) for one
  *sentinel* byte per marker, for ``{`` and ``#`` (placeholders) and for the bytes of DEL and the C1
  controls, plus one search for the escapes that JSON needs to write a control character. A record
  that passes the gate has none of the findings; one that does not gets the exact checks below.
* `MarkerScanner.find` tests each marker that shares a sentinel found in the text with ``in``.
* The placeholder and control-character regexes run only after a literal test (``{{``, ``###``)
  or after ``str.isprintable`` said no.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .format import Format
from .io import Block

# Sentinel candidates, rarest in prose first. A marker without any uses its first characters instead.
_RARE_PUNCTUATION = "|<>[]{}#^~`@\\*_=+$%&"
_RARE_CAPITALS = "QZXJKVUYGFPLNORWMDHECBSAIT"
_NEEDLE = 24

PLACEHOLDER = re.compile(r"\{\{\s*[A-Za-z_][\w.]*\s*\}\}|###[A-Za-z_]\w*###")
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# How a control character can appear in raw JSON Lines: escaped (\uXXXX, \b, \f), or as the raw
# bytes of DEL and of the C1 controls (U+0080-U+009F, UTF-8 \xc2\x80-\xc2\x9f).
_RAW_PATTERNS = ((re.compile(rb"\\[ubf]"), 0x5C), (re.compile(rb"\xc2[\x80-\x9f]"), 0xC2))
_HASH, _DEL = 0x23, 0x7F


def sentinel(marker: str) -> str:
    """What to look for first to find ``marker``: a character that prose rarely has, or its beginning."""
    for char in _RARE_PUNCTUATION:
        if char in marker:
            return char
    return marker[:_NEEDLE]


def probe(key: str) -> str:
    """One character of a sentinel to test with memchr before the sentinel itself."""
    if len(key) == 1:
        return key
    for char in _RARE_CAPITALS:
        if char in key:
            return char
    return key[0]


@dataclass(frozen=True, slots=True)
class MarkerHit:
    marker: str
    offset: int
    formats: tuple[str, ...]


class MarkerScanner:
    """Finds the markers of a set of formats (`Format.markers`) in text."""

    def __init__(self, formats: Iterable[Format]) -> None:
        owners: dict[str, list[str]] = {}
        for fmt in formats:
            try:
                markers = tuple(fmt.markers)
            except Exception:  # a plugin's broken property must not break validation
                continue
            for marker in markers:
                if isinstance(marker, str) and marker.strip():
                    owners.setdefault(marker, [])
                    if fmt.name not in owners[marker]:
                        owners[marker].append(fmt.name)
        self.owners: dict[str, tuple[str, ...]] = {m: tuple(names) for m, names in owners.items()}
        groups: dict[str, list[str]] = {}
        for marker in sorted(self.owners, key=len, reverse=True):
            groups.setdefault(sentinel(marker), []).append(marker)
        self._groups = tuple((probe(key), key, tuple(markers)) for key, markers in groups.items())
        self.sentinels = tuple(groups)

    def find(self, text: str) -> tuple[MarkerHit, int] | None:
        """The first marker in ``text`` (the longest at that offset), and how many distinct ones it has."""
        best: MarkerHit | None = None
        found = 0
        for char, key, markers in self._groups:
            if char not in text or key not in text:
                continue
            for marker in markers:
                at = text.find(marker)
                if at < 0:
                    continue
                found += 1
                if best is None or at < best.offset or (at == best.offset and len(marker) > len(best.marker)):
                    best = MarkerHit(marker, at, self.owners[marker])
        return None if best is None else (best, found)


MARKER, PLACEHOLDER_FLAG, CONTROL_FLAG = 1, 2, 4
ALL_CHECKS = MARKER | PLACEHOLDER_FLAG | CONTROL_FLAG


class Gate:
    """Finds the lines of a JSON Lines `Block` that might contain a marker, a placeholder or a control
    character, with which of the three; the other lines cannot, so their records skip those checks.

    The whole block is scanned at once with ``bytes.find`` and two regexes (C loops); Python only
    runs per *hit*, and skips to the next line after each. Markers without a rare punctuation
    character are looked for only around their rarest capital letter.
    """

    def __init__(self, scanner: MarkerScanner) -> None:
        single: dict[int, int] = {_HASH: PLACEHOLDER_FLAG, _DEL: CONTROL_FLAG}  # "###name###", DEL
        needles: dict[bytes, int] = {}
        for key in scanner.sentinels:
            encoded = key.encode("utf-8")
            if len(encoded) == 1:
                single[encoded[0]] = single.get(encoded[0], 0) | MARKER
            else:
                needles[encoded] = ord(probe(key)) if probe(key).isascii() else encoded[0]
        self._bytes = tuple(sorted(single.items()))
        self._needles = tuple((byte, needle) for needle, byte in needles.items())

    def lines(self, block: Block) -> dict[int, int]:
        """Line number -> the checks (flags) that the line of ``block`` needs; absent lines need none."""
        data = block.data
        found: dict[int, int] = {}
        for byte, flag in self._bytes:
            _mark(found, flag, block, lambda pos, byte=byte: data.find(byte, pos))
        for byte, needle in self._needles:
            if byte in data:
                _mark(found, MARKER, block, lambda pos, byte=byte, needle=needle: _find_around(data, byte, needle, pos))
        _mark(found, PLACEHOLDER_FLAG, block, lambda pos: data.find(b"{{", pos))
        for pattern, lead in _RAW_PATTERNS:
            if lead in data:
                _mark(found, CONTROL_FLAG, block, lambda pos, pattern=pattern: _search(pattern, data, pos))
        return found


def _mark(found: dict[int, int], flag: int, block: Block, find: Callable[[int], int]) -> None:
    pos = find(0)
    while pos >= 0:
        line = block.line_at(pos)
        found[line] = found.get(line, 0) | flag
        pos = find(block.next_line(pos))


def _find_around(data: bytes, byte: int, needle: bytes, pos: int) -> int:
    """The offset of a line at or after ``pos`` that holds ``needle``, found through ``byte``."""
    while True:
        at = data.find(byte, pos)
        if at < 0:
            return -1
        start = data.rfind(b"\n", 0, at) + 1
        end = data.find(b"\n", at)
        end = len(data) if end < 0 else end
        if data.find(needle, start, end) >= 0:
            return at
        pos = end + 1


def _search(pattern: re.Pattern[bytes], data: bytes, pos: int) -> int:
    match = pattern.search(data, pos)
    return -1 if match is None else match.start()


def placeholders(text: str) -> list[re.Match[str]]:
    if "{{" not in text and "###" not in text:
        return []
    return list(PLACEHOLDER.finditer(text))


def control_character(text: str) -> re.Match[str] | None:
    if text.isprintable():
        return None
    return CONTROL.search(text)


def describe_char(char: str) -> str:
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:
        return f"a lone surrogate U+{code:04X} (not valid Unicode; most tools cannot write it)"
    return f"the control character U+{code:04X}"


def whitespace_ends(text: str) -> tuple[str, str]:
    """The leading and trailing whitespace of ``text``."""
    stripped = text.lstrip()
    leading = text[: len(text) - len(stripped)]
    trailing = stripped[len(stripped.rstrip()):]
    return leading, trailing


def shown(text: str, limit: int = 12) -> str:
    """A short quoted form of ``text`` for messages, with escapes visible (JSON style)."""
    return json.dumps(text if len(text) <= limit else text[:limit] + "…", ensure_ascii=False)
