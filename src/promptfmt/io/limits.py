"""How much one record may make promptfmt hold: bounds with defaults that the caller may change.

One record is at most `ReadLimits.max_record_bytes` bytes (64 MiB by default): a longer line of
JSON Lines, or a longer item of a JSON array, is read through without being held and reported as
one ``too-large`` item, so that a file without line ends (``/dev/zero``) cannot exhaust memory.
Nesting is bounded by the JSON decoders themselves (about 1,000 levels): a deeper value is one
``invalid-json`` item saying so. The CLI sets the bound from ``--max-record-mb`` (or
``PROMPTFMT_MAX_RECORD_MB``) for the whole process; forked workers inherit it.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MAX_RECORD_BYTES = 64 << 20


@dataclass
class ReadLimits:
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES


limits = ReadLimits()
"""The bounds every reader of this process applies."""


def set_max_record_bytes(size: int) -> None:
    """Set the longest record read, in bytes (at least 1 KiB)."""
    if size < 1024:
        raise ValueError(f"the longest record must be at least 1 KiB, not {size} bytes")
    limits.max_record_bytes = size
