"""Looking inside field values: format markers, unfilled placeholders, control characters, whitespace.

Validation looks at every field of every record, so each check has a cheap gate that clears almost
all clean text before any regex runs:

* `Gate` looks at the raw JSON Lines bytes of a whole block of records: byte searches (memchr) for
  one *probe* byte per marker group, then a search of the lines holding it for the markers
  themselves; searches for ``{{``, ``###``, the bytes of DEL and the C1 controls, and the escapes
  that can hide a character (``\\u``, ``\\/``). A record that passes the gate has none of the
  findings; one that does not gets the exact checks below.
* `MarkerScanner.find` tests each marker that shares a sentinel found in the text with ``in``.
* The placeholder and control-character regexes run only after a literal test (``{{``, ``###``)
  or after ``str.isprintable`` said no.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..errors import PluginError
from ..format import Format
from ..io import Block

# Sentinel candidates, rarest in prose first. A marker without any uses its first characters instead.
_RARE_PUNCTUATION = "|<>[]{}#^~`@\\*_=+$%&"
_RARE_CAPITALS = "QZXJKVUYGFPLNORWMDHECBSAIT"
_NEEDLE = 24

MARKER, PLACEHOLDER_FLAG, CONTROL_FLAG = 1, 2, 4
ALL_CHECKS = MARKER | PLACEHOLDER_FLAG | CONTROL_FLAG

PLACEHOLDER = re.compile(r"\{\{\s*[A-Za-z_][\w.]*\s*\}\}|###[A-Za-z_]\w*###")
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# What raw JSON Lines bytes can hide: any character escaped as \uXXXX (a control character, or a
# marker's letters in a file written with ensure_ascii), \/ (JSON may escape "/"), the controls \b and
# \f; a line with one of these gets every check. The raw bytes of DEL and of the C1 controls
# (U+0080-U+009F, UTF-8 \xc2\x80-\xc2\x9f) are control characters.
_RAW_PATTERNS = ((re.compile(rb"\\[ubf/]"), 0x5C, ALL_CHECKS), (re.compile(rb"\xc2[\x80-\x9f]"), 0xC2, CONTROL_FLAG))
# Characters a JSON encoder must escape: a needle holding one would not be found in the raw bytes.
_ESCAPED = re.compile(r'["\\\x00-\x1f]')
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
            except Exception as exc:  # a plugin's bug: reported by name, never dropped
                raise PluginError(getattr(fmt, "name", repr(fmt)), exc) from exc
            for marker in markers:
                if isinstance(marker, str) and marker.strip():
                    owners.setdefault(marker, [])
                    if fmt.name not in owners[marker]:
                        owners[marker].append(fmt.name)
        self.owners: dict[str, tuple[str, ...]] = {m: tuple(names) for m, names in owners.items()}
        groups: dict[str, list[str]] = {}
        for marker in sorted(self.owners, key=len, reverse=True):
            groups.setdefault(sentinel(marker), []).append(marker)
        self.groups: tuple[tuple[str, str, tuple[str, ...]], ...] = tuple(
            (probe(key), key, tuple(markers)) for key, markers in groups.items()
        )
        """(probe character, sentinel, the markers that hold the sentinel, longest first) per sentinel."""

    def find(self, text: str) -> tuple[MarkerHit, int] | None:
        """The first marker in ``text`` (the longest at that offset), and how many distinct ones it has."""
        best: MarkerHit | None = None
        found = 0
        for char, key, markers in self.groups:
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


@dataclass(frozen=True)
class TokenMarkers:
    """The special-token texts of a tokenizer, scanned for as the markers of a format are
    (``special-token-text``)."""

    markers: tuple[str, ...]
    name: str = "the tokenizer"


class Gate:
    """Finds the lines of a JSON Lines `Block` that might contain a marker, a placeholder or a control
    character, with which of the three; the other lines cannot, so their records skip those checks.

    The block is scanned with C-speed byte searches; Python runs only per line that holds a *probe*
    byte, and then tests that line (a slice search, also in C) for the needles of the probe: the
    markers of a one-character sentinel (``|`` for ``<|user|>``), a longer sentinel found through its
    rarest capital letter, ``###`` for placeholders, or the probe itself (DEL). A line that holds a
    probe byte but none of its needles (``[1, 2]`` in code, for ``[INST]``) is not flagged.
    """

    def __init__(self, *scanners: MarkerScanner) -> None:
        probes: dict[int, dict[bytes, int]] = {_HASH: {b"###": PLACEHOLDER_FLAG}, _DEL: {b"\x7f": CONTROL_FLAG}}
        for char, key, markers in (group for scanner in scanners for group in scanner.groups):
            byte = ord(char) if char.isascii() else key.encode("utf-8")[0]
            found = probes.setdefault(byte, {})
            for needle in _shortest(markers) if len(key) == 1 else (key,):
                encoded = (char if _ESCAPED.search(needle) else needle).encode("utf-8")
                found[encoded] = found.get(encoded, 0) | MARKER
        self._probes = tuple((byte, tuple(needles.items())) for byte, needles in sorted(probes.items()))

    def lines(self, block: Block) -> dict[int, int]:
        """Line number -> the checks (flags) that the line of ``block`` needs; absent lines need none."""
        data = block.data
        found: dict[int, int] = {}
        for byte, needles in self._probes:
            _mark_probed(found, block, byte, needles)
        if data.rfind(b"{{") >= 0:  # rfind: CPython's reverse search is ~3x faster here than find
            _mark(found, PLACEHOLDER_FLAG, block, lambda pos: data.find(b"{{", pos))
        for pattern, lead, flag in _RAW_PATTERNS:
            if lead in data:
                _mark(found, flag, block, functools.partial(_search, pattern, data))
        return found


def _shortest(markers: Iterable[str]) -> tuple[str, ...]:
    """The markers that hold no other of ``markers``: a line holding none of them holds none at all."""
    ordered = sorted(set(markers), key=len)
    kept: list[str] = []
    for marker in ordered:
        if not any(shorter in marker for shorter in kept):
            kept.append(marker)
    return tuple(kept)


def _mark_probed(found: dict[int, int], block: Block, byte: int, needles: tuple[tuple[bytes, int], ...]) -> None:
    """Flag each line holding ``byte`` with the flags of the ``needles`` that line holds."""
    data = block.data
    size = len(data)
    pos = data.find(byte)
    while pos >= 0:
        start = data.rfind(b"\n", 0, pos) + 1
        end = data.find(b"\n", pos)
        if end < 0:
            end = size
        flags = 0
        for needle, flag in needles:
            if data.find(needle, start, end) >= 0:
                flags |= flag
        if flags:
            line = block.line_at(pos)
            found[line] = found.get(line, 0) | flags
        pos = data.find(byte, end + 1)


def _mark(found: dict[int, int], flag: int, block: Block, find: Callable[[int], int]) -> None:
    pos = find(0)
    while pos >= 0:
        line = block.line_at(pos)
        found[line] = found.get(line, 0) | flag
        pos = find(block.next_line(pos))


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
