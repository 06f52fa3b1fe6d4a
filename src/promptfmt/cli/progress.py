"""A progress line on stderr for long runs: records done, rate, and the ETA when the size is known.

Drawn only when stderr is a terminal (never into logs or pipes), at most a few times a second, and
erased at the end. The library knows nothing of it: services call back with
``(records, position, size)``, where ``position`` and ``size`` are bytes of the input file, None
when unknown (standard input, a pipe).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

REDRAW_SECONDS = 0.25


class Progress:
    """``update(records, position, size)`` redraws ``"<label>: 12,345 records  45,678/s  37%  ETA 0:12"``."""

    def __init__(self, label: str, *, enabled: bool | None = None, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = _is_terminal(self.stream) if enabled is None else enabled
        self.label = label
        self.start = time.monotonic()
        self._last = 0.0
        self._drawn = False

    def update(self, records: int, position: int | None = None, size: int | None = None) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < REDRAW_SECONDS:
            return
        self._last = now
        self.stream.write("\r\x1b[K" + self.line(records, now - self.start, position, size))
        self.stream.flush()
        self._drawn = True

    def line(self, records: int, elapsed: float, position: int | None = None, size: int | None = None) -> str:
        """The text of the progress line (without terminal control characters)."""
        rate = records / elapsed if elapsed > 0 else 0.0
        text = f"{self.label}: {records:,} records  {rate:,.0f}/s"
        if position is not None and size:
            fraction = min(position / size, 1.0)
            if fraction > 0:
                text += f"  {fraction:.0%}  ETA {_clock(elapsed * (1 - fraction) / fraction)}"
        return text

    def clear(self) -> None:
        """Erase the line, so that a message can be printed; the next update draws it again."""
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False

    def close(self) -> None:
        self.clear()
        self.enabled = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _clock(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
