"""Converting one JSON Lines file in several processes, in order, losing nothing.

Formatting is embarrassingly parallel (DESIGN.md section 6: two processes scale ~2x on two cores).
The file is cut at line ends into one byte range per worker. This process converts the first
range straight into the output; each other range is converted by a forked process (so that plugin
formats need not be picklable) with `promptfmt.convert.run` into part files next to the output,
appended in order at the end. The output is written atomically as always. Record indexes and line numbers in the quarantine are those of the
whole file. Any failure or interruption stops every worker and removes every part.

Only plain (uncompressed) JSON Lines files can be cut: `can_split` says whether a file can.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import shutil
import signal
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

import orjson

from .convert import ConvertSummary, Plan, Quarantine, run
from .errors import PromptfmtError
from .io import GZIP_MAGIC, STDIN, DatasetReader, Item, QuarantineWriter
from .issues import Issue
from .writers import ItemSink

PART_BUFFER = 1 << 20
POLL_SECONDS = 0.25
Progress = Callable[[int, "int | None", "int | None"], None]


class WorkerError(PromptfmtError):
    """A worker process failed; the message names the worker and what went wrong."""


def can_split(path: str) -> str | None:
    """None when ``path`` can be converted in parts, else why not (for a message)."""
    if path == STDIN:
        return "standard input cannot be cut into parts"
    try:
        with open(path, "rb") as file:
            if file.read(2) == GZIP_MAGIC:
                return "a gzip file cannot be cut into parts"
        with DatasetReader(path) as reader:
            layout = reader.layout
    except (OSError, PromptfmtError) as exc:
        return str(exc)
    return None if layout == "jsonl" else f"only JSON Lines files can be cut into parts, not a {layout} file"


def auto_workers(path: str, *, min_bytes: int, most: int) -> int:
    """One process per usable CPU (at most ``most``) for a JSON Lines file of ``min_bytes`` or more, else 1."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    if cpus < 2 or path == STDIN or not os.path.isfile(path) or os.path.getsize(path) < min_bytes:
        return 1
    return min(cpus, most) if can_split(path) is None else 1


