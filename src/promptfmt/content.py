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
from collections.abc import Iterable
from dataclasses import dataclass

from .format import Format

# Sentinel candidates, rarest in prose first; markers without any of these use a rare capital.
_RARE_PUNCTUATION = "|<>[]{}#^~`@\\*_=+$%&"
_RARE_CAPITALS = "QZXJKVUYGFPLNORWMDHECBSAIT"

PLACEHOLDER = re.compile(r"\{\{\s*[A-Za-z_][\w.]*\s*\}\}|###[A-Za-z_]\w*###")
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_JSON_CONTROL_ESCAPE = re.compile(rb"\\[ubf]")  # \uXXXX, \b, \f: how JSON writes control characters
_RAW_CONTROL_BYTES = (0x7F, 0xC2)  # DEL, and the lead byte of the C1 controls in UTF-8


def sentinel(marker: str) -> str:
    """One character of ``marker`` that ordinary text rarely contains (or the marker itself)."""
    for char in _RARE_PUNCTUATION + _RARE_CAPITALS:
        if char in marker:
            return char
    return marker


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
        self._groups = tuple((key, tuple(markers)) for key, markers in groups.items())
        self.sentinels = tuple(groups)

    def find(self, text: str) -> tuple[MarkerHit, int] | None:
        """The first marker in ``text`` (the longest at that offset), and how many distinct ones it has."""
        best: MarkerHit | None = None
        found = 0
        for key, markers in self._groups:
            if key not in text:
                continue
            for marker in markers:
                at = text.find(marker)
                if at < 0:
                    continue
                found += 1
                if best is None or at < best.offset or (at == best.offset and len(marker) > len(best.marker)):
                    best = MarkerHit(marker, at, self.owners[marker])
        return None if best is None else (best, found)


class Gate:
    """Clears raw JSON Lines bytes that cannot contain a marker, a placeholder or a control character."""

    def __init__(self, scanner: MarkerScanner) -> None:
        bytes_: set[int] = set(_RAW_CONTROL_BYTES) | {ord("{"), ord("#")}
        self._needles: list[bytes] = []
        for key in scanner.sentinels:
            encoded = key.encode("utf-8")
            if len(encoded) == 1:
                bytes_.add(encoded[0])
            else:
                self._needles.append(encoded)
        self._bytes = tuple(sorted(bytes_))

    def suspicious(self, raw: bytes) -> bool:
        for byte in self._bytes:
            if byte in raw:
                return True
        for needle in self._needles:
            if needle in raw:
                return True
        return _JSON_CONTROL_ESCAPE.search(raw) is not None


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
