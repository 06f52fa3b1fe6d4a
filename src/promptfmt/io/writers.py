"""Writing datasets: JSON Lines or a JSON array, streamed, to a file written atomically or to stdout.

A file is written under a temporary name in its own folder (`AtomicWriter`) and renamed into place
when everything was written: an interrupted run (an error, Ctrl-C, SIGTERM) leaves the target as it
was and no temporary file behind. ``-`` means standard output, where nothing can be atomic: the
items are streamed as they come. `AtomicWriter` is the one atomic writer of promptfmt.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any

from ..errors import OutputError
from .items import Item
from .jsonout import ENCODE_ERRORS, encode, encode_fast_into, encode_line
from .paths import STDOUT

_BUFFER = 1 << 20


class AtomicWriter:
    """A binary file written under a temporary name and renamed into place on success.

    Readers never see a half-written file; on an exception the temporary file is removed and the
    target is left as it was.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        folder = self.path.parent
        try:
            handle, self._tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=folder)
        except OSError as exc:
            raise OutputError(f"{path}: cannot be written: {exc.strerror or exc}.") from None
        self.file = os.fdopen(handle, "wb")

    def write(self, data: bytes) -> None:
        self.file.write(data)

    def commit(self) -> None:
        """Close, give the file the permissions a plain ``open`` would (mkstemp makes it private), rename."""
        self.file.close()
        umask = os.umask(0)
        os.umask(umask)
        try:
            os.chmod(self._tmp, 0o666 & ~umask)
        except OSError:
            pass
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        self.file.close()
        try:
            os.unlink(self._tmp)
        except FileNotFoundError:
            pass

    def __enter__(self) -> AtomicWriter:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


class QuarantineWriter:
    """Records that failed validation, unchanged, with their issues: one JSON object per line.

    Each line is ``{"record": <index>, "line": <line>, "issues": [...], "item": <the value as read>}``,
    or ``"text": <the raw line>`` instead of ``"item"`` when the line could not be decoded. The file is
    written atomically (it appears only when the run completes).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._out = AtomicWriter(path)
        self.path = self._out.path
        self.count = 0

    def write(self, item: Item, issues: Iterable[Any]) -> None:
        entry: dict[str, Any] = {"record": item.index, "line": item.line, "issues": list(issues)}
        if item.error is None:
            entry["item"] = item.value
        elif item.text is not None:
            entry["text"] = item.text
        self._out.write(encode_line(entry))
        self.count += 1

    def close(self) -> None:
        self._out.commit()

    def abort(self) -> None:
        self._out.abort()

    def __enter__(self) -> QuarantineWriter:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _line_writer(write: Callable[[bytearray], Any]) -> Callable[[Any], None]:
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
                writers.append(AtomicWriter(path))
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