def ranges(path: str, parts: int) -> list[tuple[int, int]]:
    """``parts`` byte ranges of about the same size, each starting at the start of a line."""
    size = os.path.getsize(path)
    starts = [0]
    with open(path, "rb") as file:
        for k in range(1, parts):
            file.seek(size * k // parts)
            file.readline()  # to the start of the next line
            position = file.tell()
            if starts[-1] < position < size:
                starts.append(position)
    return list(zip(starts, [*starts[1:], size]))


def open_range(path: str, start: int, stop: int) -> io.BufferedReader:
    """A buffered binary stream of the bytes ``[start, stop)`` of ``path`` (see `ranges`)."""
    return io.BufferedReader(ByteRange(path, start, stop), buffer_size=PART_BUFFER)


class ByteRange(io.RawIOBase):
    """The bytes ``[start, stop)`` of a file, counting how many were read (``consumed``)."""

    def __init__(self, path: str, start: int, stop: int) -> None:
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115 - closed in close()
        self._file.seek(start)
        self._left = stop - start
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._left <= 0:
            return 0
        view = memoryview(buffer)
        got = self._file.readinto(view[: min(len(view), self._left)]) or 0
        self._left -= got
        self.consumed += got
        return got

    def close(self) -> None:
        self._file.close()
        super().close()


@dataclass
class _Part:
    """One worker's share of the job and where its results go."""

    number: int
    start: int
    stop: int
    output: str
    quarantine: str


def _work(part: _Part, path: str, plan: Plan, json_array: bool, counts: Any, positions: Any, connection: Any) -> None:
    """The body of a worker process: convert one range, send back the summary (or the error)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the parent stops workers with SIGTERM
    try:
        source = ByteRange(path, part.start, part.stop)
        stream = io.BufferedReader(source, buffer_size=PART_BUFFER)

        def progress(read: int) -> None:
            counts[part.number] = read
            positions[part.number] = source.consumed

        with open(part.output, "wb", buffering=PART_BUFFER) as out, QuarantineWriter(part.quarantine) as quarantined:
            sink = ItemSink(out, json_array=json_array, opening=b"")
            summary = run(
                plan, DatasetReader(STDIN, stream), sink.write, progress=progress,
                quarantine=lambda item, issues: quarantined.write(item, [issue.as_dict() for issue in issues]),
            )
        stream.close()
        connection.send(("ok", summary, summary.written))
    except KeyboardInterrupt:
        connection.send(("interrupted", None, 0))
    except BaseException as exc:  # everything goes back to the parent, which reports it
        detail = f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, PromptfmtError):
            detail += "\n" + traceback.format_exc()
        connection.send(("error", detail, 0))
    finally:
        connection.close()


def convert_parts(
    path: str,
    plan: Plan,
    sink: ItemSink,
    *,
    workers: int,
    json_array: bool = False,
    quarantine: Quarantine | None = None,
    progress: Progress | None = None,
    scratch: str | None = None,
) -> ConvertSummary:
    """Convert the JSON Lines file ``path`` in ``workers`` processes into ``sink``, in order.

    This process converts the first range straight into ``sink`` while forked workers convert the
    others into part files, appended afterwards. ``quarantine(item, issues)`` receives the refused
    items (with the record index and line of the whole file); ``scratch`` is the folder for the part
    files (default: the system's temporary folder; pass the output's folder to stay on one disk).
    """
    context = multiprocessing.get_context("fork")
    cuts = ranges(path, workers)
    size = os.path.getsize(path)
    folder = tempfile.mkdtemp(prefix=".promptfmt-parts.", suffix=".tmp", dir=scratch)
    counts = context.Array("q", len(cuts), lock=False)
    positions = context.Array("q", len(cuts), lock=False)
    parts = [
        _Part(k, start, stop, os.path.join(folder, f"{k}.out"), os.path.join(folder, f"{k}.quarantine"))
        for k, (start, stop) in enumerate(cuts)
    ]
    processes = []
    try:
        connections = []
        for part in parts[1:]:
            receive, send = context.Pipe(duplex=False)
            process = context.Process(
                target=_work, args=(part, path, plan, json_array, counts, positions, send), daemon=True,
            )
            process.start()
            send.close()
            processes.append(process)
            connections.append(receive)
        first = ByteRange(path, parts[0].start, parts[0].stop)

        def report(read: int) -> None:
            counts[0], positions[0] = read, first.consumed
            if progress is not None:
                progress(sum(counts), sum(positions), size)

        with io.BufferedReader(first, buffer_size=PART_BUFFER) as stream:
            own = run(plan, DatasetReader(STDIN, stream), sink.write, quarantine=quarantine, progress=report)
        results = _collect(connections, counts, positions, size, progress)
        summary = _join(own, parts[1:], results, sink, quarantine, path)
        if progress is not None:
            progress(summary.read, size, size)
        return summary
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join()
        shutil.rmtree(folder, ignore_errors=True)


def _collect(connections: list[Any], counts: Any, positions: Any, size: int, progress: Progress | None) -> list[Any]:
    """The (summary, count) of every worker, in order; raises when one failed or was interrupted."""
    results: dict[int, Any] = {}
    pending = {connection: number for number, connection in enumerate(connections)}
    while pending:
        for connection in wait(list(pending), timeout=POLL_SECONDS):
            number = pending.pop(connection)  # type: ignore[call-overload]
            try:
                status, payload, count = connection.recv()
            except EOFError:  # the worker died without a word (killed)
                status, payload, count = "error", "the process ended unexpectedly", 0
            if status == "interrupted":
                raise KeyboardInterrupt
            if status == "error":
                raise WorkerError(f"worker {number + 2} of {len(connections) + 1} failed: {payload}")
            results[number] = (payload, count)
        if progress is not None:
            progress(sum(counts), sum(positions), size)
    return [results[number] for number in range(len(connections))]


def _join(
    total: ConvertSummary, parts: list[_Part], results: list[Any], sink: ItemSink,
    quarantine: Quarantine | None, path: str,
) -> ConvertSummary:
    """Append the parts to ``sink`` in order and renumber their quarantined items; the merged summary."""
    for part, (summary, count) in zip(parts, results):
        with open(part.output, "rb") as data:
            sink.write_part(data, count)
        if quarantine is not None and summary.quarantined:
            for item, issues in _quarantined(part.quarantine, total.read, _lines_before(path, part.start)):
                quarantine(item, issues)
        total.merge(summary)
    if total.read != total.written + total.quarantined:  # DESIGN.md section 3, across the parts
        raise AssertionError(f"read {total.read} != written {total.written} + quarantined {total.quarantined}")
    return total


def _quarantined(path: str, index_before: int, lines_before: int) -> Any:
    """The items of a part's quarantine file, renumbered for the whole file."""
    with open(path, "rb") as entries:
        for line in entries:
            entry = orjson.loads(line)
            index, number = entry["record"] + index_before, entry["line"] + lines_before
            issues = [Issue(**{**issue, "record": index, "line": number}) for issue in entry["issues"]]
            if "item" in entry:
                item = Item(index, number, entry["item"])
            else:
                item = Item(index, number, error=issues[0].message, code=issues[0].code, text=entry.get("text"))
            yield item, issues


def _lines_before(path: str, offset: int) -> int:
    """How many lines of ``path`` end before byte ``offset``."""
    count = 0
    with open(path, "rb") as file:
        left = offset
        while left > 0:
            chunk = file.read(min(left, PART_BUFFER))
            if not chunk:
                break
            count += chunk.count(b"\n")
            left -= len(chunk)
    return count


def scratch_folder(output: str) -> str | None:
    """Where part files go: next to the output file, or the temporary folder for stdout."""
    return None if output == "-" else str(Path(output).resolve().parent)
