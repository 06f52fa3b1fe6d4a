"""Writing datasets: JSON Lines or a JSON array, streamed, to a file written atomically or to stdout.

A file is written under a temporary name in its own folder (`promptfmt.io.AtomicWriter`) and renamed
into place when everything was written: an interrupted run (an error, Ctrl-C, SIGTERM) leaves the
target as it was and no temporary file behind. ``-`` means standard output, where nothing can be
atomic: the items are streamed as they come.

An output that is the input (same path, or the same file through a link) is refused before anything
is read: `refuse_overwrite`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any

from .errors import PromptfmtError
from .io import STDIN, AtomicWriter
from .jsonout import ENCODE_ERRORS, encode, encode_fast_into

STDOUT = "-"
_BUFFER = 1 << 20


class OutputError(PromptfmtError, ValueError):
    """An output that cannot be used: it is the input, its folder is missing ... (a usage error)."""


def same_file(a: str, b: str) -> bool:
    """Whether paths ``a`` and ``b`` name the same file (``-`` is never a file)."""
    if STDIN in (a, b):
        return False
    if Path(a).resolve() == Path(b).resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def refuse_overwrite(source: str, outputs: Sequence[tuple[str, str | None]]) -> None:
    """Raise `OutputError` when an output (``(option name, path)``) is the input or another output."""
    seen: list[tuple[str, str]] = []
    for option, path in outputs:
        if path is None or path == STDOUT:
            continue
        if same_file(source, path):
            raise OutputError(f"{option} {path} is the input file: promptfmt never overwrites its input. Write elsewhere.")
        for other_option, other in seen:
            if same_file(other, path):
                raise OutputError(f"{option} and {other_option} are the same file ({path}); give them different names.")
        folder = Path(path).parent
        if not folder.is_dir():
            raise OutputError(f"{option} {path}: the folder {str(folder)!r} does not exist. Create it first.")
        if Path(path).is_dir():
            raise OutputError(f"{option} {path} is a folder; give a file name.")
        seen.append((option, path))


def _line_writer(write: Callable[[bytes], Any]) -> Callable[[Any], None]:
    """``write_line(item)``: one JSON Lines line (a closure: this runs once per record)."""
    fast = encode_fast_into
    line = bytearray()  # reused: no bytes object per record, one write

    def write_line(item: Any) -> None:
        try:
            fast(item, line)
        except ENCODE_ERRORS:
            line[:] = encode(item)
        line.append(0x0A)
        write(line)

    return write_line


class ItemSink:
    """Items written as JSON Lines, or as a JSON array with one item per line, to a binary stream.

    ``write(item)`` serialises one item. An array sink counts its items (``count``) to place the
    commas; a JSON Lines sink does not count (the caller does).
    """

    def __init__(
        self, stream: IO[bytes], *, json_array: bool = False, opening: bytes = b"[\n", restartable: bool = False,
    ) -> None:
        self._stream = stream
        self._stream_write = stream.write
        self.json_array = json_array
        self.opening = opening  # written before the first item of an array (b"" for a part of one)
        self.restartable = restartable  # a file of our own, which `restart` may empty
        self.count = 0
        self.write = self._write_array_item if json_array else _line_writer(stream.write)

    def restart(self) -> None:
        """Forget everything written so far: empties a `restartable` sink; does nothing to another
        one (stdout), to which the caller must not have written yet."""
        if self.restartable:
            self._stream.flush()
            self._stream.seek(0)
            self._stream.truncate()
        self.count = 0

    def _write_array_item(self, item: Any) -> None:
        self._stream_write((b",\n" if self.count else self.opening) + encode(item))
        self.count += 1

    def write_part(self, part: IO[bytes], count: int) -> None:
        """Append the ``count`` items that another `ItemSink` (with ``opening=b""``) wrote to the file ``part``."""
        if not count:
            return
        if self.json_array:
            self._stream_write(b",\n" if self.count else self.opening)
        if not self._copy_in_kernel(part):
            for chunk in iter(lambda: part.read(_BUFFER), b""):
                self._stream_write(chunk)
        self.count += count

    def _copy_in_kernel(self, part: IO[bytes]) -> bool:
        """Append the rest of ``part`` with ``os.copy_file_range`` (no copy through Python); False when
        the streams do not allow it (a pipe, another platform) and nothing was copied."""
        copy = getattr(os, "copy_file_range", None)
        try:
            target = self._stream.fileno()
            source = part.fileno()
        except (AttributeError, OSError, ValueError):
            return False
        if copy is None:
            return False
        self._stream.flush()
        left = os.fstat(source).st_size - part.tell()
        copied = 0
        while left > 0:
            try:
                done = copy(source, target, left)
            except OSError:
                if copied:
                    raise
                return False
            if not done:
                break
            copied += done
            left -= done
        return True

    def write_raw_line(self, data: bytes) -> None:
        """Append one already serialised item (``data`` ends with a newline in JSON Lines)."""
        if self.json_array:
            self._stream_write((b",\n" if self.count else self.opening) + data.rstrip(b"\n"))
        else:
            self._stream_write(data)
        self.count += 1

    def finish(self) -> None:
        """Close the JSON array (nothing to do for JSON Lines)."""
        if self.json_array:
            self._stream_write(b"\n]\n" if self.count else b"[]\n")


@contextmanager
def open_output(path: str, *, json_array: bool = False, stdout: IO[bytes] | None = None) -> Iterator[ItemSink]:
    """An `ItemSink` on ``path`` (written atomically) or on stdout (``-``)."""
    if path == STDOUT:
        stream = stdout if stdout is not None else sys.stdout.buffer
        sink = ItemSink(stream, json_array=json_array)
        yield sink
        sink.finish()
        stream.flush()
        return
    with open_outputs([path], json_array=json_array) as (sink,):
        yield sink


@contextmanager
def open_outputs(paths: Sequence[str], *, json_array: bool = False) -> Iterator[tuple[ItemSink, ...]]:
    """One `ItemSink` per path; all of them appear together at the end, or none does.

    On any exception, Ctrl-C included, every temporary file is removed and no target is touched.
    """
    writers: list[AtomicWriter] = []
    try:
        with ExitStack() as stack:
            for path in paths:
                writers.append(_open_atomic(path))
            buffers = [
                stack.enter_context(open(writer.file.fileno(), "wb", buffering=_BUFFER, closefd=False))
                for writer in writers
            ]
            sinks = tuple(ItemSink(buffer, json_array=json_array, restartable=True) for buffer in buffers)
            yield sinks
            for sink in sinks:
                sink.finish()
    except BaseException:
        for writer in writers:
            writer.abort()
        raise
    for writer in writers:
        writer.commit()


def _open_atomic(path: str) -> AtomicWriter:
    try:
        return AtomicWriter(path)
    except PromptfmtError as exc:
        raise OutputError(str(exc)) from None
