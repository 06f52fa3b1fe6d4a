"""Writing datasets: JSON Lines or a JSON array, streamed, or Parquet (`promptfmt.io.parquet_out`), to
a file written atomically or to stdout. `output_format` tells which from the option and the name.

A file is written by an `AtomicWriter` (`promptfmt.io.atomic`) and appears when everything was
written: an interrupted run (an error, Ctrl-C, SIGTERM, ``kill -9``) leaves the target as it was.
``-`` means standard output, where nothing can be atomic: the items are streamed as they come.
An OS error while writing (a full disk, an I/O error) is a `WriteError` naming the output; a
closed pipe (``| head``) is left to propagate as `BrokenPipeError`, which the CLI ends quietly.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any, NoReturn

from ..errors import OutputError, WriteError, os_reason
from .atomic import AtomicWriter
from .folder_out import STATE_FILE, DatasetFolder
from .items import Item
from .jsonout import ENCODE_ERRORS, encode, encode_fast_into, encode_line
from .parquet_out import ParquetSink
from .paths import STDOUT

_BUFFER = 1 << 20

JSONL_OUT, JSON_OUT, PARQUET_OUT, ARROW_OUT = "jsonl", "json", "parquet", "arrow"
OUTPUT_FORMATS = (JSONL_OUT, JSON_OUT, PARQUET_OUT, ARROW_OUT)  # arrow: a datasets.save_to_disk folder
_EXTENSIONS = {".jsonl": JSONL_OUT, ".ndjson": JSONL_OUT, ".json": JSONL_OUT, ".parquet": PARQUET_OUT, ".pq": PARQUET_OUT}
# Data files promptfmt reads (or that hold data) but does not write: never written as something else.
_NOT_WRITTEN = (".csv", ".tsv", ".gz", ".bz2", ".xz", ".zst", ".zip", ".arrow", ".feather", ".ipc", ".avro", ".orc",
                ".xlsx", ".xls")


def output_format(path: str, asked: str | None = None, *, json_array: bool = False, option: str = "--output") -> str:
    """What to write to ``path``: ``jsonl``, ``json`` (an array) or ``parquet``, from ``--output-format``
    (``asked``), ``--json-array`` and the name's extension; `OutputError` when they disagree or the
    extension names a kind promptfmt does not write."""
    name = path.lower()
    extension = os.path.splitext(name)[1] if path != STDOUT else ""
    by_name = _EXTENSIONS.get(extension)
    if asked is not None and asked not in OUTPUT_FORMATS:
        raise OutputError(f"--output-format {asked!r}: choose one of {', '.join(OUTPUT_FORMATS)}.")
    if json_array:
        if asked not in (None, JSON_OUT) or by_name == PARQUET_OUT:
            raise OutputError(f"--json-array writes a JSON array, not {asked or 'Parquet'}; drop one of them.")
        return JSON_OUT
    if extension in _NOT_WRITTEN:
        raise OutputError(f"{option} {path}: promptfmt does not write {extension} files, and writes nothing under a "
                          "name that says another kind. It writes JSON Lines (.jsonl), JSON arrays (.json with "
                          "--json-array), Parquet (.parquet) and datasets.save_to_disk folders (--output-format arrow); choose one.")
    if asked is None:
        if by_name is None and os.path.isfile(os.path.join(path, STATE_FILE)):
            return ARROW_OUT  # an existing datasets folder is written as one again
        return by_name or JSONL_OUT
    if asked == ARROW_OUT and path == STDOUT:
        raise OutputError("--output-format arrow writes a datasets.save_to_disk folder, which cannot go to stdout; "
                          "give a folder name")
    if by_name is not None and {by_name, asked} != {JSONL_OUT, JSON_OUT} and by_name != asked:
        raise OutputError(f"{option} {path} names a {extension} file but --output-format is {asked}; make them agree.")
    return asked


def _sink(stream: IO[bytes] | None, kind: str, *, name: str, atomic: bool, restartable: bool, folder: str | None) -> Any:
    """The sink that writes ``kind`` to ``stream``: an `ItemSink`, or a `ParquetSink`."""
    if kind == PARQUET_OUT:
        return ParquetSink(stream, name=name, atomic=atomic, restartable=restartable, folder=folder)
    if kind == ARROW_OUT:
        return ParquetSink(None, name=name, restartable=True, folder=folder, dataset=DatasetFolder(name))
    assert stream is not None
    return ItemSink(stream, json_array=kind == JSON_OUT, restartable=restartable, name=name, atomic=atomic)


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


def _line_writer(write: Callable[[bytearray], Any], failed: Callable[[OSError], NoReturn]) -> Callable[[Any], None]:
    """``write_line(item)``: one JSON Lines line (a closure: this runs once per record)."""
    fast = encode_fast_into
    line = bytearray()  # reused: no bytes object per record, one write

    def write_line(item: Any) -> None:
        try:
            fast(item, line)
        except ENCODE_ERRORS:
            line[:] = encode(item)
        line.append(0x0A)
        try:
            write(line)
        except BrokenPipeError:
            raise
        except OSError as exc:
            failed(exc)

    return write_line


class ItemSink:
    """Items written as JSON Lines, or as a JSON array with one item per line, to a binary stream.

    ``write(item)`` serialises one item. An array sink counts its items (``count``) to place the
    commas; a JSON Lines sink does not count (the caller does). ``name`` names the output in a
    `WriteError`; ``atomic`` says whether a failure leaves nothing written (a file) or not (stdout).
    """

    def __init__(
        self, stream: IO[bytes], *, json_array: bool = False, opening: bytes = b"[\n", restartable: bool = False,
        name: str = "output", atomic: bool = True,
    ) -> None:
        self._stream = stream
        self._stream_write = self._guarded(stream.write)
        self.json_array = json_array
        self.opening = opening  # written before the first item of an array (b"" for a part of one)
        self.restartable = restartable  # a file of our own, which `restart` may empty
        self.name = name
        self.atomic = atomic
        self.count = 0
        self.write = self._write_array_item if json_array else _line_writer(stream.write, self.failed)

    def failed(self, exc: OSError) -> NoReturn:
        """Raise the `WriteError` of ``exc``, with how much was written."""
        try:
            written: int | None = self._stream.tell()
        except (OSError, ValueError, AttributeError):
            written = None
        raise WriteError(self.name, os_reason(exc), written, atomic=self.atomic) from None

    def _guarded(self, write: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
        def guarded(data: bytes) -> Any:
            try:
                return write(data)
            except BrokenPipeError:
                raise
            except OSError as exc:
                self.failed(exc)

        return guarded

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            self.failed(exc)

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
            except OSError as exc:
                if copied:
                    self.failed(exc)
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
def open_output(
    path: str, *, json_array: bool = False, stdout: IO[bytes] | None = None, kind: str | None = None,
) -> Iterator[Any]:
    """An `ItemSink` (a `ParquetSink` for ``kind="parquet"``) on ``path``, written atomically, or on stdout (``-``)."""
    kind = kind or (JSON_OUT if json_array else JSONL_OUT)
    if path == STDOUT:
        stream = stdout if stdout is not None else _stdout()
        sink = _sink(stream, kind, name="stdout", atomic=False, restartable=False, folder=None)
        yield sink
        sink.finish()
        sink.flush()
        return
    with open_outputs([path], kind=kind) as (sink,):
        yield sink


def _stdout() -> IO[bytes]:
    if sys.stdout is None:  # started with its standard output closed (``>&-``)
        raise WriteError("stdout", "standard output is closed; give -o FILE, or run with a standard output", atomic=False)
    return sys.stdout.buffer


@contextmanager
def open_outputs(
    paths: Sequence[str], *, json_array: bool = False, kind: str | None = None,
) -> Iterator[tuple[Any, ...]]:
    """One sink per path (`ItemSink`, or `ParquetSink` for ``kind="parquet"``); all of them appear
    together at the end, or none does.

    On any exception, Ctrl-C included, every temporary file is dropped and no target is touched.
    """
    kind = kind or (JSON_OUT if json_array else JSONL_OUT)
    if kind == ARROW_OUT:
        with _dataset_folders(paths) as folders:
            yield folders
        return
    writers: list[AtomicWriter] = []
    buffers: list[IO[bytes]] = []
    try:
        for path in paths:
            writers.append(AtomicWriter(path))
        for writer in writers:
            buffers.append(open(writer.file.fileno(), "wb", buffering=_BUFFER, closefd=False))  # noqa: SIM115
        sinks = tuple(
            _sink(buffer, kind, name=writer.name, atomic=not writer.direct, restartable=True,
                  folder=None if writer.direct else os.path.dirname(writer.target))
            for buffer, writer in zip(buffers, writers)
        )
        yield sinks
        for sink in sinks:
            sink.finish()
            sink.flush()
        for buffer in buffers:
            buffer.close()
        for writer in writers:
            writer.close()
    except BaseException:
        for buffer in buffers:
            _close_quietly(buffer)
        for writer in writers:
            writer.abort()
        raise
    for writer in writers:
        writer.commit()


@contextmanager
def _dataset_folders(paths: Sequence[str]) -> Iterator[tuple[ParquetSink, ...]]:
    """One sink per ``save_to_disk`` folder; all of them put in place together at the end, or none."""
    sinks: list[ParquetSink] = []
    try:
        for path in paths:
            sinks.append(_sink(None, ARROW_OUT, name=path, atomic=True, restartable=True,
                               folder=os.path.dirname(os.path.abspath(path))))
        yield tuple(sinks)
        for sink in sinks:
            sink.finish()
    except BaseException:
        for sink in sinks:
            sink.abort()
        raise
    for sink in sinks:
        sink.commit()


def _close_quietly(stream: IO[bytes]) -> None:
    try:
        stream.close()
    except OSError:  # the failure is already being reported
        pass
