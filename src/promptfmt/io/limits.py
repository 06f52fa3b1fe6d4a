"""How much one record may make promptfmt hold: bounds with defaults that the caller may change.

One record is at most `ReadLimits.max_record_bytes` bytes (64 MiB by default): a longer line of
JSON Lines, or a longer item of a JSON array, is read through without being held and reported as
one ``too-large`` item, so that a file without line ends (``/dev/zero``) cannot exhaust memory.
One value nests at most `ReadLimits.max_depth` levels (512 by default, at most `DEEPEST`, below
what the decoders' recursion allows): a deeper one is one ``invalid-json`` item saying so, and the
reading goes on after it. The CLI sets both from ``--max-record-mb`` and ``--max-depth`` (or
``PROMPTFMT_MAX_RECORD_MB``, ``PROMPTFMT_MAX_DEPTH``) for the whole process; forked workers
inherit them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .depth import MAX_DEPTH

DEFAULT_MAX_RECORD_BYTES = 64 << 20
DEEPEST = 900  # msgspec and json recurse once per level, below Python's limit of 1,000 frames


@dataclass
class ReadLimits:
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
    max_depth: int = MAX_DEPTH


limits = ReadLimits()
"""The bounds every reader of this process applies."""


def set_max_record_bytes(size: int) -> None:
    """Set the longest record read, in bytes (at least 1 KiB)."""
    if size < 1024:
        raise ValueError(f"the longest record must be at least 1 KiB, not {size} bytes")
    limits.max_record_bytes = size


def set_max_depth(levels: int) -> None:
    """Set how deep one value may nest (1 to `DEEPEST` levels)."""
    if not 1 <= levels <= DEEPEST:
        raise ValueError(f"the nesting bound must be between 1 and {DEEPEST} levels, not {levels}")
    limits.max_depth = levels
