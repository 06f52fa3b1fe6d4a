"""Writing JSON: the one encoder behind every item, record and quarantine entry promptfmt writes.

msgspec encodes, not orjson (which locates errors): orjson is seven times slower on text with a
character beyond U+FFFF, an emoji say, and refuses integers beyond 64 bits (README, "Why these
libraries"). Output is compact UTF-8 with keys in order.
What msgspec refuses (a lone surrogate read from a JSON array, an object it does not know) is
written by the standard library instead, with ``\\u`` escapes.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

_ENCODER = msgspec.json.Encoder()
encode_fast = _ENCODER.encode
"""msgspec's encoder itself: raises ``TypeError`` or ``ValueError`` where `encode` falls back."""

encode_fast_into = _ENCODER.encode_into
"""``encode_fast_into(value, buffer)``: msgspec's encoder into a bytearray (its memory is kept for the next)."""

encode_lines = _ENCODER.encode_lines
"""``encode_lines(values)``: one line of JSON per value, each ending with a newline (msgspec's own loop)."""

ENCODE_ERRORS = (TypeError, ValueError)  # UnicodeEncodeError is a ValueError


def encode(value: Any) -> bytes:
    """Compact JSON for ``value``, UTF-8."""
    try:
        return encode_fast(value)
    except ENCODE_ERRORS:
        return json.dumps(value, ensure_ascii=True, default=_as_dict).encode("ascii")


def encode_line(value: Any) -> bytes:
    """`encode` plus the newline of JSON Lines."""
    return encode(value) + b"\n"


def _as_dict(value: Any) -> Any:
    slots = getattr(type(value), "__slots__", None)
    if slots:
        return {name: getattr(value, name) for name in slots}
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
